/* SPDX-License-Identifier: MIT */
/* api-health.c -- GET/HEAD /health, answered from the supervisor's last probe (never a new connection). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "jsonfmt.h"
#include "pgbouncer.h"
#include "roles.h"
#include "runtime.h"
#include "seed.h"
#include "supervisor.h"
#include "tls.h"

unsigned health_status_code(const SupSnapshot *snap)
{
        return snap->state == SUP_READY ? 200 : 503;
}

static json_t *time_or_null(int64_t ms)
{
        char buf[40];

        if (ms <= 0)
                return json_null();
        format_rfc3339_ms(ms, buf, sizeof(buf));
        return json_string(buf);
}

static json_t *seeding_json(const SeedProgress *p, int64_t now_mono)
{
        long long loaded = atomic_load(&p->rows_loaded), total = atomic_load(&p->rows_total);
        long long started = atomic_load(&p->started_mono_ms);
        json_t *o = json_object();

        json_object_set_new(o, "phase", json_string(seed_phase_to_string(atomic_load(&p->phase))));
        json_object_set_new(o, "rows_loaded", json_integer(loaded));
        json_object_set_new(o, "rows_total", json_integer(total));
        json_object_set_new(o, "percent",
                            json_real(total > 0 ? (double) (loaded * 1000 / total) / 10.0 : 0.0));
        json_object_set_new(o, "elapsed_ms", json_integer(started > 0 ? now_mono - started : 0));
        return o;
}

json_t *health_build(const HealthInput *in)
{
        const SupSnapshot *snap = in->snap;
        const Config *c = in->config;
        json_t *facts = snap->facts, *o = json_object(), *db, *v;
        _cleanup_free_ char *url = config_connection_url(c);

        json_object_set_new(o, "status", json_string(sup_state_to_string(snap->state)));
        json_object_set_new(o, "reason", json_string(snap->reason));
        json_object_set_new(o, "since", time_or_null(snap->state_since_ms));
        json_object_set_new(o, "runtime", json_string(in->runtime));
        if (!isempty(in->runtime_why))
                json_object_set_new(o, "runtime_reason", json_string(in->runtime_why));
        if (*snap->runtime_id)
                json_object_set_new(o, "runtime_id", json_string(snap->runtime_id));
        if (in->runtime_info)
                json_object_set(o, "runtime_info", in->runtime_info);
        json_object_set_new(o, "restarts", json_integer(snap->restarts));
        json_object_set_new(o, "resetting",
                            snap->resetting
                                    ? json_pack("{s:s, s:o}", "mode",
                                                snap->reset_mode == RESET_INPLACE ? "inplace" : "template",
                                                "since", time_or_null(snap->reset_since_ms))
                                    : json_false());
        v = facts ? json_object_get(facts, "epoch") : NULL;
        json_object_set(o, "epoch", v ? v : json_null());

        db = json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", config_advertised_host(c), "port", c->pg_port,
                       "name", c->pg_db, "user", c->pg_user, "url", url);
        /* [postgres] advertise_host: clients use that name; say where pgseedd itself connects. */
        if (!streq(config_advertised_host(c), c->pg_host))
                json_object_set_new(db, "connected_via", json_string(c->pg_host));
        json_object_set_new(o, "database", db);
        json_object_set_new(o, "roles", roles_describe(c));
        if (config_tls_enabled(c)) {
                _cleanup_free_ char *ca = tls_ca_path(c), *cert = tls_cert_path(c);
                _cleanup_free_ char *verify =
                        ca ? xasprintf("%s?sslmode=verify-full&sslrootcert=%s", url, ca) : NULL;
                json_object_set_new(o, "tls",
                                    json_pack("{s:s, s:b, s:s, s:s?, s:s?}", "mode", c->pg_tls, "required",
                                              streq(c->pg_tls, "require"), "cert_file", cert, "ca_file", ca,
                                              "url", verify));
        }
        if (in->pgbouncer)
                json_object_set(o, "pgbouncer", in->pgbouncer);

        v = facts ? json_object_get(facts, "postgres_version") : NULL;
        json_object_set(o, "postgres_version", v ? v : json_null());
        json_object_set_new(o, "uptime_s", json_integer(in->uptime_s));
        json_object_set_new(o, "checked_at", time_or_null(snap->checked_at_ms));
        json_object_set_new(o, "checked_age_ms",
                            snap->checked_at_ms > 0 ? json_integer(in->now_ms - snap->checked_at_ms)
                                                    : json_null());

        if (snap->state == SUP_SEEDING && in->progress)
                json_object_set_new(o, "seeding", seeding_json(in->progress, now_mono_ms()));

        v = facts ? json_object_get(facts, "tables") : NULL;
        if (v) {
                json_int_t total = 0;
                size_t i;
                json_t *t;
                json_array_foreach(v, i, t) total += json_integer_value(json_object_get(t, "rows"));
                json_object_set(o, "tables", v);
                json_object_set_new(o, "rows_total", json_integer(total));
        }
        if (in->dataset)
                json_object_set(o, "dataset", in->dataset);
        v = facts ? json_object_get(facts, "cdc") : NULL;
        if (v) {
                json_t *cdc = json_deep_copy(v);
                /* A missing publication comes back as SQL NULL; say so explicitly. */
                if (json_is_null(json_object_get(cdc, "publication")))
                        json_object_set_new(cdc, "publication",
                                            json_pack("{s:s, s:b}", "name", c->publication, "exists", 0));
                json_object_set_new(o, "cdc", cdc);
        }
        return o;
}

/*
 * Probes poll /health all day long: building and serializing the JSON per
 * request cost half the throughput of a static file.  The serialized reply is
 * kept and served as is until the supervisor's state or facts change (then at
 * once: /health says ready the moment a reset answers) or 100 ms pass (so
 * uptime_s, checked_age_ms and seeding progress stay that fresh).
 */
#define HEALTH_CACHE_MS 100

typedef struct HealthKey {
        SupState state;
        int64_t state_since_ms, checked_at_ms;
        unsigned restarts;
        const json_t *facts; /* the probe replaces the object on every look */
        bool resetting;      /* a reset runs while the state stays ready */
        ResetMode reset_mode;
        int64_t reset_since_ms;
        char reason[sizeof(((SupSnapshot *) 0)->reason)];
} HealthKey;

struct HealthCache {
        pthread_mutex_t lock;
        HealthKey key;
        int64_t built_mono;
        unsigned status;
        char *body;
        size_t len;
};

void health_cache_free(HealthCache *c)
{
        if (!c)
                return;
        pthread_mutex_destroy(&c->lock);
        free(c->body);
        free(c);
}

static HealthCache *health_cache_get(Daemon *d)
{
        HealthCache *c = atomic_load(&d->health_cache), *expected = NULL;

        if (c)
                return c;
        c = xcalloc(1, sizeof(HealthCache));
        pthread_mutex_init(&c->lock, NULL);
        if (!atomic_compare_exchange_strong(&d->health_cache, &expected, c)) {
                health_cache_free(c); /* another worker made one first */
                return expected;
        }
        return c;
}

static void health_key(const SupSnapshot *snap, HealthKey *k)
{
        memset(k, 0, sizeof(*k));
        k->state = snap->state;
        k->state_since_ms = snap->state_since_ms;
        k->checked_at_ms = snap->checked_at_ms;
        k->restarts = snap->restarts;
        k->facts = snap->facts;
        k->resetting = snap->resetting;
        k->reset_mode = snap->reset_mode;
        k->reset_since_ms = snap->reset_since_ms;
        strlcpy0(k->reason, snap->reason, sizeof(k->reason));
}

/* The body for snap: the cached one when still true, else a new one; status and body in *ret_*. */
static char *health_render(Daemon *d, const SupSnapshot *snap, unsigned *ret_status, size_t *ret_len)
{
        HealthCache *c = health_cache_get(d);
        int64_t now = now_mono_ms();
        HealthKey key;
        char *copy;

        health_key(snap, &key);
        pthread_mutex_lock(&c->lock);
        if (!c->body || now - c->built_mono >= HEALTH_CACHE_MS || memcmp(&key, &c->key, sizeof(key)) != 0) {
                json_t *dataset = seeder_describe(d->seeder), *runtime_info = runtime_describe(d->runtime),
                       *body;
                json_t *pooler = d->pgbouncer ? pgbouncer_describe(d->pgbouncer) : NULL;
                HealthInput in = {
                        .snap = snap,
                        .config = d->config,
                        .runtime = runtime_name(d->runtime),
                        .runtime_why = d->runtime->why,
                        .uptime_s = (now - d->started_mono_ms) / 1000,
                        .now_ms = now_real_ms(),
                        .progress = seeder_progress(d->seeder),
                        .dataset = dataset,
                        .runtime_info = runtime_info,
                        .pgbouncer = pooler,
                };

                body = health_build(&in);
                free(c->body);
                c->body = json_format(body, &c->len);
                c->status = health_status_code(snap);
                c->key = key;
                c->built_mono = now;
                json_decref(body);
                json_decref(dataset);
                json_decref(runtime_info);
                json_decref(pooler);
        }
        copy = xmalloc(c->len + 1);
        memcpy(copy, c->body, c->len + 1);
        *ret_len = c->len;
        *ret_status = c->status;
        pthread_mutex_unlock(&c->lock);
        return copy;
}

void api_health(Request *req)
{
        Daemon *d = request_daemon(req);
        _cleanup_free_ char *body = NULL;
        SupSnapshot snap;
        unsigned status;
        size_t len;

        if (!request_query_allow(req, NULL))
                return;
        supervisor_snapshot(d->supervisor, &snap);
        body = health_render(d, &snap, &status, &len);
        sup_snapshot_done(&snap);
        http_reply_text(req, status, "application/json; charset=utf-8", body, len);
}

/*
 * A tick can take a while (starting the server, a slow probe), so only a loop
 * stuck for this long counts as dead: a liveness probe that fails restarts
 * pgseedd, which is worse than waiting.
 */
#define LIVEZ_STALL_MS 60000

typedef struct ProbeCheck {
        const char *name;
        bool ok;
        char detail[800];
} ProbeCheck;

/*
 * Kubernetes' convention: "ok" (200) or "failed: NAME: DETAIL" (503) in plain
 * text; with ?verbose one "[+]NAME DETAIL" (or [-]) line per check and a verdict.
 */
static void probe_reply(Request *req, const ProbeCheck *checks, size_t n)
{
        bool verbose, all = true;
        char body[2048] = "";

        if (!request_query_allow(req, NULL) || !request_query_bool(req, "verbose", false, &verbose))
                return;
        for (size_t i = 0; i < n; i++)
                all = all && checks[i].ok;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(body);

                if (verbose)
                        snprintf(body + len, sizeof(body) - len, "[%c]%s %s\n", checks[i].ok ? '+' : '-',
                                 checks[i].name, checks[i].detail);
                else if (!checks[i].ok)
                        snprintf(body + len, sizeof(body) - len, "%s%s: %s",
                                 len ? "; " : "failed: ", checks[i].name, checks[i].detail);
        }
        if (verbose)
                snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s check %s\n",
                         request_path(req) + 1, all ? "passed" : "failed");
        else
                snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s\n", all ? "ok" : "");
        http_reply_text(req, all ? 200 : 503, "text/plain; charset=utf-8", body, strlen(body));
}

/* Liveness: the supervisor loop still ticks (never depends on Postgres: restarting pgseedd would not help
 * it). */
static void livez_check(Daemon *d, ProbeCheck *c)
{
        int64_t now = now_mono_ms(), beat = supervisor_heartbeat_mono(d->supervisor);
        int64_t age = now - (beat > 0 ? beat : d->started_mono_ms);

        c->name = "supervisor";
        c->ok = age < LIVEZ_STALL_MS;
        snprintf(c->detail, sizeof(c->detail), "%s (last tick %.1f s ago%s)", c->ok ? "ok" : "stalled",
                 age / 1000.0, beat > 0 ? "" : ", none yet");
}

void api_livez(Request *req)
{
        ProbeCheck c;

        livez_check(request_daemon(req), &c);
        probe_reply(req, &c, 1);
}

void api_readyz(Request *req)
{
        Daemon *d = request_daemon(req);
        ProbeCheck c[4];
        size_t n = 3;
        SupSnapshot snap;

        livez_check(d, &c[0]);
        supervisor_snapshot(d->supervisor, &snap);
        c[1].name = "postgres";
        c[1].ok = snap.state == SUP_READY || snap.state == SUP_RESETTING || snap.state == SUP_SEEDING;
        c[1].ok = c[1].ok && snap.checked_at_ms > 0;
        snprintf(c[1].detail, sizeof(c[1].detail), "%s", c[1].ok ? "accepting connections" : snap.reason);
        c[2].name = "seeded";
        c[2].ok = snap.state == SUP_READY;
        snprintf(c[2].detail, sizeof(c[2].detail), "%s (%s)", c[2].ok ? "ok" : "no",
                 sup_state_to_string(snap.state));
        sup_snapshot_done(&snap);
        /* With the pooler on, clients connect through it: ready means it answers too. */
        if (d->pgbouncer) {
                json_t *pb = pgbouncer_describe(d->pgbouncer);
                c[3].name = "pgbouncer";
                c[3].ok = json_is_true(json_object_get(pb, "up"));
                if (c[3].ok)
                        snprintf(c[3].detail, sizeof(c[3].detail), "accepting connections on 127.0.0.1:%lld",
                                 (long long) json_integer_value(json_object_get(pb, "port")));
                else
                        snprintf(c[3].detail, sizeof(c[3].detail), "%s",
                                 json_string_value(json_object_get(pb, "reason"))
                                         ? json_string_value(json_object_get(pb, "reason"))
                                         : "not up");
                json_decref(pb);
                n = 4;
        }
        probe_reply(req, c, n);
}
