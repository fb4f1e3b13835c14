# SPDX-License-Identifier: MIT
"""runtime = external: pgseedd attaches to a Postgres it does not own (here a
cluster this test makes with initdb and runs with pg_ctl as the postgres user,
on a private port): seeding, both resets, clones, /schema and /sample work
against it; /logs says it has no access to the server log; a server that goes
away is reported `down` with the reason and waited for, never restarted; a
role's missing rights are named with the feature that needs them."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import psycopg2
import pytest

from conftest import free_port, http, wait_for

PASSWORD = "ext-secret"


def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    assert dirs, "no Postgres server binaries under /usr/lib/postgresql (apt-get install postgresql)"
    return os.path.dirname(dirs[-1])


class Cluster:
    """A Postgres cluster owned by the postgres user (the server refuses to run as root)."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="pgseed-ext11-", dir="/tmp")
        self.pgdata = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.port = free_port()
        pw = pwd.getpwnam("postgres")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.chown(self.dir, self.uid, self.gid)
        os.chmod(self.dir, 0o700)

    def _demote(self):
        os.setgid(self.gid)
        os.setuid(self.uid)

    def run(self, *args, check=True):
        r = subprocess.run([os.path.join(self.bindir, args[0])] + list(args[1:]), preexec_fn=self._demote,
                           cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if check:
            assert r.returncode == 0, "%s failed:\n%s" % (args[0], r.stdout)
        return r

    def init(self):
        self.run("initdb", "-D", self.pgdata, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                 "--auth-local=trust", "--auth-host=scram-sha-256")
        return self

    def start(self):
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off" % (
            self.port, self.dir)
        self.run("pg_ctl", "-D", self.pgdata, "-l", self.logfile, "-w", "-t", "60", "-o", opts, "start")
        return self

    def stop(self):
        return self.run("pg_ctl", "-D", self.pgdata, "-m", "fast", "-w", "-t", "60", "stop", check=False)

    def running(self):
        return self.run("pg_ctl", "-D", self.pgdata, "status", check=False).returncode == 0

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.pgdata, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def sql(self, query):
        """As the superuser over the cluster's own socket."""
        conn = psycopg2.connect(host=self.dir, port=self.port, user="postgres", dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def destroy(self):
        if os.path.exists(os.path.join(self.pgdata, "postmaster.pid")):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().init().start()
    # An ordinary role, as a platform team hands out: CREATEDB and the right to set
    # session_replication_role (in-place resets), no superuser, no REPLICATION.
    c.sql("CREATE ROLE app LOGIN CREATEDB PASSWORD '%s'" % PASSWORD)
    c.sql("GRANT SET ON PARAMETER session_replication_role TO app")
    c.sql("CREATE ROLE nocreate LOGIN PASSWORD '%s'" % PASSWORD)
    c.sql("CREATE ROLE noinplace LOGIN CREATEDB PASSWORD '%s'" % PASSWORD)
    yield c
    c.destroy()


def health_json(d):
    """/health's body, or None while pgseedd does not listen yet."""
    try:
        return d.health().json()
    except (OSError, ValueError):
        return None


def external(pgseedd, cluster, user="app", **kw):
    env = dict(PGSEED_RUNTIME="external",
               PGSEED_PG_URL="postgresql://%s@127.0.0.1:%d/seeded" % (user, cluster.port),
               PGSEED_PG_PORT=str(cluster.port), PGSEED_PG_USER=user, PGSEED_PG_DB="seeded",
               PGSEED_PG_PASSWORD=PASSWORD)
    env.update(kw)
    return pgseedd(**env)


@pytest.fixture(scope="module")
def attached_cluster(cluster):
    return cluster


def test_seed_reset_clone_against_a_server_pgseedd_does_not_own(pgseedd, cluster):
    d = external(pgseedd, cluster)
    h = d.wait_healthy(timeout=120)
    assert h["runtime"] == "external", h
    info = h["runtime_info"]
    assert info["owner"] == "external" and info["server"] == "127.0.0.1:%d" % cluster.port, info
    assert h["database"]["host"] == "127.0.0.1" and h["database"]["port"] == cluster.port, h
    assert h["rows_total"] > 0, h
    # The role's rights, checked up front, each with the feature that needs it.
    role = info["role"]
    assert role["checked"] and not role["superuser"] and role["createdb"] and not role["replication"], info
    by_needs = {f["needs"]: f for f in info["features"]}
    assert by_needs["CREATEDB"]["ok"], info
    assert not by_needs["REPLICATION"]["ok"], info
    assert by_needs["REPLICATION"]["grant"] == "ALTER ROLE app REPLICATION", info
    assert "replication slots" in by_needs["REPLICATION"]["feature"], info
    log = d.read_log()
    assert "Role app lacks REPLICATION" in log and "ALTER ROLE app REPLICATION" in log, log

    # The seeded database lives on that server.
    assert cluster.sql("SELECT count(*) FROM pg_database WHERE datname = 'seeded'") == [(1,)]
    before = d.sql("SELECT count(*) FROM comments")[0][0]
    d.sql("DELETE FROM comments")
    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body
    assert d.sql("SELECT count(*) FROM comments")[0][0] == before
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 10)")
    r = d.post("/reset?mode=inplace", timeout=120)
    assert r.status == 200, r.body
    assert d.sql("SELECT count(*) FROM comments")[0][0] == before

    r = d.post("/clones?timeout=60", timeout=90)
    assert r.status == 201, r.body
    lease = r.json()
    assert lease["url"] == "postgresql://app@127.0.0.1:%d/%s" % (cluster.port, lease["name"]), lease
    assert d.sql("SELECT count(*) FROM comments", dbname=lease["name"])[0][0] == before
    r = http("DELETE", d.url + "/clones/" + lease["name"])
    assert r.status in (200, 202, 204), r.body
    assert wait_for(lambda: cluster.sql("SELECT count(*) FROM pg_database WHERE datname = '%s'"
                                        % lease["name"]) == [(0,)], 30)

    r = d.get("/schema")
    assert r.status == 200 and "comments" in r.body, r.body
    r = d.get("/sample?table=comments&limit=3")
    assert r.status == 200, r.body

    # No server log to read: a clear answer, not a 500.
    r = d.get("/logs")
    assert r.status == 501, r.body
    err = r.json()["error"]
    assert err["code"] == "no_log_access" and "127.0.0.1:%d" % cluster.port in err["message"], err

    # pgseedd stops; the server it does not own keeps running.
    pid = cluster.postmaster_pid()
    assert d.stop() == 0
    assert cluster.running() and cluster.postmaster_pid() == pid


def test_disk_floor_says_it_checks_nothing_remote_and_urls_name_the_advertised_host(pgseedd, cluster):
    """pgseedd cannot see an external server's disk: [clones] min_free_mb must not measure its own
    state directory instead (a huge floor here refused every clone), and GET /clones says so."""
    d = external(pgseedd, cluster, PGSEED_CLONES_POOL="0", PGSEED_CLONES_MIN_FREE_MB="100000000",
                 PGSEED_ADVERTISE_HOST="pg.ci.internal")
    h = d.wait_healthy(timeout=120)
    assert h["database"]["host"] == "pg.ci.internal" and h["database"]["connected_via"] == "127.0.0.1", h
    r = d.post("/clones?timeout=60", timeout=90)
    assert r.status == 201, r.body
    lease = r.json()
    assert lease["url"] == "postgresql://app@pg.ci.internal:%d/%s" % (cluster.port, lease["name"]), lease
    disk = d.get("/clones").json()["pool"]["disk"]
    assert disk["checked"] is False and disk["min_free_mb"] == 100000000, disk
    assert "checks nothing" in disk["note"] and "external runtime cannot see" in disk["reason"], disk
    assert http("DELETE", d.url + "/clones/" + lease["name"]).status in (200, 202, 204)


def test_server_gone_is_down_waited_for_and_never_restarted(pgseedd, cluster):
    d = external(pgseedd, cluster)
    d.wait_healthy(timeout=120)
    try:
        cluster.stop()
        assert not cluster.running()

        def down():
            b = d.health().json()
            return b if b["status"] == "down" else None
        b = wait_for(down, 20)
        assert b, d.health().body
        assert "127.0.0.1:%d" % cluster.port in b["reason"] and "does not answer" in b["reason"], b
        assert "waiting for it to come back" in b["reason"] or "checking again" in b["reason"], b
        assert "restarting" not in b["reason"], b
        # Waited for with backoff: nobody started the server behind the test's back.
        time.sleep(4)
        assert not cluster.running()
        assert cluster.postmaster_pid() is None
        b = d.health().json()
        assert b["status"] == "down" and b["restarts"] == 0, b
        assert "checking again in" in b["reason"], b
    finally:
        if not cluster.running():
            cluster.start()
    # Its owner brings it back: ready again, without a restart counted.
    b = d.wait_healthy(timeout=60)
    assert b["restarts"] == 0, b


def test_role_without_createdb_is_told_which_right_seeding_needs(pgseedd, cluster):
    d = external(pgseedd, cluster, user="nocreate")

    def degraded():
        b = health_json(d)
        return b if b and b["status"] == "degraded" and "CREATEDB" in b["reason"] else None
    b = wait_for(degraded, 60)
    assert b, d.health().body
    assert "Role nocreate lacks CREATEDB" in b["reason"], b
    assert "ALTER ROLE nocreate CREATEDB" in b["reason"], b
    feats = {f["needs"]: f for f in b["runtime_info"]["features"]}
    assert not feats["CREATEDB"]["ok"] and feats["CREATEDB"]["grant"] == "ALTER ROLE nocreate CREATEDB", b
    # Without the right to set session_replication_role, in-place resets would be refused: said up front.
    assert not feats["superuser, or SET on session_replication_role (Postgres 15+)"]["ok"], b


def test_inplace_reset_without_the_right_is_refused_with_403_and_the_grant(pgseedd, cluster):
    d = external(pgseedd, cluster, user="noinplace", PGSEED_PG_URL="postgresql://noinplace@127.0.0.1:%d/seeded2"
                 % cluster.port, PGSEED_PG_DB="seeded2")
    h = d.wait_healthy(timeout=120)
    feats = {f["needs"]: f for f in h["runtime_info"]["features"]}
    assert not feats["superuser, or SET on session_replication_role (Postgres 15+)"]["ok"], h
    r = d.post("/reset?mode=inplace", timeout=120)
    assert r.status == 403, r.body
    err = r.json()["error"]
    assert "session_replication_role" in err["message"], err
    assert "GRANT SET ON PARAMETER session_replication_role TO noinplace" in err["hint"], err
    # The template reset needs CREATEDB only, which the role has (after the failed job's check).
    d.wait_healthy(timeout=60)
    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body


def test_a_database_with_data_that_pgseed_did_not_make_is_not_replaced(pgseedd, cluster):
    cluster.sql("CREATE DATABASE precious OWNER app")
    conn = psycopg2.connect(host=cluster.dir, port=cluster.port, user="postgres", dbname="precious")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2)")
    finally:
        conn.close()
    d = external(pgseedd, cluster, PGSEED_PG_URL="postgresql://app@127.0.0.1:%d/precious" % cluster.port,
                 PGSEED_PG_DB="precious")

    def refused():
        b = health_json(d)
        return b if b and b["status"] == "degraded" and "was not made by pgseed" in b["reason"] else None
    b = wait_for(refused, 60)
    assert b, d.health().body
    assert "Database precious on 127.0.0.1:%d exists with 1 table(s)" % cluster.port in b["reason"], b
    assert "PGSEED_PG_DB" in b["reason"], b
    d.stop()
    conn = psycopg2.connect(host=cluster.dir, port=cluster.port, user="postgres", dbname="precious")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders")
            assert cur.fetchone()[0] == 2
    finally:
        conn.close()


def test_down_volumes_refuses_a_server_it_does_not_own(pgseedd, cluster):
    d = external(pgseedd, cluster, start=False)
    from conftest import PGSEEDD
    r = subprocess.run([PGSEEDD, "--remove", "--volumes"], env=d.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    assert r.returncode != 0, r.stdout
    assert "not pgseedd's to remove" in r.stdout, r.stdout
    assert cluster.running()


@pytest.mark.parametrize("env, needle", [
    ({"PGSEED_RUNTIME": "external", "PGSEED_PG_URL": ""}, "PGSEED_PG_URL"),
    ({"PGSEED_RUNTIME": "external", "PGSEED_PG_URL": "postgresql://app:pw@127.0.0.1:5/db"}, "password"),
    ({"PGSEED_RUNTIME": "external", "PGSEED_PG_URL": "mysql://app@127.0.0.1/db"}, "postgresql://"),
    ({"PGSEED_RUNTIME": "external", "PGSEED_PG_URL": "postgresql://app@127.0.0.1:99999/db"}, "port"),
    ({"PGSEED_RUNTIME": "docker", "PGSEED_PG_URL": "postgresql://app@127.0.0.1/db"}, "runtime = docker"),
])
def test_bad_external_config_exits_2(pgseedd, env, needle):
    d = pgseedd(**env)
    assert d.proc.wait(30) == 2
    assert needle in d.read_log(), d.read_log()
