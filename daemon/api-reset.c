/* SPDX-License-Identifier: MIT */
/* api-reset.c -- POST /reset: restore the seeded state (template clone by default, or in place). */

#include <errno.h>
#include <stdio.h>

#include "api.h"
#include "daemon.h"
#include "log.h"
#include "seed.h"
#include "supervisor.h"

void api_reset(Request *req)
{
        static const char *const allowed[] = {"mode", NULL};
        static const char *const modes[] = {"template", "inplace", NULL};
        Daemon *d = request_daemon(req);
        const char *mode_name;
        ResetMode mode;
        Error e = ERROR_INIT;
        json_t *result = NULL;
        char fields[256] = "";
        int r;

        if (!request_query_allow(req, allowed) ||
            !request_query_enum(req, "mode", modes, "template", &mode_name))
                return;
        mode = streq(mode_name, "inplace") ? RESET_INPLACE : RESET_TEMPLATE;

        r = supervisor_begin_reset(d->supervisor, &e);
        if (r < 0) {
                http_reply_errno(req, &e);
                return;
        }
        r = seeder_reset(d->seeder, mode, &result, &e);
        /*
         * An in-place reset rolls back on failure, and a refused one (a slot,
         * a lock) changed nothing: only a failed template reset may have left
         * the working database missing, which the supervisor then repairs.
         */
        supervisor_end_reset(d->supervisor, r == 0 || mode == RESET_INPLACE || e.errnum == EBUSY, e.message);

        log_field(fields, sizeof(fields), "mode", mode_name);
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        if (r < 0) {
                log_field(fields, sizeof(fields), "error", e.code);
                log_event(LOG_LEVEL_WARNING, "reset", fields, "Reset failed: %s", e.message);
                http_reply_errno(req, &e);
                return;
        }
        char num[32];
        snprintf(num, sizeof(num), "%lld",
                 (long long) json_integer_value(json_object_get(result, "duration_ms")));
        log_field(fields, sizeof(fields), "duration_ms", num);
        log_field(fields, sizeof(fields), "strategy",
                  json_string_value(json_object_get(result, "strategy")));
        log_event(LOG_LEVEL_INFO, "reset", fields, "Reset done");
        http_reply_json(req, 200, result);
}
