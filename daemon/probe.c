/* SPDX-License-Identifier: MIT */
/* probe.c -- liveness and facts for /health, from one persistent connection. */

#include "probe.h"

#include <errno.h>

#include "config.h"
#include "counts.h"
#include "pg.h"

struct Probe {
        const Config *config;
        PGconn *conn;
        bool on_working_db;
        RowCounts *counts;
};

/*
 * Everything /health reports about the server in one round trip, shaped as
 * JSON by Postgres itself.  $1 is the publication name (a parameter, never
 * spliced).
 */
static const char facts_sql[] =
        "SELECT json_build_object("
        "  'postgres_version', current_setting('server_version'),"
        "  'cdc', json_build_object("
        "    'wal_level', current_setting('wal_level'),"
        "    'publication', (SELECT json_build_object('name', p.pubname, 'exists', true,"
        "                      'tables', (SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = "
        "p.pubname))"
        "                    FROM pg_publication p WHERE p.pubname = $1),"
        "    'replication_slots', (SELECT coalesce(json_agg(json_build_object("
        "                      'name', slot_name, 'plugin', plugin, 'type', slot_type, 'database', database,"
        "                      'active', active, 'confirmed_flush_lsn', confirmed_flush_lsn::text,"
        "                      'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(),"
        "                                                   coalesce(confirmed_flush_lsn, "
        "restart_lsn))::bigint,"
        "                      'wal_status', wal_status, 'safe_wal_size', safe_wal_size)"
        "                      ORDER BY slot_name), '[]') FROM pg_replication_slots)),"
        /* The reset epoch from the pgseed comment; a regex, so a hand-edited comment cannot fail the probe.
         */
        "  'epoch', (SELECT substring(shobj_description(oid, 'pg_database') FROM "
        "'\"epoch\":([0-9]+)')::bigint"
        "            FROM pg_database WHERE datname = current_database()))";

Probe *probe_new(const Config *c)
{
        Probe *p = xcalloc(1, sizeof(Probe));

        p->config = c;
        p->counts = row_counts_new();
        return p;
}

void probe_disconnect(Probe *p)
{
        if (p->conn)
                PQfinish(p->conn);
        p->conn = NULL;
}

void probe_free(Probe *p)
{
        if (!p)
                return;
        probe_disconnect(p);
        row_counts_free(p->counts);
        free(p);
}

static int probe_connect(Probe *p, Error *e)
{
        Error inner = ERROR_INIT;

        if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
                return 0;
        probe_disconnect(p);
        p->conn = pg_connect(p->config, p->config->pg_db, "pgseedd-probe", 2, 2000, &inner);
        p->on_working_db = p->conn != NULL;
        /* Missing, invalid or refusing connections: look from "postgres" and report it unusable. */
        if (!p->conn && (inner.errnum == ENOENT || inner.errnum == EAGAIN))
                p->conn = pg_connect(p->config, "postgres", "pgseedd-probe", 2, 2000, &inner);
        if (!p->conn) {
                *e = inner;
                return -inner.errnum;
        }
        return 0;
}

static int probe_once(Probe *p, bool with_counts, json_t **ret, Error *e)
{
        const char *params[] = {p->config->publication};
        json_t *facts, *counts;
        int r;

        r = probe_connect(p, e);
        if (r < 0)
                return r;
        facts = pg_query_json(p->conn, facts_sql, 1, params, e);
        if (!facts)
                return -e->errnum;
        json_object_set_new(facts, "database_exists", json_boolean(p->on_working_db));
        if (with_counts && p->on_working_db) {
                if (row_counts_get(p->counts, p->conn, now_mono_ms(), &counts, e) < 0) {
                        json_decref(facts);
                        return -e->errnum;
                }
                json_object_set_new(facts, "tables", counts);
        }
        *ret = facts;
        return 0;
}

void probe_forget_counts(Probe *p)
{
        row_counts_forget(p->counts);
}

int probe_run(Probe *p, bool with_counts, json_t **ret, Error *e)
{
        int r = probe_once(p, with_counts, ret, e);

        /* A connection terminated by a reset, or left over from a restarted server: retry once on a new one.
         */
        if (r < 0 && p->conn && PQstatus(p->conn) != CONNECTION_OK) {
                probe_disconnect(p);
                *e = (Error) ERROR_INIT;
                r = probe_once(p, with_counts, ret, e);
        }
        /* Before the working database exists, keep re-trying it rather than sticking to "postgres". */
        if (r == 0 && !p->on_working_db)
                probe_disconnect(p);
        return r;
}
