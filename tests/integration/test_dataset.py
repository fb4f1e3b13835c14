# SPDX-License-Identifier: MIT
"""The seeded dataset: template build, progress, resets (template and in
place), crash safety of the loader, CSV and custom SQL directories."""

import os
import signal
import subprocess
import threading
import time

import psycopg2
import psycopg2.extras
import pytest

from conftest import PGSEEDD, SOURCE_ROOT, http, wait_for

FIXTURES = os.path.join(SOURCE_ROOT, "tests", "fixtures")
TABLES = ("comments", "users", "videos")


def counts(d, dbname=None):
    return {t: d.sql("SELECT count(*) FROM %s" % t, dbname=dbname)[0][0] for t in TABLES}


def checksums(d):
    """Per-table digest of every row (all columns), independent of physical order."""
    return {t: d.sql("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM %s x" % t)[0][0] for t in TABLES}


CONTENT = {"videos": "video_id, title, category", "users": "channel_id, channel_name",
           "comments": "comment_id, video_id, channel_id, comment_text, likes, replies, published_at, "
                       "sentiment_label, country_code"}


def content_checksums(d):
    """Like checksums(), without the load-time timestamps."""
    return {t: d.sql("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM (SELECT %s FROM %s) x"
                     % (CONTENT[t], t))[0][0] for t in TABLES}


def structure(d):
    return d.sql("""
        SELECT string_agg(x, E'\n' ORDER BY x) FROM (
          SELECT pg_get_indexdef(indexrelid) AS x FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
           WHERE c.relnamespace = 'public'::regnamespace
          UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
           WHERE connamespace = 'public'::regnamespace
          UNION ALL SELECT pg_get_triggerdef(oid) FROM pg_trigger
           WHERE NOT tgisinternal AND tgname !~ '^pgseed_track_'
          UNION ALL SELECT attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod)
            FROM pg_attribute WHERE attrelid IN ('videos'::regclass, 'users'::regclass, 'comments'::regclass)
             AND attnum > 0 AND NOT attisdropped) s""")[0][0]


def databases(d):
    return {r[0] for r in d.sql("SELECT datname FROM pg_database", dbname="postgres")}


def health(d):
    """The /health body, or {} while the daemon does not answer yet."""
    try:
        return d.get("/health", timeout=5).json()
    except OSError:
        return {}


def test_seeded_counts_match_the_generator(ready_shared):
    # 2,000 comments: videos = round(0.009 * 2000) = 18, users = round(0.782 * 2000) = 1564.
    assert counts(ready_shared) == {"comments": 2000, "users": 1564, "videos": 18}
    body = ready_shared.health().json()
    assert {t["name"]: t["rows"] for t in body["tables"]} == {"comments": 2000, "users": 1564, "videos": 18}
    assert body["rows_total"] == 3582
    # Referential integrity holds (the foreign keys were validated, but check the data too).
    assert ready_shared.sql("SELECT count(*) FROM comments c LEFT JOIN videos v USING (video_id) "
                     "WHERE v.video_id IS NULL")[0][0] == 0


def test_schema_matches_the_spec(ready_shared):
    s = structure(ready_shared)
    for needle in ("comments_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(video_id) ON DELETE CASCADE",
                   "comments_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES users(channel_id) ON DELETE CASCADE",
                   "comments_pkey PRIMARY KEY (comment_id)", "videos_pkey PRIMARY KEY (video_id)",
                   "users_pkey PRIMARY KEY (channel_id)",
                   "ON public.comments USING btree (video_id, published_at DESC)",
                   "ON public.videos USING btree (category)",
                   "CREATE TRIGGER comments_set_updated_at BEFORE UPDATE ON public.comments"):
        assert needle in s, needle
    assert s.count("CREATE INDEX") + s.count("CREATE UNIQUE INDEX") == 10


def test_updated_at_trigger_works(ready):
    before = ready.sql("SELECT updated_at FROM videos ORDER BY video_id LIMIT 1")[0][0]
    ready.sql("UPDATE videos SET title = 'changed' WHERE video_id = (SELECT min(video_id) FROM videos)")
    after = ready.sql("SELECT updated_at FROM videos ORDER BY video_id LIMIT 1")[0][0]
    assert after > before


def test_health_reports_cdc_facts(ready_shared):
    cdc = ready_shared.health().json()["cdc"]
    assert cdc["wal_level"] == "logical"
    assert cdc["publication"] == {"name": "pgseed", "exists": True, "tables": 3}
    assert cdc["replication_slots"] == []
    pub = ready_shared.sql("SELECT tablename FROM pg_publication_tables WHERE pubname = 'pgseed' ORDER BY 1")
    assert [r[0] for r in pub] == ["comments", "users", "videos"]


def test_template_is_complete_and_locked(ready_shared):
    rows = ready_shared.sql("SELECT datallowconn, datistemplate, shobj_description(oid, 'pg_database') "
                     "FROM pg_database WHERE datname = 'app_template'", dbname="postgres")
    assert rows and rows[0][0] is False and rows[0][1] is True
    assert rows[0][2].startswith("pgseed:")
    assert "app_template_build" not in databases(ready_shared)


def test_reset_restores_everything(ready):
    baseline_counts, baseline_sums, baseline_structure = counts(ready), checksums(ready), structure(ready)
    time.sleep(1.5)  # let the prepared copy for the next reset be made
    ready.sql("INSERT INTO videos (video_id, title) VALUES ('new-video', 'x')")
    ready.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 10)")
    ready.sql("UPDATE users SET channel_name = 'renamed' WHERE channel_id = (SELECT min(channel_id) FROM users)")
    ready.sql("DROP INDEX idx_comments_country")
    ready.sql("ALTER TABLE comments DROP CONSTRAINT comments_channel_id_fkey")
    ready.sql("DROP TABLE videos CASCADE")
    ready.sql("CREATE TABLE junk (x int)")
    r = ready.post("/reset")
    assert r.status == 200, r.body
    body = r.json()
    assert body["mode"] == "template"
    assert isinstance(body["duration_ms"], int)
    assert {t["name"]: t["rows"] for t in body["tables"]} == baseline_counts
    assert counts(ready) == baseline_counts
    assert checksums(ready) == baseline_sums
    assert structure(ready) == baseline_structure
    assert ready.sql("SELECT to_regclass('junk')")[0][0] is None
    assert ready.health().status == 200


def test_consecutive_resets_all_exact(ready):
    baseline = checksums(ready)
    strategies = []
    for i in range(3):
        ready.sql("DELETE FROM users WHERE channel_id IN (SELECT channel_id FROM users LIMIT 5)")
        r = ready.post("/reset")
        assert r.status == 200, r.body
        strategies.append(r.json()["strategy"])
        assert checksums(ready) == baseline
    # Back-to-back resets cannot all find a prepared copy: the fallback clone must be exact too.
    assert set(strategies) <= {"prepared_copy", "clone"}


def test_reset_kicks_out_sessions_and_health_recovers(ready):
    conn = ready.connect()
    conn.autocommit = True
    r = ready.post("/reset")
    assert r.status == 200, r.body
    with pytest.raises(psycopg2.Error):
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    assert wait_for(lambda: ready.health().status == 200, 10)


def test_get_reset_is_405(ready_shared):
    r = ready_shared.get("/reset")
    assert r.status == 405
    assert r.headers["Allow"].startswith("POST")


def test_bad_reset_mode_is_400(ready_shared):
    r = ready_shared.post("/reset?mode=everything")
    assert r.status == 400
    assert "mode" in r.json()["error"]["message"]


def test_concurrent_resets_coalesce(pgseedd):
    """Resets never race: the lifecycle worker runs one at a time, and a reset
    that arrives while one of its mode is queued or running shares its result
    instead of failing with a 409."""
    d = pgseedd(PGSEED_COMMENTS=20000)
    d.wait_healthy()
    results = []

    def reset(mode):
        results.append(d.post("/reset?mode=" + mode))

    threads = [threading.Thread(target=reset, args=("inplace",))] + \
              [threading.Thread(target=reset, args=("template",)) for _ in range(3)]
    threads[0].start()
    time.sleep(0.05)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    statuses = [r.status for r in results]
    assert statuses == [200] * 4, [r.body for r in results]
    templates = [r.json() for r in results if r.json()["mode"] == "template"]
    assert len(templates) == 3
    # The three template resets queued behind the in-place one: one job, three answers.
    assert sum(1 for t in templates if t["coalesced"]) == 2, templates
    assert len({t["duration_ms"] for t in templates}) == 1
    assert d.health().status == 200
    metrics = d.get("/metrics").body
    assert 'pgseed_resets_total{mode="template",result="ok"} 1\n' in metrics, metrics


def test_reset_while_seeding_waits_for_the_seed(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=300000)
    assert wait_for(lambda: health(d).get("status") == "seeding", 60, 0.02)
    # Bounded: a short timeout answers 504 while the seed goes on.
    r = d.post("/reset?timeout=1")
    assert r.status == 504, r.body
    assert r.json()["error"]["code"] == "timeout"
    # Without one the reset queues behind the seed and succeeds once it is done.
    r = d.post("/reset", timeout=180)
    assert r.status == 200, r.body
    assert d.health().status == 200


def test_seeding_progress_is_visible(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=300000)
    seen = []

    def look():
        body = health(d)
        if body.get("status") == "seeding" and "seeding" in body:
            seen.append(body["seeding"])
        return body.get("status") == "ready"

    assert wait_for(look, 120, 0.05)
    phases = {s["phase"] for s in seen}
    assert "copy" in phases, phases
    copying = [s for s in seen if s["phase"] == "copy"]
    assert all(s["rows_total"] == 300000 + 234600 + 2700 for s in copying)
    assert max(s["rows_loaded"] for s in seen) > 0


# --- in-place resets and replication slots ------------------------------------

def test_inplace_reset_restores_rows(ready):
    baseline = checksums(ready)
    ready.sql("INSERT INTO videos (video_id, title) VALUES ('inplace-new', 'x')")
    ready.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 LIMIT 3)")
    ready.sql("UPDATE users SET channel_name = 'changed' WHERE channel_id IN (SELECT channel_id FROM users LIMIT 2)")
    oid_before = ready.sql("SELECT oid FROM pg_database WHERE datname = 'app'", dbname="postgres")[0][0]
    r = ready.post("/reset?mode=inplace")
    assert r.status == 200, r.body
    body = r.json()
    assert body["mode"] == "inplace" and body["strategy"] == "diff"
    t = {x["name"]: x for x in body["tables"]}
    assert t["videos"]["deleted"] == 1
    assert t["comments"]["inserted"] == 3
    assert t["users"]["updated"] == 2
    assert checksums(ready) == baseline
    # The same database (a Debezium connector's slot and publication live in it).
    assert ready.sql("SELECT oid FROM pg_database WHERE datname = 'app'", dbname="postgres")[0][0] == oid_before


def test_inplace_reset_rebuilds_dropped_objects(ready):
    baseline, shape = checksums(ready), structure(ready)
    ready.sql("DROP INDEX idx_comments_video_published")
    ready.sql("ALTER TABLE comments ADD COLUMN extra int")
    ready.sql("DELETE FROM videos WHERE video_id IN (SELECT video_id FROM videos LIMIT 1)")
    r = ready.post("/reset?mode=inplace")
    assert r.status == 200, r.body
    assert r.json()["strategy"] == "repair"
    assert checksums(ready) == baseline
    assert structure(ready) == shape
    pub = ready.sql("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pgseed'")[0][0]
    assert pub == 3


def replication_consumer(d, slot):
    """A logical replication consumer (test_decoding) in a thread; returns (messages, stop)."""
    conn = psycopg2.connect(host="127.0.0.1", port=d.pg_port, user="app", password="app", dbname="app",
                            connection_factory=psycopg2.extras.LogicalReplicationConnection)
    cur = conn.cursor()
    cur.create_replication_slot(slot, output_plugin="test_decoding")
    cur.start_replication(slot_name=slot, decode=True)
    messages = []
    stop = threading.Event()

    def consume():
        import select
        while not stop.is_set():
            msg = cur.read_message()
            if msg:
                messages.append(msg.payload)
                msg.cursor.send_feedback(flush_lsn=msg.data_start)
            else:
                select.select([cur], [], [], 0.2)
        conn.close()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    return messages, stop


def test_template_reset_refuses_with_active_slot_and_inplace_keeps_it(ready):
    messages, stop = replication_consumer(ready, "debezium")
    try:
        assert wait_for(lambda: ready.sql("SELECT active FROM pg_replication_slots WHERE slot_name = 'debezium'",
                                          dbname="postgres") == [(True,)], 10)
        ready.sql("INSERT INTO videos (video_id, title) VALUES ('cdc-video', 'seen by the slot')")
        before = checksums(ready)

        r = ready.post("/reset")
        assert r.status == 409
        err = r.json()["error"]
        assert err["code"] == "replication_slot_active"
        assert "debezium" in err["message"]
        assert "inplace" in err["hint"]
        assert checksums(ready) == before  # nothing was touched
        assert ready.health().status == 200
        assert ready.health().json()["cdc"]["replication_slots"][0]["name"] == "debezium"

        r = ready.post("/reset?mode=inplace")
        assert r.status == 200, r.body
        assert ready.sql("SELECT count(*) FROM videos WHERE video_id = 'cdc-video'")[0][0] == 0
        assert ready.sql("SELECT slot_name, active FROM pg_replication_slots", dbname="postgres") == \
            [("debezium", True)]
        # The consumer saw the insert and then the reset's delete of it.
        assert wait_for(lambda: any("cdc-video" in m and "DELETE" in m for m in messages), 10), messages[-5:]
        assert any("cdc-video" in m and "INSERT" in m for m in messages)
    finally:
        stop.set()
        time.sleep(0.5)
        ready.sql("SELECT pg_drop_replication_slot('debezium')", dbname="postgres")


def test_template_reset_refuses_with_inactive_slot(ready):
    ready.sql("SELECT pg_create_logical_replication_slot('idle_slot', 'pgoutput')")
    try:
        r = ready.post("/reset")
        assert r.status == 409
        assert "idle_slot (inactive)" in r.json()["error"]["message"]
    finally:
        ready.sql("SELECT pg_drop_replication_slot('idle_slot')", dbname="postgres")


# --- crash safety and rebuilds --------------------------------------------------

def test_killed_loader_leaves_no_template_that_is_used(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=300000)

    def copying():
        b = health(d)
        return b.get("status") == "seeding" and b.get("seeding", {}).get("phase") == "copy" \
            and b["seeding"]["rows_loaded"] > 0

    assert wait_for(copying, 60, 0.02), d.read_log()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    # Postgres was told to stop when its parent died; nothing claims the template is complete.
    assert wait_for(lambda: not d.postgres_pids(), 30)

    d2 = pgseedd(start=False, state_dir=d.state_dir, PGSEED_COMMENTS=300000,
                 PGSEED_LISTEN=d.env["PGSEED_LISTEN"], PGSEED_PG_PORT=d.pg_port)
    d2.start()
    d2.wait_healthy(180)
    log = d2.read_log()
    assert "did not finish" in log or "Building template" in log
    assert counts(d2) == {"comments": 300000, "users": 234600, "videos": 2700}
    assert "app_template_build" not in databases(d2)


def test_postgres_killed_while_seeding_recovers(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=200000)
    assert wait_for(lambda: health(d).get("status") == "seeding", 60, 0.02)
    time.sleep(0.5)
    postmaster = int(open(os.path.join(d.state_dir, "pgdata", "postmaster.pid")).readline())
    os.kill(postmaster, signal.SIGKILL)
    d.wait_healthy(180)
    assert counts(d) == {"comments": 200000, "users": 156400, "videos": 1800}


def test_changes_survive_a_daemon_restart(pgseedd):
    d = pgseedd()
    d.wait_healthy()
    d.sql("INSERT INTO videos (video_id, title) VALUES ('kept', 'developer data')")
    assert d.stop() == 0
    d.start()
    d.wait_healthy()
    assert d.sql("SELECT title FROM videos WHERE video_id = 'kept'") == [("developer data",)]


def test_changed_inputs_rebuild_the_template(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=1000)
    d.wait_healthy()
    assert d.stop() == 0
    d.env["PGSEED_COMMENTS"] = "1500"
    d.start()
    d.wait_healthy()
    assert counts(d)["comments"] == 1500
    assert "rebuilding" in d.read_log()


def test_same_seed_gives_identical_rows(pgseedd):
    a = pgseedd(PGSEED_SEED=7)
    b = pgseedd(PGSEED_SEED=7)
    c = pgseedd(PGSEED_SEED=8)
    for d in (a, b, c):
        d.wait_healthy()
    sums = [{t: d.sql("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM (SELECT %s FROM %s) x" % (
        {"videos": "video_id, title, category", "users": "channel_id, channel_name",
         "comments": "comment_id, video_id, channel_id, comment_text, likes, replies, published_at, "
                     "sentiment_label, country_code"}[t], t))[0][0] for t in TABLES} for d in (a, b, c)]
    assert sums[0] == sums[1]
    assert sums[0]["comments"] != sums[2]["comments"]


# --- other data sources ---------------------------------------------------------

def test_csv_dataset(pgseedd):
    path = os.path.join(FIXTURES, "nasty.csv")
    d = pgseedd(PGSEED_DATASET="csv:" + path)
    d.wait_healthy()
    c = counts(d)
    assert c["comments"] > 0 and c["users"] > 0 and c["videos"] > 0
    log = d.read_log()
    assert "event=csv_skip" in log and "line=" in log
    assert "event=csv_loaded" in log
    assert d.sql("SELECT count(*) FROM users WHERE channel_name = 'Unknown User'")[0][0] >= 1


def test_missing_csv_is_a_clear_degraded_state(pgseedd):
    d = pgseedd(PGSEED_DATASET="csv:/nonexistent/comments.csv")
    body = wait_for(lambda: (lambda b: b if b.get("status") == "degraded" else None)(health(d)), 60)
    assert body, d.read_log()
    assert "/nonexistent/comments.csv" in body["reason"]
    assert d.get("/health").status == 503
    # Nothing half-built is left as the template.
    assert "app_template" not in databases(d)


def test_custom_sql_dir_without_dataset(pgseedd, tmp_path):
    (tmp_path / "01-shop.sql").write_text("""
        CREATE SCHEMA IF NOT EXISTS shop;
        CREATE TABLE IF NOT EXISTS shop.items (id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2));
        INSERT INTO shop.items (name, price) SELECT 'item ' || g, g * 1.5 FROM generate_series(1, 50) g;
    """)
    (tmp_path / "50-index.sql").write_text("CREATE INDEX IF NOT EXISTS items_name ON shop.items (name);")
    d = pgseedd(PGSEED_SQL_DIR=str(tmp_path), PGSEED_DATASET="none")
    d.wait_healthy()
    tables = d.health().json()["tables"]
    assert tables == [{"schema": "shop", "name": "items", "rows": 50, "exact": True}]
    d.sql("INSERT INTO shop.items (name) VALUES ('extra')")
    d.sql("DELETE FROM shop.items WHERE id < 5")
    r = d.post("/reset?mode=inplace")
    assert r.status == 200, r.body
    assert d.sql("SELECT count(*), max(id) FROM shop.items") == [(50, 50)]
    # The sequence is back where the seed left it: the next id is 51, not 52.
    assert d.sql("INSERT INTO shop.items (name) VALUES ('next') RETURNING id") == [(51,)]
    r = d.post("/reset")
    assert r.status == 200
    assert d.sql("SELECT count(*) FROM shop.items") == [(50,)]


def test_sql_dir_without_dataset_tables_is_a_clear_error(pgseedd, tmp_path):
    (tmp_path / "01-other.sql").write_text("CREATE TABLE IF NOT EXISTS other (x int);")
    d = pgseedd(PGSEED_SQL_DIR=str(tmp_path))
    body = wait_for(lambda: (lambda b: b if b.get("status") == "degraded" else None)(health(d)), 60)
    assert body
    assert "PGSEED_DATASET=none" in body["reason"]


def test_export_matches_what_is_loaded(ready, tmp_path):
    env = dict(ready.env)
    out = subprocess.run([PGSEEDD, "--export-dataset", str(tmp_path)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = sum(1 for _ in open(tmp_path / "comments.tsv", "rb"))
    assert lines == 2000


def test_template_dropped_behind_our_back_is_rebuilt(ready):
    baseline = content_checksums(ready)
    time.sleep(1.5)
    for db in ("app_spare_1", "app_spare_2", "app_spare_3", "app_template"):
        ready.sql("ALTER DATABASE %s WITH IS_TEMPLATE false" % db, dbname="postgres")
        ready.sql("DROP DATABASE %s" % db, dbname="postgres")
    r = ready.post("/reset")
    assert r.status == 500, r.body
    err = r.json()["error"]
    assert err["code"] == "reset_failed" and "app_template" in err["message"] and err["hint"]
    # The supervisor repairs it: a new template, a fresh working copy, healthy again.
    assert wait_for(lambda: ready.get("/health").status == 200, 60), ready.read_log()
    r = ready.post("/reset")
    assert r.status == 200, r.body
    # A rebuilt template has the same rows; only created_at/updated_at (load time) differ.
    assert content_checksums(ready) == baseline


def test_sigterm_answers_a_queued_reset(pgseedd):
    """A reset parked behind the seed gets an answer at shutdown, not a cut connection."""
    d = pgseedd(PGSEED_COMMENTS=300000)
    assert wait_for(lambda: health(d).get("status") == "seeding", 60, 0.02)
    results = []
    t = threading.Thread(target=lambda: results.append(d.post("/reset", timeout=60)))
    t.start()
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert results and results[0].status == 503, results and results[0].body
    assert results[0].json()["error"]["code"] == "shutting_down"
    assert d.proc.wait(30) == 0
