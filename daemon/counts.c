/* SPDX-License-Identifier: MIT */
/* counts.c -- row counts for /health that cost what changed, not what is stored. */

/*
 * Why not count(*) every table every few seconds: at the default dataset
 * (895K rows) that is a few tens of milliseconds, at ten times the rows it is
 * a sequential scan of every table every five seconds on an idle database.
 * The statistics already know when a table changed (its insert and delete
 * counters, and a new relfilenode after TRUNCATE or a rewrite), so an idle
 * database costs one catalog query per look.
 */

#include "counts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util.h"

typedef struct CountEntry {
        char oid[16];
        char key[96]; /* database, relfilenode and counters at the last look */
        int64_t rows;
        bool exact;
        int64_t counted_ms;    /* last exact count */
        int64_t live_at_count; /* n_live_tup then: committed changes move it by exactly their rows */
} CountEntry;

struct RowCounts {
        CountEntry *entries;
        size_t n;
};

/* Every user table with what says whether it changed; names from the catalog, quoted before use. */
static const char tables_sql[] =
        "SELECT c.oid::text, n.nspname, c.relname, c.relkind::text,"
        "  concat_ws('/', (SELECT oid FROM pg_database WHERE datname = current_database()), c.relfilenode,"
        "            coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_del, 0)),"
        "  greatest(c.reltuples, coalesce(s.n_live_tup, 0))::bigint::text,"
        "  coalesce(s.n_live_tup, 0)::text"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND " PG_USER_SCHEMAS
        " ORDER BY n.nspname, c.relname";

RowCounts *row_counts_new(void)
{
        return xcalloc(1, sizeof(RowCounts));
}

void row_counts_free(RowCounts *rc)
{
        if (!rc)
                return;
        free(rc->entries);
        free(rc);
}

void row_counts_forget(RowCounts *rc)
{
        free(rc->entries);
        rc->entries = NULL;
        rc->n = 0;
}

static const CountEntry *entry_find(const RowCounts *rc, const char *oid)
{
        for (size_t i = 0; i < rc->n; i++)
                if (streq(rc->entries[i].oid, oid))
                        return &rc->entries[i];
        return NULL;
}

/* count(*) of one table; -ENOENT when it was dropped since the list was read. */
static int count_table(PGconn *conn, const char *schema, const char *name, int64_t *ret, Error *e)
{
        _cleanup_free_ char *table = pg_quote_qualified(conn, schema, name);
        _cleanup_free_ char *sql = xasprintf("SELECT count(*) FROM %s", table);
        _cleanup_free_ char *v = pg_query_value(conn, sql, 0, NULL, e);

        if (!v)
                return -e->errnum;
        *ret = strtoll(v, NULL, 10);
        return 0;
}

int row_counts_get(RowCounts *rc, PGconn *conn, int64_t now_ms, json_t **ret, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        _cleanup_free_ CountEntry *next = NULL;
        json_t *out;
        size_t n = 0;
        int r;

        r = pg_query(conn, tables_sql, 0, NULL, &res, e);
        if (r < 0)
                return r;
        next = xcalloc((size_t) PQntuples(res) + 1, sizeof(CountEntry));
        out = json_array();
        for (int i = 0; i < PQntuples(res); i++) {
                const char *oid = PQgetvalue(res, i, 0), *schema = PQgetvalue(res, i, 1),
                           *name = PQgetvalue(res, i, 2), *key = PQgetvalue(res, i, 4);
                bool partitioned = streq(PQgetvalue(res, i, 3), "p"); /* its counters stay 0 */
                int64_t size = strtoll(PQgetvalue(res, i, 5), NULL, 10);
                int64_t live = strtoll(PQgetvalue(res, i, 6), NULL, 10);
                const CountEntry *old = entry_find(rc, oid);
                CountEntry *ent = &next[n];

                strlcpy0(ent->oid, oid, sizeof(ent->oid));
                strlcpy0(ent->key, key, sizeof(ent->key));
                if (old && old->exact && streq(old->key, key) && !partitioned) {
                        *ent = *old; /* nothing moved since it was counted */
                } else if (partitioned || !old || size <= COUNTS_EXACT_MAX_ROWS ||
                           now_ms - old->counted_ms >= COUNTS_EXACT_REFRESH_MS) {
                        Error ce = ERROR_INIT;

                        r = count_table(conn, schema, name, &ent->rows, &ce);
                        if (r < 0 && PQstatus(conn) == CONNECTION_OK)
                                continue; /* dropped or locked away meanwhile: the next look has it */
                        if (r < 0) {
                                json_decref(out);
                                *e = ce;
                                return r;
                        }
                        ent->exact = true;
                        ent->counted_ms = now_ms;
                        ent->live_at_count = live;
                } else {
                        /*
                         * Big and changing: the last count moved by what committed
                         * since (n_live_tup follows commits row by row; a VACUUM or
                         * ANALYZE in between re-estimates it, which the next exact
                         * count corrects).
                         */
                        ent->rows = old->rows + (live - old->live_at_count);
                        if (ent->rows < 0)
                                ent->rows = 0;
                        ent->exact = false;
                        ent->counted_ms = old->counted_ms;
                        ent->live_at_count = old->live_at_count;
                }
                json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:b}", "schema", schema, "name", name,
                                                     "rows", (json_int_t) ent->rows, "exact", ent->exact));
                n++;
        }
        free(rc->entries);
        rc->entries = TAKE_PTR(next);
        rc->n = n;
        *ret = out;
        return 0;
}
