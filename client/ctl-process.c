/* SPDX-License-Identifier: MIT */
/* ctl-process.c -- the local pgseedd: finding it, its config, starting, stopping, removing. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "ctl.h"

/* How much of the daemon's log to look through for the reason it gave up. */
#define LOG_TAIL_BYTES (64 * 1024)

/* ---- finding pgseedd ------------------------------------------------------- */

static bool is_executable(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *pgseedd_find(void)
{
        const char *env = getenv("PGSEEDD"), *path;
        char self[PATH_MAX];
        ssize_t n;

        /* An explicit choice is kept even when it is wrong, so that running it reports the mistake. */
        if (!isempty(env))
                return xstrdup(env);

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                const char *dir = dirname(self);
                /* build/client/pgseedctl sits next to build/daemon/pgseedd; installed, both are in bin/. */
                const char *const rel[] = {"../daemon/pgseedd", "pgseedd"};
                for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel[i]);
                        if (is_executable(p))
                                return TAKE_PTR(p);
                }
        }

        path = getenv("PATH");
        if (isempty(path))
                path = "/usr/local/bin:/usr/bin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = xasprintf("%s/pgseedd", *d ? d : ".");
                if (is_executable(p))
                        return TAKE_PTR(p);
        }
        return NULL;
}

/* ---- running pgseedd for an answer ------------------------------------------------ */

/* Reads fd to EOF into a growing buffer; returns false on a read error other than EINTR. */
static bool buffer_fill(int fd, char **buf, size_t *len, size_t *cap, bool *eof)
{
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0)
                return errno == EINTR || errno == EAGAIN;
        if (n == 0) {
                *eof = true;
                return true;
        }
        if (*len + (size_t) n + 1 > *cap) {
                *cap = (*len + (size_t) n + 1) * 2;
                *buf = xrealloc(*buf, *cap);
        }
        memcpy(*buf + *len, chunk, (size_t) n);
        *len += (size_t) n;
        (*buf)[*len] = '\0';
        return true;
}

/*
 * Runs argv (no shell; the environment passes through) with stdin from
 * /dev/null, collecting stdout and stderr.  Returns 0 with the wait status,
 * or -errno when it could not be run at all.
 */
static int run_capture(char *const argv[], char **ret_out, char **ret_err, int *ret_status, Error *e)
{
        int out[2] = {-1, -1}, err[2] = {-1, -1}, status = 0;
        _cleanup_free_ char *obuf = xstrdup(""), *ebuf = xstrdup("");
        size_t olen = 0, ocap = 1, elen = 0, ecap = 1;
        bool oeof = false, eeof = false;
        pid_t pid;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                int r = errno;
                if (out[0] >= 0) {
                        close(out[0]);
                        close(out[1]);
                }
                return error_set(e, r, NULL, NULL, "Cannot create a pipe: %s", strerror(r));
        }
        pid = fork();
        if (pid < 0) {
                int r = errno;
                close(out[0]), close(out[1]), close(err[0]), close(err[1]);
                return error_set(e, r, NULL, NULL, "Cannot fork: %s", strerror(r));
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                dup2(err[1], STDERR_FILENO);
                execv(argv[0], argv);
                dprintf(STDERR_FILENO, "pgseedd: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(out[1]);
        close(err[1]);

        /* Both pipes at once: a child that fills one while we block on the other would hang us both. */
        while (!oeof || !eeof) {
                struct pollfd p[2] = {{.fd = oeof ? -1 : out[0], .events = POLLIN},
                                      {.fd = eeof ? -1 : err[0], .events = POLLIN}};
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (!oeof && p[0].revents && !buffer_fill(out[0], &obuf, &olen, &ocap, &oeof))
                        oeof = true;
                if (!eeof && p[1].revents && !buffer_fill(err[0], &ebuf, &elen, &ecap, &eeof))
                        eeof = true;
        }
        close(out[0]);
        close(err[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(e, errno, NULL, NULL, "Cannot wait for %s: %m", argv[0]);
        *ret_out = TAKE_PTR(obuf);
        *ret_err = TAKE_PTR(ebuf);
        *ret_status = status;
        return 0;
}

int start_error_parse(const char *text, Error *e)
{
        const char *line = text, *msg = NULL, *hint = NULL;
        size_t msg_len = 0, hint_len = 0;

        while (line && *line) {
                const char *end = strchrnul(line, '\n'), *p;
                if ((p = startswith(line, "pgseedd: "))) {
                        msg = p;
                        msg_len = (size_t) (end - p);
                        hint = NULL;
                } else if (msg && !hint && (p = startswith(line, "  hint: "))) {
                        hint = p;
                        hint_len = (size_t) (end - p);
                }
                line = *end ? end + 1 : NULL;
        }
        if (!msg)
                return -ENOENT;
        error_set(e, EIO, "pgseedd_failed", NULL, "%.*s", (int) msg_len, msg);
        if (hint)
                bufprintf(e->hint, sizeof(e->hint), "%.*s", (int) hint_len, hint);
        return 0;
}

int pgseedd_print_config(const char *pgseedd, json_t **ret, Error *e)
{
        char *argv[] = {(char *) pgseedd, "--print-config=json", NULL};
        _cleanup_free_ char *out = NULL, *err = NULL;
        json_error_t jerr;
        json_t *j;
        int status, r;

        r = run_capture(argv, &out, &err, &status, e);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                Error inner = ERROR_INIT;
                if (start_error_parse(err, &inner) < 0)
                        error_set(&inner, EIO, NULL, NULL, "%s",
                                  isempty(strstrip(err)) ? "no message" : err);
                *e = inner;
                e->errnum = WIFEXITED(status) && WEXITSTATUS(status) == 2 ? EINVAL : EIO;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                        return error_prefix(e, "Cannot use %s (PGSEEDD?): ", pgseedd);
                return error_prefix(e, "pgseedd cannot read its configuration: ");
        }
        j = json_loads(out, 0, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                return error_set(e, EBADMSG, NULL, "Is PGSEEDD pointing at pgseedd?",
                                 "`%s --print-config=json` did not print a JSON object", pgseedd);
        }
        *ret = j;
        return 0;
}

char *api_url_from_listen(const char *listen)
{
        return config_listen_url(listen, false);
}

/* ---- the pidfile ------------------------------------------------------------ */

int pgseedd_running(const char *state_dir, pid_t *ret_pid)
{
        _cleanup_free_ char *path = xasprintf("%s/pgseedd.pid", state_dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[32];
        int64_t pid = 0;
        ssize_t n;

        *ret_pid = 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* pgseedd holds LOCK_EX for its lifetime; if a shared lock is free, the file is left over. */
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return -errno;
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (parse_int64(strstrip(buf), 1, INT_MAX, &pid) == 0)
                *ret_pid = (pid_t) pid;
        return 1;
}

/* Gone, or a zombie its parent has not reaped yet (it no longer runs, which is what callers ask). */
static bool process_gone(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int) pid), *text = NULL;
        const char *p;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        if (read_full_file(path, &text, NULL) < 0)
                return true;
        p = strrchr(text, ')');
        return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* ---- starting -------------------------------------------------------------------- */

static const char *state_dir_of(const json_t *config, Error *e)
{
        const char *dir = ctl_config_string(config, "pgseed.state_dir");

        if (isempty(dir))
                error_set(e, EINVAL, NULL, "Is PGSEEDD pointing at pgseedd?",
                          "pgseedd's configuration has no pgseed.state_dir");
        return isempty(dir) ? NULL : dir;
}

/*
 * Starts pgseedd detached from us: its own session (Ctrl-C on `make start`
 * must not reach it), stdin from /dev/null, stdout and stderr appended to
 * log_path.  Returns 0 with its pid and the log's size before it wrote.
 */
static int pgseedd_spawn(const char *pgseedd, const char *state_dir, const char *log_path, pid_t *ret_pid,
                         off_t *ret_offset, Error *e)
{
        _cleanup_close_ int log_fd = -1, null_fd = -1;
        off_t offset;
        pid_t pid;
        int r;

        r = mkdir_p(state_dir, 0755);
        if (r < 0)
                return error_set(e, -r, NULL, "Set PGSEED_STATE_DIR to a writable directory.",
                                 "Cannot create the state directory %s: %s", state_dir, strerror(-r));
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
                return error_set(e, errno, NULL, NULL, "Cannot open %s: %m", log_path);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return error_set(e, errno, NULL, NULL, "Cannot open /dev/null: %m");
        offset = lseek(log_fd, 0, SEEK_END);

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return error_set(e, errno, NULL, NULL, "Cannot fork: %m");
        if (pid == 0) {
                char *argv[] = {(char *) pgseedd, NULL};
                sigset_t none;

                setsid();
                /* dup2 leaves the copies without O_CLOEXEC, so only 0, 1 and 2 reach pgseedd. */
                dup2(null_fd, STDIN_FILENO);
                dup2(log_fd, STDOUT_FILENO);
                dup2(log_fd, STDERR_FILENO);
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                execv(pgseedd, argv);
                dprintf(STDERR_FILENO, "pgseedd: cannot run %s: %s\n", pgseedd, strerror(errno));
                _exit(127);
        }
        *ret_pid = pid;
        *ret_offset = offset < 0 ? 0 : offset;
        return 0;
}

int start_failure_describe(const WaitChild *child, int wstatus, Error *e)
{
        _cleanup_free_ char *text = NULL;
        char how[64];
        off_t from = child->log_offset;
        struct stat st;
        _cleanup_close_ int fd = open(child->log_path, O_RDONLY | O_CLOEXEC);

        if (WIFEXITED(wstatus))
                snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(wstatus));
        else if (WIFSIGNALED(wstatus))
                snprintf(how, sizeof(how), "killed by SIG%s", sigabbrev_np(WTERMSIG(wstatus)) ?: "?");
        else
                snprintf(how, sizeof(how), "wait status %d", wstatus);

        if (fd >= 0 && fstat(fd, &st) == 0) {
                if (st.st_size - from > LOG_TAIL_BYTES)
                        from = st.st_size - LOG_TAIL_BYTES;
                text = xcalloc(1, (size_t) (st.st_size - from) + 1);
                ssize_t n = pread(fd, text, (size_t) (st.st_size - from), from);
                text[n > 0 ? n : 0] = '\0';
        }
        if (text && start_error_parse(text, e) == 0) {
                if (!*e->hint)
                        bufprintf(e->hint, sizeof(e->hint), "Its log is %s.", child->log_path);
                e->errnum = ECHILD;
                return error_prefix(e, "pgseedd failed to start (%s): ", how);
        }
        /* No "pgseedd: ..." line (it crashed, or was killed): the last thing it said is the best clue. */
        const char *last = "";
        if (text) {
                char *end = text + strlen(text);
                while (end > text && (end[-1] == '\n' || end[-1] == ' '))
                        *--end = '\0';
                char *nl = strrchr(text, '\n');
                last = nl ? nl + 1 : text;
        }
        return error_set(e, ECHILD, "pgseedd_failed", NULL, "pgseedd exited during start-up (%s)%s%s", how,
                         *last ? ": " : "", last);
}

/* The rest of the stack when it is on (issue 12): the pooler, the roles, TLS's CA. */
static void print_stack(const json_t *health)
{
        const json_t *pb = json_object_get(health, "pgbouncer"), *tls = json_object_get(health, "tls");
        const json_t *roles = json_object_get(health, "roles"), *r;
        size_t i;

        if (pb)
                printf("  PgBouncer: %s (%s pooling%s; the roles' passwords)\n",
                       json_string_value(json_object_get(pb, "url")),
                       json_string_value(json_object_get(pb, "pool_mode")),
                       json_is_true(json_object_get(pb, "up")) ? "" : "; not up yet");
        json_array_foreach(roles, i, r)
        {
                const char *kind = json_string_value(json_object_get(r, "kind"));
                if (streq_ptr(kind, "owner"))
                        continue;
                const char *env = streq(kind, "app")        ? "PGSEED_APP_PASSWORD"
                                  : streq(kind, "readonly") ? "PGSEED_READONLY_PASSWORD"
                                                            : "PGSEED_REPLICATION_PASSWORD";
                printf("  Role %-11s %s (password: %s, default %s)\n", kind,
                       json_string_value(json_object_get(r, "url")), env,
                       json_string_value(json_object_get(r, "name")));
        }
        if (tls) {
                const char *ca = json_string_value(json_object_get(tls, "ca_file"));
                const char *verify = json_string_value(json_object_get(tls, "url"));
                printf("  TLS:      %s%s%s\n",
                       json_is_true(json_object_get(tls, "required")) ? "required" : "on",
                       ca ? "; CA certificate " : "", ca ? ca : "");
                if (verify)
                        printf("            %s\n", verify);
        }
}

static void print_ready(Ctl *ctl, const json_t *config, const json_t *health)
{
        const json_t *db = json_object_get(health, "database");
        const char *url = json_string_value(json_object_get(db, "url"));
        const char *pwfile = ctl_config_string(config, "postgres.password_file");
        char rows[32];

        if (ctl->json) {
                _cleanup_free_ char *text = json_dumps(health, JSON_INDENT(2));
                printf("%s\n", text);
                return;
        }
        if (!url)
                url = ctl_config_string(config, "connection_url");
        format_count(json_integer_value(json_object_get(health, "rows_total")), rows, sizeof(rows));
        printf("pgseed is ready: %s rows\n", rows);
        if (!isempty(pwfile))
                printf("  Postgres: %s (password: in %s)\n", url ? url : "?", pwfile);
        else
                printf("  Postgres: %s (password: see PGSEED_PG_PASSWORD, default app)\n", url ? url : "?");
        print_stack(health);
        /* An https:// API from pgseedd's own configuration: the CA clients verify it with. */
        const char *api_ca = ctl_config_string(config, "api_ca_file");
        if (!ctl->url_explicit && startswith(ctl_url(ctl), "https://") && !isempty(api_ca))
                printf("  API:      %s (CA certificate %s)\n", ctl_url(ctl), api_ca);
        else
                printf("  API:      %s\n", ctl_url(ctl));
}

/* True when something answers /health at the URL (any status): a pgseedd runs there. */
static bool api_answers(Ctl *ctl)
{
        CtlResponse resp;
        Error e = ERROR_INIT;
        bool yes = ctl_http_request(ctl_url(ctl), "GET", "/health", 3, &resp, &e) == 0;

        if (yes)
                ctl_response_done(&resp);
        return yes;
}

int ctl_start(Ctl *ctl, bool say_ready)
{
        const json_t *config;
        const char *state_dir;
        _cleanup_free_ char *log_path = NULL;
        json_auto_t *health = NULL;
        WaitChild child = {0};
        Error e = ERROR_INIT;
        pid_t pid = 0;
        int r;

        if (ctl_config(ctl, &config, &e) < 0 || !(state_dir = state_dir_of(config, &e)))
                return ctl_report(&e);
        log_path = xasprintf("%s/pgseedd.log", state_dir);

        r = pgseedd_running(state_dir, &pid);
        if (r < 0) {
                error_set(&e, -r, NULL, NULL, "Cannot check %s/pgseedd.pid: %s", state_dir, strerror(-r));
                return ctl_report(&e);
        }
        if (r > 0)
                fprintf(stderr, "pgseedd is already running (pid %d); waiting until it is ready.\n",
                        (int) pid);
        else if (api_answers(ctl))
                fprintf(stderr, "pgseedd already answers at %s; waiting until it is ready.\n", ctl_url(ctl));
        else {
                r = pgseedd_spawn(ctl->pgseedd, state_dir, log_path, &child.pid, &child.log_offset, &e);
                if (r < 0)
                        return ctl_report(&e);
                child.log_path = log_path;
                fprintf(stderr, "Started pgseedd (pid %d, log %s); waiting until the database is ready.\n",
                        (int) child.pid, log_path);
        }

        r = ctl_wait_ready(ctl, ctl_timeout(ctl, CTL_DEFAULT_WAIT_S), child.pid > 0 ? &child : NULL, &health,
                           &e);
        if (r == -ETIMEDOUT)
                bufprintf(e.hint, sizeof(e.hint),
                          "pgseedd keeps going in the background: watch it with `pgseedctl status` "
                          "or `make logs` (its own log is %s); `make stop` stops it.",
                          log_path);
        if (r < 0)
                return ctl_report(&e);
        if (say_ready)
                print_ready(ctl, config, health);
        return CTL_EXIT_OK;
}

/* ---- stopping ---------------------------------------------------------------------- */

int ctl_stop(Ctl *ctl)
{
        const json_t *config;
        const char *state_dir;
        Error e = ERROR_INIT;
        double timeout_s = ctl_timeout(ctl, CTL_STOP_TIMEOUT_S);
        int64_t start, deadline;
        pid_t pid = 0;
        char took[32];
        int r;

        if (ctl_config(ctl, &config, &e) < 0 || !(state_dir = state_dir_of(config, &e)))
                return ctl_report(&e);
        r = pgseedd_running(state_dir, &pid);
        /* Just started: it locks the pidfile before writing its pid into it. */
        for (int i = 0; r > 0 && pid == 0 && i < 20; i++) {
                sleep_ms(100);
                r = pgseedd_running(state_dir, &pid);
        }
        if (r < 0) {
                error_set(&e, -r, NULL, NULL, "Cannot check %s/pgseedd.pid: %s", state_dir, strerror(-r));
                return ctl_report(&e);
        }
        if (r == 0) {
                printf("pgseedd is not running.\n");
                return CTL_EXIT_OK;
        }
        if (pid <= 0) {
                error_set(&e, EIO, NULL, "Look at the file; remove it if no pgseedd runs.",
                          "%s/pgseedd.pid is locked but holds no pid", state_dir);
                return ctl_report(&e);
        }
        if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
                error_set(&e, errno, NULL, errno == EPERM ? "Run this as the user pgseedd runs as." : NULL,
                          "Cannot signal pgseedd (pid %d): %m", (int) pid);
                return ctl_report(&e);
        }

        /* It releases the pidfile after stopping Postgres; then its process must be gone too. */
        start = now_mono_ms();
        deadline = start + (int64_t) (timeout_s * 1000);
        for (;;) {
                pid_t now_pid;
                if (pgseedd_running(state_dir, &now_pid) == 0 && process_gone(pid))
                        break;
                if (now_mono_ms() >= deadline) {
                        error_set(&e, ETIMEDOUT, NULL, NULL,
                                  "pgseedd (pid %d) is still running %g s after SIGTERM", (int) pid,
                                  timeout_s);
                        bufprintf(e.hint, sizeof(e.hint),
                                  "See %s/pgseedd.log; `kill -9 %d` ends it, "
                                  "then `pgseedctl down` stops its Postgres.",
                                  state_dir, (int) pid);
                        return ctl_report(&e);
                }
                sleep_ms(100);
        }
        printf("Stopped pgseedd (pid %d) in %s.\n", (int) pid,
               format_duration_ms(now_mono_ms() - start, took, sizeof(took)));
        return CTL_EXIT_OK;
}

/* ---- commands ------------------------------------------------------------------------- */

int cmd_start(Ctl *ctl, int argc, char **argv)
{
        int r = ctl_parse_no_args(ctl, "start", argc, argv);

        return r >= 0 ? r : ctl_start(ctl, true);
}

int cmd_stop(Ctl *ctl, int argc, char **argv)
{
        int r = ctl_parse_no_args(ctl, "stop", argc, argv);

        return r >= 0 ? r : ctl_stop(ctl);
}

int cmd_restart(Ctl *ctl, int argc, char **argv)
{
        int r = ctl_parse_no_args(ctl, "restart", argc, argv);
        double timeout = ctl->timeout_s;

        if (r >= 0)
                return r;
        /* --timeout is the wait for ready; stopping keeps its own 60 s. */
        ctl->timeout_s = -1;
        r = ctl_stop(ctl);
        ctl->timeout_s = timeout;
        return r != CTL_EXIT_OK ? r : ctl_start(ctl, true);
}

int cmd_down(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {{"volumes", no_argument, NULL, 'v'}, CTL_GLOBAL_OPTIONS, {}};
        bool volumes = false;
        int c, ex = 0, status = 0, r;
        pid_t pid;
        Error e = ERROR_INIT;

        while ((c = ctl_getopt(ctl, "down", argc, argv, "", opts, &ex)) >= 0)
                if (c == 'v')
                        volumes = true;
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("down", "unexpected argument '%s'", argv[optind]);

        r = ctl_stop(ctl);
        if (r != CTL_EXIT_OK)
                return r;

        char *args[] = {ctl->pgseedd, "--remove", volumes ? "--volumes" : NULL, NULL};
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                error_set(&e, errno, NULL, NULL, "Cannot fork: %m");
                return ctl_report(&e);
        }
        if (pid == 0) {
                execv(args[0], args);
                dprintf(STDERR_FILENO, "pgseedctl: cannot run %s: %s\n", args[0], strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        error_set(&e, errno, NULL, NULL, "Cannot wait for pgseedd --remove: %m");
                        return ctl_report(&e);
                }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* pgseedd printed its own "pgseedd: ..." reason on stderr just above. */
                error_set(&e, EIO, NULL, NULL, "`pgseedd --remove%s` failed", volumes ? " --volumes" : "");
                return ctl_report(&e);
        }
        return CTL_EXIT_OK;
}

int cmd_load_data(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {CTL_GLOBAL_OPTIONS, {}};
        _cleanup_free_ char *abs = NULL, *value = NULL;
        _cleanup_close_ int fd = -1;
        const json_t *config;
        double timeout = ctl->timeout_s;
        Error e = ERROR_INIT;
        struct stat st;
        int c, ex = 0, r;
        char b;

        while ((c = ctl_getopt(ctl, "load-data", argc, argv, "", opts, &ex)) >= 0)
                ;
        if (c == -2)
                return ex;
        if (optind + 1 != argc)
                return ctl_usage_error("load-data", optind >= argc ? "the CSV file is missing"
                                                                   : "load-data takes one CSV file");

        /* Fail here, in front of the user, rather than minutes later in the daemon's log. */
        const char *path = argv[optind];
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
                error_set(&e, EINVAL, NULL, "Pass the path of the YouTube comments CSV file.",
                          "%s is not a regular file", path);
                return ctl_report(&e);
        }
        if (fd < 0 || read(fd, &b, 1) < 0) {
                error_set(&e, errno, NULL, "Pass the path of the YouTube comments CSV file.",
                          "Cannot read %s: %m", path);
                return ctl_report(&e);
        }
        abs = realpath(path, NULL);
        if (!abs) {
                error_set(&e, errno, NULL, NULL, "Cannot resolve %s: %m", path);
                return ctl_report(&e);
        }
        value = xasprintf("csv:%s", abs);
        /* Before pgseedd's configuration is read: --print-config and the new daemon both see it. */
        setenv("PGSEED_DATASET", value, 1);
        if (ctl_config(ctl, &config, &e) < 0)
                return ctl_report(&e);

        ctl->timeout_s = -1;
        r = ctl_stop(ctl);
        ctl->timeout_s = timeout;
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_start(ctl, true);
        if (r != CTL_EXIT_OK)
                return r;
        const char *file = ctl_config_string(config, "config_file");
        printf("Note: pgseedd uses %s until it restarts. To keep it, set `source = %s` "
               "in the [dataset] section of %s, or export PGSEED_DATASET=%s.\n",
               abs, value, isempty(file) || streq(file, "/dev/null") ? "config/pgseedd.conf" : file, value);
        return r;
}
