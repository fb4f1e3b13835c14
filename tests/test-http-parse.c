/* SPDX-License-Identifier: MIT */
/* test-http-parse.c -- the request-head scanner and parser, and query decoding: limits, refusals, framing.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-parse.h"

/* Scans text fed one byte at a time (as a slow client sends it); returns the scanner's last answer. */
static int scan_bytewise(const char *text, size_t len, HttpParseError *err)
{
        HttpHeadScanner s = {0};
        int r = 0;

        for (size_t i = 1; i <= len; i++) {
                r = http_head_scan(&s, text, i, err);
                if (r != 0)
                        return r;
        }
        return r;
}

/* Scans and parses a whole head; returns 0 or the refusal's status. */
static unsigned parse(const char *text, HttpHead *h, char **ret_buf)
{
        HttpParseError err = {0};
        HttpHeadScanner s = {0};
        size_t len = strlen(text);
        int r = http_head_scan(&s, text, len, &err);
        char *buf;

        if (r < 0)
                return err.status;
        assert_int_equal(r, (int) len);
        buf = strdup(text);
        *ret_buf = buf;
        if (http_head_parse(buf, len, h, &err) < 0)
                return err.status;
        return 0;
}

static unsigned parse_status(const char *text)
{
        HttpHead h;
        char *buf = NULL;
        unsigned st = parse(text, &h, &buf);

        free(buf);
        return st;
}

static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
        size_t len = strlen(prefix) + strlen(unit) * n + strlen(suffix);
        char *s = malloc(len + 1), *p = s;

        p = stpcpy(p, prefix);
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, unit);
        strcpy(p, suffix);
        return s;
}

static void test_http_scan_needs_the_empty_line(void **state)
{
        HttpParseError err;
        HttpHeadScanner s = {0};
        const char *t = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next";

        assert_int_equal(http_head_scan(&s, t, 16, &err), 0);
        assert_int_equal(http_head_scan(&s, t, 25, &err), 0);
        assert_int_equal(http_head_scan(&s, t, 26, &err), 0); /* a lone CR waits for its LF */
        assert_int_equal(http_head_scan(&s, t, strlen(t), &err), 27);
}

static void test_http_scan_bytewise_equals_whole(void **state)
{
        HttpParseError err;
        const char *t = "\r\nGET /health?x=1 HTTP/1.1\r\nHost: localhost\nAccept: */*\r\n\n";

        assert_int_equal(scan_bytewise(t, strlen(t), &err), (int) strlen(t));
}

static void test_http_scan_long_request_line_is_414(void **state)
{
        HttpParseError err;
        char *t = repeat("GET /?", "a", 20000, " HTTP/1.1\r\n\r\n");

        assert_int_equal(scan_bytewise(t, strlen(t), &err), -1);
        assert_int_equal(err.status, 414);
        assert_string_equal(err.code, "uri_too_long");
        free(t);
}

static void test_http_scan_big_head_is_431(void **state)
{
        HttpParseError err;
        HttpHeadScanner s = {0};
        char *t = repeat("GET / HTTP/1.1\r\n",
                         "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 600,
                         "\r\n");

        assert_int_equal(http_head_scan(&s, t, strlen(t), &err), -1);
        assert_int_equal(err.status, 431);
        free(t);
}

static void test_http_scan_too_many_header_lines_is_431(void **state)
{
        HttpParseError err;
        HttpHeadScanner s = {0};
        char *t = repeat("GET / HTTP/1.1\r\n", "A: b\r\n", HTTP_MAX_HEADERS + 1, "\r\n");

        assert_int_equal(http_head_scan(&s, t, strlen(t), &err), -1);
        assert_int_equal(err.status, 431);
        free(t);
}

static void test_http_scan_nul_and_bare_cr_are_400(void **state)
{
        HttpParseError err;
        HttpHeadScanner s = {0};
        const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

        assert_int_equal(http_head_scan(&s, nul, sizeof(nul) - 1, &err), -1);
        assert_int_equal(err.status, 400);
        s = (HttpHeadScanner){0};
        assert_int_equal(http_head_scan(&s, "GET / HTTP/1.1\rX: a\r\n\r\n", 23, &err), -1);
        assert_int_equal(err.status, 400);
}

static void test_http_parse_request_line_and_headers(void **state)
{
        HttpHead h;
        char *buf = NULL;

        assert_int_equal(parse("GET /sample%2Fx?table=users&limit=5 HTTP/1.1\r\nHost: localhost:7432\r\n"
                               "X-Request-Id:  abc \t\r\nconnection: Keep-Alive\r\n\r\n",
                               &h, &buf),
                         0);
        assert_string_equal(h.method, "GET");
        assert_string_equal(h.path, "/sample/x");
        assert_string_equal(h.query, "table=users&limit=5");
        assert_int_equal(h.version_minor, 1);
        assert_true(h.keep_alive);
        assert_string_equal(http_head_header(&h, "host"), "localhost:7432");
        assert_string_equal(http_head_header(&h, "X-REQUEST-ID"), "abc");
        assert_null(http_head_header(&h, "Origin"));
        free(buf);
}

static void test_http_parse_keep_alive_rules(void **state)
{
        HttpHead h;
        char *buf = NULL;

        assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &h, &buf), 0);
        assert_false(h.keep_alive);
        free(buf);
        assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &buf), 0);
        assert_false(h.keep_alive);
        free(buf);
        assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &buf), 0);
        assert_true(h.keep_alive);
        free(buf);
}

static void test_http_parse_versions(void **state)
{
        assert_int_equal(parse_status("GET / HTTP/1.0\r\n\r\n"), 0);
        assert_int_equal(parse_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_int_equal(parse_status("GET / HTTP/3.7\r\nHost: a\r\n\r\n"), 505);
        assert_int_equal(parse_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
        assert_int_equal(parse_status("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / FTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void test_http_parse_malformed_is_400(void **state)
{
        assert_int_equal(parse_status("GARBAGE\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET health HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n"), 400);
}

static void test_http_parse_obsolete_folding_is_400(void **state)
{
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n"), 400);
}

static void test_http_parse_host_rules(void **state)
{
        assert_int_equal(parse_status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
                         0); /* empty is allowed (RFC 9112 3.2) */
}

static void test_http_parse_bodies(void **state)
{
        HttpHead h;
        char *buf = NULL;

        assert_int_equal(parse("POST /reset HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &h, &buf),
                         0);
        assert_int_equal(h.content_length, 12);
        free(buf);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n"),
                         413);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n"), 413);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n"), 0);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n"), 400);
        assert_int_equal(
                parse_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
                400);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
                         411);
        assert_int_equal(parse_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                                      "chunked\r\nContent-Length: 5\r\n\r\n"),
                         400);
        assert_int_equal(parse_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

static void test_http_parse_absolute_form_and_asterisk(void **state)
{
        HttpHead h;
        char *buf = NULL;

        assert_int_equal(
                parse("GET http://localhost:7432/health?x HTTP/1.1\r\nHost: localhost\r\n\r\n", &h, &buf),
                0);
        assert_string_equal(h.path, "/health");
        assert_string_equal(h.query, "x");
        free(buf);
        assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &h, &buf), 0);
        assert_string_equal(h.path, "*");
        free(buf);
        assert_int_equal(parse_status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

static void test_http_parse_skips_leading_empty_lines(void **state)
{
        HttpHead h;
        char *buf = NULL;

        assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h, &buf), 0);
        assert_string_equal(h.path, "/");
        free(buf);
}

static void test_http_query_decodes_and_keeps_nul(void **state)
{
        HttpParseError err;
        HttpParam *p = NULL;
        const char *q = "table=us%65rs&x=a+b%2Bc&&follow&t=users%00junk&bad=%zz%4&%C3%A9=%ff";
        int n = http_query_parse(q, strlen(q), &p, &err);

        assert_int_equal(n, 6);
        assert_string_equal(p[0].key, "table");
        assert_string_equal(p[0].value, "users");
        assert_string_equal(p[1].value, "a b+c");
        assert_string_equal(p[2].key, "follow");
        assert_null(p[2].value);
        assert_int_equal(p[3].value_len, 10);
        assert_int_equal(strlen(p[3].value), 5); /* the NUL is there, for the UTF-8/NUL check to find */
        assert_string_equal(p[4].value, "%zz%4");
        assert_string_equal(p[5].key, "\xc3\xa9");
        assert_int_equal(p[5].value_len, 1);
        assert_int_equal((unsigned char) p[5].value[0], 0xff);
        http_params_free(p, (size_t) n);
}

static void test_http_query_too_many_parameters(void **state)
{
        HttpParseError err;
        HttpParam *p = NULL;
        char *ok = repeat("", "k&", HTTP_MAX_PARAMS, "");
        char *many = repeat("", "k&", 3000, "");
        int n = http_query_parse(ok, strlen(ok), &p, &err);

        assert_int_equal(n, HTTP_MAX_PARAMS);
        http_params_free(p, (size_t) n);
        p = NULL;
        assert_int_equal(http_query_parse(many, strlen(many), &p, &err), -1);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.code, "too_many_parameters");
        assert_null(p);
        free(ok);
        free(many);
}

static void test_http_query_empty(void **state)
{
        HttpParseError err;
        HttpParam *p = NULL;

        assert_int_equal(http_query_parse("", 0, &p, &err), 0);
        assert_int_equal(http_query_parse("&&&", 3, &p, &err), 0);
        assert_null(p);
}

static void test_http_status_reason_known_and_unknown(void **state)
{
        assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
        assert_string_equal(http_status_reason(299), "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http_scan_needs_the_empty_line),
                cmocka_unit_test(test_http_scan_bytewise_equals_whole),
                cmocka_unit_test(test_http_scan_long_request_line_is_414),
                cmocka_unit_test(test_http_scan_big_head_is_431),
                cmocka_unit_test(test_http_scan_too_many_header_lines_is_431),
                cmocka_unit_test(test_http_scan_nul_and_bare_cr_are_400),
                cmocka_unit_test(test_http_parse_request_line_and_headers),
                cmocka_unit_test(test_http_parse_keep_alive_rules),
                cmocka_unit_test(test_http_parse_versions),
                cmocka_unit_test(test_http_parse_malformed_is_400),
                cmocka_unit_test(test_http_parse_obsolete_folding_is_400),
                cmocka_unit_test(test_http_parse_host_rules),
                cmocka_unit_test(test_http_parse_bodies),
                cmocka_unit_test(test_http_parse_absolute_form_and_asterisk),
                cmocka_unit_test(test_http_parse_skips_leading_empty_lines),
                cmocka_unit_test(test_http_query_decodes_and_keeps_nul),
                cmocka_unit_test(test_http_query_too_many_parameters),
                cmocka_unit_test(test_http_query_empty),
                cmocka_unit_test(test_http_status_reason_known_and_unknown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
