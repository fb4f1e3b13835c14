/* SPDX-License-Identifier: MIT */
/* snapshots.c -- named snapshots: frozen copies of the working database, kept in database comments. */

#include "snapshots.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pg.h"
#include "util.h"

#define NAME_MAX_CHARS 40
#define DB_NAME_MAX    63 /* NAMEDATALEN - 1 */

extern char **environ;

typedef struct Snapshot {
        char name[NAME_MAX_CHARS + 1];
        json_t *meta; /* the comment's JSON */
        struct Snapshot *next;
} Snapshot;

struct Snapshots {
        const Config *config;
        char *prefix;       /* "app_snap_" */
        char *build_prefix; /* "app_snapbuild_" */
        char *work_prefix;  /* "app_snapwork_" */

        pthread_mutex_t lock; /* guards the list */
        Snapshot *list;       /* sorted by name */
        bool loaded;          /* snapshots_rebuild ran (the worker's alone) */
};

Snapshots *snapshots_new(const Config *c)
{
        Snapshots *sn = xcalloc(1, sizeof(Snapshots));

        sn->config = c;
        sn->prefix = xasprintf("%s_snap_", c->pg_db);
        sn->build_prefix = xasprintf("%s_snapbuild_", c->pg_db);
        sn->work_prefix = xasprintf("%s_snapwork_", c->pg_db);
        pthread_mutex_init(&sn->lock, NULL);
        return sn;
}

static void snapshot_free(Snapshot *s)
{
        if (!s)
                return;
        json_decref(s->meta);
        free(s);
}

void snapshots_free(Snapshots *sn)
{
        if (!sn)
                return;
        while (sn->list) {
                Snapshot *next = sn->list->next;
                snapshot_free(sn->list);
                sn->list = next;
        }
        free(sn->prefix);
        free(sn->build_prefix);
        free(sn->work_prefix);
        pthread_mutex_destroy(&sn->lock);
        free(sn);
}

int snapshot_name_check(const Snapshots *sn, const char *name, Error *e)
{
        size_t len = name ? strlen(name) : 0;
        /* The longest database name made from it is the build's. */
        size_t room = DB_NAME_MAX - strlen(sn->build_prefix);
        size_t max = room < NAME_MAX_CHARS ? room : NAME_MAX_CHARS;
        bool ok = len > 0 && len <= max;

        for (size_t i = 0; ok && i < len; i++) {
                char ch = name[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

                ok = alnum || (i > 0 && (ch == '_' || ch == '-'));
        }
        if (ok)
                return 0;
        return error_set(
                e, EINVAL, "invalid_snapshot_name",
                "Use 1 to 40 lowercase letters, digits, '_' and '-', starting with a letter or digit: "
                "?name=before-migration.",
                "'%.80s' is not a valid snapshot name (at most %zu characters of [a-z0-9_-])",
                name ? name : "", max);
}

static Snapshot **find_locked(Snapshots *sn, const char *name)
{
        for (Snapshot **p = &sn->list; *p; p = &(*p)->next)
                if (streq((*p)->name, name))
                        return p;
        return NULL;
}

static int unknown_error(const char *name, Error *e)
{
        return error_set(e, ENOENT, "unknown_snapshot",
                         "GET /snapshots lists them; make one with POST /snapshots?name=N.",
                         "No snapshot named '%s'", name);
}

int snapshots_lookup(Snapshots *sn, const char *name, char **ret_db, char *fingerprint, size_t size,
                     Error *e)
{
        Snapshot **p;

        pthread_mutex_lock(&sn->lock);
        p = find_locked(sn, name);
        if (p && fingerprint)
                strlcpy0(fingerprint, json_string_value(json_object_get((*p)->meta, "fingerprint")) ?: "",
                         size);
        pthread_mutex_unlock(&sn->lock);
        if (!p)
                return unknown_error(name, e);
        if (ret_db)
                *ret_db = xasprintf("%s%s", sn->prefix, name);
        return 0;
}

static json_t *describe(const Snapshots *sn, const Snapshot *s)
{
        _cleanup_free_ char *db = xasprintf("%s%s", sn->prefix, s->name);
        json_t *o = json_pack("{s:s, s:s}", "name", s->name, "database", db);

        static const char *const keys[] = {"created_at",   "size_bytes",  "source",
                                           "source_epoch", "fingerprint", "seed_fingerprint",
                                           "tables",       "build_ms",    NULL};
        for (const char *const *k = keys; *k; k++) {
                json_t *v = json_object_get(s->meta, *k);
                if (v)
                        json_object_set(o, *k, v);
        }
        return o;
}

json_t *snapshots_describe(Snapshots *sn, const char *name)
{
        Snapshot **p;
        json_t *o = NULL;

        pthread_mutex_lock(&sn->lock);
        p = find_locked(sn, name);
        if (p)
                o = describe(sn, *p);
        pthread_mutex_unlock(&sn->lock);
        return o;
}

json_t *snapshots_list(Snapshots *sn)
{
        json_t *arr = json_array();

        pthread_mutex_lock(&sn->lock);
        for (Snapshot *s = sn->list; s; s = s->next)
                json_array_append_new(arr, describe(sn, s));
        pthread_mutex_unlock(&sn->lock);
        return json_pack("{s:o}", "snapshots", arr);
}

int64_t snapshots_count(Snapshots *sn)
{
        int64_t n = 0;

        pthread_mutex_lock(&sn->lock);
        for (Snapshot *s = sn->list; s; s = s->next)
                n++;
        pthread_mutex_unlock(&sn->lock);
        return n;
}

static void add_locked(Snapshots *sn, const char *name, json_t *meta)
{
        Snapshot *s = xcalloc(1, sizeof(Snapshot)), **p = &sn->list;

        strlcpy0(s->name, name, sizeof(s->name));
        s->meta = json_incref(meta);
        while (*p && strcmp((*p)->name, name) < 0)
                p = &(*p)->next;
        s->next = *p;
        *p = s;
}

/* ---- SQL helpers ---------------------------------------------------------------- */

/* 1 when a database of that name exists, 0 when not, -errno. */
static int db_exists(PGconn *conn, const char *db, Error *e)
{
        const char *params[] = {db};
        _cleanup_free_ char *v =
                pg_query_value(conn, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, params, e);

        if (!v)
                return -e->errnum;
        return streq(v, "0") ? 0 : 1;
}

/*
 * Clears the way for a build under db's name: drops a leftover of ours (our
 * comment, or refusing connections as a copy does before it is commented),
 * refuses (-EBUSY) to touch a database of someone else's.
 */
static int clear_build(PGconn *conn, const char *db, Error *e)
{
        const char *params[] = {db};
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(conn,
                         "SELECT datallowconn, coalesce(shobj_description(oid, 'pg_database'), '')"
                         " FROM pg_database WHERE datname = $1",
                         1, params, &res, e);

        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return 0;
        if (streq(PQgetvalue(res, 0, 0), "t") && !startswith(PQgetvalue(res, 0, 1), PG_COMMENT_PREFIX))
                return error_set(e, EBUSY, "snapshot_exists",
                                 "Rename or drop that database, or choose another snapshot name.",
                                 "A database named %s exists and is not pgseed's", db);
        return pg_drop_database(conn, db, e);
}

static const char *file_copy(PGconn *conn)
{
        return PQserverVersion(conn) >= 150000 ? " STRATEGY = FILE_COPY" : "";
}

static json_t *meta_for(const char *role, const char *name)
{
        char ts[40];

        format_rfc3339_ms(now_real_ms(), ts, sizeof(ts));
        return json_pack("{s:i, s:s, s:s, s:s}", "pgseed", 1, "role", role, "name", name, "created_at", ts);
}

/* Failures of the server while making a snapshot: 500 snapshot_failed, the databases are checked. */
static int as_failure(Error *e, const char *what)
{
        if (e->errnum == EBUSY || e->errnum == ENOENT || e->errnum == EINVAL || e->errnum == ENOSPC ||
            e->errnum == ECANCELED)
                return -e->errnum;
        error_prefix(e, "%s: ", what);
        e->errnum = EIO;
        strlcpy0(e->code, "snapshot_failed", sizeof(e->code));
        return -EIO;
}

/* ---- start-up ------------------------------------------------------------------- */

int snapshots_rebuild(Snapshots *sn, PGconn *conn, Error *e)
{
        const char *params[] = {sn->prefix, sn->build_prefix, sn->work_prefix};
        _cleanup_pgresult_ PGresult *res = NULL;
        size_t loaded = 0, dropped = 0;
        int r;

        if (sn->loaded)
                return 0;
        r = pg_query(
                conn,
                "SELECT datname, datallowconn, datconnlimit = -2,"
                "       coalesce(shobj_description(oid, 'pg_database'), '')"
                " FROM pg_database"
                " WHERE starts_with(datname, $1) OR starts_with(datname, $2) OR starts_with(datname, $3)"
                " ORDER BY 1",
                3, params, &res, e);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0);
                bool allowconn = streq(PQgetvalue(res, i, 1), "t"),
                     invalid = streq(PQgetvalue(res, i, 2), "t");
                const char *comment = startswith(PQgetvalue(res, i, 3), PG_COMMENT_PREFIX);
                json_auto_t *meta = comment ? json_loads(comment, 0, NULL) : NULL;
                const char *role = json_string_value(json_object_get(meta, "role"));
                bool ours = meta || !allowconn || invalid;
                const char *snap = startswith(name, sn->prefix);

                if (snap && meta && !invalid && streq_ptr(role, "snapshot") &&
                    snapshot_name_check(sn, snap, &(Error) ERROR_INIT) == 0) {
                        pthread_mutex_lock(&sn->lock);
                        if (!find_locked(sn, snap))
                                add_locked(sn, snap, meta);
                        pthread_mutex_unlock(&sn->lock);
                        loaded++;
                        continue;
                }
                /* A snapshot's own name is dropped only when an interrupted DROP DATABASE left it invalid.
                 */
                if (!ours || (snap && !(invalid && meta))) {
                        log_warning("snapshots", "Leaving %s alone: it does not carry pgseed's comment",
                                    name);
                        continue;
                }
                log_info("snapshots", "Dropping %s, left by an interrupted snapshot operation", name);
                r = pg_drop_database(conn, name, e);
                if (r < 0)
                        return r;
                dropped++;
        }
        sn->loaded = true;
        if (loaded || dropped)
                log_info("snapshots", "Snapshots: %zu kept, %zu leftover database(s) dropped", loaded,
                         dropped);
        return 0;
}

/* ---- making one ------------------------------------------------------------------ */

static int name_free(Snapshots *sn, PGconn *conn, const char *name, const char *db, Error *e)
{
        int r = snapshot_name_check(sn, name, e);

        if (r < 0)
                return r;
        pthread_mutex_lock(&sn->lock);
        bool known = find_locked(sn, name) != NULL;
        pthread_mutex_unlock(&sn->lock);
        if (!known) {
                r = db_exists(conn, db, e);
                if (r < 0)
                        return r;
                known = r > 0;
        }
        if (known)
                return error_set(e, EBUSY, "snapshot_exists",
                                 "Choose another name, or DELETE /snapshots/NAME first.",
                                 "A snapshot named '%s' exists already", name);
        return 0;
}

/*
 * The last steps, on a complete copy under the build name: the row counts and
 * the size in the comment, connections refused, then the real name.
 */
static int finish(Snapshots *sn, PGconn *conn, const char *build, const char *name, json_t *meta, int64_t t0,
                  json_t **ret, Error *e)
{
        _cleanup_free_ char *db = xasprintf("%s%s", sn->prefix, name), *size = NULL;
        const char *params[] = {build};
        json_t *tables = NULL;
        char fp[24];
        int r;

        /* Counted from a connection of our own, the only one during this moment. */
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", build, NULL);
        if (r < 0)
                return r;
        {
                _cleanup_pgconn_ PGconn *b = pg_connect(sn->config, build, "pgseedd-snapshot", 10, 0, e);
                if (!b)
                        return -e->errnum;
                r = pg_count_rows(b, &tables, e);
                if (r < 0)
                        return r;
        }
        json_object_set_new(meta, "tables", tables);
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", build, NULL);
        if (r == 0)
                r = pg_terminate_sessions(conn, build, e);
        if (r < 0)
                return r;
        size = pg_query_value(conn, "SELECT pg_database_size($1)", 1, params, e);
        if (!size)
                return -e->errnum;
        json_object_set_new(meta, "size_bytes", json_integer(strtoll(size, NULL, 10)));
        json_object_set_new(meta, "created_ms", json_integer(now_real_ms()));
        /* What identifies this snapshot's state: its origin and the moment it was taken. */
        _cleanup_free_ char *basis = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long) hash64(basis, strlen(basis), 0x5eed5a95));
        json_object_set_new(meta, "fingerprint", json_string(fp));
        json_object_set_new(meta, "role", json_string("snapshot"));
        json_object_set_new(meta, "build_ms", json_integer(now_mono_ms() - t0));
        r = pg_comment_database(conn, build, meta, e);
        if (r == 0)
                /* Only a complete snapshot gets the real name. */
                r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", build, db);
        if (r < 0)
                return r;
        pthread_mutex_lock(&sn->lock);
        add_locked(sn, name, meta);
        *ret = describe(sn, *find_locked(sn, name));
        pthread_mutex_unlock(&sn->lock);
        return 0;
}

int snapshots_create(Snapshots *sn, PGconn *conn, const char *working, const char *seed_fingerprint,
                     int64_t epoch, const char *name, json_t **ret, Error *e)
{
        _cleanup_free_ char *db = xasprintf("%s%s", sn->prefix, name);
        _cleanup_free_ char *build = xasprintf("%s%s", sn->build_prefix, name);
        _cleanup_free_ char *fmt = NULL;
        json_auto_t *meta = NULL;
        Error ignore = ERROR_INIT;
        int64_t t0 = now_mono_ms(), closed_ms;
        int r;

        r = name_free(sn, conn, name, db, e);
        if (r < 0)
                return r;
        r = clear_build(conn, build, e); /* a failed attempt's */
        if (r < 0)
                return as_failure(e, "Dropping an old build");
        /*
         * CREATE DATABASE ... TEMPLATE needs a database nobody is connected to:
         * like a reset, the working database refuses connections for the
         * copy (a file copy: milliseconds per MB), and opens again whatever
         * happens.  A crash in between leaves it refusing connections, which
         * the next ensure repairs.
         */
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", working, NULL);
        if (r == 0)
                r = pg_terminate_sessions(conn, working, e);
        closed_ms = now_mono_ms();
        if (r == 0) {
                fmt = xasprintf("CREATE DATABASE %%s TEMPLATE %%s%s ALLOW_CONNECTIONS = false",
                                file_copy(conn));
                r = pg_exec_names(conn, e, fmt, build, working);
        }
        closed_ms = now_mono_ms() - closed_ms;
        if (pg_exec_names(conn, &ignore, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", working, NULL) <
                    0 &&
            r == 0)
                r = error_set(e, EIO, NULL, NULL, "Opening %s again: %s", working, ignore.message);
        if (r < 0)
                goto fail;
        meta = meta_for("snapshot-build", name);
        r = pg_comment_database(conn, build, meta, e);
        if (r < 0)
                goto fail;
        json_object_set_new(meta, "source", json_string("working"));
        json_object_set_new(meta, "source_epoch", json_integer(epoch));
        json_object_set_new(meta, "seed_fingerprint", json_string(seed_fingerprint));
        r = finish(sn, conn, build, name, meta, t0, ret, e);
        if (r < 0)
                goto fail;
        json_object_set_new(*ret, "paused_ms", json_integer(closed_ms));
        log_info("snapshots", "Snapshot %s taken of %s in %lld ms (connections refused for %lld ms)", name,
                 working, (long long) (now_mono_ms() - t0), (long long) closed_ms);
        return 0;

fail:
        pg_drop_database(conn, build, &ignore);
        return as_failure(e, "Taking the snapshot");
}

/* Runs argv with stdin from in_fd; its stderr's first line lands in err.  0 when it exited 0. */
static int run_child(char **argv, char **envp, int in_fd, char *err, size_t errlen)
{
        int errpipe = memfd_create("pgseed-child-stderr", MFD_CLOEXEC);
        int status = 0;
        pid_t pid;

        *err = '\0';
        if (errpipe < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(errpipe);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(in_fd, 0);
                dup2(null, 1);
                dup2(errpipe, 2);
                execve(argv[0], argv, envp);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        snapshots_dump_error(errpipe, err, errlen);
        close(errpipe);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (!*err)
                snprintf(err, errlen, "%s exited with status %d", argv[0],
                         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -EINVAL;
}

/* The path of a Postgres client program: next to the server's binaries, else on $PATH.  NULL if none. */
static char *find_program(const Config *c, const char *prog)
{
        const char *path = getenv("PATH");

        if (!isempty(c->pg_bindir)) {
                char *p = xasprintf("%s/%s", c->pg_bindir, prog);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        if (!path)
                path = "/usr/bin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);
        for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/%s", dir, prog);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* pgseedd's environment plus PGPASSWORD, for pg_dump and pg_restore (a new strv). */
static char **child_env(const Config *c)
{
        size_t n = 0, k = 0;

        while (environ[n])
                n++;
        char **v = xcalloc(n + 2, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                if (!startswith(environ[i], "PGPASSWORD=") && !startswith(environ[i], "PGSEED_PG_PASSWORD="))
                        v[k++] = xstrdup(environ[i]);
        v[k] = xasprintf("PGPASSWORD=%s", c->pg_password ? c->pg_password : "");
        return v;
}

static char *conninfo(const Config *c, const char *db)
{
        return xasprintf("host=127.0.0.1 port=%d user=%s dbname=%s", c->pg_port, c->pg_user, db);
}

int snapshots_import(Snapshots *sn, PGconn *conn, const char *name, int fd, json_t **ret, Error *e)
{
        _cleanup_free_ char *db = xasprintf("%s%s", sn->prefix, name);
        _cleanup_free_ char *build = xasprintf("%s%s", sn->build_prefix, name);
        _cleanup_free_ char *prog = find_program(sn->config, "pg_restore");
        _cleanup_free_ char *target = NULL;
        _cleanup_(strv_freep) char **envp = NULL;
        json_auto_t *meta = NULL;
        Error ignore = ERROR_INIT;
        int64_t t0 = now_mono_ms();
        char err[512];
        int r;

        if (!prog)
                return error_set(e, EOPNOTSUPP, "pg_restore_missing",
                                 "Install the PostgreSQL client programs (Debian: postgresql-client) or set "
                                 "[postgres] bindir.",
                                 "pg_restore was not found next to the server or on $PATH");
        r = name_free(sn, conn, name, db, e);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return error_set(e, errno, NULL, NULL, "Rewinding the uploaded archive: %s",
                                 strerror(errno));
        r = clear_build(conn, build, e);
        /* The seed template's settings: byte-order collation (see seed.c). */
        if (r == 0)
                r = pg_exec_names(conn, e, "CREATE DATABASE %s TEMPLATE template0 LC_COLLATE 'C'", build,
                                  NULL);
        if (r < 0)
                return as_failure(e, "Creating the database to restore into");
        meta = meta_for("snapshot-build", name);
        r = pg_comment_database(conn, build, meta, e);
        if (r < 0)
                goto fail;
        target = conninfo(sn->config, build);
        envp = child_env(sn->config);
        char *argv[] = {prog, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                        "-d", target,       NULL};
        r = run_child(argv, envp, fd, err, sizeof(err));
        if (r < 0) {
                r = error_set(
                        e, EINVAL, "invalid_archive",
                        "Send a custom-format archive (GET /snapshots/NAME/dump, pg_dump -Fc) as the body, "
                        "Content-Type: application/octet-stream.",
                        "pg_restore refused the archive: %s", err);
                goto fail;
        }
        json_object_set_new(meta, "source", json_string("archive"));
        r = finish(sn, conn, build, name, meta, t0, ret, e);
        if (r < 0)
                goto fail;
        log_info("snapshots", "Snapshot %s restored from an archive in %lld ms", name,
                 (long long) (now_mono_ms() - t0));
        return 0;

fail:
        pg_drop_database(conn, build, &ignore);
        return as_failure(e, "Restoring the archive");
}

int snapshots_drop(Snapshots *sn, PGconn *conn, const char *name, json_t **ret, Error *e)
{
        _cleanup_free_ char *db = NULL;
        Snapshot **p;
        int r = snapshots_lookup(sn, name, &db, NULL, 0, e);

        if (r < 0)
                return r;
        r = pg_drop_database(conn, db, e);
        if (r < 0)
                return as_failure(e, "Dropping the snapshot");
        pthread_mutex_lock(&sn->lock);
        p = find_locked(sn, name);
        if (p) {
                Snapshot *s = *p;
                *p = s->next;
                snapshot_free(s);
        }
        pthread_mutex_unlock(&sn->lock);
        log_info("snapshots", "Snapshot %s dropped", name);
        *ret = json_pack("{s:s, s:s}", "name", name, "status", "dropped");
        return 0;
}

int snapshots_export(Snapshots *sn, PGconn *conn, const char *name, json_t **ret, Error *e)
{
        _cleanup_free_ char *db = NULL, *scratch = NULL, *fmt = NULL;
        json_auto_t *meta = NULL;
        uint64_t v = 0;
        int r = snapshots_lookup(sn, name, &db, NULL, 0, e);

        if (r < 0)
                return r;
        if (getrandom(&v, sizeof(v), 0) != (ssize_t) sizeof(v))
                v = (uint64_t) now_mono_us();
        scratch = xasprintf("%s%016llx", sn->work_prefix, (unsigned long long) v);
        fmt = xasprintf("CREATE DATABASE %%s TEMPLATE %%s%s", file_copy(conn));
        r = pg_exec_names(conn, e, fmt, scratch, db);
        if (r == 0) {
                meta = meta_for("snapshot-work", name);
                r = pg_comment_database(conn, scratch, meta, e);
        }
        if (r < 0) {
                Error ignore = ERROR_INIT;
                pg_drop_database(conn, scratch, &ignore);
                return as_failure(e, "Copying the snapshot for pg_dump");
        }
        *ret = json_pack("{s:s}", "database", scratch);
        return 0;
}

int snapshots_release(Snapshots *sn, PGconn *conn, const char *db, Error *e)
{
        if (!startswith(db, sn->work_prefix))
                return error_set(e, EINVAL, NULL, NULL, "%s is not a scratch copy", db);
        return pg_drop_database(conn, db, e);
}

/* ---- pg_dump -------------------------------------------------------------------- */

pid_t snapshots_dump_start(const Config *c, const char *db, int *ret_fd, int *ret_err_fd, Error *e)
{
        _cleanup_free_ char *prog = find_program(c, "pg_dump"), *target = NULL;
        _cleanup_(strv_freep) char **envp = NULL;
        int out[2], errfd;
        pid_t pid;

        if (!prog)
                return error_set(e, EOPNOTSUPP, "pg_dump_missing",
                                 "Install the PostgreSQL client programs (Debian: postgresql-client) or set "
                                 "[postgres] bindir.",
                                 "pg_dump was not found next to the server or on $PATH");
        target = conninfo(c, db);
        envp = child_env(c);
        char *argv[] = {prog, "--format=custom", "--no-password", "-d", target, NULL};
        errfd = memfd_create("pg_dump-stderr", MFD_CLOEXEC);
        if (errfd < 0)
                return error_set(e, errno, NULL, NULL, "memfd_create: %s", strerror(errno));
        if (pipe2(out, O_CLOEXEC) < 0) {
                close(errfd);
                return error_set(e, errno, NULL, NULL, "pipe: %s", strerror(errno));
        }
        pid = fork();
        if (pid < 0) {
                int r = errno;
                close(out[0]);
                close(out[1]);
                close(errfd);
                return error_set(e, r, NULL, NULL, "fork: %s", strerror(r));
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                dup2(null, 0);
                dup2(out[1], 1);
                dup2(errfd, 2);
                execve(argv[0], argv, envp);
                _exit(127);
        }
        close(out[1]);
        /*
         * The HTTP server reads a stream whenever the socket takes more, and
         * looks again only some 150 ms after a read found nothing: with the
         * default 64 KiB pipe that caps a dump near 0.4 MB/s.  A bigger pipe
         * holds more per look: 16 MiB where allowed (about 100 MB/s), else
         * down to fs.pipe-max-size (1 MiB by default: about 7 MB/s).
         */
        for (int size = 16 << 20; size >= 1 << 20; size >>= 1)
                if (fcntl(out[0], F_SETPIPE_SZ, size) >= 0)
                        break; /* beyond fs.pipe-max-size only with CAP_SYS_RESOURCE */
        fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
        *ret_fd = out[0];
        *ret_err_fd = errfd;
        return pid;
}

void snapshots_dump_error(int err_fd, char *buf, size_t size)
{
        ssize_t n = pread(err_fd, buf, size - 1, 0);

        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}
