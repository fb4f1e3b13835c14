/* SPDX-License-Identifier: MIT */
/* ctl-snapshot.c -- `pgseedctl snapshot NAME`, `snapshots`, `unsnapshot NAME`, `snapshot-dump`,
 * `snapshot-load`. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"

#define SNAPSHOT_TIMEOUT_S 600.0 /* a snapshot copies the database's files; a restore runs pg_restore */

/* The answer of a request: 2xx JSON in *ret (printed raw when --json), else the API's error reported. */
static int answer(Ctl *ctl, int r, CtlResponse *resp, Error *e, json_t **ret)
{
        *ret = NULL;
        if (r < 0)
                return ctl_report(e);
        if (resp->status < 200 || resp->status >= 300) {
                ctl_api_error(resp, e);
                ctl_response_done(resp);
                return ctl_report(e);
        }
        if (ctl->json)
                printf("%.*s%s", (int) resp->len, resp->body,
                       resp->len > 0 && resp->body[resp->len - 1] == '\n' ? "" : "\n");
        else if (resp->len > 0 && ctl_response_json(resp, ret, e) < 0) {
                ctl_response_done(resp);
                return ctl_report(e);
        }
        ctl_response_done(resp);
        return CTL_EXIT_OK;
}

/* Parses the global options and exactly n positional arguments (in argv[optind..]). */
static int positional(Ctl *ctl, const char *cmd, int argc, char **argv, int n, const char *what)
{
        static const struct option opts[] = {
                CTL_GLOBAL_OPTIONS,
                {},
        };
        int c, ex = 0;

        while ((c = ctl_getopt(ctl, cmd, argc, argv, "", opts, &ex)) >= 0)
                ;
        if (c == -2)
                return ex;
        if (argc - optind != n)
                return ctl_usage_error(cmd, "takes %s", what);
        return -1;
}

static void print_snapshot(const json_t *s)
{
        const json_t *tables = json_object_get(s, "tables"), *t;
        long long rows = 0;
        size_t i;

        json_array_foreach(tables, i, t) rows += json_integer_value(json_object_get(t, "rows"));
        printf("%s\t%s\t%.1f MB\t%lld rows\t%s\n", json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "created_at")),
               (double) json_integer_value(json_object_get(s, "size_bytes")) / 1e6, rows,
               json_string_value(json_object_get(s, "source")) ?: "");
}

int cmd_snapshot(Ctl *ctl, int argc, char **argv)
{
        _cleanup_free_ char *esc = NULL, *path = NULL;
        json_auto_t *body = NULL;
        CtlResponse resp;
        Error e = ERROR_INIT;
        int r = positional(ctl, "snapshot", argc, argv, 1, "exactly one snapshot NAME");

        if (r >= 0)
                return r;
        esc = ctl_http_escape(argv[optind]);
        path = xasprintf("/snapshots?name=%s", esc);
        r = ctl_http_request(ctl_url(ctl), "POST", path, ctl_timeout(ctl, SNAPSHOT_TIMEOUT_S), &resp, &e);
        r = answer(ctl, r, &resp, &e, &body);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        printf("Snapshot %s taken in %lld ms (%.1f MB)\n", argv[optind],
               (long long) json_integer_value(json_object_get(body, "duration_ms")),
               (double) json_integer_value(json_object_get(body, "size_bytes")) / 1e6);
        return CTL_EXIT_OK;
}

int cmd_snapshots(Ctl *ctl, int argc, char **argv)
{
        json_auto_t *body = NULL;
        const json_t *arr, *s;
        CtlResponse resp;
        Error e = ERROR_INIT;
        size_t i;
        int r = ctl_parse_no_args(ctl, "snapshots", argc, argv);

        if (r >= 0)
                return r;
        r = ctl_http_request(ctl_url(ctl), "GET", "/snapshots", ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S),
                             &resp, &e);
        r = answer(ctl, r, &resp, &e, &body);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        arr = json_object_get(body, "snapshots");
        json_array_foreach(arr, i, s) print_snapshot(s);
        printf("%zu snapshot(s)\n", json_array_size(arr));
        return CTL_EXIT_OK;
}

int cmd_unsnapshot(Ctl *ctl, int argc, char **argv)
{
        _cleanup_free_ char *esc = NULL, *path = NULL;
        json_auto_t *body = NULL;
        CtlResponse resp;
        Error e = ERROR_INIT;
        int r = positional(ctl, "unsnapshot", argc, argv, 1,
                           "exactly one snapshot NAME (see `pgseedctl snapshots`)");

        if (r >= 0)
                return r;
        esc = ctl_http_escape(argv[optind]);
        path = xasprintf("/snapshots/%s", esc);
        r = ctl_http_request(ctl_url(ctl), "DELETE", path, ctl_timeout(ctl, SNAPSHOT_TIMEOUT_S), &resp, &e);
        r = answer(ctl, r, &resp, &e, &body);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        printf("Dropped snapshot %s\n", argv[optind]);
        return CTL_EXIT_OK;
}

int cmd_snapshot_dump(Ctl *ctl, int argc, char **argv)
{
        _cleanup_free_ char *esc = NULL, *path = NULL, *tmp = NULL;
        Error e = ERROR_INIT;
        FILE *out;
        int r = positional(ctl, "snapshot-dump", argc, argv, 2, "a snapshot NAME and a FILE (- for stdout)");

        if (r >= 0)
                return r;
        const char *name = argv[optind], *file = argv[optind + 1];
        esc = ctl_http_escape(name);
        path = xasprintf("/snapshots/%s/dump", esc);
        if (streq(file, "-"))
                out = stdout;
        else {
                /* Written beside and renamed when complete: a failed dump never looks like an archive. */
                tmp = xasprintf("%s.partial", file);
                out = fopen(tmp, "we");
                if (!out) {
                        error_set(&e, errno, NULL, NULL, "Cannot write %s: %s", tmp, strerror(errno));
                        return ctl_report(&e);
                }
        }
        r = ctl_http_stream(ctl_url(ctl), path, ctl_timeout(ctl, SNAPSHOT_TIMEOUT_S), out, &e);
        if (out != stdout) {
                if (fclose(out) != 0 && r == 0)
                        r = error_set(&e, errno, NULL, NULL, "Cannot write %s: %s", tmp, strerror(errno));
                if (r == 0 && rename(tmp, file) < 0)
                        r = error_set(&e, errno, NULL, NULL, "Cannot rename %s: %s", tmp, strerror(errno));
                if (r < 0)
                        unlink(tmp);
        }
        if (r < 0)
                return ctl_report(&e);
        if (out != stdout)
                fprintf(stderr, "Wrote snapshot %s to %s\n", name, file);
        return CTL_EXIT_OK;
}

int cmd_snapshot_load(Ctl *ctl, int argc, char **argv)
{
        _cleanup_free_ char *esc = NULL, *path = NULL;
        json_auto_t *body = NULL;
        CtlResponse resp;
        Error e = ERROR_INIT;
        FILE *in;
        int r = positional(ctl, "snapshot-load", argc, argv, 2, "a snapshot NAME and an archive FILE");

        if (r >= 0)
                return r;
        const char *name = argv[optind], *file = argv[optind + 1];
        in = fopen(file, "re");
        if (!in) {
                error_set(&e, errno, NULL, NULL, "Cannot read %s: %s", file, strerror(errno));
                return ctl_report(&e);
        }
        esc = ctl_http_escape(name);
        path = xasprintf("/snapshots?name=%s", esc);
        r = ctl_http_upload(ctl_url(ctl), path, ctl_timeout(ctl, SNAPSHOT_TIMEOUT_S), in, &resp, &e);
        fclose(in);
        r = answer(ctl, r, &resp, &e, &body);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        printf("Snapshot %s restored from %s in %lld ms\n", name, file,
               (long long) json_integer_value(json_object_get(body, "duration_ms")));
        return CTL_EXIT_OK;
}
