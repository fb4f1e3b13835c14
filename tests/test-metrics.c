/* SPDX-License-Identifier: MIT */
/* test-metrics.c -- the counters and histograms behind /metrics, rendered in Prometheus text format. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

static bool has_line(const char *text, const char *line)
{
        size_t n = strlen(line);

        for (const char *p = text; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static void test_metrics_http_by_route_and_code(void **state)
{
        Metrics *m = metrics_new();
        char *text;

        metrics_http_request(m, "/health", 200, 300);     /* 0.3 ms */
        metrics_http_request(m, "/health", 200, 2000000); /* 2 s */
        metrics_http_request(m, "/health", 503, 100);
        metrics_http_request(m, NULL, 404, 50);
        text = metrics_format(m);
        assert_true(has_line(text, "pgseed_http_requests_total{route=\"/health\",code=\"200\"} 2"));
        assert_true(has_line(text, "pgseed_http_requests_total{route=\"/health\",code=\"503\"} 1"));
        assert_true(has_line(text, "pgseed_http_requests_total{route=\"none\",code=\"404\"} 1"));
        /* Cumulative buckets: 0.3 ms is under 0.0005, 2 s under 2.5, both under +Inf. */
        assert_true(has_line(text, "pgseed_http_request_duration_seconds_bucket{route=\"/"
                                   "health\",code=\"200\",le=\"0.00025\"} 0"));
        assert_true(has_line(text, "pgseed_http_request_duration_seconds_bucket{route=\"/"
                                   "health\",code=\"200\",le=\"0.0005\"} 1"));
        assert_true(has_line(
                text,
                "pgseed_http_request_duration_seconds_bucket{route=\"/health\",code=\"200\",le=\"1\"} 1"));
        assert_true(has_line(
                text,
                "pgseed_http_request_duration_seconds_bucket{route=\"/health\",code=\"200\",le=\"2.5\"} 2"));
        assert_true(has_line(text, "pgseed_http_request_duration_seconds_bucket{route=\"/"
                                   "health\",code=\"200\",le=\"+Inf\"} 2"));
        assert_true(has_line(
                text, "pgseed_http_request_duration_seconds_count{route=\"/health\",code=\"200\"} 2"));
        assert_true(has_line(
                text, "pgseed_http_request_duration_seconds_sum{route=\"/health\",code=\"200\"} 2.000300"));
        free(text);
        metrics_free(m);
}

static void test_metrics_resets_by_mode_refusal_is_not_failure(void **state)
{
        Metrics *m = metrics_new();
        char *text = metrics_format(m);

        /* Before any reset: counters at 0, no last duration (0 would read as "instant"). */
        assert_true(has_line(text, "pgseed_resets_total{mode=\"template\",result=\"ok\"} 0"));
        assert_null(strstr(text, "pgseed_last_reset_duration_seconds{"));
        free(text);

        metrics_reset_finished(m, "template", METRIC_RESET_OK, NULL, 40);
        metrics_reset_finished(m, "inplace", METRIC_RESET_OK, NULL, 2500);
        metrics_reset_finished(m, "template", METRIC_RESET_REFUSED, "replication_slot_active", 3);
        metrics_reset_finished(m, "template", METRIC_RESET_REFUSED, "replication_slot_active", 2);
        metrics_reset_finished(m, "inplace", METRIC_RESET_FAILED, "disk_full", 700);
        text = metrics_format(m);
        /* Each mode keeps its own last duration: an in-place reset does not overwrite the template's. */
        assert_true(has_line(text, "pgseed_last_reset_duration_seconds{mode=\"template\"} 0.040"));
        assert_true(has_line(text, "pgseed_last_reset_duration_seconds{mode=\"inplace\"} 2.500"));
        assert_true(has_line(text, "pgseed_resets_total{mode=\"template\",result=\"refused\"} 2"));
        assert_true(has_line(text, "pgseed_resets_total{mode=\"template\",result=\"failed\"} 0"));
        assert_true(has_line(text, "pgseed_resets_total{mode=\"inplace\",result=\"failed\"} 1"));
        assert_true(has_line(
                text,
                "pgseed_reset_refusals_total{mode=\"template\",reason=\"replication_slot_active\"} 2"));
        assert_true(has_line(text, "pgseed_reset_failures_total{mode=\"inplace\",reason=\"disk_full\"} 1"));
        assert_null(strstr(text, "pgseed_reset_failures_total{mode=\"template\""));
        /* Refusals did no work: not in the duration histogram. */
        assert_true(has_line(text, "pgseed_reset_duration_seconds_count{mode=\"template\"} 1"));
        assert_true(has_line(text, "pgseed_reset_duration_seconds_count{mode=\"inplace\"} 2"));
        free(text);
        metrics_free(m);
}

static void test_metrics_label_values_are_escaped(void **state)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        metrics_label_value(f, "a\"b\\c\nd");
        fclose(f);
        assert_string_equal(out, "a\\\"b\\\\c\\nd");
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metrics_http_by_route_and_code),
                cmocka_unit_test(test_metrics_resets_by_mode_refusal_is_not_failure),
                cmocka_unit_test(test_metrics_label_values_are_escaped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
