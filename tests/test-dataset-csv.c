/* SPDX-License-Identifier: MIT */
/* test-dataset-csv.c -- CSV normalization: the nasty fixture, drop reasons and lines, and the stratified
 * subset. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dataset.h"
#include "util.h"

/* Rows per table as one string, and the skips reported, as "LINE:reason:detail\n" lines. */
typedef struct Capture {
        RowBuf rows[_TABLE_MAX];
        RowBuf skips;
        int put_error; /* put() returns this when nonzero */
} Capture;

static void buf_put(RowBuf *b, const char *s, size_t n)
{
        if (b->cap - b->len < n + 1) {
                b->cap = (b->cap + n + 1) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static int capture_put(void *userdata, DatasetTable table, const char *row, size_t len)
{
        Capture *c = userdata;

        if (c->put_error)
                return c->put_error;
        assert_true(len > 0 && row[len - 1] == '\n');
        buf_put(&c->rows[table], row, len);
        return 0;
}

static void capture_skip(void *userdata, int64_t line, CsvDropReason reason, const char *detail)
{
        Capture *c = userdata;
        char head[64];

        assert_true(reason != DROP_NOT_SAMPLED);
        snprintf(head, sizeof(head), "%lld:%s:", (long long) line, csv_drop_reason_names[reason]);
        buf_put(&c->skips, head, strlen(head));
        buf_put(&c->skips, detail, strlen(detail));
        buf_put(&c->skips, "\n", 1);
}

static void capture_free(Capture *c)
{
        for (int t = 0; t < _TABLE_MAX; t++)
                rowbuf_free(&c->rows[t]);
        rowbuf_free(&c->skips);
}

static const char *rows_of(Capture *c, DatasetTable t)
{
        return c->rows[t].data ? c->rows[t].data : "";
}

/* True when row (with its newline) is one of the lines in rows. */
static bool has_row(const char *rows, const char *row)
{
        size_t n = strlen(row);

        for (const char *p = rows; *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = (size_t) (nl - p) + 1;

                if (len == n && memcmp(p, row, n) == 0)
                        return true;
                p = nl + 1;
        }
        return false;
}

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static char *fixture(const char *name)
{
        const char *dir = getenv("PGSEED_TEST_FIXTURES");

        return xasprintf("%s/%s", dir ? dir : PGSEED_SOURCE_ROOT "/tests/fixtures", name);
}

static int load(const char *path, int64_t limit, Capture *c, CsvStats *stats, Error *e)
{
        CsvOptions opts = {.limit = limit, .on_skip = capture_skip, .userdata = c};
        RowSink sink = {capture_put, c};

        return csv_dataset_load(path, &opts, &sink, stats, e);
}

static char *write_temp(const char *text, size_t len)
{
        char *path = xstrdup("/tmp/pgseed-test-dataset-csv-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, len), (ssize_t) len);
        close(fd);
        return path;
}

#define HEADER                                                                                              \
        "CommentID,VideoID,VideoTitle,AuthorName,AuthorChannelID,CommentText,Sentiment,Likes,Replies,"      \
        "PublishedAt,CountryCode,CategoryID\n"

/* ---- the nasty fixture ------------------------------------------------------ */

static void test_dataset_csv_nasty_counts(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 0, &c, &stats, &e), 0);
        assert_int_equal(stats.rows_read, 21);
        assert_int_equal(stats.kept[TABLE_COMMENTS], 8);
        assert_int_equal(stats.kept[TABLE_VIDEOS], 7);
        assert_int_equal(stats.kept[TABLE_USERS], 7);
        assert_int_equal(stats.dropped[DROP_MALFORMED], 4);
        assert_int_equal(stats.dropped[DROP_MISSING_ID], 3);
        assert_int_equal(stats.dropped[DROP_DUPLICATE_COMMENT], 1);
        assert_int_equal(stats.dropped[DROP_BAD_VALUE], 5);
        assert_int_equal(stats.dropped[DROP_NOT_SAMPLED], 0);
        for (int t = 0; t < _TABLE_MAX; t++)
                assert_int_equal(count_lines(rows_of(&c, t)), stats.kept[t]);
}

static void test_dataset_csv_nasty_skips_and_lines(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 0, &c, &stats, &e), 0);
        assert_string_equal(c.skips.data,
                            "10:duplicate_comment:duplicate CommentID 'c1'\n"
                            "11:malformed:expected 13 fields, got 12\n"
                            "12:malformed:expected 13 fields, got 14\n"
                            "13:missing_id:missing VideoID\n"
                            "14:missing_id:missing CommentID\n"
                            "15:missing_id:missing AuthorChannelID\n"
                            "16:bad_value:Likes: not a non-negative 32-bit integer: '12abc'\n"
                            "17:bad_value:PublishedAt: not an ISO 8601 timestamp: "
                            "'2023-02-30T10:00:00Z'\n"
                            "21:malformed:unexpected character after closing quote\n"
                            "24:bad_value:CommentText: invalid UTF-8\n"
                            "25:bad_value:CountryCode longer than 10 characters\n"
                            "26:bad_value:Likes: not a non-negative 32-bit integer: '3000000000'\n"
                            "27:malformed:unterminated quoted field at end of input\n");
}

static void test_dataset_csv_nasty_rows_exact(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;
        const char *videos, *users, *comments;

        assert_int_equal(load(path, 0, &c, &stats, &e), 0);
        videos = rows_of(&c, TABLE_VIDEOS);
        users = rows_of(&c, TABLE_USERS);
        comments = rows_of(&c, TABLE_COMMENTS);

        /* Duplicated video and channel IDs: the first row's title and name win. */
        assert_true(has_row(videos, "vid1\tFirst title, with comma\tMusic\n"));
        assert_null(strstr(videos, "Second title"));
        assert_true(has_row(users, "UCalice\tAlice\n"));
        assert_null(strstr(users, "Alice Again"));
        assert_true(has_row(videos, "vid2\tTítulo dos\tGaming\n"));
        assert_true(has_row(videos, "vid3\tВидео о котлах\tScience & Technology\n"));
        assert_true(has_row(videos, "vid4\t\t\\N\n")); /* title is NOT NULL: empty, not \N */
        assert_true(has_row(videos, "vid9\tTitle 9\tPets & Animals\n"));
        assert_true(has_row(videos, "vid10\tTitle 10\tScience\n")); /* unknown category kept as written */
        assert_true(has_row(videos, "vid11\tTitle 11\tEducation\n"));
        assert_true(has_row(users, "UCanon\tUnknown User\n"));

        assert_true(has_row(
                comments,
                "c1\tvid1\tUCalice\tGreat video, thanks!\t10\t2\t2023-05-11 12:34:56\tPositive\tUS\n"));
        assert_true(has_row(
                comments,
                "c2\tvid1\tUCbob\tShe said \"wow\" twice\t0\t0\t2023-05-11 12:34:56\tNeutral\t\\N\n"));
        /* CRLF inside a quoted field is data; the +02:00 offset is folded into UTC. */
        assert_true(has_row(comments, "c3\tvid2\tUCcarol\tline one\\r\\nline two\\r\\nline three\t5\t0\t"
                                      "2023-05-11 12:34:56\tPositive\tBR\n"));
        assert_true(has_row(comments,
                            "c4\tvid3\tUCdmitri\tBackslash \\\\ and\\ttab\t1\t1\t2022-01-01 00:00:00\t"
                            "Negative\tRU\n"));
        assert_true(has_row(
                comments, "c5\tvid4\tUCanon\tEmoji 😀🎉 日本語 العربية हिन्दी 한국어\t0\t0\t\\N\t\\N\t\\N\n"));
        assert_true(has_row(comments,
                            "c12\tvid9\tUCalice\tMulti\\nline with LF only\\nand \"quotes\"\t0\t0\t"
                            "2020-02-29 23:59:59\tNeutral\tIN\n"));
        assert_true(has_row(
                comments, "c14\tvid10\tUCivy\tunknown category\t3\t0\t2021-06-15 13:00:00\tPositive\tCA\n"));
        assert_true(
                has_row(comments,
                        "c15\tvid11\tUCjay\tFloats from pandas\t12\t3\t2020-02-29 23:59:59\tNeutral\tIN\n"));
}

static void test_dataset_csv_limit_at_or_above_total_keeps_all(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture all = {0}, exact = {0}, above = {0};
        CsvStats s0, s1, s2;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 0, &all, &s0, &e), 0);
        assert_int_equal(load(path, 8, &exact, &s1, &e), 0);
        assert_int_equal(load(path, 500000, &above, &s2, &e), 0);
        for (int t = 0; t < _TABLE_MAX; t++) {
                assert_string_equal(rows_of(&all, t), rows_of(&exact, t));
                assert_string_equal(rows_of(&all, t), rows_of(&above, t));
        }
        /* Two passes, but every skip is still reported (and counted) once. */
        assert_string_equal(all.skips.data, exact.skips.data);
        assert_memory_equal(&s0, &s1, sizeof(CsvStats));
        assert_memory_equal(&s0, &s2, sizeof(CsvStats));
}

static void test_dataset_csv_small_limit_on_fixture(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 3, &c, &stats, &e), 0);
        assert_int_equal(stats.rows_read, 21);
        assert_int_equal(stats.kept[TABLE_COMMENTS], 3);
        assert_int_equal(stats.dropped[DROP_NOT_SAMPLED], 5);
        assert_int_equal(stats.dropped[DROP_MALFORMED] + stats.dropped[DROP_MISSING_ID] +
                                 stats.dropped[DROP_DUPLICATE_COMMENT] + stats.dropped[DROP_BAD_VALUE],
                         13);
        assert_int_equal(count_lines(c.skips.data), 13);
        assert_int_equal(count_lines(rows_of(&c, TABLE_COMMENTS)), 3);
        /* Only the videos and users of kept comments. */
        assert_in_range(stats.kept[TABLE_VIDEOS], 1, 3);
        assert_in_range(stats.kept[TABLE_USERS], 1, 3);
}

/* ---- errors ------------------------------------------------------------------ */

static void test_dataset_csv_missing_file(void **state)
{
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load("/nonexistent/comments.csv", 0, &c, &stats, &e), -ENOENT);
        assert_non_null(strstr(e.message, "/nonexistent/comments.csv"));
}

static void test_dataset_csv_missing_column(void **state)
{
        static const char text[] =
                "CommentID,VideoID,VideoTitle,AuthorName,AuthorChannelID,CommentText,Sentiment,"
                "Replies,PublishedAt,CountryCode,CategoryID\nc1,v1,t,a,UC1,x,Positive,0,,,\n";
        _cleanup_free_ char *path = write_temp(text, sizeof(text) - 1);
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 0, &c, &stats, &e), -EINVAL);
        assert_non_null(strstr(e.message, "'Likes'"));
        assert_non_null(strstr(e.message, path));
        assert_null(c.rows[TABLE_COMMENTS].data);
        unlink(path);
}

static void test_dataset_csv_empty_and_unusable(void **state)
{
        static const char bad[] = HEADER "c1,,t,a,UC1,x,Positive,0,0,,,\n";
        _cleanup_free_ char *empty = write_temp("", 0), *header_only = write_temp(HEADER, strlen(HEADER)),
                            *no_rows = write_temp(bad, sizeof(bad) - 1);
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(empty, 0, &c, &stats, &e), -EINVAL);
        assert_non_null(strstr(e.message, "empty"));
        assert_int_equal(load(header_only, 0, &c, &stats, &e), -EINVAL);
        assert_non_null(strstr(e.message, "no usable row"));
        assert_int_equal(load(no_rows, 100, &c, &stats, &e), -EINVAL);
        assert_int_equal(stats.dropped[DROP_MISSING_ID], 1);
        assert_non_null(strstr(e.message, "1 without an ID"));
        unlink(empty);
        unlink(header_only);
        unlink(no_rows);
}

static void test_dataset_csv_sink_error(void **state)
{
        _cleanup_free_ char *path = fixture("nasty.csv");
        _cleanup_(capture_free) Capture c = {.put_error = -EPIPE};
        CsvStats stats;
        Error e = ERROR_INIT;

        assert_int_equal(load(path, 0, &c, &stats, &e), -EPIPE);
        assert_non_null(strstr(e.message, "nasty.csv:2"));
}

/* ---- values ------------------------------------------------------------------ */

static void test_dataset_csv_varchar_limits_count_characters(void **state)
{
        _cleanup_free_ char *id255 = xmalloc(257), *name255 = xmalloc(512), *text = NULL, *path = NULL;
        _cleanup_(capture_free) Capture c = {0};
        CsvStats stats;
        Error e = ERROR_INIT;

        memset(id255, 'a', 255);
        id255[255] = '\0';
        /* 255 two-byte characters: 510 bytes, but within varchar(255). */
        for (int i = 0; i < 255; i++)
                memcpy(name255 + 2 * i, "é", 2);
        name255[510] = '\0';
        text = xasprintf(HEADER "c1,v1,t,%s,UC%s,ok,Positive,0,0,,,\n"
                                "c2,v2,t,%sé,UCb,name too long,Positive,0,0,,,\n"
                                "c3,v3,t,a,UC%sa,id too long,Positive,0,0,,,\n"
                                "c4,v4,t,a,UCd,,%s,0,0,,,\n"
                                "c5,v5,t,a,UCe,,Positive,0,0,,,%s\n",
                         name255, id255 + 2, name255, id255 + 2, id255 + 204, id255 + 154);
        path = write_temp(text, strlen(text));

        assert_int_equal(load(path, 0, &c, &stats, &e), 0);
        assert_int_equal(stats.kept[TABLE_COMMENTS], 1);
        assert_int_equal(stats.dropped[DROP_BAD_VALUE], 4);
        assert_string_equal(c.skips.data, "3:bad_value:AuthorName longer than 255 characters\n"
                                          "4:bad_value:AuthorChannelID longer than 255 characters\n"
                                          "5:bad_value:Sentiment longer than 50 characters\n"
                                          "6:bad_value:CategoryID longer than 100 characters\n");
        unlink(path);
}

static void test_dataset_csv_timestamps(void **state)
{
        static const struct {
                const char *in, *out; /* out NULL: the row is dropped */
        } cases[] = {
                {"2023-05-11T12:34:56Z", "2023-05-11 12:34:56"},
                {"2023-05-11t12:34:56z", "2023-05-11 12:34:56"},
                {"2023-05-11 12:34:56", "2023-05-11 12:34:56"},
                {"2023-05-11T12:34:56.789123Z", "2023-05-11 12:34:56"},
                {"2023-05-11T00:30:00+01:00", "2023-05-10 23:30:00"},
                {"2023-12-31T23:30:00-01:00", "2024-01-01 00:30:00"},
                {"2023-05-11T12:34:56+0530", "2023-05-11 07:04:56"},
                {"2024-02-29T12:00:00", "2024-02-29 12:00:00"},
                {"  2023-05-11T12:34:56Z  ", "2023-05-11 12:34:56"},
                {"2023-13-01 00:00:00", NULL},
                {"2023-02-29 00:00:00", NULL},
                {"2023-05-11", NULL},
                {"2023-05-11T24:00:00Z", NULL},
                {"11/05/2023 12:34", NULL},
                {"2023-05-11T12:34:56+", NULL},
                {"2023-05-11T12:34:56Zjunk", NULL},
                {"2023-05-11T12:34:56.Z", NULL},
                {"0000-01-01T00:00:00Z", NULL},
                {"0001-01-01T00:30:00+01:00", NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text =
                        xasprintf(HEADER "c1,v1,t,a,UC1,x,Positive,0,0,%s,,\n", cases[i].in);
                _cleanup_free_ char *path = write_temp(text, strlen(text));
                _cleanup_free_ char *want = NULL;
                _cleanup_(capture_free) Capture c = {0};
                CsvStats stats;
                Error e = ERROR_INIT;
                int r = load(path, 0, &c, &stats, &e);

                unlink(path);
                if (!cases[i].out) {
                        if (r != -EINVAL || stats.dropped[DROP_BAD_VALUE] != 1)
                                fail_msg("'%s' was accepted", cases[i].in);
                        continue;
                }
                want = xasprintf("c1\tv1\tUC1\tx\t0\t0\t%s\tPositive\t\\N\n", cases[i].out);
                if (r != 0 || !streq(rows_of(&c, TABLE_COMMENTS), want))
                        fail_msg("'%s': got '%s', want '%s'", cases[i].in, rows_of(&c, TABLE_COMMENTS),
                                 want);
        }
}

/* ---- the stratified subset ---------------------------------------------------- */

static const struct {
        const char *id;
        const char *name;
        unsigned weight; /* per mille */
} strata_categories[] = {
        {"10", "Music", 400},
        {"20", "Gaming", 250},
        {"24", "Entertainment", 150},
        {"17", "Sports", 100},
        {"27", "Education", 60},
        {"1", "Film & Animation", 30},
        {"29", "Nonprofits & Activism", 10},
};

#define STRATA_YEARS 5

static uint64_t lcg(uint64_t *s)
{
        *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return *s >> 33;
}

/*
 * Writes a CSV of n unique valid comments over the categories above and five
 * years, plus duplicates (with another category) and invalid rows mixed in.
 * Videos are named after their category ("v<k>_<j>"), so a kept comment's
 * category can be read from its video_id.  Fills the valid counts per
 * category and year.
 */
static char *write_strata_csv(const char *dir, int n, int64_t per_cat[], int64_t per_year[])
{
        char *path = xasprintf("%s/strata.csv", dir);
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        uint64_t s = 12345;

        assert_non_null(f);
        fputs(HEADER, f);
        for (int i = 0; i < n; i++) {
                unsigned x = (unsigned) (lcg(&s) % 1000), k = 0,
                         year = 2019 + (unsigned) (lcg(&s) % STRATA_YEARS);

                while (x >= strata_categories[k].weight) {
                        x -= strata_categories[k].weight;
                        k++;
                }
                per_cat[k]++;
                per_year[year - 2019]++;
                fprintf(f,
                        "c%d,v%u_%u,\"Video, %u\",User %u,UC%u,\"Comment "
                        "\"\"%d\"\"\",Positive,%u,0,%u-0%u-1%uT10:00:00Z,US,%s\n",
                        i, k, (unsigned) (lcg(&s) % 40), k, (unsigned) (lcg(&s) % 3000),
                        (unsigned) (lcg(&s) % 3000), i, (unsigned) (lcg(&s) % 100), year,
                        1 + (unsigned) (lcg(&s) % 9), (unsigned) (lcg(&s) % 9), strata_categories[k].id);
                if (i % 50 == 49) /* a duplicate of an earlier comment, in another category */
                        fprintf(f, "c%d,v0_0,Video,User,UC1,dup,Negative,0,0,2019-01-01T00:00:00Z,US,29\n",
                                i / 2);
                if (i % 70 == 69) /* invalid */
                        fprintf(f, "x%d,v0_0,Video,User,UC1,bad,Negative,-1,0,,US,10\n", i);
        }
        return path;
}

static void test_dataset_csv_stratified_subset(void **state)
{
        const int n = 20000, limit = 3000;
        char dir[] = "/tmp/pgseed-test-strata-XXXXXX";
        int64_t per_cat[ELEMENTSOF(strata_categories)] = {0}, per_year[STRATA_YEARS] = {0};
        int64_t kept_cat[ELEMENTSOF(strata_categories)] = {0}, kept_year[STRATA_YEARS] = {0};
        _cleanup_free_ char *path = NULL;
        _cleanup_(capture_free) Capture c = {0}, again = {0};
        CsvStats stats;
        Error e = ERROR_INIT;
        const char *rows;

        assert_non_null(mkdtemp(dir));
        path = write_strata_csv(dir, n, per_cat, per_year);

        assert_int_equal(load(path, limit, &c, &stats, &e), 0);
        assert_int_equal(stats.kept[TABLE_COMMENTS], limit);
        assert_int_equal(stats.dropped[DROP_NOT_SAMPLED], n - limit);
        assert_int_equal(stats.dropped[DROP_DUPLICATE_COMMENT], n / 50);
        assert_int_equal(stats.dropped[DROP_BAD_VALUE], n / 70);

        for (rows = rows_of(&c, TABLE_COMMENTS); *rows; rows = strchr(rows, '\n') + 1) {
                unsigned k, year;
                const char *v = strchr(rows, '\t') + 1;
                const char *when = v;

                assert_int_equal(sscanf(v, "v%u_", &k), 1);
                for (int tabs = 0; tabs < 5; tabs++)
                        when = strchr(when, '\t') + 1;
                assert_int_equal(sscanf(when, "%u-", &year), 1);
                kept_cat[k]++;
                kept_year[year - 2019]++;
        }
        /*
         * Each category x year stratum gets its proportional share give or take
         * one, so a category is within one per year of its share, and a year
         * within one per category.
         */
        for (size_t k = 0; k < ELEMENTSOF(strata_categories); k++) {
                double want = (double) limit * (double) per_cat[k] / n;

                assert_true(kept_cat[k] > 0);
                if (kept_cat[k] < want - STRATA_YEARS || kept_cat[k] > want + STRATA_YEARS)
                        fail_msg("%s: kept %lld, expected about %.1f", strata_categories[k].name,
                                 (long long) kept_cat[k], want);
        }
        for (int y = 0; y < STRATA_YEARS; y++) {
                double want = (double) limit * (double) per_year[y] / n;

                assert_true(kept_year[y] >= want - (double) ELEMENTSOF(strata_categories) &&
                            kept_year[y] <= want + (double) ELEMENTSOF(strata_categories));
        }

        /* Every kept comment's video and user is emitted, once; nothing else is. */
        {
                _cleanup_free_ char *videos = xasprintf("\n%s", rows_of(&c, TABLE_VIDEOS));
                _cleanup_free_ char *users = xasprintf("\n%s", rows_of(&c, TABLE_USERS));
                const char *comments = rows_of(&c, TABLE_COMMENTS);

                for (rows = comments; *rows; rows = strchr(rows, '\n') + 1) {
                        const char *v = strchr(rows, '\t') + 1, *u = strchr(v, '\t') + 1;
                        _cleanup_free_ char *vkey = xasprintf("\n%.*s\t", (int) (u - 1 - v), v);
                        _cleanup_free_ char *ukey = xasprintf("\n%.*s\t", (int) strcspn(u, "\t"), u);
                        const char *hit;

                        hit = strstr(videos, vkey);
                        assert_non_null(hit);
                        assert_null(strstr(hit + 1, vkey));
                        hit = strstr(users, ukey);
                        assert_non_null(hit);
                        assert_null(strstr(hit + 1, ukey));
                }
                for (const char *p = videos + 1; *p; p = strchr(p, '\n') + 1) {
                        _cleanup_free_ char *key = xasprintf("\t%.*s\t", (int) strcspn(p, "\t"), p);

                        assert_non_null(strstr(comments, key));
                }
                for (const char *p = users + 1; *p; p = strchr(p, '\n') + 1) {
                        _cleanup_free_ char *key = xasprintf("\t%.*s\t", (int) strcspn(p, "\t"), p);

                        assert_non_null(strstr(comments, key));
                }
        }

        /* Same file, same subset. */
        assert_int_equal(load(path, limit, &again, &stats, &e), 0);
        for (int t = 0; t < _TABLE_MAX; t++)
                assert_string_equal(rows_of(&c, t), rows_of(&again, t));

        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dataset_csv_nasty_counts),
                cmocka_unit_test(test_dataset_csv_nasty_skips_and_lines),
                cmocka_unit_test(test_dataset_csv_nasty_rows_exact),
                cmocka_unit_test(test_dataset_csv_limit_at_or_above_total_keeps_all),
                cmocka_unit_test(test_dataset_csv_small_limit_on_fixture),
                cmocka_unit_test(test_dataset_csv_missing_file),
                cmocka_unit_test(test_dataset_csv_missing_column),
                cmocka_unit_test(test_dataset_csv_empty_and_unusable),
                cmocka_unit_test(test_dataset_csv_sink_error),
                cmocka_unit_test(test_dataset_csv_varchar_limits_count_characters),
                cmocka_unit_test(test_dataset_csv_timestamps),
                cmocka_unit_test(test_dataset_csv_stratified_subset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
