/* SPDX-License-Identifier: MIT */
/* workload.c -- change traffic on demand: a thread that writes comments, likes, edits and deletions at a
 * rate. */

#include "workload.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "pg.h"
#include "util.h"

#define BATCH_PER_S       50   /* transactions per second at most: a batch holds rate/50 changes */
#define BATCH_MAX         2000 /* changes in one transaction */
#define NEW_USER_SHARE    0.15 /* of inserts: a new channel (its comments follow) */
#define NEW_USER_COMMENTS 0.30 /* of new comments: by a channel the workload created */
#define FAILURES_MAX      10   /* consecutive failed batches before the workload gives up */

enum { KIND_INSERT, KIND_UPDATE, KIND_DELETE, _KIND_MAX };
static const char *const kind_names[_KIND_MAX] = {"insert", "update", "delete"};

struct Workload {
        const Config *c;
        pthread_mutex_t control; /* serializes start, stop and free (the join) */
        pthread_mutex_t lock;    /* guards everything below */
        pthread_t thread;
        bool thread_started;
        atomic_bool stop;

        WorkloadParams p;
        const char *state; /* idle, starting, running, finished, stopped, failed */
        char stopped_by[128];
        char last_error[512];
        int64_t started_real_ms, started_mono_us, ended_mono_us;
        int64_t done[_KIND_MAX]; /* this run: changes applied */
        int64_t generated;       /* this run: changes generated (a conflicting insert applies none) */
        int64_t errors;          /* this run: failed batches */
        int64_t total[_KIND_MAX], errors_total; /* every run, for /metrics */
};

/* ---- deterministic choices -------------------------------------------------- */

typedef struct Rng {
        uint64_t s;
} Rng;

/* splitmix64: small, fast and the same everywhere, so that a seed means the same changes. */
static uint64_t rng_next(Rng *r)
{
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static double rng_unit(Rng *r)
{
        return (double) (rng_next(r) >> 11) * 0x1.0p-53;
}

static size_t rng_below(Rng *r, size_t n)
{
        return n ? (size_t) (rng_next(r) % n) : 0;
}

static const char *const sentiments[] = {"Positive", "Neutral", "Negative"};
static const char *const phrases[][4] = {
        {"This is exactly what I needed, thank you!", "Best video on the topic so far.",
         "Watched it twice, still great.", "Subscribed, keep them coming!"},
        {"Interesting, but I have a question about the second part.", "Came here from the playlist.",
         "What camera do you use?", "Timestamp 3:12 for anyone looking."},
        {"The audio is too quiet.", "This did not work for me at all.", "Too long, get to the point.",
         "Clickbait title, disappointed."},
};
static const char *const countries[] = {"US", "GB", "IN", "DE", "FR", "BR", "JP", "CA", "ES", "NL"};

/* A growing array of owned strings. */
typedef struct Pool {
        char **v;
        size_t n, cap;
} Pool;

static void pool_add(Pool *p, char *s)
{
        if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 1024;
                p->v = xrealloc(p->v, p->cap * sizeof(char *));
        }
        p->v[p->n++] = s;
}

static void pool_free(Pool *p)
{
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i]);
        free(p->v);
        *p = (Pool){0};
}

/* A text[] literal ("{"a","b",NULL}") built element by element. */
typedef struct ArrayLit {
        Buffer b;
        size_t n;
} ArrayLit;

static void lit_add(ArrayLit *a, const char *s)
{
        buffer_appends(&a->b, a->n++ ? "," : "{");
        if (!s) {
                buffer_appends(&a->b, "NULL");
                return;
        }
        buffer_appends(&a->b, "\"");
        for (const char *p = s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        buffer_append(&a->b, "\\", 1);
                buffer_append(&a->b, p, 1);
        }
        buffer_appends(&a->b, "\"");
}

static void lit_addf(ArrayLit *a, long long v)
{
        char num[32];
        snprintf(num, sizeof(num), "%lld", v);
        lit_add(a, num);
}

static const char *lit_text(ArrayLit *a)
{
        if (a->n == 0)
                buffer_appends(&a->b, "{");
        buffer_appends(&a->b, "}");
        return a->b.data;
}

static void lit_reset(ArrayLit *a)
{
        buffer_free(&a->b);
        a->n = 0;
}

/* ---- the generator ------------------------------------------------------------ */

typedef struct Gen {
        Rng rng;
        uint64_t seed;
        Pool comments, users, videos, new_users;
        int64_t n_comments, n_users; /* created so far (their ids' numbers) */
        /* the batch being built */
        ArrayLit u_id, u_name;
        ArrayLit c_id, c_video, c_user, c_text, c_offset, c_sent, c_country;
        ArrayLit d_id;
        char **up_id; /* updates, merged per comment so that the result does not depend on batching */
        int64_t *up_likes, *up_replies;
        const char **up_sent;
        size_t n_up, cap_up;
        int64_t gen[_KIND_MAX];
} Gen;

static void gen_batch_reset(Gen *g)
{
        ArrayLit *all[] = {&g->u_id,   &g->u_name,   &g->c_id,   &g->c_video,   &g->c_user,
                           &g->c_text, &g->c_offset, &g->c_sent, &g->c_country, &g->d_id};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                lit_reset(all[i]);
        for (size_t i = 0; i < g->n_up; i++)
                free(g->up_id[i]);
        g->n_up = 0;
        memset(g->gen, 0, sizeof(g->gen));
}

static void gen_free(Gen *g)
{
        gen_batch_reset(g);
        pool_free(&g->comments);
        pool_free(&g->users);
        pool_free(&g->videos);
        pool_free(&g->new_users);
        free(g->up_id);
        free(g->up_likes);
        free(g->up_replies);
        free(g->up_sent);
}

static void gen_insert(Gen *g)
{
        const char *user;
        char *id;
        int s;

        if (g->videos.n == 0 || rng_unit(&g->rng) < NEW_USER_SHARE || g->users.n + g->new_users.n == 0) {
                char *uid = xasprintf("UCwl%08llx%08lld", (unsigned long long) (g->seed & 0xffffffffu),
                                      (long long) ++g->n_users);
                char *name = xasprintf("workload viewer %lld", (long long) g->n_users);
                lit_add(&g->u_id, uid);
                lit_add(&g->u_name, name);
                free(name);
                pool_add(&g->new_users, uid);
                g->gen[KIND_INSERT]++;
                return;
        }
        user = g->new_users.n && (g->users.n == 0 || rng_unit(&g->rng) < NEW_USER_COMMENTS)
                       ? g->new_users.v[rng_below(&g->rng, g->new_users.n)]
                       : g->users.v[rng_below(&g->rng, g->users.n)];
        s = (int) rng_below(&g->rng, ELEMENTSOF(sentiments));
        id = xasprintf("wl%08llx-%08lld", (unsigned long long) (g->seed & 0xffffffffu),
                       (long long) ++g->n_comments);
        lit_add(&g->c_id, id);
        lit_add(&g->c_video, g->videos.v[rng_below(&g->rng, g->videos.n)]);
        lit_add(&g->c_user, user);
        lit_add(&g->c_text, phrases[s][rng_below(&g->rng, ELEMENTSOF(phrases[s]))]);
        lit_addf(&g->c_offset, (long long) g->n_comments);
        lit_add(&g->c_sent, sentiments[s]);
        lit_add(&g->c_country, countries[rng_below(&g->rng, ELEMENTSOF(countries))]);
        pool_add(&g->comments, id);
        g->gen[KIND_INSERT]++;
}

static void gen_update(Gen *g)
{
        const char *id = g->comments.v[rng_below(&g->rng, g->comments.n)];
        double what = rng_unit(&g->rng);
        size_t i;

        for (i = 0; i < g->n_up && !streq(g->up_id[i], id); i++)
                ;
        if (i == g->n_up) {
                if (g->n_up == g->cap_up) {
                        g->cap_up = g->cap_up ? g->cap_up * 2 : 256;
                        g->up_id = xrealloc(g->up_id, g->cap_up * sizeof(char *));
                        g->up_likes = xrealloc(g->up_likes, g->cap_up * sizeof(int64_t));
                        g->up_replies = xrealloc(g->up_replies, g->cap_up * sizeof(int64_t));
                        g->up_sent = xrealloc(g->up_sent, g->cap_up * sizeof(char *));
                }
                g->up_id[i] = xstrdup(id);
                g->up_likes[i] = g->up_replies[i] = 0;
                g->up_sent[i] = NULL;
                g->n_up++;
        }
        if (what < 0.5)
                g->up_likes[i] += 1 + (int64_t) rng_below(&g->rng, 5); /* likes going up */
        else if (what < 0.75)
                g->up_replies[i] += 1; /* a reply */
        else
                g->up_sent[i] = sentiments[rng_below(&g->rng, ELEMENTSOF(sentiments))]; /* re-labelled */
        g->gen[KIND_UPDATE]++;
}

static void gen_delete(Gen *g)
{
        size_t i = rng_below(&g->rng, g->comments.n);

        lit_add(&g->d_id, g->comments.v[i]);
        free(g->comments.v[i]);
        g->comments.v[i] = g->comments.v[--g->comments.n];
        g->gen[KIND_DELETE]++;
}

static void gen_one(Gen *g, const double mix[3])
{
        double x = rng_unit(&g->rng);
        int kind = x < mix[0] ? KIND_INSERT : x < mix[0] + mix[1] ? KIND_UPDATE : KIND_DELETE;

        if (kind != KIND_INSERT && g->comments.n == 0)
                kind = KIND_INSERT;
        if (kind == KIND_INSERT)
                gen_insert(g);
        else if (kind == KIND_UPDATE)
                gen_update(g);
        else
                gen_delete(g);
}

/* Loads a column of ids in byte order (the same order whatever the collation), so a seed picks the same
 * rows. */
static int load_pool(PGconn *conn, const char *sql, Pool *p, Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(conn, sql, 0, NULL, &res, e);

        for (int i = 0; r == 0 && i < PQntuples(res); i++)
                pool_add(p, xstrdup(PQgetvalue(res, i, 0)));
        return r;
}

/*
 * The ids to pick from, as the database has them now.  Called at the start,
 * and after a failed batch: its rolled-back rows must not be picked (a
 * comment by a channel that was never inserted would fail every batch after).
 */
static int gen_load(Gen *g, PGconn *conn, Error *e)
{
        pool_free(&g->comments);
        pool_free(&g->users);
        pool_free(&g->videos);
        pool_free(&g->new_users);
        if (load_pool(conn, "SELECT comment_id FROM comments ORDER BY comment_id COLLATE \"C\"",
                      &g->comments, e) < 0 ||
            load_pool(conn, "SELECT channel_id FROM users ORDER BY channel_id COLLATE \"C\"", &g->users, e) <
                    0 ||
            load_pool(conn, "SELECT video_id FROM videos ORDER BY video_id COLLATE \"C\"", &g->videos, e) <
                    0)
                return -e->errnum;
        return 0;
}

static int exec_batch_stmt(PGconn *conn, const char *sql, int n, const char *const *params, int64_t *rows,
                           Error *e)
{
        _cleanup_pgresult_ PGresult *res = NULL;
        int r = pg_query(conn, sql, n, params, &res, e);

        if (r == 0 && rows)
                *rows = strtoll(PQcmdTuples(res), NULL, 10);
        return r;
}

/*
 * One transaction with the batch as four set-based statements (arrays as
 * parameters: a few round trips for hundreds of changes).  Adds what each
 * applied to done.
 */
static int gen_flush(Gen *g, PGconn *conn, int64_t done[_KIND_MAX], Error *e)
{
        int64_t users = 0, ins = 0, upd = 0, del = 0;
        int r = pg_exec(conn, "BEGIN", e);

        if (r == 0 && g->u_id.n) {
                const char *params[] = {lit_text(&g->u_id), lit_text(&g->u_name)};
                r = exec_batch_stmt(conn,
                                    "INSERT INTO users (channel_id, channel_name)"
                                    " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                                    2, params, &users, e);
        }
        if (r == 0 && g->c_id.n) {
                const char *params[] = {lit_text(&g->c_id),     lit_text(&g->c_video),  lit_text(&g->c_user),
                                        lit_text(&g->c_text),   lit_text(&g->c_offset), lit_text(&g->c_sent),
                                        lit_text(&g->c_country)};
                r = exec_batch_stmt(
                        conn,
                        "INSERT INTO comments (comment_id, video_id, channel_id, comment_text, likes, "
                        "replies,"
                        " published_at, sentiment_label, country_code)"
                        " SELECT i, v, ch, t, 0, 0, timestamp '2025-01-01' + o * interval '1 second', s, cc"
                        "   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], "
                        "$6::text[],"
                        "               $7::text[]) AS u(i, v, ch, t, o, s, cc)"
                        " ON CONFLICT DO NOTHING",
                        7, params, &ins, e);
        }
        if (r == 0 && g->n_up) {
                ArrayLit id = {0}, likes = {0}, replies = {0}, sent = {0};
                for (size_t i = 0; i < g->n_up; i++) {
                        lit_add(&id, g->up_id[i]);
                        lit_addf(&likes, (long long) g->up_likes[i]);
                        lit_addf(&replies, (long long) g->up_replies[i]);
                        lit_add(&sent, g->up_sent[i]);
                }
                const char *params[] = {lit_text(&id), lit_text(&likes), lit_text(&replies),
                                        lit_text(&sent)};
                r = exec_batch_stmt(
                        conn,
                        "UPDATE comments c SET likes = coalesce(c.likes, 0) + u.dl,"
                        " replies = coalesce(c.replies, 0) + u.dr,"
                        " sentiment_label = coalesce(u.s, c.sentiment_label)"
                        "  FROM unnest($1::text[], $2::int[], $3::int[], $4::text[]) AS u(i, dl, dr, s)"
                        " WHERE c.comment_id = u.i",
                        4, params, &upd, e);
                lit_reset(&id);
                lit_reset(&likes);
                lit_reset(&replies);
                lit_reset(&sent);
        }
        if (r == 0 && g->d_id.n) {
                const char *params[] = {lit_text(&g->d_id)};
                r = exec_batch_stmt(conn, "DELETE FROM comments WHERE comment_id = ANY($1::text[])", 1,
                                    params, &del, e);
        }
        if (r == 0)
                r = pg_exec(conn, "COMMIT", e);
        if (r < 0) {
                Error ignore = ERROR_INIT;
                if (PQstatus(conn) == CONNECTION_OK)
                        (void) pg_exec(conn, "ROLLBACK", &ignore);
                return r;
        }
        /* Merged updates count once per change asked for (the row changed that often). */
        done[KIND_INSERT] += users + ins;
        done[KIND_UPDATE] += upd ? g->gen[KIND_UPDATE] : 0;
        done[KIND_DELETE] += del;
        return 0;
}

/* ---- the thread ----------------------------------------------------------------- */

static void set_state(Workload *w, const char *state, const char *error)
{
        pthread_mutex_lock(&w->lock);
        w->state = state;
        if (error)
                strlcpy0(w->last_error, error, sizeof(w->last_error));
        if (!streq(state, "running") && !streq(state, "starting"))
                w->ended_mono_us = now_mono_us();
        pthread_mutex_unlock(&w->lock);
}

static PGconn *workload_connect(Workload *w, Error *e)
{
        PGconn *conn = pg_connect(w->c, w->c->pg_db, "pgseedd-workload", 10, 5000, e);

        /*
         * Commits need not wait for their WAL flush (the walsender still sends
         * only flushed WAL, a few hundred ms later at worst): several thousand
         * small transactions a second on a shared disk.
         */
        if (conn && pg_exec(conn, "SET synchronous_commit = off", e) < 0) {
                PQfinish(conn);
                return NULL;
        }
        return conn;
}

static void *workload_main(void *arg)
{
        Workload *w = arg;
        WorkloadParams p;
        Gen g = {0};
        Error e = ERROR_INIT;
        PGconn *conn;
        int64_t t0, generated = 0, batch_max, failures = 0;
        const char *end = "finished";

        pthread_mutex_lock(&w->lock);
        p = w->p;
        pthread_mutex_unlock(&w->lock);
        g.seed = p.seed;
        g.rng.s = p.seed;
        batch_max = p.rate / BATCH_PER_S;
        batch_max = batch_max < 1 ? 1 : batch_max > BATCH_MAX ? BATCH_MAX : batch_max;

        conn = workload_connect(w, &e);
        if (!conn || gen_load(&g, conn, &e) < 0) {
                set_state(w, "failed", e.message);
                goto out;
        }
        if (g.videos.n == 0) {
                set_state(w, "failed", "There are no videos to comment on");
                goto out;
        }
        t0 = now_mono_us();
        pthread_mutex_lock(&w->lock);
        w->state = "running";
        w->started_mono_us = t0;
        pthread_mutex_unlock(&w->lock);

        while (!atomic_load(&w->stop)) {
                int64_t now = now_mono_us(), elapsed = now - t0, due, n;
                int64_t done[_KIND_MAX] = {0};

                if ((p.count && generated >= p.count) || (p.duration_ms && elapsed >= p.duration_ms * 1000))
                        break;
                due = (int64_t) ((double) p.rate * (double) elapsed / 1e6);
                if (p.duration_ms && due > p.rate * p.duration_ms / 1000)
                        due = p.rate * p.duration_ms / 1000;
                /*
                 * Everything due goes into one transaction: at pace that is about
                 * rate/50 changes (the sleep below); behind (a busy machine), the
                 * batches grow, which costs fewer commits, so the pace comes back.
                 */
                n = due - generated;
                if (n > BATCH_MAX)
                        n = BATCH_MAX;
                if (p.count && n > p.count - generated)
                        n = p.count - generated;
                if (n <= 0) {
                        /* Until the next change is due (or a batch's worth later), never more than 20 ms. */
                        int64_t next_us =
                                (int64_t) ((double) (generated + 1) * 1e6 / (double) p.rate) - elapsed;
                        int64_t want_us = (int64_t) ((double) batch_max * 1e6 / (double) p.rate);
                        int64_t sleep_us = next_us > want_us ? next_us : want_us;
                        if (sleep_us > 20000)
                                sleep_us = 20000;
                        usleep((useconds_t) (sleep_us > 500 ? sleep_us : 500));
                        continue;
                }
                /* After a lost connection: a new one, and the ids as the database has them. */
                if (!conn && (conn = workload_connect(w, &e)) && gen_load(&g, conn, &e) < 0) {
                        PQfinish(conn);
                        conn = NULL;
                }
                int r = -e.errnum;
                if (conn) {
                        for (int64_t i = 0; i < n; i++)
                                gen_one(&g, p.mix);
                        generated += n;
                        r = gen_flush(&g, conn, done, &e);
                }
                if (r < 0 && conn && PQstatus(conn) == CONNECTION_OK) {
                        Error ignore = ERROR_INIT;
                        (void) gen_load(&g, conn, &ignore);
                }
                gen_batch_reset(&g);
                pthread_mutex_lock(&w->lock);
                w->generated = generated;
                for (int k = 0; k < _KIND_MAX; k++) {
                        w->done[k] += done[k];
                        w->total[k] += done[k];
                }
                if (r < 0) {
                        w->errors++;
                        w->errors_total++;
                        strlcpy0(w->last_error, e.message, sizeof(w->last_error));
                }
                pthread_mutex_unlock(&w->lock);
                if (r < 0) {
                        if (conn && PQstatus(conn) != CONNECTION_OK) {
                                PQfinish(conn);
                                conn = NULL;
                        }
                        e = (Error) ERROR_INIT;
                        if (++failures >= FAILURES_MAX) {
                                end = "failed";
                                break;
                        }
                        usleep(100000);
                } else
                        failures = 0;
        }
        if (atomic_load(&w->stop))
                end = "stopped";
        set_state(w, end, NULL);
out:
        if (conn)
                PQfinish(conn);
        gen_free(&g);
        return NULL;
}

/* ---- the interface -------------------------------------------------------------- */

Workload *workload_new(const Config *c)
{
        Workload *w = xcalloc(1, sizeof(Workload));

        w->c = c;
        pthread_mutex_init(&w->control, NULL);
        pthread_mutex_init(&w->lock, NULL);
        w->state = "idle";
        return w;
}

void workload_free(Workload *w)
{
        if (!w)
                return;
        workload_stop(w, "pgseedd stopped");
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->control);
        free(w);
}

/* Joins a thread that ended (or is told to end); control held. */
static void join_locked(Workload *w)
{
        if (!w->thread_started)
                return;
        pthread_join(w->thread, NULL);
        w->thread_started = false;
}

int workload_start(Workload *w, const WorkloadParams *p, Error *e)
{
        int r = 0;

        pthread_mutex_lock(&w->control);
        pthread_mutex_lock(&w->lock);
        bool running = streq(w->state, "running") || streq(w->state, "starting");
        pthread_mutex_unlock(&w->lock);
        if (running) {
                r = error_set(e, EBUSY, "workload_running",
                              "Stop it first (DELETE /workload, pgseedctl workload --stop) or wait for it.",
                              "A workload is running already (GET /workload shows it)");
                goto out;
        }
        join_locked(w);
        pthread_mutex_lock(&w->lock);
        w->p = *p;
        w->state = "starting";
        *w->stopped_by = *w->last_error = '\0';
        w->started_real_ms = now_real_ms();
        w->started_mono_us = now_mono_us();
        w->ended_mono_us = 0;
        memset(w->done, 0, sizeof(w->done));
        w->generated = w->errors = 0;
        pthread_mutex_unlock(&w->lock);
        atomic_store(&w->stop, false);
        int err = pthread_create(&w->thread, NULL, workload_main, w);
        if (err != 0) {
                set_state(w, "failed", "Cannot start the workload thread");
                r = error_set(e, err, NULL, NULL, "Cannot start the workload thread: %s", strerror(err));
                goto out;
        }
        w->thread_started = true;
out:
        pthread_mutex_unlock(&w->control);
        return r;
}

bool workload_stop(Workload *w, const char *why)
{
        bool was;

        pthread_mutex_lock(&w->control);
        pthread_mutex_lock(&w->lock);
        was = streq(w->state, "running") || streq(w->state, "starting");
        if (was)
                strlcpy0(w->stopped_by, why, sizeof(w->stopped_by));
        pthread_mutex_unlock(&w->lock);
        atomic_store(&w->stop, true);
        join_locked(w);
        pthread_mutex_unlock(&w->control);
        return was;
}

/* x rounded to 1/scale (non-negative x; no libm). */
static double round_to(double x, double scale)
{
        return (double) (int64_t) (x * scale + 0.5) / scale;
}

json_t *workload_status(Workload *w)
{
        json_t *o;

        pthread_mutex_lock(&w->lock);
        bool running = streq(w->state, "running") || streq(w->state, "starting");
        bool ever = !streq(w->state, "idle");
        int64_t end = w->ended_mono_us ? w->ended_mono_us : now_mono_us();
        double elapsed = ever ? (double) (end - w->started_mono_us) / 1e6 : 0;
        int64_t total = w->done[0] + w->done[1] + w->done[2];

        o = json_pack("{s:s, s:b}", "state", w->state, "running", running);
        if (ever) {
                char at[40];
                format_rfc3339_ms(w->started_real_ms, at, sizeof(at));
                json_object_set_new(o, "started_at", json_string(at));
                json_object_set_new(o, "rate", json_integer(w->p.rate));
                json_object_set_new(o, "mix",
                                    json_pack("{s:f, s:f, s:f}", "insert", w->p.mix[0], "update",
                                              w->p.mix[1], "delete", w->p.mix[2]));
                json_object_set_new(o, "seed", json_integer((json_int_t) w->p.seed));
                json_object_set_new(o, "count", w->p.count ? json_integer(w->p.count) : json_null());
                json_object_set_new(o, "duration_s",
                                    w->p.duration_ms ? json_real((double) w->p.duration_ms / 1000)
                                                     : json_null());
                json_object_set_new(o, "done",
                                    json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t) total, "insert",
                                              (json_int_t) w->done[0], "update", (json_int_t) w->done[1],
                                              "delete", (json_int_t) w->done[2]));
                json_object_set_new(o, "generated", json_integer(w->generated));
                json_object_set_new(o, "elapsed_s", json_real(round_to(elapsed, 1000)));
                json_object_set_new(o, "rate_achieved",
                                    json_real(elapsed > 0 ? round_to(total / elapsed, 10) : 0));
                json_object_set_new(o, "errors", json_integer(w->errors));
                json_object_set_new(o, "last_error",
                                    *w->last_error ? json_string(w->last_error) : json_null());
                json_t *rem = json_object();
                if (w->p.count)
                        json_object_set_new(rem, "changes",
                                            json_integer(running ? w->p.count - w->generated : 0));
                if (w->p.duration_ms) {
                        double left = running ? (double) w->p.duration_ms / 1000 - elapsed : 0;
                        json_object_set_new(rem, "seconds", json_real(left > 0 ? round_to(left, 10) : 0));
                }
                json_object_set_new(o, "remaining", rem);
                json_object_set_new(o, "stopped_by",
                                    *w->stopped_by ? json_string(w->stopped_by) : json_null());
        }
        pthread_mutex_unlock(&w->lock);
        return o;
}

void workload_metrics_write(Workload *w, FILE *f)
{
        int64_t total[_KIND_MAX], errors, done = 0;
        bool running;
        double rate = 0;

        pthread_mutex_lock(&w->lock);
        memcpy(total, w->total, sizeof(total));
        errors = w->errors_total;
        running = streq(w->state, "running");
        for (int k = 0; k < _KIND_MAX; k++)
                done += w->done[k];
        if (running && now_mono_us() > w->started_mono_us)
                rate = (double) done * 1e6 / (double) (now_mono_us() - w->started_mono_us);
        pthread_mutex_unlock(&w->lock);

        metrics_header(f, "pgseed_workload_changes_total", "counter",
                       "Changes the generated workload applied, by kind (POST /workload).");
        for (int k = 0; k < _KIND_MAX; k++)
                fprintf(f, "pgseed_workload_changes_total{kind=\"%s\"} %lld\n", kind_names[k],
                        (long long) total[k]);
        metrics_header(f, "pgseed_workload_errors_total", "counter", "Workload batches that failed.");
        fprintf(f, "pgseed_workload_errors_total %lld\n", (long long) errors);
        metrics_header(f, "pgseed_workload_running", "gauge", "1 while a generated workload runs.");
        fprintf(f, "pgseed_workload_running %d\n", running);
        metrics_header(f, "pgseed_workload_rate", "gauge",
                       "Changes per second the running workload achieved so far (0 when none runs).");
        fprintf(f, "pgseed_workload_rate %.1f\n", rate);
}

int workload_parse_mix(const char *s, double mix[3], Error *e)
{
        double v[3], sum = 0;
        const char *p = s;
        char *end;

        for (int i = 0; i < 3; i++) {
                if (i > 0) {
                        if (*p != ',')
                                goto bad;
                        p++;
                }
                if (!(*p >= '0' && *p <= '9') && *p != '.')
                        goto bad;
                errno = 0;
                v[i] = strtod(p, &end);
                if (errno || end == p || !isfinite(v[i]) || v[i] < 0 || v[i] > 1e6)
                        goto bad;
                sum += v[i];
                p = end;
        }
        if (*p || sum <= 0)
                goto bad;
        for (int i = 0; i < 3; i++)
                mix[i] = v[i] / sum;
        return 0;
bad:
        return error_set(e, EINVAL, "bad_mix",
                         "Give three non-negative weights for insert, update and delete, e.g. mix=60,30,10 "
                         "(they need not add up to 100).",
                         "mix=%.64s is not INSERT,UPDATE,DELETE weights", s);
}
