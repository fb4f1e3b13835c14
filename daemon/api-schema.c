/* SPDX-License-Identifier: MIT */
/* api-schema.c -- GET /schema: tables, columns, keys, indexes and triggers of every user schema. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "api.h"
#include "catalog.h"
#include "jsonfmt.h"
#include "daemon.h"
#include "pg.h"

#define STATEMENT_TIMEOUT_MS 10000

/*
 * One table, as JSON built by Postgres, for a pg_class row c in namespace n.
 *
 * rows: an exact count(*).  query_to_xml runs it inside this one statement;
 * the names come from the catalog and are quoted by format('%I'), so nothing
 * from the request reaches it.  NULL when the role may not read the table.
 * columns: format_type() spells types as psql does ("character varying(255)");
 * defaults are the expression text, generated columns have none.
 * indexes: the key columns only (INCLUDE columns are in the definition); an
 * expression key appears as its text.
 * triggers: internal ones (those behind foreign keys) left out; tgtype bits
 * are ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32, INSTEAD 64,
 * and the events are listed in the order pg_get_triggerdef() writes them.
 */
#define TABLE_JSON                                                                                          \
        "json_build_object("                                                                                \
        " 'schema', n.nspname, 'name', c.relname,"                                                          \
        " 'rows', CASE WHEN has_table_privilege(c.oid, 'SELECT') THEN (xpath('/row/n/text()', "             \
        "query_to_xml("                                                                                     \
        "    format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, "                \
        "'')))[1]::text::bigint "                                                                           \
        "    END,"                                                                                          \
        " 'columns', (SELECT coalesce(json_agg(json_build_object("                                          \
        "    'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT "             \
        "a.attnotnull,"                                                                                     \
        "    'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,"          \
        "    'position', a.attnum) ORDER BY a.attnum), '[]')"                                               \
        "    FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = "        \
        "a.attnum"                                                                                          \
        "    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"                            \
        " 'primary_key', (SELECT json_build_object('name', k.conname, 'columns',"                           \
        "    (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY AS "          \
        "u(attnum, ord)"                                                                                    \
        "     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum))"                     \
        "    FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),"                           \
        " 'foreign_keys', (SELECT coalesce(json_agg(json_build_object("                                     \
        "    'name', k.conname,"                                                                            \
        "    'columns', (SELECT json_agg(a.attname ORDER BY u.ord)"                                         \
        "       FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)"                                    \
        "       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),"                   \
        "    'references', json_build_object('schema', rn.nspname, 'table', rc.relname, 'columns',"         \
        "       (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY AS "      \
        "u(attnum, ord)"                                                                                    \
        "        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum)),"                \
        "    'on_delete', " FK_ACTION("k.confdeltype") ", 'on_update', " FK_ACTION(                         \
                "k.confupdtype") ")"                                                                        \
                                 "    ORDER BY k.conname COLLATE \"C\"), '[]')"                             \
                                 "    FROM pg_constraint k JOIN pg_class rc ON rc.oid = k.confrelid"        \
                                 "    JOIN pg_namespace rn ON rn.oid = rc.relnamespace"                     \
                                 "    WHERE k.conrelid = c.oid AND k.contype = 'f'),"                       \
                                 " 'indexes', (SELECT coalesce(json_agg(json_build_object("                 \
                                 "    'name', ic.relname,"                                                  \
                                 "    'columns', (SELECT json_agg(CASE WHEN u.attnum <> 0"                  \
                                 "         THEN (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = "  \
                                 "i.indrelid AND a.attnum = u.attnum)"                                      \
                                 "         ELSE pg_get_indexdef(i.indexrelid, u.ord::int, true) END ORDER " \
                                 "BY u.ord)"                                                                \
                                 "       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord) "  \
                                 "WHERE u.ord <= i.indnkeyatts),"                                           \
                                 "    'unique', i.indisunique, 'primary', i.indisprimary, 'definition', "   \
                                 "pg_get_indexdef(i.indexrelid))"                                           \
                                 "    ORDER BY ic.relname COLLATE \"C\"), '[]')"                            \
                                 "    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE "     \
                                 "i.indrelid = c.oid),"                                                     \
                                 " 'triggers', (SELECT coalesce(json_agg(json_build_object("                \
                                 "    'name', tg.tgname,"                                                   \
                                 "    'timing', CASE WHEN tg.tgtype & 64 <> 0 THEN 'INSTEAD OF' WHEN "      \
                                 "tg.tgtype & 2 <> 0 THEN 'BEFORE'"                                         \
                                 "              ELSE 'AFTER' END,"                                          \
                                 "    'events', (SELECT json_agg(ev.name ORDER BY ev.bit) FROM (VALUES "    \
                                 "(4, 'INSERT'), (8, 'DELETE'),"                                            \
                                 "               (16, 'UPDATE'), (32, 'TRUNCATE')) AS ev(bit, name) WHERE " \
                                 "tg.tgtype & ev.bit <> 0),"                                                \
                                 "    'level', CASE WHEN tg.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' "   \
                                 "END,"                                                                     \
                                 "    'function', p.proname, 'definition', pg_get_triggerdef(tg.oid))"      \
                                 "    ORDER BY tg.tgname COLLATE \"C\"), '[]')"                             \
                                 "    FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid WHERE "        \
                                 "tg.tgrelid = c.oid AND NOT tg.tgisinternal))"

#define FK_ACTION(col)                                                                                      \
        "CASE " col " WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'"           \
        " WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END"

/* Every user schema, empty ones included, each with its tables. */
static const char schema_all_sql[] =
        "SELECT json_build_object('database', current_database(), 'schemas', "
        "coalesce(json_agg(json_build_object("
        "  'name', n.nspname, 'tables', (SELECT coalesce(json_agg(" TABLE_JSON
        " ORDER BY c.relname COLLATE \"C\"), '[]')"
        "     FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')))"
        "  ORDER BY n.nspname COLLATE \"C\"), '[]'))"
        " FROM pg_namespace n WHERE " PG_USER_SCHEMAS;

/* One table; $1 and $2 are its schema and name as the catalog spells them. */
static const char schema_table_sql[] =
        "SELECT json_build_object('database', current_database(), 'table', " TABLE_JSON ")"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

static int schema_build(const Config *config, const char *ref, json_t **ret, Error *e)
{
        _cleanup_pgconn_ PGconn *conn = NULL;
        _cleanup_(catalog_freep) Catalog *cat = NULL;
        const CatalogTable *t;
        int r;

        conn = catalog_connect(config, STATEMENT_TIMEOUT_MS, e);
        if (!conn)
                return -e->errnum;
        if (!ref)
                return catalog_query_json(conn, schema_all_sql, 0, NULL, ret, e);

        r = catalog_load(conn, &cat, e);
        if (r < 0)
                return r;
        r = catalog_find_table(cat, ref, &t, e);
        if (r < 0)
                return r;
        r = catalog_query_json(conn, schema_table_sql, 2, (const char *const[]){t->schema, t->name}, ret, e);
        if (r == -ENOENT) /* dropped since catalog_load() */
                return error_set(e, ENOENT, "table_not_found", NULL, "Table '%s' does not exist", ref);
        return r;
}

void api_schema(Request *req)
{
        const char *ref = request_query(req, "table"), *inm;
        json_auto_t *body = NULL;
        _cleanup_free_ char *text = NULL;
        Error e = ERROR_INIT;
        char etag[24];
        size_t len;

        if (!request_query_allow(req, NULL))
                return;
        /* Checked before connecting, so a bad name is a 400 even while the database is down. */
        if (ref && param_check_text("table", ref, 2 * CATALOG_NAME_MAX + 1, &e) < 0) {
                http_reply_errno(req, &e);
                return;
        }
        if (schema_build(request_daemon(req)->config, ref, &body, &e) < 0) {
                http_reply_errno(req, &e);
                return;
        }

        /* The ETag hashes the exact bytes we send, row counts included. */
        text = json_format(body, &len);
        snprintf(etag, sizeof(etag), "\"%016" PRIx64 "\"", hash64(text, len, HASH64_INIT));
        http_add_header(req, "ETag", etag);
        inm = request_header(req, "If-None-Match");
        if (inm && etag_matches(inm, etag)) {
                http_reply_text(req, 304, NULL, "", 0);
                return;
        }
        http_reply_text(req, 200, "application/json; charset=utf-8", text, len);
}
