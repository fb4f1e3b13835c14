/* SPDX-License-Identifier: MIT */
/* snapshots.h -- named snapshots: read-only copies of the working database's state, their dumps and
 * restores. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct Config Config;
typedef struct Snapshots Snapshots;
typedef struct pg_conn PGconn;

/*
 * Databases, for working database "app":
 *   app_snap_NAME        snapshot NAME: complete, read-only (no connections allowed), comment
 *                        "pgseed:{"role":"snapshot","name":...,"fingerprint":...}"
 *   app_snapbuild_NAME   a snapshot being built (copied or restored); renamed to app_snap_NAME only
 *                        once complete, so a crash never leaves a half-made snapshot under a real name
 *   app_snapwork_<hex>   a scratch copy of a snapshot that pg_dump reads from (a snapshot itself
 *                        accepts no connections, so that nobody can change it)
 * Leftover build and scratch databases are dropped at start-up; a snapshot is
 * dropped only by DELETE /snapshots/NAME.  The list lives in memory, rebuilt
 * from the comments at start-up: snapshots survive restarts.
 */

/* A registry for c's working database.  Does no I/O. */
Snapshots *snapshots_new(const Config *c);
void snapshots_free(Snapshots *sn);

/*
 * 0 when name can be a snapshot's name (1 to 40 characters of a-z, 0-9, '_'
 * and '-', starting with a letter or digit, and short enough for a database
 * name), else -EINVAL (code invalid_snapshot_name) with the rule in e.
 */
int snapshot_name_check(const Snapshots *sn, const char *name, Error *e);

/* The snapshot's database name (a new string) and its fingerprint; -ENOENT (404) when unknown. */
int snapshots_lookup(Snapshots *sn, const char *name, char **ret_db, char *fingerprint, size_t size,
                     Error *e);

/* {"snapshots": [{"name","database","created_at","size_bytes","source","source_epoch","fingerprint",...}]}
 */
json_t *snapshots_list(Snapshots *sn);
int64_t snapshots_count(Snapshots *sn);
/* One snapshot's entry of that list (a new object), or NULL when unknown. */
json_t *snapshots_describe(Snapshots *sn, const char *name);

/* ---- lifecycle worker only ------------------------------------------------ */

/*
 * Once per process: drops the build and scratch databases an interrupted
 * operation left (only those our comment marks, or that refuse connections
 * under our names) and loads the snapshots from their comments.
 */
int snapshots_rebuild(Snapshots *sn, PGconn *conn, Error *e);

/*
 * Freezes the working database as snapshot name: its sessions are ended and
 * it refuses connections for as long as the file copy takes (as a reset
 * does), then it is open again.  seed_fingerprint and epoch describe what it
 * was copied from.  -EBUSY (409, snapshot_exists) for a taken name.  Returns 0 and the
 * snapshot's description in *ret.
 */
int snapshots_create(Snapshots *sn, PGconn *conn, const char *working, const char *seed_fingerprint,
                     int64_t epoch, const char *name, json_t **ret, Error *e);

/* Restores a pg_dump custom-format archive read from fd into a new snapshot (pg_restore). */
int snapshots_import(Snapshots *sn, PGconn *conn, const char *name, int fd, json_t **ret, Error *e);

/* Drops a snapshot.  -ENOENT for an unknown one. */
int snapshots_drop(Snapshots *sn, PGconn *conn, const char *name, json_t **ret, Error *e);

/* A scratch copy of snapshot name for pg_dump: {"database": ...} in *ret. */
int snapshots_export(Snapshots *sn, PGconn *conn, const char *name, json_t **ret, Error *e);
/* Drops a scratch copy snapshots_export made (only names of that form). */
int snapshots_release(Snapshots *sn, PGconn *conn, const char *db, Error *e);

/* ---- pg_dump ------------------------------------------------------------------ */

/*
 * Starts pg_dump -Fc on database db as a child, its stdout a non-blocking
 * pipe in *ret_fd and its stderr collected in the file *ret_err_fd (read it
 * with snapshots_dump_error once it exited).  Returns the child's pid, or
 * -errno with e filled (pg_dump missing, say).
 */
pid_t snapshots_dump_start(const Config *c, const char *db, int *ret_fd, int *ret_err_fd, Error *e);
/* The first line pg_dump wrote to stderr, or "" (into buf). */
void snapshots_dump_error(int err_fd, char *buf, size_t size);
