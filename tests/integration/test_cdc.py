# SPDX-License-Identifier: MIT
"""In-place resets seen by real CDC consumers: a second Postgres cluster
subscribed to pgseed's publication (pgoutput, the protocol Debezium uses) and
pg_recvlogical with wal2json.  After every reset the subscriber holds exactly
the seeded rows, wal2json saw exactly the undoing changes, and what pgseed did
not seed (Debezium's signal and heartbeat tables, other schemas) survives."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import psycopg2
import pytest

from conftest import Daemon, free_port, wait_for

SEEDED = ["public.comments", "public.users", "public.videos"]
KEYS = {"public.videos": "video_id", "public.users": "channel_id", "public.comments": "comment_id"}
COLUMNS = {
    "public.videos": "video_id, title, category, created_at, updated_at",
    "public.users": "channel_id, channel_name, created_at, updated_at",
    "public.comments": "comment_id, video_id, channel_id, comment_text, likes, replies, published_at, "
                       "sentiment_label, country_code, created_at, updated_at",
}
# What a downstream mirror of the seeded tables looks like: same columns and keys, no foreign keys
# (a Kafka topic has none either), plus the Debezium tables, which are published too.
SUBSCRIBER_DDL = """
CREATE TABLE public.videos (video_id varchar(255) PRIMARY KEY, title text NOT NULL, category varchar(100),
                            created_at timestamp, updated_at timestamp);
CREATE TABLE public.users (channel_id varchar(255) PRIMARY KEY, channel_name varchar(255) NOT NULL,
                           created_at timestamp, updated_at timestamp);
CREATE TABLE public.comments (comment_id varchar(255) PRIMARY KEY, video_id varchar(255) NOT NULL,
                              channel_id varchar(255) NOT NULL, comment_text text NOT NULL, likes integer,
                              replies integer, published_at timestamp, sentiment_label varchar(50),
                              country_code varchar(10), created_at timestamp, updated_at timestamp);
"""
DEBEZIUM_DDL = """
CREATE TABLE public.debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data text);
CREATE TABLE public.debezium_heartbeat (id int PRIMARY KEY, ts timestamptz NOT NULL);
CREATE SCHEMA rcx;
CREATE TABLE rcx.keepme (id int PRIMARY KEY, v text);
"""


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    assert found, "%s not found: install the Postgres server packages (.ci/deps)" % name
    return found[-1]


def as_postgres(cmd):
    """Postgres refuses to run as root: run the server tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


class Subscriber:
    """A second Postgres cluster (initdb on a free port) that subscribes to pgseed's publication."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgseed-sub-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.pgdata = os.path.join(self.dir, "data")
        self.port = free_port()
        self.log = os.path.join(self.dir, "server.log")

    def start(self):
        subprocess.run(as_postgres([pg_bin("initdb"), "-D", self.pgdata, "-A", "trust", "-U", "postgres",
                                    "--no-sync"]), check=True, capture_output=True)
        with open(os.path.join(self.pgdata, "postgresql.conf"), "a") as f:
            f.write("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"
                    "fsync = off\nshared_buffers = 32MB\n" % (self.port, self.dir))
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", self.pgdata, "-l", self.log, "-w", "start"]),
                       check=True, capture_output=True)

    def stop(self):
        subprocess.run(as_postgres([pg_bin("pg_ctl"), "-D", self.pgdata, "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, query, params=None):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""


class Wal2Json:
    """pg_recvlogical with wal2json (format 2: one JSON object per change) into a file."""

    def __init__(self, d, slot):
        self.d = d
        self.slot = slot
        self.path = os.path.join(d.state_dir, "wal2json.out")
        self.dsn = "host=127.0.0.1 port=%d user=app password=app dbname=app" % d.pg_port
        self.proc = None

    def start(self):
        subprocess.run([pg_bin("pg_recvlogical"), "-d", self.dsn, "--slot", self.slot, "--create-slot",
                        "-P", "wal2json"], check=True, capture_output=True)
        self.proc = subprocess.Popen([pg_bin("pg_recvlogical"), "-d", self.dsn, "--slot", self.slot, "--start",
                                      "-o", "format-version=2", "-o", "include-lsn=true", "-F", "0",
                                      "-s", "1", "-f", self.path], stderr=subprocess.PIPE)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def events(self):
        try:
            with open(self.path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def transactions(self):
        """The decoded transactions, each a list of its change events (B and C excluded)."""
        out, cur = [], None
        for ev in self.events():
            if ev["action"] == "B":
                cur = []
            elif ev["action"] == "C":
                if cur is not None:
                    out.append(cur)
                cur = None
            elif cur is not None:
                cur.append(ev)
            else:
                out.append([ev])  # a non-transactional message
        return out

    def reset_transaction(self, epoch, timeout=30):
        """The transaction that carries pgseed's reset message for epoch (waits for it)."""
        def find():
            for txn in self.transactions():
                for ev in txn:
                    if ev["action"] == "M" and ev.get("prefix") == "pgseed" and \
                            json.loads(ev["content"]).get("epoch") == epoch:
                        return txn
            return None
        txn = wait_for(find, timeout, interval=0.2)
        assert txn is not None, "no reset message for epoch %d reached the wal2json slot; last events: %s" \
            % (epoch, self.events()[-5:])
        return txn


def source_checksums(d):
    return {t: d.sql("SELECT md5(coalesce(string_agg(row(%s)::text, '|' ORDER BY %s), '')) FROM %s"
                     % (COLUMNS[t], KEYS[t], t))[0][0] for t in SEEDED}


def subscriber_checksums(sub):
    return {t: sub.sql("SELECT md5(coalesce(string_agg(row(%s)::text, '|' ORDER BY %s), '')) FROM %s"
                       % (COLUMNS[t], KEYS[t], t))[0][0] for t in SEEDED}


def seeded_structure(d, dbname=None):
    """Columns (by name), constraints, indexes and triggers of the seeded tables."""
    return d.sql("""
        SELECT string_agg(x, E'\n' ORDER BY x) FROM (
          SELECT pg_get_indexdef(indexrelid) AS x FROM pg_index WHERE indrelid = ANY(%(t)s::regclass[])
          UNION ALL SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = ANY(%(t)s::regclass[])
          UNION ALL SELECT pg_get_triggerdef(oid) FROM pg_trigger
           WHERE NOT tgisinternal AND tgrelid = ANY(%(t)s::regclass[]) AND tgname !~ '^pgseed_track_'
          UNION ALL SELECT attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod)
                           || ' ' || attnotnull || ' ' || coalesce(pg_get_expr(adbin, adrelid), '')
            FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
           WHERE attrelid = ANY(%(t)s::regclass[]) AND attnum > 0 AND NOT attisdropped) s""",
                 {"t": SEEDED}, dbname=dbname)[0][0]


class Cdc:
    def __init__(self, d, sub, w2j, baseline, shape):
        self.d, self.sub, self.w2j = d, sub, w2j
        self.baseline, self.shape = baseline, shape
        self.last_epoch = None

    def caught_up(self, timeout=60):
        """Waits until the subscriber's seeded tables equal pgseed's; fails with both sides otherwise."""
        want = source_checksums(self.d)
        got = wait_for(lambda: subscriber_checksums(self.sub) == want, timeout, interval=0.3)
        if not got:
            counts = {t: (self.d.sql("SELECT count(*) FROM %s" % t)[0][0],
                          self.sub.sql("SELECT count(*) FROM %s" % t)[0][0]) for t in SEEDED}
            pytest.fail("subscriber diverged from pgseed (rows source/subscriber: %s)\nsubscriber log:\n%s"
                        % (counts, self.sub.read_log()))

    def reset(self, hold_lock_s=0.0):
        """POST /reset?mode=inplace while /health is polled; returns the response body.

        hold_lock_s > 0 holds a SHARE lock on users for that long, so that the
        reset waits inside its transaction and the poller sees it running."""
        samples, stop = [], threading.Event()

        def poll():
            while not stop.is_set():
                r = self.d.get("/health", timeout=10)
                samples.append((r.status, r.json().get("resetting"), r.json().get("status")))
                time.sleep(0.02)

        locker = None
        if hold_lock_s:
            locker = self.d.connect()
            with locker.cursor() as cur:
                cur.execute("LOCK TABLE users IN SHARE MODE")
            threading.Timer(hold_lock_s, locker.commit).start()
        t = threading.Thread(target=poll, daemon=True)
        t.start()
        try:
            r = self.d.post("/reset?mode=inplace", timeout=120)
        finally:
            stop.set()
            t.join(15)
            if locker:
                time.sleep(0.1)
                locker.close()
        assert r.status == 200, r.body
        bad = [s for s in samples if s[0] != 200]
        assert not bad, "/health left 200 during an in-place reset: %s" % bad[:5]
        body = r.json()
        self.samples = samples
        return body

    def check_after_reset(self, body):
        d = self.d
        assert source_checksums(d) == self.baseline
        assert seeded_structure(d) == self.shape
        # Nothing pgseed did not seed was touched, and the response says it was kept.
        assert d.sql("SELECT count(*) FROM public.debezium_signal")[0][0] == 1
        assert d.sql("SELECT count(*) FROM public.debezium_heartbeat")[0][0] == 1
        assert d.sql("SELECT v FROM rcx.keepme")[0][0] == "keep"
        kept = {k["qualified"] for k in body["kept"]}
        assert {"public.debezium_signal", "public.debezium_heartbeat", "rcx.keepme"} <= kept
        assert body["not_kept"] == []
        pub = {r[0] for r in d.sql("SELECT format('%I.%I', schemaname, tablename) FROM pg_publication_tables"
                                   " WHERE pubname = 'pgseed'")}
        assert set(SEEDED) <= pub
        self.caught_up()
        # The epoch went up by one, and its message reached the wal2json slot inside the reset's
        # transaction, whose changes are exactly the reset's (the undo set, nothing unrelated).
        if self.last_epoch is not None:
            assert body["epoch"] == self.last_epoch + 1
        self.last_epoch = body["epoch"]
        txn = self.w2j.reset_transaction(body["epoch"])
        seen = {}
        for ev in txn:
            if ev["action"] in ("I", "U", "D", "T"):
                key = "%s.%s" % (ev["schema"], ev["table"])
                seen.setdefault(key, {"I": 0, "U": 0, "D": 0, "T": 0})[ev["action"]] += 1
        want = {}
        for t in body["tables"]:
            key = "%s.%s" % (t["schema"], t["name"])
            n = {"I": t["inserted"], "U": t["updated"], "D": t["deleted"], "T": 1 if t.get("truncated") else 0}
            if any(n.values()):
                want[key] = n
        assert seen == want, "wal2json saw %s, the reset reports %s" % (seen, want)
        h = wait_for(lambda: (lambda j: j if j.get("epoch") == body["epoch"] else None)(d.get("/health").json()),
                     15)
        assert h, "/health never showed epoch %d" % body["epoch"]
        assert h["resetting"] is False
        return seen


@pytest.fixture(scope="module")
def cdc():
    sd = tempfile.mkdtemp(prefix="pgseed-cdc-", dir="/tmp")
    os.chmod(sd, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_") or k == "PGSEED_BUILD_DIR"}
    env.update({"PGSEED_STATE_DIR": sd, "PGSEED_LISTEN": "127.0.0.1:%d" % free_port(),
                "PGSEED_PG_PORT": str(free_port()), "PGSEED_RUNTIME": "embedded", "PGSEED_COMMENTS": "2000",
                "PGSEED_CONFIG": "/dev/null"})
    d = Daemon(sd, env, [])
    sub = Subscriber()
    w2j = Wal2Json(d, "w2j")
    try:
        d.start()
        d.wait_healthy()
        d.sql(DEBEZIUM_DDL)
        d.sql("INSERT INTO public.debezium_signal VALUES ('s1', 'execute-snapshot', '{}');"
              "INSERT INTO public.debezium_heartbeat VALUES (1, now());"
              "INSERT INTO rcx.keepme VALUES (1, 'keep')")
        # Debezium reads its signal table through the publication: it is in it.
        d.sql("ALTER PUBLICATION pgseed ADD TABLE public.debezium_signal, public.debezium_heartbeat")
        baseline, shape = source_checksums(d), seeded_structure(d)
        sub.start()
        sub.sql(SUBSCRIBER_DDL + DEBEZIUM_DDL)
        sub.sql("CREATE SUBSCRIPTION cdc CONNECTION 'host=127.0.0.1 port=%d user=app password=app dbname=app'"
                " PUBLICATION pgseed" % d.pg_port)
        assert wait_for(lambda: sub.sql("SELECT count(*) FILTER (WHERE srsubstate = 'r'), count(*)"
                                        " FROM pg_subscription_rel") == [(5, 5)], 60), sub.read_log()
        w2j.start()
        assert wait_for(lambda: d.sql("SELECT active FROM pg_replication_slots WHERE slot_name = 'w2j'",
                                      dbname="postgres") == [(True,)], 15)
        c = Cdc(d, sub, w2j, baseline, shape)
        c.caught_up()
        yield c
    finally:
        w2j.stop()
        sub.stop()
        d.stop()
        d.kill_leftovers()
        shutil.rmtree(sd, ignore_errors=True)


def test_row_changes_reach_the_consumers_exactly(cdc):
    d = cdc.d
    d.sql("INSERT INTO videos (video_id, title) VALUES ('cdc-new-1', 'x'), ('cdc-new-2', 'y')")
    d.sql("UPDATE users SET channel_name = 'changed' WHERE channel_id IN"
          " (SELECT channel_id FROM users ORDER BY 1 LIMIT 3)")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 LIMIT 4)")
    # Unrelated traffic on the Debezium tables (heartbeats) must not be undone.
    d.sql("UPDATE public.debezium_heartbeat SET ts = now()")
    cdc.caught_up()
    body = cdc.reset(hold_lock_s=1.5)
    assert body["strategy"] == "diff"
    # /health said ready with the reset as a sub-status while it ran.
    assert any(s[1] and s[1]["mode"] == "inplace" and s[2] == "ready" for s in cdc.samples), cdc.samples[:5]
    seen = cdc.check_after_reset(body)
    assert seen == {"public.videos": {"I": 0, "U": 0, "D": 2, "T": 0},
                    "public.users": {"I": 0, "U": 3, "D": 0, "T": 0},
                    "public.comments": {"I": 4, "U": 0, "D": 0, "T": 0}}
    m = d.get("/metrics").body
    assert "pgseed_up 1" in m and "pgseed_reset_epoch %d" % body["epoch"] in m
    assert 'pgseed_replication_slot_lag_bytes{slot="w2j",plugin="wal2json"}' in m
    slots = {s["name"]: s for s in d.get("/health").json()["cdc"]["replication_slots"]}
    assert slots["cdc"]["plugin"] == "pgoutput" and slots["cdc"]["active"] is True
    assert {"lag_bytes", "wal_status", "safe_wal_size", "confirmed_flush_lsn"} <= set(slots["w2j"])


def test_tracked_changes_are_undone_without_a_full_diff(cdc):
    d = cdc.d
    # The first reset installed change tracking: this one undoes only the tracked keys.
    d.sql("INSERT INTO users (channel_id, channel_name) VALUES ('tracked-1', 'a')")
    d.sql("UPDATE comments SET likes = likes + 7 WHERE comment_id IN"
          " (SELECT comment_id FROM comments ORDER BY 1 DESC LIMIT 3)")
    # A key-changing update: the old key must come back and the new one go.
    d.sql("UPDATE comments SET comment_id = 'renamed' WHERE comment_id = (SELECT min(comment_id) FROM comments)")
    cdc.caught_up()
    body = cdc.reset()
    assert body["strategy"] == "tracked" and body["tracking"]["used"] is True, body
    seen = cdc.check_after_reset(body)
    assert seen == {"public.users": {"I": 0, "U": 0, "D": 1, "T": 0},
                    "public.comments": {"I": 1, "U": 3, "D": 1, "T": 0}}
    # Nothing touched: nothing staged at all.
    body = cdc.reset()
    assert body["strategy"] == "tracked" and all(t["rows"] == 0 for t in body["tables"]), body
    cdc.check_after_reset(body)
    # Tracking that cannot be trusted (here: its state emptied, as a crash empties unlogged tables)
    # falls back to the full diff, which is exact too.
    d.sql("TRUNCATE pgseed_track.state")
    d.sql("DELETE FROM users WHERE channel_id IN (SELECT channel_id FROM users ORDER BY 1 LIMIT 2)")
    body = cdc.reset()
    assert body["strategy"] == "diff" and "epoch" in body["tracking"]["fallback_reason"], body
    seen = cdc.check_after_reset(body)
    assert seen["public.users"] == {"I": 2, "U": 0, "D": 0, "T": 0} and set(seen) <= {"public.users", "public.comments"}
    # Tracked again from here; deletes cascaded by a foreign key are tracked as well.
    d.sql("DELETE FROM users WHERE channel_id IN (SELECT channel_id FROM comments ORDER BY 1 LIMIT 1)")
    body = cdc.reset()
    assert body["strategy"] == "tracked", body
    seen = cdc.check_after_reset(body)
    assert seen["public.users"] == {"I": 1, "U": 0, "D": 0, "T": 0} and seen["public.comments"]["I"] >= 1


def test_updates_of_unindexed_columns_and_their_undo_are_hot(cdc):
    """The seeded tables leave room on every page (fillfactor 85): an UPDATE of
    columns no index covers, and the tracked in-place reset that undoes it, put
    the new row version beside the old one (HOT) and write no index entries.
    On fully packed pages every one of those updates wrote 7 index entries."""
    d = cdc.d

    def stats():
        return d.sql("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                     " WHERE relid = 'public.comments'::regclass")[0]

    assert d.sql("SELECT reloptions FROM pg_class WHERE oid = 'public.comments'::regclass")[0][0] \
        == ["fillfactor=85"]
    before = stats()
    d.sql("UPDATE comments SET likes = likes + 1, replies = replies + 1 WHERE comment_id IN"
          " (SELECT comment_id FROM comments ORDER BY md5(comment_id) LIMIT 200)")
    body = cdc.reset()
    assert body["strategy"] == "tracked", body
    cdc.check_after_reset(body)
    # Statistics reach pg_stat_user_tables within a second or so of each transaction.
    after = wait_for(lambda: (lambda s: s if s[0] - before[0] >= 400 else None)(stats()), 20)
    assert after, "pg_stat_user_tables never counted the 400 updates: %s -> %s" % (before, stats())
    upd, hot = after[0] - before[0], after[1] - before[1]
    assert hot >= 0.9 * upd, "only %d of %d updates (the test's and the reset's) were HOT" % (hot, upd)


def test_dropped_index_is_recreated_in_place(cdc):
    d = cdc.d
    d.sql("DROP INDEX idx_comments_video_published")
    d.sql("UPDATE videos SET title = 'edited' WHERE video_id IN (SELECT video_id FROM videos ORDER BY 1 LIMIT 2)")
    cdc.caught_up()
    body = cdc.reset()
    assert body["strategy"] == "repair"
    comments = [t for t in body["tables"] if t["name"] == "comments"][0]
    assert "restored index idx_comments_video_published" in comments["structure"]
    seen = cdc.check_after_reset(body)
    assert seen == {"public.videos": {"I": 0, "U": 2, "D": 0, "T": 0}}


def test_added_column_is_dropped_and_rows_restored(cdc):
    d = cdc.d
    # A consumer that follows schema changes (as Debezium does) has the column too.
    cdc.sub.sql("ALTER TABLE comments ADD COLUMN extra int")
    d.sql("ALTER TABLE comments ADD COLUMN extra int")
    d.sql("UPDATE comments SET extra = 1, likes = likes + 1 WHERE comment_id IN"
          " (SELECT comment_id FROM comments ORDER BY 1 LIMIT 5)")
    cdc.caught_up()
    body = cdc.reset()
    comments = [t for t in body["tables"] if t["name"] == "comments"][0]
    assert "dropped column extra (not seeded)" in comments["structure"]
    seen = cdc.check_after_reset(body)
    assert seen == {"public.comments": {"I": 0, "U": 5, "D": 0, "T": 0}}
    cdc.sub.sql("ALTER TABLE comments DROP COLUMN extra")


def test_dropped_seeded_table_comes_back_for_the_consumers(cdc):
    d = cdc.d
    n = d.sql("SELECT count(*) FROM videos")[0][0]
    d.sql("DROP TABLE videos CASCADE")  # also drops comments' foreign key to it
    d.sql("UPDATE users SET channel_name = 'while-dropped' WHERE channel_id IN"
          " (SELECT channel_id FROM users ORDER BY 1 LIMIT 1)")
    body = cdc.reset()
    assert body["strategy"] == "repair"
    videos = [t for t in body["tables"] if t["name"] == "videos"][0]
    assert "created the table" in videos["structure"] and videos["truncated"] is True
    # With the template's storage parameters.
    assert d.sql("SELECT reloptions FROM pg_class WHERE oid = 'public.videos'::regclass")[0][0] == ["fillfactor=85"]
    assert videos["inserted"] == n
    assert "public.videos" in body["publication_added"]
    comments = [t for t in body["tables"] if t["name"] == "comments"][0]
    assert "restored constraint comments_video_id_fkey" in comments["structure"]
    seen = cdc.check_after_reset(body)
    assert seen["public.videos"] == {"I": n, "U": 0, "D": 0, "T": 1}
    assert cdc.sub.sql("SELECT count(*) FROM videos")[0][0] == n


def test_view_and_user_foreign_key_on_seeded_tables_are_kept(cdc):
    d = cdc.d
    d.sql("CREATE VIEW public.comment_stats AS SELECT video_id, count(*) AS n FROM comments GROUP BY video_id")
    d.sql("CREATE TABLE public.user_notes (id int PRIMARY KEY,"
          " channel_id varchar(255) REFERENCES users (channel_id), note text)")
    d.sql("INSERT INTO public.user_notes SELECT 1, channel_id, 'n' FROM users ORDER BY 1 LIMIT 1")
    d.sql("DROP INDEX idx_videos_category")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 DESC LIMIT 2)")
    cdc.caught_up()
    body = cdc.reset()
    assert body["strategy"] == "repair"
    kept = {k["qualified"]: k["kind"] for k in body["kept"]}
    assert kept["public.comment_stats"] == "view" and kept["public.user_notes"] == "table"
    seen = cdc.check_after_reset(body)
    assert seen == {"public.comments": {"I": 2, "U": 0, "D": 0, "T": 0}}
    assert d.sql("SELECT count(*) FROM public.user_notes")[0][0] == 1
    assert d.sql("SELECT count(*) > 0 FROM public.comment_stats")[0][0] is True


def test_blocked_repair_is_a_clear_409_and_changes_nothing(cdc):
    d = cdc.d
    d.sql("ALTER TABLE users ADD COLUMN nick text")
    d.sql("CREATE VIEW public.nicks AS SELECT channel_id, nick FROM users")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 LIMIT 1)")
    before = source_checksums(d)
    r = d.post("/reset?mode=inplace")
    assert r.status == 409, r.body
    err = r.json()["error"]
    assert err["code"] == "inplace_blocked"
    assert "public.users" in err["message"] and "nick" in err["message"] and "nicks" in err["message"]
    assert err["hint"]
    assert source_checksums(d) == before  # rolled back: nothing half done
    assert d.health().status == 200
    d.sql("DROP VIEW public.nicks")
    body = cdc.reset()
    cdc.check_after_reset(body)


def test_wal_guard_refuses_a_reset_that_would_lose_a_slot(cdc):
    d = cdc.d
    d.sql("ALTER SYSTEM SET max_slot_wal_keep_size = '16MB'", dbname="postgres")
    d.sql("SELECT pg_reload_conf()", dbname="postgres")
    try:
        d.sql("SELECT pg_create_logical_replication_slot('lagging', 'pgoutput')", dbname="postgres")
        d.sql("DELETE FROM comments")
        # A consumer that stopped reading: fill the WAL it may still keep up to ~300 kB.
        safe = d.sql("SELECT safe_wal_size FROM pg_replication_slots WHERE slot_name = 'lagging'")[0][0]
        assert safe is not None
        while safe > 600 * 1024:
            chunk = min(safe - 300 * 1024, 4 * 1024 * 1024)
            d.sql("SELECT pg_logical_emit_message(false, 'filler', repeat('x', %s))", (chunk,))
            safe = d.sql("SELECT safe_wal_size FROM pg_replication_slots WHERE slot_name = 'lagging'")[0][0]
        health = d.get("/health").json()
        assert health["status"] == "ready"
        before = d.sql("SELECT count(*) FROM comments")[0][0]
        r = d.post("/reset?mode=inplace")
        assert r.status == 409, r.body
        err = r.json()["error"]
        # Every slot is near the limit here: even a consumer that keeps up cannot move its restart
        # point past the start of the reset's transaction until it commits.
        assert err["code"] == "wal_guard" and "max_slot_wal_keep_size" in err["hint"], err
        assert "replication slot" in err["message"] and "nothing was changed" in err["message"]
        assert d.sql("SELECT count(*) FROM comments")[0][0] == before
        assert d.sql("SELECT count(*) FROM pg_replication_slots WHERE wal_status = 'lost'")[0][0] == 0
        d.sql("SELECT pg_drop_replication_slot('lagging')", dbname="postgres")
        d.sql("ALTER SYSTEM RESET max_slot_wal_keep_size", dbname="postgres")
        d.sql("SELECT pg_reload_conf()", dbname="postgres")
        assert wait_for(lambda: d.sql("SELECT bool_and(safe_wal_size IS NULL) FROM pg_replication_slots")[0][0],
                        10)
        body = cdc.reset()
        cdc.check_after_reset(body)
    finally:
        d.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'lagging'",
              dbname="postgres")
        d.sql("ALTER SYSTEM RESET max_slot_wal_keep_size", dbname="postgres")
        d.sql("SELECT pg_reload_conf()", dbname="postgres")


def test_template_reset_keeps_health_200_and_bumps_the_epoch(ready):
    epoch0 = wait_for(lambda: ready.get("/health").json().get("epoch") is not None and
                      ready.get("/health").json(), 15)
    assert epoch0, "no epoch in /health"
    samples, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            r = ready.get("/health", timeout=10)
            samples.append((r.status, r.json().get("resetting")))
            time.sleep(0.01)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        bodies = [ready.post("/reset?mode=template", timeout=120) for _ in range(2)]
    finally:
        stop.set()
        t.join(15)
    for b in bodies:
        assert b.status == 200, b.body
    e1, e2 = bodies[0].json()["epoch"], bodies[1].json()["epoch"]
    assert e1 == epoch0["epoch"] + 1 and e2 == e1 + 1
    assert samples and all(s[0] == 200 for s in samples), [s for s in samples if s[0] != 200][:5]
    assert wait_for(lambda: ready.get("/health").json().get("epoch") == e2, 15)
    # An in-place reset goes on counting from there.
    r = ready.post("/reset?mode=inplace")
    assert r.status == 200 and r.json()["epoch"] == e2 + 1, r.body
    assert "pgseed_reset_epoch %d" % (e2 + 1) in wait_for(
        lambda: (lambda m: m if "pgseed_reset_epoch %d" % (e2 + 1) in m else None)(ready.get("/metrics").body), 15)
