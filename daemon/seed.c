/* SPDX-License-Identifier: MIT */
/* seed.c -- the template database, the working clone, a prepared spare copy, and resets. */

#include "seed.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "clones.h"
#include "config.h"
#include "lifecycle.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "migrations.h"
#include "pg.h"
#include "pgbouncer.h"
#include "reset-inplace.h"
#include "snapshots.h"
#include "roles.h"
#include "sqlfile.h"

/*
 * Databases, for working database "app":
 *   app_template        the seeded state: built once, read-only, no connections allowed
 *   app_template_build  a template being built; only ever renamed to app_template when complete,
 *                       so a crash leaves no half-built template that could be used
 *   app_spare_1..N      clones of the template made ahead of time (no connections allowed), so that
 *                       a reset is a swap by renames instead of a copy; N ([dataset] spares) of them,
 *                       so that back-to-back resets each find one ready
 *   app_clone_<hex>     leased or ready clones for POST /clones (clones.c)
 *   app                 the working database everyone uses
 *   app_pgseed_aside_N  a working database a reset renamed aside; upkeep drops it in the background
 * Each carries its role and the template's fingerprint as JSON in its
 * database comment ("pgseed:{...}"), which is how a start-up tells a
 * current template from a stale or unfinished one.
 */

#define FORMAT_VERSION  "pgseed-template-1"
#define UPKEEP_RETRY_MS 5000 /* after a failed upkeep (the server went away, say) */

struct Seeder {
        const Config *config;
        Metrics *metrics;
        SeedProgress progress;
        char *working, *tmpl, *build;
        char *spare_prefix; /* "app_spare_" */
        char **spares;      /* "app_spare_1" .. "app_spare_N" */
        size_t n_spares;
        char *legacy_spare;   /* "app_spare": the one spare of earlier versions, dropped at ensure */
        Clones *clones;       /* may be NULL */
        Snapshots *snapshots; /* may be NULL */
        Pgbouncer *pgbouncer; /* may be NULL */
        PGconn *conn;         /* the worker's connection to "postgres" for jobs, kept between them */
        InplaceCache
                *inplace;    /* what in-place resets keep between them (a session on the working database) */
        PGconn *upkeep_conn; /* upkeep's own, so that a late cancel (see seeder_preempt) never hits a job */

        char *trash_prefix; /* "app_pgseed_aside_": working databases a reset set aside */

        /*
         * Everything else is the lifecycle worker's alone; the lock guards what
         * /health reads from other threads, and the upkeep flags.
         */
        pthread_mutex_t lock;
        char fingerprint[24]; /* of the current template; "" before the first ensure */
        json_t *info;         /* the template's metadata */
        bool *spare_ready;    /* spares[i] is a current copy (as far as we know) */
        bool *spare_foreign;  /* spares[i] is taken by a database that is not ours: never touched */
        bool trash_pending;   /* set-aside databases may exist */
        int64_t next_upkeep_mono;
        int64_t epoch;           /* the reset epoch swap_in() gave the working database (worker only) */
        PGcancel *upkeep_cancel; /* while an upkeep step runs */
        bool upkeep_preempted;   /* that step was cancelled for a job */
        bool upkeep_spare_step;  /* that step is a spare's copy */
};

static const char *const phase_names[_SEED_PHASE_MAX] = {
        [SEED_PHASE_IDLE] = "idle",   [SEED_PHASE_CHECK] = "check",     [SEED_PHASE_SCHEMA] = "schema",
        [SEED_PHASE_COPY] = "copy",   [SEED_PHASE_INDEXES] = "indexes", [SEED_PHASE_ANALYZE] = "analyze",
        [SEED_PHASE_CLONE] = "clone",
};

const char *seed_phase_to_string(SeedPhase p)
{
        return p < _SEED_PHASE_MAX ? phase_names[p] : "unknown";
}

Seeder *seeder_new(const Config *c, Metrics *metrics)
{
        Seeder *s = xcalloc(1, sizeof(Seeder));

        s->config = c;
        s->metrics = metrics;
        s->working = xstrdup(c->pg_db);
        s->inplace = inplace_cache_new();
        s->tmpl = xasprintf("%s_template", c->pg_db);
        s->build = xasprintf("%s_template_build", c->pg_db);
        s->spare_prefix = xasprintf("%s_spare_", c->pg_db);
        s->legacy_spare = xasprintf("%s_spare", c->pg_db);
        s->n_spares = c->spares > 0 ? (size_t) c->spares : 1;
        s->spares = xcalloc(s->n_spares + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_spares; i++)
                s->spares[i] = xasprintf("%s%zu", s->spare_prefix, i + 1);
        s->spare_ready = xcalloc(s->n_spares, sizeof(bool));
        s->spare_foreign = xcalloc(s->n_spares, sizeof(bool));
        s->trash_prefix = xasprintf("%s_pgseed_aside_", c->pg_db);
        pthread_mutex_init(&s->lock, NULL);
        return s;
}

void seeder_free(Seeder *s)
{
        if (!s)
                return;
        json_decref(s->info);
        free(s->working);
        free(s->tmpl);
        free(s->build);
        PQfinish(s->conn);
        inplace_cache_free(s->inplace);
        PQfinish(s->upkeep_conn);
        strv_free(s->spares);
        free(s->spare_prefix);
        free(s->legacy_spare);
        free(s->spare_ready);
        free(s->spare_foreign);
        free(s->trash_prefix);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

SeedProgress *seeder_progress(Seeder *s)
{
        return &s->progress;
}

void seeder_cancel(Seeder *s)
{
        if (s)
                atomic_store(&s->progress.cancel, true);
}

static void set_phase(Seeder *s, SeedPhase p)
{
        atomic_store(&s->progress.phase, p);
}

/* Records how long the phase that just ended took, for the log and the template's metadata. */
static void phase_done(json_t *phases, const char *name, int64_t *mark)
{
        int64_t now = now_mono_ms();

        json_object_set_new(phases, name, json_integer(now - *mark));
        *mark = now;
}

/* ---- fingerprint and metadata ------------------------------------------- */

/* Everything the template's contents depend on; a change in any of it means a rebuild. */
static void compute_fingerprint(const Config *c, const SqlDir *dir, char out[24])
{
        char buf[1024], roles[512];
        uint64_t h = HASH64_INIT;
        const char *csv = startswith(c->dataset, "csv:");
        struct stat st = {0};

        if (csv)
                (void) stat(csv, &st);
        /* The roles' grants are in the template: other role names, another template. */
        roles_fingerprint_text(c, roles, sizeof(roles));
        snprintf(buf, sizeof(buf), "%s|%s|%lld|%lld|%s|%llx|%lld|%lld%s", FORMAT_VERSION, c->dataset,
                 (long long) c->comments, (long long) c->seed, c->publication,
                 (unsigned long long) dir->hash, (long long) st.st_size, (long long) st.st_mtime, roles);
        h = hash64(buf, strlen(buf), h);
        snprintf(out, 24, "%016llx", (unsigned long long) h);
}

typedef struct DbState {
        bool exists;
        bool allow_connections;
        bool is_template;
        json_t *meta; /* parsed comment, or NULL */
} DbState;

static void db_state_clear(DbState *d)
{
        json_decref(d->meta);
        *d = (DbState){0};
}

static int db_state(PGconn *conn, const char *name, DbState *ret, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        const char *params[] = {name};
        const char *comment;
        int r;

        *ret = (DbState){0};
        r = pg_query(
                conn,
                "SELECT datallowconn, datistemplate, coalesce(shobj_description(oid, 'pg_database'), '')"
                " FROM pg_database WHERE datname = $1",
                1, params, &res, e);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return 0;
        ret->exists = true;
        ret->allow_connections = streq(PQgetvalue(res, 0, 0), "t");
        ret->is_template = streq(PQgetvalue(res, 0, 1), "t");
        comment = startswith(PQgetvalue(res, 0, 2), PG_COMMENT_PREFIX);
        if (comment)
                ret->meta = json_loads(comment, 0, NULL);
        return 0;
}

static bool meta_matches(const DbState *d, const char *fingerprint)
{
        return d->exists && d->meta &&
               streq_ptr(json_string_value(json_object_get(d->meta, "fingerprint")), fingerprint);
}

/* DROP DATABASE that also works for template databases and kicks connected sessions out. */
static int drop_database(PGconn *conn, const char *db, Error *e)
{
        DbState st;
        int r = db_state(conn, db, &st, e);

        if (r < 0 || !st.exists) {
                db_state_clear(&st);
                return r;
        }
        if (st.is_template) {
                r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH IS_TEMPLATE false", db, NULL);
                if (r < 0) {
                        db_state_clear(&st);
                        return r;
                }
        }
        db_state_clear(&st);
        return pg_exec_names(conn, e,
                             PQserverVersion(conn) >= 130000 ? "DROP DATABASE %s WITH (FORCE)"
                                                             : "DROP DATABASE %s",
                             db, NULL);
}

static const char *copy_strategy(PGconn *conn)
{
        /* FILE_COPY (15+) copies files instead of WAL-logging every block: several times faster for a big
         * clone. */
        return PQserverVersion(conn) >= 150000 ? " STRATEGY = FILE_COPY" : "";
}

static json_t *meta_for(const char *role, const char *fingerprint)
{
        char ts[40];

        format_rfc3339_ms(now_real_ms(), ts, sizeof(ts));
        return json_pack("{s:i, s:s, s:s, s:s}", "pgseed", 1, "role", role, "fingerprint", fingerprint,
                         "created_at", ts);
}

/* CREATE DATABASE new FROM the template, with a comment saying what it is. */
static int clone_template(Seeder *s, PGconn *conn, const char *db, const char *role, bool allow_connections,
                          const char *fingerprint, Error *e)
{
        _cleanup_free_ char *fmt = xasprintf("CREATE DATABASE %%s TEMPLATE %%s%s%s", copy_strategy(conn),
                                             allow_connections ? "" : " ALLOW_CONNECTIONS = false");
        json_t *meta;
        int r;

        r = pg_exec_names(conn, e, fmt, db, s->tmpl);
        if (r < 0)
                return r;
        meta = meta_for(role, fingerprint);
        r = pg_comment_database(conn, db, meta, e);
        json_decref(meta);
        return r;
}

/* ---- building the template ------------------------------------------------ */

static int apply_file(PGconn *conn, const SqlDir *dir, const SqlFile *f, Error *e)
{
        int r = pg_exec(conn, f->text, e);

        return r < 0 ? error_prefix(e, "%s/%s: ", dir->path, f->name) : 0;
}

static int check_dataset_tables(PGconn *conn, const Config *c, Error *e)
{
        _cleanup_free_ char *missing = pg_query_value(conn,
                                                      "SELECT coalesce(string_agg(t, ', '), '') FROM "
                                                      "unnest(ARRAY['videos', 'users', 'comments']) t"
                                                      " WHERE to_regclass(quote_ident(t)) IS NULL",
                                                      0, NULL, e);

        if (!missing)
                return -e->errnum;
        if (*missing)
                return error_set(
                        e, EINVAL, "schema_mismatch",
                        "Define them in your SQL files, or set PGSEED_DATASET=none to load only what your "
                        "SQL files insert.",
                        "The SQL files in %s do not create the table(s) %s that dataset '%s' loads",
                        c->sql_dir, missing, c->dataset);
        return 0;
}

static int analyze_all(Seeder *s, const Config *c, PGconn *conn, const char *db, Error *e)
{
        _cleanup_free_ char *tables = pg_user_tables_list(conn, e);
        _cleanup_strv_free_ char **statements = NULL;
        size_t n = 0;

        if (!tables)
                return -e->errnum;
        /* One ANALYZE per table so the workers share them. */
        statements = xcalloc(1, sizeof(char *));
        for (char *t = tables, *next; t && *t; t = next) {
                next = strstr(t, ", ");
                if (next) {
                        *next = '\0';
                        next += 2;
                }
                statements = xrealloc(statements, (n + 2) * sizeof(char *));
                statements[n++] = xasprintf("ANALYZE %s", t);
                statements[n] = NULL;
        }
        return loader_run_parallel(c, db, statements, loader_workers(), &s->progress.cancel, e);
}

static int run_after_load(Seeder *s, const SqlDir *dir, Error *e)
{
        for (size_t i = 0; i < dir->n_files; i++) {
                const SqlFile *f = &dir->files[i];
                _cleanup_strv_free_ char **statements = NULL;
                int r;

                if (!f->after_load)
                        continue;
                set_phase(s, SEED_PHASE_INDEXES);
                statements = sql_split(f->text);
                r = loader_run_parallel(s->config, s->build, statements, loader_workers(),
                                        &s->progress.cancel, e);
                if (r < 0)
                        return error_prefix(e, "%s/%s: ", dir->path, f->name);
        }
        return 0;
}

static int build_template(Seeder *s, PGconn *conn, const SqlDir *dir, const SqlDir *migrations,
                          const char *fingerprint, Error *e)
{
        const Config *c = s->config;
        int64_t t0 = now_mono_ms(), mark = t0, counts[_TABLE_MAX] = {0};
        _cleanup_pgconn_ PGconn *b = NULL;
        json_t *meta, *tables = NULL;
        json_auto_t *phases = json_object();
        int r;

        log_info("seed", "Building template %s from %s (%lld comments)", s->tmpl, c->dataset,
                 (long long) c->comments);
        atomic_store(&s->progress.started_mono_ms, t0);
        atomic_store(&s->progress.rows_loaded, 0);
        atomic_store(&s->progress.rows_total, 0);
        set_phase(s, SEED_PHASE_SCHEMA);

        /*
         * Byte-order collation: text comparisons become memcmp with abbreviated
         * keys, which makes the index builds (most of a seed) about a third
         * faster.  The IDs and codes that are indexed sort the same either way.
         */
        r = pg_exec_names(conn, e, "CREATE DATABASE %s TEMPLATE template0 LC_COLLATE 'C'", s->build, NULL);
        if (r < 0)
                return r;
        b = pg_connect(c, s->build, "pgseedd-seed", 10, 0, e);
        if (!b)
                return -e->errnum;
        for (size_t i = 0; i < dir->n_files; i++)
                if (!dir->files[i].after_load && (r = apply_file(b, dir, &dir->files[i], e)) < 0)
                        return r;
        /* Before the rows: a migrations directory may be the whole schema the dataset loads into. */
        r = migrations_apply(b, migrations, e);
        if (r < 0)
                return r;
        phase_done(phases, "schema", &mark);

        if (!streq(c->dataset, "none")) {
                r = check_dataset_tables(b, c, e);
                if (r < 0)
                        return r;
                set_phase(s, SEED_PHASE_COPY);
                r = loader_load_dataset(c, s->build, &s->progress, counts, e);
                if (r < 0)
                        return error_prefix(e, "Loading %s: ", c->dataset);
                phase_done(phases, "copy", &mark);
        }
        r = run_after_load(s, dir, e);
        if (r < 0)
                return r;
        phase_done(phases, "after_load_sql", &mark);
        r = roles_grant(c, b, e);
        if (r < 0)
                return r;
        r = pg_sync_publication(b, c->publication, e);
        if (r < 0)
                return error_prefix(e, "Creating publication %s: ", c->publication);
        set_phase(s, SEED_PHASE_ANALYZE);
        r = analyze_all(s, c, b, s->build, e);
        if (r < 0)
                return r;
        phase_done(phases, "analyze", &mark);
        r = pg_count_rows(b, &tables, e);
        if (r < 0)
                return r;
        PQfinish(TAKE_PTR(b));

        meta = meta_for("template", fingerprint);
        json_object_set_new(meta, "source", json_string(c->dataset));
        json_object_set_new(meta, "comments", json_integer(c->comments));
        json_object_set_new(meta, "seed", json_integer(c->seed));
        json_object_set_new(meta, "build_ms", json_integer(now_mono_ms() - t0));
        json_object_set(meta, "phases_ms", phases);
        json_object_set_new(meta, "tables", tables);
        r = pg_comment_database(conn, s->build, meta, e);
        json_decref(meta);
        if (r < 0)
                return r;
        /* Only a complete template gets the real name. */
        r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", s->build, s->tmpl);
        if (r < 0)
                return r;
        metrics_count(s->metrics, METRIC_SEEDS);
        metrics_seed_duration(s->metrics, now_mono_ms() - t0);
        _cleanup_free_ char *phase_text = json_dumps(phases, JSON_COMPACT);
        log_info("seed", "Built template %s in %lld ms (%lld rows copied; phases in ms: %s)", s->tmpl,
                 (long long) (now_mono_ms() - t0), (long long) (counts[0] + counts[1] + counts[2]),
                 phase_text);
        return 0;
}

/* ---- the working database's swap ------------------------------------------ */

static void remember_template(Seeder *s, const char *fingerprint, json_t *meta)
{
        pthread_mutex_lock(&s->lock);
        strlcpy0(s->fingerprint, fingerprint, sizeof(s->fingerprint));
        json_decref(s->info);
        s->info = json_incref(meta);
        pthread_mutex_unlock(&s->lock);
}

static void set_spare_ready(Seeder *s, size_t i, bool ready)
{
        pthread_mutex_lock(&s->lock);
        s->spare_ready[i] = ready;
        pthread_mutex_unlock(&s->lock);
}

static void set_spares_unready(Seeder *s)
{
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_spares; i++)
                s->spare_ready[i] = false;
        pthread_mutex_unlock(&s->lock);
}

static size_t spares_ready_count(Seeder *s)
{
        size_t n = 0;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_spares; i++)
                n += s->spare_ready[i];
        pthread_mutex_unlock(&s->lock);
        return n;
}

/*
 * Whether a database under one of our reserved names is ours to drop: it
 * carries our comment, or it refuses connections without one (we create
 * every copy with ALLOW_CONNECTIONS false and comment it right after, so a
 * crash between the two leaves exactly that).
 */
static bool db_is_ours(const DbState *d)
{
        return d->exists && (d->meta || !d->allow_connections);
}

/* A spare that a reset can swap in as it is: a current copy nobody can connect to. */
static bool spare_usable(const DbState *d, const char *fingerprint)
{
        return meta_matches(d, fingerprint) && !d->allow_connections &&
               streq_ptr(json_string_value(json_object_get(d->meta, "role")), "spare");
}

/*
 * The logical replication slots on db, as "name (active), ..." in names.
 * Returns 1 when there are some, 0 when none, -errno when the query failed:
 * a failed check is never taken for "no slots".
 */
static int find_slots(PGconn *conn, const char *db, char *names, size_t size, Error *e)
{
        const char *params[] = {db};
        _cleanup_free_ char *v =
                pg_query_value(conn,
                               "SELECT coalesce(string_agg(slot_name || CASE WHEN active THEN ' (active)' "
                               "ELSE ' (inactive)' END, ', '"
                               " ORDER BY slot_name), '') FROM pg_replication_slots WHERE database = $1",
                               1, params, e);

        if (!v)
                return error_prefix(e, "Checking the replication slots on %s: ", db);
        strlcpy0(names, v, size);
        return *v ? 1 : 0;
}

/*
 * Makes fresh (a complete clone of the template that accepts no connections)
 * the working database, in one transaction that renames the working
 * database aside and fresh into its place: clients see the old database or
 * the new one, never none, and a crash at any point leaves a state
 * seeder_ensure() recognises (the working database refusing connections, or
 * missing with fresh still there; what was set aside is dropped by upkeep).
 */
static int swap_in(Seeder *s, PGconn *conn, const char *fresh, const char *fingerprint, const char *snapshot,
                   Error *e)
{
        _cleanup_free_ char *aside =
                xasprintf("%s%llx", s->trash_prefix, (unsigned long long) now_real_ms());
        DbState work = {0};
        json_int_t epoch = 0;
        json_t *meta;
        int r;

        r = db_state(conn, s->working, &work, e);
        if (r < 0)
                return r;
        inplace_cache_drop_session(
                s->inplace); /* it would be terminated below, and point at the old database */
        if (work.exists) {
                r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", s->working,
                                  NULL);
                if (r == 0)
                        r = pg_terminate_sessions(conn, s->working, e);
                if (r < 0) {
                        Error ignore = ERROR_INIT;
                        pg_exec_names(conn, &ignore, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true",
                                      s->working, NULL);
                        db_state_clear(&work);
                        return r;
                }
        }
        r = pg_exec(conn, "BEGIN", e);
        if (r == 0 && work.exists)
                r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", s->working, aside);
        if (r == 0)
                r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", fresh, s->working);
        if (r == 0)
                r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", s->working,
                                  NULL);
        if (r == 0) {
                /* The reset epoch goes on from the database set aside (see reset-inplace.c). */
                epoch = work.meta ? json_integer_value(json_object_get(work.meta, "epoch")) + 1 : 0;
                meta = meta_for("working", fingerprint);
                json_object_set_new(meta, "epoch", json_integer(epoch));
                if (snapshot)
                        json_object_set_new(meta, "snapshot", json_string(snapshot));
                r = pg_comment_database(conn, s->working, meta, e);
                json_decref(meta);
        }
        if (r == 0)
                r = pg_exec(conn, "COMMIT", e);
        if (r < 0) {
                Error ignore = ERROR_INIT;
                pg_exec(conn, "ROLLBACK", &ignore);
                if (work.exists)
                        pg_exec_names(conn, &ignore, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true",
                                      s->working, NULL);
        }
        if (r == 0)
                s->epoch = epoch;
        if (r == 0 && work.exists) {
                pthread_mutex_lock(&s->lock);
                s->trash_pending = true;
                pthread_mutex_unlock(&s->lock);
        }
        db_state_clear(&work);
        return r;
}

/*
 * A fresh copy for swap_in(), its name in *name: a prepared spare when one is
 * current, else a new clone under a free spare name (*prepared false).
 */
static int take_fresh(Seeder *s, PGconn *conn, const char *fingerprint, bool *prepared, const char **name,
                      Error *e)
{
        DbState st = {0};
        ssize_t slot = -1;
        int r;

        *prepared = false;
        *name = NULL;
        for (size_t i = 0; i < s->n_spares; i++) {
                pthread_mutex_lock(&s->lock);
                bool ready = s->spare_ready[i], foreign = s->spare_foreign[i];
                pthread_mutex_unlock(&s->lock);
                if (foreign)
                        continue;
                if (slot < 0)
                        slot = (ssize_t) i;
                if (!ready)
                        continue;
                /* Trust but verify: one catalog look-up, well under a millisecond. */
                r = db_state(conn, s->spares[i], &st, e);
                if (r < 0)
                        return r;
                set_spare_ready(s, i, false);
                if (spare_usable(&st, fingerprint)) {
                        db_state_clear(&st);
                        *prepared = true;
                        *name = s->spares[i];
                        return 0;
                }
                db_state_clear(&st);
                slot = (ssize_t) i;
        }
        if (slot < 0)
                return error_set(e, EEXIST, "spares_taken", "Drop or rename the databases named %s*.",
                                 "Every spare name (%s1..%zu) is taken by a database that is not pgseed's",
                                 s->spare_prefix, s->n_spares);
        /* No spare ready: clone directly (strategy "clone"). */
        r = db_state(conn, s->spares[slot], &st, e);
        if (r == 0 && st.exists && !db_is_ours(&st))
                r = error_set(e, EEXIST, "spares_taken", NULL, "%s exists and is not pgseed's",
                              s->spares[slot]);
        db_state_clear(&st);
        if (r == 0)
                r = drop_database(conn, s->spares[slot], e);
        if (r == 0)
                r = clone_template(s, conn, s->spares[slot], "spare", false, fingerprint, e);
        if (r == 0)
                *name = s->spares[slot];
        return r;
}

/* ---- the worker's connection ------------------------------------------------ */

/*
 * The worker's connection, kept open: a new one costs a fork on the server
 * and a SCRAM exchange, several milliseconds on a loaded machine, which is
 * most of a reset's budget.  Borrowed: call worker_conn_drop() after a
 * failure so that the next user starts on a clean session.
 */
static PGconn *kept_conn(Seeder *s, PGconn **slot, const char *application, Error *e)
{
        /* A server restart leaves the socket at EOF: reading notices it without a round trip. */
        if (*slot && (!PQconsumeInput(*slot) || PQstatus(*slot) != CONNECTION_OK ||
                      PQtransactionStatus(*slot) != PQTRANS_IDLE)) {
                PQfinish(*slot);
                *slot = NULL;
        }
        if (!*slot)
                *slot = pg_connect(s->config, "postgres", application, 10, 0, e);
        return *slot;
}

static PGconn *worker_conn(Seeder *s, Error *e)
{
        return kept_conn(s, &s->conn, "pgseedd-worker", e);
}

static void worker_conn_drop(Seeder *s)
{
        PQfinish(s->conn);
        s->conn = NULL;
        inplace_cache_drop_session(s->inplace);
        PQfinish(s->upkeep_conn);
        s->upkeep_conn = NULL;
}

/* ---- ensure: finish or roll back whatever an interrupted operation left ------ */

static bool is_configured_spare(Seeder *s, const char *name, size_t *index)
{
        for (size_t i = 0; i < s->n_spares; i++)
                if (streq(s->spares[i], name)) {
                        if (index)
                                *index = i;
                        return true;
                }
        return false;
}

/*
 * Drops the databases of ours that an interrupted DROP DATABASE left invalid
 * (Postgres 15.4+ marks them with datconnlimit -2; nobody can connect to them
 * and only DROP DATABASE helps), the template build that did not finish, and
 * spares that are not current (a crash mid-copy, another fingerprint, a spare
 * beyond the configured number, the single app_spare of earlier versions).
 * Only databases our comment (or a refusal of connections under a reserved
 * name, see db_is_ours) marks as ours are dropped.
 */
static int drop_broken(Seeder *s, PGconn *conn, const char *fingerprint, Error *e)
{
        const char *params[] = {s->working, s->tmpl,         s->legacy_spare,
                                s->build,   s->trash_prefix, s->spare_prefix};
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        r = pg_query(
                conn,
                "SELECT datname, datname = $4, datconnlimit = -2 FROM pg_database"
                " WHERE (datconnlimit = -2 AND datname IN ($1, $2)) OR datname IN ($3, $4)"
                "    OR starts_with(datname, $6)"
                "    OR (starts_with(datname, $5) AND shobj_description(oid, 'pg_database') LIKE 'pgseed:%')"
                " ORDER BY datname",
                6, params, &res, e);
        if (r < 0)
                return r;
        set_spares_unready(s);
        for (int i = 0; i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0);
                bool invalid = streq(PQgetvalue(res, i, 2), "t");

                if (startswith(name, s->trash_prefix)) {
                        pthread_mutex_lock(&s->lock);
                        s->trash_pending = true; /* upkeep drops these, off the start-up path */
                        pthread_mutex_unlock(&s->lock);
                        continue;
                }
                if (streq(name, s->legacy_spare) || startswith(name, s->spare_prefix)) {
                        DbState st = {0};
                        size_t idx = 0;
                        bool configured = is_configured_spare(s, name, &idx);

                        r = db_state(conn, name, &st, e);
                        if (r < 0)
                                return r;
                        if (!db_is_ours(&st) && !invalid) {
                                if (configured) {
                                        pthread_mutex_lock(&s->lock);
                                        s->spare_foreign[idx] = true;
                                        pthread_mutex_unlock(&s->lock);
                                }
                                log_warning("seed", "Leaving %s alone: it does not carry pgseed's comment",
                                            name);
                                db_state_clear(&st);
                                continue;
                        }
                        if (configured && !invalid && spare_usable(&st, fingerprint)) {
                                set_spare_ready(s, idx, true);
                                db_state_clear(&st);
                                continue;
                        }
                        db_state_clear(&st);
                        log_info("seed", "Dropping %s, a spare that is %s", name,
                                 invalid      ? "invalid"
                                 : configured ? "not current"
                                              : "no longer configured");
                        r = drop_database(conn, name, e);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq(PQgetvalue(res, i, 1), "t"))
                        log_warning("seed", "Discarding %s, a template build that did not finish", name);
                else
                        log_warning("seed", "Dropping %s, left invalid by an interrupted DROP DATABASE",
                                    name);
                r = drop_database(conn, name, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * The working database exists without pgseed's comment: replacing it would
 * drop what is in it.  An empty one (an image's POSTGRES_DB, a fresh
 * CREATE DATABASE) is fine to replace; one with tables is someone's data,
 * which on a server pgseedd does not own (runtime = external) may be real.
 * Returns 0, or -EEXIST with e naming it and what to do.
 */
static int refuse_foreign_data(const Config *c, const DbState *work, Error *e)
{
        _cleanup_pgconn_ PGconn *db = NULL;
        _cleanup_free_ char *tables = NULL;
        Error ignore = ERROR_INIT;

        if (work->meta || !work->allow_connections)
                return 0;
        db = pg_connect(c, c->pg_db, "pgseedd-seed", 10, 10000, &ignore);
        if (!db)
                return 0; /* nobody can use it either; the swap below reports what goes wrong */
        tables = pg_query_value(
                db,
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND " PG_USER_SCHEMAS,
                0, NULL, e);
        if (!tables)
                return -e->errnum;
        if (streq(tables, "0"))
                return 0;
        return error_set(
                e, EEXIST, "foreign_database",
                "Point PGSEED_PG_DB (or the database in PGSEED_PG_URL) at a name pgseedd may own, or "
                "drop that database yourself if its data is not needed.",
                "Database %s on %s:%d exists with %s table(s) and was not made by pgseed: pgseedd "
                "does not replace it",
                c->pg_db, c->pg_host, c->pg_port, tables);
}

int seeder_ensure(Seeder *s, Error *e)
{
        const Config *c = s->config;
        _cleanup_(sqldir_free) SqlDir dir = {0}, migrations = {0};
        _cleanup_pgconn_ PGconn *conn = NULL;
        DbState tmpl = {0}, work = {0};
        char fingerprint[24], slots[512];
        const char *fresh;
        bool prepared;
        int64_t t0;
        int r;

        set_phase(s, SEED_PHASE_CHECK);
        worker_conn_drop(s); /* ensure follows server restarts: start on a new session */
        r = sqldir_load(c->sql_dir, &dir, e);
        if (r < 0)
                goto done;
        r = migrations_load(c, &migrations, e);
        if (r < 0)
                goto done;
        /* A new or changed migration is another template. */
        if (migrations.n_files > 0)
                dir.hash = hash64(&migrations.hash, sizeof(migrations.hash), dir.hash);
        compute_fingerprint(c, &dir, fingerprint);
        conn = pg_connect(c, "postgres", "pgseedd-seed", 10, 0, e);
        if (!conn) {
                r = -e->errnum;
                goto done;
        }
        /* Cluster-wide, so before the template that grants them their rights. */
        r = roles_ensure(c, conn, e);
        if (r < 0)
                goto done;
        r = drop_broken(s, conn, fingerprint, e);
        if (r < 0)
                goto done;

        r = db_state(conn, s->tmpl, &tmpl, e);
        if (r < 0)
                goto done;
        if (!meta_matches(&tmpl, fingerprint)) {
                if (tmpl.exists)
                        log_info("seed",
                                 "Template %s was built from other inputs (SQL files, dataset or settings "
                                 "changed): rebuilding it",
                                 s->tmpl);
                set_spares_unready(s);
                r = 0;
                for (size_t i = 0; r == 0 && i < s->n_spares; i++) {
                        DbState st = {0};
                        r = db_state(conn, s->spares[i], &st, e);
                        if (r == 0 && db_is_ours(&st))
                                r = drop_database(conn, s->spares[i], e);
                        db_state_clear(&st);
                }
                if (r == 0)
                        r = drop_database(conn, s->tmpl, e);
                if (r == 0)
                        r = build_template(s, conn, &dir, &migrations, fingerprint, e);
                if (r < 0) {
                        Error ignore = ERROR_INIT;
                        drop_database(conn, s->build, &ignore);
                        goto done;
                }
                db_state_clear(&tmpl);
                r = db_state(conn, s->tmpl, &tmpl, e);
                if (r < 0)
                        goto done;
        }
        /* Read-only by construction: no session can change the seeded state. */
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
                          s->tmpl, NULL);
        if (r < 0)
                goto done;
        remember_template(s, fingerprint, tmpl.meta);

        r = db_state(conn, s->working, &work, e);
        if (r < 0)
                goto done;
        if (meta_matches(&work, fingerprint)) {
                /* The developer's working copy, changes and all, survives restarts. */
                if (!work.allow_connections) {
                        log_warning(
                                "seed",
                                "Letting clients into %s again: a reset was interrupted before it swapped",
                                s->working);
                        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true",
                                          s->working, NULL);
                }
                goto done;
        }
        if (work.exists) {
                r = refuse_foreign_data(c, &work, e);
                if (r < 0)
                        goto done;
                r = find_slots(conn, s->working, slots, sizeof(slots), e);
                if (r < 0)
                        goto done;
                if (r > 0) {
                        log_warning(
                                "seed",
                                "Keeping %s although the template changed: replication slot(s) %s use it; "
                                "POST /reset?mode=inplace refreshes it in place",
                                s->working, slots);
                        r = work.allow_connections
                                    ? 0
                                    : pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true",
                                                    s->working, NULL);
                        goto done;
                }
                log_info("seed", "Replacing %s with a fresh copy of the template", s->working);
        }
        set_phase(s, SEED_PHASE_CLONE);
        t0 = now_mono_ms();
        r = take_fresh(s, conn, fingerprint, &prepared, &fresh, e);
        if (r == 0)
                r = swap_in(s, conn, fresh, fingerprint, NULL, e);
        if (r == 0)
                log_info("seed", "Created %s from the template in %lld ms%s", s->working,
                         (long long) (now_mono_ms() - t0), prepared ? " (from the prepared copy)" : "");

done:
        /* The clones' leases, once the template is known to be current. */
        if (r == 0 && s->clones)
                r = clones_rebuild(s->clones, conn, fingerprint, e);
        if (r == 0 && s->snapshots)
                r = snapshots_rebuild(s->snapshots, conn, e);
        db_state_clear(&tmpl);
        db_state_clear(&work);
        set_phase(s, SEED_PHASE_IDLE);
        return r;
}

/* ---- upkeep -------------------------------------------------------------- */

/* Drops one database that a reset set aside.  Returns 1 when it dropped one, 0 when none is left. */
static int drop_one_aside(Seeder *s, PGconn *conn, Error *e)
{
        const char *params[] = {s->trash_prefix};
        _cleanup_free_ char *name = pg_query_value(
                conn,
                "SELECT coalesce(min(datname), '') FROM pg_database WHERE starts_with(datname, $1)"
                " AND shobj_description(oid, 'pg_database') LIKE 'pgseed:%'",
                1, params, e);
        int r;

        if (!name)
                return -e->errnum;
        if (!*name)
                return 0;
        r = drop_database(conn, name, e);
        if (r < 0)
                return r;
        log_debug("upkeep", "Dropped %s, set aside by a reset", name);
        return 1;
}

/* Makes spares[i] a current copy.  Returns 0 or -errno. */
static int prepare_spare(Seeder *s, PGconn *conn, size_t i, const char *fingerprint, Error *e)
{
        DbState st = {0};
        int64_t t0 = now_mono_ms();
        int r = db_state(conn, s->spares[i], &st, e);

        if (r < 0)
                return r;
        if (spare_usable(&st, fingerprint)) {
                db_state_clear(&st);
                set_spare_ready(s, i, true);
                return 0;
        }
        if (st.exists && !db_is_ours(&st)) {
                db_state_clear(&st);
                log_warning("upkeep", "Leaving %s alone: it does not carry pgseed's comment", s->spares[i]);
                pthread_mutex_lock(&s->lock);
                s->spare_foreign[i] = true;
                pthread_mutex_unlock(&s->lock);
                return 0;
        }
        db_state_clear(&st);
        r = drop_database(conn, s->spares[i], e);
        if (r == 0)
                r = clone_template(s, conn, s->spares[i], "spare", false, fingerprint, e);
        if (r < 0)
                return r;
        set_spare_ready(s, i, true);
        metrics_spare_duration(s->metrics, now_mono_ms() - t0);
        log_debug("upkeep", "Prepared %s for a reset in %lld ms", s->spares[i],
                  (long long) (now_mono_ms() - t0));
        return 0;
}

bool seeder_upkeep(Seeder *s)
{
        PGconn *conn;
        char fingerprint[24];
        Error e = ERROR_INIT;
        ssize_t want = -1;
        bool trash, clones_due, more = false;
        int r = 0;

        pthread_mutex_lock(&s->lock);
        trash = s->trash_pending;
        for (size_t i = 0; want < 0 && i < s->n_spares; i++)
                if (!s->spare_ready[i] && !s->spare_foreign[i])
                        want = (ssize_t) i;
        strlcpy0(fingerprint, s->fingerprint, sizeof(fingerprint));
        bool due = now_mono_ms() >= s->next_upkeep_mono;
        pthread_mutex_unlock(&s->lock);
        clones_due = *fingerprint && s->clones && clones_upkeep_due(s->clones, fingerprint);
        if (!*fingerprint || !due || (!trash && want < 0 && !clones_due))
                return false;

        conn = kept_conn(s, &s->upkeep_conn, "pgseedd-upkeep", &e);
        if (!conn) {
                r = -e.errnum;
                goto done;
        }
        pthread_mutex_lock(&s->lock);
        s->upkeep_cancel = PQgetCancel(conn);
        s->upkeep_preempted = false;
        s->upkeep_spare_step = false;
        pthread_mutex_unlock(&s->lock);
        /*
         * In order of what keeps clients waiting: leases handed out but not yet
         * recorded (a few ms each), then the next reset's copy (what makes
         * resets fast), then the clone pool, then dropping what was set aside.
         * One step per call, so that a queued job never waits behind more than
         * one CREATE DATABASE.
         */
        if (clones_due) {
                r = clones_upkeep_urgent(s->clones, conn, &e);
                if (r != 0)
                        goto done;
        }
        if (want >= 0) {
                pthread_mutex_lock(&s->lock);
                s->upkeep_spare_step = true;
                pthread_mutex_unlock(&s->lock);
                r = prepare_spare(s, conn, (size_t) want, fingerprint, &e);
                if (r == 0)
                        r = 1;
                goto done;
        }
        if (clones_due) {
                r = clones_upkeep_step(s->clones, conn, s->tmpl, fingerprint, &e);
                if (r != 0)
                        goto done;
        }
        if (trash) {
                r = drop_one_aside(s, conn, &e);
                if (r == 0) {
                        pthread_mutex_lock(&s->lock);
                        s->trash_pending = false;
                        pthread_mutex_unlock(&s->lock);
                }
        }

done:
        pthread_mutex_lock(&s->lock);
        PQfreeCancel(s->upkeep_cancel);
        s->upkeep_cancel = NULL;
        bool preempted = s->upkeep_preempted;
        pthread_mutex_unlock(&s->lock);
        if (preempted) {
                /*
                 * The cancel may land after the step finished, on whatever upkeep runs
                 * next (the next spare's copy, wasted): a new session next time cannot
                 * receive it.
                 */
                PQfinish(s->upkeep_conn);
                s->upkeep_conn = NULL;
        }
        if (r < 0 && preempted) {
                /* Cut short for a job (see seeder_preempt): redone right after it, no back-off. */
                log_debug("upkeep", "Step cancelled for a job: %s", e.message);
                return false;
        }
        if (r < 0) {
                PQfinish(s->upkeep_conn);
                s->upkeep_conn = NULL;
                pthread_mutex_lock(&s->lock);
                s->next_upkeep_mono = now_mono_ms() + UPKEEP_RETRY_MS;
                pthread_mutex_unlock(&s->lock);
                log_warning(
                        "upkeep",
                        "Failed to prepare copies or drop old ones (resets clone directly meanwhile): %s",
                        e.message);
                return false;
        }
        more = r > 0;
        return more;
}

/*
 * Cancels the running upkeep step when a job of this kind (a reset) should
 * not wait for it; the step is redone afterwards.  Any thread.
 */
static void seeder_preempt(Seeder *s, JobKind kind, ResetMode mode)
{
        char err[256];
        size_t ready = 0;

        if (kind != JOB_RESET)
                return; /* ensure repairs: let the step finish */
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_spares; i++)
                ready += s->spare_ready[i];
        /*
         * A template reset with a spare ready is a rename: it should not wait
         * for a clone pool refill or a drop.  A spare's own copy is cut short
         * only while another spare stays in reserve: cancelling every refill
         * during a burst of resets would drain the spares, and then each reset
         * clones directly, far slower than waiting for the copy.  Without a
         * spare the reset clones anyway, and the step may be that very copy:
         * let it finish.  Cancelling is
         * safe at any point of a step: CREATE and DROP DATABASE undo themselves
         * or leave an invalid or uncommented database that the step's next run
         * recognises and drops (db_is_ours), and upkeep has its own connection,
         * so a cancel that arrives late cannot hit the job.
         */
        bool cut = mode == RESET_INPLACE || (s->upkeep_spare_step ? ready >= 2 : ready >= 1);
        if (s->upkeep_cancel && cut) {
                s->upkeep_preempted = true;
                (void) PQcancel(s->upkeep_cancel, err, sizeof(err));
        }
        pthread_mutex_unlock(&s->lock);
}

void seeder_set_pgbouncer(Seeder *s, Pgbouncer *pb)
{
        s->pgbouncer = pb;
}

void seeder_set_clones(Seeder *s, Clones *clones)
{
        s->clones = clones;
}

void seeder_set_snapshots(Seeder *s, Snapshots *snapshots)
{
        s->snapshots = snapshots;
}

json_t *seeder_describe(Seeder *s)
{
        json_t *o;

        pthread_mutex_lock(&s->lock);
        if (!s->info) {
                pthread_mutex_unlock(&s->lock);
                return NULL;
        }
        o = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?}", "template", s->tmpl, "fingerprint",
                      s->fingerprint, "source", json_object_get(s->info, "source"), "created_at",
                      json_object_get(s->info, "created_at"), "build_ms",
                      json_object_get(s->info, "build_ms"), "phases_ms",
                      json_object_get(s->info, "phases_ms"), "tables", json_object_get(s->info, "tables"));
        pthread_mutex_unlock(&s->lock);
        size_t ready = spares_ready_count(s);
        json_object_set_new(o, "reset_prepared", json_boolean(ready > 0));
        json_object_set_new(o, "spares_ready", json_integer((json_int_t) ready));
        json_object_set_new(o, "spares", json_integer((json_int_t) s->n_spares));
        return o;
}

/* ---- reset -------------------------------------------------------------- */

static json_t *template_tables(Seeder *s)
{
        pthread_mutex_lock(&s->lock);
        json_t *t = s->info ? json_incref(json_object_get(s->info, "tables")) : NULL;
        pthread_mutex_unlock(&s->lock);
        return t ? t : json_array();
}

static int reset_template(Seeder *s, PGconn *conn, const char *fingerprint, json_t *result, Error *e)
{
        char slots[512];
        const char *fresh;
        bool prepared;
        int64_t t0;
        int r;

        r = find_slots(conn, s->working, slots, sizeof(slots), e);
        if (r < 0)
                return r;
        if (r > 0)
                return error_set(
                        e, EBUSY, "replication_slot_active",
                        "Use POST /reset?mode=inplace (pgseedctl reset --mode inplace): it keeps the "
                        "database, its publication and slots and restores the rows in one transaction.",
                        "Template reset would drop database %s and with it the logical replication "
                        "slot(s) %s that a CDC consumer relies on",
                        s->working, slots);
        r = take_fresh(s, conn, fingerprint, &prepared, &fresh, e);
        if (r < 0)
                return r;
        t0 = now_mono_ms();
        PgbouncerPause *pause = pgbouncer_pause(s->pgbouncer, s->working, PGBOUNCER_PAUSE_MS);
        r = swap_in(s, conn, fresh, fingerprint, NULL, e);
        int64_t held = pgbouncer_resume(pause);
        if (r < 0)
                return r;
        if (held >= 0)
                json_object_set_new(result, "pgbouncer_paused_ms", json_integer(held));
        json_object_set_new(result, "strategy", json_string(prepared ? "prepared_copy" : "clone"));
        json_object_set_new(result, "swap_ms", json_integer(now_mono_ms() - t0));
        json_object_set_new(result, "tables", template_tables(s));
        return 0;
}

int seeder_reset(Seeder *s, ResetMode mode, const char *tables, json_t **ret, Error *e)
{
        PGconn *conn;
        char fingerprint[24];
        int64_t t0 = now_mono_ms();
        json_t *result;
        int r;

        pthread_mutex_lock(&s->lock);
        strlcpy0(fingerprint, s->fingerprint, sizeof(fingerprint));
        pthread_mutex_unlock(&s->lock);
        if (!*fingerprint)
                return error_set(e, EAGAIN, "not_ready", "Wait until seeding finishes: `pgseedctl wait`.",
                                 "There is no template to reset from yet");
        conn = worker_conn(s, e);
        if (!conn)
                return -e->errnum;

        result = json_pack("{s:s}", "mode", mode == RESET_INPLACE ? "inplace" : "template");
        /*
         * A template reset cannot swap part of a database: with tables, both
         * modes copy those tables' rows from the template in one transaction.
         */
        if (mode == RESET_INPLACE || tables) {
                /* Held on the pooler: its clients wait for the reset's locks instead of racing them. */
                PgbouncerPause *pause = pgbouncer_pause(s->pgbouncer, s->working, PGBOUNCER_PAUSE_MS);
                r = reset_inplace(s->config, s->inplace, conn, s->tmpl, s->working, tables, result, e);
                int64_t held = pgbouncer_resume(pause);
                if (r == 0 && held >= 0)
                        json_object_set_new(result, "pgbouncer_paused_ms", json_integer(held));
        } else
                r = reset_template(s, conn, fingerprint, result, e);
        if (r < 0) {
                worker_conn_drop(s);
                json_decref(result);
                metrics_count(s->metrics, METRIC_RESETS_FAILED);
                /*
                 * Refusals (a slot, a lock, not ready, a role that may not) keep
                 * their status; anything else is the server's failure, whatever
                 * SQLSTATE it came with: a missing template is not a 404 of the
                 * caller's making.
                 */
                if (e->errnum != EBUSY && e->errnum != EAGAIN && e->errnum != ECONNREFUSED &&
                    e->errnum != ETIMEDOUT && e->errnum != EPERM && !reset_inplace_request_error(e)) {
                        e->errnum = EIO;
                        strlcpy0(e->code, "reset_failed", sizeof(e->code));
                        if (!*e->hint)
                                strlcpy0(e->hint,
                                         "pgseedd repairs the database on its own: retry when /health is "
                                         "200.",
                                         sizeof(e->hint));
                }
                return -e->errnum;
        }
        if (mode != RESET_INPLACE)
                json_object_set_new(result, "epoch", json_integer(s->epoch));
        int64_t ms = now_mono_ms() - t0;
        json_object_set_new(result, "duration_ms", json_integer(ms));
        metrics_count(s->metrics, mode == RESET_INPLACE ? METRIC_RESETS_INPLACE : METRIC_RESETS_TEMPLATE);
        metrics_reset_duration(s->metrics, ms);
        *ret = result;
        return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

/*
 * A template-style reset from snapshot name: a copy of it is made (it is not
 * prepared ahead: the spares are the seed template's) and swapped in as a
 * reset swaps in a spare.
 */
static int reset_from_snapshot(Seeder *s, PGconn *conn, const char *fingerprint, const char *name,
                               json_t *result, Error *e)
{
        _cleanup_free_ char *db = NULL, *fmt = NULL;
        _cleanup_free_ char *fresh =
                xasprintf("%sr%llx", s->trash_prefix, (unsigned long long) now_real_ms());
        char slots[512];
        int64_t t0 = now_mono_ms();
        json_t *meta;
        int r;

        r = snapshots_lookup(s->snapshots, name, &db, NULL, 0, e);
        if (r < 0)
                return r;
        r = find_slots(conn, s->working, slots, sizeof(slots), e);
        if (r < 0)
                return r;
        if (r > 0)
                return error_set(e, EBUSY, "replication_slot_active",
                                 "Drop the slot first: a reset from a snapshot replaces the database.",
                                 "Resetting from a snapshot would drop database %s and with it the logical "
                                 "replication slot(s) %s",
                                 s->working, slots);
        /* Under the set-aside prefix with our comment: if a crash leaves it, upkeep drops it. */
        fmt = xasprintf("CREATE DATABASE %%s TEMPLATE %%s%s ALLOW_CONNECTIONS = false", copy_strategy(conn));
        r = pg_exec_names(conn, e, fmt, fresh, db);
        if (r == 0) {
                meta = meta_for("snapshot-copy", fingerprint);
                r = pg_comment_database(conn, fresh, meta, e);
                json_decref(meta);
        }
        if (r == 0) {
                json_object_set_new(result, "copy_ms", json_integer(now_mono_ms() - t0));
                t0 = now_mono_ms();
                r = swap_in(s, conn, fresh, fingerprint, name, e);
        }
        if (r < 0) {
                Error ignore = ERROR_INIT;
                drop_database(conn, fresh, &ignore);
                return r;
        }
        json_t *desc = snapshots_describe(s->snapshots, name);
        json_t *tables = desc ? json_object_get(desc, "tables") : NULL;
        json_object_set_new(result, "tables", tables ? json_incref(tables) : json_array());
        json_decref(desc);
        json_object_set_new(result, "strategy", json_string("snapshot"));
        json_object_set_new(result, "snapshot", json_string(name));
        json_object_set_new(result, "swap_ms", json_integer(now_mono_ms() - t0));
        json_object_set_new(result, "epoch", json_integer(s->epoch));
        return 0;
}

/* The lifecycle worker's snapshot jobs (see JobArgs). */
static int seeder_snapshot(Seeder *s, JobKind kind, const JobArgs *a, json_t **ret, Error *e)
{
        char fingerprint[24];
        PGconn *conn;
        int64_t t0 = now_mono_ms();
        int r;

        pthread_mutex_lock(&s->lock);
        strlcpy0(fingerprint, s->fingerprint, sizeof(fingerprint));
        pthread_mutex_unlock(&s->lock);
        if (!s->snapshots)
                return error_set(e, EOPNOTSUPP, NULL, NULL, "Snapshots are not set up");
        if (!*fingerprint)
                return error_set(e, EAGAIN, "not_ready", "Wait until seeding finishes: `pgseedctl wait`.",
                                 "There is no seeded database yet");
        conn = worker_conn(s, e);
        if (!conn)
                return -e->errnum;
        if (kind == JOB_RESET) {
                json_t *result = json_pack("{s:s}", "mode", "template");
                r = reset_from_snapshot(s, conn, fingerprint, a->name, result, e);
                if (r < 0) {
                        json_decref(result);
                        metrics_count(s->metrics, METRIC_RESETS_FAILED);
                        if (e->errnum != EBUSY && e->errnum != ENOENT && e->errnum != EAGAIN) {
                                worker_conn_drop(s);
                                e->errnum = EIO;
                                strlcpy0(e->code, "reset_failed", sizeof(e->code));
                        }
                        return -e->errnum;
                }
                int64_t ms = now_mono_ms() - t0;
                json_object_set_new(result, "duration_ms", json_integer(ms));
                metrics_count(s->metrics, METRIC_RESETS_TEMPLATE);
                metrics_reset_duration(s->metrics, ms);
                *ret = result;
                return 0;
        }
        switch (a->op) {
        case SNAP_CREATE:
                r = snapshots_create(s->snapshots, conn, s->working, fingerprint, s->epoch, a->name, ret, e);
                break;
        case SNAP_IMPORT:
                r = snapshots_import(s->snapshots, conn, a->name, a->fd, ret, e);
                break;
        case SNAP_DROP:
                r = snapshots_drop(s->snapshots, conn, a->name, ret, e);
                break;
        case SNAP_CLONE: {
                _cleanup_free_ char *db = NULL;
                char snap_fp[24];

                r = snapshots_lookup(s->snapshots, a->name, &db, snap_fp, sizeof(snap_fp), e);
                if (r == 0 && !s->clones)
                        r = error_set(e, EOPNOTSUPP, NULL, NULL, "Clones are not set up");
                if (r == 0)
                        r = clones_make_from(s->clones, conn, db, a->name, snap_fp, a->ttl_s, ret, e);
                break;
        }
        case SNAP_EXPORT:
                r = snapshots_export(s->snapshots, conn, a->name, ret, e);
                break;
        case SNAP_RELEASE:
                r = snapshots_release(s->snapshots, conn, a->name, e);
                break;
        default:
                r = error_set(e, EINVAL, NULL, NULL, "Unknown snapshot operation");
        }
        if (r < 0 && e->errnum == EIO)
                worker_conn_drop(s);
        if (r == 0 && *ret && json_is_object(*ret))
                json_object_set_new(*ret, "duration_ms", json_integer(now_mono_ms() - t0));
        return r;
}

/* ---- the lifecycle worker's operations ------------------------------------- */

static int ops_ensure(void *ctx, Error *e)
{
        return seeder_ensure(ctx, e);
}

static int ops_reset(void *ctx, ResetMode mode, const char *tables, json_t **ret, Error *e)
{
        return seeder_reset(ctx, mode, tables, ret, e);
}

static bool ops_upkeep(void *ctx)
{
        return seeder_upkeep(ctx);
}

static void ops_cancel(void *ctx)
{
        seeder_cancel(ctx);
}

static void ops_preempt(void *ctx, JobKind kind, ResetMode mode)
{
        seeder_preempt(ctx, kind, mode);
}

static int ops_snapshot(void *ctx, JobKind kind, const JobArgs *args, json_t **ret, Error *e)
{
        return seeder_snapshot(ctx, kind, args, ret, e);
}

static const LifecycleOps seeder_lifecycle_ops = {
        .ensure = ops_ensure,
        .reset = ops_reset,
        .snapshot = ops_snapshot,
        .upkeep = ops_upkeep,
        .cancel = ops_cancel,
        .preempt = ops_preempt,
};

const LifecycleOps *lifecycle_seeder_ops(void)
{
        return &seeder_lifecycle_ops;
}
