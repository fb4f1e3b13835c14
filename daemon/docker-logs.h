/* SPDX-License-Identifier: MIT */
/* docker-logs.h -- decoding a container's log stream into timed lines (pure: no I/O, unit-testable). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct DockerLogLine {
        const char *text;   /* one line, without its newline; valid until the next read */
        const char *stream; /* "stdout" or "stderr" */
        char ts[40];        /* the engine's timestamp as RFC 3339 UTC with ms, or "" */
        int64_t ts_ms;      /* the same as Unix ms, or 0 */
} DockerLogLine;

/*
 * The stream decoder, exposed for tests: feeds n bytes of a logs response
 * body (multiplexed frames, or raw text when tty) and calls emit for every
 * complete line.  Lines split over frames (the engine splits long lines)
 * are joined.  A decoder that saw a corrupt frame header returns -EBADMSG.
 */
typedef struct DockerLogDecoder DockerLogDecoder;
typedef void (*DockerLogEmit)(const DockerLogLine *line, void *userdata);
DockerLogDecoder *docker_log_decoder_new(bool tty, bool timestamps, DockerLogEmit emit, void *userdata);
int docker_log_decoder_feed(DockerLogDecoder *d, const char *data, size_t n);
/* Emits what remains (a last line without newline). */
void docker_log_decoder_finish(DockerLogDecoder *d);
void docker_log_decoder_free(DockerLogDecoder *d);

/* Parses RFC 3339 ("2026-11-21T23:00:00.123456789Z", "+01:00" offsets) into Unix ms; -EINVAL else. */
int docker_parse_time(const char *s, size_t n, int64_t *ret_ms);

/*
 * Podman's log timestamps have whole seconds only.  Postgres's own prefix
 * (log_line_prefix = '%m ...': "2026-12-01 23:45:22.477 UTC ...") has the
 * milliseconds: when text starts with one in UTC that falls into the second
 * ts_ms (Unix ms, a whole second) names, returns it with them; otherwise
 * ts_ms as it was.
 */
int64_t docker_log_refine_ms(const char *text, int64_t ts_ms);
