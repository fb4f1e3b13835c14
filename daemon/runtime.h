/* SPDX-License-Identifier: MIT */
/* runtime.h -- where Postgres runs: one interface (RuntimeOps), a registry of its implementations. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct json_t json_t;
typedef struct Config Config;
typedef struct Runtime Runtime;
typedef struct LogStream LogStream;

typedef struct RuntimeStatus {
        bool running;     /* the server process/container exists and runs */
        char id[80];      /* "pid 1234" or the short container ID; "" when none */
        char detail[512]; /* when not running: why ("exited with signal 9 (Killed)", "OOM-killed") */
} RuntimeStatus;

typedef struct LogQuery {
        int64_t tail;     /* last N lines; -1 = all */
        bool follow;      /* keep streaming new lines */
        int64_t since_ms; /* only lines at or after this realtime (ms); 0 = no limit */
} LogQuery;

typedef struct LogLine {
        const char *text;   /* one line without its newline; valid until the next read */
        const char *stream; /* "stdout", "stderr" or "log" */
        char ts[40];        /* RFC 3339 time of the line when known, else "" */
} LogLine;

/*
 * A stream of Postgres server log lines.  read_line returns 1 with *ret
 * filled, 0 at the end of the stream, -EAGAIN when nothing arrived within
 * timeout_ms (following), or another negative errno.
 */
struct LogStream {
        int (*read_line)(LogStream *s, LogLine *ret, int timeout_ms);
        void (*close)(LogStream *s);
};

/* What PgBouncer needs to run where the runtime runs it (pgbouncer.c fills it in). */
typedef struct PoolerSpec {
        const char *config_file;   /* pgbouncer.ini, its only argument */
        const char *const *mounts; /* host paths it reads (its directory, the TLS files), NULL-terminated */
        uid_t uid;                 /* who it runs as: the owner of those files (PgBouncer refuses root) */
        gid_t gid;
} PoolerSpec;

/*
 * The operations a runtime implements.  The supervisor calls them from its
 * own thread (logs_open from HTTP threads, concurrently: it must not touch
 * state the others mutate without a lock).  Each returns 0 or a negative
 * errno with e filled; none blocks longer than its documented bound.
 */
typedef struct RuntimeOps {
        const char *name;
        /*
         * Who starts, stops and restarts the server: true when this runtime
         * does (a container or child process of pgseedd's); false when the
         * server belongs to someone else and pgseedd only attaches to it.
         * Then start() checks that the server answers, stop() does nothing,
         * and the supervisor waits for a lost server instead of restarting it.
         */
        bool owns_server;
        /*
         * Optional, for runtime = auto, which tries the registered runtimes in
         * order and takes the first usable one: returns 0 with why saying in
         * a few words why it can work here, or -errno with e saying why not.
         * Bounded to a few seconds.  NULL: always usable (the last resort).
         */
        int (*usable)(const Config *config, char *why, size_t size, Error *e);
        /* Allocates rt->impl from rt->config.  Cheap; no I/O beyond checks. */
        int (*init)(Runtime *rt, Error *e);
        /*
         * One-time set-up before the first start, idempotent: the embedded
         * runtime runs initdb; the Docker runtime checks the engine, the image
         * (pulling per policy), adopts or creates its container and volume.
         * Refuses, with a clear error, ports held by others and containers it
         * does not manage.  May take minutes (a pull).
         */
        int (*prepare)(Runtime *rt, Error *e);
        /* Starts the server; returns once it was launched (readiness is the supervisor's probe). */
        int (*start)(Runtime *rt, Error *e);
        /* Fast shutdown; waits up to the configured stop timeout, then kills.  Harmless when stopped. */
        int (*stop)(Runtime *rt, Error *e);
        /* Cheap liveness check, called every tick. */
        int (*status)(Runtime *rt, RuntimeStatus *ret);
        /* Opens the server log; the stream is the caller's to close. */
        int (*logs_open)(Runtime *rt, const LogQuery *q, LogStream **ret, Error *e);
        /* Removes what start created (container); the data too when volumes is true. */
        int (*remove)(Runtime *rt, bool volumes, Error *e);
        /*
         * Optional.  The server refused the configured password (the data was
         * created with another one): set the role's password to the configured
         * one through a way in that needs none (the local socket, trusted for
         * the bootstrap superuser).  Returns 0 when done (connect again), or a
         * negative errno with e saying why it could not.
         */
        int (*repair_auth)(Runtime *rt, Error *e);
        /*
         * Optional.  Looks behind a failure (failure: the supervisor's reason,
         * may be "") for a cause the runtime can see, such as a full disk, and
         * writes a self-contained explanation into ret; returns false when it
         * sees none.  Cheap (a statvfs, a look at the log's tail).
         */
        bool (*explain_failure)(Runtime *rt, const char *failure, char *ret, size_t size);
        /*
         * Optional.  Adds what /health says about the runtime beyond its name
         * and owner (the server it attaches to, the role's rights) to o.
         * Any thread; cheap (no I/O).
         */
        void (*describe)(Runtime *rt, json_t *o);
        /*
         * Optional.  Free bytes on the file system that holds the server's
         * data, as the server's own host sees it, in *ret; where names it in a
         * few words ("the volume X on the Docker engine's host").  Called
         * without locks held; may take a second (an exec in the container).
         * NULL: the runtime cannot see that disk (runtime_disk_free says so).
         */
        int (*disk_free)(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e);
        /*
         * Optional, all three or none: where PgBouncer ([pgbouncer] enabled)
         * runs beside this runtime's server (the Docker runtime: a container
         * on the host's network).  NULL: pgbouncer.c runs it as a child
         * process.  Called from PgBouncer's thread, never concurrently.
         * pooler_start replaces any earlier pooler of this instance and
         * starts a new one, its short ID in id; pooler_status says whether it
         * still runs (detail: why not); pooler_stop stops and removes it
         * (harmless when there is none).  Each bounded by seconds.
         */
        int (*pooler_start)(Runtime *rt, const PoolerSpec *spec, char *id, size_t size, Error *e);
        int (*pooler_status)(Runtime *rt, RuntimeStatus *ret);
        int (*pooler_stop)(Runtime *rt, Error *e);
        void (*free)(Runtime *rt);
} RuntimeOps;

struct Runtime {
        const RuntimeOps *ops;
        const Config *config;
        void *impl;
        char why[256]; /* why this runtime was chosen (auto), for the log and /health */
};

/*
 * The registered runtimes, in the order runtime = auto tries them,
 * NULL-terminated.  A new runtime is one RuntimeOps and one line here; the
 * supervisor and the handlers only ever see the interface.
 */
extern const RuntimeOps *const runtime_registry[];

/* The implementations, each in its runtime-NAME.c (named here for the registry and the tests). */
extern const RuntimeOps runtime_docker_ops;
extern const RuntimeOps runtime_embedded_ops;
extern const RuntimeOps runtime_external_ops;

/* The registered runtime of that name, or NULL. */
const RuntimeOps *runtime_ops_find(const char *name);

/*
 * Picks the runtime named in the config.  For "auto" it walks the registry
 * and takes the first runtime whose usable() says it can work here,
 * recording why in rt->why.  Returns 0 and a new, initialised Runtime in
 * *ret.
 */
int runtime_new(const Config *config, Runtime **ret, Error *e);
void runtime_free(Runtime *rt);
static inline void runtime_freep(Runtime **rt)
{
        runtime_free(*rt);
}

static inline const char *runtime_name(const Runtime *rt)
{
        return rt->ops->name;
}
static inline bool runtime_owns_server(const Runtime *rt)
{
        return rt->ops->owns_server;
}
static inline int runtime_prepare(Runtime *rt, Error *e)
{
        return rt->ops->prepare(rt, e);
}
static inline int runtime_start(Runtime *rt, Error *e)
{
        return rt->ops->start(rt, e);
}
static inline int runtime_stop(Runtime *rt, Error *e)
{
        return rt->ops->stop(rt, e);
}
static inline int runtime_status(Runtime *rt, RuntimeStatus *ret)
{
        return rt->ops->status(rt, ret);
}
static inline int runtime_logs_open(Runtime *rt, const LogQuery *q, LogStream **ret, Error *e)
{
        return rt->ops->logs_open(rt, q, ret, e);
}
static inline int runtime_remove(Runtime *rt, bool volumes, Error *e)
{
        return rt->ops->remove(rt, volumes, e);
}

/*
 * The supervisor calls this when a probe fails with code auth_failed
 * ("password authentication failed"): the runtime sets the role's password
 * to the configured one (never logged; the server gets a SCRAM verifier
 * computed here, not the password).  Returns 0 when the password was set
 * (probe again), or -errno with e (code password_mismatch) naming the
 * password setting and what to do: report it as `degraded` and do not
 * restart the server, which would not help.  Refuses to repeat itself within
 * a few seconds, so a failure that a new password does not cure (pg_hba.conf)
 * cannot loop.
 */
int runtime_repair_auth(Runtime *rt, Error *e);

/* Every failure reason that mentions a full disk is explained with this word in it. */
#define RUNTIME_DISK_FULL "disk_full"

/*
 * Explains a failure (the text of a `down` or `degraded` reason) when the
 * runtime sees its cause: a full disk ("No space left on device in DIR
 * (disk_full): N MB free; free space or move PGSEED_STATE_DIR").  Returns
 * true with the explanation in ret, false when there is nothing to add
 * (also when failure already carries an explanation).  Cheap; any thread.
 */
bool runtime_explain_failure(Runtime *rt, const char *failure, char *ret, size_t size);

/*
 * The free space where the server keeps its data (RuntimeOps.disk_free):
 * 0 with bytes in *ret and where naming the disk, -EOPNOTSUPP with e saying
 * that this runtime cannot see the server's disk, or another -errno.
 */
int runtime_disk_free(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e);

/*
 * What /health says about the runtime, as a new object: its name, who owns
 * the server ("pgseedd" or "external"), and what the runtime adds
 * (describe).  Any thread.
 */
json_t *runtime_describe(Runtime *rt);

/* True when the runtime runs PgBouncer itself (pooler_start); false: pgbouncer.c runs it as a child. */
static inline bool runtime_runs_pooler(const Runtime *rt)
{
        return rt && rt->ops->pooler_start;
}
static inline int runtime_pooler_start(Runtime *rt, const PoolerSpec *spec, char *id, size_t size, Error *e)
{
        return rt->ops->pooler_start(rt, spec, id, size, e);
}
static inline int runtime_pooler_status(Runtime *rt, RuntimeStatus *ret)
{
        return rt->ops->pooler_status(rt, ret);
}
static inline int runtime_pooler_stop(Runtime *rt, Error *e)
{
        return rt->ops->pooler_stop(rt, e);
}

static inline void log_stream_close(LogStream *s)
{
        if (s)
                s->close(s);
}
static inline void log_stream_closep(LogStream **s)
{
        log_stream_close(*s);
}
