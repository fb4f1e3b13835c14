/* SPDX-License-Identifier: MIT */
/* ctl-inspect.c -- the read-only commands: health, status, schema, sample, logs, metrics. */

#include <errno.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"
#include "ctl-render.h"

#define LOGS_TIMEOUT_S 30.0 /* without --follow: the tail must arrive in this time */

/* Writes a body as received, ending it with a newline so the shell prompt starts on its own line. */
static void print_raw(const CtlResponse *r)
{
        fwrite(r->body, 1, r->len, stdout);
        if (r->len == 0 || r->body[r->len - 1] != '\n')
                fputc('\n', stdout);
}

/*
 * GET path; on a 2xx answer returns 0 with the response (and, when ret_json is
 * given, its parsed body).  Any other answer becomes an Error from the API's
 * error JSON.  ok_503 also accepts 503 (/health answers it while not ready).
 */
static int api_get(Ctl *ctl, const char *path, bool ok_503, CtlResponse *resp, json_t **ret_json, Error *e)
{
        int r = ctl_http_request(ctl_url(ctl), "GET", path, ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S), resp,
                                 e);

        if (r < 0)
                return r;
        if ((resp->status < 200 || resp->status >= 300) && !(ok_503 && resp->status == 503)) {
                r = ctl_api_error(resp, e);
                ctl_response_done(resp);
                return r;
        }
        if (ret_json && ctl_response_json(resp, ret_json, e) < 0) {
                ctl_response_done(resp);
                return -e->errnum;
        }
        return 0;
}

static void print_health(Ctl *ctl, json_t *body)
{
        _cleanup_free_ char *line = render_health_line(body);

        printf("%s\n", line);
}

static void print_status(Ctl *ctl, json_t *body)
{
        printf("%-14s%s\n", "API:", ctl_url(ctl));
        render_status(stdout, body);
}

/*
 * health and status both show /health, raw with --json or through print.
 * health's exit status says whether the database is ready; status is for
 * reading and succeeds whenever pgseedd answered, ready or not.
 */
static int show_health(Ctl *ctl, const char *name, int argc, char **argv, void (*print)(Ctl *, json_t *),
                       bool exit_by_readiness)
{
        CtlResponse resp;
        json_auto_t *body = NULL;
        Error e = ERROR_INIT;
        int r = ctl_parse_no_args(ctl, name, argc, argv);

        if (r >= 0)
                return r;
        if (api_get(ctl, "/health", true, &resp, ctl->json ? NULL : &body, &e) < 0)
                return ctl_report(&e);
        if (ctl->json)
                print_raw(&resp);
        else
                print(ctl, body);
        r = !exit_by_readiness || resp.status == 200 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
        ctl_response_done(&resp);
        return r;
}

int cmd_health(Ctl *ctl, int argc, char **argv)
{
        return show_health(ctl, "health", argc, argv, print_health, true);
}

int cmd_status(Ctl *ctl, int argc, char **argv)
{
        return show_health(ctl, "status", argc, argv, print_status, false);
}

int cmd_metrics(Ctl *ctl, int argc, char **argv)
{
        CtlResponse resp;
        Error e = ERROR_INIT;
        int r = ctl_parse_no_args(ctl, "metrics", argc, argv);

        if (r >= 0)
                return r;
        if (api_get(ctl, "/metrics", false, &resp, NULL, &e) < 0)
                return ctl_report(&e);
        print_raw(&resp);
        ctl_response_done(&resp);
        return CTL_EXIT_OK;
}

int cmd_schema(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {
                {"table", required_argument, NULL, 't'}, CTL_GLOBAL_OPTIONS, {}};
        _cleanup_free_ char *path = NULL, *esc = NULL;
        const char *table = NULL;
        json_auto_t *body = NULL;
        CtlResponse resp;
        Error e = ERROR_INIT;
        int c, ex = 0;

        while ((c = ctl_getopt(ctl, "schema", argc, argv, "", opts, &ex)) >= 0)
                if (c == 't')
                        table = optarg;
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("schema", "unexpected argument '%s'", argv[optind]);

        if (table) {
                esc = ctl_http_escape(table);
                path = xasprintf("/schema?table=%s", esc);
        } else
                path = xstrdup("/schema");
        if (api_get(ctl, path, false, &resp, ctl->json ? NULL : &body, &e) < 0)
                return ctl_report(&e);
        if (ctl->json)
                print_raw(&resp);
        else
                render_schema(stdout, body, terminal_width());
        ctl_response_done(&resp);
        return CTL_EXIT_OK;
}

/* Appends "&key=value" (value URL-encoded) to a query being built in f. */
static void query_add(FILE *f, bool *first, const char *key, const char *value)
{
        _cleanup_free_ char *esc = ctl_http_escape(value);

        fprintf(f, "%c%s=%s", *first ? '?' : '&', key, esc);
        *first = false;
}

/* Checks a whole-number option value; returns true, or prints the usage error into *ret_exit. */
static bool check_count(const char *cmd, const char *option, const char *value, int *ret_exit)
{
        int64_t n;

        if (parse_int64(value, 0, INT32_MAX, &n) == 0)
                return true;
        *ret_exit = ctl_usage_error(cmd, "%s needs a whole number >= 0, not '%s'", option, value);
        return false;
}

int cmd_sample(Ctl *ctl, int argc, char **argv)
{
        enum { OPT_TABLE = CTL_OPT_COMMAND, OPT_LIMIT, OPT_OFFSET, OPT_ORDER, OPT_COLUMNS, OPT_TRUNCATE };
        static const struct option opts[] = {
                {"table", required_argument, NULL, OPT_TABLE},
                {"limit", required_argument, NULL, OPT_LIMIT},
                {"offset", required_argument, NULL, OPT_OFFSET},
                {"order", required_argument, NULL, OPT_ORDER},
                {"columns", required_argument, NULL, OPT_COLUMNS},
                {"truncate", required_argument, NULL, OPT_TRUNCATE},
                CTL_GLOBAL_OPTIONS,
                {},
        };
        const char *table = NULL, *limit = "10", *offset = NULL, *order = NULL, *columns = NULL,
                   *truncate = NULL;
        _cleanup_free_ char *path = NULL;
        json_auto_t *body = NULL, *health = NULL;
        size_t path_size = 0;
        bool first = true;
        CtlResponse resp, hresp;
        Error e = ERROR_INIT;
        int c, ex = 0;
        FILE *f;

        while ((c = ctl_getopt(ctl, "sample", argc, argv, "", opts, &ex)) >= 0) {
                switch (c) {
                case OPT_TABLE:
                        table = optarg;
                        break;
                case OPT_LIMIT:
                        if (!check_count("sample", "--limit", optarg, &ex))
                                return ex;
                        limit = optarg;
                        break;
                case OPT_OFFSET:
                        if (!check_count("sample", "--offset", optarg, &ex))
                                return ex;
                        offset = optarg;
                        break;
                case OPT_ORDER:
                        order = optarg;
                        break;
                case OPT_COLUMNS:
                        columns = optarg;
                        break;
                case OPT_TRUNCATE:
                        if (!check_count("sample", "--truncate", optarg, &ex))
                                return ex;
                        truncate = optarg;
                        break;
                }
        }
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("sample", "unexpected argument '%s'", argv[optind]);
        /* Readable tables need short cells; --json callers get the server's choice unless they ask. */
        if (!truncate && !ctl->json)
                truncate = "40";

        f = open_memstream(&path, &path_size);
        if (!f)
                abort();
        fputs("/sample", f);
        if (table)
                query_add(f, &first, "table", table);
        query_add(f, &first, "limit", limit);
        if (offset)
                query_add(f, &first, "offset", offset);
        if (order)
                query_add(f, &first, "order", order);
        if (columns)
                query_add(f, &first, "columns", columns);
        if (truncate)
                query_add(f, &first, "truncate", truncate);
        fclose(f);

        if (api_get(ctl, path, false, &resp, ctl->json ? NULL : &body, &e) < 0)
                return ctl_report(&e);
        if (ctl->json) {
                print_raw(&resp);
                ctl_response_done(&resp);
                return CTL_EXIT_OK;
        }
        ctl_response_done(&resp);
        /* Row counts come from /health's last probe; without them the tables just lack "of N". */
        if (api_get(ctl, "/health", true, &hresp, &health, &e) == 0)
                ctl_response_done(&hresp);
        render_sample(stdout, body, json_object_get(health, "tables"), terminal_width());
        return CTL_EXIT_OK;
}

int cmd_logs(Ctl *ctl, int argc, char **argv)
{
        enum { OPT_TAIL = CTL_OPT_COMMAND, OPT_SINCE };
        static const struct option opts[] = {
                {"follow", no_argument, NULL, 'f'},
                {"tail", required_argument, NULL, OPT_TAIL},
                {"since", required_argument, NULL, OPT_SINCE},
                CTL_GLOBAL_OPTIONS,
                {},
        };
        const char *tail = NULL, *since = NULL;
        _cleanup_free_ char *path = NULL;
        size_t path_size = 0;
        bool follow = false, first = true;
        Error e = ERROR_INIT;
        int c, ex = 0, r;
        FILE *f;

        while ((c = ctl_getopt(ctl, "logs", argc, argv, "f", opts, &ex)) >= 0) {
                switch (c) {
                case 'f':
                        follow = true;
                        break;
                case OPT_TAIL:
                        if (!streq(optarg, "all") && !check_count("logs", "--tail", optarg, &ex))
                                return ex;
                        tail = optarg;
                        break;
                case OPT_SINCE:
                        since = optarg;
                        break;
                }
        }
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("logs", "unexpected argument '%s'", argv[optind]);

        f = open_memstream(&path, &path_size);
        if (!f)
                abort();
        fputs("/logs", f);
        if (tail)
                query_add(f, &first, "tail", tail);
        if (follow)
                query_add(f, &first, "follow", "1");
        if (since)
                query_add(f, &first, "since", since);
        if (ctl->json)
                query_add(f, &first, "format", "json");
        fclose(f);

        /* Following has no end: only --timeout, when given, limits it (and Ctrl-C), and then ends it
         * normally. */
        r = ctl_http_stream(ctl_url(ctl), path,
                            follow ? ctl_timeout(ctl, 0) : ctl_timeout(ctl, LOGS_TIMEOUT_S), stdout, &e);
        if (r == -ETIMEDOUT && follow)
                return CTL_EXIT_OK;
        if (r < 0)
                return ctl_report(&e);
        return CTL_EXIT_OK;
}
