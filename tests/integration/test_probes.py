# SPDX-License-Identifier: MIT
"""Probes: /livez and /readyz (Kubernetes style, ?verbose for humans), the
cached /health, and `pgseedctl health` without PGSEED_URL (no pgseedd needed
to find the URL)."""

import os
import shutil
import subprocess
import time

from conftest import PGSEEDCTL, wait_for


def test_livez_and_readyz_follow_the_supervisor(pgseedd):
    d = pgseedd(PGSEED_COMMENTS="20000")
    # pgseedd's loop runs long before the database is seeded: live, not ready.
    live = wait_for(lambda: _get(d, "/livez"), 30, interval=0.02)
    assert live and live.status == 200 and live.body == "ok\n", live and live.body
    seen = []
    while True:
        r = _get(d, "/readyz")
        if r:
            seen.append((r.status, r.body))
            if r.status == 200:
                break
        assert d.proc.poll() is None, d.read_log()
        assert len(seen) < 3000, seen[-3:]
        time.sleep(0.02)
    not_ready = [b for s, b in seen if s == 503]
    assert not_ready, "readyz was never 503 before seeding finished: %s" % seen[:3]
    assert not_ready[0].startswith("failed: "), not_ready[0]
    assert seen[-1] == (200, "ok\n")

    v = d.get("/readyz?verbose")
    assert v.status == 200 and v.headers["Content-Type"].startswith("text/plain")
    lines = v.body.splitlines()
    assert lines[0].startswith("[+]supervisor ok"), lines
    assert "[+]postgres accepting connections" in lines and lines[-1] == "readyz check passed", lines
    v = d.get("/livez?verbose=1")
    assert v.body.splitlines()[-1] == "livez check passed", v.body
    assert d.get("/livez?verbose=maybe").status == 400
    assert d.get("/readyz?what=1").status == 400

    # /health is served from a cache, but a state change shows at once.
    assert d.get("/health").json()["status"] == "ready"
    assert d.post("/reset").status == 200
    h = d.get("/health")
    assert h.status == 200 and h.json()["status"] == "ready"
    # And the cache is at most 100 ms old: checked_age_ms and uptime move.
    a = d.get("/health").json()["uptime_s"]
    time.sleep(1.2)
    assert d.get("/health").json()["uptime_s"] > a

    d.stop()
    assert _get(d, "/livez") is None


def _get(d, path):
    try:
        return d.get(path, timeout=2)
    except OSError:
        return None


def test_pgseedctl_health_reads_the_configuration_itself(ready, tmp_path):
    """Without PGSEED_URL, pgseedctl finds the API in pgseedd's configuration by reading it itself:
    the pgseedd next to it is never run (a stand-in that records its calls proves it)."""
    d = ready
    lone = tmp_path / "bin"
    lone.mkdir()
    shutil.copy(PGSEEDCTL, lone / "pgseedctl")
    calls = tmp_path / "pgseedd-calls"
    real = os.path.join(os.path.dirname(PGSEEDCTL), "..", "daemon", "pgseedd")
    (lone / "pgseedd").write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (calls, os.path.abspath(real)))
    os.chmod(lone / "pgseedd", 0o755)
    conf = tmp_path / "pgseedd.conf"
    conf.write_text("[api]\nlisten = 127.0.0.1:%d\n" % d.api_port)
    env = {"PATH": "/usr/bin:/bin", "PGSEED_CONFIG": str(conf), "HOME": str(tmp_path)}
    r = subprocess.run([str(lone / "pgseedctl"), "health"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("ready"), r.stdout
    assert not calls.exists(), "pgseedctl ran pgseedd: %s" % calls.read_text()
    # The environment wins over the file, as for pgseedd itself.
    env["PGSEED_LISTEN"] = "127.0.0.1:1"
    r = subprocess.run([str(lone / "pgseedctl"), "health"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "127.0.0.1:1" in r.stdout + r.stderr, (r.stdout, r.stderr)
    # A configuration that does not load is pgseedd's to explain (it is asked then).
    conf.write_text("[api]\nlisten = nonsense\n")
    del env["PGSEED_LISTEN"]
    r = subprocess.run([str(lone / "pgseedctl"), "start"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and calls.exists(), (r.stdout, r.stderr)


def test_pipelined_probes_are_all_answered_in_order(ready):
    """300 pipelined probes on one connection all get their replies, in order (the cached /health body
    included)."""
    import socket
    paths = ["/health", "/livez", "/readyz"] * 100
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % p.encode() for p in paths)
    with socket.create_connection(("127.0.0.1", ready.api_port), timeout=30) as s:
        s.sendall(req + b"GET /livez?verbose HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    replies = data.split(b"HTTP/1.1 ")[1:]
    assert len(replies) == len(paths) + 1, len(replies)
    assert all(r.startswith(b"200 ") for r in replies), [r[:40] for r in replies if not r.startswith(b"200 ")][:3]
    for p, r in zip(paths, replies):
        body = r.split(b"\r\n\r\n", 1)[1]
        assert body.startswith(b"{") if p == "/health" else body == b"ok\n", (p, body[:40])
    assert replies[-1].rstrip().endswith(b"livez check passed")


def table_reads(d, table):
    """Scans of table so far (sequential and index), from the statistics."""
    (n,), = d.sql("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                  " WHERE relname = %s", (table,))
    return n


def health_rows(d, table):
    t = next(t for t in d.health().json()["tables"] if t["name"] == table)
    return t["rows"], t["exact"]


def test_row_counts_cost_nothing_while_nothing_changes(ready):
    """/health's row counts: an idle database is not scanned every few seconds (the statistics say
    nothing changed), a change is counted again within a few seconds, exactly."""
    d = ready
    time.sleep(1.5)  # the seed's own statistics settle
    before = table_reads(d, "comments")
    rows, exact = health_rows(d, "comments")
    assert exact
    time.sleep(12)  # more than two count intervals (5 s)
    assert table_reads(d, "comments") == before, "an idle table was scanned for its count"
    assert health_rows(d, "comments") == (rows, True)

    (cid,), = d.sql("SELECT comment_id FROM comments ORDER BY comment_id LIMIT 1")
    d.sql("DELETE FROM comments WHERE comment_id = %s", (cid,))  # its session ends: the counters flush
    deadline = time.time() + 15
    while time.time() < deadline and health_rows(d, "comments")[0] != rows - 1:
        time.sleep(0.5)
    assert health_rows(d, "comments") == (rows - 1, True)
