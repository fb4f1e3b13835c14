/* SPDX-License-Identifier: MIT */
/* docker-logstream.h -- a container's logs as a stream of lines, read by a thread of its own. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "docker-logs.h"
#include "docker.h"

typedef struct DockerLogsQuery {
        int64_t tail;    /* last N lines; -1 = all */
        int64_t since_s; /* Unix seconds; 0 = from the start */
        bool follow;     /* keep the stream open for new lines until the container stops */
        bool tty;        /* the container has a TTY: the stream is raw, not multiplexed */
} DockerLogsQuery;

typedef struct DockerLogStream DockerLogStream;

/*
 * Opens GET /containers/ID/logs (stdout and stderr, with timestamps).  The
 * transfer runs in its own thread that demultiplexes the stream into lines
 * and queues them (bounded: it stops reading while the reader lags), so that
 * docker_log_stream_read() can wait with a timeout.  Returns once the engine
 * answered with its status, with its error when that was not 200.
 */
int docker_logs_open(DockerClient *c, const char *id, const DockerLogsQuery *q, DockerLogStream **ret,
                     Error *e);

/*
 * Returns 1 and the next line in *ret, 0 at the end of the stream, -EAGAIN
 * when no line arrived within timeout_ms (< 0: wait indefinitely), or another
 * negative errno with e filled (e may be NULL).  One reader at a time.
 */
int docker_log_stream_read(DockerLogStream *s, DockerLogLine *ret, int timeout_ms, Error *e);

/* Stops the transfer (promptly, also while following) and frees the stream.  Accepts NULL. */
void docker_log_stream_close(DockerLogStream *s);
static inline void docker_log_stream_closep(DockerLogStream **s)
{
        docker_log_stream_close(*s);
}

