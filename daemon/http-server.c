/* SPDX-License-Identifier: MIT */
/* http-server.c -- pgseedd's HTTP/1.1 server: one epoll loop owns every connection, a few workers run
 * handlers. */

/*
 * Why not a thread per connection: a few hundred idle or slow sockets would
 * then cost a few hundred threads and exhaust any connection limit, so that
 * /health stops answering because some local process misbehaves.  Here a
 * connection costs a socket, a small struct and (while a request arrives) a
 * buffer; only a complete request reaches a worker.  The rules that keep
 * /health answering whatever arrives:
 *
 *  - a request head must be complete within HEAD_TIMEOUT_MS of its first
 *    byte (of the accept for a new connection): 408, then close;
 *  - an idle keep-alive connection is closed after IDLE_TIMEOUT_MS, a reply
 *    the client does not read after WRITE_TIMEOUT_MS without progress;
 *  - beyond MAX_PER_IP connections from one address a new one evicts that
 *    address's oldest connection that waits on its client (idle, sending a
 *    head, reading a reply); beyond MAX_CONNECTIONS anyone's.  A flood evicts
 *    itself, and a client that sends its request at once is never the
 *    oldest.  Only when every connection has a request in a handler (or a
 *    stream) is the newcomer refused (503);
 *  - ROUTE_AUTH_OPEN routes (probes) jump the queue and have a worker of
 *    their own, so slow handlers cannot delay them;
 *  - streams are pumped by the loop from a timer, never by a waiting worker.
 *
 * Protocol errors (a head the parser refuses) are answered from the loop with
 * the JSON error shape and the connection is closed after a lingering drain,
 * so the client reads the reply instead of a reset.
 *
 * HTTPS ([api] tls) changes only how bytes move: conn_recv() and conn_send()
 * run OpenSSL on the non-blocking socket, the handshake inside the first
 * reads, and a read that needs to write (or a write that needs to read) waits
 * for that event instead.  The limits above hold unchanged: a handshake is
 * part of the first head's HEAD_TIMEOUT_MS, a connection in its handshake is
 * evictable like any other that waits on its client.  The first byte tells a
 * TLS client (a handshake record, 0x16) from one speaking plain HTTP, which
 * gets a plain-text 400 saying to use https:// instead of a hang.
 */

#include "http-request.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "http-tls.h"
#include "log.h"

/* Probes answered on the loop per event before the rest go to the probe worker: one pipelining client
 * cannot keep the loop to itself. */
#define INLINE_BUDGET    16
#define N_WORKERS        6 /* worker 0 serves only ROUTE_AUTH_OPEN routes */
#define MAX_CONNECTIONS  2048
#define MAX_PER_IP       512
#define MAX_STREAMS      32
#define HEAD_TIMEOUT_MS  5000
#define IDLE_TIMEOUT_MS  30000
#define WRITE_TIMEOUT_MS 10000
#define LINGER_MS        2000
#define STREAM_POLL_MS   150
#define SWEEP_MS         100
#define STOP_TIMEOUT_MS  10000
#define READ_CHUNK       4096
#define STREAM_CHUNK     (16 * 1024)
#define IP_BUCKETS       256

typedef enum ConnState {
        CONN_HEAD,   /* waiting for (the rest of) a request head */
        CONN_BODY,   /* discarding a request body */
        CONN_BUSY,   /* a worker has the request, or it is parked (suspended) */
        CONN_WRITE,  /* sending a fixed reply */
        CONN_STREAM, /* sending a streamed reply */
        CONN_LINGER, /* reply sent and write side shut: draining input until the client closes */
} ConnState;

typedef struct IpSlot {
        struct IpSlot *next;
        unsigned char addr[16];
        unsigned count;
} IpSlot;

struct Conn {
        int fd;
        ConnState state;
        Conn *prev, *next;         /* every connection */
        Conn *lru_prev, *lru_next; /* the evictable ones (waiting on their client), oldest first */
        bool in_lru;
        bool gone; /* socket closed while a worker or a parked request still holds req */
        IpSlot *ip;
        uint32_t events;
        int64_t deadline_ms;
        int64_t stream_next_ms;
        char *in;
        size_t in_len, in_cap;
        HttpHeadScanner scan;
        uint64_t body_left;
        Buffer out;
        size_t out_off;
        Request *req;
        bool keep_alive, head_only, chunked, close_after;
        SSL *ssl;         /* HTTPS: made on the first byte; NULL before, for plain HTTP and when lingering */
        bool tls_sniffed; /* HTTPS: the first byte was looked at */
        uint32_t tls_want; /* HTTPS: the event the last SSL call that would block waits for, else 0 */
};

struct HttpServer {
        HttpSite site; /* the daemon, the routes, request numbers and stream slots: what http.c reads */
        SSL_CTX *tls;  /* the daemon's (d->api_tls): HTTPS; NULL for plain HTTP */
        int listen_fd, epoll_fd, wake_fd;
        pthread_t loop_thread;
        pthread_t workers[N_WORKERS];
        unsigned max_connections;

        /* loop only */
        unsigned inline_budget; /* probes the current event may still answer on the loop */
        bool inline_active;     /* a probe's reply is being sent from conn_start_request() */
        Conn *conns;
        Conn *graveyard; /* freed after the current batch of events, which may still name them */
        Conn *lru_head, *lru_tail;
        unsigned n_conns;
        IpSlot *ips[IP_BUCKETS];
        int64_t last_sweep_ms;
        char date[40];
        time_t date_s;

        /* under lock */
        pthread_mutex_t lock;
        pthread_cond_t work_cond, fast_cond, done_cond;
        Request *fast_head, *fast_tail; /* jobs of ROUTE_AUTH_OPEN routes */
        Request *job_head, *job_tail;
        Request *msg_head, *msg_tail; /* to the loop: finished, or resumed */
        unsigned running_workers;
        unsigned idle_workers,
                idle_fast; /* waiting on work_cond, fast_cond: signal only when someone waits */
        unsigned parked;
        unsigned busy; /* requests on workers or parked */
        bool quit_workers;
        atomic_bool stopping;
        bool dead; /* stop gave up waiting: late resumes just free */
};

/* ---- small helpers ------------------------------------------------------ */

static void queue_push(Request **head, Request **tail, Request *r)
{
        r->qnext = NULL;
        if (*tail)
                (*tail)->qnext = r;
        else
                *head = r;
        *tail = r;
}

static Request *queue_pop(Request **head, Request **tail)
{
        Request *r = *head;

        if (r) {
                *head = r->qnext;
                if (!*head)
                        *tail = NULL;
                r->qnext = NULL;
        }
        return r;
}

/* Hands req to the loop; under s->lock.  The loop drains the whole queue per wake-up, so only the first
 * message of a batch needs one. */
static void loop_post(HttpServer *s, Request *req)
{
        bool was_empty = !s->msg_head;
        uint64_t one = 1;

        queue_push(&s->msg_head, &s->msg_tail, req);
        if (was_empty)
                (void) !write(s->wake_fd, &one, sizeof(one));
}

static void wake_loop(HttpServer *s)
{
        uint64_t one = 1;

        (void) !write(s->wake_fd, &one, sizeof(one));
}

/* Raises the soft RLIMIT_NOFILE to the hard one, so that thousands of idle sockets fit. */
static unsigned raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1024;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t old = rl.rlim_cur;
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        rl.rlim_cur = old;
        }
        return rl.rlim_cur > 1u << 20 ? 1u << 20 : (unsigned) rl.rlim_cur;
}

/* ---- per-address accounting --------------------------------------------- */

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
        memset(key, 0, 16);
        if (ss->ss_family == AF_INET) {
                key[10] = key[11] = 0xff;
                memcpy(key + 12, &((const struct sockaddr_in *) ss)->sin_addr, 4);
        } else if (ss->ss_family == AF_INET6)
                memcpy(key, &((const struct sockaddr_in6 *) ss)->sin6_addr, 16);
}

static IpSlot *ip_get(HttpServer *s, const unsigned char key[16])
{
        unsigned h = (unsigned) (hash64(key, 16, HASH64_INIT) % IP_BUCKETS);

        for (IpSlot *p = s->ips[h]; p; p = p->next)
                if (memcmp(p->addr, key, 16) == 0)
                        return p;
        IpSlot *p = xcalloc(1, sizeof(IpSlot));
        memcpy(p->addr, key, 16);
        p->next = s->ips[h];
        s->ips[h] = p;
        return p;
}

static void ip_put(HttpServer *s, IpSlot *ip)
{
        unsigned h;

        if (!ip || --ip->count > 0)
                return;
        h = (unsigned) (hash64(ip->addr, 16, HASH64_INIT) % IP_BUCKETS);
        for (IpSlot **pp = &s->ips[h]; *pp; pp = &(*pp)->next)
                if (*pp == ip) {
                        *pp = ip->next;
                        free(ip);
                        return;
                }
}

/* ---- connection bookkeeping --------------------------------------------- */

static void lru_remove(HttpServer *s, Conn *c)
{
        if (!c->in_lru)
                return;
        if (c->lru_prev)
                c->lru_prev->lru_next = c->lru_next;
        else
                s->lru_head = c->lru_next;
        if (c->lru_next)
                c->lru_next->lru_prev = c->lru_prev;
        else
                s->lru_tail = c->lru_prev;
        c->lru_prev = c->lru_next = NULL;
        c->in_lru = false;
}

/* Appends c as the newest evictable connection. */
static void lru_touch(HttpServer *s, Conn *c)
{
        lru_remove(s, c);
        c->lru_prev = s->lru_tail;
        if (s->lru_tail)
                s->lru_tail->lru_next = c;
        else
                s->lru_head = c;
        s->lru_tail = c;
        c->in_lru = true;
}

static void conn_set_events(HttpServer *s, Conn *c, uint32_t events)
{
        struct epoll_event ev = {.events = events, .data.ptr = c};

        if (c->fd < 0 || c->events == events)
                return;
        c->events = events;
        (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void stream_end(HttpServer *s, Request *req);

static void conn_free(HttpServer *s, Conn *c)
{
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c->in);
        c->in = NULL;
        buffer_free(&c->out);
        /*
         * Not freed yet: an event for it may still wait in the batch epoll_wait
         * returned (an eviction closes connections other than the one whose
         * event is being handled).  Its fd is -1, so that event is ignored.
         */
        c->fd = -1;
        c->next = s->graveyard;
        s->graveyard = c;
}

static void graveyard_empty(HttpServer *s)
{
        while (s->graveyard) {
                Conn *c = s->graveyard;
                s->graveyard = c->next;
                free(c);
        }
}

/* Closes the socket; the Conn lives on (gone) while a worker or a parked request holds its request. */
static void conn_close(HttpServer *s, Conn *c)
{
        if (c->fd >= 0) {
                /*
                 * Deregister before closing: epoll forgets an fd on close() only
                 * when no other descriptor refers to the same open socket, and a
                 * child forked for initdb or postgres holds copies until its
                 * exec.  Its events would then arrive for a Conn freed meanwhile.
                 */
                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
                http_tls_close(c->ssl);
                c->ssl = NULL;
                close(c->fd);
                c->fd = -1;
                s->n_conns--;
                ip_put(s, c->ip);
                c->ip = NULL;
        }
        lru_remove(s, c);
        if (c->state == CONN_BUSY) {
                c->gone = true;
                return;
        }
        if (c->req) {
                if (c->req->stream_read)
                        stream_end(s, c->req);
                http_request_finished(c->req, true);
                http_request_free(c->req);
                c->req = NULL;
        }
        conn_free(s, c);
}

static void date_refresh(HttpServer *s)
{
        time_t now = time(NULL);
        struct tm tm;

        if (now == s->date_s)
                return;
        s->date_s = now;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ---- bytes in and out ---------------------------------------------------- */

/* recv() and send() on the connection, through TLS when it has it; see http_tls_recv(). */
static ssize_t conn_recv(Conn *c, void *buf, size_t len)
{
        c->tls_want = 0;
        return c->ssl ? http_tls_recv(c->ssl, buf, len, &c->tls_want) : recv(c->fd, buf, len, 0);
}

static ssize_t conn_send(Conn *c, const void *buf, size_t len)
{
        c->tls_want = 0;
        return c->ssl ? http_tls_send(c->ssl, buf, len, &c->tls_want) : send(c->fd, buf, len, MSG_NOSIGNAL);
}

/* ---- sending ------------------------------------------------------------ */

static void conn_read_ready(HttpServer *s, Conn *c);
static void conn_stream_pump(HttpServer *s, Conn *c);

/* Sends what is pending; returns false when the connection was closed. */
static bool conn_flush(HttpServer *s, Conn *c)
{
        while (c->out_off < c->out.len) {
                ssize_t n = conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        conn_close(s, c);
                        return false;
                }
                c->out_off += (size_t) n;
                c->deadline_ms = now_mono_ms() + WRITE_TIMEOUT_MS;
        }
        if (c->out_off == c->out.len) {
                c->out.len = c->out_off = 0;
                if (c->out.cap > 64 * 1024)
                        buffer_free(&c->out);
        }
        return true;
}

/* The reply is out: keep the connection for the next request, or close it after a lingering drain. */
static void conn_reply_done(HttpServer *s, Conn *c)
{
        int64_t now = now_mono_ms();

        if (c->req) {
                http_request_finished(c->req, false);
                http_request_free(c->req);
                c->req = NULL;
        }
        if (!c->keep_alive || c->close_after) {
                /*
                 * Closing with unread input makes the kernel send a reset, which
                 * can destroy the reply before the client read it (a refused big
                 * body): shut the write side and drain for a moment instead.
                 * Over TLS a close_notify goes first; the drain needs no TLS.
                 */
                http_tls_close(c->ssl);
                c->ssl = NULL;
                shutdown(c->fd, SHUT_WR);
                c->state = CONN_LINGER;
                c->deadline_ms = now + LINGER_MS;
                lru_touch(s, c);
                conn_set_events(s, c, EPOLLIN | EPOLLRDHUP);
                return;
        }
        c->state = CONN_HEAD;
        c->scan = (HttpHeadScanner){0};
        c->deadline_ms = now + (c->in_len > 0 ? HEAD_TIMEOUT_MS : IDLE_TIMEOUT_MS);
        lru_touch(s, c);
        conn_set_events(s, c, EPOLLIN | EPOLLRDHUP);
        /*
         * A pipelined request is waiting in the buffer.  After a probe answered
         * on the loop, the conn_read_ready() that parsed it is still on the
         * stack and takes the next one in its own loop: no recursion.
         */
        if ((c->in_len > 0 || http_tls_pending(c->ssl)) && !s->inline_active)
                conn_read_ready(s, c);
}

/* After a flush: what comes next for a connection that is sending. */
static void conn_after_flush(HttpServer *s, Conn *c)
{
        if (c->out.len > 0) {
                conn_set_events(s, c,
                                (c->state == CONN_STREAM ? EPOLLRDHUP : 0) |
                                        (c->tls_want ? c->tls_want : EPOLLOUT));
                return;
        }
        if (c->state == CONN_WRITE)
                conn_reply_done(s, c);
        else if (c->state == CONN_STREAM)
                conn_stream_pump(s, c);
}

static void out_printf(Buffer *b, const char *fmt, ...) _printf_(2, 3);
static void out_printf(Buffer *b, const char *fmt, ...)
{
        char line[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        buffer_appends(b, line);
}

static void stream_end(HttpServer *s, Request *req)
{
        if (req->stream_free)
                req->stream_free(req->stream_ctx);
        req->stream_read = NULL;
        req->stream_free = NULL;
        req->stream_ctx = NULL;
        atomic_fetch_sub(&s->site.streams, 1);
}

/* Frames the handler's reply into c->out and starts sending it. */
static void conn_send_reply(HttpServer *s, Conn *c)
{
        Request *req = c->req;
        unsigned status = req->status;
        bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
        bool stream = req->stream_read != NULL;

        date_refresh(s);
        if (s->stopping)
                c->keep_alive = false;
        out_printf(&c->out, "HTTP/1.%d %u %s\r\nDate: %s\r\n", req->head_ok ? req->head.version_minor : 1,
                   status, http_status_reason(status), s->date);
        buffer_append(&c->out, req->headers.data ? req->headers.data : "", req->headers.len);
        c->chunked = false;
        if (stream && !no_body) {
                /* HTTP/1.0 has no chunks: the end of the body is the end of the connection. */
                if (req->head_ok && req->head.version_minor == 0)
                        c->keep_alive = false;
                else {
                        c->chunked = true;
                        buffer_appends(&c->out, "Transfer-Encoding: chunked\r\n");
                }
        } else if (!no_body)
                out_printf(&c->out, "Content-Length: %zu\r\n", req->body_len);
        if (!c->keep_alive)
                buffer_appends(&c->out, "Connection: close\r\n");
        else if (req->head.version_minor == 0)
                buffer_appends(&c->out, "Connection: keep-alive\r\n");
        buffer_append(&c->out, "\r\n", 2);
        if (!c->head_only && !no_body && !stream && req->body_len > 0)
                buffer_append(&c->out, req->body, req->body_len);

        c->deadline_ms = now_mono_ms() + WRITE_TIMEOUT_MS;
        if (stream && !(c->head_only || no_body)) {
                c->state = CONN_STREAM;
                c->stream_next_ms = 0;
                lru_remove(s, c); /* streams are capped on their own; a flood must not evict a follower */
        } else {
                if (stream)
                        stream_end(s, req);
                c->state = CONN_WRITE;
                lru_touch(s, c);
        }
        if (conn_flush(s, c))
                conn_after_flush(s, c);
}

/* Reads the stream once (it must not block) and sends what it gave. */
static void conn_stream_pump(HttpServer *s, Conn *c)
{
        Request *req = c->req;
        char buf[STREAM_CHUNK];
        ssize_t n;

        if (c->out.len > 0)
                return;
        n = s->stopping ? -1 : req->stream_read(req->stream_ctx, buf, sizeof(buf));
        if (n == 0) {
                /* Nothing now: the sweep calls again; meanwhile only a hang-up interests us. */
                c->stream_next_ms = now_mono_ms() + STREAM_POLL_MS;
                conn_set_events(s, c, EPOLLRDHUP);
                return;
        }
        if (n == HTTP_STREAM_ABORT) {
                /* No last chunk (or, unchunked, a short body): the client sees the reply is incomplete. */
                stream_end(s, req);
                c->keep_alive = false;
                conn_close(s, c);
                return;
        }
        if (n < 0) {
                stream_end(s, req);
                if (c->chunked)
                        buffer_appends(&c->out, "0\r\n\r\n");
                c->state = CONN_WRITE;
                lru_touch(s, c);
        } else if (c->chunked) {
                out_printf(&c->out, "%zx\r\n", (size_t) n);
                buffer_append(&c->out, buf, (size_t) n);
                buffer_append(&c->out, "\r\n", 2);
        } else
                buffer_append(&c->out, buf, (size_t) n);
        c->deadline_ms = now_mono_ms() + WRITE_TIMEOUT_MS;
        if (!conn_flush(s, c))
                return;
        if (c->state == CONN_STREAM) {
                /* Come back when the socket takes more, so that one stream cannot hog the loop. */
                conn_set_events(s, c, EPOLLRDHUP | EPOLLOUT);
                return;
        }
        conn_after_flush(s, c);
}

/* ---- receiving ---------------------------------------------------------- */

/* A new request on connection c, which holds it (c->req) until the reply is sent. */
static Request *conn_request_new(HttpServer *s, Conn *c)
{
        Request *req = xcalloc(1, sizeof(Request));

        req->server = s;
        req->site = &s->site;
        req->conn = c;
        c->req = req;
        return req;
}

/* Answers a request the loop refused itself (a bad head, a timeout) and closes after it. */
static void conn_refuse(HttpServer *s, Conn *c, const HttpParseError *err)
{
        Request *req = c->req;

        if (!req) {
                req = conn_request_new(s, c);
                http_request_prepare(req);
        }
        http_request_refuse(req, err);
        c->keep_alive = false;
        c->close_after = true;
        c->head_only = req->head_ok && streq(req->head.method, "HEAD");
        conn_send_reply(s, c);
}

/* The route of method and path that takes a body (Route.max_body), or NULL. */
static const Route *route_with_body(HttpServer *s, const char *method, const char *path)
{
        for (size_t i = 0; i < s->site.n_routes; i++)
                if (s->site.routes[i].max_body && streq(s->site.routes[i].method, method) &&
                    streq(s->site.routes[i].path, path))
                        return &s->site.routes[i];
        return NULL;
}

/* An unlinked file for a request body, under the state directory (big bodies stay off tmpfs). */
static int spool_open(HttpServer *s)
{
        const Daemon *d = s->site.daemon;
        const char *dir = d && d->config && !isempty(d->config->state_dir) ? d->config->state_dir : "/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

        if (fd < 0) {
                _cleanup_free_ char *path = xasprintf("%s/.pgseed-body-XXXXXX", dir);
                fd = mkostemp(path, O_CLOEXEC);
                if (fd >= 0)
                        unlink(path);
        }
        return fd;
}

static bool route_is_open(HttpServer *s, const char *path)
{
        for (size_t i = 0; i < s->site.n_routes; i++)
                if (s->site.routes[i].auth == ROUTE_AUTH_OPEN && streq(s->site.routes[i].path, path))
                        return true;
        return false;
}

static bool route_is_probe(HttpServer *s, const Request *req)
{
        if (!req->head_ok || !req->path || !(streq(req->head.method, "GET") || streq(req->head.method, "HEAD")))
                return false;
        for (size_t i = 0; i < s->site.n_routes; i++)
                if (s->site.routes[i].probe && streq(s->site.routes[i].path, req->path))
                        return true;
        return false;
}

/* A complete request: a probe is answered here and now, anything else goes to a worker. */
static void conn_start_request(HttpServer *s, Conn *c)
{
        Request *req = c->req;

        c->state = CONN_BUSY;
        lru_remove(s, c);
        /*
         * Two thread hand-offs per request (to a worker and back) cost more
         * than building a probe's reply from memory: on two cores they halved
         * /health's throughput next to a static file server.  A probe never
         * blocks or suspends (Route.probe), so the loop can run it.
         */
        if (s->inline_budget > 0 && route_is_probe(s, req)) {
                s->inline_budget--;
                http_request_run(req);
                if (!req->replied) {
                        /* Only a route that breaks the probe contract (it suspended) gets here. */
                        req->suspend_asked = false;
                        http_reply_error(req, 500, "internal", NULL, "The probe %s suspended", req->path);
                }
                s->inline_active = true;
                conn_send_reply(s, c);
                s->inline_active = false;
                return;
        }
        /* Only a hang-up matters now; pipelined bytes wait in the kernel until the reply is out. */
        conn_set_events(s, c, EPOLLRDHUP);
        pthread_mutex_lock(&s->lock);
        s->busy++;
        if (route_is_open(s, req->path ? req->path : "")) {
                queue_push(&s->fast_head, &s->fast_tail, req);
                if (s->idle_fast)
                        pthread_cond_signal(&s->fast_cond);
                else if (s->idle_workers)
                        pthread_cond_signal(&s->work_cond);
        } else {
                queue_push(&s->job_head, &s->job_tail, req);
                if (s->idle_workers)
                        pthread_cond_signal(&s->work_cond);
        }
        pthread_mutex_unlock(&s->lock);
}

/* Drops n bytes from the front of the input buffer. */
static void in_consume(Conn *c, size_t n)
{
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
        if (c->in_len == 0) {
                /* An idle connection keeps no buffer. */
                free(c->in);
                c->in = NULL;
                c->in_cap = 0;
        }
}

/* Parses what is buffered: a complete head becomes a request. */
static void conn_parse(HttpServer *s, Conn *c)
{
        HttpParseError err = {0};
        Request *req;
        int r;

        if (c->state == CONN_BODY) {
                size_t n = c->body_left < c->in_len ? (size_t) c->body_left : c->in_len;
                if (c->req->body_spooled && n > 0) {
                        for (size_t done = 0; done < n;) {
                                ssize_t w = write(c->req->body_fd, c->in + done, n - done);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w < 0) {
                                        HttpParseError werr = {.status = 507, .code = "body_not_stored"};
                                        snprintf(werr.message, sizeof(werr.message),
                                                 "Cannot store the request body: %s", strerror(errno));
                                        werr.hint = "Free disk space under the state directory.";
                                        conn_refuse(s, c, &werr);
                                        return;
                                }
                                done += (size_t) w;
                        }
                        /* A slow upload is fine as long as it moves. */
                        c->deadline_ms = now_mono_ms() + HEAD_TIMEOUT_MS;
                }
                if (n > 0)
                        in_consume(c, n);
                c->body_left -= n;
                if (c->body_left == 0)
                        conn_start_request(s, c);
                return;
        }
        if (c->state != CONN_HEAD || c->in_len == 0)
                return;
        r = http_head_scan(&c->scan, c->in, c->in_len, &err);
        if (r < 0) {
                conn_refuse(s, c, &err);
                return;
        }
        if (r == 0)
                return;

        req = conn_request_new(s, c);
        req->head_buf = xmalloc((size_t) r + 1);
        memcpy(req->head_buf, c->in, (size_t) r);
        req->head_buf[r] = '\0';
        in_consume(c, (size_t) r);
        if (http_head_parse_limit(req->head_buf, (size_t) r, &req->head, &err, HTTP_MAX_UPLOAD) < 0) {
                /* The method and version may still be readable for the log and the reply. */
                http_request_prepare(req);
                conn_refuse(s, c, &err);
                return;
        }
        req->head_ok = true;
        http_request_prepare(req);
        if (req->head.query) {
                int n = http_query_parse(req->head.query, strlen(req->head.query), &req->params, &err);
                if (n < 0) {
                        conn_refuse(s, c, &err);
                        return;
                }
                req->n_params = (size_t) n;
        }
        c->keep_alive = req->head.keep_alive;
        c->head_only = streq(req->head.method, "HEAD");
        c->close_after = false;
        c->body_left = req->head.content_length;
        if (c->body_left > 0) {
                const Route *body_route = route_with_body(s, req->head.method, req->path ? req->path : "");
                uint64_t max = body_route ? body_route->max_body : 0;

                if (body_route && !http_request_upload_allowed(req, body_route)) {
                        err = (HttpParseError){.status = req->access.status,
                                               .code = req->access.code,
                                               .hint = req->access.hint};
                        strlcpy0(err.message, req->access.message, sizeof(err.message));
                        conn_refuse(s, c, &err);
                        return;
                }

                if (c->body_left > (max ? max : HTTP_MAX_BODY)) {
                        err = (HttpParseError){.status = 413, .code = "body_too_large"};
                        err.hint = max ? "That endpoint takes a smaller body."
                                       : "Pass parameters in the query string.";
                        snprintf(err.message, sizeof(err.message), "Request body of %llu bytes refused; %s",
                                 (unsigned long long) c->body_left,
                                 max ? "more than the endpoint takes" : "no endpoint takes a body");
                        conn_refuse(s, c, &err);
                        return;
                }
                if (max) {
                        req->body_fd = spool_open(s);
                        if (req->body_fd < 0) {
                                err = (HttpParseError){.status = 507, .code = "body_not_stored"};
                                snprintf(err.message, sizeof(err.message),
                                         "Cannot store the request body: %s", strerror(errno));
                                conn_refuse(s, c, &err);
                                return;
                        }
                        req->body_spooled = true;
                }
                /* Other routes take no body: read it (at most HTTP_MAX_BODY) and drop it. */
                c->state = CONN_BODY;
                c->deadline_ms = now_mono_ms() + HEAD_TIMEOUT_MS;
                if (req->head.expect_continue && req->head.version_minor == 1) {
                        buffer_appends(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                        if (!conn_flush(s, c))
                                return;
                }
                conn_parse(s, c);
                return;
        }
        conn_start_request(s, c);
}

/*
 * HTTPS, the connection's first byte: a TLS handshake gets its SSL, plain
 * HTTP a 400 in plain text (as nginx does) and a close.  Returns true when the
 * caller should read on, false when there is nothing to read yet or the
 * connection was answered or closed.
 */
static bool conn_tls_start(HttpServer *s, Conn *c)
{
        unsigned char first;
        ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return false;
        if (n <= 0) {
                conn_close(s, c);
                return false;
        }
        c->tls_sniffed = true;
        if (first != 0x16) {
                /* No TLS record starts otherwise; a request line starts with a letter. */
                HttpParseError err = {
                        .status = 400,
                        .code = "https_required",
                        .hint = "Use an https:// URL for this port (pgseedctl: PGSEED_URL=https://..., "
                                "curl --cacert CA.crt https://...)."};
                strlcpy0(err.message, "This port serves the API over HTTPS; the request came in plain HTTP",
                         sizeof(err.message));
                conn_refuse(s, c, &err);
                return false;
        }
        c->ssl = http_tls_accept(s->tls, c->fd);
        if (!c->ssl) {
                conn_close(s, c);
                return false;
        }
        return true;
}

/* Nothing more to read for now: wait for the socket, and give an empty buffer back. */
static void conn_wait_for_bytes(HttpServer *s, Conn *c)
{
        /* TLS: the handshake may need to write before it reads on. */
        conn_set_events(s, c, (c->tls_want == EPOLLOUT ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP);
        if (c->in_len == 0) {
                free(c->in);
                c->in = NULL;
                c->in_cap = 0;
        }
}

/* Readable (or a hang-up) in a reading state. */
static void conn_read_ready(HttpServer *s, Conn *c)
{
        for (;;) {
                char *buf;
                size_t room;
                ssize_t n;

                if (c->state == CONN_LINGER) {
                        char drain[4096];
                        n = recv(c->fd, drain, sizeof(drain), 0);
                        if (n > 0)
                                continue;
                        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                                return;
                        conn_close(s, c);
                        return;
                }
                if (c->state != CONN_HEAD && c->state != CONN_BODY)
                        return;
                if (s->tls && !c->tls_sniffed) {
                        if (!conn_tls_start(s, c))
                                return;
                        continue;
                }
                /*
                 * Parse before reading more: the buffer may hold pipelined
                 * requests already (all of them, when probes are answered here
                 * and the socket has nothing more to read).  A pass that takes
                 * nothing waits for more bytes.
                 */
                while (c->in_len > 0) {
                        size_t before = c->in_len;
                        conn_parse(s, c);
                        if (c->fd < 0 || (c->state != CONN_HEAD && c->state != CONN_BODY))
                                return;
                        if (c->in_len == before)
                                break;
                }
                /* Small at first (most heads are a few hundred bytes), up to what a head may take. */
                if (c->in_cap - c->in_len < READ_CHUNK / 2 && c->in_cap < HTTP_MAX_HEAD + READ_CHUNK) {
                        c->in_cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK / 2;
                        if (c->in_cap > HTTP_MAX_HEAD + READ_CHUNK)
                                c->in_cap = HTTP_MAX_HEAD + READ_CHUNK;
                        c->in = xrealloc(c->in, c->in_cap);
                }
                room = c->in_cap - c->in_len;
                buf = c->in + c->in_len;
                n = conn_recv(c, buf, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        conn_wait_for_bytes(s, c);
                        return;
                }
                if (n <= 0) {
                        /* The client closed (or broke) the connection; a partial head gets no reply. */
                        conn_close(s, c);
                        return;
                }
                if (c->in_len == 0 && c->state == CONN_HEAD && c->scan.pos == 0 && c->deadline_ms > 0) {
                        /* The first byte of a request: from now on the head has HEAD_TIMEOUT_MS. */
                        int64_t head_deadline = now_mono_ms() + HEAD_TIMEOUT_MS;
                        if (head_deadline < c->deadline_ms)
                                c->deadline_ms = head_deadline;
                }
                c->in_len += (size_t) n;
                conn_parse(s, c);
                if (c->fd < 0 || (c->state != CONN_HEAD && c->state != CONN_BODY))
                        return;
                /*
                 * A plain read that did not fill the room took all the socket
                 * had: the epoll interest is level-triggered, so the next bytes
                 * wake us anyway, and a recv() now would only say EAGAIN (about one
                 * syscall in four on a keep-alive probe flood).  TLS may hold
                 * decrypted bytes of its own, so it reads on.
                 */
                if (!c->ssl && (size_t) n < room && c->in_len == 0) {
                        conn_wait_for_bytes(s, c);
                        return;
                }
        }
}

/* ---- accepting ---------------------------------------------------------- */

/* Closes the oldest connection that waits on its client (from ip when given); false when there is none. */
static bool evict_one(HttpServer *s, const IpSlot *ip)
{
        for (Conn *c = s->lru_head; c; c = c->lru_next) {
                if (ip && c->ip != ip)
                        continue;
                if (c->state == CONN_STREAM || c->state == CONN_BUSY)
                        continue;
                log_debug("http", "Connection limit reached: closing the longest-waiting connection");
                conn_close(s, c);
                return true;
        }
        return false;
}

static void refuse_connection(int fd)
{
        static const char body[] = "{\"error\": {\"code\": \"too_many_connections\", \"message\": \"Every "
                                   "connection slot has a request in progress\", \"hint\": \"Retry in a "
                                   "moment.\"}}\n";
        char reply[512];
        int n = snprintf(
                reply, sizeof(reply),
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                sizeof(body) - 1, body);

        /* Best effort: a fresh socket's buffer takes it, and nothing waits for it. */
        (void) !send(fd, reply, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
}

static void accept_ready(HttpServer *s)
{
        for (int i = 0; i < 64 && s->listen_fd >= 0; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                unsigned char key[16];
                struct epoll_event ev;
                IpSlot *ip;
                Conn *c;
                int one = 1;
                int fd = accept4(s->listen_fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                /* Out of descriptors: make room rather than spin on the listener. */
                                if (!evict_one(s, NULL))
                                        return;
                                continue;
                        }
                        return;
                }
                addr_key(&ss, key);
                ip = ip_get(s, key);
                /* Counted first, so that an eviction below cannot free the slot. */
                ip->count++;
                /*
                 * The per-address cap evicts from that address only; when all its
                 * connections have requests in progress it yields to the global
                 * cap, so that a well-behaved local client still gets in.
                 */
                if (ip->count > MAX_PER_IP)
                        (void) evict_one(s, ip);
                if (s->n_conns >= s->max_connections && !evict_one(s, NULL)) {
                        ip_put(s, ip);
                        /* A TLS client could not read a plain-text 503: it gets the close alone. */
                        if (s->tls)
                                close(fd);
                        else
                                refuse_connection(fd);
                        continue;
                }
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = xcalloc(1, sizeof(Conn));
                c->fd = fd;
                c->ip = ip;
                c->state = CONN_HEAD;
                c->deadline_ms = now_mono_ms() + HEAD_TIMEOUT_MS;
                c->keep_alive = true;
                c->next = s->conns;
                if (s->conns)
                        s->conns->prev = c;
                s->conns = c;
                s->n_conns++;
                lru_touch(s, c);
                c->events = EPOLLIN | EPOLLRDHUP;
                ev = (struct epoll_event){.events = c->events, .data.ptr = c};
                if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        conn_close(s, c);
        }
}

/* ---- the loop ----------------------------------------------------------- */

static void conn_event(HttpServer *s, Conn *c, uint32_t events)
{
        if (c->fd < 0)
                return;
        switch (c->state) {
        case CONN_HEAD:
        case CONN_BODY:
        case CONN_LINGER:
                conn_read_ready(s, c);
                break;
        case CONN_BUSY:
                /* The client left while its handler runs (or waits): drop the socket now, the reply later.
                 */
                if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        conn_close(s, c);
                break;
        case CONN_WRITE:
        case CONN_STREAM:
                if ((events & (EPOLLHUP | EPOLLERR)) || (c->state == CONN_STREAM && (events & EPOLLRDHUP))) {
                        conn_close(s, c);
                        break;
                }
                /* EPOLLIN only when a TLS write waits to read (conn_after_flush() asked for it). */
                if ((events & (EPOLLOUT | EPOLLIN)) && conn_flush(s, c))
                        conn_after_flush(s, c);
                break;
        }
}

/* What the workers and request_resume() sent: replies to frame, parked requests to run again. */
static void messages_ready(HttpServer *s)
{
        uint64_t v;
        Request *head;

        (void) !read(s->wake_fd, &v, sizeof(v));
        pthread_mutex_lock(&s->lock);
        head = s->msg_head;
        s->msg_head = s->msg_tail = NULL;
        pthread_mutex_unlock(&s->lock);

        while (head) {
                Request *req = head;
                Conn *c = req->conn;
                head = req->qnext;
                req->qnext = NULL;

                if (req->resumed && !req->replied) {
                        /* A resume: run the handler again, unless the client is gone. */
                        if (c->gone) {
                                pthread_mutex_lock(&s->lock);
                                s->busy--;
                                pthread_cond_broadcast(&s->done_cond);
                                pthread_mutex_unlock(&s->lock);
                                c->req = NULL;
                                http_request_finished(req, true);
                                http_request_free(req);
                                conn_free(s, c);
                                continue;
                        }
                        pthread_mutex_lock(&s->lock);
                        queue_push(&s->job_head, &s->job_tail, req);
                        pthread_cond_signal(&s->work_cond);
                        pthread_mutex_unlock(&s->lock);
                        continue;
                }
                pthread_mutex_lock(&s->lock);
                s->busy--;
                pthread_cond_broadcast(&s->done_cond);
                pthread_mutex_unlock(&s->lock);
                if (c->gone) {
                        c->req = NULL;
                        if (req->stream_read)
                                stream_end(s, req);
                        http_request_finished(req, true);
                        http_request_free(req);
                        conn_free(s, c);
                        continue;
                }
                conn_send_reply(s, c);
        }
}

/* Every SWEEP_MS: deadlines and stream polls. */
static void sweep(HttpServer *s, int64_t now)
{
        Conn *next;

        for (Conn *c = s->conns; c; c = next) {
                next = c->next;
                if (c->fd < 0)
                        continue;
                if (c->state == CONN_STREAM && c->out.len == 0) {
                        if (now >= c->stream_next_ms || s->stopping)
                                conn_stream_pump(s, c);
                        continue;
                }
                if (c->state == CONN_BUSY || now < c->deadline_ms)
                        continue;
                if ((c->state == CONN_HEAD && (c->in_len > 0 || c->scan.pos > 0)) || c->state == CONN_BODY) {
                        HttpParseError err = {.status = 408, .code = "request_timeout"};
                        strlcpy0(err.message, "The request did not arrive in time", sizeof(err.message));
                        c->state = CONN_HEAD;
                        conn_refuse(s, c, &err);
                        continue;
                }
                conn_close(s, c);
        }
}

static void *loop_main(void *userdata)
{
        HttpServer *s = userdata;
        struct epoll_event events[256];
        int64_t stop_deadline = 0;

        for (;;) {
                int n = epoll_wait(s->epoll_fd, events, ELEMENTSOF(events), SWEEP_MS);
                int64_t now = now_mono_ms();
                bool stopping;

                for (int i = 0; i < n; i++) {
                        void *p = events[i].data.ptr;
                        s->inline_budget = INLINE_BUDGET;
                        if (p == &s->listen_fd)
                                accept_ready(s);
                        else if (p == &s->wake_fd)
                                messages_ready(s);
                        else
                                conn_event(s, p, events[i].events);
                }
                if (n < 0 && errno != EINTR)
                        break;
                /*
                 * Give the core up after a batch with work in it. The loop is ready again as
                 * soon as its clients send, so on a machine whose clients share its cores (a
                 * probe loop, wrk, a dashboard's browser) it would otherwise run until the
                 * scheduler takes its slice (milliseconds), while a client thread holding a
                 * reply waits queued behind it: that wait is the probe's p99. With nothing
                 * else ready on this core, sched_yield() returns at once (~0.2 us).
                 */
                if (n > 0)
                        sched_yield();
                if (now - s->last_sweep_ms >= SWEEP_MS) {
                        s->last_sweep_ms = now;
                        sweep(s, now);
                }
                graveyard_empty(s);

                stopping = atomic_load(&s->stopping);
                if (!stopping)
                        continue;
                if (s->listen_fd >= 0) {
                        /* The port must be free when http_server_stop() returns (a restart binds it). */
                        close(s->listen_fd);
                        s->listen_fd = -1;
                        stop_deadline = now + STOP_TIMEOUT_MS;
                        /* Idle connections go now; replies in progress may finish. */
                        for (Conn *c = s->conns, *next; c; c = next) {
                                next = c->next;
                                if (c->fd >= 0 && (c->state == CONN_HEAD || c->state == CONN_LINGER))
                                        conn_close(s, c);
                        }
                }
                bool pending = false;
                for (Conn *c = s->conns; c && !pending; c = c->next)
                        pending = c->state == CONN_BUSY || c->state == CONN_WRITE ||
                                  c->state == CONN_STREAM || c->state == CONN_BODY;
                if (!pending || now >= stop_deadline)
                        break;
        }
        return NULL;
}

/* ---- workers ------------------------------------------------------------ */

typedef struct WorkerArg {
        HttpServer *server;
        bool fast_only;
} WorkerArg;

static void *worker_main(void *userdata)
{
        WorkerArg *a = userdata;
        HttpServer *s = a->server;
        bool fast_only = a->fast_only;

        free(a);
        pthread_mutex_lock(&s->lock);
        for (;;) {
                Request *req = queue_pop(&s->fast_head, &s->fast_tail);
                if (!req && !fast_only)
                        req = queue_pop(&s->job_head, &s->job_tail);
                if (!req) {
                        if (s->quit_workers)
                                break;
                        unsigned *idle = fast_only ? &s->idle_fast : &s->idle_workers;
                        (*idle)++;
                        pthread_cond_wait(fast_only ? &s->fast_cond : &s->work_cond, &s->lock);
                        (*idle)--;
                        continue;
                }
                pthread_mutex_unlock(&s->lock);

                http_request_run(req);

                pthread_mutex_lock(&s->lock);
                if (req->suspend_asked && !req->replied) {
                        req->suspend_asked = false;
                        if (req->resume_pending) {
                                /* Resumed before the handler even returned. */
                                req->resume_pending = false;
                                req->resumed = true;
                                loop_post(s, req);
                        } else {
                                req->parked = true;
                                s->parked++;
                        }
                } else {
                        req->suspend_asked = false;
                        loop_post(s, req);
                }
        }
        s->running_workers--;
        pthread_cond_broadcast(&s->done_cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* ---- suspend/resume ----------------------------------------------------- */

void request_suspend(Request *req)
{
        HttpServer *s = req->server;

        pthread_mutex_lock(&s->lock);
        req->suspend_asked = true;
        pthread_mutex_unlock(&s->lock);
}

void request_resume(Request *req)
{
        HttpServer *s = req->server;

        pthread_mutex_lock(&s->lock);
        if (!req->parked) {
                /* Still inside the handler that suspends it: the worker requeues it on return. */
                req->resume_pending = true;
                pthread_mutex_unlock(&s->lock);
                return;
        }
        req->parked = false;
        s->parked--;
        req->resumed = true;
        if (s->dead) {
                /* The server gave up on it at stop: nobody will send the reply. */
                s->busy--;
                pthread_mutex_unlock(&s->lock);
                http_request_free(req);
                return;
        }
        loop_post(s, req);
        pthread_cond_broadcast(&s->done_cond);
        pthread_mutex_unlock(&s->lock);
}

/* ---- start and stop ----------------------------------------------------- */

int http_server_start(Daemon *d, const Route *routes, size_t n_routes, int fd, HttpServer **ret, Error *e)
{
        HttpServer *s = xcalloc(1, sizeof(HttpServer));
        struct epoll_event ev;
        pthread_condattr_t ca;
        unsigned nofile = raise_nofile();
        int flags, r;

        s->site.daemon = d;
        s->site.routes = routes;
        s->site.n_routes = n_routes;
        s->site.max_streams = MAX_STREAMS;
        s->tls = d ? d->api_tls : NULL;
        s->listen_fd = fd;
        s->epoll_fd = s->wake_fd = -1;
        s->site.id_salt = (uint64_t) now_real_ms() * 2654435761u ^ (uint64_t) getpid();
        /* Leave descriptors for Postgres connections, log files and the Docker client. */
        s->max_connections = nofile > MAX_CONNECTIONS + 256 ? MAX_CONNECTIONS
                             : nofile > 512                 ? nofile - 256
                                                            : 256;
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->work_cond, &ca);
        pthread_cond_init(&s->fast_cond, &ca);
        pthread_cond_init(&s->done_cond, &ca);
        pthread_condattr_destroy(&ca);

        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                goto fail_errno;
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->epoll_fd < 0 || s->wake_fd < 0)
                goto fail_errno;
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &s->listen_fd};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                goto fail_errno;
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &s->wake_fd};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0)
                goto fail_errno;

        for (int i = 0; i < N_WORKERS; i++) {
                WorkerArg *a = xcalloc(1, sizeof(WorkerArg));
                a->server = s;
                a->fast_only = i == 0;
                r = pthread_create(&s->workers[i], NULL, worker_main, a);
                if (r != 0) {
                        free(a);
                        errno = r;
                        goto fail_errno;
                }
                s->running_workers++;
        }
        r = pthread_create(&s->loop_thread, NULL, loop_main, s);
        if (r != 0) {
                errno = r;
                goto fail_errno;
        }
        *ret = s;
        return 0;

fail_errno:
        r = errno;
        pthread_mutex_lock(&s->lock);
        s->quit_workers = true;
        pthread_cond_broadcast(&s->work_cond);
        pthread_cond_broadcast(&s->fast_cond);
        pthread_mutex_unlock(&s->lock);
        for (unsigned i = 0; i < s->running_workers; i++)
                pthread_join(s->workers[i], NULL);
        if (s->epoll_fd >= 0)
                close(s->epoll_fd);
        if (s->wake_fd >= 0)
                close(s->wake_fd);
        free(s);
        return error_set(e, r, NULL, NULL, "Cannot start serving the API: %s", strerror(r));
}

void http_server_stop(HttpServer *s)
{
        struct timespec until;
        bool clean;

        if (!s)
                return;
        atomic_store(&s->stopping, true);
        wake_loop(s);
        pthread_join(s->loop_thread, NULL);
        if (s->listen_fd >= 0)
                close(s->listen_fd);

        /* Handlers still running (a reset) or parked get until the deadline to finish; nobody sends
         * their reply any more. */
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += STOP_TIMEOUT_MS / 1000;
        pthread_mutex_lock(&s->lock);
        s->quit_workers = true;
        pthread_cond_broadcast(&s->work_cond);
        pthread_cond_broadcast(&s->fast_cond);
        while ((s->running_workers > 0 || s->parked > 0) &&
               pthread_cond_timedwait(&s->done_cond, &s->lock, &until) != ETIMEDOUT)
                ;
        clean = s->running_workers == 0 && s->parked == 0;
        s->dead = true;
        pthread_mutex_unlock(&s->lock);

        if (!clean) {
                /*
                 * A handler is stuck (or a parked request was never resumed):
                 * freeing would pull the server from under it.  The process is
                 * about to exit; leave it.
                 */
                log_warning("http", "Stopping the API: a handler did not finish within %d s, leaving it",
                            STOP_TIMEOUT_MS / 1000);
                for (int i = 0; i < N_WORKERS; i++)
                        pthread_detach(s->workers[i]);
                return;
        }
        for (int i = 0; i < N_WORKERS; i++)
                pthread_join(s->workers[i], NULL);
        /*
         * Every connection left, with its request: the workers drained their
         * queues before they quit, so each request still around is its
         * connection's (in the loop's queue, or never picked up by the loop).
         */
        while (s->conns) {
                Conn *c = s->conns;
                c->state = CONN_WRITE;
                conn_close(s, c);
        }
        graveyard_empty(s);
        for (size_t i = 0; i < IP_BUCKETS; i++)
                while (s->ips[i]) {
                        IpSlot *p = s->ips[i];
                        s->ips[i] = p->next;
                        free(p);
                }
        close(s->epoll_fd);
        close(s->wake_fd);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work_cond);
        pthread_cond_destroy(&s->fast_cond);
        pthread_cond_destroy(&s->done_cond);
        free(s);
}
