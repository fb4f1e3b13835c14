/* SPDX-License-Identifier: MIT */
/* loader.c -- parallel COPY of the dataset, parallel post-load statements, binary table copies. */

#include "loader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "pg.h"
#include "seed.h"

#define COPY_BUFFER (256 * 1024) /* rows are batched into PQputCopyData calls of about this size */

/* Settings for loader sessions.  A seed is redone from scratch if anything fails, so durability of each
 * commit does not matter until the template is finished (and CREATE DATABASE checkpoints it then). */
#define LOADER_SESSION_SQL "SET synchronous_commit = off"

int loader_workers(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        return n < 2 ? 2 : (int) (n > 8 ? 8 : n);
}

/* ---- a pool of worker threads, each with its own connection ------------- */

typedef struct Pool Pool;
typedef int (*PoolTaskFn)(Pool *p, size_t task, PGconn *conn, Error *e);

struct Pool {
        const Config *config;
        const char *dbname;
        size_t n_tasks;
        PoolTaskFn run;
        void *userdata;
        const atomic_bool *stop; /* may be NULL: shutdown */

        pthread_mutex_t lock; /* guards next and error */
        size_t next;
        Error error; /* the first failure */
        atomic_bool failed;
};

static void pool_fail(Pool *p, const Error *e)
{
        pthread_mutex_lock(&p->lock);
        if (!atomic_load(&p->failed)) {
                p->error = *e;
                atomic_store(&p->failed, true);
        }
        pthread_mutex_unlock(&p->lock);
}

static void *pool_worker(void *arg)
{
        Pool *p = arg;
        Error e = ERROR_INIT;
        _cleanup_pgconn_ PGconn *conn = pg_connect(p->config, p->dbname, "pgseedd-loader", 10, 0, &e);

        if (!conn || pg_exec(conn, LOADER_SESSION_SQL, &e) < 0) {
                pool_fail(p, &e);
                return NULL;
        }
        for (;;) {
                size_t i;

                pthread_mutex_lock(&p->lock);
                i = p->next++;
                pthread_mutex_unlock(&p->lock);
                if (i >= p->n_tasks || atomic_load(&p->failed))
                        break;
                if (p->stop && atomic_load(p->stop)) {
                        error_set(&e, ECANCELED, "cancelled", NULL, "pgseedd is shutting down");
                        pool_fail(p, &e);
                        break;
                }
                if (p->run(p, i, conn, &e) < 0) {
                        pool_fail(p, &e);
                        break;
                }
        }
        return NULL;
}

/* Runs every task on min(workers, n_tasks) threads; returns the first failure. */
static int pool_run(Pool *p, int workers, Error *e)
{
        pthread_t threads[16];
        size_t n = (size_t) workers < p->n_tasks ? (size_t) workers : p->n_tasks, started = 0;

        if (n > ELEMENTSOF(threads))
                n = ELEMENTSOF(threads);
        pthread_mutex_init(&p->lock, NULL);
        for (size_t i = 0; i < n; i++) {
                if (pthread_create(&threads[i], NULL, pool_worker, p) != 0)
                        break;
                started++;
        }
        if (started == 0 && p->n_tasks > 0) {
                Error err = ERROR_INIT;
                error_set(&err, EAGAIN, NULL, NULL, "Cannot start loader threads");
                pool_fail(p, &err);
        }
        for (size_t i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&p->lock);
        if (atomic_load(&p->failed)) {
                *e = p->error;
                return -e->errnum;
        }
        return 0;
}

/* ---- COPY streams ------------------------------------------------------- */

typedef struct CopyStream {
        PGconn *conn;
        char *buf;
        size_t len;
        int64_t rows_buffered;
        atomic_llong *progress_rows; /* may be NULL */
        atomic_bool *cancel;         /* may be NULL: set when another worker failed */
        const atomic_bool *stop;     /* may be NULL: set at shutdown */
        Error *e;
} CopyStream;

static int copy_begin(CopyStream *s, PGconn *conn, DatasetTable t, Error *e)
{
        _cleanup_free_ char *table = pg_quote_ident(conn, dataset_table_names[t]);
        _cleanup_free_ char *sql = xasprintf("COPY %s (%s) FROM STDIN", table, dataset_table_columns[t]);
        _cleanup_pgresult_ PGresult *res = PQexec(conn, sql);

        if (PQresultStatus(res) != PGRES_COPY_IN)
                return pg_result_error(conn, res, e);
        s->conn = conn;
        s->buf = xmalloc(COPY_BUFFER + 64 * 1024);
        s->len = 0;
        s->rows_buffered = 0;
        s->e = e;
        return 0;
}

static int copy_flush(CopyStream *s)
{
        if (s->len > 0 && PQputCopyData(s->conn, s->buf, (int) s->len) != 1)
                return pg_result_error(s->conn, NULL, s->e);
        if (s->progress_rows)
                atomic_fetch_add(s->progress_rows, s->rows_buffered);
        s->len = 0;
        s->rows_buffered = 0;
        return 0;
}

static int copy_put(CopyStream *s, const char *row, size_t len)
{
        if ((s->cancel && atomic_load(s->cancel)) || (s->stop && atomic_load(s->stop)))
                return -ECANCELED;
        if (s->len + len > COPY_BUFFER + 64 * 1024) {
                int r = copy_flush(s);
                if (r < 0)
                        return r;
        }
        if (len > COPY_BUFFER) {
                /* One huge row (a CSV comment of megabytes): send it on its own. */
                if (PQputCopyData(s->conn, row, (int) len) != 1)
                        return pg_result_error(s->conn, NULL, s->e);
                s->rows_buffered++;
                return copy_flush(s);
        }
        memcpy(s->buf + s->len, row, len);
        s->len += len;
        s->rows_buffered++;
        return s->len >= COPY_BUFFER ? copy_flush(s) : 0;
}

/* Ends the COPY (aborting it when failed < 0); returns rows stored, or -errno. */
static int64_t copy_end(CopyStream *s, int failed)
{
        PGresult *res;
        int64_t rows = -1;

        if (failed == 0 && copy_flush(s) < 0)
                failed = -EIO;
        if (PQputCopyEnd(s->conn, failed < 0 ? "pgseedd aborted the load" : NULL) != 1)
                failed = failed < 0 ? failed : pg_result_error(s->conn, NULL, s->e);
        /* Drain every result so the connection is usable (or cleanly failed) afterwards. */
        while ((res = pg_next_result(s->conn))) {
                if (PQresultStatus(res) == PGRES_COMMAND_OK)
                        rows = strtoll(PQcmdTuples(res), NULL, 10);
                else if (failed == 0)
                        failed = pg_result_error(s->conn, res, s->e);
                PQclear(res);
        }
        if (failed == 0 && PQstatus(s->conn) == CONNECTION_BAD)
                failed = pg_result_error(s->conn, NULL, s->e);
        free(s->buf);
        s->buf = NULL;
        return failed < 0 ? failed : rows;
}

/* ---- synthetic: chunks of each table, in parallel ------------------------ */

typedef struct SyntheticLoad {
        SyntheticSpec spec;
        struct {
                DatasetTable table;
                int64_t begin, end;
        } tasks[32];
        atomic_llong counts[_TABLE_MAX];
        SeedProgress *progress;
} SyntheticLoad;

static int sink_put(void *userdata, DatasetTable t, const char *row, size_t len)
{
        return copy_put(userdata, row, len);
}

static int synthetic_task(Pool *p, size_t i, PGconn *conn, Error *e)
{
        SyntheticLoad *l = p->userdata;
        DatasetTable t = l->tasks[i].table;
        CopyStream s = {.progress_rows = l->progress ? &l->progress->rows_loaded : NULL,
                        .cancel = &p->failed,
                        .stop = p->stop};
        RowSink sink = {.put = sink_put, .userdata = &s};
        int64_t rows;
        int r;

        r = copy_begin(&s, conn, t, e);
        if (r < 0)
                return r;
        r = synthetic_generate(&l->spec, t, l->tasks[i].begin, l->tasks[i].end, &sink);
        rows = copy_end(&s, r);
        if (rows < 0)
                return r == -ECANCELED ? error_set(e, ECANCELED, "cancelled", NULL, "load cancelled")
                                       : (int) rows;
        atomic_fetch_add(&l->counts[t], rows);
        return 0;
}

static int load_synthetic(const Config *c, const char *dbname, SeedProgress *progress,
                          int64_t counts[_TABLE_MAX], Error *e)
{
        SyntheticLoad l = {.spec = {.comments = c->comments, .seed = (uint64_t) c->seed},
                           .progress = progress};
        Pool p = {.config = c,
                  .dbname = dbname,
                  .run = synthetic_task,
                  .userdata = &l,
                  .stop = progress ? &progress->cancel : NULL};
        int64_t n[_TABLE_MAX];
        int workers = loader_workers(), r;
        size_t k = 0;

        synthetic_counts(&l.spec, n);
        if (progress)
                atomic_store(&progress->rows_total, n[TABLE_VIDEOS] + n[TABLE_USERS] + n[TABLE_COMMENTS]);

        /*
         * The comments table is the bulk: split it so every worker has a share,
         * biggest tasks first so the small tables fill the gaps at the end.
         */
        int chunks = workers;
        for (int i = 0; i < chunks; i++) {
                l.tasks[k].table = TABLE_COMMENTS;
                l.tasks[k].begin = n[TABLE_COMMENTS] * i / chunks;
                l.tasks[k].end = n[TABLE_COMMENTS] * (i + 1) / chunks;
                k++;
        }
        l.tasks[k].table = TABLE_USERS;
        l.tasks[k].begin = 0;
        l.tasks[k++].end = n[TABLE_USERS];
        l.tasks[k].table = TABLE_VIDEOS;
        l.tasks[k].begin = 0;
        l.tasks[k++].end = n[TABLE_VIDEOS];
        p.n_tasks = k;

        r = pool_run(&p, workers, e);
        if (r < 0)
                return r;
        for (int t = 0; t < _TABLE_MAX; t++)
                counts[t] = atomic_load(&l.counts[t]);
        return 0;
}

/* ---- CSV: one parse, three COPY streams at once -------------------------- */

typedef struct CsvLoad {
        CopyStream streams[_TABLE_MAX];
} CsvLoad;

static int csv_sink_put(void *userdata, DatasetTable t, const char *row, size_t len)
{
        CsvLoad *l = userdata;

        return copy_put(&l->streams[t], row, len);
}

static void csv_on_skip(void *userdata, int64_t line, CsvDropReason reason, const char *detail)
{
        char fields[256] = "", num[32];

        snprintf(num, sizeof(num), "%lld", (long long) line);
        log_field(fields, sizeof(fields), "line", num);
        log_field(fields, sizeof(fields), "reason", csv_drop_reason_names[reason]);
        log_event(LOG_LEVEL_WARNING, "csv_skip", fields, "Skipped CSV record: %s", detail);
}

static int load_csv(const Config *c, const char *dbname, const char *path, SeedProgress *progress,
                    int64_t counts[_TABLE_MAX], Error *e)
{
        PGconn *conns[_TABLE_MAX] = {0};
        CsvLoad l = {0};
        CsvStats stats = {0};
        CsvOptions opts = {.limit = c->comments, .on_skip = csv_on_skip};
        RowSink sink = {.put = csv_sink_put, .userdata = &l};
        int r = 0, begun = 0;

        if (progress)
                atomic_store(&progress->rows_total, 0); /* unknown until the file is read */
        for (int t = 0; t < _TABLE_MAX && r == 0; t++) {
                conns[t] = pg_connect(c, dbname, "pgseedd-loader", 10, 0, e);
                if (!conns[t] || pg_exec(conns[t], LOADER_SESSION_SQL, e) < 0) {
                        r = -e->errnum;
                        break;
                }
                l.streams[t].progress_rows = progress ? &progress->rows_loaded : NULL;
                l.streams[t].stop = progress ? &progress->cancel : NULL;
                r = copy_begin(&l.streams[t], conns[t], (DatasetTable) t, e);
                if (r == 0)
                        begun++;
        }
        if (r == 0)
                r = csv_dataset_load(path, &opts, &sink, &stats, e);
        for (int t = 0; t < begun; t++) {
                Error end_err = ERROR_INIT;
                l.streams[t].e = &end_err;
                int64_t rows = copy_end(&l.streams[t], r);
                if (rows < 0 && r == 0) {
                        *e = end_err;
                        r = (int) rows;
                }
                counts[t] = rows;
        }
        for (int t = 0; t < _TABLE_MAX; t++)
                if (conns[t])
                        PQfinish(conns[t]);
        if (r < 0)
                return r;

        char fields[512] = "", num[32];
        snprintf(num, sizeof(num), "%lld", (long long) stats.rows_read);
        log_field(fields, sizeof(fields), "rows_read", num);
        for (int t = 0; t < _TABLE_MAX; t++) {
                snprintf(num, sizeof(num), "%lld", (long long) stats.kept[t]);
                log_field(fields, sizeof(fields), dataset_table_names[t], num);
        }
        for (int d = 0; d < _DROP_MAX; d++) {
                char key[64];
                snprintf(key, sizeof(key), "dropped_%s", csv_drop_reason_names[d]);
                snprintf(num, sizeof(num), "%lld", (long long) stats.dropped[d]);
                log_field(fields, sizeof(fields), key, num);
        }
        log_event(LOG_LEVEL_INFO, "csv_loaded", fields, "Loaded %s", path);
        return 0;
}

int loader_load_dataset(const Config *c, const char *dbname, SeedProgress *progress,
                        int64_t counts[_TABLE_MAX], Error *e)
{
        const char *csv = startswith(c->dataset, "csv:");

        if (csv)
                return load_csv(c, dbname, csv, progress, counts, e);
        return load_synthetic(c, dbname, progress, counts, e);
}

/* ---- parallel statements -------------------------------------------------- */

static int statement_task(Pool *p, size_t i, PGconn *conn, Error *e)
{
        char **statements = p->userdata;
        int r = pg_exec(conn, statements[i], e);

        if (r < 0) {
                char head[120];
                strlcpy0(head, statements[i], sizeof(head));
                head[strcspn(head, "\n")] = '\0';
                return error_prefix(e, "%s: ", head);
        }
        return 0;
}

int loader_run_parallel(const Config *c, const char *dbname, char **statements, int workers,
                        const atomic_bool *stop, Error *e)
{
        Pool p = {
                .config = c, .dbname = dbname, .run = statement_task, .userdata = statements, .stop = stop};

        while (statements[p.n_tasks])
                p.n_tasks++;
        if (p.n_tasks == 0)
                return 0;
        return pool_run(&p, workers, e);
}

/* ---- table to table --------------------------------------------------------- */

int loader_copy_table(PGconn *src, const char *src_table, PGconn *dst, const char *dst_table, int64_t *rows,
                      Error *e)
{
        _cleanup_free_ char *out_sql = xasprintf("COPY %s TO STDOUT (FORMAT binary)", src_table);
        _cleanup_free_ char *in_sql = xasprintf("COPY %s FROM STDIN (FORMAT binary)", dst_table);
        _cleanup_pgresult_ PGresult *out = PQexec(src, out_sql);
        _cleanup_pgresult_ PGresult *in = NULL;
        PGresult *res;
        int r = 0;

        if (PQresultStatus(out) != PGRES_COPY_OUT)
                return pg_result_error(src, out, e);
        in = PQexec(dst, in_sql);
        if (PQresultStatus(in) != PGRES_COPY_IN) {
                r = pg_result_error(dst, in, e);
                /* Drain the outgoing COPY so src stays usable. */
                char *buf;
                while (PQgetCopyData(src, &buf, 0) > 0)
                        PQfreemem(buf);
                while ((res = pg_next_result(src)))
                        PQclear(res);
                return r;
        }
        for (;;) {
                char *buf = NULL;
                int n = PQgetCopyData(src, &buf, 0);
                if (n == -1)
                        break;
                if (n < 0) {
                        r = pg_result_error(src, NULL, e);
                        break;
                }
                if (PQputCopyData(dst, buf, n) != 1) {
                        PQfreemem(buf);
                        r = pg_result_error(dst, NULL, e);
                        break;
                }
                PQfreemem(buf);
        }
        while ((res = pg_next_result(src))) {
                if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
                        r = pg_result_error(src, res, e);
                PQclear(res);
        }
        if (r == 0 && PQstatus(src) == CONNECTION_BAD)
                r = pg_result_error(src, NULL, e);
        PQputCopyEnd(dst, r < 0 ? "source failed" : NULL);
        while ((res = pg_next_result(dst))) {
                if (PQresultStatus(res) == PGRES_COMMAND_OK)
                        *rows = strtoll(PQcmdTuples(res), NULL, 10);
                else if (r == 0)
                        r = pg_result_error(dst, res, e);
                PQclear(res);
        }
        if (r == 0 && PQstatus(dst) == CONNECTION_BAD)
                r = pg_result_error(dst, NULL, e);
        return r;
}
