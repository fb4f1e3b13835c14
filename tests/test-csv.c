/* SPDX-License-Identifier: MIT */
/* test-csv.c -- the streaming CSV record reader: quoting, line ends, line numbers, errors and
 * resynchronisation. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "csv.h"
#include "util.h"

/* Appends to a growing string. */
typedef struct Out {
        char *s;
        size_t len, cap;
} Out;

static void out_put(Out *o, const char *s, size_t n)
{
        if (o->cap - o->len < n + 1) {
                o->cap = (o->cap + n + 1) * 2;
                o->s = xrealloc(o->s, o->cap);
        }
        memcpy(o->s + o->len, s, n);
        o->len += n;
        o->s[o->len] = '\0';
}

static void out_str(Out *o, const char *s)
{
        out_put(o, s, strlen(s));
}

/*
 * Reads every record and renders them as "LINE[f1][f2] " with CR, LF and NUL
 * shown as \r, \n and \0, and errors as "LINE!detail ".  One string makes
 * expectations easy to read and failures easy to diagnose.
 */
static char *dump_reader(CsvReader *r)
{
        Out o = {0};
        CsvRecord rec;
        int k;

        out_str(&o, "");
        while ((k = csv_reader_next(r, &rec)) != 0) {
                char num[32];

                snprintf(num, sizeof(num), "%lld", (long long) rec.line);
                out_str(&o, num);
                if (k == -EBADMSG) {
                        assert_non_null(rec.detail);
                        assert_int_equal(rec.n_fields, 0);
                        out_str(&o, "!");
                        out_str(&o, rec.detail);
                        out_str(&o, " ");
                        continue;
                }
                assert_int_equal(k, 1);
                assert_null(rec.detail);
                for (size_t i = 0; i < rec.n_fields; i++) {
                        const CsvField *f = &rec.fields[i];

                        assert_int_equal(f->data[f->len], '\0');
                        out_str(&o, "[");
                        for (size_t j = 0; j < f->len; j++) {
                                if (f->data[j] == '\n')
                                        out_str(&o, "\\n");
                                else if (f->data[j] == '\r')
                                        out_str(&o, "\\r");
                                else if (f->data[j] == '\0')
                                        out_str(&o, "\\0");
                                else
                                        out_put(&o, &f->data[j], 1);
                        }
                        out_str(&o, "]");
                }
                out_str(&o, " ");
        }
        /* The end is sticky. */
        assert_int_equal(csv_reader_next(r, &rec), 0);
        return o.s;
}

static char *dump_memory(const char *data, size_t len, size_t buffer_size)
{
        _cleanup_(csv_reader_freep) CsvReader *r = NULL;

        assert_int_equal(csv_reader_new_memory(data, len, buffer_size, &r), 0);
        return dump_reader(r);
}

/* Parses s with the default buffer and with every small buffer size, which must all agree. */
static void assert_parses(const char *s, const char *expected)
{
        size_t len = strlen(s);

        for (size_t bs = 0; bs <= 17; bs++) {
                _cleanup_free_ char *got = dump_memory(s, len, bs);

                if (strcmp(got, expected) != 0)
                        fail_msg("buffer size %zu:\n  got      '%s'\n  expected '%s'", bs, got, expected);
        }
}

static void test_csv_simple_records(void **state)
{
        assert_parses("id,name\n1,alice\n2,bob\n", "1[id][name] 2[1][alice] 3[2][bob] ");
        assert_parses("", "");
        assert_parses("a", "1[a] ");
}

static void test_csv_quoted_fields_and_doubled_quotes(void **state)
{
        assert_parses("\"a,b\",\"say \"\"hi\"\"\",\"\",\"\"\"\"\n", "1[a,b][say \"hi\"][][\"] ");
        /* A quote inside an unquoted field is data, as in most readers. */
        assert_parses("ab\"c,d\"\n", "1[ab\"c][d\"] ");
        /* Space before an opening quote makes the field unquoted. */
        assert_parses("a, \"b\"\n", "1[a][ \"b\"] ");
}

static void test_csv_missing_and_empty_fields(void **state)
{
        assert_parses("a,,c\n,\n\"\"\nx,\n", "1[a][][c] 2[][] 3[] 4[x][] ");
        assert_parses("a,b,", "1[a][b][] ");
        assert_parses("a,\"\"", "1[a][] ");
}

static void test_csv_multiline_fields_and_line_numbers(void **state)
{
        assert_parses("id,text\n1,\"one\ntwo\r\nthree\"\n2,x\n",
                      "1[id][text] 2[1][one\\ntwo\\r\\nthree] 5[2][x] ");
        assert_parses("\"a\n\n\nb\",c\nd\n", "1[a\\n\\n\\nb][c] 5[d] ");
}

static void test_csv_line_ends(void **state)
{
        assert_parses("a,b\r\n1,2\r\n", "1[a][b] 2[1][2] ");
        /* Bare CR (classic Mac) ends lines too; CRLF counts once. */
        assert_parses("a\rb\r\nc\nd", "1[a] 2[b] 3[c] 4[d] ");
        assert_parses("\"x\"\r\n\"y\"\r", "1[x] 2[y] ");
}

static void test_csv_blank_lines_skipped(void **state)
{
        assert_parses("\n\na\n\r\n\nb\n\n", "3[a] 6[b] ");
}

static void test_csv_bom_skipped(void **state)
{
        assert_parses("\xEF\xBB\xBFid,name\r\n1,x\r\n", "1[id][name] 2[1][x] ");
        /* Only at the very start. */
        assert_parses("a\n\xEF\xBB\xBF"
                      "b\n",
                      "1[a] 2[\xEF\xBB\xBF"
                      "b] ");
        assert_parses("\xEF\xBB\xBF", "");
        assert_parses("\xEF\xBB", "1[\xEF\xBB] ");
}

static void test_csv_nul_bytes_kept(void **state)
{
        static const char data[] = "a\0b,c\n";
        _cleanup_free_ char *got = dump_memory(data, sizeof(data) - 1, 0);

        assert_string_equal(got, "1[a\\0b][c] ");
}

static void test_csv_garbage_after_quote_resyncs(void **state)
{
        assert_parses("a,b\n\"x\"y,z\nc,d\n", "1[a][b] 2!unexpected character after closing quote 3[c][d] ");
        /* In a multi-line record: skipped up to the end of the line holding the garbage. */
        assert_parses("\"a\nb\"x,y\nc\n", "1!unexpected character after closing quote 3[c] ");
        assert_parses("\"a\"b", "1!unexpected character after closing quote ");
}

static void test_csv_unterminated_quote_at_eof(void **state)
{
        assert_parses("a,b\n1,\"open\n", "1[a][b] 2!unterminated quoted field at end of input ");
        assert_parses("a,\"open", "1!unterminated quoted field at end of input ");
        /* A stray quote costs one record: parsing restarts at the line after the record's first. */
        assert_parses("a\n\"stray,x\nb,c\nd\n",
                      "1[a] 2!unterminated quoted field at end of input 3[b][c] 4[d] ");
        assert_parses("a\r\n\"stray\r\nb\r\n", "1[a] 2!unterminated quoted field at end of input 3[b] ");
        /* A second stray quote closes the first one; what follows it is then garbage. */
        assert_parses("\"s1\r\n\"s2\r\nok\r\n", "1!unexpected character after closing quote 3[ok] ");
}

static void test_csv_unterminated_quote_on_pipe(void **state)
{
        static const char data[] = "a\n\"stray\nb\n";
        _cleanup_(csv_reader_freep) CsvReader *r = NULL;
        _cleanup_free_ char *got = NULL;
        int p[2];

        /* A pipe cannot be re-read: the rest of the input went into the broken record. */
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], data, sizeof(data) - 1), (ssize_t) (sizeof(data) - 1));
        close(p[1]);
        assert_int_equal(csv_reader_new_fd(p[0], 5, &r), 0);
        got = dump_reader(r);
        assert_string_equal(got, "1[a] 2!unterminated quoted field at end of input ");
        assert_int_equal(csv_reader_rewind(r), -ESPIPE);
        close(p[0]);
}

static void test_csv_record_longer_than_buffer(void **state)
{
        _cleanup_free_ char *data = NULL, *expected = NULL;
        Out in = {0}, want = {0};

        /* A 30 KB record with doubled quotes and line breaks, read through a 7-byte buffer. */
        out_str(&in, "h\n\"");
        out_str(&want, "1[h] 2[");
        for (int i = 0; i < 1000; i++) {
                out_str(&in, "abc,\"\"def\"\"\nxyz;0123456789");
                out_str(&want, "abc,\"def\"\\nxyz;0123456789");
        }
        out_str(&in, "\",tail\nnext\n");
        out_str(&want, "][tail] 1003[next] ");
        data = in.s;
        expected = want.s;

        for (size_t bs = 7; bs <= 70000; bs *= 3) {
                _cleanup_free_ char *got = dump_memory(data, in.len, bs);

                assert_string_equal(got, expected);
        }
}

static void test_csv_max_record(void **state)
{
        _cleanup_(csv_reader_freep) CsvReader *r = NULL;
        _cleanup_free_ char *got = NULL, *got2 = NULL;
        static const char data[] = "ok\n0123456789012345678901234567890123456789\nfine\n"
                                   "\"quoted 0123456789012345678901234567890123456789\nnext\n";
        static const char data2[] = "\"a\nb\ncccccccc\nd\n";

        assert_int_equal(csv_reader_new_memory(data, sizeof(data) - 1, 8, &r), 0);
        csv_reader_set_max_record(r, 20);
        got = dump_reader(r);
        /* Both skip to the end of the line where the limit was hit. */
        assert_string_equal(
                got, "1[ok] 2!record longer than 20 bytes 3[fine] 4!record longer than 20 bytes 5[next] ");

        /* A quoted field that spans lines past the limit is a stray quote: resume at its second line. */
        csv_reader_free(TAKE_PTR(r));
        assert_int_equal(csv_reader_new_memory(data2, strlen(data2), 4, &r), 0);
        csv_reader_set_max_record(r, 10);
        got2 = dump_reader(r);
        assert_string_equal(got2, "1!record longer than 10 bytes 2[b] 3[cccccccc] 4[d] ");
}

static void test_csv_sources_agree_and_rewind(void **state)
{
        static const char data[] = "\xEF\xBB\xBFk,v\r\n1,\"x\ny\"\r\n\"bad\"!\r\n2,z";
        static const char expected[] =
                "1[k][v] 2[1][x\\ny] 4!unexpected character after closing quote 5[2][z] ";
        char path[] = "/tmp/pgseed-test-csv-XXXXXX";
        _cleanup_(csv_reader_freep) CsvReader *rf = NULL, *rs = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, sizeof(data) - 1), (ssize_t) (sizeof(data) - 1));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

        assert_int_equal(csv_reader_new_fd(fd, 5, &rf), 0);
        a = dump_reader(rf);
        assert_string_equal(a, expected);
        assert_int_equal(csv_reader_rewind(rf), 0);
        b = dump_reader(rf);
        assert_string_equal(b, expected);

        f = fopen(path, "re");
        assert_non_null(f);
        assert_int_equal(csv_reader_new_file(f, 0, &rs), 0);
        c = dump_reader(rs);
        assert_string_equal(c, expected);
        assert_int_equal(csv_reader_rewind(rs), 0);
        d = dump_reader(rs);
        assert_string_equal(d, expected);
        unlink(path);
}

static void test_csv_bad_arguments(void **state)
{
        CsvReader *r = NULL;

        assert_int_equal(csv_reader_new_fd(-1, 0, &r), -EINVAL);
        assert_int_equal(csv_reader_new_file(NULL, 0, &r), -EINVAL);
        assert_int_equal(csv_reader_new_memory(NULL, 3, 0, &r), -EINVAL);
        assert_null(r);
        assert_null(csv_reader_free(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csv_simple_records),
                cmocka_unit_test(test_csv_quoted_fields_and_doubled_quotes),
                cmocka_unit_test(test_csv_missing_and_empty_fields),
                cmocka_unit_test(test_csv_multiline_fields_and_line_numbers),
                cmocka_unit_test(test_csv_line_ends),
                cmocka_unit_test(test_csv_blank_lines_skipped),
                cmocka_unit_test(test_csv_bom_skipped),
                cmocka_unit_test(test_csv_nul_bytes_kept),
                cmocka_unit_test(test_csv_garbage_after_quote_resyncs),
                cmocka_unit_test(test_csv_unterminated_quote_at_eof),
                cmocka_unit_test(test_csv_unterminated_quote_on_pipe),
                cmocka_unit_test(test_csv_record_longer_than_buffer),
                cmocka_unit_test(test_csv_max_record),
                cmocka_unit_test(test_csv_sources_agree_and_rewind),
                cmocka_unit_test(test_csv_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
