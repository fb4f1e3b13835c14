# SPDX-License-Identifier: MIT
"""pgseedd on the embedded runtime: health transitions, crash recovery,
shutdown, port conflicts and the API's error shapes."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import PGSEEDD, free_port, http, pidfile_pid, wait_for



def status_of(d):
    try:
        return d.get("/health", timeout=5).status
    except OSError:
        return None


def test_health_goes_from_503_to_200(pgseedd):
    d = pgseedd()
    seen = []
    ok = wait_for(lambda: seen.append(status_of(d)) or seen[-1] == 200, 120)
    assert ok, "never healthy; statuses seen: %s\n%s" % (seen[-20:], d.read_log())
    assert 503 in seen, "expected 503 while starting, saw %s" % sorted(set(seen), key=str)
    body = d.health().json()
    assert body["status"] == "ready"
    for key in ("reason", "runtime", "database", "postgres_version", "uptime_s", "checked_at"):
        assert key in body, key
    assert body["runtime"] == "embedded"
    assert body["database"] == {"host": "127.0.0.1", "port": d.pg_port, "name": "app", "user": "app",
                                "url": "postgresql://app@127.0.0.1:%d/app" % d.pg_port}
    assert "password" not in json.dumps(body)
    assert body["postgres_version"].startswith("1")


def test_head_health_has_no_body(ready_shared):
    r = http("HEAD", ready_shared.url + "/health")
    assert r.status == 200
    assert r.body == ""


def test_kill_9_postgres_recovers_within_15s(ready):
    pids = ready.postgres_pids()
    postmaster = int(open(os.path.join(ready.state_dir, "pgdata", "postmaster.pid")).readline())
    assert postmaster in pids
    os.kill(postmaster, signal.SIGKILL)
    t0 = time.time()
    down = wait_for(lambda: status_of(ready) == 503 and ready.health().json(), 10, 0.05)
    assert down, "never reported the crash"
    assert down["status"] in ("down", "starting", "degraded", "seeding")
    assert wait_for(lambda: status_of(ready) == 200, 15), "not healthy again within 15 s:\n" + ready.read_log()
    assert time.time() - t0 < 15
    body = ready.health().json()
    assert body["restarts"] >= 1
    # The data survived the crash.
    assert ready.sql("SELECT 1") == [(1,)]


def test_crash_reason_is_reported(ready):
    postmaster = int(open(os.path.join(ready.state_dir, "pgdata", "postmaster.pid")).readline())
    os.kill(postmaster, signal.SIGKILL)
    reasons = []

    def saw_reason():
        r = ready.get("/health", timeout=5)
        if r.status == 503:
            reasons.append(r.json()["reason"])
        return any("signal 9" in x for x in reasons)

    assert wait_for(saw_reason, 10, 0.02), reasons


def test_sigterm_exits_0_without_leftover_postgres(ready):
    assert ready.postgres_pids()
    ready.proc.send_signal(signal.SIGTERM)
    assert ready.proc.wait(60) == 0
    assert wait_for(lambda: not ready.postgres_pids(), 10), ready.postgres_pids()
    assert not os.path.exists(os.path.join(ready.state_dir, "pgseedd.pid"))


def test_sigint_also_stops_cleanly(ready):
    ready.proc.send_signal(signal.SIGINT)
    assert ready.proc.wait(60) == 0
    assert wait_for(lambda: not ready.postgres_pids(), 10)


def test_second_instance_on_same_api_port_fails_clearly(ready, pgseedd):
    second = pgseedd(start=False, PGSEED_LISTEN="127.0.0.1:%d" % ready.api_port)
    out = subprocess.run([PGSEEDD], env=second.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert str(ready.api_port) in out.stderr
    assert "ss -ltnp" in out.stderr
    # The first one is unharmed.
    assert ready.health().status == 200
    assert not second.postgres_pids()


def test_taken_postgres_port_fails_clearly(pgseedd):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        d = pgseedd(start=False, PGSEED_PG_PORT=port)
        out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert "Port %d" % port in out.stderr
        assert "ss -ltnp" in out.stderr
        assert "PGSEED_PG_PORT" in out.stderr
    finally:
        holder.close()


def test_second_instance_on_same_state_dir_refused(ready, pgseedd):
    other = pgseedd(start=False, state_dir=ready.state_dir)
    out = subprocess.run([PGSEEDD], env=other.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "Another pgseedd" in out.stderr
    assert ready.health().status == 200


def test_unknown_path_is_404_json(ready_shared):
    r = ready_shared.get("/nope")
    assert r.status == 404
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert "/nope" in err["message"]
    assert err["hint"]


def test_wrong_method_is_405_with_allow(ready_shared):
    r = http("DELETE", ready_shared.url + "/health")
    assert r.status == 405
    assert "GET" in r.headers["Allow"]
    assert r.json()["error"]["code"] == "method_not_allowed"
    r = ready_shared.get("/reset")
    assert r.status == 405
    assert "POST" in r.headers["Allow"]
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_unknown_parameter_is_400(ready_shared):
    r = ready_shared.get("/health?verbose=1")
    assert r.status == 400
    assert "verbose" in r.json()["error"]["message"]


def test_health_flood_opens_no_connections(ready):
    def backends():
        rows = ready.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgseedd-probe'")
        return rows[0][0]

    before = backends()
    for _ in range(300):
        assert ready.get("/health").status == 200
    after = backends()
    assert before <= 1 and after <= 1, (before, after)


def test_health_is_refreshed_every_second(ready):
    a = ready.health().json()["checked_at"]
    time.sleep(2.2)
    b = ready.health().json()["checked_at"]
    assert a != b


@pytest.mark.parametrize("env,needle", [
    ({"PGSEED_PG_PORT": "99999"}, "PGSEED_PG_PORT"),
    ({"PGSEED_RUNTIME": "kubernetes"}, "runtime"),
    ({"PGSEED_LISTEN": "nowhere"}, "listen"),
])
def test_bad_config_exits_2(pgseedd, env, needle):
    d = pgseedd(start=False, **env)
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert needle in out.stderr


def test_missing_config_file_exits_2(pgseedd, tmp_path):
    d = pgseedd(start=False)
    out = subprocess.run([PGSEEDD, "--config", str(tmp_path / "none.conf")], env=d.env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2
    assert "none.conf" in out.stderr


def test_print_config_masks_password(pgseedd):
    d = pgseedd(start=False, PGSEED_PG_PASSWORD="topsecret")
    out = subprocess.run([PGSEEDD, "--print-config"], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "topsecret" not in out.stdout
    assert "********" in out.stdout
    assert str(d.pg_port) in out.stdout
    j = subprocess.run([PGSEEDD, "--print-config=json"], env=d.env, capture_output=True, text=True, timeout=30)
    cfg = json.loads(j.stdout)
    assert cfg["postgres.port"] == d.pg_port
    assert cfg["postgres.password"] == "********"


def test_sd_notify_ready_and_status(pgseedd, tmp_path):
    """Under systemd (NOTIFY_SOCKET set), pgseedd says READY=1 once healthy and STATUS= on changes."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    try:
        d = pgseedd(NOTIFY_SOCKET=path)
        messages = []
        deadline = time.time() + 60
        while time.time() < deadline and not any("READY=1" in m for m in messages):
            try:
                messages.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        assert any("READY=1" in m for m in messages), messages
        assert any(m.startswith("STATUS=starting") for m in messages), messages
        assert any(m.startswith("STATUS=ready") for m in messages), messages
        # READY=1 comes with the database healthy, not before.
        assert d.health().status == 200
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(60) == 0
        rest = []
        try:
            while True:
                rest.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert any("STOPPING=1" in m for m in rest), rest
    finally:
        sock.close()


def test_socket_activation(pgseedd):
    """systemd-socket-activate binds the API port and hands it over; pgseedd serves on it."""
    port = free_port()
    d = pgseedd(start=False)
    d.url = "http://127.0.0.1:%d" % port
    # systemd-socket-activate hands its child only LISTEN_* and what -E names, not its own environment:
    # without these the daemon would run on the defaults (the user's default instance, its ports and
    # state directory).
    passed = []
    for k in sorted(d.env):
        if k.startswith("PGSEED_"):
            passed += ["-E", "%s=%s" % (k, d.env[k])]
    d.proc = subprocess.Popen(["systemd-socket-activate", "-l", "127.0.0.1:%d" % port] + passed + [PGSEEDD],
                              env=d.env, stdout=open(d.log_path, "ab"), stderr=subprocess.STDOUT)
    body = d.wait_healthy()
    assert body["status"] == "ready"
    # It runs on the test's own state directory and Postgres port, never the default instance's.
    assert pidfile_pid(d.state_dir) == d.proc.pid
    assert d.sql("SELECT current_setting('port')")[0][0] == str(d.pg_port)
    # The configured address was not used: the passed socket was.
    assert wait_for(lambda: status_of(d) == 200, 5)
    with pytest.raises(OSError):
        http("GET", "http://%s/health" % d.env["PGSEED_LISTEN"], timeout=2)


def test_metrics_for_prometheus(ready):
    ready.sql('CREATE TABLE "we""ird\\name" (x int)')
    ready.sql('INSERT INTO "we""ird\\name" VALUES (1), (2)')

    def scraped():
        r = ready.get("/metrics")
        return r if 'table="we\\"ird\\\\name"} 2' in r.body else None

    r = wait_for(scraped, 15, 0.5)
    assert r, ready.get("/metrics").body
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "pgseed_up 1" in r.body
    assert 'pgseed_table_rows{schema="public",table="comments"} 2000' in r.body
    assert 'pgseed_state{state="ready"} 1' in r.body
    for line in r.body.splitlines():
        assert line.startswith("#") or " " in line, line


def test_cors_health_open_data_closed(ready, pgseedd):
    assert ready.get("/health").headers.get("Access-Control-Allow-Origin") == "*"
    assert ready.get("/metrics").headers.get("Access-Control-Allow-Origin") == "*"
    assert "Access-Control-Allow-Origin" not in ready.get("/sample?table=videos").headers
    # A page on another origin cannot trigger a reset.
    r = ready.post("/reset", headers={"Origin": "http://evil.example"})
    assert r.status == 403 and r.json()["error"]["code"] == "cross_origin"
    d = pgseedd(PGSEED_CORS_ORIGIN="http://localhost:8080")
    d.wait_healthy()
    # The allowed origin is echoed to that origin (with Vary: Origin), not sent to everyone.
    r = d.get("/sample?table=videos", headers={"Origin": "http://localhost:8080"})
    assert r.headers.get("Access-Control-Allow-Origin") == "http://localhost:8080"
    assert "Access-Control-Allow-Origin" not in d.get("/sample?table=videos").headers
    assert d.post("/reset", headers={"Origin": "http://localhost:8080"}).status == 200
