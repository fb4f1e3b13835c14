/* SPDX-License-Identifier: MIT */
/* ctl.h -- pgseedctl's modules: global state, the HTTP client, rendering, the local daemon's process. */
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
#define CTL_UNREACHABLE_HINT                                                                                \
        "Start it with `make start` (or `pgseedctl start`); if it listens elsewhere pass --url or set "     \
        "PGSEED_URL."

/* ---- shared state and plumbing (ctl.c) ------------------------------------------ */

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

/* ---- HTTP (ctl-http.c) ---------------------------------------------------- */

typedef struct CtlResponse {
        long status; /* HTTP status */
        char *body;  /* NUL-terminated */
        size_t len;
} CtlResponse;

void ctl_response_done(CtlResponse *r);

/*
 * One request to the API: method on base_url + path (path includes the query
 * string, already escaped).  Returns 0 for any HTTP answer (check ret->status),
 * -ECONNREFUSED/-EHOSTUNREACH when nothing answered, or -ETIMEDOUT when the
 * answer took longer than timeout_s; e says which and what to do.
 */
int ctl_http_request(const char *base_url, const char *method, const char *path, double timeout_s,
                     CtlResponse *ret, Error *e);

/*
 * GET base_url + path and copy a successful (2xx) body to out as it arrives,
 * flushing each piece (for /logs?follow=1).  timeout_s <= 0 means no limit on
 * the transfer.  Returns 0 when the server ends the body, -errno as above, or
 * -EIO with e filled from the API's error JSON when it answered 4xx/5xx.
 */
int ctl_http_stream(const char *base_url, const char *path, double timeout_s, FILE *out, Error *e);

/* POST base_url + path with the regular file in as the body (application/octet-stream); as ctl_http_request.
 */
int ctl_http_upload(const char *base_url, const char *path, double timeout_s, FILE *in, CtlResponse *ret,
                    Error *e);

/*
 * The bearer token every later request sends (NULL: none), and where it came
 * from ("PGSEED_TOKEN", a file's path) for messages.  problem, when not NULL,
 * says why a configured token could not be read; a 401 answer repeats it.
 * Copies all three.  Not thread-safe: pgseedctl sets it once, before any request.
 */
void ctl_http_set_token(const char *token, const char *source, const char *problem);

/* The CA certificate file every later https:// request verifies pgseedd with (NULL: the system's CAs).
 * Copies it.  Not thread-safe, like ctl_http_set_token(). */
void ctl_http_set_ca(const char *path);

/* URL-encodes one query value (curl_easy_escape).  Returns a new string. */
char *ctl_http_escape(const char *s);

/*
 * Turns an API error answer into e: message and hint from
 * {"error": {"code", "message", "hint"}}, or the status and the start of the
 * body when it has another shape.  The errno reflects the status (409 EBUSY,
 * 404 ENOENT, 400 EINVAL, 401 EACCES, 403 EPERM, 501 ENOSYS, 503 EAGAIN, else
 * EIO).  A 401's hint says which token was sent, if any.  Returns -errno.
 */
int ctl_api_error(const CtlResponse *r, Error *e);

/* Parses r's body as JSON; returns 0 and a new reference, or -EBADMSG with e filled. */
int ctl_response_json(const CtlResponse *r, json_t **ret, Error *e);

/* ---- rendering (ctl-render.c): pure functions of their arguments ----------- */

/* Formats n with thousands separators ("1,234,567") into buf; returns buf. */
char *format_count(int64_t n, char *buf, size_t size);
/* Formats a duration compactly ("84 ms", "3.1s", "2m 05s", "1h 02m") into buf; returns buf. */
char *format_duration_ms(int64_t ms, char *buf, size_t size);

/*
 * Terminal columns that UTF-8 text takes: wide characters count 2, combining
 * marks 0, anything undecodable 1 per byte.  Needs an LC_CTYPE with Unicode
 * tables (pgseedctl's main() makes sure of that).
 */
size_t text_width(const char *s);
/* The longest prefix of s (in bytes) that takes at most width columns. */
size_t text_prefix_for_width(const char *s, size_t width);

/*
 * One table cell as readable text: null as NULL, strings with newlines,
 * tabs and other control characters escaped (\n, \t, \x1b), numbers and
 * booleans as JSON writes them, arrays and objects as compact JSON.  Never
 * NULL; caller frees.
 */
char *render_value(const json_t *v);

/* Terminal width for tables: stdout's when it is a terminal, else $COLUMNS, else 120. */
int terminal_width(void);

/*
 * Aligned text table in psql's style ("a | b", a "--+--" rule), every line at
 * most width columns when that is possible: the widest columns are narrowed
 * first and cut cells end in "…"; columns that would get fewer than 10 are
 * left out from the right.  cells holds n_rows * n_cols strings, row by row;
 * right[i] right-aligns column i (numbers) and may be NULL.  Each line starts
 * with indent spaces.  Returns how many columns (from the left) it showed.
 */
size_t render_table(FILE *f, size_t n_cols, const char *const *headers, const bool *right, size_t n_rows,
                    const char *const *cells, int width, int indent);

/* `status: reason (PostgreSQL 15.4, 895,000 rows in 3 tables)`, from a /health body.  Caller frees. */
char *render_health_line(const json_t *health);

/*
 * The progress line for /health's "seeding" object, fitting width columns:
 * `[#######.....]  57%  seeding: copy  512,340/895,000 rows  3.1s`.  Caller frees.
 */
char *render_progress_line(const json_t *seeding, int width);

/* Everything in a /health body, one fact per line, for `pgseedctl status`. */
void render_status(FILE *f, const json_t *health);

/* A /schema body (all tables, or {"table": ...}) as headers, column tables, keys, indexes and triggers. */
void render_schema(FILE *f, const json_t *schema, int width);

/*
 * A /sample body (one sample, or {"tables": [...]}) as one aligned table per
 * table.  counts is /health's "tables" array (for "of N rows"), or NULL.
 */
void render_sample(FILE *f, const json_t *sample, const json_t *counts, int width);

/* `reset (template) in 84 ms: comments 500,000, users 391,000, videos 4,500`.  Caller frees. */
char *render_reset(const json_t *reset);

/* ---- the local daemon (ctl-process.c) ------------------------------------- */

/*
 * Finds the pgseedd binary: $PGSEEDD, else next to this binary (the build
 * tree's ../daemon/pgseedd, or the same directory when installed), else PATH.
 * Returns a new path, or NULL when there is none.
 */
char *pgseedd_find(void);

/* Runs `pgseedd --print-config=json` (the environment passes through).  Returns 0 and a new object, or
 * -errno. */
int pgseedd_print_config(const char *pgseedd, json_t **ret, Error *e);

/* The URL for an api.listen value ("127.0.0.1:7432", "0.0.0.0:80", "[::]:7432").  NULL if unparseable;
 * caller frees. */
char *api_url_from_listen(const char *listen);

/*
 * Whether a pgseedd runs on state_dir: it holds a lock on the pidfile while
 * it lives, so a pidfile nobody locks is stale.  Returns 1 and the pid (0 when
 * the file is still empty) when one runs, 0 when none does, or -errno.
 */
int pgseedd_running(const char *state_dir, pid_t *ret_pid);

/*
 * From the text pgseedd wrote to its log, the error it gave up with: the last
 * `pgseedd: MESSAGE` line and the `  hint: HINT` after it.  Returns 0 with e
 * filled, or -ENOENT when there is none.
 */
int start_error_parse(const char *log_text, Error *e);

/* The start, wait and stop machinery behind the commands. */
int ctl_start(Ctl *ctl, bool say_ready);
int ctl_stop(Ctl *ctl);

/* ---- waiting (ctl-wait.c) ---------------------------------------------------- */

typedef struct WaitChild {
        pid_t pid;            /* the pgseedd we spawned, or 0 */
        const char *log_path; /* where its stderr goes */
        off_t log_offset;     /* its output starts here */
} WaitChild;

/*
 * Polls /health until it answers 200 or timeout_s passes, showing progress
 * on stderr.  Returns 0 and the last /health body in *ret (may be NULL);
 * -ETIMEDOUT with e holding the last reason; -ECONNREFUSED when nothing
 * answered; -ECHILD when child (may be NULL) exited, with its error in e.
 */
int ctl_wait_ready(Ctl *ctl, double timeout_s, const WaitChild *child, json_t **ret, Error *e);

/* The error for a child that exited while we waited (wstatus from waitpid), from what it wrote to its log.
 */
int start_failure_describe(const WaitChild *child, int wstatus, Error *e);

/* ---- commands --------------------------------------------------------------- */

typedef int (*CommandFunc)(Ctl *ctl, int argc, char **argv);

int cmd_health(Ctl *ctl, int argc, char **argv);
int cmd_status(Ctl *ctl, int argc, char **argv);
int cmd_wait(Ctl *ctl, int argc, char **argv);
int cmd_start(Ctl *ctl, int argc, char **argv);
int cmd_stop(Ctl *ctl, int argc, char **argv);
int cmd_restart(Ctl *ctl, int argc, char **argv);
int cmd_down(Ctl *ctl, int argc, char **argv);
int cmd_load_data(Ctl *ctl, int argc, char **argv);
int cmd_reset(Ctl *ctl, int argc, char **argv);
int cmd_schema(Ctl *ctl, int argc, char **argv);
int cmd_sample(Ctl *ctl, int argc, char **argv);
int cmd_logs(Ctl *ctl, int argc, char **argv);
int cmd_metrics(Ctl *ctl, int argc, char **argv);
/* ctl-clone.c */
int cmd_clone(Ctl *ctl, int argc, char **argv);
int cmd_clones(Ctl *ctl, int argc, char **argv);
int cmd_unclone(Ctl *ctl, int argc, char **argv);
/* ctl-reset.c */
int cmd_restore(Ctl *ctl, int argc, char **argv);
/* ctl-workload.c */
int cmd_workload(Ctl *ctl, int argc, char **argv);
/* ctl-snapshot.c */
int cmd_snapshot(Ctl *ctl, int argc, char **argv);
int cmd_snapshots(Ctl *ctl, int argc, char **argv);
int cmd_unsnapshot(Ctl *ctl, int argc, char **argv);
int cmd_snapshot_dump(Ctl *ctl, int argc, char **argv);
int cmd_snapshot_load(Ctl *ctl, int argc, char **argv);
