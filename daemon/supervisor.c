/* SPDX-License-Identifier: MIT */
/* supervisor.c -- start Postgres, probe it, have it seeded, restart it with backoff when it dies. */

#include "supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "clones.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "runtime.h"
#include "seed.h"
#include "workload.h"

#define TICK_MS            250
#define PROBE_INTERVAL_MS  1000
#define COUNTS_INTERVAL_MS 5000
#define BACKOFF_MIN_MS     500
#define BACKOFF_MAX_MS     30000
#define SEED_BACKOFF_MS    2000
#define STABLE_MS          60000  /* ready this long resets the backoff */
#define START_TIMEOUT_MS   120000 /* not accepting connections after this long: restart */

typedef enum ServerPhase {
        SERVER_OFF,      /* not launched, or found dead */
        SERVER_STARTING, /* launched, no probe answered yet */
        SERVER_UP,       /* a probe answered since the launch */
} ServerPhase;

typedef struct SupInputs {
        ServerPhase server;
        char server_detail[512]; /* why it is off, or what starting waits for */
        bool status_unknown;     /* the runtime could not tell whether the server runs */
        char status_detail[512];
        bool probe_ok;
        char probe_error[600];
        bool seeded;
        bool seed_failed;
        char seed_error[700];
        char auth_error[700]; /* the configured password is refused and could not be set */
        char cause[512];      /* what the runtime sees behind a failure (a full disk), or "" */
} SupInputs;

/*
 * The state is never set directly: supervisor_tick() gathers its inputs (the
 * server's phase, the last probe, the dataset, the lifecycle worker's job)
 * and publish_state() derives the one state they mean.  So no transition can
 * be lost to a guard, and the rules are in one function.
 */
struct Supervisor {
        Daemon *d;
        SupervisorHooks hooks;
        Lifecycle *lifecycle;
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock; /* guards the fields down to `heartbeat_mono` */
        pthread_cond_t cond;  /* CLOCK_MONOTONIC */
        bool stop_requested;
        bool wake_requested;
        SupState state;
        char reason[768];
        int64_t state_since_ms;
        int64_t checked_at_ms;
        int64_t ready_since_ms;
        unsigned restarts;
        char runtime_id[80];
        json_t *facts;
        int64_t reset_since_ms; /* realtime start of the running reset, 0 = none */
        ResetMode reset_mode;
        int64_t heartbeat_mono;

        /*
         * What the state is derived from.  Written by the supervisor thread
         * only, always under the lock (it works on a copy during a tick and
         * stores it back), so that the lifecycle worker can re-derive the state
         * the moment a job starts or ends.
         */
        SupInputs in;

        /* Supervisor thread only (supervisor_tick). */
        Probe *probe;
        JobWaiter *ensure; /* the seeding job in flight */
        int64_t started_mono;
        int64_t next_start_mono;
        int64_t next_seed_mono;
        int64_t last_probe_mono;
        int64_t last_counts_mono;
        int64_t backoff_ms;
        int64_t seed_backoff_ms;
        bool counts_dirty;
        uint64_t seen_epoch; /* the lifecycle's epoch at the last probe */
        bool notified_ready;
};

static const char *const state_names[_SUP_STATE_MAX] = {
        [SUP_STARTING] = "starting",   [SUP_SEEDING] = "seeding",   [SUP_READY] = "ready",
        [SUP_RESETTING] = "resetting", [SUP_DEGRADED] = "degraded", [SUP_DOWN] = "down",
        [SUP_STOPPING] = "stopping",
};

const char *sup_state_to_string(SupState s)
{
        return s < _SUP_STATE_MAX ? state_names[s] : "unknown";
}

static int64_t real_now_mono(void *ctx)
{
        return now_mono_ms();
}

static int real_probe(void *ctx, bool with_counts, json_t **ret, Error *e)
{
        Supervisor *s = ctx;

        /* After a seed or a job the rows changed wholesale (the statistics may not know yet): count all. */
        if (with_counts && s->counts_dirty)
                probe_forget_counts(s->probe);
        return probe_run(s->probe, with_counts, ret, e);
}

static int64_t clock_now(Supervisor *s)
{
        return s->hooks.now_mono(s->hooks.ctx);
}

static SupState publish_locked(Supervisor *s);

/* On the worker thread, as a job starts or ends: the state changes now, not at the next tick. */
static void lifecycle_changed(void *userdata)
{
        Supervisor *s = userdata;

        pthread_mutex_lock(&s->lock);
        publish_locked(s);
        s->wake_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

/* On the lifecycle worker as a reset starts: generated changes must not race the restore. */
static void reset_starting(void *userdata)
{
        Daemon *d = userdata;

        if (d->workload)
                workload_stop(d->workload, "a reset started");
}

Supervisor *supervisor_new(Daemon *d, const SupervisorHooks *hooks)
{
        Supervisor *s = xcalloc(1, sizeof(Supervisor));

        s->d = d;
        if (hooks)
                s->hooks = *hooks;
        if (!s->hooks.now_mono)
                s->hooks.now_mono = real_now_mono;
        if (!s->hooks.probe) {
                s->hooks.probe = real_probe;
                s->hooks.ctx = s;
        }
        if (!s->hooks.lifecycle_ops) {
                s->hooks.lifecycle_ops = lifecycle_seeder_ops();
                s->hooks.lifecycle_ctx = d->seeder;
        }
        s->lifecycle = lifecycle_new(s->hooks.lifecycle_ops, s->hooks.lifecycle_ctx, lifecycle_changed, s);
        lifecycle_set_metrics(s->lifecycle, d->metrics);
        lifecycle_set_reset_hook(s->lifecycle, reset_starting, d);
        pthread_mutex_init(&s->lock, NULL);
        cond_init_monotonic(&s->cond);
        s->probe = probe_new(d->config);
        s->state = SUP_STARTING;
        strlcpy0(s->reason, "pgseedd is starting", sizeof(s->reason));
        s->state_since_ms = now_real_ms();
        s->heartbeat_mono = now_mono_ms();
        s->backoff_ms = BACKOFF_MIN_MS;
        s->seed_backoff_ms = SEED_BACKOFF_MS;
        return s;
}

void supervisor_free(Supervisor *s)
{
        if (!s)
                return;
        supervisor_stop(s);
        job_waiter_free(s->ensure);
        lifecycle_free(s->lifecycle);
        probe_free(s->probe);
        json_decref(s->facts);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

/* ---- the state, derived ------------------------------------------------------- */

/* Publishes state and reason, logging and telling systemd only when either changed.  Lock held. */
static void set_state_locked(Supervisor *s, SupState state, const char *reason)
{
        char fields[256] = "";

        if (s->state == state && streq(s->reason, reason))
                return;
        if (s->state != state) {
                s->state_since_ms = now_real_ms();
                s->ready_since_ms = state == SUP_READY ? s->state_since_ms : 0;
                metrics_state_changed(s->d->metrics, state);
        }
        s->state = state;
        strlcpy0(s->reason, reason, sizeof(s->reason));

        log_field(fields, sizeof(fields), "state", state_names[state]);
        log_event(state == SUP_DOWN || state == SUP_DEGRADED ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, "state",
                  fields, "%s", reason);
        sd_notifyf(0, "STATUS=%s: %s", state_names[state], reason);
        if (state == SUP_READY && !s->notified_ready) {
                s->notified_ready = true;
                sd_notify(0, "READY=1");
        }
}

/* The one place that says what the inputs mean. */
static SupState derive_state_plain(const SupInputs *in, bool busy, JobKind kind, ResetMode mode, bool repair,
                                   const Config *c, char *reason, size_t size)
{
        if (in->server == SERVER_OFF) {
                strlcpy0(reason, in->server_detail, size);
                return SUP_DOWN;
        }
        if (in->status_unknown) {
                snprintf(reason, size, "Cannot check Postgres: %s", in->status_detail);
                return SUP_DEGRADED;
        }
        /*
         * A reset works on a database that keeps serving: in place it is one
         * transaction, from the template a rename in one transaction.  It is
         * `ready` (with the reset as a sub-status) unless there is no usable
         * database to serve, e.g. a reset queued behind a failed seeding.
         */
        if (busy && kind == JOB_RESET &&
            (in->server == SERVER_STARTING || !in->probe_ok || in->seed_failed || !in->seeded)) {
                snprintf(reason, size, "restoring the seeded state (%s)",
                         mode == RESET_INPLACE ? "in place" : "from the template");
                return SUP_RESETTING;
        }
        if (in->server == SERVER_STARTING) {
                strlcpy0(reason, in->server_detail, size);
                return SUP_STARTING;
        }
        if (!in->probe_ok && *in->auth_error) {
                strlcpy0(reason, in->auth_error, size);
                return SUP_DEGRADED;
        }
        if (!in->probe_ok) {
                snprintf(reason, size, "Postgres runs but does not answer: %s", in->probe_error);
                return SUP_DEGRADED;
        }
        if (busy && kind == JOB_ENSURE) {
                strlcpy0(reason, "building the dataset", size);
                return SUP_SEEDING;
        }
        if (repair) {
                strlcpy0(reason, "checking the databases: a failed operation may have left them incomplete",
                         size);
                return SUP_SEEDING;
        }
        if (in->seed_failed) {
                strlcpy0(reason, in->seed_error, size);
                return SUP_DEGRADED;
        }
        if (!in->seeded) {
                strlcpy0(reason, "building the dataset", size);
                return SUP_SEEDING;
        }
        snprintf(reason, size, "accepting connections on %s:%d; dataset seeded%s", c->pg_host, c->pg_port,
                 !(busy && kind == JOB_RESET) ? ""
                 : mode == RESET_INPLACE      ? "; resetting in place"
                                              : "; resetting from the template");
        return SUP_READY;
}

/* The same, with the cause the runtime sees (a full disk) said first when it is down or degraded. */
static SupState derive_state(const SupInputs *in, bool busy, JobKind kind, ResetMode mode, bool repair,
                             const Config *c, char *reason, size_t size)
{
        SupState state = derive_state_plain(in, busy, kind, mode, repair, c, reason, size);

        if ((state == SUP_DOWN || state == SUP_DEGRADED) && *in->cause) {
                _cleanup_free_ char *original = xstrdup(reason);
                snprintf(reason, size, "%s (%s)", in->cause, original);
        }
        return state;
}

/*
 * Derives and publishes the state from the stored inputs and the worker's
 * job.  Lock held.  Returns the state.
 */
static SupState publish_locked(Supervisor *s)
{
        char reason[768];
        JobKind kind = JOB_ENSURE;
        ResetMode mode = RESET_TEMPLATE;
        bool busy = lifecycle_current(s->lifecycle, &kind, &mode, NULL);
        SupState state;

        if (s->stop_requested)
                return s->state;
        state = derive_state(&s->in, busy, kind, mode, lifecycle_repair_pending(s->lifecycle),
                             s->d->config, reason, sizeof(reason));
        if (busy && kind == JOB_RESET) {
                if (!s->reset_since_ms || s->reset_mode != mode)
                        s->reset_since_ms = now_real_ms();
                s->reset_mode = mode;
        } else
                s->reset_since_ms = 0;
        set_state_locked(s, state, reason);
        if (state == SUP_READY && now_real_ms() - s->ready_since_ms > STABLE_MS)
                s->backoff_ms = BACKOFF_MIN_MS;
        return state;
}

/*
 * Stores the tick's inputs and publishes the state they mean.  A failure is
 * first shown to the runtime, which may know its cause (statvfs, the server
 * log): that happens here, on the supervisor thread, not under the lock.
 */
static void publish_state(Supervisor *s, SupInputs *in)
{
        char reason[768];
        SupState state =
                derive_state_plain(in, lifecycle_current(s->lifecycle, NULL, NULL, NULL), JOB_ENSURE,
                                   RESET_TEMPLATE, false, s->d->config, reason, sizeof(reason));

        in->cause[0] = '\0';
        if (state == SUP_DOWN || state == SUP_DEGRADED)
                runtime_explain_failure(s->d->runtime, reason, in->cause, sizeof(in->cause));

        pthread_mutex_lock(&s->lock);
        s->in = *in;
        state = publish_locked(s);
        pthread_mutex_unlock(&s->lock);
        /* Upkeep (the next reset's copy) only while nothing else needs the server. */
        lifecycle_allow_upkeep(s->lifecycle, state == SUP_READY);
}

/* ---- one tick ----------------------------------------------------------------- */

static int64_t next_backoff(int64_t *backoff)
{
        int64_t b = *backoff;

        *backoff = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
        return b;
}

/* Forgets everything learnt about the server that was (restarts start from scratch). */
static void server_lost(Supervisor *s, SupInputs *in)
{
        in->server = SERVER_OFF;
        in->probe_ok = false;
        in->seeded = false;
        in->seed_failed = false;
        probe_disconnect(s->probe);
        pthread_mutex_lock(&s->lock);
        json_decref(s->facts);
        s->facts = NULL;
        pthread_mutex_unlock(&s->lock);
}

static void tick_start(Supervisor *s, SupInputs *in, int64_t now)
{
        Error e = ERROR_INIT;
        int64_t wait;

        if (now < s->next_start_mono)
                return;
        if (runtime_start(s->d->runtime, &e) < 0) {
                wait = next_backoff(&s->backoff_ms);
                s->next_start_mono = now + wait;
                /* A server someone else owns is not ours to start: its start() only looks whether it answers. */
                if (runtime_owns_server(s->d->runtime))
                        bufprintf(in->server_detail, sizeof(in->server_detail),
                                  "Cannot start Postgres: %s; retrying in %.1f s", e.message, wait / 1000.0);
                else
                        bufprintf(in->server_detail, sizeof(in->server_detail), "%s; checking again in %.1f s",
                                  e.message, wait / 1000.0);
                return;
        }
        in->server = SERVER_STARTING;
        s->started_mono = now;
        s->last_probe_mono = 0;
        strlcpy0(in->server_detail, "waiting for Postgres to accept connections", sizeof(in->server_detail));
}

/* Returns true when the server process/container runs. */
static bool tick_liveness(Supervisor *s, SupInputs *in, int64_t now)
{
        RuntimeStatus st = {0};
        int64_t wait;

        if (runtime_status(s->d->runtime, &st) < 0) {
                /* We cannot tell (the Docker engine does not answer): say so, but do not restart what may
                 * run. */
                in->status_unknown = true;
                strlcpy0(in->status_detail, st.detail, sizeof(in->status_detail));
                return false;
        }
        in->status_unknown = false;
        pthread_mutex_lock(&s->lock);
        strlcpy0(s->runtime_id, st.id, sizeof(s->runtime_id));
        pthread_mutex_unlock(&s->lock);
        if (st.running)
                return true;

        server_lost(s, in);
        wait = next_backoff(&s->backoff_ms);
        s->next_start_mono = now + wait;
        if (!runtime_owns_server(s->d->runtime)) {
                /* Its owner brings it back, not pgseedd: wait for it, with the same backoff, and say so. */
                bufprintf(in->server_detail, sizeof(in->server_detail),
                          "%s; waiting for it to come back (pgseedd does not restart a server it does not "
                          "own), checking again in %.1f s",
                          st.detail, wait / 1000.0);
                return false;
        }
        pthread_mutex_lock(&s->lock);
        s->restarts++;
        pthread_mutex_unlock(&s->lock);
        metrics_count(s->d->metrics, METRIC_RESTARTS);
        bufprintf(in->server_detail, sizeof(in->server_detail), "%s; restarting in %.1f s", st.detail,
                  wait / 1000.0);
        return false;
}

static void store_facts(Supervisor *s, json_t *facts, bool with_counts)
{
        pthread_mutex_lock(&s->lock);
        /* Facts without counts keep the last counts: they are refreshed every few seconds only. */
        if (!with_counts && s->facts && json_object_get(s->facts, "tables"))
                json_object_set(facts, "tables", json_object_get(s->facts, "tables"));
        json_decref(s->facts);
        s->facts = facts;
        s->checked_at_ms = now_real_ms();
        pthread_mutex_unlock(&s->lock);
}

static void tick_probe(Supervisor *s, SupInputs *in, int64_t now, bool wake)
{
        Error e = ERROR_INIT;
        json_t *facts = NULL;
        uint64_t epoch_before, epoch_after;
        bool with_counts;
        int r;

        if (!wake && !s->counts_dirty && s->last_probe_mono && now - s->last_probe_mono < PROBE_INTERVAL_MS)
                return;
        /*
         * While the worker changes databases, what a probe sees is half-way
         * (the working database renamed aside for a moment): do not look, and
         * discard a look that overlapped a job.
         */
        if (lifecycle_current(s->lifecycle, NULL, NULL, &epoch_before))
                return;
        /* A job ran since the last look: the rows changed, count them again. */
        if (epoch_before != s->seen_epoch) {
                s->seen_epoch = epoch_before;
                s->counts_dirty = true;
        }
        with_counts = in->seeded && (s->counts_dirty || now - s->last_counts_mono >= COUNTS_INTERVAL_MS);
        r = s->hooks.probe(s->hooks.ctx, with_counts, &facts, &e);
        if (lifecycle_current(s->lifecycle, NULL, NULL, &epoch_after) || epoch_after != epoch_before) {
                json_decref(facts);
                return;
        }
        s->last_probe_mono = now;
        in->auth_error[0] = '\0';
        if (r < 0 && streq(e.code, "auth_failed")) {
                /* Another password than the cluster was made with: set it (a restart cannot help). */
                Error re = ERROR_INIT;

                in->server = SERVER_UP; /* it answered, refusing the password */
                in->probe_ok = false;
                strlcpy0(in->probe_error, e.message, sizeof(in->probe_error));
                if (runtime_repair_auth(s->d->runtime, &re) == 0) {
                        log_warning("password",
                                    "Postgres refused the configured password for role %s; pgseedd set the "
                                    "role's password to it",
                                    s->d->config->pg_user);
                        s->last_probe_mono = 0;
                } else
                        bufprintf(in->auth_error, sizeof(in->auth_error), "%s. %s", re.message, re.hint);
                return;
        }
        if (r < 0) {
                in->probe_ok = false;
                strlcpy0(in->probe_error, e.message, sizeof(in->probe_error));
                if (in->server == SERVER_STARTING) {
                        if (now - s->started_mono > START_TIMEOUT_MS && runtime_owns_server(s->d->runtime)) {
                                Error stop_err = ERROR_INIT;
                                log_warning("start_timeout",
                                            "Postgres did not accept connections within %d s, restarting",
                                            START_TIMEOUT_MS / 1000);
                                runtime_stop(s->d->runtime, &stop_err);
                        } else
                                bufprintf(in->server_detail, sizeof(in->server_detail),
                                          "waiting for Postgres to accept connections: %s", e.message);
                }
                return;
        }
        in->server = SERVER_UP;
        in->probe_ok = true;
        if (with_counts) {
                s->last_counts_mono = now;
                s->counts_dirty = false;
        }
        /* The working database vanished or became unusable behind our back: have it repaired. */
        if (in->seeded && !json_is_true(json_object_get(facts, "database_exists"))) {
                log_warning("seed", "The working database %s is gone or refuses connections; repairing it",
                            s->d->config->pg_db);
                in->seeded = false;
        }
        store_facts(s, facts, with_counts);
}

/* Submits the seeding job when one is needed, and collects its result when it is done. */
static void tick_seed(Supervisor *s, SupInputs *in, int64_t now)
{
        Error e = ERROR_INIT;
        int64_t wait;
        int r;

        if (s->ensure) {
                r = job_waiter_result(s->ensure, NULL, &e);
                if (r == -EINPROGRESS)
                        return;
                job_waiter_free(TAKE_PTR(s->ensure));
                if (r < 0) {
                        if (e.errnum == ECANCELED)
                                return; /* shutting down */
                        wait = next_backoff(&s->seed_backoff_ms);
                        s->next_seed_mono = now + wait;
                        in->seed_failed = true;
                        bufprintf(in->seed_error, sizeof(in->seed_error),
                                  "Seeding failed: %s%s%s; retrying in %.0f s", e.message,
                                  *e.hint ? ". " : "", e.hint, wait / 1000.0);
                        return;
                }
                in->seeded = true;
                in->seed_failed = false;
                s->seed_backoff_ms = SEED_BACKOFF_MS;
                /* Probe again right away, so /health has row counts the moment it says ready. */
                s->counts_dirty = true;
                tick_probe(s, in, now, true);
                return;
        }
        if (lifecycle_take_repair(s->lifecycle)) {
                log_info("seed", "A failed job may have left the databases incomplete: checking them");
                in->seeded = false;
        }
        if (in->seeded || in->server != SERVER_UP || !in->probe_ok || now < s->next_seed_mono)
                return;
        s->ensure = lifecycle_submit(s->lifecycle, JOB_ENSURE, RESET_TEMPLATE, 0, NULL, NULL);
}

void supervisor_tick(Supervisor *s)
{
        int64_t now = clock_now(s);
        SupInputs in;
        bool wake;

        pthread_mutex_lock(&s->lock);
        wake = s->wake_requested;
        s->wake_requested = false;
        in = s->in;
        pthread_mutex_unlock(&s->lock);

        lifecycle_expire(s->lifecycle);
        if (s->d && s->d->clones)
                clones_expire(s->d->clones); /* parked POST /clones whose ?timeout passed */
        if (in.server == SERVER_OFF)
                tick_start(s, &in, now);
        else if (tick_liveness(s, &in, now)) {
                tick_probe(s, &in, now, wake);
                tick_seed(s, &in, now);
        }
        publish_state(s, &in);

        pthread_mutex_lock(&s->lock);
        s->heartbeat_mono = now_mono_ms();
        pthread_mutex_unlock(&s->lock);
}

static void *supervisor_main(void *arg)
{
        Supervisor *s = arg;
        Error e = ERROR_INIT;

        for (;;) {
                pthread_mutex_lock(&s->lock);
                if (s->stop_requested) {
                        pthread_mutex_unlock(&s->lock);
                        break;
                }
                pthread_mutex_unlock(&s->lock);

                supervisor_tick(s);

                pthread_mutex_lock(&s->lock);
                if (!s->stop_requested && !s->wake_requested)
                        cond_timedwait_ms(&s->cond, &s->lock, TICK_MS);
                pthread_mutex_unlock(&s->lock);
        }

        pthread_mutex_lock(&s->lock);
        set_state_locked(s, SUP_STOPPING, "pgseedd is shutting down");
        pthread_mutex_unlock(&s->lock);
        /* The worker first: a seed or reset in progress gives up before its server goes away. */
        lifecycle_stop(s->lifecycle);
        probe_disconnect(s->probe);
        if (runtime_stop(s->d->runtime, &e) < 0)
                log_error("postgres_stop", "Failed to stop Postgres: %s", e.message);
        return NULL;
}

int supervisor_start_lifecycle(Supervisor *s, Error *e)
{
        return lifecycle_start(s->lifecycle, e);
}

int supervisor_start(Supervisor *s, Error *e)
{
        int r = supervisor_start_lifecycle(s, e);

        if (r < 0)
                return r;
        r = pthread_create(&s->thread, NULL, supervisor_main, s);
        if (r != 0) {
                lifecycle_stop(s->lifecycle);
                return error_set(e, r, NULL, NULL, "Cannot start the supervisor thread: %s", strerror(r));
        }
        s->thread_started = true;
        return 0;
}

void supervisor_stop(Supervisor *s)
{
        if (!s)
                return;
        if (!s->thread_started) {
                lifecycle_stop(s->lifecycle);
                return;
        }
        pthread_mutex_lock(&s->lock);
        s->stop_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
}

void supervisor_cancel_work(Supervisor *s)
{
        if (s)
                lifecycle_stop(s->lifecycle);
}

void supervisor_wake(Supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        s->wake_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

bool supervisor_notified_ready(Supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        bool r = s->notified_ready;
        pthread_mutex_unlock(&s->lock);
        return r;
}

int64_t supervisor_heartbeat_mono(Supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        int64_t t = s->heartbeat_mono;
        pthread_mutex_unlock(&s->lock);
        return t;
}

void supervisor_snapshot(Supervisor *s, SupSnapshot *ret)
{
        pthread_mutex_lock(&s->lock);
        ret->state = s->state;
        strlcpy0(ret->reason, s->reason, sizeof(ret->reason));
        ret->state_since_ms = s->state_since_ms;
        ret->checked_at_ms = s->checked_at_ms;
        ret->ready_since_ms = s->ready_since_ms;
        ret->restarts = s->restarts;
        strlcpy0(ret->runtime_id, s->runtime_id, sizeof(ret->runtime_id));
        ret->facts = json_incref(s->facts);
        ret->resetting = s->reset_since_ms > 0;
        ret->reset_mode = s->reset_mode;
        ret->reset_since_ms = s->reset_since_ms;
        pthread_mutex_unlock(&s->lock);
}

/* 0 when a job may be queued now, else -EAGAIN (not_ready); closes args' fd when refusing. */
static int jobs_allowed(Supervisor *s, JobArgs *args, Error *e)
{
        SupState state;
        char reason[768];

        pthread_mutex_lock(&s->lock);
        state = s->state;
        strlcpy0(reason, s->reason, sizeof(reason));
        pthread_mutex_unlock(&s->lock);
        /* Ready, or busy with the dataset (then the job queues behind it): anything else cannot run it. */
        if (state != SUP_READY && state != SUP_RESETTING && state != SUP_SEEDING) {
                if (args && args->fd >= 0) {
                        close(args->fd);
                        args->fd = -1;
                }
                return error_set(e, EAGAIN, "not_ready", "Wait until it is: `pgseedctl wait`.",
                                 "The database is not ready (%s: %s)", state_names[state], reason);
        }
        return 0;
}

int supervisor_submit_job(Supervisor *s, JobKind kind, ResetMode mode, JobArgs *args, int64_t timeout_ms,
                          JobNotify notify, void *userdata, JobWaiter **ret, Error *e)
{
        int r = jobs_allowed(s, args, e);

        if (r < 0)
                return r;
        *ret = lifecycle_submit_args(s->lifecycle, kind, mode, args, timeout_ms, notify, userdata);
        return 0;
}

int supervisor_submit_reset(Supervisor *s, ResetMode mode, const char *tables, int64_t timeout_ms,
                            JobNotify notify, void *userdata, JobWaiter **ret, Error *e)
{
        int r = jobs_allowed(s, NULL, e);

        if (r < 0)
                return r;
        *ret = lifecycle_submit_reset(s->lifecycle, mode, tables, timeout_ms, notify, userdata);
        return 0;
}

void supervisor_kick_upkeep(Supervisor *s)
{
        lifecycle_kick(s->lifecycle);
}
