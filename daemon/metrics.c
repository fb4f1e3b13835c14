/* SPDX-License-Identifier: MIT */
/* metrics.c -- atomic counters and their Prometheus rendering. */

#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>

#include "util.h"

struct Metrics {
        atomic_llong counters[_METRIC_MAX];
        atomic_llong last_reset_ms;
        atomic_llong last_seed_ms;
        atomic_llong state_changes;
};

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
#undef C
        fclose(f);
        return out;
}
