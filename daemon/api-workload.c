/* SPDX-License-Identifier: MIT */
/* api-workload.c -- POST/GET/DELETE /workload: generated change traffic for CDC pipelines. */

#include <errno.h>
#include <stdio.h>

#include "api.h"
#include "daemon.h"
#include "log.h"
#include "supervisor.h"
#include "workload.h"

#define RATE_MAX 100000

void api_workload_start(Request *req)
{
        Daemon *d = request_daemon(req);
        WorkloadParams p = {0};
        int64_t duration_s, seed;
        const char *mix = request_query(req, "mix");
        Error e = ERROR_INIT;
        SupSnapshot snap;
        char fields[256] = "", num[32];

        if (!request_query_allow(req, NULL) || !request_query_int(req, "rate", 1000, 1, RATE_MAX, &p.rate) ||
            !request_query_int(req, "count", 0, 1, INT64_C(1000000000), &p.count) ||
            !request_query_int(req, "duration", 0, 1, 86400, &duration_s) ||
            !request_query_int(req, "seed", -1, 0, INT64_MAX, &seed))
                return;
        if (workload_parse_mix(mix ? mix : "60,30,10", p.mix, &e) < 0) {
                http_reply_errno(req, &e);
                return;
        }
        p.duration_ms = duration_s * 1000;
        /* No seed: one from the clock, reported, so that the run can be repeated. */
        p.seed = seed >= 0 ? (uint64_t) seed : (uint64_t) (now_real_ms() % 1000000000);
        supervisor_snapshot(d->supervisor, &snap);
        SupState state = snap.state;
        if (state != SUP_READY) {
                http_reply_error(req, state == SUP_RESETTING ? 409 : 503,
                                 state == SUP_RESETTING ? "reset_in_progress" : "not_ready",
                                 "Wait until /health is 200 and not resetting: `pgseedctl wait`.",
                                 "The database is %s: %s", sup_state_to_string(state), snap.reason);
                sup_snapshot_done(&snap);
                return;
        }
        sup_snapshot_done(&snap);
        /* Posting again changes the traffic: the running workload makes way for the new one. */
        if (workload_stop(d->workload, "replaced by POST /workload"))
                log_info("workload_stop", "Workload replaced by a new POST /workload");
        if (workload_start(d->workload, &p, &e) < 0) {
                http_reply_errno(req, &e);
                return;
        }
        snprintf(num, sizeof(num), "%lld", (long long) p.rate);
        log_field(fields, sizeof(fields), "rate", num);
        snprintf(num, sizeof(num), "%llu", (unsigned long long) p.seed);
        log_field(fields, sizeof(fields), "seed", num);
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        log_event(LOG_LEVEL_INFO, "workload_start", fields, "Workload started");
        http_reply_json(req, 202, workload_status(d->workload));
}

void api_workload_status(Request *req)
{
        if (!request_query_allow(req, NULL))
                return;
        http_reply_json(req, 200, workload_status(request_daemon(req)->workload));
}

/* Stops it and answers once its last transaction ended (at most one batch, a few ms). */
void api_workload_stop(Request *req)
{
        Daemon *d = request_daemon(req);

        if (!request_query_allow(req, NULL))
                return;
        if (workload_stop(d->workload, "DELETE /workload"))
                log_info("workload_stop", "Workload stopped by DELETE /workload");
        http_reply_json(req, 200, workload_status(d->workload));
}
