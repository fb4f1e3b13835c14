# SPDX-License-Identifier: MIT
"""PgBouncer in front of Postgres (issue 12): supervised, reported, restarted,
and holding its clients through resets so that they wait instead of failing."""

import os
import re
import signal
import stat
import subprocess
import threading
import time

import psycopg2
import pytest

from conftest import free_port, wait_for

# Transactions on the seeded tables only: a template reset brings back exactly those.
BENCH = """\\set n random(1, 4000)
BEGIN;
SELECT count(*) FROM comments WHERE likes > :n;
UPDATE videos SET category = 'pgbench' WHERE video_id = (SELECT min(video_id) FROM videos);
INSERT INTO users (channel_id, channel_name) VALUES ('pgbench-' || :client_id || '-' || :n || '-' || random(), 'x');
END;
"""


@pytest.fixture
def pooled(pgseedd):
    d = pgseedd(PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(free_port()))
    d.pb_port = int(d.env["PGSEED_PGBOUNCER_PORT"])
    d.wait_healthy()
    assert wait_for(lambda: d.health().json()["pgbouncer"]["up"], 15), d.health().body
    return d


def pooler_connect(d, user="app_rw", password="app_rw", dbname="app"):
    c = psycopg2.connect(host="127.0.0.1", port=d.pb_port, user=user, password=password, dbname=dbname,
                         connect_timeout=5)
    c.autocommit = True
    return c


def pooler_pid(d):
    return d.health().json()["pgbouncer"]["pid"]


def test_health_metrics_and_private_files(pooled):
    c = pooler_connect(pooled)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM videos")
            assert cur.fetchone()[0] > 0
            cur.execute("SHOW port")  # the server's: pgbouncer forwards to the configured Postgres
            assert int(cur.fetchone()[0]) == pooled.pg_port

        def sees_pool():
            pb = pooled.health().json()["pgbouncer"]
            pool = any(p["database"] == "app" and p["user"] == "app_rw" for p in pb["pools"])
            stats = any(s["database"] == "app" and s["total_xact_count"] >= 1 for s in pb["stats"])
            return pb if pool and stats else None
        pb = wait_for(sees_pool, 10)
        assert pb, pooled.health().body
    finally:
        c.close()
    assert pb["up"] is True and pb["port"] == pooled.pb_port and pb["pool_mode"] == "transaction"
    assert pb["url"] == "postgresql://app_rw@127.0.0.1:%d/app" % pooled.pb_port
    assert {"clients_active", "clients_waiting", "servers_active", "servers_idle", "stats"} <= set(pb)
    r = pooled.get("/readyz?verbose")
    assert r.status == 200 and "[+]pgbouncer accepting connections on 127.0.0.1:%d" % pooled.pb_port in r.body
    metrics = pooled.get("/metrics").body
    assert re.search(r"^pgseed_pgbouncer_up 1$", metrics, re.M)
    assert re.search(r"^pgseed_pgbouncer_clients_waiting \d+$", metrics, re.M)
    assert re.search(r"^pgseed_pgbouncer_transactions_total [1-9]\d*$", metrics, re.M)
    promtool = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr

    d = os.path.join(pooled.state_dir, "pgbouncer")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for name in ("userlist.txt", "pgbouncer.ini"):
        assert stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) == 0o600
    with open(os.path.join(d, "pgbouncer.ini")) as f:
        ini = f.read()
    assert "pool_mode = transaction" in ini and "listen_addr = 127.0.0.1" in ini
    assert "listen_port = %d" % pooled.pb_port in ini
    # Passwords are in the userlist only, never in /health or the log.
    assert '"app_rw" "app_rw"' in open(os.path.join(d, "userlist.txt")).read()


def bench_during_resets(d, port, tmp_path, sslmode="prefer", ca=None):
    """pgbench (4 clients, 12 s) through the pooler on port while template and
    in-place resets alternate; checks that no transaction failed and every
    reset held the pooler's clients."""
    script = tmp_path / "bench.sql"
    script.write_text(BENCH)
    conninfo = "dbname=app sslmode=%s" % sslmode + (" sslrootcert=%s" % ca if ca else "")
    env = dict(os.environ, PGPASSWORD="app_rw")
    bench = subprocess.Popen(["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "app_rw", "-n",
                              "-c", "4", "-T", "12", "-f", str(script), conninfo],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    answers = []

    def reset_loop():
        time.sleep(1)
        while bench.poll() is None and len(answers) < 12:
            mode = "template" if len(answers) % 2 == 0 else "inplace"
            r = d.post("/reset?mode=%s" % mode, timeout=60)
            answers.append((mode, r.status, r.body))
            time.sleep(0.3)
    t = threading.Thread(target=reset_loop)
    t.start()
    out, _ = bench.communicate(timeout=60)
    t.join()
    assert bench.returncode == 0, out
    assert "number of failed transactions: 0 (0.000%)" in out, out
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    assert done > 100, out
    # Enough resets of each mode to matter even on a loaded machine or under ASan.
    assert len(answers) >= 4, answers
    assert all(status == 200 for _, status, _ in answers), answers
    assert {"template", "inplace"} == {m for m, _, _ in answers}
    # Each reset held the pooler's clients (PAUSE ... RESUME) and says for how long.
    assert all('"pgbouncer_paused_ms"' in body for _, _, body in answers), answers


def test_pgbench_through_resets_loses_nothing(pooled, tmp_path):
    bench_during_resets(pooled, pooled.pb_port, tmp_path)


def test_direct_clients_do_fail_without_the_pooler(pooled, tmp_path):
    """The baseline: the same load straight to Postgres is cut off by template resets."""
    script = tmp_path / "bench.sql"
    script.write_text(BENCH)
    env = dict(os.environ, PGPASSWORD="app_rw")
    bench = subprocess.Popen(["pgbench", "-h", "127.0.0.1", "-p", str(pooled.pg_port), "-U", "app_rw", "-n",
                              "-c", "2", "-T", "5", "-f", str(script), "app"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    for _ in range(3):
        assert pooled.post("/reset", timeout=60).status == 200
        time.sleep(0.3)
    out, _ = bench.communicate(timeout=60)
    assert bench.returncode != 0, out
    assert "terminating connection" in out or "aborted" in out, out


def test_kill9_is_restarted(pooled):
    pid = pooler_pid(pooled)
    os.kill(pid, signal.SIGKILL)
    pb = wait_for(lambda: (lambda p: p if p["up"] and p["pid"] not in (None, pid) else None)(
        pooled.health().json()["pgbouncer"]), 15)
    assert pb, pooled.health().body
    assert pb["restarts"] >= 1
    assert "killed by signal 9" in pooled.read_log()
    c = pooler_connect(pooled, user="app_ro", password="app_ro")
    try:
        with c.cursor() as cur:
            cur.execute("SELECT count(*) FROM users")
            assert cur.fetchone()[0] > 0
    finally:
        c.close()
    assert re.search(r"^pgseed_pgbouncer_restarts_total [1-9]", pooled.get("/metrics").body, re.M)


def test_stop_takes_pgbouncer_along(pooled):
    pid = pooler_pid(pooled)
    assert pooled.stop() == 0
    assert wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                    open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z", 10)


def test_pool_settings_are_applied(pgseedd):
    d = pgseedd(PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(free_port()),
                PGSEED_PGBOUNCER_POOL_MODE="session", PGSEED_PGBOUNCER_POOL_SIZE="3",
                PGSEED_PGBOUNCER_MAX_CLIENT_CONN="7")
    h = d.wait_healthy()
    pb = h["pgbouncer"]
    assert (pb["pool_mode"], pb["default_pool_size"], pb["max_client_conn"]) == ("session", 3, 7)
    with open(os.path.join(d.state_dir, "pgbouncer", "pgbouncer.ini")) as f:
        ini = f.read()
    assert "pool_mode = session" in ini and "default_pool_size = 3" in ini and "max_client_conn = 7" in ini


def test_missing_binary_is_a_clear_startup_error(pgseedd):
    d = pgseedd(PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(free_port()),
                PGSEED_PGBOUNCER_BIN="/nonexistent/pgbouncer")
    assert d.proc.wait(30) != 0
    assert "/nonexistent/pgbouncer is not an executable" in d.read_log()


def test_pgseedctl_start_prints_the_pooler(pgseedctl):
    port = free_port()
    ctl = pgseedctl(PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(port))
    r = ctl.run("start", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr + ctl.daemon_log()
    assert "  PgBouncer: postgresql://app_rw@127.0.0.1:%d/app (transaction pooling" % port in r.stdout, r.stdout
    assert "  Role app         postgresql://app_rw@127.0.0.1:" in r.stdout, r.stdout
    assert "(password: PGSEED_APP_PASSWORD, default app_rw)" in r.stdout, r.stdout
