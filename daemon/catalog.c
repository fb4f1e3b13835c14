/* SPDX-License-Identifier: MIT */
/* catalog.c -- the user tables from the live catalog, request parameters checked against them. */

#include "catalog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>

#include "config.h"
#include "pg.h"

/* ---- the live catalog ---------------------------------------------------- */

/*
 * Session settings for API connections.  UTF-8 because jansson takes nothing
 * else; UTC so timestamptz values come out the same whoever asks; read-only
 * as a second wall behind the rule that nothing from a request reaches the
 * SQL; a lock timeout so a request that meets a seed or reset (which hold
 * ACCESS EXCLUSIVE locks while they rebuild tables) answers 503 at once
 * rather than hanging until the statement timeout.
 */
static const char session_sql[] = "SET client_encoding TO 'UTF8';"
                                  "SET TimeZone TO 'UTC';"
                                  "SET lock_timeout TO '3s';"
                                  "SET default_transaction_read_only TO on";

PGconn *catalog_connect(const Config *c, int statement_timeout_ms, Error *e)
{
        _cleanup_pgconn_ PGconn *conn = NULL;
        Error inner = ERROR_INIT;

        conn = pg_connect(c, c->pg_db, "pgseedd-api", 5, statement_timeout_ms, &inner);
        if (!conn) {
                /* Before the first seed and during a template reset the working database does not exist. */
                if (inner.errnum == ENOENT)
                        error_set(e, EAGAIN, "unavailable", "Retry once GET /health answers 200.",
                                  "Database '%s' is not there yet (seeding or resetting): %s", c->pg_db,
                                  inner.message);
                else if (inner.errnum == ECONNREFUSED)
                        error_set(e, ECONNREFUSED, "unavailable", "Retry once GET /health answers 200.",
                                  "Postgres is not accepting connections (starting, restarting or "
                                  "resetting): %s",
                                  inner.message);
                else
                        *e = inner;
                return NULL;
        }
        if (pg_exec(conn, session_sql, e) < 0)
                return NULL;
        return TAKE_PTR(conn);
}

int catalog_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params, json_t **ret,
                       Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        json_error_t jerr;
        json_t *j;
        int r;

        r = pg_query(conn, sql, nparams, params, &res, e);
        if (r == -EBUSY) {
                char msg[sizeof(e->message)];

                strlcpy0(msg, e->message, sizeof(msg));
                return error_set(e, EAGAIN, "busy",
                                 "A seed or reset is rewriting the tables; retry in a moment.", "%s", msg);
        }
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return error_set(e, ENOENT, NULL, NULL, "The catalog query found nothing");
        if (PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
                return error_set(e, EIO, NULL, NULL, "The catalog query returned an unexpected shape");
        j = json_loadb(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0),
                       JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j)
                return error_set(e, EIO, NULL, NULL, "Postgres returned JSON that jansson cannot read: %s",
                                 jerr.text);
        *ret = j;
        return 0;
}

/*
 * Every table of the user schemas with what /sample needs to check a request
 * and build its query: column names by position, which columns are numeric,
 * the primary key.  One round trip, shaped as JSON by Postgres.  Sorting with
 * COLLATE "C" makes the order byte-wise, the same on every server.
 */
static const char catalog_sql[] =
        "SELECT coalesce(json_agg(json_build_object("
        "  'schema', n.nspname, 'name', c.relname, 'readable', has_table_privilege(c.oid, 'SELECT'),"
        "  'columns', (SELECT coalesce(json_agg(json_build_object('name', a.attname,"
        "                'numeric', coalesce(nullif(t.typbasetype, 0), t.oid) = 'numeric'::regtype::oid)"
        "                ORDER BY a.attnum), '[]')"
        "              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        "              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
        "  'primary_key', (SELECT coalesce(json_agg(a.attname ORDER BY u.ord), '[]')"
        "              FROM pg_constraint k CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS "
        "u(attnum, ord)"
        "              JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
        "              WHERE k.conrelid = c.oid AND k.contype = 'p'))"
        "  ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"), '[]')"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND " PG_USER_SCHEMAS;

int catalog_load(PGconn *conn, Catalog **ret, Error *e)
{
        json_auto_t *j = NULL;
        int r;

        r = catalog_query_json(conn, catalog_sql, 0, NULL, &j, e);
        if (r < 0)
                return r;
        return catalog_from_json(j, ret, e);
}

static int table_from_json(const json_t *o, CatalogTable *t, Error *e)
{
        const json_t *cols = json_object_get(o, "columns"), *pk = json_object_get(o, "primary_key"), *v;
        const char *schema = json_string_value(json_object_get(o, "schema"));
        const char *name = json_string_value(json_object_get(o, "name"));
        size_t i;

        if (!schema || !name || !json_is_array(cols) || (pk && !json_is_null(pk) && !json_is_array(pk)))
                return error_set(e, EIO, NULL, NULL,
                                 "The table list from the catalog has an unexpected shape");
        t->schema = xstrdup(schema);
        t->name = xstrdup(name);
        t->readable = !json_is_false(json_object_get(o, "readable"));
        t->columns = xcalloc(json_array_size(cols) + 1, sizeof(CatalogColumn));
        json_array_foreach(cols, i, v)
        {
                const char *cname = json_string_value(json_object_get(v, "name"));

                if (!cname)
                        return error_set(e, EIO, NULL, NULL, "Column %zu of %s.%s has no name", i, schema,
                                         name);
                t->columns[i].name = xstrdup(cname);
                t->columns[i].numeric = json_is_true(json_object_get(v, "numeric"));
                t->n_columns++;
        }
        t->primary_key = xcalloc(json_array_size(pk) + 1, sizeof(size_t));
        json_array_foreach(pk, i, v)
        {
                ssize_t k = json_string_value(v) ? catalog_table_column(t, json_string_value(v)) : -1;

                if (k < 0)
                        return error_set(e, EIO, NULL, NULL,
                                         "The primary key of %s.%s names an unknown column", schema, name);
                t->primary_key[t->n_primary_key++] = (size_t) k;
        }
        return 0;
}

int catalog_from_json(const json_t *j, Catalog **ret, Error *e)
{
        _cleanup_(catalog_freep) Catalog *c = xcalloc(1, sizeof(Catalog));
        const json_t *v;
        size_t i;
        int r;

        if (!json_is_array(j))
                return error_set(e, EIO, NULL, NULL, "The table list from the catalog is not an array");
        c->tables = xcalloc(json_array_size(j) + 1, sizeof(CatalogTable));
        json_array_foreach(j, i, v)
        {
                /* Counted before filling, so catalog_free() releases a half-built entry too. */
                c->n_tables++;
                r = table_from_json(v, &c->tables[i], e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

void catalog_free(Catalog *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_tables; i++) {
                CatalogTable *t = &c->tables[i];

                for (size_t k = 0; k < t->n_columns; k++)
                        free(t->columns[k].name);
                free(t->columns);
                free(t->primary_key);
                free(t->schema);
                free(t->name);
        }
        free(c->tables);
        free(c);
}

/*
 * Appends ", item" to a hint or message buffer.  When the rest would not fit
 * it ends the list with "…" instead: a plain snprintf() could cut a UTF-8
 * character in half, and jansson refuses to build an error body around one.
 */
static void list_append(char *buf, size_t size, const char *item)
{
        size_t len = strlen(buf), need = (len ? 2 : 0) + strlen(item);
        const size_t tail = 2 + strlen(ELLIPSIS); /* room kept for ", …" */

        if (len >= strlen(ELLIPSIS) && streq(buf + len - strlen(ELLIPSIS), ELLIPSIS))
                return; /* already full */
        if (len + need + tail + 1 > size) {
                if (len + tail + 1 <= size)
                        snprintf(buf + len, size - len, "%s%s", len ? ", " : "", ELLIPSIS);
                return;
        }
        snprintf(buf + len, size - len, "%s%s", len ? ", " : "", item);
}

void catalog_list_tables(const Catalog *c, char *buf, size_t size)
{
        char q[2 * (CATALOG_NAME_MAX + 1) + 2];

        *buf = '\0';
        for (size_t i = 0; i < c->n_tables; i++) {
                snprintf(q, sizeof(q), "%s.%s", c->tables[i].schema, c->tables[i].name);
                list_append(buf, size, q);
        }
}

void catalog_table_list_columns(const CatalogTable *t, char *buf, size_t size)
{
        *buf = '\0';
        for (size_t i = 0; i < t->n_columns; i++)
                list_append(buf, size, t->columns[i].name);
}

/* ---- parameters checked against the catalog ------------------------------ */

int param_check_text(const char *param, const char *value, size_t max_bytes, Error *e)
{
        size_t len = strlen(value);

        if (len == 0)
                return error_set(e, EINVAL, "invalid_parameter", NULL, "Parameter '%s' is empty", param);
        /* Nothing below echoes a value that fails these checks: the error body must stay valid JSON. */
        if (len > max_bytes)
                return error_set(e, EINVAL, "invalid_parameter", NULL,
                                 "Parameter '%s' is too long (%zu bytes; at most %zu)", param, len,
                                 max_bytes);
        if (!utf8_is_valid(value, len))
                return error_set(e, EINVAL, "invalid_parameter", NULL, "Parameter '%s' is not valid UTF-8",
                                 param);
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return error_set(e, EINVAL, "invalid_parameter", NULL,
                                         "Parameter '%s' contains control characters", param);
        return 0;
}

static bool table_matches(const CatalogTable *t, const char *ref)
{
        const char *rest;

        if (streq(t->name, ref))
                return true;
        rest = startswith(ref, t->schema);
        return rest && *rest == '.' && streq(rest + 1, t->name);
}

int catalog_find_table(const Catalog *c, const char *ref, const CatalogTable **ret, Error *e)
{
        const CatalogTable *found = NULL;
        char list[600] = "", names[500], hint[sizeof(e->hint)], q[2 * (CATALOG_NAME_MAX + 1) + 2];
        size_t n_found = 0;
        int r;

        r = param_check_text("table", ref, 2 * CATALOG_NAME_MAX + 1, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_tables; i++) {
                const CatalogTable *t = &c->tables[i];

                if (!table_matches(t, ref))
                        continue;
                found = found ? found : t;
                n_found++;
                snprintf(q, sizeof(q), "%s.%s", t->schema, t->name);
                list_append(list, sizeof(list), q);
        }
        if (n_found == 1) {
                *ret = found;
                return 0;
        }
        if (n_found > 1)
                return error_set(e, EINVAL, "invalid_parameter", "Qualify the name: ?table=SCHEMA.NAME.",
                                 "Parameter 'table': '%s' is in several schemas: %s", ref, list);
        catalog_list_tables(c, names, sizeof(names));
        if (*names)
                bufprintf(hint, sizeof(hint), "Tables: %s", names);
        else
                strlcpy0(hint, "There are no tables in the user schemas yet.", sizeof(hint));
        return error_set(e, ENOENT, "table_not_found", hint, "Table '%s' does not exist", ref);
}

ssize_t catalog_table_column(const CatalogTable *t, const char *name)
{
        for (size_t i = 0; i < t->n_columns; i++)
                if (streq(t->columns[i].name, name))
                        return (ssize_t) i;
        return -1;
}

static int unknown_column(const CatalogTable *t, const char *param, const char *name, Error *e)
{
        /* Sized so that the prefix (two names of at most 63 bytes) and the list always fit in e->hint. */
        char list[sizeof(e->hint) - 2 * CATALOG_NAME_MAX - 20], hint[sizeof(e->hint)];

        catalog_table_list_columns(t, list, sizeof(list));
        bufprintf(hint, sizeof(hint), "Columns of %s.%s: %s", t->schema, t->name, *list ? list : "(none)");
        return error_set(e, EINVAL, "unknown_column", hint,
                         "Parameter '%s': column '%s' does not exist in %s.%s", param, name, t->schema,
                         t->name);
}

int catalog_parse_columns(const CatalogTable *t, const char *list, size_t **ret, size_t *ret_n, Error *e)
{
        _cleanup_free_ size_t *idx = NULL;
        char name[CATALOG_NAME_MAX + 1];
        const char *p = list;
        size_t n = 0;
        int r;

        r = param_check_text("columns", list, CATALOG_COLUMNS_MAX * (CATALOG_NAME_MAX + 1), e);
        if (r < 0)
                return r;
        idx = xcalloc(CATALOG_COLUMNS_MAX, sizeof(size_t));
        for (;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t) (comma - p) : strlen(p);
                ssize_t k;

                if (len == 0)
                        return error_set(e, EINVAL, "invalid_parameter",
                                         "Separate names with single commas: ?columns=a,b.",
                                         "Parameter 'columns' holds an empty name");
                if (n == CATALOG_COLUMNS_MAX)
                        return error_set(e, EINVAL, "invalid_parameter", NULL,
                                         "Parameter 'columns' names more than %d columns",
                                         CATALOG_COLUMNS_MAX);
                /* Longer than any identifier Postgres keeps: cannot be a column (and is not echoed whole).
                 */
                if (len > CATALOG_NAME_MAX)
                        return error_set(
                                e, EINVAL, "unknown_column", NULL,
                                "Parameter 'columns' holds a name longer than %d bytes; no column has it",
                                CATALOG_NAME_MAX);
                memcpy(name, p, len);
                name[len] = '\0';
                k = catalog_table_column(t, name);
                if (k < 0)
                        return unknown_column(t, "columns", name, e);
                for (size_t i = 0; i < n; i++)
                        if (idx[i] == (size_t) k)
                                return error_set(e, EINVAL, "invalid_parameter", NULL,
                                                 "Parameter 'columns' names '%s' twice", name);
                idx[n++] = (size_t) k;
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = TAKE_PTR(idx);
        *ret_n = n;
        return 0;
}

int catalog_parse_order(const CatalogTable *t, const char *spec, CatalogOrder *ret, Error *e)
{
        char name[CATALOG_NAME_MAX + 1];
        const char *dot;
        ssize_t k;
        int r;

        r = param_check_text("order", spec, CATALOG_NAME_MAX + strlen(".desc"), e);
        if (r < 0)
                return r;
        /* The whole text first: a column may itself be called "x.desc". */
        k = catalog_table_column(t, spec);
        if (k >= 0) {
                *ret = (CatalogOrder){.column = (size_t) k, .descending = false};
                return 0;
        }
        dot = strrchr(spec, '.');
        if (dot && (size_t) (dot - spec) <= CATALOG_NAME_MAX) {
                memcpy(name, spec, (size_t) (dot - spec));
                name[dot - spec] = '\0';
                k = catalog_table_column(t, name);
                if (k >= 0) {
                        if (strcasecmp(dot + 1, "asc") != 0 && strcasecmp(dot + 1, "desc") != 0)
                                return error_set(
                                        e, EINVAL, "invalid_parameter",
                                        "Use ?order=COLUMN.asc or ?order=COLUMN.desc.",
                                        "Parameter 'order': direction must be asc or desc, got '%s'",
                                        dot + 1);
                        *ret = (CatalogOrder){.column = (size_t) k,
                                              .descending = strcasecmp(dot + 1, "desc") == 0};
                        return 0;
                }
                if (strcasecmp(dot + 1, "asc") == 0 || strcasecmp(dot + 1, "desc") == 0)
                        return unknown_column(t, "order", name, e);
        }
        return unknown_column(t, "order", spec, e);
}
