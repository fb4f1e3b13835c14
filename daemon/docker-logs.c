/* SPDX-License-Identifier: MIT */
/* docker-logs.c -- decoding a container's log stream: multiplexed frames or raw TTY text into timed lines. */

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "docker-logs.h"

#include "util.h"

/* A log frame is at most one 16 kB message plus its timestamp; anything far larger is a corrupt header. */
#define FRAME_MAX (8u * 1024 * 1024)

int docker_parse_time(const char *s, size_t n, int64_t *ret_ms)
{
        char buf[64], *p;
        struct tm tm = {0};
        int64_t ms = 0, off = 0;

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                /* Nanoseconds from Docker, fewer digits from others: keep milliseconds. */
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                        if (digits < 3)
                                ms = ms * 10 + (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 3; digits++)
                        ms *= 10;
        }
        if (*p == 'Z')
                p++;
        else if (*p == '+' || *p == '-') {
                int hh, mm;
                if (strlen(p) != 6 || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                        return -EINVAL;
                off = ((int64_t) hh * 60 + mm) * 60000;
                if (*p == '-')
                        off = -off;
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret_ms = (int64_t) timegm(&tm) * 1000 + ms - off;
        return 0;
}

struct DockerLogDecoder {
        bool tty, timestamps;
        DockerLogEmit emit;
        void *userdata;
        Buffer in;
        /* A line split over frames (stdout, stderr), with the time of its first part. */
        Buffer partial[2];
        int64_t partial_ts[2];
        bool bad;
};

DockerLogDecoder *docker_log_decoder_new(bool tty, bool timestamps, DockerLogEmit emit, void *userdata)
{
        DockerLogDecoder *d = xcalloc(1, sizeof(DockerLogDecoder));

        d->tty = tty;
        d->timestamps = timestamps;
        d->emit = emit;
        d->userdata = userdata;
        return d;
}

void docker_log_decoder_free(DockerLogDecoder *d)
{
        if (!d)
                return;
        buffer_free(&d->in);
        buffer_free(&d->partial[0]);
        buffer_free(&d->partial[1]);
        free(d);
}

static void decoder_emit(DockerLogDecoder *d, int stream, const char *text, size_t n, int64_t ts_ms)
{
        DockerLogLine line = {.stream = stream == 1 ? "stderr" : "stdout", .ts_ms = ts_ms};
        _cleanup_free_ char *copy = NULL;

        /* Lines written through a TTY end in "\r\n". */
        if (n > 0 && text[n - 1] == '\r')
                n--;
        copy = xmalloc(n + 1);
        memcpy(copy, text, n);
        copy[n] = '\0';
        line.text = copy;
        if (ts_ms > 0)
                format_rfc3339_ms(ts_ms, line.ts, sizeof(line.ts));
        d->emit(&line, d->userdata);
}

/*
 * One message: with timestamps the engine put "TIME " in front of it.
 * Splits it into lines; a part without newline waits for the next message
 * of the same stream (the engine cuts lines longer than 16 kB into parts).
 */
static void decoder_message(DockerLogDecoder *d, int stream, const char *p, size_t n)
{
        Buffer *partial = &d->partial[stream];
        int64_t ts = 0;

        if (d->timestamps) {
                const char *sp = memchr(p, ' ', n < 64 ? n : 64);
                if (sp && docker_parse_time(p, (size_t) (sp - p), &ts) == 0) {
                        n -= (size_t) (sp + 1 - p);
                        p = sp + 1;
                } else
                        ts = 0;
        }
        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t len = nl ? (size_t) (nl - p) : n;

                if (partial->len == 0)
                        d->partial_ts[stream] = ts;
                if (!nl) {
                        buffer_append(partial, p, len);
                        break;
                }
                if (partial->len > 0) {
                        buffer_append(partial, p, len);
                        decoder_emit(d, stream, partial->data, partial->len, d->partial_ts[stream]);
                        partial->len = 0;
                } else
                        decoder_emit(d, stream, p, len, ts);
                p += len + 1;
                n -= len + 1;
        }
}

int docker_log_decoder_feed(DockerLogDecoder *d, const char *data, size_t n)
{
        if (d->bad)
                return -EBADMSG;
        buffer_append(&d->in, data, n);

        if (d->tty) {
                /* Raw stream: each message is one line, led by its timestamp. */
                size_t start = 0;
                for (size_t i = 0; i < d->in.len; i++)
                        if (d->in.data[i] == '\n') {
                                decoder_message(d, 0, d->in.data + start, i + 1 - start);
                                start = i + 1;
                        }
                buffer_consume(&d->in, start);
                return 0;
        }

        /*
         * Multiplexed stream: frames of an 8-byte header -- stream type (0
         * stdin, 1 stdout, 2 stderr), three zero bytes, the payload length as
         * a big-endian uint32 -- and the payload, one log message each.
         */
        for (;;) {
                const unsigned char *h = (const unsigned char *) d->in.data;
                uint32_t len;

                if (d->in.len < 8)
                        break;
                len = (uint32_t) h[4] << 24 | (uint32_t) h[5] << 16 | (uint32_t) h[6] << 8 | (uint32_t) h[7];
                if (h[0] > 2 || h[1] || h[2] || h[3] || len > FRAME_MAX) {
                        d->bad = true;
                        return -EBADMSG;
                }
                if (d->in.len < 8 + (size_t) len)
                        break;
                decoder_message(d, h[0] == 2 ? 1 : 0, d->in.data + 8, len);
                buffer_consume(&d->in, 8 + (size_t) len);
        }
        return 0;
}

void docker_log_decoder_finish(DockerLogDecoder *d)
{
        if (d->tty && d->in.len > 0) {
                decoder_message(d, 0, d->in.data, d->in.len);
                d->in.len = 0;
        }
        for (int i = 0; i < 2; i++)
                if (d->partial[i].len > 0) {
                        decoder_emit(d, i, d->partial[i].data, d->partial[i].len, d->partial_ts[i]);
                        d->partial[i].len = 0;
                }
}

/* Podman's timestamps have whole seconds; the server's own prefix has the milliseconds. */
int64_t docker_log_refine_ms(const char *text, int64_t ts_ms)
{
        struct tm tm = {0};
        int ms = -1, n = 0;
        char zone[8] = "";
        int64_t t;

        if (ts_ms <= 0 || ts_ms % 1000 != 0 || !text)
                return ts_ms;
        if (sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d.%3d %7s%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec, &ms, zone, &n) != 8 ||
            ms < 0 || !(streq(zone, "UTC") || streq(zone, "GMT")))
                return ts_ms;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = (int64_t) timegm(&tm) * 1000;
        return t == ts_ms ? t + ms : ts_ms;
}
