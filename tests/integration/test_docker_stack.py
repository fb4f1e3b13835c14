# SPDX-License-Identifier: MIT
"""The rest of issue 12's stack on the Docker runtime: TLS ([postgres] tls =
on/require), WAL archiving ([postgres] wal_archive_dir) with Postgres in
the container, and PgBouncer in a container of its own (pgseed/pgbouncer:1,
host network) that pgseedd supervises like Postgres's.  The certificate, key and pg_hba.conf made in the state
directory are mounted read-only into the container and copied by its
entrypoint to the container's own postgres user; the archive directory on
the host is mounted where archive_command writes.  Uses test_docker.py's
`dk` fixture (a private instance name, its containers and volume removed
afterwards) and fails without an engine or the local image."""

import os
import re
import signal
import stat
import subprocess
import tempfile

import psycopg2

from conftest import free_port, pidfile_pid, wait_for
from test_docker import LABEL_INSTANCE, LABEL_MANAGED, dk, docker, engine, inspect, ready  # noqa: F401
from test_pgbouncer import bench_during_resets

PGBOUNCER_IMAGE = os.environ.get("PGSEED_TEST_PGBOUNCER_IMAGE", "pgseed/pgbouncer:1")


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


# -- PgBouncer in its own container ----------------------------------------------

def pooled(dk, **overrides):
    """A healthy daemon with PgBouncer on a free port; returns (daemon, its /health pgbouncer object)."""
    if inspect("image", PGBOUNCER_IMAGE) is None:
        raise AssertionError("Image %s is missing: build it with compose/build-local-images.sh (`make images`)"
                             % PGBOUNCER_IMAGE)
    port = free_port()
    d, _ = ready(dk, PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(port), **overrides)
    d.pb_port = port
    pb = wait_for(lambda: (lambda p: p if p["up"] else None)(d.health().json()["pgbouncer"]), 30)
    assert pb, d.health().body
    return d, pb


def pooler_query(d, sql, user="app_ro", password="app_ro"):
    c = psycopg2.connect(host="127.0.0.1", port=d.pb_port, user=user, password=password, dbname="app",
                         connect_timeout=5)
    try:
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        c.close()


def test_pgbouncer_runs_in_its_own_container(dk):
    d, pb = pooled(dk)
    name = dk.name + "-pgbouncer"
    info = inspect("container", name)
    assert info is not None, "no container %s" % name
    assert pb["container"] == info["Id"][:12] and pb["pid"] is None, pb
    assert info["Config"]["Image"] == PGBOUNCER_IMAGE
    assert info["Config"]["Labels"].get(LABEL_MANAGED) == "true"
    assert info["Config"]["Labels"].get(LABEL_INSTANCE) == dk.name
    assert info["HostConfig"]["NetworkMode"] == "host"
    assert info["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")
    # Never root (PgBouncer refuses it): the owner of the files pgseedd wrote, which it reads read-only.
    uid = os.stat(os.path.join(d.state_dir, "pgbouncer", "userlist.txt")).st_uid
    assert info["Config"]["User"].split(":")[0] == str(uid) != "0", info["Config"]["User"]
    mounts = {m["Source"]: m for m in info["Mounts"]}
    pbdir = os.path.join(d.state_dir, "pgbouncer")
    assert pbdir in mounts and mounts[pbdir]["RW"] is False, mounts
    assert stat.S_IMODE(os.stat(pbdir).st_mode) == 0o700
    for f in ("userlist.txt", "pgbouncer.ini"):
        assert stat.S_IMODE(os.stat(os.path.join(pbdir, f)).st_mode) == 0o600
    # Through the pooler to the container's Postgres.
    assert pooler_query(d, "SELECT count(*) > 0, current_setting('port')::int FROM videos") == [(True, d.pg_port)]
    assert re.search(r"^pgseed_pgbouncer_up 1$", d.get("/metrics").body, re.M)
    # Stopping pgseedd takes the container along.
    assert d.stop() == 0
    assert inspect("container", name) is None


def test_pgbench_through_the_pgbouncer_container_during_resets(dk, tmp_path):
    d, _ = pooled(dk, PGSEED_PG_TLS="require")
    # Over TLS, verified, as the production-like profile would connect.
    bench_during_resets(d, d.pb_port, tmp_path, "verify-full", d.health().json()["tls"]["ca_file"])


def test_killed_pgbouncer_container_is_restarted(dk):
    d, pb = pooled(dk)
    name = dk.name + "-pgbouncer"
    docker("kill", name)
    pb2 = wait_for(lambda: (lambda p: p if p["up"] and p["container"] not in (None, pb["container"]) else None)(
        d.health().json()["pgbouncer"]), 30)
    assert pb2, d.health().body
    assert pb2["restarts"] >= 1
    assert "killed (exit code 137, SIGKILL)" in d.read_log(), d.read_log()
    assert pooler_query(d, "SELECT count(*) > 0 FROM users") == [(True,)]
    # pgseedd killed with -9 leaves the container holding the port: the next start replaces it.
    os.kill(pidfile_pid(d.state_dir), signal.SIGKILL)
    d.proc.wait(10)
    assert inspect("container", name)["State"]["Running"] is True
    d.start()
    d.wait_healthy(timeout=180)
    assert wait_for(lambda: d.health().json()["pgbouncer"]["up"], 30), d.health().body
    assert pooler_query(d, "SELECT 1") == [(1,)]


def test_tls_required_through_the_pgbouncer_container(dk):
    d, pb = pooled(dk, PGSEED_PG_TLS="require")
    ca = d.health().json()["tls"]["ca_file"]
    url = "postgresql://app_rw@127.0.0.1:%d/app" % d.pb_port
    r = psql(url + "?sslmode=disable", password="app_rw")
    assert r.returncode != 0 and "SSL required" in r.stderr, r.stderr
    r = psql(url + "?sslmode=verify-full&sslrootcert=" + ca, "SELECT count(*) FROM videos", password="app_rw")
    assert r.returncode == 0 and int(r.stdout) > 0, r.stderr


def test_missing_pgbouncer_image_is_reported(dk):
    d, _ = ready(dk, PGSEED_PGBOUNCER="1", PGSEED_PGBOUNCER_PORT=str(free_port()),
                 PGSEED_PGBOUNCER_IMAGE="pgseed/pgbouncer:no-such-tag")
    reason = wait_for(lambda: (lambda p: p.get("reason") if "not present" in (p.get("reason") or "") else None)(
        d.health().json()["pgbouncer"]), 20)
    assert reason and "pgseed/pgbouncer:no-such-tag" in reason, d.health().body
    assert "make images" in d.read_log()
