/* SPDX-License-Identifier: MIT */
/* ctl-wait.c -- waiting for /health to say ready: polling, a progress line on terminals, start-up failures.
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-daemon.h"
#include "ctl-http.h"
#include "ctl-render.h"
#include "ctl-wait.h"

#define POLL_INTERVAL_MS 300
/* Without a local pgseedd that is starting, this long without an answer means nothing will answer. */
#define UNREACHABLE_GRACE_MS 5000

typedef struct Display {
        bool tty;        /* redraw one line in place on stderr */
        bool drawn;      /* a line is on screen and must be cleared before other output */
        char last[1024]; /* not a TTY: the last state printed, to print only changes */
} Display;

static int stderr_width(void)
{
        struct winsize ws;

        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

static void display_clear(Display *d)
{
        if (d->tty && d->drawn)
                fputs("\r\033[K", stderr);
        d->drawn = false;
        fflush(stderr);
}

/* Shows the state: redrawn in place on a terminal, else one line whenever status, reason or phase change. */
static void display_update(Display *d, const json_t *health, const char *unreachable, int64_t elapsed_ms)
{
        json_t *seeding = json_object_get(health, "seeding");
        char key[sizeof(d->last)], took[32];
        int width = stderr_width();

        if (d->tty) {
                _cleanup_free_ char *line = NULL;
                if (json_is_object(seeding))
                        line = render_progress_line(seeding, width);
                else {
                        _cleanup_free_ char *state =
                                unreachable ? xstrdup(unreachable) : render_health_line(health);
                        line = xasprintf("%s  %s", state,
                                         format_duration_ms(elapsed_ms, took, sizeof(took)));
                }
                size_t n = text_prefix_for_width(line, width > 1 ? (size_t) width - 1 : 1);
                fprintf(stderr, "\r\033[K%.*s", (int) n, line);
                fflush(stderr);
                d->drawn = true;
                return;
        }

        if (unreachable)
                bufprintf(key, sizeof(key), "%s", unreachable);
        else
                bufprintf(key, sizeof(key), "%s|%s|%s",
                          json_string_value(json_object_get(health, "status")) ?: "",
                          json_string_value(json_object_get(health, "reason")) ?: "",
                          json_string_value(json_object_get(seeding, "phase")) ?: "");
        if (streq(key, d->last))
                return;
        strlcpy0(d->last, key, sizeof(d->last));
        if (unreachable)
                fprintf(stderr, "%s\n", unreachable);
        else if (json_is_object(seeding)) {
                _cleanup_free_ char *line = render_progress_line(seeding, 100);
                fprintf(stderr, "%s\n", line);
        } else {
                _cleanup_free_ char *line = render_health_line(health);
                fprintf(stderr, "%s\n", line);
        }
        fflush(stderr);
}

/* Whether a local pgseedd holds its pidfile (it may be busy before its API is up).  False when unknown. */
static bool local_daemon_running(Ctl *ctl)
{
        const json_t *config;
        const char *dir;
        Error e = ERROR_INIT;
        pid_t pid;

        if (ctl->url_explicit || ctl_config(ctl, &config, &e) < 0)
                return false;
        dir = ctl_config_string(config, "pgseed.state_dir");
        return !isempty(dir) && pgseedd_running(dir, &pid) > 0;
}

/*
 * Nothing ever answered: "unreachable" (exit 3) whatever the last transfer
 * said -- refused, or a port that accepts but never replies.
 */
static int no_answer(Error *e, const Error *last, const char *took)
{
        *e = *last;
        if (e->errnum != EHOSTUNREACH)
                e->errnum = ECONNREFUSED;
        strlcpy0(e->hint, CTL_UNREACHABLE_HINT, sizeof(e->hint));
        if (took)
                return error_prefix(e, "No answer within %s: ", took);
        return -e->errnum;
}

int ctl_wait_ready(Ctl *ctl, double timeout_s, const WaitChild *child, json_t **ret, Error *e)
{
        const char *url = ctl_url(ctl);
        Display d = {.tty = isatty(STDERR_FILENO) && !streq_ptr(getenv("TERM"), "dumb")};
        int64_t start = now_mono_ms(), deadline = start + (int64_t) (timeout_s * 1000),
                unreachable_since = start;
        json_auto_t *last = NULL;
        bool answered = false;
        Error err = ERROR_INIT;
        _cleanup_free_ char *waiting = xasprintf("waiting for pgseedd to answer at %s", url);

        *ret = NULL;
        for (;;) {
                int64_t now = now_mono_ms(), left = deadline - now;
                double request_s = left > 5000 ? 5.0 : left < 500 ? 0.5 : (double) left / 1000.0;
                CtlResponse resp;
                int status, r;

                if (child && waitpid(child->pid, &status, WNOHANG) == child->pid) {
                        display_clear(&d);
                        return start_failure_describe(child, status, e);
                }

                r = ctl_http_request(url, "GET", "/health", request_s, &resp, &err);
                if (r == 0) {
                        json_t *body = NULL;
                        Error perr = ERROR_INIT;

                        answered = true;
                        unreachable_since = 0;
                        if (ctl_response_json(&resp, &body, &perr) == 0) {
                                json_decref(last);
                                last = body;
                        }
                        status = (int) resp.status;
                        ctl_response_done(&resp);
                        if (status == 200) {
                                display_clear(&d);
                                *ret = TAKE_PTR(last);
                                return 0;
                        }
                        if (status != 503) {
                                display_clear(&d);
                                error_set(e, EIO, NULL,
                                          "Is the URL pgseedd's API? Check --url / PGSEED_URL.",
                                          "Unexpected answer from %s/health: HTTP %d", url, status);
                                return -EIO;
                        }
                        display_update(&d, last, NULL, now - start);
                } else {
                        if (unreachable_since == 0)
                                unreachable_since = now;
                        /* With our own child we know whether it lives; otherwise give up after a grace
                         * period, unless a local pgseedd is demonstrably there (e.g. still initialising its
                         * cluster). */
                        if (!child && now - unreachable_since >= UNREACHABLE_GRACE_MS) {
                                if (!local_daemon_running(ctl)) {
                                        display_clear(&d);
                                        if (answered)
                                                return error_set(e, ECONNREFUSED, "unreachable",
                                                                 CTL_UNREACHABLE_HINT,
                                                                 "pgseedd stopped answering at %s (%s)", url,
                                                                 err.message);
                                        return no_answer(e, &err, NULL);
                                }
                                unreachable_since = now;
                        }
                        display_update(&d, NULL, waiting, now - start);
                }

                now = now_mono_ms();
                if (now >= deadline) {
                        char took[32];
                        display_clear(&d);
                        format_duration_ms((int64_t) (timeout_s * 1000), took, sizeof(took));
                        if (!answered)
                                return no_answer(e, &err, took);
                        _cleanup_free_ char *state =
                                last ? render_health_line(last) : xstrdup("pgseedd stopped answering");
                        return error_set(
                                e, ETIMEDOUT, "timeout",
                                "pgseedd keeps going: watch it with `pgseedctl status` or `make logs`.",
                                "Not ready after %s: %s", took, state);
                }
                sleep_ms(deadline - now < POLL_INTERVAL_MS ? deadline - now : POLL_INTERVAL_MS);
        }
}

/* How much of the daemon's log to look through for the reason it gave up. */
#define LOG_TAIL_BYTES (64 * 1024)

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

int cmd_wait(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {CTL_GLOBAL_OPTIONS, {}};
        json_auto_t *health = NULL;
        Error e = ERROR_INIT;
        int c, ex = 0;

        while ((c = ctl_getopt(ctl, "wait", argc, argv, "", opts, &ex)) >= 0)
                ;
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("wait", "unexpected argument '%s'", argv[optind]);

        if (ctl_wait_ready(ctl, ctl_timeout(ctl, CTL_DEFAULT_WAIT_S), NULL, &health, &e) < 0)
                return ctl_report(&e);
        if (ctl->json) {
                _cleanup_free_ char *text = json_dumps(health, JSON_INDENT(2));
                printf("%s\n", text ? text : "{}");
        } else {
                _cleanup_free_ char *line = health ? render_health_line(health) : xstrdup("ready");
                printf("%s\n", line);
        }
        return CTL_EXIT_OK;
}
