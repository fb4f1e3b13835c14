/* SPDX-License-Identifier: MIT */
/* api.h -- the HTTP endpoints, and the pure JSON shaping behind them (unit-tested on its own). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

typedef struct SupSnapshot SupSnapshot;
typedef struct SeedProgress SeedProgress;
typedef struct HealthCache HealthCache;

/* The route table main() serves. */
extern const Route api_routes[];
extern const size_t api_routes_count;

void api_root(Request *req);
void api_health(Request *req);
void api_metrics(Request *req);
void api_schema(Request *req);
void api_sample(Request *req);
void api_reset(Request *req);
void api_logs(Request *req);
void api_clones_lease(Request *req);
void api_clones_list(Request *req);
void api_clones_return(Request *req);
void api_clones_reset(Request *req);
void api_workload_start(Request *req);
void api_workload_status(Request *req);
void api_workload_stop(Request *req);
void api_snapshots_list(Request *req);
void api_snapshots_create(Request *req);
void api_snapshots_delete(Request *req);
void api_snapshots_dump(Request *req);
/* For ?from=N on POST /reset and POST /clones (api-snapshots.c): true when from names a snapshot, else a
 * 4xx. */
bool api_snapshot_from_or_reply(Request *req, const char *from);
/* Queues a snapshot job (JobArgs in lifecycle.h) and parks req; args' fd is taken over. */
typedef struct JobArgs JobArgs;
void api_snapshot_job(Request *req, int kind, JobArgs *args, int64_t timeout_s);
/* The resumed call: the job's result with status, or its error. */
void api_snapshot_job_resumed(Request *req, const char *event, const char *name, unsigned status);
void api_livez(Request *req);
void api_readyz(Request *req);
void api_openapi(Request *req);
/* The dashboard (api-web.c): the page for GET / from a browser, and its script and style. */
void api_web_page(Request *req);
void api_web_asset(Request *req);
/* True when the request prefers text/html (a browser's Accept) over JSON. */
bool web_wants_page(Request *req);
/* The OpenAPI 3.1 document of routes (new reference), or NULL when the embedded schemas do not parse. */
json_t *openapi_build(const Route *routes, size_t n);

/* Everything /health reports, from a supervisor snapshot.  Returns a new object. */
typedef struct HealthInput {
        const SupSnapshot *snap;
        const Config *config;
        const char *runtime; /* the runtime's name: "embedded", "docker", "external" */
        const char *runtime_why;
        json_t *runtime_info; /* runtime_describe(): name, owner and more; borrowed, may be NULL */
        int64_t uptime_s;
        int64_t now_ms; /* realtime */
        const SeedProgress *progress;
        json_t *dataset; /* seeder_describe(), borrowed, may be NULL */
        json_t *pgbouncer; /* pgbouncer_describe(), borrowed, NULL when off */
} HealthInput;
json_t *health_build(const HealthInput *in);
/* Frees what GET /health cached for a daemon (NULL is fine). */
void health_cache_free(HealthCache *c);
/* 200 when ready, else 503. */
unsigned health_status_code(const SupSnapshot *snap);
