/* SPDX-License-Identifier: MIT */
/* lifecycle.c -- the database lifecycle worker: a queue of jobs, coalesced waiters, upkeep between jobs. */

#include "lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define UPKEEP_IDLE_MS 1000 /* how often upkeep looks for work when it found none */

typedef struct Job Job;

struct JobWaiter {
        Lifecycle *l;
        Job *job;
        JobNotify notify;
        void *userdata;
        int64_t deadline_mono; /* 0 = none */
        bool coalesced;
        bool notified; /* decided: done or timed out */
        bool timed_out;
        bool notify_done; /* the notify call returned (job_waiter_free waits for it) */
        pthread_t notifier;
        JobWaiter *next;
};

struct Job {
        JobKind kind;
        ResetMode mode;
        char *tables;        /* JOB_RESET: the tables asked for (canonical list), NULL for all */
        JobArgs args;
        int64_t queued_mono; /* when it was queued */
        unsigned refs;       /* the queue or the worker: 1; each waiter: 1 */
        bool done;
        int r;
        Error e;
        json_t *result;
        JobWaiter *waiters;
        Job *next;
};

struct Lifecycle {
        const LifecycleOps *ops;
        void *ctx;
        LifecycleChanged changed;
        void *changed_userdata;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock; /* guards everything below, and all Jobs and JobWaiters */
        pthread_cond_t cond;  /* CLOCK_MONOTONIC: work queued, stop, a waiter notified */
        bool stopping;
        bool allow_upkeep;
        int64_t next_upkeep_mono;
        Job *queue, *queue_tail;
        Job *current;
        uint64_t epoch;
        bool repair_needed; /* a job failed in a way that may have left something to repair */
        Metrics *metrics;
        void (*reset_hook)(void *userdata);
        void *reset_hook_userdata;
};

static const char *const kind_names[_JOB_KIND_MAX] = {
        [JOB_ENSURE] = "ensure",
        [JOB_RESET] = "reset",
        [JOB_SNAPSHOT] = "snapshot",
};

const char *job_kind_to_string(JobKind k)
{
        return k < _JOB_KIND_MAX ? kind_names[k] : "unknown";
}

Lifecycle *lifecycle_new(const LifecycleOps *ops, void *ctx, LifecycleChanged changed, void *userdata)
{
        Lifecycle *l = xcalloc(1, sizeof(Lifecycle));

        l->ops = ops;
        l->ctx = ctx;
        l->changed = changed;
        l->changed_userdata = userdata;
        pthread_mutex_init(&l->lock, NULL);
        cond_init_monotonic(&l->cond);
        return l;
}

static void job_unref_locked(Job *j)
{
        if (!j || --j->refs > 0)
                return;
        if (j->args.fd >= 0)
                close(j->args.fd);
        json_decref(j->result);
        free(j->tables);
        free(j);
}

void lifecycle_free(Lifecycle *l)
{
        if (!l)
                return;
        lifecycle_stop(l);
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

/* ---- waiters ------------------------------------------------------------- */

/* Waiters decided under the lock, to be notified once it is released. */
typedef struct Batch {
        JobWaiter **w;
        size_t n, cap;
} Batch;

static void batch_add(Batch *b, JobWaiter *w)
{
        if (b->n == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 8;
                b->w = xrealloc(b->w, b->cap * sizeof(JobWaiter *));
        }
        b->w[b->n++] = w;
}

/* Calls the notify functions collected under the lock, without it, then marks them returned. */
static void batch_notify(Lifecycle *l, Batch *b)
{
        for (size_t i = 0; i < b->n; i++) {
                JobWaiter *w = b->w[i];

                if (w->notify)
                        w->notify(w->userdata);
        }
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < b->n; i++)
                b->w[i]->notify_done = true;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        free(b->w);
        *b = (Batch){0};
}

static void decide_locked(JobWaiter *w, bool timed_out, Batch *b)
{
        w->notified = true;
        w->timed_out = timed_out;
        w->notifier = pthread_self();
        batch_add(b, w);
}

/* Whether a new job (kind, mode, tables, args) may share q's result. */
static bool job_joins(const Job *q, JobKind kind, ResetMode mode, const char *tables, const JobArgs *args)
{
        if (q->kind != kind || kind == JOB_SNAPSHOT)
                return false;
        if (kind != JOB_RESET)
                return true;
        return q->mode == mode && streq_ptr(q->tables, tables) && streq(q->args.name, args ? args->name : "");
}

static JobWaiter *submit(Lifecycle *l, JobKind kind, ResetMode mode, const char *tables, const JobArgs *args,
                         int64_t timeout_ms, JobNotify notify, void *userdata)
{
        JobWaiter *w = xcalloc(1, sizeof(JobWaiter));
        Batch batch = {0};
        Job *j = NULL;
        bool preempt = false;

        w->l = l;
        w->notify = notify;
        w->userdata = userdata;
        w->deadline_mono = timeout_ms > 0 ? now_mono_ms() + timeout_ms : 0;

        pthread_mutex_lock(&l->lock);
        /* Join a job of the same kind that has not finished: its result answers this request too. */
        if (l->current && job_joins(l->current, kind, mode, tables, args))
                j = l->current;
        for (Job *q = l->queue; !j && q; q = q->next)
                if (job_joins(q, kind, mode, tables, args))
                        j = q;
        if (j) {
                w->coalesced = true;
                if (args && args->fd >= 0)
                        close(args->fd);
        } else {
                j = xcalloc(1, sizeof(Job));
                j->kind = kind;
                j->mode = mode;
                j->tables = tables ? xstrdup(tables) : NULL;
                if (args)
                        j->args = *args;
                else
                        j->args.fd = -1;
                j->queued_mono = now_mono_ms();
                j->refs = 1;
                if (l->stopping) {
                        /* Never queued: answered at once. */
                        j->done = true;
                        j->r = error_set(&j->e, ECANCELED, "shutting_down", NULL,
                                         "pgseedd is shutting down");
                } else {
                        if (l->queue_tail)
                                l->queue_tail->next = j;
                        else
                                l->queue = j;
                        l->queue_tail = j;
                        /* Nothing ahead of it but perhaps an upkeep step. */
                        preempt = !l->current && l->queue == j;
                }
        }
        j->refs++;
        w->job = j;
        w->next = j->waiters;
        j->waiters = w;
        if (j->done) {
                decide_locked(w, false, &batch);
                job_unref_locked(j); /* the never-queued job's own reference */
        }
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        if (preempt && l->ops->preempt)
                l->ops->preempt(l->ctx, kind, mode);
        batch_notify(l, &batch);
        return w;
}

JobWaiter *lifecycle_submit(Lifecycle *l, JobKind kind, ResetMode mode, int64_t timeout_ms, JobNotify notify,
                            void *userdata)
{
        return submit(l, kind, mode, NULL, NULL, timeout_ms, notify, userdata);
}

JobWaiter *lifecycle_submit_reset(Lifecycle *l, ResetMode mode, const char *tables, int64_t timeout_ms,
                                  JobNotify notify, void *userdata)
{
        return submit(l, JOB_RESET, mode, tables, NULL, timeout_ms, notify, userdata);
}

JobWaiter *lifecycle_submit_args(Lifecycle *l, JobKind kind, ResetMode mode, const JobArgs *args,
                                 int64_t timeout_ms, JobNotify notify, void *userdata)
{
        return submit(l, kind, mode, NULL, args, timeout_ms, notify, userdata);
}

void lifecycle_expire(Lifecycle *l)
{
        int64_t now = now_mono_ms();
        Batch batch = {0};

        pthread_mutex_lock(&l->lock);
        for (Job *j = l->current ? l->current : l->queue; j; j = j == l->current ? l->queue : j->next)
                for (JobWaiter *w = j->waiters; w; w = w->next)
                        if (!w->notified && w->deadline_mono && now >= w->deadline_mono)
                                decide_locked(w, true, &batch);
        pthread_mutex_unlock(&l->lock);
        if (batch.n)
                batch_notify(l, &batch);
}

void job_waiter_wait(JobWaiter *w)
{
        Lifecycle *l = w->l;

        pthread_mutex_lock(&l->lock);
        while (!w->notified) {
                /* Bounded waits, so a waiter with a deadline expires even when nobody calls
                 * lifecycle_expire. */
                cond_timedwait_ms(&l->cond, &l->lock, 100);
                if (!w->notified && w->deadline_mono && now_mono_ms() >= w->deadline_mono) {
                        Batch batch = {0};

                        decide_locked(w, true, &batch);
                        pthread_mutex_unlock(&l->lock);
                        batch_notify(l, &batch);
                        pthread_mutex_lock(&l->lock);
                }
        }
        pthread_mutex_unlock(&l->lock);
}

int job_waiter_result(JobWaiter *w, json_t **ret, Error *e)
{
        Lifecycle *l = w->l;
        int r;

        if (ret)
                *ret = NULL;
        pthread_mutex_lock(&l->lock);
        if (!w->notified)
                r = error_set(e, EINPROGRESS, NULL, NULL, "The %s has not finished",
                              job_kind_to_string(w->job->kind));
        else if (w->timed_out)
                r = error_set(e, ETIMEDOUT, "timeout",
                              "It goes on in the background; GET /health shows when it is done.",
                              "The %s did not finish in time", job_kind_to_string(w->job->kind));
        else if (w->job->r < 0) {
                *e = w->job->e;
                r = w->job->r;
        } else {
                if (ret)
                        *ret = json_incref(w->job->result);
                r = 0;
        }
        pthread_mutex_unlock(&l->lock);
        return r;
}

bool job_waiter_coalesced(const JobWaiter *w)
{
        return w->coalesced;
}

void job_waiter_free(JobWaiter *w)
{
        Lifecycle *l;

        if (!w)
                return;
        l = w->l;
        pthread_mutex_lock(&l->lock);
        /* A notify in flight still uses w: wait for it to return, unless this is that notify calling. */
        while (w->notified && !w->notify_done && !pthread_equal(w->notifier, pthread_self()))
                pthread_cond_wait(&l->cond, &l->lock);
        for (JobWaiter **p = &w->job->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        job_unref_locked(w->job);
        pthread_mutex_unlock(&l->lock);
        free(w);
}

/* ---- the worker ------------------------------------------------------------ */

void lifecycle_set_metrics(Lifecycle *l, Metrics *m)
{
        l->metrics = m;
}

void lifecycle_set_reset_hook(Lifecycle *l, void (*hook)(void *userdata), void *userdata)
{
        l->reset_hook = hook;
        l->reset_hook_userdata = userdata;
}

/* Counted per job, not per request: coalesced requests share one reset. */
static void reset_count(Lifecycle *l, const Job *j, int r, const Error *e, int64_t ms)
{
        MetricResetOutcome outcome = METRIC_RESET_OK;

        if (r < 0)
                outcome = e->errnum == EBUSY || e->errnum == EAGAIN || e->errnum == ECANCELED
                                  ? METRIC_RESET_REFUSED
                                  : METRIC_RESET_FAILED;
        metrics_reset_finished(l->metrics, j->mode == RESET_INPLACE ? "inplace" : "template", outcome,
                               *e->code ? e->code : error_code_for_errno(e->errnum), ms);
}

static void run_job(Lifecycle *l, Job *j)
{
        Error e = ERROR_INIT;
        json_t *result = NULL;
        int64_t t0 = now_mono_ms();
        int r;

        if (j->kind == JOB_ENSURE)
                r = l->ops->ensure(l->ctx, &e);
        else {
                /* Generated changes must not race a restore (from the seed or a snapshot). */
                if (j->kind == JOB_RESET && l->reset_hook)
                        l->reset_hook(l->reset_hook_userdata);
                if (j->kind == JOB_SNAPSHOT || *j->args.name)
                        r = l->ops->snapshot ? l->ops->snapshot(l->ctx, j->kind, &j->args, &result, &e)
                                             : error_set(&e, EOPNOTSUPP, NULL, NULL,
                                                         "Snapshots are not supported");
                else
                        r = l->ops->reset(l->ctx, j->mode, j->tables, &result, &e);
        }
        /* How long it waited for the worker (behind another job or one upkeep step). */
        if (json_is_object(result))
                json_object_set_new(result, "queued_ms", json_integer(t0 - j->queued_mono));
        log_debug("lifecycle", "%s finished in %lld ms: %s", job_kind_to_string(j->kind),
                  (long long) (now_mono_ms() - t0), r < 0 ? e.message : "ok");
        if (j->kind == JOB_RESET)
                reset_count(l, j, r, &e, now_mono_ms() - t0);

        pthread_mutex_lock(&l->lock);
        /* Refusals (busy, not ready) and shutdown changed nothing; any other failure may have (a failed
         * ensure is retried by the supervisor anyway). */
        if (r < 0 && j->kind == JOB_RESET && e.errnum != EBUSY && e.errnum != EAGAIN &&
            e.errnum != ECANCELED && e.errnum != ENOENT && e.errnum != EINVAL)
                l->repair_needed = true;
        /* A snapshot's refusals (a taken or unknown name, limits) changed nothing; its failures say EIO. */
        if (r < 0 && j->kind == JOB_SNAPSHOT && e.errnum == EIO)
                l->repair_needed = true;
        j->r = r;
        j->e = e;
        j->result = result;
        j->done = true;
        pthread_mutex_unlock(&l->lock);
}

static void notify_changed(Lifecycle *l)
{
        if (l->changed)
                l->changed(l->changed_userdata);
}

static void *lifecycle_main(void *arg)
{
        Lifecycle *l = arg;

        pthread_mutex_lock(&l->lock);
        while (!l->stopping) {
                Job *j = l->queue;
                Batch batch = {0};

                if (j) {
                        l->queue = j->next;
                        if (!l->queue)
                                l->queue_tail = NULL;
                        j->next = NULL;
                        l->current = j;
                        l->epoch++;
                        pthread_mutex_unlock(&l->lock);
                        notify_changed(l);

                        run_job(l, j);

                        pthread_mutex_lock(&l->lock);
                        l->current = NULL;
                        l->epoch++;
                        for (JobWaiter *w = j->waiters; w; w = w->next)
                                if (!w->notified)
                                        decide_locked(w, false, &batch);
                        /* After a job, upkeep (the next reset's copy, say) is due at once. */
                        l->next_upkeep_mono = 0;
                        pthread_mutex_unlock(&l->lock);
                        /* The state first, so that a waiter answered next finds it current. */
                        notify_changed(l);
                        batch_notify(l, &batch);
                        pthread_mutex_lock(&l->lock);
                        job_unref_locked(j);
                        continue;
                }
                if (l->allow_upkeep && now_mono_ms() >= l->next_upkeep_mono) {
                        bool more;

                        pthread_mutex_unlock(&l->lock);
                        more = l->ops->upkeep(l->ctx);
                        pthread_mutex_lock(&l->lock);
                        l->next_upkeep_mono = more ? 0 : now_mono_ms() + UPKEEP_IDLE_MS;
                        continue;
                }
                cond_timedwait_ms(&l->cond, &l->lock, UPKEEP_IDLE_MS);
        }
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

int lifecycle_start(Lifecycle *l, Error *e)
{
        int r = pthread_create(&l->thread, NULL, lifecycle_main, l);

        if (r != 0)
                return error_set(e, r, NULL, NULL, "Cannot start the lifecycle worker: %s", strerror(r));
        l->thread_started = true;
        return 0;
}

void lifecycle_stop(Lifecycle *l)
{
        Batch batch = {0};

        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        /* Whatever is still queued will not run: tell its waiters now. */
        while (l->queue) {
                Job *j = l->queue;

                l->queue = j->next;
                j->done = true;
                j->r = error_set(&j->e, ECANCELED, "shutting_down", NULL, "pgseedd is shutting down");
                for (JobWaiter *w = j->waiters; w; w = w->next)
                        if (!w->notified)
                                decide_locked(w, false, &batch);
                job_unref_locked(j);
        }
        l->queue_tail = NULL;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        batch_notify(l, &batch);

        if (l->ops->cancel)
                l->ops->cancel(l->ctx);
        /* Main and supervisor threads may both stop it at shutdown: only one joins. */
        pthread_mutex_lock(&l->lock);
        bool join = l->thread_started;
        l->thread_started = false;
        pthread_mutex_unlock(&l->lock);
        if (join)
                pthread_join(l->thread, NULL);
}

void lifecycle_kick(Lifecycle *l)
{
        pthread_mutex_lock(&l->lock);
        l->next_upkeep_mono = 0;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
}

void lifecycle_allow_upkeep(Lifecycle *l, bool allow)
{
        pthread_mutex_lock(&l->lock);
        if (allow && !l->allow_upkeep)
                pthread_cond_broadcast(&l->cond);
        l->allow_upkeep = allow;
        pthread_mutex_unlock(&l->lock);
}

bool lifecycle_current(Lifecycle *l, JobKind *kind, ResetMode *mode, uint64_t *epoch)
{
        bool busy;

        pthread_mutex_lock(&l->lock);
        busy = l->current != NULL;
        if (busy && kind)
                *kind = l->current->kind;
        if (busy && mode)
                *mode = l->current->mode;
        if (epoch)
                *epoch = l->epoch;
        pthread_mutex_unlock(&l->lock);
        return busy;
}

bool lifecycle_repair_pending(Lifecycle *l)
{
        pthread_mutex_lock(&l->lock);
        bool r = l->repair_needed;
        pthread_mutex_unlock(&l->lock);
        return r;
}

bool lifecycle_take_repair(Lifecycle *l)
{
        pthread_mutex_lock(&l->lock);
        bool r = l->repair_needed;
        l->repair_needed = false;
        pthread_mutex_unlock(&l->lock);
        return r;
}
