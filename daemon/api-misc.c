/* SPDX-License-Identifier: MIT */
/* api-misc.c -- the route table (with each route's parameters), GET / and GET /metrics. */

#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "api.h"
#include "clones.h"
#include "daemon.h"
#include "metrics.h"
#include "pgbouncer.h"
#include "runtime.h"
#include "seed.h"
#include "snapshots.h"
#include "supervisor.h"
#include "workload.h"

/* Query parameters, documented where they are accepted: request_query_allow(req, NULL) takes them from here.
 */
#define SNAPSHOT_MAX_UPLOAD (UINT64_C(4) << 30) /* the largest archive POST /snapshots takes */

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
         "publication and replication slots (the default with tables)",
         "template", reset_modes},
        {"tables", PARAM_STRING,
         "A partial reset: only these seeded tables, comma-separated NAME or SCHEMA.NAME (in place; every "
         "table whose foreign keys point at one of them must be named too)"},
        {"timeout", PARAM_INTEGER,
         "Seconds to wait for the reset, queueing included (504 after; the reset "
         "goes on)",
         "120", NULL, 1, 3600},
        {"from", PARAM_STRING,
         "A snapshot's name: restore its state instead of the seed's (mode=template only)"},
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

static const RouteParam workload_params[] = {
        {"rate", PARAM_INTEGER, "Changes per second", "1000", NULL, 1, 100000},
        {"mix", PARAM_STRING, "Insert, update and delete weights, e.g. 60,30,10 (normalized)", "60,30,10"},
        {"count", PARAM_INTEGER, "Stop after this many changes", NULL, NULL, 1, INT64_C(1000000000)},
        {"duration", PARAM_INTEGER,
         "Stop after this many seconds (with count: whichever comes first); neither: until DELETE", NULL,
         NULL, 1, 86400},
        {"seed", PARAM_INTEGER,
         "The same seed from the same rows makes the same changes; default: from the clock", NULL, NULL, 0,
         INT64_MAX},
        {NULL},
};

static const RouteParam clones_lease_params[] = {
        {"ttl", PARAM_INTEGER, "Seconds the lease lasts; default [clones] ttl", NULL, NULL, 1, 30 * 86400},
        {"timeout", PARAM_INTEGER, "Seconds to wait for a clone when the pool is empty (503 after)", "30",
         NULL, 0, 600},
        {"from", PARAM_STRING, "A snapshot's name: a clone of it instead of the seed (made on demand)"},
        {NULL},
};
static const RouteParam snapshots_create_params[] = {
        {"name", PARAM_STRING,
         "The snapshot's name: 1 to 40 of a-z, 0-9, '_', '-'; default snap-DATE-TIME (UTC)"},
        {"timeout", PARAM_INTEGER, "Seconds to wait for it, queueing included (504 after; it goes on)",
         "600", NULL, 1, 3600},
        {NULL},
};
static const RouteParam clones_reset_params[] = {
        {"timeout", PARAM_INTEGER, "Seconds to wait for a fresh copy (503 after)", "10", NULL, 0, 600},
        {NULL},
};

const Route api_routes[] = {
        {"GET", "/", api_root, ROUTE_AUTH_NONE, ROUTE_CORS_PRIVATE,
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
        {"GET", "/ui.js", api_web_asset, ROUTE_AUTH_NONE, ROUTE_CORS_PRIVATE, "the dashboard page's script",
         no_params, NULL, "text/javascript"},
        {"GET", "/ui.css", api_web_asset, ROUTE_AUTH_NONE, ROUTE_CORS_PRIVATE, "the dashboard page's style",
         no_params, NULL, "text/css"},
        {"POST", "/clones", api_clones_lease, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "lease an isolated copy of the seeded database", clones_lease_params, "Clone", NULL, false, 201},
        {"GET", "/clones", api_clones_list, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "leased clones and the pool", no_params, "Clones"},
        {"DELETE", "/clones/{name}", api_clones_return, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "return a clone (dropped in the background)", no_params, "CloneReturned", NULL, false, 202},
        {"POST", "/clones/{name}/reset", api_clones_reset, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "a fresh copy under the same name", clones_reset_params, "Clone"},
        {"POST", "/workload", api_workload_start, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "start generated change traffic (a reset stops it)", workload_params, "Workload", NULL, false, 202},
        {"GET", "/workload", api_workload_status, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "the workload's progress: done, rate achieved, errors, remaining", no_params, "Workload"},
        {"DELETE", "/workload", api_workload_stop, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "stop the workload", no_params, "Workload"},
        {"POST", "/snapshots", api_snapshots_create, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "freeze the working database as a named snapshot, or restore one from a pg_dump archive body",
         snapshots_create_params, "Snapshot", NULL, false, 201, SNAPSHOT_MAX_UPLOAD},
        {"GET", "/snapshots", api_snapshots_list, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "the named snapshots",
         no_params, "Snapshots"},
        {"DELETE", "/snapshots/{name}", api_snapshots_delete, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE,
         "drop a snapshot", no_params, "SnapshotDropped"},
        {"GET", "/snapshots/{name}/dump", api_snapshots_dump, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE,
         "the snapshot as a pg_dump custom-format archive (streamed)", no_params, NULL,
         "application/octet-stream"},
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

/* "name{labels} value" with the labels' values escaped: keys and values alternate, ending with NULL. */
static void sample_write(FILE *f, const char *name, double value, ...)
{
        va_list ap;
        const char *k;
        bool first = true;

        fputs(name, f);
        va_start(ap, value);
        while ((k = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                fprintf(f, "%s%s=\"", first ? "{" : ",", k);
                metrics_label_value(f, v);
                fputc('"', f);
                first = false;
        }
        va_end(ap);
        fprintf(f, "%s %.10g\n", first ? "" : "}", value);
}

/* pgseed_replication_slot_*: whichever of the probe's slot facts are there (older probes have fewer). */
static void slots_write(FILE *f, json_t *slots)
{
        static const struct {
                const char *key, *metric, *help;
        } gauges[] = {
                {"active", "pgseed_replication_slot_active", "1 while a consumer streams from the slot."},
                {"lag_bytes", "pgseed_replication_slot_lag_bytes",
                 "WAL bytes between the current position and what the slot's consumer confirmed."},
                {"retained_bytes", "pgseed_replication_slot_retained_wal_bytes",
                 "WAL bytes the slot keeps on disk (from its restart_lsn)."},
                {"safe_wal_size", "pgseed_replication_slot_safe_wal_size_bytes",
                 "WAL bytes that can still be written before the slot is lost (max_slot_wal_keep_size)."},
        };
        static const char *const statuses[] = {"reserved", "extended", "unreserved", "lost"};
        size_t i;
        json_t *sl;

        for (size_t g = 0; g < ELEMENTSOF(gauges); g++) {
                bool header = false;

                json_array_foreach(slots, i, sl)
                {
                        json_t *v = json_object_get(sl, gauges[g].key);
                        if (!json_is_number(v) && !json_is_boolean(v))
                                continue;
                        if (!header)
                                metrics_header(f, gauges[g].metric, "gauge", gauges[g].help);
                        header = true;
                        sample_write(f, gauges[g].metric,
                                     json_is_boolean(v) ? (double) json_is_true(v) : json_number_value(v),
                                     "slot", json_string_value(json_object_get(sl, "name")), "plugin",
                                     json_string_value(json_object_get(sl, "plugin")), NULL);
                }
        }
        /* One series per status (1 for the slot's), so that an alert can say wal_status="lost". */
        bool header = false;
        json_array_foreach(slots, i, sl)
        {
                const char *st = json_string_value(json_object_get(sl, "wal_status"));
                if (!st)
                        continue;
                if (!header)
                        metrics_header(f, "pgseed_replication_slot_wal_status", "gauge",
                                       "The slot's wal_status (1 for the current one); lost means the "
                                       "consumer must start over.");
                header = true;
                for (size_t k = 0; k < ELEMENTSOF(statuses); k++)
                        sample_write(f, "pgseed_replication_slot_wal_status", streq(st, statuses[k]), "slot",
                                     json_string_value(json_object_get(sl, "name")), "wal_status",
                                     statuses[k], NULL);
        }
}

/* Seeding: progress now, and how long the last build's phases took (from the dataset's record). */
static void seeding_write(FILE *f, const SeedProgress *p, json_t *dataset)
{
        json_t *phases = json_object_get(dataset, "phases_ms"),
               *build = json_object_get(dataset, "build_ms"), *v;
        SeedPhase now = p ? (SeedPhase) atomic_load(&p->phase) : SEED_PHASE_IDLE;
        const char *k;

        metrics_header(f, "pgseed_seed_phase", "gauge",
                       "The seeder's current phase (1 for the active one).");
        for (int ph = 0; ph < _SEED_PHASE_MAX; ph++)
                sample_write(f, "pgseed_seed_phase", now == (SeedPhase) ph, "phase",
                             seed_phase_to_string((SeedPhase) ph), NULL);
        if (p) {
                metrics_header(f, "pgseed_seed_rows_loaded", "gauge",
                               "Rows loaded by the running (or last) build.");
                sample_write(f, "pgseed_seed_rows_loaded", (double) atomic_load(&p->rows_loaded), NULL);
                metrics_header(f, "pgseed_seed_rows_planned", "gauge",
                               "Rows the running (or last) build loads in all.");
                sample_write(f, "pgseed_seed_rows_planned", (double) atomic_load(&p->rows_total), NULL);
        }
        if (json_is_integer(build)) {
                metrics_header(f, "pgseed_last_seed_duration_seconds", "gauge",
                               "Duration of the last template build (absent before the first).");
                sample_write(f, "pgseed_last_seed_duration_seconds", json_integer_value(build) / 1000.0,
                             NULL);
        }
        if (json_object_size(phases) > 0) {
                metrics_header(f, "pgseed_last_seed_phase_duration_seconds", "gauge",
                               "Duration of each phase of the last template build.");
                json_object_foreach(phases, k, v)
                        sample_write(f, "pgseed_last_seed_phase_duration_seconds",
                                     json_number_value(v) / 1000.0, "phase", k, NULL);
        }
}

/* process_*: the client libraries' standard names, so that the usual dashboards work. */
static void process_write(FILE *f, const Daemon *d)
{
        long pages = 0, rss = 0;
        FILE *st = fopen("/proc/self/statm", "re");
        int64_t start_ms = now_real_ms() - (now_mono_ms() - d->started_mono_ms);
        size_t fds = 0;
        DIR *dir;

        metrics_header(f, "process_start_time_seconds", "gauge",
                       "Start time of the process since the Unix epoch.");
        fprintf(f, "process_start_time_seconds %.3f\n", start_ms / 1000.0);
        if (st && fscanf(st, "%ld %ld", &pages, &rss) == 2) {
                metrics_header(f, "process_resident_memory_bytes", "gauge",
                               "Resident memory size in bytes.");
                fprintf(f, "process_resident_memory_bytes %lld\n", (long long) rss * sysconf(_SC_PAGESIZE));
        }
        if (st)
                fclose(st);
        dir = opendir("/proc/self/fd");
        if (dir) {
                while (readdir(dir))
                        fds++;
                closedir(dir);
                metrics_header(f, "process_open_fds", "gauge", "Open file descriptors.");
                fprintf(f, "process_open_fds %zu\n", fds > 3 ? fds - 3 : 0); /* ., .., the dir's own */
        }
}

void api_metrics(Request *req)
{
        Daemon *d = request_daemon(req);
        json_t *dataset, *v;
        SupSnapshot snap;
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        if (!request_query_allow(req, NULL))
                return;
        supervisor_snapshot(d->supervisor, &snap);
        dataset = seeder_describe(d->seeder);
        f = open_memstream(&out, &len);
        metrics_write(d->metrics, f);

        metrics_header(f, "pgseed_up", "gauge",
                       "1 when the database is ready (seeded and accepting connections).");
        fprintf(f, "pgseed_up %d\n", snap.state == SUP_READY);
        metrics_header(f, "pgseed_state", "gauge", "Current supervisor state (1 for the active one).");
        for (int s = 0; s < _SUP_STATE_MAX; s++)
                sample_write(f, "pgseed_state", snap.state == (SupState) s, "state",
                             sup_state_to_string((SupState) s), NULL);
        metrics_header(f, "pgseed_uptime_seconds", "gauge", "Seconds since pgseedd started.");
        fprintf(f, "pgseed_uptime_seconds %lld\n",
                (long long) ((now_mono_ms() - d->started_mono_ms) / 1000));
        v = snap.facts ? json_object_get(snap.facts, "postgres_version") : NULL;
        metrics_header(f, "pgseed_build_info", "gauge",
                       "Always 1; the labels say which pgseedd, Postgres (once probed) and runtime run.");
        sample_write(f, "pgseed_build_info", 1, "version", PGSEED_VERSION, "postgres_version",
                     json_string_value(v) ? json_string_value(v) : "", "runtime", runtime_name(d->runtime),
                     NULL);
        if (snap.checked_at_ms > 0) {
                metrics_header(f, "pgseed_probe_age_seconds", "gauge",
                               "Seconds since the last successful probe of Postgres (the facts' age).");
                fprintf(f, "pgseed_probe_age_seconds %.3f\n", (now_real_ms() - snap.checked_at_ms) / 1000.0);
        }
        seeding_write(f, seeder_progress(d->seeder), dataset);
        metrics_header(f, "pgseed_resetting", "gauge", "1 while a reset runs (the database keeps serving).");
        fprintf(f, "pgseed_resetting %d\n", snap.resetting);
        v = snap.facts ? json_object_get(snap.facts, "epoch") : NULL;
        if (json_is_integer(v)) {
                metrics_header(f, "pgseed_reset_epoch", "gauge",
                               "Resets of the working database so far (its pgseed comment).");
                fprintf(f, "pgseed_reset_epoch %lld\n", (long long) json_integer_value(v));
        }

        json_t *tables = snap.facts ? json_object_get(snap.facts, "tables") : NULL;
        if (tables) {
                size_t i;
                json_t *t;
                metrics_header(f, "pgseed_table_rows", "gauge",
                               "Row count per table (refreshed every 5 s).");
                json_array_foreach(tables, i, t) sample_write(
                        f, "pgseed_table_rows", (double) json_integer_value(json_object_get(t, "rows")),
                        "schema", json_string_value(json_object_get(t, "schema")), "table",
                        json_string_value(json_object_get(t, "name")), NULL);
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
        if (d->workload)
                workload_metrics_write(d->workload, f);
        if (d->snapshots) {
                metrics_header(f, "pgseed_snapshots", "gauge", "Named snapshots kept (GET /snapshots).");
                fprintf(f, "pgseed_snapshots %lld\n", (long long) snapshots_count(d->snapshots));
        }
        v = snap.facts ? json_object_get(json_object_get(snap.facts, "cdc"), "replication_slots") : NULL;
        if (json_array_size(v) > 0)
                slots_write(f, v);
        if (d->pgbouncer)
                pgbouncer_metrics_write(d->pgbouncer, f);
        process_write(f, d);
        fclose(f);
        json_decref(dataset);
        sup_snapshot_done(&snap);
        http_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out, len);
        free(out);
}
