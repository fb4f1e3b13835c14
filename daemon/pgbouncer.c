/* SPDX-License-Identifier: MIT */
/* pgbouncer.c -- a supervised PgBouncer (a child, or the runtime's container): configuration, restarts,
 * SHOW POOLS, PAUSE/RESUME. */

#include "pgbouncer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "roles.h"
#include "runtime-common.h"
#include "runtime.h"
#include "tls.h"

#define TICK_MS         200
#define POLL_MS         1000
#define BACKOFF_MIN_MS  250
#define BACKOFF_MAX_MS  10000
#define STABLE_MS       30000 /* up this long resets the backoff */
#define STOP_TIMEOUT_MS 5000
#define MIN(a, b)       ((a) < (b) ? (a) : (b))

struct Pgbouncer {
        const Config *config;
        Runtime *rt; /* runs PgBouncer when runtime_runs_pooler(), else it is our child */
        char *dir, *ini, *userlist, *logpath;
        char **envp;
        uid_t uid;
        gid_t gid;
        bool drop_privileges;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t cond;  /* CLOCK_MONOTONIC */
        bool stop_requested;
        pid_t pid;
        char container[80]; /* the runtime's pooler (its short ID) while started; "" otherwise */
        int64_t started_mono;
        unsigned restarts;
        char reason[512]; /* why it is not up */
        bool up;          /* the admin console answered the last poll */
        json_t *pools, *stats;
        int64_t checked_ms; /* realtime of the last answered poll */

        /* The thread's alone. */
        PGconn *admin;
        int64_t backoff_ms, next_start_mono, last_poll_mono, last_status_mono;
};

/* PgBouncer was started (a child pid, or the runtime's container) and was not seen to exit.  Lock held. */
static bool started_locked(const Pgbouncer *pb)
{
        return pb->pid > 0 || *pb->container;
}

/* "pid 1234" or "container 0123456789ab", for messages.  Lock held. */
static const char *what_locked(const Pgbouncer *pb, char *buf, size_t size)
{
        if (*pb->container)
                snprintf(buf, size, "container %s", pb->container);
        else
                snprintf(buf, size, "pid %d", (int) pb->pid);
        return buf;
}

struct PgbouncerPause {
        PGconn *conn;
        char db[80];
        int64_t since_mono;
};

/* ---- files ----------------------------------------------------------------- */

/* userlist.txt quotes names and passwords in double quotes, a quote doubled. */
static void userlist_quoted(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', f);
                fputc(*s, f);
        }
        fputc('"', f);
}

static int write_private(Pgbouncer *pb, const char *path, const char *text, Error *e)
{
        int r = write_file_atomic(path, text, strlen(text), 0600);

        if (r < 0)
                return error_set(e, -r, NULL, NULL, "Cannot write %s: %s", path, strerror(-r));
        if (pb->drop_privileges && chown(path, pb->uid, pb->gid) < 0)
                return error_set(e, errno, NULL, NULL, "Cannot hand %s to the postgres user: %m", path);
        return 0;
}

static int write_files(Pgbouncer *pb, Error *e)
{
        const Config *c = pb->config;
        _cleanup_free_ char *users = NULL, *ini = NULL;
        RoleSpec roles[ROLES_MAX];
        size_t n = roles_list(c, roles), len = 0;
        bool tls = config_tls_enabled(c);
        FILE *f;
        int r;

        r = mkdir_p(pb->dir, 0700);
        if (r < 0)
                return error_set(e, -r, "state_dir", NULL, "Cannot create %s: %s", pb->dir, strerror(-r));
        if (chmod(pb->dir, 0700) < 0 || (pb->drop_privileges && chown(pb->dir, pb->uid, pb->gid) < 0))
                return error_set(e, errno, "state_dir", NULL, "Cannot set up %s: %m", pb->dir);

        /* Plain passwords: PgBouncer needs them to log in to Postgres for its clients. */
        f = open_memstream(&users, &len);
        if (!f)
                abort();
        for (size_t i = 0; i < n; i++) {
                userlist_quoted(f, roles[i].name);
                fputc(' ', f);
                userlist_quoted(f, roles[i].password);
                fputc('\n', f);
        }
        fclose(f);
        r = write_private(pb, pb->userlist, users, e);
        explicit_bzero(users, len);
        if (r < 0)
                return r;

        f = open_memstream(&ini, &len);
        if (!f)
                abort();
        fprintf(f,
                "; Written by pgseedd at every start of PgBouncer: edit [pgbouncer] in pgseedd.conf "
                "instead.\n"
                "[databases]\n"
                "* = host=127.0.0.1 port=%d\n"
                "\n[pgbouncer]\n"
                "listen_addr = 127.0.0.1\n"
                "listen_port = %d\n"
                "unix_socket_dir =\n"
                "auth_type = scram-sha-256\n"
                "auth_file = %s\n"
                "admin_users = %s\n"
                "stats_users = %s\n"
                "pool_mode = %s\n"
                "default_pool_size = %lld\n"
                "max_client_conn = %lld\n"
                /* After a Postgres restart, retry the login in a second rather than the default 15. */
                "server_login_retry = 1\n"
                "ignore_startup_parameters = extra_float_digits\n"
                /* SHOW STATS totals are refreshed every stats_period (60 s by default): /health polls each second. */
                "stats_period = 1\n"
                "log_connections = 0\n"
                "log_disconnections = 0\n",
                c->pg_port, c->pgbouncer_port, pb->userlist, c->pg_user, c->pg_user, c->pgbouncer_pool_mode,
                (long long) c->pgbouncer_pool_size, (long long) c->pgbouncer_max_client_conn);
        if (tls) {
                _cleanup_free_ char *cert = tls_cert_path(c), *key = tls_key_path(c);
                fprintf(f,
                        "server_tls_sslmode = require\n"
                        "client_tls_sslmode = %s\n"
                        "client_tls_cert_file = %s\n"
                        "client_tls_key_file = %s\n",
                        streq(c->pg_tls, "require") ? "require" : "allow", cert, key);
        }
        fclose(f);
        return write_private(pb, pb->ini, ini, e);
}

/* ---- the process ----------------------------------------------------------- */

/*
 * Has the runtime start PgBouncer (a container); lock held, released
 * around the runtime's calls, which may take a second or two (only this
 * thread starts and reaps, so nothing else changes the state meanwhile).
 */
static int spawn_in_runtime_locked(Pgbouncer *pb, Error *e)
{
        const Config *c = pb->config;
        _cleanup_free_ char *cert = tls_cert_path(c), *key = tls_key_path(c);
        const char *mounts[] = {pb->dir, config_tls_enabled(c) ? cert : NULL, key, NULL};
        PoolerSpec spec = {.config_file = pb->ini, .mounts = mounts, .uid = pb->uid, .gid = pb->gid};
        char id[sizeof(pb->container)];
        int r;

        pthread_mutex_unlock(&pb->lock);
        r = runtime_pooler_start(pb->rt, &spec, id, sizeof(id), e);
        pthread_mutex_lock(&pb->lock);
        if (r < 0)
                return r;
        strlcpy0(pb->container, id, sizeof(pb->container));
        pb->started_mono = now_mono_ms();
        pb->last_status_mono = pb->started_mono;
        log_info("pgbouncer_start", "Started pgbouncer in container %s on 127.0.0.1:%d (%s pooling)", id,
                 c->pgbouncer_port, c->pgbouncer_pool_mode);
        return 0;
}

/* Lock held. */
static int spawn_locked(Pgbouncer *pb, Error *e)
{
        const Config *c = pb->config;
        char *argv[] = {c->pgbouncer_bin, pb->ini, NULL};
        _cleanup_close_ int out = -1;
        pid_t pid;
        int r;

        r = port_check_free(c->pgbouncer_port, "PgBouncer", "PGSEED_PGBOUNCER_PORT", e);
        if (r < 0)
                return r;
        r = write_files(pb, e);
        if (r < 0)
                return r;
        if (runtime_runs_pooler(pb->rt))
                return spawn_in_runtime_locked(pb, e);
        out = open(pb->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (out < 0)
                return error_set(e, errno, NULL, NULL, "Cannot open %s: %m", pb->logpath);
        pid = fork();
        if (pid < 0)
                return error_set(e, errno, NULL, NULL, "fork: %m");
        if (pid == 0) {
                /* PgBouncer refuses to run as root. */
                child_setup(out, pb->drop_privileges, pb->uid, pb->gid);
                /* Gone with pgseedd even after a kill -9 (set after the uid change, which clears it). */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() == 1)
                        _exit(0);
                execve(argv[0], argv, pb->envp);
                dprintf(STDERR_FILENO, "pgseedd: cannot execute %s: %m\n", argv[0]);
                _exit(127);
        }
        pb->pid = pid;
        pb->started_mono = now_mono_ms();
        log_info("pgbouncer_start", "Started pgbouncer pid %d on 127.0.0.1:%d (%s pooling)", (int) pid,
                 c->pgbouncer_port, c->pgbouncer_pool_mode);
        return 0;
}

/* The last line of PgBouncer's log, for the reason it died. */
static void last_log_line(const char *path, char *buf, size_t size)
{
        _cleanup_free_ char *text = NULL;
        size_t len;

        *buf = '\0';
        if (read_full_file(path, &text, &len) < 0)
                return;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        char *nl = strrchr(text, '\n');
        strlcpy0(buf, nl ? nl + 1 : text, size);
}

/*
 * Asks the runtime whether its PgBouncer still runs, once a second; lock
 * held, released around the call.  Returns true when it stopped.  An engine
 * that does not answer is not a dead PgBouncer: the console poll says
 * whether it serves.
 */
static bool reap_in_runtime_locked(Pgbouncer *pb)
{
        RuntimeStatus st;
        char what[100];
        int64_t now = now_mono_ms();
        int r;

        if (now - pb->last_status_mono < POLL_MS)
                return false;
        pb->last_status_mono = now;
        pthread_mutex_unlock(&pb->lock);
        r = runtime_pooler_status(pb->rt, &st);
        pthread_mutex_lock(&pb->lock);
        if (r < 0 || st.running || !*pb->container)
                return false;
        snprintf(pb->reason, sizeof(pb->reason), "pgbouncer (%s) stopped: %s",
                 what_locked(pb, what, sizeof(what)), st.detail);
        pb->container[0] = '\0';
        pb->up = false;
        return true;
}

/* Reaps PgBouncer if it exited; lock held.  Returns true when it did. */
static bool reap_locked(Pgbouncer *pb)
{
        char how[128], last[256];
        int status;
        pid_t r;

        if (*pb->container)
                return reap_in_runtime_locked(pb);
        if (pb->pid <= 0)
                return false;
        r = waitpid(pb->pid, &status, WNOHANG);
        if (r != pb->pid && !(r < 0 && errno == ECHILD))
                return false;
        if (r == pb->pid && WIFSIGNALED(status))
                snprintf(how, sizeof(how), "killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else if (r == pb->pid && WIFEXITED(status))
                snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
        else
                snprintf(how, sizeof(how), "exited");
        last_log_line(pb->logpath, last, sizeof(last));
        snprintf(pb->reason, sizeof(pb->reason), "pgbouncer (pid %d) %s%s%s", (int) pb->pid, how,
                 *last ? "; last log line: " : "", last);
        pb->pid = 0;
        pb->up = false;
        return true;
}

/* ---- the admin console ------------------------------------------------------- */

static PGconn *admin_connect(const Config *c, int timeout_s)
{
        char port[16], timeout[16];
        const char *keys[] = {"host",    "port", "user", "password", "dbname", "connect_timeout",
                              "sslmode", NULL};
        const char *values[ELEMENTSOF(keys)];
        PGconn *conn;

        snprintf(port, sizeof(port), "%d", c->pgbouncer_port);
        snprintf(timeout, sizeof(timeout), "%d", timeout_s);
        values[0] = "127.0.0.1";
        values[1] = port;
        values[2] = c->pg_user;
        values[3] = c->pg_password;
        values[4] = "pgbouncer";
        values[5] = timeout;
        values[6] = config_tls_enabled(c) ? "prefer" : "disable";
        values[7] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (conn && PQstatus(conn) != CONNECTION_OK) {
                PQfinish(conn);
                return NULL;
        }
        return conn;
}

/* A SHOW command's rows as objects, numbers as numbers; NULL when it failed. */
static json_t *admin_show(PGconn *conn, const char *cmd)
{
        _cleanup_pgresult_ PGresult *res = PQexec(conn, cmd);
        json_t *a;

        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                return NULL;
        a = json_array();
        for (int i = 0; i < PQntuples(res); i++) {
                json_t *o = json_object();
                for (int j = 0; j < PQnfields(res); j++) {
                        const char *v = PQgetvalue(res, i, j);
                        int64_t n;
                        if (PQgetisnull(res, i, j))
                                json_object_set_new(o, PQfname(res, j), json_null());
                        else if (parse_int64(v, INT64_MIN, INT64_MAX, &n) == 0)
                                json_object_set_new(o, PQfname(res, j), json_integer(n));
                        else
                                json_object_set_new(o, PQfname(res, j), json_string(v));
                }
                json_array_append_new(a, o);
        }
        return a;
}

/* One look at the console; thread only (it takes the lock to publish). */
static void poll_console(Pgbouncer *pb)
{
        json_t *pools = NULL, *stats = NULL;

        if (pb->admin && PQstatus(pb->admin) != CONNECTION_OK) {
                PQfinish(pb->admin);
                pb->admin = NULL;
        }
        if (!pb->admin)
                pb->admin = admin_connect(pb->config, 2);
        if (pb->admin) {
                pools = admin_show(pb->admin, "SHOW POOLS");
                stats = pools ? admin_show(pb->admin, "SHOW STATS") : NULL;
        }
        if (!stats) {
                json_decref(pools);
                pools = NULL;
                PQfinish(pb->admin);
                pb->admin = NULL;
        }
        pthread_mutex_lock(&pb->lock);
        if (stats) {
                json_decref(pb->pools);
                json_decref(pb->stats);
                pb->pools = pools;
                pb->stats = stats;
                pb->checked_ms = now_real_ms();
                pb->up = started_locked(pb);
                pb->reason[0] = '\0';
        } else if (started_locked(pb)) {
                char what[100];
                pb->up = false;
                snprintf(pb->reason, sizeof(pb->reason),
                         "pgbouncer (%s) runs but its admin console does not answer on 127.0.0.1:%d",
                         what_locked(pb, what, sizeof(what)), pb->config->pgbouncer_port);
        }
        pthread_mutex_unlock(&pb->lock);
}

/* ---- the thread ---------------------------------------------------------------- */

static void *pgbouncer_main(void *arg)
{
        Pgbouncer *pb = arg;

        pthread_mutex_lock(&pb->lock);
        while (!pb->stop_requested) {
                int64_t now = now_mono_ms();

                if (reap_locked(pb)) {
                        int64_t wait = pb->backoff_ms;
                        pb->restarts++;
                        pb->next_start_mono = now + wait;
                        pb->backoff_ms = MIN(pb->backoff_ms * 2, BACKOFF_MAX_MS);
                        log_warning("pgbouncer_crash", "%s; restarting in %.2f s", pb->reason,
                                    wait / 1000.0);
                }
                if (!started_locked(pb) && now >= pb->next_start_mono) {
                        Error e = ERROR_INIT;
                        if (spawn_locked(pb, &e) < 0) {
                                int64_t wait = pb->backoff_ms;
                                pb->next_start_mono = now + wait;
                                pb->backoff_ms = MIN(pb->backoff_ms * 2, BACKOFF_MAX_MS);
                                snprintf(pb->reason, sizeof(pb->reason),
                                         "Cannot start pgbouncer: %s; retrying in %.1f s%s%s", e.message,
                                         wait / 1000.0, *e.hint ? " -- " : "", e.hint);
                                log_warning("pgbouncer_start", "%s", pb->reason);
                        }
                }
                if (started_locked(pb) && pb->up && now - pb->started_mono > STABLE_MS)
                        pb->backoff_ms = BACKOFF_MIN_MS;
                if (started_locked(pb) && now - pb->last_poll_mono >= (pb->up ? POLL_MS : TICK_MS)) {
                        pb->last_poll_mono = now;
                        pthread_mutex_unlock(&pb->lock);
                        poll_console(pb);
                        pthread_mutex_lock(&pb->lock);
                        continue;
                }
                cond_timedwait_ms(&pb->cond, &pb->lock, TICK_MS);
        }
        pthread_mutex_unlock(&pb->lock);
        PQfinish(pb->admin);
        pb->admin = NULL;
        return NULL;
}

int pgbouncer_new(const Config *c, Runtime *rt, Pgbouncer **ret, Error *e)
{
        Pgbouncer *pb;
        int r;

        if (!runtime_runs_pooler(rt) && access(c->pgbouncer_bin, X_OK) < 0)
                return error_set(
                        e, ENOENT, "pgbouncer_not_installed",
                        "Install it (Debian: apt-get install pgbouncer), set PGSEED_PGBOUNCER_BIN, or "
                        "turn it off ([pgbouncer] enabled = false).",
                        "[pgbouncer] enabled, but %s is not an executable", c->pgbouncer_bin);
        /* A pgseedd killed with -9 leaves its PgBouncer container behind, holding the port. */
        if (runtime_runs_pooler(rt)) {
                r = runtime_pooler_stop(rt, e);
                if (r < 0)
                        return r;
        }
        r = port_check_free(c->pgbouncer_port, "PgBouncer", "PGSEED_PGBOUNCER_PORT", e);
        /* Debian's package starts a pgbouncer.service of its own on 6432, the default here too. */
        if (r == -EADDRINUSE)
                return error_set(
                        e, EADDRINUSE, "port_in_use",
                        "See who holds it with `ss -ltnp 'sport = :PORT'`; Debian's pgbouncer package "
                        "runs its own service there (`systemctl disable --now pgbouncer`), or set "
                        "PGSEED_PGBOUNCER_PORT to a free port.",
                        "PgBouncer's port 127.0.0.1:%d is already in use", c->pgbouncer_port);
        if (r < 0)
                return r;
        pb = xcalloc(1, sizeof(Pgbouncer));
        pb->config = c;
        pb->rt = rt;
        pb->dir = xasprintf("%s/pgbouncer", c->state_dir);
        pb->ini = xasprintf("%s/pgbouncer.ini", pb->dir);
        pb->userlist = xasprintf("%s/userlist.txt", pb->dir);
        pb->logpath = xasprintf("%s/pgbouncer.log", c->state_dir);
        pb->envp = child_environment();
        pb->uid = geteuid();
        pb->gid = getegid();
        if (geteuid() == 0) {
                struct passwd *pw = getpwnam("postgres");
                if (!pw) {
                        pgbouncer_free(pb);
                        return error_set(
                                e, EPERM, "no_postgres_user",
                                "Create it (`useradd --system postgres`) or run pgseedd as a normal "
                                "user.",
                                "pgseedd runs as root, PgBouncer refuses to, and there is no "
                                "'postgres' user to run it as");
                }
                pb->uid = pw->pw_uid;
                pb->gid = pw->pw_gid;
                pb->drop_privileges = true;
        }
        pthread_mutex_init(&pb->lock, NULL);
        cond_init_monotonic(&pb->cond);
        pb->backoff_ms = BACKOFF_MIN_MS;
        snprintf(pb->reason, sizeof(pb->reason), "pgbouncer is starting");
        *ret = pb;
        return 0;
}

int pgbouncer_start(Pgbouncer *pb, Error *e)
{
        int r;

        pthread_mutex_lock(&pb->lock);
        r = write_files(pb, e);
        pthread_mutex_unlock(&pb->lock);
        if (r < 0)
                return r;
        r = pthread_create(&pb->thread, NULL, pgbouncer_main, pb);
        if (r != 0)
                return error_set(e, r, NULL, NULL, "Cannot start the pgbouncer thread: %s", strerror(r));
        pb->thread_started = true;
        return 0;
}

void pgbouncer_stop(Pgbouncer *pb)
{
        pid_t pid;

        if (!pb)
                return;
        if (pb->thread_started) {
                pthread_mutex_lock(&pb->lock);
                pb->stop_requested = true;
                pthread_cond_broadcast(&pb->cond);
                pthread_mutex_unlock(&pb->lock);
                pthread_join(pb->thread, NULL);
                pb->thread_started = false;
        }
        pthread_mutex_lock(&pb->lock);
        if (*pb->container) {
                Error e = ERROR_INIT;
                if (runtime_pooler_stop(pb->rt, &e) < 0)
                        log_warning("pgbouncer_stop", "Cannot stop pgbouncer container %s: %s",
                                    pb->container, e.message);
                else
                        log_info("pgbouncer_stop", "Stopped pgbouncer container %s", pb->container);
                pb->container[0] = '\0';
        }
        pid = pb->pid;
        if (pid > 0) {
                int64_t deadline = now_mono_ms() + STOP_TIMEOUT_MS;
                /* SIGTERM is PgBouncer's immediate shutdown: pgseedd stops Postgres right after. */
                kill(pid, SIGTERM);
                while (!reap_locked(pb) && now_mono_ms() < deadline)
                        sleep_ms(20);
                if (pb->pid > 0) {
                        kill(pid, SIGKILL);
                        while (!reap_locked(pb))
                                sleep_ms(20);
                }
                log_info("pgbouncer_stop", "Stopped pgbouncer pid %d", (int) pid);
        }
        pb->up = false;
        pthread_mutex_unlock(&pb->lock);
}

void pgbouncer_free(Pgbouncer *pb)
{
        if (!pb)
                return;
        pgbouncer_stop(pb);
        json_decref(pb->pools);
        json_decref(pb->stats);
        strv_free(pb->envp);
        free(pb->dir);
        free(pb->ini);
        free(pb->userlist);
        free(pb->logpath);
        pthread_cond_destroy(&pb->cond);
        pthread_mutex_destroy(&pb->lock);
        free(pb);
}

/* ---- what it reports --------------------------------------------------------------- */

typedef struct PoolTotals {
        json_int_t clients_active, clients_waiting, servers_active, servers_idle, xacts, queries;
} PoolTotals;

/* Sums over the real databases (not the console's own "pgbouncer").  Lock held. */
static void totals_locked(Pgbouncer *pb, PoolTotals *t)
{
        size_t i;
        json_t *p;

        *t = (PoolTotals){0};
        json_array_foreach(pb->pools, i, p)
        {
                if (streq_ptr(json_string_value(json_object_get(p, "database")), "pgbouncer"))
                        continue;
                t->clients_active += json_integer_value(json_object_get(p, "cl_active"));
                t->clients_waiting += json_integer_value(json_object_get(p, "cl_waiting"));
                t->servers_active += json_integer_value(json_object_get(p, "sv_active"));
                t->servers_idle += json_integer_value(json_object_get(p, "sv_idle"));
        }
        json_array_foreach(pb->stats, i, p)
        {
                if (streq_ptr(json_string_value(json_object_get(p, "database")), "pgbouncer"))
                        continue;
                t->xacts += json_integer_value(json_object_get(p, "total_xact_count"));
                t->queries += json_integer_value(json_object_get(p, "total_query_count"));
        }
}

json_t *pgbouncer_describe(Pgbouncer *pb)
{
        const Config *c = pb->config;
        _cleanup_free_ char *url =
                xasprintf("postgresql://%s@127.0.0.1:%d/%s", c->app_user[0] ? c->app_user : c->pg_user,
                          c->pgbouncer_port, c->pg_db);
        char ts[40] = "";
        PoolTotals t;
        json_t *o;

        pthread_mutex_lock(&pb->lock);
        totals_locked(pb, &t);
        if (pb->checked_ms > 0)
                format_rfc3339_ms(pb->checked_ms, ts, sizeof(ts));
        o = json_pack("{s:b, s:i, s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "up", pb->up, "port",
                      c->pgbouncer_port, "pool_mode", c->pgbouncer_pool_mode, "default_pool_size",
                      (int) c->pgbouncer_pool_size, "max_client_conn", (int) c->pgbouncer_max_client_conn,
                      "url", url, "restarts", (json_int_t) pb->restarts, "clients_active", t.clients_active,
                      "clients_waiting", t.clients_waiting, "servers_active", t.servers_active,
                      "servers_idle", t.servers_idle);
        json_object_set_new(o, "pid", pb->pid > 0 ? json_integer(pb->pid) : json_null());
        if (runtime_runs_pooler(pb->rt))
                json_object_set_new(o, "container",
                                    *pb->container ? json_string(pb->container) : json_null());
        json_object_set_new(o, "checked_at", *ts ? json_string(ts) : json_null());
        json_object_set_new(o, "pools", pb->pools ? json_deep_copy(pb->pools) : json_array());
        json_object_set_new(o, "stats", pb->stats ? json_deep_copy(pb->stats) : json_array());
        if (!pb->up)
                json_object_set_new(o, "reason", json_string(pb->reason));
        pthread_mutex_unlock(&pb->lock);
        return o;
}

void pgbouncer_metrics_write(Pgbouncer *pb, FILE *f)
{
        PoolTotals t;
        bool up;
        unsigned restarts;

        pthread_mutex_lock(&pb->lock);
        totals_locked(pb, &t);
        up = pb->up;
        restarts = pb->restarts;
        pthread_mutex_unlock(&pb->lock);
        metrics_header(f, "pgseed_pgbouncer_up", "gauge", "1 when PgBouncer runs and its console answers.");
        fprintf(f, "pgseed_pgbouncer_up %d\n", up);
        metrics_header(f, "pgseed_pgbouncer_restarts_total", "counter", "PgBouncer restarts after it died.");
        fprintf(f, "pgseed_pgbouncer_restarts_total %u\n", restarts);
        metrics_header(f, "pgseed_pgbouncer_clients_active", "gauge",
                       "Clients linked to a server (SHOW POOLS).");
        fprintf(f, "pgseed_pgbouncer_clients_active %lld\n", (long long) t.clients_active);
        metrics_header(f, "pgseed_pgbouncer_clients_waiting", "gauge",
                       "Clients waiting for a server connection.");
        fprintf(f, "pgseed_pgbouncer_clients_waiting %lld\n", (long long) t.clients_waiting);
        metrics_header(f, "pgseed_pgbouncer_servers_active", "gauge", "Server connections in use.");
        fprintf(f, "pgseed_pgbouncer_servers_active %lld\n", (long long) t.servers_active);
        metrics_header(f, "pgseed_pgbouncer_servers_idle", "gauge", "Idle server connections.");
        fprintf(f, "pgseed_pgbouncer_servers_idle %lld\n", (long long) t.servers_idle);
        metrics_header(f, "pgseed_pgbouncer_transactions_total", "counter",
                       "Transactions pooled since PgBouncer started (SHOW STATS).");
        fprintf(f, "pgseed_pgbouncer_transactions_total %lld\n", (long long) t.xacts);
}

/* ---- PAUSE / RESUME around a swap ------------------------------------------------------ */

/* Names PgBouncer's console parses unquoted: the database names pgseedd makes (app, app_clone_1f2e...). */
static bool console_word(const char *s)
{
        if (isempty(s) || strlen(s) >= 64)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '_')
                        return false;
        return true;
}

/* Waits for the result of the command sent on conn until deadline; true when it succeeded. */
static bool await_command(PGconn *conn, int64_t deadline, bool *timed_out)
{
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        bool ok = true;
        PGresult *res;

        *timed_out = false;
        while (PQisBusy(conn)) {
                int64_t left = deadline - now_mono_ms();
                if (left <= 0) {
                        *timed_out = true;
                        return false;
                }
                if (poll(&pfd, 1, (int) MIN(left, 100)) < 0 && errno != EINTR)
                        return false;
                if (!PQconsumeInput(conn))
                        return false;
        }
        while ((res = PQgetResult(conn))) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                        ok = false;
                PQclear(res);
        }
        return ok;
}

/*
 * "VERB db" on the console, its result ignored (RECONNECT is a hint; RESUME
 * of a running db a no-op), waiting 2 s at most: a stopped PgBouncer must not
 * stall the lifecycle worker.
 */
static void console_command(PGconn *conn, const char *verb, const char *db)
{
        char sql[128];
        bool timed_out;

        snprintf(sql, sizeof(sql), "%s %s", verb, db);
        if (PQsendQuery(conn, sql))
                (void) await_command(conn, now_mono_ms() + 2000, &timed_out);
}

PgbouncerPause *pgbouncer_pause(Pgbouncer *pb, const char *db, int timeout_ms)
{
        PgbouncerPause *p;
        char sql[128];
        bool up, timed_out;
        PGconn *conn;

        if (!pb || !console_word(db))
                return NULL;
        pthread_mutex_lock(&pb->lock);
        up = pb->up;
        pthread_mutex_unlock(&pb->lock);
        if (!up)
                return NULL;
        conn = admin_connect(pb->config, 2);
        if (!conn)
                return NULL;
        snprintf(sql, sizeof(sql), "PAUSE %s", db);
        if (!PQsendQuery(conn, sql)) {
                PQfinish(conn);
                return NULL;
        }
        if (!await_command(conn, now_mono_ms() + timeout_ms, &timed_out)) {
                /*
                 * A database PgBouncer has not seen yet ("no such database") has no
                 * clients to hold.  A transaction that outlasts the wait (session
                 * pooling, a client idle in transaction): give up holding the rest,
                 * and let the swap go on as it would without a pooler.
                 */
                if (timed_out) {
                        PGconn *other = admin_connect(pb->config, 2);
                        log_warning("pgbouncer_pause",
                                    "PgBouncer could not pause %s within %d ms (a long transaction); "
                                    "resetting without holding its clients",
                                    db, timeout_ms);
                        if (other)
                                console_command(other, "RESUME", db);
                        PQfinish(other);
                }
                PQfinish(conn);
                return NULL;
        }
        /* The idle server connections go: after RESUME new ones reach the database swapped in. */
        console_command(conn, "RECONNECT", db);
        p = xcalloc(1, sizeof(PgbouncerPause));
        p->conn = conn;
        p->since_mono = now_mono_ms();
        strlcpy0(p->db, db, sizeof(p->db));
        return p;
}

int64_t pgbouncer_resume(PgbouncerPause *p)
{
        int64_t held;

        if (!p)
                return -1;
        console_command(p->conn, "RESUME", p->db);
        held = now_mono_ms() - p->since_mono;
        log_debug("pgbouncer_pause", "PgBouncer held %s for %lld ms", p->db, (long long) held);
        PQfinish(p->conn);
        free(p);
        return held;
}
