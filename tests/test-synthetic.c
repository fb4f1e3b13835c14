/* SPDX-License-Identifier: MIT */
/* test-synthetic.c -- the synthetic generator: determinism, counts, integrity, ID shapes and distributions.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dataset.h"
#include "util.h"

#define TEST_COMMENTS 20000
/*
 * FNV-1a over every row of seed 42 with 20,000 comments, videos then users
 * then comments.  It pins the output: if it changes, seeded databases
 * change for everyone, so update it only on purpose.
 */
#define PINNED_CHECKSUM UINT64_C(0x61c9e3031be47a65)

static const size_t n_columns[_TABLE_MAX] = {3, 2, 9};

/* All rows of each table, concatenated, plus where each row starts. */
typedef struct Collected {
        RowBuf data[_TABLE_MAX];
        size_t *starts[_TABLE_MAX];
        size_t n_rows[_TABLE_MAX], cap[_TABLE_MAX];
        int64_t fail_after; /* > 0: put() fails with -ECANCELED once this many rows were taken */
} Collected;

static int collect_put(void *userdata, DatasetTable table, const char *row, size_t len)
{
        Collected *c = userdata;
        RowBuf *b = &c->data[table];

        if (c->fail_after > 0 && (int64_t) (c->n_rows[0] + c->n_rows[1] + c->n_rows[2]) >= c->fail_after)
                return -ECANCELED;
        assert_true(len > 0);
        assert_int_equal(row[len - 1], '\n');
        if (c->n_rows[table] == c->cap[table]) {
                c->cap[table] = c->cap[table] ? c->cap[table] * 2 : 1024;
                c->starts[table] = xrealloc(c->starts[table], c->cap[table] * sizeof(size_t));
        }
        c->starts[table][c->n_rows[table]++] = b->len;
        if (b->cap - b->len < len + 1) {
                b->cap = (b->cap + len + 1) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, row, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

static void collected_free(Collected *c)
{
        for (int t = 0; t < _TABLE_MAX; t++) {
                rowbuf_free(&c->data[t]);
                free(c->starts[t]);
        }
        free(c);
}

static void collected_freep(Collected **c)
{
        if (*c)
                collected_free(*c);
}

static Collected *generate_all(uint64_t seed, int64_t comments)
{
        SyntheticSpec spec = {.comments = comments, .seed = seed};
        Collected *c = xcalloc(1, sizeof(Collected));
        RowSink sink = {collect_put, c};
        int64_t counts[_TABLE_MAX];

        synthetic_counts(&spec, counts);
        for (int t = 0; t < _TABLE_MAX; t++) {
                assert_int_equal(synthetic_generate(&spec, (DatasetTable) t, 0, counts[t], &sink), 0);
                assert_int_equal(c->n_rows[t], counts[t]);
        }
        return c;
}

static uint64_t checksum(const Collected *c)
{
        uint64_t h = HASH64_INIT;

        for (int t = 0; t < _TABLE_MAX; t++)
                h = hash64(c->data[t].data, c->data[t].len, h);
        return h;
}

/* Splits row r of table t into fields (pointers into a copy owned by the caller's buffer). */
static size_t row_fields(const Collected *c, int t, size_t r, char *copy, size_t size, char **fields,
                         size_t max)
{
        size_t begin = c->starts[t][r], end = r + 1 < c->n_rows[t] ? c->starts[t][r + 1] : c->data[t].len;
        size_t len = end - begin, n = 0;
        char *p;

        assert_true(len < size);
        memcpy(copy, c->data[t].data + begin, len);
        copy[len - 1] = '\0'; /* the newline */
        for (p = copy;;) {
                char *tab = strchr(p, '\t');

                assert_true(n < max);
                fields[n++] = p;
                if (!tab)
                        break;
                *tab = '\0';
                p = tab + 1;
        }
        return n;
}

/* Strict UTF-8: no NUL, overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *) s, *e = p + len;

        while (p < e) {
                unsigned c = *p;
                size_t n;
                uint32_t cp;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF)
                        n = 1, cp = c & 0x1F;
                else if (c >= 0xE0 && c <= 0xEF)
                        n = 2, cp = c & 0x0F;
                else if (c >= 0xF0 && c <= 0xF4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                if ((size_t) (e - p) <= n)
                        return false;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3F);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                p += n + 1;
        }
        return true;
}

static size_t utf8_chars(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char) *s & 0xC0) != 0x80;
        return n;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The first field of every row of table t, sorted (each a malloc'd string). */
static char **sorted_keys(const Collected *c, int t)
{
        char **v = xcalloc(c->n_rows[t] + 1, sizeof(char *));

        for (size_t r = 0; r < c->n_rows[t]; r++) {
                const char *row = c->data[t].data + c->starts[t][r];

                v[r] = strndup(row, strcspn(row, "\t"));
        }
        qsort(v, c->n_rows[t], sizeof(char *), cmp_str);
        return v;
}

static bool sorted_contains(char **v, size_t n, const char *key)
{
        return bsearch(&key, v, n, sizeof(char *), cmp_str) != NULL;
}

static void test_synthetic_counts_default(void **state)
{
        SyntheticSpec spec = {.comments = 500000, .seed = 1};
        int64_t counts[_TABLE_MAX];

        synthetic_counts(&spec, counts);
        assert_int_equal(counts[TABLE_VIDEOS], 4500);
        assert_int_equal(counts[TABLE_USERS], 391000);
        assert_int_equal(counts[TABLE_COMMENTS], 500000);

        spec.comments = 0; /* unset: the default size */
        synthetic_counts(&spec, counts);
        assert_int_equal(counts[TABLE_COMMENTS], 500000);

        spec.comments = 1;
        synthetic_counts(&spec, counts);
        assert_int_equal(counts[TABLE_VIDEOS], 1);
        assert_int_equal(counts[TABLE_USERS], 1);
        assert_int_equal(counts[TABLE_COMMENTS], 1);

        spec.comments = 1000;
        synthetic_counts(&spec, counts);
        assert_int_equal(counts[TABLE_VIDEOS], 9);
        assert_int_equal(counts[TABLE_USERS], 782);

        spec.comments = 50; /* 0.45 videos rounds to 0, raised to 1; 39.1 users */
        synthetic_counts(&spec, counts);
        assert_int_equal(counts[TABLE_VIDEOS], 1);
        assert_int_equal(counts[TABLE_USERS], 39);
}

static void test_synthetic_deterministic_checksum(void **state)
{
        _cleanup_(collected_freep) Collected *a = generate_all(42, TEST_COMMENTS);
        _cleanup_(collected_freep) Collected *b = generate_all(42, TEST_COMMENTS);
        _cleanup_(collected_freep) Collected *other = generate_all(43, TEST_COMMENTS);

        for (int t = 0; t < _TABLE_MAX; t++) {
                assert_int_equal(a->data[t].len, b->data[t].len);
                assert_memory_equal(a->data[t].data, b->data[t].data, a->data[t].len);
                assert_false(a->data[t].len == other->data[t].len &&
                             memcmp(a->data[t].data, other->data[t].data, a->data[t].len) == 0);
        }
        if (checksum(a) != PINNED_CHECKSUM)
                fail_msg("checksum 0x%016llx, pinned 0x%016llx", (unsigned long long) checksum(a),
                         (unsigned long long) PINNED_CHECKSUM);
}

static void test_synthetic_ranges_concatenate(void **state)
{
        SyntheticSpec spec = {.comments = TEST_COMMENTS, .seed = 7};
        _cleanup_(collected_freep) Collected *full = generate_all(7, TEST_COMMENTS);
        int64_t counts[_TABLE_MAX];

        synthetic_counts(&spec, counts);
        for (int t = 0; t < _TABLE_MAX; t++) {
                /* Ranges produced out of order, as parallel workers would, then put back in order. */
                int64_t cuts[] = {0, 1, counts[t] / 3, counts[t] / 3 + 1, counts[t] - 1, counts[t]};
                Collected *parts[ELEMENTSOF(cuts) - 1];
                RowBuf joined = {0};

                for (size_t k = ELEMENTSOF(parts); k-- > 0;) {
                        RowSink sink;

                        parts[k] = xcalloc(1, sizeof(Collected));
                        sink = (RowSink){collect_put, parts[k]};
                        assert_int_equal(
                                synthetic_generate(&spec, (DatasetTable) t, cuts[k], cuts[k + 1], &sink), 0);
                }
                for (size_t k = 0; k < ELEMENTSOF(parts); k++) {
                        const RowBuf *p = &parts[k]->data[t];

                        joined.data = xrealloc(joined.data, joined.len + p->len + 1);
                        memcpy(joined.data + joined.len, p->data, p->len);
                        joined.len += p->len;
                        collected_free(parts[k]);
                }
                assert_int_equal(joined.len, full->data[t].len);
                assert_memory_equal(joined.data, full->data[t].data, joined.len);
                rowbuf_free(&joined);
        }
}

static void test_synthetic_referential_integrity(void **state)
{
        _cleanup_(collected_freep) Collected *c = generate_all(42, TEST_COMMENTS);
        _cleanup_strv_free_ char **videos = sorted_keys(c, TABLE_VIDEOS);
        _cleanup_strv_free_ char **users = sorted_keys(c, TABLE_USERS);
        _cleanup_free_ char *copy = xmalloc(65536);
        _cleanup_free_ bool *has_comment = xcalloc(c->n_rows[TABLE_USERS], sizeof(bool));
        size_t with_comment = 0;

        for (size_t r = 0; r < c->n_rows[TABLE_COMMENTS]; r++) {
                char *f[9];
                char **hit;
                char *key;

                assert_int_equal(row_fields(c, TABLE_COMMENTS, r, copy, 65536, f, 9), 9);
                assert_true(sorted_contains(videos, c->n_rows[TABLE_VIDEOS], f[1]));
                key = f[2];
                hit = bsearch(&key, users, c->n_rows[TABLE_USERS], sizeof(char *), cmp_str);
                assert_non_null(hit);
                if (!has_comment[hit - users]) {
                        has_comment[hit - users] = true;
                        with_comment++;
                }
        }
        assert_int_equal(with_comment, c->n_rows[TABLE_USERS]);
}

static bool in_alphabet(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]) ||
                    !s[i])
                        return false;
        return true;
}

static void test_synthetic_ids_unique_and_shaped(void **state)
{
        _cleanup_(collected_freep) Collected *c = generate_all(42, TEST_COMMENTS);

        for (int t = 0; t < _TABLE_MAX; t++) {
                _cleanup_strv_free_ char **ids = sorted_keys(c, t);

                for (size_t i = 0; i < c->n_rows[t]; i++) {
                        const char *id = ids[i];

                        if (i > 0)
                                assert_string_not_equal(ids[i - 1], id);
                        switch (t) {
                        case TABLE_VIDEOS:
                                /* 64 bits in 11 characters: the last carries 4 bits. */
                                assert_int_equal(strlen(id), 11);
                                assert_true(in_alphabet(id, 11));
                                assert_non_null(strchr("AEIMQUYcgkosw048", id[10]));
                                break;
                        case TABLE_USERS:
                                assert_int_equal(strlen(id), 24);
                                assert_true(startswith(id, "UC"));
                                assert_true(in_alphabet(id + 2, 22));
                                assert_non_null(strchr("AQgw", id[23]));
                                break;
                        case TABLE_COMMENTS:
                                assert_int_equal(strlen(id), 26);
                                assert_true(startswith(id, "Ug"));
                                assert_non_null(strchr("wxyz", id[2]));
                                assert_true(in_alphabet(id, 26));
                                assert_string_equal(id + 19, "4AaABAg");
                                break;
                        }
                }
        }
}

static void test_synthetic_rows_well_formed(void **state)
{
        static const char *const categories[] = {"Film & Animation",
                                                 "Autos & Vehicles",
                                                 "Music",
                                                 "Pets & Animals",
                                                 "Sports",
                                                 "Travel & Events",
                                                 "Gaming",
                                                 "People & Blogs",
                                                 "Comedy",
                                                 "Entertainment",
                                                 "News & Politics",
                                                 "Howto & Style",
                                                 "Education",
                                                 "Science & Technology",
                                                 "Nonprofits & Activism"};
        _cleanup_(collected_freep) Collected *c = generate_all(42, TEST_COMMENTS);
        _cleanup_free_ char *copy = xmalloc(65536);

        for (int t = 0; t < _TABLE_MAX; t++) {
                assert_true(utf8_valid(c->data[t].data, c->data[t].len));
                for (size_t r = 0; r < c->n_rows[t]; r++) {
                        char *f[9];

                        assert_int_equal(row_fields(c, t, r, copy, 65536, f, 9), n_columns[t]);
                        for (size_t k = 0; k < n_columns[t]; k++) {
                                /* Only \\ \t \n \r and \N may follow a backslash. */
                                for (const char *p = strchr(f[k], '\\'); p; p = strchr(p + 2, '\\'))
                                        assert_non_null(strchr("\\tnrN", p[1]));
                                assert_true(utf8_chars(f[k]) <= 255 || (t == TABLE_COMMENTS && k == 3));
                        }
                        if (t == TABLE_VIDEOS && !streq(f[2], "\\N")) {
                                bool known = false;

                                for (size_t k = 0; k < ELEMENTSOF(categories); k++)
                                        known = known || streq(f[2], categories[k]);
                                assert_true(known);
                        }
                        if (t == TABLE_USERS)
                                assert_false(streq(f[1], "\\N") || isempty(f[1]));
                        if (t == TABLE_COMMENTS) {
                                int64_t likes, replies;

                                assert_int_equal(parse_int64(f[4], 0, INT32_MAX, &likes), 0);
                                assert_int_equal(parse_int64(f[5], 0, INT32_MAX, &replies), 0);
                                if (!streq(f[6], "\\N")) {
                                        int y, mo, d, h, mi, s, n = 0;

                                        assert_int_equal(strlen(f[6]), 19);
                                        assert_int_equal(sscanf(f[6], "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo,
                                                                &d, &h, &mi, &s, &n),
                                                         6);
                                        assert_int_equal(n, 19);
                                        assert_in_range(y, 2019, 2024);
                                        assert_in_range(mo, 1, 12);
                                        assert_in_range(d, 1, 31);
                                        assert_in_range(h, 0, 23);
                                }
                                assert_true(streq(f[7], "Positive") || streq(f[7], "Neutral") ||
                                            streq(f[7], "Negative"));
                                assert_true(streq(f[8], "\\N") ||
                                            (strlen(f[8]) == 2 && f[8][0] >= 'A' && f[8][0] <= 'Z'));
                        }
                }
        }
}

static void test_synthetic_distributions(void **state)
{
        _cleanup_(collected_freep) Collected *c = generate_all(42, TEST_COMMENTS);
        _cleanup_free_ char *copy = xmalloc(65536);
        size_t n = c->n_rows[TABLE_COMMENTS], pos = 0, neu = 0, neg = 0, non_ascii = 0, emoji = 0,
               zero_likes = 0, big_likes = 0, null_date = 0, null_country = 0, null_category = 0,
               newline = 0, tab = 0, backslash = 0, quote = 0, comma = 0;
        bool devanagari = false, hangul = false, arabic = false, cyrillic = false, kana = false;

        for (size_t r = 0; r < n; r++) {
                char *f[9];
                int64_t likes;

                row_fields(c, TABLE_COMMENTS, r, copy, 65536, f, 9);
                pos += streq(f[7], "Positive");
                neu += streq(f[7], "Neutral");
                neg += streq(f[7], "Negative");
                for (const unsigned char *p = (const unsigned char *) f[3]; *p; p++)
                        if (*p >= 0x80) {
                                non_ascii++;
                                break;
                        }
                emoji += strstr(f[3], "\xF0\x9F") != NULL;
                devanagari = devanagari || strstr(f[3], "\xE0\xA4");
                hangul = hangul || strstr(f[3], "\xEC\x98");
                arabic = arabic || strstr(f[3], "\xD8\xA7");
                cyrillic = cyrillic || strstr(f[3], "\xD0\xBE");
                kana = kana || strstr(f[3], "\xE3\x81");
                newline += strstr(f[3], "\\n") != NULL;
                tab += strstr(f[3], "\\t") != NULL;
                backslash += strstr(f[3], "\\\\") != NULL;
                quote += strchr(f[3], '"') != NULL;
                comma += strchr(f[3], ',') != NULL;
                assert_int_equal(parse_int64(f[4], 0, INT32_MAX, &likes), 0);
                zero_likes += likes == 0;
                big_likes += likes >= 1000;
                null_date += streq(f[6], "\\N");
                null_country += streq(f[8], "\\N");
        }
        for (size_t r = 0; r < c->n_rows[TABLE_VIDEOS]; r++) {
                char *f[3];

                row_fields(c, TABLE_VIDEOS, r, copy, 65536, f, 3);
                null_category += streq(f[2], "\\N");
        }

        /* Roughly half positive, a third neutral, a fifth negative. */
        assert_in_range(pos * 100 / n, 42, 54);
        assert_in_range(neu * 100 / n, 26, 38);
        assert_in_range(neg * 100 / n, 15, 25);
        assert_in_range(non_ascii * 100 / n, 20, 80);
        assert_in_range(emoji * 100 / n, 10, 50);
        assert_true(devanagari && hangul && arabic && cyrillic && kana);
        assert_true(newline > 0 && tab > 0 && backslash > 0 && quote > 0 && comma > 0);
        /* Heavy tail: most comments have no likes, a few have thousands. */
        assert_true(zero_likes > n / 2);
        assert_in_range(big_likes, 1, n / 200);
        assert_in_range(null_date, 1, n / 20);
        assert_in_range(null_country, n / 20, n / 5);
        assert_true(null_category > 0);
}

static void test_synthetic_bad_arguments(void **state)
{
        SyntheticSpec spec = {.comments = 100, .seed = 1};
        Collected *c = xcalloc(1, sizeof(Collected));
        RowSink sink = {collect_put, c};

        assert_int_equal(synthetic_generate(&spec, TABLE_COMMENTS, 0, 101, &sink), -EINVAL);
        assert_int_equal(synthetic_generate(&spec, TABLE_COMMENTS, 5, 4, &sink), -EINVAL);
        assert_int_equal(synthetic_generate(&spec, TABLE_COMMENTS, -1, 4, &sink), -EINVAL);
        assert_int_equal(synthetic_generate(&spec, _TABLE_MAX, 0, 1, &sink), -EINVAL);
        assert_int_equal(synthetic_generate(NULL, TABLE_VIDEOS, 0, 1, &sink), -EINVAL);
        assert_int_equal(synthetic_generate(&spec, TABLE_COMMENTS, 7, 7, &sink), 0);
        assert_int_equal(c->n_rows[TABLE_COMMENTS], 0);

        /* A sink error stops production and comes back unchanged. */
        c->fail_after = 10;
        assert_int_equal(synthetic_generate(&spec, TABLE_COMMENTS, 0, 100, &sink), -ECANCELED);
        assert_int_equal(c->n_rows[TABLE_COMMENTS], 10);
        collected_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_synthetic_counts_default),
                cmocka_unit_test(test_synthetic_deterministic_checksum),
                cmocka_unit_test(test_synthetic_ranges_concatenate),
                cmocka_unit_test(test_synthetic_referential_integrity),
                cmocka_unit_test(test_synthetic_ids_unique_and_shaped),
                cmocka_unit_test(test_synthetic_rows_well_formed),
                cmocka_unit_test(test_synthetic_distributions),
                cmocka_unit_test(test_synthetic_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
