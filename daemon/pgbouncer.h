/* SPDX-License-Identifier: MIT */
/* pgbouncer.h -- a supervised PgBouncer in front of Postgres: its files, its process, its console. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

typedef struct Config Config;
typedef struct Runtime Runtime;
typedef struct Pgbouncer Pgbouncer;
typedef struct PgbouncerPause PgbouncerPause;

/*
 * A PgBouncer for c ([pgbouncer] enabled), not started.  rt runs it when
 * runtime_runs_pooler(rt) (the Docker runtime: a container; an earlier one
 * of this instance is removed here), else it is pgseedd's child.  Checks
 * that the binary is there (for a child) and its port is free: -ENOENT
 * (code pgbouncer_not_installed) or -EADDRINUSE with e saying what to do.
 * rt (may be NULL: a child) must outlive the PgBouncer.
 */
int pgbouncer_new(const Config *c, Runtime *rt, Pgbouncer **ret, Error *e);

/*
 * Writes its configuration (STATE_DIR/pgbouncer: pgbouncer.ini and a
 * userlist.txt with the roles' passwords, both 0600 in a 0700 directory
 * owned by the user it runs as) and starts the thread that runs it, restarts
 * it when it dies and polls SHOW POOLS / SHOW STATS every second.
 */
int pgbouncer_start(Pgbouncer *pb, Error *e);

/* Stops the thread and PgBouncer (SIGINT, then SIGKILL after 5 s).  NULL is fine. */
void pgbouncer_stop(Pgbouncer *pb);
void pgbouncer_free(Pgbouncer *pb);

/*
 * What /health shows: {"up", "port", "pid" (a child's), "container" (the
 * runtime's, on the Docker runtime), "restarts", "pool_mode", "url",
 * "clients_active", "clients_waiting", "servers_active", "servers_idle",
 * "pools": [...], "stats": [...], "reason"}.  From the last poll, never a
 * new connection.  New reference; any thread.
 */
json_t *pgbouncer_describe(Pgbouncer *pb);

/* The pgseed_pgbouncer_* series for /metrics. */
void pgbouncer_metrics_write(Pgbouncer *pb, FILE *f);

/*
 * Holds new transactions on database db (PAUSE: waits for the running ones
 * to finish, at most timeout_ms) and drops its idle server connections, so
 * that the database can be swapped underneath while the pooler's clients
 * wait instead of failing.  Returns the pause to hand to pgbouncer_resume(),
 * or NULL when there is nothing to pause (pb NULL, PgBouncer down, the
 * database unknown to it yet, or the wait timed out: then nothing is held).
 * Lifecycle worker.
 */
#define PGBOUNCER_PAUSE_MS 5000 /* how long a reset waits for the pooler's running transactions */
PgbouncerPause *pgbouncer_pause(Pgbouncer *pb, const char *db, int timeout_ms);

/* RESUMEs what pgbouncer_pause() held (NULL is fine) and frees it; returns how long it held, in ms (-1 for
 * NULL). */
int64_t pgbouncer_resume(PgbouncerPause *p);
