/* SPDX-License-Identifier: MIT */
/* metrics.c -- counters and histograms for /metrics, and their Prometheus rendering. */

#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"

/* Seconds.  Probes answer in well under a millisecond; a /sample can take a second. */
static const double http_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
/* A template swap takes tens of milliseconds, an in-place diff of a big table minutes. */
static const double reset_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

#define HTTP_BUCKETS  ELEMENTSOF(http_buckets)
#define RESET_BUCKETS ELEMENTSOF(reset_buckets)
/* Routes x codes actually seen; beyond this, new pairs are folded into route="other". */
#define HTTP_SERIES_MAX 96
#define RESET_MODES     2
#define REASONS_MAX     16

typedef struct HttpSeries {
        const char *route;
        unsigned code;
        uint64_t count;
        double sum;
        uint64_t buckets[HTTP_BUCKETS]; /* not cumulative: rendered cumulatively */
} HttpSeries;

typedef struct ReasonCount {
        char reason[48];
        MetricResetOutcome outcome;
        uint64_t count;
} ReasonCount;

typedef struct ResetStats {
        uint64_t ok, failed, refused;
        uint64_t count; /* the histogram counts finished resets, successful or not */
        double sum;
        uint64_t buckets[RESET_BUCKETS];
        bool have_last;
        double last_s;
        ReasonCount reasons[REASONS_MAX];
} ResetStats;

#define HANDOUT_BUCKETS 12
/* Upper bounds of the clone hand-out histogram, in microseconds. */
static const int64_t handout_bounds_us[HANDOUT_BUCKETS] = {100,   250,   500,    1000,   2500,    5000,
                                                           10000, 50000, 100000, 500000, 1000000, 5000000};

struct Metrics {
        atomic_llong counters[_METRIC_MAX];
        atomic_llong last_seed_ms;
        atomic_llong state_changes;
        atomic_llong handout_buckets[HANDOUT_BUCKETS + 1]; /* the last: +Inf */
        atomic_llong handout_sum_us;
        atomic_llong refill_count, refill_sum_ms, last_refill_ms;
        atomic_llong last_spare_ms;

        pthread_mutex_t lock; /* guards the rest */
        HttpSeries http[HTTP_SERIES_MAX];
        size_t n_http;
        ResetStats resets[RESET_MODES];
};

static const char *const reset_modes[RESET_MODES] = {"template", "inplace"};

Metrics *metrics_new(void)
{
        Metrics *m = xcalloc(1, sizeof(Metrics));

        pthread_mutex_init(&m->lock, NULL);
        return m;
}

void metrics_free(Metrics *m)
{
        if (!m)
                return;
        pthread_mutex_destroy(&m->lock);
        free(m);
}

void metrics_count(Metrics *m, MetricCounter c)
{
        if (m)
                atomic_fetch_add(&m->counters[c], 1);
}

void metrics_state_changed(Metrics *m, int state)
{
        if (m)
                atomic_fetch_add(&m->state_changes, 1);
}

void metrics_reset_duration(Metrics *m, int64_t ms)
{
}

void metrics_seed_duration(Metrics *m, int64_t ms)
{
        if (m)
                atomic_store(&m->last_seed_ms, ms);
}

static size_t bucket_index(const double *bounds, size_t n, double v)
{
        size_t i = 0;

        while (i < n && v > bounds[i])
                i++;
        return i; /* n: only +Inf */
}

void metrics_http_request(Metrics *m, const char *route, unsigned status, int64_t duration_us)
{
        double s = (double) duration_us / 1e6;
        HttpSeries *hs = NULL;
        size_t b;

        if (!m)
                return;
        route = route ? route : "none";
        b = bucket_index(http_buckets, HTTP_BUCKETS, s);
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_http && !hs; i++)
                if (m->http[i].code == status && streq(m->http[i].route, route))
                        hs = &m->http[i];
        if (!hs && m->n_http < HTTP_SERIES_MAX) {
                hs = &m->http[m->n_http++];
                hs->route = route;
                hs->code = status;
        } else if (!hs)
                hs = &m->http[HTTP_SERIES_MAX - 1];
        hs->count++;
        hs->sum += s;
        if (b < HTTP_BUCKETS)
                hs->buckets[b]++;
        pthread_mutex_unlock(&m->lock);
}

void metrics_reset_finished(Metrics *m, const char *mode, MetricResetOutcome outcome, const char *reason,
                            int64_t duration_ms)
{
        ResetStats *r;
        double s = (double) duration_ms / 1000.0;

        if (!m)
                return;
        r = &m->resets[streq(mode, "inplace") ? 1 : 0];
        pthread_mutex_lock(&m->lock);
        if (outcome == METRIC_RESET_OK) {
                r->ok++;
                r->have_last = true;
                r->last_s = s;
        } else {
                ReasonCount *rc = NULL;

                if (outcome == METRIC_RESET_FAILED)
                        r->failed++;
                else
                        r->refused++;
                reason = !isempty(reason) ? reason : "unknown";
                for (size_t i = 0; i < REASONS_MAX && !rc; i++)
                        if (r->reasons[i].count == 0 ||
                            (r->reasons[i].outcome == outcome && streq(r->reasons[i].reason, reason))) {
                                rc = &r->reasons[i];
                                if (rc->count == 0) {
                                        strlcpy0(rc->reason, reason, sizeof(rc->reason));
                                        rc->outcome = outcome;
                                }
                        }
                if (rc)
                        rc->count++;
        }
        /* A refusal did no work: its "duration" would only blur the histogram. */
        if (outcome != METRIC_RESET_REFUSED) {
                size_t b = bucket_index(reset_buckets, RESET_BUCKETS, s);
                r->count++;
                r->sum += s;
                if (b < RESET_BUCKETS)
                        r->buckets[b]++;
        }
        pthread_mutex_unlock(&m->lock);
}

void metrics_header(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label_value(FILE *f, const char *v)
{
        for (const char *p = v ? v : ""; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", f);
                else {
                        if (*p == '\\' || *p == '"')
                                fputc('\\', f);
                        fputc(*p, f);
                }
        }
}

/* Cumulative buckets, +Inf, _sum and _count of one histogram series; labels is "" or `a="b",`. */
static void histogram_write(FILE *f, const char *name, const char *labels, const double *bounds, size_t n,
                            const uint64_t *buckets, uint64_t count, double sum)
{
        uint64_t cum = 0;
        size_t len = strlen(labels);
        /* Without the trailing comma for _sum and _count. */
        int plain = len > 0 ? (int) len - 1 : 0;

        for (size_t i = 0; i < n; i++) {
                cum += buckets[i];
                fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i],
                        (unsigned long long) cum);
        }
        fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long) count);
        fprintf(f, "%s_sum{%.*s} %.6f\n", name, plain, labels, sum);
        fprintf(f, "%s_count{%.*s} %llu\n", name, plain, labels, (unsigned long long) count);
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

/* The clone pool's series (the pool's own gauges come from clones_stats() in api-misc.c). */
static void clones_write(Metrics *m, FILE *f)
{
        long long cum = 0;

        metrics_header(f, "pgseed_clone_handout_seconds", "histogram",
                       "Time POST /clones took to hand out a clone.");
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
        metrics_header(f, "pgseed_clone_refill_seconds", "summary",
                       "Time to make one pool clone (CREATE DATABASE and clean-up).");
        fprintf(f, "pgseed_clone_refill_seconds_sum %.3f\npgseed_clone_refill_seconds_count %lld\n",
                atomic_load(&m->refill_sum_ms) / 1000.0, (long long) atomic_load(&m->refill_count));
        metrics_header(f, "pgseed_last_clone_refill_seconds", "gauge", "Duration of the last pool refill.");
        fprintf(f, "pgseed_last_clone_refill_seconds %.3f\n", atomic_load(&m->last_refill_ms) / 1000.0);
        metrics_header(f, "pgseed_last_spare_seconds", "gauge",
                       "Duration of the last reset spare preparation.");
        fprintf(f, "pgseed_last_spare_seconds %.3f\n", atomic_load(&m->last_spare_ms) / 1000.0);
        metrics_header(f, "pgseed_clones_reclaimed_total", "counter", "Expired leases dropped.");
        fprintf(f, "pgseed_clones_reclaimed_total %lld\n",
                (long long) atomic_load(&m->counters[METRIC_CLONES_RECLAIMED]));
}

void metrics_write(Metrics *m, FILE *f)
{
        HttpSeries http[HTTP_SERIES_MAX];
        ResetStats resets[RESET_MODES];
        size_t n_http;

        /* Copy under the lock, format outside it: a slow scrape never holds up requests. */
        pthread_mutex_lock(&m->lock);
        n_http = m->n_http;
        memcpy(http, m->http, n_http * sizeof(HttpSeries));
        memcpy(resets, m->resets, sizeof(resets));
        pthread_mutex_unlock(&m->lock);

#define C(i) ((long long) atomic_load(&m->counters[i]))
        metrics_header(f, "pgseed_postgres_restarts_total", "counter",
                       "Postgres restarts after it stopped unexpectedly.");
        fprintf(f, "pgseed_postgres_restarts_total %lld\n", C(METRIC_RESTARTS));

        metrics_header(f, "pgseed_resets_total", "counter",
                       "Resets by mode and result (ok, failed, refused: a refusal changed nothing).");
        for (size_t i = 0; i < RESET_MODES; i++)
                fprintf(f,
                        "pgseed_resets_total{mode=\"%s\",result=\"ok\"} %llu\n"
                        "pgseed_resets_total{mode=\"%s\",result=\"failed\"} %llu\n"
                        "pgseed_resets_total{mode=\"%s\",result=\"refused\"} %llu\n",
                        reset_modes[i], (unsigned long long) resets[i].ok, reset_modes[i],
                        (unsigned long long) resets[i].failed, reset_modes[i],
                        (unsigned long long) resets[i].refused);
        for (int outcome = METRIC_RESET_FAILED; outcome <= METRIC_RESET_REFUSED; outcome++) {
                const char *name = outcome == METRIC_RESET_FAILED ? "pgseed_reset_failures_total"
                                                                  : "pgseed_reset_refusals_total";
                metrics_header(f, name, "counter",
                               outcome == METRIC_RESET_FAILED
                                       ? "Failed resets by mode and error code."
                                       : "Refused resets (nothing changed) by mode and error code.");
                for (size_t i = 0; i < RESET_MODES; i++)
                        for (size_t j = 0; j < REASONS_MAX && resets[i].reasons[j].count; j++) {
                                if ((int) resets[i].reasons[j].outcome != outcome)
                                        continue;
                                fprintf(f, "%s{mode=\"%s\",reason=\"", name, reset_modes[i]);
                                metrics_label_value(f, resets[i].reasons[j].reason);
                                fprintf(f, "\"} %llu\n", (unsigned long long) resets[i].reasons[j].count);
                        }
        }
        metrics_header(f, "pgseed_reset_duration_seconds", "histogram",
                       "Duration of finished resets (successful or failed) by mode.");
        for (size_t i = 0; i < RESET_MODES; i++) {
                char labels[64];

                snprintf(labels, sizeof(labels), "mode=\"%s\",", reset_modes[i]);
                histogram_write(f, "pgseed_reset_duration_seconds", labels, reset_buckets, RESET_BUCKETS,
                                resets[i].buckets, resets[i].count, resets[i].sum);
        }
        metrics_header(f, "pgseed_last_reset_duration_seconds", "gauge",
                       "Duration of the last successful reset of each mode (absent before the first).");
        for (size_t i = 0; i < RESET_MODES; i++)
                if (resets[i].have_last)
                        fprintf(f, "pgseed_last_reset_duration_seconds{mode=\"%s\"} %.3f\n", reset_modes[i],
                                resets[i].last_s);

        metrics_header(f, "pgseed_seeds_total", "counter", "Template builds.");
        fprintf(f, "pgseed_seeds_total %lld\n", C(METRIC_SEEDS));

        metrics_header(f, "pgseed_http_requests_total", "counter",
                       "HTTP requests by route and status code.");
        for (size_t i = 0; i < n_http; i++) {
                fputs("pgseed_http_requests_total{route=\"", f);
                metrics_label_value(f, http[i].route);
                fprintf(f, "\",code=\"%u\"} %llu\n", http[i].code, (unsigned long long) http[i].count);
        }
        metrics_header(f, "pgseed_http_request_duration_seconds", "histogram",
                       "Time from a complete request head until the reply was written out, by route and "
                       "status code.");
        for (size_t i = 0; i < n_http; i++) {
                char *labels = NULL;
                size_t len = 0;
                FILE *lf = open_memstream(&labels, &len);

                fputs("route=\"", lf);
                metrics_label_value(lf, http[i].route);
                fprintf(lf, "\",code=\"%u\",", http[i].code);
                fclose(lf);
                histogram_write(f, "pgseed_http_request_duration_seconds", labels, http_buckets,
                                HTTP_BUCKETS, http[i].buckets, http[i].count, http[i].sum);
                free(labels);
        }

        metrics_header(f, "pgseed_state_changes_total", "counter", "Supervisor state transitions.");
        fprintf(f, "pgseed_state_changes_total %lld\n", (long long) atomic_load(&m->state_changes));
        clones_write(m, f);
#undef C
}

char *metrics_format(Metrics *m)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        metrics_write(m, f);
        fclose(f);
        return out;
}
