/* SPDX-License-Identifier: MIT */
/* api-clones.c -- POST/GET /clones, DELETE /clones/NAME, POST /clones/NAME/reset: leased databases for
 * tests. */

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "api.h"
#include "clones.h"
#include "config.h"
#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "supervisor.h"
#include "util.h"

#define LEASE_TIMEOUT_S 30 /* default wait for a clone when the pool is empty; ?timeout=S */

static void log_clone(Request *req, const char *event, const char *name, const Error *e)
{
        char fields[256] = "";

        log_field(fields, sizeof(fields), "name", name);
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        if (e) {
                log_field(fields, sizeof(fields), "error", e->code);
                log_event(LOG_LEVEL_WARNING, event, fields, "%s", e->message);
        } else
                log_event(LOG_LEVEL_INFO, event, fields, "%s", "");
}

/* The pool answers only while the server is up and seeded; otherwise a clear 503. */
static bool clones_available_or_reply(Request *req)
{
        Daemon *d = request_daemon(req);
        SupSnapshot snap;
        bool ok;

        supervisor_snapshot(d->supervisor, &snap);
        ok = snap.state == SUP_READY || snap.state == SUP_RESETTING;
        if (!ok)
                http_reply_error(req, 503, "not_ready", "Wait until /health is 200: `pgseedctl wait`.",
                                 "The database is %s: %s", sup_state_to_string(snap.state), snap.reason);
        sup_snapshot_done(&snap);
        return ok;
}

/*
 * A request parked until a clone is ready (or its ?timeout passes): the
 * wait's state between the handler's calls.
 */
typedef struct LeaseWait {
        ClonesWaiter *waiter;
        const char *reset_name; /* POST /clones/NAME/reset (the request's path segment); NULL: a lease */
        int64_t ttl_s, timeout_ms;
        int64_t deadline_mono, started_mono;
} LeaseWait;

static void lease_wait_free(void *p)
{
        LeaseWait *lw = p;

        clones_waiter_free(lw->waiter);
        free(lw);
}

static void resume_request(void *userdata)
{
        request_resume(userdata);
}

/*
 * Tries once more to take a ready clone: true when a reply was queued (the
 * lease, or an error other than an empty pool, or the empty pool once the
 * deadline passed), false when the request should wait on.
 */
static bool lease_try_or_reply(Request *req, LeaseWait *lw)
{
        Daemon *d = request_daemon(req);
        Error e = ERROR_INIT;
        json_t *lease = NULL;

        if (atomic_load(&d->stopping)) {
                http_reply_error(req, 503, "shutting_down", "Retry once pgseedd is back.",
                                 "pgseedd is shutting down");
                return true;
        }
        const char *event = lw->reset_name ? "clone_reset" : "clone_lease";
        int r = lw->reset_name ? clones_reset(d->clones, lw->reset_name, 0, &lease, &e)
                               : clones_lease(d->clones, lw->ttl_s, 0, &lease, &e);
        if (r == 0) {
                json_object_set_new(lease, "wait_ms", json_integer(now_mono_ms() - lw->started_mono));
                if (lw->reset_name)
                        json_object_set_new(lease, "duration_ms",
                                            json_integer(now_mono_ms() - lw->started_mono));
                log_clone(req, event, json_string_value(json_object_get(lease, "name")), NULL);
                http_reply_json(req, lw->reset_name ? 200 : 201, lease);
                return true;
        }
        if (!streq(e.code, "pool_empty") || now_mono_ms() >= lw->deadline_mono) {
                if (streq(e.code, "pool_empty"))
                        error_set(&e, EAGAIN, "pool_empty",
                                  "Retry, or wait longer with ?timeout=S; a bigger [clones] pool keeps more "
                                  "ready.",
                                  "No clone became ready within %lld ms", (long long) lw->timeout_ms);
                log_clone(req, event, lw->reset_name, &e);
                http_reply_errno(req, &e);
                return true;
        }
        return false;
}

/*
 * Leases a ready clone at once, or parks the request until one is ready (the
 * pool refills on the lifecycle worker) or ?timeout passes (503 pool_empty
 * with Retry-After): waiting requests hold no HTTP worker.
 */
void api_clones_lease(Request *req)
{
        Daemon *d = request_daemon(req);
        _cleanup_free_ LeaseWait *fresh = NULL;
        LeaseWait *lw;
        int64_t ttl_s, timeout_s;

        const char *from = request_query(req, "from");

        if (request_resumed(req) && from) {
                api_snapshot_job_resumed(req, "clone_lease", from, 201);
                return;
        }
        if (request_resumed(req)) {
                lw = request_userdata(req);
                clones_waiter_free(TAKE_PTR(lw->waiter));
        } else {
                if (!request_query_allow(req, NULL) ||
                    !request_query_int(req, "ttl", d->config->clones_ttl, 1, 30 * 86400, &ttl_s) ||
                    !request_query_int(req, "timeout", LEASE_TIMEOUT_S, 0, 600, &timeout_s))
                        return;
                if (!clones_available_or_reply(req))
                        return;
                if (from) {
                        /* Not from the pool (it holds the seed's copies): one clone made on the worker. */
                        JobArgs args = {.op = SNAP_CLONE, .fd = -1, .ttl_s = ttl_s};

                        if (!api_snapshot_from_or_reply(req, from))
                                return;
                        strlcpy0(args.name, from, sizeof(args.name));
                        api_snapshot_job(req, JOB_SNAPSHOT, &args,
                                         timeout_s > 0 ? timeout_s : LEASE_TIMEOUT_S);
                        return;
                }
                lw = fresh = xcalloc(1, sizeof(LeaseWait));
                lw->ttl_s = ttl_s;
                lw->timeout_ms = timeout_s * 1000;
                lw->started_mono = now_mono_ms();
                lw->deadline_mono = lw->started_mono + lw->timeout_ms;
        }
        if (lease_try_or_reply(req, lw))
                return;
        if (fresh)
                request_set_userdata(req, TAKE_PTR(fresh), lease_wait_free);
        /* Safe although the notify may come at once: a resume is only acted on after this returns. */
        lw->waiter = clones_wait(d->clones, lw->deadline_mono - now_mono_ms(), resume_request, req);
        request_suspend(req);
}

void api_clones_list(Request *req)
{
        static const char *const allowed[] = {NULL};

        if (!request_query_allow(req, allowed))
                return;
        http_reply_json(req, 200, clones_list(request_daemon(req)->clones));
}

void api_clones_return(Request *req)
{
        static const char *const allowed[] = {NULL};
        const char *name = request_path_param(req, "name");
        Error e = ERROR_INIT;

        if (!request_query_allow(req, allowed))
                return;
        if (clones_return(request_daemon(req)->clones, name, &e) < 0) {
                http_reply_errno(req, &e);
                return;
        }
        log_clone(req, "clone_return", name, NULL);
        http_reply_json(req, 202, json_pack("{s:s, s:s}", "name", name, "status", "dropping"));
}

/* A fresh copy under the lease's name; parks like a lease while no ready copy is there. */
void api_clones_reset(Request *req)
{
        static const char *const allowed[] = {"timeout", NULL};
        Daemon *d = request_daemon(req);
        const char *name = request_path_param(req, "name");
        _cleanup_free_ LeaseWait *fresh = NULL;
        LeaseWait *lw;
        int64_t timeout_s;
        Error e = ERROR_INIT;

        if (request_resumed(req)) {
                lw = request_userdata(req);
                clones_waiter_free(TAKE_PTR(lw->waiter));
        } else {
                if (!request_query_allow(req, allowed) ||
                    !request_query_int(req, "timeout", LEASE_TIMEOUT_S, 0, 600, &timeout_s))
                        return;
                if (!clone_name_valid(d->clones, name)) {
                        /* Checked before the readiness so that a hostile name is always a 400. */
                        clones_return(d->clones, name, &e);
                        http_reply_errno(req, &e);
                        return;
                }
                if (!clones_available_or_reply(req))
                        return;
                lw = fresh = xcalloc(1, sizeof(LeaseWait));
                lw->reset_name = name;
                lw->timeout_ms = timeout_s * 1000;
                lw->started_mono = now_mono_ms();
                lw->deadline_mono = lw->started_mono + lw->timeout_ms;
        }
        if (lease_try_or_reply(req, lw))
                return;
        if (fresh)
                request_set_userdata(req, TAKE_PTR(fresh), lease_wait_free);
        lw->waiter = clones_wait(d->clones, lw->deadline_mono - now_mono_ms(), resume_request, req);
        request_suspend(req);
}
