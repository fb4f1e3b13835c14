# SPDX-License-Identifier: MIT
"""Access control against a real pgseedd: cross-site requests, DNS rebinding,
the API token, start-up refusals, and secrets kept out of /logs."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import PGSEEDD, Ctl, free_port, http, pidfile_pid, wait_for

TOKEN = "t0ken-for-tests_0123456789abcdef"

EVIL_ORIGINS = [
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
    "http://[::1].evil.example",
    "http://127.0.0.1@evil.example",
    "http://evil.example",
    "null",
]


def resets_total(d):
    body = d.get("/metrics").body
    return sum(int(v) for v in re.findall(r'^pgseed_resets_total\{[^}]*\} (\d+)$', body, re.M))


def marker_present(d):
    return d.sql("SELECT count(*) FROM videos WHERE video_id = 'security-marker'")[0][0] == 1


def put_marker(d):
    d.sql("INSERT INTO videos (video_id, title) VALUES ('security-marker', 'modified')")
    assert marker_present(d)


def error_code(r):
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status, r.headers, r.body)
    err = r.json()["error"]
    assert err["message"] and "hint" in err, err
    return err["code"]


def token_file(tmp_path, mode=0o600, content=TOKEN + "\n"):
    path = tmp_path / "token"
    path.write_text(content)
    os.chmod(path, mode)
    return str(path)


def raw_request(port, data, timeout=10):
    """Sends bytes as they are; returns (status, headers dict, body text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            text = b"".join(chunks)
            if b"\r\n\r\n" in text:
                head, _, body = text.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    text = b"".join(chunks).decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def wait_ready_with_token(d, timeout=120):
    """/health with the token (auth = all): 200 once ready."""
    def ok():
        if d.proc.poll() is not None:
            pytest.fail("pgseedd exited with %s:\n%s" % (d.proc.returncode, d.read_log()))
        try:
            return d.get("/health", headers={"Authorization": "Bearer " + TOKEN}, timeout=5).status == 200
        except OSError:
            return False
    assert wait_for(ok, timeout, 0.2), d.read_log()


# ---- cross-site requests ----------------------------------------------------

def test_cross_site_reset_refused_and_not_run(ready):
    put_marker(ready)
    before = resets_total(ready)
    for origin in EVIL_ORIGINS + ["http://localhost:%d" % (ready.api_port + 1),
                                  "https://localhost:%d" % ready.api_port,
                                  "http://localhost.:%d" % ready.api_port]:
        r = ready.post("/reset", headers={"Origin": origin})
        assert r.status == 403, (origin, r.status, r.body)
        assert error_code(r) == "cross_origin"
        assert "Access-Control-Allow-Origin" not in r.headers
    # The reset did not run: the modified row is still there, the counter unchanged.
    assert marker_present(ready)
    assert resets_total(ready) == before
    # The daemon's own origin may reset (so the test above can tell a reset that ran).
    own = "http://localhost:%d" % ready.api_port
    r = ready.post("/reset", headers={"Origin": own})
    assert r.status == 200, r.body
    assert r.headers.get("Access-Control-Allow-Origin") == own
    assert "Origin" in r.headers.get("Vary", "")
    assert not marker_present(ready)
    assert resets_total(ready) == before + 1


def test_cross_site_reads_refused_public_open(ready_shared):
    for path in ["/sample?table=users", "/schema", "/logs"]:
        r = ready_shared.get(path, headers={"Origin": "http://localhost.evil.example"})
        assert r.status == 403, (path, r.status)
        assert error_code(r) == "cross_origin"
    for path in ["/health", "/metrics"]:
        r = ready_shared.get(path, headers={"Origin": "http://evil.example"})
        assert r.status == 200
        assert r.headers.get("Access-Control-Allow-Origin") == "*"
    r = ready_shared.get("/sample?table=users", headers={"Origin": "http://127.0.0.1:%d" % ready_shared.api_port})
    assert r.status == 200
    assert r.headers.get("Access-Control-Allow-Origin") == "http://127.0.0.1:%d" % ready_shared.api_port


def test_preflight_only_for_allowed_origins(ready_shared):
    own = "http://[::1]:%d" % ready_shared.api_port
    r = http("OPTIONS", ready_shared.url + "/reset",
             headers={"Origin": own, "Access-Control-Request-Method": "POST",
                      "Access-Control-Request-Headers": "authorization"})
    assert r.status == 204
    assert r.headers.get("Access-Control-Allow-Origin") == own
    assert "POST" in r.headers.get("Access-Control-Allow-Methods", "")
    assert "Authorization" in r.headers.get("Access-Control-Allow-Headers", "")
    for origin in EVIL_ORIGINS:
        r = http("OPTIONS", ready_shared.url + "/reset",
                 headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert r.status == 403, (origin, r.status)
        assert error_code(r) == "cross_origin"
        assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_origin_allow_list(pgseedd):
    d = pgseedd(PGSEED_CORS_ORIGIN="http://localhost:8080, https://dash.example")
    d.wait_healthy()
    r = d.get("/sample?table=videos", headers={"Origin": "https://dash.example"})
    assert r.status == 200 and r.headers.get("Access-Control-Allow-Origin") == "https://dash.example"
    assert d.get("/sample?table=videos", headers={"Origin": "http://dash.example"}).status == 403
    assert d.get("/sample?table=videos", headers={"Origin": "https://dash.example.evil"}).status == 403
    assert d.post("/reset", headers={"Origin": "http://localhost:8080"}).status == 200


def test_bad_cors_origin_exits_2(pgseedd):
    d = pgseedd(start=False, PGSEED_CORS_ORIGIN="http://localhost:8080/")
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "cors_origin" in out.stderr


# ---- DNS rebinding ----------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:%(port)d", "localhost.evil.example:%(port)d",
                                  "127.0.0.1.nip.io:%(port)d", "localhost.:%(port)d"])
def test_dns_rebinding_host_refused(ready_shared, host):
    host = host % {"port": ready_shared.api_port}
    for path in ["/sample?table=users", "/schema", "/logs", "/health", "/reset"]:
        r = http("POST" if path == "/reset" else "GET", ready_shared.url + path, headers={"Host": host})
        assert r.status in (421, 403), (path, host, r.status, r.body)
        assert error_code(r) == "host_not_allowed"
        assert "PGSEED_ALLOWED_HOSTS" in r.json()["error"]["hint"]
        assert "channel_id" not in r.body


def test_loopback_hosts_served(ready_shared):
    for host in ["127.0.0.1:%d" % ready_shared.api_port, "localhost:%d" % ready_shared.api_port, "LOCALHOST",
                 "[::1]:%d" % ready_shared.api_port, "127.0.0.1"]:
        r = http("GET", ready_shared.url + "/sample?table=users", headers={"Host": host})
        assert r.status == 200, (host, r.status, r.body)


def test_missing_host_http11_is_400(ready_shared):
    status, headers, body = raw_request(ready_shared.api_port, b"GET /sample?table=users HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == 400
    assert headers.get("content-type", "").startswith("application/json")
    assert json.loads(body)["error"]["code"] == "missing_host"
    status, _, body = raw_request(ready_shared.api_port, b"GET /health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert status == 421 and json.loads(body)["error"]["code"] == "host_not_allowed"
    # Two Host headers: the second one must not win behind a proxy that looked at the first.
    status, _, body = raw_request(ready_shared.api_port, b"GET /sample?table=users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                  b"Host: evil.example\r\nConnection: close\r\n\r\n")
    assert status == 400 and json.loads(body)["error"]["code"] in ("invalid_host", "missing_host", "bad_request")


# ---- the token ----------------------------------------------------------------

@pytest.fixture
def tokened(pgseedd, tmp_path):
    d = pgseedd(PGSEED_TOKEN_FILE=token_file(tmp_path), PGSEED_ALLOWED_HOSTS="pgseed.test")
    d.wait_healthy()
    return d


def test_token_required_for_reset(tokened):
    d = tokened
    put_marker(d)
    r = d.post("/reset")
    assert r.status == 401
    assert error_code(r) == "unauthorized"
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert 'realm="pgseed"' in r.headers["WWW-Authenticate"]
    for wrong in ["Bearer " + TOKEN + "x", "Bearer " + TOKEN[:-1], "Basic " + TOKEN, TOKEN, "Bearer"]:
        r = d.post("/reset", headers={"Authorization": wrong})
        assert r.status == 401, wrong
        assert "WWW-Authenticate" in r.headers
    assert marker_present(d)
    r = d.post("/reset", headers={"Authorization": "Bearer " + TOKEN})
    assert r.status == 200, r.body
    assert not marker_present(d)
    # auth = mutating: reads stay open; allowed_hosts names are served.
    assert d.get("/sample?table=users").status == 200
    assert d.get("/health").status == 200
    assert http("GET", d.url + "/schema", headers={"Host": "pgseed.test:%d" % d.api_port}).status == 200
    assert http("GET", d.url + "/schema", headers={"Host": "pgseed.test.evil"}).status == 421


def test_auth_all_protects_reads(pgseedd, tmp_path):
    """auth = all: every endpoint, /health and /metrics included, needs the token; CORS
    preflights do not (browsers cannot send credentials with them), nor the page's shell and
    assets, which hold no data (test_page.py shows the page asking for the token)."""
    d = pgseedd(PGSEED_TOKEN_FILE=token_file(tmp_path), PGSEED_API_AUTH="all")
    wait_ready_with_token(d)
    auth = {"Authorization": "Bearer " + TOKEN}
    for path in ["/sample?table=users", "/schema", "/logs", "/health", "/metrics", "/openapi.json",
                 "/readyz", "/livez"]:
        r = d.get(path)
        assert r.status == 401, (path, r.status)
        assert error_code(r) == "unauthorized"
        assert "WWW-Authenticate" in r.headers
        assert d.get(path, headers=auth).status == 200, path
    for path in ["/", "/ui.js", "/ui.css"]:
        assert d.get(path, headers={"Accept": "text/html"}).status == 200, path
    r = http("OPTIONS", d.url + "/sample", headers={"Origin": "http://localhost:%d" % d.api_port,
                                                    "Access-Control-Request-Method": "GET"})
    assert r.status == 204


def test_world_readable_token_file_refused(pgseedd, tmp_path):
    d = pgseedd(start=False, PGSEED_TOKEN_FILE=token_file(tmp_path, 0o644))
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "chmod 600" in out.stderr
    assert "0644" in out.stderr
    # It refused before touching anything: no Postgres was started.
    assert not d.postgres_pids()


def test_empty_token_file_refused(pgseedd, tmp_path):
    d = pgseedd(start=False, PGSEED_TOKEN_FILE=token_file(tmp_path, 0o600, "\n"))
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "empty" in out.stderr


def test_remote_listen_without_token_refused(pgseedd, tmp_path):
    d = pgseedd(start=False, PGSEED_LISTEN="0.0.0.0:%d" % free_port())
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "PGSEED_TOKEN_FILE" in out.stderr
    assert "0.0.0.0" in out.stderr
    # The override starts it, loudly.
    d.env["PGSEED_ALLOW_INSECURE_REMOTE"] = "1"
    d.start()
    assert wait_for(lambda: "insecure_listen" in d.read_log() or d.proc.poll() is not None, 30)
    assert d.proc.poll() is None, d.read_log()
    assert re.search(r"level=warning.*insecure_listen", d.read_log()), d.read_log()


def test_pgseedctl_sends_token(tokened):
    ctl = Ctl(tokened)
    env_file = ctl.env.pop("PGSEED_TOKEN_FILE")
    # No token anywhere: a clear refusal, exit 1.
    out = ctl.run("reset", "--yes", timeout=60)
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("pgseedctl: ") and "token" in lines[0], out.stderr
    assert "PGSEED_TOKEN" in out.stderr
    # A wrong token says so.
    out = ctl.run("reset", "--yes", env={"PGSEED_TOKEN": "nope"}, timeout=60)
    assert out.returncode == 1 and "refused" in out.stderr, out.stderr
    # PGSEED_TOKEN works, and so does the token file.
    put_marker(tokened)
    out = ctl.run("reset", "--yes", env={"PGSEED_TOKEN": TOKEN}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not marker_present(tokened)
    out = ctl.run("reset", "--yes", env={"PGSEED_TOKEN_FILE": env_file}, timeout=120)
    assert out.returncode == 0, out.stderr


# ---- secrets ------------------------------------------------------------------

def test_password_never_in_logs(ready):
    env = dict(os.environ, PGPASSWORD="app")
    statements = [
        "ALTER ROLE nosuchrole PASSWORD 'sekrit1'",
        "ALTER ROLE nosuchrole WITH ENCRYPTED PASSWORD E'sekrit2'",
        "alter role nosuchrole password $$sekrit3$$",
        "ALTER ROLE nosuchrole\n  PASSWORD\n  'sekrit4'",
        "SELECT 'host=127.0.0.1 password=sekrit5' FROM nosuchrole_table",
    ]
    for st in statements:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(ready.pg_port), "-U", "app", "-d", "app",
                              "-c", st], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode != 0, out.stdout  # it failed, so the server logged it
    # The server wrote the statements to its log (otherwise this test could not fail) ...
    def logged():
        r = ready.get("/logs?tail=all")
        return r if r.body.count("nosuchrole") >= 4 else None

    r = wait_for(logged, 15, 0.3)
    assert r, ready.get("/logs?tail=200").body
    # ... and /logs served it redacted, in text and JSON.
    j = ready.get("/logs?tail=all&format=json")
    for body in (r.body, j.body):
        assert "sekrit" not in body, [l for l in body.splitlines() if "sekrit" in l]
    assert "PASSWORD '********'" in r.body
    assert "password=********" in r.body


def test_configured_password_never_leaves(pgseedd):
    pw = "Pw-" + os.urandom(6).hex()
    d = pgseedd(PGSEED_PG_PASSWORD=pw)
    d.wait_healthy()
    bodies = [d.get(p).body for p in ["/health", "/", "/metrics", "/schema", "/logs?tail=all",
                                      "/sample?table=users", "/nowhere"]]
    bodies.append(d.post("/reset").body)
    for b in bodies:
        assert pw not in b
    assert pw not in d.read_log()
    # Nor in the postmaster's environment (pgseedd's own has it: the test can tell).
    with open("/proc/%d/environ" % d.proc.pid, "rb") as f:
        assert pw.encode() in f.read()
    read = 0
    for pid in d.postgres_pids():
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                assert pw.encode() not in f.read(), pid
            read += 1
        except (FileNotFoundError, ProcessLookupError):
            pass  # a backend that ended meanwhile
    assert read >= 1  # the postmaster at least


def test_sighup_reloads_access_policy(pgseedd, tmp_path):
    conf = tmp_path / "pgseedd.conf"
    conf.write_text("[api]\n")
    d = pgseedd(PGSEED_CONFIG=str(conf))
    d.wait_healthy()
    assert http("GET", d.url + "/schema", headers={"Host": "new.test"}).status == 421
    conf.write_text("[api]\ntoken_file = %s\nallowed_hosts = new.test\n" % token_file(tmp_path))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: d.post("/reset").status == 401, 10), d.read_log()
    assert http("GET", d.url + "/schema", headers={"Host": "new.test"}).status == 200
    assert d.post("/reset", headers={"Authorization": "Bearer " + TOKEN}).status == 200
    # A broken file keeps the policy in force, and the daemon running.
    conf.write_text("[api]\ncors_origin = not-an-origin\n")
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "Failed to reload" in d.read_log(), 10), d.read_log()
    assert d.proc.poll() is None
    assert d.post("/reset").status == 401


def test_socket_activated_remote_address_without_token_refused(pgseedd):
    """A socket systemd passes is checked like api.listen: non-loopback needs a token."""
    d = pgseedd(start=False)
    port = free_port()
    # systemd-socket-activate hands its child only LISTEN_* and what -E names: without them the child
    # would run on the defaults, i.e. the user's default instance (`make start` before `make test`).
    passed = []
    for k in sorted(d.env):
        if k.startswith("PGSEED_") or k.startswith("ASAN_") or k.startswith("UBSAN_") or k == "PATH":
            passed += ["-E", "%s=%s" % (k, d.env[k])]
    proc = subprocess.Popen(["systemd-socket-activate", "-l", "0.0.0.0:%d" % port] + passed + [PGSEEDD], env=d.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # systemd-socket-activate starts pgseedd on the first connection (over loopback).
        def poke():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return True
            except OSError:
                return False
        assert wait_for(poke, 10)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, out
    assert "PGSEED_TOKEN_FILE" in out and "0.0.0.0" in out
    assert not d.postgres_pids()


def test_pgseedctl_keeps_the_token_from_the_daemon_it_starts(pgseedctl, tmp_path):
    ctl = pgseedctl(PGSEED_TOKEN_FILE=token_file(tmp_path))
    out = ctl.run("start", env={"PGSEED_TOKEN": TOKEN}, timeout=180)
    assert out.returncode == 0, (out.stdout, out.stderr, ctl.daemon_log())
    pid = pidfile_pid(ctl.daemon.state_dir)
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read().split(b"\0")
    assert not [v for v in env if v.startswith(b"PGSEED_TOKEN=")]
    assert TOKEN.encode() not in b"\0".join(env)
    # ... and still uses it.
    out = ctl.run("reset", "--yes", env={"PGSEED_TOKEN": TOKEN, "PGSEED_TOKEN_FILE": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
