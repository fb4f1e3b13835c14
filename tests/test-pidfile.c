/* SPDX-License-Identifier: MIT */
/* test-pidfile.c -- the pidfile lock: one holder at a time, even while holders come and go. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "pidfile.h"
#include "util.h"

static char dir[] = "/tmp/pgseed-test-pidfile-XXXXXX";
static atomic_int holders, max_holders, acquired;

static void *churn(void *arg)
{
        int64_t deadline = now_mono_ms() + 3000;

        while (now_mono_ms() < deadline) {
                Error e = ERROR_INIT;
                int fd = -1, n;

                if (pidfile_acquire(dir, &fd, &e) < 0) {
                        assert_int_equal(e.errnum, EBUSY);
                        continue;
                }
                n = atomic_fetch_add(&holders, 1) + 1;
                if (n > atomic_load(&max_holders))
                        atomic_store(&max_holders, n);
                atomic_fetch_add(&acquired, 1);
                usleep(100);
                atomic_fetch_sub(&holders, 1);
                pidfile_release(dir, fd);
        }
        return NULL;
}

/* Holders releasing while others acquire (an overlapping stop and start): never two at once. */
static void test_pidfile_overlapping_stop_start_never_two_holders(void **state)
{
        pthread_t t[4];

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(pthread_create(&t[i], NULL, churn, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                pthread_join(t[i], NULL);
        printf("# %d acquisitions, at most %d holders at once\n", atomic_load(&acquired),
               atomic_load(&max_holders));
        assert_true(atomic_load(&acquired) > 100);
        assert_int_equal(atomic_load(&max_holders), 1);
        rm_rf(dir);
}

static void test_pidfile_second_holder_refused_with_pid(void **state)
{
        char d[] = "/tmp/pgseed-test-pidfile-XXXXXX";
        Error e = ERROR_INIT;
        int a = -1, b = -1;
        char pid[32];

        assert_non_null(mkdtemp(d));
        assert_int_equal(pidfile_acquire(d, &a, &e), 0);
        assert_int_equal(pidfile_acquire(d, &b, &e), -EBUSY);
        assert_string_equal(e.code, "already_running");
        snprintf(pid, sizeof(pid), "pid %d", (int) getpid());
        assert_non_null(strstr(e.message, pid));
        pidfile_release(d, a);
        assert_int_equal(pidfile_acquire(d, &b, &e), 0);
        pidfile_release(d, b);
        rm_rf(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pidfile_overlapping_stop_start_never_two_holders),
                cmocka_unit_test(test_pidfile_second_holder_refused_with_pid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
