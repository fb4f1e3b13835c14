/* SPDX-License-Identifier: MIT */
/* test-access.c -- the API's access rules: Host, Origin, CORS preflights, the token, start-up refusals. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "access.h"
#include "config.h"
#include "util.h"

#define TOKEN "s3cret-token_42"

static char *token_path(const char *content, unsigned mode)
{
        char *path = xstrdup("/tmp/pgseed-test-token-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
        return path;
}

/* A Config from "key=value" pairs (NULL-terminated), finished as pgseedd would. */
static Config *config_with(const char *first, ...)
{
        Config *c = config_new_defaults();
        Error e = ERROR_INIT;
        va_list ap;

        va_start(ap, first);
        for (const char *kv = first; kv; kv = va_arg(ap, const char *)) {
                _cleanup_free_ char *k = xstrdup(kv);
                char *eq = strchr(k, '=');
                assert_non_null(eq);
                *eq = '\0';
                if (config_set(c, k, eq + 1, SOURCE_FLAG, "test", &e) < 0)
                        fail_msg("config_set %s: %s", kv, e.message);
        }
        va_end(ap);
        if (config_finish(c, &e) < 0)
                fail_msg("config_finish: %s", e.message);
        return c;
}

static AccessPolicy *policy_with(const char *first, ...)
{
        Config *c = config_new_defaults();
        AccessPolicy *p = NULL;
        Error e = ERROR_INIT;
        va_list ap;

        va_start(ap, first);
        for (const char *kv = first; kv; kv = va_arg(ap, const char *)) {
                _cleanup_free_ char *k = xstrdup(kv);
                char *eq = strchr(k, '=');
                *eq = '\0';
                if (config_set(c, k, eq + 1, SOURCE_FLAG, "test", &e) < 0)
                        fail_msg("config_set %s: %s", kv, e.message);
        }
        va_end(ap);
        assert_int_equal(config_finish(c, &e), 0);
        if (access_policy_new(c, &p, &e) < 0)
                fail_msg("access_policy_new: %s", e.message);
        config_free(c);
        return p;
}

static AccessVerdict check(const AccessPolicy *p, const char *method, const char *host, const char *origin,
                           RouteAuth auth, RouteCors cors)
{
        AccessRequest r = {.method = method,
                           .host = host,
                           .origin = origin,
                           .http11 = true,
                           .auth = auth,
                           .cors = cors};
        AccessVerdict v;

        access_check(p, &r, &v);
        return v;
}

static AccessVerdict check_auth(const AccessPolicy *p, const char *method, const char *authorization,
                                RouteAuth auth, RouteCors cors)
{
        AccessRequest r = {.method = method,
                           .host = "127.0.0.1:7432",
                           .authorization = authorization,
                           .http11 = true,
                           .auth = auth,
                           .cors = cors};
        AccessVerdict v;

        access_check(p, &r, &v);
        return v;
}

/* ---- Host --------------------------------------------------------------- */

static void test_access_host_loopback_variants(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        const char *ok[] = {"127.0.0.1",
                            "127.0.0.1:7432",
                            "localhost",
                            "localhost:7432",
                            "LOCALHOST:7432",
                            "LocalHost",
                            "[::1]",
                            "[::1]:7432",
                            "127.1.2.3:80",
                            "127.255.255.254",
                            "[::ffff:127.0.0.1]:7432"};
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                AccessVerdict v = check(p, "GET", ok[i], NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
                if (v.status != 0)
                        fail_msg("Host '%s' refused with %u %s", ok[i], v.status, v.code);
        }
}

static void test_access_host_foreign_421(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        const char *bad[] = {"evil.example",
                             "evil.example:7432",
                             "localhost.",
                             "localhost.:7432",
                             "localhost.evil.example",
                             "127.0.0.1.nip.io",
                             "127.0.0.1.nip.io:7432",
                             "10.0.0.1:7432",
                             "[::2]:7432",
                             "128.0.0.1",
                             "0.0.0.0:7432",
                             "localhostx"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AccessVerdict v = check(p, "GET", bad[i], NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
                if (v.status != 421)
                        fail_msg("Host '%s' got %u, want 421", bad[i], v.status);
                assert_string_equal(v.code, "host_not_allowed");
                assert_non_null(strstr(v.hint, "PGSEED_ALLOWED_HOSTS"));
        }
        /* Even public routes: a rebinding page must not learn anything. */
        assert_int_equal(check(p, "GET", "evil.example", NULL, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC).status,
                         421);
}

static void test_access_host_malformed_400(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        const char *bad[] = {"",     "127.0.0.1:",       "127.0.0.1:99999", "127.0.0.1:0",
                             "[::1", "[::1]x",           "[evil]:80",       "local host",
                             "a@b",  "127.0.0.1:7432:1", "localhost:-1",    "http://localhost"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AccessVerdict v = check(p, "GET", bad[i], NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
                if (v.status != 400 && v.status != 421)
                        fail_msg("Host '%s' got %u, want 400", bad[i], v.status);
        }
        assert_string_equal(check(p, "GET", "a@b", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).code,
                            "invalid_host");
}

static void test_access_host_missing(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        AccessRequest r = {
                .method = "GET", .http11 = true, .auth = ROUTE_AUTH_OPEN, .cors = ROUTE_CORS_PUBLIC};
        AccessVerdict v;

        access_check(p, &r, &v);
        assert_int_equal(v.status, 400);
        assert_string_equal(v.code, "missing_host");
        /* Two Host headers: ambiguous, whatever they say. */
        r.host = "127.0.0.1";
        r.host_repeated = true;
        access_check(p, &r, &v);
        assert_int_equal(v.status, 400);
        r.host = NULL;
        r.host_repeated = false;
        /* HTTP/1.0 had no Host; browsers never speak it, so it is no rebinding risk. */
        r.http11 = false;
        access_check(p, &r, &v);
        assert_int_equal(v.status, 0);
}

static void test_access_host_allowed_hosts(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with(
                "listen=127.0.0.1:7432", "allowed-hosts= pgseed.internal , db.example:8080,[fd00::1]", NULL);

        assert_int_equal(
                check(p, "GET", "pgseed.internal", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 0);
        assert_int_equal(
                check(p, "GET", "PGSEED.Internal:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                0);
        assert_int_equal(
                check(p, "GET", "db.example:8080", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 0);
        /* A port in the entry must match. */
        assert_int_equal(
                check(p, "GET", "db.example:8081", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 421);
        assert_int_equal(check(p, "GET", "db.example", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         421);
        assert_int_equal(check(p, "GET", "[fd00::1]:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         0);
        /* Exact names: no suffix or prefix matches. */
        assert_int_equal(
                check(p, "GET", "x.pgseed.internal", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 421);
        assert_int_equal(
                check(p, "GET", "pgseed.internal.evil", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                421);
}

static void test_access_host_bind_address_with_token(void **state)
{
        _cleanup_free_ char *tok = token_path(TOKEN "\n", 0600);
        _cleanup_free_ char *tf = xasprintf("token-file=%s", tok);
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=10.1.2.3:7432", tf, NULL);
        _cleanup_(access_policy_freep) AccessPolicy *w = policy_with("listen=0.0.0.0:7432", tf, NULL);

        assert_int_equal(check(p, "GET", "10.1.2.3:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         0);
        assert_int_equal(check(p, "GET", "10.1.2.4:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         421);
        /* A wildcard address names no host: list the names clients use in allowed_hosts. */
        assert_int_equal(check(w, "GET", "0.0.0.0:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         421);
        assert_int_equal(check(w, "GET", "127.0.0.1:7432", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         0);
        unlink(tok);
}

/* ---- Origin ------------------------------------------------------------- */

static void test_access_origin_parse(void **state)
{
        AccessOrigin o;

        assert_int_equal(access_origin_parse("http://localhost:7432", &o), 0);
        assert_string_equal(o.scheme, "http");
        assert_string_equal(o.host, "localhost");
        assert_int_equal(o.port, 7432);
        assert_int_equal(access_origin_parse("HTTPS://Example.COM", &o), 0);
        assert_string_equal(o.scheme, "https");
        assert_string_equal(o.host, "example.com");
        assert_int_equal(o.port, 443);
        assert_int_equal(access_origin_parse("http://[::1]:8080", &o), 0);
        assert_string_equal(o.host, "::1");
        assert_int_equal(o.port, 8080);
        assert_int_equal(access_origin_parse("http://a.b", &o), 0);
        assert_int_equal(o.port, 80);

        const char *bad[] = {"null",
                             "",
                             "localhost:7432",
                             "ftp://localhost",
                             "http://",
                             "http://127.0.0.1@evil.example",
                             "http://user:pw@localhost:7432",
                             "http://localhost:7432/",
                             "http://localhost:7432/path",
                             "http://localhost:7432?x",
                             "http://localhost:7432#f",
                             "http://localhost:",
                             "http://localhost:70000",
                             "http://[::1",
                             "http://[nothex]:80",
                             "http://local host",
                             "http://localhost\\@evil.example",
                             "file:///etc/passwd"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (access_origin_parse(bad[i], &o) == 0)
                        fail_msg("origin '%s' parsed", bad[i]);
}

static void test_access_origin_evil_prefixes_refused(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        const char *evil[] = {"http://localhost.evil.example",
                              "http://127.0.0.1.nip.io",
                              "http://[::1].evil.example",
                              "http://localhost.evil.example:7432",
                              "http://127.0.0.1.nip.io:7432",
                              "http://127.0.0.1@evil.example",
                              "http://127.0.0.1:7432@evil.example",
                              "http://localhost.:7432",
                              "https://localhost:7432",
                              "http://localhost:8080",
                              "http://127.0.0.1:7433",
                              "http://10.0.0.1:7432",
                              "null",
                              "garbage"};
        for (size_t i = 0; i < ELEMENTSOF(evil); i++) {
                AccessVerdict v =
                        check(p, "POST", "127.0.0.1:7432", evil[i], ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
                if (v.status != 403)
                        fail_msg("POST from '%s' got %u, want 403", evil[i], v.status);
                assert_string_equal(v.code, "cross_origin");
                assert_string_equal(v.allow_origin, "");
                /* Reads of data endpoints too. */
                v = check(p, "GET", "127.0.0.1:7432", evil[i], ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
                if (v.status != 403)
                        fail_msg("GET from '%s' got %u, want 403", evil[i], v.status);
                v = check(p, "DELETE", "127.0.0.1:7432", evil[i], ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
                assert_int_equal(v.status, 403);
        }
}

static void test_access_origin_own_allowed(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        const char *own[] = {"http://127.0.0.1:7432", "http://localhost:7432", "http://[::1]:7432",
                             "HTTP://LOCALHOST:7432"};

        for (size_t i = 0; i < ELEMENTSOF(own); i++) {
                AccessVerdict v =
                        check(p, "POST", "127.0.0.1:7432", own[i], ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
                if (v.status != 0)
                        fail_msg("POST from own origin '%s' got %u", own[i], v.status);
                /* The exact origin is echoed, with Vary: Origin. */
                assert_string_equal(v.allow_origin, own[i]);
                assert_true(v.vary_origin);
        }
        /* No Origin (curl, pgseedctl): no CORS headers for private routes. */
        AccessVerdict v = check(p, "POST", "127.0.0.1:7432", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.allow_origin, "");
}

static void test_access_origin_public_routes(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        AccessVerdict v;

        v = check(p, "GET", "127.0.0.1:7432", "http://evil.example", ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.allow_origin, "*");
        v = check(p, "HEAD", "127.0.0.1:7432", "null", ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC);
        assert_int_equal(v.status, 0);
        v = check(p, "GET", "127.0.0.1:7432", NULL, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC);
        assert_string_equal(v.allow_origin, "*");
        /* Only GET and HEAD. */
        v = check(p, "POST", "127.0.0.1:7432", "http://evil.example", ROUTE_AUTH_MUTATE, ROUTE_CORS_PUBLIC);
        assert_int_equal(v.status, 403);
}

static void test_access_origin_allow_list(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with(
                "listen=127.0.0.1:7432", "cors-origin=http://localhost:8080, https://dash.example", NULL);
        AccessVerdict v;

        v = check(p, "POST", "127.0.0.1:7432", "http://localhost:8080", ROUTE_AUTH_MUTATE,
                  ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.allow_origin, "http://localhost:8080");
        /* Default ports are normalised: https://dash.example is https://dash.example:443. */
        v = check(p, "GET", "127.0.0.1:7432", "https://dash.example:443", ROUTE_AUTH_READ,
                  ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
        v = check(p, "GET", "127.0.0.1:7432", "http://dash.example", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
        v = check(p, "GET", "127.0.0.1:7432", "http://localhost:8081", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
        v = check(p, "GET", "127.0.0.1:7432", "https://dash.example.evil", ROUTE_AUTH_READ,
                  ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
}

static void test_access_origin_wildcard_reads_only(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p =
                policy_with("listen=127.0.0.1:7432", "cors-origin=*", NULL);
        AccessVerdict v;

        v = check(p, "GET", "127.0.0.1:7432", "http://any.example", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.allow_origin, "http://any.example");
        assert_true(v.vary_origin);
        v = check(p, "POST", "127.0.0.1:7432", "http://any.example", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
        /* Only what parses is echoed. */
        v = check(p, "GET", "127.0.0.1:7432", "null", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
        assert_string_equal(v.allow_origin, "*");
        v = check(p, "GET", "127.0.0.1:7432", "http://a\r\nSet-Cookie: x", ROUTE_AUTH_READ,
                  ROUTE_CORS_PRIVATE);
        assert_string_equal(v.allow_origin, "*");
        /* Own origins may still reset. */
        v = check(p, "POST", "127.0.0.1:7432", "http://localhost:7432", ROUTE_AUTH_MUTATE,
                  ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 0);
}

static void test_access_cors_origin_invalid_refused(void **state)
{
        const char *bad[] = {"http://localhost:8080/", "localhost:8080", "http://a@b", "null",
                             "http://x, ftp://y"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *kv = xasprintf("cors-origin=%s", bad[i]);
                Config *c = config_with(kv, NULL);
                AccessPolicy *p = NULL;
                Error e = ERROR_INIT;

                if (access_policy_new(c, &p, &e) != -EINVAL)
                        fail_msg("cors_origin '%s' accepted", bad[i]);
                assert_non_null(strstr(e.message, "cors_origin"));
                config_free(c);
        }
}

/* ---- preflight ---------------------------------------------------------- */

static AccessVerdict preflight(const AccessPolicy *p, const char *origin, const char *method, RouteAuth auth,
                               RouteCors cors)
{
        AccessRequest r = {.method = "OPTIONS",
                           .host = "localhost:7432",
                           .origin = origin,
                           .preflight_method = method,
                           .http11 = true,
                           .auth = auth,
                           .cors = cors};
        AccessVerdict v;

        access_check(p, &r, &v);
        return v;
}

static void test_access_preflight(void **state)
{
        _cleanup_free_ char *tok = token_path(TOKEN, 0600);
        _cleanup_free_ char *tf = xasprintf("token-file=%s", tok);
        _cleanup_(access_policy_freep) AccessPolicy *p =
                policy_with("listen=127.0.0.1:7432", tf, "api-auth=all", NULL);
        AccessVerdict v;

        /* Allowed origin: 204 with the methods, Authorization allowed; no token needed for the preflight. */
        v = preflight(p, "http://localhost:7432", "POST", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 204);
        assert_true(v.preflight);
        assert_string_equal(v.allow_origin, "http://localhost:7432");
        assert_non_null(strstr(v.allow_methods, "POST"));
        assert_non_null(strstr(ACCESS_ALLOW_HEADERS, "Authorization"));
        /* Foreign origins: 403, for every method. */
        v = preflight(p, "http://localhost.evil.example", "POST", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
        assert_false(v.preflight);
        v = preflight(p, "http://evil.example", "GET", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
        /* Public routes: any origin may preflight a GET. */
        v = preflight(p, "http://evil.example", "GET", ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC);
        assert_int_equal(v.status, 204);
        assert_null(strstr(v.allow_methods, "POST"));
        v = preflight(p, "http://evil.example", "POST", ROUTE_AUTH_MUTATE, ROUTE_CORS_PUBLIC);
        assert_int_equal(v.status, 403);
        unlink(tok);
}

static void test_access_preflight_wildcard(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p =
                policy_with("listen=127.0.0.1:7432", "cors-origin=*", NULL);
        AccessVerdict v;

        v = preflight(p, "http://any.example", "GET", ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 204);
        assert_null(strstr(v.allow_methods, "POST"));
        v = preflight(p, "http://any.example", "POST", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 403);
}

/* ---- token -------------------------------------------------------------- */

static void test_access_token_mutating(void **state)
{
        _cleanup_free_ char *tok = token_path(TOKEN "\n", 0600);
        _cleanup_free_ char *tf = xasprintf("token-file=%s", tok);
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", tf, NULL);
        AccessVerdict v;

        assert_true(access_policy_has_token(p));
        v = check_auth(p, "POST", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
        assert_int_equal(v.status, 401);
        assert_string_equal(v.code, "unauthorized");
        assert_true(v.www_authenticate);
        assert_non_null(strstr(v.hint, "PGSEED_TOKEN"));
        assert_int_equal(
                check_auth(p, "POST", "Bearer " TOKEN, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 0);
        assert_int_equal(
                check_auth(p, "POST", "bearer  " TOKEN " ", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status,
                0);
        const char *wrong[] = {
                "Bearer " TOKEN "x", "Bearer s3cret-token_4",  "Bearer",       "Bearer ", TOKEN,
                "Basic " TOKEN,      "Bearer S3CRET-TOKEN_42", "Bearer" TOKEN, ""};
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                v = check_auth(p, "POST", wrong[i], ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE);
                if (v.status != 401)
                        fail_msg("Authorization '%s' got %u", wrong[i], v.status);
                assert_true(v.www_authenticate);
        }
        /* auth = mutating: reads and open routes need no token. */
        assert_int_equal(check_auth(p, "GET", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 0);
        assert_int_equal(check_auth(p, "GET", NULL, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC).status, 0);
        unlink(tok);
}

static void test_access_token_all(void **state)
{
        _cleanup_free_ char *tok = token_path(TOKEN, 0400);
        _cleanup_free_ char *tf = xasprintf("token-file=%s", tok);
        _cleanup_(access_policy_freep) AccessPolicy *p =
                policy_with("listen=127.0.0.1:7432", tf, "api-auth=all", NULL);

        assert_int_equal(check_auth(p, "GET", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status, 401);
        assert_int_equal(check_auth(p, "GET", NULL, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC).status, 401);
        assert_int_equal(check_auth(p, "GET", "Bearer " TOKEN, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         0);
        assert_int_equal(check_auth(p, "GET", "Bearer " TOKEN, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC).status,
                         0);
        /* The page's shell and assets load without it, so that the page can ask for it. */
        assert_int_equal(check_auth(p, "GET", NULL, ROUTE_AUTH_NONE, ROUTE_CORS_PRIVATE).status, 0);
        /* Host and Origin come first: a right token does not make a rebinding request acceptable. */
        AccessRequest r = {.method = "GET",
                           .host = "evil.example",
                           .authorization = "Bearer " TOKEN,
                           .http11 = true,
                           .auth = ROUTE_AUTH_READ,
                           .cors = ROUTE_CORS_PRIVATE};
        AccessVerdict v;
        access_check(p, &r, &v);
        assert_int_equal(v.status, 421);
        unlink(tok);
}

static void test_access_no_token_no_checks(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);

        assert_false(access_policy_has_token(p));
        assert_int_equal(check_auth(p, "POST", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 0);
        assert_int_equal(
                check_auth(p, "POST", "Bearer whatever", ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 0);
}

/* ---- start-up refusals -------------------------------------------------- */

static int policy_error(const char *listen, const char *token_content, unsigned mode, const char *extra,
                        Error *e)
{
        _cleanup_free_ char *tok = token_content ? token_path(token_content, mode) : NULL;
        _cleanup_free_ char *tf = tok ? xasprintf("token-file=%s", tok) : NULL;
        _cleanup_free_ char *ls = xasprintf("listen=%s", listen);
        Config *c = tf ? config_with(ls, tf, extra, NULL) : config_with(ls, extra, NULL);
        AccessPolicy *p = NULL;
        int r = access_policy_new(c, &p, e);

        access_policy_free(p);
        config_free(c);
        if (tok)
                unlink(tok);
        return r;
}

static void test_access_token_file_checks(void **state)
{
        Error e = ERROR_INIT;

        assert_int_equal(policy_error("127.0.0.1:7432", TOKEN, 0644, NULL, &e), -EACCES);
        assert_non_null(strstr(e.message, "0644"));
        assert_non_null(strstr(e.hint, "chmod 600"));
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", TOKEN, 0640, NULL, &e), -EACCES);
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", "", 0600, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.message, "empty"));
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", "\n", 0600, NULL, &e), -EINVAL);
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", "two words\n", 0600, NULL, &e), -EINVAL);
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", TOKEN "\r\n", 0600, NULL, &e), 0);

        Config *c = config_with("token-file=/nonexistent/token", NULL);
        AccessPolicy *p = NULL;
        e = (Error) ERROR_INIT;
        assert_int_equal(access_policy_new(c, &p, &e), -ENOENT);
        assert_non_null(strstr(e.message, "/nonexistent/token"));
        config_free(c);

        /* auth = all without a token would protect nothing. */
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("127.0.0.1:7432", NULL, 0, "api-auth=all", &e), -EINVAL);
}

static void test_access_remote_listen_needs_token(void **state)
{
        Error e = ERROR_INIT;

        assert_int_equal(policy_error("0.0.0.0:7432", NULL, 0, NULL, &e), -EINVAL);
        assert_string_equal(e.code, "insecure_listen");
        assert_non_null(strstr(e.hint, "PGSEED_TOKEN_FILE"));
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("[::]:7432", NULL, 0, NULL, &e), -EINVAL);
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("192.168.1.5:7432", NULL, 0, NULL, &e), -EINVAL);
        e = (Error) ERROR_INIT;
        assert_int_equal(policy_error("0.0.0.0:7432", TOKEN, 0600, NULL, &e), 0);
        assert_int_equal(policy_error("0.0.0.0:7432", NULL, 0, "allow-insecure-remote=1", &e), 0);
        assert_int_equal(policy_error("127.0.0.2:7432", NULL, 0, NULL, &e), 0);
        assert_int_equal(policy_error("[::1]:7432", NULL, 0, NULL, &e), 0);
        assert_int_equal(policy_error("localhost:7432", NULL, 0, NULL, &e), 0);
}

static void test_access_reload(void **state)
{
        _cleanup_free_ char *tok = token_path(TOKEN, 0600);
        _cleanup_free_ char *tf = xasprintf("token-file=%s", tok);
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        Config *c = config_with("listen=127.0.0.1:7432", tf, "allowed-hosts=new.example", NULL);
        Config *bad = config_with("listen=127.0.0.1:7432", "cors-origin=nonsense", NULL);
        Error e = ERROR_INIT;

        assert_int_equal(check_auth(p, "POST", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 0);
        assert_int_equal(access_policy_reload(p, c, &e), 0);
        assert_int_equal(check_auth(p, "POST", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 401);
        assert_int_equal(check(p, "GET", "new.example", NULL, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE).status,
                         0);
        /* A bad reload keeps the policy in force. */
        assert_int_equal(access_policy_reload(p, bad, &e), -EINVAL);
        assert_int_equal(check_auth(p, "POST", NULL, ROUTE_AUTH_MUTATE, ROUTE_CORS_PRIVATE).status, 401);
        config_free(c);
        config_free(bad);
        unlink(tok);
}

static void test_access_messages_sanitised(void **state)
{
        _cleanup_(access_policy_freep) AccessPolicy *p = policy_with("listen=127.0.0.1:7432", NULL);
        AccessVerdict v = check(p, "POST", "127.0.0.1:7432", "http://e\x01vil\n.example", ROUTE_AUTH_MUTATE,
                                ROUTE_CORS_PRIVATE);

        assert_int_equal(v.status, 403);
        assert_null(strchr(v.message, '\n'));
        assert_null(strchr(v.message, '\x01'));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_access_host_loopback_variants),
                cmocka_unit_test(test_access_host_foreign_421),
                cmocka_unit_test(test_access_host_malformed_400),
                cmocka_unit_test(test_access_host_missing),
                cmocka_unit_test(test_access_host_allowed_hosts),
                cmocka_unit_test(test_access_host_bind_address_with_token),
                cmocka_unit_test(test_access_origin_parse),
                cmocka_unit_test(test_access_origin_evil_prefixes_refused),
                cmocka_unit_test(test_access_origin_own_allowed),
                cmocka_unit_test(test_access_origin_public_routes),
                cmocka_unit_test(test_access_origin_allow_list),
                cmocka_unit_test(test_access_origin_wildcard_reads_only),
                cmocka_unit_test(test_access_cors_origin_invalid_refused),
                cmocka_unit_test(test_access_preflight),
                cmocka_unit_test(test_access_preflight_wildcard),
                cmocka_unit_test(test_access_token_mutating),
                cmocka_unit_test(test_access_token_all),
                cmocka_unit_test(test_access_no_token_no_checks),
                cmocka_unit_test(test_access_token_file_checks),
                cmocka_unit_test(test_access_remote_listen_needs_token),
                cmocka_unit_test(test_access_reload),
                cmocka_unit_test(test_access_messages_sanitised),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
