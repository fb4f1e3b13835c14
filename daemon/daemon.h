/* SPDX-License-Identifier: MIT */
/* daemon.h -- the Daemon: the one context that owns configuration, runtime, supervisor, dataset and API. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

typedef struct Config Config;
typedef struct Runtime Runtime;
typedef struct Supervisor Supervisor;
typedef struct Seeder Seeder;
typedef struct HttpServer HttpServer;
typedef struct Metrics Metrics;
typedef struct HealthCache HealthCache;
typedef struct AccessPolicy AccessPolicy;
typedef struct Clones Clones;
typedef struct Workload Workload;
typedef struct Snapshots Snapshots;
typedef struct Pgbouncer Pgbouncer;
typedef struct ssl_ctx_st SSL_CTX;

/*
 * Created by main() and handed explicitly to every part that needs more than
 * its own state (HTTP handlers get it through their Request).  Fields are set
 * once at start-up and torn down in reverse order; the parts they point to do
 * their own locking.
 */
typedef struct Daemon {
        Config *config;
        Runtime *runtime;
        Seeder *seeder;
        Clones *clones;
        Workload *workload; /* generated change traffic (POST /workload), NULL until main() makes it */
        Snapshots *snapshots;
        Pgbouncer *pgbouncer; /* [pgbouncer] enabled: the pooler in front (pgbouncer.c), else NULL */
        Supervisor *supervisor;
        HttpServer *http;
        SSL_CTX *api_tls; /* [api] tls: the API's HTTPS context (http-tls.c), else NULL */
        Metrics *metrics;
        _Atomic(HealthCache *)
                health_cache; /* GET /health's serialized reply (api-health.c), made on first use */
        AccessPolicy *access; /* who may use the API; reloaded in place on SIGHUP */
        int64_t started_mono_ms;
        atomic_bool stopping; /* set on SIGTERM/SIGINT: streams and waits end early */
} Daemon;
