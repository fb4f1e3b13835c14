# SPDX-License-Identifier: MIT
"""pgseedd's Docker runtime on Podman's Docker-compatible API (Debian's
podman 4.3, API 1.41): `podman system service` on a private socket that this
test starts and stops, the local image moved in with `docker save | podman
load`.  The same path as on Docker: create, start, seed, logs, a container
killed from outside and started again, adoption by a restarted pgseedd,
reset, and removal with the volume; and what Podman needs besides: explicit
HostConfig.Ulimits from the host's limits (its defaults exceed a low hard
limit and the OCI runtime fails with "error setting rlimit type 7"),
sub-second log times (its own are whole seconds), and /health naming the
engine Podman.

The service runs its containers with runc: crun refuses this machine's
hybrid cgroup layout ("cgroups in hybrid mode not supported")."""

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import PGSEEDD, wait_for

IMAGE = os.environ.get("PGSEED_TEST_IMAGE", "pgseed/postgres:15")


def podman(*args, check=True, timeout=120, **kw):
    try:
        r = subprocess.run(["podman"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, **kw)
    except FileNotFoundError:
        pytest.fail("podman is not installed (apt-get install podman; .ci/deps test installs it)")
    if check and r.returncode != 0:
        pytest.fail("`podman %s` failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


@pytest.fixture(scope="module")
def service():
    """`podman system service` on a private socket; the image loaded from Docker when Podman lacks it."""
    d = tempfile.mkdtemp(prefix="pgseed-podman-", dir="/tmp")
    sock = os.path.join(d, "podman.sock")
    log = open(os.path.join(d, "service.log"), "wb")
    try:
        proc = subprocess.Popen(["podman", "--runtime", "runc", "system", "service", "--time=0", "unix://" + sock],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        pytest.fail("podman is not installed (apt-get install podman; .ci/deps test installs it)")
    try:
        assert wait_for(lambda: os.path.exists(sock), 30), "podman system service did not make %s" % sock
        if podman("image", "exists", IMAGE, check=False).returncode != 0:
            save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
            r = subprocess.run(["podman", "load"], stdin=save.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=300)
            save.stdout.close()
            assert save.wait(60) == 0 and r.returncode == 0, "docker save | podman load failed:\n" + r.stdout
        yield "unix://" + sock
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


class PodmanInstance:
    def __init__(self, pgseedd, host):
        self.name = "pgseedtest-podman-" + os.urandom(4).hex()
        self.container = self.name + "-postgres"
        self.volume = self.name + "-data"
        self.host = host
        self._pgseedd = pgseedd

    def env(self):
        return {"PGSEED_RUNTIME": "docker", "DOCKER_HOST": self.host, "PGSEED_NETWORK": "host",
                "PGSEED_IMAGE": IMAGE, "PGSEED_PULL": "never", "PGSEED_INSTANCE": self.name,
                "PGSEED_COMMENTS": "2000"}

    def daemon(self, **kw):
        env = self.env()
        env.update(kw)
        return self._pgseedd(**env)

    def inspect(self):
        r = podman("container", "inspect", self.container, check=False)
        return json.loads(r.stdout)[0] if r.returncode == 0 else None

    def purge(self):
        podman("rm", "-f", "-v", self.container, check=False)
        podman("volume", "rm", "-f", self.volume, check=False)


@pytest.fixture
def pm(service, pgseedd):
    inst = PodmanInstance(pgseedd, service)
    try:
        yield inst
    finally:
        inst.purge()


def test_podman_runs_seeds_recovers_adopts_and_removes(pm, pgseedd):
    d = pm.daemon()
    h = d.wait_healthy(timeout=180)
    info = h["runtime_info"]
    assert h["runtime"] == "docker" and info["engine"] == "Podman" and info["engine_version"].startswith("4."), h
    c = pm.inspect()
    first_id = c["Id"]
    # Ulimits set from this host's limits, not Podman's defaults.
    limits = {u["Name"].lower().replace("rlimit_", ""): u for u in c["HostConfig"]["Ulimits"]}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert (limits["nofile"]["Soft"], limits["nofile"]["Hard"]) == (soft, hard), limits
    assert limits["nproc"]["Hard"] <= resource.getrlimit(resource.RLIMIT_NPROC)[1], limits

    # Log lines keep their milliseconds although Podman's own times are whole seconds.
    r = d.get("/logs?tail=20&format=json")
    assert r.status == 200, r.body
    lines = [json.loads(x) for x in r.body.splitlines() if x.strip()]
    assert lines, r.body
    assert any(not x["ts"].endswith(".000Z") for x in lines), lines

    # Killed from outside: down with the reason, started again, seeded data still there.
    d.sql("CREATE TABLE podman_marker (v text); INSERT INTO podman_marker VALUES ('kept')")
    podman("kill", pm.container)
    def down():
        j = d.health().json()
        return j if j["status"] == "down" else None
    b = wait_for(down, 20, 0.2)
    assert b, d.health().body
    assert pm.container in b["reason"] and ("killed" in b["reason"] or "exit" in b["reason"]), b
    h = d.wait_healthy(timeout=120)
    assert h["restarts"] >= 1, h
    assert d.sql("SELECT v FROM podman_marker") == [("kept",)]

    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body

    # A new pgseedd adopts the same container.
    assert d.stop() == 0
    d2 = pm.daemon(PGSEED_PG_PORT=d.env["PGSEED_PG_PORT"])
    d2.wait_healthy(timeout=120)
    assert pm.inspect()["Id"] == first_id
    assert d2.stop() == 0

    # Removal takes the container and the volume.
    r = subprocess.run([PGSEEDD, "--remove", "--volumes"], env=d2.env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    assert pm.inspect() is None
    assert podman("volume", "exists", pm.volume, check=False).returncode != 0
