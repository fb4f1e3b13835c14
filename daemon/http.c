/* SPDX-License-Identifier: MIT */
/* http.c -- the transport-independent HTTP layer: listening, routing, parameters, JSON replies, access log.
 */

#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "access.h"
#include "config.h"
#include "daemon.h"
#include "http-request.h"
#include "jsonfmt.h"
#include "log.h"
#include "metrics.h"

/* ---- listening ---------------------------------------------------------- */

int http_listen(const Config *c, int *ret_fd, Error *e)
{
        struct sockaddr_storage ss = {0};
        socklen_t len;
        int n, one = 1, fd;

        /* Socket activation: systemd (or systemd-socket-activate) bound it already. */
        n = sd_listen_fds(1);
        if (n > 1)
                return error_set(e, EINVAL, NULL, "Pass exactly one listening socket.",
                                 "systemd passed %d sockets; pgseedd serves one", n);
        if (n == 1) {
                if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                        return error_set(e, EINVAL, NULL, NULL,
                                         "the socket passed by systemd is not a listening TCP socket");
                *ret_fd = SD_LISTEN_FDS_START;
                return 0;
        }

        if (inet_pton(AF_INET, c->listen_host, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                ss.ss_family = AF_INET;
                ((struct sockaddr_in *) &ss)->sin_port = htons((uint16_t) c->listen_port);
                len = sizeof(struct sockaddr_in);
        } else {
                ss.ss_family = AF_INET6;
                inet_pton(AF_INET6, c->listen_host, &((struct sockaddr_in6 *) &ss)->sin6_addr);
                ((struct sockaddr_in6 *) &ss)->sin6_port = htons((uint16_t) c->listen_port);
                len = sizeof(struct sockaddr_in6);
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(e, errno, NULL, NULL, "Cannot create the API socket: %m");
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
                int err = errno;
                close(fd);
                if (err == EADDRINUSE)
                        return error_set(
                                e, EADDRINUSE, "port_in_use", NULL,
                                "API address %s:%d is already in use (another pgseedd?). See who holds "
                                "it with `ss -ltnp 'sport = :%d'`, or set PGSEED_LISTEN to a free port.",
                                c->listen_host, c->listen_port, c->listen_port);
                return error_set(e, err, NULL, NULL, "Cannot bind the API to %s:%d: %s", c->listen_host,
                                 c->listen_port, strerror(err));
        }
        /*
         * A deep backlog: a burst of connections (a flood, or a thousand idle
         * sockets opened at once) must not overflow it, or the kernel drops the
         * SYN of a well-behaved probe, which then waits a whole second for its
         * retransmission.  The kernel caps it at net.core.somaxconn.
         */
        if (listen(fd, 4096) < 0) {
                int err = errno;
                close(fd);
                return error_set(e, err, NULL, NULL, "Cannot listen on %s:%d: %s", c->listen_host,
                                 c->listen_port, strerror(err));
        }
        *ret_fd = fd;
        return 0;
}

/* ---- request accessors -------------------------------------------------- */

Daemon *request_daemon(const Request *req)
{
        return req->site->daemon;
}

const char *request_method(const Request *req)
{
        return req->head_ok ? req->head.method : "-";
}

const char *request_path(const Request *req)
{
        return req->path ? req->path : "-";
}

const char *request_id(const Request *req)
{
        return req->id;
}

const char *request_header(Request *req, const char *name)
{
        return req->head_ok ? http_head_header(&req->head, name) : NULL;
}

const Route *request_routes(const Request *req, size_t *ret_n)
{
        *ret_n = req->site->n_routes;
        return req->site->routes;
}

bool request_resumed(const Request *req)
{
        return req->resumed;
}

void request_set_userdata(Request *req, void *data, void (*free_fn)(void *data))
{
        if (req->userdata && req->userdata != data && req->userdata_free)
                req->userdata_free(req->userdata);
        req->userdata = data;
        req->userdata_free = free_fn;
}

void *request_userdata(const Request *req)
{
        return req->userdata;
}

const char *request_query(Request *req, const char *key)
{
        size_t n = strlen(key);

        for (size_t i = 0; i < req->n_params; i++)
                if (req->params[i].key_len == n && memcmp(req->params[i].key, key, n) == 0)
                        return req->params[i].value ? req->params[i].value : "";
        return NULL;
}

/*
 * Every parameter is checked here once, with its decoded length, because a
 * NUL-terminated view would silently cut "?table=users%00junk" to "users":
 * handlers and error messages only ever see clean UTF-8 text.
 */
/* The names of the route's parameters, NULL-terminated, into names[size]. */
static const char *const *route_param_names(const Route *route, const char **names, size_t size)
{
        size_t n = 0;

        for (const RouteParam *p = route ? route->params : NULL; p && p->name && n + 1 < size; p++)
                names[n++] = p->name;
        names[n] = NULL;
        return names;
}

bool request_query_allow(Request *req, const char *const *allowed)
{
        const char *bad = NULL, *unknown = NULL, *names[32];
        char list[256] = "", name[64];

        if (!allowed)
                allowed = route_param_names(req->route, names, ELEMENTSOF(names));

        for (size_t i = 0; i < req->n_params && !bad && !unknown; i++) {
                const HttpParam *p = &req->params[i];
                bool known = false;

                if (strlen(p->key) != p->key_len || !utf8_is_valid(p->key, p->key_len) ||
                    (p->value &&
                     (strlen(p->value) != p->value_len || !utf8_is_valid(p->value, p->value_len)))) {
                        bad = p->key;
                        break;
                }
                for (const char *const *a = allowed; *a && !known; a++)
                        known = streq(*a, p->key);
                if (!known)
                        unknown = p->key;
        }
        if (bad) {
                strlcpy0(name, bad, sizeof(name));
                utf8_sanitize(name);
                http_reply_error(req, 400, "invalid_parameter",
                                 "Parameters must be UTF-8 text without NUL bytes.",
                                 "Query parameter '%s' has a NUL byte or bytes that are not UTF-8", name);
                return false;
        }
        if (!unknown)
                return true;
        for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ",
                         *a);
        http_reply_error(req, 400, "unknown_parameter", *list ? "" : "This endpoint takes no parameters.",
                         "Unknown query parameter '%s'%s%s", unknown, *list ? "; accepted: " : "", list);
        return false;
}

bool request_query_int(Request *req, const char *key, int64_t def, int64_t min, int64_t max, int64_t *ret)
{
        const char *v = request_query(req, key);

        if (!v) {
                *ret = def;
                return true;
        }
        if (parse_int64(v, min, max, ret) < 0) {
                http_reply_error(req, 400, "invalid_parameter", NULL,
                                 "Parameter '%s' must be a whole number from %lld to %lld, got '%s'", key,
                                 (long long) min, (long long) max, v);
                return false;
        }
        return true;
}

bool request_query_bool(Request *req, const char *key, bool def, bool *ret)
{
        const char *v = request_query(req, key);

        if (!v) {
                *ret = def;
                return true;
        }
        /* "?follow" with no value means yes. */
        if (!*v) {
                *ret = true;
                return true;
        }
        if (parse_bool(v, ret) < 0) {
                http_reply_error(req, 400, "invalid_parameter", NULL,
                                 "Parameter '%s' must be 1/0, true/false or yes/no, got '%s'", key, v);
                return false;
        }
        return true;
}

bool request_query_enum(Request *req, const char *key, const char *const *choices, const char *def,
                        const char **ret)
{
        const char *v = request_query(req, key);
        char list[128] = "";

        if (!v) {
                *ret = def;
                return true;
        }
        for (const char *const *c = choices; *c; c++) {
                if (streq(*c, v)) {
                        *ret = *c;
                        return true;
                }
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", c == choices ? "" : ", ",
                         *c);
        }
        http_reply_error(req, 400, "invalid_parameter", NULL, "Parameter '%s' must be one of %s, got '%s'",
                         key, list, v);
        return false;
}

/* ---- replies ------------------------------------------------------------ */

/* Header values come from handlers and configuration; a line break would split the reply. */
static void header_append(Buffer *b, const char *name, const char *value)
{
        buffer_appends(b, name);
        buffer_append(b, ": ", 2);
        for (const char *p = value; *p;) {
                size_t n = strcspn(p, "\r\n");
                buffer_append(b, p, n);
                p += n;
                if (*p) {
                        buffer_append(b, " ", 1);
                        p++;
                }
        }
        buffer_append(b, "\r\n", 2);
}

void http_add_header(Request *req, const char *name, const char *value)
{
        if (req->replied)
                return;
        header_append(&req->headers, name, value);
}

/* Sets the reply's status and common headers; false when one was queued already (a handler bug). */
static bool reply_begin(Request *req, unsigned status, const char *content_type)
{
        if (req->replied)
                return false;
        if (content_type)
                header_append(&req->headers, "Content-Type", content_type);
        header_append(&req->headers, "Cache-Control", "no-store");
        header_append(&req->headers, "X-Request-Id", req->id);
        /* Which origins may read this answer was decided by access_check() in dispatch(). */
        if (*req->access.allow_origin)
                header_append(&req->headers, "Access-Control-Allow-Origin", req->access.allow_origin);
        if (req->access.vary_origin)
                header_append(&req->headers, "Vary", "Origin");
        req->status = status;
        req->replied = true;
        return true;
}

void http_reply_text(Request *req, unsigned status, const char *content_type, const char *body, size_t len)
{
        if (!reply_begin(req, status, content_type))
                return;
        req->body = xmalloc(len + 1);
        if (len > 0)
                memcpy(req->body, body, len);
        req->body_len = len;
}

void http_reply_json(Request *req, unsigned status, json_t *body)
{
        if (!body) {
                /* Only a bug gets here (jansson refuses invalid UTF-8 by returning NULL): never crash on it.
                 */
                static const char fallback[] = "{\"error\": {\"code\": \"internal\", \"message\": "
                                               "\"The reply could not be encoded as JSON\"}}\n";
                http_reply_text(req, 500, "application/json; charset=utf-8", fallback, sizeof(fallback) - 1);
                return;
        }
        if (!reply_begin(req, status, "application/json; charset=utf-8")) {
                json_decref(body);
                return;
        }
        req->body = json_format(body, &req->body_len);
        json_decref(body);
}

unsigned http_status_for_errno(int errnum)
{
        switch (errnum) {
        case EINVAL:
                return 400;
        case EPERM:
                return 403;
        case ENOENT:
                return 404;
        case EBUSY:
                return 409;
        case EAGAIN:
        case ECONNREFUSED:
        case ECANCELED: /* shutting down */
                return 503;
        case ETIMEDOUT:
                return 504;
        case ENOSPC:
                return 507;
        case EOPNOTSUPP: /* what this runtime cannot do (the server log of an external Postgres) */
                return 501;
        default:
                return 500;
        }
}

void http_reply_error(Request *req, unsigned status, const char *code, const char *hint, const char *fmt,
                      ...)
{
        char message[1024];
        va_list ap;
        json_t *err;

        char hint_text[512];

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        /* Messages echo request input, which may be any bytes; a cut may also split a character. */
        utf8_sanitize(message);
        strlcpy0(hint_text, hint ? hint : "", sizeof(hint_text));
        utf8_sanitize(hint_text);
        err = json_pack("{s:s, s:s}", "code", code, "message", message);
        if (*hint_text)
                json_object_set_new(err, "hint", json_string(hint_text));
        if (status == 503)
                http_add_header(req, "Retry-After", "1");
        /* Our failures, not the client's (a 505 is its HTTP version). */
        if (status >= 500 && status != 505) {
                char fields[256] = "";
                log_field(fields, sizeof(fields), "request_id", req->id);
                log_field(fields, sizeof(fields), "path", request_path(req));
                log_event(LOG_LEVEL_WARNING, "http_error", fields, "%u %s: %s", status, code, message);
        }
        http_reply_json(req, status, json_pack("{s:o}", "error", err));
}

void http_reply_errno(Request *req, const Error *e)
{
        http_reply_error(req, http_status_for_errno(e->errnum),
                         *e->code ? e->code : error_code_for_errno(e->errnum), e->hint, "%s", e->message);
}

void http_reply_stream(Request *req, unsigned status, const char *content_type, HttpStreamRead read,
                       void *ctx, void (*free_ctx)(void *ctx))
{
        if (req->replied) {
                if (free_ctx)
                        free_ctx(ctx);
                return;
        }
        if (!http_site_stream_acquire(req->site)) {
                if (free_ctx)
                        free_ctx(ctx);
                http_reply_error(req, 503, "too_many_streams",
                                 "Close another stream (a followed /logs) first.",
                                 "Too many streamed replies are running at once");
                return;
        }
        reply_begin(req, status, content_type);
        req->stream_read = read;
        req->stream_ctx = ctx;
        req->stream_free = free_ctx;
}

/* ---- dispatch ----------------------------------------------------------- */

/* How many Host headers the head has: two are a 400 on HTTP/1.0 too (which one would we check?). */
static unsigned count_host(const Request *req)
{
        unsigned n = 0;

        for (size_t i = 0; i < req->head.n_headers; i++)
                if (strcasecmp(req->head.headers[i].name, "Host") == 0)
                        n++;
        return n;
}

/*
 * Host, Origin and token checks (access.h) for the route that answers the
 * path (for a preflight, the one of the method it asks about; NULL for an
 * unknown path, which is then checked as a data read).  True when the
 * request may proceed, false when a reply was queued.  Its CORS headers are
 * kept in req->access for every reply that follows.
 */
static bool access_allowed_or_reply(Request *req, const Route *route)
{
        const char *method = request_method(req);
        const char *preflight =
                streq(method, "OPTIONS") ? request_header(req, "Access-Control-Request-Method") : NULL;
        AccessRequest ar = {
                .method = method,
                .host = request_header(req, "Host"),
                .origin = request_header(req, "Origin"),
                .authorization = request_header(req, "Authorization"),
                .preflight_method = preflight,
                .http11 = req->head.version_minor >= 1,
                .host_repeated = count_host(req) > 1,
                .auth = route ? route->auth : ROUTE_AUTH_READ,
                .cors = route ? route->cors : ROUTE_CORS_PRIVATE,
        };
        AccessVerdict *v = &req->access;

        access_check(request_daemon(req)->access, &ar, v);
        if (v->status == 0)
                return true;
        if (v->preflight) {
                http_add_header(req, "Access-Control-Allow-Methods", v->allow_methods);
                http_add_header(req, "Access-Control-Allow-Headers", ACCESS_ALLOW_HEADERS);
                http_add_header(req, "Access-Control-Max-Age", ACCESS_MAX_AGE);
                http_reply_text(req, 204, NULL, "", 0);
                return false;
        }
        if (v->www_authenticate)
                http_add_header(req, "WWW-Authenticate", ACCESS_WWW_AUTHENTICATE);
        http_reply_error(req, v->status, v->code, v->hint, "%s", v->message);
        return false;
}

bool http_request_upload_allowed(Request *req, const Route *route)
{
        AccessRequest ar = {
                .method = request_method(req),
                .host = request_header(req, "Host"),
                .origin = request_header(req, "Origin"),
                .authorization = request_header(req, "Authorization"),
                .http11 = req->head.version_minor >= 1,
                .host_repeated = count_host(req) > 1,
                .auth = route->auth,
                .cors = route->cors,
        };

        access_check(request_daemon(req)->access, &ar, &req->access);
        return req->access.status == 0;
}

static void append_allow(char *allow, size_t size, const char *method)
{
        const char *m = streq(method, "GET") ? "GET, HEAD" : method;

        snprintf(allow + strlen(allow), size - strlen(allow), "%s%s", *allow ? ", " : "", m);
}

static void path_params_clear(Request *req)
{
        for (size_t i = 0; i < req->n_path_params; i++)
                free(req->path_params[i].value);
        req->n_path_params = 0;
}

/*
 * Whether path fits pattern segment by segment; "{key}" matches one non-empty
 * segment, of any length (the handler validates it).  On a match the
 * segments replace req->path_params; otherwise req is left as it was.
 */
static bool route_matches(const char *pattern, const char *path, Request *req)
{
        const char *seg[HTTP_MAX_PATH_PARAMS], *key[HTTP_MAX_PATH_PARAMS];
        size_t seglen[HTTP_MAX_PATH_PARAMS], keylen[HTTP_MAX_PATH_PARAMS], n = 0;

        if (!strchr(pattern, '{'))
                return streq(pattern, path);
        while (*pattern && *path) {
                if (*pattern != '/' || *path != '/')
                        return false;
                pattern++;
                path++;
                size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
                if (pattern[0] == '{' && plen > 2 && pattern[plen - 1] == '}') {
                        if (len == 0 || n == HTTP_MAX_PATH_PARAMS ||
                            plen - 2 >= sizeof(req->path_params[0].key))
                                return false;
                        key[n] = pattern + 1;
                        keylen[n] = plen - 2;
                        seg[n] = path;
                        seglen[n] = len;
                        n++;
                } else if (plen != len || strncmp(pattern, path, len) != 0)
                        return false;
                pattern += plen;
                path += len;
        }
        if (*pattern || *path)
                return false;
        path_params_clear(req);
        for (size_t i = 0; i < n; i++) {
                memcpy(req->path_params[i].key, key[i], keylen[i]);
                req->path_params[i].key[keylen[i]] = '\0';
                req->path_params[i].value = strndup(seg[i], seglen[i]);
                if (!req->path_params[i].value)
                        abort();
        }
        req->n_path_params = n;
        return true;
}

const char *request_path_param(const Request *req, const char *key)
{
        for (size_t i = 0; i < req->n_path_params; i++)
                if (streq(req->path_params[i].key, key))
                        return req->path_params[i].value;
        return NULL;
}

/* "Endpoints: /health, /schema, ... (GET / lists them)." from the table. */
static void endpoints_hint(Request *req, char *buf, size_t size)
{
        size_t n;
        const Route *routes = request_routes(req, &n);

        strlcpy0(buf, "Endpoints: ", size);
        for (size_t i = 0, shown = 0; i < n; i++) {
                bool seen = streq(routes[i].path, "/");
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(routes[j].path, routes[i].path);
                if (!seen)
                        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", shown++ ? ", " : "",
                                 routes[i].path);
        }
        snprintf(buf + strlen(buf), size - strlen(buf), " (GET / lists them).");
}

static void dispatch(Request *req)
{
        const char *method = request_method(req), *path = request_path(req);
        const char *preflight =
                streq(method, "OPTIONS") ? request_header(req, "Access-Control-Request-Method") : NULL;
        const Route *match = NULL, *any = NULL, *asked = NULL;
        char allow[64] = "", hint[512];
        size_t n;
        const Route *routes = request_routes(req, &n);

        for (size_t i = 0; i < n; i++) {
                const Route *r = &routes[i];
                if (!route_matches(r->path, path, req))
                        continue;
                any = r;
                append_allow(allow, sizeof(allow), r->method);
                if (streq(r->method, method) || (streq(r->method, "GET") && streq(method, "HEAD")))
                        match = r;
                if (preflight &&
                    (streq(r->method, preflight) || (streq(r->method, "GET") && streq(preflight, "HEAD"))))
                        asked = r;
        }
        /* The CORS class is the path's, whichever method was asked. */
        req->route = match ? match : any;
        /* Before anything else, 404s included: a page on a foreign origin or Host learns nothing. */
        if (!access_allowed_or_reply(req, preflight ? (asked ? asked : any) : req->route))
                return;
        if (!any) {
                endpoints_hint(req, hint, sizeof(hint));
                http_reply_error(req, 404, "not_found", hint, "No endpoint at %s", path);
                return;
        }
        snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), ", OPTIONS");
        if (streq(method, "OPTIONS")) {
                http_add_header(req, "Allow", allow);
                http_reply_text(req, 204, NULL, "", 0);
                return;
        }
        if (!match) {
                http_add_header(req, "Allow", allow);
                http_reply_error(req, 405, "method_not_allowed", NULL,
                                 "%s is not allowed on %s; allowed: %s", method, path, allow);
                return;
        }
        match->handler(req);
}

void http_request_run(Request *req)
{
        if (req->resumed && req->route)
                req->route->handler(req);
        else
                dispatch(req);
        if (!req->replied && !req->suspend_asked)
                http_reply_error(req, 500, "internal", NULL, "The handler for %s sent no reply",
                                 request_path(req));
}

static int64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void http_request_prepare(Request *req)
{
        const char *given = request_header(req, "X-Request-Id");
        bool ok = given && *given && strlen(given) < sizeof(req->id);

        req->start_mono = now_mono_ms();
        req->start_mono_us = mono_us();
        for (const char *p = given; ok && *p; p++)
                ok = isalnum((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.';
        if (ok)
                strlcpy0(req->id, given, sizeof(req->id));
        else
                snprintf(req->id, sizeof(req->id), "%016llx",
                         (unsigned long long) http_site_next_id(req->site));
        if (req->head_ok && req->head.path) {
                /* "/health/" is "/health". */
                size_t n = strlen(req->head.path);
                req->path = xstrdup(req->head.path);
                if (n > 1 && req->path[n - 1] == '/')
                        req->path[n - 1] = '\0';
        }
}

void http_request_refuse(Request *req, const HttpParseError *err)
{
        http_reply_error(req, err->status, err->code, err->hint, "%s", err->message);
}

void http_request_finished(Request *req, bool gone)
{
        char fields[512] = "", num[32];
        bool quiet;

        /* From the complete request head until the reply was handed to the socket, as the access log's
         * duration_ms. */
        metrics_http_request(request_daemon(req)->metrics, req->route ? req->route->path : NULL, req->status,
                             req->start_mono_us ? mono_us() - req->start_mono_us : 0);
        /* Probes and scrapes arrive every second: keep them out of the info log. */
        quiet = (req->route && req->route->cors == ROUTE_CORS_PUBLIC) || streq(request_method(req), "HEAD");
        if (quiet && log_get_level() > LOG_LEVEL_DEBUG)
                return; /* not printed: do not format it either (probes come by the thousand) */
        log_field(fields, sizeof(fields), "method", request_method(req));
        log_field(fields, sizeof(fields), "path", request_path(req));
        snprintf(num, sizeof(num), "%u", req->status);
        log_field(fields, sizeof(fields), "status", num);
        snprintf(num, sizeof(num), "%lld", (long long) (now_mono_ms() - req->start_mono));
        log_field(fields, sizeof(fields), "duration_ms", num);
        log_field(fields, sizeof(fields), "request_id", req->id);
        if (gone)
                log_field(fields, sizeof(fields), "client", "gone");
        log_event(quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "http", fields, "%s", "");
}

uint64_t request_body_length(const Request *req)
{
        return req->body_spooled ? req->head.content_length : 0;
}

int request_body_fd(const Request *req)
{
        return req->body_spooled ? req->body_fd : -1;
}

void http_request_free(Request *req)
{
        if (!req)
                return;
        if (req->body_spooled)
                close(req->body_fd);
        if (req->stream_free)
                req->stream_free(req->stream_ctx);
        if (req->userdata_free)
                req->userdata_free(req->userdata);
        http_params_free(req->params, req->n_params);
        path_params_clear(req);
        buffer_free(&req->headers);
        free(req->body);
        free(req->path);
        free(req->head_buf);
        free(req);
}

bool etag_matches(const char *if_none_match, const char *etag)
{
        size_t elen = strlen(etag);
        const char *p = if_none_match;

        if (!p)
                return false;
        for (;;) {
                p += strspn(p, " \t,");
                if (!*p)
                        return false;
                if (*p == '*')
                        return true;
                if (startswith(p, "W/"))
                        p += 2;
                if (*p == '"') {
                        const char *end = strchr(p + 1, '"');

                        if (!end)
                                return false;
                        if ((size_t) (end + 1 - p) == elen && memcmp(p, etag, elen) == 0)
                                return true;
                        p = end + 1;
                }
                /* Skip whatever else is in this element (garbage, or nothing). */
                p += strcspn(p, ",");
        }
}
