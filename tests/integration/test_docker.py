# SPDX-License-Identifier: MIT
"""pgseedd on the Docker runtime, end to end against a real engine: the
container and volume it creates (labels, host network, no restart policy),
recovery from `docker kill`, adoption across daemon restarts, pgseedctl
stop/down, refusal of foreign containers, a missing engine or image, /logs
(tail, follow, JSON lines), /reset, and the compose file.

Every test gets its own instance name ("pgseedtest-e2e-<random>"), so its
container <instance>-postgres and volume <instance>-data are its own; the
`dk` fixture removes both (and anything else labelled with the instance)
afterwards, also when the test failed.  There is no bridge network on the
test machine: containers use the host's network and 127.0.0.1 only.  The
image comes from compose/build-local-images.sh (`make images`).  Without a
Docker engine every test fails; none is skipped."""

import http.client as httpclient
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
import urllib.error

import pytest

from conftest import PGSEEDD, SOURCE_ROOT, free_port, http as http_request, pidfile_pid, process_running, wait_for

IMAGE = os.environ.get("PGSEED_TEST_IMAGE", "pgseed/postgres:15")
PGSEEDD_IMAGE = os.environ.get("PGSEED_TEST_PGSEEDD_IMAGE", "pgseed/pgseedd:latest")
COMPOSE_FILE = os.path.join(SOURCE_ROOT, "compose", "docker-compose.yml")
LABEL_MANAGED = "io.pgseed.managed"
LABEL_INSTANCE = "io.pgseed.instance"
LABEL_HASH = "io.pgseed.config-hash"
DATA_MOUNT = "/var/lib/postgresql/data"
BUILD_HINT = "compose/build-local-images.sh (`make images`)"


# -- the docker CLI (observation and clean-up only; pgseedd never uses it) ------

def docker(*args, check=True, timeout=120):
    """Runs `docker ARGS`; returns the CompletedProcess (text).  check: fail the test on a non-zero exit."""
    try:
        r = subprocess.run(["docker"] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        pytest.fail("the docker CLI is not installed (apt-get install docker.io)")
    if check and r.returncode != 0:
        pytest.fail("`docker %s` failed (%d):\n%s%s" % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r


def inspect(kind, name):
    """`docker KIND inspect NAME` as a dict, or None when there is no such object."""
    r = docker(kind, "inspect", name, check=False)
    if r.returncode != 0:
        if "No such" in r.stderr or "no such" in r.stderr:
            return None
        pytest.fail("`docker %s inspect %s` failed:\n%s" % (kind, name, r.stderr))
    return json.loads(r.stdout)[0]


def ids(*args):
    """The IDs/names one per line that a `docker ... -q` listing prints."""
    return [x for x in docker(*args).stdout.split() if x]


def containers_of(instance):
    """Full IDs of every container (running or not) labelled with the instance."""
    return ids("ps", "-aq", "--no-trunc", "--filter", "label=%s=%s" % (LABEL_INSTANCE, instance))


def volumes_of(instance):
    return ids("volume", "ls", "-q", "--filter", "label=%s=%s" % (LABEL_INSTANCE, instance))


def health_or_none(d):
    """(status, body) of /health, or None while the API does not answer."""
    try:
        r = d.get("/health", timeout=5)
        return r.status, r.json()
    except (OSError, ValueError, urllib.error.URLError):
        return None


def rows_by_table(body):
    return {t["name"]: t["rows"] for t in body.get("tables") or []}


def run_pgseedd(d, timeout=60):
    """pgseedd in the foreground with d's environment, for start-up failures."""
    return subprocess.run([PGSEEDD] + d.args, env=d.env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="session")
def engine():
    """Fails (does not skip) every test when the engine or the image is missing."""
    r = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
    if r.returncode != 0:
        pytest.fail("The Docker engine does not answer (`docker version`: %s). The docker suite needs one: "
                    "start it, e.g. `dockerd --bridge=none --iptables=false &` as root (tests/run.sh does)."
                    % (r.stderr.strip() or r.stdout.strip()))
    if inspect("image", IMAGE) is None:
        pytest.fail("Image %s is missing: build it with %s, or set PGSEED_TEST_IMAGE." % (IMAGE, BUILD_HINT))
    return r.stdout.strip()


class Instance:
    """One pgseed instance name and the daemons/pgseedctls of a test using it."""

    def __init__(self, pgseedd, pgseedctl):
        self.name = "pgseedtest-e2e-" + secrets.token_hex(4)
        self.container = self.name + "-postgres"
        self.volume = self.name + "-data"
        self._pgseedd = pgseedd
        self._pgseedctl = pgseedctl
        self.daemons = []

    def env(self, **overrides):
        env = {
            "PGSEED_RUNTIME": "docker",
            "PGSEED_NETWORK": "host",
            "PGSEED_IMAGE": IMAGE,
            "PGSEED_PULL": "never",
            "PGSEED_INSTANCE": self.name,
            "PGSEED_COMMENTS": "2000",
            "PGSEEDD": PGSEEDD,
        }
        env.update(overrides)
        return env

    def daemon(self, start=True, **overrides):
        """A pgseedd (conftest's factory: free ports, own state dir) on this instance's Docker runtime."""
        d = self._pgseedd(start=start, **self.env(**overrides))
        self.daemons.append(d)
        return d

    def ctl(self, **overrides):
        """A pgseedctl for a daemon of this instance that the test starts through `pgseedctl start`."""
        c = self._pgseedctl(**self.env(**overrides))
        self.daemons.append(c.daemon)
        return c

    def container_info(self):
        return inspect("container", self.container)

    def stop_daemons(self):
        """Every pgseedd of this test, whether the test or pgseedctl started it, before the containers go."""
        for d in self.daemons:
            d.stop()
            pid = pidfile_pid(d.state_dir)
            if pid and process_running(pid):
                os.kill(pid, signal.SIGTERM)
                if not wait_for(lambda: not process_running(pid), 60):
                    os.kill(pid, signal.SIGKILL)

    def purge(self):
        """Removes every container and volume of the instance; returns what is left (should be nothing)."""
        names = set(containers_of(self.name))
        if inspect("container", self.container) is not None:
            names.add(self.container)
        for c in names:
            # -v: a container made by `docker create` (the foreign one) has an anonymous volume from the image.
            docker("rm", "-f", "-v", c, check=False)
        for v in set(volumes_of(self.name)) | {self.volume}:
            docker("volume", "rm", "-f", v, check=False)
        left = containers_of(self.name) + volumes_of(self.name)
        if inspect("container", self.container) is not None:
            left.append(self.container)
        if inspect("volume", self.volume) is not None:
            left.append(self.volume)
        return left


@pytest.fixture
def dk(engine, pgseedd, pgseedctl):
    """An Instance with a fresh name; afterwards its daemons are stopped and
    its containers and volumes removed, whatever the test did."""
    inst = Instance(pgseedd, pgseedctl)
    try:
        yield inst
    finally:
        inst.stop_daemons()
        left = inst.purge()
        assert not left, "could not remove %s's Docker objects: %s" % (inst.name, left)


def ready(inst, **overrides):
    """A started daemon of inst, healthy; returns (daemon, /health body)."""
    d = inst.daemon(**overrides)
    return d, d.wait_healthy(timeout=180)


# -- the container ----------------------------------------------------------------

def test_start_creates_labelled_container_and_volume(dk):
    d, body = ready(dk)

    assert body["status"] == "ready"
    assert body["runtime"] == "docker"
    counts = rows_by_table(body)
    assert counts.get("comments") == 2000, body
    assert counts.get("users", 0) > 0 and counts.get("videos", 0) > 0, body
    assert body["rows_total"] == sum(counts.values())
    assert body["database"]["port"] == d.pg_port

    info = dk.container_info()
    assert info is not None, "no container %s" % dk.container
    labels = info["Config"]["Labels"]
    assert labels.get(LABEL_MANAGED) == "true", labels
    assert labels.get(LABEL_INSTANCE) == dk.name, labels
    assert labels.get(LABEL_HASH), labels
    assert info["Config"]["Image"] == IMAGE
    assert info["State"]["Running"] is True
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["HostConfig"]["RestartPolicy"]["Name"] in ("", "no"), info["HostConfig"]["RestartPolicy"]
    assert body.get("runtime_id") == info["Id"][:12]
    mounts = [(m["Type"], m.get("Name"), m["Destination"]) for m in info["Mounts"]]
    assert ("volume", dk.volume, DATA_MOUNT) in mounts, mounts

    vol = inspect("volume", dk.volume)
    assert vol is not None, "no volume %s" % dk.volume
    assert vol["Labels"].get(LABEL_MANAGED) == "true" and vol["Labels"].get(LABEL_INSTANCE) == dk.name, vol
    # One container and one volume, nothing else under our label.
    assert containers_of(dk.name) == [info["Id"]]
    assert volumes_of(dk.name) == [dk.volume]

    # A plain client on the host's loopback, at the configured port.
    assert d.sql("SELECT count(*) FROM comments") == [(2000,)]
    assert d.sql("SELECT inet_server_addr()::text, current_setting('port')::int") == [("127.0.0.1/32", d.pg_port)]
    assert d.sql("SHOW wal_level") == [("logical",)]


def test_first_start_is_starting_then_seeding_never_degraded(dk):
    """A new container initialises its cluster first (a few seconds).  Nothing
    is wrong meanwhile: /health says starting, then seeding, then ready, and
    seeding waits until Postgres accepts connections."""
    d = dk.daemon()
    seen = []

    def poll():
        assert d.proc.poll() is None, "pgseedd exited:\n" + d.read_log()
        h = health_or_none(d)
        if h and (not seen or seen[-1] != (h[1].get("status"), h[1].get("reason"))):
            seen.append((h[1].get("status"), h[1].get("reason")))
        return h is not None and h[0] == 200

    assert wait_for(poll, 180, 0.05), "never healthy; states: %s\n%s" % (seen, d.read_log())
    states = [s for s, _ in seen]
    assert "degraded" not in states, "degraded during a normal first start:\n  %s\nlog:\n%s" % (
        "\n  ".join("%s: %s" % x for x in seen), d.read_log())
    assert "Seeding failed" not in d.read_log(), d.read_log()


def test_docker_kill_is_reported_and_recovered_on_the_same_volume(dk):
    d, body = ready(dk)
    before = dk.container_info()
    d.sql("CREATE TABLE e2e_marker (v text)")
    d.sql("INSERT INTO e2e_marker VALUES ('survives docker kill')")

    docker("kill", dk.container)
    seen = []

    def saw_killed():
        h = health_or_none(d)
        if h and h[0] != 200:
            seen.append((h[0], h[1].get("status"), h[1].get("reason")))
        return any(s == 503 and "killed" in (r or "") for s, _, r in seen)

    assert wait_for(saw_killed, 30, 0.02), "no 503 saying the container was killed; saw %s\n%s" % (
        seen[-10:], d.read_log())
    t0 = time.time()
    assert wait_for(lambda: (health_or_none(d) or (0,))[0] == 200, 60, 0.2), \
        "not healthy again within 60 s after docker kill:\n" + d.read_log()
    body = d.health().json()
    assert body["restarts"] >= 1
    assert rows_by_table(body).get("comments") == 2000

    after = dk.container_info()
    assert after["State"]["Running"] is True
    assert [m.get("Name") for m in after["Mounts"] if m["Destination"] == DATA_MOUNT] == [dk.volume]
    assert containers_of(dk.name) == [after["Id"]], "a second container appeared"
    assert after["Id"] == before["Id"], "the killed container was replaced instead of restarted"
    assert d.sql("SELECT v FROM e2e_marker") == [("survives docker kill",)]
    print("healthy again %.1f s after the 503" % (time.time() - t0))


def test_outside_stop_and_removal_are_recovered_on_the_same_volume(dk):
    d, _ = ready(dk)
    first = dk.container_info()["Id"]
    d.sql("CREATE TABLE e2e_marker (v text)")
    d.sql("INSERT INTO e2e_marker VALUES ('survives docker stop and rm')")
    reasons = []

    def recovered():
        h = health_or_none(d)
        if h and h[0] != 200:
            reasons.append(h[1].get("reason") or "")
        return h is not None and h[0] == 200 and reasons

    docker("stop", dk.container)
    assert wait_for(recovered, 60, 0.02), "not healthy again after docker stop:\n" + d.read_log()
    assert any("stopped by someone else" in r for r in reasons), reasons
    assert dk.container_info()["Id"] == first

    reasons.clear()
    docker("rm", "-f", dk.container)
    assert wait_for(recovered, 60, 0.02), "not healthy again after docker rm -f:\n" + d.read_log()
    assert any("was removed" in r or "being removed" in r for r in reasons), reasons
    info = dk.container_info()
    assert info["Id"] != first and info["Config"]["Labels"].get(LABEL_INSTANCE) == dk.name
    assert containers_of(dk.name) == [info["Id"]]
    assert volumes_of(dk.name) == [dk.volume]
    assert d.sql("SELECT v FROM e2e_marker") == [("survives docker stop and rm",)]


def test_restart_adopts_the_same_container(dk):
    d, _ = ready(dk)
    first = dk.container_info()["Id"]
    d.sql("CREATE TABLE e2e_marker (v text)")
    d.sql("INSERT INTO e2e_marker VALUES ('kept across restarts')")

    assert d.stop() == 0, d.read_log()
    info = dk.container_info()
    assert info is not None, "SIGTERM removed the container"
    assert info["State"]["Running"] is False, "SIGTERM left Postgres running"

    d.start()
    body = d.wait_healthy(timeout=180)
    assert body["runtime"] == "docker"
    assert dk.container_info()["Id"] == first
    assert body.get("runtime_id") == first[:12]
    assert containers_of(dk.name) == [first]
    assert volumes_of(dk.name) == [dk.volume]
    assert "Adopted container %s" % dk.container in d.read_log()
    assert d.sql("SELECT v FROM e2e_marker") == [("kept across restarts",)]


def test_sigkilled_daemon_leaves_postgres_running_and_the_next_adopts_it(dk):
    d, _ = ready(dk)
    first = dk.container_info()
    d.proc.kill()
    d.proc.wait(10)
    # Nobody stops the container when pgseedd dies without its shutdown.
    assert dk.container_info()["State"]["Running"] is True

    d.start()
    body = d.wait_healthy(timeout=180)
    info = dk.container_info()
    assert info["Id"] == first["Id"]
    # Adopted while running: not restarted.
    assert info["State"]["StartedAt"] == first["State"]["StartedAt"]
    assert body["restarts"] == 0
    assert containers_of(dk.name) == [first["Id"]]
    assert "Adopted container %s (%s, running)" % (dk.container, first["Id"][:12]) in d.read_log()


# -- pgseedctl stop / down -----------------------------------------------------------

def ctl_ok(c, *args):
    r = c.run(*args)
    assert r.returncode == 0, "pgseedctl %s failed (%d):\n%s\n%s\nlog:\n%s" % (
        " ".join(args), r.returncode, r.stdout, r.stderr, c.daemon_log()[-4000:])
    return r


def daemon_gone(c):
    pid = pidfile_pid(c.daemon.state_dir)
    return pid is None or not process_running(pid)


def test_pgseedctl_stop_keeps_container_and_volume(dk):
    c = dk.ctl()
    ctl_ok(c, "start")
    pid = pidfile_pid(c.daemon.state_dir)
    assert pid and process_running(pid)
    d = c.daemon
    first = dk.container_info()["Id"]
    d.sql("CREATE TABLE e2e_marker (v text)")
    d.sql("INSERT INTO e2e_marker VALUES ('kept by stop')")

    ctl_ok(c, "stop")
    assert not process_running(pid), "pgseedd (pid %d) still runs after `pgseedctl stop`" % pid
    assert pidfile_pid(c.daemon.state_dir) is None
    info = dk.container_info()
    assert info is not None, "`pgseedctl stop` removed the container"
    assert info["State"]["Running"] is False, "`pgseedctl stop` left Postgres running"
    assert inspect("volume", dk.volume) is not None

    ctl_ok(c, "start")
    assert dk.container_info()["Id"] == first
    assert d.sql("SELECT v FROM e2e_marker") == [("kept by stop",)]
    ctl_ok(c, "stop")


def test_pgseedctl_down_keeps_the_volume_and_down_volumes_removes_it(dk):
    c = dk.ctl()
    ctl_ok(c, "start")
    d = c.daemon
    first = dk.container_info()["Id"]
    d.sql("CREATE TABLE e2e_marker (v text)")
    d.sql("INSERT INTO e2e_marker VALUES ('kept by down')")

    ctl_ok(c, "down")
    assert daemon_gone(c)
    assert dk.container_info() is None, "`pgseedctl down` left the container"
    assert containers_of(dk.name) == []
    assert inspect("volume", dk.volume) is not None, "`pgseedctl down` removed the volume"

    # A new container on the old volume: the data is still there.
    ctl_ok(c, "start")
    second = dk.container_info()["Id"]
    assert second != first
    assert d.sql("SELECT v FROM e2e_marker") == [("kept by down",)]

    r = ctl_ok(c, "down", "--volumes")
    assert daemon_gone(c)
    assert dk.container_info() is None, "`pgseedctl down --volumes` left the container:\n" + r.stdout + r.stderr
    assert inspect("volume", dk.volume) is None, "`pgseedctl down --volumes` left the volume:\n" + r.stdout + r.stderr
    assert containers_of(dk.name) == [] and volumes_of(dk.name) == []


# -- refusals and fallbacks -------------------------------------------------------------

def test_foreign_container_with_our_name_is_refused_and_left_alone(dk):
    foreign = docker("create", "--name", dk.container, IMAGE, "true").stdout.strip()
    d = dk.daemon(start=False)
    out = run_pgseedd(d)
    assert out.returncode != 0, "pgseedd accepted a foreign container:\n" + out.stdout + out.stderr
    err = out.stderr
    assert dk.container in err and "not managed by pgseed" in err, err
    # What to do about it.
    assert "docker rm" in err and "PGSEED_INSTANCE" in err, err

    info = inspect("container", dk.container)
    assert info is not None, "pgseedd removed the foreign container"
    assert info["Id"] == foreign
    assert info["State"]["Status"] == "created", info["State"]
    assert info["State"]["StartedAt"].startswith("0001-"), "the foreign container was started: %s" % info["State"]
    assert not info["Config"]["Labels"] or LABEL_MANAGED not in info["Config"]["Labels"]
    assert inspect("volume", dk.volume) is None, "pgseedd made a volume although it refused to start"


def test_missing_docker_socket_with_runtime_docker_fails_clearly(dk):
    d = dk.daemon(start=False, DOCKER_HOST="unix:///nonexistent.sock")
    out = run_pgseedd(d)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "/nonexistent.sock" in out.stderr, out.stderr
    assert "Docker" in out.stderr and "runtime = embedded" in out.stderr, out.stderr
    assert containers_of(dk.name) == []


def test_missing_docker_socket_with_runtime_auto_falls_back_to_embedded(dk):
    d = dk.daemon(PGSEED_RUNTIME="auto", DOCKER_HOST="unix:///nonexistent.sock")
    body = d.wait_healthy(timeout=180)
    assert body["runtime"] == "embedded", body
    assert "Docker" in body.get("runtime_reason", ""), body
    assert "nonexistent.sock" in body["runtime_reason"], body
    assert rows_by_table(body).get("comments") == 2000
    assert containers_of(dk.name) == [] and volumes_of(dk.name) == []


def test_missing_image_with_pull_never_fails_clearly(dk):
    d = dk.daemon(start=False, PGSEED_IMAGE="pgseed/does-not-exist:1")
    out = run_pgseedd(d)
    assert out.returncode == 1, out.stdout + out.stderr
    err = out.stderr
    assert "pgseed/does-not-exist:1" in err and "pull = never" in err, err
    # How to get an image without a registry.
    assert "build-local-images.sh" in err and "docker load" in err, err
    assert dk.container_info() is None and inspect("volume", dk.volume) is None


# -- /logs and /reset -------------------------------------------------------------------

def test_logs_tail_has_the_startup_lines(dk):
    d, _ = ready(dk)
    r = d.get("/logs?tail=50")
    assert r.status == 200, r.body
    assert r.headers.get("Content-Type", "").startswith("text/plain")
    lines = r.body.splitlines()
    assert 0 < len(lines) <= 50
    assert any("database system is ready to accept connections" in x for x in lines), r.body

    r = d.get("/logs?tail=5&format=json")
    assert r.status == 200, r.body
    assert r.headers.get("Content-Type", "").startswith("application/x-ndjson")
    items = [json.loads(x) for x in r.body.splitlines()]
    assert len(items) == 5, r.body
    for it in items:
        assert set(it) == {"ts", "stream", "line"}, it
        assert it["stream"] in ("stdout", "stderr"), it
        assert it["ts"].endswith("Z") and "T" in it["ts"], it


def test_logs_redact_passwords_on_the_docker_runtime(dk):
    """The container's log frames go through the same redaction as the embedded log file."""
    d, _ = ready(dk)
    secret = "dockersekrit" + secrets.token_hex(4)
    with pytest.raises(Exception):
        d.sql("ALTER ROLE nosuchrole PASSWORD '%s'" % secret)

    def logged():
        body = d.get("/logs?tail=200").body
        return body if "nosuchrole" in body else None

    body = wait_for(logged, 15, 0.3)
    assert body, d.get("/logs?tail=50").body
    assert secret not in body
    assert "PASSWORD '********'" in body
    assert secret not in d.get("/logs?tail=200&format=json").body


def test_logs_follow_streams_a_line_logged_after_the_request(dk):
    d, _ = ready(dk)
    marker = "marker-" + secrets.token_hex(6)
    conn = httpclient.HTTPConnection("127.0.0.1", d.api_port, timeout=20)
    try:
        conn.request("GET", "/logs?follow=1&tail=0&format=json")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("application/x-ndjson")
        # The stream is open: anything logged from now on has to come through it.
        d.sql("SELECT pg_sleep(0)")
        d.sql("DO $$ BEGIN RAISE LOG '%s'; END $$" % marker)
        got, deadline = [], time.time() + 20
        while time.time() < deadline:
            try:
                raw = resp.readline()
            except OSError as e:  # the socket's 20 s timeout: nothing came
                got.append({"line": "(read failed: %r)" % e})
                break
            if not raw:
                break
            item = json.loads(raw)
            got.append(item)
            if marker in item["line"]:
                break
        hit = [it for it in got if marker in it["line"]]
        assert hit, "the marker never came through the follow stream; got %s" % got[-10:]
        assert set(hit[0]) == {"ts", "stream", "line"} and hit[0]["ts"] and hit[0]["stream"] == "stderr", hit[0]
    finally:
        conn.close()
    # The daemon notices the client leaving and keeps serving.
    assert d.health().status == 200


def test_changed_password_is_set_in_the_container(dk):
    """Same volume, another PGSEED_PG_PASSWORD: pgseedd sets the role's password through the container's
    local socket (Engine API exec of psql) instead of waiting in `starting` forever."""
    first, _ = ready(dk, PGSEED_PG_PASSWORD="docker-first-1")
    # The container's environment (readable by anyone who may `docker inspect`) has no password, only a
    # SCRAM verifier, which initdb stored as the role's password.
    env = dk.container_info()["Config"]["Env"]
    assert not [v for v in env if "docker-first-1" in v], env
    assert [v for v in env if v.startswith("POSTGRES_PASSWORD=SCRAM-SHA-256$")], env
    first_id = dk.container_info()["Id"]
    assert first.stop() == 0
    second = dk.daemon(PGSEED_PG_PASSWORD="docker-second-2", PGSEED_PG_PORT=first.env["PGSEED_PG_PORT"])
    body = second.wait_healthy(timeout=120)
    assert body["status"] == "ready"
    assert second.sql("SELECT 1") == [(1,)]
    assert "set the role's password" in second.read_log()
    # The same container, adopted: a new password does not need a new one.
    assert dk.container_info()["Id"] == first_id
    for secret in ("docker-first-1", "docker-second-2"):
        assert secret not in second.read_log()
        assert not [v for v in dk.container_info()["Config"]["Env"] if secret in v]


def test_reset_works_on_the_docker_runtime(dk):
    d, body = ready(dk)
    videos = d.sql("SELECT count(*) FROM videos")[0][0]
    d.sql("INSERT INTO videos (video_id, title) VALUES ('e2e-video', 'inserted by the test')")
    assert d.sql("SELECT count(*) FROM videos WHERE video_id = 'e2e-video'") == [(1,)]

    r = d.post("/reset")
    assert r.status == 200, r.body
    assert {t["name"]: t["rows"] for t in r.json()["tables"]} == rows_by_table(body)
    assert d.sql("SELECT count(*) FROM videos WHERE video_id = 'e2e-video'") == [(0,)]
    assert d.sql("SELECT count(*) FROM videos") == [(videos,)]
    assert wait_for(lambda: (health_or_none(d) or (0,))[0] == 200, 30)
    # Reset is a database operation: same container, not restarted.
    assert containers_of(dk.name) == [dk.container_info()["Id"]]


def test_clones_on_the_docker_runtime(dk):
    """Clones on the Docker runtime, and the one crash state only it has: pgseedd
    killed while Postgres (the container) lives on, with a clone handed out
    whose lease was not recorded yet (comment still clone-pool) and a session
    on it.  The next pgseedd adopts it as a lease instead of handing it out again."""
    import psycopg2

    d, _ = ready(dk, PGSEED_CLONES_POOL="2")
    assert wait_for(lambda: d.get("/clones").json()["pool"]["ready"] == 2, 120), d.get("/clones").body
    a = d.post("/clones").json()
    b = d.post("/clones").json()
    assert a["url"] == "postgresql://app@127.0.0.1:%d/%s" % (d.pg_port, a["name"])
    d.sql("DELETE FROM comments", dbname=a["name"])
    assert d.sql("SELECT count(*) FROM comments", dbname=b["name"])[0][0] > 0
    assert d.sql("SELECT count(*) FROM comments")[0][0] > 0
    assert d.sql("SELECT count(*) FROM pg_publication", dbname=a["name"]) == [(0,)]
    assert wait_for(lambda: all(c["recorded"] for c in d.get("/clones").json()["clones"]), 10)
    d.sql("COMMENT ON DATABASE %s IS 'pgseed:{\"pgseed\":1,\"role\":\"clone-pool\"}'" % a["name"],
          dbname="postgres")
    conn = psycopg2.connect(a["url"], password="app")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.start()
    d.wait_healthy(timeout=180)
    names = {c["name"] for c in d.get("/clones").json()["clones"]}
    assert names == {a["name"], b["name"]}, names
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM comments")
        assert cur.fetchone() == (0,)
    conn.close()
    assert http_request("DELETE", d.url + "/clones/" + a["name"]).status == 202
    assert wait_for(lambda: not d.sql("SELECT 1 FROM pg_database WHERE datname = %s", (a["name"],),
                                      dbname="postgres"), 30)



def test_snapshots_on_the_docker_runtime(dk):
    """Snapshots with Postgres in a container: taken, reset from, dumped by the host's pg_dump
    over 127.0.0.1 and restored under another name, kept across a pgseedd restart that
    adopts the same container."""
    import urllib.request
    from test_dataset import content_checksums

    d, _ = ready(dk)
    d.sql("UPDATE users SET channel_name = 'docker-snap' WHERE channel_id = (SELECT min(channel_id) FROM users)")
    changed = content_checksums(d)
    r = d.post("/snapshots?name=dk", timeout=120)
    assert r.status == 201, r.body
    d.stop()
    d.start()
    d.wait_healthy(timeout=180)
    assert [s["name"] for s in d.get("/snapshots").json()["snapshots"]] == ["dk"]
    assert d.post("/reset", timeout=120).status == 200
    assert content_checksums(d) != changed
    with urllib.request.urlopen(d.url + "/snapshots/dk/dump", timeout=120) as resp:
        archive = resp.read()
    assert archive[:5] == b"PGDMP"
    req = urllib.request.Request(d.url + "/snapshots?name=carried", data=archive, method="POST",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 201
    r = d.post("/reset?from=carried", timeout=120)
    assert r.status == 200 and r.json()["strategy"] == "snapshot", r.body
    assert content_checksums(d) == changed
    assert containers_of(dk.name) == [dk.container_info()["Id"]]

# -- compose ------------------------------------------------------------------------------

def compose_env(**settings):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PGSEED_", "PGSEEDD_", "COMPOSE_")) and k != "DOCKER_SOCKET"}
    env.update(settings)
    return env


def compose(project, env, *args, timeout=300, check=True):
    # An empty --env-file: a developer's compose/.env must not change what the test runs.
    empty = os.path.join(tempfile.gettempdir(), "pgseed-test-empty.env")
    open(empty, "w").close()
    cmd = ["docker-compose", "--env-file", empty, "-f", COMPOSE_FILE]
    if project:
        cmd += ["-p", project]
    try:
        r = subprocess.run(cmd + list(args), env=env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose)")
    if check and r.returncode != 0:
        pytest.fail("`%s` failed (%d):\n%s%s" % (" ".join(cmd + list(args)), r.returncode, r.stdout, r.stderr))
    return r


def test_compose_config_validates(engine):
    r = compose(None, compose_env(), "config")
    cfg = r.stdout
    assert "pgseedd:" in cfg and "healthcheck:" in cfg and "network_mode: host" in cfg, cfg
    r = compose(None, compose_env(), "config", "--services")
    assert "pgseedd" in r.stdout.split(), r.stdout


def test_compose_up_reaches_healthy(dk):
    project = "pgseedtest" + secrets.token_hex(4)
    api_port, pg_port = free_port(), free_port()
    env = compose_env(PGSEED_IMAGE=IMAGE, PGSEED_NETWORK="host", PGSEEDD_IMAGE=PGSEEDD_IMAGE,
                      PGSEED_INSTANCE=dk.name, PGSEED_LISTEN="127.0.0.1:%d" % api_port,
                      PGSEED_PG_PORT=str(pg_port), PGSEED_COMMENTS="2000", PGSEED_PULL="never")
    image_before = inspect("image", PGSEEDD_IMAGE)
    assert image_before is not None, "image %s is missing: build it with %s" % (PGSEEDD_IMAGE, BUILD_HINT)
    try:
        compose(project, env, "up", "-d", "--no-build", "pgseedd")
        cid = compose(project, env, "ps", "-q", "pgseedd").stdout.strip()
        assert cid, "compose started no pgseedd container"
        states = []

        def healthy():
            info = inspect("container", cid)
            st = info["State"]
            states.append(st.get("Health", {}).get("Status"))
            assert st["Running"], "the pgseedd container stopped: %s\n%s" % (
                st, docker("logs", "--tail", "50", cid, check=False).stderr)
            return states[-1] == "healthy"

        assert wait_for(healthy, 240, 1), "not healthy: %s\n%s" % (
            states[-5:], docker("logs", "--tail", "80", cid, check=False).stderr)
        info = inspect("container", cid)
        assert info["Image"] == image_before["Id"], "compose used another pgseedd image than %s" % PGSEEDD_IMAGE
        assert info["HostConfig"]["NetworkMode"] == "host"

        r = http_request("GET", "http://127.0.0.1:%d/health" % api_port, timeout=10)
        assert r.status == 200, r.body
        body = r.json()
        assert body["runtime"] == "docker" and rows_by_table(body).get("comments") == 2000, body
        pg = dk.container_info()
        assert pg is not None and pg["Config"]["Labels"].get(LABEL_INSTANCE) == dk.name
    finally:
        r = compose(project, env, "down", "-v", "--timeout", "30", check=False)
        down_output = r.stdout + r.stderr
        if r.returncode != 0:
            # Whatever compose left (pgseedd has restart: unless-stopped) must not outlive the test.
            for c in ids("ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % project):
                docker("rm", "-f", "-v", c, check=False)
            for v in ids("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=%s" % project):
                docker("volume", "rm", "-f", v, check=False)
    assert r.returncode == 0, "`docker-compose down -v` failed:\n" + down_output
    assert ids("ps", "-aq", "--filter", "label=com.docker.compose.project=%s" % project) == []
    assert ids("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=%s" % project) == []
    # pgseedd stopped its Postgres on the way out (the dk fixture removes container and volume).
    pg = dk.container_info()
    assert pg is None or pg["State"]["Running"] is False, "Postgres still runs after `docker-compose down`"
    assert inspect("image", PGSEEDD_IMAGE)["Id"] == image_before["Id"], "compose rebuilt the pgseedd image"


# -- the rest of the stack on the Docker runtime (issue 12) ------------------------

def test_roles_pgbouncer_and_memory_on_docker(dk):
    from conftest import free_port
    import psycopg2
    import psycopg2.errors
    pb_port = free_port()
    d, h = ready(dk, PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(pb_port), PGSEED_PG_MEMORY="512MB")
    assert [r["name"] for r in h["roles"]] == ["app", "app_rw", "app_ro", "debezium"]
    assert wait_for(lambda: d.health().json()["pgbouncer"]["up"], 20), d.health().body
    c = psycopg2.connect(host="127.0.0.1", port=pb_port, user="app_rw", password="app_rw", dbname="app",
                         connect_timeout=5)
    c.autocommit = True
    try:
        with c.cursor() as cur:
            cur.execute("SHOW shared_buffers")
            assert cur.fetchone()[0] == "128MB"
            cur.execute("UPDATE videos SET title = title WHERE false")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("DROP TABLE videos")
    finally:
        c.close()
    r = d.post("/reset", timeout=60)
    assert r.status == 200 and '"pgbouncer_paused_ms"' in r.body, r.body
