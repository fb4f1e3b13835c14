/* SPDX-License-Identifier: MIT */
/* supervisor.h -- the state machine that keeps Postgres up, probed and seeded. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "lifecycle.h"

typedef struct Daemon Daemon;
typedef struct Supervisor Supervisor;

/*
 * starting   the server was launched and does not accept connections yet
 * seeding    building the template / working database
 * ready      accepting connections and seeded: the only state /health calls healthy (also while a
 *            reset runs: the database serves throughout; SupSnapshot.resetting says so)
 * resetting  a reset runs while there is no usable database (e.g. behind a failed seeding)
 * degraded   the server runs but is not usable (probe or seeding failed); retried
 * down       the server is not running; restarted after a backoff
 * stopping   pgseedd is shutting down
 */
typedef enum SupState {
        SUP_STARTING,
        SUP_SEEDING,
        SUP_READY,
        SUP_RESETTING,
        SUP_DEGRADED,
        SUP_DOWN,
        SUP_STOPPING,
        _SUP_STATE_MAX,
} SupState;

const char *sup_state_to_string(SupState s);

/* A consistent copy of what /health reports, taken under the supervisor's lock. */
typedef struct SupSnapshot {
        SupState state;
        char reason[768];
        int64_t state_since_ms; /* realtime */
        int64_t checked_at_ms;  /* realtime of the last probe, 0 = never */
        int64_t ready_since_ms; /* realtime, 0 = not ready */
        unsigned restarts;      /* server restarts after crashes */
        char runtime_id[80];    /* "pid 123" / container ID */
        json_t *facts;          /* last successful probe (a reference: json_decref it), or NULL */
        bool resetting;         /* a reset job runs (the state stays ready while the database serves) */
        ResetMode reset_mode;
        int64_t reset_since_ms; /* realtime */
} SupSnapshot;

/*
 * What the supervisor depends on besides the runtime, replaceable so that the
 * state machine can be driven by a test with a fake clock, a fake probe and
 * fake lifecycle operations.  NULL members take the real ones.
 */
typedef struct SupervisorHooks {
        int64_t (*now_mono)(void *ctx);
        int (*probe)(void *ctx, bool with_counts, json_t **ret, Error *e);
        const LifecycleOps *lifecycle_ops;
        void *ctx; /* for now_mono and probe */
        void *lifecycle_ctx;
} SupervisorHooks;

/*
 * Creates the supervisor for d (d->runtime and d->seeder must be set; hooks
 * NULL for the real probe, clock and Seeder), with its lifecycle worker.
 * Does not start anything.
 */
Supervisor *supervisor_new(Daemon *d, const SupervisorHooks *hooks);
void supervisor_free(Supervisor *s);

/* Starts the lifecycle worker and the supervisor thread, which starts the server.  Returns 0 or -errno. */
int supervisor_start(Supervisor *s, Error *e);

/* Asks the thread to stop the server and exit, and waits for it (and the lifecycle worker). */
void supervisor_stop(Supervisor *s);

/*
 * One step of the state machine: checks the server, probes, submits or
 * collects lifecycle jobs, publishes the state.  The thread calls it every
 * tick; tests call it directly (without supervisor_start) after starting the
 * lifecycle with supervisor_start_lifecycle().
 */
void supervisor_tick(Supervisor *s);
int supervisor_start_lifecycle(Supervisor *s, Error *e);

void supervisor_snapshot(Supervisor *s, SupSnapshot *ret);
static inline void sup_snapshot_done(SupSnapshot *snap)
{
        json_decref(snap->facts);
        snap->facts = NULL;
}

/*
 * Queues a reset on the lifecycle worker and returns its waiter in *ret (see
 * lifecycle_submit: a reset of the same mode and tables that is queued or
 * running is joined).  tables: NULL, or a canonical comma-separated list of
 * seeded tables (a partial reset).  A running change workload is stopped
 * as the reset starts.  Refuses with -EAGAIN (code not_ready) when the server is not up
 * or seeding failed; while seeding, the reset waits for it.
 */
int supervisor_submit_reset(Supervisor *s, ResetMode mode, const char *tables, int64_t timeout_ms,
                            JobNotify notify, void *userdata, JobWaiter **ret, Error *e);
/* The same for any job with its arguments (a snapshot's, a reset from one); args' fd is taken over. */
int supervisor_submit_job(Supervisor *s, JobKind kind, ResetMode mode, JobArgs *args, int64_t timeout_ms,
                          JobNotify notify, void *userdata, JobWaiter **ret, Error *e);

/*
 * Shutdown, before the HTTP server stops: queued jobs are answered
 * (-ECANCELED, so their parked requests reply), a running one finishes or
 * gives up, and nothing new is accepted.  Any thread.
 */
void supervisor_cancel_work(Supervisor *s);

/* True once READY=1 went to systemd (the first time the database was ready).  Thread-safe. */
bool supervisor_notified_ready(Supervisor *s);

/* Makes the lifecycle worker's upkeep due now (a clone was handed out or returned).  Any thread. */
void supervisor_kick_upkeep(Supervisor *s);

/* Makes the thread tick now instead of at the next tick (after a reset, say).  Any thread. */
void supervisor_wake(Supervisor *s);

/* The monotonic ms at which the supervisor loop last completed a tick (for the systemd watchdog). */
int64_t supervisor_heartbeat_mono(Supervisor *s);
