/* SPDX-License-Identifier: MIT */
/* log.h -- one line per event, logfmt on stderr (or structured fields in the journal). */
#pragma once

#include "util.h"

typedef enum LogLevel {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_ERROR,
} LogLevel;

/* Parses "debug", "info", "warning", "error"; returns -EINVAL otherwise. */
int log_level_from_string(const char *s, LogLevel *ret);
const char *log_level_to_string(LogLevel level);

/* Sets the minimum level printed (default info).  Not thread-safe: call once at start-up. */
void log_set_level(LogLevel level);
LogLevel log_get_level(void);

/*
 * Writes one event:
 *     ts=2026-11-21T23:00:00.123Z level=info event=reset mode=template duration_ms=42 msg="Reset done"
 * fields is a preformatted run of key=value pairs (may be NULL or empty); use
 * log_quote() for values that may contain spaces or quotes.  msg is free text
 * and is quoted here.  Thread-safe: every event is one write(2).
 */
void log_event(LogLevel level, const char *event, const char *fields, const char *fmt, ...) _printf_(4, 5);

#define log_debug(event, ...)   log_event(LOG_LEVEL_DEBUG, event, NULL, __VA_ARGS__)
#define log_info(event, ...)    log_event(LOG_LEVEL_INFO, event, NULL, __VA_ARGS__)
#define log_warning(event, ...) log_event(LOG_LEVEL_WARNING, event, NULL, __VA_ARGS__)
#define log_error(event, ...)   log_event(LOG_LEVEL_ERROR, event, NULL, __VA_ARGS__)

/*
 * Appends `key=value` to buf (size bytes), quoting and escaping value when
 * needed, with a separating space when buf is not empty.  Returns buf.
 */
char *log_field(char *buf, size_t size, const char *key, const char *value);
