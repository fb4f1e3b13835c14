/* SPDX-License-Identifier: MIT */
/* http.h -- the HTTP API: listening, a route table, request accessors and JSON replies. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "access.h"
#include "error.h"

typedef struct Config Config;
typedef struct Daemon Daemon;
typedef struct HttpServer HttpServer;
typedef struct Request Request;

/*
 * A handler runs on one of the server's worker threads and must queue exactly
 * one reply through one of the http_reply_*() functions, or suspend the
 * request (request_suspend) and reply when it is resumed.  It may block (on
 * Postgres) for a while, but a wait for something slow belongs in a suspend.
 */
typedef void (*HttpHandler)(Request *req);

/* RouteAuth (who may call a route) and RouteCors (which origins may read it) are access.h's. */

/* The type of a query parameter, as OpenAPI names it. */
typedef enum ParamType {
        PARAM_STRING,
        PARAM_INTEGER,
        PARAM_BOOLEAN, /* 1/0, true/false, yes/no; "?key" alone means true */
        PARAM_ENUM,    /* one of choices */
} ParamType;

/* One query parameter a route takes; a route's list ends with {NULL}. */
typedef struct RouteParam {
        const char *name;
        ParamType type;
        const char *description;
        const char *def;            /* the default as the handler applies it (text), or NULL */
        const char *const *choices; /* PARAM_ENUM: NULL-terminated */
        int64_t min, max;           /* PARAM_INTEGER: the range the handler accepts */
} RouteParam;

/*
 * One endpoint.  The table says everything once: GET / lists it from here,
 * the 404 hint names its path, and auth/cors drive access, CORS headers and
 * how loudly requests are logged.  ROUTE_AUTH_OPEN routes must be cheap
 * (they never wait for Postgres): they are served first, by a worker kept
 * for them, so that /health answers while other handlers are busy.
 */
typedef struct Route {
        const char *method; /* "GET" (which also answers HEAD), "POST" or "DELETE" */
        /*
         * The path, e.g. "/health"; a segment "{name}" matches any one non-empty
         * segment, which the handler reads with request_path_param().
         */
        const char *path;
        HttpHandler handler;
        RouteAuth auth;
        RouteCors cors;
        const char *summary;      /* one line for GET / */
        const RouteParam *params; /* query parameters, ending with {NULL}; NULL for none */
        const char *schema;       /* the 2xx JSON body's schema in GET /openapi.json (components), or NULL */
        const char *media;        /* the 2xx reply's media types, ", "-separated; NULL = application/json */
        /*
         * A probe: answered from memory without ever blocking or suspending;
         * answers 503 with the 2xx body's media when not ready (GET
         * /openapi.json documents that).
         */
        bool probe;
        unsigned status; /* the success status when not 200 (201 Created, 202 Accepted); 0 = 200 */
        /*
         * Bytes of request body it takes (spooled to an unlinked temporary file
         * before the handler runs: request_body_fd); 0 = none beyond the 64 KiB
         * that every route reads and ignores.
         */
        uint64_t max_body;
} Route;

/*
 * The listening socket: the one systemd passed (socket activation), or a new
 * one bound to the configured address.  -EADDRINUSE names the port and how to
 * find its owner.
 */
int http_listen(const Config *c, int *ret_fd, Error *e);

/*
 * Serves routes on fd (taken over): one event-loop thread owns every
 * connection (non-blocking; idle and slow clients cost a socket and a small
 * buffer, never a thread), a small fixed pool of workers runs the handlers,
 * which may block on Postgres.  Raises the soft RLIMIT_NOFILE to the hard
 * limit.  routes must outlive the server.  See http-server.c for the limits
 * and timeouts.
 */
int http_server_start(Daemon *d, const Route *routes, size_t n_routes, int fd, HttpServer **ret, Error *e);
/*
 * Closes the listening socket at once (the port is free when this returns),
 * ends streams and idle connections, lets running handlers finish and their
 * replies go out (bounded: 10 s), then frees everything.  NULL is fine.
 */
void http_server_stop(HttpServer *s);

/* ---- requests ----------------------------------------------------------- */

Daemon *request_daemon(const Request *req);
const char *request_method(const Request *req);
const char *request_path(const Request *req);
const char *request_id(const Request *req);
/* The first header called name (case-insensitive), or NULL. */
const char *request_header(Request *req, const char *name);
/* The route table being served (for GET / and hints). */
const Route *request_routes(const Request *req, size_t *ret_n);

/*
 * Parks req: the handler returns without replying, the worker is freed, the
 * connection stays open.  Exactly one later request_resume(req) (from any
 * thread) runs the route's handler again on a worker, with
 * request_resumed(req) true; that call must reply (or suspend again).  If the
 * client has gone away by then, the handler is not called again; the userdata
 * is freed either way.  req stays valid until it is resumed.
 */
void request_suspend(Request *req);
void request_resume(Request *req);
bool request_resumed(const Request *req);
/* Data for the handler's next call; free_fn (may be NULL) runs when it is replaced or req is freed. */
void request_set_userdata(Request *req, void *data, void (*free_fn)(void *data));
void *request_userdata(const Request *req);

/*
 * The request body of a route with max_body: its Content-Length (0 for none)
 * and a read/write descriptor of the file it was spooled to (-1 when none),
 * owned by the request (dup it to keep it beyond the request).
 */
uint64_t request_body_length(const Request *req);
int request_body_fd(const Request *req);

/* The path segment a "{key}" of the route matched, or NULL. */
const char *request_path_param(const Request *req, const char *key);

/* The decoded query value ("" for "?key" without '='), or NULL when absent; the first one wins. */
const char *request_query(Request *req, const char *key);

/*
 * Parameter checks that queue the 400 themselves: each returns true when the
 * request may proceed, false when a reply was queued and the handler should
 * just return.
 */
/* allowed: NULL-terminated names, or NULL for the matched route's params (the usual case). */
bool request_query_allow(Request *req, const char *const *allowed);
bool request_query_int(Request *req, const char *key, int64_t def, int64_t min, int64_t max, int64_t *ret);
bool request_query_bool(Request *req, const char *key, bool def, bool *ret);
bool request_query_enum(Request *req, const char *key, const char *const *choices, const char *def,
                        const char **ret);

/* ---- replies ------------------------------------------------------------ */

/* Adds a header to the reply that will be queued next. */
void http_add_header(Request *req, const char *name, const char *value);

/* Replies with body serialized as JSON (the reference is stolen). */
void http_reply_json(Request *req, unsigned status, json_t *body);
/* {"error": {"code", "message", "hint"}} with the given status. */
void http_reply_error(Request *req, unsigned status, const char *code, const char *hint, const char *fmt,
                      ...) _printf_(5, 6);
/* The same, with the status chosen from e->errnum (see error.h). */
void http_reply_errno(Request *req, const Error *e);
/* Maps an errno to the HTTP status http_reply_errno() uses. */
unsigned http_status_for_errno(int errnum);
void http_reply_text(Request *req, unsigned status, const char *content_type, const char *body, size_t len);

/*
 * A streamed body of unknown length, sent chunked (HTTP/1.1).  read() runs on
 * the event loop and must not block: it returns the bytes written to buf, 0
 * when nothing is available now (it is called again some 150 ms later), or -1
 * at the end.  The stream also ends when the client leaves or the server
 * stops; free_ctx runs once in every case.  At most 32 streams run at once:
 * beyond that the reply is 503 with Retry-After (and ctx is freed).
 */
typedef ssize_t (*HttpStreamRead)(void *ctx, char *buf, size_t max);
/* What read() returns when the body cannot be completed: the connection is cut without the last chunk. */
#define HTTP_STREAM_ABORT ((ssize_t) -2)
void http_reply_stream(Request *req, unsigned status, const char *content_type, HttpStreamRead read,
                       void *ctx, void (*free_ctx)(void *ctx));

/*
 * True when an If-None-Match header value matches etag (given quoted, as sent
 * in the ETag header): "*", or any entity tag in the comma-separated list,
 * compared weakly (W/ ignored), as RFC 9110 asks for If-None-Match.
 */
bool etag_matches(const char *if_none_match, const char *etag);
