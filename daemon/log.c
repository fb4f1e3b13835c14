/* SPDX-License-Identifier: MIT */
/* log.c -- logfmt event lines on stderr; journal fields when stderr is the journal. */

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

/* Atomic: a SIGHUP reload changes it while other threads log. */
static _Atomic LogLevel min_level = LOG_LEVEL_INFO;
static int journal_stderr = -1; /* -1 unknown, 0 no, 1 yes */

static const char *const level_names[] = {
        [LOG_LEVEL_DEBUG] = "debug",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_ERROR] = "error",
};

int log_level_from_string(const char *s, LogLevel *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0) {
                        *ret = (LogLevel) i;
                        return 0;
                }
        if (strcasecmp(s, "warn") == 0) {
                *ret = LOG_LEVEL_WARNING;
                return 0;
        }
        return -EINVAL;
}

const char *log_level_to_string(LogLevel level)
{
        return level_names[level];
}

void log_set_level(LogLevel level)
{
        min_level = level;
}

LogLevel log_get_level(void)
{
        return min_level;
}

/*
 * systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr is connected
 * to the journal; only then are native journal fields worth sending, since a
 * redirected stderr (make start, docker logs) wants plain logfmt.
 */
static bool stderr_is_journal(void)
{
        const char *e;
        struct stat st;
        unsigned long long dev, ino;

        if (journal_stderr >= 0)
                return journal_stderr;
        journal_stderr = 0;
        e = getenv("JOURNAL_STREAM");
        if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
            (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino)
                journal_stderr = 1;
        return journal_stderr;
}

static bool needs_quoting(const char *v)
{
        if (!*v)
                return true;
        for (const char *p = v; *p; p++)
                if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\')
                        return true;
        return false;
}

char *log_field(char *buf, size_t size, const char *key, const char *value)
{
        size_t n = strlen(buf);
        const char *v = value ? value : "";

        if (n + 1 >= size)
                return buf;
        n += (size_t) snprintf(buf + n, size - n, "%s%s=", n ? " " : "", key);
        if (!needs_quoting(v)) {
                snprintf(buf + (n < size ? n : size - 1), n < size ? size - n : 1, "%s", v);
                return buf;
        }
        if (n + 1 >= size)
                return buf;
        buf[n++] = '"';
        for (const char *p = v; *p && n + 3 < size; p++) {
                if (*p == '"' || *p == '\\') {
                        buf[n++] = '\\';
                        buf[n++] = *p;
                } else if (*p == '\n') {
                        buf[n++] = '\\';
                        buf[n++] = 'n';
                } else if ((unsigned char) *p < ' ') {
                        buf[n++] = ' ';
                } else
                        buf[n++] = *p;
        }
        buf[n++] = '"';
        buf[n] = '\0';
        return buf;
}

void log_event(LogLevel level, const char *event, const char *fields, const char *fmt, ...)
{
        char msg[2048], line[4096] = "", ts[40];
        va_list ap;

        if (level < min_level)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (stderr_is_journal()) {
                static const int prio[] = {7, 6, 4, 3};
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio[level], "PGSEED_EVENT=%s", event,
                                "PGSEED_FIELDS=%s", fields ? fields : "", NULL);
                return;
        }

        format_rfc3339_ms(now_real_ms(), ts, sizeof(ts));
        log_field(line, sizeof(line), "ts", ts);
        log_field(line, sizeof(line), "level", level_names[level]);
        log_field(line, sizeof(line), "event", event);
        if (!isempty(fields)) {
                size_t n = strlen(line);
                snprintf(line + n, sizeof(line) - n, " %s", fields);
        }
        if (*msg)
                log_field(line, sizeof(line), "msg", msg);
        size_t n = strlen(line);
        if (n + 1 < sizeof(line)) {
                line[n++] = '\n';
                line[n] = '\0';
        } else
                line[sizeof(line) - 2] = '\n';
        /* One write per line keeps lines from different threads whole. */
        (void) !write(STDERR_FILENO, line, strlen(line));
}
