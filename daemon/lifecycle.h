/* SPDX-License-Identifier: MIT */
/* lifecycle.h -- the one worker that creates, drops, renames and rewrites databases, fed by a queue. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "seed.h"

typedef struct Lifecycle Lifecycle;
typedef struct Metrics Metrics;
typedef struct JobWaiter JobWaiter;

/*
 * What the worker runs.  Every operation that changes which databases exist
 * or what they hold goes through here, one at a time, so no two of them ever
 * race (a reset and a re-seed both dropping and cloning the working
 * database, say); HTTP handlers submit and wait, they never touch databases.
 */
typedef enum JobKind {
        JOB_ENSURE,   /* template complete and current, working database present and usable (repairs) */
        JOB_RESET,    /* restore the seeded state (mode in the job), or a snapshot's (args.name) */
        JOB_SNAPSHOT, /* a named snapshot's operation (args.op) */
        _JOB_KIND_MAX,
} JobKind;

/* What a JOB_SNAPSHOT does (snapshots.h). */
typedef enum SnapshotOp {
        SNAP_CREATE,  /* freeze the working database as snapshot args.name */
        SNAP_IMPORT,  /* restore the pg_dump archive read from args.fd into a new snapshot args.name */
        SNAP_DROP,    /* drop snapshot args.name */
        SNAP_CLONE,   /* lease a clone of snapshot args.name for args.ttl_s */
        SNAP_EXPORT,  /* a scratch copy of snapshot args.name that pg_dump can connect to */
        SNAP_RELEASE, /* drop the scratch copy args.name made by SNAP_EXPORT */
} SnapshotOp;

/*
 * A job's arguments beyond kind and mode.  The job owns fd (closed when the
 * job is freed; -1 for none).  A JOB_RESET with a name restores that
 * snapshot instead of the seeded state.
 */
typedef struct JobArgs {
        SnapshotOp op;
        char name[64];
        int64_t ttl_s;
        int fd;
} JobArgs;

const char *job_kind_to_string(JobKind k);

/*
 * The work itself, so that the queue and its rules can be tested without a
 * database.  seed.c provides the real one (lifecycle_seeder_ops()); every
 * function runs on the worker thread only and returns 0 or -errno with e
 * filled.  upkeep runs between jobs while the server is ready (preparing the
 * next reset's copy, dropping what resets set aside); it returns true when it
 * did something and should be called again soon.
 */
typedef struct LifecycleOps {
        int (*ensure)(void *ctx, Error *e);
        /* tables: NULL for every seeded table, else a comma-separated list (a partial reset) */
        int (*reset)(void *ctx, ResetMode mode, const char *tables, json_t **ret, Error *e);
        /* May be NULL (-EOPNOTSUPP): a JOB_SNAPSHOT, or a JOB_RESET from a snapshot (args->name). */
        int (*snapshot)(void *ctx, JobKind kind, const JobArgs *args, json_t **ret, Error *e);
        bool (*upkeep)(void *ctx);
        void (*cancel)(void *ctx); /* any thread: make a running ensure give up soon */
        /*
         * May be NULL.  Any thread, called when a job was queued while the worker
         * had none: cut a running upkeep step short when the job would otherwise
         * wait behind it (a CREATE DATABASE for the next spare, say) and can do
         * without it.  The step is redone after the job.
         */
        void (*preempt)(void *ctx, JobKind kind, ResetMode mode);
} LifecycleOps;

/* The operations backed by a Seeder (ctx = the Seeder). */
const LifecycleOps *lifecycle_seeder_ops(void);

/*
 * Called on the worker thread whenever a job starts or finishes, so the
 * supervisor can recompute its state and probe again.  May be NULL.
 */
typedef void (*LifecycleChanged)(void *userdata);

/* A stopped worker; ops and ctx are borrowed and must outlive it. */
Lifecycle *lifecycle_new(const LifecycleOps *ops, void *ctx, LifecycleChanged changed, void *userdata);
void lifecycle_free(Lifecycle *l);
/* Where reset outcomes and durations are counted (borrowed; NULL for none).  Before lifecycle_start. */
void lifecycle_set_metrics(Lifecycle *l, Metrics *m);

/*
 * Called on the worker thread as every reset job starts, before it touches
 * a database (the change workload is stopped there).  Before lifecycle_start.
 */
void lifecycle_set_reset_hook(Lifecycle *l, void (*hook)(void *userdata), void *userdata);

int lifecycle_start(Lifecycle *l, Error *e);
/* Cancels what is queued (-ECANCELED to its waiters), cancels the running job, joins the thread. */
void lifecycle_stop(Lifecycle *l);

/* Makes upkeep due now instead of at its next idle look (a clone was handed out, say).  Any thread. */
void lifecycle_kick(Lifecycle *l);

/* Whether upkeep may run between jobs (the supervisor allows it while the server is ready). */
void lifecycle_allow_upkeep(Lifecycle *l, bool allow);

/*
 * The job running now: true and its kind (and mode, for a reset) in the
 * out-parameters (each may be NULL), false when the worker is idle or only
 * doing upkeep.  *epoch increases whenever a job starts or finishes: a probe
 * that saw no job and the same epoch before and after looked at a database
 * nobody was changing.
 */
bool lifecycle_current(Lifecycle *l, JobKind *kind, ResetMode *mode, uint64_t *epoch);

/*
 * True (once) when a job failed since the last call in a way that may have
 * left the databases needing repair: the supervisor then has ensure run.
 */
bool lifecycle_take_repair(Lifecycle *l);
/* The same without clearing it: the state is not ready while a repair is pending. */
bool lifecycle_repair_pending(Lifecycle *l);

/*
 * Called exactly once per waiter, on the worker thread (job finished) or on
 * the thread calling lifecycle_expire() (deadline passed), never with the
 * lifecycle's lock held.  It must be quick: resuming an HTTP request, say.
 */
typedef void (*JobNotify)(void *userdata);

/*
 * Queues a job and returns a waiter for it (never NULL; free it with
 * job_waiter_free()).  A job of the same kind (and mode) that is queued or
 * already running is joined instead of queuing another: the waiter gets that
 * job's result, so concurrent resets coalesce.  timeout_ms > 0 bounds the
 * wait (see lifecycle_expire); 0 waits for ever.  notify may be NULL (then use
 * job_waiter_wait()).
 */
JobWaiter *lifecycle_submit(Lifecycle *l, JobKind kind, ResetMode mode, int64_t timeout_ms, JobNotify notify,
                            void *userdata);

/*
 * A reset of tables (NULL: all; else a canonical comma-separated list): as
 * lifecycle_submit, joined only with a reset of the same mode and tables.
 */
JobWaiter *lifecycle_submit_reset(Lifecycle *l, ResetMode mode, const char *tables, int64_t timeout_ms,
                                  JobNotify notify, void *userdata);

/*
 * The same with arguments (copied; their fd is the job's from now on).  A
 * JOB_RESET joins only a reset of the same mode and snapshot; a JOB_SNAPSHOT
 * never joins another.
 */
JobWaiter *lifecycle_submit_args(Lifecycle *l, JobKind kind, ResetMode mode, const JobArgs *args,
                                 int64_t timeout_ms, JobNotify notify, void *userdata);

/* Notifies waiters whose deadline passed (their result becomes -ETIMEDOUT).  Call periodically. */
void lifecycle_expire(Lifecycle *l);

/* Blocks until the waiter was notified. */
void job_waiter_wait(JobWaiter *w);

/*
 * The outcome, once notified: 0 with a new reference in *ret (may be NULL when
 * the job returns no JSON), -ETIMEDOUT when the waiter's deadline passed first
 * (the job goes on), or the job's -errno with e filled.  ret may be NULL.
 */
int job_waiter_result(JobWaiter *w, json_t **ret, Error *e);

/* True when the waiter's job was already running or queued when it was submitted. */
bool job_waiter_coalesced(const JobWaiter *w);

/* Detaches the waiter (its notify will not be called any more) and frees it; NULL is fine. */
void job_waiter_free(JobWaiter *w);
static inline void job_waiter_freep(JobWaiter **w)
{
        job_waiter_free(*w);
}
