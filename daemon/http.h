/* SPDX-License-Identifier: MIT */
/* http.h -- the HTTP API: libmicrohttpd set-up, a route table, request accessors and JSON replies. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct Config Config;
typedef struct Daemon Daemon;
typedef struct HttpServer HttpServer;
typedef struct Request Request;

/* A handler must queue exactly one reply through one of the http_reply_*() functions. */
typedef void (*HttpHandler)(Request *req);

typedef struct Route {
        const char *method; /* "GET" (which also answers HEAD), "POST" or "DELETE" */
        /*
         * The path, e.g. "/health"; a segment "{name}" matches any one non-empty
         * segment, which the handler reads with request_path_param().
         */
        const char *path;
        HttpHandler handler;
} Route;

/*
 * The listening socket: the one systemd passed (socket activation), or a new
 * one bound to the configured address.  -EADDRINUSE names the port and how to
 * find its owner.
 */
int http_listen(const Config *c, int *ret_fd, Error *e);

/*
 * Serves routes on fd (taken over) with a thread per connection, so a
 * handler may block (a reset, a followed log) without stalling others.
 */
int http_server_start(Daemon *d, const Route *routes, size_t n_routes, int fd, HttpServer **ret, Error *e);
/* Stops accepting, waits for running handlers (streams end when d->stopping is set), frees. */
void http_server_stop(HttpServer *s);

/* ---- requests ----------------------------------------------------------- */

Daemon *request_daemon(const Request *req);
const char *request_method(const Request *req);
const char *request_path(const Request *req);
const char *request_id(const Request *req);
const char *request_header(Request *req, const char *name);
/* The socket, to notice a client that went away during a long stream. */
int request_fd(Request *req);
/* Lets a long stream outlive the idle timeout. */
void request_disable_timeout(Request *req);

/* The path segment a "{key}" of the route matched, or NULL. */
const char *request_path_param(const Request *req, const char *key);

/* The decoded query value, or NULL when absent. */
const char *request_query(Request *req, const char *key);

/*
 * Parameter checks that queue the 400 themselves: each returns true when the
 * request may proceed, false when a reply was queued and the handler should
 * just return.
 */
bool request_query_allow(Request *req, const char *const *allowed); /* NULL-terminated names */
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
 * A streamed body of unknown length.  read() returns bytes written to buf, 0
 * when nothing is available yet (it is called again: block briefly inside),
 * or -1 at the end.  free_ctx runs when the response is done.
 */
typedef ssize_t (*HttpStreamRead)(void *ctx, char *buf, size_t max);
void http_reply_stream(Request *req, unsigned status, const char *content_type, HttpStreamRead read,
                       void *ctx, void (*free_ctx)(void *ctx));

/*
 * True when an If-None-Match header value matches etag (given quoted, as sent
 * in the ETag header): "*", or any entity tag in the comma-separated list,
 * compared weakly (W/ ignored), as RFC 9110 asks for If-None-Match.
 */
bool etag_matches(const char *if_none_match, const char *etag);
