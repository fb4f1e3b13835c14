# SPDX-License-Identifier: MIT
"""Shared fixtures for the integration tests: real pgseedd processes on free
ports with temporary state directories, a real Postgres, and clean-up that
runs even when a test fails."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import psycopg2
import pytest

SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("PGSEED_BUILD_DIR", os.path.join(SOURCE_ROOT, "build"))
PGSEEDD = os.environ.get("PGSEEDD", os.path.join(BUILD_DIR, "daemon", "pgseedd"))
PGSEEDCTL = os.environ.get("PGSEEDCTL", os.path.join(BUILD_DIR, "client", "pgseedctl"))


def free_port():
    """A TCP port nothing listens on right now (on 127.0.0.1 only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def http(method, url, timeout=30, headers=None):
    """One HTTP request; returns a Response for any status (4xx/5xx included)."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, dict(r.headers), r.read().decode())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers), e.read().decode())


class Daemon:
    """A pgseedd process.  Created through the `pgseedd` fixture factory."""

    def __init__(self, state_dir, env, args):
        self.state_dir = state_dir
        self.env = env
        self.args = args
        # Tests of bad configuration pass unparseable values; they never use the ports.
        try:
            self.api_port = int(env["PGSEED_LISTEN"].rsplit(":", 1)[1])
            self.pg_port = int(env["PGSEED_PG_PORT"])
        except (IndexError, ValueError):
            self.api_port = self.pg_port = 0
        self.url = "http://127.0.0.1:%d" % self.api_port
        self.log_path = os.path.join(state_dir, "pgseedd.test.log")
        self.proc = None

    # -- process -----------------------------------------------------------
    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PGSEEDD] + self.args, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_healthy(self, timeout=120):
        """Waits for /health to say 200; fails with the last answer and the log."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("pgseedd exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                last = self.get("/health", timeout=5)
                if last.status == 200:
                    return last.json()
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.2)
        pytest.fail("pgseedd not healthy within %ds; last /health: %s\nlog:\n%s"
                    % (timeout, last.body if last else None, self.read_log()))

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return ""

    # -- API ---------------------------------------------------------------
    def get(self, path, **kw):
        return http("GET", self.url + path, **kw)

    def post(self, path, **kw):
        return http("POST", self.url + path, **kw)

    def health(self):
        return self.get("/health")

    # -- database ----------------------------------------------------------
    def connect(self, dbname=None, **kw):
        return psycopg2.connect(host="127.0.0.1", port=self.pg_port, user=self.env.get("PGSEED_PG_USER", "app"),
                                password=self.env.get("PGSEED_PG_PASSWORD", "app"),
                                dbname=dbname or self.env.get("PGSEED_PG_DB", "app"), connect_timeout=5, **kw)

    def sql(self, query, params=None, dbname=None):
        """Runs one statement in autocommit mode; returns all rows (or None)."""
        conn = self.connect(dbname)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def postgres_pids(self):
        """PIDs of Postgres processes serving this daemon's data directory."""
        pids = []
        pgdata = os.path.realpath(os.path.join(self.state_dir, "pgdata"))
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.path.realpath("/proc/%s/cwd" % pid) == pgdata:
                    pids.append(int(pid))
            except OSError:
                pass
        return pids

    def kill_leftovers(self):
        for pid in self.postgres_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def pgseedd(tmp_path_factory):
    """Factory: pgseedd(**env) starts a daemon on free ports with a fresh state
    directory (embedded runtime and a small dataset unless overridden).  Every
    daemon is stopped, its Postgres killed and its state removed afterwards."""
    made = []

    def make(start=True, args=(), state_dir=None, **overrides):
        sd = state_dir or tempfile.mkdtemp(prefix="pgseed-test-", dir="/tmp")
        os.chmod(sd, 0o755)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("PGSEED_") and k not in ("PGSEED_BUILD_DIR",):
                del env[k]
        env.update({
            "PGSEED_STATE_DIR": sd,
            "PGSEED_LISTEN": "127.0.0.1:%d" % free_port(),
            "PGSEED_PG_PORT": str(free_port()),
            "PGSEED_RUNTIME": "embedded",
            "PGSEED_COMMENTS": "2000",
            "PGSEED_CONFIG": "/dev/null",
        })
        env.update({k: str(v) for k, v in overrides.items()})
        d = Daemon(sd, env, list(args))
        made.append(d)
        if start:
            d.start()
        return d

    yield make

    for d in made:
        d.stop()
        d.kill_leftovers()
        shutil.rmtree(d.state_dir, ignore_errors=True)


@pytest.fixture
def ready(pgseedd):
    """One healthy daemon with the default small dataset."""
    d = pgseedd()
    d.wait_healthy()
    return d
