/* SPDX-License-Identifier: MIT */
/* runtime-embedded.c -- Postgres as a supervised child process, from the machine's own binaries. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "pg.h"
#include "runtime-common.h"
#include "runtime.h"
#include "tuning.h"

/* Below this much free space the server cannot be expected to work: a WAL segment is 16 MB. */
#define DISK_FLOOR_BYTES (32 * 1024 * 1024)

typedef struct Embedded {
        pthread_mutex_t lock; /* guards pid and detail: status() and stop() may race at shutdown */
        pid_t pid;            /* the postmaster, or 0 */
        char detail[512];     /* why it is not running */
        char *pgdata, *rundir, *logpath, *initdb_log;
        char *postgres, *initdb;
        char **settings; /* from config/postgresql.conf */
        char **envp;     /* pgseedd's environment without its secrets, for initdb and postgres */
        off_t log_start; /* size of the server log when the server was last started */
        int64_t auth_repaired_mono; /* when repair_auth last set the role's password, 0 = never */
        uid_t uid;       /* who runs initdb and postgres: postgres refuses to run as root */
        gid_t gid;
        bool drop_privileges;
} Embedded;

static Embedded *impl(Runtime *rt)
{
        return rt->impl;
}

static int embedded_init(Runtime *rt, Error *e)
{
        const Config *c = rt->config;
        Embedded *m = xcalloc(1, sizeof(Embedded));

        pthread_mutex_init(&m->lock, NULL);
        m->pgdata = xasprintf("%s/pgdata", c->state_dir);
        m->rundir = xasprintf("%s/run", c->state_dir);
        m->logpath = xasprintf("%s/postgres.log", c->state_dir);
        m->initdb_log = xasprintf("%s/initdb.log", c->state_dir);
        m->postgres = xasprintf("%s/postgres", c->pg_bindir);
        m->initdb = xasprintf("%s/initdb", c->pg_bindir);
        m->uid = geteuid();
        m->gid = getegid();
        m->envp = child_environment();
        rt->impl = m;
        return 0;
}

static void embedded_free(Runtime *rt)
{
        Embedded *m = impl(rt);

        if (!m)
                return;
        strv_free(m->settings);
        strv_free(m->envp);
        free(m->pgdata);
        free(m->rundir);
        free(m->logpath);
        free(m->initdb_log);
        free(m->postgres);
        free(m->initdb);
        pthread_mutex_destroy(&m->lock);
        free(m);
        rt->impl = NULL;
}

/* ---- process helpers ---------------------------------------------------- */

static void describe_exit(int status, char *buf, size_t size)
{
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "stopped (status 0x%x)", (unsigned) status);
}

/* Runs argv as the Postgres user with output appended to logpath; returns its exit status or -errno. */
static int run_as_pg(Embedded *m, char *const argv[], const char *logpath)
{
        _cleanup_close_ int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        int status;
        pid_t pid;

        if (out < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                child_setup(out, m->drop_privileges, m->uid, m->gid);
                execve(argv[0], argv, m->envp);
                dprintf(STDERR_FILENO, "pgseedd: cannot execute %s: %m\n", argv[0]);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return status;
}

/* The last line of a log file that says something, for error messages. */
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

/* ---- prepare ------------------------------------------------------------ */

static int pick_user(Embedded *m, Error *e)
{
        struct passwd *pw;

        if (geteuid() != 0)
                return 0;
        /* Postgres refuses to run as root; run it as the account Debian's package creates. */
        pw = getpwnam("postgres");
        if (!pw)
                return error_set(
                        e, EPERM, "no_postgres_user",
                        "Create it (`useradd --system postgres`) or run pgseedd as a normal user.",
                        "pgseedd runs as root, Postgres refuses to, and there is no 'postgres' user to "
                        "run it as");
        m->uid = pw->pw_uid;
        m->gid = pw->pw_gid;
        m->drop_privileges = true;
        return 0;
}

static int ensure_dir(Embedded *m, const char *path, Error *e)
{
        int r = mkdir_p(path, 0700);

        if (r < 0)
                return error_set(e, -r, "state_dir", "Set PGSEED_STATE_DIR to a writable directory.",
                                 "Cannot create %s: %s", path, strerror(-r));
        if (m->drop_privileges && chown(path, m->uid, m->gid) < 0)
                return error_set(e, errno, "state_dir", NULL, "Cannot hand %s to the postgres user: %m",
                                 path);
        if (chmod(path, 0700) < 0)
                return error_set(e, errno, "state_dir", NULL, "Cannot chmod %s: %m", path);
        return 0;
}

/*
 * As root, every directory on the way to the state dir must be searchable by
 * the postgres user: a state dir under a 0700 directory (a repo under /root,
 * `$(mktemp -d)/state`) would otherwise fail deep inside initdb ("could not
 * open file .../initdb.pw: Permission denied").  Asks the kernel itself, as
 * that user (so ACLs and groups count), and names the first directory it
 * cannot enter, with the fix.
 */
static int check_reachable(Embedded *m, const char *path, Error *e)
{
        _cleanup_close_ int rfd = -1, wfd = -1;
        char blocked[PATH_MAX] = "";
        int fds[2], status;
        ssize_t n;
        pid_t pid;

        if (!m->drop_privileges)
                return 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return error_set(e, errno, NULL, NULL, "pipe: %m");
        rfd = fds[0];
        wfd = fds[1];
        pid = fork();
        if (pid < 0)
                return error_set(e, errno, NULL, NULL, "fork: %m");
        if (pid == 0) {
                char prefix[PATH_MAX];
                size_t len = strlen(path);

                if (setgroups(0, NULL) < 0 || setgid(m->gid) < 0 || setuid(m->uid) < 0)
                        _exit(2);
                if (len >= sizeof(prefix))
                        _exit(2);
                /* Each prefix ending before a '/', then the whole path: "/", "/tmp", "/tmp/x", ... */
                for (size_t i = 1; i <= len; i++) {
                        if (i < len && path[i] != '/')
                                continue;
                        memcpy(prefix, path, i);
                        prefix[i] = '\0';
                        /* The directory itself must also be readable and writable. */
                        if (access(prefix, i < len ? X_OK : R_OK | W_OK | X_OK) < 0 && errno != ENOENT) {
                                (void) !write(wfd, prefix, i);
                                _exit(1);
                        }
                }
                _exit(0);
        }
        close(TAKE_FD(wfd)); /* our copy, so that read() sees the end when the child exits */
        n = read(rfd, blocked, sizeof(blocked) - 1);
        blocked[n > 0 ? n : 0] = '\0';
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (*blocked) {
                struct stat st;
                struct passwd *owner = NULL;
                char mode[64] = "";

                if (stat(blocked, &st) == 0) {
                        owner = getpwuid(st.st_uid);
                        snprintf(mode, sizeof(mode), " (mode %04o, owner %s)",
                                 (unsigned) (st.st_mode & 07777), owner ? owner->pw_name : "?");
                }
                return error_set(
                        e, EACCES, "state_dir",
                        "Let it in with `chmod o+x DIR` (DIR as named), or set PGSEED_STATE_DIR to a "
                        "directory it can reach, e.g. under /var/lib or /tmp.",
                        "The postgres user (uid %u), which runs initdb and the server because "
                        "pgseedd runs as root, cannot enter %s%s on the way to the state directory %s",
                        (unsigned) m->uid, blocked, mode, path);
        }
        return error_set(
                e, EACCES, "state_dir",
                "Set PGSEED_STATE_DIR to a path under /var/lib or /tmp, or run pgseedd as a normal user.",
                "The postgres user cannot reach %s", path);
}

/*
 * A postmaster left behind by a pgseedd that was killed -9: postmaster.pid
 * names it, and its working directory is the data directory.  Stop it before
 * starting our own, rather than failing on "lock file already exists".
 */
static void stop_orphan(Embedded *m)
{
        _cleanup_free_ char *pidfile = xasprintf("%s/postmaster.pid", m->pgdata), *text = NULL;
        char link[64], cwd[PATH_MAX], real[PATH_MAX];
        ssize_t n;
        long pid;

        if (read_full_file(pidfile, &text, NULL) < 0)
                return;
        pid = strtol(text, NULL, 10);
        if (pid <= 1)
                return;
        snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
        n = readlink(link, cwd, sizeof(cwd) - 1);
        if (n < 0 || !realpath(m->pgdata, real))
                return;
        cwd[n] = '\0';
        if (!streq(cwd, real))
                return;

        log_warning("orphan", "Stopping postgres pid %ld left running by a previous pgseedd", pid);
        kill((pid_t) pid, SIGINT);
        for (int i = 0; i < 100 && kill((pid_t) pid, 0) == 0; i++)
                sleep_ms(100);
        if (kill((pid_t) pid, 0) == 0) {
                kill((pid_t) pid, SIGKILL);
                sleep_ms(500);
        }
}

static int run_initdb(Runtime *rt, Error *e)
{
        Embedded *m = impl(rt);
        const Config *c = rt->config;
        _cleanup_free_ char *tmp = xasprintf("%s.initdb", m->pgdata);
        _cleanup_free_ char *pwfile = xasprintf("%s/initdb.pw", m->rundir);
        _cleanup_free_ char *user_arg = xasprintf("--username=%s", c->pg_user);
        _cleanup_free_ char *pw_arg = xasprintf("--pwfile=%s", pwfile);
        char *argv[] = {m->initdb,
                        "-D",
                        tmp,
                        user_arg,
                        pw_arg,
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                        NULL};
        char last[512];
        int r, status;

        log_info("initdb", "Initialising a new cluster in %s", m->pgdata);
        rm_rf(tmp);
        r = ensure_dir(m, tmp, e);
        if (r < 0)
                return r;
        r = write_file_atomic(pwfile, c->pg_password, strlen(c->pg_password), 0600);
        if (r < 0)
                return error_set(e, -r, NULL, NULL, "Cannot write %s: %s", pwfile, strerror(-r));
        if (m->drop_privileges)
                (void) !chown(pwfile, m->uid, m->gid);

        status = run_as_pg(m, argv, m->initdb_log);
        unlink(pwfile);
        if (status < 0)
                return error_set(e, -status, NULL, NULL, "Cannot run %s: %s", m->initdb, strerror(-status));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char how[128];
                describe_exit(status, how, sizeof(how));
                last_log_line(m->initdb_log, last, sizeof(last));
                rm_rf(tmp);
                return error_set(e, EIO, "initdb_failed", NULL, "initdb %s: %s (full output in %s)", how,
                                 last, m->initdb_log);
        }
        /* Only a finished cluster gets the real name: a killed initdb is redone, never half-used. */
        if (rename(tmp, m->pgdata) < 0)
                return error_set(e, errno, NULL, NULL, "Cannot rename %s to %s: %m", tmp, m->pgdata);
        return 0;
}

static int embedded_prepare(Runtime *rt, Error *e)
{
        Embedded *m = impl(rt);
        const Config *c = rt->config;
        _cleanup_free_ char *version = xasprintf("%s/PG_VERSION", m->pgdata);
        int r;

        if (isempty(c->pg_bindir) || access(m->postgres, X_OK) < 0 || access(m->initdb, X_OK) < 0)
                return error_set(
                        e, ENOENT, "postgres_not_installed",
                        "Install them with `make deps` (Debian: apt-get install postgresql), or set "
                        "PGSEED_PG_BINDIR to the directory holding initdb and postgres.",
                        "PostgreSQL server binaries not found%s%s", isempty(c->pg_bindir) ? "" : " in ",
                        c->pg_bindir);
        strv_free(m->settings);
        m->settings = NULL;
        r = pgconf_load(c->pg_conf, &m->settings, e);
        if (r < 0)
                return r;
        /* [postgres] memory, wal_archive_dir and tls (tuning.c), after the file's so that they win. */
        r = tuning_append_settings(c, false, &m->settings, e);
        if (r < 0)
                return r;
        r = pick_user(m, e);
        if (r < 0)
                return r;
        r = ensure_dir(m, m->rundir, e);
        if (r < 0)
                return r;
        r = check_reachable(m, m->rundir, e);
        if (r < 0)
                return r;

        if (access(version, F_OK) < 0) {
                r = run_initdb(rt, e);
                if (r < 0)
                        return r;
        } else
                stop_orphan(m);

        r = ensure_dir(m, m->pgdata, e);
        if (r < 0)
                return r;
        r = check_reachable(m, m->pgdata, e);
        if (r < 0)
                return r;
        return port_check_free(c->pg_port, "Postgres", "PGSEED_PG_PORT", e);
}

/* ---- start / status / stop ---------------------------------------------- */

static char **build_argv(Runtime *rt)
{
        Embedded *m = impl(rt);
        const Config *c = rt->config;
        size_t n = 0, cap = 16;
        char **argv = xcalloc(cap, sizeof(char *));

#define PUSH(s)                                                                                             \
        do {                                                                                                \
                if (n + 2 >= cap)                                                                           \
                        argv = xrealloc(argv, (cap *= 2) * sizeof(char *));                                 \
                argv[n++] = (s);                                                                            \
                argv[n] = NULL;                                                                             \
        } while (0)

        PUSH(xstrdup(m->postgres));
        PUSH(xstrdup("-D"));
        PUSH(xstrdup(m->pgdata));
        for (char **s = m->settings; s && *s; s++) {
                PUSH(xstrdup("-c"));
                PUSH(xstrdup(*s));
        }
        /* Ours come last so that they win over the settings file. */
        PUSH(xstrdup("-c"));
        PUSH(xstrdup("listen_addresses=127.0.0.1"));
        PUSH(xstrdup("-c"));
        PUSH(xasprintf("port=%d", c->pg_port));
        PUSH(xstrdup("-c"));
        PUSH(xasprintf("unix_socket_directories=%s", m->rundir));
#undef PUSH
        return argv;
}

static int embedded_start(Runtime *rt, Error *e)
{
        Embedded *m = impl(rt);
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_close_ int out = -1;
        pid_t pid;
        int r;

        pthread_mutex_lock(&m->lock);
        if (m->pid > 0) {
                pthread_mutex_unlock(&m->lock);
                return 0;
        }
        pthread_mutex_unlock(&m->lock);

        r = port_check_free(rt->config->pg_port, "Postgres", "PGSEED_PG_PORT", e);
        if (r < 0)
                return r;
        /*
         * On a full disk the server would only PANIC again (or fail its crash
         * recovery): wait, with the supervisor's backoff, until there is room.
         */
        int64_t free_bytes = disk_free_bytes(rt->config->state_dir);
        if (free_bytes >= 0 && free_bytes < DISK_FLOOR_BYTES)
                return error_set(e, ENOSPC, RUNTIME_DISK_FULL, NULL,
                                 "No space left on device in %s (" RUNTIME_DISK_FULL
                                 "): %lld MB free, Postgres needs at least %d MB; free space or move "
                                 "PGSEED_STATE_DIR",
                                 rt->config->state_dir, (long long) (free_bytes / (1024 * 1024)),
                                 DISK_FLOOR_BYTES / (1024 * 1024));
        out = open(m->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (out < 0)
                return error_set(e, errno, NULL, NULL, "Cannot open %s: %m", m->logpath);
        struct stat log_st;
        m->log_start = fstat(out, &log_st) == 0 ? log_st.st_size : 0;
        argv = build_argv(rt);

        pid = fork();
        if (pid < 0)
                return error_set(e, errno, NULL, NULL, "fork: %m");
        if (pid == 0) {
                child_setup(out, m->drop_privileges, m->uid, m->gid);
                /*
                 * If pgseedd dies without stopping us (kill -9), ask for a fast
                 * shutdown instead of living on as an orphan.  Set after the
                 * uid change, which clears it.
                 */
                prctl(PR_SET_PDEATHSIG, SIGINT);
                if (getppid() == 1)
                        _exit(0);
                execve(argv[0], argv, m->envp);
                dprintf(STDERR_FILENO, "pgseedd: cannot execute %s: %m\n", argv[0]);
                _exit(127);
        }

        pthread_mutex_lock(&m->lock);
        m->pid = pid;
        m->detail[0] = '\0';
        pthread_mutex_unlock(&m->lock);
        log_info("postgres_start", "Started postgres pid %d on 127.0.0.1:%d", (int) pid,
                 rt->config->pg_port);
        return 0;
}

/* Reaps the postmaster if it exited; called with m->lock held. */
/*
 * Kills what is left of a cluster whose postmaster died: its backends go on
 * until they next notice (some never do while a client keeps them busy), hold
 * the old shared memory so that no new postmaster can start, and keep a
 * lifecycle job waiting on them.  They are found by their working
 * directory, the data directory.  Waits up to 2 s for them to go.
 */
static void kill_strays(Embedded *m)
{
        char real[PATH_MAX];
        bool any = true;

        if (!realpath(m->pgdata, real))
                return;
        for (int round = 0; any && round < 100; round++) {
                _cleanup_(closedirp) DIR *proc = opendir("/proc");
                struct dirent *de;

                any = false;
                while (proc && (de = readdir(proc))) {
                        char link[300], cwd[PATH_MAX];
                        long pid = strtol(de->d_name, NULL, 10);
                        ssize_t n;

                        if (pid <= 1 || pid == getpid())
                                continue;
                        snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
                        n = readlink(link, cwd, sizeof(cwd) - 1);
                        if (n < 0)
                                continue;
                        cwd[n] = '\0';
                        if (!streq(cwd, real))
                                continue;
                        if (round == 0)
                                log_warning("postgres_crash",
                                            "Killing postgres pid %ld, left behind by its dead postmaster",
                                            pid);
                        kill((pid_t) pid, SIGKILL);
                        any = true;
                }
                if (any)
                        sleep_ms(20);
        }
}

static void reap_locked(Embedded *m)
{
        int status;

        if (m->pid <= 0)
                return;
        pid_t r = waitpid(m->pid, &status, WNOHANG);
        if (r == m->pid || (r < 0 && errno == ECHILD)) {
                char how[128] = "exited";
                char last[256] = "";
                if (r == m->pid)
                        describe_exit(status, how, sizeof(how));
                last_log_line(m->logpath, last, sizeof(last));
                snprintf(m->detail, sizeof(m->detail), "postgres (pid %d) %s%s%s", (int) m->pid, how,
                         *last ? "; last log line: " : "", last);
                m->pid = 0;
                kill_strays(m);
        }
}

static int embedded_status(Runtime *rt, RuntimeStatus *ret)
{
        Embedded *m = impl(rt);

        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&m->lock);
        reap_locked(m);
        ret->running = m->pid > 0;
        if (ret->running)
                snprintf(ret->id, sizeof(ret->id), "pid %d", (int) m->pid);
        strlcpy0(ret->detail, ret->running ? "" : (*m->detail ? m->detail : "postgres is not running"),
                 sizeof(ret->detail));
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* Sends sig and waits up to timeout_ms for the postmaster to exit; true when it did. */
static bool signal_and_wait(Embedded *m, int sig, int64_t timeout_ms)
{
        int64_t deadline = now_mono_ms() + timeout_ms;

        kill(m->pid, sig);
        while (now_mono_ms() < deadline) {
                reap_locked(m);
                if (m->pid <= 0)
                        return true;
                sleep_ms(20);
        }
        return false;
}

static int embedded_stop(Runtime *rt, Error *e)
{
        Embedded *m = impl(rt);
        pid_t pid;

        pthread_mutex_lock(&m->lock);
        reap_locked(m);
        pid = m->pid;
        if (pid > 0) {
                /* SIGINT is Postgres's fast shutdown: roll back sessions, checkpoint, exit. */
                if (!signal_and_wait(m, SIGINT, rt->config->stop_timeout * 1000)) {
                        log_warning("postgres_stop",
                                    "postgres pid %d ignored fast shutdown, sending SIGQUIT", (int) pid);
                        if (!signal_and_wait(m, SIGQUIT, 5000))
                                signal_and_wait(m, SIGKILL, 5000);
                }
                snprintf(m->detail, sizeof(m->detail), "postgres was stopped by pgseedd");
        }
        pthread_mutex_unlock(&m->lock);
        if (pid > 0)
                log_info("postgres_stop", "Stopped postgres pid %d", (int) pid);
        return 0;
}

static int embedded_remove(Runtime *rt, bool volumes, Error *e)
{
        Embedded *m = impl(rt);
        int r;

        r = embedded_stop(rt, e);
        if (r < 0)
                return r;
        if (!volumes)
                return 0;
        r = rm_rf(m->pgdata);
        if (r < 0 && r != -ENOENT)
                return error_set(e, -r, NULL, NULL, "Cannot remove %s: %s", m->pgdata, strerror(-r));
        log_info("remove", "Removed the embedded cluster in %s", m->pgdata);
        return 0;
}

/* ---- repairs and explanations -------------------------------------------- */

/*
 * The cluster is ours: initdb made pg_user its bootstrap superuser with
 * local (unix socket) connections trusted, and the socket sits in rundir,
 * which only pgseedd (and the postgres user) can enter.  So a changed
 * PGSEED_PG_PASSWORD is applied over that socket.  The server gets a SCRAM
 * verifier computed here, never the password itself, so that nothing the
 * server logs (a failed statement, log_statement = all) can reveal it.
 */
static int embedded_repair_auth(Runtime *rt, Error *e)
{
        Embedded *m = impl(rt);
        const Config *c = rt->config;
        const char *keys[] = {"host", "port", "user", "dbname", "connect_timeout", "application_name", NULL};
        const char *values[ELEMENTSOF(keys)];
        _cleanup_pgconn_ PGconn *conn = NULL;
        _cleanup_(PQfreememp) char *verifier = NULL, *ident = NULL, *literal = NULL;
        _cleanup_free_ char *sql = NULL;
        char port[16], msg[512];
        int64_t now = now_mono_ms();

        if (m->auth_repaired_mono > 0 && now - m->auth_repaired_mono < 10000)
                return error_set(e, EACCES, NULL, NULL,
                                 "authentication still fails right after pgseedd set the password; check "
                                 "pg_hba.conf in %s",
                                 m->pgdata);
        snprintf(port, sizeof(port), "%d", c->pg_port);
        values[0] = m->rundir;
        values[1] = port;
        values[2] = c->pg_user;
        values[3] = "postgres";
        values[4] = "5";
        values[5] = "pgseedd-repair";
        values[6] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (!conn || PQstatus(conn) != CONNECTION_OK) {
                strlcpy0(msg, conn ? PQerrorMessage(conn) : "out of memory", sizeof(msg));
                msg[strcspn(msg, "\n")] = '\0';
                return error_set(e, EACCES, NULL, NULL, "connecting as %s over the local socket in %s: %s",
                                 c->pg_user, m->rundir, msg);
        }
        verifier = PQencryptPasswordConn(conn, c->pg_password, c->pg_user, "scram-sha-256");
        if (!verifier)
                return error_set(e, EIO, NULL, NULL, "computing the password verifier: %s",
                                 PQerrorMessage(conn));
        ident = PQescapeIdentifier(conn, c->pg_user, strlen(c->pg_user));
        literal = PQescapeLiteral(conn, verifier, strlen(verifier));
        if (!ident || !literal)
                return error_set(e, EIO, NULL, NULL, "quoting: %s", PQerrorMessage(conn));
        sql = xasprintf("ALTER ROLE %s PASSWORD %s", ident, literal);
        if (pg_exec(conn, sql, e) < 0)
                return -e->errnum;
        m->auth_repaired_mono = now;
        return 0;
}

/* True when the server log written since the last start mentions a full disk (its last 64 KB). */
static bool log_mentions_enospc(Embedded *m)
{
        _cleanup_fclose_ FILE *f = fopen(m->logpath, "re");
        char buf[65536 + 1];
        off_t from;
        size_t n;

        if (!f || fseeko(f, 0, SEEK_END) < 0)
                return false;
        from = ftello(f) - (off_t) (sizeof(buf) - 1);
        if (from < m->log_start)
                from = m->log_start;
        if (from < 0 || fseeko(f, from, SEEK_SET) < 0)
                return false;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        return memmem(buf, n, "No space left on device", strlen("No space left on device")) != NULL;
}

static bool embedded_explain_failure(Runtime *rt, const char *failure, char *ret, size_t size)
{
        Embedded *m = impl(rt);
        const char *dir = rt->config->state_dir;
        int64_t free_bytes = disk_free_bytes(dir);
        bool full = strstr(failure, "No space left on device") || strstr(failure, "disk full") ||
                    (free_bytes >= 0 && free_bytes < DISK_FLOOR_BYTES) || log_mentions_enospc(m);

        if (!full)
                return false;
        snprintf(ret, size,
                 "No space left on device in %s (" RUNTIME_DISK_FULL
                 "): %lld MB free; free space or move PGSEED_STATE_DIR",
                 dir, (long long) (free_bytes < 0 ? 0 : free_bytes / (1024 * 1024)));
        return true;
}

/* ---- logs --------------------------------------------------------------- */

typedef struct FileLogStream {
        LogStream base;
        FILE *f;
        char *path;
        bool follow;
        int64_t since_ms;
        char *line;
        size_t cap;
        char ts[40]; /* timestamp of the last line that had one; continuation lines inherit it */
} FileLogStream;

/* "2026-11-21 23:00:00.123 UTC [42] LOG: ..." -> "2026-11-21T23:00:00.123Z" and its epoch ms. */
static bool parse_pg_log_ts(const char *line, char *ts, size_t size, int64_t *ret_ms)
{
        struct tm tm = {0};
        int ms = 0;
        const char *end = strptime(line, "%Y-%m-%d %H:%M:%S", &tm);

        if (!end)
                return false;
        if (*end == '.') {
                ms = (int) strtol(end + 1, NULL, 10);
                end += 4;
        }
        if (!startswith(end, " UTC"))
                return false;
        time_t t = timegm(&tm);
        *ret_ms = (int64_t) t * 1000 + ms;
        snprintf(ts, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        return true;
}

static int file_log_read_line(LogStream *base, LogLine *ret, int timeout_ms)
{
        FileLogStream *s = (FileLogStream *) base;
        int64_t deadline = now_mono_ms() + timeout_ms;

        for (;;) {
                ssize_t n = getline(&s->line, &s->cap, s->f);
                if (n > 0 && s->line[n - 1] != '\n' && s->follow) {
                        /* A partial line: the server is mid-write; rewind and wait for the rest. */
                        fseeko(s->f, -(off_t) n, SEEK_CUR);
                        n = -1;
                }
                if (n > 0) {
                        int64_t line_ms = 0;
                        char ts[40];
                        s->line[strcspn(s->line, "\n")] = '\0';
                        if (parse_pg_log_ts(s->line, ts, sizeof(ts), &line_ms))
                                memcpy(s->ts, ts, sizeof(ts));
                        if (s->since_ms > 0) {
                                if (!*s->ts)
                                        continue;
                                if (line_ms > 0 && line_ms < s->since_ms) {
                                        s->ts[0] = '\0';
                                        continue;
                                }
                        }
                        ret->text = s->line;
                        ret->stream = "log";
                        memcpy(ret->ts, s->ts, sizeof(ret->ts));
                        return 1;
                }
                clearerr(s->f);
                if (!s->follow)
                        return 0;
                if (now_mono_ms() >= deadline)
                        return -EAGAIN;
                sleep_ms(100);
        }
}

static void file_log_close(LogStream *base)
{
        FileLogStream *s = (FileLogStream *) base;

        if (s->f)
                fclose(s->f);
        free(s->line);
        free(s->path);
        free(s);
}

/* Positions f at the start of the last n lines (reading backwards in blocks). */
static void seek_tail(FILE *f, int64_t n)
{
        char buf[8192];
        off_t end, pos;
        int64_t newlines = 0;

        fseeko(f, 0, SEEK_END);
        end = pos = ftello(f);
        if (n < 0 || end <= 0)
                goto from_start;
        /* A trailing newline ends the last line; it does not start a new one. */
        pos = end - 1;
        while (pos > 0) {
                size_t chunk = pos > (off_t) sizeof(buf) ? sizeof(buf) : (size_t) pos;
                pos -= (off_t) chunk;
                fseeko(f, pos, SEEK_SET);
                if (fread(buf, 1, chunk, f) != chunk)
                        break;
                for (size_t i = chunk; i > 0; i--)
                        if (buf[i - 1] == '\n' && ++newlines == n) {
                                fseeko(f, pos + (off_t) i, SEEK_SET);
                                return;
                        }
        }
from_start:
        if (n == 0) {
                fseeko(f, 0, SEEK_END);
                return;
        }
        fseeko(f, 0, SEEK_SET);
}

static int embedded_logs_open(Runtime *rt, const LogQuery *q, LogStream **ret, Error *e)
{
        Embedded *m = impl(rt);
        FileLogStream *s;
        FILE *f = fopen(m->logpath, "re");

        if (!f)
                return error_set(e, errno == ENOENT ? ENOENT : errno, "no_logs",
                                 "Postgres has not been started yet.", "Cannot open %s: %m", m->logpath);
        s = xcalloc(1, sizeof(FileLogStream));
        s->base.read_line = file_log_read_line;
        s->base.close = file_log_close;
        s->f = f;
        s->path = xstrdup(m->logpath);
        s->follow = q->follow;
        s->since_ms = q->since_ms;
        seek_tail(f, q->tail);
        *ret = &s->base;
        return 0;
}

/* The server's data is in the state directory, on this machine. */
static int embedded_disk_free(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e)
{
        *ret = disk_free_bytes(rt->config->state_dir);
        if (*ret < 0)
                return error_set(e, (int) -*ret, NULL, NULL, "statvfs %s: %s", rt->config->state_dir,
                                 strerror((int) -*ret));
        snprintf(where, size, "the state directory %s", rt->config->state_dir);
        return 0;
}

const RuntimeOps runtime_embedded_ops = {
        .name = "embedded",
        .owns_server = true,
        .init = embedded_init,
        .prepare = embedded_prepare,
        .start = embedded_start,
        .stop = embedded_stop,
        .status = embedded_status,
        .logs_open = embedded_logs_open,
        .remove = embedded_remove,
        .repair_auth = embedded_repair_auth,
        .explain_failure = embedded_explain_failure,
        .disk_free = embedded_disk_free,
        .free = embedded_free,
};
