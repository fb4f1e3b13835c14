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

/* Appends the counters in Prometheus text exposition format to a new string (caller frees). */
char *metrics_format(Metrics *m);
