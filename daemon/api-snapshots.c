/* SPDX-License-Identifier: MIT */
/* api-snapshots.c -- POST/GET /snapshots, DELETE /snapshots/NAME, GET /snapshots/NAME/dump; ?from=N
 * elsewhere. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "clones.h"
#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "snapshots.h"
#include "supervisor.h"
#include "util.h"

#define SNAPSHOT_TIMEOUT_S 600  /* default bound on queueing plus running; ?timeout=S */
#define DUMP_FIRST_BYTE_MS 3000 /* how long a dump may take to say something before the reply starts */

static void log_snapshot(Request *req, const char *event, const char *name, const Error *e)
{
        char fields[256] = "";

        log_field(fields, sizeof(fields), "name", name);
        log_field(fields, sizeof(fields), "request_id", request_id(req));
        if (e) {
                log_field(fields, sizeof(fields), "error", e->code);
                log_event(LOG_LEVEL_WARNING, event, fields, "%s", e->message);
        } else
                log_event(LOG_LEVEL_INFO, event, fields, "%s", "done");
}

static void resume_request(void *userdata)
{
        request_resume(userdata);
}

/* A parked snapshot request's state: its waiter, and whether its answer reached the client. */
typedef struct SnapWait {
        JobWaiter *waiter;
        Daemon *d;
        SnapshotOp op;
        bool snapshot_job;
        bool answered;
} SnapWait;

static void release_scratch(Daemon *d, const char *scratch);

/*
 * When the client left before the job's answer reached it, what the job made
 * for it alone is undone: a scratch copy for a dump, a clone nobody knows the
 * name of.
 */
static void snap_wait_free(void *p)
{
        SnapWait *sw = p;
        json_t *result = NULL;
        Error e = ERROR_INIT;

        if (!sw)
                return;
        if (!sw->answered && sw->snapshot_job && job_waiter_result(sw->waiter, &result, &e) == 0) {
                const char *db = json_string_value(json_object_get(result, "database"));
                const char *clone = json_string_value(json_object_get(result, "name"));

                if (sw->op == SNAP_EXPORT && db)
                        release_scratch(sw->d, db);
                else if (sw->op == SNAP_CLONE && clone && sw->d->clones) {
                        log_info("snapshots", "The client left before its clone %s was handed out: returning it",
                                 clone);
                        clones_return(sw->d->clones, clone, &e);
                }
        }
        json_decref(result);
        job_waiter_free(sw->waiter);
        free(sw);
}

/* The name a request names: its {name} segment or ?name; a 400 queued (false) when it is not one. */
static bool name_or_reply(Request *req, const char *name)
{
        Daemon *d = request_daemon(req);
        Error e = ERROR_INIT;

        if (snapshot_name_check(d->snapshots, name, &e) < 0) {
                http_reply_errno(req, &e);
                return false;
        }
        return true;
}

bool api_snapshot_from_or_reply(Request *req, const char *from)
{
        Daemon *d = request_daemon(req);
        Error e = ERROR_INIT;

        if (!name_or_reply(req, from))
                return false;
        if (snapshots_lookup(d->snapshots, from, NULL, NULL, 0, &e) < 0) {
                http_reply_errno(req, &e);
                return false;
        }
        return true;
}

/*
 * Queues a snapshot job (or a reset from one) and parks the request; its
 * resumed call comes back through api_snapshot_job_resumed.  Takes args' fd.
 */
void api_snapshot_job(Request *req, int kind, JobArgs *args, int64_t timeout_s)
{
        Daemon *d = request_daemon(req);
        SnapWait *sw = xcalloc(1, sizeof(SnapWait));
        Error e = ERROR_INIT;

        sw->d = d;
        sw->op = args->op;
        sw->snapshot_job = kind == JOB_SNAPSHOT;
        if (supervisor_submit_job(d->supervisor, (JobKind) kind, RESET_TEMPLATE, args, timeout_s * 1000,
                                  resume_request, req, &sw->waiter, &e) < 0) {
                free(sw);
                log_snapshot(req, "snapshot", args->name, &e);
                http_reply_errno(req, &e);
                return;
        }
        request_set_userdata(req, sw, snap_wait_free);
        request_suspend(req);
}

/* The job's answer, once resumed: its result (a new reference; NULL after a reply was queued). */
static json_t *job_result_or_reply(Request *req, const char *event, const char *name)
{
        SnapWait *sw = request_userdata(req);
        json_t *result = NULL, *copy;
        Error e = ERROR_INIT;

        /* The answer is given now, whatever it is: nothing to undo when the request is freed. */
        sw->answered = true;
        if (job_waiter_result(sw->waiter, &result, &e) < 0) {
                log_snapshot(req, event, name, &e);
                http_reply_errno(req, &e);
                return NULL;
        }
        copy = result ? json_deep_copy(result) : json_object();
        json_decref(result);
        log_snapshot(req, event, name, NULL);
        return copy;
}

void api_snapshot_job_resumed(Request *req, const char *event, const char *name, unsigned status)
{
        json_t *result = job_result_or_reply(req, event, name);

        if (result)
                http_reply_json(req, status, result);
}

/* ---- the routes ------------------------------------------------------------------- */

void api_snapshots_list(Request *req)
{
        if (!request_query_allow(req, NULL))
                return;
        http_reply_json(req, 200, snapshots_list(request_daemon(req)->snapshots));
}

/*
 * POST /snapshots?name=N: without a body, freezes the working database's
 * state; with a pg_dump custom-format archive as the body, restores it.
 */
void api_snapshots_create(Request *req)
{
        const char *name = request_query(req, "name");
        JobArgs args = {.fd = -1};
        int64_t timeout_s;
        char made[40];

        if (!name) {
                /* No name given: one from the time, e.g. snap-20260102-150405-123 (UTC). */
                int64_t ms = now_real_ms();
                time_t t = (time_t) (ms / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                snprintf(made, sizeof(made), "snap-%04d%02d%02d-%02d%02d%02d-%03d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
                name = made;
        }

        if (request_resumed(req)) {
                api_snapshot_job_resumed(req, "snapshot_create", request_query(req, "name"), 201);
                return;
        }
        if (!request_query_allow(req, NULL) ||
            !request_query_int(req, "timeout", SNAPSHOT_TIMEOUT_S, 1, 3600, &timeout_s) ||
            !name_or_reply(req, name))
                return;
        if (snapshots_lookup(request_daemon(req)->snapshots, name, NULL, NULL, 0, &(Error) ERROR_INIT) ==
            0) {
                /* Known taken: said at once (the worker checks again, against the catalog too). */
                http_reply_error(req, 409, "snapshot_exists",
                                 "Choose another name, or DELETE /snapshots/NAME first.",
                                 "A snapshot named '%s' exists already", name);
                return;
        }
        strlcpy0(args.name, name, sizeof(args.name));
        args.op = SNAP_CREATE;
        if (request_body_length(req) > 0) {
                const char *type = request_header(req, "Content-Type");

                if (type && strncasecmp(type, "application/octet-stream", 24) != 0) {
                        http_reply_error(req, 415, "unsupported_media_type",
                                         "Send the archive as Content-Type: application/octet-stream.",
                                         "An archive body must be application/octet-stream, not %.60s",
                                         type);
                        return;
                }
                args.op = SNAP_IMPORT;
                args.fd = dup(request_body_fd(req));
                if (args.fd < 0) {
                        http_reply_error(req, 500, "internal", NULL, "dup: %s", strerror(errno));
                        return;
                }
        }
        api_snapshot_job(req, JOB_SNAPSHOT, &args, timeout_s);
}

void api_snapshots_delete(Request *req)
{
        const char *name = request_path_param(req, "name");
        JobArgs args = {.op = SNAP_DROP, .fd = -1};

        if (request_resumed(req)) {
                api_snapshot_job_resumed(req, "snapshot_delete", name, 200);
                return;
        }
        if (!request_query_allow(req, NULL) || !api_snapshot_from_or_reply(req, name))
                return;
        strlcpy0(args.name, name, sizeof(args.name));
        api_snapshot_job(req, JOB_SNAPSHOT, &args, SNAPSHOT_TIMEOUT_S);
}

/* ---- GET /snapshots/NAME/dump ------------------------------------------------------- */

typedef struct Dump {
        Daemon *d;
        pid_t pid;
        int fd, err_fd;
        char scratch[64];
        char name[64];
        bool failed;
} Dump;

/* The scratch copy goes on the worker's queue; nobody waits for it. */
static void release_scratch(Daemon *d, const char *scratch)
{
        JobArgs args = {.op = SNAP_RELEASE, .fd = -1};
        JobWaiter *w = NULL;
        Error e = ERROR_INIT;

        strlcpy0(args.name, scratch, sizeof(args.name));
        if (supervisor_submit_job(d->supervisor, JOB_SNAPSHOT, RESET_TEMPLATE, &args, 0, NULL, NULL, &w,
                                  &e) == 0)
                job_waiter_free(w);
        else
                log_warning("snapshots", "Cannot drop %s now (%s): the next start does", scratch, e.message);
}

static void dump_free(void *p)
{
        Dump *dp = p;
        int status;

        if (dp->fd >= 0)
                close(dp->fd);
        if (dp->pid > 0) {
                /* The client left early (or the server stops): pg_dump need not go on. */
                if (waitpid(dp->pid, &status, WNOHANG) == 0) {
                        kill(dp->pid, SIGTERM);
                        while (waitpid(dp->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        if (dp->err_fd >= 0)
                close(dp->err_fd);
        if (*dp->scratch)
                release_scratch(dp->d, dp->scratch);
        free(dp);
}

/* Once the pipe is at its end: whether pg_dump exited 0 (logs why not). */
static bool dump_reap(Dump *dp)
{
        int status = 0;
        char err[512];

        while (waitpid(dp->pid, &status, 0) < 0 && errno == EINTR)
                ;
        dp->pid = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return true;
        snapshots_dump_error(dp->err_fd, err, sizeof(err));
        log_warning("snapshots", "pg_dump of snapshot %s failed: %s", dp->name, *err ? err : "no message");
        return false;
}

static ssize_t dump_read(void *ctx, char *buf, size_t max)
{
        Dump *dp = ctx;
        ssize_t n = read(dp->fd, buf, max);

        if (n > 0)
                return n;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        /* The end: complete only when pg_dump says so; else the client must not take it for an archive. */
        return dump_reap(dp) ? -1 : HTTP_STREAM_ABORT;
}

void api_snapshots_dump(Request *req)
{
        Daemon *d = request_daemon(req);
        const char *name = request_path_param(req, "name");
        JobArgs args = {.op = SNAP_EXPORT, .fd = -1};
        Error e = ERROR_INIT;

        if (!request_resumed(req)) {
                if (!request_query_allow(req, NULL) || !api_snapshot_from_or_reply(req, name))
                        return;
                strlcpy0(args.name, name, sizeof(args.name));
                api_snapshot_job(req, JOB_SNAPSHOT, &args, SNAPSHOT_TIMEOUT_S);
                return;
        }

        json_auto_t *result = job_result_or_reply(req, "snapshot_export", name);
        if (!result)
                return;
        Dump *dp = xcalloc(1, sizeof(Dump));
        dp->d = d;
        dp->fd = dp->err_fd = -1;
        strlcpy0(dp->name, name, sizeof(dp->name));
        strlcpy0(dp->scratch, json_string_value(json_object_get(result, "database")) ?: "",
                 sizeof(dp->scratch));
        dp->pid = snapshots_dump_start(d->config, dp->scratch, &dp->fd, &dp->err_fd, &e);
        if (dp->pid < 0) {
                dp->pid = 0;
                dump_free(dp);
                http_reply_errno(req, &e);
                return;
        }
        /*
         * Wait (briefly) for pg_dump's first bytes or its end, so that a dump
         * that cannot even start (the server refused it, a pg_dump too old for
         * the server) is a clear error instead of a cut-off 200.
         */
        struct pollfd pfd = {.fd = dp->fd, .events = POLLIN};
        if (poll(&pfd, 1, DUMP_FIRST_BYTE_MS) > 0 && !(pfd.revents & POLLIN) && (pfd.revents & POLLHUP) &&
            !dump_reap(dp)) {
                char err[512];
                snapshots_dump_error(dp->err_fd, err, sizeof(err));
                dump_free(dp);
                http_reply_error(req, 500, "dump_failed", "The server log (GET /logs) may say more.",
                                 "pg_dump failed: %s", *err ? err : "no message");
                return;
        }
        {
                char disposition[160];
                snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.pgdump\"", name);
                http_add_header(req, "Content-Disposition", disposition);
        }
        http_reply_stream(req, 200, "application/octet-stream", dump_read, dp, dump_free);
}
