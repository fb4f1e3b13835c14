/* SPDX-License-Identifier: MIT */
/* ctl.h -- pgseedctl's shared state: the API URL and token, its configuration, exit codes, the global
 * options. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

/* Exit codes; `pgseedctl --help` documents them and the Makefile and tests rely on them. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,      /* unhealthy, or the operation failed */
        CTL_EXIT_USAGE = 2,       /* bad command line, or a confirmation refused */
        CTL_EXIT_UNREACHABLE = 3, /* nothing answers at the API URL */
};

#define CTL_DEFAULT_URL       "http://127.0.0.1:7432"
#define CTL_DEFAULT_TIMEOUT_S 10.0  /* one API request */
#define CTL_DEFAULT_WAIT_S    300.0 /* wait, start: until the database is ready */
#define CTL_STOP_TIMEOUT_S    60

typedef struct Ctl {
        char *url;                            /* API base URL, no trailing slash; resolved on first use */
        bool url_explicit;                    /* from --url or $PGSEED_URL */
        bool json;                            /* --json: raw API bodies on stdout */
        double timeout_s;                     /* --timeout, or < 0 for the command's default */
        char *pgseedd;                        /* path of the pgseedd binary, or NULL when it was not found */
        bool pgseedd_looked;                  /* pgseedd was searched for */
        json_t *config;                       /* as `pgseedd --print-config=json` prints it; first use */
        Error config_error;                   /* why config is NULL after a failed load */
        bool token_looked;                    /* the API token was resolved (ctl_url does it) */
        char *token_env;                      /* $PGSEED_TOKEN, taken out of the environment by main() */
        char *cacert;                         /* --cacert: the CA an https:// API is verified with */
        bool ca_given;                        /* --cacert or $PGSEED_CA: pgseedd's api_ca_file is not used */
        void (*print_usage)(const char *cmd); /* `COMMAND --help`; the command table is main()'s */
} Ctl;

/*
 * The API base URL: --url, $PGSEED_URL, pgseedd's api.listen, or
 * CTL_DEFAULT_URL.  Never NULL.  On first use it also resolves the API token
 * ($PGSEED_TOKEN, else the file named by $PGSEED_TOKEN_FILE or pgseedd's
 * api.token_file) and hands it to the HTTP client (ctl_http_set_token), and
 * the CA certificate for an https:// URL (--cacert, else $PGSEED_CA, else,
 * for the URL from pgseedd's configuration, the api_ca_file it names).
 */
const char *ctl_url(Ctl *ctl);

/* pgseedd's effective configuration (borrowed).  Returns 0, or -errno with e saying why (no pgseedd, bad
 * config). */
int ctl_config(Ctl *ctl, const json_t **ret, Error *e);
/* One string from the configuration ("pgseed.state_dir"), or NULL. */
const char *ctl_config_string(const json_t *config, const char *key);

/* The timeout that applies: --timeout when given, else def. */
double ctl_timeout(const Ctl *ctl, double def);

/*
 * Prints `pgseedctl: MESSAGE` and, when there is one, `  hint: HINT` on
 * stderr.  Returns the exit code for the error: CTL_EXIT_UNREACHABLE when
 * nothing answered (ECONNREFUSED, EHOSTUNREACH), else CTL_EXIT_FAILED.
 */
int ctl_report(const Error *e);
/* Prints a usage error for cmd (NULL: the global command line) and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/* Checks a --url/$PGSEED_URL value and drops trailing slashes; returns a new string, or NULL if not http(s).
 */
char *ctl_url_normalize(const char *s);

/* Applies one global option (CTL_OPT_URL, _JSON, _TIMEOUT) to ctl; returns 0 or a usage error's exit code.
 */
int ctl_global_option(Ctl *ctl, const char *cmd, int id, const char *arg);

/* The global options, accepted before the command and after it; put them at the end of a command's table. */
enum {
        CTL_OPT_URL = 0x100,
        CTL_OPT_JSON,
        CTL_OPT_TIMEOUT,
        CTL_OPT_CACERT,
        CTL_OPT_HELP,
        CTL_OPT_COMMAND, /* first id free for commands' long-only options */
};
#define CTL_GLOBAL_OPTIONS                                                                                  \
        {"url", required_argument, NULL, CTL_OPT_URL}, {"json", no_argument, NULL, CTL_OPT_JSON},           \
                {"timeout", required_argument, NULL, CTL_OPT_TIMEOUT},                                      \
                {"cacert", required_argument, NULL, CTL_OPT_CACERT},                                        \
        {                                                                                                   \
                "help", no_argument, NULL, CTL_OPT_HELP                                                     \
        }

/*
 * getopt_long for one command (argv[0] is the command's name).  Applies the
 * global options to ctl itself and returns the command's own options one by
 * one; returns -1 when they are done (positional arguments start at optind),
 * or -2 with *ret_exit set after printing --help (0) or a usage error (2).
 */
int ctl_getopt(Ctl *ctl, const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *ret_exit);

/* For commands that take only the global options: returns -1 to go on, else the exit code to return. */
int ctl_parse_no_args(Ctl *ctl, const char *cmd, int argc, char **argv);
