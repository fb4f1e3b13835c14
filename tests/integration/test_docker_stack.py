# SPDX-License-Identifier: MIT
"""The rest of issue 12's stack on the Docker runtime: TLS ([postgres] tls =
on/require) and WAL archiving ([postgres] wal_archive_dir) with Postgres in
the container.  The certificate, key and pg_hba.conf made in the state
directory are mounted read-only into the container and copied by its
entrypoint to the container's own postgres user; the archive directory on
the host is mounted where archive_command writes.  Uses test_docker.py's
`dk` fixture (a private instance name, its containers and volume removed
afterwards) and fails without an engine or the local image."""

import os
import re
import subprocess
import tempfile

from conftest import wait_for
from test_docker import dk, docker, engine, ready  # noqa: F401 (fixtures)


def psql(url, sql="SELECT 1", password="app"):
    return subprocess.run(["psql", url, "-XAtc", sql], env=dict(os.environ, PGPASSWORD=password),
                          capture_output=True, text=True, timeout=30)


def container_stat(dk, path):
    return docker("exec", dk.container, "stat", "-c", "%U %a", path).stdout.strip()


def test_tls_required_on_docker_verifies_the_printed_url_and_refuses_plain_clients(dk):
    ctl = dk.ctl(PGSEED_PG_TLS="require")
    r = ctl.run("start", timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr + ctl.daemon_log()
    d = ctl.daemon
    ca = os.path.join(d.state_dir, "tls", "ca.crt")
    urls = re.findall(r"postgresql://\S+sslrootcert=\S+", r.stdout)
    assert urls and all(ca in u for u in urls), r.stdout
    # The connection string pgseedctl printed, verified against the private CA.
    r = psql(urls[0], "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert r.returncode == 0 and r.stdout.strip() == "t", r.stderr
    # TLS is required: a client without it is refused by pg_hba.conf.
    r = psql("postgresql://app@127.0.0.1:%d/app?sslmode=disable" % d.pg_port)
    assert r.returncode != 0 and "no encryption" in r.stderr, r.stderr
    h = d.health().json()
    assert h["tls"]["required"] is True and h["tls"]["ca_file"] == ca, h["tls"]
    # The key the server reads is its own user's inside the container; the CA's key never goes in.
    assert container_stat(dk, "/var/lib/postgresql/pgseed-tls/server.key") == "postgres 600"
    mounts = [m["Source"] for m in dk.container_info()["Mounts"]]
    assert not [m for m in mounts if m.endswith("ca.key")], mounts
    # pgseedd's own work (probes, resets) goes over TLS too.
    assert d.post("/reset?mode=inplace", timeout=60).status == 200
    assert d.post("/reset", timeout=60).status == 200
    # A restart adopts the container and keeps the CA that clients trust.
    with open(ca) as f:
        first_ca = f.read()
    cid = dk.container_info()["Id"]
    r = ctl.run("stop", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = ctl.run("start", timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr + ctl.daemon_log()
    assert dk.container_info()["Id"] == cid
    with open(ca) as f:
        assert f.read() == first_ca
    assert psql(urls[0]).returncode == 0


def test_tls_on_docker_admits_both(dk):
    d, h = ready(dk, PGSEED_PG_TLS="on")
    ca = h["tls"]["ca_file"]
    r = psql("postgresql://app@localhost:%d/app?sslmode=verify-full&sslrootcert=%s" % (d.pg_port, ca))
    assert r.returncode == 0, r.stderr
    r = psql("postgresql://app@127.0.0.1:%d/app?sslmode=disable" % d.pg_port,
             "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert r.returncode == 0 and r.stdout.strip() == "f", r.stderr


def test_wal_archive_on_docker(dk):
    archive = os.path.join(tempfile.mkdtemp(prefix="pgseed-test-archive-", dir="/tmp"), "wal")
    try:
        d, _ = ready(dk, PGSEED_PG_WAL_ARCHIVE_DIR=archive)
        assert d.sql("SELECT current_setting('archive_mode')") == [("on",)]
        d.sql("CREATE TABLE wal_filler AS SELECT g FROM generate_series(1, 10000) g")
        segment = d.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0]
        d.sql("SELECT pg_switch_wal()")
        # The segment arrives in the host's directory, written by the container's server.
        assert wait_for(lambda: os.path.exists(os.path.join(archive, segment)), 30), os.listdir(archive)
        assert os.path.getsize(os.path.join(archive, segment)) == 16 * 1024 * 1024
        assert wait_for(lambda: d.sql("SELECT archived_count > 0 FROM pg_stat_archiver") == [(True,)], 10)
        assert d.sql("SELECT failed_count FROM pg_stat_archiver") == [(0,)]
    finally:
        subprocess.run(["rm", "-rf", os.path.dirname(archive)], check=False)
