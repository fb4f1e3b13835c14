/* SPDX-License-Identifier: MIT */
/* ctl.c -- what every command shares: option parsing, the API URL, pgseedd's config, error reporting. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "config.h"
#include "ctl.h"
#include "ctl-daemon.h"
#include "ctl-http.h"

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "pgseedctl: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n  hint: Run 'pgseedctl %s%s--help' for usage.\n", cmd ? cmd : "", cmd ? " " : "");
        return CTL_EXIT_USAGE;
}

int ctl_report(const Error *e)
{
        fprintf(stderr, "pgseedctl: %s\n", *e->message ? e->message : strerror(e->errnum ? e->errnum : EIO));
        if (*e->hint)
                fprintf(stderr, "  hint: %s\n", e->hint);
        if (e->errnum == ECONNREFUSED || e->errnum == EHOSTUNREACH)
                return CTL_EXIT_UNREACHABLE;
        return CTL_EXIT_FAILED;
}

char *ctl_url_normalize(const char *s)
{
        char *u;
        size_t n;

        if (!startswith(s, "http://") && !startswith(s, "https://"))
                return NULL;
        u = xstrdup(s);
        n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
                u[--n] = '\0';
        if (strlen(u) <= strlen("https://")) {
                free(u);
                return NULL;
        }
        return u;
}

int ctl_global_option(Ctl *ctl, const char *cmd, int id, const char *arg)
{
        char *end;
        double t;

        switch (id) {
        case CTL_OPT_URL: {
                char *u = ctl_url_normalize(arg);
                if (!u)
                        return ctl_usage_error(cmd, "--url needs an http:// or https:// URL, not '%s'", arg);
                free(ctl->url);
                ctl->url = u;
                ctl->url_explicit = true;
                return 0;
        }
        case CTL_OPT_JSON:
                ctl->json = true;
                return 0;
        case CTL_OPT_CACERT:
                if (isempty(arg))
                        return ctl_usage_error(cmd, "--cacert needs a CA certificate file");
                free(ctl->cacert);
                ctl->cacert = xstrdup(arg);
                return 0;
        case CTL_OPT_TIMEOUT:
                errno = 0;
                t = strtod(arg, &end);
                if (errno != 0 || end == arg || *end || !isfinite(t) || t <= 0 || t > 86400)
                        return ctl_usage_error(cmd, "--timeout needs seconds (0 < S <= 86400), not '%s'",
                                               arg);
                ctl->timeout_s = t;
                return 0;
        }
        return ctl_usage_error(cmd, "internal: unhandled option %d", id);
}

int ctl_getopt(Ctl *ctl, const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *ret_exit)
{
        char spec[32];

        /* A leading ':' makes getopt report a missing argument as ':' rather than '?', and print nothing. */
        snprintf(spec, sizeof(spec), ":h%s", shortopts ? shortopts : "");
        opterr = 0;
        for (;;) {
                int c = getopt_long(argc, argv, spec, longopts, NULL);

                switch (c) {
                case CTL_OPT_URL:
                case CTL_OPT_JSON:
                case CTL_OPT_TIMEOUT:
                case CTL_OPT_CACERT:
                        *ret_exit = ctl_global_option(ctl, cmd, c, optarg);
                        if (*ret_exit != 0)
                                return -2;
                        continue;
                case 'h':
                case CTL_OPT_HELP:
                        ctl->print_usage(cmd);
                        *ret_exit = CTL_EXIT_OK;
                        return -2;
                case ':':
                        *ret_exit = ctl_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
                        return -2;
                case '?':
                        if (optopt)
                                *ret_exit = ctl_usage_error(cmd, "unknown option '-%c'", optopt);
                        else
                                *ret_exit = ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
                        return -2;
                default:
                        return c;
                }
        }
}

int ctl_parse_no_args(Ctl *ctl, const char *cmd, int argc, char **argv)
{
        static const struct option opts[] = {CTL_GLOBAL_OPTIONS, {}};
        int c, ex = 0;

        while ((c = ctl_getopt(ctl, cmd, argc, argv, "", opts, &ex)) >= 0)
                ;
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
}

const char *ctl_config_string(const json_t *config, const char *key)
{
        return json_string_value(json_object_get(config, key));
}

/*
 * pgseedd's effective configuration read in this process, by the same code
 * pgseedd links (file, PGSEED_* environment, defaults), as the JSON
 * `pgseedd --print-config=json` prints: a health check without PGSEED_URL or
 * PGSEED_TOKEN then costs what curl does instead of a fork and exec (twice the
 * time).  Only for the pgseedd of this build: with $PGSEEDD naming another
 * binary, that binary is asked; a configuration that does not load is left to
 * pgseedd too, so that its error reads the same.
 */
static json_t *config_read_here(void)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL;
        Error e = ERROR_INIT;
        json_t *j;

        if (!isempty(getenv("PGSEEDD")) || config_load(NULL, NULL, &c, &e) < 0)
                return NULL;
        text = config_format(c, true);
        j = text ? json_loads(text, 0, NULL) : NULL;
        if (j && !json_is_object(j)) {
                json_decref(j);
                return NULL;
        }
        return j;
}

int ctl_config(Ctl *ctl, const json_t **ret, Error *e)
{
        if (!ctl->pgseedd_looked) {
                ctl->pgseedd_looked = true;
                ctl->pgseedd = pgseedd_find();
                if (!ctl->pgseedd)
                        error_set(
                                &ctl->config_error, ENOENT, "no_pgseedd",
                                "Build it with `make build`, or point PGSEEDD at the binary.",
                                "Cannot find pgseedd (looked at $PGSEEDD, next to pgseedctl, and in PATH)");
                else if (!(ctl->config = config_read_here()) &&
                         pgseedd_print_config(ctl->pgseedd, &ctl->config, &ctl->config_error) < 0)
                        ctl->config = NULL;
        }
        if (!ctl->config) {
                *e = ctl->config_error;
                return -e->errnum;
        }
        *ret = ctl->config;
        return 0;
}

/* Reads a token file as pgseedd does (one trailing newline dropped); NULL with problem filled on failure. */
static char *token_read(const char *path, char *problem, size_t size)
{
        char *text = NULL;
        int r = read_full_file(path, &text, NULL);
        size_t n;

        if (r < 0) {
                bufprintf(problem, size, "cannot read the token file %s (%s)", path, strerror(-r));
                return NULL;
        }
        n = strlen(text);
        if (n > 0 && text[n - 1] == '\n')
                text[--n] = '\0';
        if (n > 0 && text[n - 1] == '\r')
                text[--n] = '\0';
        if (n == 0) {
                bufprintf(problem, size, "the token file %s is empty", path);
                free(text);
                return NULL;
        }
        return text;
}

/* $PGSEED_TOKEN, else $PGSEED_TOKEN_FILE, else pgseedd's api.token_file (from its configuration). */
static void token_resolve(Ctl *ctl)
{
        const char *env = ctl->token_env, *path = getenv("PGSEED_TOKEN_FILE");
        const json_t *config;
        Error ignore = ERROR_INIT;
        char problem[600] = "";
        _cleanup_free_ char *token = NULL;

        if (!isempty(env)) {
                ctl_http_set_token(env, "PGSEED_TOKEN", NULL);
                return;
        }
        if (isempty(path) && ctl_config(ctl, &config, &ignore) == 0)
                path = ctl_config_string(config, "api.token_file");
        if (isempty(path))
                return;
        token = token_read(path, problem, sizeof(problem));
        ctl_http_set_token(token, path, token ? NULL : problem);
        if (token)
                explicit_bzero(token, strlen(token));
}

const char *ctl_url(Ctl *ctl)
{
        const json_t *config;
        Error e = ERROR_INIT;

        if (!ctl->token_looked) {
                const char *ca = ctl->cacert ? ctl->cacert : getenv("PGSEED_CA");
                ctl->token_looked = true;
                token_resolve(ctl);
                if (!isempty(ca)) {
                        ctl_http_set_ca(ca);
                        ctl->ca_given = true;
                }
        }
        if (ctl->url)
                return ctl->url;
        /* Without a usable pgseedd (or with a broken config) the default is the best guess; commands that
         * need the configuration itself report why it is missing.  Its api_url says http or https (an
         * older pgseedd's has only api.listen). */
        if (ctl_config(ctl, &config, &e) == 0) {
                const char *url = ctl_config_string(config, "api_url");
                ctl->url = url ? xstrdup(url) : api_url_from_listen(ctl_config_string(config, "api.listen"));
                /* pgseedd's own CA fits the URL from its own configuration, not one given elsewhere. */
                const char *ca = ctl_config_string(config, "api_ca_file");
                if (!ctl->ca_given && !isempty(ca))
                        ctl_http_set_ca(ca);
        }
        if (!ctl->url)
                ctl->url = xstrdup(CTL_DEFAULT_URL);
        return ctl->url;
}

double ctl_timeout(const Ctl *ctl, double def)
{
        return ctl->timeout_s > 0 ? ctl->timeout_s : def;
}
