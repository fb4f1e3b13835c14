/* SPDX-License-Identifier: MIT */
/* http-request.h -- one request as the transport (http-server.c) and the request layer (http.c) both
 * see it, what they share of a server (HttpSite), and what the transport asks of http.c.  Neither
 * .c calls back into the transport's internals: http-server.c -> http.c, both -> this file. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-parse.h"
#include "http.h"
#include "util.h"

/*
 * What every request of one server shares, and all that the request layer
 * (http.c) needs of the server: the daemon, the route table, request numbers
 * and the stream slots.  The server owns it and fills it before its first
 * request; its counters are atomic, for the workers.
 */
typedef struct HttpSite {
        Daemon *daemon;
        const Route *routes;
        size_t n_routes;
        uint64_t id_salt;
        atomic_ullong next_id;
        atomic_int streams; /* stream replies running; the server gives a slot back when one ends */
        int max_streams;
} HttpSite;

/* A fresh 64-bit request number, unique within this process. */
static inline uint64_t http_site_next_id(HttpSite *site)
{
        return site->id_salt ^ (atomic_fetch_add(&site->next_id, 1) * 0x9e3779b97f4a7c15ULL);
}

/* Takes one of the concurrent stream slots; false when all are taken (the caller replies 503). */
static inline bool http_site_stream_acquire(HttpSite *site)
{
        int n = atomic_load(&site->streams);

        while (n < site->max_streams)
                if (atomic_compare_exchange_weak(&site->streams, &n, n + 1))
                        return true;
        return false;
}

typedef struct Conn Conn;

/*
 * One request and its reply.  The event loop creates it from a parsed head,
 * a worker runs the handler on it (http_request_run), the loop frames and
 * sends what the handler queued and frees it.  Handlers see it only through
 * http.h.  Never touched by two threads at once: it is handed over through
 * the server's queues.
 */
#define HTTP_MAX_PATH_PARAMS 2

struct Request {
        HttpServer *server; /* the transport's, opaque here */
        HttpSite *site;
        Conn *conn; /* the event loop's; NULL for a request built without a connection */
        Request *qnext;
        const Route *route;   /* the matched route once dispatched */
        AccessVerdict access; /* what access_check() said; its CORS headers go on every reply */

        char *head_buf; /* the head's bytes; head and params point into or beside it */
        HttpHead head;
        bool head_ok; /* false for a refused head (method, path, headers may be missing) */
        char *path;   /* decoded, "/health/" made "/health" */
        struct {
                char key[32];
                char *value;
        } path_params[HTTP_MAX_PATH_PARAMS]; /* the "{key}" segments of the matched route */
        size_t n_path_params;
        HttpParam *params;
        size_t n_params;
        char id[40];
        int body_fd; /* a route with max_body: the spooled body (0 = none: the Request is zeroed) */
        bool body_spooled;
        int64_t start_mono;
        int64_t start_mono_us; /* for the latency histogram */

        /* The reply the handler queued. */
        bool replied;
        unsigned status;
        Buffer headers; /* "Name: value\r\n" lines beyond the framing ones the server adds */
        char *body;
        size_t body_len;
        HttpStreamRead stream_read;
        void *stream_ctx;
        void (*stream_free)(void *ctx);

        /* suspend/resume, under the server's lock */
        bool suspend_asked, parked, resume_pending, resumed;
        void *userdata;
        void (*userdata_free)(void *data);
};

/* ---- http.c, called by the server ------------------------------------- */

/* Fills the request id (the client's X-Request-Id when sane) and the path; on the event loop. */
void http_request_prepare(Request *req);
/* Runs the route (dispatch, or the handler again after a resume) on a worker; ends with a reply queued
 * unless the handler suspended. */
void http_request_run(Request *req);
/*
 * Whether req may send route a body at all (its token, Host and Origin), so
 * that nobody it would refuse can fill the disk first; the verdict is in
 * req->access.  On the event loop, before the body is read.
 */
bool http_request_upload_allowed(Request *req, const Route *route);
/* Queues the JSON error for a head the parser refused. */
void http_request_refuse(Request *req, const HttpParseError *err);
/* Access log and metrics once the reply is sent (or the client gone: gone is true). */
void http_request_finished(Request *req, bool gone);
/* Frees req with its reply, its stream and its userdata (NULL is fine). */
void http_request_free(Request *req);
