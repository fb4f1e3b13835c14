/* SPDX-License-Identifier: MIT */
/* api-logs.c -- GET /logs: Postgres server logs from either runtime, as text or JSON lines, optionally
 * followed. */

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "api.h"
#include "daemon.h"
#include "redact.h"
#include "runtime.h"

typedef struct LogsCtx {
        Daemon *d;
        LogStream *stream;
        bool json;
        RedactState redact; /* statements logged over several lines */
        Buffer out;
        size_t off; /* bytes of out already handed to the server */
} LogsCtx;

static void logs_ctx_free(void *p)
{
        LogsCtx *c = p;

        log_stream_close(c->stream);
        buffer_free(&c->out);
        free(c);
}

/*
 * Postgres logs a failed statement in full, ALTER ROLE ... PASSWORD '...'
 * included, and /logs may be read by more people than the database's owner:
 * every line is redacted before it is served.
 */
static void format_line(LogsCtx *c, const LogLine *line)
{
        _cleanup_free_ char *clean = redact_secrets(line->text, &c->redact);
        char *text;

        if (c->json) {
                json_t *o = json_pack("{s:s?, s:s, s:s}", "ts", *line->ts ? line->ts : NULL, "stream",
                                      line->stream, "line", clean);
                /* Server logs may hold bytes that are not UTF-8; never drop the line for it. */
                if (!o)
                        o = json_pack("{s:s?, s:s, s:s}", "ts", *line->ts ? line->ts : NULL, "stream",
                                      line->stream, "line", "(line not valid UTF-8)");
                text = json_dumps(o, JSON_COMPACT);
                json_decref(o);
        } else
                text = xstrdup(clean);
        buffer_appends(&c->out, text);
        buffer_append(&c->out, "\n", 1);
        free(text);
}

/* The stream's read: never waits (it runs on the server's event loop, which polls it again). */
static ssize_t logs_read(void *p, char *out, size_t max)
{
        LogsCtx *c = p;

        while (c->off == c->out.len) {
                LogLine line;
                int r;

                c->off = c->out.len = 0;
                if (atomic_load(&c->d->stopping))
                        return -1;
                r = c->stream->read_line(c->stream, &line, 0);
                if (r == -EAGAIN)
                        return 0; /* nothing yet: the server asks again shortly */
                if (r <= 0)
                        return -1;
                format_line(c, &line);
                /* Batch what is already there, up to the buffer the server gave us. */
                while (c->out.len < max && (r = c->stream->read_line(c->stream, &line, 0)) == 1)
                        format_line(c, &line);
        }
        size_t n = c->out.len - c->off < max ? c->out.len - c->off : max;
        memcpy(out, c->out.data + c->off, n);
        c->off += n;
        return (ssize_t) n;
}

/* Unix seconds ("1700000000", "1700000000.5") or RFC 3339 ("2026-11-21T23:00:00Z", "+01:00" offsets). */
static bool parse_since(const char *s, int64_t *ret_ms)
{
        char *end;
        double secs = strtod(s, &end);
        struct tm tm = {0};
        const char *p;
        int64_t ms = 0;

        if (*s && *end == '\0' && secs >= 0) {
                *ret_ms = (int64_t) (secs * 1000);
                return true;
        }
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
        if (!p)
                return false;
        if (*p == '.') {
                double frac = strtod(p, &end);
                ms = (int64_t) (frac * 1000);
                p = end;
        }
        int64_t t = (int64_t) timegm(&tm) * 1000 + ms;
        if (*p == 'Z' && p[1] == '\0') {
                *ret_ms = t;
                return true;
        }
        int hh, mm;
        if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 && strlen(p) == 6) {
                int64_t off = ((int64_t) hh * 60 + mm) * 60000;
                *ret_ms = *p == '+' ? t - off : t + off;
                return true;
        }
        return false;
}

void api_logs(Request *req)
{
        static const char *const formats[] = {"text", "json", NULL};
        Daemon *d = request_daemon(req);
        LogQuery q = {0};
        const char *format, *since = request_query(req, "since"), *tail = request_query(req, "tail");
        Error e = ERROR_INIT;
        LogsCtx *c;
        bool follow;

        if (!request_query_allow(req, NULL) || !request_query_bool(req, "follow", false, &follow) ||
            !request_query_enum(req, "format", formats, "text", &format))
                return;
        if (tail && streq(tail, "all"))
                q.tail = -1;
        else if (!request_query_int(req, "tail", 100, 0, 100000, &q.tail))
                return;
        if (since && !parse_since(since, &q.since_ms)) {
                http_reply_error(req, 400, "invalid_parameter",
                                 "Use Unix seconds (1700000000) or RFC 3339 (2026-11-21T23:00:00Z).",
                                 "Parameter 'since' is not a time: '%s'", since);
                return;
        }
        q.follow = follow;

        c = xcalloc(1, sizeof(LogsCtx));
        c->d = d;
        c->json = streq(format, "json");
        if (runtime_logs_open(d->runtime, &q, &c->stream, &e) < 0) {
                logs_ctx_free(c);
                http_reply_errno(req, &e);
                return;
        }
        http_reply_stream(req, 200,
                          c->json ? "application/x-ndjson; charset=utf-8" : "text/plain; charset=utf-8",
                          logs_read, c, logs_ctx_free);
}
