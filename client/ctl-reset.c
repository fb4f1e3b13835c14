/* SPDX-License-Identifier: MIT */
/* ctl-reset.c -- `pgseedctl reset` and `restore NAME`: confirmation first, then POST /reset and a summary.
 */

#include <errno.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"
#include "ctl-render.h"

#define RESET_TIMEOUT_S 300.0 /* an in-place reset of a large dataset rewrites every row */

/* Asks on the terminal; true only for an answer starting with y or Y. */
static bool confirm(const char *database, const char *from)
{
        char line[64];
        const char *p = line;

        if (from)
                fprintf(stderr, "Reset database %s to snapshot %s? All changes are lost. [y/N] ", database,
                        from);
        else
                fprintf(stderr, "Reset database %s to its seeded state? All changes are lost. [y/N] ",
                        database);
        fflush(stderr);
        if (!fgets(line, sizeof(line), stdin))
                return false;
        while (*p == ' ' || *p == '\t')
                p++;
        return *p == 'y' || *p == 'Y';
}

/* The working database's name for the question: from /health, else the configuration, else the default. */
static char *database_name(Ctl *ctl, Error *e)
{
        const json_t *config;
        CtlResponse resp;
        json_auto_t *health = NULL;
        Error ignore = ERROR_INIT;
        const char *name = NULL;
        int r;

        /* Asking only to be told afterwards that nothing answers would waste the user's answer. */
        r = ctl_http_request(ctl_url(ctl), "GET", "/health", ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S), &resp,
                             e);
        if (r < 0)
                return NULL;
        if (ctl_response_json(&resp, &health, &ignore) == 0)
                name = json_string_value(json_object_get(json_object_get(health, "database"), "name"));
        ctl_response_done(&resp);
        if (!name && !ctl->url_explicit && ctl_config(ctl, &config, &ignore) == 0)
                name = ctl_config_string(config, "postgres.database");
        return xstrdup(name ? name : "app");
}

/* reset, or restore (from: the snapshot NAME argument). */
static int reset_run(Ctl *ctl, const char *cmd, int argc, char **argv)
{
        static const struct option opts[] = {
                {"yes", no_argument, NULL, 'y'},
                {"mode", required_argument, NULL, 'm'},
                {"tables", required_argument, NULL, 't'},
                CTL_GLOBAL_OPTIONS,
                {},
        };
        _cleanup_free_ char *path = NULL, *database = NULL, *qtables = NULL, *from_q = NULL;
        const char *mode = NULL, *tables = NULL, *from = NULL;
        json_auto_t *body = NULL;
        CtlResponse resp;
        Error e = ERROR_INIT;
        bool yes = false;
        int c, ex = 0, r;

        bool restore = streq(cmd, "restore");
        while ((c = ctl_getopt(ctl, cmd, argc, argv, "y", opts, &ex)) >= 0) {
                if (c == 'y')
                        yes = true;
                else if (c == 'm' && !restore)
                        mode = optarg;
                else if (c == 'm')
                        return ctl_usage_error(cmd, "a snapshot is restored from its copy: no --mode");
                else if (c == 't' && !restore)
                        tables = optarg;
                else if (c == 't')
                        return ctl_usage_error(cmd, "a snapshot is restored whole: no --tables");
        }
        if (c == -2)
                return ex;
        if (restore) {
                if (optind + 1 != argc)
                        return ctl_usage_error(
                                cmd, "takes exactly one snapshot NAME (see `pgseedctl snapshots`)");
                from = argv[optind++];
                _cleanup_free_ char *esc = ctl_http_escape(from);
                from_q = xasprintf("&from=%s", esc);
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (mode && !streq(mode, "template") && !streq(mode, "inplace"))
                return ctl_usage_error(cmd, "--mode takes template or inplace, not '%s'", mode);

        if (!yes) {
                /* A script or CI job must say --yes explicitly: nobody is there to answer the question. */
                if (!isatty(STDIN_FILENO)) {
                        error_set(&e, EINVAL, "confirmation_needed",
                                  restore ? "Pass --yes (`make restore NAME=N`) to restore without asking."
                                          : "Pass --yes (`make reset YES=1`) to reset without asking.",
                                  "refusing to reset without confirmation: stdin is not a terminal");
                        ctl_report(&e);
                        return CTL_EXIT_USAGE;
                }
                database = database_name(ctl, &e);
                if (!database)
                        return ctl_report(&e);
                if (!confirm(database, from)) {
                        fprintf(stderr, "Not reset.\n");
                        return CTL_EXIT_FAILED;
                }
        }

        /* The server bounds its wait by the same --timeout, a second short of ours, so that its 504 (which
         * says the reset goes on) arrives before our own timeout would cut the request. */
        double timeout = ctl_timeout(ctl, RESET_TIMEOUT_S);
        int server_timeout = timeout > 2 ? (int) timeout - 1 : 1;
        /* Without --mode: template, or with --tables the server's default for them (in place). */
        if (!mode && !tables)
                mode = "template";
        qtables = tables ? ctl_http_escape(tables) : NULL;
        path = xasprintf("/reset?%s%s%stimeout=%d%s%s%s", mode ? "mode=" : "", mode ? mode : "",
                         mode ? "&" : "", server_timeout > 3600 ? 3600 : server_timeout,
                         qtables ? "&tables=" : "", qtables ? qtables : "", from_q ? from_q : "");
        r = ctl_http_request(ctl_url(ctl), "POST", path, timeout, &resp, &e);
        if (r < 0)
                return ctl_report(&e);
        if (resp.status < 200 || resp.status >= 300) {
                ctl_api_error(&resp, &e);
                ctl_response_done(&resp);
                return ctl_report(&e);
        }
        if (ctl->json)
                printf("%.*s%s", (int) resp.len, resp.body,
                       resp.len > 0 && resp.body[resp.len - 1] == '\n' ? "" : "\n");
        else if (ctl_response_json(&resp, &body, &e) < 0) {
                ctl_response_done(&resp);
                return ctl_report(&e);
        } else {
                _cleanup_free_ char *line = render_reset(body);
                printf("%s\n", line);
        }
        ctl_response_done(&resp);
        return CTL_EXIT_OK;
}

int cmd_reset(Ctl *ctl, int argc, char **argv)
{
        return reset_run(ctl, "reset", argc, argv);
}

int cmd_restore(Ctl *ctl, int argc, char **argv)
{
        return reset_run(ctl, "restore", argc, argv);
}
