/* SPDX-License-Identifier: MIT */
/* api-clones.c -- POST/GET /clones, DELETE /clones/NAME, POST /clones/NAME/reset: leased databases for
 * tests. */

#include <errno.h>
#include <stdio.h>

#include "api.h"
#include "clones.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "supervisor.h"

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

void api_clones_lease(Request *req)
{
        static const char *const allowed[] = {"ttl", "timeout", NULL};
        Daemon *d = request_daemon(req);
        int64_t ttl_s, timeout_s;
        Error e = ERROR_INIT;
        json_t *lease = NULL;

        if (!request_query_allow(req, allowed) ||
            !request_query_int(req, "ttl", d->config->clones_ttl, 1, 30 * 86400, &ttl_s) ||
            !request_query_int(req, "timeout", LEASE_TIMEOUT_S, 0, 600, &timeout_s))
                return;
        if (!clones_available_or_reply(req))
                return;
        if (clones_lease(d->clones, ttl_s, timeout_s * 1000, &lease, &e) < 0) {
                log_clone(req, "clone_lease", NULL, &e);
                http_reply_errno(req, &e);
                return;
        }
        log_clone(req, "clone_lease", json_string_value(json_object_get(lease, "name")), NULL);
        http_reply_json(req, 201, lease);
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

void api_clones_reset(Request *req)
{
        static const char *const allowed[] = {"timeout", NULL};
        const char *name = request_path_param(req, "name");
        int64_t timeout_s;
        Error e = ERROR_INIT;
        json_t *lease = NULL;

        if (!request_query_allow(req, allowed) ||
            !request_query_int(req, "timeout", LEASE_TIMEOUT_S, 0, 600, &timeout_s))
                return;
        if (!clone_name_valid(request_daemon(req)->clones, name)) {
                /* Checked before the readiness so that a hostile name is always a 400. */
                clones_return(request_daemon(req)->clones, name, &e);
                http_reply_errno(req, &e);
                return;
        }
        if (!clones_available_or_reply(req))
                return;
        if (clones_reset(request_daemon(req)->clones, name, timeout_s * 1000, &lease, &e) < 0) {
                log_clone(req, "clone_reset", name, &e);
                http_reply_errno(req, &e);
                return;
        }
        log_clone(req, "clone_reset", name, NULL);
        http_reply_json(req, 200, lease);
}
