/* SPDX-License-Identifier: MIT */
/* test-snapshots.c -- snapshot names: what may reach a database name, and what is refused. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"
#include "snapshots.h"
#include "util.h"

static void test_snapshot_name_check(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Snapshots *sn = snapshots_new(c);
        Error e = ERROR_INIT;
        char longest[42];

        memset(longest, 'a', 40);
        longest[40] = '\0';
        static const char *const good[] = {"a", "before-migration", "v2_3", "9lives", NULL};
        for (const char *const *g = good; *g; g++)
                assert_int_equal(snapshot_name_check(sn, *g, &e), 0);
        assert_int_equal(snapshot_name_check(sn, longest, &e), 0);
        static const char *const bad[] = {"",     "-a",   "_a",  "A", "a b", "a;b",  "a'b",
                                          "a\"b", "../x", "a/b", "é", "a.b", "a\nb", NULL};
        for (const char *const *b = bad; *b; b++) {
                assert_int_equal(snapshot_name_check(sn, *b, &e), -EINVAL);
                assert_string_equal(e.code, "invalid_snapshot_name");
        }
        assert_int_equal(snapshot_name_check(sn, NULL, &e), -EINVAL);
        longest[40] = 'c'; /* 41 characters */
        longest[41] = '\0';
        assert_int_equal(snapshot_name_check(sn, longest, &e), -EINVAL);
        snapshots_free(sn);
}

/* A long working-database name leaves less room: the build's name must still fit in 63 bytes. */
static void test_snapshot_name_fits_database_name(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Error e = ERROR_INIT;
        char name[41];

        free(c->pg_db);
        c->pg_db = xstrdup("a_rather_long_working_database_name_x"); /* 37 */
        Snapshots *sn = snapshots_new(c);
        memset(name, 'n', 40);
        name[40] = '\0';
        assert_int_equal(snapshot_name_check(sn, name, &e), -EINVAL);
        name[63 - 37 - strlen("_snapbuild_")] = '\0';
        assert_int_equal(snapshot_name_check(sn, name, &e), 0);
        assert_int_equal(snapshots_count(sn), 0);
        json_t *list = snapshots_list(sn);
        assert_int_equal(json_array_size(json_object_get(list, "snapshots")), 0);
        json_decref(list);
        assert_int_equal(snapshots_lookup(sn, "x", NULL, NULL, 0, &e), -ENOENT);
        assert_string_equal(e.code, "unknown_snapshot");
        snapshots_free(sn);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_name_check),
                cmocka_unit_test(test_snapshot_name_fits_database_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
