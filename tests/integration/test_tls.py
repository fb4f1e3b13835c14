# SPDX-License-Identifier: MIT
"""TLS for Postgres (issue 12): a private CA and a certificate for localhost
and 127.0.0.1 made at the first start, or the user's own; required TLS
refuses clients without it, on Postgres and on PgBouncer."""

import os
import shutil
import stat
import subprocess

import pytest

from conftest import free_port


def psql(url, sql="SELECT 1", password="app"):
    return subprocess.run(["psql", url, "-XAtc", sql], env=dict(os.environ, PGPASSWORD=password),
                          capture_output=True, text=True, timeout=30)


def verify_url(d, ca, host="127.0.0.1", port=None, user="app"):
    return "postgresql://%s@%s:%d/app?sslmode=verify-full&sslrootcert=%s" % (user, host, port or d.pg_port, ca)


def test_tls_on_generates_a_ca_and_verifies(pgseedd, tmp_path):
    d = pgseedd(PGSEED_PG_TLS="on")
    h = d.wait_healthy()
    tls = h["tls"]
    ca = os.path.join(d.state_dir, "tls", "ca.crt")
    assert tls == {"mode": "on", "required": False, "cert_file": os.path.join(d.state_dir, "tls", "server.crt"),
                   "ca_file": ca, "url": verify_url(d, ca)}
    for host in ("127.0.0.1", "localhost"):
        r = psql(verify_url(d, ca, host), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert r.returncode == 0 and r.stdout.strip() == "t", r.stderr
    # Not required: a client without TLS still gets in.
    r = psql("postgresql://app@127.0.0.1:%d/app?sslmode=disable" % d.pg_port)
    assert r.returncode == 0, r.stderr
    # Another CA does not verify the server.
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(other / "k"), "-out", str(other / "c"), "-subj", "/CN=x",
                    "-days", "1"], check=True, capture_output=True)
    r = psql(verify_url(d, other / "c"))
    assert r.returncode != 0 and "certificate verify failed" in r.stderr, r.stderr
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(os.path.join(d.state_dir, "tls", key)).st_mode) == 0o600
    with open(ca) as f:
        first_ca = f.read()
    # A restart keeps the CA that clients already trust.
    assert d.stop() == 0
    d.start()
    d.wait_healthy()
    with open(ca) as f:
        assert f.read() == first_ca
    assert psql(verify_url(d, ca)).returncode == 0
    assert d.post("/reset", timeout=60).status == 200


def test_tls_required_refuses_plain_clients(pgseedd):
    d = pgseedd(PGSEED_PG_TLS="require", PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(free_port()))
    h = d.wait_healthy()
    assert h["tls"]["required"] is True
    ca = h["tls"]["ca_file"]
    r = psql("postgresql://app@127.0.0.1:%d/app?sslmode=disable" % d.pg_port)
    assert r.returncode != 0 and "no encryption" in r.stderr, r.stderr
    assert psql(verify_url(d, ca)).returncode == 0
    # The replication role streams over TLS too, and only over it.
    env = dict(os.environ, PGPASSWORD="debezium")
    base = "host=127.0.0.1 port=%d user=debezium dbname=app" % d.pg_port
    r = subprocess.run(["pg_recvlogical", "-d", base + " sslmode=disable", "--slot", "t", "--create-slot",
                        "-P", "pgoutput"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stderr
    r = subprocess.run(["pg_recvlogical", "-d", base + " sslmode=verify-full sslrootcert=" + ca, "--slot", "t",
                        "--create-slot", "-P", "pgoutput"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    subprocess.run(["pg_recvlogical", "-d", base + " sslmode=require", "--slot", "t", "--drop-slot"], env=env,
                   capture_output=True, text=True, timeout=30)
    # pgseedd's own work (probes, resets) goes over TLS.
    assert d.post("/reset?mode=inplace", timeout=60).status == 200
    # PgBouncer requires it from its clients as well, and verifies with the same CA.
    pb = d.health().json()["pgbouncer"]
    assert pb["up"], pb
    port = pb["port"]
    r = psql("postgresql://app_rw@127.0.0.1:%d/app?sslmode=disable" % port, password="app_rw")
    assert r.returncode != 0 and "SSL required" in r.stderr, r.stderr
    r = psql(verify_url(d, ca, port=port, user="app_rw"), "SELECT count(*) FROM videos", password="app_rw")
    assert r.returncode == 0 and int(r.stdout) > 0, r.stderr


def test_users_own_certificate(pgseedd, tmp_path):
    # A CA and a certificate made outside pgseedd, as a user would bring them.
    ca_key, ca_crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    key, csr, crt, ext = tmp_path / "s.key", tmp_path / "s.csr", tmp_path / "s.crt", tmp_path / "ext"
    ext.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(["openssl", "req", "-x509"] + ec + ["-keyout", str(ca_key), "-out", str(ca_crt), "-subj",
                   "/CN=my CA", "-days", "2"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new"] + ec + ["-keyout", str(key), "-out", str(csr), "-subj",
                   "/CN=localhost"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext)], check=True,
                   capture_output=True)
    d = pgseedd(PGSEED_PG_TLS="on", PGSEED_PG_TLS_CERT_FILE=str(crt), PGSEED_PG_TLS_KEY_FILE=str(key),
                PGSEED_PG_TLS_CA_FILE=str(ca_crt))
    h = d.wait_healthy()
    assert h["tls"]["ca_file"] == str(ca_crt)
    assert not os.path.exists(os.path.join(d.state_dir, "tls", "ca.key"))
    r = psql(verify_url(d, ca_crt))
    assert r.returncode == 0, r.stderr


def test_cert_without_key_is_a_config_error(pgseedd, tmp_path):
    d = pgseedd(PGSEED_PG_TLS="on", PGSEED_PG_TLS_CERT_FILE=str(tmp_path / "x.crt"))
    assert d.proc.wait(30) == 2
    assert "tls_cert_file and tls_key_file go together" in d.read_log()


def test_pgseedctl_start_prints_the_ca(pgseedctl):
    ctl = pgseedctl(PGSEED_PG_TLS="on")
    r = ctl.run("start", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr + ctl.daemon_log()
    ca = os.path.join(ctl.daemon.state_dir, "tls", "ca.crt")
    assert "  TLS:      on; CA certificate %s\n" % ca in r.stdout, r.stdout
    assert "sslmode=verify-full&sslrootcert=%s" % ca in r.stdout
