/* SPDX-License-Identifier: MIT */
/* main.c -- pgseedd: command line, start-up order, signals, orderly shutdown. */

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "access.h"
#include "api.h"
#include "clones.h"
#include "snapshots.h"
#include "config.h"
#include "daemon.h"
#include "export.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pgbouncer.h"
#include "pidfile.h"
#include "runtime.h"
#include "seed.h"
#include "supervisor.h"
#include "workload.h"
#include "http-tls.h"
#include "tls.h"

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

/*
 * Settings that a SIGHUP applies to the running daemon.  Everything else is
 * read once at start-up (ports, paths, runtime, dataset: changing them means
 * a different database), and a reload says which changed keys wait for a
 * restart.  The first list is copied into the running Config; the access
 * keys are not (other threads read the Config without a lock): the access
 * policy takes its own copy of them, swapped under its lock.
 */
static const char *const reloadable_keys[] = {
        "pgseed.log_level",
        NULL,
};
static const char *const access_keys[] = {
        "api.token_file", "api.auth", "api.cors_origin", "api.allowed_hosts", NULL,
};

static bool key_in(const char *const *list, const char *key)
{
        for (const char *const *k = list; *k; k++)
                if (streq(*k, key))
                        return true;
        return false;
}

static bool key_is_reloadable(const char *key)
{
        return key_in(reloadable_keys, key) || key_in(access_keys, key);
}

/* Applies the reloadable subset of next to the running daemon (next stays the caller's). */
static void reload_apply(Daemon *d, const Config *next)
{
        Error e = ERROR_INIT;
        LogLevel level;

        if (log_level_from_string(next->log_level, &level) == 0)
                log_set_level(level);
        if (access_policy_reload(d->access, next, &e) < 0)
                log_error("reload", "Failed to reload the API access policy, keeping the old one: %s%s%s",
                          e.message, *e.hint ? " -- " : "", e.hint);
        else
                log_info("reload", "API access policy reloaded (token %s)",
                         access_policy_has_token(d->access) ? "set" : "none");
}

static uint64_t now_mono_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/*
 * SIGHUP: re-reads the configuration the daemon started with (same file,
 * environment and flags), refuses it whole when it does not validate (the
 * running configuration stays, and the log says why), applies what can
 * change at run time and logs which changed keys need a restart.  Tells
 * systemd RELOADING=1 with MONOTONIC_USEC (systemd 253's Type=notify-reload
 * wants both) and READY=1 when done.
 */
static void daemon_reload(Daemon *d, const Options *o)
{
        _cleanup_(config_freep) Config *next = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        Error e = ERROR_INIT;
        size_t applied = 0, pending = 0;
        /*
         * Before the first READY=1 systemd is still waiting for the start-up
         * to finish: a READY=1 now would end it early, so the reload is done
         * without telling.
         */
        bool tell = supervisor_notified_ready(d->supervisor);

        if (tell)
                sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) now_mono_usec());
        log_info("reload", "Received SIGHUP, reloading the configuration");
        if (config_load(o->config_path, o->flags, &next, &e) < 0) {
                log_error("reload", "Failed to reload the configuration, keeping the running one: %s%s%s",
                          e.message, *e.hint ? " -- " : "", e.hint);
                if (tell)
                        sd_notify(0,
                                  "READY=1\nSTATUS=configuration reload failed; running configuration kept");
                return;
        }
        changed = config_changed_keys(d->config, next);
        for (char **k = changed; k && *k; k++) {
                if (key_is_reloadable(*k)) {
                        applied++;
                        log_info("reload", "%s changed: applied", *k);
                } else {
                        pending++;
                        log_warning("reload", "%s changed: restart pgseedd to apply it", *k);
                }
        }
        reload_apply(d, next);
        config_adopt_reloadable(d->config, next, reloadable_keys);
        log_info("reload", "Configuration reloaded: %zu change(s) applied, %zu waiting for a restart",
                 applied, pending);
        if (tell)
                sd_notify(0, "READY=1");
}

/*
 * The systemd watchdog: pinged from this (the main) thread, but only while
 * the supervisor loop shows signs of life, so that a stuck supervisor gets
 * the service restarted instead of being covered up by a healthy main
 * thread.  Returns the ping interval in ms (half of WATCHDOG_USEC), or -1
 * when systemd asked for no watchdog.
 */
static int64_t watchdog_interval_ms(void)
{
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
                return -1;
        return (int64_t) (usec / 2000u) > 0 ? (int64_t) (usec / 2000u) : 1;
}

static void watchdog_ping(Daemon *d, int64_t interval_ms, bool *stuck_logged)
{
        int64_t age = now_mono_ms() - supervisor_heartbeat_mono(d->supervisor);

        /* The loop ticks every 250 ms; a whole watchdog period without a tick means it is stuck. */
        if (age < 2 * interval_ms) {
                sd_notify(0, "WATCHDOG=1");
                *stuck_logged = false;
        } else if (!*stuck_logged) {
                log_error("watchdog",
                          "The supervisor loop has not run for %lld ms; not pinging the watchdog",
                          (long long) age);
                *stuck_logged = true;
        }
}

/* Waits for SIGTERM or SIGINT, serving SIGHUP (reload) and the watchdog meanwhile. */
static void wait_for_termination(Daemon *d, const Options *o, const sigset_t *set)
{
        int64_t interval = watchdog_interval_ms(), next_ping = 0;
        bool stuck_logged = false;

        for (;;) {
                int64_t now = now_mono_ms(), wait = interval < 0 ? 60000 : next_ping - now;
                struct timespec ts;
                int sig;

                if (interval >= 0 && wait <= 0) {
                        watchdog_ping(d, interval, &stuck_logged);
                        next_ping = now + interval;
                        continue;
                }
                ts.tv_sec = (time_t) (wait / 1000);
                ts.tv_nsec = (long) (wait % 1000) * 1000000L;
                sig = sigtimedwait(set, NULL, &ts);
                if (sig < 0)
                        continue; /* EAGAIN (timeout) or EINTR */
                if (sig == SIGHUP) {
                        daemon_reload(d, o);
                        continue;
                }
                log_info("signal", "Received %s, shutting down", strsignal(sig));
                return;
        }
}

/* A clone was handed out or returned: the lifecycle worker records and refills now. */
static void kick_upkeep(void *userdata)
{
        supervisor_kick_upkeep(userdata);
}

/*
 * A socket passed by systemd may be bound anywhere, whatever api.listen says:
 * the rule that a non-loopback address needs a token holds for it too.
 */
static int listen_address_check(Daemon *d, int fd, Error *e)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char host[INET6_ADDRSTRLEN] = "";
        int port = 0;

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return 0;
        if (ss.ss_family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host, sizeof(host));
                port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host, sizeof(host));
                port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
        } else
                return 0;
        if (access_policy_check_address(d->access, d->config, host, port, e) < 0) {
                log_error("startup", "%s -- %s", e->message, e->hint);
                return -EINVAL;
        }
        if (!access_host_is_loopback(host) && !access_policy_has_token(d->access) &&
            access_host_is_loopback(d->config->listen_host))
                log_warning("insecure_listen",
                            "Serving the API on %s:%d WITHOUT A TOKEN (allow_insecure_remote): anyone who "
                            "can reach this address can read and reset the database",
                            host, port);
        return 0;
}

static int run_daemon(Daemon *d, const Options *o)
{
        Error e = ERROR_INIT;
        _cleanup_close_ int pid_fd = -1;
        int api_fd = -1;
        sigset_t set, hup;

        /* A reload asked for during a long start-up (an image pull) waits for the loop below, rather than
         * killing us (SIGHUP's default action). */
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &hup, NULL);
        /* Who may use the API is configuration: a bad token file is a usage error, found before anything
         * runs. */
        if (access_policy_new(d->config, &d->access, &e) < 0) {
                log_error("startup", "%s%s%s", e.message, *e.hint ? " -- " : "", e.hint);
                print_error(&e);
                return EXIT_USAGE;
        }
        if (!access_host_is_loopback(d->config->listen_host) && !access_policy_has_token(d->access))
                log_warning("insecure_listen",
                            "Serving the API on %s:%d WITHOUT A TOKEN (allow_insecure_remote): anyone who "
                            "can reach this address can read and reset the database",
                            d->config->listen_host, d->config->listen_port);
        else if (!access_host_is_loopback(d->config->listen_host) && !config_api_tls_enabled(d->config))
                log_warning("cleartext_listen",
                            "Serving the API on %s:%d over plain HTTP: the token and the data cross the "
                            "network readable; set [api] tls_cert and tls_key (PGSEED_API_TLS_CERT, "
                            "PGSEED_API_TLS_KEY) to serve HTTPS",
                            d->config->listen_host, d->config->listen_port);
        if (pidfile_acquire(d->config->state_dir, &pid_fd, &e) < 0)
                goto fail;
        /* A bad certificate or an open key is found before anything runs, like a bad token file. */
        if (http_tls_new(d->config, &d->api_tls, &e) < 0) {
                log_error("startup", "%s%s%s", e.message, *e.hint ? " -- " : "", e.hint);
                print_error(&e);
                pidfile_release(d->config->state_dir, TAKE_FD(pid_fd));
                return EXIT_USAGE;
        }
        /* Bind the API before touching Postgres: a second instance on the same port fails fast and
         * harmlessly. */
        if (http_listen(d->config, &api_fd, &e) < 0)
                goto fail;
        if (listen_address_check(d, api_fd, &e) < 0) {
                print_error(&e);
                close(api_fd);
                pidfile_release(d->config->state_dir, TAKE_FD(pid_fd));
                return EXIT_USAGE;
        }
        if (runtime_new(d->config, &d->runtime, &e) < 0)
                goto fail;
        log_info("runtime", "Using the %s runtime (%s)", runtime_name(d->runtime), d->runtime->why);
        if (tls_prepare(d->config, runtime_name(d->runtime), &e) < 0)
                goto fail;
        if (d->config->pgbouncer && pgbouncer_new(d->config, d->runtime, &d->pgbouncer, &e) < 0)
                goto fail;
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
        d->clones = clones_new(d->config, d->metrics);
        d->workload = workload_new(d->config);
        seeder_set_clones(d->seeder, d->clones);
        d->snapshots = snapshots_new(d->config);
        seeder_set_snapshots(d->seeder, d->snapshots);
        seeder_set_pgbouncer(d->seeder, d->pgbouncer);
        clones_set_pgbouncer(d->clones, d->pgbouncer);
        clones_set_runtime(d->clones, d->runtime);
        d->supervisor = supervisor_new(d, NULL);
        clones_set_kick(d->clones, kick_upkeep, d->supervisor);
        if (supervisor_start(d->supervisor, &e) < 0)
                goto fail;
        if (d->pgbouncer && pgbouncer_start(d->pgbouncer, &e) < 0)
                goto fail;
        if (http_server_start(d, api_routes, api_routes_count, api_fd, &d->http, &e) < 0)
                goto fail;
        api_fd = -1;
        log_info("listening", "API on %s://%s:%d (Postgres on %s:%d, state in %s)",
                 d->api_tls ? "https" : "http", d->config->listen_host, d->config->listen_port,
                 d->config->pg_host, d->config->pg_port, d->config->state_dir);

        wait_for_termination(d, o, &set);

        atomic_store(&d->stopping, true);
        sd_notify(0, "STOPPING=1");
        /* Parked requests (resets) are answered first, so that stopping the server need not wait for them.
         */
        supervisor_cancel_work(d->supervisor);
        clones_cancel_waits(d->clones);
        http_server_stop(d->http);
        d->http = NULL;
        workload_stop(d->workload, "pgseedd stopped");
        pgbouncer_stop(d->pgbouncer);
        supervisor_stop(d->supervisor);
        pidfile_release(d->config->state_dir, TAKE_FD(pid_fd));
        log_info("stopped", "pgseedd stopped");
        return 0;

fail:
        log_error("startup", "%s%s%s", e.message, *e.hint ? " -- " : "", e.hint);
        print_error(&e);
        if (api_fd >= 0)
                close(api_fd);
        if (d->workload)
                workload_stop(d->workload, "pgseedd stopped");
        pgbouncer_stop(d->pgbouncer);
        if (d->supervisor)
                supervisor_stop(d->supervisor);
        if (pid_fd >= 0)
                pidfile_release(d->config->state_dir, TAKE_FD(pid_fd));
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
                strv_free(o.flags);
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
                r = run_daemon(&d, &o);
        }

        supervisor_free(d.supervisor);
        pgbouncer_free(d.pgbouncer);
        seeder_free(d.seeder);
        clones_free(d.clones);
        workload_free(d.workload);
        snapshots_free(d.snapshots);
        runtime_free(d.runtime);
        metrics_free(d.metrics);
        health_cache_free(d.health_cache);
        access_policy_free(d.access);
        http_tls_free(d.api_tls);
        config_free(d.config);
        strv_free(o.flags);
        return r;
}
