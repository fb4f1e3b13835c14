/* SPDX-License-Identifier: MIT */
/* api-sample.c -- GET /sample: rows of user tables as typed JSON, paged, ordered, narrowed, cut. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "api.h"
#include "catalog.h"
#include "jsonfmt.h"
#include "daemon.h"
#include "pg.h"

#define STATEMENT_TIMEOUT_MS 10000
#define LIMIT_MAX            1000
#define OFFSET_MAX           INT64_C(1000000000)
#define TRUNCATE_MAX         100000

typedef struct SampleQuery {
        const CatalogTable *table;
        size_t *columns; /* indexes into table->columns */
        size_t n_columns;
        bool has_order; /* false only for a table without columns */
        CatalogOrder order;
        int64_t limit, offset;
        int64_t truncate; /* 0: none */
} SampleQuery;

/*
 * A numeric column as JSON that jansson reads back exactly: integral values
 * within int64 as integers, values a double holds to all their digits (15 or
 * fewer) as numbers, everything else (more digits, beyond int64, NaN,
 * Infinity) as its text.  to_json() alone writes every numeric as a bare
 * number, and jansson refuses integers beyond int64 outright and rounds long
 * fractions.  CASE, not AND, because only CASE fixes the order of evaluation,
 * and the float8 cast must not see a value beyond its range.
 */
static void put_numeric(FILE *f, const char *col)
{
        fprintf(f,
                "(CASE WHEN abs(%1$s) >= 9223372036854775807 THEN to_json(%1$s::text)"
                " WHEN %1$s = trunc(%1$s) THEN to_json(trunc(%1$s))"
                " WHEN %1$s = %1$s::float8::numeric THEN to_json(%1$s)"
                " ELSE to_json(%1$s::text) END)::text",
                col);
}

/*
 * The query for q, built only from catalog names quoted by
 * PQescapeIdentifier(); limit and offset are $1 and $2:
 *
 *   SELECT to_json(_pgseed_t."a")::text, ... FROM "schema"."table" AS _pgseed_t
 *   ORDER BY _pgseed_t."col" DESC, _pgseed_t."pk" LIMIT $1 OFFSET $2
 *
 * Postgres types every value (numbers, booleans, nested json, ISO 8601
 * times); one value per column rather than row_to_json() so that a value
 * jansson cannot read spoils only itself.  The primary key breaks ties, so
 * paging with offset is deterministic.
 */
static char *sample_sql(PGconn *conn, const SampleQuery *q)
{
        const CatalogTable *t = q->table;
        _cleanup_free_ char *table = pg_quote_qualified(conn, t->schema, t->name);
        char *sql = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&sql, &size);

        if (!f)
                abort();
        fputs("SELECT ", f);
        for (size_t i = 0; i < q->n_columns; i++) {
                const CatalogColumn *c = &t->columns[q->columns[i]];
                _cleanup_free_ char *name = pg_quote_ident(conn, c->name);
                _cleanup_free_ char *ref = xasprintf("_pgseed_t.%s", name);

                if (i > 0)
                        fputs(", ", f);
                if (c->numeric)
                        put_numeric(f, ref);
                else
                        fprintf(f, "to_json(%s)::text", ref);
        }
        fprintf(f, " FROM %s AS _pgseed_t", table);
        if (q->has_order) {
                _cleanup_free_ char *name = pg_quote_ident(conn, t->columns[q->order.column].name);

                fprintf(f, " ORDER BY _pgseed_t.%s %s", name, q->order.descending ? "DESC" : "ASC");
                for (size_t i = 0; i < t->n_primary_key; i++) {
                        _cleanup_free_ char *pk = NULL;

                        if (t->primary_key[i] == q->order.column)
                                continue;
                        pk = pg_quote_ident(conn, t->columns[t->primary_key[i]].name);
                        fprintf(f, ", _pgseed_t.%s", pk);
                }
        }
        fputs(" LIMIT $1 OFFSET $2", f);
        fclose(f);
        return sql;
}

/*
 * One value as to_json() wrote it.  Numbers nested in arrays, json or jsonb
 * escape put_numeric(): an integer beyond int64 is read again as a double,
 * and a number beyond a double (json allows 1e400) keeps its JSON text as a
 * string, so one odd value never costs the whole sample.
 */
static json_t *value_from_text(const char *text, size_t len)
{
        json_error_t jerr;
        json_t *v;

        v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v)
                v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
        if (!v)
                v = json_stringn(text, len);
        return v ? v : json_null();
}

/* Runs q; the SAMPLE object: {"table", "columns", "limit", "offset", "order", "truncate", "rows"}. */
static int sample_run(PGconn *conn, const SampleQuery *q, json_t **ret, Error *e)
{
        const CatalogTable *t = q->table;
        _cleanup_free_ char *sql = sample_sql(conn, q);
        _cleanup_pgresult_ PGresult *res = NULL;
        char limit[24], offset[24];
        json_t *o, *cols, *rows;
        int r;

        snprintf(limit, sizeof(limit), "%" PRId64, q->limit);
        snprintf(offset, sizeof(offset), "%" PRId64, q->offset);
        r = pg_query(conn, sql, 2, (const char *const[]){limit, offset}, &res, e);
        if (r == -EBUSY)
                return error_set(e, EAGAIN, "busy",
                                 "A seed or reset is rewriting the tables; retry in a moment.",
                                 "Table %s.%s is locked", t->schema, t->name);
        if (r == -EINVAL) {
                /* The names are checked, so this is a type Postgres cannot sort (json, point, ...). */
                strlcpy0(e->code, "invalid_parameter", sizeof(e->code));
                strlcpy0(e->hint, "Order by a column of a sortable type: ?order=COLUMN.", sizeof(e->hint));
        }
        if (r < 0)
                return error_prefix(e, "Failed to read %s.%s: ", t->schema, t->name);

        rows = json_array();
        for (int i = 0; i < PQntuples(res); i++) {
                json_t *row = json_object();

                for (size_t k = 0; k < q->n_columns; k++) {
                        json_t *v = PQgetisnull(res, i, (int) k)
                                            ? json_null()
                                            : value_from_text(PQgetvalue(res, i, (int) k),
                                                              (size_t) PQgetlength(res, i, (int) k));

                        json_object_set_new(row, t->columns[q->columns[k]].name, v);
                }
                if (q->truncate > 0)
                        json_truncate_strings(row, (size_t) q->truncate);
                json_array_append_new(rows, row);
        }

        cols = json_array();
        for (size_t i = 0; i < q->n_columns; i++)
                json_array_append_new(cols, json_string(t->columns[q->columns[i]].name));
        o = json_pack("{s:{s:s, s:s}, s:o, s:I, s:I}", "table", "schema", t->schema, "name", t->name,
                      "columns", cols, "limit", (json_int_t) q->limit, "offset", (json_int_t) q->offset);
        json_object_set_new(o, "order",
                            q->has_order
                                    ? json_pack("{s:s, s:s}", "column", t->columns[q->order.column].name,
                                                "direction", q->order.descending ? "desc" : "asc")
                                    : json_null());
        json_object_set_new(o, "truncate", q->truncate > 0 ? json_integer(q->truncate) : json_null());
        json_object_set_new(o, "rows", rows);
        *ret = o;
        return 0;
}

/* All columns, ordered by the primary key (or, without one, the first column) ascending. */
static void sample_defaults(const CatalogTable *t, SampleQuery *q)
{
        q->table = t;
        q->columns = xcalloc(t->n_columns + 1, sizeof(size_t));
        for (size_t i = 0; i < t->n_columns; i++)
                q->columns[i] = i;
        q->n_columns = t->n_columns;
        q->has_order = t->n_columns > 0;
        q->order =
                (CatalogOrder){.column = t->n_primary_key > 0 ? t->primary_key[0] : 0, .descending = false};
}

static int sample_one(PGconn *conn, const Catalog *cat, const char *ref, const char *columns,
                      const char *order, SampleQuery *q, json_t **ret, Error *e)
{
        const CatalogTable *t;
        int r;

        r = catalog_find_table(cat, ref, &t, e);
        if (r < 0)
                return r;
        if (!t->readable)
                return error_set(e, EPERM, "permission_denied", NULL, "The database role may not read %s.%s",
                                 t->schema, t->name);
        sample_defaults(t, q);
        if (columns) {
                free(q->columns);
                q->columns = NULL;
                r = catalog_parse_columns(t, columns, &q->columns, &q->n_columns, e);
                if (r < 0)
                        return r;
        }
        if (order) {
                r = catalog_parse_order(t, order, &q->order, e);
                if (r < 0)
                        return r;
                q->has_order = true;
        }
        return sample_run(conn, q, ret, e);
}

/* A few rows of every table the role may read: {"tables": [SAMPLE, ...]}. */
static int sample_all(PGconn *conn, const Catalog *cat, const SampleQuery *params, json_t **ret, Error *e)
{
        json_auto_t *tables = json_array();
        int r;

        for (size_t i = 0; i < cat->n_tables; i++) {
                SampleQuery q = *params;
                json_t *s = NULL;

                /* Other roles' tables in shared schemas are listed by /schema; here they could only fail. */
                if (!cat->tables[i].readable)
                        continue;
                sample_defaults(&cat->tables[i], &q);
                r = sample_run(conn, &q, &s, e);
                free(q.columns);
                if (r == -ENOENT)
                        continue; /* dropped since catalog_load(): not worth failing the others for */
                if (r < 0)
                        return r;
                json_array_append_new(tables, s);
        }
        *ret = json_pack("{s:O}", "tables", tables);
        return 0;
}

/* Checks every parameter's text before anything echoes it in an error (see param_check_text()). */
static bool params_check(Request *req, Error *e)
{
        static const struct {
                const char *key;
                size_t max;
        } params[] = {
                {"table", 2 * CATALOG_NAME_MAX + 1},
                {"columns", CATALOG_COLUMNS_MAX * (CATALOG_NAME_MAX + 1)},
                {"order", CATALOG_NAME_MAX + 5},
                {"limit", 32},
                {"offset", 32},
                {"truncate", 32},
        };

        for (size_t i = 0; i < ELEMENTSOF(params); i++) {
                const char *v = request_query(req, params[i].key);

                if (v && param_check_text(params[i].key, v, params[i].max, e) < 0)
                        return false;
        }
        return true;
}

void api_sample(Request *req)
{
        const char *ref = request_query(req, "table"), *order = request_query(req, "order");
        const char *columns = request_query(req, "columns");
        _cleanup_pgconn_ PGconn *conn = NULL;
        _cleanup_(catalog_freep) Catalog *cat = NULL;
        SampleQuery q = {0};
        Error e = ERROR_INIT;
        json_t *body = NULL;
        int r;

        if (!request_query_allow(req, NULL))
                return;
        /* Parameters are checked before connecting: a bad request is a 400 even while Postgres is down. */
        if (!params_check(req, &e)) {
                http_reply_errno(req, &e);
                return;
        }
        if (!request_query_int(req, "limit", ref ? 10 : 3, 1, LIMIT_MAX, &q.limit) ||
            !request_query_int(req, "offset", 0, 0, OFFSET_MAX, &q.offset) ||
            !request_query_int(req, "truncate", 0, 1, TRUNCATE_MAX, &q.truncate))
                return;
        if (!ref && (order || columns)) {
                http_reply_error(req, 400, "invalid_parameter", "Name the table: ?table=NAME.",
                                 "Parameter '%s' needs 'table'", order ? "order" : "columns");
                return;
        }

        conn = catalog_connect(request_daemon(req)->config, STATEMENT_TIMEOUT_MS, &e);
        if (!conn) {
                http_reply_errno(req, &e);
                return;
        }
        r = catalog_load(conn, &cat, &e);
        if (r >= 0)
                r = ref ? sample_one(conn, cat, ref, columns, order, &q, &body, &e)
                        : sample_all(conn, cat, &q, &body, &e);
        free(q.columns);
        if (r < 0) {
                http_reply_errno(req, &e);
                return;
        }
        http_reply_json(req, 200, body);
}
