/* SPDX-License-Identifier: MIT */
/* test-supervisor.c -- the state machine and the lifecycle queue, with a fake runtime, probe and clock. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "lifecycle.h"
#include "runtime.h"
#include "supervisor.h"
#include "util.h"

/* ---- the fakes --------------------------------------------------------------- */

typedef struct Fake {
        /* runtime */
        atomic_bool running;
        atomic_bool status_fails;
        atomic_int starts, stops;
        /* probe */
        atomic_bool probe_fails;
        atomic_bool database_exists;
        atomic_int probes;
        /* clock */
        atomic_llong now;
        /* lifecycle ops */
        atomic_int ensures, resets;
        atomic_int ensure_result; /* 0 or -errno */
        atomic_int in_flight, max_in_flight;
        atomic_bool block; /* jobs wait while set */
        atomic_int running_jobs;
} Fake;

static Fake fake;

static int fake_start(Runtime *rt, Error *e)
{
        atomic_fetch_add(&fake.starts, 1);
        atomic_store(&fake.running, true);
        return 0;
}

static int fake_stop(Runtime *rt, Error *e)
{
        atomic_fetch_add(&fake.stops, 1);
        atomic_store(&fake.running, false);
        return 0;
}

static int fake_status(Runtime *rt, RuntimeStatus *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (atomic_load(&fake.status_fails)) {
                strlcpy0(ret->detail, "engine does not answer", sizeof(ret->detail));
                return -EIO;
        }
        ret->running = atomic_load(&fake.running);
        strlcpy0(ret->id, "pid 42", sizeof(ret->id));
        if (!ret->running)
                strlcpy0(ret->detail, "postgres (pid 42) killed by signal 9", sizeof(ret->detail));
        return 0;
}

static const RuntimeOps fake_runtime_ops = {
        .name = "fake",
        .owns_server = true,
        .start = fake_start,
        .stop = fake_stop,
        .status = fake_status,
};

/* A server someone else owns (runtime = external): start() only looks whether it answers. */
static int fake_attach(Runtime *rt, Error *e)
{
        atomic_fetch_add(&fake.starts, 1);
        if (!atomic_load(&fake.running))
                return error_set(e, ECONNREFUSED, NULL, NULL, "Postgres at db:5432 does not answer");
        return 0;
}

static const RuntimeOps fake_foreign_ops = {
        .name = "fake-external",
        .owns_server = false,
        .start = fake_attach,
        .stop = fake_stop,
        .status = fake_status,
};

static int64_t fake_now(void *ctx)
{
        return atomic_load(&fake.now);
}

static int fake_probe(void *ctx, bool with_counts, json_t **ret, Error *e)
{
        atomic_fetch_add(&fake.probes, 1);
        if (atomic_load(&fake.probe_fails))
                return error_set(e, ECONNREFUSED, NULL, NULL, "connection refused");
        *ret = json_pack("{s:b}", "database_exists", atomic_load(&fake.database_exists));
        return 0;
}

static void job_enter(void)
{
        int n = atomic_fetch_add(&fake.in_flight, 1) + 1;
        int m = atomic_load(&fake.max_in_flight);

        while (n > m && !atomic_compare_exchange_weak(&fake.max_in_flight, &m, n))
                ;
        atomic_fetch_add(&fake.running_jobs, 1);
        while (atomic_load(&fake.block))
                sleep_ms(1);
        sleep_ms(2); /* long enough for an overlap to show */
        atomic_fetch_sub(&fake.in_flight, 1);
}

static int fake_ensure(void *ctx, Error *e)
{
        atomic_fetch_add(&fake.ensures, 1);
        job_enter();
        atomic_store(&fake.database_exists, true);
        int r = atomic_load(&fake.ensure_result);
        return r < 0 ? error_set(e, -r, NULL, NULL, "template build failed") : 0;
}

static int fake_reset(void *ctx, ResetMode mode, const char *tables, json_t **ret, Error *e)
{
        int n = atomic_fetch_add(&fake.resets, 1) + 1;

        job_enter();
        *ret = json_pack("{s:s, s:i, s:s?}", "mode", mode == RESET_INPLACE ? "inplace" : "template", "n", n,
                         "tables", tables);
        return 0;
}

static bool fake_upkeep(void *ctx)
{
        return false;
}

static atomic_int fake_snapshots;

static int fake_snapshot(void *ctx, JobKind kind, const JobArgs *args, json_t **ret, Error *e)
{
        atomic_fetch_add(&fake_snapshots, 1);
        job_enter();
        *ret = json_pack("{s:s, s:s}", "kind", job_kind_to_string(kind), "name", args->name);
        return 0;
}

static const LifecycleOps fake_lifecycle_ops = {
        .ensure = fake_ensure,
        .reset = fake_reset,
        .upkeep = fake_upkeep,
        .snapshot = fake_snapshot,
};

/* ---- fixture ------------------------------------------------------------------- */

typedef struct Fixture {
        Config *config;
        Runtime rt;
        Daemon d;
        Supervisor *s;
} Fixture;

static int setup(void **state)
{
        Fixture *f = xcalloc(1, sizeof(Fixture));
        Error e = ERROR_INIT;
        SupervisorHooks hooks = {
                .now_mono = fake_now,
                .probe = fake_probe,
                .lifecycle_ops = &fake_lifecycle_ops,
        };

        memset(&fake, 0, sizeof(fake));
        atomic_store(&fake.now, 1000000);
        atomic_store(&fake.database_exists, false);
        assert_int_equal(config_load("/dev/null", NULL, &f->config, &e), 0);
        f->rt = (Runtime){.ops = &fake_runtime_ops, .config = f->config};
        f->d = (Daemon){.config = f->config, .runtime = &f->rt};
        f->s = supervisor_new(&f->d, &hooks);
        assert_int_equal(supervisor_start_lifecycle(f->s, &e), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;

        atomic_store(&fake.block, false);
        supervisor_free(f->s);
        config_free(f->config);
        free(f);
        return 0;
}

static SupState state_of(Supervisor *s, char *reason, size_t size)
{
        SupSnapshot snap;

        supervisor_snapshot(s, &snap);
        if (reason)
                strlcpy0(reason, snap.reason, size);
        sup_snapshot_done(&snap);
        return snap.state;
}

static void advance(int64_t ms)
{
        atomic_fetch_add(&fake.now, ms);
}

/* Ticks (a fake second apart) until the state is want; fails after a few real seconds. */
static void tick_until(Supervisor *s, SupState want)
{
        for (int i = 0; i < 5000; i++) {
                supervisor_tick(s);
                if (state_of(s, NULL, 0) == want)
                        return;
                advance(1000);
                sleep_ms(1);
        }
        char reason[768];
        SupState got = state_of(s, reason, sizeof(reason));
        fail_msg("state %s (%s), wanted %s", sup_state_to_string(got), reason, sup_state_to_string(want));
}

static void wait_for_int(atomic_int *v, int want)
{
        for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
                sleep_ms(1);
        assert_true(atomic_load(v) >= want);
}

/* ---- the state machine ------------------------------------------------------------ */

static void test_supervisor_starts_seeds_and_becomes_ready(void **state)
{
        Fixture *f = *state;

        supervisor_tick(f->s);
        assert_int_equal(fake.starts, 1);
        assert_int_equal(state_of(f->s, NULL, 0), SUP_STARTING);
        tick_until(f->s, SUP_READY);
        assert_int_equal(fake.ensures, 1);
        assert_int_equal(fake.starts, 1);
}

static void test_supervisor_probe_failure_while_starting_stays_starting(void **state)
{
        Fixture *f = *state;
        char reason[768];

        atomic_store(&fake.probe_fails, true);
        supervisor_tick(f->s);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_STARTING);
        assert_non_null(strstr(reason, "connection refused"));
        assert_int_equal(fake.ensures, 0);
}

static void test_supervisor_start_timeout_restarts(void **state)
{
        Fixture *f = *state;

        atomic_store(&fake.probe_fails, true);
        supervisor_tick(f->s);
        advance(121 * 1000);
        supervisor_tick(f->s);
        assert_int_equal(fake.stops, 1);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, NULL, 0), SUP_DOWN);
}

/* A server pgseedd does not own goes away: down with the reason, waited for with backoff, never stopped or
 * restarted; back again, it is ready without a restart having been counted. */
static void test_supervisor_waits_for_a_server_it_does_not_own(void **state)
{
        Fixture *f = *state;
        char reason[768];
        SupSnapshot snap;

        f->rt.ops = &fake_foreign_ops;
        atomic_store(&fake.running, true);
        tick_until(f->s, SUP_READY);
        atomic_store(&fake.running, false);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DOWN);
        assert_non_null(strstr(reason, "killed by signal 9"));
        assert_non_null(strstr(reason, "waiting for it to come back"));
        assert_null(strstr(reason, "restarting"));
        advance(500);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DOWN);
        assert_non_null(strstr(reason, "does not answer; checking again in 1.0 s"));
        /* Its owner brings it back. */
        atomic_store(&fake.running, true);
        tick_until(f->s, SUP_READY);
        supervisor_snapshot(f->s, &snap);
        assert_int_equal(snap.restarts, 0);
        sup_snapshot_done(&snap);
        assert_int_equal(fake.stops, 0);

        /* Not accepting connections for long: still nothing to stop, it keeps waiting. */
        atomic_store(&fake.running, false);
        supervisor_tick(f->s);
        atomic_store(&fake.running, true);
        atomic_store(&fake.probe_fails, true);
        advance(2000);
        supervisor_tick(f->s);
        advance(121 * 1000);
        supervisor_tick(f->s);
        supervisor_tick(f->s);
        assert_int_equal(fake.stops, 0);
        assert_int_equal(state_of(f->s, NULL, 0), SUP_STARTING);
}

static void test_supervisor_restarts_dead_server_with_backoff(void **state)
{
        Fixture *f = *state;
        char reason[768];
        unsigned restarts;
        SupSnapshot snap;

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.running, false);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DOWN);
        assert_non_null(strstr(reason, "killed by signal 9"));
        assert_non_null(strstr(reason, "restarting in 0.5 s"));
        /* Not before the backoff has passed. */
        advance(400);
        supervisor_tick(f->s);
        assert_int_equal(fake.starts, 1);
        advance(100);
        supervisor_tick(f->s);
        assert_int_equal(fake.starts, 2);
        /* A new server is seeded (checked) again before it is ready. */
        tick_until(f->s, SUP_READY);
        assert_int_equal(fake.ensures, 2);
        supervisor_snapshot(f->s, &snap);
        restarts = snap.restarts;
        sup_snapshot_done(&snap);
        assert_int_equal(restarts, 1);

        /* The next crash waits twice as long. */
        atomic_store(&fake.running, false);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DOWN);
        assert_non_null(strstr(reason, "restarting in 1.0 s"));
}

static void test_supervisor_unknown_status_is_degraded_without_restart(void **state)
{
        Fixture *f = *state;
        char reason[768];

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.status_fails, true);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DEGRADED);
        assert_non_null(strstr(reason, "engine does not answer"));
        assert_int_equal(fake.starts, 1);
        assert_int_equal(fake.stops, 0);
        atomic_store(&fake.status_fails, false);
        tick_until(f->s, SUP_READY);
        assert_int_equal(fake.ensures, 1);
}

static void test_supervisor_probe_failure_when_up_is_degraded(void **state)
{
        Fixture *f = *state;
        char reason[768];

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.probe_fails, true);
        advance(1000);
        supervisor_tick(f->s);
        assert_int_equal(state_of(f->s, reason, sizeof(reason)), SUP_DEGRADED);
        assert_non_null(strstr(reason, "does not answer"));
        atomic_store(&fake.probe_fails, false);
        tick_until(f->s, SUP_READY);
}

static void test_supervisor_seed_failure_backs_off(void **state)
{
        Fixture *f = *state;
        char reason[768];
        int ensures;

        atomic_store(&fake.ensure_result, -EIO);
        tick_until(f->s, SUP_DEGRADED);
        assert_non_null(strstr(state_of(f->s, reason, sizeof(reason)) == SUP_DEGRADED ? reason : "",
                               "Seeding failed"));
        ensures = fake.ensures;
        /* Within the 2 s backoff nothing is retried, however often it ticks. */
        for (int i = 0; i < 10; i++) {
                advance(100);
                supervisor_tick(f->s);
        }
        assert_int_equal(fake.ensures, ensures);
        atomic_store(&fake.ensure_result, 0);
        tick_until(f->s, SUP_READY);
        assert_int_equal(fake.ensures, ensures + 1);
}

static void test_supervisor_database_gone_while_ready_is_reseeded(void **state)
{
        Fixture *f = *state;

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.database_exists, false);
        advance(1000);
        tick_until(f->s, SUP_READY);
        assert_int_equal(fake.ensures, 2);
}

static void test_supervisor_reset_stays_ready_with_resetting_substatus(void **state)
{
        Fixture *f = *state;
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        Error e = ERROR_INIT;
        json_t *result = NULL;
        SupSnapshot snap;

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.block, true);
        assert_int_equal(supervisor_submit_reset(f->s, RESET_TEMPLATE, NULL, 0, NULL, NULL, &w, &e), 0);
        wait_for_int(&fake.running_jobs, 2);
        /* The database serves throughout: ready, with the reset as a sub-status. */
        supervisor_snapshot(f->s, &snap);
        assert_int_equal(snap.state, SUP_READY);
        assert_true(snap.resetting);
        assert_int_equal(snap.reset_mode, RESET_TEMPLATE);
        assert_true(snap.reset_since_ms > 0);
        assert_non_null(strstr(snap.reason, "resetting from the template"));
        sup_snapshot_done(&snap);
        atomic_store(&fake.block, false);
        job_waiter_wait(w);
        /* No tick in between: the sub-status is gone the moment the reset answers. */
        supervisor_snapshot(f->s, &snap);
        assert_int_equal(snap.state, SUP_READY);
        assert_false(snap.resetting);
        assert_null(strstr(snap.reason, "resetting"));
        sup_snapshot_done(&snap);
        assert_int_equal(job_waiter_result(w, &result, &e), 0);
        assert_string_equal(json_string_value(json_object_get(result, "mode")), "template");
        json_decref(result);
}

/* The finding: /health was 503 (pgseed_up 0) for the whole in-place reset while Postgres served. */
static void test_supervisor_inplace_reset_stays_ready(void **state)
{
        Fixture *f = *state;
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL;
        Error e = ERROR_INIT;
        json_t *result = NULL;
        SupSnapshot snap;
        int64_t since;

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.block, true);
        assert_int_equal(supervisor_submit_reset(f->s, RESET_INPLACE, NULL, 0, NULL, NULL, &w, &e), 0);
        wait_for_int(&fake.running_jobs, 2);
        supervisor_snapshot(f->s, &snap);
        since = snap.reset_since_ms;
        assert_int_equal(snap.state, SUP_READY);
        assert_true(snap.resetting);
        assert_int_equal(snap.reset_mode, RESET_INPLACE);
        assert_non_null(strstr(snap.reason, "resetting in place"));
        sup_snapshot_done(&snap);
        /* Ticks during the reset keep it ready and keep the start time. */
        for (int i = 0; i < 5; i++) {
                advance(1000);
                supervisor_tick(f->s);
                supervisor_snapshot(f->s, &snap);
                assert_int_equal(snap.state, SUP_READY);
                assert_true(snap.resetting);
                assert_int_equal(snap.reset_since_ms, since);
                sup_snapshot_done(&snap);
        }
        atomic_store(&fake.block, false);
        job_waiter_wait(w);
        supervisor_snapshot(f->s, &snap);
        assert_int_equal(snap.state, SUP_READY);
        assert_false(snap.resetting);
        assert_int_equal(snap.reset_since_ms, 0);
        sup_snapshot_done(&snap);
        assert_int_equal(job_waiter_result(w, &result, &e), 0);
        json_decref(result);
}

static void test_supervisor_reset_refused_unless_up(void **state)
{
        Fixture *f = *state;
        JobWaiter *w = NULL;
        Error e = ERROR_INIT;

        atomic_store(&fake.probe_fails, true);
        supervisor_tick(f->s);
        assert_int_equal(supervisor_submit_reset(f->s, RESET_TEMPLATE, NULL, 0, NULL, NULL, &w, &e),
                         -EAGAIN);
        assert_string_equal(e.code, "not_ready");
        assert_null(w);
}

/* The finding: the probe saw the working database gone while ready, and a reset raced the re-seed. */
static void test_supervisor_reseed_and_resets_never_overlap(void **state)
{
        Fixture *f = *state;
        JobWaiter *w[4] = {0};
        Error e = ERROR_INIT;

        tick_until(f->s, SUP_READY);
        atomic_store(&fake.block, true);
        atomic_store(&fake.database_exists, false);
        advance(1000);
        supervisor_tick(f->s); /* submits the re-seed, which blocks */
        wait_for_int(&fake.running_jobs, 2);
        assert_int_equal(state_of(f->s, NULL, 0), SUP_SEEDING);
        for (int i = 0; i < 4; i++)
                assert_int_equal(supervisor_submit_reset(f->s, i % 2 ? RESET_INPLACE : RESET_TEMPLATE, NULL,
                                                         0, NULL, NULL, &w[i], &e),
                                 0);
        atomic_store(&fake.block, false);
        for (int i = 0; i < 4; i++) {
                job_waiter_wait(w[i]);
                assert_int_equal(job_waiter_result(w[i], NULL, &e), 0);
                job_waiter_free(w[i]);
        }
        assert_int_equal(fake.max_in_flight, 1);
        /* Queued behind the seed, the two of each mode coalesced into one job each. */
        assert_int_equal(fake.resets, 2);
        tick_until(f->s, SUP_READY);
}

/* ---- the lifecycle queue on its own ----------------------------------------------- */

static void test_lifecycle_coalesces_same_mode(void **state)
{
        Lifecycle *l = lifecycle_new(&fake_lifecycle_ops, NULL, NULL, NULL);
        JobWaiter *first, *w[3], *other;
        json_t *a, *b;
        Error e = ERROR_INIT;

        memset(&fake, 0, sizeof(fake));
        assert_int_equal(lifecycle_start(l, &e), 0);
        atomic_store(&fake.block, true);
        first = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 0, NULL, NULL);
        wait_for_int(&fake.running_jobs, 1);
        /* Joins the running one. */
        w[0] = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 0, NULL, NULL);
        assert_true(job_waiter_coalesced(w[0]));
        other = lifecycle_submit(l, JOB_RESET, RESET_INPLACE, 0, NULL, NULL);
        assert_false(job_waiter_coalesced(other));
        w[1] = lifecycle_submit(l, JOB_RESET, RESET_INPLACE, 0, NULL, NULL);
        assert_true(job_waiter_coalesced(w[1]));
        w[2] = lifecycle_submit(l, JOB_ENSURE, RESET_TEMPLATE, 0, NULL, NULL);
        assert_false(job_waiter_coalesced(w[2]));
        atomic_store(&fake.block, false);

        job_waiter_wait(first);
        job_waiter_wait(w[0]);
        assert_int_equal(job_waiter_result(first, &a, &e), 0);
        assert_int_equal(job_waiter_result(w[0], &b, &e), 0);
        assert_ptr_equal(a, b); /* one job, one result */
        json_decref(a);
        json_decref(b);
        job_waiter_wait(w[1]);
        job_waiter_wait(other);
        assert_int_equal(job_waiter_result(w[1], &a, &e), 0);
        assert_string_equal(json_string_value(json_object_get(a, "mode")), "inplace");
        json_decref(a);
        job_waiter_wait(w[2]);
        assert_int_equal(fake.resets, 2);
        assert_int_equal(fake.ensures, 1);
        assert_int_equal(fake.max_in_flight, 1);
        job_waiter_free(first);
        job_waiter_free(other);
        for (int i = 0; i < 3; i++)
                job_waiter_free(w[i]);
        lifecycle_free(l);
}

static atomic_int hook_calls, hook_resets_seen;

static void count_hook(void *userdata)
{
        atomic_fetch_add(&hook_calls, 1);
        /* Called before the reset runs: the resets counted so far are the earlier ones. */
        atomic_store(&hook_resets_seen, atomic_load(&fake.resets));
}

static void test_lifecycle_partial_resets_coalesce_by_tables_and_the_hook_runs_first(void **state)
{
        Lifecycle *l = lifecycle_new(&fake_lifecycle_ops, NULL, NULL, NULL);
        JobWaiter *first, *same, *other, *all;
        json_t *a;
        Error e = ERROR_INIT;

        memset(&fake, 0, sizeof(fake));
        atomic_store(&hook_calls, 0);
        lifecycle_set_reset_hook(l, count_hook, NULL);
        assert_int_equal(lifecycle_start(l, &e), 0);
        atomic_store(&fake.block, true);
        first = lifecycle_submit_reset(l, RESET_INPLACE, "comments,users", 0, NULL, NULL);
        wait_for_int(&fake.running_jobs, 1);
        same = lifecycle_submit_reset(l, RESET_INPLACE, "comments,users", 0, NULL, NULL);
        assert_true(job_waiter_coalesced(same));
        other = lifecycle_submit_reset(l, RESET_INPLACE, "comments", 0, NULL, NULL);
        assert_false(job_waiter_coalesced(other));
        all = lifecycle_submit(l, JOB_RESET, RESET_INPLACE, 0, NULL, NULL);
        assert_false(job_waiter_coalesced(all));
        atomic_store(&fake.block, false);

        job_waiter_wait(same);
        assert_int_equal(job_waiter_result(same, &a, &e), 0);
        assert_string_equal(json_string_value(json_object_get(a, "tables")), "comments,users");
        json_decref(a);
        job_waiter_wait(other);
        assert_int_equal(job_waiter_result(other, &a, &e), 0);
        assert_string_equal(json_string_value(json_object_get(a, "tables")), "comments");
        json_decref(a);
        job_waiter_wait(all);
        assert_int_equal(job_waiter_result(all, &a, &e), 0);
        assert_true(json_is_null(json_object_get(a, "tables")));
        json_decref(a);
        assert_int_equal(fake.resets, 3);
        assert_int_equal(atomic_load(&hook_calls), 3);
        assert_int_equal(atomic_load(&hook_resets_seen), 2);
        job_waiter_free(first);
        job_waiter_free(same);
        job_waiter_free(other);
        job_waiter_free(all);
        lifecycle_free(l);
}

/* Snapshot jobs never join another; a reset joins only one from the same snapshot; args' fd is the job's. */
static void test_lifecycle_job_args(void **state)
{
        Lifecycle *l = lifecycle_new(&fake_lifecycle_ops, NULL, NULL, NULL);
        JobArgs snap = {.op = SNAP_CREATE, .fd = -1}, from_a = {.fd = -1}, from_b = {.fd = -1};
        JobWaiter *w[6];
        json_t *r;
        Error e = ERROR_INIT;
        int p[2];

        memset(&fake, 0, sizeof(fake));
        atomic_store(&fake_snapshots, 0);
        strlcpy0(snap.name, "one", sizeof(snap.name));
        strlcpy0(from_a.name, "a", sizeof(from_a.name));
        strlcpy0(from_b.name, "b", sizeof(from_b.name));
        assert_int_equal(pipe(p), 0);
        snap.fd = p[0];
        assert_int_equal(lifecycle_start(l, &e), 0);
        atomic_store(&fake.block, true);
        w[0] = lifecycle_submit_args(l, JOB_SNAPSHOT, RESET_TEMPLATE, &snap, 0, NULL, NULL);
        wait_for_int(&fake.running_jobs, 1);
        snap.fd = -1;
        w[1] = lifecycle_submit_args(l, JOB_SNAPSHOT, RESET_TEMPLATE, &snap, 0, NULL, NULL);
        assert_false(job_waiter_coalesced(w[1]));
        w[2] = lifecycle_submit_args(l, JOB_RESET, RESET_TEMPLATE, &from_a, 0, NULL, NULL);
        w[3] = lifecycle_submit_args(l, JOB_RESET, RESET_TEMPLATE, &from_a, 0, NULL, NULL);
        assert_true(job_waiter_coalesced(w[3]));
        w[4] = lifecycle_submit_args(l, JOB_RESET, RESET_TEMPLATE, &from_b, 0, NULL, NULL);
        assert_false(job_waiter_coalesced(w[4]));
        w[5] = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 0, NULL, NULL); /* from the seed */
        assert_false(job_waiter_coalesced(w[5]));
        atomic_store(&fake.block, false);
        for (int i = 0; i < 6; i++)
                job_waiter_wait(w[i]);
        assert_int_equal(job_waiter_result(w[4], &r, &e), 0);
        assert_string_equal(json_string_value(json_object_get(r, "name")), "b");
        assert_string_equal(json_string_value(json_object_get(r, "kind")), "reset");
        json_decref(r);
        assert_int_equal(atomic_load(&fake_snapshots), 4); /* two snapshots, resets from a and b */
        assert_int_equal(fake.resets, 1);
        for (int i = 0; i < 6; i++)
                job_waiter_free(w[i]);
        /* The first job closed the read end it owned: the write end now sees no reader. */
        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(write(p[1], "x", 1), -1);
        assert_int_equal(errno, EPIPE);
        close(p[1]);
        lifecycle_free(l);
}

static void test_lifecycle_waiter_times_out_and_job_goes_on(void **state)
{
        Lifecycle *l = lifecycle_new(&fake_lifecycle_ops, NULL, NULL, NULL);
        _cleanup_(job_waiter_freep) JobWaiter *w = NULL, *late = NULL;
        Error e = ERROR_INIT;
        int64_t t0;

        memset(&fake, 0, sizeof(fake));
        assert_int_equal(lifecycle_start(l, &e), 0);
        atomic_store(&fake.block, true);
        t0 = now_mono_ms();
        w = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 50, NULL, NULL);
        job_waiter_wait(w);
        assert_true(now_mono_ms() - t0 >= 50);
        assert_int_equal(job_waiter_result(w, NULL, &e), -ETIMEDOUT);
        assert_string_equal(e.code, "timeout");
        late = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 0, NULL, NULL);
        assert_true(job_waiter_coalesced(late));
        atomic_store(&fake.block, false);
        job_waiter_wait(late);
        assert_int_equal(job_waiter_result(late, NULL, &e), 0);
        assert_int_equal(fake.resets, 1);
        job_waiter_free(TAKE_PTR(w));
        job_waiter_free(TAKE_PTR(late));
        lifecycle_free(l);
}

static atomic_int notified;
static void count_notify(void *userdata)
{
        atomic_fetch_add(&notified, 1);
}

static void test_lifecycle_stop_cancels_queued_and_notifies_once(void **state)
{
        Lifecycle *l = lifecycle_new(&fake_lifecycle_ops, NULL, NULL, NULL);
        JobWaiter *running, *queued;
        Error e = ERROR_INIT;

        memset(&fake, 0, sizeof(fake));
        atomic_store(&notified, 0);
        assert_int_equal(lifecycle_start(l, &e), 0);
        atomic_store(&fake.block, true);
        running = lifecycle_submit(l, JOB_ENSURE, RESET_TEMPLATE, 0, count_notify, NULL);
        wait_for_int(&fake.running_jobs, 1);
        queued = lifecycle_submit(l, JOB_RESET, RESET_INPLACE, 0, count_notify, NULL);
        atomic_store(&fake.block, false);
        lifecycle_stop(l);
        assert_int_equal(job_waiter_result(queued, NULL, &e), -ECANCELED);
        assert_int_equal(job_waiter_result(running, NULL, &e), 0);
        assert_int_equal(notified, 2);
        assert_int_equal(fake.resets, 0);
        /* After stop, a submission is answered at once. */
        JobWaiter *after = lifecycle_submit(l, JOB_RESET, RESET_TEMPLATE, 0, count_notify, NULL);
        assert_int_equal(job_waiter_result(after, NULL, &e), -ECANCELED);
        assert_int_equal(notified, 3);
        job_waiter_free(after);
        job_waiter_free(running);
        job_waiter_free(queued);
        lifecycle_free(l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_supervisor_starts_seeds_and_becomes_ready, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_probe_failure_while_starting_stays_starting,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_start_timeout_restarts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_waits_for_a_server_it_does_not_own, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_restarts_dead_server_with_backoff, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_unknown_status_is_degraded_without_restart,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_probe_failure_when_up_is_degraded, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_seed_failure_backs_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_database_gone_while_ready_is_reseeded, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_inplace_reset_stays_ready, setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_reset_stays_ready_with_resetting_substatus,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_reset_refused_unless_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_supervisor_reseed_and_resets_never_overlap, setup,
                                                teardown),
                cmocka_unit_test(test_lifecycle_coalesces_same_mode),
                cmocka_unit_test(test_lifecycle_partial_resets_coalesce_by_tables_and_the_hook_runs_first),
                cmocka_unit_test(test_lifecycle_job_args),
                cmocka_unit_test(test_lifecycle_waiter_times_out_and_job_goes_on),
                cmocka_unit_test(test_lifecycle_stop_cancels_queued_and_notifies_once),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
