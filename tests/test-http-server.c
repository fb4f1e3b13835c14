/* SPDX-License-Identifier: MIT */
/* test-http-server.c -- the HTTP server on a private port with its own routes: suspend/resume, streams,
 * stop. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"
#include "util.h"

static atomic_int userdata_freed;
static atomic_int park_calls;

typedef struct Park {
        Request *req;
        int delay_ms;
        int value;
} Park;

static void park_free(void *p)
{
        atomic_fetch_add(&userdata_freed, 1);
        free(p);
}

static void *resumer(void *p)
{
        Park *k = p;

        sleep_ms(k->delay_ms);
        k->value = 42;
        request_resume(k->req);
        return NULL;
}

/* Parks the request; a thread resumes it after ?ms= milliseconds (0: before the handler returns). */
static void route_park(Request *req)
{
        Park *k;
        pthread_t t;
        int64_t ms = 100;

        atomic_fetch_add(&park_calls, 1);
        if (request_resumed(req)) {
                k = request_userdata(req);
                http_reply_json(req, 200, json_pack("{s:i}", "value", k->value));
                return;
        }
        if (!request_query_int(req, "ms", 100, 0, 10000, &ms))
                return;
        k = xcalloc(1, sizeof(Park));
        k->req = req;
        k->delay_ms = (int) ms;
        request_set_userdata(req, k, park_free);
        if (ms == 0) {
                /* Resumed before it is even suspended: the contract allows it. */
                k->value = 42;
                request_resume(req);
                request_suspend(req);
                return;
        }
        request_suspend(req);
        pthread_create(&t, NULL, resumer, k);
        pthread_detach(t);
}

/* A handler that blocks its worker, as one waiting on Postgres does. */
static void route_slow(Request *req)
{
        sleep_ms(1500);
        http_reply_json(req, 200, json_pack("{s:b}", "slow", 1));
}

static void route_fast(Request *req)
{
        http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

typedef struct Counter {
        int polls;
        int sent;
} Counter;

static atomic_int stream_freed;

/* Nothing for two polls, then three lines, then the end: the server must poll, not wait. */
static ssize_t counter_read(void *p, char *buf, size_t max)
{
        Counter *c = p;

        if (c->polls++ < 2)
                return 0;
        if (c->sent == 3)
                return -1;
        return snprintf(buf, max, "line %d\n", ++c->sent);
}

static void counter_free(void *p)
{
        atomic_fetch_add(&stream_freed, 1);
        free(p);
}

static void route_stream(Request *req)
{
        http_reply_stream(req, 200, "text/plain", counter_read, xcalloc(1, sizeof(Counter)), counter_free);
}

/* Never ends: for the stream cap and for clients that leave. */
static ssize_t forever_read(void *p, char *buf, size_t max)
{
        return 0;
}

static void route_forever(Request *req)
{
        http_reply_stream(req, 200, "text/plain", forever_read, xcalloc(1, sizeof(Counter)), counter_free);
}

static const Route routes[] = {
        {"GET", "/park", route_park, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "parks"},
        {"GET", "/fast", route_fast, ROUTE_AUTH_OPEN, ROUTE_CORS_PUBLIC, "fast"},
        {"GET", "/slow", route_slow, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "blocks its worker"},
        {"GET", "/stream", route_stream, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "a stream"},
        {"GET", "/forever", route_forever, ROUTE_AUTH_READ, ROUTE_CORS_PRIVATE, "an endless stream"},
};

typedef struct Fixture {
        Daemon d;
        HttpServer *server;
        int port;
} Fixture;

static int setup(void **state)
{
        Fixture *f = xcalloc(1, sizeof(Fixture));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        Error e = ERROR_INIT;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_int_equal(config_load("/dev/null", NULL, &f->d.config, &e), 0);
        assert_int_equal(access_policy_new(f->d.config, &f->d.access, &e), 0);
        f->d.metrics = metrics_new();
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 128), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        f->port = ntohs(sa.sin_port);
        assert_int_equal(http_server_start(&f->d, routes, ELEMENTSOF(routes), fd, &f->server, &e), 0);
        atomic_store(&userdata_freed, 0);
        atomic_store(&park_calls, 0);
        atomic_store(&stream_freed, 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;

        http_server_stop(f->server);
        access_policy_free(f->d.access);
        config_free(f->d.config);
        metrics_free(f->d.metrics);
        free(f);
        return 0;
}

static int connect_to(int port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {.tv_sec = 10};

        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static void send_all(int fd, const char *s)
{
        assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t) strlen(s));
}

/* Reads until the server closes; returns a new string. */
static char *read_all(int fd)
{
        Buffer b = {0};
        char buf[4096];
        ssize_t n;

        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
                buffer_append(&b, buf, (size_t) n);
        if (!b.data)
                buffer_append(&b, "", 0);
        return b.data;
}

/* One request with Connection: close; returns the whole response. */
static char *request(int port, const char *method, const char *target)
{
        int fd = connect_to(port);
        char head[512];
        char *r;

        snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 method, target);
        send_all(fd, head);
        r = read_all(fd);
        close(fd);
        return r;
}

static void test_server_suspend_resume_replies_from_the_second_call(void **state)
{
        Fixture *f = *state;
        char *r = request(f->port, "GET", "/park?ms=50");

        assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(r, "\"value\": 42"));
        assert_int_equal(atomic_load(&park_calls), 2);
        free(r);
        /* The userdata is freed with the request, after the reply. */
        for (int i = 0; i < 100 && atomic_load(&userdata_freed) < 1; i++)
                sleep_ms(10);
        assert_int_equal(atomic_load(&userdata_freed), 1);
}

static void test_server_resume_before_suspend_returns(void **state)
{
        Fixture *f = *state;
        char *r = request(f->port, "GET", "/park?ms=0");

        assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(r, "\"value\": 42"));
        free(r);
}

/* More parked requests than workers: a parked request holds no worker, so all finish and others run. */
static void test_server_parked_requests_hold_no_worker(void **state)
{
        Fixture *f = *state;
        int fds[20];
        int64_t t0;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_to(f->port);
                send_all(fds[i], "GET /park?ms=1500 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        }
        sleep_ms(200);
        t0 = now_mono_ms();
        char *r = request(f->port, "GET", "/fast");
        assert_non_null(strstr(r, "200 OK"));
        free(r);
        r = request(f->port, "GET", "/stream");
        assert_non_null(strstr(r, "200 OK"));
        free(r);
        assert_true(now_mono_ms() - t0 < 1000);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                r = read_all(fds[i]);
                assert_non_null(strstr(r, "\"value\": 42"));
                free(r);
                close(fds[i]);
        }
}

/* Every general worker blocked: an open route (a probe) still answers at once, from the worker kept for it.
 */
static void test_server_open_routes_answer_while_workers_block(void **state)
{
        Fixture *f = *state;
        int fds[12];
        int64_t t0;
        char *r;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_to(f->port);
                send_all(fds[i], "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        }
        sleep_ms(200);
        for (int i = 0; i < 5; i++) {
                t0 = now_mono_ms();
                r = request(f->port, "GET", "/fast");
                assert_non_null(strstr(r, "200 OK"));
                assert_true(now_mono_ms() - t0 < 100);
                free(r);
        }
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                r = read_all(fds[i]);
                assert_non_null(strstr(r, "\"slow\": true"));
                free(r);
                close(fds[i]);
        }
}

static void test_server_client_gone_while_parked(void **state)
{
        Fixture *f = *state;
        int fd = connect_to(f->port);

        send_all(fd, "GET /park?ms=400 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        sleep_ms(100);
        close(fd);
        sleep_ms(700);
        /* Called once (it suspended), never again after the resume; the userdata freed anyway. */
        assert_int_equal(atomic_load(&park_calls), 1);
        assert_int_equal(atomic_load(&userdata_freed), 1);
}

static void test_server_stream_is_polled_and_chunked(void **state)
{
        Fixture *f = *state;
        char *r = request(f->port, "GET", "/stream");

        assert_non_null(strstr(r, "Transfer-Encoding: chunked\r\n"));
        assert_null(strstr(r, "Content-Length"));
        assert_non_null(strstr(r, "\r\n\r\n7\r\nline 1\n\r\n7\r\nline 2\n\r\n7\r\nline 3\n\r\n0\r\n\r\n"));
        free(r);
        assert_int_equal(atomic_load(&stream_freed), 1);
}

static void test_server_head_of_a_stream_has_no_body(void **state)
{
        Fixture *f = *state;
        char *r = request(f->port, "HEAD", "/stream");

        assert_non_null(strstr(r, "200 OK"));
        assert_true(strlen(strstr(r, "\r\n\r\n")) == 4);
        free(r);
        assert_int_equal(atomic_load(&stream_freed), 1);
}

static void test_server_stream_cap_and_client_leaving(void **state)
{
        Fixture *f = *state;
        int fds[32];
        char *r;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = connect_to(f->port);
                send_all(fds[i], "GET /forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
        sleep_ms(300);
        r = request(f->port, "GET", "/forever");
        assert_non_null(strstr(r, "HTTP/1.1 503 "));
        assert_non_null(strstr(r, "too_many_streams"));
        assert_non_null(strstr(r, "Retry-After: 1"));
        free(r);
        assert_int_equal(atomic_load(&stream_freed), 1);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        /* The loop notices each hang-up and frees the streams. */
        for (int i = 0; i < 100 && atomic_load(&stream_freed) < 33; i++)
                sleep_ms(20);
        assert_int_equal(atomic_load(&stream_freed), 33);
        r = request(f->port, "GET", "/stream");
        assert_non_null(strstr(r, "200 OK"));
        free(r);
}

static void test_server_keep_alive_and_pipelining(void **state)
{
        Fixture *f = *state;
        int fd = connect_to(f->port);
        char *r, *p;
        int n = 0;

        send_all(fd, "GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     "GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        r = read_all(fd);
        for (p = r; (p = strstr(p, "HTTP/1.1 200 OK")); p++)
                n++;
        assert_int_equal(n, 3);
        assert_non_null(strstr(r, "Connection: close"));
        free(r);
        close(fd);
}

static void test_server_stop_frees_the_port_at_once(void **state)
{
        Fixture *f = *state;
        int idle = connect_to(f->port), follower = connect_to(f->port);
        int64_t t0;
        char *r;
        int fd;

        send_all(follower, "GET /forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        sleep_ms(200);
        t0 = now_mono_ms();
        http_server_stop(f->server);
        f->server = NULL;
        assert_true(now_mono_ms() - t0 < 2000);
        fd = connect_to(f->port);
        assert_int_equal(fd, -1);
        /* The stream was ended properly (its last chunk sent) and freed; the idle connection closed. */
        r = read_all(follower);
        assert_non_null(strstr(r, "Transfer-Encoding: chunked"));
        assert_non_null(strstr(r, "\r\n0\r\n\r\n"));
        free(r);
        assert_int_equal(atomic_load(&stream_freed), 1);
        r = read_all(idle);
        assert_string_equal(r, "");
        free(r);
        close(follower);
        close(idle);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_server_suspend_resume_replies_from_the_second_call,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_resume_before_suspend_returns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_parked_requests_hold_no_worker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_open_routes_answer_while_workers_block, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_server_client_gone_while_parked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_stream_is_polled_and_chunked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_head_of_a_stream_has_no_body, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_stream_cap_and_client_leaving, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_keep_alive_and_pipelining, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_stop_frees_the_port_at_once, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
