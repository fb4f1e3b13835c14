/* SPDX-License-Identifier: MIT */
/* api-misc.c -- the route table (with each route's parameters), GET / and GET /metrics. */

#include <stdio.h>

#include "api.h"
#include "daemon.h"
#include "metrics.h"
#include "supervisor.h"

/* Query parameters, documented where they are accepted: request_query_allow(req, NULL) takes them from here.
 */
static const RouteParam no_params[] = {{NULL}};
static const RouteParam probe_params[] = {
        {"verbose", PARAM_BOOLEAN, "One line per check, for humans", "false"},
        {NULL},
};
static const RouteParam schema_params[] = {
        {"table", PARAM_STRING, "One table, as NAME or SCHEMA.NAME; default: every table"},
        {NULL},
};
static const RouteParam sample_params[] = {
        {"table", PARAM_STRING, "One table, as NAME or SCHEMA.NAME; default: a few rows of every table"},
        {"limit", PARAM_INTEGER, "Rows to return (default 10 with table, else 3 per table)", NULL, NULL, 1,
         1000},
        {"offset", PARAM_INTEGER, "Rows to skip (paging)", "0", NULL, 0, INT64_C(1000000000)},
        {"order", PARAM_STRING, "COLUMN, COLUMN.asc or COLUMN.desc (needs table); default: the primary key"},
        {"columns", PARAM_STRING, "Comma-separated column names (needs table)"},
        {"truncate", PARAM_INTEGER, "Cut text values to this many characters", NULL, NULL, 1, 100000},
        {NULL},
};
static const char *const reset_modes[] = {"template", "inplace", NULL};
static const RouteParam reset_params[] = {
        {"mode", PARAM_ENUM,
         "template: swap in a fresh copy of the template; inplace: rewrite the rows, keeping the database, "
         "its "
         "publication and replication slots",
         "template", reset_modes},
        {"timeout", PARAM_INTEGER,
         "Seconds to wait for the reset, queueing included (504 after; the reset "
         "goes on)",
         "120", NULL, 1, 3600},
        {NULL},
};
static const char *const log_formats[] = {"text", "json", NULL};
static const RouteParam logs_params[] = {
        {"tail", PARAM_STRING, "The last N lines (0 to 100000), or 'all'", "100"},
        {"follow", PARAM_BOOLEAN, "Keep the reply open and stream new lines", "false"},
        {"since", PARAM_STRING, "Only lines from this time on: Unix seconds or RFC 3339"},
        {"format", PARAM_ENUM, "text, or json (one object per line)", "text", log_formats},
        {NULL},
};

const Route api_routes[] = {
        {"GET", "/", api_root, ROUTE_AUTH_OPEN, ROUTE_CORS_PRIVATE,
         "this index of endpoints (a browser gets the dashboard page)", no_params, "Index",
         "application/json, text/html"},
        {"GET", "/health", api_health, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC,
         "200 when the database is up and seeded, else 503", no_params, "Health", NULL, true},
        {"GET", "/livez", api_livez, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC,
         "200 while pgseedd's supervisor loop runs (liveness probe)", probe_params, NULL, "text/plain",
         true},
        {"GET", "/readyz", api_readyz, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC,
         "200 when seeded and accepting connections, else 503 (readiness probe)", probe_params, NULL,
         "text/plain", true},
        {"GET", "/schema", api_schema, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "tables, columns, keys, indexes, triggers", schema_params, "Schema"},
        {"GET", "/sample", api_sample, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "rows of a table, paged and sorted", sample_params, "Sample"},
        {"POST", "/reset", api_reset, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE, "restore the seeded state",
         reset_params, "Reset"},
        {"GET", "/logs", api_logs, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "Postgres server log", logs_params,
         "LogLine", "text/plain, application/x-ndjson"},
        {"GET", "/metrics", api_metrics, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC, "Prometheus metrics", no_params,
         NULL, "text/plain"},
        {"GET", "/openapi.json", api_openapi, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC,
         "this API as an OpenAPI 3.1 document", no_params, "OpenAPI"},
        {"GET", "/ui.js", api_web_asset, ROUTE_AUTH_OPEN, ROUTE_CORS_PRIVATE, "the dashboard page's script",
         no_params, NULL, "text/javascript"},
        {"GET", "/ui.css", api_web_asset, ROUTE_AUTH_OPEN, ROUTE_CORS_PRIVATE, "the dashboard page's style",
         no_params, NULL, "text/css"},
};
const size_t api_routes_count = ELEMENTSOF(api_routes);

/* "summary; ?a=integer&b=template|inplace" for GET /: the parameters come from the table too. */
static json_t *route_describe(const Route *r)
{
        char text[512];

        strlcpy0(text, r->summary ? r->summary : "", sizeof(text));
        for (const RouteParam *p = r->params; p && p->name; p++) {
                size_t len = strlen(text);
                const char *what = p->type == PARAM_INTEGER ? "N" : p->type == PARAM_BOOLEAN ? "1" : "TEXT";
                char choices[128] = "";

                for (const char *const *c = p->choices; c && *c; c++)
                        snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s%s",
                                 c == p->choices ? "" : "|", *c);
                snprintf(text + len, sizeof(text) - len, "%s%s=%s", p == r->params ? "; ?" : "&", p->name,
                         *choices ? choices : what);
        }
        return json_string(text);
}

void api_root(Request *req)
{
        json_t *o, *eps;
        size_t n;
        const Route *routes = request_routes(req, &n);

        if (!request_query_allow(req, NULL))
                return;
        if (web_wants_page(req)) {
                api_web_page(req);
                return;
        }
        o = json_object();
        eps = json_object();

        json_object_set_new(o, "service", json_string("pgseedd"));
        json_object_set_new(o, "version", json_string(PGSEED_VERSION));
        for (size_t i = 0; i < n; i++) {
                char key[128];

                if (streq(routes[i].path, "/"))
                        continue;
                snprintf(key, sizeof(key), "%s %s", routes[i].method, routes[i].path);
                json_object_set_new(eps, key, route_describe(&routes[i]));
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

        if (!request_query_allow(req, NULL))
                return;
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
        fclose(f);
        sup_snapshot_done(&snap);
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out, len);
        free(out);
}
