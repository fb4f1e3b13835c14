/* SPDX-License-Identifier: MIT */
/* test-runtime-docker.c -- the Docker runtime against a real engine: lifecycle, adoption, conflicts, logs.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"
#include "docker-logstream.h"
#include "docker.h"
#include "runtime.h"
#include "util.h"

/*
 * The tests run in order and share one instance (container + volume) that
 * goes through its whole life; a second instance name holds a foreign
 * container.  The group teardown removes both, whatever failed.
 */
typedef struct Fixture {
        char instance[64];
        char foreign_instance[64];
        char image[256];
        char docker_host[512];
        int port;
        DockerClient *client;
        Runtime *rt;
        Config *config;
        char container_id[80]; /* our container's full ID after prepare */
        char *conf_path;       /* a modified postgresql.conf for the recreate test */
} Fixture;

static Fixture fx;

/* ---- helpers -------------------------------------------------------------- */

/*
 * A free port below the kernel's ephemeral range: a port from bind(0) is also
 * what client connections get as their local port, so Postgres could find it
 * taken a moment later.
 */
static int free_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        unsigned seed = (unsigned) getpid() ^ (unsigned) now_mono_ms();

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < 500; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 20000 + (int) (rand_r(&seed) % 12000);

                assert_true(fd >= 0);
                sa.sin_port = htons((uint16_t) port);
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                        close(fd);
                        return port;
                }
                close(fd);
        }
        fail_msg("no free port between 20000 and 32000");
        return -1;
}

static void set(Config *c, const char *key, const char *value)
{
        Error e = ERROR_INIT;

        if (config_set(c, key, value, SOURCE_FLAG, "test", &e) < 0)
                fail_msg("config_set %s=%s: %s", key, value, e.message);
}

static Config *make_config(const char *instance, const char *image, const char *pull,
                           const char *docker_host, const char *pg_conf)
{
        Config *c = config_new_defaults();
        Error e = ERROR_INIT;
        char port[16];

        snprintf(port, sizeof(port), "%d", fx.port);
        set(c, "runtime", "docker");
        set(c, "instance", instance);
        set(c, "network", "host");
        set(c, "pg-port", port);
        set(c, "pull", pull);
        set(c, "image", image);
        set(c, "docker-host", docker_host);
        set(c, "stop-timeout", "10");
        if (pg_conf)
                set(c, "pg-conf", pg_conf);
        if (config_finish(c, &e) < 0)
                fail_msg("config_finish: %s", e.message);
        return c;
}

static Runtime *make_runtime(const Config *c)
{
        Runtime *rt = NULL;
        Error e = ERROR_INIT;

        if (runtime_new(c, &rt, &e) < 0)
                fail_msg("runtime_new: %s", e.message);
        assert_string_equal(runtime_name(rt), "docker");
        return rt;
}

static void expect_ok(int r, const Error *e, const char *what)
{
        if (r < 0)
                fail_msg("%s failed (%d): %s [hint: %s]", what, r, e->message, e->hint);
}

static char *container_name(const char *instance)
{
        return xasprintf("%s-postgres", instance);
}

/* Connects to the test instance's Postgres, retrying for up to 60 s while it starts. */
static PGconn *connect_pg(void)
{
        char port[16];
        const char *keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", NULL};
        const char *values[] = {
                "127.0.0.1", port, fx.config->pg_user, fx.config->pg_password, fx.config->pg_db, "3", NULL};
        int64_t deadline = now_mono_ms() + 60000;
        PGconn *conn;

        snprintf(port, sizeof(port), "%d", fx.port);
        for (;;) {
                conn = PQconnectdbParams(keys, values, 0);
                if (PQstatus(conn) == CONNECTION_OK)
                        return conn;
                if (now_mono_ms() > deadline)
                        fail_msg("Cannot connect to Postgres on 127.0.0.1:%d within 60 s: %s", fx.port,
                                 PQerrorMessage(conn));
                PQfinish(conn);
                sleep_ms(250);
        }
}

static void exec_ok(PGconn *conn, const char *sql)
{
        PGresult *res = PQexec(conn, sql);

        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(conn));
        PQclear(res);
}

static char *query_value(PGconn *conn, const char *sql)
{
        PGresult *res = PQexec(conn, sql);
        char *v;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
                fail_msg("%s: %s", sql, PQerrorMessage(conn));
        v = xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        return v;
}

/* The tests after prepare_start_query need its runtime; without it they fail instead of crashing. */
static void need_runtime(void)
{
        if (!fx.rt || !*fx.container_id)
                fail_msg("the shared runtime was not prepared (an earlier test failed)");
}

static json_t *inspect_container(const char *name_or_id)
{
        json_t *info = NULL;
        Error e = ERROR_INIT;

        expect_ok(docker_container_inspect(fx.client, name_or_id, &info, &e), &e, "inspect container");
        return info;
}

static void remove_instance(const char *instance)
{
        _cleanup_free_ char *name = container_name(instance), *vol = xasprintf("%s-data", instance);
        Error e = ERROR_INIT;

        (void) docker_container_remove(fx.client, name, true, true, &e);
        (void) docker_volume_remove(fx.client, vol, true, &e);
}

/* ---- group setup ----------------------------------------------------------- */

static int group_setup(void **state)
{
        const char *image = getenv("PGSEED_TEST_IMAGE"), *host = getenv("DOCKER_HOST");
        Error e = ERROR_INIT;

        snprintf(fx.instance, sizeof(fx.instance), "pgseedtest-%d", (int) getpid());
        snprintf(fx.foreign_instance, sizeof(fx.foreign_instance), "pgseedtest-%d-foreign", (int) getpid());
        strlcpy0(fx.image, isempty(image) ? "pgseed/postgres:15" : image, sizeof(fx.image));
        strlcpy0(fx.docker_host, isempty(host) ? "unix:///var/run/docker.sock" : host,
                 sizeof(fx.docker_host));
        fx.port = free_port();
        if (docker_client_new(fx.docker_host, &fx.client, &e) < 0) {
                fprintf(stderr, "docker_client_new: %s\n", e.message);
                return -1;
        }
        return 0;
}

static int group_teardown(void **state)
{
        runtime_free(fx.rt);
        fx.rt = NULL;
        config_free(fx.config);
        fx.config = NULL;
        remove_instance(fx.instance);
        remove_instance(fx.foreign_instance);
        if (fx.conf_path) {
                unlink(fx.conf_path);
                free(fx.conf_path);
        }
        docker_client_free(fx.client);
        return 0;
}

/* ---- the stream decoder (no engine needed) ---------------------------------- */

typedef struct Collected {
        char lines[16][256];
        char streams[16][8];
        char ts[16][40];
        int n;
} Collected;

static void collect(const DockerLogLine *line, void *userdata)
{
        Collected *c = userdata;

        assert_true(c->n < 16);
        strlcpy0(c->lines[c->n], line->text, sizeof(c->lines[0]));
        strlcpy0(c->streams[c->n], line->stream, sizeof(c->streams[0]));
        strlcpy0(c->ts[c->n], line->ts, sizeof(c->ts[0]));
        c->n++;
}

static size_t frame(char *buf, int stream, const char *payload)
{
        size_t n = strlen(payload);

        buf[0] = (char) stream;
        buf[1] = buf[2] = buf[3] = 0;
        buf[4] = (char) ((n >> 24) & 0xff);
        buf[5] = (char) ((n >> 16) & 0xff);
        buf[6] = (char) ((n >> 8) & 0xff);
        buf[7] = (char) (n & 0xff);
        memcpy(buf + 8, payload, n);
        return 8 + n;
}

static void test_docker_log_decoder_multiplexed(void **state)
{
        Collected c = {0};
        DockerLogDecoder *d = docker_log_decoder_new(false, true, collect, &c);
        char buf[1024];
        size_t n = 0;

        n += frame(buf + n, 2, "2026-11-21T23:00:00.123456789Z LOG:  database system is ready\n");
        n += frame(buf + n, 1, "2026-11-21T23:00:01.5Z first part of a long line ");
        n += frame(buf + n, 2, "2026-11-21T23:00:02Z interleaved\n");
        n += frame(buf + n, 1, "2026-11-21T23:00:03Z and its end\r\n");
        /* Byte by byte: frames split anywhere by the HTTP transfer must still decode. */
        for (size_t i = 0; i < n; i++)
                assert_int_equal(docker_log_decoder_feed(d, buf + i, 1), 0);
        docker_log_decoder_finish(d);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.lines[0], "LOG:  database system is ready");
        assert_string_equal(c.streams[0], "stderr");
        assert_string_equal(c.ts[0], "2026-11-21T23:00:00.123Z");
        assert_string_equal(c.lines[1], "interleaved");
        assert_string_equal(c.lines[2], "first part of a long line and its end");
        assert_string_equal(c.streams[2], "stdout");
        assert_string_equal(c.ts[2], "2026-11-21T23:00:01.500Z");

        /* A header that is not one (stream type 7) is a corrupt stream, not garbage lines. */
        memcpy(buf, "\x07\0\0\0\0\0\0\x01x", 9);
        assert_int_equal(docker_log_decoder_feed(d, buf, 9), -EBADMSG);
        docker_log_decoder_free(d);
}

static void test_docker_log_decoder_tty(void **state)
{
        Collected c = {0};
        DockerLogDecoder *d = docker_log_decoder_new(true, true, collect, &c);
        const char *raw = "2026-11-21T23:00:00Z one\r\n2026-11-21T23:00:00.250+01:00 two\r\nno timestamp";

        assert_int_equal(docker_log_decoder_feed(d, raw, strlen(raw)), 0);
        docker_log_decoder_finish(d);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.lines[0], "one");
        assert_string_equal(c.lines[1], "two");
        assert_string_equal(c.ts[1], "2026-11-21T22:00:00.250Z");
        assert_string_equal(c.lines[2], "no timestamp");
        assert_string_equal(c.ts[2], "");
        assert_string_equal(c.streams[2], "stdout");
        docker_log_decoder_free(d);
}

/* ---- a fake engine: negotiation and error mapping (no engine needed) --------- */

/*
 * Answers each request on a unix socket with a canned response, one
 * connection at a time, as an engine of the given API versions would.
 */
typedef struct FakeEngine {
        char path[108];
        int fd;
        pthread_t thread;
        const char *api_version, *min_api_version, *components;
        char last_request[512];
} FakeEngine;

static void fake_reply(int fd, const char *status, const char *headers, const char *body)
{
        _cleanup_free_ char *text =
                xasprintf("HTTP/1.1 %s\r\n%sConnection: close\r\n\r\n%s", status, headers, body);
        size_t n = strlen(text), off = 0;

        while (off < n) {
                ssize_t k = write(fd, text + off, n - off);
                if (k <= 0)
                        break;
                off += (size_t) k;
        }
}

static void *fake_engine_thread(void *userdata)
{
        FakeEngine *f = userdata;

        for (;;) {
                char req[4096] = "", path[512] = "", method[16] = "";
                size_t len = 0;
                int conn = accept(f->fd, NULL, NULL);

                if (conn < 0)
                        return NULL;
                while (len < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
                        ssize_t k = read(conn, req + len, sizeof(req) - 1 - len);
                        if (k <= 0)
                                break;
                        len += (size_t) k;
                        req[len] = '\0';
                }
                (void) sscanf(req, "%15s %511s", method, path);
                snprintf(f->last_request, sizeof(f->last_request), "%s %s", method, path);
                if (streq(path, "/_ping")) {
                        _cleanup_free_ char *h = xasprintf("Api-Version: %s\r\n", f->api_version);
                        fake_reply(conn, "200 OK", h, "OK");
                } else if (streq(path, "/version")) {
                        _cleanup_free_ char *body = xasprintf(
                                "{\"Version\":\"99.0\",\"ApiVersion\":\"%s\",\"MinAPIVersion\":\"%s\","
                                "\"Components\":%s}",
                                f->api_version, f->min_api_version, f->components);
                        fake_reply(conn, "200 OK", "Content-Type: application/json\r\n", body);
                } else if (strstr(path, "/containers/missing/json"))
                        fake_reply(conn, "404 Not Found", "",
                                   "{\"message\":\"No such container: missing\"}");
                else if (strstr(path, "/containers/busy/start"))
                        fake_reply(conn, "409 Conflict", "", "{\"message\":\"it is busy\"}");
                else if (strstr(path, "/containers/broken/json"))
                        fake_reply(conn, "500 Internal Server Error", "", "plain text failure\n");
                else if (strstr(path, "/containers/running/start"))
                        fake_reply(conn, "304 Not Modified", "", "");
                else if (strstr(path, "/images/create"))
                        /* The engine's way: 200, progress, and the failure as the stream's last message. */
                        fake_reply(conn, "200 OK", "Content-Type: application/json\r\n",
                                   "{\"status\":\"Pulling from example/img\",\"id\":\"1.2\"}\r\n"
                                   "{\"status\":\"Downloading\",\"id\":\"abc\",\"progressDetail\":{}}\r\n"
                                   "{\"errorDetail\":{\"message\":\"no space left on device\"},"
                                   "\"error\":\"no space left on device\"}\r\n");
                else
                        fake_reply(conn, "404 Not Found", "", "{\"message\":\"page not found\"}");
                close(conn);
        }
}

static void fake_engine_start(FakeEngine *f, const char *api, const char *min_api, const char *components)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        snprintf(f->path, sizeof(f->path), "/tmp/pgseed-fake-engine-%d.sock", (int) getpid());
        f->api_version = api;
        f->min_api_version = min_api;
        f->components = components;
        unlink(f->path);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        strlcpy0(sa.sun_path, f->path, sizeof(sa.sun_path));
        assert_int_equal(bind(f->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 8), 0);
        assert_int_equal(pthread_create(&f->thread, NULL, fake_engine_thread, f), 0);
}

static void fake_engine_stop(FakeEngine *f)
{
        /* shutdown() makes the blocked accept() return, so the thread ends. */
        shutdown(f->fd, SHUT_RDWR);
        pthread_join(f->thread, NULL);
        close(f->fd);
        unlink(f->path);
}

/* Negotiates against a fake engine; returns the result and the version used. */
static int negotiate(const char *api, const char *min_api, const char *components, DockerVersion *v,
                     Error *e)
{
        FakeEngine f = {0};
        _cleanup_free_ char *host = NULL;
        DockerClient *c = NULL;
        int r;

        fake_engine_start(&f, api, min_api, components);
        host = xasprintf("unix://%s", f.path);
        assert_int_equal(docker_client_new(host, &c, e), 0);
        r = docker_version(c, v, e);
        docker_client_free(c);
        fake_engine_stop(&f);
        return r;
}

static void test_docker_negotiation(void **state)
{
        DockerVersion v;
        Error e = ERROR_INIT;

        /* Docker 20.10: its own version. */
        assert_int_equal(negotiate("1.41", "1.12", "[]", &v, &e), 0);
        assert_string_equal(v.used_api_version, "1.41");
        assert_false(v.podman);
        /* Newer engines: the newest version this client knows. */
        assert_int_equal(negotiate("1.47", "1.24", "[]", &v, &e), 0);
        assert_string_equal(v.used_api_version, DOCKER_API_MAX);
        /* An engine whose floor is above that (Docker 29 refuses < 1.44): its floor. */
        assert_int_equal(negotiate("1.52", "1.45", "[]", &v, &e), 0);
        assert_string_equal(v.used_api_version, "1.45");
        /* Podman's compat API says so only in Components. */
        assert_int_equal(
                negotiate("1.41", "1.24", "[{\"Name\":\"Podman Engine\",\"Version\":\"4.3.1\"}]", &v, &e),
                0);
        assert_true(v.podman);
        /* Docker 19.03 is too old, with a message that says what is needed. */
        assert_int_equal(negotiate("1.40", "1.12", "[]", &v, &e), -EPROTONOSUPPORT);
        assert_non_null(strstr(e.message, "1.40"));
        assert_non_null(strstr(e.message, DOCKER_API_MIN));
        assert_non_null(strstr(e.hint, "runtime = embedded"));
}

static void test_docker_errors_and_pull_stream(void **state)
{
        FakeEngine f = {0};
        _cleanup_free_ char *host = NULL;
        _cleanup_(docker_client_freep) DockerClient *c = NULL;
        json_t *info = NULL;
        Error e = ERROR_INIT;

        fake_engine_start(&f, "1.43", "1.12", "[]");
        host = xasprintf("unix://%s", f.path);
        assert_int_equal(docker_client_new(host, &c, &e), 0);

        assert_int_equal(docker_container_inspect(c, "missing", &info, &e), -ENOENT);
        assert_string_equal(e.message, "No such container: missing (HTTP 404)");
        assert_string_equal(f.last_request, "GET /v1.43/containers/missing/json");
        assert_int_equal(docker_container_start(c, "busy", &e), -EBUSY);
        assert_non_null(strstr(e.message, "it is busy"));
        assert_int_equal(docker_container_inspect(c, "broken", &info, &e), -EIO);
        assert_non_null(strstr(e.message, "plain text failure"));
        /* 304: already running is not an error. */
        assert_int_equal(docker_container_start(c, "running", &e), 0);
        /* Names that would change the URL never reach the engine. */
        assert_int_equal(docker_container_inspect(c, "a?b=c", &info, &e), -EINVAL);

        /* A 200 whose stream ends in an error is a failed pull; the tag is passed on its own. */
        e = (Error) ERROR_INIT;
        assert_int_equal(docker_image_pull(c, "example/img:1.2", 10000, NULL, NULL, &e), -EIO);
        assert_string_equal(e.message, "no space left on device");
        assert_non_null(strstr(f.last_request, "fromImage=example%2Fimg&tag=1.2"));
        /* Without a tag: latest, never "every tag". */
        assert_int_equal(docker_image_pull(c, "example/img", 10000, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(f.last_request, "tag=latest"));

        fake_engine_stop(&f);
}

/* ---- against the engine ----------------------------------------------------- */

static void test_docker_engine_answers(void **state)
{
        DockerVersion v;
        Error e = ERROR_INIT;

        /* No skipping: the docker suite exists to run against an engine, so a missing one is a failure. */
        expect_ok(docker_version(fx.client, &v, &e), &e, "docker_version (is the Docker engine running?)");
        assert_true(strcmp(v.used_api_version, DOCKER_API_MIN) >= 0);
        assert_true(strlen(v.used_api_version) >= 4);
        print_message("engine %s%s, API %s, talking %s\n", v.podman ? "Podman " : "", v.version,
                      v.api_version, v.used_api_version);
}

static void test_docker_socket_missing(void **state)
{
        _cleanup_(config_freep) Config *c = make_config(fx.instance, fx.image, "never",
                                                        "unix:///nonexistent/pgseed-test/docker.sock", NULL);
        _cleanup_(runtime_freep) Runtime *rt = make_runtime(c);
        Error e = ERROR_INIT;
        int64_t t0 = now_mono_ms();
        char why[200];

        assert_int_equal(runtime_prepare(rt, &e), -ECONNREFUSED);
        assert_non_null(strstr(e.message, "/nonexistent/pgseed-test/docker.sock"));
        assert_non_null(strstr(e.message, "does not exist"));
        assert_non_null(strstr(e.hint, "runtime = embedded"));

        e = (Error) ERROR_INIT;
        assert_int_equal(runtime_docker_ops.usable(c, why, sizeof(why), &e), -ECONNREFUSED);
        assert_false(isempty(e.message));
        /* runtime = auto asks this at start-up: it must not wait for anything. */
        assert_true(now_mono_ms() - t0 < 2000);
}

static void test_docker_image_missing_pull_never(void **state)
{
        _cleanup_(config_freep) Config *c =
                make_config(fx.instance, "pgseed/no-such-image:0", "never", fx.docker_host, NULL);
        _cleanup_(runtime_freep) Runtime *rt = make_runtime(c);
        Error e = ERROR_INIT;
        char why[200];

        assert_int_equal(runtime_prepare(rt, &e), -ENOENT);
        assert_non_null(strstr(e.message, "pgseed/no-such-image:0"));
        assert_non_null(strstr(e.message, "pull = never"));
        assert_non_null(strstr(e.hint, "make images"));
        assert_non_null(strstr(e.hint, "docker load"));

        e = (Error) ERROR_INIT;
        assert_int_equal(runtime_docker_ops.usable(c, why, sizeof(why), &e), -ENOENT);
        assert_non_null(strstr(e.message, "not present"));

        /* Nothing was created on the way to the error. */
        _cleanup_free_ char *name = container_name(fx.instance);
        json_t *info = NULL;
        assert_int_equal(docker_container_inspect(fx.client, name, &info, &e), -ENOENT);
}

static void test_docker_usable(void **state)
{
        _cleanup_(config_freep) Config *c =
                make_config(fx.instance, fx.image, "never", fx.docker_host, NULL);
        Error e = ERROR_INIT;
        char why[200] = "";

        expect_ok(runtime_docker_ops.usable(c, why, sizeof(why), &e), &e, "docker usable");
        /* The reason runtime = auto gives in /health names the engine and the image. */
        assert_non_null(strstr(why, fx.image));
}

static void test_docker_prepare_start_query(void **state)
{
        _cleanup_free_ char *name = container_name(fx.instance), *vol = xasprintf("%s-data", fx.instance);
        json_auto_t *info = NULL, *volume = NULL;
        json_t *labels, *hc, *env;
        DockerVersion v;
        RuntimeStatus st;
        Error e = ERROR_INIT;
        PGconn *conn;
        bool found_pgdata = false;

        fx.config = make_config(fx.instance, fx.image, "never", fx.docker_host, NULL);
        fx.rt = make_runtime(fx.config);
        expect_ok(runtime_prepare(fx.rt, &e), &e, "prepare");

        /* prepare created the container (not started) with our labels and settings, and the volume. */
        info = inspect_container(name);
        strlcpy0(fx.container_id, json_string_value(json_object_get(info, "Id")), sizeof(fx.container_id));
        labels = json_object_get(json_object_get(info, "Config"), "Labels");
        assert_string_equal(json_string_value(json_object_get(labels, "io.pgseed.managed")), "true");
        assert_string_equal(json_string_value(json_object_get(labels, "io.pgseed.instance")), fx.instance);
        assert_int_equal(strlen(json_string_value(json_object_get(labels, "io.pgseed.config-hash"))), 16);
        hc = json_object_get(info, "HostConfig");
        assert_int_equal(json_integer_value(json_object_get(hc, "ShmSize")), 256 * 1024 * 1024);
        assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "host");
        assert_string_equal(json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name")),
                            "no");
        /* Docker's init forwards the stop signal even while the entrypoint script runs (not on Podman). */
        expect_ok(docker_version(fx.client, &v, &e), &e, "docker_version");
        if (!v.podman)
                assert_true(json_is_true(json_object_get(hc, "Init")));
        env = json_object_get(json_object_get(info, "Config"), "Env");
        for (size_t i = 0; i < json_array_size(env); i++)
                if (streq_ptr(json_string_value(json_array_get(env, i)),
                              "PGDATA=/var/lib/postgresql/data/pgdata"))
                        found_pgdata = true;
        assert_true(found_pgdata);
        expect_ok(docker_volume_inspect(fx.client, vol, &volume, &e), &e, "volume inspect");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(volume, "Labels"), "io.pgseed.managed")),
                "true");

        expect_ok(runtime_start(fx.rt, &e), &e, "start");
        /* Starting what runs is a no-op. */
        expect_ok(runtime_start(fx.rt, &e), &e, "second start");

        conn = connect_pg();
        exec_ok(conn, "CREATE TABLE pgseed_test_kept (x int); INSERT INTO pgseed_test_kept VALUES (42)");
        _cleanup_free_ char *wal = query_value(conn, "SHOW wal_level");
        assert_string_equal(wal, "logical"); /* config/postgresql.conf reached the server as -c settings */
        _cleanup_free_ char *listen = query_value(conn, "SHOW listen_addresses");
        assert_string_equal(listen, "127.0.0.1");
        _cleanup_free_ char *enc = query_value(conn, "SELECT pg_encoding_to_char(encoding) FROM pg_database "
                                                     "WHERE datname = current_database()");
        assert_string_equal(enc, "UTF8");
        PQfinish(conn);

        assert_int_equal(runtime_status(fx.rt, &st), 0);
        assert_true(st.running);
        assert_int_equal(strlen(st.id), 12);
        assert_memory_equal(st.id, fx.container_id, 12);
}

static void test_docker_logs_tail(void **state)
{
        LogQuery q = {.tail = -1};
        LogStream *s = NULL;
        LogLine line;
        Error e = ERROR_INIT;
        int n = 0, r;
        bool ready = false;

        need_runtime();
        expect_ok(runtime_logs_open(fx.rt, &q, &s, &e), &e, "logs_open");
        while ((r = s->read_line(s, &line, 5000)) == 1) {
                n++;
                assert_false(isempty(line.ts));
                assert_true(line.ts[10] == 'T' && line.ts[strlen(line.ts) - 1] == 'Z');
                assert_true(streq(line.stream, "stdout") || streq(line.stream, "stderr"));
                if (strstr(line.text, "database system is ready to accept connections")) {
                        ready = true;
                        assert_string_equal(line.stream, "stderr");
                }
        }
        assert_int_equal(r, 0);
        assert_true(ready);
        log_stream_close(s);

        /* tail = 3: at most the last three lines. */
        q.tail = 3;
        expect_ok(runtime_logs_open(fx.rt, &q, &s, &e), &e, "logs_open tail=3");
        n = 0;
        while ((r = s->read_line(s, &line, 5000)) == 1)
                n++;
        assert_int_equal(r, 0);
        assert_true(n >= 1 && n <= 3);
        log_stream_close(s);

        /* since in the future: nothing. */
        q = (LogQuery){.tail = -1, .since_ms = now_real_ms() + 3600 * 1000};
        expect_ok(runtime_logs_open(fx.rt, &q, &s, &e), &e, "logs_open since");
        assert_int_equal(s->read_line(s, &line, 5000), 0);
        log_stream_close(s);
}

static void test_docker_logs_follow(void **state)
{
        LogQuery q = {.tail = 0, .follow = true};
        LogStream *s = NULL;
        LogLine line;
        Error e = ERROR_INIT;
        char marker[64], sql[160];
        int64_t deadline, t0;
        PGconn *conn;
        bool found = false;
        int r;

        need_runtime();
        expect_ok(runtime_logs_open(fx.rt, &q, &s, &e), &e, "logs_open follow");
        /* Nothing new yet: a timeout, not the end. */
        assert_int_equal(s->read_line(s, &line, 200), -EAGAIN);

        snprintf(marker, sizeof(marker), "pgseed-test-marker-%d-%lld", (int) getpid(),
                 (long long) now_real_ms());
        snprintf(sql, sizeof(sql), "DO $$BEGIN RAISE LOG '%s'; END$$", marker);
        conn = connect_pg();
        exec_ok(conn, sql);
        PQfinish(conn);

        deadline = now_mono_ms() + 20000;
        while (!found && now_mono_ms() < deadline) {
                r = s->read_line(s, &line, 1000);
                if (r == -EAGAIN)
                        continue;
                assert_int_equal(r, 1);
                if (strstr(line.text, marker)) {
                        found = true;
                        assert_string_equal(line.stream, "stderr");
                        assert_false(isempty(line.ts));
                }
        }
        assert_true(found);

        /* Closing a followed stream ends its transfer thread at once. */
        t0 = now_mono_ms();
        log_stream_close(s);
        assert_true(now_mono_ms() - t0 < 1000);
}

static void test_docker_kill_behind_our_back(void **state)
{
        RuntimeStatus st;
        Error e = ERROR_INIT;
        int64_t code = -1;

        need_runtime();
        expect_ok(docker_container_kill(fx.client, fx.container_id, "SIGKILL", &e), &e, "docker kill");
        expect_ok(docker_container_wait(fx.client, fx.container_id, 30000, &code, &e), &e, "docker wait");
        assert_int_equal(code, 137);

        assert_int_equal(runtime_status(fx.rt, &st), 0);
        assert_false(st.running);
        assert_non_null(strstr(st.detail, "killed"));
        print_message("status after docker kill: %s\n", st.detail);
}

static void test_docker_start_again_keeps_data(void **state)
{
        Error e = ERROR_INIT;
        RuntimeStatus st;
        PGconn *conn;

        need_runtime();
        expect_ok(runtime_start(fx.rt, &e), &e, "start after kill");
        conn = connect_pg();
        _cleanup_free_ char *x = query_value(conn, "SELECT x FROM pgseed_test_kept");
        assert_string_equal(x, "42");
        PQfinish(conn);
        assert_int_equal(runtime_status(fx.rt, &st), 0);
        assert_true(st.running);
}

static void test_docker_second_runtime_adopts(void **state)
{
        _cleanup_(runtime_freep) Runtime *rt2 = make_runtime(fx.config);
        _cleanup_free_ char *name = container_name(fx.instance);
        json_auto_t *info = NULL;
        RuntimeStatus st;
        Error e = ERROR_INIT;

        need_runtime();
        /* A pgseedd restart: a new runtime finds the running container and keeps it. */
        expect_ok(runtime_prepare(rt2, &e), &e, "prepare (adopt)");
        expect_ok(runtime_start(rt2, &e), &e, "start (adopted, running)");
        info = inspect_container(name);
        assert_string_equal(json_string_value(json_object_get(info, "Id")), fx.container_id);
        assert_true(json_is_true(json_object_get(json_object_get(info, "State"), "Running")));
        assert_int_equal(runtime_status(rt2, &st), 0);
        assert_true(st.running);
        assert_memory_equal(st.id, fx.container_id, 12);
}

static void test_docker_config_change_recreates(void **state)
{
        _cleanup_free_ char *name = container_name(fx.instance), *orig = NULL, *text = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(runtime_freep) Runtime *rt2 = NULL;
        json_auto_t *info = NULL;
        Error e = ERROR_INIT;
        PGconn *conn;
        int fd;

        need_runtime();
        /* Another setting in postgresql.conf changes the command line, hence the hash. */
        assert_int_equal(read_full_file(fx.config->pg_conf, &orig, NULL), 0);
        text = xasprintf("%s\nwork_mem = 7MB\n", orig);
        fx.conf_path = xstrdup("/tmp/pgseed-test-pgconf-XXXXXX");
        fd = mkstemp(fx.conf_path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);

        c = make_config(fx.instance, fx.image, "never", fx.docker_host, fx.conf_path);
        rt2 = make_runtime(c);
        expect_ok(runtime_prepare(rt2, &e), &e, "prepare (recreate)");
        info = inspect_container(name);
        assert_string_not_equal(json_string_value(json_object_get(info, "Id")), fx.container_id);
        expect_ok(runtime_start(rt2, &e), &e, "start (recreated)");

        conn = connect_pg();
        _cleanup_free_ char *work_mem = query_value(conn, "SHOW work_mem");
        assert_string_equal(work_mem, "7MB");
        _cleanup_free_ char *x = query_value(conn, "SELECT x FROM pgseed_test_kept");
        assert_string_equal(x, "42"); /* same volume */
        PQfinish(conn);

        /* And back: the original runtime recreates its own configuration. */
        e = (Error) ERROR_INIT;
        expect_ok(runtime_prepare(fx.rt, &e), &e, "prepare (back)");
        json_decref(info);
        info = inspect_container(name);
        strlcpy0(fx.container_id, json_string_value(json_object_get(info, "Id")), sizeof(fx.container_id));
        expect_ok(runtime_start(fx.rt, &e), &e, "start (back)");
}

static void test_docker_stop(void **state)
{
        RuntimeStatus st;
        Error e = ERROR_INIT;
        int64_t t0 = now_mono_ms();

        need_runtime();
        expect_ok(runtime_stop(fx.rt, &e), &e, "stop");
        /* SIGINT makes it a fast shutdown: well within the 10 s stop timeout, no kill. */
        assert_true(now_mono_ms() - t0 < 9000);
        assert_int_equal(runtime_status(fx.rt, &st), 0);
        assert_false(st.running);
        assert_non_null(strstr(st.detail, "stopped by pgseedd"));
        expect_ok(runtime_stop(fx.rt, &e), &e, "stop when stopped");
}

static void test_docker_foreign_container_untouched(void **state)
{
        _cleanup_(config_freep) Config *c =
                make_config(fx.foreign_instance, fx.image, "never", fx.docker_host, NULL);
        _cleanup_(runtime_freep) Runtime *rt = make_runtime(c);
        _cleanup_free_ char *name = container_name(fx.foreign_instance), *id = NULL;
        json_auto_t *spec = json_pack("{s:s, s:[s], s:{s:s}}", "Image", fx.image, "Cmd", "true",
                                      "HostConfig", "NetworkMode", "host");
        json_auto_t *info = NULL;
        RuntimeStatus st;
        Error e = ERROR_INIT;

        expect_ok(docker_container_create(fx.client, name, spec, &id, &e), &e,
                  "create the foreign container");

        assert_int_equal(runtime_prepare(rt, &e), -EBUSY);
        assert_non_null(strstr(e.message, name));
        assert_non_null(strstr(e.message, "not managed"));
        assert_non_null(strstr(e.hint, "PGSEED_INSTANCE"));

        /* Neither start, stop, remove nor status lay a finger on it. */
        e = (Error) ERROR_INIT;
        assert_int_equal(runtime_stop(rt, &e), 0);
        assert_int_equal(runtime_remove(rt, false, &e), 0);
        assert_int_equal(runtime_status(rt, &st), 0);
        assert_false(st.running);
        info = inspect_container(name);
        assert_string_equal(json_string_value(json_object_get(info, "Id")), id);

        expect_ok(docker_container_remove(fx.client, id, true, true, &e), &e,
                  "remove the foreign container");
}

static void test_docker_remove(void **state)
{
        _cleanup_free_ char *name = container_name(fx.instance), *vol = xasprintf("%s-data", fx.instance);
        json_t *info = NULL;
        RuntimeStatus st;
        Error e = ERROR_INIT;
        PGconn *conn;

        need_runtime();
        expect_ok(runtime_remove(fx.rt, false, &e), &e, "remove(volumes=false)");
        assert_int_equal(docker_container_inspect(fx.client, name, &info, &e), -ENOENT);
        expect_ok(docker_volume_inspect(fx.client, vol, &info, &e), &e, "volume kept");
        json_decref(info);
        info = NULL;
        assert_int_equal(runtime_status(fx.rt, &st), 0);
        assert_false(st.running);
        assert_non_null(strstr(st.detail, "removed"));

        /* start makes the container again on the kept volume. */
        expect_ok(runtime_start(fx.rt, &e), &e, "start after remove");
        conn = connect_pg();
        _cleanup_free_ char *x = query_value(conn, "SELECT x FROM pgseed_test_kept");
        assert_string_equal(x, "42");
        PQfinish(conn);

        expect_ok(runtime_remove(fx.rt, true, &e), &e, "remove(volumes=true)");
        assert_int_equal(docker_container_inspect(fx.client, name, &info, &e), -ENOENT);
        assert_int_equal(docker_volume_inspect(fx.client, vol, &info, &e), -ENOENT);
        /* Removing what is gone is fine. */
        expect_ok(runtime_remove(fx.rt, true, &e), &e, "remove again");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_docker_log_decoder_multiplexed),
                cmocka_unit_test(test_docker_log_decoder_tty),
                cmocka_unit_test(test_docker_negotiation),
                cmocka_unit_test(test_docker_errors_and_pull_stream),
                cmocka_unit_test(test_docker_engine_answers),
                cmocka_unit_test(test_docker_socket_missing),
                cmocka_unit_test(test_docker_image_missing_pull_never),
                cmocka_unit_test(test_docker_usable),
                cmocka_unit_test(test_docker_prepare_start_query),
                cmocka_unit_test(test_docker_logs_tail),
                cmocka_unit_test(test_docker_logs_follow),
                cmocka_unit_test(test_docker_kill_behind_our_back),
                cmocka_unit_test(test_docker_start_again_keeps_data),
                cmocka_unit_test(test_docker_second_runtime_adopts),
                cmocka_unit_test(test_docker_config_change_recreates),
                cmocka_unit_test(test_docker_stop),
                cmocka_unit_test(test_docker_foreign_container_untouched),
                cmocka_unit_test(test_docker_remove),
        };

        return cmocka_run_group_tests_name("docker", tests, group_setup, group_teardown);
}
