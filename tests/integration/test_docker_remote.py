# SPDX-License-Identifier: MIT
"""A remote Docker engine: DOCKER_HOST=tcp://HOST:PORT with DOCKER_TLS_VERIFY
and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), the docker CLI's
conventions, through libcurl.

A second dockerd would need its own data root, exec root, pidfile, socket
and no bridge, and would fight the first over containerd; instead the test
puts a TLS front in front of the machine's engine, as `dockerd --tlsverify
-H tcp://...` does it: it listens on a private 127.0.0.1 port, requires a
client certificate its CA signed, and passes the bytes on to the engine's
unix socket.  The certificates are made here with openssl.  pgseedd on the
Docker runtime then runs, seeds and serves /logs through it; a client
certificate of another CA, an engine certificate ca.pem did not sign, an
engine that does not speak TLS and a missing cert.pem are each a clear
error."""

import os
import select
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import free_port, wait_for
from test_docker import dk, engine  # noqa: F401 (fixtures)

ENGINE_SOCKET = "/var/run/docker.sock"


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


class EngineFront:
    """tcp://127.0.0.1:PORT in front of the engine's socket: TLS with client certificates, or plain."""

    def __init__(self, base, tls=True):
        self.port = free_port()
        self.tls = tls
        self.handshakes = 0
        self.refused = []
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(os.path.join(base, "server.pem"), os.path.join(base, "server-key.pem"))
            self.ctx.load_verify_locations(os.path.join(base, "ca.pem"))
            self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        up = None
        try:
            conn.settimeout(10)
            if self.tls:
                try:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as err:
                    self.refused.append(str(err))
                    return
                self.handshakes += 1
            conn.settimeout(None)
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(ENGINE_SOCKET)
            # One thread per connection: OpenSSL objects are not for concurrent use.
            while not self.closed:
                ready = [conn] if self.tls and conn.pending() else select.select([conn, up], [], [], 1)[0]
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is conn else conn).sendall(data)
        except OSError:
            pass
        finally:
            for s in (conn, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def close(self):
        self.closed = True
        self.sock.close()


@pytest.fixture
def front(pki):
    f = EngineFront(pki["base"])
    yield f
    f.close()


def remote_env(front, cert_path, **kw):
    env = {"DOCKER_HOST": front.address, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": cert_path}
    env.update(kw)
    return env


def test_remote_engine_over_tls_runs_seeds_and_streams_logs(dk, front, pki):
    d = dk.daemon(**remote_env(front, pki["good"]))
    h = d.wait_healthy(timeout=180)
    assert h["runtime"] == "docker" and h["runtime_info"]["owner"] == "pgseedd", h
    # The database's host is the engine's host (here the loopback the front listens on).
    assert h["database"]["host"] == "127.0.0.1", h
    assert dk.container_info()["State"]["Running"]
    assert front.handshakes > 0 and not front.refused, front.refused
    r = d.get("/logs?tail=5")
    assert r.status == 200 and r.body.strip(), r.body
    assert d.sql("SELECT count(*) FROM comments")[0][0] > 0


def fails_with(dk, env, *needles):
    d = dk.daemon(**env)
    assert d.proc.wait(60) != 0, d.read_log()
    log = d.read_log()
    for n in needles:
        assert n in log, log
    assert dk.container_info() is None, "a container was created on the way to the error"
    return log


def test_client_certificate_of_another_ca_is_a_clear_error(dk, front, pki):
    fails_with(dk, remote_env(front, pki["wrong_client"]),
               "TLS with the Docker engine at %s failed" % front.address,
               "does not accept the client certificate", "DOCKER_CERT_PATH")
    assert front.refused, "the front never saw the handshake"


def test_engine_certificate_not_signed_by_ca_pem_is_a_clear_error(dk, front, pki):
    fails_with(dk, remote_env(front, pki["wrong_ca"]),
               "TLS with the Docker engine at %s failed" % front.address,
               "the engine's certificate is not signed by ca.pem")


def test_engine_that_does_not_speak_tls_is_a_clear_error(dk, pki):
    plain = EngineFront(pki["base"], tls=False)
    try:
        fails_with(dk, remote_env(plain, pki["good"]), "TLS with the Docker engine at %s failed" % plain.address,
                   "does not speak TLS")
    finally:
        plain.close()


def test_tls_engine_without_tls_verify_says_it_may_expect_tls(dk, front):
    fails_with(dk, {"DOCKER_HOST": front.address}, "ended the connection", "DOCKER_TLS_VERIFY=1")


def test_missing_client_key_is_a_clear_error(dk, front, pki, tmp_path):
    d = str(tmp_path / "incomplete")
    os.makedirs(d)
    for name in ("ca.pem", "cert.pem"):
        with open(os.path.join(pki["good"], name)) as f, open(os.path.join(d, name), "w") as g:
            g.write(f.read())
    fails_with(dk, remote_env(front, d), os.path.join(d, "key.pem"), "cannot be read")
