/* SPDX-License-Identifier: MIT */
/* api.h -- the HTTP endpoints, and the pure JSON shaping behind them (unit-tested on its own). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

typedef struct SupSnapshot SupSnapshot;
typedef struct SeedProgress SeedProgress;

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

/* Everything /health reports, from a supervisor snapshot.  Returns a new object. */
typedef struct HealthInput {
        const SupSnapshot *snap;
        const Config *config;
        const char *runtime; /* "embedded" or "docker" */
        const char *runtime_why;
        int64_t uptime_s;
        int64_t now_ms; /* realtime */
        const SeedProgress *progress;
        json_t *dataset; /* seeder_describe(), borrowed, may be NULL */
} HealthInput;
json_t *health_build(const HealthInput *in);
/* 200 when ready, else 503. */
unsigned health_status_code(const SupSnapshot *snap);
