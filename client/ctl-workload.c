/* SPDX-License-Identifier: MIT */
/* ctl-workload.c -- `pgseedctl workload`: start, watch and stop generated change traffic. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"
#include "ctl-render.h"

/* One request; the JSON answer in *ret (a 2xx), else the API's error reported and its exit code. */
static int workload_request(Ctl *ctl, const char *method, const char *path, json_t **ret)
{
        CtlResponse resp;
        Error e = ERROR_INIT;
        int r;

        *ret = NULL;
        r = ctl_http_request(ctl_url(ctl), method, path, ctl_timeout(ctl, CTL_DEFAULT_TIMEOUT_S), &resp, &e);
        if (r < 0)
                return ctl_report(&e);
        if (resp.status < 200 || resp.status >= 300) {
                ctl_api_error(&resp, &e);
                ctl_response_done(&resp);
                return ctl_report(&e);
        }
        r = ctl_response_json(&resp, ret, &e);
        ctl_response_done(&resp);
        return r < 0 ? ctl_report(&e) : CTL_EXIT_OK;
}

static int64_t jint(const json_t *o, const char *key)
{
        return json_integer_value(json_object_get(o, key));
}

/* `workload running: 12,345 changes (insert 7,400, update 3,700, delete 1,245) in 2.5s, 4,990/s of 5,000/s`.
 */
static void print_status(const json_t *st)
{
        const json_t *done = json_object_get(st, "done"), *rem = json_object_get(st, "remaining");
        const char *err = json_string_value(json_object_get(st, "last_error"));
        const char *by = json_string_value(json_object_get(st, "stopped_by"));
        char a[32], b[32], c[32], d[32], t[32], r1[32], r2[32];

        printf("workload %s", json_string_value(json_object_get(st, "state")));
        if (!done) {
                printf(" (none started)\n");
                return;
        }
        if (streq_ptr(json_string_value(json_object_get(st, "state")), "starting")) {
                const json_t *mix = json_object_get(st, "mix");
                printf(": %s changes/s, mix %.0f/%.0f/%.0f (insert/update/delete), seed %lld",
                       format_count(jint(st, "rate"), r2, sizeof(r2)),
                       json_number_value(json_object_get(mix, "insert")) * 100,
                       json_number_value(json_object_get(mix, "update")) * 100,
                       json_number_value(json_object_get(mix, "delete")) * 100,
                       (long long) jint(st, "seed"));
                if (json_is_integer(json_object_get(st, "count")))
                        printf(", %s changes", format_count(jint(st, "count"), a, sizeof(a)));
                if (json_is_number(json_object_get(st, "duration_s")))
                        printf(", for %.0f s", json_number_value(json_object_get(st, "duration_s")));
                if (!json_is_integer(json_object_get(st, "count")) &&
                    !json_is_number(json_object_get(st, "duration_s")))
                        printf(", until `pgseedctl workload --stop` or a reset");
                printf("\n");
                return;
        }
        printf(": %s changes (insert %s, update %s, delete %s) in %s, %s/s of %s/s, seed %lld",
               format_count(jint(done, "total"), a, sizeof(a)),
               format_count(jint(done, "insert"), b, sizeof(b)),
               format_count(jint(done, "update"), c, sizeof(c)),
               format_count(jint(done, "delete"), d, sizeof(d)),
               format_duration_ms((int64_t) (json_number_value(json_object_get(st, "elapsed_s")) * 1000), t,
                                  sizeof(t)),
               format_count((int64_t) json_number_value(json_object_get(st, "rate_achieved")), r1,
                            sizeof(r1)),
               format_count(jint(st, "rate"), r2, sizeof(r2)), (long long) jint(st, "seed"));
        if (json_is_true(json_object_get(st, "running"))) {
                if (json_object_get(rem, "changes"))
                        printf(", %s changes left", format_count(jint(rem, "changes"), a, sizeof(a)));
                if (json_object_get(rem, "seconds"))
                        printf(", %.1f s left", json_number_value(json_object_get(rem, "seconds")));
        }
        if (by)
                printf(", stopped by %s", by);
        if (jint(st, "errors"))
                printf(", %lld failed batches (last: %s)", (long long) jint(st, "errors"), err ? err : "?");
        printf("\n");
}

/* A positive whole number for option name, or a usage error. */
static bool parse_count(const char *name, const char *s, long long min, long long *ret)
{
        char *end;

        errno = 0;
        *ret = strtoll(s, &end, 10);
        if (errno || end == s || *end || *ret < min) {
                ctl_usage_error("workload", "--%s takes a whole number of at least %lld, not '%s'", name,
                                min, s);
                return false;
        }
        return true;
}

int cmd_workload(Ctl *ctl, int argc, char **argv)
{
        static const struct option opts[] = {
                {"rate", required_argument, NULL, 'r'},
                {"mix", required_argument, NULL, 'm'},
                {"duration", required_argument, NULL, 'd'},
                {"count", required_argument, NULL, 'n'},
                {"seed", required_argument, NULL, 's'},
                {"stop", no_argument, NULL, 'S'},
                {"status", no_argument, NULL, 'T'},
                {"wait", no_argument, NULL, 'w'},
                CTL_GLOBAL_OPTIONS,
                {},
        };
        long long rate = 0, duration = 0, count = 0, seed = -1;
        const char *mix = NULL;
        bool stop = false, status = false, wait = false;
        _cleanup_free_ char *path = NULL, *qmix = NULL;
        json_auto_t *st = NULL;
        int c, ex = 0, r;

        while ((c = ctl_getopt(ctl, "workload", argc, argv, "", opts, &ex)) >= 0) {
                if ((c == 'r' && !parse_count("rate", optarg, 1, &rate)) ||
                    (c == 'd' && !parse_count("duration", optarg, 1, &duration)) ||
                    (c == 'n' && !parse_count("count", optarg, 1, &count)) ||
                    (c == 's' && !parse_count("seed", optarg, 0, &seed)))
                        return CTL_EXIT_USAGE;
                if (c == 'm')
                        mix = optarg;
                stop |= c == 'S';
                status |= c == 'T';
                wait |= c == 'w';
        }
        if (c == -2)
                return ex;
        if (optind < argc)
                return ctl_usage_error("workload", "unexpected argument '%s'", argv[optind]);
        if ((stop || status) && (rate || duration || count || seed >= 0 || mix || (stop && status)))
                return ctl_usage_error("workload", "--stop and --status take no other workload option");

        if (stop || status)
                r = workload_request(ctl, stop ? "DELETE" : "GET", "/workload", &st);
        else {
                char q[256] = "";
                if (rate)
                        bufprintf(q + strlen(q), sizeof(q) - strlen(q), "&rate=%lld", rate);
                if (duration)
                        bufprintf(q + strlen(q), sizeof(q) - strlen(q), "&duration=%lld", duration);
                if (count)
                        bufprintf(q + strlen(q), sizeof(q) - strlen(q), "&count=%lld", count);
                if (seed >= 0)
                        bufprintf(q + strlen(q), sizeof(q) - strlen(q), "&seed=%lld", seed);
                qmix = mix ? ctl_http_escape(mix) : NULL;
                path = xasprintf("/workload%s%s%s%s", *q || qmix ? "?" : "", *q ? q + 1 : "",
                                 *q && qmix ? "&mix="
                                 : qmix     ? "mix="
                                            : "",
                                 qmix ? qmix : "");
                r = workload_request(ctl, "POST", path, &st);
        }
        if (r != CTL_EXIT_OK)
                return r;
        /* --wait: until it ends by itself (count or duration), showing progress each second on a terminal.
         */
        while (wait && json_is_true(json_object_get(st, "running"))) {
                sleep(1);
                json_decref(TAKE_PTR(st));
                r = workload_request(ctl, "GET", "/workload", &st);
                if (r != CTL_EXIT_OK)
                        return r;
                if (isatty(STDOUT_FILENO) && !ctl->json && json_is_true(json_object_get(st, "running")))
                        print_status(st);
        }
        if (ctl->json) {
                _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT);
                printf("%s\n", text);
        } else
                print_status(st);
        return streq_ptr(json_string_value(json_object_get(st, "state")), "failed") ? CTL_EXIT_FAILED
                                                                                    : CTL_EXIT_OK;
}
