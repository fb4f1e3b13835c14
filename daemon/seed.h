/* SPDX-License-Identifier: MIT */
/* seed.h -- the seeded dataset's life cycle: template database, working clone, resets. */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Config Config;
typedef struct Metrics Metrics;
typedef struct Seeder Seeder;
typedef struct Clones Clones;
typedef struct Snapshots Snapshots;

typedef enum SeedPhase {
        SEED_PHASE_IDLE,
        SEED_PHASE_CHECK,   /* looking at what exists */
        SEED_PHASE_SCHEMA,  /* creating tables */
        SEED_PHASE_COPY,    /* streaming rows */
        SEED_PHASE_INDEXES, /* the after-load SQL files: indexes, keys, foreign keys */
        SEED_PHASE_ANALYZE,
        SEED_PHASE_CLONE, /* working database from the template */
        _SEED_PHASE_MAX,
} SeedPhase;

const char *seed_phase_to_string(SeedPhase p);

/* Progress of a running seed, readable from any thread at any time. */
typedef struct SeedProgress {
        atomic_int phase; /* SeedPhase */
        atomic_llong rows_loaded;
        atomic_llong rows_total;
        atomic_llong started_mono_ms;
        atomic_bool cancel; /* set at shutdown: a running build stops at its next batch */
} SeedProgress;

typedef enum ResetMode {
        RESET_TEMPLATE, /* re-clone the working database from the template (default, fast) */
        RESET_INPLACE,  /* keep the database, its publication and slots; restore rows in one transaction */
} ResetMode;

/* A seeder for the configured database; metrics may be NULL.  Does no I/O. */
Seeder *seeder_new(const Config *c, Metrics *metrics);
void seeder_free(Seeder *s);

SeedProgress *seeder_progress(Seeder *s);

/* Makes a running seeder_ensure() give up soon (-ECANCELED); for shutdown.  Any thread. */
void seeder_cancel(Seeder *s);

/*
 * Makes sure the template is complete and current (building it when missing,
 * half-built or built from other inputs) and that the working database exists
 * and accepts connections (cloning it when missing), finishing or rolling
 * back whatever an interrupted operation left: databases left invalid by an
 * interrupted DROP DATABASE are dropped, a working database left refusing
 * connections mid-reset is opened again.  Lifecycle worker only; may take
 * seconds, reporting through seeder_progress().  Returns 0 or -errno with e
 * filled.
 */
int seeder_ensure(Seeder *s, Error *e);

/*
 * Background upkeep between jobs: prepares the next reset's copy, then drops
 * the databases resets set aside, one per call.  Cheap when there is nothing
 * to do (no I/O).  Returns true when it should be called again soon.
 * Lifecycle worker only.
 */
bool seeder_upkeep(Seeder *s);

/*
 * Restores the seeded state.  Returns 0 and a JSON summary in *ret
 * ({"mode", "strategy", "duration_ms", "tables": [...]}) or -errno: -EBUSY
 * (a logical replication slot in template mode; tables locked),
 * -ECONNREFUSED, -EIO (code reset_failed).  tables (NULL for all) is a
 * partial reset of those seeded tables (copied from the template in place,
 * whatever the mode); -EINVAL names an
 * unknown table or one the set must include (foreign keys).  Lifecycle
 * worker only.
 */
int seeder_reset(Seeder *s, ResetMode mode, const char *tables, json_t **ret, Error *e);

/*
 * Lets upkeep and ensure maintain the clone pool too (borrowed; set before
 * the lifecycle worker starts; NULL to have none).
 */
void seeder_set_clones(Seeder *s, Clones *clones);

/* The same for named snapshots (snapshots.h): ensure loads them, snapshot jobs use them. */
void seeder_set_snapshots(Seeder *s, Snapshots *snapshots);
/*
 * The PgBouncer in front (borrowed, may be NULL): resets PAUSE the working
 * database on it around the swap, so that its clients wait instead of failing.
 * Set before the lifecycle worker starts.
 */
typedef struct Pgbouncer Pgbouncer;
void seeder_set_pgbouncer(Seeder *s, Pgbouncer *pb);

/* JSON about the template (name, fingerprint, built_at, rows) for /health; NULL before the first build. */
json_t *seeder_describe(Seeder *s);
