# SPDX-License-Identifier: MIT
"""The Docker engine restarted (kill -9, then started again) under a running
pgseedd: it says so in /health, reconnects, and re-adopts its container with
its data.  The engine is a private dockerd on its own socket, data root and
exec root, started and killed by the test: the shared engine is never
touched.  Everything (daemons, containers, mounts, the directory) is removed
afterwards, also when the test fails."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import wait_for

IMAGE = os.environ.get("PGSEED_TEST_IMAGE", "pgseed/postgres:15")


class PrivateEngine:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgseed-test-dockerd-", dir="/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.host = "unix://" + self.sock
        self.proc = None

    def cli(self, *args, check=True, timeout=120, **kw):
        r = subprocess.run(["docker", "-H", self.host] + [str(a) for a in args], capture_output=True,
                           timeout=timeout, stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
        if check and r.returncode != 0:
            pytest.fail("`docker %s` failed: %s" % (" ".join(map(str, args)), r.stderr))
        return r

    def start(self):
        log = open(os.path.join(self.dir, "dockerd.log"), "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "-H", self.host, "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"), "--pidfile", os.path.join(self.dir, "docker.pid"),
             "--bridge=none", "--iptables=false", "--ip6tables=false"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        def answers():
            try:
                return self.cli("info", check=False, timeout=10).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        ok = wait_for(answers, 60, 0.3)
        if not ok:
            pytest.fail("the private dockerd did not come up:\n%s" % self.log())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        # Its containerd dies with it (parent-death signal), asynchronously: a new one could not open
        # the metadata database while the old one still holds it.
        def containerd_gone():
            return not [p for p in self.processes() if self._is_containerd(p)]
        wait_for(containerd_gone, 30, 0.2)
        # As after a crash: dockerd refuses to start while its pidfile exists, and waits for a containerd
        # whose pid file names a process that still exists (the dead one stays a zombie when nothing
        # reaps orphans, as in a container without an init).
        for stale in ("docker.pid", "exec/containerd/containerd.pid"):
            try:
                os.unlink(os.path.join(self.dir, stale))
            except OSError:
                pass

    @staticmethod
    def _is_containerd(pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return f.read().split(b"\0")[0].endswith(b"containerd")
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "dockerd.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def processes(self):
        """PIDs of processes (dockerd, containerd, shims) whose command line names our directory."""
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if self.dir.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    def destroy(self):
        if self.proc and self.proc.poll() is None:
            r = self.cli("ps", "-aq", check=False, timeout=30)
            for c in r.stdout.decode().split():
                self.cli("rm", "-f", "-v", c, check=False, timeout=60)
            for v in self.cli("volume", "ls", "-q", check=False, timeout=30).stdout.decode().split():
                self.cli("volume", "rm", "-f", v, check=False, timeout=60)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
        # Overlay and shm mounts of the containers, deepest first.
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(self.dir)]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_engine():
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        pytest.fail("Image %s is missing from the shared engine: build it with compose/build-local-images.sh"
                    % IMAGE)
    eng = PrivateEngine()
    try:
        eng.start()
        save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
        load = eng.cli("load", stdin=save.stdout, timeout=600, check=False)
        save.stdout.close()
        assert save.wait(600) == 0 and load.returncode == 0, load.stderr
        yield eng
    finally:
        eng.destroy()


def test_engine_restart_is_reported_and_the_container_readopted(pgseedd, private_engine):
    eng = private_engine
    d = pgseedd(PGSEED_RUNTIME="docker", PGSEED_NETWORK="host", PGSEED_IMAGE=IMAGE, PGSEED_PULL="never",
                PGSEED_INSTANCE="pgseedtest-engine", DOCKER_HOST=eng.host)
    try:
        d.wait_healthy(timeout=180)
        info = json.loads(eng.cli("inspect", "pgseedtest-engine-postgres").stdout)[0]
        first = info["Id"]
        d.sql("CREATE TABLE engine_marker (v text)")
        d.sql("INSERT INTO engine_marker VALUES ('kept across an engine restart')")

        eng.kill9()

        def says_engine():
            try:
                b = d.get("/health", timeout=5).json()
            except Exception:  # noqa: BLE001
                return None
            return b if "Docker" in b.get("reason", "") or "docker" in b.get("reason", "") else None
        b = wait_for(says_engine, 60, 0.3)
        assert b and b["status"] != "ready", (b, d.read_log())

        eng.start()
        body = d.wait_healthy(timeout=180)
        assert body["status"] == "ready"
        info = json.loads(eng.cli("inspect", "pgseedtest-engine-postgres").stdout)[0]
        assert info["Id"] == first
        assert body.get("runtime_id") == first[:12]
        assert d.sql("SELECT v FROM engine_marker") == [("kept across an engine restart",)]
        assert d.proc.poll() is None
    finally:
        # Stop the daemon while its engine still answers, so that it stops its container there.
        d.stop()
