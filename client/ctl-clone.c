/* SPDX-License-Identifier: MIT */
/* ctl-clone.c -- `pgseedctl clone`, `clones`, `unclone NAME`: lease, list and return isolated databases. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"

#define LEASE_WAIT_S 30 /* how long the server waits for a clone when its pool is empty */

/* One request; on a 2xx answer its JSON in *ret (the raw body printed when --json), else the API's error. */
static int request_json(Ctl *ctl, const char *method, const char *path, double timeout_s, json_t **ret)
{
        CtlResponse resp;
        Error e = ERROR_INIT;
        int r;

        *ret = NULL;
        r = ctl_http_request(ctl_url(ctl), method, path, timeout_s, &resp, &e);
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
        else if (resp.len > 0 && ctl_response_json(&resp, ret, &e) < 0) {
                ctl_response_done(&resp);
                return ctl_report(&e);
        }
        ctl_response_done(&resp);
        return CTL_EXIT_OK;
}

/* Whether s is a whole positive number of seconds. */
static bool parse_seconds(const char *s, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v <= 0)
                return false;
        *ret = v;
        return true;
}

int cmd_clone(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {
                {"ttl", required_argument, NULL, 't'},
                {"env", no_argument, NULL, 'e'},
                CTL_GLOBAL_OPTIONS,
                {},
        };
        _cleanup_free_ char *path = NULL;
        json_auto_t *lease = NULL;
        long ttl = 0;
        bool env = false;
        int c, ex = 0, r;

        while ((c = ctl_getopt(ctl, "clone", argc, argv, "", opts, &ex)) >= 0) {
                if (c == 't' && !parse_seconds(optarg, &ttl))
                        return ctl_usage_error("clone", "--ttl takes a number of seconds, not '%s'", optarg);
                if (c == 'e')
                        env = true;
        }
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("clone", "unexpected argument '%s'", argv[optind]);
        path = ttl ? xasprintf("/clones?ttl=%ld&timeout=%d", ttl, LEASE_WAIT_S)
                   : xasprintf("/clones?timeout=%d", LEASE_WAIT_S);
        r = request_json(ctl, "POST", path, ctl_timeout(ctl, LEASE_WAIT_S + 10), &lease);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        const char *name = json_string_value(json_object_get(lease, "name"));
        const char *url = json_string_value(json_object_get(lease, "url"));
        if (env)
                /* For eval: names and URLs hold only [a-z0-9_:/@.], nothing a shell would expand. */
                printf("PGDATABASE=%s\nDATABASE_URL=%s\nexport PGDATABASE DATABASE_URL\n", name, url);
        else
                printf("%s\t%s\texpires %s\n", name, url,
                       json_string_value(json_object_get(lease, "expires_at")));
        return CTL_EXIT_OK;
}

int cmd_clones(Ctl *ctl, int argc, char **argv)
{
        json_auto_t *list = NULL;
        const json_t *pool, *arr, *item;
        size_t i;
        int r;

        r = ctl_parse_no_args(ctl, "clones", argc, argv);
        if (r >= 0)
                return r;
        r = request_json(ctl, "GET", "/clones", ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S), &list);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        arr = json_object_get(list, "clones");
        pool = json_object_get(list, "pool");
        json_array_foreach(arr, i, item)
        {
                printf("%s\t%s\texpires %s\n", json_string_value(json_object_get(item, "name")),
                       json_string_value(json_object_get(item, "url")),
                       json_string_value(json_object_get(item, "expires_at")));
        }
        printf("%zu leased; pool %lld ready of %lld; at most %lld\n", json_array_size(arr),
               (long long) json_integer_value(json_object_get(pool, "ready")),
               (long long) json_integer_value(json_object_get(pool, "target")),
               (long long) json_integer_value(json_object_get(pool, "max")));
        return CTL_EXIT_OK;
}

int cmd_unclone(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {
                CTL_GLOBAL_OPTIONS,
                {},
        };
        _cleanup_free_ char *escaped = NULL, *path = NULL;
        json_auto_t *body = NULL;
        int c, ex = 0, r;

        while ((c = ctl_getopt(ctl, "unclone", argc, argv, "", opts, &ex)) >= 0)
                ;
        if (c == -2)
                return ex;
        if (optind + 1 != argc)
                return ctl_usage_error("unclone", "takes exactly one clone NAME (see `pgseedctl clones`)");
        escaped = ctl_http_escape(argv[optind]);
        path = xasprintf("/clones/%s", escaped);
        r = request_json(ctl, "DELETE", path, ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S), &body);
        if (r != CTL_EXIT_OK || ctl->json)
                return r;
        printf("Returned %s (dropped in the background)\n", argv[optind]);
        return CTL_EXIT_OK;
}
