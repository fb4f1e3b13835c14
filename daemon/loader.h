/* SPDX-License-Identifier: MIT */
/* loader.h -- moving rows into Postgres fast: parallel COPY of the dataset, parallel DDL, table copies. */
#pragma once

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

typedef struct Config Config;
typedef struct SeedProgress SeedProgress;

/* How many connections the loader uses at once: one per core, at least two. */
int loader_workers(void);

/*
 * Streams the configured dataset (synthetic or csv:PATH) into the videos,
 * users and comments tables of dbname, which must exist and be empty.
 * Synthetic rows are generated and copied in parallel chunks, one connection
 * per worker; CSV rows are parsed once and fed to three COPY streams at once.
 * Nothing touches the disk on the way.  Progress goes to progress (may be
 * NULL), whose cancel flag stops the load; counts[] gets the rows per
 * table.  Returns 0 or -errno (-ECANCELED when cancelled).
 */
int loader_load_dataset(const Config *c, const char *dbname, SeedProgress *progress,
                        int64_t counts[_TABLE_MAX], Error *e);

/*
 * Runs independent statements on up to `workers` connections to dbname at
 * once, in order.  The first failure (or `stop` becoming true) stops the
 * others from starting new ones and is returned, naming the statement.
 */
int loader_run_parallel(const Config *c, const char *dbname, char **statements, int workers,
                        const atomic_bool *stop, Error *e);

/*
 * Copies every row of table src_table (a quoted, possibly qualified name) on
 * src into dst_table on dst with binary COPY; both must have the same
 * columns.  *rows gets the number copied.  Runs inside whatever transactions
 * the connections have open.
 */
int loader_copy_table(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table, int64_t *rows,
                      Error *e);
