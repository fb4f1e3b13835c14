/* SPDX-License-Identifier: MIT */
/* test-roles.c -- the [roles] settings: defaults, "none", password files, names that clash. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "roles.h"
#include "util.h"

static void test_roles_defaults(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        RoleSpec r[ROLES_MAX];
        Error e = ERROR_INIT;
        char fp[256];

        assert_int_equal(config_finish(c, &e), 0);
        assert_int_equal(roles_list(c, r), 4);
        assert_string_equal(r[0].kind, "owner");
        assert_string_equal(r[0].name, "app");
        assert_string_equal(r[1].name, "app_rw");
        assert_string_equal(r[1].password, "app_rw"); /* dev default: the name, like app/app */
        assert_string_equal(r[2].name, "app_ro");
        assert_string_equal(r[3].name, "debezium");
        assert_string_equal(r[3].kind, "replication");
        roles_fingerprint_text(c, fp, sizeof(fp));
        assert_string_equal(fp, "|app=app_rw|readonly=app_ro|replication=debezium");

        json_t *j = roles_describe(c);
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_null(strstr(text, "password"));
        assert_non_null(strstr(text, "\"url\":\"postgresql://app_rw@127.0.0.1:5432/app\""));
}

static void test_roles_none_and_files(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        char path[] = "/tmp/pgseed-test-roles-XXXXXX";
        int fd = mkstemp(path);
        RoleSpec r[ROLES_MAX];
        Error e = ERROR_INIT;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "from-file\n", 10), 10);
        close(fd);
        assert_int_equal(config_set(c, "roles.readonly_user", "none", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_set(c, "roles.replication_user", "", SOURCE_FILE, "t", &e), 0);
        assert_int_equal(config_set(c, "roles.app_password", "ignored", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_set(c, "roles.app_password_file", path, SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_finish(c, &e), 0);
        unlink(path);
        assert_int_equal(roles_list(c, r), 2);
        assert_string_equal(r[1].name, "app_rw");
        assert_string_equal(r[1].password, "from-file");
}

static void test_roles_names_must_differ(void **state)
{
        Error e = ERROR_INIT;
        Config *c = config_new_defaults();

        assert_int_equal(config_set(c, "roles.app_user", "app", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_finish(c, &e), -EINVAL);
        assert_non_null(strstr(e.message, "also [postgres] user"));
        config_free(c);

        c = config_new_defaults();
        e = (Error) ERROR_INIT;
        assert_int_equal(config_set(c, "roles.readonly_user", "app_rw", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_finish(c, &e), -EINVAL);
        assert_non_null(strstr(e.message, "are both 'app_rw'"));
        config_free(c);

        c = config_new_defaults();
        e = (Error) ERROR_INIT;
        assert_int_equal(config_set(c, "roles.app_password_file", "/nonexistent/pw", SOURCE_FLAG, "t", &e),
                         0);
        assert_int_equal(config_finish(c, &e), -ENOENT);
        config_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roles_defaults),
                cmocka_unit_test(test_roles_none_and_files),
                cmocka_unit_test(test_roles_names_must_differ),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
