/* SPDX-License-Identifier: MIT */
/* reset-inplace.c -- restoring the seeded tables inside the working database, keeping its publication,
 * its slots and every object pgseed did not seed. */

#include "reset-inplace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "pg.h"

/*
 * What a reset must restore about each table besides rows, read the same
 * way from the template (what was seeded) and from the working database:
 * columns (by name: a consumer maps columns by name, so the position does
 * not matter), the constraints, the indexes that back no constraint, and the
 * user triggers.  Names are quoted by the server (quote_ident), definitions
 * come from pg_get_*def, so the statements built from them need no quoting
 * of ours.
 */
static const char catalog_sql[] =
        "SELECT coalesce(json_agg(json_build_object('schema', n.nspname, 'name', c.relname,"
        "   'qschema', quote_ident(n.nspname), 'qualified', format('%I.%I', n.nspname, c.relname),"
        "   'options', coalesce(array_to_string(c.reloptions, ', '), ''),"
        "   'columns', (SELECT coalesce(json_agg(json_build_object('name', quote_ident(a.attname),"
        "                 'type', format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull,"
        "                 'default', pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum), '[]')"
        "               FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = "
        "a.attnum"
        "               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
        "   'key', (SELECT json_agg(quote_ident(a.attname) ORDER BY k.ord)"
        "           FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)"
        "           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        "           WHERE i.indrelid = c.oid AND i.indisprimary),"
        "   'constraints', (SELECT coalesce(json_agg(json_build_object('name', quote_ident(co.conname),"
        "                     'type', co.contype, 'def', pg_get_constraintdef(co.oid)) ORDER BY co.conname),"
        "                     '[]') FROM pg_constraint co WHERE co.conrelid = c.oid),"
        "   'indexes', (SELECT coalesce(json_agg(json_build_object('name', quote_ident(ic.relname),"
        "                 'def', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]')"
        "               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid"
        "                AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid"
        "                                AND co.conrelid = c.oid AND co.contype IN ('p', 'u', 'x'))),"
        "   'triggers', (SELECT coalesce(json_agg(json_build_object('name', quote_ident(t.tgname),"
        "                  'def', pg_get_triggerdef(t.oid)) ORDER BY t.tgname), '[]')"
        "                FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal"
        "                 AND t.tgname !~ '^pgseed_track_'))"
        "   ORDER BY n.nspname, c.relname), '[]')"
        "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " PG_USER_SCHEMAS;

/* Every user relation (tables, views, materialized views, foreign tables) with its kind. */
static const char relations_sql[] =
        "SELECT coalesce(json_agg(json_build_object('qualified', format('%I.%I', n.nspname, c.relname),"
        "   'kind', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
        "                          WHEN 'f' THEN 'foreign table' ELSE 'table' END)"
        "   ORDER BY n.nspname, c.relname), '[]')"
        "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND " PG_USER_SCHEMAS;

/* Each sequence with its value and the table owning it (a serial or identity column), if any. */
static const char sequences_sql[] =
        "SELECT coalesce(json_agg(json_build_object('name', format('%I.%I', schemaname, sequencename),"
        "   'value', coalesce(last_value, start_value)::text, 'called', (last_value IS NOT NULL)::text,"
        "   'owner', (SELECT format('%I.%I', tn.nspname, tc.relname) FROM pg_depend d"
        "      JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
        "     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
        "       AND d.objid = format('%I.%I', schemaname, sequencename)::regclass AND d.deptype IN ('a', "
        "'i')"
        "     LIMIT 1))), '[]')"
        "  FROM pg_sequences WHERE schemaname <> 'information_schema' AND schemaname !~ '^pg_'";

/* The foreign keys between tables (qualified names) with their columns (quoted), for partial resets. */
static const char foreign_keys_sql[] =
        "SELECT coalesce(json_agg(json_build_object('name', co.conname,"
        "   'child', format('%I.%I', cn.nspname, cc.relname), 'parent', format('%I.%I', pn.nspname, "
        "pc.relname),"
        "   'child_cols', (SELECT json_agg(quote_ident(a.attname) ORDER BY k.ord) FROM unnest(co.conkey)"
        "                  WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = co.conrelid"
        "                  AND a.attnum = k.attnum),"
        "   'parent_cols', (SELECT json_agg(quote_ident(a.attname) ORDER BY k.ord) FROM unnest(co.confkey)"
        "                   WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = co.confrelid"
        "                   AND a.attnum = k.attnum)) ORDER BY co.conname), '[]')"
        "  FROM pg_constraint co"
        "  JOIN pg_class cc ON cc.oid = co.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace"
        "  JOIN pg_class pc ON pc.oid = co.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
        " WHERE co.contype = 'f' AND co.conrelid <> co.confrelid";

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

/* The template, connected to on first use: a reset that finds no changed rows never opens it. */
typedef struct Src {
        const Config *c;
        PGconn *maint;
        const char *tmpl;
        PGconn *conn;
} Src;

static PGconn *src_conn(Src *t, Error *e)
{
        if (!t->conn)
                t->conn = connect_template(t->c, t->maint, t->tmpl, e);
        return t->conn;
}

struct InplaceCache {
        PGconn *w;      /* a session on the working database, idle between resets */
        char *w_db;     /* the database it is connected to */
        bool prepared;  /* the catalog statements are prepared on w */
        char *tmpl_key; /* "oid:comment" of the template that facts were read from */
        json_t *facts;  /* {"catalog", "sequences", "fks"} of that template */
};

InplaceCache *inplace_cache_new(void)
{
        return xcalloc(1, sizeof(InplaceCache));
}

void inplace_cache_drop_session(InplaceCache *c)
{
        if (!c)
                return;
        PQfinish(c->w);
        c->w = NULL;
        c->prepared = false;
}

void inplace_cache_free(InplaceCache *c)
{
        if (!c)
                return;
        inplace_cache_drop_session(c);
        free(c->w_db);
        free(c->tmpl_key);
        json_decref(c->facts);
        free(c);
}

/*
 * The template's catalog, sequences and foreign keys: from the cache when
 * it was read from this very template (its database OID and its pgseed
 * comment, which carries the fingerprint of what was seeded, are the same),
 * else read now.  Returns a new reference or NULL with e filled.
 */
static json_t *template_facts(InplaceCache *cache, Src *t, Error *e)
{
        const char *params[] = {t->tmpl};
        _cleanup_free_ char *key = pg_query_value(
                t->maint,
                "SELECT oid::text || ':' || coalesce(shobj_description(oid, 'pg_database'), '')"
                "  FROM pg_database WHERE datname = $1",
                1, params, e);
        PGconn *tc;
        json_t *catalog, *seqs, *fks;

        if (!key)
                return NULL;
        if (cache->facts && streq_ptr(cache->tmpl_key, key))
                return json_incref(cache->facts);
        tc = src_conn(t, e);
        if (!tc)
                return NULL;
        catalog = pg_query_json(tc, catalog_sql, 0, NULL, e);
        seqs = catalog ? pg_query_json(tc, sequences_sql, 0, NULL, e) : NULL;
        fks = seqs ? pg_query_json(tc, foreign_keys_sql, 0, NULL, e) : NULL;
        if (!fks) {
                json_decref(catalog);
                json_decref(seqs);
                return NULL;
        }
        json_decref(cache->facts);
        free(cache->tmpl_key);
        cache->facts = json_pack("{s:o, s:o, s:o}", "catalog", catalog, "sequences", seqs, "fks", fks);
        cache->tmpl_key = TAKE_PTR(key);
        return json_incref(cache->facts);
}

/*
 * The kept session on the working database, or a new one.  A session the
 * server ended (a restart, a terminate) or one left inside a transaction is
 * replaced; so is one whose database is no longer called working.
 */
static PGconn *working_session(InplaceCache *cache, const Config *c, const char *working, Error *e)
{
        if (cache->w && (!PQconsumeInput(cache->w) || PQstatus(cache->w) != CONNECTION_OK ||
                         PQtransactionStatus(cache->w) != PQTRANS_IDLE || !streq_ptr(cache->w_db, working)))
                inplace_cache_drop_session(cache);
        if (cache->w) {
                Error ignore = ERROR_INIT;
                _cleanup_free_ char *same = pg_query_value(cache->w, "SELECT current_database() = $1", 1,
                                                           (const char *const[]){working}, &ignore);
                if (streq_ptr(same, "t"))
                        return cache->w;
                inplace_cache_drop_session(cache);
        }
        cache->w = pg_connect(c, working, "pgseedd-reset", 10, 0, e);
        /* The template rows are staged in temporary tables: give them memory (settable before first use
         * only). */
        if (!cache->w || pg_exec(cache->w, "SET temp_buffers = '256MB'", e) < 0) {
                inplace_cache_drop_session(cache);
                return NULL;
        }
        free(cache->w_db);
        cache->w_db = xstrdup(working);
        return cache->w;
}

/* A catalog query on the kept session, prepared once per session (parsing and planning it is most of its
 * cost). */
static json_t *session_json(InplaceCache *cache, const char *name, Error *e)
{
        static const struct {
                const char *name, *sql;
        } stmts[] = {{"pgseed_catalog", catalog_sql}, {"pgseed_relations", relations_sql}};
        _cleanup_pgresult_ PGresult *res = NULL;
        json_error_t jerr;
        json_t *j;

        if (!cache->prepared) {
                for (size_t i = 0; i < ELEMENTSOF(stmts); i++) {
                        _cleanup_pgresult_ PGresult *p =
                                PQprepare(cache->w, stmts[i].name, stmts[i].sql, 0, NULL);
                        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
                                pg_result_error(cache->w, p, e);
                                return NULL;
                        }
                }
                cache->prepared = true;
        }
        res = PQexecPrepared(cache->w, name, 0, NULL, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                pg_result_error(cache->w, res, e);
                return NULL;
        }
        j = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, &jerr);
        if (!j)
                error_set(e, EIO, NULL, NULL, "query returned invalid JSON: %s", jerr.text);
        return j;
}

static json_t *find_named(json_t *arr, const char *key, const char *name);

/*
 * Sets every template sequence (seqs, from template_facts) that also exists
 * in the working database to the template's value; in a partial reset (only
 * non-NULL) just those owned by a table of only.
 */
static int copy_sequences(json_t *seqs, PGconn *dst, json_t *only, Error *e)
{
        json_t *seq;
        size_t i;
        int r = 0;

        json_array_foreach(seqs, i, seq)
        {
                const char *owner = json_string_value(json_object_get(seq, "owner"));
                if (r < 0)
                        break;
                if (only && !(owner && find_named(only, "qualified", owner)))
                        continue;
                const char *params[] = {json_string_value(json_object_get(seq, "name")),
                                        json_string_value(json_object_get(seq, "value")),
                                        json_string_value(json_object_get(seq, "called"))};
                _cleanup_pgresult_ PGresult *res = NULL;
                r = pg_query(dst,
                             "SELECT setval(s, $2::bigint, $3::boolean) FROM to_regclass($1) s"
                             " WHERE s IS NOT NULL",
                             3, params, &res, e);
        }
        return r;
}

/* ---- small JSON helpers -------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "";
}

/* The member of array arr whose "name" (or "qualified") is name, or NULL. */
static json_t *find_named(json_t *arr, const char *key, const char *name)
{
        json_t *x;
        size_t i;

        json_array_foreach(arr, i, x) if (streq(jstr(x, key), name)) return x;
        return NULL;
}

static bool string_in(json_t *arr, const char *s)
{
        json_t *x;
        size_t i;

        json_array_foreach(arr, i, x) if (streq_ptr(json_string_value(x), s)) return true;
        return false;
}

/* "a, b" (prefix "") or "s.a, s.b" (prefix "s.") from a JSON array of column objects or names. */
static char *join_columns(json_t *cols, const char *prefix, const char *sep)
{
        char *out = xstrdup("");
        json_t *col;
        size_t i;

        json_array_foreach(cols, i, col)
        {
                const char *n = json_is_string(col) ? json_string_value(col) : jstr(col, "name");
                char *next = xasprintf("%s%s%s%s", out, i ? sep : "", prefix, n);
                free(out);
                out = next;
        }
        return out;
}

/*
 * The columns that are not part of key, joined like join_columns(): what an
 * UPDATE of a row found by its key sets.  Leaving the key out also keeps
 * UPDATE off GENERATED ALWAYS identity keys, which only take DEFAULT.
 */
static char *join_non_key_columns(json_t *cols, json_t *key, const char *prefix, const char *sep)
{
        char *out = xstrdup("");
        bool first = true;
        json_t *col, *k;
        size_t i, j;

        json_array_foreach(cols, i, col)
        {
                const char *n = json_is_string(col) ? json_string_value(col) : jstr(col, "name");
                bool in_key = false;

                json_array_foreach(key, j, k) in_key = in_key || streq_ptr(json_string_value(k), n);
                if (in_key)
                        continue;
                char *next = xasprintf("%s%s%s%s", out, first ? "" : sep, prefix, n);
                free(out);
                out = next;
                first = false;
        }
        return out;
}

/* ---- structure: what differs from the template and the statements that repair it ----- */

/*
 * The statements, in the order they run: drops of what the template does not
 * have, then column changes, then the keys (before any row is written: a
 * published table needs its replica identity for UPDATE and DELETE), then,
 * after the rows, checks, foreign keys, indexes, triggers and NOT NULL.
 * Each statement carries the table and a line for the response.
 */
enum { STEP_DROP, STEP_ALTER, STEP_KEYS, STEP_POST, _STEP_MAX };

typedef struct Plan {
        json_t *steps[_STEP_MAX]; /* arrays of {sql, table, what} */
        json_t *created;          /* qualified names of tables created */
        size_t n;
} Plan;

static void plan_done(Plan *p)
{
        for (int i = 0; i < _STEP_MAX; i++)
                json_decref(p->steps[i]);
        json_decref(p->created);
}

static void plan_init(Plan *p)
{
        for (int i = 0; i < _STEP_MAX; i++)
                p->steps[i] = json_array();
        p->created = json_array();
        p->n = 0;
}

static void plan_add(Plan *p, int step, const char *table, char *sql, char *what)
{
        json_array_append_new(p->steps[step],
                              json_pack("{s:s, s:s, s:s}", "sql", sql, "table", table, "what", what));
        p->n++;
        free(sql);
        free(what);
}

static bool is_key_constraint(json_t *con)
{
        const char *t = jstr(con, "type");
        return streq(t, "p") || streq(t, "u") || streq(t, "x");
}

static void plan_add_constraint(Plan *p, const char *q, json_t *con, const char *verb)
{
        plan_add(p, is_key_constraint(con) ? STEP_KEYS : STEP_POST, q,
                 xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", q, jstr(con, "name"), jstr(con, "def")),
                 xasprintf("%s constraint %s", verb, jstr(con, "name")));
}

static char *column_def(json_t *col, bool with_not_null)
{
        const char *def = jstr(col, "default");
        bool nn = with_not_null && json_is_true(json_object_get(col, "notnull"));

        return xasprintf("%s %s%s%s%s", jstr(col, "name"), jstr(col, "type"), *def ? " DEFAULT " : "", def,
                         nn ? " NOT NULL" : "");
}

/* A seeded table that is gone: created again from the template's definition (rows follow). */
static void plan_create(Plan *p, json_t *want)
{
        const char *q = jstr(want, "qualified");
        char *cols = xstrdup("");
        json_t *x;
        size_t i;

        json_array_foreach(json_object_get(want, "columns"), i, x)
        {
                _cleanup_free_ char *d = column_def(x, true);
                char *next = xasprintf("%s%s%s", cols, i ? ", " : "", d);
                free(cols);
                cols = next;
        }
        plan_add(p, STEP_ALTER, q, xasprintf("CREATE SCHEMA IF NOT EXISTS %s", jstr(want, "qschema")),
                 xstrdup("schema ensured"));
        /* With the template's storage parameters (fillfactor), as the server prints them. */
        const char *options = jstr(want, "options");
        plan_add(p, STEP_ALTER, q,
                 options && *options ? xasprintf("CREATE TABLE %s (%s) WITH (%s)", q, cols, options)
                                     : xasprintf("CREATE TABLE %s (%s)", q, cols),
                 xstrdup("created the table"));
        free(cols);
        json_array_append_new(p->created, json_string(q));
        json_array_foreach(json_object_get(want, "constraints"), i, x)
                plan_add_constraint(p, q, x, "created");
        json_array_foreach(json_object_get(want, "indexes"), i, x) plan_add(
                p, STEP_POST, q, xstrdup(jstr(x, "def")), xasprintf("created index %s", jstr(x, "name")));
        json_array_foreach(json_object_get(want, "triggers"), i, x) plan_add(
                p, STEP_POST, q, xstrdup(jstr(x, "def")), xasprintf("created trigger %s", jstr(x, "name")));
}

static void plan_columns(Plan *p, const char *q, json_t *want, json_t *have)
{
        json_t *wc = json_object_get(want, "columns"), *hc = json_object_get(have, "columns"), *x;
        size_t i;

        json_array_foreach(hc, i, x) if (!find_named(wc, "name", jstr(x, "name")))
                plan_add(p, STEP_ALTER, q, xasprintf("ALTER TABLE %s DROP COLUMN %s", q, jstr(x, "name")),
                         xasprintf("dropped column %s (not seeded)", jstr(x, "name")));
        json_array_foreach(wc, i, x)
        {
                const char *n = jstr(x, "name"), *def = jstr(x, "default");
                json_t *h = find_named(hc, "name", n);
                bool nn = json_is_true(json_object_get(x, "notnull"));

                if (!h) {
                        /* NOT NULL once the rows are back: existing rows have no value yet. */
                        _cleanup_free_ char *d = column_def(x, false);
                        plan_add(p, STEP_ALTER, q, xasprintf("ALTER TABLE %s ADD COLUMN %s", q, d),
                                 xasprintf("added column %s", n));
                        if (nn)
                                plan_add(p, STEP_POST, q,
                                         xasprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", q, n),
                                         xasprintf("column %s NOT NULL", n));
                        continue;
                }
                if (!streq(jstr(h, "type"), jstr(x, "type")))
                        plan_add(p, STEP_ALTER, q,
                                 xasprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", q, n,
                                           jstr(x, "type"), n, jstr(x, "type")),
                                 xasprintf("column %s back to type %s", n, jstr(x, "type")));
                if (!streq(jstr(h, "default"), def))
                        plan_add(p, STEP_ALTER, q,
                                 *def ? xasprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", q, n, def)
                                      : xasprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", q, n),
                                 xasprintf("column %s default restored", n));
                if (nn != json_is_true(json_object_get(h, "notnull")))
                        plan_add(p, nn ? STEP_POST : STEP_ALTER, q,
                                 xasprintf("ALTER TABLE %s ALTER COLUMN %s %s NOT NULL", q, n,
                                           nn ? "SET" : "DROP"),
                                 xasprintf("column %s %s", n, nn ? "NOT NULL" : "nullable"));
        }
}

/* Constraints, indexes or triggers (kind) of a table: extra ones dropped, missing or changed ones made. */
static void plan_objects(Plan *p, const char *q, json_t *want, json_t *have, const char *kind)
{
        json_t *wl = json_object_get(want, kind), *hl = json_object_get(have, kind), *x;
        bool is_con = streq(kind, "constraints"), is_idx = streq(kind, "indexes");
        const char *noun = is_con ? "constraint" : is_idx ? "index" : "trigger";
        size_t i;

        json_array_foreach(hl, i, x)
        {
                json_t *w = find_named(wl, "name", jstr(x, "name"));
                char *sql;

                if (w && streq(jstr(w, "def"), jstr(x, "def")))
                        continue;
                if (is_con)
                        sql = xasprintf("ALTER TABLE %s DROP CONSTRAINT %s", q, jstr(x, "name"));
                else if (is_idx)
                        sql = xasprintf("DROP INDEX %s.%s", jstr(want, "qschema"), jstr(x, "name"));
                else
                        sql = xasprintf("DROP TRIGGER %s ON %s", jstr(x, "name"), q);
                plan_add(p, STEP_DROP, q, sql,
                         xasprintf("dropped %s %s (%s)", noun, jstr(x, "name"),
                                   w ? "changed" : "not seeded"));
        }
        json_array_foreach(wl, i, x)
        {
                json_t *h = find_named(hl, "name", jstr(x, "name"));

                if (h && streq(jstr(h, "def"), jstr(x, "def")))
                        continue;
                if (is_con)
                        plan_add_constraint(p, q, x, "restored");
                else
                        plan_add(p, STEP_POST, q, xstrdup(jstr(x, "def")),
                                 xasprintf("restored %s %s", noun, jstr(x, "name")));
        }
}

/* The plan that makes every seeded table (in want, the template's catalog) look like the template. */
static void plan_build(Plan *p, json_t *want_tables, json_t *have_tables)
{
        json_t *want;
        size_t i;

        json_array_foreach(want_tables, i, want)
        {
                const char *q = jstr(want, "qualified");
                json_t *have = find_named(have_tables, "qualified", q);

                if (!have) {
                        plan_create(p, want);
                        continue;
                }
                plan_columns(p, q, want, have);
                plan_objects(p, q, want, have, "constraints");
                plan_objects(p, q, want, have, "indexes");
                plan_objects(p, q, want, have, "triggers");
        }
}

/* The per-table lines of the response: {"public.comments": ["restored index ...", ...]}. */
static void plan_describe(Plan *p, json_t *by_table)
{
        for (int s = 0; s < _STEP_MAX; s++) {
                json_t *x;
                size_t i;
                json_array_foreach(p->steps[s], i, x)
                {
                        const char *t = jstr(x, "table");
                        json_t *lines = json_object_get(by_table, t);
                        if (streq(jstr(x, "what"), "schema ensured"))
                                continue;
                        if (!lines) {
                                lines = json_array();
                                json_object_set_new(by_table, t, lines);
                        }
                        json_array_append_new(lines, json_string(jstr(x, "what")));
                }
        }
}

/*
 * Runs one repair statement.  A failure is a refusal, not a server fault:
 * something in the database (a view on a column the template does not have,
 * a user's foreign key on a dropped key) blocks the in-place path, and the
 * message names the statement and Postgres' reason and detail.
 */
static int exec_step(PGconn *w, json_t *step, Error *e)
{
        _cleanup_pgresult_ PGresult *res = PQexec(w, jstr(step, "sql"));
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        const char *msg, *detail;

        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                return 0;
        msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
        if (PQstatus(w) != CONNECTION_OK)
                return pg_result_error(w, res, e);
        return error_set(
                e, EBUSY, "inplace_blocked",
                "Remove or change the objects named in the message and retry, or use a template reset "
                "(POST /reset?mode=template) once no replication slot needs this database.",
                "Cannot restore %s in place (%s): %s%s%s", jstr(step, "table"), jstr(step, "what"),
                msg ? msg : PQerrorMessage(w), detail ? ": " : "", detail ? detail : "");
}

static int run_steps(PGconn *w, Plan *p, int step, Error *e)
{
        json_t *x;
        size_t i;

        json_array_foreach(p->steps[step], i, x)
        {
                int r = exec_step(w, x, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * Puts every seeded table into the publication before any row is written,
 * so that a consumer of it receives the rows of a table created again.  The
 * publication is created over the seeded tables when it is gone; tables the
 * user added to it stay.
 */
static int publication_cover(PGconn *w, const char *pub, json_t *tables, json_t *added, Error *e)
{
        const char *params[] = {pub};
        _cleanup_pgresult_ PGresult *res = NULL;
        _cleanup_free_ char *qpub = pg_quote_ident(w, pub), *list = xstrdup(""), *sql = NULL;
        json_t *tbl;
        size_t i;
        int r;

        r = pg_query(w,
                     "SELECT p.puballtables, (SELECT coalesce(json_agg(format('%I.%I', schemaname, "
                     "tablename)), '[]')"
                     "   FROM pg_publication_tables t WHERE t.pubname = p.pubname)"
                     "  FROM pg_publication p WHERE p.pubname = $1",
                     1, params, &res, e);
        if (r < 0)
                return r;
        if (PQntuples(res) == 1 && streq(PQgetvalue(res, 0, 0), "t"))
                return 0;
        json_auto_t *have = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 1), 0, NULL) : NULL;
        json_array_foreach(tables, i, tbl)
        {
                const char *q = jstr(tbl, "qualified");
                if (string_in(have, q))
                        continue;
                char *next = xasprintf("%s%s%s", list, *list ? ", " : "", q);
                free(list);
                list = next;
                json_array_append_new(added, json_string(q));
        }
        if (!*list)
                return 0;
        sql = PQntuples(res) == 1 ? xasprintf("ALTER PUBLICATION %s ADD TABLE %s", qpub, list)
                                  : xasprintf("CREATE PUBLICATION %s FOR TABLE %s", qpub, list);
        return pg_exec(w, sql, e);
}

/* ---- the WAL guard ------------------------------------------------------------ */

/*
 * Refuses (409 wal_guard) before writing about `bytes` of WAL for `what` when
 * a replication slot could not take that much: safe_wal_size is what can
 * still be written before the slot falls out of max_slot_wal_keep_size and
 * is lost (the WAL this transaction wrote so far is already counted in it).
 * NULL safe_wal_size (no limit) never refuses.
 */
static int wal_guard(PGconn *w, const char *what, int64_t bytes, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(
                w,
                "SELECT slot_name, safe_wal_size, pg_wal_lsn_diff(pg_current_wal_lsn(),"
                " coalesce(confirmed_flush_lsn, restart_lsn))::bigint"
                "  FROM pg_replication_slots WHERE safe_wal_size IS NOT NULL AND wal_status <> 'lost'"
                " ORDER BY safe_wal_size LIMIT 1",
                0, NULL, &res, e);
        int64_t safe;

        if (r < 0 || PQntuples(res) == 0)
                return r;
        safe = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        if (bytes <= safe)
                return 0;
        return error_set(
                e, EBUSY, "wal_guard",
                "Let the slot's consumer catch up, raise max_slot_wal_keep_size, or drop the slot if "
                "nothing reads it; then retry.",
                "Restoring %s would write about %lld kB of WAL, but replication slot %s can take only "
                "%lld kB more before it is lost (max_slot_wal_keep_size; its consumer is %s bytes "
                "behind); nothing was changed",
                what, (long long) (bytes / 1024), PQgetvalue(res, 0, 0), (long long) (safe / 1024),
                PQgetvalue(res, 0, 2));
}

/*
 * The WAL an apply of the staged delta writes, roughly: every new row image
 * twice (heap and index entries, record headers) plus a fixed cost per change.
 */
static int delta_wal_estimate(PGconn *w, const char *sd, int64_t *ret, Error *e)
{
        _cleanup_free_ char *sql =
                xasprintf("SELECT count(*) * 150 + coalesce(sum(pg_column_size(s.*)), 0) * 2"
                          "  FROM pgseed_delta d LEFT JOIN pgseed_src s ON %s",
                          sd);
        _cleanup_free_ char *v = pg_query_value(w, sql, 0, NULL, e);

        if (!v)
                return -e->errnum;
        *ret = strtoll(v, NULL, 10);
        return 0;
}

/* ---- rows ------------------------------------------------------------------------- */

typedef struct Changes {
        int64_t rows, deleted, updated, inserted;
        bool truncated;
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
static int apply_diff(PGconn *w, json_t *tbl, const char *tsrc, Changes *ch, Error *e)
{
        const char *q = jstr(tbl, "qualified");
        json_t *cols = json_object_get(tbl, "columns"), *key = json_object_get(tbl, "key");
        const char *k1 = json_string_value(json_array_get(key, 0));
        _cleanup_free_ char *all = join_columns(cols, "", ", "), *tall = join_columns(cols, "t.", ", ");
        _cleanup_free_ char *sall = join_columns(cols, "s.", ", ");
        _cleanup_free_ char *set = join_non_key_columns(cols, key, "", ", "),
                            *sset = join_non_key_columns(cols, key, "s.", ", ");
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
                k1, k1, keys, tsrc ? tsrc : q, ts, k1, k1, tall, sall);
        r = pg_exec(w, sql, e);
        free(TAKE_PTR(sql));
        if (r == 0) {
                int64_t wal = 0;
                r = delta_wal_estimate(w, sd, &wal, e);
                if (r == 0)
                        r = wal_guard(w, q, wal, e);
        }
        if (r == 0) {
                sql = xasprintf("DELETE FROM %s t USING pgseed_delta d WHERE d.pgseed_op = 'd' AND %s", q,
                                td);
                r = exec_count(w, sql, &ch->deleted, e);
                free(TAKE_PTR(sql));
        }
        /* Rows that differ in a non-key column (a row equal in all of them is not 'u'). */
        if (r == 0 && *set) {
                sql = xasprintf("UPDATE %s t SET (%s) = ROW(%s) FROM pgseed_src s, pgseed_delta d"
                                " WHERE d.pgseed_op = 'u' AND %s AND %s",
                                q, set, sset, sd, td);
                r = exec_count(w, sql, &ch->updated, e);
                free(TAKE_PTR(sql));
        }
        if (r == 0) {
                /* The template's values, identity columns included (GENERATED ALWAYS needs the override). */
                sql = xasprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pgseed_src s "
                                "JOIN pgseed_delta d"
                                " ON d.pgseed_op = 'i' AND %s",
                                q, all, sall, sd);
                r = exec_count(w, sql, &ch->inserted, e);
        }
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_delta", e);
        return r;
}

/* Without a key (or with column types that cannot be compared): replace every row. */
static int replace_rows(PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        const char *q = jstr(tbl, "qualified");
        _cleanup_free_ char *all = join_columns(json_object_get(tbl, "columns"), "", ", ");
        _cleanup_free_ char *del = xasprintf("DELETE FROM %s", q);
        _cleanup_free_ char *ins = xasprintf(
                "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pgseed_src", q, all, all);
        int r = exec_count(w, del, &ch->deleted, e);

        return r < 0 ? r : exec_count(w, ins, &ch->inserted, e);
}

/* COPY source for a template table with its columns in the template's order. */
static char *copy_source(json_t *tbl)
{
        _cleanup_free_ char *all = join_columns(json_object_get(tbl, "columns"), "", ", ");
        return xasprintf("(SELECT %s FROM %s)", all, jstr(tbl, "qualified"));
}

/*
 * A table created again: TRUNCATE it first (empty, so it costs nothing) so
 * that a consumer still holding the rows of the table that was dropped drops
 * them, then the seeded rows.
 */
static int refill_table(Src *ts, PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        PGconn *t = src_conn(ts, e);
        const char *q = jstr(tbl, "qualified");
        _cleanup_free_ char *all = join_columns(json_object_get(tbl, "columns"), "", ", ");
        _cleanup_free_ char *trunc = xasprintf("TRUNCATE %s", q), *src = copy_source(tbl);
        _cleanup_free_ char *dst = xasprintf("%s (%s)", q, all);
        const char *params[] = {q};
        _cleanup_free_ char *size =
                t ? pg_query_value(t, "SELECT pg_total_relation_size($1::regclass)", 1, params, e) : NULL;
        int r = size ? wal_guard(w, q, strtoll(size, NULL, 10), e) : -e->errnum;

        if (r == 0)
                r = pg_exec(w, trunc, e);
        if (r < 0)
                return r;
        ch->truncated = true;
        r = loader_copy_table(t, src, w, dst, &ch->rows, e);
        ch->inserted = ch->rows;
        return r;
}

/* Stages table tbl's template rows in a temporary table and applies the difference. */
static int restore_table(Src *ts, PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        PGconn *t = src_conn(ts, e);
        const char *q = jstr(tbl, "qualified");
        _cleanup_free_ char *all = join_columns(json_object_get(tbl, "columns"), "", ", ");
        _cleanup_free_ char *stage =
                xasprintf("CREATE TEMP TABLE pgseed_src AS SELECT %s FROM %s WITH NO DATA", all, q);
        _cleanup_free_ char *src = copy_source(tbl);
        json_t *key = json_object_get(tbl, "key");
        int r;

        if (!t)
                return -e->errnum;
        r = pg_exec(w, stage, e);
        if (r == 0)
                r = loader_copy_table(t, src, w, "pgseed_src", &ch->rows, e);
        if (r < 0)
                return r;
        if (json_array_size(key) > 0) {
                r = pg_exec(w, "SAVEPOINT pgseed_diff", e);
                if (r == 0)
                        r = apply_diff(w, tbl, NULL, ch, e);
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
        r = replace_rows(w, tbl, ch, e);
done:
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_src", e);
        return r;
}

/* ---- change tracking ---------------------------------------------------------- */

/*
 * What changed since the last in-place reset, so that the next one undoes
 * only that: statement-level triggers with transition tables record the keys
 * every INSERT, UPDATE and DELETE touched (a TRUNCATE marks the whole table)
 * into an unlogged table, which writes no WAL and is never decoded or
 * published.  It is trusted only when the structure is the template's, every
 * trigger is there and enabled, and the state row carries the current epoch:
 * a crash empties unlogged tables, a template reset brings a database without
 * tracking, and either means the full diff.  Sessions running with
 * session_replication_role = replica fire no triggers and are not tracked.
 */
static const char track_install_sql[] =
        "CREATE SCHEMA IF NOT EXISTS pgseed_track;"
        "CREATE UNLOGGED TABLE IF NOT EXISTS pgseed_track.touched (rel oid NOT NULL, k text);"
        "CREATE UNLOGGED TABLE IF NOT EXISTS pgseed_track.state (epoch bigint NOT NULL);"
        "CREATE OR REPLACE FUNCTION pgseed_track.record() RETURNS trigger"
        " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgseed_track AS $f$"
        " BEGIN"
        "  IF TG_OP = 'TRUNCATE' THEN"
        "   INSERT INTO pgseed_track.touched VALUES (TG_RELID, NULL);"
        "  ELSIF TG_OP = 'INSERT' THEN"
        "   EXECUTE format('INSERT INTO pgseed_track.touched SELECT %s, %s FROM pgseed_new r',"
        "                  TG_RELID::oid, TG_ARGV[0]);"
        "  ELSIF TG_OP = 'DELETE' THEN"
        "   EXECUTE format('INSERT INTO pgseed_track.touched SELECT %s, %s FROM pgseed_old r',"
        "                  TG_RELID::oid, TG_ARGV[0]);"
        "  ELSE"
        "   EXECUTE format('INSERT INTO pgseed_track.touched SELECT %s, %s FROM pgseed_old r"
        "                   UNION ALL SELECT %s, %s FROM pgseed_new r',"
        "                  TG_RELID::oid, TG_ARGV[0], TG_RELID::oid, TG_ARGV[0]);"
        "  END IF;"
        "  RETURN NULL;"
        " END $f$;"
        "TRUNCATE pgseed_track.touched, pgseed_track.state";

/* The text of a row's key: "<alias>.k::text", or "row(<alias>.a, <alias>.b)::text". */
static char *key_text(json_t *key, const char *alias)
{
        _cleanup_free_ char *prefix = xasprintf("%s.", alias);
        _cleanup_free_ char *cols = join_columns(key, prefix, ", ");

        return json_array_size(key) == 1 ? xasprintf("%s::text", cols) : xasprintf("row(%s)::text", cols);
}

/* Installs (or refreshes) the triggers and starts tracking afresh from epoch.  Inside the reset's
 * transaction. */
static int track_install(PGconn *w, json_t *tables, int64_t epoch, Error *e)
{
        static const char *const events[][3] = {
                {"i", "INSERT", "REFERENCING NEW TABLE AS pgseed_new"},
                {"u", "UPDATE", "REFERENCING OLD TABLE AS pgseed_old NEW TABLE AS pgseed_new"},
                {"d", "DELETE", "REFERENCING OLD TABLE AS pgseed_old"},
                {"t", "TRUNCATE", ""},
        };
        _cleanup_free_ char *state =
                xasprintf("INSERT INTO pgseed_track.state VALUES (%lld)", (long long) epoch);
        json_t *tbl;
        size_t i;
        int r = pg_exec(w, track_install_sql, e);

        json_array_foreach(tables, i, tbl)
        {
                json_t *key = json_object_get(tbl, "key");
                _cleanup_free_ char *kt = NULL;
                _cleanup_(PQfreememp) char *arg = NULL;

                if (r < 0)
                        return r;
                if (json_array_size(key) == 0)
                        continue; /* never trusted: a table without a key is always diffed in full */
                kt = key_text(key, "r");
                arg = PQescapeLiteral(w, kt, strlen(kt));
                if (!arg)
                        return pg_result_error(w, NULL, e);
                for (size_t ev = 0; r == 0 && ev < ELEMENTSOF(events); ev++) {
                        _cleanup_free_ char *sql = xasprintf("CREATE OR REPLACE TRIGGER pgseed_track_%s "
                                                             "AFTER %s ON %s %s FOR EACH STATEMENT"
                                                             " EXECUTE FUNCTION pgseed_track.record(%s)",
                                                             events[ev][0], events[ev][1],
                                                             jstr(tbl, "qualified"), events[ev][2], arg);
                        r = pg_exec(w, sql, e);
                }
        }
        return r < 0 ? r : pg_exec(w, state, e);
}

/*
 * Tracking that was trusted goes on from epoch: only the recorded keys are
 * cleared.  DELETE, not TRUNCATE: no new file to create and sync (~10 ms),
 * and writers are held off by the table locks, so no key recorded after the
 * reset's snapshot can be lost.
 */
static int track_restart(PGconn *w, json_t *only, int64_t epoch, Error *e)
{
        _cleanup_free_ char *sql = NULL, *names = NULL;
        json_auto_t *list = json_array();
        json_t *tbl;
        size_t i;

        if (!only) {
                sql = xasprintf(
                        "DELETE FROM pgseed_track.touched; UPDATE pgseed_track.state SET epoch = %lld",
                        (long long) epoch);
                return pg_exec(w, sql, e);
        }
        /* A partial reset: the keys recorded for the other tables still need undoing by a later one. */
        json_array_foreach(only, i, tbl) json_array_append(list, json_object_get(tbl, "qualified"));
        names = json_dumps(list, JSON_COMPACT);
        sql = xasprintf("UPDATE pgseed_track.state SET epoch = %lld", (long long) epoch);
        const char *params[] = {names};
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(w,
                         "DELETE FROM pgseed_track.touched WHERE rel IN"
                         " (SELECT to_regclass(x) FROM json_array_elements_text($1::json) x)",
                         1, params, &res, e);
        return r < 0 ? r : pg_exec(w, sql, e);
}

/*
 * Whether the tracked keys can stand in for a full diff at epoch; when not,
 * *why says so (for the response).
 */
static bool track_trusted(PGconn *w, json_t *tables, int64_t epoch, const char **why)
{
        _cleanup_free_ char *names = NULL, *ok = NULL, *have_epoch = NULL, *triggers = NULL;
        json_auto_t *list = json_array();
        Error ignore = ERROR_INIT;
        json_t *tbl;
        size_t i;

        json_array_foreach(tables, i, tbl)
        {
                if (json_array_size(json_object_get(tbl, "key")) == 0) {
                        *why = "a seeded table has no primary key";
                        return false;
                }
                json_array_append(list, json_object_get(tbl, "qualified"));
        }
        ok = pg_query_value(w,
                            "SELECT to_regclass('pgseed_track.state') IS NOT NULL"
                            " AND to_regclass('pgseed_track.touched') IS NOT NULL"
                            " AND to_regprocedure('pgseed_track.record()') IS NOT NULL",
                            0, NULL, &ignore);
        if (!streq_ptr(ok, "t")) {
                *why = "change tracking is not installed (first in-place reset since the database was made)";
                return false;
        }
        have_epoch = pg_query_value(w, "SELECT coalesce(max(epoch), -1) FROM pgseed_track.state", 0, NULL,
                                    &ignore);
        if (!have_epoch || strtoll(have_epoch, NULL, 10) != epoch) {
                *why = "the tracked changes do not start at the current epoch (a crash emptied them, or the "
                       "database was replaced)";
                return false;
        }
        names = json_dumps(list, JSON_COMPACT);
        const char *params[] = {names};
        triggers = pg_query_value(
                w,
                "SELECT count(*) = 4 * json_array_length($1::json) FROM pg_trigger"
                " WHERE tgname ~ '^pgseed_track_[iudt]$' AND tgenabled = 'O'"
                "   AND tgrelid IN (SELECT to_regclass(x) FROM json_array_elements_text($1::json) x)",
                1, params, &ignore);
        if (!streq_ptr(triggers, "t")) {
                *why = "change tracking triggers are missing or disabled";
                return false;
        }
        return true;
}

/*
 * Makes the rows of table tbl whose keys match filter_x (over alias x) equal
 * to the staged template rows in pgseed_src, which hold the template's rows
 * for those keys.  The table is searched by its key once, for the working
 * keys among the tracked ones (pgseed_have); which rows to delete and which
 * to insert is then decided between the two small temporary tables, and only
 * the rows to update are looked up again.  Each statement finds its rows by
 * the primary key, with no delta table in between.
 */
static int apply_keyed(PGconn *w, json_t *tbl, const char *filter_x, Changes *ch, Error *e)
{
        const char *q = jstr(tbl, "qualified");
        json_t *cols = json_object_get(tbl, "columns"), *key = json_object_get(tbl, "key");
        _cleanup_free_ char *all = join_columns(cols, "", ", "), *xall = join_columns(cols, "x.", ", ");
        _cleanup_free_ char *sall = join_columns(cols, "s.", ", ");
        _cleanup_free_ char *keys = join_columns(key, "", ", "), *xkeys = join_columns(key, "x.", ", ");
        _cleanup_free_ char *xs = key_terms(key, "x.%s = s.%s", " AND "),
                            *xd = key_terms(key, "x.%s = d.%s", " AND "),
                            *hs = key_terms(key, "h.%s = s.%s", " AND ");
        _cleanup_free_ char *set = join_non_key_columns(cols, key, "", ", "),
                            *sset = join_non_key_columns(cols, key, "s.", ", ");
        _cleanup_free_ char *sql = NULL, *v = NULL;
        int64_t wal;
        int r;

        /*
         * The WAL guard: at most every staged row written once, and a delete
         * per key.  The staged rows were counted by COPY; their bytes are the
         * temporary table's size, without reading it.
         */
        _cleanup_free_ char *staged = xasprintf("%lld", (long long) ch->rows);
        const char *params[] = {staged};
        v = pg_query_value(w, "SELECT $1::bigint * 300 + pg_relation_size('pgseed_src') * 2", 1, params, e);
        if (!v)
                return -e->errnum;
        wal = strtoll(v, NULL, 10);
        r = wal_guard(w, q, wal, e);
        if (r < 0)
                return r;
        sql = xasprintf("CREATE TEMP TABLE pgseed_have AS SELECT %s FROM %s x WHERE %s;"
                        "CREATE TEMP TABLE pgseed_gone AS SELECT %s FROM pgseed_have"
                        " EXCEPT SELECT %s FROM pgseed_src;"
                        "ANALYZE pgseed_gone",
                        xkeys, q, filter_x, keys, keys);
        r = pg_exec(w, sql, e);
        free(TAKE_PTR(sql));
        /* Analyzed, so the planner knows the rows to delete are few and finds each by the key. */
        if (r == 0) {
                sql = xasprintf("DELETE FROM %s x USING pgseed_gone d WHERE %s", q, xd);
                r = exec_count(w, sql, &ch->deleted, e);
                free(TAKE_PTR(sql));
        }
        /*
         * The non-key columns only (as apply_diff: a GENERATED ALWAYS identity
         * key takes no value), and the key filter again: the planner knows
         * nothing of pgseed_src, but it finds those keys by index.
         */
        if (r == 0 && *set) {
                sql = xasprintf("UPDATE %s x SET (%s) = ROW(%s) FROM pgseed_src s"
                                " WHERE %s AND %s AND (%s) IS DISTINCT FROM (%s)",
                                q, set, sset, filter_x, xs, xall, sall);
                r = exec_count(w, sql, &ch->updated, e);
                free(TAKE_PTR(sql));
        }
        if (r == 0) {
                sql = xasprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM pgseed_src s"
                                " WHERE NOT EXISTS (SELECT 1 FROM pgseed_have h WHERE %s)",
                                q, all, sall, hs);
                r = exec_count(w, sql, &ch->inserted, e);
        }
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_have, pgseed_gone", e);
        return r;
}

/*
 * Restores only the rows whose keys were tracked: the template's rows for
 * those keys are staged and diffed against the working rows for the same
 * keys.  A truncated table is restored in full.
 */
static int restore_tracked_table(Src *ts, PGconn *w, json_t *tbl, Changes *ch, Error *e)
{
        PGconn *t;
        const char *q = jstr(tbl, "qualified");
        json_t *key = json_object_get(tbl, "key"), *cols = json_object_get(tbl, "columns");
        const char *params[] = {q};
        _cleanup_pgresult_ PGresult *res = NULL;
        _cleanup_free_ char *all = NULL, *stage = NULL, *src = NULL, *filter_x = NULL;
        _cleanup_(PQfreememp) char *lit = NULL;
        int r;

        r = pg_query(w,
                     "SELECT coalesce(bool_or(k IS NULL), false), count(*),"
                     " coalesce(array_agg(DISTINCT k) FILTER (WHERE k IS NOT NULL), '{}')::text,"
                     " (SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass)"
                     " FROM pgseed_track.touched WHERE rel = $1::regclass",
                     1, params, &res, e);
        if (r < 0)
                return r;
        /*
         * Truncated, or most of the table touched (a key recorded per old and
         * per new row): one hash join over the whole table is then cheaper
         * than key lists that long, parsed by every statement.
         */
        if (streq(PQgetvalue(res, 0, 0), "t") ||
            (strtoll(PQgetvalue(res, 0, 3), NULL, 10) > 0 &&
             strtoll(PQgetvalue(res, 0, 1), NULL, 10) > strtoll(PQgetvalue(res, 0, 3), NULL, 10) / 2))
                return restore_table(ts, w, tbl, ch, e);
        if (streq(PQgetvalue(res, 0, 1), "0"))
                return 0;
        t = src_conn(ts, e);
        if (!t)
                return -e->errnum;
        lit = PQescapeLiteral(w, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
        if (!lit)
                return pg_result_error(w, NULL, e);
        if (json_array_size(key) == 1) {
                /* Compared in the key's own type, so that both sides use their primary key index. */
                const char *k = json_string_value(json_array_get(key, 0));
                json_t *col = find_named(cols, "name", k);
                filter_x = xasprintf("x.%s = ANY(%s::%s[])", k, lit, jstr(col, "type"));
        } else {
                _cleanup_free_ char *kt = key_text(key, "x");
                filter_x = xasprintf("%s = ANY(%s::text[])", kt, lit);
        }
        all = join_columns(cols, "", ", ");
        stage = xasprintf("CREATE TEMP TABLE pgseed_src AS SELECT %s FROM %s WITH NO DATA", all, q);
        src = xasprintf("(SELECT %s FROM %s x WHERE %s)", all, q, filter_x);
        r = pg_exec(w, stage, e);
        if (r == 0)
                r = loader_copy_table(t, src, w, "pgseed_src", &ch->rows, e);
        if (r == 0)
                r = apply_keyed(w, tbl, filter_x, ch, e);
        if (r == 0)
                r = pg_exec(w, "DROP TABLE pgseed_src", e);
        return r;
}

/* ---- the epoch ------------------------------------------------------------------ */

/* The reset epoch in the working database's pgseed comment (0 before the first reset), or -errno. */
static int64_t epoch_current(PGconn *w, Error *e)
{
        _cleanup_free_ char *v = pg_query_value(
                w,
                "SELECT coalesce(substring(shobj_description(oid, 'pg_database') FROM '\"epoch\":([0-9]+)')"
                "::bigint, 0) FROM pg_database WHERE datname = current_database()",
                0, NULL, e);

        return v ? strtoll(v, NULL, 10) : -e->errnum;
}

/* Locks the seeded tables that exist against writes (reads go on) for the reset's transaction. */
static int lock_tables(PGconn *w, json_t *want, json_t *have, Error *e)
{
        _cleanup_free_ char *list = xstrdup(""), *sql = NULL;
        json_t *tbl;
        size_t i;

        json_array_foreach(want, i, tbl)
        {
                const char *q = jstr(tbl, "qualified");
                if (!find_named(have, "qualified", q))
                        continue;
                char *next = xasprintf("%s%s%s", list, *list ? ", " : "", q);
                free(list);
                list = next;
        }
        if (!*list)
                return 0;
        sql = xasprintf("LOCK TABLE %s IN EXCLUSIVE MODE", list);
        return pg_exec(w, sql, e);
}

/*
 * Increments the reset epoch kept in the working database's pgseed comment
 * (inside the reset's transaction: COMMENT is transactional, so a failed
 * reset leaves it alone).  Returns the new epoch or -errno.
 */
static int64_t epoch_bump(PGconn *w, Error *e)
{
        _cleanup_free_ char *text =
                pg_query_value(w,
                               "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database"
                               " WHERE datname = current_database()",
                               0, NULL, e);
        _cleanup_free_ char *json = NULL, *comment = NULL, *sql = NULL;
        const char *old;
        json_auto_t *meta = NULL;
        int64_t epoch;

        if (!text)
                return -e->errnum;
        old = startswith(text, PG_COMMENT_PREFIX);
        meta = old ? json_loads(old, 0, NULL) : NULL;
        if (!json_is_object(meta)) {
                json_decref(meta);
                meta = json_pack("{s:i, s:s}", "pgseed", 1, "role", "working");
        }
        epoch = json_integer_value(json_object_get(meta, "epoch")) + 1;
        json_object_set_new(meta, "epoch", json_integer(epoch));
        json = json_dumps(meta, JSON_COMPACT);
        comment = xasprintf(PG_COMMENT_PREFIX "%s", json);
        {
                _cleanup_(PQfreememp) char *lit = PQescapeLiteral(w, comment, strlen(comment));
                _cleanup_free_ char *name =
                        pg_query_value(w, "SELECT quote_ident(current_database())", 0, NULL, e);
                if (!lit || !name)
                        return lit ? -e->errnum : pg_result_error(w, NULL, e);
                sql = xasprintf("COMMENT ON DATABASE %s IS %s", name, lit);
        }
        if (pg_exec(w, sql, e) < 0)
                return -e->errnum;
        return epoch;
}

/*
 * The transactional logical message that ends every in-place reset: decoded
 * at the reset's place in the stream (Debezium forwards it as a message
 * event), it tells a consumer where the seeded baseline is and which tables
 * were truncated and refilled.
 */
static int emit_reset_message(PGconn *w, int64_t epoch, json_t *result, json_t *only, Error *e)
{
        json_auto_t *msg =
                json_pack("{s:s, s:I, s:O?, s:b}", "event", "reset", "epoch", (json_int_t) epoch,
                          "truncated", json_object_get(result, "truncated"), "partial", only != NULL);
        json_t *tbl;
        size_t i;

        /* A partial reset says which tables are at the seed again (the others are not). */
        if (only) {
                json_t *names = json_array();
                json_array_foreach(only, i, tbl) json_array_append(names, json_object_get(tbl, "qualified"));
                json_object_set_new(msg, "tables", names);
        }
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        const char *params[] = {text};
        _cleanup_pgresult_ PGresult *res = NULL;

        return pg_query(w, "SELECT pg_logical_emit_message(true, 'pgseed', $1)", 1, params, &res, e);
}

/* ---- partial resets ------------------------------------------------------------- */

bool reset_inplace_request_error(const Error *e)
{
        return e->errnum == EINVAL &&
               (streq(e->code, "unknown_table") || streq(e->code, "tables_not_closed"));
}

/* "public.comments, public.users" for hints. */
static char *qualified_list(json_t *tables)
{
        char *out = xstrdup("");
        json_t *tbl;
        size_t i;

        json_array_foreach(tables, i, tbl)
        {
                char *next = xasprintf("%s%s%s", out, i ? ", " : "", jstr(tbl, "qualified"));
                free(out);
                out = next;
        }
        return out;
}

/* The seeded table (of want) that name (NAME or SCHEMA.NAME, unquoted) means, or NULL; *ambiguous when two.
 */
static json_t *match_table(json_t *want, const char *name, bool *ambiguous)
{
        json_t *tbl, *found = NULL;
        size_t i;

        *ambiguous = false;
        json_array_foreach(want, i, tbl)
        {
                _cleanup_free_ char *full = xasprintf("%s.%s", jstr(tbl, "schema"), jstr(tbl, "name"));
                if (streq(full, name))
                        return tbl;
                if (streq(jstr(tbl, "name"), name)) {
                        *ambiguous = found != NULL;
                        found = tbl;
                }
        }
        return *ambiguous ? NULL : found;
}

/*
 * Narrows *want (the template's seeded tables) to the comma-separated names
 * in tables, in the template's order.  The set must be closed under the
 * foreign keys that point at it: restoring a parent (users) deletes the rows
 * added since the seed, which the children (comments) may reference, so the
 * children must be restored with it (-EINVAL tables_not_closed names the
 * one missing).  The opposite direction is allowed: the foreign keys from a
 * restored table to one that is not go into *ret_parents, to be checked once
 * the rows are back (a parent row the seed needs may be gone).
 */
static int select_tables(json_t *fks, json_t **want, const char *tables, json_t **ret_parents, Error *e)
{
        json_auto_t *asked = json_array();
        json_auto_t *sel = json_array(), *parents = json_array();
        _cleanup_free_ char *copy = xstrdup(tables), *all = qualified_list(*want);
        char *save = NULL;
        json_t *x;
        size_t i;

        for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                bool ambiguous;
                json_t *tbl = match_table(*want, name, &ambiguous);

                if (!tbl)
                        return error_set(
                                e, EINVAL, "unknown_table",
                                "Name seeded tables as NAME or SCHEMA.NAME (GET /schema lists them).",
                                ambiguous ? "Table name %s is ambiguous: qualify it as SCHEMA.NAME "
                                            "(seeded tables: %s)"
                                          : "%s is not a seeded table (seeded tables: %s)",
                                name, all);
                json_array_append(asked, json_object_get(tbl, "qualified"));
        }
        json_array_foreach(*want, i, x) if (string_in(asked, jstr(x, "qualified")))
                json_array_append(sel, x);
        json_array_foreach(fks, i, x)
        {
                const char *child = jstr(x, "child"), *parent = jstr(x, "parent");
                bool child_in = find_named(sel, "qualified", child) != NULL;
                bool parent_in = find_named(sel, "qualified", parent) != NULL;

                if (parent_in && !child_in && find_named(*want, "qualified", child))
                        return error_set(
                                e, EINVAL, "tables_not_closed",
                                "Add the named table to tables= (or reset every table: POST /reset without "
                                "tables).",
                                "The tables to reset are not closed under foreign keys: %s is missing "
                                "(%s references %s through %s, and restoring %s would delete or change "
                                "rows %s points at)",
                                child, child, parent, jstr(x, "name"), parent, child);
                if (child_in && !parent_in)
                        json_array_append(parents, x);
        }
        json_decref(*want);
        *want = TAKE_PTR(sel);
        *ret_parents = TAKE_PTR(parents);
        return 0;
}

/*
 * After a partial reset's rows are back: every foreign key from a restored
 * table to one left alone must still hold (the reset runs in replica role,
 * which checks none).  A seeded row whose parent was deleted since is a
 * refusal naming the parent table, and the transaction is rolled back.
 */
static int check_parents(PGconn *w, json_t *fks, Error *e)
{
        json_t *fk;
        size_t i;

        json_array_foreach(fks, i, fk)
        {
                json_t *cc = json_object_get(fk, "child_cols"), *pc = json_object_get(fk, "parent_cols");
                char *notnull = xstrdup(""), *match = xstrdup("");
                _cleanup_free_ char *sql = NULL, *v = NULL;

                for (size_t k = 0; k < json_array_size(cc); k++) {
                        const char *c = json_string_value(json_array_get(cc, k));
                        const char *pcol = json_string_value(json_array_get(pc, k));
                        char *n1 = xasprintf("%s AND x.%s IS NOT NULL", notnull, c);
                        char *n2 = xasprintf("%s AND p.%s = x.%s", match, pcol, c);
                        free(notnull);
                        free(match);
                        notnull = n1;
                        match = n2;
                }
                sql = xasprintf("SELECT EXISTS (SELECT 1 FROM %s x WHERE true%s AND NOT EXISTS"
                                " (SELECT 1 FROM %s p WHERE true%s))",
                                jstr(fk, "child"), notnull, jstr(fk, "parent"), match);
                free(notnull);
                free(match);
                v = pg_query_value(w, sql, 0, NULL, e);
                if (!v)
                        return -e->errnum;
                if (streq(v, "t"))
                        return error_set(
                                e, EBUSY, "missing_parent_rows",
                                "Add the named table to tables= (or reset every table).",
                                "Restoring %s would leave rows whose %s row is gone (foreign key %s): "
                                "include %s in tables=; nothing was changed",
                                jstr(fk, "child"), jstr(fk, "parent"), jstr(fk, "name"), jstr(fk, "parent"));
        }
        return 0;
}

/* ---- the reset ------------------------------------------------------------------ */

/* Non-seeded relations (kept as they are) of the working database, for the response. */
static json_t *untouched_relations(json_t *relations, json_t *seeded)
{
        json_t *out = json_array(), *x;
        size_t i;

        json_array_foreach(relations, i, x) if (!find_named(seeded, "qualified", jstr(x, "qualified")))
                json_array_append(out, x);
        return out;
}

static int restore(const Config *c, InplaceCache *cache, Src *t, PGconn *w, const char *tables,
                   json_t *result, Error *e)
{
        json_auto_t *want = NULL, *have = NULL, *after = NULL, *relations = NULL, *parents_out = NULL;
        json_auto_t *facts = NULL;
        json_auto_t *counts = json_array(), *structure = json_object(), *truncated = json_array();
        json_auto_t *pub_added = json_array();
        Plan plan, check;
        json_t *tbl;
        int64_t epoch = 0;
        bool tracked = false, partial = tables != NULL;
        const char *why = NULL;
        size_t i;
        int r;

        plan_init(&plan);
        plan_init(&check);
        facts = template_facts(cache, t, e);
        if (!facts) {
                r = -e->errnum;
                goto out;
        }
        want = json_incref(json_object_get(facts, "catalog"));
        if (partial &&
            (r = select_tables(json_object_get(facts, "fks"), &want, tables, &parents_out, e)) < 0)
                goto out;
        json_object_set_new(result, "partial", json_boolean(partial));

        /*
         * Replica role: no user triggers (updated_at keeps the template's
         * values) and no foreign-key checks while tables are half restored;
         * the template is consistent, so the end result is.  Give up rather
         * than queue for minutes behind a session holding a table lock.
         */
        r = pg_exec(w, "BEGIN; SET LOCAL lock_timeout = '10s'; SET LOCAL session_replication_role = replica",
                    e);
        if (r == -EPERM)
                /* Only a server someone else runs gives pgseedd a role that is not its superuser. */
                bufprintf(e->hint, sizeof(e->hint),
                          "In-place resets need a superuser role, or (Postgres 15+) `GRANT SET ON PARAMETER "
                          "session_replication_role TO %s`; POST /reset (from the template) needs CREATEDB "
                          "only. GET /health lists what the role may do under runtime_info.",
                          c->pg_user);
        if (r < 0)
                goto out;
        have = session_json(cache, "pgseed_catalog", e);
        relations = have ? session_json(cache, "pgseed_relations", e) : NULL;
        if (!relations) {
                r = -e->errnum;
                goto rollback;
        }
        /*
         * Writers wait for the reset (readers do not): the tracked keys and
         * the diff then see every change made before it, and none is made
         * during it that the reset would half undo or forget to track.
         */
        r = lock_tables(w, want, have, e);
        if (r == 0 && (epoch = epoch_current(w, e)) < 0)
                r = (int) epoch;
        if (r < 0)
                goto rollback;
        plan_build(&plan, want, have);
        plan_describe(&plan, structure);
        if (plan.n > 0)
                why = "the structure differs from the template";
        else
                tracked = track_trusted(w, want, epoch, &why);
        json_object_set_new(result, "strategy",
                            json_string(tracked  ? "tracked"
                                        : plan.n ? "repair"
                                                 : "diff"));
        json_object_set_new(
                result, "tracking",
                json_pack("{s:b, s:s?}", "used", tracked, "fallback_reason", tracked ? NULL : why));

        r = run_steps(w, &plan, STEP_DROP, e);
        if (r == 0)
                r = run_steps(w, &plan, STEP_ALTER, e);
        if (r == 0)
                r = run_steps(w, &plan, STEP_KEYS, e);
        /* A partial reset covers its own tables; an existing publication keeps the others as they are. */
        if (r == 0)
                r = publication_cover(w, c->publication, want, pub_added, e);

        json_array_foreach(want, i, tbl)
        {
                const char *q = jstr(tbl, "qualified");
                Changes ch = {0};
                json_t *row, *lines;

                if (r < 0)
                        break;
                if (string_in(plan.created, q))
                        r = refill_table(t, w, tbl, &ch, e);
                else
                        r = tracked ? restore_tracked_table(t, w, tbl, &ch, e)
                                    : restore_table(t, w, tbl, &ch, e);
                row = json_pack("{s:O, s:O, s:I, s:I, s:I, s:I}", "schema", json_object_get(tbl, "schema"),
                                "name", json_object_get(tbl, "name"), "rows", (json_int_t) ch.rows,
                                "deleted", (json_int_t) ch.deleted, "updated", (json_int_t) ch.updated,
                                "inserted", (json_int_t) ch.inserted);
                lines = json_object_get(structure, q);
                /* A borrowed list when there is one, else a new empty one for the row to own. */
                json_object_set_new(row, "structure", lines ? json_incref(lines) : json_array());
                if (ch.truncated) {
                        json_object_set_new(row, "truncated", json_true());
                        json_array_append_new(truncated, json_string(q));
                }
                json_array_append_new(counts, row);
        }
        if (r == 0)
                r = copy_sequences(json_object_get(facts, "sequences"), w, partial ? want : NULL, e);
        if (r == 0 && partial)
                r = check_parents(w, parents_out, e);
        if (r == 0)
                r = run_steps(w, &plan, STEP_POST, e);

        /*
         * What is left to repair after the repair is a bug of ours: refuse
         * rather than claim success.  (Without a repair there is nothing to
         * check: the locks held keep DDL out.)
         */
        if (r == 0 && plan.n > 0) {
                after = session_json(cache, "pgseed_catalog", e);
                if (!after)
                        r = -e->errnum;
        }
        if (r == 0 && after) {
                plan_build(&check, want, after);
                if (check.n > 0) {
                        json_t *first = json_array_get(check.steps[0], 0);
                        for (int s = 1; !first && s < _STEP_MAX; s++)
                                first = json_array_get(check.steps[s], 0);
                        r = error_set(e, EBUSY, "inplace_blocked",
                                      "Use a template reset (POST /reset?mode=template) once no replication "
                                      "slot needs this database.",
                                      "After the repair %s still differs from the template (%s)",
                                      jstr(first, "table"), jstr(first, "what"));
                }
        }
        json_object_set(result, "truncated", truncated);
        if (r == 0) {
                epoch = epoch_bump(w, e);
                r = epoch < 0 ? (int) epoch : 0;
        }
        if (r == 0) {
                /* Tracking is an optimisation: failing to install it costs the next reset a full diff only.
                 */
                r = pg_exec(w, "SAVEPOINT pgseed_track", e);
                /*
                 * A partial reset that could not use the tracked keys leaves them
                 * as they are: the epoch moved on, so the next reset does not
                 * trust them (the other tables' changes are not lost).
                 */
                if (r == 0 && (partial && !tracked ? 0
                               : tracked           ? track_restart(w, partial ? want : NULL, epoch, e)
                                                   : track_install(w, want, epoch, e)) < 0) {
                        log_debug("reset", "Cannot install change tracking (%s), ignoring", e->message);
                        *e = (Error) ERROR_INIT;
                        r = pg_exec(w, "ROLLBACK TO SAVEPOINT pgseed_track", e);
                }
        }
        if (r == 0)
                r = emit_reset_message(w, epoch, result, partial ? want : NULL, e);
        if (r == 0)
                r = pg_exec(w, "COMMIT", e);
        if (r < 0)
                goto rollback;

        json_object_set(result, "tables", counts);
        json_object_set_new(result, "epoch", json_integer(epoch));
        json_object_set(result, "publication_added", pub_added);
        json_object_set_new(result, "kept", untouched_relations(relations, want));
        json_object_set_new(result, "not_kept", json_array());
        goto out;

rollback : {
        Error ignore = ERROR_INIT;
        (void) pg_exec(w, "ROLLBACK", &ignore);
        json_object_del(result, "truncated");
}
out:
        plan_done(&plan);
        plan_done(&check);
        /* A lock timeout means another session holds the tables: a conflict, not a server fault. */
        if (r < 0 && e->errnum == EBUSY && streq(e->code, "conflict")) {
                strlcpy0(e->code, "tables_locked", sizeof(e->code));
                strlcpy0(e->hint, "Another session holds a lock on the tables: commit or end it and retry.",
                         sizeof(e->hint));
        }
        return r;
}

int reset_inplace(const Config *c, InplaceCache *cache, PGconn *maint, const char *tmpl, const char *working,
                  const char *tables, json_t *result, Error *e)
{
        Src t = {.c = c, .maint = maint, .tmpl = tmpl};
        PGconn *w = working_session(cache, c, working, e);
        int r = w ? restore(c, cache, &t, w, tables, result, e) : -e->errnum;

        PQfinish(t.conn);
        /* After a failure the session may be anywhere (a broken COPY, say): the next reset starts afresh. */
        if (r < 0)
                inplace_cache_drop_session(cache);
        return r;
}
