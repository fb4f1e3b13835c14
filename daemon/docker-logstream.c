/* SPDX-License-Identifier: MIT */
/* docker-logstream.c -- a container's logs as a stream of lines, read by a thread of its own with back-pressure. */

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "docker-client.h"
#include "docker-logstream.h"

/* How much a log stream's thread reads ahead of its reader before it stops reading. */
#define QUEUE_MAX (4u * 1024 * 1024)

typedef struct LogItem {
        struct LogItem *next;
        const char *stream;
        char ts[40];
        int64_t ts_ms;
        size_t len;
        char text[];
} LogItem;

struct DockerLogStream {
        DockerCall call;
        DockerEndpoint ep; /* the client's, copied: the reader thread needs no lock for it */
        CURLM *multi;
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t cond;  /* signalled on every change: a line, the status, the end, stop, room */
        LogItem *head, *tail;
        size_t queued;
        bool got_status; /* the engine's response headers arrived */
        bool done;       /* the transfer ended; err says how */
        bool stop;       /* the reader closes the stream */
        int errnum;      /* negative errno of a failed transfer, 0 when it ended well */
        Error err;
        DockerLogDecoder *decoder;

        LogItem *current; /* the reader's last line, freed on the next read */
};

/* Called by the decoder with the lock held. */
static void stream_enqueue(const DockerLogLine *line, void *userdata)
{
        DockerLogStream *s = userdata;
        size_t n = strlen(line->text);
        LogItem *it = xmalloc(sizeof(LogItem) + n + 1);

        it->next = NULL;
        it->stream = line->stream;
        memcpy(it->ts, line->ts, sizeof(it->ts));
        it->ts_ms = line->ts_ms;
        it->len = n;
        memcpy(it->text, line->text, n + 1);
        if (s->tail)
                s->tail->next = it;
        else
                s->head = it;
        s->tail = it;
        s->queued += sizeof(LogItem) + n;
        pthread_cond_broadcast(&s->cond);
}

/* The timed wait of this file: absolute CLOCK_MONOTONIC deadlines, as the condition variables use. */
static int cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_ms)
{
        struct timespec ts;

        if (deadline_ms < 0)
                return pthread_cond_wait(cond, lock);
        ts.tv_sec = (time_t) (deadline_ms / 1000);
        ts.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
        return pthread_cond_timedwait(cond, lock, &ts);
}

static bool stream_sink(DockerCall *call, const char *p, size_t n)
{
        DockerLogStream *s = call->userdata;
        bool ok;

        pthread_mutex_lock(&s->lock);
        /* Back-pressure: a lagging reader pauses the transfer (and the engine) rather than grow the queue.
         */
        while (s->queued > QUEUE_MAX && !s->stop)
                pthread_cond_wait(&s->cond, &s->lock);
        ok = !s->stop && docker_log_decoder_feed(s->decoder, p, n) >= 0;
        if (!ok && !s->stop && !s->errnum)
                s->errnum = error_set(&s->err, EBADMSG, "docker_error", NULL,
                                      "The Docker engine's log stream is corrupt (bad frame header)");
        pthread_mutex_unlock(&s->lock);
        return ok;
}

static size_t stream_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        DockerLogStream *s = userdata;
        size_t n = size * nmemb;
        long status = 0;

        /* The empty line ends the headers; a 1xx answer is followed by the real one. */
        if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
                (void) curl_easy_getinfo(s->call.h, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 200) {
                        pthread_mutex_lock(&s->lock);
                        s->call.status = status;
                        s->got_status = true;
                        pthread_cond_broadcast(&s->cond);
                        pthread_mutex_unlock(&s->lock);
                }
        }
        return n;
}

static void *stream_thread(void *userdata)
{
        DockerLogStream *s = userdata;
        CURLcode result = CURLE_OK;
        CURLMsg *msg;
        int running = 1, left;
        bool stop = false;

        while (running && !stop) {
                CURLMcode mc = curl_multi_perform(s->multi, &running);
                if (mc == CURLM_OK && running)
                        mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
                if (mc != CURLM_OK) {
                        result = CURLE_RECV_ERROR;
                        break;
                }
                pthread_mutex_lock(&s->lock);
                stop = s->stop;
                pthread_mutex_unlock(&s->lock);
        }
        while ((msg = curl_multi_info_read(s->multi, &left)))
                if (msg->msg == CURLMSG_DONE)
                        result = msg->data.result;

        pthread_mutex_lock(&s->lock);
        if (!s->stop && !s->errnum) {
                docker_log_decoder_finish(s->decoder);
                if (result != CURLE_OK)
                        s->errnum = docker_call_transport_error(&s->call, &s->ep, result, &s->err);
                else if (s->call.status != 200)
                        s->errnum = docker_call_http_error(&s->call, &s->err);
        }
        s->done = true;
        s->got_status = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

void docker_log_stream_close(DockerLogStream *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (s->thread_started) {
                /* Ends curl_multi_poll() at once rather than at its next one-second timeout. */
                curl_multi_wakeup(s->multi);
                pthread_join(s->thread, NULL);
        }
        if (s->multi) {
                curl_multi_remove_handle(s->multi, s->call.h);
                curl_multi_cleanup(s->multi);
        }
        docker_call_done(&s->call);
        while (s->head) {
                LogItem *next = s->head->next;
                free(s->head);
                s->head = next;
        }
        free(s->current);
        docker_log_decoder_free(s->decoder);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int docker_logs_open(DockerClient *c, const char *id, const DockerLogsQuery *q, DockerLogStream **ret,
                     Error *e)
{
        _cleanup_(docker_log_stream_closep) DockerLogStream *s = NULL;
        _cleanup_free_ char *path = NULL, *tail = NULL;
        pthread_condattr_t attr;
        int64_t deadline;
        int r;

        r = docker_check_name("container", id, e);
        if (r < 0)
                return r;
        tail = q->tail < 0 ? xstrdup("all") : xasprintf("%lld", (long long) q->tail);
        r = docker_client_path(c, &path, e,
                               "/containers/%s/logs?stdout=1&stderr=1&timestamps=1&follow=%d&tail=%s&since=%lld",
                               id, q->follow, tail, (long long) (q->since_s > 0 ? q->since_s : 0));
        if (r < 0)
                return r;

        s = xcalloc(1, sizeof(DockerLogStream));
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &attr);
        pthread_condattr_destroy(&attr);
        s->ep = *docker_client_endpoint(c);
        s->decoder = docker_log_decoder_new(q->tty, true, stream_enqueue, s);
        s->call.sink = stream_sink;
        s->call.userdata = s;
        /* No overall timeout: a followed stream lasts as long as the container runs. */
        docker_call_setup(&s->call, &s->ep, "GET", path, NULL, NULL, 0);
        curl_easy_setopt(s->call.h, CURLOPT_HEADERFUNCTION, stream_header);
        curl_easy_setopt(s->call.h, CURLOPT_HEADERDATA, s);
        s->multi = curl_multi_init();
        if (!s->multi)
                abort();
        curl_multi_add_handle(s->multi, s->call.h);
        r = pthread_create(&s->thread, NULL, stream_thread, s);
        if (r != 0)
                return error_set(e, r, NULL, NULL, "Cannot start the log stream's thread: %s", strerror(r));
        s->thread_started = true;

        /*
         * Wait for the status line (and, for an error, the whole short body),
         * so that "no such container" or "logging driver does not support
         * reading" is open's error rather than the first read's.
         */
        deadline = now_mono_ms() + docker_client_timeout(c);
        pthread_mutex_lock(&s->lock);
        while (!(s->done || (s->got_status && s->call.status == 200)) && now_mono_ms() < deadline)
                (void) cond_wait_until(&s->cond, &s->lock, deadline);
        if (s->got_status && s->call.status == 200 && !s->errnum)
                r = 0;
        else if (s->errnum) {
                r = s->errnum;
                if (e)
                        *e = s->err;
        } else if (!s->done)
                r = error_set(e, ETIMEDOUT, "docker_timeout", NULL,
                              "The Docker engine did not answer %s in time", s->call.what);
        else
                r = error_set(e, EIO, "docker_error", NULL, "Docker API call %s failed (HTTP %ld)",
                              s->call.what, s->call.status);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int docker_log_stream_read(DockerLogStream *s, DockerLogLine *ret, int timeout_ms, Error *e)
{
        int64_t deadline = timeout_ms < 0 ? -1 : now_mono_ms() + timeout_ms;
        int r;

        pthread_mutex_lock(&s->lock);
        free(s->current);
        s->current = NULL;
        while (!s->head && !s->done) {
                if (timeout_ms == 0 || cond_wait_until(&s->cond, &s->lock, deadline) == ETIMEDOUT) {
                        if (s->head || s->done)
                                break;
                        pthread_mutex_unlock(&s->lock);
                        return -EAGAIN;
                }
        }
        if (s->head) {
                LogItem *it = s->head;
                s->head = it->next;
                if (!s->head)
                        s->tail = NULL;
                s->queued -= sizeof(LogItem) + it->len;
                /* The transfer may be waiting for room. */
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
                s->current = it;
                *ret = (DockerLogLine){.text = it->text, .stream = it->stream, .ts_ms = it->ts_ms};
                memcpy(ret->ts, it->ts, sizeof(ret->ts));
                return 1;
        }
        r = s->errnum;
        if (r < 0 && e)
                *e = s->err;
        pthread_mutex_unlock(&s->lock);
        return r;
}
