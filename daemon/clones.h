/* SPDX-License-Identifier: MIT */
/* clones.h -- leased, isolated copies of the template for parallel tests: a warm pool and its leases. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Config Config;
typedef struct Metrics Metrics;
typedef struct Clones Clones;
typedef struct pg_conn PGconn;

/*
 * Databases, for working database "app": app_clone_<16 hex digits>, each a
 * CREATE DATABASE ... TEMPLATE app_template without the publication, with a
 * comment "pgseed:{...}" whose role says what it is:
 *   clone-new   being made (dropped at start-up: it may be half-made)
 *   clone-pool  ready, not handed out (dropped at start-up unless sessions use it, see clones_rebuild)
 *   clone       leased: leased_at, expires_at and ttl in the comment
 *
 * The ready pool and the leases live in memory under the pool's own lock, so
 * that a lease is handed out without waiting for the lifecycle worker; the
 * worker (through the Seeder's upkeep) records leases in the comments, makes
 * and drops the databases.
 */

/* How a hand-out wakes the lifecycle worker (lifecycle_kick); may be NULL. */
typedef void (*ClonesKick)(void *userdata);

/* A pool for c's database; metrics may be NULL.  Does no I/O. */
Clones *clones_new(const Config *c, Metrics *metrics);
void clones_free(Clones *cl);
void clones_set_kick(Clones *cl, ClonesKick kick, void *userdata);

/* The PgBouncer in front (borrowed, may be NULL): a clone's reset PAUSEs the clone on it around the swap. */
typedef struct Pgbouncer Pgbouncer;
typedef struct Runtime Runtime;
void clones_set_pgbouncer(Clones *cl, Pgbouncer *pb);

/*
 * The runtime [clones] min_free_mb asks for the free space where the server
 * keeps its data (runtime_disk_free); a runtime that cannot see that disk
 * turns the floor into no check, which GET /clones says.  Set before use.
 */
void clones_set_runtime(Clones *cl, Runtime *rt);

/* True when name is one this pool could have made (prefix + 16 lowercase hex digits). */
bool clone_name_valid(const Clones *cl, const char *name);

/*
 * Leases a ready clone for ttl_s seconds (0: the configured default), waiting
 * up to timeout_ms for one when the pool is empty.  Returns 0 and the lease
 * ({"name","url","leased_at","expires_at","ttl","wait_ms"}) in *ret, or
 * -EAGAIN with code pool_empty (none came in time), clone_limit (max leases
 * reached) or not_ready (no template yet), -ENOSPC (code disk_full).  Any
 * thread; never touches the database.
 */
int clones_lease(Clones *cl, int64_t ttl_s, int64_t timeout_ms, json_t **ret, Error *e);

/*
 * A parked request's wait for a ready clone (POST /clones with an empty
 * pool), so that no HTTP worker blocks in clones_lease: notify(userdata) is
 * called exactly once, from any thread and without the pool's lock, when a
 * clone became ready (the caller then tries clones_lease with timeout 0
 * again; another request may have been quicker), when timeout_ms passed
 * (clones_expire) or at shutdown (clones_cancel_waits).  It must be quick
 * (request_resume).  The waiter counts in the pool's target while it waits.
 * Free it with clones_waiter_free (also from inside notify), which detaches it.
 */
typedef struct ClonesWaiter ClonesWaiter;
ClonesWaiter *clones_wait(Clones *cl, int64_t timeout_ms, void (*notify)(void *userdata), void *userdata);
bool clones_waiter_expired(const ClonesWaiter *w);
int64_t clones_waiter_left_ms(const ClonesWaiter *w);
void clones_waiter_free(ClonesWaiter *w);
/* Notifies the waiters whose deadline passed, and waiters a ready clone missed.  Call periodically. */
void clones_expire(Clones *cl);
/* Notifies every waiter (shutdown: their requests are answered before the server stops).  NULL is fine. */
void clones_cancel_waits(Clones *cl);

/*
 * Ends a lease: the clone is dropped in the background.  -ENOENT when name is
 * not a live lease, -EINVAL when it could not be a clone's name.
 */
int clones_return(Clones *cl, const char *name, Error *e);

/*
 * Gives a lease a fresh copy under the same name: a ready clone is renamed
 * into its place in one transaction (the old one is set aside and dropped in
 * the background).  Waits up to timeout_ms for a ready clone.  Returns 0 and
 * the lease with "duration_ms" in *ret, or -errno as clones_lease and
 * clones_return.  Any thread (runs its own short transaction).
 */
int clones_reset(Clones *cl, const char *name, int64_t timeout_ms, json_t **ret, Error *e);

/* {"clones": [...leases...], "pool": {"ready","target","leased","max",...}}; a new object. */
json_t *clones_list(Clones *cl);

typedef struct ClonesStats {
        int64_t ready, target, leased, max, waiting, dropping;
        int64_t leased_total, returned_total, reclaimed_total, created_total, dropped_total;
        int64_t last_refill_ms;
        bool disk_low;
} ClonesStats;
void clones_stats(Clones *cl, ClonesStats *ret);

/* ---- lifecycle worker only ------------------------------------------------ */

/*
 * At ensure, once the template is current: rebuilds the leases from the
 * databases' comments, drops the ones that are half-made, unleased pool
 * clones (see the comment in clones.c) and invalid ones.  Returns 0 or -errno.
 */
int clones_rebuild(Clones *cl, PGconn *conn, const char *fingerprint, Error *e);

/* True when upkeep has something to do for the pool (cheap, no I/O). */
bool clones_upkeep_due(Clones *cl, const char *fingerprint);

/* Records leases handed out since the last call.  Returns 1 when it did, 0 when none, -errno. */
int clones_upkeep_urgent(Clones *cl, PGconn *conn, Error *e);

/*
 * One step of pool upkeep: reclaims expired leases, drops one returned or
 * stale clone, or makes one new ready clone from tmpl.  Returns 1 when it did
 * something, 0 when nothing was due, -errno.
 */
int clones_upkeep_step(Clones *cl, PGconn *conn, const char *tmpl, const char *fingerprint, Error *e);

/*
 * Makes a clone of database tmpl (snapshot from, fingerprint its
 * fingerprint) and leases it for ttl_s at once.  Returns 0 and the lease (with
 * "from") in *ret, or -EAGAIN clone_limit, -ENOSPC disk_full, -errno.
 */
int clones_make_from(Clones *cl, PGconn *conn, const char *tmpl, const char *from, const char *fingerprint,
                     int64_t ttl_s, json_t **ret, Error *e);

/* ---- pure parts, for the unit tests ----------------------------------------- */

/* Marks the pool as serving the template with this fingerprint (ready clones of another are dropped). */
void clones_set_template(Clones *cl, const char *fingerprint);

/* Adds a ready clone of the current template to the pool (what a refill does once the database exists). */
void clones_pool_add(Clones *cl, const char *name);

/* The pool's target given the configured size and how many requests wait, capped by max. */
int64_t clones_pool_target(int64_t pool, int64_t waiting, int64_t leased, int64_t max);
