/* SPDX-License-Identifier: MIT */
/* http-parse.c -- request heads (RFC 9112) and query strings, parsed without I/O so they can be fuzzed. */

#include "http-parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(HttpParseError *err, unsigned status, const char *code, const char *hint, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(HttpParseError *err, unsigned status, const char *code, const char *hint, const char *fmt,
                ...)
{
        va_list ap;

        err->status = status;
        err->code = code;
        err->hint = hint;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return -1;
}

int http_head_scan(HttpHeadScanner *s, const char *buf, size_t len, HttpParseError *err)
{
        for (; s->pos < len; s->pos++) {
                char c = buf[s->pos];

                if (c == '\0')
                        return fail(err, 400, "bad_request", NULL, "The request head holds a NUL byte");
                if (c == '\r') {
                        if (s->pos + 1 == len)
                                break; /* look again when the next byte is here */
                        if (buf[s->pos + 1] != '\n')
                                return fail(err, 400, "bad_request", NULL,
                                            "The request head holds a CR not followed by LF");
                        continue;
                }
                if (c != '\n') {
                        if (s->lines == 0 && s->pos - s->line_start >= HTTP_MAX_REQUEST_LINE)
                                return fail(err, 414, "uri_too_long", "Pass fewer or shorter parameters.",
                                            "The request line is longer than %d bytes",
                                            HTTP_MAX_REQUEST_LINE);
                        if (s->pos >= HTTP_MAX_HEAD)
                                return fail(err, 431, "headers_too_large", NULL,
                                            "The request head is larger than %d bytes", HTTP_MAX_HEAD);
                        continue;
                }
                /* A line ends here; CR LF or (tolerated, RFC 9112 2.2) a bare LF. */
                size_t n = s->pos - s->line_start;
                if (n > 0 && buf[s->pos - 1] == '\r')
                        n--;
                s->line_start = s->pos + 1;
                if (n == 0 && s->lines == 0) {
                        /* Empty lines before the request line (left over from a previous body). */
                        if (++s->skipped > 4)
                                return fail(err, 400, "bad_request", NULL, "No request line");
                        continue;
                }
                if (n == 0)
                        return (int) ++s->pos;
                if (++s->lines > 1 + HTTP_MAX_HEADERS)
                        return fail(err, 431, "headers_too_large", NULL, "More than %d header lines",
                                    HTTP_MAX_HEADERS);
        }
        return 0;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!is_tchar((unsigned char) *s))
                        return false;
        return true;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

size_t http_percent_decode(const char *s, size_t len, bool plus_is_space, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                int hi, lo;

                if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
                    (lo = hexval(s[i + 2])) >= 0) {
                        out[o++] = (char) (hi << 4 | lo);
                        i += 2;
                } else if (s[i] == '+' && plus_is_space)
                        out[o++] = ' ';
                else
                        out[o++] = s[i];
        }
        out[o] = '\0';
        return o;
}

/* Splits off the next line of buf (NUL-terminating it, CR stripped); NULL at the end. */
static char *next_line(char **p, char *end)
{
        char *line = *p, *nl;

        if (line >= end)
                return NULL;
        nl = memchr(line, '\n', (size_t) (end - line));
        if (!nl)
                nl = end;
        *p = nl < end ? nl + 1 : end;
        if (nl > line && nl[-1] == '\r')
                nl--;
        *nl = '\0';
        return line;
}

/* True when the comma-separated list value holds token (case-insensitive). */
static bool list_has(const char *value, const char *token)
{
        size_t n = strlen(token);

        for (const char *p = value; *p;) {
                p += strspn(p, " \t,");
                size_t len = strcspn(p, ",");
                size_t trimmed = len;
                while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
                        trimmed--;
                if (trimmed == n && strncasecmp(p, token, n) == 0)
                        return true;
                p += len;
        }
        return false;
}

static int parse_request_line(char *line, HttpHead *h, HttpParseError *err)
{
        char *sp1 = strchr(line, ' '), *sp2, *target, *version, *q;

        if (!sp1)
                return fail(err, 400, "bad_request", NULL, "Malformed request line");
        *sp1 = '\0';
        target = sp1 + 1;
        sp2 = strchr(target, ' ');
        if (!sp2)
                return fail(err, 400, "bad_request", NULL, "Malformed request line");
        *sp2 = '\0';
        version = sp2 + 1;
        if (!is_token(line) || !*target || strchr(version, ' '))
                return fail(err, 400, "bad_request", NULL, "Malformed request line");
        h->method = line;

        if (strncmp(version, "HTTP/", 5) != 0 || !(version[5] >= '0' && version[5] <= '9') ||
            version[6] != '.' || !(version[7] >= '0' && version[7] <= '9') || version[8])
                return fail(err, 400, "bad_request", NULL, "Malformed HTTP version in the request line");
        if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
                return fail(err, 505, "version_not_supported", "Use HTTP/1.1 (or HTTP/1.0).",
                            "HTTP version %.8s is not supported", version);
        h->version_minor = version[7] - '0';

        for (const char *p = target; *p; p++)
                if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
                        return fail(err, 400, "bad_request", "Percent-encode the request target.",
                                    "The request target holds a control, space or non-ASCII byte");
        /* absolute-form (RFC 9112 3.2.2): keep the path, the authority is Host's business. */
        if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
                char *slash = strchr(strchr(target, ':') + 3, '/');
                if (!slash) {
                        h->path = "/";
                        return 0;
                }
                target = slash;
        }
        if (strcmp(target, "*") == 0 && strcmp(h->method, "OPTIONS") == 0) {
                h->path = target;
                return 0;
        }
        if (*target != '/')
                return fail(err, 400, "bad_request", NULL, "The request target must start with '/'");
        q = strchr(target, '?');
        if (q) {
                *q = '\0';
                h->query = q + 1;
        }
        size_t n = http_percent_decode(target, strlen(target), false, target);
        if (strlen(target) != n)
                return fail(err, 400, "bad_request", NULL, "The request path holds a NUL byte");
        h->path = target;
        return 0;
}

static int parse_header_line(char *line, HttpHead *h, HttpParseError *err)
{
        char *colon, *value, *end;

        if (*line == ' ' || *line == '\t')
                return fail(err, 400, "bad_request", "Send each header on one line.",
                            "Obsolete header line folding is not accepted");
        colon = strchr(line, ':');
        if (!colon)
                return fail(err, 400, "bad_request", NULL, "A header line has no ':'");
        *colon = '\0';
        if (!is_token(line))
                return fail(err, 400, "bad_request", NULL, "Malformed header name");
        value = colon + 1;
        value += strspn(value, " \t");
        end = value + strlen(value);
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *end = '\0';
        for (const char *p = value; *p; p++)
                if (((unsigned char) *p < 0x20 && *p != '\t') || *p == 0x7f)
                        return fail(err, 400, "bad_request", NULL, "Header %.40s holds a control byte",
                                    line);
        if (h->n_headers >= HTTP_MAX_HEADERS)
                return fail(err, 431, "headers_too_large", NULL, "More than %d headers", HTTP_MAX_HEADERS);
        h->headers[h->n_headers++] = (HttpHeader){.name = line, .value = value};
        return 0;
}

int http_head_parse(char *buf, size_t len, HttpHead *ret, HttpParseError *err)
{
        return http_head_parse_limit(buf, len, ret, err, HTTP_MAX_BODY);
}

int http_head_parse_limit(char *buf, size_t len, HttpHead *ret, HttpParseError *err, uint64_t max_body)
{
        char *p = buf, *end = buf + len, *line;
        HttpHead *h = ret;
        unsigned hosts = 0, lengths = 0, encodings = 0;
        bool close_asked = false, keep_alive_asked = false;

        memset(h, 0, sizeof(*h));
        while ((line = next_line(&p, end)) && !*line)
                h->skipped++;
        if (!line)
                return fail(err, 400, "bad_request", NULL, "No request line");
        if (parse_request_line(line, h, err) < 0)
                return -1;
        while ((line = next_line(&p, end)) && *line)
                if (parse_header_line(line, h, err) < 0)
                        return -1;

        for (size_t i = 0; i < h->n_headers; i++) {
                const char *name = h->headers[i].name, *value = h->headers[i].value;

                if (strcasecmp(name, "Host") == 0)
                        hosts++;
                else if (strcasecmp(name, "Content-Length") == 0) {
                        uint64_t v = 0;
                        size_t digits = strspn(value, "0123456789");
                        if (digits == 0 || value[digits] || digits > 18)
                                return fail(err, 400, "bad_request", NULL, "Malformed Content-Length");
                        v = strtoull(value, NULL, 10);
                        if (lengths++ > 0 && v != h->content_length)
                                return fail(err, 400, "bad_request", NULL,
                                            "Conflicting Content-Length headers");
                        h->content_length = v;
                } else if (strcasecmp(name, "Transfer-Encoding") == 0)
                        encodings++;
                else if (strcasecmp(name, "Connection") == 0) {
                        close_asked |= list_has(value, "close");
                        keep_alive_asked |= list_has(value, "keep-alive");
                } else if (strcasecmp(name, "Expect") == 0)
                        h->expect_continue = strcasecmp(value, "100-continue") == 0;
        }
        if (h->version_minor == 1 && hosts != 1)
                return fail(err, 400, hosts ? "bad_request" : "missing_host",
                            "HTTP/1.1 requests carry exactly one Host header (RFC 9112 3.2).",
                            hosts ? "More than one Host header" : "The HTTP/1.1 request has no Host header");
        if (hosts > 1)
                return fail(err, 400, "bad_request", NULL, "More than one Host header");
        if (encodings && (lengths || h->version_minor == 0))
                return fail(err, 400, "bad_request", NULL, "Transfer-Encoding %s is not accepted",
                            lengths ? "beside Content-Length" : "in an HTTP/1.0 request");
        if (encodings)
                return fail(err, 411, "length_required",
                            "No endpoint takes a body; send none, or one with a Content-Length.",
                            "Request bodies with a Transfer-Encoding are not accepted");
        if (h->content_length > max_body)
                return fail(err, 413, "body_too_large", "Pass parameters in the query string.",
                            "Request body of %llu bytes refused; no endpoint takes a body",
                            (unsigned long long) h->content_length);
        h->keep_alive = h->version_minor == 1 ? !close_asked : keep_alive_asked && !close_asked;
        return 0;
}

const char *http_head_header(const HttpHead *h, const char *name)
{
        for (size_t i = 0; i < h->n_headers; i++)
                if (strcasecmp(h->headers[i].name, name) == 0)
                        return h->headers[i].value;
        return NULL;
}

void http_params_free(HttpParam *params, size_t n)
{
        for (size_t i = 0; params && i < n; i++) {
                free(params[i].key);
                free(params[i].value);
        }
        free(params);
}

static char *decode_dup(const char *s, size_t len, size_t *ret_len)
{
        char *out = malloc(len + 1);

        if (!out)
                abort();
        *ret_len = http_percent_decode(s, len, true, out);
        return out;
}

int http_query_parse(const char *query, size_t len, HttpParam **ret, HttpParseError *err)
{
        HttpParam *params = NULL;
        size_t n = 0, count = 0;

        /* Count first, so that a flood of parameters costs no allocation. */
        for (size_t i = 0; i < len;) {
                size_t e = i;
                while (e < len && query[e] != '&')
                        e++;
                if (e > i)
                        count++;
                i = e + 1;
        }
        if (count > HTTP_MAX_PARAMS)
                return fail(err, 400, "too_many_parameters", NULL,
                            "%zu query parameters; at most %d are accepted", count, HTTP_MAX_PARAMS);
        if (count > 0) {
                params = calloc(count, sizeof(HttpParam));
                if (!params)
                        abort();
        }
        for (size_t i = 0; i < len;) {
                size_t e = i;
                const char *eq;
                while (e < len && query[e] != '&')
                        e++;
                if (e > i) {
                        HttpParam *p = &params[n++];
                        eq = memchr(query + i, '=', e - i);
                        p->key = decode_dup(query + i, (size_t) ((eq ? eq : query + e) - (query + i)),
                                            &p->key_len);
                        if (eq)
                                p->value = decode_dup(eq + 1, (size_t) (query + e - eq - 1), &p->value_len);
                }
                i = e + 1;
        }
        *ret = params;
        return (int) n;
}

const char *http_status_reason(unsigned status)
{
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 202:
                return "Accepted";
        case 204:
                return "No Content";
        case 304:
                return "Not Modified";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 411:
                return "Length Required";
        case 413:
                return "Content Too Large";
        case 414:
                return "URI Too Long";
        case 421:
                return "Misdirected Request";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "";
        }
}
