/* SPDX-License-Identifier: MIT */
/* pg.c -- libpq helpers. */

#include "pg.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"

int pg_sqlstate_to_errno(const char *s)
{
        if (isempty(s))
                return EIO;
        if (startswith(s, "08") || streq(s, "57P01") || streq(s, "57P02") || streq(s, "57P03"))
                return ECONNREFUSED;
        if (streq(s, "3D000") || streq(s, "42P01") || streq(s, "42704") || streq(s, "42703"))
                return ENOENT;
        if (startswith(s, "28"))
                return EACCES;
        if (streq(s, "53100"))
                return ENOSPC; /* disk_full */
        if (streq(s, "55006") || streq(s, "55P03") || streq(s, "40P01") || streq(s, "42P04") ||
            streq(s, "42710"))
                return EBUSY;
        if (streq(s, "57014"))
                return ETIMEDOUT;
        if (streq(s, "42501"))
                return EPERM; /* insufficient_privilege: the role may not, which no retry changes */
        if (startswith(s, "22") || startswith(s, "42"))
                return EINVAL;
        return EIO;
}

/* libpq messages end with a newline and sometimes carry DETAIL lines; keep the first line. */
static void first_line(char *dst, size_t size, const char *msg)
{
        strlcpy0(dst, msg ? msg : "", size);
        dst[strcspn(dst, "\n")] = '\0';
        if (!*dst)
                strlcpy0(dst, "unknown error", size);
}

int pg_result_error(PGconn *conn, const PGresult *res, Error *e)
{
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        char msg[768];
        int errnum;

        if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
                first_line(msg, sizeof(msg), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        else
                first_line(msg, sizeof(msg), PQerrorMessage(conn));
        errnum = state ? pg_sqlstate_to_errno(state)
                       : (PQstatus(conn) == CONNECTION_BAD ? ECONNREFUSED : EIO);
        return error_set(e, errnum, NULL, NULL, "%s", msg);
}

static bool host_is_loopback(const char *host)
{
        return streq(host, "127.0.0.1") || streq(host, "localhost") || streq(host, "::1");
}

static void ignore_notice(void *arg, const char *message)
{
}

PGconn *pg_connect(const Config *c, const char *dbname, const char *application, int timeout_s,
                   int statement_timeout_ms, Error *e)
{
        char port[16], timeout[16], options[64];
        const char *keys[] = {
                "host",    "port",    "user", "password", "dbname", "connect_timeout", "application_name",
                "options", "sslmode", NULL};
        const char *values[ELEMENTSOF(keys)];
        PGconn *conn;

        snprintf(port, sizeof(port), "%d", c->pg_port);
        snprintf(timeout, sizeof(timeout), "%d", timeout_s > 0 ? timeout_s : 5);
        snprintf(options, sizeof(options), "-c statement_timeout=%d", statement_timeout_ms);
        values[0] = c->pg_host;
        values[1] = port;
        values[2] = c->pg_user;
        values[3] = c->pg_password;
        values[4] = dbname;
        values[5] = timeout;
        values[6] = application;
        values[7] = options;
        /*
         * The URL's sslmode when given (runtime = external); our own server with
         * TLS on: require it; else on loopback TLS would cost a handshake per
         * probe for nothing, and elsewhere use it when offered.
         */
        values[8] = c->pg_sslmode                  ? c->pg_sslmode
                    : config_tls_enabled(c)        ? "require"
                    : host_is_loopback(c->pg_host) ? "disable"
                                                   : "prefer";
        values[9] = NULL;

        conn = PQconnectdbParams(keys, values, 0);
        if (!conn) {
                error_set(e, ENOMEM, NULL, NULL, "libpq could not allocate a connection");
                return NULL;
        }
        /* libpq prints NOTICEs ("relation already exists, skipping") on stderr by default; they are not
         * errors. */
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
        if (PQstatus(conn) != CONNECTION_OK) {
                char msg[768];
                const char *m = PQerrorMessage(conn), *cause;
                const char *code = NULL;
                int errnum = ECONNREFUSED;

                /*
                 * libpq says 'connection to server at "127.0.0.1", port 5432 failed:
                 * <cause>' on the first line (then hints); keep the cause, shortly
                 * prefixed, and classify by the server's words (there is no SQLSTATE).
                 */
                first_line(msg, sizeof(msg), m);
                cause = strstr(msg, " failed: ");
                cause = cause ? cause + strlen(" failed: ") : msg;
                if (startswith(cause, "FATAL:"))
                        cause = strstrip((char *) cause + strlen("FATAL:"));
                if (strstr(m, "password authentication failed")) {
                        /* SQLSTATE 28P01, which libpq does not hand out for a failed connection. */
                        errnum = EACCES;
                        code = "auth_failed";
                } else if (strstr(m, "no pg_hba.conf entry"))
                        errnum = EACCES;
                else if ((strstr(m, "does not exist") && strstr(m, "database")) ||
                         strstr(m, "cannot connect to invalid database"))
                        errnum = ENOENT; /* invalid: left by an interrupted DROP DATABASE, to be repaired */
                else if (strstr(m, "is not currently accepting connections"))
                        errnum = EAGAIN; /* a reset is swapping it, or one was interrupted at that point */
                error_set(e, errnum, code, NULL, "%s:%s: %s", c->pg_host, port, cause);
                PQfinish(conn);
                return NULL;
        }
        return conn;
}

PGresult *pg_next_result(PGconn *conn)
{
        PGresult *res = PQgetResult(conn);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_COMMAND_OK;

        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                PQclear(res);
                return NULL;
        }
        return res;
}

int pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params, PGresult **ret, Error *e)
{
        PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
                int r = pg_result_error(conn, res, e);
                PQclear(res);
                return r;
        }
        *ret = res;
        return 0;
}

int pg_exec(PGconn *conn, const char *sql, Error *e)
{
        /* PQexec, not PQexecParams: only the simple protocol runs several statements at once. */
        _cleanup_pgresult_ PGresult *res = PQexec(conn, sql);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
                return pg_result_error(conn, res, e);
        return 0;
}

char *pg_query_value(PGconn *conn, const char *sql, int nparams, const char *const *params, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;

        if (pg_query(conn, sql, nparams, params, &res, e) < 0)
                return NULL;
        if (PQntuples(res) < 1 || PQnfields(res) < 1) {
                error_set(e, ENOENT, NULL, NULL, "query returned no rows");
                return NULL;
        }
        return xstrdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
}

json_t *pg_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params, Error *e)
{
        _cleanup_free_ char *text = pg_query_value(conn, sql, nparams, params, e);
        json_error_t jerr;
        json_t *j;

        if (!text)
                return NULL;
        j = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (!j)
                error_set(e, EIO, NULL, NULL, "query returned invalid JSON: %s", jerr.text);
        return j;
}

/*
 * query_to_xml runs a count per table inside one statement; the table names
 * come from the catalog and are quoted with format('%I'), so nothing outside
 * the catalog reaches the SQL.
 */
static const char counts_sql[] =
        "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname, 'rows',"
        "  (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, "
        "c.relname),"
        "   false, true, '')))[1]::text::bigint) ORDER BY n.nspname, c.relname), '[]')"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " PG_USER_SCHEMAS;

int pg_count_rows(PGconn *conn, json_t **ret, Error *e)
{
        json_t *j = pg_query_json(conn, counts_sql, 0, NULL, e);

        if (!j)
                return -e->errnum;
        *ret = j;
        return 0;
}

char *pg_user_tables_list(PGconn *conn, Error *e)
{
        return pg_query_value(conn,
                              "SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', '"
                              "  ORDER BY n.nspname, c.relname), '')"
                              " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " PG_USER_SCHEMAS,
                              0, NULL, e);
}

int pg_sync_publication(PGconn *conn, const char *name, Error *e)
{
        _cleanup_free_ char *tables = pg_user_tables_list(conn, e), *q = NULL, *sql = NULL, *exists = NULL;
        const char *params[] = {name};

        if (!tables)
                return -e->errnum;
        exists =
                pg_query_value(conn, "SELECT count(*) FROM pg_publication WHERE pubname = $1", 1, params, e);
        if (!exists)
                return -e->errnum;
        q = pg_quote_ident(conn, name);
        if (streq(exists, "0"))
                sql = *tables ? xasprintf("CREATE PUBLICATION %s FOR TABLE %s", q, tables)
                              : xasprintf("CREATE PUBLICATION %s", q);
        else if (*tables)
                sql = xasprintf("ALTER PUBLICATION %s SET TABLE %s", q, tables);
        else
                return 0;
        return pg_exec(conn, sql, e);
}

char *pg_quote_ident(PGconn *conn, const char *name)
{
        _cleanup_(PQfreememp) char *q = PQescapeIdentifier(conn, name, strlen(name));

        if (!q)
                abort(); /* only fails on OOM or invalid encoding; names come from the catalog */
        return xstrdup(q);
}

char *pg_quote_qualified(PGconn *conn, const char *schema, const char *name)
{
        _cleanup_free_ char *s = pg_quote_ident(conn, schema), *n = pg_quote_ident(conn, name);

        return xasprintf("%s.%s", s, n);
}

char *pg_password_verifier(const char *user, const char *password)
{
        const char *keys[] = {"host", "dbname", NULL}, *values[] = {"/nonexistent", "postgres", NULL};
        _cleanup_pgconn_ PGconn *dummy = NULL;
        _cleanup_(PQfreememp) char *v = NULL;

        /*
         * libpq computes SCRAM verifiers without a server (given the
         * algorithm); it only wants a connection object to report errors on,
         * and a never-connected one will do.
         */
        dummy = PQconnectStartParams(keys, values, 0);
        if (!dummy)
                return NULL;
        v = PQencryptPasswordConn(dummy, password, user, "scram-sha-256");
        return v ? xstrdup(v) : NULL;
}

/*
 * Ends every session on db and waits (bounded) until they are gone: a
 * database is renamed only when nobody is connected.  New sessions are
 * already refused (ALLOW_CONNECTIONS false).
 */
int pg_terminate_sessions(PGconn *conn, const char *db, Error *e)
{
        const char *params[] = {db};

        for (int i = 0; i < 60; i++) {
                _cleanup_pgresult_ PGresult *res = NULL;
                _cleanup_free_ char *n = NULL;
                int r;

                /*
                 * Every round, in case a session was half-way through authentication at
                 * the ALTER.  Not pg_terminate_backend(pid, timeout): it checks only every
                 * 100 ms, which made every reset with a session take 100 ms.
                 */
                r = pg_query(conn,
                             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = $1 AND pid <> pg_backend_pid()",
                             1, params, &res, e);
                if (r < 0)
                        return r;
                n = pg_query_value(conn,
                                   "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                                   "pg_backend_pid()",
                                   1, params, e);
                if (!n)
                        return -e->errnum;
                if (streq(n, "0"))
                        return 0;
                /* A terminated backend exits within a millisecond or two: poll finely first. */
                sleep_ms(i < 20 ? 1 : 20);
        }
        return error_set(e, EBUSY, "sessions_remain", "Retry; pgseedd ends the sessions on its own.",
                         "Sessions on %s did not end within 1 s", db);
}

int pg_exec_names(PGconn *conn, Error *e, const char *fmt, const char *a, const char *b)
{
        _cleanup_free_ char *qa = pg_quote_ident(conn, a), *qb = b ? pg_quote_ident(conn, b) : NULL;
        _cleanup_free_ char *sql = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        sql = xasprintf(fmt, qa, qb ? qb : "");
#pragma GCC diagnostic pop
        return pg_exec(conn, sql, e);
}

int pg_comment_database(PGconn *conn, const char *db, json_t *meta, Error *e)
{
        _cleanup_free_ char *json = json_dumps(meta, JSON_COMPACT);
        _cleanup_free_ char *text = xasprintf(PG_COMMENT_PREFIX "%s", json);
        _cleanup_free_ char *q = pg_quote_ident(conn, db);
        _cleanup_(PQfreememp) char *lit = PQescapeLiteral(conn, text, strlen(text));
        _cleanup_free_ char *sql = NULL;

        if (!lit)
                return pg_result_error(conn, NULL, e);
        sql = xasprintf("COMMENT ON DATABASE %s IS %s", q, lit);
        return pg_exec(conn, sql, e);
}

int pg_drop_database(PGconn *conn, const char *db, Error *e)
{
        return pg_exec_names(conn, e,
                             PQserverVersion(conn) >= 130000 ? "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                                                             : "DROP DATABASE IF EXISTS %s",
                             db, NULL);
}
