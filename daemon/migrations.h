/* SPDX-License-Identifier: MIT */
/* migrations.h -- a migrations directory: files applied in order, each once, recorded in pgseed_migrations.
 */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>

#include "error.h"
#include "sqlfile.h"

typedef struct Config Config;

/*
 * Reads the migrations ([dataset] migrations_dir, or SQL_DIR/migrations when
 * that exists): NNN-name.sql files in name order.  *ret is empty (n_files 0,
 * hash 0) when there are none.  Returns 0, or -errno with e naming the file
 * (a configured directory that is missing, a file not named NNN-...).
 */
int migrations_load(const Config *c, SqlDir *ret, Error *e);

/*
 * Applies, in order, each migration that table public.pgseed_migrations
 * (created here when missing) does not list yet: every file in its own
 * transaction with its row (version, name, checksum, applied_at), so a file
 * that fails leaves nothing behind and the error names it.  db: the database
 * being built (the template).  Returns 0 or -errno with e filled.
 */
int migrations_apply(PGconn *db, const SqlDir *m, Error *e);
