/* SPDX-License-Identifier: MIT */
/* pg.h -- libpq helpers: connecting with the configured credentials, running SQL, mapping errors. */
#pragma once

#include <jansson.h>
#include <libpq-fe.h>

#include "error.h"

typedef struct Config Config;

/*
 * The SQL condition (on pg_namespace aliased n) that selects user schemas:
 * everything but information_schema, the pg_* schemas (pg_catalog,
 * pg_toast, pg_temp_N, pg_toast_temp_N; Postgres reserves the prefix) and
 * pgseed_track, where the in-place reset keeps its change tracking.
 */
#define PG_USER_SCHEMAS                                                                                     \
        "(n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND n.nspname <> 'pgseed_track')"

static inline void PQclearp(PGresult **r)
{
        if (*r)
                PQclear(*r);
}
static inline void PQfinishp(PGconn **c)
{
        if (*c)
                PQfinish(*c);
}
static inline void PQfreememp(char **p)
{
        if (*p)
                PQfreemem(*p);
}
#define _cleanup_pgresult_ _cleanup_(PQclearp)
#define _cleanup_pgconn_   _cleanup_(PQfinishp)

/*
 * Connects to dbname on pg_host:pg_port as the configured user, with
 * parameters passed as keywords (never a spliced conninfo string).
 * timeout_s bounds the connect; statement_timeout_ms (0 = none) is set for
 * the session.  Returns NULL with e filled: -ECONNREFUSED when the server is
 * not up, -EACCES on authentication failure, -ENOENT when dbname is missing
 * or invalid, -EAGAIN when it does not accept connections (mid-swap).
 */
PGconn *pg_connect(const Config *c, const char *dbname, const char *application, int timeout_s,
                   int statement_timeout_ms, Error *e);

/*
 * The next result of conn after a COPY was ended, like PQgetResult(), but
 * NULL instead of the PGRES_COPY_IN/OUT that libpq hands out for ever when
 * the connection broke mid-COPY (it never leaves the COPY state then, and a
 * drain loop would spin).  Callers check PQstatus() after draining.
 */
PGresult *pg_next_result(PGconn *conn);

/* Runs sql (may hold several statements) expecting no rows; returns 0 or -errno with e filled. */
int pg_exec(PGconn *conn, const char *sql, Error *e);

/*
 * Runs one statement with text parameters (values are always parameters, never
 * spliced).  On success *ret holds the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK), the caller's to PQclear.
 */
int pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **ret,
             Error *e);

/* The single value of a one-row, one-column query as a new string ("" for NULL); NULL on error. */
char *pg_query_value(PGconn *conn, const char *sql, int nparams, const char *const *params, Error *e);

/* The single value of a one-row, one-column query that returns JSON text, parsed; NULL on error. */
json_t *pg_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params, Error *e);

/*
 * Exact row counts of every table in every user schema (all but pg_catalog,
 * information_schema, pg_toast, pg_temp*), as a JSON array of
 * {"schema", "name", "rows"} sorted by schema and name.
 */
int pg_count_rows(PGconn *conn, json_t **ret, Error *e);

/* The user tables as one SQL list of quoted qualified names ("public"."a", ...), "" when none; NULL on
 * error. */
char *pg_user_tables_list(PGconn *conn, Error *e);

/*
 * Creates publication `name` over every user table, or points an existing
 * one at exactly those tables (ALTER PUBLICATION ... SET TABLE).
 */
int pg_sync_publication(PGconn *conn, const char *name, Error *e);

/* Quotes an identifier ("my table" -> "\"my table\""); returns a malloc'd string. */
char *pg_quote_ident(PGconn *conn, const char *name);
/* Quotes schema.name as "schema"."name". */
char *pg_quote_qualified(PGconn *conn, const char *schema, const char *name);

/* What starts the comment of every database pgseed made (COMMENT ON DATABASE): "pgseed:" + JSON. */
#define PG_COMMENT_PREFIX "pgseed:"

/*
 * Runs fmt with its %s replaced by the quoted identifiers a and b (b may be
 * NULL, then ""): fmt is a literal of the caller's, never request input.
 * Returns 0 or -errno with e filled.
 */
int pg_exec_names(PGconn *conn, Error *e, const char *fmt, const char *a, const char *b);

/* COMMENT ON DATABASE db IS 'pgseed:' + meta as compact JSON (escaped by libpq: it takes a literal only). */
int pg_comment_database(PGconn *conn, const char *db, json_t *meta, Error *e);

/* DROP DATABASE IF EXISTS db, WITH (FORCE) where the server has it (13+): its sessions are ended. */
int pg_drop_database(PGconn *conn, const char *db, Error *e);

/*
 * The SCRAM-SHA-256 verifier of password for user ("SCRAM-SHA-256$4096:..."),
 * computed here with a random salt: what a server stores, and stores as it
 * is when given as a password.  Sending it instead of the password keeps the
 * password out of server logs and command lines.  NULL on OOM.
 */
char *pg_password_verifier(const char *user, const char *password);

/* Fills e from a failed result (message, SQLSTATE-derived errno and code); returns -errnum. */
int pg_result_error(PGconn *conn, const PGresult *res, Error *e);

/* Maps a SQLSTATE to an errno (08xxx -> ECONNREFUSED, 3D000/42P01 -> ENOENT, 55006 -> EBUSY, 57014 ->
 * ETIMEDOUT...). */
int pg_sqlstate_to_errno(const char *sqlstate);

/*
 * Ends every session on db but this one and waits, about a second at most,
 * until they are gone (a database is renamed or dropped only when nobody is
 * connected; new sessions should be refused already, ALLOW_CONNECTIONS
 * false).  Returns 0, -EBUSY (code sessions_remain), or the query's -errno.
 */
int pg_terminate_sessions(PGconn *conn, const char *db, Error *e);
