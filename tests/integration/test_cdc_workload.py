# SPDX-License-Identifier: MIT
"""Partial resets (POST /reset?tables=...) and generated change traffic
(POST/GET/DELETE /workload), seen by a real consumer: a second Postgres
cluster subscribed to pgseed's publication (pgoutput, as Debezium reads it).
After every reset the subscriber's per-table checksums equal pgseed's."""

import os
import shutil
import tempfile
import time

import pytest

from conftest import Daemon, free_port, http, wait_for
from test_cdc import SEEDED, SUBSCRIBER_DDL, Subscriber, source_checksums, subscriber_checksums

# The rows a workload makes, without the columns the server's clock fills in.
CHANGED_ROWS = """
SELECT md5(coalesce((SELECT string_agg(row(comment_id, video_id, channel_id, comment_text, likes, replies,
                                           published_at, sentiment_label, country_code)::text, '|'
                                       ORDER BY comment_id) FROM comments), '')
           || coalesce((SELECT string_agg(row(channel_id, channel_name)::text, '|' ORDER BY channel_id)
                        FROM users), ''))
"""


class Env:
    def __init__(self, d, sub, baseline):
        self.d, self.sub, self.baseline = d, sub, baseline

    def caught_up(self, timeout=90):
        want = source_checksums(self.d)
        if not wait_for(lambda: subscriber_checksums(self.sub) == want, timeout, interval=0.3):
            counts = {t: (self.d.sql("SELECT count(*) FROM %s" % t)[0][0],
                          self.sub.sql("SELECT count(*) FROM %s" % t)[0][0]) for t in SEEDED}
            pytest.fail("subscriber diverged from pgseed (rows source/subscriber: %s)\n%s"
                        % (counts, self.sub.read_log()))

    def reset(self, query="mode=inplace"):
        r = self.d.post("/reset?" + query, timeout=120)
        assert r.status == 200, r.body
        return r.json()

    def workload(self, method, query=""):
        return http(method, self.d.url + "/workload" + ("?" + query if query else ""), timeout=60)

    def wait_workload_done(self, timeout=60):
        st = wait_for(lambda: (lambda j: j if not j["running"] else None)(self.workload("GET").json()), timeout)
        assert st, "the workload did not end: %s" % self.workload("GET").body
        return st


@pytest.fixture(scope="module")
def env():
    sd = tempfile.mkdtemp(prefix="pgseed-cdcw-", dir="/tmp")
    os.chmod(sd, 0o755)
    e = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_") or k == "PGSEED_BUILD_DIR"}
    e.update({"PGSEED_STATE_DIR": sd, "PGSEED_LISTEN": "127.0.0.1:%d" % free_port(),
              "PGSEED_PG_PORT": str(free_port()), "PGSEED_RUNTIME": "embedded", "PGSEED_COMMENTS": "5000",
              "PGSEED_CONFIG": "/dev/null"})
    d = Daemon(sd, e, [])
    sub = Subscriber()
    try:
        d.start()
        d.wait_healthy()
        baseline = source_checksums(d)
        sub.start()
        sub.sql(SUBSCRIBER_DDL)
        sub.sql("CREATE SUBSCRIPTION cdc CONNECTION 'host=127.0.0.1 port=%d user=app password=app dbname=app'"
                " PUBLICATION pgseed" % d.pg_port)
        assert wait_for(lambda: sub.sql("SELECT count(*) FILTER (WHERE srsubstate = 'r'), count(*)"
                                        " FROM pg_subscription_rel") == [(3, 3)], 60), sub.read_log()
        env = Env(d, sub, baseline)
        env.caught_up()
        yield env
    finally:
        sub.stop()
        d.stop()
        d.kill_leftovers()
        shutil.rmtree(sd, ignore_errors=True)


@pytest.fixture
def clean(env):
    """Every test starts from the seeded rows with no workload running, and leaves them so."""
    env.workload("DELETE")
    env.reset()
    yield env
    env.workload("DELETE")
    env.reset()
    assert source_checksums(env.d) == env.baseline


# ---- partial resets ---------------------------------------------------------------


def modify_all(d):
    d.sql("UPDATE videos SET title = 'changed' WHERE video_id IN (SELECT video_id FROM videos ORDER BY 1 LIMIT 2)")
    d.sql("UPDATE users SET channel_name = 'changed' WHERE channel_id IN"
          " (SELECT channel_id FROM users ORDER BY 1 LIMIT 3)")
    d.sql("INSERT INTO users (channel_id, channel_name) VALUES ('partial-new', 'n')")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 LIMIT 4)")
    d.sql("UPDATE comments SET likes = likes + 1000 WHERE comment_id IN"
          " (SELECT comment_id FROM comments ORDER BY 1 DESC LIMIT 5)")


@pytest.mark.parametrize("tracked", [False, True], ids=["diff", "tracked"])
def test_partial_reset_restores_only_the_named_tables(clean, tracked):
    env, d = clean, clean.d
    if tracked:
        # Another table's structure differs: that does not concern the named tables' tracked keys.
        d.sql("CREATE INDEX partial_extra ON videos (category)")
    else:
        # A tracking trigger disabled on a named table: its keys cannot be trusted, the tables are diffed.
        d.sql("ALTER TABLE users DISABLE TRIGGER pgseed_track_u")
    modify_all(d)
    env.caught_up()
    before = source_checksums(d)
    body = env.reset("tables=comments,users")
    assert body["partial"] is True and body["mode"] == "inplace"
    assert body["strategy"] == ("tracked" if tracked else "diff"), body
    per = {t["name"]: t for t in body["tables"]}
    assert set(per) == {"comments", "users"}
    assert (per["comments"]["inserted"], per["comments"]["updated"], per["comments"]["deleted"]) == (4, 5, 0)
    assert (per["users"]["inserted"], per["users"]["updated"], per["users"]["deleted"]) == (0, 3, 1)
    after = source_checksums(d)
    assert after["public.comments"] == env.baseline["public.comments"]
    assert after["public.users"] == env.baseline["public.users"]
    # The table not named keeps its changes (and its extra index).
    assert after["public.videos"] == before["public.videos"] != env.baseline["public.videos"]
    assert d.sql("SELECT count(*) FROM videos WHERE title = 'changed'")[0][0] == 2
    if tracked:
        assert d.sql("SELECT to_regclass('partial_extra') IS NOT NULL")[0][0] is True
        d.sql("DROP INDEX partial_extra")
    env.caught_up()
    # The full reset after it still finds the changes left: the tracked keys of videos were kept (or, after
    # a partial reset that could not use them, none are trusted).
    full = env.reset()
    assert full["strategy"] == ("tracked" if tracked else "diff"), full
    videos = [t for t in full["tables"] if t["name"] == "videos"][0]
    assert videos["updated"] == 2
    assert source_checksums(d) == env.baseline
    env.caught_up()


def test_partial_reset_refuses_a_set_not_closed_under_foreign_keys(clean):
    d = clean.d
    d.sql("UPDATE users SET channel_name = 'kept' WHERE channel_id IN (SELECT channel_id FROM users ORDER BY 1 LIMIT 1)")
    for tables, missing in (("users", "public.comments"), ("videos", "public.comments"),
                            ("users,videos", "public.comments")):
        r = d.post("/reset?tables=" + tables)
        assert r.status == 400, r.body
        err = r.json()["error"]
        assert err["code"] == "tables_not_closed" and missing in err["message"], err
    assert d.sql("SELECT count(*) FROM users WHERE channel_name = 'kept'")[0][0] == 1


@pytest.mark.parametrize("query,code", [
    ("tables=nosuch", "unknown_table"),
    ("tables=comments,nosuch", "unknown_table"),
    ("tables=", "bad_tables"),
    ("tables=comments,,users", "bad_tables"),
    ("tables=comments;drop%20table%20users", "bad_tables"),
    ("tables=a.b.c", "bad_tables"),
    ("tables=%22comments%22", "bad_tables"),
])
def test_partial_reset_bad_tables_are_400(env, query, code):
    r = env.d.post("/reset?" + query)
    assert r.status == 400, r.body
    assert r.json()["error"]["code"] == code, r.body
    assert r.json()["error"]["hint"]


def test_partial_reset_refuses_when_a_parent_row_it_needs_is_gone(clean):
    env, d = clean, clean.d
    video = d.sql("SELECT video_id FROM comments ORDER BY comment_id LIMIT 1")[0][0]
    d.sql("DELETE FROM videos WHERE video_id = %s", (video,))  # cascades to its comments
    before = source_checksums(d)
    r = d.post("/reset?tables=comments")
    assert r.status == 409, r.body
    err = r.json()["error"]
    assert err["code"] == "missing_parent_rows" and "public.videos" in err["message"], err
    assert source_checksums(d) == before  # nothing was changed
    # Named with its parent it works.
    body = env.reset("tables=comments,videos")
    assert source_checksums(d)["public.comments"] == env.baseline["public.comments"]
    assert {t["name"] for t in body["tables"]} == {"comments", "videos"}
    env.caught_up()
    # mode=template with tables copies those tables from the template too (a database cannot be swapped
    # in part), and keeps the subscriber's slot.
    d.sql("UPDATE comments SET likes = likes + 1 WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 3)")
    body = env.reset("tables=comments&mode=template")
    assert body["mode"] == "template" and body["partial"] is True, body
    assert [t["updated"] for t in body["tables"]] == [3]
    assert source_checksums(d)["public.comments"] == env.baseline["public.comments"]
    env.caught_up()


def test_equal_partial_resets_coalesce_and_different_ones_do_not(clean):
    import threading
    d = clean.d
    out = []
    ts = [threading.Thread(target=lambda q=q: out.append(d.post("/reset?" + q, timeout=120)))
          for q in ("tables=comments", "tables=comments,comments", "tables=comments,users")]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert sorted(r.status for r in out) == [200, 200, 200], [r.body for r in out]
    names = sorted(tuple(sorted(t["name"] for t in r.json()["tables"])) for r in out)
    assert names == [("comments",), ("comments",), ("comments", "users")]


# ---- workload ---------------------------------------------------------------------


def test_workload_bad_parameters_are_400(clean):
    env = clean
    for q in ("rate=0", "rate=abc", "rate=1000000", "mix=1,2", "mix=-1,1,1", "mix=0,0,0", "mix=a,b,c",
              "mix=1,1,1,1", "count=0", "duration=0", "seed=-3", "bogus=1"):
        r = env.workload("POST", q)
        assert r.status == 400, (q, r.body)
        assert r.json()["error"]["code"], r.body
    assert env.workload("GET").json()["running"] is False


def test_workload_rate_is_met_within_5_percent_with_a_subscriber(clean):
    env = clean
    r = env.workload("POST", "rate=5000&duration=4&seed=7")
    assert r.status == 202, r.body
    assert r.json()["running"] is True and r.json()["seed"] == 7
    mid = wait_for(lambda: (lambda j: j if j["state"] == "running" and j["done"]["total"] > 0 else None)(
        env.workload("GET").json()), 15)
    assert mid and mid["remaining"]["seconds"] > 0, mid
    st = env.wait_workload_done()
    assert st["state"] == "finished" and st["errors"] == 0, st
    assert abs(st["rate_achieved"] - 5000) <= 250, st
    assert abs(st["done"]["total"] - 20000) <= 1000, st
    d = st["done"]
    assert d["insert"] > d["update"] > d["delete"] > 0, st  # the default mix, 60/30/10
    m = env.d.get("/metrics").body
    assert 'pgseed_workload_changes_total{kind="insert"} %d' % d["insert"] in m, m
    assert "pgseed_workload_running 0" in m
    env.caught_up()  # the subscriber followed it


def test_workload_is_deterministic_for_a_seed(clean):
    env, d = clean, clean.d
    sums = []
    for seed in (42, 42, 43):
        env.reset()
        r = env.workload("POST", "rate=5000&count=4000&mix=50,40,10&seed=%d" % seed)
        assert r.status == 202, r.body
        st = env.wait_workload_done()
        assert st["state"] == "finished" and st["done"]["total"] == 4000, st
        sums.append(d.sql(CHANGED_ROWS)[0][0])
    assert sums[0] == sums[1] != sums[2]
    assert d.sql("SELECT count(*) FROM comments WHERE comment_id LIKE 'wl%%'")[0][0] > 0


def test_delete_stops_the_workload(clean):
    env = clean
    assert env.workload("POST", "rate=500").status == 202
    assert wait_for(lambda: env.workload("GET").json()["done"]["total"] > 0, 15)
    r = env.workload("DELETE")
    assert r.status == 200, r.body
    st = r.json()
    assert st["state"] == "stopped" and st["stopped_by"] == "DELETE /workload" and not st["running"], st
    n = st["done"]["total"]
    time.sleep(0.5)
    assert env.workload("GET").json()["done"]["total"] == n
    assert env.workload("DELETE").status == 200  # stopping nothing is fine
    # Posting again while one runs replaces it (a new rate, say).
    assert env.workload("POST", "rate=200").status == 202
    r = env.workload("POST", "rate=300&duration=1")
    assert r.status == 202 and r.json()["rate"] == 300, r.body
    assert env.wait_workload_done()["state"] == "finished"


def test_inplace_reset_stops_a_running_workload_and_the_subscriber_agrees(clean):
    env, d = clean, clean.d
    assert env.workload("POST", "rate=3000&seed=9").status == 202
    assert wait_for(lambda: env.workload("GET").json()["done"]["total"] > 3000, 30)
    body = env.reset()
    st = env.workload("GET").json()
    assert st["state"] == "stopped" and st["stopped_by"] == "a reset started", st
    assert body["strategy"] == "tracked", body
    assert source_checksums(d) == env.baseline
    env.caught_up()


def test_template_reset_stops_a_running_workload(pgseedd):
    d = pgseedd()
    d.wait_healthy()
    r = http("POST", d.url + "/workload?rate=1000")
    assert r.status == 202, r.body
    assert wait_for(lambda: http("GET", d.url + "/workload").json()["done"]["total"] > 0, 15)
    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body
    st = http("GET", d.url + "/workload").json()
    assert st["state"] == "stopped" and st["stopped_by"] == "a reset started", st
    assert d.sql("SELECT count(*) FROM comments WHERE comment_id LIKE 'wl%%'")[0][0] == 0


def test_pgseedctl_workload_and_partial_reset(clean):
    import subprocess
    from conftest import PGSEEDCTL
    env = dict(os.environ, PGSEED_URL=clean.d.url)

    def ctl(*args):
        return subprocess.run([PGSEEDCTL] + list(args), env=env, capture_output=True, text=True, timeout=120)

    r = ctl("workload", "--rate", "2000", "--count", "1000", "--seed", "5", "--wait")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("workload finished: 1,000 changes (insert "), r.stdout
    assert "seed 5" in r.stdout
    assert ctl("workload", "--status").stdout.startswith("workload finished")
    assert ctl("workload", "--rate", "100").returncode == 0
    r = ctl("workload", "--stop")
    assert r.returncode == 0 and "stopped by DELETE /workload" in r.stdout, r.stdout + r.stderr
    for bad in (["--rate", "abc"], ["--stop", "--rate", "5"], ["--stop", "--status"], ["extra"]):
        r = ctl("workload", *bad)
        assert r.returncode == 2 and r.stderr.startswith("pgseedctl"), (bad, r.stderr)
    r = ctl("workload", "--mix", "1,2")
    assert r.returncode == 1 and "mix" in r.stderr, r.stderr
    r = ctl("reset", "--yes", "--tables", "comments")
    assert r.returncode == 0 and "comments" in r.stdout and "videos" not in r.stdout, r.stdout + r.stderr
    assert source_checksums(clean.d)["public.comments"] == clean.baseline["public.comments"]
    r = ctl("reset", "--yes", "--tables", "users")
    assert r.returncode == 1 and "public.comments" in r.stderr, r.stderr


def test_workload_goes_on_after_its_connection_is_killed(clean):
    env, d = clean, clean.d
    assert env.workload("POST", "rate=500&seed=3").status == 202
    assert wait_for(lambda: env.workload("GET").json()["done"]["total"] > 100, 15)
    killed = d.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                   " WHERE application_name = 'pgseedd-workload'", dbname="postgres")[0][0]
    assert killed == 1
    n = env.workload("GET").json()["done"]["total"]
    st = wait_for(lambda: (lambda j: j if j["done"]["total"] > n + 500 else None)(env.workload("GET").json()), 20)
    assert st and st["state"] == "running", env.workload("GET").body
    assert st["errors"] <= 2, st
    assert env.workload("DELETE").json()["state"] == "stopped"
    env.caught_up()


def test_tracked_reset_of_an_identity_keyed_table(pgseedd, tmp_path):
    """A GENERATED ALWAYS identity key takes no value in UPDATE and needs OVERRIDING SYSTEM VALUE in
    INSERT: the tracked path restores such a table too."""
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "01-t.sql").write_text(
        "CREATE TABLE IF NOT EXISTS accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);\n"
        "INSERT INTO accounts (v) SELECT 'seed ' || g FROM generate_series(1, 1000) g"
        " WHERE NOT EXISTS (SELECT 1 FROM accounts);\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(sql, 0o755)
    d = pgseedd(PGSEED_SQL_DIR=str(sql), PGSEED_DATASET="none")
    d.wait_healthy()
    want = d.sql("SELECT id, v FROM accounts ORDER BY id")
    assert len(want) == 1000
    assert d.post("/reset?mode=inplace").status == 200  # installs tracking
    d.sql("UPDATE accounts SET v = 'changed' WHERE id <= 3")
    d.sql("DELETE FROM accounts WHERE id = 1000")
    d.sql("INSERT INTO accounts (v) VALUES ('new')")
    r = d.post("/reset?mode=inplace")
    assert r.status == 200, r.body
    body = r.json()
    assert body["strategy"] == "tracked", body
    t = body["tables"][0]
    assert (t["updated"], t["inserted"], t["deleted"]) == (3, 1, 1), t
    assert d.sql("SELECT id, v FROM accounts ORDER BY id") == want


def test_partial_reset_message_names_its_tables(clean):
    """The logical message a consumer sees says the reset was partial and which tables it restored."""
    import json
    d = clean.d
    d.sql("SELECT pg_create_logical_replication_slot('cdcw_msg', 'test_decoding')")
    try:
        d.sql("UPDATE comments SET likes = likes + 1 WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 2)")
        body = clean.reset("tables=comments")
        full = clean.reset()
        msgs = [r[0] for r in d.sql("SELECT data FROM pg_logical_slot_get_changes('cdcw_msg', NULL, NULL)"
                                    " WHERE data LIKE 'message:%%'")]
    finally:
        d.sql("SELECT pg_drop_replication_slot('cdcw_msg')")
    contents = [json.loads(m[m.index("content:") + len("content:"):]) for m in msgs]
    partial = [c for c in contents if c["epoch"] == body["epoch"]]
    assert partial and partial[0]["partial"] is True and partial[0]["tables"] == ["public.comments"], contents
    last = [c for c in contents if c["epoch"] == full["epoch"]]
    assert last and last[0]["partial"] is False and "tables" not in last[0], contents
    clean.caught_up()
