# SPDX-License-Identifier: MIT
"""Clones for parallel tests (POST/GET /clones, DELETE /clones/NAME,
POST /clones/NAME/reset) and resets that stay fast back to back: isolation,
distinct leases, return and expiry, restarts, limits, hostile names, the
working database left alone, and the server-side latencies."""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import psycopg2
import pytest

from conftest import PGSEEDCTL, PGSEEDD, http, wait_for
from test_dataset import databases

NAME_RE = re.compile(r"^app_clone_[0-9a-f]{16}$")


def delete(d, path):
    return http("DELETE", d.url + path)


def lease(d, query=""):
    r = d.post("/clones" + query)
    assert r.status == 201, r.body
    return r.json()


def clone_sql(d, name, query, params=None):
    return d.sql(query, params, dbname=name)


def pool(d):
    return d.get("/clones").json()["pool"]


def warm_daemon(make):
    d = make(PGSEED_CLONES_POOL=3)
    d.wait_healthy()
    assert wait_for(lambda: pool(d)["ready"] == 3, 60), d.get("/clones").body
    return d


@pytest.fixture
def warm(pgseedd):
    """A daemon with a warm pool of 3, for one test."""
    return warm_daemon(pgseedd)


@pytest.fixture(scope="module")
def warm_shared(pgseedd_module):
    """One such daemon for the tests that are refused and change nothing (each checks that)."""
    return warm_daemon(pgseedd_module)


def test_lease_shape_and_isolation(warm):
    d = warm
    a, b = lease(d), lease(d)
    for c in (a, b):
        assert NAME_RE.match(c["name"]), c
        assert c["url"] == "postgresql://app@127.0.0.1:%d/%s" % (d.pg_port, c["name"])
        assert {"expires_at", "leased_at", "ttl"} <= set(c)
    assert a["name"] != b["name"]
    baseline = d.sql("SELECT count(*) FROM users")[0][0]
    clone_sql(d, a["name"], "DELETE FROM comments")
    clone_sql(d, a["name"], "CREATE TABLE only_in_a (x int)")
    assert clone_sql(d, a["name"], "SELECT count(*) FROM comments") == [(0,)]
    assert clone_sql(d, b["name"], "SELECT count(*) FROM comments")[0][0] > 0
    assert clone_sql(d, b["name"], "SELECT to_regclass('only_in_a')") == [(None,)]
    assert d.sql("SELECT count(*) FROM comments")[0][0] > 0
    assert d.sql("SELECT to_regclass('only_in_a')") == [(None,)]
    assert d.sql("SELECT count(*) FROM users")[0][0] == baseline
    # A clone is a scratch database, not a CDC source: no publication (the working database keeps its own).
    assert clone_sql(d, a["name"], "SELECT count(*) FROM pg_publication") == [(0,)]
    assert d.sql("SELECT count(*) FROM pg_publication")[0][0] == 1
    listed = {c["name"] for c in d.get("/clones").json()["clones"]}
    assert listed == {a["name"], b["name"]}


def test_concurrent_leases_are_distinct(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=2)
    d.wait_healthy()
    n = 8
    out = [None] * n

    def run(i):
        out[i] = d.post("/clones?timeout=120", timeout=150)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == 201 for r in out), [r.body for r in out]
    names = {r.json()["name"] for r in out}
    assert len(names) == n
    assert names <= databases(d)
    assert len(d.get("/clones").json()["clones"]) == n


def test_return_drops_the_database(warm):
    d = warm
    c = lease(d)
    conn = psycopg2.connect(c["url"], password="app")
    r = delete(d, "/clones/" + c["name"])
    assert r.status == 202, r.body
    assert r.json() == {"name": c["name"], "status": "dropping"}
    assert wait_for(lambda: c["name"] not in databases(d), 30), databases(d)
    conn.close()
    r = delete(d, "/clones/" + c["name"])
    assert r.status == 404 and r.json()["error"]["code"] == "unknown_clone", r.body
    assert d.get("/clones").json()["clones"] == []


def test_ttl_expiry_reclaims(warm):
    d = warm
    c = lease(d, "?ttl=2")
    assert c["name"] in databases(d)
    t0 = time.time()
    assert wait_for(lambda: c["name"] not in databases(d), 30), databases(d)
    assert time.time() - t0 < 15
    assert d.get("/clones").json()["clones"] == []
    assert "pgseed_clones_reclaimed_total 1" in d.get("/metrics").body


def test_restart_keeps_leases(warm):
    d = warm
    c = lease(d, "?ttl=600")
    clone_sql(d, c["name"], "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    assert wait_for(lambda: all(x["recorded"] for x in d.get("/clones").json()["clones"]), 10)
    d.stop()
    d.start()
    d.wait_healthy()
    listed = d.get("/clones").json()["clones"]
    assert [x["name"] for x in listed] == [c["name"]], listed
    assert listed[0]["expires_at"] == c["expires_at"]
    assert clone_sql(d, c["name"], "SELECT x FROM kept") == [(42,)]
    # The pool is made anew; a new lease is never the one already leased.
    assert lease(d, "?timeout=60")["name"] != c["name"]
    r = delete(d, "/clones/" + c["name"])
    assert r.status == 202, r.body


def test_unrecorded_handout_is_never_handed_out_twice(warm):
    """A crash between the hand-out and the worker recording the lease leaves
    a clone whose comment still says clone-pool although a client holds it.
    After the restart it must not go back into the pool (it would be handed
    to a second test): it is dropped (or adopted as a lease when a session
    still uses it, which the embedded runtime's restart never leaves)."""
    d = warm
    a, b = lease(d), lease(d)
    assert wait_for(lambda: all(x["recorded"] for x in d.get("/clones").json()["clones"]), 10)
    for c in (a, b):
        # As the comment was before the worker recorded the lease.
        d.sql("COMMENT ON DATABASE %s IS 'pgseed:{\"pgseed\":1,\"role\":\"clone-pool\"}'" % c["name"],
              dbname="postgres")
    ready_before = set(databases(d)) - {a["name"], b["name"]}
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    assert wait_for(lambda: not d.postgres_pids(), 30)
    d.start()
    d.wait_healthy()
    assert d.get("/clones").json()["clones"] == []
    assert wait_for(lambda: a["name"] not in databases(d) and b["name"] not in databases(d), 30), databases(d)
    fresh = {lease(d, "?timeout=60")["name"] for _ in range(3)}
    assert not fresh & {a["name"], b["name"]}
    # The unleased pool clones of before the crash are not trusted either.
    assert not fresh & ready_before


def test_limits(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=1, PGSEED_CLONES_MAX=2)
    d.wait_healthy()
    lease(d, "?timeout=60")
    lease(d, "?timeout=60")
    r = d.post("/clones")
    assert r.status == 503, r.body
    assert r.json()["error"]["code"] == "clone_limit" and r.json()["error"]["hint"]
    assert r.headers.get("Retry-After")
    p = pool(d)
    assert p["leased"] == 2 and p["max"] == 2 and p["ready"] == 0


def test_empty_pool_waits_then_503(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=0)
    d.wait_healthy()
    r = d.post("/clones?timeout=0")
    assert r.status == 503 and r.json()["error"]["code"] == "pool_empty", r.body
    assert r.headers.get("Retry-After")
    r = d.post("/clones?timeout=60", timeout=90)
    assert r.status == 201, r.body
    assert r.json()["wait_ms"] > 0


def test_disk_floor(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=0, PGSEED_CLONES_MIN_FREE_MB=100000000)
    d.wait_healthy()
    r = d.post("/clones?timeout=1")
    assert r.status == 507, r.body
    err = r.json()["error"]
    assert err["code"] == "disk_full" and "min_free_mb" in err["message"]
    # The embedded server's data is in the state directory: that is the disk checked, and GET /clones says so.
    assert "on the state directory %s" % d.state_dir in err["message"], err
    disk = pool(d)["disk"]
    assert disk == {"min_free_mb": 100000000, "checked": True, "where": "the state directory " + d.state_dir,
                    "free_mb": disk["free_mb"], "low": True}, disk
    assert 0 < disk["free_mb"] < 100000000, disk


def test_advertised_host_names_every_url_given_out(pgseedctl):
    """[postgres] advertise_host: /health, clone and role URLs and `pgseedctl start` name it; pgseedd
    itself still connects to host (127.0.0.1)."""
    ctl = pgseedctl(PGSEED_ADVERTISE_HOST="db.ci.internal", PGSEED_CLONES_POOL=1)
    r = ctl.run("start")
    assert r.returncode == 0, r.stdout + r.stderr + ctl.daemon_log()
    d = ctl.daemon
    want = "postgresql://app@db.ci.internal:%d/app" % d.pg_port
    assert "  Postgres: %s " % want in r.stdout, r.stdout
    db = d.get("/health").json()["database"]
    assert db["host"] == "db.ci.internal" and db["url"] == want and db["connected_via"] == "127.0.0.1", db
    roles = {x["name"]: x["url"] for x in d.get("/health").json()["roles"]}
    assert roles["app_rw"] == "postgresql://app_rw@db.ci.internal:%d/app" % d.pg_port, roles
    c = lease(d, "?timeout=60")
    assert c["url"] == "postgresql://app@db.ci.internal:%d/%s" % (d.pg_port, c["name"]), c
    assert [x["url"] for x in d.get("/clones").json()["clones"]] == [c["url"]]
    assert clone_sql(d, c["name"], "SELECT count(*) FROM comments")[0][0] > 0


def test_advertised_host_defaults_to_host_and_ipv6_gets_brackets(pgseedd):
    d = pgseedd()
    db = d.wait_healthy()["database"]
    assert db["host"] == "127.0.0.1" and "connected_via" not in db, db
    d.stop()
    r = subprocess.run([PGSEEDD, "--print-config=json"], env=dict(d.env, PGSEED_ADVERTISE_HOST="fd00::5"),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["connection_url"] == "postgresql://app@[fd00::5]:%d/app" % d.pg_port


@pytest.mark.parametrize("bad", ["postgresql://db", "db:5432/x", "[fd00::5]", "db host", "db@x"])
def test_advertised_host_that_is_not_a_host_is_refused(pgseedd, bad):
    d = pgseedd(start=False, PGSEED_ADVERTISE_HOST=bad)
    r = subprocess.run([PGSEEDD, "--print-config"], env=d.env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout
    assert "advertise_host = '%s' is not a host name or IP address" % bad in r.stderr, r.stderr
    assert "db.internal" in r.stderr, r.stderr


@pytest.mark.parametrize("name", [
    "app", "app_template", "app_spare_1", "postgres", "app_clone_", "app_clone_0123456789abcdeg",
    "app_clone_0123456789ABCDEF", "app_clone_0123456789abcdef0", "x%27%3B%20DROP%20DATABASE%20app%3B--",
    "app_clone_%2e%2e", "a" * 200,
])
def test_hostile_names_refused(warm_shared, name):
    d = warm_shared
    before = databases(d)
    for method, path in (("DELETE", "/clones/" + name), ("POST", "/clones/%s/reset" % name)):
        r = http(method, d.url + path)
        assert r.status == 400, (method, path, r.status, r.body)
        assert r.json()["error"]["code"] == "invalid_name"
    assert databases(d) == before


def test_unknown_but_wellformed_name_is_404(warm_shared):
    for method, path in (("DELETE", "/clones/app_clone_0123456789abcdef"),
                         ("POST", "/clones/app_clone_0123456789abcdef/reset")):
        r = http(method, warm_shared.url + path)
        assert r.status == 404 and r.json()["error"]["code"] == "unknown_clone", r.body


def test_routes_and_methods(warm_shared):
    r = warm_shared.get("/clones/app_clone_0123456789abcdef")
    assert r.status == 405 and "DELETE" in r.headers.get("Allow", ""), r.body
    r = http("DELETE", warm_shared.url + "/clones")
    assert r.status == 405, r.body
    r = warm_shared.get("/clones/a/b/c")
    assert r.status == 404, r.body
    r = warm_shared.post("/clones?ttl=0")
    assert r.status == 400, r.body
    r = warm_shared.post("/clones?bogus=1")
    assert r.status == 400, r.body
    r = http("DELETE", warm_shared.url + "/clones/app_clone_0123456789abcdef", headers={"Origin": "http://evil.example"})
    assert r.status == 403, r.body


def test_clone_reset_gives_fresh_copy_same_name(warm):
    d = warm
    c = lease(d)
    clone_sql(d, c["name"], "DELETE FROM comments")
    r = d.post("/clones/%s/reset" % c["name"])
    assert r.status == 200, r.body
    body = r.json()
    assert body["name"] == c["name"] and body["expires_at"] == c["expires_at"]
    assert clone_sql(d, c["name"], "SELECT count(*) FROM comments")[0][0] > 0
    assert clone_sql(d, c["name"], "SELECT count(*) FROM pg_publication") == [(0,)]
    # What was set aside is dropped in the background.
    assert wait_for(lambda: not [x for x in databases(d) if "aside" in x], 30), databases(d)


def test_working_database_untouched(warm):
    d = warm
    d.sql("UPDATE users SET channel_name = 'mine' WHERE channel_id = (SELECT min(channel_id) FROM users)")
    oid = d.sql("SELECT oid FROM pg_database WHERE datname = 'app'", dbname="postgres")
    conn = d.connect()
    cs = [lease(d) for _ in range(3)]
    assert d.post("/clones/%s/reset" % cs[0]["name"]).status == 200
    for c in cs:
        assert delete(d, "/clones/" + c["name"]).status == 202
    lease(d, "?ttl=1")
    assert wait_for(lambda: not d.get("/clones").json()["clones"], 20)
    assert d.sql("SELECT oid FROM pg_database WHERE datname = 'app'", dbname="postgres") == oid
    assert d.sql("SELECT count(*) FROM users WHERE channel_name = 'mine'") == [(1,)]
    # The session on the working database was never ended.
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    conn.close()


def test_back_to_back_resets_stay_fast(pgseedd):
    # 5 spares, not the default 3: meson runs the integration files in parallel on CI's 2 cores, where a
    # spare's CREATE DATABASE can take longer than the 0.1 s between resets (see README, Performance).
    d = pgseedd(PGSEED_SPARES=5)
    d.wait_healthy()
    assert wait_for(lambda: d.health().json().get("dataset", {}).get("spares_ready") == 5, 60), d.health().body
    durations, swaps, strategies, walls, queued = [], [], [], [], []
    for _ in range(20):
        t0 = time.time()
        r = d.post("/reset")
        walls.append((time.time() - t0) * 1000)
        assert r.status == 200, r.body
        body = r.json()
        durations.append(body["duration_ms"])
        swaps.append(body["swap_ms"])
        queued.append(body["queued_ms"])
        strategies.append(body["strategy"])
        time.sleep(0.1)
    report = "duration_ms %s swap_ms %s queued_ms %s wall_ms %s strategies %s" % (
        durations, swaps, queued, [round(w) for w in walls], strategies)
    print(report)
    assert statistics.median(durations) < 50, report
    assert max(durations) < 500, report
    assert strategies.count("prepared_copy") >= 15, report
    # queued_ms (waiting for the worker to finish a background step) is reported, not asserted: on a loaded
    # machine a CREATE or DROP DATABASE does not always stop at once when cancelled (README, Performance).


# -- pgseedctl and the examples -------------------------------------------------

def ctl(d, *args):
    return subprocess.run([PGSEEDCTL, "--url", d.url] + list(args), capture_output=True, text=True, timeout=120)


def test_pgseedctl_clone_clones_unclone(warm):
    d = warm
    out = ctl(d, "clone", "--env")
    assert out.returncode == 0, out.stderr
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line and " " not in line)
    name = env["PGDATABASE"]
    assert NAME_RE.match(name) and env["DATABASE_URL"].endswith("/" + name)
    out = ctl(d, "clone", "--ttl", "120", "--json")
    assert out.returncode == 0, out.stderr
    second = json.loads(out.stdout)
    assert second["ttl"] == 120
    out = ctl(d, "clones")
    assert out.returncode == 0 and name in out.stdout and second["name"] in out.stdout, out
    assert "2 leased" in out.stdout
    listed = json.loads(ctl(d, "clones", "--json").stdout)
    assert {c["name"] for c in listed["clones"]} == {name, second["name"]}
    out = ctl(d, "unclone", name)
    assert out.returncode == 0, out.stderr
    out = ctl(d, "unclone", name)
    assert out.returncode == 1 and "No leased clone" in out.stderr, out
    out = ctl(d, "unclone", "app; DROP DATABASE app")
    assert out.returncode == 1 and "not a clone name" in out.stderr, out
    out = ctl(d, "clone", "--ttl", "soon")
    assert out.returncode == 2, out


def test_parallel_example(warm, tmp_path):
    d = warm
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "parallel.sh")
    env = dict(os.environ, PGSEED_URL=d.url, PGSEEDCTL=PGSEEDCTL, OUT=str(tmp_path))
    out = subprocess.run([script, "4", "sh", "-c", 'echo "$PGDATABASE $DATABASE_URL" > "$OUT/$PGDATABASE"'],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    names = os.listdir(tmp_path)
    assert len(names) == 4 and all(NAME_RE.match(n) for n in names), names
    # Every worker returned its clone.
    assert d.get("/clones").json()["clones"] == []


def test_pytest_example_fixture(warm, tmp_path):
    d = warm
    src = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pytest", "conftest.py")
    shutil.copy(src, tmp_path / "conftest.py")
    (tmp_path / "test_example.py").write_text(
        "import psycopg2, pytest\n"
        "@pytest.mark.parametrize('i', range(3))\n"
        "def test_own_database(clone_url, i):\n"
        "    conn = psycopg2.connect(clone_url, password='app')\n"
        "    conn.autocommit = True\n"
        "    cur = conn.cursor()\n"
        "    cur.execute('SELECT count(*) FROM pg_tables WHERE tablename = %s', ('mine',))\n"
        "    assert cur.fetchone()[0] == 0  # no other test's table\n"
        "    cur.execute('CREATE TABLE mine (i int)')\n"
        "    conn.close()\n")
    env = dict(os.environ, PGSEED_URL=d.url)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=180, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout
    assert wait_for(lambda: d.get("/clones").json()["clones"] == [], 10)


def test_metrics(warm):
    d = warm
    lease(d)
    text = d.get("/metrics").body
    for name in ("pgseed_clones_pool_ready", "pgseed_clones_pool_target 3", "pgseed_clones_leased 1",
                 "pgseed_clone_handout_seconds_bucket{le=\"0.001\"}", "pgseed_clone_handout_seconds_count 1",
                 "pgseed_clone_refill_seconds_count", "pgseed_clones_reclaimed_total 0"):
        assert name in text, name


def hold_template(d):
    """Blocks every CREATE DATABASE ... TEMPLATE app_template until the returned
    connection rolls back: an uncommitted rename holds the database's lock, the
    pool cannot refill, and leases have to wait."""
    conn = d.connect("postgres")
    cur = conn.cursor()
    cur.execute("ALTER DATABASE app_template RENAME TO app_template_held")
    return conn


def test_waiting_leases_hold_no_http_worker(pgseedd):
    """More leases waiting for an empty pool than the server has HTTP workers (6):
    they are parked, so /health and other endpoints still answer at once, each
    waiter gets 503 pool_empty with Retry-After at its ?timeout, and a waiter
    gets its clone as soon as one is made."""
    d = pgseedd(PGSEED_CLONES_POOL=0)
    d.wait_healthy()
    held = hold_template(d)
    results = []
    try:
        def one(timeout):
            t0 = time.monotonic()
            r = d.post("/clones?timeout=%d" % timeout, timeout=60)
            results.append((r, time.monotonic() - t0))

        threads = [threading.Thread(target=one, args=(4,)) for _ in range(10)]
        for t in threads:
            t.start()
        assert wait_for(lambda: pool(d)["waiting"] == 10, 3), d.get("/clones").body
        for path in ("/health", "/clones", "/schema"):
            t0 = time.monotonic()
            r = d.get(path, timeout=5)
            assert r.status == 200, (path, r.status, r.body)
            assert time.monotonic() - t0 < 1.0, (path, time.monotonic() - t0)
        for t in threads:
            t.join(30)
        assert len(results) == 10
        for r, took in results:
            assert r.status == 503, r.body
            assert r.json()["error"]["code"] == "pool_empty"
            assert r.headers.get("Retry-After") == "1"
            assert 3.5 <= took < 8, took
        assert pool(d)["waiting"] == 0

        # A parked lease is answered when a clone is made.
        results.clear()
        late = threading.Thread(target=one, args=(60,))
        late.start()
        assert wait_for(lambda: pool(d)["waiting"] == 1, 3)
    finally:
        held.rollback()
        held.close()
    late.join(60)
    assert len(results) == 1
    r, took = results[0]
    assert r.status == 201, r.body
    assert NAME_RE.match(r.json()["name"])
    assert took < 30


def test_waiting_lease_timeout_zero_is_immediate(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=0)
    d.wait_healthy()
    held = hold_template(d)
    try:
        t0 = time.monotonic()
        r = d.post("/clones?timeout=0")
        assert r.status == 503 and r.json()["error"]["code"] == "pool_empty", r.body
        assert time.monotonic() - t0 < 1.5
    finally:
        held.rollback()
        held.close()
