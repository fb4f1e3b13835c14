/* SPDX-License-Identifier: MIT */
/* ctl-process.c -- the local pgseedd started, stopped and removed: start, stop, restart, down, load-data. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-daemon.h"
#include "ctl-http.h"
#include "ctl-process.h"
#include "ctl-render.h"
#include "ctl-wait.h"

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
