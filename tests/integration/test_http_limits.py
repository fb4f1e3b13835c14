# SPDX-License-Identifier: MIT
"""pgseedd's HTTP server under abuse: idle, slow and malformed connections on
loopback never stop /health from answering within 100 ms, never make pgseedd
grow threads, and every protocol error is the JSON error shape."""

import json
import os
import resource
import select
import socket
import threading
import time

import pytest

from conftest import wait_for

PROBE_BUDGET_S = 0.100


@pytest.fixture(scope="module")
def daemon(ready_shared):
    """The file's one healthy daemon (conftest's ready_shared; test_https has an HTTPS one by this name)."""
    return ready_shared


# -- raw HTTP -------------------------------------------------------------------

def connect(d, timeout=10):
    s = socket.create_connection(("127.0.0.1", d.api_port), timeout=timeout)
    s.settimeout(timeout)
    return s


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def read_reply(sock, buf=b"", head_only=False):
    """Reads one response (Content-Length or chunked framing) from sock; returns (Reply, leftover bytes)."""
    def fill():
        nonlocal buf
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-reply; got %r" % buf[:300])
        buf += chunk

    while b"\r\n\r\n" not in buf:
        fill()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if head_only or status in (204, 304):
        return Reply(status, headers, b""), buf
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                fill()
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(buf) < size + 2:
                fill()
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                return Reply(status, headers, body), buf
    assert "content-length" in headers, "a fixed reply without Content-Length: %r" % headers
    n = int(headers["content-length"])
    while len(buf) < n:
        fill()
    return Reply(status, headers, buf[:n]), buf[n:]


def exchange(d, data):
    """Sends raw bytes, returns the one reply."""
    with connect(d) as s:
        s.sendall(data)
        return read_reply(s)[0]


def probe(d):
    """GET /health on a fresh connection; returns (status, seconds)."""
    t0 = time.monotonic()
    with connect(d, timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        r = read_reply(s)[0]
    return r.status, time.monotonic() - t0


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def open_idle(d, n, into):
    """Opens n connections to d's API that never send a byte (non-blocking connects), appended to into,
    so that the caller closes them even when it fails halfway."""
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", d.api_port))
        except BlockingIOError:
            pass
        into.append(s)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- errors the server itself generates are JSON ---------------------------------

HOST = b"Host: 127.0.0.1\r\n"

CASES = [
    ("request_line_20k", b"GET /health?" + b"a" * 20000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414, "uri_too_long"),
    ("headers_40k", b"GET /health HTTP/1.1\r\n" + HOST
     + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40)) + b"\r\n", 431, "headers_too_large"),
    ("garbage_request_line", b"\x16\x03\x01 hello there\r\n\r\n", 400, "bad_request"),
    ("no_version", b"GET /health\r\n\r\n", 400, "bad_request"),
    ("http_2_0", b"GET /health HTTP/2.0\r\n" + HOST + b"\r\n", 505, "version_not_supported"),
    ("http_3_7", b"GET /health HTTP/3.7\r\n" + HOST + b"\r\n", 505, "version_not_supported"),
    ("body_10mb", b"POST /reset HTTP/1.1\r\n" + HOST + b"Content-Length: 10000000\r\n\r\n", 413, "body_too_large"),
    ("chunked_body", b"POST /reset HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411,
     "length_required"),
    ("params_3000", b"GET /health?" + b"k&" * 3000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 400, "too_many_parameters"),
    ("params_500", b"GET /sample?" + b"a=1&" * 500 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 400, "too_many_parameters"),
    ("params_3000_long", b"GET /health?" + b"a=1&" * 3000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414, "uri_too_long"),
    ("http11_without_host", b"GET /health HTTP/1.1\r\n\r\n", 400, "missing_host"),
    ("nul_in_header", b"GET /health HTTP/1.1\r\n" + HOST + b"X-Evil: a\x00b\r\n\r\n", 400, "bad_request"),
    ("bare_cr", b"GET /health HTTP/1.1\r\n" + HOST + b"X-Evil: a\rb\r\n\r\n", 400, "bad_request"),
    ("folded_header", b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: one\r\n two\r\n\r\n", 400, "bad_request"),
]


@pytest.mark.parametrize("name,data,status,code", CASES, ids=[c[0] for c in CASES])
def test_protocol_errors_are_json(daemon, name, data, status, code):
    r = exchange(daemon, data)
    assert r.status == status, r.body[:300]
    assert r.headers["content-type"].startswith("application/json"), r.headers
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    assert r.headers.get("connection") == "close"
    # The daemon is unharmed.
    assert probe(daemon)[0] == 200


def test_http_1_0_without_host_is_served(daemon):
    r = exchange(daemon, b"GET /health HTTP/1.0\r\n\r\n")
    assert r.status == 200 and r.json()["status"] == "ready"


def test_keep_alive_and_pipelining(daemon):
    with connect(daemon) as s:
        # Two sequential requests on one connection, then three pipelined in one write.
        buf = b""
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n")
            r, buf = read_reply(s, buf)
            assert r.status == 200 and "connection" not in r.headers
        s.sendall(b"GET /metrics HTTP/1.1\r\n" + HOST + b"\r\n"
                  b"GET /nope HTTP/1.1\r\n" + HOST + b"\r\n"
                  b"GET /health HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n")
        r1, buf = read_reply(s, buf)
        r2, buf = read_reply(s, buf)
        r3, buf = read_reply(s, buf)
        assert r1.status == 200 and b"pgseed_up 1" in r1.body
        assert r2.status == 404 and r2.json()["error"]["code"] == "not_found"
        assert r3.status == 200 and r3.headers.get("connection") == "close"
        assert s.recv(100) == b""


def test_head_has_length_and_no_body(daemon):
    with connect(daemon) as s:
        s.sendall(b"HEAD /health HTTP/1.1\r\n" + HOST + b"\r\nGET /health HTTP/1.1\r\n" + HOST + b"\r\n")
        head, buf = read_reply(s, head_only=True)
        get, buf = read_reply(s, buf)
    assert head.status == 200 and get.status == 200
    # Same length as the GET would have (give or take the uptime's digits), and no body in between.
    assert abs(int(head.headers["content-length"]) - len(get.body)) <= 4
    assert buf == b""


def test_body_within_limit_is_read_and_ignored(daemon):
    with connect(daemon) as s:
        s.sendall(b"POST /nope HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello"
                  b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n")
        r1, buf = read_reply(s)
        r2, _ = read_reply(s, buf)
    assert r1.status == 404 and r2.status == 200


def test_slow_head_gets_408_json(daemon):
    with connect(daemon, timeout=15) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        r, _ = read_reply(s)
    assert r.status == 408 and r.json()["error"]["code"] == "request_timeout"
    assert 3 < time.monotonic() - t0 < 10


# -- streams ----------------------------------------------------------------------

def open_follower(d):
    s = connect(d)
    s.sendall(b"GET /logs?follow=1&tail=5 HTTP/1.1\r\n" + HOST + b"\r\n")
    return s


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the reply's head")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def test_logs_follow_is_chunked_and_ends_when_the_client_leaves(daemon):
    s = open_follower(daemon)
    head, rest = read_head(s)
    assert head.startswith("HTTP/1.1 200") and "Transfer-Encoding: chunked" in head, head
    assert "Content-Length" not in head
    while b"\r\n" not in rest:
        rest += s.recv(65536)
    size = int(rest.split(b"\r\n", 1)[0], 16)
    assert size > 0
    rid = [line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.startswith("X-Request-Id")][0]
    s.close()
    # The server notices the hang-up, ends the stream and logs the request as finished.
    assert wait_for(lambda: ("request_id=%s client=gone" % rid) in daemon.read_log(), 10), daemon.read_log()[-2000:]


def test_40_followers_do_not_block_health(daemon):
    pid = daemon.proc.pid
    socks = [open_follower(daemon) for _ in range(40)]
    try:
        statuses = []
        for s in socks:
            head, _ = read_head(s)
            statuses.append(int(head.split()[1]))
        assert statuses.count(200) == 32, statuses
        assert statuses.count(503) == 8, statuses
        for _ in range(10):
            status, took = probe(daemon)
            assert status == 200 and took < PROBE_BUDGET_S, (status, took)
        assert proc_status(pid, "Threads") < 64
    finally:
        for s in socks:
            s.close()
    # The slots come back.
    def follower_ok():
        s = open_follower(daemon)
        try:
            return read_head(s)[0].startswith("HTTP/1.1 200")
        finally:
            s.close()
    assert wait_for(follower_ok, 10)


def test_503_stream_refusal_is_json(daemon):
    socks = [open_follower(daemon) for _ in range(33)]
    try:
        replies = []
        for s in socks:
            head, rest = read_head(s)
            if head.startswith("HTTP/1.1 503"):
                s.settimeout(5)
                r, _ = read_reply(s, head.encode("latin-1") + b"\r\n\r\n" + rest)
                replies.append(r)
        assert len(replies) == 1
        assert replies[0].json()["error"]["code"] == "too_many_streams"
        assert replies[0].headers["retry-after"] == "1"
    finally:
        for s in socks:
            s.close()


# -- floods -------------------------------------------------------------------------

class Slowloris(threading.Thread):
    """n connections that each send one more header line every `every` seconds and never finish;
    a connection the server closes is opened again, as an attacker would."""

    def __init__(self, d, n, every=2.0):
        super().__init__(daemon=True)
        self.d, self.n, self.every = d, n, every
        self.stop = threading.Event()
        self.socks = []
        self.reopened = 0

    def open_one(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.d.api_port))
        except BlockingIOError:
            pass
        return s

    def send(self, s, data):
        try:
            s.send(data)
            return True
        except OSError:
            return False

    def run(self):
        self.socks = [self.open_one() for _ in range(self.n)]
        time.sleep(0.2)
        for s in self.socks:
            self.send(s, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        i = 0
        while not self.stop.wait(self.every):
            i += 1
            for k, s in enumerate(self.socks):
                if not self.send(s, b"X-Slow-%d: %d\r\n" % (i, k)):
                    s.close()
                    self.socks[k] = self.open_one()
                    self.reopened += 1

    def close(self):
        self.stop.set()
        self.join(10)
        for s in self.socks:
            s.close()


def test_slowloris_and_idle_flood_do_not_stop_health(daemon):
    pid = daemon.proc.pid
    assert raise_nofile() >= 4000, "the test needs 4000 descriptors (ulimit -Hn)"
    baseline_fds = fd_count(pid)
    slow = Slowloris(daemon, 600, every=2.5)
    idle = []
    slow.start()
    try:
        open_idle(daemon, 3000, idle)
        # Probe while the flood lasts: several rounds, across several of the slow clients' cycles.
        took = []
        threads = []
        t_end = time.monotonic() + 8
        while time.monotonic() < t_end:
            status, t = probe(daemon)
            assert status == 200
            took.append(t)
            threads.append(proc_status(pid, "Threads"))
            time.sleep(0.25)
        assert len(took) >= 20
        slow_probes = [t for t in took if t >= PROBE_BUDGET_S]
        assert not slow_probes, "probes over 100 ms: %s (all: %s)" % (slow_probes, took)
        assert max(threads) < 64, threads
    finally:
        slow.close()
        for s in idle:
            s.close()
    assert proc_status(pid, "Threads") < 64
    # Every socket is released again.
    assert wait_for(lambda: fd_count(pid) <= baseline_fds + 5, 15), (fd_count(pid), baseline_fds)
    assert probe(daemon)[0] == 200


def test_idle_connections_are_closed_on_time(daemon):
    pid = daemon.proc.pid
    baseline = fd_count(pid)
    socks = [connect(daemon) for _ in range(50)]
    try:
        # A margin of a few: the daemon's own connections to Postgres (probe, upkeep) come and go.
        assert wait_for(lambda: fd_count(pid) >= baseline + 45, 5), (fd_count(pid), baseline)
        # A connection that never sends a byte is closed after the head timeout (5 s).
        r, _, _ = select.select(socks[:1], [], [], 10)
        assert r and socks[0].recv(10) == b""
        assert wait_for(lambda: fd_count(pid) <= baseline + 5, 5), (fd_count(pid), baseline)
    finally:
        for s in socks:
            s.close()
