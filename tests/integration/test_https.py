# SPDX-License-Identifier: MIT
"""The API over HTTPS ([api] tls, tls_cert, tls_key): curl and pgseedctl verify
pgseedd's certificate, a wrong CA fails, and the event loop's rules hold over
TLS: plain HTTP to the TLS port is answered, not hung; handshakes that stall
are closed on time and never delay another client; pipelining, protocol
errors and slow clients behave as over plain HTTP."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import PGSEEDCTL, PGSEEDD, Daemon, free_port, wait_for
from test_http_limits import CASES, HOST, fd_count, open_idle, raise_nofile, read_reply

# A probe here includes a TLS handshake (an ECDSA P-256 signature), the plain-HTTP budget's 100 ms and more.
PROBE_BUDGET_S = 0.25
HEAD_TIMEOUT_S = 5  # http-server.c: a handshake and the first head must be complete within it


def clean_env(**overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_") or k == "PGSEED_BUILD_DIR"}
    env.update({"PGSEED_RUNTIME": "embedded", "PGSEED_COMMENTS": "2000", "PGSEED_CONFIG": "/dev/null"})
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def daemon(pgseedd_module):
    """One healthy daemon serving HTTPS with the certificate it generates ([api] tls = on)."""
    d = pgseedd_module(start=False, PGSEED_API_TLS="on")
    d.url = "https://127.0.0.1:%d" % d.api_port
    d.ca = os.path.join(d.state_dir, "tls", "ca.crt")
    d.start()
    # Daemon.wait_healthy() speaks plain HTTP; wait with a TLS client instead.
    ok = wait_for(lambda: d.proc.poll() is not None or health_status(d) == 200, 120, 0.2)
    assert ok and d.proc.poll() is None, "not healthy over HTTPS:\n" + d.read_log()
    return d


def tls_context(d):
    ctx = ssl.create_default_context(cafile=d.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_connect(d, timeout=10):
    raw = socket.create_connection(("127.0.0.1", d.api_port), timeout=timeout)
    s = tls_context(d).wrap_socket(raw, server_hostname="127.0.0.1")
    s.settimeout(timeout)
    return s


def health_status(d):
    try:
        with tls_connect(d, timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
            return read_reply(s)[0].status
    except (OSError, ConnectionError):
        return None


def probe(d):
    """GET /health over a fresh TLS connection (handshake included); returns (status, seconds)."""
    t0 = time.monotonic()
    with tls_connect(d, timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
        r = read_reply(s)[0]
    return r.status, time.monotonic() - t0


def tls_exchange(d, data):
    with tls_connect(d) as s:
        s.sendall(data)
        return read_reply(s)[0]


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True, text=True,
                          timeout=30)


def make_ca(directory):
    """Another CA (key and certificate in directory) and a server certificate it signs for 127.0.0.1."""
    def run(*argv):
        subprocess.run(["openssl"] + list(argv), check=True, capture_output=True, cwd=directory, timeout=60)

    run("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=another CA")
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(directory, "ext"), "w") as f:
        f.write("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext")
    os.chmod(os.path.join(directory, "server.key"), 0o600)
    return {name: os.path.join(directory, name) for name in ("ca.crt", "server.crt", "server.key")}


@pytest.fixture
def other_ca():
    d = tempfile.mkdtemp(prefix="pgseed-test-ca-", dir="/tmp")
    try:
        yield make_ca(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- verification ------------------------------------------------------------------

def test_curl_health_with_the_generated_ca(daemon):
    r = curl("--cacert", daemon.ca, daemon.url + "/health")
    assert r.returncode == 0, r.stderr
    assert '"status": "ready"' in r.stdout
    # The certificate names localhost too.
    r = curl("--cacert", daemon.ca, "https://localhost:%d/health" % daemon.api_port)
    assert r.returncode == 0, r.stderr


def test_wrong_ca_or_none_fails_verification(daemon, other_ca):
    r = curl("--cacert", other_ca["ca.crt"], daemon.url + "/health")
    assert r.returncode == 60, (r.returncode, r.stderr)  # CURLE_PEER_FAILED_VERIFICATION
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", daemon.api_port), timeout=5) as raw:
            ssl.create_default_context(cafile=other_ca["ca.crt"]).wrap_socket(raw, server_hostname="127.0.0.1")
    assert probe(daemon)[0] == 200


def test_tls_1_1_is_refused(daemon):
    r = curl("--cacert", daemon.ca, "--tlsv1.0", "--tls-max", "1.1", daemon.url + "/health")
    assert r.returncode == 35, (r.returncode, r.stderr)  # CURLE_SSL_CONNECT_ERROR: protocol version
    with tls_connect(daemon) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


# -- plain HTTP on the TLS port ----------------------------------------------------

def test_plain_http_gets_a_clear_400_and_others_are_served(daemon):
    # A plain client that sends half a request line and waits holds nothing up.
    stuck = socket.create_connection(("127.0.0.1", daemon.api_port), timeout=10)
    try:
        stuck.sendall(b"GET /he")
        with socket.create_connection(("127.0.0.1", daemon.api_port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n")
            r, _ = read_reply(s)
            assert r.status == 400, r.body
            err = r.json()["error"]
            assert err["code"] == "https_required" and "https://" in err["hint"], err
            assert r.headers.get("connection") == "close"
            assert s.recv(100) == b""  # closed after the reply, not left hanging
        status, took = probe(daemon)
        assert status == 200 and took < PROBE_BUDGET_S, took
        # The stuck one was answered too (its first byte says it is not TLS).
        r, _ = read_reply(stuck)
        assert r.status == 400 and r.json()["error"]["code"] == "https_required"
    finally:
        stuck.close()
    r = curl(daemon.url.replace("https://", "http://") + "/health")
    assert r.returncode == 22 or '"https_required"' in r.stdout, (r.returncode, r.stdout, r.stderr)


# -- handshakes that never finish ----------------------------------------------------

# The first 11 bytes of a ClientHello: a handshake record that announces 512 bytes and never sends them.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


def test_stalled_handshakes_do_not_block_and_are_closed_on_time(daemon):
    pid = daemon.proc.pid
    baseline = fd_count(pid)
    silent = [socket.create_connection(("127.0.0.1", daemon.api_port), timeout=15) for _ in range(20)]
    partial = [socket.create_connection(("127.0.0.1", daemon.api_port), timeout=15) for _ in range(20)]
    # A handshake done, then no request: the first head's deadline still runs from the accept.
    done = [tls_connect(daemon, timeout=15) for _ in range(5)]
    t0 = time.monotonic()
    try:
        for s in partial:
            s.sendall(PARTIAL_HELLO)
        took = []
        while time.monotonic() - t0 < HEAD_TIMEOUT_S - 1.5:
            status, t = probe(daemon)
            assert status == 200
            took.append(t)
            time.sleep(0.1)
        assert max(took) < PROBE_BUDGET_S, took
        for s in silent + partial:
            assert s.recv(100) == b"", "the server sent something to an unfinished handshake"
        for s in done:
            assert s.recv(100) == b""
        elapsed = time.monotonic() - t0
        assert HEAD_TIMEOUT_S - 1 <= elapsed <= HEAD_TIMEOUT_S + 3, elapsed
        assert wait_for(lambda: fd_count(pid) <= baseline + 5, 5), (fd_count(pid), baseline)
    finally:
        for s in silent + partial + done:
            s.close()
    assert probe(daemon)[0] == 200


def test_garbage_handshake_is_closed_at_once(daemon):
    with socket.create_connection(("127.0.0.1", daemon.api_port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 100)
        t0 = time.monotonic()
        try:
            data = s.recv(1000)
            # At most a TLS alert (record type 21), then the close.
            while data:
                assert data[0] == 0x15, data[:20]
                data = s.recv(1000)
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 2
    assert probe(daemon)[0] == 200


# -- the HTTP server's rules over TLS --------------------------------------------------

def test_keep_alive_and_pipelining_over_tls(daemon):
    with tls_connect(daemon) as s:
        buf = b""
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n")
            r, buf = read_reply(s, buf)
            assert r.status == 200 and "connection" not in r.headers
        # Twenty pipelined in one write: beyond the loop's inline budget of 16 probes per event, and
        # partly held in OpenSSL's buffer where epoll cannot see them.
        s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n" + b"GET /metrics HTTP/1.1\r\n" + HOST
                  + b"\r\n" + b"GET /nope HTTP/1.1\r\n" + HOST + b"\r\n"
                  + (b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n") * 16
                  + b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
        replies = []
        for _ in range(20):
            r, buf = read_reply(s, buf)
            replies.append(r)
        assert [r.status for r in replies] == [200, 200, 404] + [200] * 17
        assert b"pgseed_up 1" in replies[1].body
        assert replies[2].json()["error"]["code"] == "not_found"
        assert replies[-1].headers.get("connection") == "close"
        assert s.recv(100) == b""


PROTOCOL_CASES = [c for c in CASES if c[0] in ("headers_40k", "no_version", "body_10mb", "http11_without_host",
                                                "bare_cr", "params_3000")]


@pytest.mark.parametrize("name,data,status,code", PROTOCOL_CASES, ids=[c[0] for c in PROTOCOL_CASES])
def test_protocol_errors_are_json_over_tls(daemon, name, data, status, code):
    r = tls_exchange(daemon, data)
    assert r.status == status, r.body[:300]
    assert r.json()["error"]["code"] == code
    assert r.headers.get("connection") == "close"
    assert probe(daemon)[0] == 200


def test_slow_head_over_tls_gets_408(daemon):
    with tls_connect(daemon) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        r, _ = read_reply(s)
        assert r.status == 408 and r.json()["error"]["code"] == "request_timeout"
        assert time.monotonic() - t0 < HEAD_TIMEOUT_S + 2


def test_big_replies_to_a_slow_reader(daemon):
    """More reply than the socket buffers hold (80 pipelined /openapi.json, 5 MB), read slowly: the loop's
    TLS writes would block and must wait for the socket, serving others meanwhile."""
    n = 80
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", daemon.api_port))
    with tls_context(daemon).wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall((b"GET /openapi.json HTTP/1.1\r\n" + HOST + b"\r\n") * (n - 1)
                  + b"GET /openapi.json HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
        time.sleep(1)
        status, took = probe(daemon)
        assert status == 200 and took < PROBE_BUDGET_S, took
        buf, bodies = b"", []
        for _ in range(n):
            r, buf = read_reply(s, buf)
            assert r.status == 200
            bodies.append(r.body)
        assert s.recv(100) == b""
    assert len(bodies[0]) > 50_000 and b'"openapi"' in bodies[0][:200]
    assert all(b == bodies[0] for b in bodies)
    # The same bytes as a fast reader gets.
    assert tls_exchange(daemon, b"GET /openapi.json HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n").body == bodies[0]


class TlsSlowloris(threading.Thread):
    """n TLS clients that each send one header line every `every` seconds and never finish the head."""

    def __init__(self, d, n, every=1.0):
        super().__init__(daemon=True)
        self.d, self.n, self.every = d, n, every
        self.stop = threading.Event()
        self.socks = []
        self.closed = 0

    def run(self):
        for _ in range(self.n):
            s = tls_connect(self.d, timeout=10)
            s.sendall(b"GET /health HTTP/1.1\r\n" + HOST)
            self.socks.append(s)
        i = 0
        while not self.stop.wait(self.every):
            i += 1
            for s in self.socks:
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % i)
                except OSError:
                    self.closed += 1

    def close(self):
        self.stop.set()
        self.join(10)
        for s in self.socks:
            s.close()


def test_tls_slowloris_and_idle_flood_do_not_stop_health(daemon):
    assert raise_nofile() >= 2000, "the test needs 2000 descriptors (ulimit -Hn)"
    slow = TlsSlowloris(daemon, 100)
    idle = []
    slow.start()
    try:
        open_idle(daemon, 1000, idle)
        took = []
        t_end = time.monotonic() + 4
        while time.monotonic() < t_end:
            status, t = probe(daemon)
            assert status == 200
            took.append(t)
            time.sleep(0.1)
        assert len(took) >= 10
        assert max(took) < PROBE_BUDGET_S, took
        # The slow heads get their 408 at the head timeout, whatever they still send.
        assert wait_for(lambda: slow.closed > 0, HEAD_TIMEOUT_S + 5), "no slow TLS client was cut off"
    finally:
        slow.close()
        for s in idle:
            s.close()
    assert probe(daemon)[0] == 200


def test_own_https_origin_is_the_daemons(daemon):
    origin = "https://127.0.0.1:%d" % daemon.api_port
    r = tls_exchange(daemon, b"GET /schema HTTP/1.1\r\n" + HOST + b"Origin: " + origin.encode()
                     + b"\r\nConnection: close\r\n\r\n")
    assert r.status == 200, r.body[:300]
    assert r.headers.get("access-control-allow-origin") == origin, r.headers


# -- configuration -----------------------------------------------------------------------

def run_pgseedd(env, *args):
    return subprocess.run([PGSEEDD] + list(args), env=env, capture_output=True, text=True, timeout=60)


def test_print_config_shows_the_https_url(tmp_path):
    port = free_port()
    env = clean_env(PGSEED_STATE_DIR=str(tmp_path), PGSEED_LISTEN="127.0.0.1:%d" % port, PGSEED_API_TLS="on")
    out = run_pgseedd(env, "--print-config")
    assert out.returncode == 0, out.stderr
    assert "# API URL: https://127.0.0.1:%d" % port in out.stdout
    assert str(tmp_path / "tls" / "ca.crt") in out.stdout
    j = run_pgseedd(env, "--print-config=json")
    assert '"api_url": "https://127.0.0.1:%d"' % port in j.stdout
    assert '"api_ca_file": "%s"' % (tmp_path / "tls" / "ca.crt") in j.stdout
    env.pop("PGSEED_API_TLS")
    assert '"api_url": "http://127.0.0.1:%d"' % port in run_pgseedd(env, "--print-config=json").stdout


def test_bad_key_and_certificate_are_refused_at_start(tmp_path, other_ca):
    env = clean_env(PGSEED_STATE_DIR=str(tmp_path / "state"), PGSEED_LISTEN="127.0.0.1:%d" % free_port(),
                    PGSEED_PG_PORT=str(free_port()), PGSEED_API_TLS_CERT=other_ca["server.crt"],
                    PGSEED_API_TLS_KEY=other_ca["server.key"])
    os.chmod(other_ca["server.key"], 0o644)
    out = run_pgseedd(env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    first = out.stderr.splitlines()[-2]
    assert first == ("pgseedd: Refusing the API's TLS key %s: others may read it (mode 0644)"
                     % other_ca["server.key"]), out.stderr
    assert "chmod 600" in out.stderr
    os.chmod(other_ca["server.key"], 0o600)
    # The CA's certificate with the server's key: they do not match.
    out = run_pgseedd(dict(env, PGSEED_API_TLS_CERT=other_ca["ca.crt"]))
    assert out.returncode == 2 and "does not match the certificate" in out.stderr, out.stderr
    out = run_pgseedd(dict(env, PGSEED_API_TLS_CERT=str(tmp_path / "missing.crt")))
    assert out.returncode == 2 and "Cannot load the API's TLS certificate" in out.stderr, out.stderr
    env.pop("PGSEED_API_TLS_KEY")
    out = run_pgseedd(env)
    assert out.returncode == 2 and "[api] tls_cert and tls_key go together" in out.stderr, out.stderr


def test_own_certificate_and_pgseedctl(pgseedctl, other_ca):
    """tls_cert/tls_key turn HTTPS on; `pgseedctl start` prints the https URL; pgseedctl verifies with
    --cacert or PGSEED_CA, and says what to do when it cannot."""
    ctl = pgseedctl(PGSEED_API_TLS_CERT=other_ca["server.crt"], PGSEED_API_TLS_KEY=other_ca["server.key"])
    url = "https://127.0.0.1:%d" % ctl.daemon.api_port
    # Without a CA the URL from the configuration cannot be verified: the system's CAs do not know it.
    r = ctl.run("start", env={"PGSEED_CA": other_ca["ca.crt"]})
    assert r.returncode == 0, (r.stdout, r.stderr, ctl.daemon_log()[-3000:])
    assert "API:      %s" % url in r.stdout, r.stdout
    r = ctl.run("health")
    assert r.returncode == 1 and "is not trusted" in r.stderr and "--cacert" in r.stderr, r.stderr
    r = ctl.run("health", "--cacert", other_ca["ca.crt"])
    assert r.returncode == 0 and r.stdout.startswith("ready"), (r.stdout, r.stderr)
    r = ctl.run("health", env={"PGSEED_URL": url, "PGSEED_CA": other_ca["ca.crt"]})
    assert r.returncode == 0, r.stderr
    r = ctl.run("health", env={"PGSEED_URL": url.replace("https", "http")})
    assert r.returncode == 1 and "serves the API over HTTPS" in r.stderr, r.stderr
    r = ctl.run("health", "--cacert", "/nonexistent/ca.crt")
    assert r.returncode == 1 and "Cannot use the CA certificate /nonexistent/ca.crt" in r.stderr, r.stderr


def test_pgseedctl_uses_the_generated_ca_by_itself(daemon):
    env = {k: v for k, v in daemon.env.items()}
    r = subprocess.run([PGSEEDCTL, "health"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ready"), (r.stdout, r.stderr)


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("s3cret-token-for-the-https-test\n")
    os.chmod(path, 0o600)
    return str(path)


def test_beyond_loopback_over_https_with_the_generated_ca(pgseedctl, token_file):
    """0.0.0.0 with a token and [api] tls = on: `pgseedctl start` prints the https URL and the CA, pgseedctl
    verifies with that CA by itself, and no clear-text warning is logged."""
    ctl = pgseedctl(PGSEED_API_TLS="on", PGSEED_TOKEN_FILE=token_file)
    port = ctl.daemon.api_port
    ctl.env["PGSEED_LISTEN"] = "0.0.0.0:%d" % port
    ca = os.path.join(ctl.daemon.state_dir, "tls", "ca.crt")
    r = ctl.run("start")
    assert r.returncode == 0, (r.stdout, r.stderr, ctl.daemon_log()[-3000:])
    assert "API:      https://127.0.0.1:%d (CA certificate %s)" % (port, ca) in r.stdout, r.stdout
    r = ctl.run("health")
    assert r.returncode == 0 and r.stdout.startswith("ready"), (r.stdout, r.stderr)
    log = ctl.daemon_log()
    assert "API on https://0.0.0.0:%d" % port in log
    assert "cleartext_listen" not in log


def test_beyond_loopback_without_tls_is_warned(pgseedd, token_file):
    d = pgseedd(start=False, PGSEED_TOKEN_FILE=token_file)
    d.env["PGSEED_LISTEN"] = "0.0.0.0:%d" % d.api_port
    d.start()
    assert wait_for(lambda: "event=cleartext_listen" in d.read_log(), 30), d.read_log()
    line = [x for x in d.read_log().splitlines() if "event=cleartext_listen" in x][0]
    assert "level=warning" in line and "PGSEED_API_TLS_CERT" in line, line
