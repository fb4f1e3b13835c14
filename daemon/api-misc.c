/* SPDX-License-Identifier: MIT */
/* api-misc.c -- the route table, GET / (an index of endpoints) and GET /metrics. */

#include <stdio.h>

#include "api.h"
#include "clones.h"
#include "daemon.h"
#include "metrics.h"
#include "supervisor.h"

const Route api_routes[] = {
        {"GET", "/", api_root, ROUTE_AUTH_OPEN, ROUTE_CORS_PRIVATE, "this index of endpoints"},
        {"GET", "/health", api_health, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC,
         "200 when the database is up and seeded, else 503"},
        {"GET", "/schema", api_schema, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "tables, columns, keys, indexes, triggers; ?table=NAME"},
        {"GET", "/sample", api_sample, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "rows: ?table=T&limit=N&offset=M&order=COL.asc|desc&columns=A,B&truncate=K"},
        {"POST", "/reset", api_reset, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "restore the seeded state; ?mode=template|inplace"},
        {"GET", "/logs", api_logs, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "Postgres logs: ?tail=N&follow=1&since=TS&format=text|json"},
        {"GET", "/metrics", api_metrics, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC, "Prometheus metrics"},
        {"POST", "/clones", api_clones_lease, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "lease an isolated copy of the seeded database; ?ttl=S&timeout=S"},
        {"GET", "/clones", api_clones_list, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "leased clones and the pool"},
        {"DELETE", "/clones/{name}", api_clones_return, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "return a clone (dropped in the background)"},
        {"POST", "/clones/{name}/reset", api_clones_reset, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "a fresh copy under the same name"},
};
const size_t api_routes_count = ELEMENTSOF(api_routes);

void api_root(Request *req)
{
        json_t *o = json_object(), *eps = json_object();
        size_t n;
        const Route *routes = request_routes(req, &n);

        json_object_set_new(o, "service", json_string("pgseedd"));
        json_object_set_new(o, "version", json_string(PGSEED_VERSION));
        for (size_t i = 0; i < n; i++) {
                char key[128];

                if (streq(routes[i].path, "/"))
                        continue;
                snprintf(key, sizeof(key), "%s %s", routes[i].method, routes[i].path);
                json_object_set_new(eps, key, json_string(routes[i].summary ? routes[i].summary : ""));
        }
        json_object_set_new(o, "endpoints", eps);
        http_reply_json(req, 200, o);
}

/* Writes a label value with the escapes the Prometheus text format requires (table names may hold anything).
 */
static void label_value(FILE *f, const char *v)
{
        for (const char *p = v ? v : ""; *p; p++) {
                if (*p == '\\' || *p == '"')
                        fputc('\\', f);
                if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
}

void api_metrics(Request *req)
{
        Daemon *d = request_daemon(req);
        _cleanup_free_ char *text = metrics_format(d->metrics);
        SupSnapshot snap;
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        supervisor_snapshot(d->supervisor, &snap);
        f = open_memstream(&out, &len);
        fputs(text, f);
        fprintf(f,
                "# HELP pgseed_up 1 when the database is ready (seeded and accepting connections).\n"
                "# TYPE pgseed_up gauge\npgseed_up %d\n",
                snap.state == SUP_READY);
        fprintf(f, "# HELP pgseed_state Current supervisor state (1 for the active one).\n# TYPE "
                   "pgseed_state gauge\n");
        for (int s = 0; s < _SUP_STATE_MAX; s++)
                fprintf(f, "pgseed_state{state=\"%s\"} %d\n", sup_state_to_string((SupState) s),
                        snap.state == (SupState) s);
        fprintf(f,
                "# HELP pgseed_uptime_seconds Seconds since pgseedd started.\n# TYPE pgseed_uptime_seconds "
                "gauge\n"
                "pgseed_uptime_seconds %lld\n",
                (long long) ((now_mono_ms() - d->started_mono_ms) / 1000));
        fprintf(f,
                "# HELP pgseed_resetting 1 while a reset runs (the database keeps serving).\n"
                "# TYPE pgseed_resetting gauge\npgseed_resetting %d\n",
                snap.resetting);
        json_t *epoch = snap.facts ? json_object_get(snap.facts, "epoch") : NULL;
        if (json_is_integer(epoch))
                fprintf(f,
                        "# HELP pgseed_reset_epoch Resets of the working database so far (its pgseed "
                        "comment).\n"
                        "# TYPE pgseed_reset_epoch gauge\npgseed_reset_epoch %lld\n",
                        (long long) json_integer_value(epoch));
        json_t *slots =
                snap.facts ? json_object_get(json_object_get(snap.facts, "cdc"), "replication_slots") : NULL;
        if (json_array_size(slots) > 0) {
                static const char *const gauges[][2] = {
                        {"active", "1 while a consumer streams from the slot"},
                        {"lag_bytes", "WAL bytes between the current position and what the slot confirmed"},
                        {"safe_wal_size", "WAL bytes that can still be written before the slot is lost"},
                };
                for (size_t g = 0; g < ELEMENTSOF(gauges); g++) {
                        size_t i;
                        json_t *sl;
                        fprintf(f,
                                "# HELP pgseed_replication_slot_%s %s.\n# TYPE pgseed_replication_slot_%s "
                                "gauge\n",
                                gauges[g][0], gauges[g][1], gauges[g][0]);
                        json_array_foreach(slots, i, sl)
                        {
                                json_t *v = json_object_get(sl, gauges[g][0]);
                                if (!json_is_integer(v) && !json_is_boolean(v))
                                        continue;
                                fprintf(f, "pgseed_replication_slot_%s{slot=\"", gauges[g][0]);
                                label_value(f, json_string_value(json_object_get(sl, "name")));
                                fputs("\",plugin=\"", f);
                                label_value(f, json_string_value(json_object_get(sl, "plugin")));
                                fprintf(f, "\"} %lld\n",
                                        json_is_boolean(v) ? (long long) json_is_true(v)
                                                           : (long long) json_integer_value(v));
                        }
                }
        }
        json_t *tables = snap.facts ? json_object_get(snap.facts, "tables") : NULL;
        if (tables) {
                size_t i;
                json_t *t;
                fprintf(f, "# HELP pgseed_table_rows Exact row count per table (refreshed every 5 s).\n"
                           "# TYPE pgseed_table_rows gauge\n");
                json_array_foreach(tables, i, t)
                {
                        fputs("pgseed_table_rows{schema=\"", f);
                        label_value(f, json_string_value(json_object_get(t, "schema")));
                        fputs("\",table=\"", f);
                        label_value(f, json_string_value(json_object_get(t, "name")));
                        fprintf(f, "\"} %lld\n", (long long) json_integer_value(json_object_get(t, "rows")));
                }
        }
        if (d->clones) {
                ClonesStats cs;
                clones_stats(d->clones, &cs);
                fprintf(f,
                        "# HELP pgseed_clones_pool_ready Ready clones in the pool.\n# TYPE "
                        "pgseed_clones_pool_ready gauge\n"
                        "pgseed_clones_pool_ready %lld\n"
                        "# HELP pgseed_clones_pool_target Ready clones the pool aims for.\n"
                        "# TYPE pgseed_clones_pool_target gauge\npgseed_clones_pool_target %lld\n"
                        "# HELP pgseed_clones_leased Clones leased now.\n# TYPE pgseed_clones_leased gauge\n"
                        "pgseed_clones_leased %lld\n"
                        "# HELP pgseed_clones_max Most clones at once ([clones] max).\n"
                        "# TYPE pgseed_clones_max gauge\npgseed_clones_max %lld\n"
                        "# HELP pgseed_clones_leases_total Clones handed out.\n"
                        "# TYPE pgseed_clones_leases_total counter\npgseed_clones_leases_total %lld\n"
                        "# HELP pgseed_clones_returned_total Clones returned by DELETE.\n"
                        "# TYPE pgseed_clones_returned_total counter\npgseed_clones_returned_total %lld\n",
                        (long long) cs.ready, (long long) cs.target, (long long) cs.leased,
                        (long long) cs.max, (long long) cs.leased_total, (long long) cs.returned_total);
        }
        fclose(f);
        sup_snapshot_done(&snap);
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out, len);
        free(out);
}
