/* SPDX-License-Identifier: MIT */
/* test-docker-logs.c -- the pure part of reading container logs: engine times, refined from the server's prefix. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>

#include "docker-logs.h"
#include "util.h"

/* 2026-12-01T23:45:22Z */
#define SECOND_MS 1796168722000LL

static void test_docker_parse_time_keeps_milliseconds(void **state)
{
        int64_t ms = 0;
        const char *s = "2026-12-01T23:45:22.477123456Z";

        assert_int_equal(docker_parse_time(s, strlen(s), &ms), 0);
        assert_int_equal(ms, SECOND_MS + 477);
        s = "2026-12-01T23:45:22Z"; /* Podman's whole seconds */
        assert_int_equal(docker_parse_time(s, strlen(s), &ms), 0);
        assert_int_equal(ms, SECOND_MS);
        assert_int_equal(docker_parse_time("yesterday", 9, &ms), -EINVAL);
}

static void test_docker_log_refine_ms_from_the_servers_prefix(void **state)
{
        /* Whole seconds from the engine, the same second in the server's prefix: its milliseconds. */
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:22.477 UTC [42] LOG:  ready", SECOND_MS),
                         SECOND_MS + 477);
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:22.000 GMT [42] LOG:  x", SECOND_MS), SECOND_MS);
}

static void test_docker_log_refine_ms_leaves_what_it_cannot_vouch_for(void **state)
{
        /* The engine already had milliseconds. */
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:22.477 UTC [42] LOG:  x", SECOND_MS + 5),
                         SECOND_MS + 5);
        /* Another second (a line written late), another zone, no prefix, no time at all. */
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:21.477 UTC [42] LOG:  x", SECOND_MS), SECOND_MS);
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:22.477 CET [42] LOG:  x", SECOND_MS), SECOND_MS);
        assert_int_equal(docker_log_refine_ms("PostgreSQL init process complete", SECOND_MS), SECOND_MS);
        assert_int_equal(docker_log_refine_ms("2026-12-01 23:45:22.477 UTC", 0), 0);
        assert_int_equal(docker_log_refine_ms(NULL, SECOND_MS), SECOND_MS);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_docker_parse_time_keeps_milliseconds),
                cmocka_unit_test(test_docker_log_refine_ms_from_the_servers_prefix),
                cmocka_unit_test(test_docker_log_refine_ms_leaves_what_it_cannot_vouch_for),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
