/* SPDX-License-Identifier: MIT */
/* clones.c -- the clone pool: hand-outs from memory, leases recorded in database comments, upkeep steps. */

#include "clones.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "pgbouncer.h"
#include "runtime-common.h"
#include "runtime.h"
#include "util.h"

#define NAME_HEX     16
#define NAME_MAX_LEN 64
#define MIN(a, b)    ((a) < (b) ? (a) : (b))
/* How long a free-space answer holds: the Docker runtime's costs an exec in the container. */
#define DISK_CHECK_MS 2000

/*
 * Crash safety of a hand-out.  POST /clones takes a ready clone from memory
 * and answers at once; the lease reaches the database comment a few
 * milliseconds later, when the worker records it.  A crash in between leaves
 * a clone whose comment still says clone-pool although a client holds it.
 * Such a clone must never be handed out again, so a start-up never puts
 * clone-pool databases back into the pool: it drops them, except those that
 * sessions are connected to, which are adopted as leases with the default
 * TTL (somebody is using it: that is the lease that was not recorded).
 * The cost is refilling the pool after each restart.
 */

typedef struct Clone {
        char name[NAME_MAX_LEN];
        char fingerprint[24];
        char from[NAME_MAX_LEN];       /* the snapshot it was cloned from; "" for the seed template */
        int64_t leased_ms, expires_ms; /* realtime; 0 while in the pool */
        int64_t ttl_s;
        bool recorded; /* the lease is in the database comment */
        struct Clone *next;
} Clone;

struct ClonesWaiter {
        Clones *cl;
        void (*notify)(void *userdata);
        void *userdata;
        int64_t deadline_mono;
        bool listed;      /* in cl->waiters (counted in cl->waiting) */
        bool notified;    /* notify was decided (once) */
        bool notify_done; /* and has returned: clones_waiter_free waits for it */
        bool orphaned;    /* freed by its own notify: notify_waiters frees it */
        pthread_t notifier;
        ClonesWaiter *next;
};

struct Clones {
        const Config *config;
        Metrics *metrics;
        char *prefix;       /* "app_clone_" */
        char *trash_prefix; /* "app_pgseed_aside_", shared with seed.c's set-aside working databases */
        ClonesKick kick;
        void *kick_userdata;
        Pgbouncer *pgbouncer; /* may be NULL */

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t cond;  /* CLOCK_MONOTONIC: a clone became ready */
        Clone *ready;         /* FIFO: the oldest first */
        Clone *leased;
        char **drops; /* names to drop: returned, expired, stale, set aside by a clone reset */
        size_t n_drops;
        char fingerprint[24]; /* of the template the pool was rebuilt for; "" before */
        int64_t waiting;
        ClonesWaiter *waiters; /* parked requests waiting for a ready clone, oldest first */
        Runtime *runtime;      /* asked for the free space where the server keeps its data; may be NULL */
        bool disk_low;         /* below [clones] min_free_mb at the last check */
        bool disk_known;       /* the last check could see the server's disk */
        bool disk_checking;    /* a thread is asking the runtime (outside the lock) */
        int64_t disk_free_mb;  /* what it saw */
        char disk_where[200];  /* which disk, or why none could be seen */
        int64_t disk_checked_mono;
        ClonesStats counters;
};

static void wake_waiters(Clones *cl);

/* ---- pure parts -------------------------------------------------------------- */

int64_t clones_pool_target(int64_t pool, int64_t waiting, int64_t leased, int64_t max)
{
        int64_t want = pool + waiting, room = max - leased;

        if (want > room)
                want = room;
        return want > 0 ? want : 0;
}

bool clone_name_valid(const Clones *cl, const char *name)
{
        const char *hex = name ? startswith(name, cl->prefix) : NULL;

        if (!hex || strlen(hex) != NAME_HEX)
                return false;
        for (const char *p = hex; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static size_t list_length(const Clone *c)
{
        size_t n = 0;

        for (; c; c = c->next)
                n++;
        return n;
}

static Clone **list_find(Clone **head, const char *name)
{
        for (Clone **p = head; *p; p = &(*p)->next)
                if (streq((*p)->name, name))
                        return p;
        return NULL;
}

static void list_append(Clone **head, Clone *c)
{
        Clone **p = head;

        while (*p)
                p = &(*p)->next;
        c->next = NULL;
        *p = c;
}

static void list_free(Clone *c)
{
        while (c) {
                Clone *next = c->next;
                free(c);
                c = next;
        }
}

static void drops_add_locked(Clones *cl, const char *name)
{
        cl->drops = xrealloc(cl->drops, (cl->n_drops + 1) * sizeof(char *));
        cl->drops[cl->n_drops++] = xstrdup(name);
}

/* ---- life -------------------------------------------------------------------- */

Clones *clones_new(const Config *c, Metrics *metrics)
{
        Clones *cl = xcalloc(1, sizeof(Clones));

        cl->config = c;
        cl->metrics = metrics;
        cl->prefix = xasprintf("%s_clone_", c->pg_db);
        cl->trash_prefix = xasprintf("%s_pgseed_aside_", c->pg_db);
        pthread_mutex_init(&cl->lock, NULL);
        cond_init_monotonic(&cl->cond);
        return cl;
}

void clones_free(Clones *cl)
{
        if (!cl)
                return;
        list_free(cl->ready);
        list_free(cl->leased);
        for (size_t i = 0; i < cl->n_drops; i++)
                free(cl->drops[i]);
        free(cl->drops);
        free(cl->prefix);
        free(cl->trash_prefix);
        pthread_cond_destroy(&cl->cond);
        pthread_mutex_destroy(&cl->lock);
        free(cl);
}

void clones_set_pgbouncer(Clones *cl, Pgbouncer *pb)
{
        cl->pgbouncer = pb;
}

void clones_set_runtime(Clones *cl, Runtime *rt)
{
        cl->runtime = rt;
}

void clones_set_kick(Clones *cl, ClonesKick kick, void *userdata)
{
        cl->kick = kick;
        cl->kick_userdata = userdata;
}

static void kick(Clones *cl)
{
        if (cl->kick)
                cl->kick(cl->kick_userdata);
}

void clones_set_template(Clones *cl, const char *fingerprint)
{
        pthread_mutex_lock(&cl->lock);
        if (*cl->fingerprint && !streq(cl->fingerprint, fingerprint)) {
                for (Clone *c = cl->ready; c; c = c->next)
                        drops_add_locked(cl, c->name);
                list_free(cl->ready);
                cl->ready = NULL;
        }
        strlcpy0(cl->fingerprint, fingerprint, sizeof(cl->fingerprint));
        pthread_mutex_unlock(&cl->lock);
}

void clones_pool_add(Clones *cl, const char *name)
{
        Clone *c = xcalloc(1, sizeof(Clone));

        strlcpy0(c->name, name, sizeof(c->name));
        pthread_mutex_lock(&cl->lock);
        strlcpy0(c->fingerprint, cl->fingerprint, sizeof(c->fingerprint));
        list_append(&cl->ready, c);
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        wake_waiters(cl);
}

/* ---- leases ------------------------------------------------------------------ */

static json_t *lease_json(const Clones *cl, const Clone *c)
{
        char leased[40], expires[40];
        _cleanup_free_ char *url = config_database_url(cl->config, cl->config->pg_user, c->name);

        format_rfc3339_ms(c->leased_ms, leased, sizeof(leased));
        format_rfc3339_ms(c->expires_ms, expires, sizeof(expires));
        json_t *o =
                json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "name", c->name, "url", url, "leased_at", leased,
                          "expires_at", expires, "ttl", (json_int_t) c->ttl_s, "recorded", c->recorded);
        if (*c->from)
                json_object_set_new(o, "from", json_string(c->from));
        return o;
}

/* Below [clones] min_free_mb at the last check (disk_refresh).  A disk that cannot be seen is never low. */
static bool disk_low_locked(const Clones *cl)
{
        return cl->config->clones_min_free_mb > 0 && cl->disk_low;
}

/* The last check is older than DISK_CHECK_MS (or there was none): disk_refresh() would ask again. */
static bool disk_stale_locked(const Clones *cl)
{
        return cl->config->clones_min_free_mb > 0 &&
               (!cl->disk_checked_mono || now_mono_ms() - cl->disk_checked_mono >= DISK_CHECK_MS);
}

/*
 * Asks the runtime how much space is free where the server keeps its data
 * (the Docker runtime: in the container, on the engine's host), at most once
 * every DISK_CHECK_MS.  Call without cl->lock: the answer may take an exec.
 * Without a runtime (unit tests) the state directory's file system is asked.
 */
static void disk_refresh(Clones *cl)
{
        Error e = ERROR_INIT;
        char where[sizeof(cl->disk_where)] = "";
        int64_t now = now_mono_ms(), bytes = -1;
        int r;

        if (cl->config->clones_min_free_mb <= 0)
                return;
        pthread_mutex_lock(&cl->lock);
        if (cl->disk_checking || (cl->disk_checked_mono && now - cl->disk_checked_mono < DISK_CHECK_MS)) {
                pthread_mutex_unlock(&cl->lock);
                return;
        }
        cl->disk_checking = true;
        pthread_mutex_unlock(&cl->lock);

        if (cl->runtime)
                r = runtime_disk_free(cl->runtime, &bytes, where, sizeof(where), &e);
        else {
                bytes = disk_free_bytes(isempty(cl->config->state_dir) ? "/" : cl->config->state_dir);
                r = bytes < 0 ? (int) bytes : 0;
                bufprintf(where, sizeof(where), "%s",
                          isempty(cl->config->state_dir) ? "/" : cl->config->state_dir);
        }
        if (r < 0 && r != -EOPNOTSUPP)
                log_debug("clones", "Failed to check the free disk space: %s, ignoring", e.message);

        pthread_mutex_lock(&cl->lock);
        cl->disk_checking = false;
        cl->disk_checked_mono = now_mono_ms();
        cl->disk_known = r == 0;
        cl->disk_free_mb = r == 0 ? bytes >> 20 : -1;
        cl->disk_low = r == 0 && cl->disk_free_mb < cl->config->clones_min_free_mb;
        if (r == 0)
                strlcpy0(cl->disk_where, where, sizeof(cl->disk_where));
        else
                bufprintf(cl->disk_where, sizeof(cl->disk_where), "%s", e.message);
        pthread_mutex_unlock(&cl->lock);
}

/* The 507 for a lease or snapshot clone under the floor. */
static int disk_error_locked(const Clones *cl, Error *e)
{
        return error_set(e, ENOSPC, "disk_full",
                         "Free disk space or lower [clones] min_free_mb (PGSEED_CLONES_MIN_FREE_MB).",
                         "Less than [clones] min_free_mb = %lld MiB is free on %s (%lld MiB): no new clone",
                         (long long) cl->config->clones_min_free_mb, cl->disk_where,
                         (long long) cl->disk_free_mb);
}

static int limit_error_locked(Clones *cl, Error *e)
{
        int64_t leased = (int64_t) list_length(cl->leased);

        if (leased >= cl->config->clones_max)
                return error_set(
                        e, EAGAIN, "clone_limit",
                        "Return clones (DELETE /clones/NAME, pgseedctl unclone NAME) or raise [clones] "
                        "max (PGSEED_CLONES_MAX).",
                        "All %lld clones allowed by [clones] max are leased", (long long) leased);
        if (!cl->ready && disk_low_locked(cl))
                return disk_error_locked(cl, e);
        return 0;
}

int clones_lease(Clones *cl, int64_t ttl_s, int64_t timeout_ms, json_t **ret, Error *e)
{
        int64_t t0 = now_mono_ms(), t0_us = now_mono_us(), deadline = t0 + (timeout_ms > 0 ? timeout_ms : 0);
        Clone *c;
        int r;

        if (ttl_s <= 0)
                ttl_s = cl->config->clones_ttl;
        pthread_mutex_lock(&cl->lock);
        if (!*cl->fingerprint) {
                pthread_mutex_unlock(&cl->lock);
                return error_set(e, EAGAIN, "not_ready", "Wait until seeding finishes: `pgseedctl wait`.",
                                 "There is no template to clone yet");
        }
        if (!cl->ready && disk_stale_locked(cl)) {
                /* Nothing ready, so the floor decides: ask about the disk, outside the lock. */
                pthread_mutex_unlock(&cl->lock);
                disk_refresh(cl);
                pthread_mutex_lock(&cl->lock);
        }
        r = limit_error_locked(cl, e);
        if (r < 0) {
                pthread_mutex_unlock(&cl->lock);
                return r;
        }
        if (!cl->ready) {
                cl->waiting++;
                kick(cl); /* the target rose: upkeep makes one more */
                while (!cl->ready && now_mono_ms() < deadline) {
                        cond_timedwait_ms(&cl->cond, &cl->lock, MIN(deadline - now_mono_ms(), 100));
                        r = limit_error_locked(cl, e);
                        if (r < 0)
                                break;
                }
                cl->waiting--;
                if (r == 0 && !cl->ready)
                        r = error_set(
                                e, EAGAIN, "pool_empty",
                                "Retry, or wait longer with ?timeout=S; a bigger [clones] pool keeps more "
                                "ready.",
                                "No clone became ready within %lld ms", (long long) (timeout_ms));
                if (r < 0) {
                        pthread_mutex_unlock(&cl->lock);
                        return r;
                }
        }
        c = cl->ready;
        cl->ready = c->next;
        c->leased_ms = now_real_ms();
        c->ttl_s = ttl_s;
        c->expires_ms = c->leased_ms + ttl_s * 1000;
        c->recorded = false;
        list_append(&cl->leased, c);
        cl->counters.leased_total++;
        json_t *o = lease_json(cl, c);
        pthread_mutex_unlock(&cl->lock);
        kick(cl); /* record the lease, refill the pool */

        int64_t us = now_mono_us() - t0_us;
        json_object_set_new(o, "wait_ms", json_integer(now_mono_ms() - t0));
        json_object_set_new(o, "handout_us", json_integer(us));
        metrics_clone_handout(cl->metrics, us);
        *ret = o;
        return 0;
}

int clones_return(Clones *cl, const char *name, Error *e)
{
        Clone **p, *c;

        if (!clone_name_valid(cl, name))
                return error_set(e, EINVAL, "invalid_name",
                                 "Clone names look like the ones POST /clones returns.",
                                 "'%s' is not a clone name: expected %s followed by %d hex digits", name,
                                 cl->prefix, NAME_HEX);
        pthread_mutex_lock(&cl->lock);
        p = list_find(&cl->leased, name);
        if (!p) {
                pthread_mutex_unlock(&cl->lock);
                return error_set(e, ENOENT, "unknown_clone", "GET /clones lists the leased clones.",
                                 "No leased clone named %s", name);
        }
        c = *p;
        *p = c->next;
        drops_add_locked(cl, c->name);
        cl->counters.returned_total++;
        free(c);
        pthread_mutex_unlock(&cl->lock);
        kick(cl);
        return 0;
}

/*
 * What [clones] min_free_mb checks, for GET /clones: the disk it looked at and
 * its free space, or, when the runtime cannot see the server's disk (the
 * external runtime), that it checks nothing.
 */
static json_t *disk_json(Clones *cl)
{
        json_t *o;

        if (cl->config->clones_min_free_mb <= 0)
                return json_pack("{s:I, s:b, s:s}", "min_free_mb", (json_int_t) 0, "checked", 0, "note",
                                 "[clones] min_free_mb = 0: no floor");
        disk_refresh(cl);
        pthread_mutex_lock(&cl->lock);
        if (cl->disk_known)
                o = json_pack("{s:I, s:b, s:s, s:I, s:b}", "min_free_mb",
                              (json_int_t) cl->config->clones_min_free_mb, "checked", 1, "where",
                              cl->disk_where, "free_mb", (json_int_t) cl->disk_free_mb, "low", cl->disk_low);
        else
                o = json_pack(
                        "{s:I, s:b, s:s, s:s}", "min_free_mb", (json_int_t) cl->config->clones_min_free_mb,
                        "checked", 0, "note",
                        "the floor checks nothing: pgseedd cannot see the disk the server's data is on; "
                        "watch the server's free space yourself",
                        "reason", cl->disk_where);
        pthread_mutex_unlock(&cl->lock);
        return o;
}

json_t *clones_list(Clones *cl)
{
        json_t *arr = json_array(), *pool;
        ClonesStats st;

        pthread_mutex_lock(&cl->lock);
        for (Clone *c = cl->leased; c; c = c->next)
                json_array_append_new(arr, lease_json(cl, c));
        pthread_mutex_unlock(&cl->lock);
        clones_stats(cl, &st);
        pool = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I}", "ready", (json_int_t) st.ready,
                         "target", (json_int_t) st.target, "leased", (json_int_t) st.leased, "max",
                         (json_int_t) st.max, "waiting", (json_int_t) st.waiting, "dropping",
                         (json_int_t) st.dropping, "disk_low", st.disk_low, "last_refill_ms",
                         (json_int_t) st.last_refill_ms);
        json_object_set_new(pool, "disk", disk_json(cl));
        return json_pack("{s:o, s:o}", "clones", arr, "pool", pool);
}

void clones_stats(Clones *cl, ClonesStats *ret)
{
        pthread_mutex_lock(&cl->lock);
        *ret = cl->counters;
        ret->ready = (int64_t) list_length(cl->ready);
        ret->leased = (int64_t) list_length(cl->leased);
        ret->waiting = cl->waiting;
        ret->dropping = (int64_t) cl->n_drops;
        ret->max = cl->config->clones_max;
        ret->target = clones_pool_target(cl->config->clones_pool, cl->waiting, ret->leased, ret->max);
        ret->disk_low = cl->disk_low;
        pthread_mutex_unlock(&cl->lock);
}

/* ---- parked requests waiting for a clone ----------------------------------------- */

/*
 * Decides up to max waiters (all of them when max < 0) under the lock: those
 * whose deadline passed when expired_only, else the oldest ones.  Returns
 * them as a list through ->next (unlinked from cl->waiters), to be notified
 * once the lock is released.
 */
static ClonesWaiter *take_waiters_locked(Clones *cl, ssize_t max, bool expired_only)
{
        ClonesWaiter *taken = NULL, **tail = &taken;
        int64_t now = now_mono_ms();

        for (ClonesWaiter **p = &cl->waiters; *p && max != 0;) {
                ClonesWaiter *w = *p;

                if (expired_only && now < w->deadline_mono) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                w->next = NULL;
                w->listed = false;
                w->notified = true;
                w->notifier = pthread_self();
                cl->waiting--;
                *tail = w;
                tail = &w->next;
                if (max > 0)
                        max--;
        }
        return taken;
}

/*
 * Calls the notify functions without the lock, then marks them returned.  A
 * notify may free its own waiter (request_resume frees the request of a
 * stopped server): that free is deferred to here (see clones_waiter_free).
 */
static void notify_waiters(Clones *cl, ClonesWaiter *list)
{
        ClonesWaiter **v = NULL;
        size_t n = 0;

        for (ClonesWaiter *w = list; w; w = w->next) {
                v = xrealloc(v, (n + 1) * sizeof(ClonesWaiter *));
                v[n++] = w;
        }
        for (size_t i = 0; i < n; i++)
                v[i]->notify(v[i]->userdata);
        if (n == 0)
                return;
        pthread_mutex_lock(&cl->lock);
        for (size_t i = 0; i < n; i++) {
                if (v[i]->orphaned)
                        free(v[i]);
                else
                        v[i]->notify_done = true;
        }
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        free(v);
}

/* A clone became ready: resume as many waiters as there are ready clones. */
static void wake_waiters(Clones *cl)
{
        pthread_mutex_lock(&cl->lock);
        ClonesWaiter *list = take_waiters_locked(cl, (ssize_t) list_length(cl->ready), false);
        pthread_mutex_unlock(&cl->lock);
        notify_waiters(cl, list);
}

ClonesWaiter *clones_wait(Clones *cl, int64_t timeout_ms, void (*notify)(void *userdata), void *userdata)
{
        ClonesWaiter *w = xcalloc(1, sizeof(ClonesWaiter));
        ClonesWaiter **p;

        w->cl = cl;
        w->notify = notify;
        w->userdata = userdata;
        w->deadline_mono = now_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        pthread_mutex_lock(&cl->lock);
        for (p = &cl->waiters; *p; p = &(*p)->next)
                ;
        *p = w;
        w->listed = true;
        cl->waiting++; /* the pool's target rises by one */
        pthread_mutex_unlock(&cl->lock);
        kick(cl);
        /* A clone may have come in between the caller's try and now. */
        wake_waiters(cl);
        return w;
}

bool clones_waiter_expired(const ClonesWaiter *w)
{
        return now_mono_ms() >= w->deadline_mono;
}

int64_t clones_waiter_left_ms(const ClonesWaiter *w)
{
        int64_t left = w->deadline_mono - now_mono_ms();

        return left > 0 ? left : 0;
}

void clones_waiter_free(ClonesWaiter *w)
{
        Clones *cl;

        if (!w)
                return;
        cl = w->cl;
        pthread_mutex_lock(&cl->lock);
        while (w->notified && !w->notify_done && !pthread_equal(w->notifier, pthread_self()))
                pthread_cond_wait(&cl->cond, &cl->lock);
        if (w->notified && !w->notify_done) {
                /* Freed from inside its own notify: notify_waiters frees it once that returns. */
                w->orphaned = true;
                pthread_mutex_unlock(&cl->lock);
                return;
        }
        if (w->listed) {
                for (ClonesWaiter **p = &cl->waiters; *p; p = &(*p)->next)
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                cl->waiting--;
        }
        pthread_mutex_unlock(&cl->lock);
        free(w);
}

void clones_expire(Clones *cl)
{
        pthread_mutex_lock(&cl->lock);
        ClonesWaiter *list = take_waiters_locked(cl, -1, true);
        pthread_mutex_unlock(&cl->lock);
        notify_waiters(cl, list);
        /* A clone that nobody's wake reached (its waiter's client had left): the next waiter. */
        wake_waiters(cl);
}

void clones_cancel_waits(Clones *cl)
{
        if (!cl)
                return;
        pthread_mutex_lock(&cl->lock);
        ClonesWaiter *list = take_waiters_locked(cl, -1, false);
        pthread_mutex_unlock(&cl->lock);
        notify_waiters(cl, list);
}

/* ---- SQL helpers --------------------------------------------------------------- */

static json_t *clone_meta(const Clone *c, const char *role)
{
        char ts[40], leased[40], expires[40];

        format_rfc3339_ms(now_real_ms(), ts, sizeof(ts));
        json_t *m = json_pack("{s:i, s:s, s:s, s:s}", "pgseed", 1, "role", role, "fingerprint",
                              c->fingerprint, "created_at", ts);
        if (*c->from)
                json_object_set_new(m, "from", json_string(c->from));
        if (c->leased_ms) {
                format_rfc3339_ms(c->leased_ms, leased, sizeof(leased));
                format_rfc3339_ms(c->expires_ms, expires, sizeof(expires));
                json_object_set_new(m, "leased_at", json_string(leased));
                json_object_set_new(m, "expires_at", json_string(expires));
                json_object_set_new(m, "leased_ms", json_integer(c->leased_ms));
                json_object_set_new(m, "expires_ms", json_integer(c->expires_ms));
                json_object_set_new(m, "ttl", json_integer(c->ttl_s));
        }
        return m;
}

static void random_name(const Clones *cl, char *buf, size_t size)
{
        uint64_t v = 0;

        if (getrandom(&v, sizeof(v), 0) != (ssize_t) sizeof(v))
                v = (uint64_t) now_real_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t) now_mono_us();
        snprintf(buf, size, "%s%016llx", cl->prefix, (unsigned long long) v);
}

/* ---- lifecycle worker: rebuild, record, reclaim, refill ---------------------------- */

int clones_rebuild(Clones *cl, PGconn *conn, const char *fingerprint, Error *e)
{
        const char *params[] = {cl->prefix};
        _cleanup_pgresult_ PGresult *res = NULL;
        Clone *leased = NULL;
        size_t adopted = 0, kept = 0, dropped = 0;
        int r;

        /*
         * Once per process: afterwards memory is the authority (it knows the
         * hand-outs not recorded yet, which the catalog still calls clone-pool),
         * and a repair's ensure must not drop them.
         */
        pthread_mutex_lock(&cl->lock);
        bool known = *cl->fingerprint;
        pthread_mutex_unlock(&cl->lock);
        if (known)
                return 0;

        r = pg_query(conn,
                     "SELECT d.datname, d.datconnlimit = -2, d.datallowconn,"
                     "       coalesce(shobj_description(d.oid, 'pg_database'), ''),"
                     "       (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)"
                     " FROM pg_database d WHERE starts_with(d.datname, $1) ORDER BY 1",
                     1, params, &res, e);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0),
                           *comment = startswith(PQgetvalue(res, i, 3), PG_COMMENT_PREFIX);
                bool invalid = streq(PQgetvalue(res, i, 1), "t"),
                     allowconn = streq(PQgetvalue(res, i, 2), "t");
                bool sessions = !streq(PQgetvalue(res, i, 4), "0");
                json_auto_t *meta = comment ? json_loads(comment, 0, NULL) : NULL;
                const char *role = json_string_value(json_object_get(meta, "role"));
                Clone *c;

                /* Ours: our comment, or (half-made) refusing connections under our name pattern. */
                if (!clone_name_valid(cl, name) || (!meta && allowconn && !invalid)) {
                        log_warning("clones", "Leaving %s alone: it does not carry pgseed's comment", name);
                        continue;
                }
                if (!invalid && meta &&
                    (streq_ptr(role, "clone") || (streq_ptr(role, "clone-pool") && sessions))) {
                        c = xcalloc(1, sizeof(Clone));
                        strlcpy0(c->name, name, sizeof(c->name));
                        strlcpy0(c->fingerprint,
                                 json_string_value(json_object_get(meta, "fingerprint")) ?: "",
                                 sizeof(c->fingerprint));
                        strlcpy0(c->from, json_string_value(json_object_get(meta, "from")) ?: "",
                                 sizeof(c->from));
                        if (streq(role, "clone")) {
                                c->leased_ms = json_integer_value(json_object_get(meta, "leased_ms"));
                                c->expires_ms = json_integer_value(json_object_get(meta, "expires_ms"));
                                c->ttl_s = json_integer_value(json_object_get(meta, "ttl"));
                                c->recorded = true;
                                kept++;
                        } else {
                                /* A hand-out whose lease was not recorded before a crash: see the top. */
                                c->leased_ms = now_real_ms();
                                c->ttl_s = cl->config->clones_ttl;
                                c->expires_ms = c->leased_ms + c->ttl_s * 1000;
                                adopted++;
                        }
                        list_append(&leased, c);
                        continue;
                }
                log_debug("clones", "Dropping %s (%s)", name,
                          invalid ? "invalid"
                          : role  ? role
                                  : "half-made");
                r = pg_drop_database(conn, name, e);
                if (r < 0) {
                        list_free(leased);
                        return r;
                }
                dropped++;
        }

        pthread_mutex_lock(&cl->lock);
        /* Whatever memory held is superseded by what the catalog says. */
        list_free(cl->leased);
        cl->leased = leased;
        list_free(cl->ready);
        cl->ready = NULL;
        strlcpy0(cl->fingerprint, fingerprint, sizeof(cl->fingerprint));
        pthread_mutex_unlock(&cl->lock);
        if (kept || adopted || dropped)
                log_info("clones", "Clones: %zu lease(s) kept, %zu adopted, %zu dropped", kept, adopted,
                         dropped);
        kick(cl);
        return 0;
}

bool clones_upkeep_due(Clones *cl, const char *fingerprint)
{
        int64_t now = now_real_ms();
        bool due = false, stale = false;

        pthread_mutex_lock(&cl->lock);
        if (!*cl->fingerprint) {
                pthread_mutex_unlock(&cl->lock);
                return false;
        }
        if (!streq(cl->fingerprint, fingerprint))
                due = true;
        due = due || cl->n_drops > 0;
        for (Clone *c = cl->leased; !due && c; c = c->next)
                due = !c->recorded || c->expires_ms <= now;
        if (!due) {
                int64_t target =
                        clones_pool_target(cl->config->clones_pool, cl->waiting,
                                           (int64_t) list_length(cl->leased), cl->config->clones_max);
                due = (int64_t) list_length(cl->ready) < target && !disk_low_locked(cl);
                /* Low at the last look: due again once that look is stale (the step asks anew). */
                stale = (int64_t) list_length(cl->ready) < target && disk_stale_locked(cl);
        }
        pthread_mutex_unlock(&cl->lock);
        return due || stale;
}

int clones_upkeep_urgent(Clones *cl, PGconn *conn, Error *e)
{
        int done = 0;

        for (;;) {
                Clone copy;
                bool found = false;

                pthread_mutex_lock(&cl->lock);
                for (Clone *c = cl->leased; c; c = c->next)
                        if (!c->recorded) {
                                copy = *c;
                                found = true;
                                break;
                        }
                pthread_mutex_unlock(&cl->lock);
                if (!found)
                        return done;

                json_t *meta = clone_meta(&copy, "clone");
                int r = pg_comment_database(conn, copy.name, meta, e);
                json_decref(meta);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&cl->lock);
                Clone **p = list_find(&cl->leased, copy.name);
                if (p && (*p)->leased_ms == copy.leased_ms)
                        (*p)->recorded = true;
                pthread_mutex_unlock(&cl->lock);
                done = 1;
        }
}

/*
 * CREATE DATABASE c->name from tmpl, marked as ours ("clone-new") at once,
 * open to connections and without the publication: the template carries it for
 * the working database's CDC consumers, but a clone is a test's scratch
 * database and must not look like a CDC source (its changes are nobody's
 * facts).  No slot is copied: slots belong to the cluster, not to a
 * database's files.  The caller records the clone's final comment, and drops
 * the database when this fails.
 */
static int copy_database(Clones *cl, PGconn *conn, Clone *c, const char *tmpl, Error *e)
{
        _cleanup_free_ char *fmt = xasprintf("CREATE DATABASE %%s TEMPLATE %%s%s ALLOW_CONNECTIONS = false",
                                             PQserverVersion(conn) >= 150000 ? " STRATEGY = FILE_COPY" : "");
        json_t *meta;
        int r;

        r = pg_exec_names(conn, e, fmt, c->name, tmpl);
        if (r < 0)
                return r;
        meta = clone_meta(c, "clone-new");
        r = pg_comment_database(conn, c->name, meta, e);
        json_decref(meta);
        if (r < 0)
                return r;
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", c->name, NULL);
        if (r < 0 || isempty(cl->config->publication))
                return r;
        _cleanup_pgconn_ PGconn *db = pg_connect(cl->config, c->name, "pgseedd-clones", 10, 0, e);
        if (!db)
                return -e->errnum;
        return pg_exec_names(db, e, "DROP PUBLICATION IF EXISTS %s", cl->config->publication, NULL);
}

/* CREATE DATABASE from the template, without the publication, ready to hand out. */
static int make_clone(Clones *cl, PGconn *conn, const char *tmpl, const char *fingerprint, Error *e)
{
        Clone *c = xcalloc(1, sizeof(Clone));
        int64_t t0 = now_mono_ms();
        json_t *meta;
        int r;

        random_name(cl, c->name, sizeof(c->name));
        strlcpy0(c->fingerprint, fingerprint, sizeof(c->fingerprint));
        r = copy_database(cl, conn, c, tmpl, e);
        if (r == 0) {
                meta = clone_meta(c, "clone-pool");
                r = pg_comment_database(conn, c->name, meta, e);
                json_decref(meta);
        }
        if (r < 0) {
                Error ignore = ERROR_INIT;
                pg_drop_database(conn, c->name, &ignore);
                free(c);
                return r;
        }
        int64_t ms = now_mono_ms() - t0;
        pthread_mutex_lock(&cl->lock);
        if (streq(cl->fingerprint, fingerprint)) {
                list_append(&cl->ready, c);
                c = NULL;
        } else
                drops_add_locked(cl, c->name); /* the template changed meanwhile */
        cl->counters.created_total++;
        cl->counters.last_refill_ms = ms;
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        free(c);
        wake_waiters(cl);
        metrics_clone_refill(cl->metrics, ms);
        log_debug("clones", "Made a ready clone in %lld ms", (long long) ms);
        return 0;
}

int clones_upkeep_step(Clones *cl, PGconn *conn, const char *tmpl, const char *fingerprint, Error *e)
{
        int64_t now = now_real_ms();
        char *drop = NULL;
        bool refill;
        int r;

        /* A new template: the ready clones are stale (leases keep theirs until returned). */
        clones_set_template(cl, fingerprint);
        pthread_mutex_lock(&cl->lock);
        for (Clone **p = &cl->leased; *p;) {
                Clone *c = *p;
                if (c->expires_ms <= now) {
                        *p = c->next;
                        log_info("clones", "Lease of %s expired: dropping it", c->name);
                        drops_add_locked(cl, c->name);
                        cl->counters.reclaimed_total++;
                        metrics_count(cl->metrics, METRIC_CLONES_RECLAIMED);
                        free(c);
                } else
                        p = &c->next;
        }
        if (cl->n_drops > 0)
                drop = cl->drops[--cl->n_drops];
        int64_t target = clones_pool_target(cl->config->clones_pool, cl->waiting,
                                            (int64_t) list_length(cl->leased), cl->config->clones_max);
        refill = !drop && (int64_t) list_length(cl->ready) < target;
        pthread_mutex_unlock(&cl->lock);
        if (refill) {
                disk_refresh(cl);
                pthread_mutex_lock(&cl->lock);
                refill = !disk_low_locked(cl);
                pthread_mutex_unlock(&cl->lock);
        }

        if (drop) {
                /* Only names of ours reach the list: pool names, or the set-aside copies of clone resets. */
                r = pg_drop_database(conn, drop, e);
                if (r < 0) {
                        pthread_mutex_lock(&cl->lock);
                        drops_add_locked(cl, drop);
                        pthread_mutex_unlock(&cl->lock);
                } else {
                        pthread_mutex_lock(&cl->lock);
                        cl->counters.dropped_total++;
                        pthread_mutex_unlock(&cl->lock);
                }
                free(drop);
                return r < 0 ? r : 1;
        }
        if (!refill)
                return 0;
        r = make_clone(cl, conn, tmpl, fingerprint, e);
        return r < 0 ? r : 1;
}

/*
 * A clone of another template (a snapshot), leased at once: not from the pool,
 * which holds copies of the seed template only.  The comment says "from", so
 * that a restart keeps the lease and POST /clones/NAME/reset knows it.
 */
int clones_make_from(Clones *cl, PGconn *conn, const char *tmpl, const char *from, const char *fingerprint,
                     int64_t ttl_s, json_t **ret, Error *e)
{
        Clone *c = xcalloc(1, sizeof(Clone));
        int64_t t0 = now_mono_ms();
        json_t *meta;
        int r;

        if (ttl_s <= 0)
                ttl_s = cl->config->clones_ttl;
        disk_refresh(cl);
        pthread_mutex_lock(&cl->lock);
        r = list_length(cl->leased) >= (size_t) cl->config->clones_max ? limit_error_locked(cl, e) : 0;
        if (r == 0 && disk_low_locked(cl))
                r = disk_error_locked(cl, e);
        pthread_mutex_unlock(&cl->lock);
        if (r < 0) {
                free(c);
                return r;
        }
        random_name(cl, c->name, sizeof(c->name));
        strlcpy0(c->fingerprint, fingerprint, sizeof(c->fingerprint));
        strlcpy0(c->from, from, sizeof(c->from));
        r = copy_database(cl, conn, c, tmpl, e);
        c->leased_ms = now_real_ms();
        c->ttl_s = ttl_s;
        c->expires_ms = c->leased_ms + ttl_s * 1000;
        c->recorded = true;
        if (r == 0) {
                meta = clone_meta(c, "clone");
                r = pg_comment_database(conn, c->name, meta, e);
                json_decref(meta);
        }
        if (r < 0) {
                Error ignore = ERROR_INIT;
                pg_drop_database(conn, c->name, &ignore);
                free(c);
                return r;
        }
        pthread_mutex_lock(&cl->lock);
        list_append(&cl->leased, c);
        cl->counters.leased_total++;
        json_t *o = lease_json(cl, c);
        pthread_mutex_unlock(&cl->lock);
        json_object_set_new(o, "from", json_string(from));
        json_object_set_new(o, "clone_ms", json_integer(now_mono_ms() - t0));
        *ret = o;
        return 0;
}

/* ---- clone reset ------------------------------------------------------------------ */

int clones_reset(Clones *cl, const char *name, int64_t timeout_ms, json_t **ret, Error *e)
{
        int64_t t0 = now_mono_ms(), deadline = t0 + (timeout_ms > 0 ? timeout_ms : 0);
        _cleanup_pgconn_ PGconn *conn = NULL;
        _cleanup_free_ char *aside = NULL;
        Clone **p, *fresh = NULL, *lease;
        Clone copy = {0};
        PgbouncerPause *pause = NULL;
        int r;

        if (!clone_name_valid(cl, name))
                return error_set(e, EINVAL, "invalid_name",
                                 "Clone names look like the ones POST /clones returns.",
                                 "'%s' is not a clone name: expected %s followed by %d hex digits", name,
                                 cl->prefix, NAME_HEX);
        pthread_mutex_lock(&cl->lock);
        if (!(p = list_find(&cl->leased, name))) {
                pthread_mutex_unlock(&cl->lock);
                return error_set(e, ENOENT, "unknown_clone", "GET /clones lists the leased clones.",
                                 "No leased clone named %s", name);
        }
        if (*(*p)->from) {
                char from[NAME_MAX_LEN];
                strlcpy0(from, (*p)->from, sizeof(from));
                pthread_mutex_unlock(&cl->lock);
                return error_set(
                        e, EBUSY, "clone_of_snapshot",
                        "Return it (DELETE /clones/NAME) and lease a new one with POST /clones?from=N.",
                        "%s is a clone of snapshot '%s': its reset would need that snapshot's copy, "
                        "and the pool holds the seed's only",
                        name, from);
        }
        cl->waiting++;
        kick(cl);
        while (!cl->ready && now_mono_ms() < deadline) {
                cond_timedwait_ms(&cl->cond, &cl->lock, MIN(deadline - now_mono_ms(), 100));
        }
        cl->waiting--;
        if (cl->ready) {
                fresh = cl->ready;
                cl->ready = fresh->next;
        }
        pthread_mutex_unlock(&cl->lock);
        if (!fresh)
                return error_set(e, EAGAIN, "pool_empty", "Retry, or wait longer with ?timeout=S.",
                                 "No fresh copy became ready within %lld ms", (long long) timeout_ms);
        kick(cl);

        conn = pg_connect(cl->config, "postgres", "pgseedd-clone-reset", 10, 0, e);
        if (!conn) {
                r = -e->errnum;
                goto fail;
        }
        aside = xasprintf("%s%016llx", cl->trash_prefix, (unsigned long long) now_mono_us());
        pause = pgbouncer_pause(cl->pgbouncer, name, PGBOUNCER_PAUSE_MS);
        r = pg_exec_names(conn, e, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", name, NULL);
        if (r == 0)
                r = pg_terminate_sessions(conn, name, e);
        pthread_mutex_lock(&cl->lock);
        p = list_find(&cl->leased, name);
        if (p)
                copy = **p;
        pthread_mutex_unlock(&cl->lock);
        if (!p) {
                r = error_set(e, ENOENT, "unknown_clone", NULL, "The lease of %s ended meanwhile", name);
                goto fail;
        }
        strlcpy0(copy.fingerprint, fresh->fingerprint, sizeof(copy.fingerprint));
        copy.recorded = true;
        /* One transaction: the clone's name always names a complete database, old or new. */
        if (r == 0)
                r = pg_exec(conn, "BEGIN", e);
        if (r == 0)
                r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", name, aside);
        if (r == 0)
                r = pg_exec_names(conn, e, "ALTER DATABASE %s RENAME TO %s", fresh->name, name);
        if (r == 0) {
                json_t *meta = clone_meta(&copy, "clone");
                r = pg_comment_database(conn, name, meta, e);
                json_decref(meta);
        }
        if (r == 0)
                r = pg_exec(conn, "COMMIT", e);
        if (r < 0) {
                Error ignore = ERROR_INIT;
                pg_exec(conn, "ROLLBACK", &ignore);
                pg_exec_names(conn, &ignore, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", name, NULL);
                goto fail;
        }
        pgbouncer_resume(TAKE_PTR(pause));
        pthread_mutex_lock(&cl->lock);
        drops_add_locked(cl, aside);
        p = list_find(&cl->leased, name);
        lease = p ? *p : NULL;
        if (lease) {
                strlcpy0(lease->fingerprint, fresh->fingerprint, sizeof(lease->fingerprint));
                lease->recorded = lease->leased_ms == copy.leased_ms;
        }
        json_t *o = lease_json(cl, lease ? lease : &copy);
        pthread_mutex_unlock(&cl->lock);
        free(fresh);
        kick(cl);
        json_object_set_new(o, "duration_ms", json_integer(now_mono_ms() - t0));
        *ret = o;
        return 0;

fail:
        pgbouncer_resume(pause);
        /* The fresh copy was not used: back into the pool (it is untouched). */
        pthread_mutex_lock(&cl->lock);
        fresh->next = cl->ready;
        cl->ready = fresh;
        pthread_cond_broadcast(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        wake_waiters(cl);
        return r;
}
