/* SPDX-License-Identifier: MIT */
/* test-workload.c -- the workload's mix parameter, and its status before anything ran. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "workload.h"

static void test_workload_parse_mix_normalizes_weights(void **state)
{
        double mix[3];
        Error e = ERROR_INIT;

        assert_int_equal(workload_parse_mix("60,30,10", mix, &e), 0);
        assert_true(mix[0] > 0.599 && mix[0] < 0.601 && mix[1] > 0.299 && mix[1] < 0.301);
        assert_int_equal(workload_parse_mix("6,3,1", mix, &e), 0);
        assert_true(mix[2] > 0.099 && mix[2] < 0.101);
        assert_int_equal(workload_parse_mix("0,1,0", mix, &e), 0);
        assert_true(mix[0] == 0 && mix[1] == 1 && mix[2] == 0);
        assert_int_equal(workload_parse_mix("0.5,.25,0.25", mix, &e), 0);
        assert_true(mix[0] == 0.5);
}

static void test_workload_parse_mix_rejects_what_is_not_three_weights(void **state)
{
        static const char *const bad[] = {"",        "1",       "1,2",     "1,2,3,4", "-1,1,1",
                                          "0,0,0",   "a,b,c",   "1,,2",    "1, 2,3",  "1,2,3x",
                                          "nan,1,1", "inf,1,1", "1e9,1,1", " 1,2,3"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                double mix[3];
                Error e = ERROR_INIT;
                if (workload_parse_mix(bad[i], mix, &e) != -EINVAL)
                        fail_msg("mix=%s was accepted", bad[i]);
                assert_string_equal(e.code, "bad_mix");
                assert_true(*e.hint);
        }
}

static void test_workload_status_before_a_run_is_idle(void **state)
{
        Workload *w = workload_new(NULL);
        json_t *st = workload_status(w);

        assert_string_equal(json_string_value(json_object_get(st, "state")), "idle");
        assert_true(json_is_false(json_object_get(st, "running")));
        assert_null(json_object_get(st, "done"));
        assert_false(workload_stop(w, "test"));
        json_decref(st);
        workload_free(w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_workload_parse_mix_normalizes_weights),
                cmocka_unit_test(test_workload_parse_mix_rejects_what_is_not_three_weights),
                cmocka_unit_test(test_workload_status_before_a_run_is_idle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
