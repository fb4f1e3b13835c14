/* SPDX-License-Identifier: MIT */
/* roles.c -- the application, read-only and replication roles: created, kept, granted. */

#include "roles.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "pg.h"
#include "util.h"

static const char RIGHTS_OWNER[] =
        "superuser: owns the databases; pgseedd's lifecycle work (seeding, resets, clones)";
static const char RIGHTS_APP[] =
        "SELECT, INSERT, UPDATE, DELETE on the tables and USAGE on the sequences of the user schemas; "
        "no DDL, no TRUNCATE, not a superuser";
static const char RIGHTS_READONLY[] = "SELECT on the tables and sequences of the user schemas";
static const char RIGHTS_REPLICATION[] =
        "REPLICATION (logical replication connections, slots) and SELECT on the tables, for Debezium";

size_t roles_list(const Config *c, RoleSpec ret[ROLES_MAX])
{
        size_t n = 0;

        ret[n++] = (RoleSpec){"owner", c->pg_user, c->pg_password, RIGHTS_OWNER};
        if (!isempty(c->app_user))
                ret[n++] = (RoleSpec){"app", c->app_user, c->app_password, RIGHTS_APP};
        if (!isempty(c->readonly_user))
                ret[n++] = (RoleSpec){"readonly", c->readonly_user, c->readonly_password, RIGHTS_READONLY};
        if (!isempty(c->replication_user))
                ret[n++] = (RoleSpec){"replication", c->replication_user, c->replication_password,
                                      RIGHTS_REPLICATION};
        return n;
}

/* The role of kind among the configured ones, or NULL. */
static const RoleSpec *role_find(const RoleSpec *roles, size_t n, const char *kind)
{
        for (size_t i = 0; i < n; i++)
                if (streq(roles[i].kind, kind))
                        return &roles[i];
        return NULL;
}

int roles_ensure(const Config *c, PGconn *conn, Error *e)
{
        RoleSpec roles[ROLES_MAX];
        size_t n = roles_list(c, roles);
        int r;

        for (size_t i = 1; i < n; i++) {
                const char *params[] = {roles[i].name};
                _cleanup_free_ char *exists = NULL, *q = pg_quote_ident(conn, roles[i].name), *sql = NULL;
                _cleanup_free_ char *verifier = pg_password_verifier(roles[i].name, roles[i].password);
                _cleanup_(PQfreememp) char *lit = NULL;

                if (!verifier)
                        return error_set(e, ENOMEM, NULL, NULL, "Cannot compute a password verifier");
                exists = pg_query_value(conn, "SELECT count(*) FROM pg_roles WHERE rolname = $1", 1, params,
                                        e);
                if (!exists)
                        return -e->errnum;
                if (streq(exists, "0")) {
                        sql = xasprintf("CREATE ROLE %s", q);
                        r = pg_exec(conn, sql, e);
                        /* 42710: another session made it meanwhile; ALTER below does the rest. */
                        if (r < 0 && !streq(e->code, "42710"))
                                return error_prefix(e, "Creating role %s: ", roles[i].name);
                        free(TAKE_PTR(sql));
                }
                lit = PQescapeLiteral(conn, verifier, strlen(verifier));
                if (!lit)
                        return pg_result_error(conn, NULL, e);
                sql = xasprintf("ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                                "%sREPLICATION INHERIT CONNECTION LIMIT -1 PASSWORD %s",
                                q, streq(roles[i].kind, "replication") ? "" : "NO", lit);
                r = pg_exec(conn, sql, e);
                /* The statement holds the verifier: the error names the role, never the statement. */
                if (r < 0)
                        return error_prefix(e, "Setting up role %s: ", roles[i].name);
        }
        return 0;
}

/* Appends "GRANT ..." statements for one schema (quoted) to the memstream f. */
static void grant_schema(FILE *f, const char *qs, const char *app, const char *ro, const char *repl,
                         const char *owner)
{
        const char *readers[] = {ro, repl};

        if (app) {
                fprintf(f, "GRANT USAGE ON SCHEMA %s TO %s;\n", qs, app);
                fprintf(f, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s;\n", qs,
                        app);
                fprintf(f, "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %s TO %s;\n", qs, app);
                fprintf(f,
                        "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT, INSERT, UPDATE, "
                        "DELETE ON TABLES TO %s;\n",
                        owner, qs, app);
                fprintf(f,
                        "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT USAGE, SELECT, UPDATE ON "
                        "SEQUENCES TO %s;\n",
                        owner, qs, app);
        }
        for (size_t i = 0; i < ELEMENTSOF(readers); i++) {
                if (!readers[i])
                        continue;
                fprintf(f, "GRANT USAGE ON SCHEMA %s TO %s;\n", qs, readers[i]);
                fprintf(f, "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s;\n", qs, readers[i]);
                fprintf(f, "GRANT SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s;\n", qs, readers[i]);
                fprintf(f,
                        "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON TABLES TO %s;\n",
                        owner, qs, readers[i]);
        }
}

int roles_grant(const Config *c, PGconn *db, Error *e)
{
        RoleSpec roles[ROLES_MAX];
        size_t n = roles_list(c, roles);
        const RoleSpec *app = role_find(roles, n, "app"), *ro = role_find(roles, n, "readonly"),
                       *repl = role_find(roles, n, "replication");
        _cleanup_free_ char *qapp = NULL, *qro = NULL, *qrepl = NULL, *qowner = NULL, *sql = NULL;
        _cleanup_pgresult_ PGresult *res = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (n == 1)
                return 0;
        qapp = app ? pg_quote_ident(db, app->name) : NULL;
        qro = ro ? pg_quote_ident(db, ro->name) : NULL;
        qrepl = repl ? pg_quote_ident(db, repl->name) : NULL;
        qowner = pg_quote_ident(db, c->pg_user);
        r = pg_query(db, "SELECT n.nspname FROM pg_namespace n WHERE " PG_USER_SCHEMAS " ORDER BY 1", 0,
                     NULL, &res, e);
        if (r < 0)
                return r;
        f = open_memstream(&sql, &len);
        if (!f)
                abort();
        /* Before Postgres 15 everyone may CREATE in public: that would be DDL for the application role. */
        fprintf(f, "REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n");
        for (int i = 0; i < PQntuples(res); i++) {
                _cleanup_free_ char *qs = pg_quote_ident(db, PQgetvalue(res, i, 0));
                grant_schema(f, qs, qapp, qro, qrepl, qowner);
        }
        fclose(f);
        r = pg_exec(db, sql, e);
        return r < 0 ? error_prefix(e, "Granting the roles their rights: ") : 0;
}

void roles_fingerprint_text(const Config *c, char *buf, size_t size)
{
        RoleSpec roles[ROLES_MAX];
        size_t n = roles_list(c, roles), len = 0;

        *buf = '\0';
        for (size_t i = 1; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "|%s=%s", roles[i].kind, roles[i].name);
}

json_t *roles_describe(const Config *c)
{
        RoleSpec roles[ROLES_MAX];
        size_t n = roles_list(c, roles);
        json_t *a = json_array();

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *url = config_database_url(c, roles[i].name, c->pg_db);
                json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "kind", roles[i].kind, "name",
                                                   roles[i].name, "rights", roles[i].rights, "url", url));
        }
        return a;
}
