/* SPDX-License-Identifier: MIT */
/* test-catalog.c -- parameter checks against a catalog, UTF-8 cutting, JSON output, ETags. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "http.h"
#include "jsonfmt.h"
#include "util.h"

/* A catalog as catalog_load() would get it from Postgres, with the awkward cases a real one can hold. */
static const char catalog_text[] =
        "["
        " {\"schema\": \"analytics\", \"name\": \"comments\", \"readable\": true,"
        "  \"columns\": [{\"name\": \"x\", \"numeric\": false}], \"primary_key\": []},"
        " {\"schema\": \"analytics\", \"name\": \"events\", \"readable\": true,"
        "  \"columns\": [{\"name\": \"id\", \"numeric\": false}, {\"name\": \"amount\", \"numeric\": true},"
        "               {\"name\": \"x.desc\", \"numeric\": false}],"
        "  \"primary_key\": [\"id\"]},"
        " {\"schema\": \"odd\", \"name\": \"a.b\", \"readable\": false,"
        "  \"columns\": [], \"primary_key\": []},"
        " {\"schema\": \"public\", \"name\": \"comments\", \"readable\": true,"
        "  \"columns\": [{\"name\": \"comment_id\", \"numeric\": false}, {\"name\": \"video_id\", "
        "\"numeric\": false},"
        "               {\"name\": \"likes\", \"numeric\": false}, {\"name\": \"Mixed Case\", \"numeric\": "
        "false}],"
        "  \"primary_key\": [\"comment_id\"]},"
        " {\"schema\": \"public\", \"name\": \"videos\", \"readable\": true,"
        "  \"columns\": [{\"name\": \"video_id\", \"numeric\": false}], \"primary_key\": [\"video_id\"]}"
        "]";

static Catalog *catalog_fixture(void)
{
        json_auto_t *j = json_loads(catalog_text, 0, NULL);
        Catalog *c = NULL;
        Error e = ERROR_INIT;

        assert_non_null(j);
        assert_int_equal(catalog_from_json(j, &c, &e), 0);
        return c;
}

static const CatalogTable *table_named(const Catalog *c, const char *schema, const char *name)
{
        for (size_t i = 0; i < c->n_tables; i++)
                if (streq(c->tables[i].schema, schema) && streq(c->tables[i].name, name))
                        return &c->tables[i];
        fail_msg("no table %s.%s in the fixture", schema, name);
        return NULL;
}

/* Every error body must be valid JSON, so every message and hint must be valid UTF-8. */
static void assert_error_printable(const Error *e)
{
        assert_true(utf8_is_valid(e->message, strlen(e->message)));
        assert_true(utf8_is_valid(e->hint, strlen(e->hint)));
        assert_true(utf8_is_valid(e->code, strlen(e->code)));
}

/* ---- catalog_from_json ---------------------------------------------------- */

static void test_catalog_from_json_builds_tables(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t;

        assert_int_equal(c->n_tables, 5);
        t = table_named(c, "analytics", "events");
        assert_int_equal(t->n_columns, 3);
        assert_string_equal(t->columns[2].name, "x.desc");
        assert_true(t->columns[1].numeric);
        assert_false(t->columns[0].numeric);
        assert_int_equal(t->n_primary_key, 1);
        assert_int_equal(t->primary_key[0], 0);
        assert_true(t->readable);
        t = table_named(c, "odd", "a.b");
        assert_false(t->readable);
        assert_int_equal(t->n_columns, 0);
        assert_int_equal(t->n_primary_key, 0);
}

static void test_catalog_from_json_rejects_bad_shapes(void **state)
{
        const char *bad[] = {
                "{}",
                "[1]",
                "[{\"schema\": \"s\"}]",
                "[{\"schema\": \"s\", \"name\": \"t\", \"columns\": 3}]",
                "[{\"schema\": \"s\", \"name\": \"t\", \"columns\": [{\"numeric\": true}]}]",
                /* A primary key on a column the table does not have, after a good table (freed too). */
                "[{\"schema\": \"s\", \"name\": \"ok\", \"columns\": [{\"name\": \"a\"}], \"primary_key\": "
                "[\"a\"]},"
                " {\"schema\": \"s\", \"name\": \"t\", \"columns\": [{\"name\": \"a\"}], \"primary_key\": "
                "[\"b\"]}]",
                "[{\"schema\": \"s\", \"name\": \"t\", \"columns\": [], \"primary_key\": [1]}]",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_auto_t *j = json_loads(bad[i], 0, NULL);
                Catalog *c = NULL;
                Error e = ERROR_INIT;

                assert_non_null(j);
                assert_int_equal(catalog_from_json(j, &c, &e), -EIO);
                assert_null(c);
                assert_int_equal(e.errnum, EIO);
        }
}

static void test_catalog_from_json_empty(void **state)
{
        json_auto_t *j = json_array();
        _cleanup_(catalog_freep) Catalog *c = NULL;
        Error e = ERROR_INIT;
        const CatalogTable *t = NULL;

        assert_int_equal(catalog_from_json(j, &c, &e), 0);
        assert_int_equal(c->n_tables, 0);
        assert_int_equal(catalog_find_table(c, "comments", &t, &e), -ENOENT);
        assert_string_equal(e.code, "table_not_found");
        assert_non_null(strstr(e.hint, "no tables"));
}

/* ---- catalog_find_table ----------------------------------------------------- */

static void test_find_table_plain_and_qualified(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = NULL;
        Error e = ERROR_INIT;

        assert_int_equal(catalog_find_table(c, "videos", &t, &e), 0);
        assert_string_equal(t->schema, "public");
        assert_int_equal(catalog_find_table(c, "public.videos", &t, &e), 0);
        assert_string_equal(t->name, "videos");
        assert_int_equal(catalog_find_table(c, "events", &t, &e), 0);
        assert_string_equal(t->schema, "analytics");
        assert_int_equal(catalog_find_table(c, "analytics.comments", &t, &e), 0);
        assert_string_equal(t->schema, "analytics");
        assert_int_equal(catalog_find_table(c, "public.comments", &t, &e), 0);
        assert_string_equal(t->schema, "public");
        /* A table whose own name holds a dot: whole, or qualified. */
        assert_int_equal(catalog_find_table(c, "a.b", &t, &e), 0);
        assert_string_equal(t->schema, "odd");
        assert_int_equal(catalog_find_table(c, "odd.a.b", &t, &e), 0);
        assert_string_equal(t->name, "a.b");
}

static void test_find_table_ambiguous_lists_schemas(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = NULL;
        Error e = ERROR_INIT;

        assert_int_equal(catalog_find_table(c, "comments", &t, &e), -EINVAL);
        assert_null(t);
        assert_string_equal(e.code, "invalid_parameter");
        assert_non_null(strstr(e.message, "'table'"));
        assert_non_null(strstr(e.message, "analytics.comments"));
        assert_non_null(strstr(e.message, "public.comments"));
        assert_non_null(strstr(e.hint, "SCHEMA.NAME"));
}

static void test_find_table_unknown_is_404_with_list(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = NULL;
        Error e = ERROR_INIT;

        assert_int_equal(catalog_find_table(c, "nope", &t, &e), -ENOENT);
        assert_string_equal(e.code, "table_not_found");
        assert_non_null(strstr(e.message, "'nope'"));
        assert_string_equal(e.hint,
                            "Tables: analytics.comments, analytics.events, odd.a.b, public.comments, "
                            "public.videos");
}

static void test_find_table_nasty_inputs(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        char longname[300];
        /* Not names of any table: each one is a 404, never a match on a prefix or a folded case. */
        const char *missing[] = {
                "comments;DROP TABLE users",
                "public.comments;DROP TABLE users",
                "comments\"--",
                "public.comments\"--",
                "\"public\".\"comments\"",
                "comments --",
                "comments/**/",
                "' OR '1'='1",
                "1=1",
                "pg_sleep(5)",
                "videos ",
                " videos",
                "Videos",
                "VIDEOS",
                "public.",
                ".videos",
                "public..videos",
                "publicvideos",
                "public.videos.x",
                "pg_catalog.pg_class",
                "information_schema.tables",
                "v%ideos",
                "vid_os",
                "vide\xd0\xbes",            /* Cyrillic o */
                "videos\xef\xbc\x9b",       /* fullwidth semicolon */
                "videos\xe2\x80\x8b",       /* zero-width space */
                "public\xe2\x80\xa4videos", /* one dot leader, not a full stop */
        };
        /* Text that cannot be echoed or cannot be a name: 400 before any lookup. */
        const char *invalid[] = {
                "",
                "videos\n",
                "videos\t",
                "videos\r\nX-Injected: 1",
                "\x7f",
                "videos\xff",
                "\xc0\xae",         /* overlong "." */
                "\xed\xa0\x80",     /* a UTF-16 surrogate */
                "\xf4\x90\x80\x80", /* beyond U+10FFFF */
                "\xe2\x80",         /* cut short */
        };

        for (size_t i = 0; i < ELEMENTSOF(missing); i++) {
                const CatalogTable *t = NULL;
                Error e = ERROR_INIT;

                assert_int_equal(catalog_find_table(c, missing[i], &t, &e), -ENOENT);
                assert_null(t);
                assert_error_printable(&e);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                const CatalogTable *t = NULL;
                Error e = ERROR_INIT;

                assert_int_equal(catalog_find_table(c, invalid[i], &t, &e), -EINVAL);
                assert_null(t);
                assert_string_equal(e.code, "invalid_parameter");
                assert_non_null(strstr(e.message, "'table'"));
                assert_error_printable(&e);
        }

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        {
                const CatalogTable *t = NULL;
                Error e = ERROR_INIT;

                assert_int_equal(catalog_find_table(c, longname, &t, &e), -EINVAL);
                assert_non_null(strstr(e.message, "too long"));
                assert_null(strstr(e.message, longname)); /* not echoed */
        }
}

static void test_hints_stay_within_bounds_and_valid_utf8(void **state)
{
        /* 400 tables with long multi-byte names: the hint must end with "…" and never split a character. */
        json_auto_t *j = json_array();
        _cleanup_(catalog_freep) Catalog *c = NULL;
        const CatalogTable *t = NULL;
        Error e = ERROR_INIT;
        char name[64] = "";

        for (size_t i = 0; i < 20; i++)
                strcat(name, "\xc3\xa9"); /* é */
        for (int i = 0; i < 400; i++) {
                char n[80];
                snprintf(n, sizeof(n), "%s%03d", name, i);
                json_t *cols = json_array();
                for (int k = 0; k < 40; k++) {
                        char cn[80];
                        snprintf(cn, sizeof(cn), "%s_%02d", name, k);
                        json_array_append_new(cols, json_pack("{s:s, s:b}", "name", cn, "numeric", 0));
                }
                json_array_append_new(j,
                                      json_pack("{s:s, s:s, s:b, s:o, s:[]}", "schema", "sch\xc3\xa9ma",
                                                "name", n, "readable", 1, "columns", cols, "primary_key"));
        }
        assert_int_equal(catalog_from_json(j, &c, &e), 0);

        assert_int_equal(catalog_find_table(c, "nope", &t, &e), -ENOENT);
        assert_error_printable(&e);
        assert_true(strlen(e.hint) < sizeof(e.hint) - 1);
        assert_non_null(strstr(e.hint, "\xe2\x80\xa6"));

        e = (Error) ERROR_INIT;
        assert_int_equal(catalog_parse_order(&c->tables[0], "nope", &(CatalogOrder){0}, &e), -EINVAL);
        assert_string_equal(e.code, "unknown_column");
        assert_error_printable(&e);
        assert_true(strlen(e.hint) < sizeof(e.hint) - 1);
        assert_non_null(strstr(e.hint, "\xe2\x80\xa6"));
}

/* ---- catalog_parse_columns ---------------------------------------------------- */

static void test_parse_columns_ok(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = table_named(c, "public", "comments");
        _cleanup_free_ size_t *idx = NULL;
        size_t n = 0;
        Error e = ERROR_INIT;

        assert_int_equal(catalog_parse_columns(t, "likes,comment_id,Mixed Case", &idx, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_int_equal(idx[0], 2);
        assert_int_equal(idx[1], 0);
        assert_int_equal(idx[2], 3);
        free(TAKE_PTR(idx));
        assert_int_equal(catalog_parse_columns(t, "video_id", &idx, &n, &e), 0);
        assert_int_equal(n, 1);
        assert_int_equal(idx[0], 1);
}

static void test_parse_columns_rejects(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = table_named(c, "public", "comments");
        struct {
                const char *list;
                const char *code;
        } cases[] = {
                {"", "invalid_parameter"},
                {",", "invalid_parameter"},
                {"likes,", "invalid_parameter"},
                {",likes", "invalid_parameter"},
                {"likes,,video_id", "invalid_parameter"},
                {"likes,likes", "invalid_parameter"},
                {"likes,video_id,likes", "invalid_parameter"},
                {"nope", "unknown_column"},
                {"likes,nope", "unknown_column"},
                {" likes", "unknown_column"},
                {"likes ", "unknown_column"},
                {"LIKES", "unknown_column"},
                {"mixed case", "unknown_column"},
                {"\"likes\"", "unknown_column"},
                {"likes;DROP TABLE users", "unknown_column"},
                {"likes) FROM users; --", "unknown_column"},
                {"pg_sleep(5)", "unknown_column"},
                {"*", "unknown_column"},
                {"1", "unknown_column"},
                {"likes\xef\xbc\x8cvideo_id", "unknown_column"}, /* fullwidth comma is not a separator */
                {"likes\n", "invalid_parameter"},
                {"likes\xff", "invalid_parameter"},
                {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "unknown_column"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t *idx = NULL, n = 0;
                Error e = ERROR_INIT;

                assert_int_equal(catalog_parse_columns(t, cases[i].list, &idx, &n, &e), -EINVAL);
                assert_null(idx);
                assert_string_equal(e.code, cases[i].code);
                assert_non_null(strstr(e.message, "'columns'"));
                assert_error_printable(&e);
                if (streq(cases[i].code, "unknown_column") && strlen(cases[i].list) <= CATALOG_NAME_MAX)
                        assert_non_null(strstr(e.hint, "comment_id, video_id, likes, Mixed Case"));
        }
}

static void test_parse_columns_limit(void **state)
{
        /* A table with 150 columns: 100 names pass, 101 do not. */
        json_auto_t *j = json_array(), *cols = json_array();
        _cleanup_(catalog_freep) Catalog *c = NULL;
        _cleanup_free_ size_t *idx = NULL;
        char list[2048] = "";
        size_t n = 0;
        Error e = ERROR_INIT;

        for (int i = 0; i < 150; i++) {
                char cn[16];
                snprintf(cn, sizeof(cn), "c%d", i);
                json_array_append_new(cols, json_pack("{s:s}", "name", cn));
        }
        json_array_append_new(j,
                              json_pack("{s:s, s:s, s:O}", "schema", "s", "name", "wide", "columns", cols));
        assert_int_equal(catalog_from_json(j, &c, &e), 0);

        for (int i = 0; i < 100; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sc%d", i ? "," : "", i);
        assert_int_equal(catalog_parse_columns(&c->tables[0], list, &idx, &n, &e), 0);
        assert_int_equal(n, 100);
        assert_int_equal(idx[99], 99);
        strcat(list, ",c100");
        free(TAKE_PTR(idx));
        assert_int_equal(catalog_parse_columns(&c->tables[0], list, &idx, &n, &e), -EINVAL);
        assert_string_equal(e.code, "invalid_parameter");
        assert_non_null(strstr(e.message, "more than 100"));
}

/* ---- catalog_parse_order ------------------------------------------------------ */

static void test_parse_order_ok(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = table_named(c, "public", "comments"),
                           *ev = table_named(c, "analytics", "events");
        CatalogOrder o;
        Error e = ERROR_INIT;

        assert_int_equal(catalog_parse_order(t, "likes", &o, &e), 0);
        assert_int_equal(o.column, 2);
        assert_false(o.descending);
        assert_int_equal(catalog_parse_order(t, "likes.asc", &o, &e), 0);
        assert_int_equal(o.column, 2);
        assert_false(o.descending);
        assert_int_equal(catalog_parse_order(t, "likes.desc", &o, &e), 0);
        assert_true(o.descending);
        assert_int_equal(catalog_parse_order(t, "likes.DESC", &o, &e), 0);
        assert_true(o.descending);
        assert_int_equal(catalog_parse_order(t, "Mixed Case.desc", &o, &e), 0);
        assert_int_equal(o.column, 3);
        /* A column called "x.desc" is that column, ascending; with a suffix, that column descending. */
        assert_int_equal(catalog_parse_order(ev, "x.desc", &o, &e), 0);
        assert_int_equal(o.column, 2);
        assert_false(o.descending);
        assert_int_equal(catalog_parse_order(ev, "x.desc.desc", &o, &e), 0);
        assert_int_equal(o.column, 2);
        assert_true(o.descending);
}

static void test_parse_order_rejects(void **state)
{
        _cleanup_(catalog_freep) Catalog *c = catalog_fixture();
        const CatalogTable *t = table_named(c, "public", "comments");
        struct {
                const char *spec;
                const char *code;
                const char *needle;
        } cases[] = {
                {"", "invalid_parameter", "empty"},
                {"likes.sideways", "invalid_parameter", "asc or desc"},
                {"likes.", "invalid_parameter", "asc or desc"},
                {"likes.desc; DROP TABLE users", "invalid_parameter", "asc or desc"},
                {"likes desc", "unknown_column", "'likes desc'"},
                {"likes desc; DROP TABLE users", "unknown_column", "'likes desc; DROP TABLE users'"},
                {"likes DESC", "unknown_column", NULL},
                {"-likes", "unknown_column", NULL},
                {"likes:desc", "unknown_column", NULL},
                {"nope.desc", "unknown_column", "'nope'"},
                {".desc", "unknown_column", "''"},
                {"1", "unknown_column", NULL},
                {"1=1", "unknown_column", NULL},
                {"pg_sleep(5)", "unknown_column", NULL},
                {"random()", "unknown_column", NULL},
                {"likes/**/", "unknown_column", NULL},
                {"likes--", "unknown_column", NULL},
                {"\"likes\"", "unknown_column", NULL},
                {"likes,video_id", "unknown_column", NULL},
                {"likes\x0a", "invalid_parameter", "control"},
                {"likes\xc0\xae"
                 "desc",
                 "invalid_parameter", "UTF-8"},
                {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "invalid_parameter", "too long"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CatalogOrder o = {.column = 99};
                Error e = ERROR_INIT;

                assert_int_equal(catalog_parse_order(t, cases[i].spec, &o, &e), -EINVAL);
                assert_int_equal(o.column, 99);
                assert_string_equal(e.code, cases[i].code);
                assert_non_null(strstr(e.message, "'order'"));
                if (cases[i].needle)
                        assert_non_null(strstr(e.message, cases[i].needle));
                assert_error_printable(&e);
        }
}

/* ---- param_check_text, utf8_* ------------------------------------------------- */

static void test_param_check_text(void **state)
{
        Error e = ERROR_INIT;

        assert_int_equal(param_check_text("limit", "10", 32, &e), 0);
        assert_int_equal(param_check_text("table", "caf\xc3\xa9.t\xf0\x9f\x98\x80", 32, &e), 0);
        assert_int_equal(param_check_text("limit", "", 32, &e), -EINVAL);
        assert_non_null(strstr(e.message, "'limit'"));
        assert_int_equal(param_check_text("limit", "123456789", 8, &e), -EINVAL);
        assert_non_null(strstr(e.message, "too long"));
        assert_int_equal(param_check_text("limit", "1\xff", 32, &e), -EINVAL);
        assert_null(strstr(e.message, "\xff"));
        assert_int_equal(param_check_text("limit", "1\x1b[2J", 32, &e), -EINVAL);
        assert_null(strstr(e.message, "\x1b"));
        assert_string_equal(e.code, "invalid_parameter");
}

static void test_utf8_is_valid(void **state)
{
        assert_true(utf8_is_valid("", 0));
        assert_true(utf8_is_valid("plain", 5));
        assert_true(utf8_is_valid("\xc3\xa9", 2));
        assert_true(utf8_is_valid("\xe2\x80\xa6", 3));
        assert_true(utf8_is_valid("\xf0\x9f\x98\x80", 4));
        assert_true(utf8_is_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
        assert_true(utf8_is_valid("a\0b", 3));             /* NUL is a character; callers reject it */
        assert_false(utf8_is_valid("\x80", 1));
        assert_false(utf8_is_valid("\xc3", 1));
        assert_false(utf8_is_valid("\xc3\x28", 2));
        assert_false(utf8_is_valid("\xc0\x80", 2)); /* overlong NUL */
        assert_false(utf8_is_valid("\xc1\xbf", 2));
        assert_false(utf8_is_valid("\xe0\x80\xaf", 3)); /* overlong "/" */
        assert_false(utf8_is_valid("\xf0\x80\x80\xaf", 4));
        assert_false(utf8_is_valid("\xed\xa0\x80", 3));
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4));
        assert_false(utf8_is_valid("\xf5\x80\x80\x80", 4));
        assert_false(utf8_is_valid("\xff", 1));
        assert_false(utf8_is_valid("\xe2\x80\xa6", 2)); /* length cuts it */
}

static void assert_truncated(const char *in, size_t max, const char *want)
{
        size_t len = 0;
        _cleanup_free_ char *out = utf8_truncate(in, strlen(in), max, &len);

        if (!want) {
                assert_null(out);
                return;
        }
        assert_non_null(out);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        assert_true(utf8_is_valid(out, len));
}

static void test_utf8_truncate(void **state)
{
        assert_truncated("", 1, NULL);
        assert_truncated("abc", 3, NULL);
        assert_truncated("abc", 10, NULL);
        assert_truncated("abcd", 3, "abc\xe2\x80\xa6");
        assert_truncated("abcd", 1, "a\xe2\x80\xa6");
        assert_truncated("abcd", 0, "\xe2\x80\xa6");
        /* Characters, not bytes: five é are 10 bytes but 5 characters. */
        assert_truncated("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5, NULL);
        assert_truncated("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4,
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
        assert_truncated("\xc3\xa9\xc3\xa9\xc3\xa9", 1, "\xc3\xa9\xe2\x80\xa6");
        /* A 4-byte emoji is one character; never split. */
        assert_truncated("a\xf0\x9f\x98\x80"
                         "b",
                         2, "a\xf0\x9f\x98\x80\xe2\x80\xa6");
        assert_truncated("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 1, "\xf0\x9f\x98\x80\xe2\x80\xa6");
        /* A ZWJ family is five code points; cut by code point, each whole. */
        assert_truncated("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", 2,
                         "\xf0\x9f\x91\xa8\xe2\x80\x8d\xe2\x80\xa6");
        /* Text that already ends with "…" and is short enough stays. */
        assert_truncated("ab\xe2\x80\xa6", 3, NULL);
}

static void test_utf8_truncate_embedded_nul(void **state)
{
        size_t len = 0;
        _cleanup_free_ char *out = utf8_truncate("a\0bcd", 5, 3, &len);

        assert_non_null(out);
        assert_int_equal(len, 3 + 3);
        assert_memory_equal(out, "a\0b\xe2\x80\xa6", len);
}

static void test_json_truncate_strings_nested(void **state)
{
        json_auto_t *v =
                json_loads("{\"long\": \"abcdef\", \"short\": \"ab\", \"n\": 123456, \"b\": true,"
                           " \"nested\": {\"k\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\", \"abcdefgh\": null},"
                           " \"arr\": [\"xyzxyz\", 1, [\"deepdeep\"]]}",
                           0, NULL);
        json_auto_t *want = json_loads(
                "{\"long\": \"abc\xe2\x80\xa6\", \"short\": \"ab\", \"n\": 123456, \"b\": true,"
                " \"nested\": {\"k\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6\", \"abcdefgh\": null},"
                " \"arr\": [\"xyz\xe2\x80\xa6\", 1, [\"dee\xe2\x80\xa6\"]]}",
                0, NULL);

        assert_non_null(v);
        assert_non_null(want);
        json_truncate_strings(v, 3);
        assert_true(json_equal(v, want));
}

/* ---- json_format ------------------------------------------------------------------ */

static void test_json_format_matches_jansson_layout(void **state)
{
        json_auto_t *v = json_loads("{\"a\": 1, \"b\": [true, false, null, -9223372036854775807], \"c\": {},"
                                    " \"d\": [], \"e\": {\"f\": [[], {}], \"g\": \"h\"}, \"s\": "
                                    "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f\xc3\xa9\"}",
                                    0, NULL);
        _cleanup_free_ char *mine = NULL, *theirs = NULL;
        size_t len = 0;

        assert_non_null(v);
        mine = json_format(v, &len);
        theirs = json_dumps(v, JSON_INDENT(2));
        assert_int_equal(len, strlen(mine));
        assert_int_equal(strlen(mine), strlen(theirs) + 1);
        assert_memory_equal(mine, theirs, strlen(theirs));
        assert_int_equal(mine[len - 1], '\n');
}

static void test_json_format_reals_shortest(void **state)
{
        struct {
                double v;
                const char *want;
        } cases[] = {
                {19.99, "19.99"},
                {0.1, "0.1"},
                {0.30000000000000004, "0.30000000000000004"},
                {-0.5, "-0.5"},
                {5.0, "5.0"},
                {-0.0, "-0.0"},
                {1e300, "1e300"},
                {1e23, "1e23"},
                {1.5e-7, "1.5e-7"},
                {123456789012345.6, "123456789012345.6"},
                {2.2250738585072014e-308, "2.2250738585072014e-308"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *v = json_real(cases[i].v), *back = NULL;
                _cleanup_free_ char *out = json_format(v, NULL);
                char want[64];

                snprintf(want, sizeof(want), "%s\n", cases[i].want);
                assert_string_equal(out, want);
                back = json_loads(out, JSON_DECODE_ANY, NULL);
                assert_true(json_is_real(back));
                assert_true(json_real_value(back) == cases[i].v);
        }
}

static void test_json_format_nul_and_round_trip(void **state)
{
        json_auto_t *v = json_pack("{s:s%, s:[f, I]}", "k", "a\0b", (size_t) 3, "arr", 0.1, (json_int_t) 42);
        _cleanup_free_ char *out = json_format(v, NULL);
        json_auto_t *back = json_loads(out, JSON_ALLOW_NUL, NULL);

        assert_non_null(strstr(out, "\"a\\u0000b\""));
        assert_non_null(back);
        assert_true(json_equal(v, back));
}

/* ---- etag_matches --------------------------------------------------------------- */

static void test_etag_matches(void **state)
{
        const char *tag = "\"0123456789abcdef\"";

        assert_true(etag_matches("\"0123456789abcdef\"", tag));
        assert_true(etag_matches("W/\"0123456789abcdef\"", tag));
        assert_true(etag_matches("\"x\", \"0123456789abcdef\"", tag));
        assert_true(etag_matches("\"x\",W/\"0123456789abcdef\" , \"y\"", tag));
        assert_true(etag_matches("*", tag));
        assert_true(etag_matches("  *  ", tag));
        assert_false(etag_matches(NULL, tag));
        assert_false(etag_matches("", tag));
        assert_false(etag_matches("\"x\"", tag));
        assert_false(etag_matches("0123456789abcdef", tag)); /* unquoted */
        assert_false(etag_matches("\"0123456789abcde\"", tag));
        assert_false(etag_matches("\"0123456789abcdef0\"", tag));
        assert_false(etag_matches("\"0123456789abcdef", tag)); /* unterminated */
        assert_false(etag_matches("garbage, W/, \"", tag));
        assert_true(etag_matches("garbage, \"0123456789abcdef\"", tag));
        assert_false(etag_matches(",,,", tag));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_catalog_from_json_builds_tables),
                cmocka_unit_test(test_catalog_from_json_rejects_bad_shapes),
                cmocka_unit_test(test_catalog_from_json_empty),
                cmocka_unit_test(test_find_table_plain_and_qualified),
                cmocka_unit_test(test_find_table_ambiguous_lists_schemas),
                cmocka_unit_test(test_find_table_unknown_is_404_with_list),
                cmocka_unit_test(test_find_table_nasty_inputs),
                cmocka_unit_test(test_hints_stay_within_bounds_and_valid_utf8),
                cmocka_unit_test(test_parse_columns_ok),
                cmocka_unit_test(test_parse_columns_rejects),
                cmocka_unit_test(test_parse_columns_limit),
                cmocka_unit_test(test_parse_order_ok),
                cmocka_unit_test(test_parse_order_rejects),
                cmocka_unit_test(test_param_check_text),
                cmocka_unit_test(test_utf8_is_valid),
                cmocka_unit_test(test_utf8_truncate),
                cmocka_unit_test(test_utf8_truncate_embedded_nul),
                cmocka_unit_test(test_json_truncate_strings_nested),
                cmocka_unit_test(test_json_format_matches_jansson_layout),
                cmocka_unit_test(test_json_format_reals_shortest),
                cmocka_unit_test(test_json_format_nul_and_round_trip),
                cmocka_unit_test(test_etag_matches),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
