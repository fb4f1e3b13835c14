/* SPDX-License-Identifier: MIT */
/* roles.h -- least-privilege roles beside pgseedd's own: application, read-only, replication. */
#pragma once

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "error.h"

typedef struct Config Config;

#define ROLES_MAX 4

/* One configured role: the owner ([postgres] user) first, then the [roles] that are not "" / "none". */
typedef struct RoleSpec {
        const char *kind;     /* "owner", "app", "readonly" or "replication" */
        const char *name;     /* borrowed from the Config */
        const char *password; /* borrowed; never logged, never in /health */
        const char *rights;   /* what the role may do, in words, for /health and the README */
} RoleSpec;

/* Fills ret with the configured roles (owner first) and returns how many.  Borrows from c. */
size_t roles_list(const Config *c, RoleSpec ret[ROLES_MAX]);

/*
 * Creates the [roles] that do not exist yet and (re)sets every one's
 * attributes and password, on the cluster conn is connected to (as the
 * owner, a superuser): LOGIN, never SUPERUSER, CREATEDB, CREATEROLE or
 * BYPASSRLS; REPLICATION for the replication role only.  The server gets a
 * SCRAM verifier computed here, never the password.  Idempotent; run at
 * every seeder_ensure().  Returns 0 or -errno with e filled.
 */
int roles_ensure(const Config *c, PGconn *conn, Error *e);

/*
 * Grants the roles their rights in the database db is connected to (the
 * template while it is built, so that every copy has them): USAGE on each
 * user schema; the application role SELECT, INSERT, UPDATE, DELETE on the
 * tables and USAGE, SELECT, UPDATE on the sequences; the read-only and
 * replication roles SELECT; the same as default privileges for what the
 * owner creates later.  CREATE on schema public is taken from PUBLIC (the
 * default before Postgres 15) so that the application role has no DDL.
 */
int roles_grant(const Config *c, PGconn *db, Error *e);

/* What the template depends on in the roles (their names), for the fingerprint; "" when none. */
void roles_fingerprint_text(const Config *c, char *buf, size_t size);

/* The roles for /health: [{"kind", "name", "rights", "url"}], never a password.  New reference. */
json_t *roles_describe(const Config *c);
