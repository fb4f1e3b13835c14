/* SPDX-License-Identifier: MIT */
/* counts.h -- row counts for /health that cost what changed, not what is stored. */
#pragma once

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct RowCounts RowCounts;

/* Tables above this many rows (by the catalog's estimate) are counted exactly at most every
 * COUNTS_EXACT_REFRESH_MS while they change; in between /health estimates from the statistics. */
#define COUNTS_EXACT_MAX_ROWS   2000000
#define COUNTS_EXACT_REFRESH_MS 60000

RowCounts *row_counts_new(void);
void row_counts_free(RowCounts *rc);

/* Forgets every count, so that the next row_counts_get() counts every table (after a seed or a reset). */
void row_counts_forget(RowCounts *rc);

/*
 * The rows of every table in every user schema, as a JSON array of
 * {"schema", "name", "rows", "exact"} sorted by schema and name.  A table
 * whose relfilenode and insert/delete counters (pg_stat_user_tables) did not
 * move since its last exact count keeps that count without reading it again;
 * a small table that changed is counted again; a big one that changed shows
 * its last count moved by the committed changes since (n_live_tup's delta,
 * "exact": false) until COUNTS_EXACT_REFRESH_MS after that count.  The counters reach the statistics when a session commits and goes
 * idle (within about a second, or when it disconnects), so a count may lag a
 * change by that much.  now_ms is a monotonic clock.  Returns 0 and a new
 * array in *ret, or -errno with e filled.  Not thread-safe: one caller (the
 * probe) at a time.
 */
int row_counts_get(RowCounts *rc, PGconn *conn, int64_t now_ms, json_t **ret, Error *e);
