/* SPDX-License-Identifier: MIT */
/* supervisor.c -- start Postgres, probe it, seed it, restart it with backoff when it dies. */

#include "supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "runtime.h"
#include "seed.h"

#define TICK_MS            250
#define PROBE_INTERVAL_MS  1000
#define COUNTS_INTERVAL_MS 5000
#define BACKOFF_MIN_MS     500
#define BACKOFF_MAX_MS     30000
#define STABLE_MS          60000  /* ready this long resets the backoff */
#define START_TIMEOUT_MS   120000 /* not accepting connections after this long: restart */

struct Supervisor {
        Daemon *d;
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock; /* guards the fields down to `facts` */
        pthread_cond_t cond;
        bool stop_requested;
        bool wake_requested;
        int64_t heartbeat_mono; /* now_mono_ms() at the top of the loop's last iteration */
        SupState state;
        char reason[768];
        int64_t state_since_ms;
        int64_t checked_at_ms;
        int64_t ready_since_ms;
        unsigned restarts;
        char runtime_id[80];
        json_t *facts;
        bool need_ensure; /* re-check the dataset (after a failed reset, or a dropped database) */
        bool counts_dirty;

        /* Held while probing, and by a reset for its whole duration (the probe must not reconnect). */
        pthread_mutex_t probe_lock;
        Probe *probe;

        /* Supervisor thread only. */
        bool server_started;
        bool seeded;
        int64_t started_mono;
        int64_t next_start_mono;
        int64_t next_seed_mono;
        int64_t last_probe_mono;
        bool last_probe_ok; /* what a tick between probes goes by */
        int64_t last_counts_mono;
        int64_t backoff_ms;
        int64_t seed_backoff_ms;
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

Supervisor *supervisor_new(Daemon *d)
{
        Supervisor *s = xcalloc(1, sizeof(Supervisor));

        s->d = d;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        pthread_mutex_init(&s->probe_lock, NULL);
        s->probe = probe_new(d->config);
        s->state = SUP_STARTING;
        strlcpy0(s->reason, "pgseedd is starting", sizeof(s->reason));
        s->state_since_ms = now_real_ms();
        s->heartbeat_mono = now_mono_ms();
        s->backoff_ms = BACKOFF_MIN_MS;
        s->seed_backoff_ms = 2000;
        return s;
}

void supervisor_free(Supervisor *s)
{
        if (!s)
                return;
        probe_free(s->probe);
        json_decref(s->facts);
        pthread_mutex_destroy(&s->probe_lock);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

/*
 * Changes state and reason, logging and telling systemd only when either
 * changed.  A running reset owns the state: only `down` and `stopping` (and
 * supervisor_end_reset) may replace `resetting`.  Called with s->lock held.
 */
static void set_state_locked(Supervisor *s, SupState state, const char *reason)
{
        char fields[256] = "";

        if (s->state == SUP_RESETTING && state != SUP_DOWN && state != SUP_STOPPING &&
            state != SUP_RESETTING)
                return;
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

static void set_state(Supervisor *s, SupState state, const char *fmt, ...) _printf_(3, 4);
static void set_state(Supervisor *s, SupState state, const char *fmt, ...)
{
        char reason[768], cause[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        /* A failure with a cause the runtime can see (a full disk) says that cause first. */
        if ((state == SUP_DOWN || state == SUP_DEGRADED) &&
            runtime_explain_failure(s->d->runtime, reason, cause, sizeof(cause))) {
                char original[768];
                memcpy(original, reason, sizeof(reason));
                snprintf(reason, sizeof(reason), "%s (%s)", cause, original);
        }
        pthread_mutex_lock(&s->lock);
        set_state_locked(s, state, reason);
        pthread_mutex_unlock(&s->lock);
}

static SupState get_state(Supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        SupState st = s->state;
        pthread_mutex_unlock(&s->lock);
        return st;
}

static int64_t next_backoff(int64_t *backoff)
{
        int64_t b = *backoff;

        *backoff = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
        return b;
}

static void disconnect_probe(Supervisor *s)
{
        pthread_mutex_lock(&s->probe_lock);
        probe_disconnect(s->probe);
        pthread_mutex_unlock(&s->probe_lock);
}

/* ---- one tick ----------------------------------------------------------- */

static void tick_start(Supervisor *s, int64_t now)
{
        Error e = ERROR_INIT;
        int64_t wait;

        if (now < s->next_start_mono)
                return;
        if (runtime_start(s->d->runtime, &e) < 0) {
                wait = next_backoff(&s->backoff_ms);
                s->next_start_mono = now + wait;
                set_state(s, SUP_DOWN, "Cannot start Postgres: %s; retrying in %.1f s", e.message,
                          wait / 1000.0);
                return;
        }
        s->server_started = true;
        s->seeded = false;
        s->started_mono = now;
        s->last_probe_mono = 0;
        s->last_probe_ok = false;
        set_state(s, SUP_STARTING, "waiting for Postgres to accept connections");
}

/* Returns true when the server process/container runs. */
static bool tick_liveness(Supervisor *s, int64_t now)
{
        RuntimeStatus st;
        int64_t wait;

        if (runtime_status(s->d->runtime, &st) < 0) {
                /* We cannot tell (the Docker engine does not answer): say so, but do not restart what may
                 * run. */
                set_state(s, SUP_DEGRADED, "Cannot check Postgres: %s", st.detail);
                return false;
        }
        pthread_mutex_lock(&s->lock);
        strlcpy0(s->runtime_id, st.id, sizeof(s->runtime_id));
        pthread_mutex_unlock(&s->lock);
        if (st.running)
                return true;

        s->server_started = false;
        s->seeded = false;
        wait = next_backoff(&s->backoff_ms);
        s->next_start_mono = now + wait;
        pthread_mutex_lock(&s->lock);
        s->restarts++;
        json_decref(s->facts);
        s->facts = NULL;
        pthread_mutex_unlock(&s->lock);
        metrics_count(s->d->metrics, METRIC_RESTARTS);
        disconnect_probe(s);
        set_state(s, SUP_DOWN, "%s; restarting in %.1f s", st.detail, wait / 1000.0);
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
        if (with_counts)
                s->counts_dirty = false;
        pthread_mutex_unlock(&s->lock);
}

/* Returns true when the server answered a probe. */
static bool tick_probe(Supervisor *s, int64_t now)
{
        Error e = ERROR_INIT;
        json_t *facts = NULL;
        bool with_counts, dirty, wake;
        SupState st;
        int r;

        pthread_mutex_lock(&s->lock);
        dirty = s->counts_dirty;
        wake = s->wake_requested;
        s->wake_requested = false;
        pthread_mutex_unlock(&s->lock);
        /* Between probes, go by the last one: a failed probe must not count as an answer for a second. */
        if (!wake && !dirty && now - s->last_probe_mono < PROBE_INTERVAL_MS)
                return s->last_probe_ok;
        /* A reset holds the probe lock: its database is coming and going, so do not look now. */
        if (pthread_mutex_trylock(&s->probe_lock) != 0)
                return false;
        with_counts = s->seeded && (dirty || now - s->last_counts_mono >= COUNTS_INTERVAL_MS);
        r = probe_run(s->probe, with_counts, &facts, &e);
        pthread_mutex_unlock(&s->probe_lock);
        s->last_probe_mono = now;
        s->last_probe_ok = r == 0;

        st = get_state(s);
        if (r < 0 && streq(e.code, "auth_failed")) {
                /* Another password than the data was made with: set it (never restart, that cannot help). */
                Error re = ERROR_INIT;
                if (runtime_repair_auth(s->d->runtime, &re) == 0) {
                        log_warning("password",
                                    "Postgres refused the configured password for role %s; pgseedd set the "
                                    "role's password to it",
                                    s->d->config->pg_user);
                        s->last_probe_mono = 0;
                } else
                        set_state(s, SUP_DEGRADED, "%s. %s", re.message, re.hint);
                return false;
        }
        if (r < 0) {
                if (st == SUP_STARTING && now - s->started_mono > START_TIMEOUT_MS) {
                        Error stop_err = ERROR_INIT;
                        log_warning("start_timeout",
                                    "Postgres did not accept connections within %d s, restarting",
                                    START_TIMEOUT_MS / 1000);
                        runtime_stop(s->d->runtime, &stop_err);
                } else if (st == SUP_STARTING)
                        set_state(s, SUP_STARTING, "waiting for Postgres to accept connections: %s",
                                  e.message);
                else if (st != SUP_RESETTING)
                        set_state(s, SUP_DEGRADED, "Postgres runs but does not answer: %s", e.message);
                return false;
        }
        if (with_counts)
                s->last_counts_mono = now;
        /* The working database vanished behind our back (dropped by hand): clone it again. */
        if (s->seeded && !json_is_true(json_object_get(facts, "database_exists")))
                s->seeded = false;
        store_facts(s, facts, with_counts);
        return true;
}

static void tick_seed(Supervisor *s, int64_t now)
{
        Error e = ERROR_INIT;
        int64_t wait;

        if (now < s->next_seed_mono)
                return;
        set_state(s, SUP_SEEDING, "building the dataset");
        if (seeder_ensure(s->d->seeder, &e) < 0) {
                if (e.errnum == ECANCELED)
                        return; /* shutting down */
                wait = next_backoff(&s->seed_backoff_ms);
                s->next_seed_mono = now_mono_ms() + wait;
                set_state(s, SUP_DEGRADED, "Seeding failed: %s%s%s; retrying in %.0f s", e.message,
                          *e.hint ? ". " : "", e.hint, wait / 1000.0);
                return;
        }
        s->seeded = true;
        s->seed_backoff_ms = 2000;
        pthread_mutex_lock(&s->lock);
        s->counts_dirty = true;
        pthread_mutex_unlock(&s->lock);
}

static void supervisor_tick(Supervisor *s)
{
        int64_t now = now_mono_ms();
        bool need_ensure;

        if (!s->server_started) {
                tick_start(s, now);
                return;
        }
        if (!tick_liveness(s, now))
                return;
        if (!tick_probe(s, now))
                return;

        pthread_mutex_lock(&s->lock);
        need_ensure = s->need_ensure;
        s->need_ensure = false;
        pthread_mutex_unlock(&s->lock);
        if (need_ensure)
                s->seeded = false;
        if (!s->seeded) {
                tick_seed(s, now);
                if (!s->seeded)
                        return;
                /* Probe again right away, so /health has row counts the moment it says ready. */
                if (!tick_probe(s, now_mono_ms()))
                        return;
        }
        set_state(s, SUP_READY, "accepting connections on 127.0.0.1:%d; dataset seeded",
                  s->d->config->pg_port);
        pthread_mutex_lock(&s->lock);
        if (s->state == SUP_READY && now_real_ms() - s->ready_since_ms > STABLE_MS)
                s->backoff_ms = BACKOFF_MIN_MS;
        pthread_mutex_unlock(&s->lock);
        if (get_state(s) == SUP_READY)
                seeder_maintain(s->d->seeder);
}

static void *supervisor_main(void *arg)
{
        Supervisor *s = arg;
        Error e = ERROR_INIT;

        for (;;) {
                struct timespec until;

                pthread_mutex_lock(&s->lock);
                s->heartbeat_mono = now_mono_ms();
                if (s->stop_requested) {
                        pthread_mutex_unlock(&s->lock);
                        break;
                }
                pthread_mutex_unlock(&s->lock);

                supervisor_tick(s);

                pthread_mutex_lock(&s->lock);
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += TICK_MS * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                if (!s->stop_requested && !s->wake_requested)
                        pthread_cond_timedwait(&s->cond, &s->lock, &until);
                pthread_mutex_unlock(&s->lock);
        }

        set_state(s, SUP_STOPPING, "pgseedd is shutting down");
        disconnect_probe(s);
        if (runtime_stop(s->d->runtime, &e) < 0)
                log_error("postgres_stop", "Failed to stop Postgres: %s", e.message);
        return NULL;
}

int supervisor_start(Supervisor *s, Error *e)
{
        int r = pthread_create(&s->thread, NULL, supervisor_main, s);

        if (r != 0)
                return error_set(e, r, NULL, NULL, "Cannot start the supervisor thread: %s", strerror(r));
        s->thread_started = true;
        return 0;
}

void supervisor_stop(Supervisor *s)
{
        if (!s || !s->thread_started)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        /* A seed in progress would otherwise finish first: seconds of delay for a result about to be
         * dropped. */
        seeder_cancel(s->d->seeder);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
}

int64_t supervisor_heartbeat_mono(Supervisor *s)
{
        int64_t t;

        pthread_mutex_lock(&s->lock);
        t = s->heartbeat_mono;
        pthread_mutex_unlock(&s->lock);
        return t;
}

bool supervisor_notified_ready(Supervisor *s)
{
        bool r;

        pthread_mutex_lock(&s->lock);
        r = s->notified_ready;
        pthread_mutex_unlock(&s->lock);
        return r;
}

void supervisor_wake(Supervisor *s)
{
        pthread_mutex_lock(&s->lock);
        s->wake_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
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
        pthread_mutex_unlock(&s->lock);
}

int supervisor_begin_reset(Supervisor *s, Error *e)
{
        pthread_mutex_lock(&s->lock);
        if (s->state == SUP_RESETTING) {
                pthread_mutex_unlock(&s->lock);
                return error_set(e, EBUSY, "reset_in_progress",
                                 "Resets are serialized: retry when the running one has finished.",
                                 "A reset is already running");
        }
        if (s->state != SUP_READY) {
                char msg[900];
                snprintf(msg, sizeof(msg), "The database is not ready (%s: %s)", state_names[s->state],
                         s->reason);
                pthread_mutex_unlock(&s->lock);
                return error_set(e, EAGAIN, "not_ready", "Wait until it is: `pgseedctl wait`.", "%s", msg);
        }
        set_state_locked(s, SUP_RESETTING, "restoring the seeded state");
        pthread_mutex_unlock(&s->lock);

        /* Waits for a probe in flight (bounded by its 2 s statement timeout), then keeps it out. */
        pthread_mutex_lock(&s->probe_lock);
        probe_disconnect(s->probe);
        return 0;
}

void supervisor_end_reset(Supervisor *s, bool ok, const char *failure)
{
        pthread_mutex_unlock(&s->probe_lock);
        pthread_mutex_lock(&s->lock);
        if (s->state == SUP_RESETTING) {
                /* Leave `resetting` first: set_state_locked refuses other transitions while it holds. */
                s->state = ok ? SUP_READY : SUP_DEGRADED;
                s->state_since_ms = now_real_ms();
                s->ready_since_ms = ok ? s->state_since_ms : 0;
                metrics_state_changed(s->d->metrics, s->state);
                if (ok)
                        strlcpy0(s->reason, "reset done", sizeof(s->reason));
                else {
                        snprintf(s->reason, sizeof(s->reason), "Reset failed: %s; repairing", failure);
                        log_warning("state", "%s", s->reason);
                }
                sd_notifyf(0, "STATUS=%s: %s", state_names[s->state], s->reason);
        }
        if (!ok)
                s->need_ensure = true;
        s->counts_dirty = true;
        s->wake_requested = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}
