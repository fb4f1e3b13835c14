/* SPDX-License-Identifier: MIT */
/* api-misc.c -- the route table, GET / (an index of endpoints) and GET /metrics. */

#include <stdio.h>

#include "api.h"
#include "clones.h"
#include "daemon.h"
#include "metrics.h"
#include "supervisor.h"

const Route api_routes[] = {
        {"GET", "/", api_root},
        {"GET", "/health", api_health},
        {"GET", "/schema", api_schema},
        {"GET", "/sample", api_sample},
        {"POST", "/reset", api_reset},
        {"GET", "/logs", api_logs},
        {"GET", "/metrics", api_metrics},
        {"POST", "/clones", api_clones_lease},
        {"GET", "/clones", api_clones_list},
        {"DELETE", "/clones/{name}", api_clones_return},
        {"POST", "/clones/{name}/reset", api_clones_reset},
};
const size_t api_routes_count = ELEMENTSOF(api_routes);

void api_root(Request *req)
{
        json_t *o = json_object(), *eps = json_object();

        json_object_set_new(o, "service", json_string("pgseedd"));
        json_object_set_new(o, "version", json_string(PGSEED_VERSION));
        json_object_set_new(eps, "GET /health",
                            json_string("200 when the database is up and seeded, else 503"));
        json_object_set_new(eps, "GET /schema",
                            json_string("tables, columns, keys, indexes, triggers; ?table=NAME"));
        json_object_set_new(
                eps, "GET /sample",
                json_string("rows: ?table=T&limit=N&offset=M&order=COL.asc|desc&columns=A,B&truncate=K"));
        json_object_set_new(eps, "POST /reset",
                            json_string("restore the seeded state; ?mode=template|inplace"));
        json_object_set_new(eps, "POST /clones",
                            json_string("lease an isolated copy of the seeded database; ?ttl=S&timeout=S"));
        json_object_set_new(eps, "GET /clones", json_string("leased clones and the pool"));
        json_object_set_new(eps, "DELETE /clones/NAME",
                            json_string("return a clone (dropped in the background)"));
        json_object_set_new(eps, "POST /clones/NAME/reset", json_string("a fresh copy under the same name"));
        json_object_set_new(eps, "GET /logs",
                            json_string("Postgres logs: ?tail=N&follow=1&since=TS&format=text|json"));
        json_object_set_new(eps, "GET /metrics", json_string("Prometheus metrics"));
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
