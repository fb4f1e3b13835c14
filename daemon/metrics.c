/* SPDX-License-Identifier: MIT */
/* metrics.c -- atomic counters and their Prometheus rendering. */

#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>

#include "util.h"

#define HANDOUT_BUCKETS 12

struct Metrics {
        atomic_llong counters[_METRIC_MAX];
        atomic_llong last_reset_ms;
        atomic_llong last_seed_ms;
        atomic_llong state_changes;
        atomic_llong handout_buckets[HANDOUT_BUCKETS + 1]; /* the last: +Inf */
        atomic_llong handout_sum_us;
        atomic_llong refill_count, refill_sum_ms, last_refill_ms;
        atomic_llong last_spare_ms;
};

/* Upper bounds of the hand-out histogram, in microseconds. */
static const int64_t handout_bounds_us[HANDOUT_BUCKETS] = {100,   250,   500,    1000,   2500,    5000,
                                                           10000, 50000, 100000, 500000, 1000000, 5000000};

Metrics *metrics_new(void)
{
        return xcalloc(1, sizeof(Metrics));
}

void metrics_free(Metrics *m)
{
        free(m);
}

void metrics_count(Metrics *m, MetricCounter c)
{
        if (m)
                atomic_fetch_add(&m->counters[c], 1);
}

void metrics_http(Metrics *m, unsigned status)
{
        if (!m)
                return;
        if (status >= 500)
                metrics_count(m, METRIC_HTTP_5XX);
        else if (status >= 400)
                metrics_count(m, METRIC_HTTP_4XX);
        else if (status >= 300)
                metrics_count(m, METRIC_HTTP_3XX);
        else
                metrics_count(m, METRIC_HTTP_2XX);
}

void metrics_state_changed(Metrics *m, int state)
{
        if (m)
                atomic_fetch_add(&m->state_changes, 1);
}

void metrics_reset_duration(Metrics *m, int64_t ms)
{
        if (m)
                atomic_store(&m->last_reset_ms, ms);
}

void metrics_clone_handout(Metrics *m, int64_t us)
{
        size_t i = 0;

        if (!m)
                return;
        while (i < HANDOUT_BUCKETS && us > handout_bounds_us[i])
                i++;
        atomic_fetch_add(&m->handout_buckets[i], 1);
        atomic_fetch_add(&m->handout_sum_us, us);
}

void metrics_clone_refill(Metrics *m, int64_t ms)
{
        if (!m)
                return;
        atomic_fetch_add(&m->refill_count, 1);
        atomic_fetch_add(&m->refill_sum_ms, ms);
        atomic_store(&m->last_refill_ms, ms);
}

void metrics_spare_duration(Metrics *m, int64_t ms)
{
        if (m)
                atomic_store(&m->last_spare_ms, ms);
}

void metrics_seed_duration(Metrics *m, int64_t ms)
{
        if (m)
                atomic_store(&m->last_seed_ms, ms);
}

char *metrics_format(Metrics *m)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

#define C(i) ((long long) atomic_load(&m->counters[i]))
        fprintf(f,
                "# HELP pgseed_postgres_restarts_total Postgres restarts after it stopped unexpectedly.\n"
                "# TYPE pgseed_postgres_restarts_total counter\n"
                "pgseed_postgres_restarts_total %lld\n",
                C(METRIC_RESTARTS));
        fprintf(f,
                "# HELP pgseed_resets_total Resets by mode and outcome.\n"
                "# TYPE pgseed_resets_total counter\n"
                "pgseed_resets_total{mode=\"template\",result=\"ok\"} %lld\n"
                "pgseed_resets_total{mode=\"inplace\",result=\"ok\"} %lld\n"
                "pgseed_resets_total{result=\"failed\"} %lld\n",
                C(METRIC_RESETS_TEMPLATE), C(METRIC_RESETS_INPLACE), C(METRIC_RESETS_FAILED));
        fprintf(f,
                "# HELP pgseed_last_reset_duration_seconds Duration of the last successful reset.\n"
                "# TYPE pgseed_last_reset_duration_seconds gauge\n"
                "pgseed_last_reset_duration_seconds %.3f\n",
                atomic_load(&m->last_reset_ms) / 1000.0);
        fprintf(f,
                "# HELP pgseed_seeds_total Template builds.\n"
                "# TYPE pgseed_seeds_total counter\n"
                "pgseed_seeds_total %lld\n"
                "# HELP pgseed_last_seed_duration_seconds Duration of the last template build.\n"
                "# TYPE pgseed_last_seed_duration_seconds gauge\n"
                "pgseed_last_seed_duration_seconds %.3f\n",
                C(METRIC_SEEDS), atomic_load(&m->last_seed_ms) / 1000.0);
        fprintf(f,
                "# HELP pgseed_http_responses_total HTTP responses by status class.\n"
                "# TYPE pgseed_http_responses_total counter\n"
                "pgseed_http_responses_total{code=\"2xx\"} %lld\n"
                "pgseed_http_responses_total{code=\"3xx\"} %lld\n"
                "pgseed_http_responses_total{code=\"4xx\"} %lld\n"
                "pgseed_http_responses_total{code=\"5xx\"} %lld\n",
                C(METRIC_HTTP_2XX), C(METRIC_HTTP_3XX), C(METRIC_HTTP_4XX), C(METRIC_HTTP_5XX));
        fprintf(f,
                "# HELP pgseed_state_changes_total Supervisor state transitions.\n"
                "# TYPE pgseed_state_changes_total counter\n"
                "pgseed_state_changes_total %lld\n",
                (long long) atomic_load(&m->state_changes));
        long long cum = 0;
        fprintf(f, "# HELP pgseed_clone_handout_seconds Time POST /clones took to hand out a clone.\n"
                   "# TYPE pgseed_clone_handout_seconds histogram\n");
        for (size_t i = 0; i <= HANDOUT_BUCKETS; i++) {
                cum += (long long) atomic_load(&m->handout_buckets[i]);
                if (i < HANDOUT_BUCKETS)
                        fprintf(f, "pgseed_clone_handout_seconds_bucket{le=\"%g\"} %lld\n",
                                handout_bounds_us[i] / 1e6, cum);
                else
                        fprintf(f, "pgseed_clone_handout_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
        }
        fprintf(f, "pgseed_clone_handout_seconds_sum %.6f\npgseed_clone_handout_seconds_count %lld\n",
                atomic_load(&m->handout_sum_us) / 1e6, cum);
        fprintf(f,
                "# HELP pgseed_clone_refill_seconds Time to make one pool clone (CREATE DATABASE and "
                "clean-up).\n"
                "# TYPE pgseed_clone_refill_seconds summary\n"
                "pgseed_clone_refill_seconds_sum %.3f\npgseed_clone_refill_seconds_count %lld\n"
                "# HELP pgseed_last_clone_refill_seconds Duration of the last pool refill.\n"
                "# TYPE pgseed_last_clone_refill_seconds gauge\npgseed_last_clone_refill_seconds %.3f\n"
                "# HELP pgseed_last_spare_seconds Duration of the last reset spare preparation.\n"
                "# TYPE pgseed_last_spare_seconds gauge\npgseed_last_spare_seconds %.3f\n"
                "# HELP pgseed_clones_reclaimed_total Expired leases dropped.\n"
                "# TYPE pgseed_clones_reclaimed_total counter\npgseed_clones_reclaimed_total %lld\n",
                atomic_load(&m->refill_sum_ms) / 1000.0, (long long) atomic_load(&m->refill_count),
                atomic_load(&m->last_refill_ms) / 1000.0, atomic_load(&m->last_spare_ms) / 1000.0,
                C(METRIC_CLONES_RECLAIMED));
#undef C
        fclose(f);
        return out;
}
