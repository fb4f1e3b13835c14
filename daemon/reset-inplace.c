/* SPDX-License-Identifier: MIT */
/* reset-inplace.c -- restoring the seeded rows inside the working database, keeping its publication and
 * slots. */

#include "reset-inplace.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "pg.h"
#include "sqlfile.h"

/*
 * A digest of everything about the user schemas that a reset must restore
 * besides rows: relations, columns (by position among live columns, so a
 * dropped-and-re-added column counts as a change), constraints, indexes,
 * triggers and publication membership.  Equal digests mean the rows can be
 * swapped with TRUNCATE + COPY; different ones mean the tables are rebuilt.
 */
static const char structure_sql[] =
        "SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM ("
        " SELECT format('rel %I.%I %s', n.nspname, c.relname, c.relkind) AS x"
        "   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND " PG_USER_SCHEMAS " UNION ALL"
        " SELECT format('col %I.%I %s %I %s %s %s', n.nspname, c.relname,"
        "        row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,"
        "        format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))"
        "   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace"
        "   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        "  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND " PG_USER_SCHEMAS
        " UNION ALL"
        " SELECT format('con %I.%I %I %s', n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid))"
        "   FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " PG_USER_SCHEMAS " UNION ALL"
        " SELECT format('idx %s', pg_get_indexdef(i.indexrelid))"
        "   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " PG_USER_SCHEMAS " UNION ALL"
        " SELECT format('trg %s', pg_get_triggerdef(t.oid))"
        "   FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        "   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND " PG_USER_SCHEMAS
        " UNION ALL"
        " SELECT format('pub %I', pubname) FROM pg_publication"
        " UNION ALL"
        " SELECT format('pubtable %I %I.%I', pubname, schemaname, tablename) FROM pg_publication_tables"
        ") s";

/* The user tables with quoted names of the table, its live columns and its primary key columns. */
static const char tables_sql[] =
        "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname,"
        "   'qualified', format('%I.%I', n.nspname, c.relname),"
        "   'columns', (SELECT json_agg(quote_ident(a.attname) ORDER BY a.attnum) FROM pg_attribute a"
        "               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
        "   'key', (SELECT json_agg(quote_ident(a.attname) ORDER BY k.ord)"
        "           FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
        "           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        "           WHERE i.indrelid = c.oid AND i.indisprimary))"
        "   ORDER BY n.nspname, c.relname), '[]')"
        "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " PG_USER_SCHEMAS;

static const char sequences_sql[] =
        "SELECT format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value), last_value IS "
        "NOT NULL"
        "  FROM pg_sequences WHERE schemaname <> 'information_schema' AND schemaname !~ '^pg_'";

/* The template allows no connections (so nobody changes it); open one for us and close the door again. */
static PGconn *connect_template(const Config *c, PGconn *maint, const char *tmpl, Error *e)
{
        _cleanup_free_ char *q = pg_quote_ident(maint, tmpl);
        _cleanup_free_ char *open_sql = xasprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", q);
        _cleanup_free_ char *close_sql = xasprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", q);
        Error ignore = ERROR_INIT;
        PGconn *conn;

        if (pg_exec(maint, open_sql, e) < 0)
                return NULL;
        conn = pg_connect(c, tmpl, "pgseedd-reset", 10, 0, e);
        (void) pg_exec(maint, close_sql, &ignore);
        if (conn && pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e) < 0) {
                PQfinish(conn);
                return NULL;
        }
        return conn;
}

static int copy_sequences(PGconn *src, PGconn *dst, Error *e)
{
        _cleanup_pgresult_ PGresult *seqs = NULL;
        int r = pg_query(src, sequences_sql, 0, NULL, &seqs, e);

        for (int i = 0; r == 0 && i < PQntuples(seqs); i++) {
                const char *params[] = {PQgetvalue(seqs, i, 0), PQgetvalue(seqs, i, 1),
                                        PQgetvalue(seqs, i, 2)};
                _cleanup_pgresult_ PGresult *res = NULL;
                r = pg_query(dst, "SELECT setval($1::regclass, $2::bigint, $3::boolean)", 3, params, &res,
                             e);
        }
        return r;
}

/* Drops every user table and re-runs the SQL files that create them (inside the caller's transaction). */
static int rebuild_tables(const Config *c, PGconn *w, const SqlDir *dir, bool after_load, Error *e)
{
        int r;

        if (!after_load) {
                _cleanup_free_ char *tables = pg_user_tables_list(w, e);
                if (!tables)
                        return -e->errnum;
                if (*tables) {
                        _cleanup_free_ char *sql = xasprintf("DROP TABLE %s CASCADE", tables);
                        r = pg_exec(w, sql, e);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < dir->n_files; i++) {
                if (dir->files[i].after_load != after_load)
                        continue;
                r = pg_exec(w, dir->files[i].text, e);
                if (r < 0)
                        return error_prefix(e, "%s/%s: ", dir->path, dir->files[i].name);
        }
        return 0;
}

/* "a, b" (prefix "") or "s.a, s.b" (prefix "s.") from a JSON array of quoted column names. */
static char *join_columns(json_t *cols, const char *prefix, const char *sep)
{
        char *out = xstrdup("");
        json_t *col;
        size_t i;

        json_array_foreach(cols, i, col)
        {
                char *next = xasprintf("%s%s%s%s", out, i ? sep : "", prefix, json_string_value(col));
                free(out);
                out = next;
        }
        return out;
}

typedef struct Changes {
        int64_t rows, deleted, updated, inserted;
} Changes;

static int exec_count(PGconn *w, const char *sql, int64_t *ret, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(w, sql, 0, NULL, &res, e);

        if (r == 0 && ret)
                *ret = strtoll(PQcmdTuples(res), NULL, 10);
        return r;
}

/* Joins "<a>.k = <b>.k" (sep " AND ") or "coalesce(s.k, t.k) AS k" (sep ", ") over the key columns. */
static char *key_terms(json_t *key, const char *fmt, const char *sep)
{
        char *out = xstrdup("");
        json_t *k;
        size_t i;

        json_array_foreach(key, i, k)
        {
                const char *n = json_string_value(k);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                _cleanup_free_ char *term = xasprintf(fmt, n, n, n);
#pragma GCC diagnostic pop
                char *next = xasprintf("%s%s%s", out, i ? sep : "", term);
                free(out);
                out = next;
        }
        return out;
}

/*
 * Makes table q equal to the staged template rows in pgseed_src by touching
 * only what differs.  One full join of the two (by primary key) finds the
 * rows to delete, update and insert; then each is a small keyed statement.
 * A CDC consumer sees exactly the changes that undo the session's work.
 */
static int apply_diff(PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        const char *q = json_string_value(json_object_get(tbl, "qualified"));
        json_t *cols = json_object_get(tbl, "columns"), *key = json_object_get(tbl, "key");
        const char *k1 = json_string_value(json_array_get(key, 0));
        _cleanup_free_ char *all = join_columns(cols, "", ", "), *tall = join_columns(cols, "t.", ", ");
        _cleanup_free_ char *sall = join_columns(cols, "s.", ", ");
        _cleanup_free_ char *ts = key_terms(key, "t.%s = s.%s", " AND "),
                            *td = key_terms(key, "t.%s = d.%s", " AND ");
        _cleanup_free_ char *sd = key_terms(key, "s.%s = d.%s", " AND ");
        _cleanup_free_ char *keys = key_terms(key, "coalesce(s.%s, t.%s) AS %s", ", ");
        _cleanup_free_ char *sql = NULL;
        int r;

        sql = xasprintf(
                "CREATE TEMP TABLE pgseed_delta AS SELECT"
                " CASE WHEN t.%s IS NULL THEN 'i' WHEN s.%s IS NULL THEN 'd' ELSE 'u' END AS pgseed_op, %s"
                " FROM %s t FULL JOIN pgseed_src s ON %s"
                " WHERE t.%s IS NULL OR s.%s IS NULL OR (%s) IS DISTINCT FROM (%s)",
                k1, k1, keys, q, ts, k1, k1, tall, sall);
        r = pg_exec(w, sql, e);
        free(TAKE_PTR(sql));
        if (r == 0) {
                sql = xasprintf("DELETE FROM %s t USING pgseed_delta d WHERE d.pgseed_op = 'd' AND %s", q,
                                td);
                r = exec_count(w, sql, &ch->deleted, e);
                free(TAKE_PTR(sql));
        }
        if (r == 0) {
                sql = xasprintf("UPDATE %s t SET (%s) = ROW(%s) FROM pgseed_src s, pgseed_delta d"
                                " WHERE d.pgseed_op = 'u' AND %s AND %s",
                                q, all, sall, sd, td);
                r = exec_count(w, sql, &ch->updated, e);
                free(TAKE_PTR(sql));
        }
        if (r == 0) {
                sql = xasprintf("INSERT INTO %s SELECT s.* FROM pgseed_src s JOIN pgseed_delta d"
                                " ON d.pgseed_op = 'i' AND %s",
                                q, sd);
                r = exec_count(w, sql, &ch->inserted, e);
        }
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_delta", e);
        return r;
}

/* Without a key (or with column types that cannot be compared): replace every row. */
static int replace_rows(PGconn *w, const char *q, Changes *ch, Error *e)
{
        _cleanup_free_ char *del = xasprintf("DELETE FROM %s", q);
        _cleanup_free_ char *ins = xasprintf("INSERT INTO %s SELECT * FROM pgseed_src", q);
        int r = exec_count(w, del, &ch->deleted, e);

        return r < 0 ? r : exec_count(w, ins, &ch->inserted, e);
}

/* Stages table tbl's template rows in a temporary table and applies the difference. */
static int restore_table(PGconn *t, PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        const char *q = json_string_value(json_object_get(tbl, "qualified"));
        _cleanup_free_ char *stage = xasprintf("CREATE TEMP TABLE pgseed_src (LIKE %s)", q);
        json_t *key = json_object_get(tbl, "key");
        int r;

        r = pg_exec(w, stage, e);
        if (r == 0)
                r = loader_copy_table(t, q, w, "pgseed_src", &ch->rows, e);
        if (r < 0)
                return r;
        if (json_array_size(key) > 0) {
                r = pg_exec(w, "SAVEPOINT pgseed_diff", e);
                if (r == 0)
                        r = apply_diff(w, tbl, ch, e);
                if (r == 0 || e->errnum == EBUSY || e->errnum == ECONNREFUSED)
                        goto done;
                /* E.g. a column type without equality (json): fall back to replacing every row. */
                log_debug("reset", "Diff of %s failed (%s), replacing its rows", q, e->message);
                *e = (Error) ERROR_INIT;
                *ch = (Changes){.rows = ch->rows};
                r = pg_exec(w, "ROLLBACK TO SAVEPOINT pgseed_diff", e);
                if (r < 0)
                        return r;
        }
        r = replace_rows(w, q, ch, e);
done:
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_src", e);
        return r;
}

static int restore(const Config *c, PGconn *t, PGconn *w, json_t *result, Error *e)
{
        _cleanup_(sqldir_free) SqlDir dir = {0};
        _cleanup_free_ char *want = NULL, *have = NULL, *after = NULL;
        json_t *tables = NULL, *counts = json_array(), *tbl;
        bool rebuild;
        size_t i;
        int r;

        want = pg_query_value(t, structure_sql, 0, NULL, e);
        have = want ? pg_query_value(w, structure_sql, 0, NULL, e) : NULL;
        tables = have ? pg_query_json(t, tables_sql, 0, NULL, e) : NULL;
        if (!tables) {
                r = -e->errnum;
                goto out;
        }
        rebuild = !streq(want, have);
        json_object_set_new(result, "strategy", json_string(rebuild ? "rebuild_tables" : "diff"));
        if (rebuild && (r = sqldir_load(c->sql_dir, &dir, e)) < 0)
                goto out;

        /*
         * Replica role: no user triggers (updated_at keeps the template's
         * values) and no foreign-key checks while tables are half restored;
         * the template is consistent, so the end result is.  Give up rather
         * than queue for minutes behind a session holding a table lock.
         */
        r = pg_exec(w, "BEGIN; SET LOCAL lock_timeout = '10s'; SET LOCAL session_replication_role = replica",
                    e);
        if (r < 0)
                goto out;
        if (rebuild)
                r = rebuild_tables(c, w, &dir, false, e);
        json_array_foreach(tables, i, tbl)
        {
                Changes ch = {0};
                const char *q = json_string_value(json_object_get(tbl, "qualified"));
                json_t *row;

                if (r < 0)
                        break;
                /* Rebuilt tables are new and empty: copy straight in, indexes come after. */
                r = rebuild ? loader_copy_table(t, q, w, q, &ch.rows, e) : restore_table(t, w, tbl, &ch, e);
                row = json_pack("{s:O, s:O, s:I}", "schema", json_object_get(tbl, "schema"), "name",
                                json_object_get(tbl, "name"), "rows", (json_int_t) ch.rows);
                if (!rebuild) {
                        json_object_set_new(row, "deleted", json_integer(ch.deleted));
                        json_object_set_new(row, "updated", json_integer(ch.updated));
                        json_object_set_new(row, "inserted", json_integer(ch.inserted));
                }
                json_array_append_new(counts, row);
        }
        if (r == 0)
                r = copy_sequences(t, w, e);
        if (r == 0 && rebuild) {
                r = rebuild_tables(c, w, &dir, true, e);
                if (r == 0)
                        r = pg_sync_publication(w, c->publication, e);
                after = r == 0 ? pg_query_value(w, structure_sql, 0, NULL, e) : NULL;
                if (r == 0 && !after)
                        r = -e->errnum;
                if (r == 0 && !streq(after, want))
                        r = error_set(
                                e, EIO, "reset_incomplete",
                                "Use a template reset (POST /reset), which restores everything.",
                                "After rebuilding the tables the schema still differs from the template "
                                "(objects the SQL files do not create remain)");
        }
        if (r == 0)
                r = pg_exec(w, "COMMIT", e);
        else {
                Error ignore = ERROR_INIT;
                (void) pg_exec(w, "ROLLBACK", &ignore);
        }
        if (r == 0)
                json_object_set(result, "tables", counts);

out:
        json_decref(tables);
        json_decref(counts);
        /* A lock timeout means another session holds the tables: a conflict, not a server fault. */
        if (r < 0 && e->errnum == EBUSY && streq(e->code, "conflict")) {
                strlcpy0(e->code, "tables_locked", sizeof(e->code));
                strlcpy0(e->hint, "Another session holds a lock on the tables: commit or end it and retry.",
                         sizeof(e->hint));
        }
        return r;
}

int reset_inplace(const Config *c, PGconn *maint, const char *tmpl, const char *working, json_t *result,
                  Error *e)
{
        _cleanup_pgconn_ PGconn *t = connect_template(c, maint, tmpl, e);
        _cleanup_pgconn_ PGconn *w = NULL;

        if (!t)
                return -e->errnum;
        w = pg_connect(c, working, "pgseedd-reset", 10, 0, e);
        /* The template rows are staged in a temporary table: give it memory (only settable before first
         * use). */
        if (!w || pg_exec(w, "SET temp_buffers = '256MB'", e) < 0)
                return -e->errnum;
        return restore(c, t, w, result, e);
}
