# SPDX-License-Identifier: MIT
"""Shared fixtures for the integration tests: real pgseedd processes on free
ports with temporary state directories, a real Postgres, and clean-up that
runs even when a test fails."""

import contextlib
import fcntl
import json
import os
import random
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


# Ports handed out by free_port() in this process, each with the open file
# whose lock reserves it against every other test process until this one ends.
_RESERVED_PORTS = {}
PORT_LOCKS = os.path.join(tempfile.gettempdir(), "pgseed-test-ports")


def _reserve(port):
    """An open file locked for port in PORT_LOCKS, or None when another test process holds it."""
    try:
        f = open(os.path.join(PORT_LOCKS, str(port)), "a")
    except OSError:
        return None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def free_port():
    """A TCP port nothing listens on right now (on 127.0.0.1 only), and that no
    other test process has been given.

    The suites run side by side and a daemon binds its ports a second or more
    after they were chosen (initdb comes first), so "free now" alone lets two
    suites pick the same port. Each port handed out is locked in PORT_LOCKS
    (flock, so a killed test process frees its ports) for as long as this
    process lives, and never handed out twice by it.

    Chosen below the kernel's ephemeral range (ip_local_port_range, 32768 and
    up here): a port from bind(0) is also what client connections get as their
    local port, so a daemon started a moment later could find it taken by an
    unrelated connection."""
    low, high = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            first = int(f.read().split()[0])
        high = min(high, first - 1)
    except (OSError, ValueError, IndexError):
        pass
    if not os.path.isdir(PORT_LOCKS):
        os.makedirs(PORT_LOCKS, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(PORT_LOCKS, 0o1777)  # other users' test runs reserve here too
    for _ in range(2000):
        port = random.randint(low, high)
        if port in _RESERVED_PORTS:
            continue
        lock = _reserve(port)
        if lock is None:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                lock.close()
                continue
        _RESERVED_PORTS[port] = lock
        return port
    raise RuntimeError("no free TCP port between %d and %d" % (low, high))


def wait_for(predicate, timeout, interval=0.1):
    """Calls predicate until it returns something true (returned) or timeout seconds pass (None)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


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
            return Response(r.status, dict(r.headers), r.read().decode(errors="replace"))
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers), e.read().decode(errors="replace"))


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

    def wait_healthy(self, timeout=120, headers=None):
        """Waits for /health to say 200 (sending headers, e.g. the token); fails with the last answer and the log."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("pgseedd exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                last = self.get("/health", timeout=5, headers=headers)
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


@contextlib.contextmanager
def daemon_factory():
    """pgseedd(**env) as a context: make() starts a daemon on free ports with a
    fresh state directory (embedded runtime and a small dataset unless
    overridden); on leaving, every daemon it made is stopped, its Postgres
    killed and its state removed, whatever the tests did."""
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

    try:
        yield make
    finally:
        for d in made:
            d.stop()
            d.kill_leftovers()
            shutil.rmtree(d.state_dir, ignore_errors=True)


@pytest.fixture
def pgseedd():
    """Factory for one test: pgseedd(**env) starts a daemon (see daemon_factory)."""
    with daemon_factory() as make:
        yield make


@pytest.fixture(scope="module")
def pgseedd_module():
    """The same factory for a whole file, for tests that only read or are refused
    and leave the daemon as they found it."""
    with daemon_factory() as make:
        yield make


@pytest.fixture
def ready(pgseedd):
    """One healthy daemon with the default small dataset."""
    d = pgseedd()
    d.wait_healthy()
    return d


@pytest.fixture(scope="module")
def ready_shared(pgseedd_module):
    """One healthy daemon for a whole file, for tests that only read or are refused: a test
    that uses it must leave the daemon, its database and its log as it found them."""
    d = pgseedd_module()
    d.wait_healthy()
    return d


# -- pgseedctl (tests/integration/test_pgseedctl.py) ---------------------------

def pidfile_pid(state_dir):
    """The pid in STATE_DIR/pgseedd.pid, or None when there is none."""
    try:
        with open(os.path.join(state_dir, "pgseedd.pid")) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def process_running(pid):
    """True while pid runs; a zombie (exited, not yet reaped) no longer does."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Ctl:
    """pgseedctl with one daemon's settings (its PGSEED_* environment).  The
    daemon itself is started by the test, through `pgseedctl start`."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.env = dict(daemon.env)
        self.log_path = os.path.join(daemon.state_dir, "pgseedd.log")

    def run(self, *args, timeout=300, env=None, stdin=subprocess.DEVNULL):
        """Runs pgseedctl ARGS; returns the CompletedProcess (text stdout/stderr)."""
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([PGSEEDCTL] + [str(a) for a in args], env=e, stdin=stdin,
                              capture_output=True, text=True, timeout=timeout)

    def daemon_log(self):
        """What the daemon pgseedctl started wrote (STATE_DIR/pgseedd.log)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill_daemon(self, timeout=30):
        """Stops whatever pgseedd the pidfile names: SIGTERM, then SIGKILL."""
        pid = pidfile_pid(self.daemon.state_dir)
        if not pid or not process_running(pid):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        deadline = time.time() + timeout
        while process_running(pid) and time.time() < deadline:
            time.sleep(0.1)
        if process_running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def pgseedctl(pgseedd):
    """Factory: pgseedctl(**env) returns a Ctl for a daemon configured like the
    pgseedd fixture's (free ports, temporary state directory, embedded runtime,
    small dataset) but not started.  Afterwards the pgseedd its pidfile names
    is stopped; then the pgseedd fixture kills leftover Postgres processes and
    removes the state directory."""
    made = []

    def make(**overrides):
        c = Ctl(pgseedd(start=False, **overrides))
        made.append(c)
        return c

    yield make

    for c in made:
        c.kill_daemon()
