/* SPDX-License-Identifier: MIT */
/* fuzz-http.c -- libFuzzer target for the request-head scanner, parser and query decoder: no crash, the same
 * answer however the bytes arrive, and parameters that keep their NUL bytes. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scans data as it would arrive in pieces of step bytes. */
static int scan_in_steps(const char *data, size_t size, size_t step, HttpParseError *err)
{
        HttpHeadScanner s = {0};
        int r = 0;

        for (size_t len = step < size ? step : size; len <= size; len += step) {
                r = http_head_scan(&s, data, len, err);
                if (r != 0 || len == size)
                        return r;
                if (len + step > size)
                        len = size - step;
        }
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *) data;
        HttpParseError err;
        HttpHead head;
        int whole, r;
        char *buf;

        if (size == 0)
                return 0;
        whole = scan_in_steps(text, size, size, &err);
        /* Byte by byte (a slowloris) and in odd pieces must find the same end, or the same refusal. */
        if (scan_in_steps(text, size, 1, &err) != whole || scan_in_steps(text, size, 7, &err) != whole)
                abort();
        if (whole > (int) size || (whole > 0 && whole > HTTP_MAX_HEAD + 1024))
                abort();
        if (whole <= 0) {
                /* Whatever the bytes, the query decoder must cope too. */
                HttpParam *p = NULL;
                int n = http_query_parse(text, size, &p, &err);
                for (int i = 0; i < n; i++)
                        if (p[i].key_len > size || (p[i].value && p[i].value_len > size) ||
                            p[i].key[p[i].key_len] != '\0')
                                abort();
                if (n < 0 && err.status != 400)
                        abort();
                http_params_free(p, n > 0 ? (size_t) n : 0);
                return 0;
        }
        buf = malloc((size_t) whole + 1);
        memcpy(buf, text, (size_t) whole);
        buf[whole] = '\0';
        r = http_head_parse(buf, (size_t) whole, &head, &err);
        if (r == 0) {
                if (!head.method || !head.path || head.n_headers > HTTP_MAX_HEADERS ||
                    head.content_length > HTTP_MAX_BODY ||
                    (head.version_minor != 0 && head.version_minor != 1))
                        abort();
                if (head.query) {
                        HttpParam *p = NULL;
                        int n = http_query_parse(head.query, strlen(head.query), &p, &err);
                        if (n > HTTP_MAX_PARAMS)
                                abort();
                        http_params_free(p, n > 0 ? (size_t) n : 0);
                }
        } else if (err.status < 400 || err.status > 505 || !err.code)
                abort();
        free(buf);
        return 0;
}
