/* SPDX-License-Identifier: MIT */
/* workload.h -- change traffic on demand: inserts, updates and deletes in the dataset's shape at a set rate.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

typedef struct Config Config;
typedef struct Workload Workload;

/* What POST /workload asks for. */
typedef struct WorkloadParams {
        int64_t rate;        /* changes per second */
        double mix[3];       /* insert, update, delete shares (sum 1) */
        int64_t count;       /* stop after this many changes; 0 = no limit */
        int64_t duration_ms; /* stop after this long; 0 = no limit */
        uint64_t seed;       /* the same seed from the same rows makes the same changes */
} WorkloadParams;

/* A stopped workload for c's working database.  Does no I/O. */
Workload *workload_new(const Config *c);
/* Stops a running workload and frees it; NULL is fine. */
void workload_free(Workload *w);

/*
 * Starts generating changes on a thread of its own with its own connection
 * (it never runs on an HTTP worker or the lifecycle worker).  -EBUSY (code
 * workload_running) when one runs.  Any thread.
 */
int workload_start(Workload *w, const WorkloadParams *p, Error *e);

/*
 * Stops a running workload and waits until its last transaction ended
 * (bounded by one batch, or its 5 s statement timeout); why is reported in
 * GET /workload ("stopped_by").  Returns true when one was running.  Any
 * thread but the workload's own.
 */
bool workload_stop(Workload *w, const char *why);

/* Progress: the parameters, changes done by kind, achieved rate, errors, what remains.  New reference. */
json_t *workload_status(Workload *w);

/* pgseed_workload_* for /metrics. */
void workload_metrics_write(Workload *w, FILE *f);

/*
 * Parses "60,30,10" (weights, normalized to shares) into mix.  Returns 0 or
 * -EINVAL with e filled.  Pure (unit-tested).
 */
int workload_parse_mix(const char *s, double mix[3], Error *e);
