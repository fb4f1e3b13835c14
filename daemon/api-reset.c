/* SPDX-License-Identifier: MIT */
/* api-reset.c -- POST /reset: restore the seeded state (template clone by default, or in place). */

#include <errno.h>
#include <stdio.h>

#include "api.h"
#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "seed.h"
#include "supervisor.h"

#define RESET_TIMEOUT_S 120 /* default bound on queueing plus running; ?timeout=S */

void api_reset(Request *req)
{
        static const char *const allowed[] = {"mode", "timeout", NULL};
        static const char *const modes[] = {"template", "inplace", NULL};
        Daemon *d = request_daemon(req);
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        const char *mode_name;
        ResetMode mode;
        int64_t timeout_s;
        Error e = ERROR_INIT;
        json_t *result = NULL;
        char fields[256] = "";
        int r;

        if (!request_query_allow(req, allowed) ||
            !request_query_enum(req, "mode", modes, "template", &mode_name) ||
            !request_query_int(req, "timeout", RESET_TIMEOUT_S, 1, 3600, &timeout_s))
                return;
        mode = streq(mode_name, "inplace") ? RESET_INPLACE : RESET_TEMPLATE;

        r = supervisor_submit_reset(d->supervisor, mode, timeout_s * 1000, NULL, NULL, &w, &e);
        if (r == 0) {
                job_waiter_wait(w);
                r = job_waiter_result(w, &result, &e);
        }

        log_field(fields, sizeof(fields), "mode", mode_name);
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        if (w && job_waiter_coalesced(w))
                log_field(fields, sizeof(fields), "coalesced", "true");
        if (r < 0) {
                log_field(fields, sizeof(fields), "error", e.code);
                log_event(LOG_LEVEL_WARNING, "reset", fields, "Reset failed: %s", e.message);
                http_reply_errno(req, &e);
                return;
        }
        /* Coalesced requests share the job's result object: say so on a copy of it. */
        json_t *reply = json_deep_copy(result);
        json_decref(result);
        result = reply;
        json_object_set_new(result, "coalesced", json_boolean(job_waiter_coalesced(w)));
        char num[32];
        snprintf(num, sizeof(num), "%lld",
                 (long long) json_integer_value(json_object_get(result, "duration_ms")));
        log_field(fields, sizeof(fields), "duration_ms", num);
        log_field(fields, sizeof(fields), "strategy",
                  json_string_value(json_object_get(result, "strategy")));
        log_event(LOG_LEVEL_INFO, "reset", fields, "Reset done");
        http_reply_json(req, 200, result);
}
