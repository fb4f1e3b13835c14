# SPDX-License-Identifier: MIT
"""A remote Docker engine: DOCKER_HOST=tcp://HOST:PORT with DOCKER_TLS_VERIFY
and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), the docker CLI's
conventions, through libcurl.

The engine is a second dockerd the test starts for itself, as a remote
engine is run: `dockerd -H tcp://127.0.0.1:PORT --tlsverify` with a CA, a
server and a client certificate the test makes with openssl.  It is private
in every path (--data-root, --exec-root, --pidfile, its unix socket, a
config file of its own so /etc/docker/daemon.json does not apply), runs its
own containerd under its exec root, and has no bridge and no iptables rules,
so the machine's engine on /var/run/docker.sock never sees it.  The image is
moved in with `docker save | docker -H unix://PRIVATE load`.  Afterwards its
containers and volumes are removed, dockerd (and its containerd) stopped,
its mounts undone and its directories deleted, also when a test failed.

pgseedd on the Docker runtime then runs, seeds, serves /logs and resets
through it, and names [postgres] advertise_host in the URLs it gives out; a
client certificate of another CA, an engine certificate ca.pem did not sign,
an engine that does not speak TLS (a second private dockerd without TLS), a
TLS engine addressed without DOCKER_TLS_VERIFY and a missing key.pem are
each a clear error."""

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import free_port, wait_for
from test_docker import IMAGE, LABEL_INSTANCE, Instance, engine  # noqa: F401 (fixture)

ADVERTISED = "db.ci.internal"


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    assert r.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), r.stdout)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s" % name,
            "-keyout", name + "-key.pem", "-out", name + ".pem", cwd=d)


def make_cert(d, ca, name, ext):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name, "-keyout", name + "-key.pem",
            "-out", name + ".csr", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + "-key.pem",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def cert_dir(base, name, ca, cert):
    """A DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem."""
    d = os.path.join(base, name)
    os.makedirs(d)
    for src, dst in ((ca + ".pem", "ca.pem"), (cert + ".pem", "cert.pem"), (cert + "-key.pem", "key.pem")):
        with open(os.path.join(base, src)) as f, open(os.path.join(d, dst), "w") as g:
            g.write(f.read())
    os.chmod(os.path.join(d, "key.pem"), 0o600)
    return d


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("pki"))
    make_ca(base, "ca")
    make_ca(base, "other-ca")
    make_cert(base, "ca", "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_cert(base, "ca", "client", "extendedKeyUsage=clientAuth\n")
    make_cert(base, "other-ca", "stranger", "extendedKeyUsage=clientAuth\n")
    return {
        "base": base,
        "good": cert_dir(base, "good", "ca", "client"),
        "wrong_client": cert_dir(base, "wrong-client", "ca", "stranger"),
        "wrong_ca": cert_dir(base, "wrong-ca", "other-ca", "client"),
    }


class PrivateEngine:
    """A dockerd of the test's own: every path under one temporary directory,
    TCP on 127.0.0.1:PORT with --tlsverify (tls=True) or plain (tls=False).
    close() leaves nothing behind; call it whatever happened."""

    def __init__(self, pki_base, tls=True):
        # Short: the unix socket's path must fit in sun_path (108 bytes).
        self.dir = tempfile.mkdtemp(prefix="pgseed-dockerd-")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.port = free_port()
        self.tls = tls
        self.proc = None
        self.log_path = os.path.join(self.dir, "dockerd.log")
        config = os.path.join(self.dir, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")
        args = ["dockerd", "--config-file", config,
                "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "exec"),
                "--pidfile", os.path.join(self.dir, "dockerd.pid"),
                "-H", "unix://" + self.socket, "-H", "tcp://127.0.0.1:%d" % self.port,
                "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
                "--userland-proxy=false", "--log-level=info"]
        if tls:
            args += ["--tlsverify", "--tlscacert", os.path.join(pki_base, "ca.pem"),
                     "--tlscert", os.path.join(pki_base, "server.pem"),
                     "--tlskey", os.path.join(pki_base, "server-key.pem")]
        with open(self.log_path, "w") as log:
            # Its own session: a ^C to pytest does not reach it before close() does.
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if not wait_for(lambda: self.proc.poll() is not None or self.cli("version", check=False).returncode == 0,
                        90, interval=0.5) or self.proc.poll() is not None:
            pytest.fail("a private dockerd did not start:\n%s" % self.log_tail())

    @property
    def address(self):
        return "tcp://127.0.0.1:%d" % self.port

    def log_tail(self, n=40):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def cli(self, *args, check=True, timeout=120, **kw):
        """`docker -H unix://PRIVATE ARGS`: the private engine only, never the machine's."""
        r = subprocess.run(["docker", "-H", "unix://" + self.socket] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=dict(os.environ, DOCKER_HOST=""),
                           **kw)
        if check and r.returncode != 0:
            pytest.fail("`docker %s` on the private engine failed:\n%s%s" % (" ".join(map(str, args)), r.stdout,
                                                                            r.stderr))
        return r

    def load(self, image):
        """Moves image in from the machine's engine (read-only there: `docker save`)."""
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            r = subprocess.run(["docker", "-H", "unix://" + self.socket, "load"], stdin=save.stdout,
                               capture_output=True, text=True, timeout=600)
        finally:
            save.stdout.close()
            save.wait(600)
        assert save.returncode == 0 and r.returncode == 0, "docker save | load failed: %s%s" % (r.stdout, r.stderr)

    def inspect(self, kind, name):
        r = self.cli(kind, "inspect", name, check=False)
        return json.loads(r.stdout)[0] if r.returncode == 0 else None

    def purge(self):
        """Removes every container and volume in the private engine (all of them are the test's)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for c in self.cli("ps", "-aq", check=False).stdout.split():
            self.cli("rm", "-f", "-v", c, check=False)
        for v in self.cli("volume", "ls", "-q", check=False).stdout.split():
            self.cli("volume", "rm", "-f", v, check=False)

    def close(self):
        self.purge()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        # dockerd stops its containerd on the way out; one left over by a SIGKILL is stopped by its pid file.
        try:
            with open(os.path.join(self.dir, "exec", "containerd", "containerd.pid")) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0 and os.path.exists("/proc/%d" % pid):
                os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        # The network namespace dockerd binds under its exec root (and any overlay it left) are mounts.
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not os.path.exists(self.dir), "could not remove %s" % self.dir


@pytest.fixture(scope="module")
def remote(engine, pki):
    """The private TLS engine with the image loaded; torn down after the module, also on failure."""
    e = None
    try:
        e = PrivateEngine(pki["base"])
        e.load(IMAGE)
        yield e
    finally:
        if e is not None:
            e.close()


class RemoteInstance(Instance):
    """test_docker's Instance, observed and cleaned up on the private engine instead of the machine's."""

    def __init__(self, pgseedd, pgseedctl, eng):
        super().__init__(pgseedd, pgseedctl)
        self.eng = eng

    def container_info(self):
        return self.eng.inspect("container", self.container)

    def purge(self):
        for c in self.eng.cli("ps", "-aq", "--filter", "label=%s=%s" % (LABEL_INSTANCE, self.name)).stdout.split():
            self.eng.cli("rm", "-f", "-v", c, check=False)
        self.eng.cli("rm", "-f", "-v", self.container, check=False)
        self.eng.cli("volume", "rm", "-f", self.volume, check=False)
        return [x for x in (self.container, self.volume) if self.eng.inspect(
            "container" if x == self.container else "volume", x) is not None]


@pytest.fixture
def rk(remote, pgseedd, pgseedctl):
    inst = RemoteInstance(pgseedd, pgseedctl, remote)
    try:
        yield inst
    finally:
        inst.stop_daemons()
        left = inst.purge()
        assert not left, "could not remove %s's objects from the private engine: %s" % (inst.name, left)


def remote_env(eng, cert_path, **kw):
    env = {"DOCKER_HOST": eng.address, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": cert_path}
    env.update(kw)
    return env


def test_remote_engine_over_tls_runs_seeds_streams_logs_and_resets(rk, remote, pki):
    d = rk.daemon(**remote_env(remote, pki["good"]))
    h = d.wait_healthy(timeout=180)
    assert h["runtime"] == "docker" and h["runtime_info"]["owner"] == "pgseedd", h
    # The database's host is the engine's host (here the loopback the private engine listens on).
    assert h["database"]["host"] == "127.0.0.1", h
    info = rk.container_info()
    assert info and info["State"]["Running"], "the container is not in the private engine"
    assert info["Config"]["Labels"][LABEL_INSTANCE] == rk.name
    r = d.get("/logs?tail=5")
    assert r.status == 200 and r.body.strip(), r.body
    assert d.sql("SELECT count(*) FROM comments")[0][0] > 0
    d.sql("DELETE FROM comments")
    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body
    assert d.sql("SELECT count(*) FROM comments")[0][0] > 0


def test_remote_engine_urls_name_the_advertised_host(rk, remote, pki):
    d = rk.daemon(**remote_env(remote, pki["good"], PGSEED_ADVERTISE_HOST=ADVERTISED, PGSEED_CLONES_POOL="1"))
    h = d.wait_healthy(timeout=180)
    db = h["database"]
    assert db["host"] == ADVERTISED and db["url"] == "postgresql://app@%s:%d/app" % (ADVERTISED, d.pg_port), db
    # pgseedd itself still connects where the engine is.
    assert db["connected_via"] == "127.0.0.1", db
    r = d.post("/clones?timeout=60", timeout=90)
    assert r.status == 201, r.body
    c = r.json()
    assert c["url"] == "postgresql://app@%s:%d/%s" % (ADVERTISED, d.pg_port, c["name"]), c
    # The clones live in the engine's volume: the disk guard asks the engine's side, and says so.
    disk = d.get("/clones").json()["pool"]["disk"]
    assert disk["checked"] is True and "engine" in disk["where"] and disk["free_mb"] > 0, disk


def test_disk_floor_asks_the_engines_side(rk, remote, pki):
    """[clones] min_free_mb on a remote engine is checked in the container, on the engine's disk."""
    d = rk.daemon(**remote_env(remote, pki["good"], PGSEED_CLONES_POOL="0",
                               PGSEED_CLONES_MIN_FREE_MB="100000000"))
    d.wait_healthy(timeout=180)
    r = d.post("/clones?timeout=1")
    assert r.status == 507, r.body
    msg = r.json()["error"]["message"]
    assert "on the volume %s on the Docker engine's host" % rk.volume in msg, msg
    disk = d.get("/clones").json()["pool"]["disk"]
    assert disk["checked"] is True and disk["low"] is True and disk["free_mb"] < 100000000, disk


def fails_with(rk, env, *needles):
    d = rk.daemon(**env)
    assert d.proc.wait(60) != 0, d.read_log()
    log = d.read_log()
    for n in needles:
        assert n in log, log
    assert rk.container_info() is None, "a container was created on the way to the error"
    return log


def test_client_certificate_of_another_ca_is_a_clear_error(rk, remote, pki):
    fails_with(rk, remote_env(remote, pki["wrong_client"]),
               "TLS with the Docker engine at %s failed" % remote.address,
               "does not accept the client certificate", "DOCKER_CERT_PATH")


def test_engine_certificate_not_signed_by_ca_pem_is_a_clear_error(rk, remote, pki):
    fails_with(rk, remote_env(remote, pki["wrong_ca"]),
               "TLS with the Docker engine at %s failed" % remote.address,
               "the engine's certificate is not signed by ca.pem")


def test_engine_that_does_not_speak_tls_is_a_clear_error(rk, pki):
    plain = None
    try:
        plain = PrivateEngine(pki["base"], tls=False)
        fails_with(rk, remote_env(plain, pki["good"]), "TLS with the Docker engine at %s failed" % plain.address,
                   "does not speak TLS")
    finally:
        if plain is not None:
            plain.close()


def test_tls_engine_without_tls_verify_says_it_may_expect_tls(rk, remote):
    fails_with(rk, {"DOCKER_HOST": remote.address}, "DOCKER_TLS_VERIFY=1")


def test_missing_client_key_is_a_clear_error(rk, remote, pki, tmp_path):
    d = str(tmp_path / "incomplete")
    os.makedirs(d)
    for name in ("ca.pem", "cert.pem"):
        with open(os.path.join(pki["good"], name)) as f, open(os.path.join(d, name), "w") as g:
            g.write(f.read())
    fails_with(rk, remote_env(remote, d), os.path.join(d, "key.pem"), "cannot be read")


def test_the_machines_engine_never_saw_the_private_one(engine, remote):
    """Nothing of the private engine's leaks into the machine's: no container of ours, its own root."""
    r = subprocess.run(["docker", "info", "--format", "{{.DockerRootDir}}"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, DOCKER_HOST=""))
    assert r.returncode == 0 and not r.stdout.strip().startswith(remote.dir), r.stdout
    assert remote.cli("info", "--format", "{{.DockerRootDir}}").stdout.strip().startswith(remote.dir)
