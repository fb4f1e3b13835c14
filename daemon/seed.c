/* SPDX-License-Identifier: MIT */
/* seed.c -- TEMPORARY: creates an empty working database (the real seeder lands with issue 3). */

#include "seed.h"

#include <errno.h>

#include "config.h"
#include "export.h"
#include "pg.h"

struct Seeder {
        const Config *config;
        SeedProgress progress;
};

const char *seed_phase_to_string(SeedPhase p)
{
        static const char *const names[_SEED_PHASE_MAX] = {"idle", "check", "schema", "copy", "indexes",
                                                           "foreign_keys", "analyze", "clone"};
        return p < _SEED_PHASE_MAX ? names[p] : "unknown";
}

Seeder *seeder_new(const Config *c, Metrics *metrics)
{
        Seeder *s = xcalloc(1, sizeof(Seeder));
        s->config = c;
        return s;
}

void seeder_free(Seeder *s)
{
        free(s);
}

SeedProgress *seeder_progress(Seeder *s)
{
        return &s->progress;
}

int seeder_ensure(Seeder *s, Error *e)
{
        _cleanup_pgconn_ PGconn *conn = pg_connect(s->config, "postgres", "pgseedd", 5, 0, e);
        _cleanup_free_ char *exists = NULL, *sql = NULL, *q = NULL;
        const char *params[] = {s->config->pg_db};

        if (!conn)
                return -e->errnum;
        exists = pg_query_value(conn, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, params, e);
        if (!exists)
                return -e->errnum;
        if (streq(exists, "1"))
                return 0;
        q = pg_quote_ident(conn, s->config->pg_db);
        sql = xasprintf("CREATE DATABASE %s", q);
        return pg_exec(conn, sql, e);
}

void seeder_maintain(Seeder *s)
{
}

int seeder_reset(Seeder *s, ResetMode mode, json_t **ret, Error *e)
{
        return error_set(e, ENOTSUP, "not_implemented", NULL, "reset is not implemented yet");
}

json_t *seeder_describe(Seeder *s)
{
        return NULL;
}

int dataset_export(const Config *c, const char *dir, Error *e)
{
        return error_set(e, ENOTSUP, NULL, NULL, "export is not implemented yet");
}
