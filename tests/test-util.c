/* SPDX-License-Identifier: MIT */
/* test-util.c -- timed waits on CLOCK_MONOTONIC. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>

#include "util.h"

/*
 * A deadline from timespec_after_ms() is on CLOCK_MONOTONIC (seconds since
 * boot); a condition variable left on CLOCK_REALTIME would take it as a time
 * in 1970 and return at once, so the length of the wait tells the clocks
 * apart.
 */
static void test_cond_timedwait_ms_waits_on_the_monotonic_clock(void **state)
{
        pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t cond;
        int64_t t0, waited;
        int r;

        cond_init_monotonic(&cond);
        pthread_mutex_lock(&lock);
        t0 = now_mono_ms();
        do
                r = cond_timedwait_ms(&cond, &lock, 200 - (now_mono_ms() - t0));
        while (r == 0 && now_mono_ms() - t0 < 200); /* spurious wake-ups are allowed */
        waited = now_mono_ms() - t0;
        pthread_mutex_unlock(&lock);
        assert_int_equal(r, ETIMEDOUT);
        assert_true(waited >= 190);
        assert_true(waited < 2000);
        pthread_cond_destroy(&cond);
}

static void test_timespec_after_ms_is_on_the_monotonic_clock(void **state)
{
        struct timespec now, later = timespec_after_ms(1500);

        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t diff =
                (int64_t) (later.tv_sec - now.tv_sec) * 1000 + (later.tv_nsec - now.tv_nsec) / 1000000;
        assert_true(diff > 1400 && diff <= 1500);
        assert_true(later.tv_nsec >= 0 && later.tv_nsec < 1000000000L);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cond_timedwait_ms_waits_on_the_monotonic_clock),
                cmocka_unit_test(test_timespec_after_ms_is_on_the_monotonic_clock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
