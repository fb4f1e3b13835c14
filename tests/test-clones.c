/* SPDX-License-Identifier: MIT */
/* test-clones.c -- the clone pool's pure parts: name validation, targets, lease bookkeeping and limits. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "clones.h"
#include "config.h"
#include "runtime.h"
#include "util.h"

static int kicks;

static void count_kick(void *userdata)
{
        kicks++;
}

static Clones *pool_with(Config *c, int n_ready)
{
        Clones *cl = clones_new(c, NULL);
        char name[64];

        clones_set_kick(cl, count_kick, NULL);
        clones_set_template(cl, "0123456789abcdef");
        for (int i = 0; i < n_ready; i++) {
                snprintf(name, sizeof(name), "app_clone_%016x", i + 1);
                clones_pool_add(cl, name);
        }
        return cl;
}

static void test_clone_name_valid(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = clones_new(c, NULL);

        assert_true(clone_name_valid(cl, "app_clone_0123456789abcdef"));
        assert_false(clone_name_valid(cl, NULL));
        assert_false(clone_name_valid(cl, ""));
        assert_false(clone_name_valid(cl, "app"));
        assert_false(clone_name_valid(cl, "app_template"));
        assert_false(clone_name_valid(cl, "app_clone_"));
        assert_false(clone_name_valid(cl, "app_clone_0123456789abcde"));   /* 15 digits */
        assert_false(clone_name_valid(cl, "app_clone_0123456789abcdef0")); /* 17 */
        assert_false(clone_name_valid(cl, "app_clone_0123456789ABCDEF"));
        assert_false(clone_name_valid(cl, "app_clone_0123456789abcdeg"));
        assert_false(clone_name_valid(cl, "app_clone_01234567\";drop--"));
        assert_false(clone_name_valid(cl, "other_clone_0123456789abcdef"));
        clones_free(cl);
}

static void test_clones_pool_target(void **state)
{
        assert_int_equal(clones_pool_target(2, 0, 0, 100), 2);
        assert_int_equal(clones_pool_target(2, 3, 0, 100), 5);  /* waiters raise it */
        assert_int_equal(clones_pool_target(2, 0, 99, 100), 1); /* capped by max */
        assert_int_equal(clones_pool_target(2, 0, 100, 100), 0);
        assert_int_equal(clones_pool_target(2, 0, 150, 100), 0);
        assert_int_equal(clones_pool_target(0, 0, 0, 100), 0);
}

static void test_clones_lease_return(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = pool_with(c, 2);
        Error e = ERROR_INIT;
        ClonesStats st;
        json_t *l1 = NULL, *l2 = NULL, *list;

        kicks = 0;
        assert_int_equal(clones_lease(cl, 60, 0, &l1, &e), 0);
        /* FIFO: the oldest ready clone first; the lease is not recorded yet. */
        assert_string_equal(json_string_value(json_object_get(l1, "name")), "app_clone_0000000000000001");
        assert_false(json_boolean_value(json_object_get(l1, "recorded")));
        assert_int_equal(json_integer_value(json_object_get(l1, "ttl")), 60);
        assert_non_null(
                strstr(json_string_value(json_object_get(l1, "url")), "/app_clone_0000000000000001"));
        assert_null(strstr(json_string_value(json_object_get(l1, "url")), ":app@")); /* no password */
        assert_true(kicks > 0);
        assert_int_equal(clones_lease(cl, 0, 0, &l2, &e), 0);
        assert_int_equal(json_integer_value(json_object_get(l2, "ttl")), c->clones_ttl);
        clones_stats(cl, &st);
        assert_int_equal(st.ready, 0);
        assert_int_equal(st.leased, 2);
        assert_int_equal(st.leased_total, 2);

        list = clones_list(cl);
        assert_int_equal(json_array_size(json_object_get(list, "clones")), 2);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(list, "pool"), "leased")), 2);
        json_decref(list);

        assert_int_equal(clones_return(cl, "app_clone_0000000000000001", &e), 0);
        assert_int_equal(clones_return(cl, "app_clone_0000000000000001", &e), -ENOENT);
        assert_string_equal(e.code, "unknown_clone");
        assert_int_equal(clones_return(cl, "app; DROP DATABASE app", &e), -EINVAL);
        assert_string_equal(e.code, "invalid_name");
        /* A ready (unleased) clone cannot be returned either. */
        clones_pool_add(cl, "app_clone_00000000000000aa");
        assert_int_equal(clones_return(cl, "app_clone_00000000000000aa", &e), -ENOENT);
        clones_stats(cl, &st);
        assert_int_equal(st.leased, 1);
        assert_int_equal(st.returned_total, 1);
        json_decref(l1);
        json_decref(l2);
        clones_free(cl);
}

static void test_clones_limits(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl;
        Error e = ERROR_INIT;
        json_t *l = NULL;

        /* No template yet. */
        cl = clones_new(c, NULL);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -EAGAIN);
        assert_string_equal(e.code, "not_ready");
        clones_free(cl);

        c->clones_max = 1;
        cl = pool_with(c, 3);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), 0);
        json_decref(l);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -EAGAIN);
        assert_string_equal(e.code, "clone_limit");
        clones_free(cl);

        c->clones_max = 10;
        cl = pool_with(c, 0);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -EAGAIN);
        assert_string_equal(e.code, "pool_empty");
        clones_free(cl);
        /* Under the disk floor, with nothing ready: 507. */
        c->clones_min_free_mb = INT64_MAX / 2;
        cl = pool_with(c, 0);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -ENOSPC);
        assert_string_equal(e.code, "disk_full");
        clones_free(cl);
}

static void *add_later(void *arg)
{
        sleep_ms(50);
        clones_pool_add(arg, "app_clone_00000000000000bb");
        return NULL;
}

static void test_clones_lease_waits_for_refill(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = pool_with(c, 0);
        Error e = ERROR_INIT;
        json_t *l = NULL;
        pthread_t t;
        ClonesStats st;

        pthread_create(&t, NULL, add_later, cl);
        assert_int_equal(clones_lease(cl, 0, 5000, &l, &e), 0);
        pthread_join(t, NULL);
        assert_string_equal(json_string_value(json_object_get(l, "name")), "app_clone_00000000000000bb");
        assert_true(json_integer_value(json_object_get(l, "wait_ms")) >= 40);
        clones_stats(cl, &st);
        assert_int_equal(st.waiting, 0);
        json_decref(l);
        clones_free(cl);
}

static void test_clones_new_template_drops_ready(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = pool_with(c, 2);
        ClonesStats st;

        clones_set_template(cl, "fedcba9876543210");
        clones_stats(cl, &st);
        assert_int_equal(st.ready, 0);
        assert_true(clones_upkeep_due(cl, "fedcba9876543210")); /* the stale ones are to drop */
        clones_free(cl);
}

static void count_notify(void *userdata)
{
        (*(int *) userdata)++;
}

/* A parked lease's wait: notified once when a clone comes, counted in the target meanwhile. */
static void test_clones_waiter_notified_by_refill(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = pool_with(c, 0);
        int a = 0, b = 0;
        ClonesStats st;

        ClonesWaiter *wa = clones_wait(cl, 60000, count_notify, &a);
        ClonesWaiter *wb = clones_wait(cl, 60000, count_notify, &b);
        clones_stats(cl, &st);
        assert_int_equal(st.waiting, 2);
        assert_int_equal(st.target, c->clones_pool + 2);
        clones_pool_add(cl, "app_clone_00000000000000cc");
        /* One clone, one waiter resumed: the oldest. */
        assert_int_equal(a, 1);
        assert_int_equal(b, 0);
        /* The resumed request takes it; nothing is left to wake the other one for. */
        Error e = ERROR_INIT;
        json_t *l = NULL;
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), 0);
        json_decref(l);
        clones_expire(cl);
        assert_int_equal(a, 1);
        assert_int_equal(b, 0);
        clones_stats(cl, &st);
        assert_int_equal(st.waiting, 1);
        clones_waiter_free(wa);
        clones_waiter_free(wb); /* still waiting: detached without a notify */
        clones_stats(cl, &st);
        assert_int_equal(st.waiting, 0);
        assert_int_equal(b, 0);
        clones_free(cl);
}

static void test_clones_waiter_expires_and_cancels(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Clones *cl = pool_with(c, 0);
        int a = 0, b = 0;

        ClonesWaiter *wa = clones_wait(cl, 1, count_notify, &a);
        ClonesWaiter *wb = clones_wait(cl, 60000, count_notify, &b);
        sleep_ms(5);
        assert_true(clones_waiter_expired(wa));
        assert_false(clones_waiter_expired(wb));
        assert_true(clones_waiter_left_ms(wb) > 50000);
        clones_expire(cl);
        assert_int_equal(a, 1);
        assert_int_equal(b, 0);
        clones_cancel_waits(cl); /* shutdown: every waiter is answered */
        assert_int_equal(b, 1);
        clones_expire(cl);
        assert_int_equal(a + b, 2); /* exactly once each */
        clones_waiter_free(wa);
        clones_waiter_free(wb);
        clones_free(cl);
}

static int disk_calls;

static int fake_disk_free(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e)
{
        disk_calls++;
        *ret = 10 << 20;
        snprintf(where, size, "the fake disk");
        return 0;
}

/* [clones] min_free_mb asks the runtime (cached), and checks nothing where the runtime sees no disk. */
static void test_clones_disk_floor_asks_the_runtime(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        RuntimeOps seeing = {.name = "seeing", .disk_free = fake_disk_free}, blind = {.name = "blind"};
        Runtime rt = {.ops = &seeing, .config = c};
        Error e = ERROR_INIT;
        json_t *l = NULL, *list, *disk;
        Clones *cl;

        c->clones_min_free_mb = 512;
        cl = pool_with(c, 0);
        clones_set_runtime(cl, &rt);
        disk_calls = 0;
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -ENOSPC);
        assert_string_equal(e.code, "disk_full");
        assert_non_null(strstr(e.message, "is free on the fake disk (10 MiB)"));
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -ENOSPC);
        assert_int_equal(disk_calls, 1); /* the second lease used the cached answer */
        list = clones_list(cl);
        disk = json_object_get(json_object_get(list, "pool"), "disk");
        assert_true(json_is_true(json_object_get(disk, "checked")));
        assert_true(json_is_true(json_object_get(disk, "low")));
        assert_int_equal(json_integer_value(json_object_get(disk, "free_mb")), 10);
        json_decref(list);
        clones_free(cl);

        rt.ops = &blind;
        cl = pool_with(c, 0);
        clones_set_runtime(cl, &rt);
        assert_int_equal(clones_lease(cl, 0, 0, &l, &e), -EAGAIN);
        assert_string_equal(e.code, "pool_empty");
        list = clones_list(cl);
        disk = json_object_get(json_object_get(list, "pool"), "disk");
        assert_true(json_is_false(json_object_get(disk, "checked")));
        assert_non_null(strstr(json_string_value(json_object_get(disk, "note")), "checks nothing"));
        assert_non_null(
                strstr(json_string_value(json_object_get(disk, "reason")), "the blind runtime cannot see"));
        json_decref(list);
        clones_free(cl);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clone_name_valid),
                cmocka_unit_test(test_clones_pool_target),
                cmocka_unit_test(test_clones_lease_return),
                cmocka_unit_test(test_clones_limits),
                cmocka_unit_test(test_clones_disk_floor_asks_the_runtime),
                cmocka_unit_test(test_clones_lease_waits_for_refill),
                cmocka_unit_test(test_clones_new_template_drops_ready),
                cmocka_unit_test(test_clones_waiter_notified_by_refill),
                cmocka_unit_test(test_clones_waiter_expires_and_cancels),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
