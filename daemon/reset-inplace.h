/* SPDX-License-Identifier: MIT */
/* reset-inplace.h -- the in-place reset: same database, same publication and slots, seeded rows again. */
#pragma once

#include <jansson.h>
#include <libpq-fe.h>

#include "error.h"

typedef struct Config Config;

/*
 * What in-place resets keep from one to the next, so that a small reset
 * costs little more than its changes: a session on the working database
 * (a new one is a fork and a SCRAM exchange) with the catalog queries
 * prepared, and the template's catalog and sequences (the template does not
 * change while its database lives).  Lifecycle worker only.
 */
typedef struct InplaceCache InplaceCache;

InplaceCache *inplace_cache_new(void);
void inplace_cache_free(InplaceCache *c);
/* Closes the kept session: before the working database is swapped, renamed or dropped.  NULL is fine. */
void inplace_cache_drop_session(InplaceCache *c);

/*
 * Restores working to the contents of template tmpl in one transaction:
 * TRUNCATE and a binary COPY of every table when the structure is unchanged,
 * else the tables are dropped and rebuilt from the SQL files first (so a
 * dropped table or index comes back), and sequences are set to the
 * template's values.  Logical decoding sees it all as ordinary changes, so a
 * Debezium connector keeps streaming.  maint is a connection to the
 * maintenance database (used to open the template briefly).  Fills result's
 * "strategy" and "tables".  Returns 0 or -errno; a lock held by another
 * session for more than 10 s is -EBUSY (code tables_locked).  tables, when
 * not NULL, restores only those seeded tables (comma-separated NAME or
 * SCHEMA.NAME): -EINVAL unknown_table or tables_not_closed (a table with a
 * foreign key to one of them is missing), -EBUSY missing_parent_rows (a
 * restored row's parent in a table left alone is gone).
 */
int reset_inplace(const Config *c, InplaceCache *cache, PGconn *maint, const char *tmpl, const char *working,
                  const char *tables, json_t *result, Error *e);

/* True when e is a refusal of the request's tables (a 400 of the caller's making, not a server fault). */
bool reset_inplace_request_error(const Error *e);
