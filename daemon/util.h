/* SPDX-License-Identifier: MIT */
/* util.h -- cleanup attributes, ownership helpers and small string/time utilities. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

/*
 * One cleanup idiom everywhere: a variable declared with _cleanup_(f) has
 * f(&var) called when it leaves scope, so early returns never leak.  Hand
 * ownership out with TAKE_PTR()/TAKE_FD(), which also disarm the cleanup.
 */
#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _printf_(a, b)   __attribute__((format(printf, a, b)))
#define _unused_         __attribute__((unused))
#define _noreturn_       __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                                                                                         \
        ({                                                                                                  \
                __typeof__(p) _p_ = (p);                                                                    \
                (p) = NULL;                                                                                 \
                _p_;                                                                                        \
        })

#define TAKE_FD(fd)                                                                                         \
        ({                                                                                                  \
                int _fd_ = (fd);                                                                            \
                (fd) = -1;                                                                                  \
                _fd_;                                                                                       \
        })

static inline void freep(void *p)
{
        free(*(void **) p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* Frees every element of a NULL-terminated string vector, then the vector. */
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline bool isempty(const char *s)
{
        return !s || !*s;
}

/* Returns the part of s after prefix, or NULL when s does not start with it. */
const char *startswith(const char *s, const char *prefix);

/* strdup that aborts on OOM: small allocations failing is not a condition pgseed recovers from. */
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);

/* Bounded copy that always NUL-terminates and never overflows dst. */
void strlcpy0(char *dst, const char *src, size_t size);
/* snprintf into a fixed buffer; truncation is silent (used for human-readable detail only). */
void bufprintf(char *dst, size_t size, const char *fmt, ...) _printf_(3, 4);

/* Strips leading and trailing ASCII white space in place; returns s. */
char *strstrip(char *s);

/* Milliseconds from CLOCK_MONOTONIC (for durations) and CLOCK_REALTIME (for timestamps). */
int64_t now_mono_ms(void);
int64_t now_real_ms(void);
/* Formats a realtime millisecond timestamp as RFC 3339 UTC ("2026-11-21T23:00:00.123Z"). */
void format_rfc3339_ms(int64_t real_ms, char *buf, size_t size);

/*
 * Condition variables whose timed waits run on CLOCK_MONOTONIC, so that a
 * step of the wall clock (NTP, a suspended laptop, `date -s`) neither stalls
 * nor hurries a wait.  cond_init_monotonic() initialises *cond so;
 * timespec_after_ms() is the absolute deadline ms from now on that clock,
 * for pthread_cond_timedwait(); cond_timedwait_ms() waits up to ms (or
 * forever when ms < 0) and returns pthread_cond_timedwait's result.
 */
void cond_init_monotonic(pthread_cond_t *cond);
struct timespec timespec_after_ms(int64_t ms);
int cond_timedwait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms);

/* Sleeps for ms milliseconds, restarting after signals. */
void sleep_ms(int64_t ms);

/*
 * Parsers for configuration and query values.  Each returns 0 on success or
 * -EINVAL/-ERANGE, never accepts trailing garbage, and leaves *ret untouched
 * on failure.
 */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);
int parse_bool(const char *s, bool *ret);

/* mkdir -p with the given mode for each created component. */
int mkdir_p(const char *path, unsigned mode);
/* rm -rf: removes path and everything below it without following symlinks; returns -errno. */
int rm_rf(const char *path);
/* Reads a whole (small) file into a NUL-terminated buffer; returns -errno. */
int read_full_file(const char *path, char **ret, size_t *ret_len);
/* Writes data to path via a temporary file and rename(), so readers never see half a file. */
int write_file_atomic(const char *path, const char *data, size_t len, unsigned mode);

/* 64-bit FNV-1a: cheap, stable across runs and machines (used for fingerprints and ETags, not security). */
uint64_t hash64(const void *data, size_t len, uint64_t seed);
#define HASH64_INIT UINT64_C(0xcbf29ce484222325)

/* U+2026, the mark left where text was cut. */
#define ELLIPSIS "\xe2\x80\xa6"

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool utf8_is_valid(const char *s, size_t len);

/*
 * When s[0..len) holds more than max_chars characters (code points), returns a
 * new string with the first max_chars of them followed by "…" and its length
 * in *ret_len; otherwise NULL (nothing to cut).  Never cuts inside a
 * character.
 */
char *utf8_truncate(const char *s, size_t len, size_t max_chars, size_t *ret_len);

/* Replaces every byte that is not part of well-formed UTF-8 with '?', in place (for echoing input). */
void utf8_sanitize(char *s);

/* A growing byte buffer, always NUL-terminated after len bytes (data is NULL until the first append). */
typedef struct Buffer {
        char *data;
        size_t len, cap;
} Buffer;

void buffer_append(Buffer *b, const char *p, size_t n);
void buffer_appends(Buffer *b, const char *s);
/* Drops the first n bytes. */
void buffer_consume(Buffer *b, size_t n);
void buffer_free(Buffer *b);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back (after Howard Hinnant's algorithms). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
