/* SPDX-License-Identifier: MIT */
/* http.c -- libmicrohttpd glue: listening, routing, parameters, JSON replies and the access log. */

#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "jsonfmt.h"
#include "log.h"
#include "metrics.h"

#define MAX_HEADERS     8
#define MAX_PATH_PARAMS 2
#define MAX_BODY        (64 * 1024) /* no endpoint takes a body; refuse big ones rather than buffer them */

struct HttpServer {
        Daemon *daemon;
        struct MHD_Daemon *mhd;
        const Route *routes;
        size_t n_routes;
        atomic_ullong next_id;
        uint64_t id_salt;
};

struct Request {
        HttpServer *server;
        struct MHD_Connection *conn;
        char *method;
        char *path;
        char id[40];
        int64_t start_mono;
        size_t body_bytes;
        unsigned status;
        bool replied;
        enum MHD_Result result;
        struct {
                char *name, *value;
        } headers[MAX_HEADERS];
        size_t n_headers;
        struct {
                char key[32];
                char *value;
        } params[MAX_PATH_PARAMS];
        size_t n_params;
};

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
        if (listen(fd, 128) < 0) {
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
        return req->server->daemon;
}

const char *request_method(const Request *req)
{
        return req->method;
}

const char *request_path(const Request *req)
{
        return req->path;
}

const char *request_id(const Request *req)
{
        return req->id;
}

const char *request_header(Request *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int request_fd(Request *req)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        return ci ? ci->connect_fd : -1;
}

void request_disable_timeout(Request *req)
{
        MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned) 0);
}

const char *request_query(Request *req, const char *key)
{
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct AllowCheck {
        const char *const *allowed;
        const char *unknown;
        const char *bad; /* a key whose name or value holds a NUL byte or is not UTF-8 */
} AllowCheck;

/*
 * The sized iterator, because MHD's NUL-terminated view would silently cut
 * "?table=users%00junk" to "users".  Every parameter is checked here once,
 * so handlers and error messages only ever see clean UTF-8 text.
 */
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                 const char *value, size_t value_size)
{
        AllowCheck *c = cls;

        if (strlen(key) != key_size || !utf8_is_valid(key, key_size) ||
            (value && (strlen(value) != value_size || !utf8_is_valid(value, value_size)))) {
                c->bad = key;
                return MHD_NO;
        }
        for (const char *const *a = c->allowed; *a; a++)
                if (streq(*a, key))
                        return MHD_YES;
        c->unknown = key;
        return MHD_NO;
}

bool request_query_allow(Request *req, const char *const *allowed)
{
        AllowCheck c = {.allowed = allowed};
        char list[256] = "", name[64];

        MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &c);
        if (c.bad) {
                strlcpy0(name, c.bad, sizeof(name));
                utf8_sanitize(name);
                http_reply_error(req, 400, "invalid_parameter",
                                 "Parameters must be UTF-8 text without NUL bytes.",
                                 "Query parameter '%s' has a NUL byte or bytes that are not UTF-8", name);
                return false;
        }
        if (!c.unknown)
                return true;
        for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ",
                         *a);
        http_reply_error(req, 400, "unknown_parameter", *list ? "" : "This endpoint takes no parameters.",
                         "Unknown query parameter '%s'%s%s", c.unknown, *list ? "; accepted: " : "", list);
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

void http_add_header(Request *req, const char *name, const char *value)
{
        if (req->n_headers >= MAX_HEADERS)
                return;
        req->headers[req->n_headers].name = xstrdup(name);
        req->headers[req->n_headers].value = xstrdup(value);
        req->n_headers++;
}

static void queue(Request *req, unsigned status, struct MHD_Response *resp, const char *content_type)
{
        const Config *c = req->server->daemon->config;

        if (req->replied) {
                /* A handler bug; keep the first reply. */
                MHD_destroy_response(resp);
                return;
        }
        if (content_type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "X-Request-Id", req->id);
        /*
         * Browser dashboards on other origins may read health and metrics; the
         * data endpoints only for the origin configured, so that any web page
         * a developer visits cannot read their database through localhost.
         */
        if (streq(req->method, "GET") || streq(req->method, "HEAD")) {
                if (!isempty(c->cors_origin))
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN,
                                                c->cors_origin);
                else if (streq(req->path, "/health") || streq(req->path, "/metrics"))
                        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        }
        for (size_t i = 0; i < req->n_headers; i++)
                MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
        req->result = MHD_queue_response(req->conn, status, resp);
        MHD_destroy_response(resp);
        req->status = status;
        req->replied = true;
}

void http_reply_text(Request *req, unsigned status, const char *content_type, const char *body, size_t len)
{
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);

        queue(req, status, resp, content_type);
}

void http_reply_json(Request *req, unsigned status, json_t *body)
{
        struct MHD_Response *resp;
        char *text;
        size_t len;

        if (!body) {
                /* Only a bug gets here (jansson refuses invalid UTF-8 by returning NULL): never crash on it.
                 */
                static const char fallback[] = "{\"error\": {\"code\": \"internal\", \"message\": "
                                               "\"The reply could not be encoded as JSON\"}}\n";
                http_reply_text(req, 500, "application/json; charset=utf-8", fallback, sizeof(fallback) - 1);
                return;
        }
        text = json_format(body, &len);
        json_decref(body);
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        queue(req, status, resp, "application/json; charset=utf-8");
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
                return 503;
        case ETIMEDOUT:
                return 504;
        case ENOSPC:
                return 507;
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
        if (status >= 500) {
                char fields[256] = "";
                log_field(fields, sizeof(fields), "request_id", req->id);
                log_field(fields, sizeof(fields), "path", req->path);
                log_event(LOG_LEVEL_WARNING, "http_error", fields, "%u %s: %s", status, code, message);
        }
        http_reply_json(req, status, json_pack("{s:o}", "error", err));
}

void http_reply_errno(Request *req, const Error *e)
{
        http_reply_error(req, http_status_for_errno(e->errnum),
                         *e->code ? e->code : error_code_for_errno(e->errnum), e->hint, "%s", e->message);
}

typedef struct Stream {
        HttpStreamRead read;
        void *ctx;
        void (*free_ctx)(void *ctx);
} Stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        Stream *s = cls;
        ssize_t n = s->read(s->ctx, buf, max);

        return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
        Stream *s = cls;

        if (s->free_ctx)
                s->free_ctx(s->ctx);
        free(s);
}

void http_reply_stream(Request *req, unsigned status, const char *content_type, HttpStreamRead read,
                       void *ctx, void (*free_ctx)(void *ctx))
{
        Stream *s = xcalloc(1, sizeof(Stream));
        struct MHD_Response *resp;

        s->read = read;
        s->ctx = ctx;
        s->free_ctx = free_ctx;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s, stream_free);
        queue(req, status, resp, content_type);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Cross-site requests from a browser carry Origin; only loopback pages may POST (a reset is destructive). */
static bool origin_allowed(Request *req)
{
        const char *origin = request_header(req, "Origin");
        const Config *c = req->server->daemon->config;
        const char *host;

        if (!origin)
                return true;
        if (!isempty(c->cors_origin) && !streq(c->cors_origin, "*") && streq(origin, c->cors_origin))
                return true;
        host = startswith(origin, "http://");
        if (!host)
                return false;
        return startswith(host, "127.0.0.1") || startswith(host, "localhost") || startswith(host, "[::1]");
}

static void append_allow(char *allow, size_t size, const char *method)
{
        const char *m = streq(method, "GET") ? "GET, HEAD" : method;

        snprintf(allow + strlen(allow), size - strlen(allow), "%s%s", *allow ? ", " : "", m);
}

static void params_clear(Request *req)
{
        for (size_t i = 0; i < req->n_params; i++)
                free(req->params[i].value);
        req->n_params = 0;
}

/*
 * Whether path fits pattern segment by segment; "{key}" matches one non-empty
 * segment, of any length (the handler validates it).  On a match the
 * segments replace req->params; otherwise req is left as it was.
 */
static bool route_matches(const char *pattern, const char *path, Request *req)
{
        const char *seg[MAX_PATH_PARAMS], *key[MAX_PATH_PARAMS];
        size_t seglen[MAX_PATH_PARAMS], keylen[MAX_PATH_PARAMS], n = 0;

        if (!strchr(pattern, '{'))
                return streq(pattern, path);
        while (*pattern && *path) {
                if (*pattern != '/' || *path != '/')
                        return false;
                pattern++;
                path++;
                size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
                if (pattern[0] == '{' && plen > 2 && pattern[plen - 1] == '}') {
                        if (len == 0 || n == MAX_PATH_PARAMS || plen - 2 >= sizeof(req->params[0].key))
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
        params_clear(req);
        for (size_t i = 0; i < n; i++) {
                memcpy(req->params[i].key, key[i], keylen[i]);
                req->params[i].key[keylen[i]] = '\0';
                req->params[i].value = strndup(seg[i], seglen[i]);
                if (!req->params[i].value)
                        abort();
        }
        req->n_params = n;
        return true;
}

const char *request_path_param(const Request *req, const char *key)
{
        for (size_t i = 0; i < req->n_params; i++)
                if (streq(req->params[i].key, key))
                        return req->params[i].value;
        return NULL;
}

static void dispatch(HttpServer *s, Request *req)
{
        const Route *match = NULL;
        bool known = false;
        char allow[64] = "";

        for (size_t i = 0; i < s->n_routes; i++) {
                const Route *r = &s->routes[i];
                if (!route_matches(r->path, req->path, req))
                        continue;
                known = true;
                append_allow(allow, sizeof(allow), r->method);
                if (streq(r->method, req->method) || (streq(r->method, "GET") && streq(req->method, "HEAD")))
                        match = r;
        }
        if (!known) {
                http_reply_error(req, 404, "not_found",
                                 "Endpoints: /health, /schema, /sample, /reset, /clones, /logs, /metrics "
                                 "(GET / lists "
                                 "them).",
                                 "No endpoint at %s", req->path);
                return;
        }
        snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), ", OPTIONS");
        if (streq(req->method, "OPTIONS")) {
                http_add_header(req, MHD_HTTP_HEADER_ALLOW, allow);
                http_reply_text(req, 204, NULL, "", 0);
                return;
        }
        if (!match) {
                http_add_header(req, MHD_HTTP_HEADER_ALLOW, allow);
                http_reply_error(req, 405, "method_not_allowed", NULL,
                                 "%s is not allowed on %s; allowed: %s", req->method, req->path, allow);
                return;
        }
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD") && !origin_allowed(req)) {
                http_reply_error(req, 403, "cross_origin",
                                 "Send it from the command line (pgseedctl, curl) or set "
                                 "cors_origin to your dashboard's origin.",
                                 "%s from origin '%s' refused", req->method, request_header(req, "Origin"));
                return;
        }
        if (req->body_bytes > MAX_BODY) {
                http_reply_error(req, 413, "body_too_large", "Pass parameters in the query string.",
                                 "Request body of %zu bytes refused; no endpoint takes a body",
                                 req->body_bytes);
                return;
        }
        match->handler(req);
        if (!req->replied)
                http_reply_error(req, 500, "internal", NULL, "The handler for %s sent no reply", req->path);
}

static void request_id_init(HttpServer *s, Request *req)
{
        const char *given = request_header(req, "X-Request-Id");
        bool ok = given && *given && strlen(given) < sizeof(req->id);

        for (const char *p = given; ok && *p; p++)
                ok = isalnum((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.';
        if (ok)
                strlcpy0(req->id, given, sizeof(req->id));
        else
                snprintf(req->id, sizeof(req->id), "%016llx",
                         (unsigned long long) (s->id_salt ^
                                               (atomic_fetch_add(&s->next_id, 1) * 0x9e3779b97f4a7c15ULL)));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
        HttpServer *s = cls;
        Request *req = *con_cls;

        if (!req) {
                size_t n;
                req = xcalloc(1, sizeof(Request));
                req->server = s;
                req->conn = conn;
                req->method = xstrdup(method);
                req->path = xstrdup(url);
                /* "/health/" is "/health". */
                n = strlen(req->path);
                if (n > 1 && req->path[n - 1] == '/')
                        req->path[n - 1] = '\0';
                req->start_mono = now_mono_ms();
                request_id_init(s, req);
                *con_cls = req;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                req->body_bytes += *upload_data_size;
                *upload_data_size = 0;
                return MHD_YES;
        }
        dispatch(s, req);
        return req->result;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        HttpServer *s = cls;
        Request *req = *con_cls;
        char fields[512] = "", num[32];
        bool quiet;

        if (!req)
                return;
        metrics_http(s->daemon->metrics, req->status);
        /* Probes and scrapes arrive every second: keep them out of the info log. */
        quiet = streq(req->path, "/health") || streq(req->path, "/metrics") || streq(req->method, "HEAD");
        log_field(fields, sizeof(fields), "method", req->method);
        log_field(fields, sizeof(fields), "path", req->path);
        snprintf(num, sizeof(num), "%u", req->status);
        log_field(fields, sizeof(fields), "status", num);
        snprintf(num, sizeof(num), "%lld", (long long) (now_mono_ms() - req->start_mono));
        log_field(fields, sizeof(fields), "duration_ms", num);
        log_field(fields, sizeof(fields), "request_id", req->id);
        log_event(quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "http", fields, "%s", "");

        for (size_t i = 0; i < req->n_headers; i++) {
                free(req->headers[i].name);
                free(req->headers[i].value);
        }
        params_clear(req);
        free(req->method);
        free(req->path);
        free(req);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        log_debug("mhd", "%s", msg);
}

int http_server_start(Daemon *d, const Route *routes, size_t n_routes, int fd, HttpServer **ret, Error *e)
{
        HttpServer *s = xcalloc(1, sizeof(HttpServer));

        s->daemon = d;
        s->routes = routes;
        s->n_routes = n_routes;
        s->id_salt = (uint64_t) now_real_ms() * 2654435761u ^ (uint64_t) getpid();
        s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC,
                                  0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned) 512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 60,
                                  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
        if (!s->mhd) {
                free(s);
                return error_set(e, EIO, NULL, NULL, "libmicrohttpd could not start serving the API");
        }
        *ret = s;
        return 0;
}

void http_server_stop(HttpServer *s)
{
        if (!s)
                return;
        /* Quiescing hands the listening socket back to us; close it so the port is free at once. */
        int fd = MHD_quiesce_daemon(s->mhd);
        MHD_stop_daemon(s->mhd);
        if (fd >= 0)
                close(fd);
        free(s);
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
