/* SPDX-License-Identifier: MIT */
/* metrics.h -- counters for /metrics (Prometheus text format); lock-free, callable from any thread. */
#pragma once

#include <stdint.h>

typedef struct Metrics Metrics;

typedef enum MetricCounter {
        METRIC_RESTARTS, /* Postgres restarts after it died */
        METRIC_RESETS_TEMPLATE,
        METRIC_RESETS_INPLACE,
        METRIC_RESETS_FAILED,
        METRIC_SEEDS, /* template builds */
        METRIC_HTTP_2XX,
        METRIC_HTTP_3XX,
        METRIC_HTTP_4XX,
        METRIC_HTTP_5XX,
        METRIC_CLONES_RECLAIMED, /* expired leases dropped */
        _METRIC_MAX,
} MetricCounter;

Metrics *metrics_new(void);
void metrics_free(Metrics *m);

/* All functions accept m == NULL (tests that run parts without a daemon). */
void metrics_count(Metrics *m, MetricCounter c);
void metrics_http(Metrics *m, unsigned status);
void metrics_state_changed(Metrics *m, int state);
void metrics_reset_duration(Metrics *m, int64_t ms);
void metrics_seed_duration(Metrics *m, int64_t ms);
/* A clone handed out after us microseconds (histogram). */
void metrics_clone_handout(Metrics *m, int64_t us);
/* A pool clone made in ms. */
void metrics_clone_refill(Metrics *m, int64_t ms);
/* A reset's spare prepared in ms. */
void metrics_spare_duration(Metrics *m, int64_t ms);

/* Appends the counters in Prometheus text exposition format to a new string (caller frees). */
char *metrics_format(Metrics *m);
