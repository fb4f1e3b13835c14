/* SPDX-License-Identifier: MIT */
/* runtime-external.c -- a Postgres someone else runs (compose, Kubernetes, an operator): attach, never start it. */

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "pg.h"
#include "runtime.h"

/* status() runs every supervisor tick (250 ms): look at the server at most this often. */
#define PING_INTERVAL_MS 1000
#define PING_TIMEOUT_S   "2"

/* What the role may do, read from the server once it answers (again after every outage). */
typedef struct Rights {
        bool known;
        bool superuser, createdb, replication;
        bool set_replication_role; /* superuser, or GRANT SET ON PARAMETER session_replication_role (15+) */
        bool signal_backend;       /* superuser, or a member of pg_signal_backend */
        char wal_level[16];
        char version[32];
} Rights;

typedef struct External {
        pthread_mutex_t lock; /* guards everything below: describe() runs on HTTP threads */
        Rights rights;
        bool up;              /* the last look found the server answering */
        int64_t looked_mono;  /* when, 0 = never */
        char detail[512];     /* why it is not up */
        char server[300];     /* "HOST:PORT", for messages */
} External;

static External *impl(Runtime *rt)
{
        return rt->impl;
}

/* One feature and the right it needs, as /health and the log name them. */
typedef struct Feature {
        const char *feature;
        const char *needs;
        const char *grant, *grant_after; /* the statement that grants it, around the role's name */
} Feature;

enum { FEAT_SEED, FEAT_INPLACE, FEAT_CDC, FEAT_SESSIONS, _FEAT_MAX };

static const Feature features[_FEAT_MAX] = {
        [FEAT_SEED] = {"seeding, resets from the template and clones (pgseedd creates the template, its "
                       "copies and the clones with CREATE DATABASE)",
                       "CREATEDB", "ALTER ROLE ", " CREATEDB"},
        [FEAT_INPLACE] = {"in-place resets (POST /reset?mode=inplace replays rows with "
                          "session_replication_role = replica)",
                          "superuser, or SET on session_replication_role (Postgres 15+)",
                          "GRANT SET ON PARAMETER session_replication_role TO ", ""},
        [FEAT_CDC] = {"logical replication slots for CDC consumers (Debezium) connecting as this role",
                      "REPLICATION", "ALTER ROLE ", " REPLICATION"},
        [FEAT_SESSIONS] = {"ending other roles' sessions when a reset or clone swaps a database",
                           "superuser, or membership in pg_signal_backend", "GRANT pg_signal_backend TO ", ""},
};

static void feature_grant(int f, const char *role, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s%s", features[f].grant, role, features[f].grant_after);
}

static bool feature_ok(const Rights *r, int f)
{
        switch (f) {
        case FEAT_SEED:
                return r->superuser || r->createdb;
        case FEAT_INPLACE:
                return r->superuser || r->set_replication_role;
        case FEAT_CDC:
                return r->superuser || r->replication;
        default:
                return r->superuser || r->signal_backend;
        }
}

static int external_usable(const Config *config, char *why, size_t size, Error *e)
{
        if (isempty(config->pg_url))
                return error_set(e, ENOENT, "not_configured", NULL, "no PGSEED_PG_URL");
        snprintf(why, size, "PGSEED_PG_URL names a server someone else runs (%s:%d)", config->pg_host,
                 config->pg_port);
        return 0;
}

static int external_init(Runtime *rt, Error *e)
{
        External *x = xcalloc(1, sizeof(External));
        const Config *c = rt->config;

        pthread_mutex_init(&x->lock, NULL);
        snprintf(x->server, sizeof(x->server), strchr(c->pg_host, ':') ? "[%s]:%d" : "%s:%d", c->pg_host,
                 c->pg_port);
        rt->impl = x;
        return 0;
}

static void external_free(Runtime *rt)
{
        External *x = impl(rt);

        if (!x)
                return;
        pthread_mutex_destroy(&x->lock);
        free(x);
        rt->impl = NULL;
}

/*
 * What the role may do, in one round trip.  has_parameter_privilege exists
 * from Postgres 15 on; before it only a superuser may set
 * session_replication_role.
 */
static int rights_read(const Config *c, Rights *ret, Error *e)
{
        _cleanup_pgconn_ PGconn *conn = pg_connect(c, "postgres", "pgseedd-rights", 5, 5000, e);
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        if (!conn)
                return -e->errnum;
        r = pg_query(conn,
                     PQserverVersion(conn) >= 150000
                             ? "SELECT rolsuper, rolcreatedb, rolreplication,"
                               " has_parameter_privilege('session_replication_role', 'SET'),"
                               " pg_has_role('pg_signal_backend', 'MEMBER'),"
                               " current_setting('wal_level'), current_setting('server_version')"
                               " FROM pg_roles WHERE rolname = current_user"
                             : "SELECT rolsuper, rolcreatedb, rolreplication, false,"
                               " pg_has_role('pg_signal_backend', 'MEMBER'),"
                               " current_setting('wal_level'), current_setting('server_version')"
                               " FROM pg_roles WHERE rolname = current_user",
                     0, NULL, &res, e);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return error_set(e, EIO, NULL, NULL, "role %s is not in pg_roles", c->pg_user);
        *ret = (Rights){
                .known = true,
                .superuser = streq(PQgetvalue(res, 0, 0), "t"),
                .createdb = streq(PQgetvalue(res, 0, 1), "t"),
                .replication = streq(PQgetvalue(res, 0, 2), "t"),
                .set_replication_role = streq(PQgetvalue(res, 0, 3), "t"),
                .signal_backend = streq(PQgetvalue(res, 0, 4), "t"),
        };
        strlcpy0(ret->wal_level, PQgetvalue(res, 0, 5), sizeof(ret->wal_level));
        strlcpy0(ret->version, PQgetvalue(res, 0, 6), sizeof(ret->version));
        return 0;
}

/* Logs, once per attach, what the role may do and what each missing right costs. */
static void rights_log(const Config *c, const External *x, const Rights *r)
{
        log_info("rights", "Role %s on %s (Postgres %s): superuser=%s createdb=%s replication=%s wal_level=%s",
                 c->pg_user, x->server, r->version, r->superuser ? "yes" : "no", r->createdb ? "yes" : "no",
                 r->replication ? "yes" : "no", r->wal_level);
        for (int f = 0; f < _FEAT_MAX; f++) {
                char grant[160];

                if (feature_ok(r, f))
                        continue;
                feature_grant(f, c->pg_user, grant, sizeof(grant));
                log_warning("rights", "Role %s lacks %s, which %s need; a superuser grants it with `%s`",
                            c->pg_user, features[f].needs, features[f].feature, grant);
        }
        if (!streq(r->wal_level, "logical"))
                log_info("rights", "wal_level is %s on %s: CDC (replication slots) needs wal_level = logical",
                         r->wal_level, x->server);
}

/* PQping: the server answers (also while it refuses connections: starting, shutting down, full). */
static bool server_answers(const Config *c)
{
        char port[16];
        const char *keys[] = {"host", "port", "user", "dbname", "connect_timeout", NULL};
        const char *values[] = {c->pg_host, port, c->pg_user, "postgres", PING_TIMEOUT_S, NULL};
        PGPing p;

        snprintf(port, sizeof(port), "%d", c->pg_port);
        p = PQpingParams(keys, values, 0);
        return p == PQPING_OK || p == PQPING_REJECT;
}

/*
 * Looks at the server (at most once a PING_INTERVAL_MS unless force) and,
 * when it answers after not having answered, reads the role's rights.
 * Returns whether it answers; detail says why not.
 */
static bool look(Runtime *rt, bool force, char *detail, size_t size)
{
        External *x = impl(rt);
        const Config *c = rt->config;
        int64_t now = now_mono_ms();
        bool up, was_up, known;
        char why[512] = "";

        pthread_mutex_lock(&x->lock);
        if (!force && x->looked_mono > 0 && now - x->looked_mono < PING_INTERVAL_MS) {
                up = x->up;
                strlcpy0(detail, x->detail, size);
                pthread_mutex_unlock(&x->lock);
                return up;
        }
        was_up = x->up;
        known = x->rights.known;
        pthread_mutex_unlock(&x->lock);

        up = server_answers(c);
        if (!up) {
                /* PQping says nothing about why: a real connection attempt does ("Connection refused"). */
                Error e = ERROR_INIT;
                PGconn *conn = pg_connect(c, "postgres", "pgseedd-attach", 2, 2000, &e);
                const char *cause = e.message;

                if (conn) {
                        PQfinish(conn);
                        up = true;
                }
                /* pg_connect says "HOST:PORT: cause"; the server is named once already. */
                if (startswith(cause, x->server) && startswith(cause + strlen(x->server), ": "))
                        cause += strlen(x->server) + 2;
                if (!up)
                        snprintf(why, sizeof(why),
                                 "Postgres at %s (not pgseedd's: runtime = external) does not answer: %s",
                                 x->server, cause);
        }
        if (up && (!was_up || !known)) {
                Rights r;
                Error e = ERROR_INIT;
                if (rights_read(c, &r, &e) == 0) {
                        rights_log(c, x, &r);
                        pthread_mutex_lock(&x->lock);
                        x->rights = r;
                        pthread_mutex_unlock(&x->lock);
                } else if (!was_up)
                        log_warning("rights", "Cannot read the rights of role %s on %s yet: %s", c->pg_user,
                                    x->server, e.message);
        }
        if (up && !was_up)
                log_info("attach", "Postgres at %s answers", x->server);
        else if (!up && was_up)
                log_warning("attach", "%s", why);

        pthread_mutex_lock(&x->lock);
        x->up = up;
        x->looked_mono = now;
        strlcpy0(x->detail, why, sizeof(x->detail));
        pthread_mutex_unlock(&x->lock);
        strlcpy0(detail, why, size);
        return up;
}

static int external_prepare(Runtime *rt, Error *e)
{
        External *x = impl(rt);
        char detail[512];

        log_info("attach",
                 "Attaching to Postgres at %s as %s: someone else owns that server, so pgseedd never starts, "
                 "stops or restarts it",
                 x->server, rt->config->pg_user);
        /* Not up yet is no error: a compose stack or a pod may start it after us.  The supervisor waits. */
        (void) look(rt, true, detail, sizeof(detail));
        return 0;
}

/* Not ours to start: only looks whether it answers, so that the supervisor can say it waits for it. */
static int external_start(Runtime *rt, Error *e)
{
        char detail[512];

        if (look(rt, true, detail, sizeof(detail)))
                return 0;
        return error_set(e, ECONNREFUSED, "server_down", NULL, "%s", detail);
}

static int external_stop(Runtime *rt, Error *e)
{
        return 0;
}

static int external_status(Runtime *rt, RuntimeStatus *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->running = look(rt, false, ret->detail, sizeof(ret->detail));
        strlcpy0(ret->id, impl(rt)->server, sizeof(ret->id));
        return 0;
}

static int external_logs_open(Runtime *rt, const LogQuery *q, LogStream **ret, Error *e)
{
        return error_set(e, EOPNOTSUPP, "no_log_access",
                         "Read the server log where its owner keeps it (`docker compose logs postgres`, "
                         "`kubectl logs POD -c postgres`, the host's journal).",
                         "pgseedd has no access to the server log of Postgres at %s: runtime = external "
                         "attaches to a server someone else runs",
                         impl(rt)->server);
}

static int external_remove(Runtime *rt, bool volumes, Error *e)
{
        return error_set(e, EOPNOTSUPP, "not_owned",
                         "Remove the server with whatever runs it; pgseedd's databases on it are DATABASE, "
                         "DATABASE_template and the DATABASE_spare/clone ones.",
                         "runtime = external: the server at %s is not pgseedd's to remove", impl(rt)->server);
}

/* A failure the role's rights explain (seeding without CREATEDB): say which right and how to grant it. */
static bool external_explain_failure(Runtime *rt, const char *failure, char *ret, size_t size)
{
        External *x = impl(rt);
        const Config *c = rt->config;
        Rights r;
        char grant[160];
        int f = -1;

        pthread_mutex_lock(&x->lock);
        r = x->rights;
        pthread_mutex_unlock(&x->lock);
        if (!r.known)
                return false;
        if (!feature_ok(&r, FEAT_SEED) && (strstr(failure, "permission denied to create database") ||
                                           strstr(failure, "Seeding failed")))
                f = FEAT_SEED;
        else if (!feature_ok(&r, FEAT_INPLACE) && strstr(failure, "session_replication_role"))
                f = FEAT_INPLACE;
        if (f < 0)
                return false;
        feature_grant(f, c->pg_user, grant, sizeof(grant));
        snprintf(ret, size, "Role %s lacks %s, which %s need: a superuser of %s grants it with `%s`", c->pg_user,
                 features[f].needs, features[f].feature, x->server, grant);
        return true;
}

static void external_describe(Runtime *rt, json_t *o)
{
        External *x = impl(rt);
        const Config *c = rt->config;
        json_t *list = json_array();
        Rights r;

        pthread_mutex_lock(&x->lock);
        r = x->rights;
        pthread_mutex_unlock(&x->lock);
        json_object_set_new(o, "server", json_string(x->server));
        json_object_set_new(o, "logs", json_string("no access: the server's owner keeps its log"));
        if (!r.known) {
                json_object_set_new(o, "role", json_pack("{s:s, s:b}", "name", c->pg_user, "checked", 0));
                json_decref(list);
                return;
        }
        json_object_set_new(o, "role",
                            json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:s}", "name", c->pg_user, "checked", 1,
                                      "superuser", r.superuser, "createdb", r.createdb, "replication",
                                      r.replication, "signal_backend", r.signal_backend, "wal_level",
                                      r.wal_level));
        for (int f = 0; f < _FEAT_MAX; f++) {
                json_t *item = json_pack("{s:s, s:s, s:b}", "feature", features[f].feature, "needs",
                                         features[f].needs, "ok", feature_ok(&r, f));
                if (!feature_ok(&r, f)) {
                        char grant[160];
                        feature_grant(f, c->pg_user, grant, sizeof(grant));
                        json_object_set_new(item, "grant", json_string(grant));
                }
                json_array_append_new(list, item);
        }
        json_object_set_new(o, "features", list);
}

const RuntimeOps runtime_external_ops = {
        .name = "external",
        .owns_server = false,
        .usable = external_usable,
        .init = external_init,
        .prepare = external_prepare,
        .start = external_start,
        .stop = external_stop,
        .status = external_status,
        .logs_open = external_logs_open,
        .remove = external_remove,
        .explain_failure = external_explain_failure,
        .describe = external_describe,
        .free = external_free,
};
