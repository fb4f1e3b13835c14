/* SPDX-License-Identifier: MIT */
/* supervisor.h -- the state machine that keeps Postgres up, probed and seeded. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Daemon Daemon;
typedef struct Supervisor Supervisor;

/*
 * starting   the server was launched and does not accept connections yet
 * seeding    building the template / working database
 * ready      accepting connections and seeded: the only state /health calls healthy
 * resetting  a reset is restoring the working database
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
} SupSnapshot;

/* Creates the supervisor for d (d->runtime and d->seeder must be set).  Does not start anything. */
Supervisor *supervisor_new(Daemon *d);
void supervisor_free(Supervisor *s);

/* Starts the supervisor thread, which starts the server.  Returns 0 or -errno. */
int supervisor_start(Supervisor *s, Error *e);

/* Asks the thread to stop the server and exit, and waits for it. */
void supervisor_stop(Supervisor *s);

void supervisor_snapshot(Supervisor *s, SupSnapshot *ret);
static inline void sup_snapshot_done(SupSnapshot *snap)
{
        json_decref(snap->facts);
        snap->facts = NULL;
}

/*
 * Enters `resetting` for the duration of a reset: fails with -EBUSY
 * (code reset_in_progress) when one runs, -EAGAIN (not_ready) unless ready.
 * While it is held the probe is paused and its connection closed, so the
 * working database can be dropped.  Pair with supervisor_end_reset().
 */
int supervisor_begin_reset(Supervisor *s, Error *e);
void supervisor_end_reset(Supervisor *s, bool ok, const char *failure);

/*
 * now_mono_ms() at the start of the supervisor loop's latest iteration (its
 * creation time before the first): the systemd watchdog is pinged only while
 * this stays recent.  Thread-safe.
 */
int64_t supervisor_heartbeat_mono(Supervisor *s);

/* True once READY=1 went to systemd (the first time the database was ready).  Thread-safe. */
bool supervisor_notified_ready(Supervisor *s);

/* Makes the thread probe now instead of at the next tick (after a reset, say). */
void supervisor_wake(Supervisor *s);
