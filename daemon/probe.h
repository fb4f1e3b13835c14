/* SPDX-License-Identifier: MIT */
/* probe.h -- the background health probe: one persistent connection, facts refreshed every tick. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

typedef struct Config Config;
typedef struct Probe Probe;

/* A probe for the configured server; it connects lazily.  Not thread-safe: one caller at a time. */
Probe *probe_new(const Config *c);
void probe_free(Probe *p);

/*
 * Checks that the working database accepts connections and queries (falling
 * back to the maintenance database "postgres" while the working one does not
 * exist yet).  On success *ret is a new JSON object:
 *   {"postgres_version": "15.18", "database_exists": true,
 *    "cdc": {"wal_level": ..., "publication": {...}, "replication_slots": [...]},
 *    "tables": [{"schema", "name", "rows", "exact"}...] -- only when with_counts
 * Row counts come from counts.h: a table that did not change keeps its last
 * count, one that changed is counted again (a big one estimated between exact
 * counts), so callers ask for them every few seconds, not every tick.  A
 * broken connection is re-opened once before failing.
 */
int probe_run(Probe *p, bool with_counts, json_t **ret, Error *e);

/* The next probe_run() with counts counts every table exactly (after a seed or a reset). */
void probe_forget_counts(Probe *p);

/* Closes the connection, e.g. before the working database is dropped. */
void probe_disconnect(Probe *p);
