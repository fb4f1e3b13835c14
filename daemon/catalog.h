/* SPDX-License-Identifier: MIT */
/* catalog.h -- the user tables from the live catalog, request parameters checked against them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct Config Config;
typedef struct pg_conn PGconn;

/* The longest identifier Postgres keeps (NAMEDATALEN - 1 bytes): longer names cannot exist. */
#define CATALOG_NAME_MAX 63

/* At most this many names in ?columns=. */
#define CATALOG_COLUMNS_MAX 100

typedef struct CatalogColumn {
        char *name;
        bool numeric; /* of type numeric (or a domain over it): see api-sample.c for why that matters */
} CatalogColumn;

typedef struct CatalogTable {
        char *schema;
        char *name;
        bool readable;          /* the connected role may SELECT from it */
        CatalogColumn *columns; /* by position, dropped columns left out */
        size_t n_columns;
        size_t *primary_key; /* indexes into columns, in key order; none when there is no primary key */
        size_t n_primary_key;
} CatalogTable;

typedef struct Catalog {
        CatalogTable *tables; /* ordered by schema, then name, byte-wise */
        size_t n_tables;
} Catalog;

typedef struct CatalogOrder {
        size_t column; /* index into the table's columns */
        bool descending;
} CatalogOrder;

/* ---- the live catalog ---------------------------------------------------- */

/*
 * A connection for one API request: the configured database, the given
 * statement timeout, read-only transactions, UTF-8, UTC timestamps, and a
 * short lock timeout.  Returns NULL with e filled; a server that is down or a
 * database that does not exist yet (starting, seeding, resetting) is EAGAIN or
 * ECONNREFUSED, both a 503 at the HTTP layer.
 */
PGconn *catalog_connect(const Config *c, int statement_timeout_ms, Error *e);

/*
 * Runs a query whose single value is JSON (built by Postgres) and parses it.
 * Values are parameters, never spliced.  Returns 0 and a new reference in
 * *ret, or -errno with e filled; waiting too long for a lock (a seed or reset
 * holding the table) becomes EAGAIN, a 503.
 */
int catalog_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params, json_t **ret,
                       Error *e);

/* Lists every table in the user schemas (one catalog query).  Returns 0 or -errno with e filled. */
int catalog_load(PGconn *conn, Catalog **ret, Error *e);

/*
 * Builds a Catalog from the JSON catalog_load() gets from Postgres:
 * [{"schema", "name", "readable", "columns": [{"name", "numeric"}], "primary_key": ["col", ...]}].
 * Returns 0, or -EIO when the shape is wrong.
 */
int catalog_from_json(const json_t *j, Catalog **ret, Error *e);

void catalog_free(Catalog *c);
static inline void catalog_freep(Catalog **c)
{
        catalog_free(*c);
}

/* "schema.name, schema.name, ..." for hints, cut (on a character boundary, with "…") to fit size. */
void catalog_list_tables(const Catalog *c, char *buf, size_t size);
/* "col, col, ..." likewise. */
void catalog_table_list_columns(const CatalogTable *t, char *buf, size_t size);

/* ---- parameters checked against the catalog ------------------------------ */

/*
 * Checks that a query parameter is text that can be echoed in an error: not
 * empty, at most max_bytes long, valid UTF-8, no control characters.  Returns
 * 0, or -EINVAL with e naming the parameter (code invalid_parameter).
 */
int param_check_text(const char *param, const char *value, size_t max_bytes, Error *e);

/*
 * Resolves ?table=: "name" matches a table of that name in any user schema,
 * "schema.name" the one in that schema (a name that itself holds dots is
 * matched whole as well).  Returns 0 with *ret pointing into c; -EINVAL
 * (invalid_parameter) for text that cannot be a name or a name found in
 * several schemas (the message lists them); -ENOENT (table_not_found, the
 * hint lists the tables) when nothing matches.
 */
int catalog_find_table(const Catalog *c, const char *ref, const CatalogTable **ret, Error *e);

/* The index of the column called name, or -1. */
ssize_t catalog_table_column(const CatalogTable *t, const char *name);

/*
 * Parses ?columns=A,B: each name must be a column of t (exact spelling), none
 * twice, at most CATALOG_COLUMNS_MAX.  Returns 0 with a new array of column
 * indexes in *ret (the caller frees) and its length in *ret_n; -EINVAL with
 * code unknown_column (the hint lists t's columns) or invalid_parameter.
 */
int catalog_parse_columns(const CatalogTable *t, const char *list, size_t **ret, size_t *ret_n, Error *e);

/*
 * Parses ?order=COL, COL.asc or COL.desc (the direction in any case; a column
 * whose own name ends in ".asc" wins over the suffix).  Returns 0, or -EINVAL
 * with code unknown_column or invalid_parameter (bad direction).
 */
int catalog_parse_order(const CatalogTable *t, const char *spec, CatalogOrder *ret, Error *e);
