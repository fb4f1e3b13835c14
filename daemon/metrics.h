/* SPDX-License-Identifier: MIT */
/* metrics.h -- what pgseedd counts for /metrics (Prometheus text format); callable from any thread. */
#pragma once

#include <stdint.h>
#include <stdio.h>

typedef struct Metrics Metrics;

typedef enum MetricCounter {
        METRIC_RESTARTS,        /* Postgres restarts after it died */
        METRIC_RESETS_TEMPLATE, /* (counted by the seeder; /metrics reports metrics_reset_finished()'s) */
        METRIC_RESETS_INPLACE,
        METRIC_RESETS_FAILED,
        METRIC_SEEDS,            /* template builds */
        METRIC_CLONES_RECLAIMED, /* expired leases dropped */
        _METRIC_MAX,
} MetricCounter;

Metrics *metrics_new(void);
void metrics_free(Metrics *m);

/* All functions accept m == NULL (tests that run parts without a daemon). */
void metrics_count(Metrics *m, MetricCounter c);
void metrics_state_changed(Metrics *m, int state);
/* Superseded by metrics_reset_finished() (which knows the mode); kept for the seeder's calls. */
void metrics_reset_duration(Metrics *m, int64_t ms);
void metrics_seed_duration(Metrics *m, int64_t ms);
/* A clone handed out after us microseconds (histogram). */
void metrics_clone_handout(Metrics *m, int64_t us);
/* A pool clone made in ms. */
void metrics_clone_refill(Metrics *m, int64_t ms);
/* A reset's spare prepared in ms. */
void metrics_spare_duration(Metrics *m, int64_t ms);

/*
 * One answered request: route is the matched route's path (a string that
 * outlives m, e.g. from the route table) or NULL for no route ("none"), so
 * that the label set stays bounded whatever paths clients ask for.
 */
void metrics_http_request(Metrics *m, const char *route, unsigned status, int64_t duration_us);

/* Reset outcomes by mode ("template", "inplace"): done (r == 0), failed, or refused (changed nothing). */
typedef enum MetricResetOutcome {
        METRIC_RESET_OK,
        METRIC_RESET_FAILED,
        METRIC_RESET_REFUSED, /* busy, not ready, a slot in use, shutting down: not a failure */
} MetricResetOutcome;
/* reason: the error code ("not_ready", "slot_active", ...), ignored for OK; copied. */
void metrics_reset_finished(Metrics *m, const char *mode, MetricResetOutcome outcome, const char *reason,
                            int64_t duration_ms);

/* A clone handed out after us microseconds (histogram). */
void metrics_clone_handout(Metrics *m, int64_t us);
/* A pool clone made in ms. */
void metrics_clone_refill(Metrics *m, int64_t ms);
/* A reset's spare prepared in ms. */
void metrics_spare_duration(Metrics *m, int64_t ms);

/* Writes the counters and histograms in Prometheus text exposition format to f. */
void metrics_write(Metrics *m, FILE *f);
/* The same into a new string (caller frees). */
char *metrics_format(Metrics *m);

/* "# HELP name help\n# TYPE name type\n" */
void metrics_header(FILE *f, const char *name, const char *type, const char *help);
/* A label value with the escapes the text format requires (table and slot names may hold anything). */
void metrics_label_value(FILE *f, const char *v);
