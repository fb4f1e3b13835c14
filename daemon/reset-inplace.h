/* SPDX-License-Identifier: MIT */
/* reset-inplace.h -- the in-place reset: same database, same publication and slots, seeded rows again. */
#pragma once

#include <jansson.h>
#include <libpq-fe.h>

#include "error.h"

typedef struct Config Config;

/*
 * Restores working to the contents of template tmpl in one transaction:
 * TRUNCATE and a binary COPY of every table when the structure is unchanged,
 * else the tables are dropped and rebuilt from the SQL files first (so a
 * dropped table or index comes back), and sequences are set to the
 * template's values.  Logical decoding sees it all as ordinary changes, so a
 * Debezium connector keeps streaming.  maint is a connection to the
 * maintenance database (used to open the template briefly).  Fills result's
 * "strategy" and "tables".  Returns 0 or -errno; a lock held by another
 * session for more than 10 s is -EBUSY (code tables_locked).
 */
int reset_inplace(const Config *c, PGconn *maint, const char *tmpl, const char *working, json_t *result,
                  Error *e);
