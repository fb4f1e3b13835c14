/* SPDX-License-Identifier: MIT */
/* http-parse.h -- a pure, incremental HTTP/1.x request-head parser and query decoder (no I/O, no state). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_REQUEST_LINE (8 * 1024)          /* longer: 414 */
#define HTTP_MAX_HEAD         (16 * 1024)         /* request line and headers together; longer: 431 */
#define HTTP_MAX_HEADERS      64                  /* more: 431 */
#define HTTP_MAX_PARAMS       256                 /* more query parameters: 400 too_many_parameters */
#define HTTP_MAX_UPLOAD       (UINT64_C(8) << 30) /* the most a route with Route.max_body may take */
#define HTTP_MAX_BODY         (64 * 1024)         /* Content-Length above: 413 (no endpoint takes a body) */

/* Why a request was refused: the status and the JSON error's code, message and hint. */
typedef struct HttpParseError {
        unsigned status;
        const char *code;
        const char *hint;
        char message[160];
} HttpParseError;

/*
 * Finds the end of a request head as bytes arrive.  Feed it the whole buffer
 * received so far each time (it resumes where it stopped).  Zero-initialise
 * before the first call of each request.
 */
typedef struct HttpHeadScanner {
        size_t pos;        /* bytes already scanned */
        size_t line_start; /* offset of the line being scanned */
        size_t skipped;    /* empty lines before the request line (RFC 9112 2.2 allows some) */
        unsigned lines;    /* complete lines of this head, request line included */
} HttpHeadScanner;

/*
 * Returns the length of the complete head (through its empty line) when
 * buf[0..len) holds one, 0 when more bytes are needed, or -1 with *err set
 * when the head can no longer be valid: a request line above
 * HTTP_MAX_REQUEST_LINE (414), a head above HTTP_MAX_HEAD or more than
 * HTTP_MAX_HEADERS lines (431), a NUL or bare CR byte (400).
 */
int http_head_scan(HttpHeadScanner *s, const char *buf, size_t len, HttpParseError *err);

typedef struct HttpHeader {
        const char *name; /* as sent; compare case-insensitively */
        const char *value;
} HttpHeader;

/* A parsed request head.  All strings point into the buffer given to http_head_parse(). */
typedef struct HttpHead {
        const char *method;
        const char *target; /* the request target as sent */
        const char *path;   /* percent-decoded path, without the query */
        const char *query;  /* the raw query after '?' (not decoded), or NULL */
        size_t skipped;     /* leading empty lines skipped before the request line */
        int version_minor;  /* HTTP/1.<minor>: 0 or 1 */
        bool keep_alive;    /* the connection may serve another request after this one */
        bool expect_continue;
        uint64_t content_length; /* 0 when none was sent */
        HttpHeader headers[HTTP_MAX_HEADERS];
        size_t n_headers;
} HttpHead;

/*
 * Parses the complete head buf[0..len) (as found by http_head_scan) in place:
 * it writes NUL bytes into buf, and *ret points into it.  Returns 0, or -1
 * with *err set: a malformed request line or header, obsolete line folding,
 * control bytes (400), a version other than HTTP/1.0 or 1.1 (505), a
 * Transfer-Encoding request body (411, or 400 beside Content-Length or on
 * HTTP/1.0), a bad or conflicting Content-Length (400) or one above
 * HTTP_MAX_BODY (413), an HTTP/1.1 request without exactly one Host (400).
 */
int http_head_parse(char *buf, size_t len, HttpHead *ret, HttpParseError *err);
/* The same with another bound than HTTP_MAX_BODY (the server's, for routes that take a body). */
int http_head_parse_limit(char *buf, size_t len, HttpHead *ret, HttpParseError *err, uint64_t max_body);

/* The value of the first header called name (case-insensitive), or NULL. */
const char *http_head_header(const HttpHead *h, const char *name);

/* One decoded query parameter.  Both strings are NUL-terminated but may hold NUL bytes: see the lengths. */
typedef struct HttpParam {
        char *key;
        size_t key_len;
        char *value; /* NULL for "?key" without '=' */
        size_t value_len;
} HttpParam;

/*
 * Splits query[0..len) on '&' and percent-decodes each key and value ('+' is
 * a space; a '%' not followed by two hex digits stays as it is).  Empty
 * elements are skipped.  Returns the number of parameters with a new array in
 * *ret (free with http_params_free), or -1 with *err set (400
 * too_many_parameters) above HTTP_MAX_PARAMS.
 */
int http_query_parse(const char *query, size_t len, HttpParam **ret, HttpParseError *err);
void http_params_free(HttpParam *params, size_t n);

/* Percent-decodes s[0..len) into out (at least len + 1 bytes); returns the decoded length. */
size_t http_percent_decode(const char *s, size_t len, bool plus_is_space, char *out);

/* The reason phrase for a status code ("Not Found"); "" for unknown ones. */
const char *http_status_reason(unsigned status);
