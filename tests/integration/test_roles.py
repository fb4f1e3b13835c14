# SPDX-License-Identifier: MIT
"""Least-privilege roles (issue 12): the application, read-only and
replication roles pgseedd creates beside its own superuser, each able to do
exactly what it should and no more."""

import os
import subprocess

import psycopg2
import psycopg2.errors
import pytest


def connect(d, user, password, dbname=None):
    c = psycopg2.connect(host="127.0.0.1", port=d.pg_port, user=user, password=password,
                         dbname=dbname or "app", connect_timeout=5)
    c.autocommit = True
    return c


def run(conn, sql):
    """Runs sql (autocommit); returns the rows or raises the server's error."""
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else None


def refused(conn, sql):
    """True when the server refuses sql for lack of privilege (SQLSTATE 42501)."""
    try:
        run(conn, sql)
    except psycopg2.errors.InsufficientPrivilege:
        return True
    return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One daemon with the default roles, the app role's password from a file."""
    from conftest import Daemon, free_port  # noqa: F401 (same factory as the pgseedd fixture)
    import shutil
    import tempfile
    sd = tempfile.mkdtemp(prefix="pgseed-test-roles-", dir="/tmp")
    os.chmod(sd, 0o755)
    pwfile = os.path.join(sd, "app-password")
    with open(pwfile, "w") as f:
        f.write("s3cret-app-pw\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_") or k == "PGSEED_BUILD_DIR"}
    env.update({"PGSEED_STATE_DIR": sd, "PGSEED_LISTEN": "127.0.0.1:%d" % free_port(),
                "PGSEED_PG_PORT": str(free_port()), "PGSEED_RUNTIME": "embedded", "PGSEED_COMMENTS": "2000",
                "PGSEED_CONFIG": "/dev/null", "PGSEED_APP_PASSWORD_FILE": pwfile,
                "PGSEED_READONLY_PASSWORD": "ro-pw-42"})
    d = Daemon(sd, env, [])
    d.start()
    try:
        d.wait_healthy()
        yield d
    finally:
        d.stop()
        d.kill_leftovers()
        shutil.rmtree(sd, ignore_errors=True)


def test_health_lists_roles_without_passwords(stack):
    h = stack.get("/health")
    roles = {r["kind"]: r for r in h.json()["roles"]}
    assert set(roles) == {"owner", "app", "readonly", "replication"}
    assert roles["owner"]["name"] == "app"
    assert roles["app"]["name"] == "app_rw"
    assert roles["readonly"]["name"] == "app_ro"
    assert roles["replication"]["name"] == "debezium"
    assert roles["app"]["url"] == "postgresql://app_rw@127.0.0.1:%d/app" % stack.pg_port
    for secret in ("s3cret-app-pw", "ro-pw-42"):
        assert secret not in h.body
        assert secret not in stack.read_log()
        with open(os.path.join(stack.state_dir, "pgdata", "..", "postgres.log"), errors="replace") as f:
            assert secret not in f.read()


def test_app_role_dml_only(stack):
    c = connect(stack, "app_rw", "s3cret-app-pw")
    try:
        assert run(c, "SELECT count(*) FROM videos")[0][0] > 0
        run(c, "INSERT INTO videos (video_id, title) VALUES ('roles-test', 't')")
        run(c, "UPDATE videos SET title = 'u' WHERE video_id = 'roles-test'")
        run(c, "DELETE FROM videos WHERE video_id = 'roles-test'")
        assert run(c, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication FROM pg_roles"
                      " WHERE rolname = current_user") == [(False, False, False, False)]
        assert refused(c, "DROP TABLE comments")
        assert refused(c, "TRUNCATE comments")
        assert refused(c, "ALTER TABLE videos ADD COLUMN x int")
        assert refused(c, "CREATE TABLE public.mine (a int)")
        assert refused(c, "CREATE SCHEMA mine")
        assert refused(c, "SELECT rolpassword FROM pg_authid")
        assert refused(c, "CREATE DATABASE mine")
    finally:
        c.close()


def test_app_role_password_is_the_files(stack):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(stack, "app_rw", "app_rw").close()


def test_readonly_role_selects_only(stack):
    c = connect(stack, "app_ro", "ro-pw-42")
    try:
        assert run(c, "SELECT count(*) FROM comments")[0][0] > 0
        assert refused(c, "INSERT INTO videos (video_id, title) VALUES ('ro', 't')")
        assert refused(c, "UPDATE videos SET title = 'x'")
        assert refused(c, "DELETE FROM users")
        assert refused(c, "SELECT * FROM pg_authid")
    finally:
        c.close()


def test_replication_role_streams_and_selects(stack):
    c = connect(stack, "debezium", "debezium")
    try:
        assert run(c, "SELECT count(*) FROM users")[0][0] > 0
        assert refused(c, "INSERT INTO videos (video_id, title) VALUES ('repl', 't')")
        assert run(c, "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user") == \
            [(True, False)]
    finally:
        c.close()
    env = dict(os.environ, PGPASSWORD="debezium")
    conninfo = "host=127.0.0.1 port=%d user=debezium dbname=app" % stack.pg_port
    r = subprocess.run(["pg_recvlogical", "-d", conninfo, "--slot", "roles_test", "--create-slot",
                        "-P", "pgoutput"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    try:
        assert stack.sql("SELECT slot_name FROM pg_replication_slots") == [("roles_test",)]
    finally:
        r = subprocess.run(["pg_recvlogical", "-d", conninfo, "--slot", "roles_test", "--drop-slot"],
                           env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    # The read-only role has no REPLICATION: the same connection is refused.
    env = dict(os.environ, PGPASSWORD="ro-pw-42")
    r = subprocess.run(["pg_recvlogical", "-d", conninfo.replace("debezium", "app_ro"), "--slot", "nope",
                        "--create-slot", "-P", "pgoutput"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "replication" in r.stderr.lower()


def test_rights_survive_a_reset(stack):
    assert stack.post("/reset", timeout=120).status == 200
    c = connect(stack, "app_rw", "s3cret-app-pw")
    try:
        run(c, "INSERT INTO users (channel_id, channel_name) VALUES ('roles-after-reset', 'n')")
        assert refused(c, "DROP TABLE users")
    finally:
        c.close()
    # The owner is today's superuser, as before.
    assert stack.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'") == [(True,)]


def test_roles_can_be_turned_off_and_renamed(pgseedd):
    d = pgseedd(PGSEED_APP_USER="svc_writer", PGSEED_READONLY_USER="none", PGSEED_REPLICATION_USER="none")
    h = d.wait_healthy()
    assert [(r["kind"], r["name"]) for r in h["roles"]] == [("owner", "app"), ("app", "svc_writer")]
    assert d.sql("SELECT rolname FROM pg_roles WHERE rolname IN ('app_ro', 'debezium', 'svc_writer')") == \
        [("svc_writer",)]
    c = connect(d, "svc_writer", "svc_writer")
    try:
        run(c, "UPDATE videos SET title = title WHERE false")
    finally:
        c.close()


def test_role_names_must_differ(pgseedd):
    d = pgseedd(PGSEED_APP_USER="app")
    assert d.proc.wait(30) == 2
    assert "also [postgres] user" in d.read_log()
