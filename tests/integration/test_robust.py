# SPDX-License-Identifier: MIT
"""Runtime and process robustness (issue 7): a changed password, a full
disk, secrets in the postmaster's environment, an unreachable state
directory, typos in PGSEED_* variables, and systemd's notify protocol
(watchdog, SIGHUP reload).  Real pgseedd processes and a real Postgres."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg2
import pytest

from conftest import PGSEEDD, wait_for


def health_body(d):
    try:
        r = d.get("/health", timeout=5)
        return r.json()
    except Exception:  # noqa: BLE001 -- a daemon between states may not answer
        return {}


def postmaster_pid(d):
    """The postmaster: the oldest process whose cwd is the data directory (its children share it)."""
    pids = d.postgres_pids()
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid not in pids:
            return pid
    return None


def table_counts(d):
    rows = d.sql("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE relkind = 'r' AND nspname = 'public' ORDER BY relname")
    return {name: d.sql('SELECT count(*) FROM "%s"' % name)[0][0] for (name,) in rows}


# -- a changed password ---------------------------------------------------------

def test_changed_password_is_set_not_looped(pgseedd):
    """Same state dir, another PGSEED_PG_PASSWORD: pgseedd owns the cluster and sets the role's password."""
    first = pgseedd(PGSEED_PG_PASSWORD="first-secret-1")
    first.wait_healthy()
    assert first.stop() == 0

    second = pgseedd(state_dir=first.state_dir, PGSEED_PG_PASSWORD="second-secret-2",
                     PGSEED_LISTEN=first.env["PGSEED_LISTEN"], PGSEED_PG_PORT=first.env["PGSEED_PG_PORT"])
    t0 = time.time()
    body = second.wait_healthy(timeout=60)
    assert body["status"] == "ready"
    assert time.time() - t0 < 60
    # The new password works, the old one no longer does.
    assert second.sql("SELECT 1") == [(1,)]
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host="127.0.0.1", port=second.pg_port, user="app", password="first-secret-1",
                         dbname="app", connect_timeout=5).close()
    log = second.read_log()
    assert "set the role's password" in log, log
    # Neither password reaches pgseedd's log or the server's.
    with open(os.path.join(second.state_dir, "postgres.log"), errors="replace") as f:
        server_log = f.read()
    for secret in ("first-secret-1", "second-secret-2"):
        assert secret not in log and secret not in server_log


# -- secrets in the postmaster's environment ------------------------------------

def test_postmaster_environment_has_no_secrets(pgseedd):
    d = pgseedd(PGSEED_PG_PASSWORD="env-secret-3", PGPASSWORD="env-secret-4")
    d.wait_healthy()
    pid = postmaster_pid(d)
    assert pid, d.postgres_pids()
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read().split(b"\0")
    names = [e.split(b"=", 1)[0].decode() for e in env if e]
    assert not [n for n in names if n.startswith("PGSEED_") or n == "PGPASSWORD"], names
    assert not any(b"env-secret" in e for e in env)
    assert "PATH" in names  # the rest of the environment is kept


# -- a state dir the postgres user cannot reach ---------------------------------

def test_unreachable_state_dir_names_the_parent(pgseedd):
    parent = tempfile.mkdtemp(prefix="pgseed-test-0700-", dir="/tmp")  # mode 0700, owned by root
    try:
        sd = os.path.join(parent, "state")
        os.mkdir(sd)
        d = pgseedd(start=False, state_dir=sd)
        out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, out.stderr
        assert "cannot enter %s " % parent in out.stderr, out.stderr
        assert "chmod o+x" in out.stderr and "PGSEED_STATE_DIR" in out.stderr, out.stderr
        assert "initdb.pw" not in out.stderr
    finally:
        shutil.rmtree(parent, ignore_errors=True)


# -- typos in the environment ---------------------------------------------------

def test_unknown_pgseed_variable_exits_2_with_suggestion(pgseedd):
    d = pgseedd(start=False, PGSEED_PG_PASWORD="typo-secret")
    out = subprocess.run([PGSEEDD], env=d.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "PGSEED_PG_PASWORD" in out.stderr and "did you mean PGSEED_PG_PASSWORD?" in out.stderr
    assert "typo-secret" not in out.stderr


# -- a full disk ------------------------------------------------------------------

def test_disk_full_is_reported_and_recovers(pgseedd):
    mnt = tempfile.mkdtemp(prefix="pgseed-test-tmpfs-", dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150m", "tmpfs", mnt], check=True)
    d = None
    try:
        os.chmod(mnt, 0o755)
        d = pgseedd(state_dir=mnt)
        d.wait_healthy()
        baseline = table_counts(d)
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass
        # Writing WAL on a full disk: the server PANICs (or fails the statement); either way it is said.
        try:
            d.sql("CREATE TABLE fill AS SELECT repeat('x', 500) AS x FROM generate_series(1, 200000)")
        except psycopg2.Error:
            pass
        try:
            d.sql("SELECT pg_switch_wal()")
            d.sql("CHECKPOINT")
        except psycopg2.Error:
            pass
        d.post("/reset", timeout=60)

        def says_disk_full():
            b = health_body(d)
            return b if "disk_full" in b.get("reason", "") else None
        b = wait_for(says_disk_full, 90, 0.5)
        assert b, (health_body(d), d.read_log())
        assert "No space left on device in %s" % mnt in b["reason"], b
        assert "PGSEED_STATE_DIR" in b["reason"], b
        assert b["status"] != "ready"
        assert "disk_full" in d.read_log()
        print("disk full:", b["status"], b["reason"])

        os.unlink(filler)
        body = d.wait_healthy(timeout=180)
        assert body["status"] == "ready"
        assert table_counts(d) == baseline
    finally:
        if d:
            d.stop()
            d.kill_leftovers()
            if getattr(d, "log", None):
                d.log.close()  # the daemon's output file lives on the tmpfs
        for _ in range(50):
            if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


# -- systemd: watchdog and reload through a real notify socket ------------------

class Notify:
    """A notify socket as systemd has one: AF_UNIX, SOCK_DGRAM, bound to a path."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, message)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))
            except socket.timeout:
                pass

    def wait_for(self, needle, timeout, after=0.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in self.messages:
                if t >= after and needle in m:
                    return t, m
            self.drain(0.2)
        return None

    def close(self):
        self.sock.close()


def test_watchdog_pinged_at_half_the_interval(pgseedd, tmp_path):
    n = Notify(str(tmp_path / "notify.sock"))
    try:
        d = pgseedd(NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="2000000")
        assert n.wait_for("READY=1", 120), n.messages
        start = time.monotonic()
        n.drain(6)
        pings = [t for t, m in n.messages if t >= start and "WATCHDOG=1" in m]
        # 2 s watchdog: a ping every second or so, 6 s -> about 6.
        assert 4 <= len(pings) <= 8, pings
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 1.6, gaps
        assert d.health().status == 200
    finally:
        n.close()


def test_no_watchdog_pings_without_watchdog_usec(pgseedd, tmp_path):
    n = Notify(str(tmp_path / "notify.sock"))
    try:
        pgseedd(NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
        assert n.wait_for("READY=1", 120), n.messages
        n.drain(2)
        assert not any("WATCHDOG=1" in m for _, m in n.messages)
    finally:
        n.close()


def test_sighup_reloads_log_level_and_refuses_a_broken_file(pgseedd, tmp_path):
    conf = tmp_path / "pgseedd.conf"
    conf.write_text("[pgseed]\nlog_level = info\n")
    n = Notify(str(tmp_path / "notify.sock"))
    try:
        d = pgseedd(NOTIFY_SOCKET=str(tmp_path / "notify.sock"), PGSEED_CONFIG=str(conf))
        assert n.wait_for("READY=1", 120), n.messages
        d.wait_healthy()
        for _ in range(5):
            d.health()
        assert "level=debug" not in d.read_log()

        # A valid change: RELOADING=1 (with MONOTONIC_USEC), then READY=1; debug lines appear.
        conf.write_text("[pgseed]\nlog_level = debug\n\n[dataset]\nseed = 7\n")
        t = time.monotonic()
        d.proc.send_signal(signal.SIGHUP)
        reloading = n.wait_for("RELOADING=1", 10, after=t)
        assert reloading and "MONOTONIC_USEC=" in reloading[1], n.messages
        assert n.wait_for("READY=1", 10, after=reloading[0]), n.messages
        assert wait_for(lambda: "pgseed.log_level changed: applied" in d.read_log(), 5), d.read_log()
        # What cannot change at run time is named, and not applied.
        assert "dataset.seed changed: restart pgseedd to apply it" in d.read_log()
        assert d.sql("SELECT 1") == [(1,)]

        def debug_lines():
            d.health()
            return "level=debug" in d.read_log()
        assert wait_for(debug_lines, 5), d.read_log()

        # A broken file: refused, the running configuration stays, the daemon keeps serving.
        conf.write_text("[pgseed]\nlog_level = shouting\n")
        t = time.monotonic()
        d.proc.send_signal(signal.SIGHUP)
        assert n.wait_for("READY=1", 10, after=t), n.messages
        assert wait_for(lambda: "keeping the running one" in d.read_log(), 5), d.read_log()
        assert "shouting" in d.read_log()
        assert d.health().status == 200
        assert d.proc.poll() is None
        before = d.read_log().count("level=debug")
        d.health()
        assert wait_for(lambda: d.read_log().count("level=debug") > before, 5)
    finally:
        n.close()


def test_systemd_units_verify_and_are_hardened(tmp_path):
    """config/pgseedd.service and .socket load in systemd (systemd-analyze verify) and carry the hardening."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(root, "config", "pgseedd.service")) as f:
        service = f.read()
    with open(os.path.join(root, "config", "pgseedd.socket")) as f:
        sock = f.read()
    for directive in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure",
                      "ProtectSystem=strict", "ReadWritePaths=/var/lib/pgseed", "StateDirectory=pgseed",
                      "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "ExecReload="):
        assert directive in service, directive
    assert "ListenStream=127.0.0.1:7432" in sock
    # verify wants ExecStart to exist: point it at the binary under test.
    (tmp_path / "pgseedd.service").write_text(service.replace("/usr/local/bin/pgseedd", PGSEEDD))
    (tmp_path / "pgseedd.socket").write_text(sock)
    out = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "pgseedd.service"),
                          str(tmp_path / "pgseedd.socket")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
