/* SPDX-License-Identifier: MIT */
/* test-render.c -- pgseedctl's pure parts: formatting, text width, tables, health/status/schema/sample/reset
 * text, parsers. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>

#include "ctl-daemon.h"
#include "ctl-http.h"
#include "ctl-render.h"
#include "util.h"

/* ---- helpers -------------------------------------------------------------- */

static json_t *parse(const char *text)
{
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);

        if (!j)
                fail_msg("bad test JSON at line %d: %s", err.line, err.text);
        return j;
}

/* Captures what a FILE-writing renderer prints. */
typedef struct Capture {
        char *text;
        size_t size;
        FILE *f;
} Capture;

static FILE *capture_begin(Capture *c)
{
        *c = (Capture){0};
        c->f = open_memstream(&c->text, &c->size);
        assert_non_null(c->f);
        return c->f;
}

static char *capture_end(Capture *c)
{
        fclose(c->f);
        return c->text;
}

static void assert_contains(const char *haystack, const char *needle)
{
        if (!strstr(haystack, needle))
                fail_msg("expected to find\n  \"%s\"\nin\n%s", needle, haystack);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
        if (strstr(haystack, needle))
                fail_msg("did not expect\n  \"%s\"\nin\n%s", needle, haystack);
}

/* Every line of text is at most width terminal columns wide; tables_only: just table rows and rules. */
static void assert_lines_fit_(const char *text, size_t width, bool tables_only)
{
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if ((!tables_only || strstr(line, " | ") || strstr(line, "-+-")) && text_width(line) > width)
                        fail_msg("line is %zu columns wide, more than %zu:\n%s", text_width(line), width,
                                 line);
}
#define assert_lines_fit(text, width)       assert_lines_fit_(text, width, false)
#define assert_table_lines_fit(text, width) assert_lines_fit_(text, width, true)

/* ---- formatters ----------------------------------------------------------- */

static void test_format_count_groups_thousands(void **state)
{
        char buf[32];

        assert_string_equal(format_count(0, buf, sizeof(buf)), "0");
        assert_string_equal(format_count(999, buf, sizeof(buf)), "999");
        assert_string_equal(format_count(1000, buf, sizeof(buf)), "1,000");
        assert_string_equal(format_count(895000, buf, sizeof(buf)), "895,000");
        assert_string_equal(format_count(1234567, buf, sizeof(buf)), "1,234,567");
        assert_string_equal(format_count(-1234567, buf, sizeof(buf)), "-1,234,567");
        assert_string_equal(format_count(INT64_MIN, buf, sizeof(buf)), "-9,223,372,036,854,775,808");
}

static void test_format_duration_picks_units(void **state)
{
        char buf[32];

        assert_string_equal(format_duration_ms(84, buf, sizeof(buf)), "84 ms");
        assert_string_equal(format_duration_ms(3100, buf, sizeof(buf)), "3.1s");
        assert_string_equal(format_duration_ms(3199, buf, sizeof(buf)), "3.1s");
        assert_string_equal(format_duration_ms(125000, buf, sizeof(buf)), "2m 05s");
        assert_string_equal(format_duration_ms(3720000, buf, sizeof(buf)), "1h 02m");
        assert_string_equal(format_duration_ms(2 * 86400000LL + 3 * 3600000LL, buf, sizeof(buf)), "2d 03h");
        assert_string_equal(format_duration_ms(-5, buf, sizeof(buf)), "0 ms");
}

/* ---- text width --------------------------------------------------------- */

static void test_text_width_counts_columns(void **state)
{
        assert_int_equal(text_width(""), 0);
        assert_int_equal(text_width("abc"), 3);
        assert_int_equal(text_width("caf\xc3\xa9"), 4);              /* é: one column, two bytes */
        assert_int_equal(text_width("\xe6\x9d\x8e\xe8\x8f\xaf"), 4); /* 李華: two wide characters */
        assert_int_equal(text_width("e\xcc\x81"), 1);                /* e + combining acute */
        assert_int_equal(text_width("\xf0\x9f\x98\x80"), 2);         /* an emoji */
        assert_int_equal(text_width("a\xff"
                                    "b"),
                         3);                         /* invalid byte: one column */
        assert_int_equal(text_width("\xc0\xaf"), 2); /* overlong '/' is two bad bytes */
}

static void test_text_prefix_stops_before_wide_char(void **state)
{
        const char *s = "ab\xe6\x9d\x8e"
                        "c"; /* a b 李 c */

        assert_int_equal(text_prefix_for_width(s, 0), 0);
        assert_int_equal(text_prefix_for_width(s, 2), 2);
        assert_int_equal(text_prefix_for_width(s, 3), 2); /* 李 needs two columns */
        assert_int_equal(text_prefix_for_width(s, 4), 5);
        assert_int_equal(text_prefix_for_width(s, 99), strlen(s));
}

/* ---- values --------------------------------------------------------------- */

static void check_value(const char *json, const char *expected)
{
        json_auto_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
        _cleanup_free_ char *text = NULL;

        assert_non_null(v);
        text = render_value(v);
        assert_string_equal(text, expected);
}

static void test_render_value_is_readable_and_safe(void **state)
{
        _cleanup_free_ char *missing = render_value(NULL);

        assert_string_equal(missing, "NULL");
        check_value("null", "NULL");
        check_value("\"plain\"", "plain");
        check_value("\"two\\nlines\\tand tab\\r\"", "two\\nlines\\tand tab\\r");
        check_value("\"\\u001b[31mred\"", "\\x1b[31mred");
        check_value("\"\\u009b2J\"", "\\u009b2J"); /* C1 CSI */
        check_value("\"\\u007f\"", "\\x7f");
        check_value("\"caf\\u00e9 \\u674e\"", "caf\xc3\xa9 \xe6\x9d\x8e");
        check_value("42", "42");
        check_value("-7", "-7");
        check_value("1.5", "1.5");
        check_value("true", "true");
        check_value("false", "false");
        check_value("{\"a\": [1, \"x\\ny\"]}", "{\"a\":[1,\"x\\ny\"]}"); /* JSON's own escape */
}

/* ---- tables ---------------------------------------------------------------- */

static void test_render_table_aligns(void **state)
{
        const char *headers[] = {"id", "name", "n"};
        const char *cells[] = {"1", "alice", "10", "22", "bob", "7"};
        const bool right[] = {true, false, true};
        Capture c;
        _cleanup_free_ char *out = NULL;

        assert_int_equal(render_table(capture_begin(&c), 3, headers, right, 2, cells, 80, 0), 3);
        out = capture_end(&c);
        assert_string_equal(out, "id | name  |  n\n"
                                 "---+-------+---\n"
                                 " 1 | alice | 10\n"
                                 "22 | bob   |  7\n");
}

static void test_render_table_indents_and_pads_wide_chars(void **state)
{
        const char *headers[] = {"name", "x"};
        const char *cells[] = {"\xe6\x9d\x8e\xe8\x8f\xaf", "1", "ab", "2"};
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_table(capture_begin(&c), 2, headers, NULL, 2, cells, 80, 2);
        out = capture_end(&c);
        assert_string_equal(out, "  name | x\n"
                                 "  -----+--\n"
                                 "  \xe6\x9d\x8e\xe8\x8f\xaf | 1\n"
                                 "  ab   | 2\n");
}

static void test_render_table_narrows_the_widest_column(void **state)
{
        const char *headers[] = {"id", "text"};
        const char *cells[] = {"1", "a fairly long comment that cannot fit in the table", "2", "short"};
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_table(capture_begin(&c), 2, headers, NULL, 2, cells, 30, 0);
        out = capture_end(&c);
        assert_lines_fit(out, 30);
        /* The id column stays whole; the text is cut with an ellipsis at exactly the budget. */
        assert_string_equal(out, "id | text\n"
                                 "---+--------------------------\n"
                                 "1  | a fairly long comment th\xe2\x80\xa6\n"
                                 "2  | short\n");
}

static void test_render_table_cuts_wide_chars_cleanly(void **state)
{
        const char *headers[] = {"t"};
        /* 李華 six times: 24 columns; cut at 11 it keeps 5 characters (10 columns) and the ellipsis. */
        const char *cells[] = {"\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe8\x8f\xaf"
                               "\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe8\x8f\xaf"};
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_table(capture_begin(&c), 1, headers, NULL, 1, cells, 11, 0);
        out = capture_end(&c);
        assert_lines_fit(out, 11);
        assert_contains(out, "\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe8\x8f\xaf\xe6\x9d\x8e\xe2\x80\xa6");
}

static void test_render_table_drops_columns_that_cannot_fit(void **state)
{
        const char *headers[] = {"aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "dddddddddddd"};
        const char *cells[] = {"1", "2", "3", "4"};
        Capture c;
        _cleanup_free_ char *out = NULL;

        /* 10 columns minimum each plus " | ": two fit in 30, not three (36). */
        assert_int_equal(render_table(capture_begin(&c), 4, headers, NULL, 1, cells, 30, 0), 2);
        out = capture_end(&c);
        assert_lines_fit(out, 30);
        assert_not_contains(out, "ccc");
}

/* ---- health ---------------------------------------------------------------- */

static const char health_ready[] =
        "{\"status\": \"ready\", \"reason\": \"accepting connections on 127.0.0.1:5432; dataset seeded\","
        " \"since\": \"2026-11-21T23:00:00.000Z\", \"runtime\": \"docker\","
        " \"runtime_reason\": \"the Docker engine answers\", \"runtime_id\": \"container 3f2a\", "
        "\"restarts\": 2,"
        " \"database\": {\"host\": \"127.0.0.1\", \"port\": 5432, \"name\": \"app\", \"user\": \"app\","
        "   \"url\": \"postgresql://app@127.0.0.1:5432/app\"},"
        " \"postgres_version\": \"16.4 (Debian 16.4-1.pgdg120+1)\", \"uptime_s\": 3725,"
        " \"checked_at\": \"2026-11-21T23:01:00.000Z\", \"checked_age_ms\": 420,"
        " \"tables\": [{\"schema\": \"public\", \"name\": \"comments\", \"rows\": 500000},"
        "   {\"schema\": \"public\", \"name\": \"users\", \"rows\": 391000},"
        "   {\"schema\": \"public\", \"name\": \"videos\", \"rows\": 4000}],"
        " \"rows_total\": 895000,"
        " \"dataset\": {\"template\": \"app_template\", \"source\": \"synthetic\", \"tables\": [1, 2]},"
        " \"cdc\": {\"wal_level\": \"logical\", \"publication\": {\"name\": \"pgseed\", \"exists\": true, "
        "\"tables\": 3},"
        "   \"replication_slots\": [{\"name\": \"debezium\", \"plugin\": \"pgoutput\", \"type\": "
        "\"logical\","
        "     \"database\": \"app\", \"active\": true, \"confirmed_flush_lsn\": \"0/1A2B3C4\"}]}}";

static const char health_seeding[] =
        "{\"status\": \"seeding\", \"reason\": \"building the dataset\", \"runtime\": \"embedded\", "
        "\"restarts\": 0,"
        " \"database\": {\"url\": \"postgresql://app@127.0.0.1:5432/app\"}, \"postgres_version\": \"15.18\","
        " \"uptime_s\": 4, \"checked_at\": null,"
        " \"seeding\": {\"phase\": \"copy\", \"rows_loaded\": 512340, \"rows_total\": 895000, \"percent\": "
        "57.2,"
        "   \"elapsed_ms\": 3100},"
        " \"cdc\": {\"wal_level\": \"replica\", \"publication\": {\"name\": \"pgseed\", \"exists\": false},"
        "   \"replication_slots\": []}}";

static void test_health_line_ready(void **state)
{
        json_auto_t *h = parse(health_ready);
        _cleanup_free_ char *line = render_health_line(h);

        assert_string_equal(line, "ready: accepting connections on 127.0.0.1:5432; dataset seeded "
                                  "(PostgreSQL 16.4, 895,000 rows in 3 tables)");
}

static void test_health_line_seeding_and_sparse(void **state)
{
        json_auto_t *h = parse(health_seeding), *empty = parse("{}"),
                    *down = parse("{\"status\": \"down\", \"reason\": \"postgres exited\", "
                                  "\"postgres_version\": null}");
        _cleanup_free_ char *line = render_health_line(h), *line2 = render_health_line(empty),
                            *line3 = render_health_line(down);

        assert_string_equal(
                line, "seeding: building the dataset (copy 57%, 512,340/895,000 rows, PostgreSQL 15.18)");
        assert_string_equal(line2, "unknown");
        assert_string_equal(line3, "down: postgres exited");
}

static void test_progress_line_matches_the_example(void **state)
{
        json_auto_t *h = parse(health_seeding);
        _cleanup_free_ char *line = render_progress_line(json_object_get(h, "seeding"), 63);

        assert_string_equal(line, "[#######.....]  57%  seeding: copy  512,340/895,000 rows  3.1s");
}

static void test_progress_line_bounds(void **state)
{
        json_auto_t *full = parse(
                "{\"phase\": \"indexes\", \"rows_loaded\": 10, \"rows_total\": 10, \"elapsed_ms\": 65000}");
        json_auto_t *start = parse("{\"phase\": \"schema\", \"rows_total\": 0, \"elapsed_ms\": 12}");
        _cleanup_free_ char *a = render_progress_line(full, 200), *b = render_progress_line(start, 80),
                            *narrow = render_progress_line(full, 30);

        /* The bar never grows past 40, percent is computed when the server leaves it out. */
        assert_string_equal(
                a, "[########################################] 100%  seeding: indexes  10/10 rows  1m 05s");
        assert_string_equal(b, "[........................................]   0%  seeding: schema  0.0s");
        /* Narrower than the minimal bar: cut, never wrapped. */
        assert_true(text_width(narrow) <= 29);
        assert_true(strncmp(narrow, "[##########] 100%", 17) == 0);
}

static void test_status_shows_everything(void **state)
{
        json_auto_t *h = parse(health_ready);
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_status(capture_begin(&c), h);
        out = capture_end(&c);
        assert_contains(out, "Status:       ready (since 2026-11-21T23:00:00.000Z)\n");
        assert_contains(out, "Reason:       accepting connections on 127.0.0.1:5432; dataset seeded\n");
        assert_contains(out, "Runtime:      docker (the Docker engine answers), container 3f2a\n");
        assert_contains(out, "Database:     postgresql://app@127.0.0.1:5432/app\n");
        assert_contains(out, "Postgres:     16.4 (Debian 16.4-1.pgdg120+1)\n");
        assert_contains(out, "Uptime:       1h 02m\n");
        assert_contains(out, "Restarts:     2\n");
        assert_contains(out, "Checked:      2026-11-21T23:01:00.000Z (420 ms ago)\n");
        assert_contains(out, "Dataset:      template app_template, source synthetic\n");
        assert_contains(out, "Tables:       3, 895,000 rows\n"
                             "              public.comments  500,000\n"
                             "              public.users     391,000\n"
                             "              public.videos      4,000\n");
        assert_contains(out, "WAL level:    logical\n");
        assert_contains(out, "Publication:  pgseed (3 tables)\n");
        assert_contains(out, "Slots:        debezium: logical pgoutput, active, database app, confirmed "
                             "flush 0/1A2B3C4\n");
        assert_not_contains(out, "Seeding:");
}

static void test_status_while_seeding(void **state)
{
        json_auto_t *h = parse(health_seeding);
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_status(capture_begin(&c), h);
        out = capture_end(&c);
        assert_contains(out, "Status:       seeding\n");
        assert_contains(out, "Seeding:      [");
        assert_contains(out, "57%  seeding: copy  512,340/895,000 rows  3.1s\n");
        assert_contains(out, "Checked:      not yet\n");
        assert_contains(out, "Uptime:       4s\n");
        assert_contains(out, "Tables:       unknown");
        assert_contains(out, "WAL level:    replica\n");
        assert_contains(out, "Publication:  pgseed (does not exist)\n");
        assert_contains(out, "Slots:        none\n");
}

/* ---- schema ---------------------------------------------------------------- */

static const char schema_comments[] =
        "{\"schema\": \"public\", \"name\": \"comments\", \"rows\": 500000,"
        " \"columns\": ["
        "  {\"name\": \"comment_id\", \"type\": \"character varying(255)\", \"nullable\": false, "
        "\"default\": null, \"position\": 1},"
        "  {\"name\": \"video_id\", \"type\": \"character varying(255)\", \"nullable\": false, \"default\": "
        "null, \"position\": 2},"
        "  {\"name\": \"likes\", \"type\": \"integer\", \"nullable\": true, \"default\": \"0\", "
        "\"position\": 3}],"
        " \"primary_key\": {\"name\": \"comments_pkey\", \"columns\": [\"comment_id\"]},"
        " \"foreign_keys\": [{\"name\": \"comments_video_id_fkey\", \"columns\": [\"video_id\"],"
        "   \"references\": {\"schema\": \"public\", \"table\": \"videos\", \"columns\": [\"video_id\"]},"
        "   \"on_delete\": \"CASCADE\", \"on_update\": \"NO ACTION\"}],"
        " \"indexes\": [{\"name\": \"comments_pkey\", \"columns\": [\"comment_id\"], \"unique\": true, "
        "\"primary\": true,"
        "   \"definition\": \"CREATE UNIQUE INDEX comments_pkey ON public.comments USING btree "
        "(comment_id)\"},"
        "   {\"name\": \"idx_x\", \"columns\": [\"video_id\", \"likes\"], \"unique\": false, \"primary\": "
        "false}],"
        " \"triggers\": [{\"name\": \"comments_set_updated_at\", \"timing\": \"BEFORE\", \"events\": "
        "[\"INSERT\", \"UPDATE\"],"
        "   \"level\": \"ROW\", \"function\": \"set_updated_at\", \"definition\": \"CREATE TRIGGER ...\"}]}";

static void test_schema_one_table(void **state)
{
        _cleanup_free_ char *text = xasprintf("{\"database\": \"app\", \"table\": %s}", schema_comments);
        json_auto_t *s = parse(text);
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_schema(capture_begin(&c), s, 100);
        out = capture_end(&c);
        assert_string_equal(
                out, "public.comments (500,000 rows)\n"
                     "  column     | type                   | null     | default\n"
                     "  -----------+------------------------+----------+--------\n"
                     "  comment_id | character varying(255) | not null | \n"
                     "  video_id   | character varying(255) | not null | \n"
                     "  likes      | integer                | null     | 0\n"
                     "  Primary key: comments_pkey (comment_id)\n"
                     "  Foreign keys:\n"
                     "    comments_video_id_fkey (video_id) -> public.videos(video_id) ON DELETE CASCADE\n"
                     "  Indexes:\n"
                     "    comments_pkey: CREATE UNIQUE INDEX comments_pkey ON public.comments USING btree "
                     "(comment_id)\n"
                     "    idx_x (video_id, likes)\n"
                     "  Triggers:\n"
                     "    comments_set_updated_at: BEFORE INSERT OR UPDATE FOR EACH ROW EXECUTE FUNCTION "
                     "set_updated_at()\n");
}

static void test_schema_all_tables(void **state)
{
        _cleanup_free_ char *text =
                xasprintf("{\"database\": \"app\", \"schemas\": [{\"name\": \"public\", \"tables\": [%s,"
                          " {\"schema\": \"public\", \"name\": \"videos\", \"rows\": 1, \"columns\": [], "
                          "\"primary_key\": null,"
                          "  \"foreign_keys\": [], \"indexes\": [], \"triggers\": [{\"name\": \"t\", "
                          "\"definition\": \"CREATE TRIGGER t\"}]}]}]}",
                          schema_comments);
        json_auto_t *s = parse(text), *none = parse("{\"database\": \"app\", \"schemas\": []}");
        Capture c;
        _cleanup_free_ char *out = NULL, *out2 = NULL;

        render_schema(capture_begin(&c), s, 100);
        out = capture_end(&c);
        assert_contains(out, "public.comments (500,000 rows)\n");
        assert_contains(out, "\n\npublic.videos (1 row)\n");
        assert_contains(out, "  Primary key: none\n");
        assert_contains(out, "  Triggers:\n    t: CREATE TRIGGER t\n");

        render_schema(capture_begin(&c), none, 100);
        out2 = capture_end(&c);
        assert_string_equal(out2, "No tables in database app.\n");
}

/* ---- sample ---------------------------------------------------------------- */

static const char sample_videos[] =
        "{\"table\": {\"schema\": \"public\", \"name\": \"videos\"}, \"columns\": [\"video_id\", \"title\", "
        "\"likes\"],"
        " \"limit\": 10, \"offset\": 0, \"order\": {\"column\": \"video_id\", \"direction\": \"asc\"}, "
        "\"truncate\": 40,"
        " \"rows\": [{\"video_id\": \"dQw4w9WgXcQ\", \"title\": \"Never\\ngonna\", \"likes\": 12},"
        "          {\"video_id\": \"xyz\", \"title\": null, \"likes\": 1234}]}";

static void test_sample_one_table(void **state)
{
        json_auto_t *s = parse(sample_videos);
        json_auto_t *h = parse(health_ready);
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_sample(capture_begin(&c), s, json_object_get(h, "tables"), 120);
        out = capture_end(&c);
        assert_string_equal(out, "public.videos: rows 1-2 of 4,000, ordered by video_id\n"
                                 "video_id    | title        | likes\n"
                                 "------------+--------------+------\n"
                                 "dQw4w9WgXcQ | Never\\ngonna |    12\n"
                                 "xyz         | NULL         |  1234\n");
}

static void test_sample_all_tables_narrow(void **state)
{
        _cleanup_free_ char *text =
                xasprintf("{\"tables\": [%s, {\"table\": {\"schema\": \"public\", \"name\": \"users\"},"
                          " \"columns\": [{\"name\": \"channel_id\"}, {\"name\": \"channel_name\"}, "
                          "{\"name\": \"created_at\"},"
                          "   {\"name\": \"updated_at\"}],"
                          " \"offset\": 5, \"order\": {\"column\": \"channel_id\", \"direction\": \"desc\"},"
                          " \"rows\": [[\"UC123456789012345678901\", \"A rather long channel name here\", "
                          "\"2026-01-01T00:00:00\","
                          "   \"2026-01-01T00:00:00\"]]},"
                          " {\"table\": {\"schema\": \"public\", \"name\": \"empty\"}, \"columns\": "
                          "[\"a\"], \"offset\": 0, \"rows\": []}]}",
                          sample_videos);
        json_auto_t *s = parse(text);
        Capture c;
        _cleanup_free_ char *out = NULL;

        render_sample(capture_begin(&c), s, NULL, 40);
        out = capture_end(&c);
        assert_table_lines_fit(out, 40);
        assert_contains(out, "public.videos: rows 1-2, ordered by video_id\n");
        assert_contains(out, "\npublic.users: row 6, ordered by channel_id desc\n");
        assert_contains(out, "(1 more column not shown: updated_at; pick columns with --columns)\n");
        assert_contains(out, "\xe2\x80\xa6");
        assert_contains(out, "\npublic.empty: no rows\n");
}

/* ---- reset ----------------------------------------------------------------- */

static void test_reset_line(void **state)
{
        json_auto_t *r = parse("{\"mode\": \"template\", \"duration_ms\": 84, \"tables\": ["
                               "{\"schema\": \"public\", \"name\": \"comments\", \"rows\": 500000},"
                               "{\"schema\": \"public\", \"name\": \"users\", \"rows\": 391000},"
                               "{\"schema\": \"public\", \"name\": \"videos\", \"rows\": 4500},"
                               "{\"schema\": \"audit\", \"name\": \"log\", \"rows\": 0}]}");
        json_auto_t *bare = parse("{\"mode\": \"inplace\", \"duration_ms\": 2500}");
        json_auto_t *diff =
                parse("{\"mode\": \"inplace\", \"strategy\": \"diff\", \"duration_ms\": 280, \"tables\": ["
                      "{\"schema\": \"public\", \"name\": \"comments\", \"rows\": 2000, \"deleted\": 2,"
                      " \"updated\": 1, \"inserted\": 0},"
                      "{\"schema\": \"public\", \"name\": \"videos\", \"rows\": 18, \"deleted\": 1,"
                      " \"updated\": 0, \"inserted\": 3}]}");
        _cleanup_free_ char *line = render_reset(r), *line2 = render_reset(bare),
                            *line3 = render_reset(diff);

        assert_string_equal(
                line,
                "reset (template) in 84 ms: comments 500,000, users 391,000, videos 4,500, audit.log 0");
        assert_string_equal(line2, "reset (inplace) in 2.5s");
        assert_string_equal(line3, "reset (inplace) in 280 ms: comments 2,000, videos 18 (rows deleted 3, "
                                   "updated 1, inserted 3)");
}

/* ---- parsers ----------------------------------------------------------------- */

static void test_api_error_from_json_and_other_bodies(void **state)
{
        char body[] = "{\"error\": {\"code\": \"replication_slot_active\", \"message\": \"Slot debezium is "
                      "active\","
                      " \"hint\": \"Use --mode inplace.\"}}";
        char html[] = "<html>\n<body>Bad gateway</body></html>";
        CtlResponse r = {.status = 409, .body = body, .len = strlen(body)};
        CtlResponse p = {.status = 502, .body = html, .len = strlen(html)};
        Error e = ERROR_INIT;

        assert_int_equal(ctl_api_error(&r, &e), -EBUSY);
        assert_string_equal(e.code, "replication_slot_active");
        assert_string_equal(e.message, "Slot debezium is active");
        assert_string_equal(e.hint, "Use --mode inplace.");

        e = (Error) ERROR_INIT;
        assert_int_equal(ctl_api_error(&p, &e), -EIO);
        assert_string_equal(e.message, "Unexpected answer HTTP 502: <html>");

        char nohint[] = "{\"error\": {\"code\": \"not_implemented\", \"message\": \"/sample is not "
                        "implemented yet\"}}";
        CtlResponse n = {.status = 501, .body = nohint, .len = strlen(nohint)};
        e = (Error) ERROR_INIT;
        assert_int_equal(ctl_api_error(&n, &e), -ENOSYS);
        assert_string_equal(e.message, "/sample is not implemented yet");
        assert_string_equal(e.hint, "");
}

static void test_url_from_listen(void **state)
{
        const char *cases[][2] = {
                {"127.0.0.1:7432", "http://127.0.0.1:7432"}, {"0.0.0.0:80", "http://127.0.0.1:80"},
                {":7432", "http://127.0.0.1:7432"},          {"localhost:9000", "http://localhost:9000"},
                {"[::1]:7432", "http://[::1]:7432"},         {"[::]:7432", "http://[::1]:7432"},
                {"::1:7432", "http://[::1]:7432"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *u = api_url_from_listen(cases[i][0]);
                assert_non_null(u);
                assert_string_equal(u, cases[i][1]);
        }
        assert_null(api_url_from_listen(NULL));
        assert_null(api_url_from_listen("7432"));
        assert_null(api_url_from_listen("127.0.0.1:0"));
        assert_null(api_url_from_listen("127.0.0.1:http"));
}

static void test_start_error_parse_takes_the_last_error(void **state)
{
        const char *log = "ts=... level=info event=runtime msg=\"Using the embedded runtime\"\n"
                          "pgseedd: an older failure\n"
                          "  hint: an older hint\n"
                          "ts=... level=error event=startup msg=\"API address in use\"\n"
                          "pgseedd: API address 127.0.0.1:7432 is already in use\n"
                          "  hint: Set PGSEED_LISTEN to a free port.\n";
        Error e = ERROR_INIT;

        assert_int_equal(start_error_parse(log, &e), 0);
        assert_string_equal(e.message, "API address 127.0.0.1:7432 is already in use");
        assert_string_equal(e.hint, "Set PGSEED_LISTEN to a free port.");

        e = (Error) ERROR_INIT;
        assert_int_equal(start_error_parse("pgseedd: no hint here", &e), 0);
        assert_string_equal(e.message, "no hint here");
        assert_string_equal(e.hint, "");

        assert_int_equal(start_error_parse("ts=1 level=info msg=fine\n", &e), -ENOENT);
        assert_int_equal(start_error_parse("", &e), -ENOENT);
}

static void test_pidfile_lock_decides_running(void **state)
{
        char dir[] = "/tmp/pgseed-test-render-XXXXXX";
        _cleanup_free_ char *path = NULL;
        pid_t pid = -1;
        int fd;

        assert_non_null(mkdtemp(dir));
        path = xasprintf("%s/pgseedd.pid", dir);

        assert_int_equal(pgseedd_running(dir, &pid), 0); /* no file */

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "4242\n", 5), 5);
        assert_int_equal(pgseedd_running(dir, &pid), 0); /* a stale file: nobody holds the lock */

        /* A lock on another open file description conflicts even within one process, as with pgseedd. */
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        assert_int_equal(pgseedd_running(dir, &pid), 1);
        assert_int_equal(pid, 4242);

        close(fd);
        assert_int_equal(pgseedd_running(dir, &pid), 0);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_count_groups_thousands),
                cmocka_unit_test(test_format_duration_picks_units),
                cmocka_unit_test(test_text_width_counts_columns),
                cmocka_unit_test(test_text_prefix_stops_before_wide_char),
                cmocka_unit_test(test_render_value_is_readable_and_safe),
                cmocka_unit_test(test_render_table_aligns),
                cmocka_unit_test(test_render_table_indents_and_pads_wide_chars),
                cmocka_unit_test(test_render_table_narrows_the_widest_column),
                cmocka_unit_test(test_render_table_cuts_wide_chars_cleanly),
                cmocka_unit_test(test_render_table_drops_columns_that_cannot_fit),
                cmocka_unit_test(test_health_line_ready),
                cmocka_unit_test(test_health_line_seeding_and_sparse),
                cmocka_unit_test(test_progress_line_matches_the_example),
                cmocka_unit_test(test_progress_line_bounds),
                cmocka_unit_test(test_status_shows_everything),
                cmocka_unit_test(test_status_while_seeding),
                cmocka_unit_test(test_schema_one_table),
                cmocka_unit_test(test_schema_all_tables),
                cmocka_unit_test(test_sample_one_table),
                cmocka_unit_test(test_sample_all_tables_narrow),
                cmocka_unit_test(test_reset_line),
                cmocka_unit_test(test_api_error_from_json_and_other_bodies),
                cmocka_unit_test(test_url_from_listen),
                cmocka_unit_test(test_start_error_parse_takes_the_last_error),
                cmocka_unit_test(test_pidfile_lock_decides_running),
        };

        /* Width tables for wide characters, as pgseedctl's main() arranges. */
        if (!setlocale(LC_CTYPE, "C.UTF-8"))
                fprintf(stderr, "test-render: no C.UTF-8 locale; wide-character tests may fail\n");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
