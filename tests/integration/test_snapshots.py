# SPDX-License-Identifier: MIT
"""Named snapshots (POST/GET /snapshots, DELETE /snapshots/NAME, GET
/snapshots/NAME/dump, POST /reset?from=N, POST /clones?from=N): a reset from
a snapshot brings its state back, not the seed's; clones of it carry its rows;
snapshots survive restarts; names that are taken, unknown or malformed are
clear 4xx; a dump restored under another name equals the original; a kill -9
in the middle of a snapshot leaves nothing broken."""

import os
import re
import signal
import threading
import time
import urllib.request

import pytest

from conftest import http, wait_for
from test_dataset import CONTENT, TABLES, content_checksums, databases

SNAP_DB = re.compile(r"^app_snap(build|work)?_")


def checksums_of(d, dbname):
    return {t: d.sql("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM (SELECT %s FROM %s) x"
                     % (CONTENT[t], t), dbname=dbname)[0][0] for t in TABLES}


def snapshot(d, name, **kw):
    r = d.post("/snapshots?name=" + name, **kw)
    assert r.status == 201, r.body
    return r.json()


def listed(d):
    r = d.get("/snapshots")
    assert r.status == 200, r.body
    return {s["name"]: s for s in r.json()["snapshots"]}


def modify(d):
    d.sql("UPDATE users SET channel_name = 'snapshotted' WHERE channel_id = (SELECT min(channel_id) FROM users)")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments ORDER BY 1 LIMIT 7)")


def marked(d, dbname=None):
    return d.sql("SELECT count(*) FROM users WHERE channel_name = 'snapshotted'", dbname=dbname)[0][0]


def post_body(d, path, body, content_type="application/octet-stream", timeout=120):
    req = urllib.request.Request(d.url + path, data=body, method="POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def dump(d, name):
    with urllib.request.urlopen(d.url + "/snapshots/%s/dump" % name, timeout=120) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/octet-stream"
        return r.read()


@pytest.fixture
def ready_snap(pgseedd):
    d = pgseedd(PGSEED_CLONES_POOL=1)
    d.wait_healthy()
    return d, content_checksums(d)


def test_snapshot_reset_and_clone_from(ready_snap):
    d, seed = ready_snap
    modify(d)
    changed = content_checksums(d)
    assert changed != seed
    s = snapshot(d, "before-migration")
    assert s["name"] == "before-migration" and s["database"] == "app_snap_before-migration"
    assert s["source"] == "working" and re.fullmatch(r"[0-9a-f]{16}", s["fingerprint"])
    assert s["size_bytes"] > 0 and {t["name"] for t in s["tables"]} >= {"users", "comments", "videos"}
    # The working database serves on, unchanged.
    assert content_checksums(d) == changed
    assert d.health().status == 200

    d.sql("DELETE FROM comments")
    r = d.post("/reset?from=before-migration")
    assert r.status == 200, r.body
    body = r.json()
    assert body["strategy"] == "snapshot" and body["snapshot"] == "before-migration"
    assert content_checksums(d) == changed, "a reset from the snapshot must bring the snapshot's rows back"
    assert marked(d) == 1
    # An in-place reset afterwards restores the seed's rows (the copied change tracking is not trusted).
    r = d.post("/reset?mode=inplace")
    assert r.status == 200, r.body
    assert content_checksums(d) == seed
    # A plain reset still means the seed.
    assert d.post("/reset?from=before-migration").status == 200
    r = d.post("/reset")
    assert r.status == 200 and r.json()["strategy"] != "snapshot", r.body
    assert content_checksums(d) == seed

    r = d.post("/clones?from=before-migration")
    assert r.status == 201, r.body
    c = r.json()
    assert c["from"] == "before-migration" and re.fullmatch(r"app_clone_[0-9a-f]{16}", c["name"])
    assert checksums_of(d, c["name"]) == changed
    assert d.sql("SELECT count(*) FROM pg_publication", dbname=c["name"]) == [(0,)]
    assert c["name"] in {x["name"] for x in d.get("/clones").json()["clones"]}
    # Its reset would need the snapshot's copy: refused, clearly.
    r = d.post("/clones/%s/reset" % c["name"])
    assert r.status == 409 and r.json()["error"]["code"] == "clone_of_snapshot", r.body
    assert http("DELETE", d.url + "/clones/" + c["name"]).status == 202
    # A seed clone is still the seed.
    r = d.post("/clones")
    assert r.status == 201 and "from" not in r.json()
    assert checksums_of(d, r.json()["name"]) == seed

    # Nobody can connect to a snapshot (it stays as it was taken).
    assert d.sql("SELECT datallowconn FROM pg_database WHERE datname = 'app_snap_before-migration'",
                 dbname="postgres") == [(False,)]
    metrics = d.get("/metrics").body
    assert re.search(r"^pgseed_snapshots 1$", metrics, re.M), metrics


def test_names_taken_unknown_malformed(ready_snap):
    d, _ = ready_snap
    snapshot(d, "one")
    r = d.post("/snapshots?name=one")
    assert r.status == 409 and r.json()["error"]["code"] == "snapshot_exists", r.body
    for method, path in (("POST", "/reset?from=nope"), ("POST", "/clones?from=nope"),
                         ("DELETE", "/snapshots/nope"), ("GET", "/snapshots/nope/dump")):
        r = http(method, d.url + path)
        assert r.status == 404 and r.json()["error"]["code"] == "unknown_snapshot", (path, r.body)
    bad = ["Upper", "-lead", "a%20b", "x;drop", "a" * 41, "%C3%A9t%C3%A9", "..", "a%2Fb", "a%00b", "a'b"]
    for name in bad:
        for method, path in (("POST", "/snapshots?name=%s"), ("POST", "/reset?from=%s"),
                             ("POST", "/clones?from=%s"), ("DELETE", "/snapshots/%s"),
                             ("GET", "/snapshots/%s/dump")):
            r = http(method, d.url + path % name)
            assert r.status in (400, 404), (path % name, r.status, r.body)
            assert r.status == 400 or "/snapshots/" in path, (path % name, r.body)
            assert "error" in r.json()
    for path in ("/snapshots?name=", "/snapshots?nam=x"):
        r = d.post(path)
        assert r.status == 400, (path, r.body)
    # Without a name, one from the time.
    r = d.post("/snapshots")
    assert r.status == 201 and re.fullmatch(r"snap-\d{8}-\d{6}-\d{3}", r.json()["name"]), r.body
    assert http("DELETE", d.url + "/snapshots/" + r.json()["name"]).status == 200
    r = d.post("/reset?from=one&mode=inplace")
    assert r.status == 400 and r.json()["error"]["code"] == "from_needs_template", r.body
    # Nothing of the refused names reached the catalog.
    assert {x for x in databases(d) if SNAP_DB.match(x)} == {"app_snap_one"}


def test_delete(ready_snap):
    d, _ = ready_snap
    snapshot(d, "gone")
    snapshot(d, "kept")
    r = http("DELETE", d.url + "/snapshots/gone")
    assert r.status == 200 and r.json()["name"] == "gone" and r.json()["status"] == "dropped", r.body
    assert set(listed(d)) == {"kept"}
    assert "app_snap_gone" not in databases(d) and "app_snap_kept" in databases(d)
    assert http("DELETE", d.url + "/snapshots/gone").status == 404
    # The name is free again.
    snapshot(d, "gone")


def test_restart_keeps_snapshots_and_upkeep_leaves_them(ready_snap):
    d, seed = ready_snap
    modify(d)
    changed = content_checksums(d)
    before = snapshot(d, "keep")
    d.stop()
    d.start()
    d.wait_healthy()
    after = listed(d)
    assert set(after) == {"keep"}
    assert after["keep"]["fingerprint"] == before["fingerprint"]
    assert after["keep"]["created_at"] == before["created_at"]
    # Upkeep ran meanwhile (spares, pool): the snapshot is still there, and usable.
    time.sleep(2)
    assert "app_snap_keep" in databases(d)
    r = d.post("/reset?from=keep")
    assert r.status == 200, r.body
    assert content_checksums(d) == changed


def test_foreign_database_under_snapshot_name_is_left_alone(ready_snap):
    d, _ = ready_snap
    d.sql('CREATE DATABASE "app_snap_theirs"', dbname="postgres")
    d.sql('CREATE DATABASE "app_snapbuild_theirs"', dbname="postgres")
    d.stop()
    d.start()
    d.wait_healthy()
    assert {"app_snap_theirs", "app_snapbuild_theirs"} <= databases(d)
    assert listed(d) == {}
    r = d.post("/snapshots?name=theirs")
    assert r.status == 409, r.body


def test_dump_and_restore_under_another_name(ready_snap):
    d, seed = ready_snap
    modify(d)
    changed = content_checksums(d)
    snapshot(d, "orig")
    data = dump(d, "orig")
    assert data[:5] == b"PGDMP", data[:16]
    # The scratch copy pg_dump read from is dropped afterwards.
    assert wait_for(lambda: not any(x.startswith("app_snapwork_") for x in databases(d)), 30), databases(d)
    # Also when the client leaves before the copy is made, or in the middle of the archive.
    import socket
    for wait in (0, 0.5):
        with socket.create_connection(("127.0.0.1", d.api_port), timeout=10) as s:
            s.sendall(b"GET /snapshots/orig/dump HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(wait)
            if wait:
                assert s.recv(100).startswith(b"HTTP/1.1 200")
    time.sleep(1)
    assert wait_for(lambda: not any(x.startswith("app_snapwork_") for x in databases(d)), 30), databases(d)
    # A clone of a snapshot whose client left before it was handed out is returned.
    with socket.create_connection(("127.0.0.1", d.api_port), timeout=10) as s:
        s.sendall(b"POST /clones?from=orig HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    time.sleep(1)
    assert wait_for(lambda: d.get("/clones").json()["clones"] == [], 30), d.get("/clones").body

    status, body = post_body(d, "/snapshots?name=copy", data)
    assert status == 201, body
    assert '"source": "archive"' in body or '"source":"archive"' in body
    got = listed(d)
    assert set(got) == {"orig", "copy"}
    assert [t["rows"] for t in got["copy"]["tables"]] == [t["rows"] for t in got["orig"]["tables"]]
    r = d.post("/reset?from=copy")
    assert r.status == 200, r.body
    assert content_checksums(d) == changed, "the restored snapshot must equal the original, table by table"
    assert d.sql("SELECT count(*) FROM pg_publication") == [(1,)]

    # A body that is not an archive: a clear 400, and nothing left behind.
    status, body = post_body(d, "/snapshots?name=junk", b"not an archive at all" * 100)
    assert status == 400 and "invalid_archive" in body, body
    status, body = post_body(d, "/snapshots?name=junk2", data, content_type="text/plain")
    assert status == 415, body
    assert set(listed(d)) == {"orig", "copy"}
    assert not any(x.startswith("app_snapbuild_") for x in databases(d))


def test_kill9_mid_snapshot_leaves_nothing_broken(pgseedd):
    from test_faults import kill9, restart
    d = pgseedd(PGSEED_COMMENTS=20000)
    d.wait_healthy()
    modify(d)
    changed = content_checksums(d)
    caught = 0
    for i, delay_ms in enumerate((0, 10, 25, 50, 80, 120, 200)):
        name = "crash%d" % i
        t = threading.Thread(target=lambda: _post_quietly(d, "/snapshots?name=" + name), daemon=True)
        t.start()
        deadline = time.time() + delay_ms / 1000.0
        building = False
        while time.time() < deadline or not building:
            building = building or bool(_building(d))
            if time.time() > deadline + 5:
                break
            time.sleep(0.002)
        caught += building
        kill9(d)
        d = restart(d)
        d.wait_healthy(120)
        # Cleaned up at start: no build or scratch database; the working one open and unchanged.
        assert wait_for(lambda: not [x for x in databases(d) if re.match(r"app_snap(build|work)_", x)], 30), \
            databases(d)
        assert d.sql("SELECT datallowconn FROM pg_database WHERE datname = 'app'", dbname="postgres") == [(True,)]
        assert content_checksums(d) == changed
        # All or nothing: a listed snapshot is complete.
        snaps = listed(d)
        assert set(snaps) <= {"crash%d" % j for j in range(i + 1)}
        if name in snaps:
            r = d.post("/reset?from=" + name)
            assert r.status == 200, r.body
            assert content_checksums(d) == changed
    assert caught >= 3, "the kills should land while a snapshot is being built"

    # A reset from a snapshot killed at any point: the snapshot's state or the one before, nothing between.
    if not listed(d):
        snapshot(d, "crash-final")
    name = sorted(listed(d))[0]
    d.sql("UPDATE users SET channel_name = 'after' WHERE channel_id = (SELECT max(channel_id) FROM users)")
    before = content_checksums(d)
    for delay_ms in (0, 20, 60, 150):
        _post_async(d, "/reset?from=" + name)
        time.sleep(delay_ms / 1000.0)
        kill9(d)
        d = restart(d)
        d.wait_healthy(120)
        now = content_checksums(d)
        assert now in (before, changed), delay_ms
        if now == changed:
            d.sql("UPDATE users SET channel_name = 'after' WHERE channel_id = (SELECT max(channel_id) FROM users)")
            assert content_checksums(d) == before
    # What a killed reset left under the set-aside prefix is dropped by upkeep.
    assert wait_for(lambda: not [x for x in databases(d) if x.startswith("app_pgseed_aside_")], 60), databases(d)
    assert name in listed(d)


def _post_async(d, path):
    threading.Thread(target=lambda: _post_quietly(d, path), daemon=True).start()


def _post_quietly(d, path):
    try:
        http("POST", d.url + path, timeout=30)
    except OSError:
        pass


def _building(d):
    try:
        return [x for x in databases(d) if x.startswith("app_snapbuild_")] or d.sql(
            "SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'CREATE DATABASE%snapbuild%'", dbname="postgres")
    except Exception:
        return False


def test_pgseedctl_snapshot_commands(ready_snap, tmp_path):
    import subprocess
    from conftest import PGSEEDCTL
    d, seed = ready_snap

    def ctl(*args):
        return subprocess.run([PGSEEDCTL, "--url", d.url] + list(args), capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    modify(d)
    changed = content_checksums(d)
    r = ctl("snapshot", "mine")
    assert r.returncode == 0 and r.stdout.startswith("Snapshot mine taken"), (r.stdout, r.stderr)
    r = ctl("snapshots")
    assert r.returncode == 0 and r.stdout.startswith("mine\t") and "1 snapshot(s)" in r.stdout, r.stdout
    r = ctl("--json", "snapshots")
    assert r.returncode == 0 and '"mine"' in r.stdout
    r = ctl("snapshot", "mine")
    assert r.returncode != 0 and "exists already" in r.stderr, r.stderr
    r = ctl("snapshot", "Bad Name")
    assert r.returncode != 0 and "not a valid snapshot name" in r.stderr, r.stderr
    assert ctl("reset", "--yes").returncode == 0
    assert content_checksums(d) == seed
    # Without a terminal, restore wants --yes (as reset does).
    r = ctl("restore", "mine")
    assert r.returncode != 0 and "--yes" in r.stderr, r.stderr
    r = ctl("restore", "--yes", "mine")
    assert r.returncode == 0 and "reset from snapshot mine" in r.stdout, (r.stdout, r.stderr)
    assert content_checksums(d) == changed
    r = ctl("restore", "--yes", "nope")
    assert r.returncode != 0 and "No snapshot named 'nope'" in r.stderr, r.stderr

    archive = tmp_path / "mine.pgdump"
    r = ctl("snapshot-dump", "mine", str(archive))
    assert r.returncode == 0, r.stderr
    assert archive.read_bytes()[:5] == b"PGDMP"
    r = ctl("snapshot-dump", "nope", str(tmp_path / "nope.pgdump"))
    assert r.returncode != 0 and not (tmp_path / "nope.pgdump").exists()
    assert not (tmp_path / "nope.pgdump.partial").exists()
    r = ctl("snapshot-load", "carried", str(archive))
    assert r.returncode == 0 and "Snapshot carried restored" in r.stdout, (r.stdout, r.stderr)
    assert ctl("reset", "--yes").returncode == 0
    assert ctl("restore", "--yes", "carried").returncode == 0
    assert content_checksums(d) == changed
    r = ctl("unsnapshot", "carried")
    assert r.returncode == 0 and "Dropped snapshot carried" in r.stdout
    assert set(listed(d)) == {"mine"}


def test_pytest_example_fixture_from_snapshot(ready_snap, tmp_path):
    import shutil
    import subprocess
    import sys
    d, _ = ready_snap
    modify(d)
    snapshot(d, "fixture")
    d.post("/reset")
    src = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pytest", "conftest.py")
    shutil.copy(src, tmp_path / "conftest.py")
    (tmp_path / "test_example.py").write_text(
        "import psycopg2\n"
        "def test_snapshot_rows(clone_url):\n"
        "    conn = psycopg2.connect(clone_url, password='app')\n"
        "    cur = conn.cursor()\n"
        "    cur.execute(\"SELECT count(*) FROM users WHERE channel_name = 'snapshotted'\")\n"
        "    assert cur.fetchone()[0] == 1\n"
        "    conn.close()\n")
    env = dict(os.environ, PGSEED_URL=d.url, PGSEED_SNAPSHOT="fixture")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=180, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert wait_for(lambda: d.get("/clones").json()["clones"] == [], 10)
    assert marked(d) == 0  # the working database was reset to the seed meanwhile


def test_upload_refused_before_its_body_without_token(pgseedd, tmp_path):
    """An archive upload is checked (token, Host) before its body is read: nobody the API would
    refuse can fill the disk with it."""
    import socket
    token = "t0ken-for-snapshots_0123456789abcdef"
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    os.chmod(tf, 0o600)
    d = pgseedd(PGSEED_TOKEN_FILE=str(tf))
    d.wait_healthy()
    with socket.create_connection(("127.0.0.1", d.api_port), timeout=10) as s:
        s.sendall(b"POST /snapshots?name=big HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/octet-stream\r\nContent-Length: 1000000000\r\n\r\n")
        reply = s.recv(4096).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 401"), reply
    req = urllib.request.Request(d.url + "/snapshots?name=junk", data=b"x" * 200000, method="POST",
                                 headers={"Content-Type": "application/octet-stream",
                                          "Authorization": "Bearer " + token})
    try:
        urllib.request.urlopen(req, timeout=60)
        assert False, "junk accepted"
    except urllib.error.HTTPError as e:
        assert e.code == 400 and b"invalid_archive" in e.read()
