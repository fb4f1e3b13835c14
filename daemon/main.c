/* SPDX-License-Identifier: MIT */
/* main.c -- pgseedd: command line, start-up order, signals, orderly shutdown. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "export.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "seed.h"
#include "supervisor.h"

#define EXIT_USAGE 2

typedef struct Options {
        const char *config_path;
        bool print_config;
        bool print_json;
        bool remove;
        bool volumes;
        const char *export_dir;
        char **flags; /* "name=value" config flags */
        size_t n_flags;
} Options;

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: pgseedd [OPTIONS] [--KEY=VALUE ...]\n"
                "\n"
                "Keeps a seeded PostgreSQL database alive (in Docker or as a local process) and serves\n"
                "/health, /schema, /sample, /reset, /logs and /metrics as JSON over HTTP.\n"
                "\n"
                "Options:\n"
                "  --config PATH          read this config file (default config/pgseedd.conf in the source\n"
                "                         tree, else /etc/pgseed/pgseedd.conf; $PGSEED_CONFIG)\n"
                "  --print-config[=json]  print the effective configuration (password masked) and exit\n"
                "  --remove [--volumes]   remove the Postgres container (and its data with --volumes) and "
                "exit\n"
                "  --export-dataset DIR   write the dataset as COPY text files into DIR and exit\n"
                "  --help                 this text\n"
                "  --version              print the version\n"
                "\n"
                "Configuration (flag, environment variable, [section] in the file):\n");
        config_print_help();
        fprintf(f, "\nExit status: 0 clean shutdown, 1 start-up failure, 2 bad configuration or usage.\n");
}

static void die_usage(const char *fmt, ...) _noreturn_ _printf_(1, 2);
static void die_usage(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "pgseedd: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nRun 'pgseedd --help' for usage.\n");
        exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv, Options *o)
{
        o->flags = xcalloc((size_t) argc + 1, sizeof(char *));
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *name = startswith(a, "--");
                _cleanup_free_ char *key = NULL;
                const char *value = NULL, *eq;

                if (!name || !*name)
                        die_usage("unexpected argument '%s'", a);
                eq = strchr(name, '=');
                key = eq ? strndup(name, (size_t) (eq - name)) : xstrdup(name);
                if (eq)
                        value = eq + 1;

                if (streq(key, "help")) {
                        usage(stdout);
                        exit(0);
                } else if (streq(key, "version")) {
                        printf("pgseedd %s\n", PGSEED_VERSION);
                        exit(0);
                } else if (streq(key, "print-config")) {
                        o->print_config = true;
                        if (value && !streq(value, "json") && !streq(value, "ini"))
                                die_usage("--print-config takes 'json' or 'ini', not '%s'", value);
                        o->print_json = value && streq(value, "json");
                } else if (streq(key, "remove"))
                        o->remove = true;
                else if (streq(key, "volumes"))
                        o->volumes = true;
                else if (streq(key, "config") || streq(key, "export-dataset") || config_flag_is_known(key)) {
                        if (!value) {
                                if (i + 1 >= argc)
                                        die_usage("--%s needs a value", key);
                                value = argv[++i];
                        }
                        if (streq(key, "config"))
                                o->config_path = value;
                        else if (streq(key, "export-dataset"))
                                o->export_dir = value;
                        else
                                o->flags[o->n_flags++] = xasprintf("%s=%s", key, value);
                } else
                        die_usage("unknown option '%s'", a);
        }
}

static void print_error(const Error *e)
{
        fprintf(stderr, "pgseedd: %s\n", e->message);
        if (*e->hint)
                fprintf(stderr, "  hint: %s\n", e->hint);
}

/*
 * The pidfile doubles as a lock: two daemons on one state directory would
 * fight over the same data directory.  The lock lives as long as the fd.
 */
static int pidfile_acquire(const Config *c, int *ret_fd, Error *e)
{
        _cleanup_free_ char *path = xasprintf("%s/pgseedd.pid", c->state_dir);
        _cleanup_close_ int fd = -1;
        char buf[32];
        int r;

        r = mkdir_p(c->state_dir, 0755);
        if (r < 0)
                return error_set(e, -r, "state_dir", "Set PGSEED_STATE_DIR to a writable directory.",
                                 "Cannot create state directory %s: %s", c->state_dir, strerror(-r));
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return error_set(e, errno, "state_dir", NULL, "Cannot open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                return error_set(
                        e, EBUSY, "already_running",
                        "Stop it first (`pgseedctl stop`), or give this one its own PGSEED_STATE_DIR.",
                        "Another pgseedd (pid %s) is running with state directory %s", buf, c->state_dir);
        }
        snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
                return error_set(e, errno, NULL, NULL, "Cannot write %s: %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void pidfile_release(const Config *c, int fd)
{
        _cleanup_free_ char *path = xasprintf("%s/pgseedd.pid", c->state_dir);

        if (fd < 0)
                return;
        unlink(path);
        close(fd);
}

static int run_remove(Config *c, bool volumes)
{
        _cleanup_(runtime_freep) Runtime *rt = NULL;
        Error e = ERROR_INIT;

        if (runtime_new(c, &rt, &e) < 0 || runtime_remove(rt, volumes, &e) < 0) {
                print_error(&e);
                return 1;
        }
        printf("Removed the %s Postgres%s.\n", runtime_name(rt), volumes ? " and its data" : " (data kept)");
        return 0;
}

/* Blocks until SIGTERM or SIGINT; logs and ignores SIGHUP. */
static void wait_for_termination(const sigset_t *set)
{
        for (;;) {
                int sig = 0;

                if (sigwait(set, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        log_info("signal",
                                 "SIGHUP ignored: configuration is read at start-up; restart pgseedd");
                        continue;
                }
                log_info("signal", "Received %s, shutting down", strsignal(sig));
                return;
        }
}

static int run_daemon(Daemon *d)
{
        Error e = ERROR_INIT;
        _cleanup_close_ int pid_fd = -1;
        int api_fd = -1;
        sigset_t set;

        if (pidfile_acquire(d->config, &pid_fd, &e) < 0)
                goto fail;
        /* Bind the API before touching Postgres: a second instance on the same port fails fast and
         * harmlessly. */
        if (http_listen(d->config, &api_fd, &e) < 0)
                goto fail;
        if (runtime_new(d->config, &d->runtime, &e) < 0)
                goto fail;
        log_info("runtime", "Using the %s runtime (%s)", runtime_name(d->runtime), d->runtime->why);
        if (runtime_prepare(d->runtime, &e) < 0)
                goto fail;

        /* Every thread created from here on inherits this mask; the signals arrive only in sigwait below. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        d->seeder = seeder_new(d->config, d->metrics);
        d->supervisor = supervisor_new(d, NULL);
        if (supervisor_start(d->supervisor, &e) < 0)
                goto fail;
        if (http_server_start(d, api_routes, api_routes_count, api_fd, &d->http, &e) < 0)
                goto fail;
        api_fd = -1;
        log_info("listening", "API on http://%s:%d (Postgres on 127.0.0.1:%d, state in %s)",
                 d->config->listen_host, d->config->listen_port, d->config->pg_port, d->config->state_dir);

        wait_for_termination(&set);

        atomic_store(&d->stopping, true);
        sd_notify(0, "STOPPING=1");
        /* Parked requests (resets) are answered first, so that stopping the server need not wait for them.
         */
        supervisor_cancel_work(d->supervisor);
        http_server_stop(d->http);
        d->http = NULL;
        supervisor_stop(d->supervisor);
        pidfile_release(d->config, TAKE_FD(pid_fd));
        log_info("stopped", "pgseedd stopped");
        return 0;

fail:
        log_error("startup", "%s%s%s", e.message, *e.hint ? " -- " : "", e.hint);
        print_error(&e);
        if (api_fd >= 0)
                close(api_fd);
        if (d->supervisor)
                supervisor_stop(d->supervisor);
        if (pid_fd >= 0)
                pidfile_release(d->config, TAKE_FD(pid_fd));
        return 1;
}

int main(int argc, char **argv)
{
        Options o = {0};
        Daemon d = {0};
        Error e = ERROR_INIT;
        LogLevel level;
        int r;

        parse_args(argc, argv, &o);
        if (config_load(o.config_path, o.flags, &d.config, &e) < 0) {
                print_error(&e);
                return EXIT_USAGE;
        }
        if (log_level_from_string(d.config->log_level, &level) == 0)
                log_set_level(level);

        if (o.print_config) {
                _cleanup_free_ char *text = config_format(d.config, o.print_json);
                printf("%s\n", text);
                r = 0;
        } else if (o.remove)
                r = run_remove(d.config, o.volumes);
        else if (o.export_dir)
                r = dataset_export(d.config, o.export_dir, &e) < 0 ? (print_error(&e), 1) : 0;
        else {
                d.started_mono_ms = now_mono_ms();
                d.metrics = metrics_new();
                r = run_daemon(&d);
        }

        supervisor_free(d.supervisor);
        seeder_free(d.seeder);
        runtime_free(d.runtime);
        metrics_free(d.metrics);
        health_cache_free(d.health_cache);
        config_free(d.config);
        strv_free(o.flags);
        return r;
}
