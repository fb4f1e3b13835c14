/* SPDX-License-Identifier: MIT */
/* test-tuning.c -- [postgres] memory sizes, and the settings it and wal_archive_dir derive. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "tls.h"
#include "tuning.h"
#include "util.h"

static void test_config_parse_memory_sizes(void **state)
{
        int64_t mb;

        assert_int_equal(config_parse_memory("", &mb), 0);
        assert_int_equal(mb, 0);
        assert_int_equal(config_parse_memory("512MB", &mb), 0);
        assert_int_equal(mb, 512);
        assert_int_equal(config_parse_memory("2GB", &mb), 0);
        assert_int_equal(mb, 2048);
        assert_int_equal(config_parse_memory("2 gb", &mb), 0);
        assert_int_equal(mb, 2048);
        assert_int_equal(config_parse_memory("1048576kB", &mb), 0);
        assert_int_equal(mb, 1024);
        assert_int_equal(config_parse_memory("1TB", &mb), 0);
        assert_int_equal(mb, 1024 * 1024);
        assert_int_equal(config_parse_memory("auto", &mb), 0);
        assert_true(mb >= 64);
}

static void test_config_parse_memory_refuses(void **state)
{
        const char *bad[] = {
                "lots", "512", "512XB", "-1GB", "0MB", "63MB", "GB", "1.5GB", "99999999999999999TB"};
        int64_t mb;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (config_parse_memory(bad[i], &mb) != -EINVAL)
                        fail_msg("'%s' was accepted as %lld MB", bad[i], (long long) mb);
}

static void test_tuning_settings_from_memory(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_strv_free_ char **v = NULL;
        Error e = ERROR_INIT;

        assert_int_equal(tuning_append_settings(c, false, &v, &e), 0);
        assert_null(v); /* nothing configured: the settings file decides */
        assert_int_equal(config_set(c, "postgres.memory", "32GB", SOURCE_FLAG, "test", &e), 0);
        assert_int_equal(tuning_append_settings(c, true, &v, &e), 0);
        assert_string_equal(v[0], "shared_buffers=8192MB");
        assert_string_equal(v[1], "effective_cache_size=24576MB");
        assert_string_equal(v[2], "maintenance_work_mem=2048MB"); /* capped */
        assert_string_equal(v[3], "work_mem=512MB");
        assert_null(v[4]);
}

static void test_tuning_archive_dir(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_strv_free_ char **v = NULL;
        char tmpl[] = "/tmp/pgseed-test-tuning-XXXXXX";
        _cleanup_free_ char *dir = NULL;
        Error e = ERROR_INIT;

        assert_non_null(mkdtemp(tmpl));
        dir = xasprintf("%s/archive", tmpl);
        assert_int_equal(config_set(c, "postgres.wal_archive_dir", dir, SOURCE_FLAG, "test", &e), 0);
        /* In a container the server writes to where the Docker runtime mounts the directory. */
        assert_int_equal(tuning_append_settings(c, true, &v, &e), 0);
        assert_string_equal(v[0], "archive_mode=on");
        assert_string_equal(v[1], "archive_command=test ! -f " TUNING_CONTAINER_ARCHIVE_DIR
                                  "/%f && cp %p " TUNING_CONTAINER_ARCHIVE_DIR "/%f");
        assert_int_equal(access(dir, W_OK), 0);
        strv_free(v);
        v = NULL;
        assert_int_equal(tuning_append_settings(c, false, &v, &e), 0);
        assert_string_equal(v[0], "archive_mode=on");
        _cleanup_free_ char *cmd = xasprintf("archive_command=test ! -f %s/%%f && cp %%p %s/%%f", dir, dir);
        assert_string_equal(v[1], cmd);
        assert_int_equal(access(dir, W_OK), 0);
        rm_rf(tmpl);

        /* The command goes through a shell: nothing that would need quoting. */
        e = (Error) ERROR_INIT;
        assert_int_equal(config_set(c, "postgres.wal_archive_dir", "/tmp/a b", SOURCE_FLAG, "test", &e), 0);
        assert_int_equal(tuning_append_settings(c, false, &v, &e), -EINVAL);
        assert_int_equal(
                config_set(c, "postgres.wal_archive_dir", "/tmp/a';rm -rf /'", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(tuning_append_settings(c, false, &v, &e), -EINVAL);
        assert_int_equal(config_set(c, "postgres.wal_archive_dir", "relative", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(tuning_append_settings(c, false, &v, &e), -EINVAL);
}

static void test_tuning_tls_paths(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_strv_free_ char **host = NULL, **container = NULL;
        Error e = ERROR_INIT;

        assert_int_equal(config_set(c, "pgseed.state_dir", "/tmp/pgseed-test-tls", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(config_set(c, "postgres.tls", "require", SOURCE_FLAG, "t", &e), 0);
        assert_int_equal(tuning_append_settings(c, false, &host, &e), 0);
        assert_string_equal(host[0], "ssl=on");
        assert_string_equal(host[1], "ssl_cert_file=/tmp/pgseed-test-tls/tls/server.crt");
        assert_string_equal(host[2], "ssl_key_file=/tmp/pgseed-test-tls/tls/server.key");
        assert_string_equal(host[3], "hba_file=/tmp/pgseed-test-tls/tls/pg_hba.conf");
        assert_null(host[4]);
        /* The container's server reads the copies its entrypoint made. */
        assert_int_equal(tuning_append_settings(c, true, &container, &e), 0);
        assert_string_equal(container[1], "ssl_cert_file=" TLS_CONTAINER_DIR "/server.crt");
        assert_string_equal(container[2], "ssl_key_file=" TLS_CONTAINER_DIR "/server.key");
        assert_string_equal(container[3], "hba_file=" TLS_CONTAINER_DIR "/pg_hba.conf");
        assert_null(container[4]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_parse_memory_sizes),
                cmocka_unit_test(test_config_parse_memory_refuses),
                cmocka_unit_test(test_tuning_settings_from_memory),
                cmocka_unit_test(test_tuning_archive_dir),
                cmocka_unit_test(test_tuning_tls_paths),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
