/* SPDX-License-Identifier: MIT */
/* migrations.c -- applying a migrations directory to the template, each file once, in order. */

#include "migrations.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "pg.h"
#include "util.h"

/* Where the migrations are: the setting, else SQL_DIR/migrations; NULL when neither is there. */
static char *migrations_path(const Config *c, bool *configured)
{
        struct stat st;
        char *p;

        *configured = !isempty(c->migrations_dir);
        if (*configured)
                return xstrdup(c->migrations_dir);
        p = xasprintf("%s/migrations", c->sql_dir);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
                return p;
        free(p);
        return NULL;
}

int migrations_load(const Config *c, SqlDir *ret, Error *e)
{
        bool configured;
        _cleanup_free_ char *path = migrations_path(c, &configured);
        int r;

        *ret = (SqlDir){0};
        if (!path)
                return 0;
        r = sqldir_load(path, ret, e);
        /* An empty directory has nothing to apply; a missing one is only an error when configured. */
        if (r == -ENOENT && (!configured || access(path, F_OK) == 0)) {
                *e = (Error) ERROR_INIT;
                *ret = (SqlDir){0};
                return 0;
        }
        if (r < 0)
                return error_prefix(e, "Migrations: ");
        return 0;
}

static const char table_sql[] = "CREATE TABLE IF NOT EXISTS public.pgseed_migrations ("
                                " version text PRIMARY KEY,"
                                " name text NOT NULL,"
                                " checksum text NOT NULL,"
                                " applied_at timestamptz NOT NULL DEFAULT now())";

int migrations_apply(PGconn *db, const SqlDir *m, Error *e)
{
        int r;

        if (m->n_files == 0)
                return 0;
        r = pg_exec(db, table_sql, e);
        if (r < 0)
                return error_prefix(e, "Creating pgseed_migrations: ");
        for (size_t i = 0; i < m->n_files; i++) {
                const SqlFile *f = &m->files[i];
                char version[32], checksum[24];
                const char *params[] = {version, f->name, checksum};
                _cleanup_free_ char *seen = NULL;
                _cleanup_pgresult_ PGresult *res = NULL;

                /* The version is the leading number, as written ("007" stays "007"). */
                snprintf(version, sizeof(version), "%.*s", (int) strspn(f->name, "0123456789"), f->name);
                snprintf(checksum, sizeof(checksum), "%016llx",
                         (unsigned long long) hash64(f->text, strlen(f->text), HASH64_INIT));
                seen = pg_query_value(db, "SELECT count(*) FROM public.pgseed_migrations WHERE version = $1",
                                      1, params, e);
                if (!seen)
                        return -e->errnum;
                if (!streq(seen, "0"))
                        continue;
                r = pg_exec(db, "BEGIN", e);
                if (r == 0)
                        r = pg_exec(db, f->text, e);
                if (r == 0)
                        r = pg_query(db,
                                     "INSERT INTO public.pgseed_migrations (version, name, checksum)"
                                     " VALUES ($1, $2, $3)",
                                     3, params, &res, e);
                if (r == 0)
                        r = pg_exec(db, "COMMIT", e);
                if (r < 0) {
                        Error ignore = ERROR_INIT;
                        pg_exec(db, "ROLLBACK", &ignore);
                        return error_prefix(e, "Migration %s/%s: ", m->path, f->name);
                }
        }
        return 0;
}
