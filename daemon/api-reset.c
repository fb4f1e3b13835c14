/* SPDX-License-Identifier: MIT */
/* api-reset.c -- POST /reset: restore the seeded state (template clone by default, or in place). */

#include <errno.h>
#include <stdio.h>

#include "api.h"
#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "seed.h"
#include "supervisor.h"
#include "util.h"

#define RESET_TIMEOUT_S  120 /* default bound on queueing plus running; ?timeout=S */
#define RESET_TABLES_MAX 64  /* names in ?tables= */

static bool name_char(char ch, bool first)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
               (!first && ((ch >= '0' && ch <= '9') || ch == '$'));
}

/* NAME or SCHEMA.NAME, each an unquoted identifier of at most 63 bytes. */
static bool table_name_valid(const char *s, size_t len)
{
        size_t part = 0, dots = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.') {
                        if (part == 0 || ++dots > 1)
                                return false;
                        part = 0;
                        continue;
                }
                if (!name_char(s[i], part == 0) || ++part > 63)
                        return false;
        }
        return part > 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * ?tables=a,b: checked for form here (the worker checks them against the
 * template), sorted and without repeats, so that equal requests coalesce.
 * Returns true with *ret NULL (absent) or a new canonical list; false when
 * a 400 was queued.
 */
static bool tables_param_or_reply(Request *req, char **ret)
{
        const char *v = request_query(req, "tables");
        char *names[RESET_TABLES_MAX], *out;
        size_t n = 0, len = 0;

        *ret = NULL;
        if (!v)
                return true;
        for (const char *p = v;; p++) {
                size_t l = strcspn(p, ",");

                if (!table_name_valid(p, l)) {
                        http_reply_error(req, 400, "bad_tables",
                                         "Give seeded table names separated by commas, e.g. "
                                         "?tables=comments,users (GET /schema lists them).",
                                         "tables=%.200s: \"%.*s\" is not a table name", v,
                                         (int) (l > 64 ? 64 : l), p);
                        goto fail;
                }
                if (n == RESET_TABLES_MAX) {
                        http_reply_error(req, 400, "bad_tables",
                                         "Reset every table instead: POST /reset without tables.",
                                         "tables= names more than %d tables", RESET_TABLES_MAX);
                        goto fail;
                }
                names[n++] = xasprintf("%.*s", (int) l, p);
                p += l;
                if (!*p)
                        break;
        }
        qsort(names, n, sizeof(char *), cmp_str);
        out = xstrdup("");
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && streq(names[i], names[i - 1]))
                        continue;
                char *next = xasprintf("%s%s%s", out, len ? "," : "", names[i]);
                free(out);
                out = next;
                len = strlen(out);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        *ret = out;
        return true;
fail:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        return false;
}

static void resume_request(void *userdata)
{
        request_resume(userdata);
}

static void waiter_free(void *w)
{
        job_waiter_free(w);
}

/* The second half, once the lifecycle worker has answered: one log line and the reply. */
static void reply_result(Request *req, JobWaiter *w)
{
        const char *mode = request_query(req, "mode");

        if (!mode)
                mode = request_query(req, "tables") ? "inplace" : "template";
        Error e = ERROR_INIT;
        json_t *result = NULL, *reply;
        char fields[256] = "", num[32];
        int r;

        log_field(fields, sizeof(fields), "mode", mode ? mode : "template");
        if (request_query(req, "from"))
                log_field(fields, sizeof(fields), "from", request_query(req, "from"));
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        if (job_waiter_coalesced(w))
                log_field(fields, sizeof(fields), "coalesced", "true");
        r = job_waiter_result(w, &result, &e);
        if (r < 0) {
                log_field(fields, sizeof(fields), "error", e.code);
                log_event(LOG_LEVEL_WARNING, "reset", fields, "Reset failed: %s", e.message);
                http_reply_errno(req, &e);
                return;
        }
        /* Coalesced requests share the job's result object: say so on a copy of it. */
        reply = json_deep_copy(result);
        json_decref(result);
        json_object_set_new(reply, "coalesced", json_boolean(job_waiter_coalesced(w)));
        snprintf(num, sizeof(num), "%lld",
                 (long long) json_integer_value(json_object_get(reply, "duration_ms")));
        log_field(fields, sizeof(fields), "duration_ms", num);
        log_field(fields, sizeof(fields), "strategy", json_string_value(json_object_get(reply, "strategy")));
        log_event(LOG_LEVEL_INFO, "reset", fields, "Reset done");
        http_reply_json(req, 200, reply);
}

/*
 * Submits the reset to the lifecycle worker and parks the request, so that
 * no HTTP worker waits for it; the worker's answer (or the ?timeout) resumes
 * it and reply_result() answers.
 */
void api_reset(Request *req)
{
        static const char *const modes[] = {"template", "inplace", NULL};
        Daemon *d = request_daemon(req);
        JobWaiter *w = NULL;
        _cleanup_free_ char *tables = NULL;
        const char *mode_name;
        int64_t timeout_s;
        Error e = ERROR_INIT;

        if (request_resumed(req)) {
                reply_result(req, request_userdata(req));
                return;
        }
        if (!request_query_allow(req, NULL) || !tables_param_or_reply(req, &tables) ||
            !request_query_enum(req, "mode", modes, tables ? "inplace" : "template", &mode_name) ||
            !request_query_int(req, "timeout", RESET_TIMEOUT_S, 1, 3600, &timeout_s))
                return;
        const char *from = request_query(req, "from");
        JobArgs args = {.fd = -1};
        if (from && tables) {
                http_reply_error(req, 400, "from_with_tables",
                                 "Restore the whole snapshot (drop ?tables), or reset those tables to the seed "
                                 "(drop ?from).",
                                 "?from=N restores a whole snapshot; it does not combine with ?tables");
                return;
        }
        if (from) {
                /* In place means restoring the seed's rows into the database; a snapshot is a database. */
                if (streq(mode_name, "inplace")) {
                        http_reply_error(
                                req, 400, "from_needs_template",
                                "Drop ?mode=inplace: a reset from a snapshot swaps in a copy of it.",
                                "?from=N restores a snapshot by template (mode=template) only");
                        return;
                }
                if (!api_snapshot_from_or_reply(req, from))
                        return;
                strlcpy0(args.name, from, sizeof(args.name));
        }
        ResetMode mode = streq(mode_name, "inplace") ? RESET_INPLACE : RESET_TEMPLATE;
        if ((from ? supervisor_submit_job(d->supervisor, JOB_RESET, mode, &args, timeout_s * 1000,
                                          resume_request, req, &w, &e)
                  : supervisor_submit_reset(d->supervisor, mode, tables, timeout_s * 1000, resume_request,
                                            req, &w, &e)) < 0) {
                log_warning("reset", "Reset refused: %s", e.message);
                metrics_reset_finished(d->metrics, mode_name, METRIC_RESET_REFUSED,
                                       *e.code ? e.code : error_code_for_errno(e.errnum), 0);
                http_reply_errno(req, &e);
                return;
        }
        /* Safe although the answer may already be in: a resume is only acted on after this returns. */
        request_set_userdata(req, w, waiter_free);
        request_suspend(req);
}
