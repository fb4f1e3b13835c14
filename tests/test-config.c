/* SPDX-License-Identifier: MIT */
/* test-config.c -- configuration precedence, validation and masking. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "util.h"

static char *write_temp(const char *text)
{
        char *path = xstrdup("/tmp/pgseed-test-config-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        return path;
}

static void clear_env(void)
{
        const char *vars[] = {"PGSEED_CONFIG",           "PGSEED_LISTEN",  "PGSEED_RUNTIME",
                              "PGSEED_PG_PORT",          "PGSEED_PG_USER", "PGSEED_PG_PASSWORD",
                              "PGSEED_PG_PASSWORD_FILE", "PGSEED_PG_DB",   "PGSEED_STATE_DIR",
                              "PGSEED_COMMENTS",         "DOCKER_HOST",    "PGSEED_NETWORK",
                              "PGSEED_PG_URL",           "PGSEED_PG_HOST", "DOCKER_TLS_VERIFY",
                              "DOCKER_CERT_PATH"};
        for (size_t i = 0; i < ELEMENTSOF(vars); i++)
                unsetenv(vars[i]);
}

static void test_config_defaults(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *empty = write_temp("# nothing\n");
        Error e = ERROR_INIT;

        clear_env();
        assert_int_equal(config_load(empty, NULL, &c, &e), 0);
        assert_string_equal(c->listen_host, "127.0.0.1");
        assert_int_equal(c->listen_port, 7432);
        assert_int_equal(c->pg_port, 5432);
        assert_string_equal(c->pg_user, "app");
        assert_string_equal(c->pg_password, "app");
        assert_string_equal(c->pg_db, "app");
        assert_string_equal(c->runtime, "auto");
        assert_int_equal(c->comments, 500000);
        assert_false(isempty(c->state_dir));
        unlink(empty);
}

static void test_config_precedence_file_env_flag(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *path = write_temp(
                "[postgres]\nport = 6000\nuser = fileuser\n\n[api]\nlisten = \"127.0.0.1:9000\"\n");
        char *flags[] = {"pg-user=flaguser", NULL};
        Error e = ERROR_INIT;

        clear_env();
        setenv("PGSEED_PG_PORT", "6001", 1);
        setenv("PGSEED_PG_USER", "envuser", 1);
        assert_int_equal(config_load(path, flags, &c, &e), 0);
        assert_int_equal(c->pg_port, 6001);          /* env beats file */
        assert_string_equal(c->pg_user, "flaguser"); /* flag beats env */
        assert_int_equal(c->listen_port, 9000);      /* file beats default, quotes stripped */
        clear_env();
        unlink(path);
}

static void test_config_unknown_key_names_file_line_key(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *path = write_temp("[postgres]\nport = 5433\n\nprot = 5434\n");
        Error e = ERROR_INIT;

        clear_env();
        assert_int_equal(config_load(path, NULL, &c, &e), -EINVAL);
        assert_null(c);
        assert_non_null(strstr(e.message, path));
        assert_non_null(strstr(e.message, ":4:"));
        assert_non_null(strstr(e.message, "'prot'"));
        unlink(path);
}

static void test_config_bad_port(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *path = write_temp("[postgres]\nport = 70000\n");
        Error e = ERROR_INIT;

        clear_env();
        assert_int_equal(config_load(path, NULL, &c, &e), -EINVAL);
        assert_non_null(strstr(e.message, ":2:"));
        assert_non_null(strstr(e.message, "port"));
        assert_non_null(strstr(e.message, "70000"));

        unlink(path);
        setenv("PGSEED_PG_PORT", "abc", 1);
        e = (Error) ERROR_INIT;
        assert_int_equal(config_load("/dev/null", NULL, &c, &e), -EINVAL);
        assert_non_null(strstr(e.message, "PGSEED_PG_PORT"));
        clear_env();
}

static void test_config_missing_file(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        Error e = ERROR_INIT;

        clear_env();
        assert_int_equal(config_load("/nonexistent/pgseedd.conf", NULL, &c, &e), -ENOENT);
        assert_non_null(strstr(e.message, "/nonexistent/pgseedd.conf"));
}

static void test_config_bad_values(void **state)
{
        static const char *const bad[] = {
                "[pgseed]\nruntime = kubernetes\n",
                "[api]\nlisten = nowhere\n",
                "[api]\nlisten = 1.2.3.4:0\n",
                "[postgres]\nuser = \"bad name\"\n",
                "[dataset]\ncomments = -5\n",
                "[dataset]\nsource = ftp:x\n",
                "[nosuch]\nx = 1\n",
                "port = 5432\n",
                "[postgres]\nport\n",
                "[docker]\nhost = tcp://1.2.3.4\n",
                "[docker]\nhost = ssh://me@1.2.3.4\n",
                "[pgseed]\nruntime = external\n",
                "[pgseed]\nruntime = external\n[postgres]\nurl = postgresql://app:pw@db:5432/app\n",
                "[pgseed]\nruntime = docker\n[postgres]\nurl = postgresql://app@db:5432/app\n",
                "[postgres]\nurl = postgresql://app@db:0/app\n",
                "[postgres]\nurl = postgresql://app@db:5432/a%20b\n",
                "[postgres]\nurl = postgresql://app@db:5432/app?application_name=x\n",
                "[pgseed]\nruntime = embedded\n[postgres]\nhost = 10.0.0.1\n",
        };

        clear_env();
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *path = write_temp(bad[i]);
                Error e = ERROR_INIT;

                assert_true(config_load(path, NULL, &c, &e) < 0);
                assert_int_equal(e.errnum, EINVAL);
                assert_string_equal(e.code, "invalid_config");
                unlink(path);
        }
}

/* runtime = external: the URL's parts become the settings; sslmode is kept; IPv6 in brackets. */
static void test_config_external_url(void **state)
{
        static const struct {
                const char *url, *user, *host, *db, *sslmode;
                int port;
        } ok[] = {
                {"postgresql://seed@db.internal:6543/work", "seed", "db.internal", "work", NULL, 6543},
                {"postgres://db.internal/work?sslmode=require", "app", "db.internal", "work", "require",
                 5432},
                {"postgresql://[::1]:5433", "app", "::1", "app", NULL, 5433},
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_(config_freep) Config *c = NULL;
                _cleanup_free_ char *ini = xasprintf("[postgres]\nurl = %s\n", ok[i].url);
                _cleanup_free_ char *path = write_temp(ini);
                _cleanup_free_ char *url = NULL;
                Error e = ERROR_INIT;

                clear_env();
                assert_int_equal(config_load(path, NULL, &c, &e), 0);
                assert_string_equal(c->pg_user, ok[i].user);
                assert_string_equal(c->pg_host, ok[i].host);
                assert_string_equal(c->pg_db, ok[i].db);
                assert_int_equal(c->pg_port, ok[i].port);
                if (ok[i].sslmode)
                        assert_string_equal(c->pg_sslmode, ok[i].sslmode);
                else
                        assert_null(c->pg_sslmode);
                url = config_connection_url(c);
                assert_non_null(strstr(url, strchr(ok[i].host, ':') ? "@[::1]:" : ok[i].host));
                unlink(path);
        }
}

/* A remote engine's Postgres is on the engine's host, unless PGSEED_PG_HOST says otherwise. */
static void test_config_remote_docker_host(void **state)
{
        _cleanup_free_ char *path = write_temp("[docker]\nhost = tcp://10.1.2.3:2376\n");
        Error e = ERROR_INIT;

        clear_env();
        {
                _cleanup_(config_freep) Config *c = NULL;
                assert_int_equal(config_load(path, NULL, &c, &e), 0);
                assert_string_equal(c->pg_host, "10.1.2.3");
                assert_false(c->docker_tls_verify);
        }
        setenv("PGSEED_PG_HOST", "10.9.9.9", 1);
        setenv("DOCKER_TLS_VERIFY", "1", 1);
        {
                _cleanup_(config_freep) Config *c = NULL;
                assert_int_equal(config_load(path, NULL, &c, &e), 0);
                assert_string_equal(c->pg_host, "10.9.9.9");
                assert_true(c->docker_tls_verify);
        }
        clear_env();
        unlink(path);
}

static void test_config_password_masked_and_file(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *pwfile = write_temp("s3cret-from-file\n");
        _cleanup_free_ char *path = NULL, *ini = NULL, *json = NULL;
        Error e = ERROR_INIT;

        clear_env();
        path = write_temp("[postgres]\npassword = hunter2\n");
        setenv("PGSEED_PG_PASSWORD_FILE", pwfile, 1);
        assert_int_equal(config_load(path, NULL, &c, &e), 0);
        assert_string_equal(c->pg_password, "s3cret-from-file");

        ini = config_format(c, false);
        json = config_format(c, true);
        assert_null(strstr(ini, "s3cret"));
        assert_null(strstr(json, "s3cret"));
        assert_null(strstr(ini, "hunter2"));
        assert_non_null(strstr(ini, "********"));
        assert_non_null(strstr(json, "postgresql://app@127.0.0.1:5432/app"));

        clear_env();
        setenv("PGSEED_PG_PASSWORD_FILE", "/nonexistent/pw", 1);
        config_free(TAKE_PTR(c));
        e = (Error) ERROR_INIT;
        assert_int_equal(config_load(path, NULL, &c, &e), -ENOENT);
        assert_non_null(strstr(e.message, "/nonexistent/pw"));
        clear_env();
        unlink(path);
        unlink(pwfile);
}

static void test_config_unknown_env_names_closest(void **state)
{
        char *typo[] = {"HOME=/root", "PGSEED_PG_PASWORD=secret", NULL};
        char *far[] = {"PGSEED_FROBNICATE=1", NULL};
        Error e = ERROR_INIT;

        assert_int_equal(config_check_environment(typo, &e), -EINVAL);
        assert_non_null(strstr(e.message, "PGSEED_PG_PASWORD"));
        assert_non_null(strstr(e.message, "did you mean PGSEED_PG_PASSWORD?"));
        assert_null(strstr(e.message, "secret")); /* the value may be a secret: never echoed */
        e = (Error) ERROR_INIT;
        assert_int_equal(config_check_environment(far, &e), -EINVAL);
        assert_non_null(strstr(e.message, "PGSEED_FROBNICATE"));
        assert_null(strstr(e.message, "did you mean"));
}

static void test_config_env_of_client_and_tests_accepted(void **state)
{
        char *env[] = {"PGSEED_URL=http://127.0.0.1:1",
                       "PGSEED_TOKEN=x",
                       "PGSEED_CA=/ca.crt",
                       "PGSEED_TOKEN_FILE=/x",
                       "PGSEED_CONFIG=/dev/null",
                       "PGSEED_BUILD_DIR=/b",
                       "PGSEED_TEST_IMAGE=pgseed/postgres:15",
                       "PGSEED_TEST_FIXTURES=/f",
                       "PGSEED_PG_PASSWORD=p",
                       "PGSEED_STATE_DIR=/tmp/x",
                       "PGSEED=1",
                       "NOT_PGSEED_X=1",
                       NULL};
        Error e = ERROR_INIT;

        assert_int_equal(config_check_environment(env, &e), 0);
}

static void test_config_load_refuses_typo_in_environment(void **state)
{
        _cleanup_(config_freep) Config *c = NULL;
        Error e = ERROR_INIT;

        clear_env();
        setenv("PGSEED_PG_PASWORD", "x", 1);
        assert_int_equal(config_load("/dev/null", NULL, &c, &e), -EINVAL);
        assert_non_null(strstr(e.message, "PGSEED_PG_PASSWORD"));
        unsetenv("PGSEED_PG_PASWORD");
}

static void test_config_api_access_keys(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_free_ char *ini = NULL, *json = NULL;
        Error e = ERROR_INIT;

        assert_false(c->allow_insecure_remote);
        assert_string_equal(c->api_auth, "mutating");
        assert_int_equal(config_set(c, "api.allow_insecure_remote", "yes", SOURCE_FLAG, "test", &e), 0);
        assert_true(c->allow_insecure_remote);
        assert_int_equal(config_set(c, "allow-insecure-remote", "maybe", SOURCE_FLAG, "test", &e), -EINVAL);
        assert_non_null(strstr(e.message, "allow_insecure_remote"));
        assert_int_equal(config_set(c, "api-auth", "some", SOURCE_FLAG, "test", &e), -EINVAL);
        assert_int_equal(config_set(c, "api.auth", "all", SOURCE_FLAG, "test", &e), 0);
        assert_int_equal(config_set(c, "token-file", "/etc/pgseed/token", SOURCE_FLAG, "test", &e), 0);
        assert_int_equal(config_set(c, "allowed-hosts", "a.example,b.example:80", SOURCE_FLAG, "test", &e),
                         0);
        ini = config_format(c, false);
        assert_non_null(strstr(ini, "allow_insecure_remote = true"));
        assert_non_null(strstr(ini, "/etc/pgseed/token"));
        json = config_format(c, true);
        assert_non_null(strstr(json, "\"api.allow_insecure_remote\": true"));
        assert_non_null(strstr(json, "\"api.auth\": \"all\""));
}

/* [api] tls: on, or implied by tls_cert and tls_key (which go together); the URL says https. */
static void test_config_api_tls(void **state)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_free_ char *json = NULL, *cert = NULL, *key = NULL, *ca = NULL;
        Error e = ERROR_INIT;

        assert_false(config_api_tls_enabled(c));
        assert_int_equal(config_set(c, "api.tls", "maybe", SOURCE_FLAG, "test", &e), -EINVAL);
        assert_int_equal(config_set(c, "api-tls-cert", "/etc/pgseed/api.crt", SOURCE_FLAG, "test", &e), 0);
        free(c->state_dir);
        c->state_dir = xstrdup("/tmp/state");
        assert_int_equal(config_finish(c, &e), -EINVAL);
        assert_non_null(strstr(e.message, "[api] tls_cert and tls_key go together"));
        assert_int_equal(config_set(c, "api-tls-key", "/etc/pgseed/api.key", SOURCE_FLAG, "test", &e), 0);
        assert_int_equal(config_finish(c, &e), 0);
        assert_true(config_api_tls_enabled(c));
        config_api_tls_files(c, &cert, &key, &ca);
        assert_string_equal(cert, "/etc/pgseed/api.crt");
        assert_string_equal(key, "/etc/pgseed/api.key");
        assert_null(ca);
        json = config_format(c, true);
        assert_non_null(strstr(json, "\"api_url\": \"https://127.0.0.1:7432\""));
        assert_non_null(strstr(json, "\"api_ca_file\": null"));

        /* tls = on alone: the certificate pgseedd generates, and its CA. */
        free(c->api_tls_cert);
        free(c->api_tls_key);
        c->api_tls_cert = xstrdup("");
        c->api_tls_key = xstrdup("");
        assert_false(config_api_tls_enabled(c));
        assert_int_equal(config_set(c, "api.tls", "on", SOURCE_FLAG, "test", &e), 0);
        free(cert), free(key), free(ca);
        config_api_tls_files(c, &cert, &key, &ca);
        assert_string_equal(cert, "/tmp/state/tls/server.crt");
        assert_string_equal(key, "/tmp/state/tls/server.key");
        assert_string_equal(ca, "/tmp/state/tls/ca.crt");
}

static void test_config_listen_url(void **state)
{
        const char *cases[][3] = {
                {"127.0.0.1:7432", "http://127.0.0.1:7432", "https://127.0.0.1:7432"},
                {"0.0.0.0:80", "http://127.0.0.1:80", "https://127.0.0.1:80"},
                {"[::]:7432", "http://[::1]:7432", "https://[::1]:7432"},
                {"[::1]:7432", "http://[::1]:7432", "https://[::1]:7432"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *plain = config_listen_url(cases[i][0], false);
                _cleanup_free_ char *tls = config_listen_url(cases[i][0], true);
                assert_string_equal(plain, cases[i][1]);
                assert_string_equal(tls, cases[i][2]);
        }
        assert_null(config_listen_url("7432", true));
        assert_null(config_listen_url("127.0.0.1:0", true));
}

/* The reload's diff covers every type of key (a boolean one crashed it once). */
static void test_config_changed_keys_every_type(void **state)
{
        _cleanup_(config_freep) Config *a = NULL, *b = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        char *flags[] = {"allow-insecure-remote=true", "log-level=debug", "pg-port=6001", NULL};
        Error e = ERROR_INIT;

        clear_env();
        assert_int_equal(config_load("/dev/null", NULL, &a, &e), 0);
        assert_int_equal(config_load("/dev/null", flags, &b, &e), 0);
        changed = config_changed_keys(a, b);
        assert_non_null(changed);
        assert_string_equal(changed[0], "pgseed.log_level");
        assert_string_equal(changed[1], "api.allow_insecure_remote");
        assert_string_equal(changed[2], "postgres.port");
        assert_null(changed[3]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_config_precedence_file_env_flag),
                cmocka_unit_test(test_config_unknown_key_names_file_line_key),
                cmocka_unit_test(test_config_bad_port),
                cmocka_unit_test(test_config_missing_file),
                cmocka_unit_test(test_config_bad_values),
                cmocka_unit_test(test_config_password_masked_and_file),
                cmocka_unit_test(test_config_unknown_env_names_closest),
                cmocka_unit_test(test_config_env_of_client_and_tests_accepted),
                cmocka_unit_test(test_config_load_refuses_typo_in_environment),
                cmocka_unit_test(test_config_api_access_keys),
                cmocka_unit_test(test_config_api_tls),
                cmocka_unit_test(test_config_listen_url),
                cmocka_unit_test(test_config_changed_keys_every_type),
                cmocka_unit_test(test_config_external_url),
                cmocka_unit_test(test_config_remote_docker_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
