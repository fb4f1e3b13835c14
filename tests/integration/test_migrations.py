# SPDX-License-Identifier: MIT
"""Migrations (issue 12): NNN-name.sql files applied in order, each once,
recorded in pgseed_migrations; resets return to the migrated baseline; a new
migration rebuilds the template."""

import os
import urllib.error

from conftest import wait_for


def degraded(d):
    """The /health answer once it says degraded (None before; the API may not listen yet)."""
    def look():
        try:
            h = d.health().json()
        except (urllib.error.URLError, ConnectionError):
            return None
        return h if h["status"] == "degraded" else None
    return wait_for(look, 60)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_migrations_in_order_once_and_reset_to_them(pgseedd, tmp_path):
    sql = tmp_path / "sql"
    mig = tmp_path / "mig"
    write(str(sql / "01-base.sql"), "CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text);\n")
    write(str(mig / "002-tags.sql"), "ALTER TABLE notes ADD COLUMN tags text[];\n"
                                     "INSERT INTO notes VALUES (2, 'second', '{b}');\n")
    write(str(mig / "001-seed.sql"), "INSERT INTO notes VALUES (1, 'first');\n")
    d = pgseedd(PGSEED_SQL_DIR=str(sql), PGSEED_MIGRATIONS_DIR=str(mig), PGSEED_DATASET="none")
    d.wait_healthy()
    rows = d.sql("SELECT version, name, length(checksum) FROM pgseed_migrations ORDER BY applied_at, version")
    assert rows == [("001", "001-seed.sql", 16), ("002", "002-tags.sql", 16)]
    assert d.sql("SELECT id, tags FROM notes ORDER BY id") == [(1, None), (2, ["b"])]
    d.sql("INSERT INTO notes VALUES (3, 'mine')")
    assert d.post("/reset", timeout=60).status == 200
    assert d.sql("SELECT count(*) FROM notes") == [(2,)]
    d.sql("DELETE FROM notes")
    assert d.post("/reset?mode=inplace", timeout=60).status == 200
    assert d.sql("SELECT count(*) FROM notes") == [(2,)]
    fp = d.health().json()["dataset"]["fingerprint"]

    # Unchanged: the same template (nothing applied twice).
    assert d.stop() == 0
    d.start()
    assert d.wait_healthy()["dataset"]["fingerprint"] == fp
    assert d.sql("SELECT count(*) FROM pgseed_migrations") == [(2,)]

    # A changed migration is another template too.
    write(str(mig / "002-tags.sql"), "ALTER TABLE notes ADD COLUMN tags text[];\n")
    assert d.stop() == 0
    d.start()
    assert d.wait_healthy()["dataset"]["fingerprint"] != fp
    assert d.sql("SELECT count(*) FROM notes") == [(1,)]


def test_default_directory_and_a_failing_migration(pgseedd, tmp_path):
    sql = tmp_path / "sql"
    write(str(sql / "01-base.sql"), "CREATE TABLE IF NOT EXISTS t (a int);\n")
    write(str(sql / "migrations" / "001-ok.sql"), "INSERT INTO t VALUES (1);\n")
    write(str(sql / "migrations" / "002-broken.sql"), "INSERT INTO t VALUES (2);\nALTER TABLE nope ADD x int;\n")
    d = pgseedd(PGSEED_SQL_DIR=str(sql), PGSEED_DATASET="none")
    h = degraded(d)
    assert h, d.health().body
    assert "002-broken.sql" in h["reason"] and "nope" in h["reason"], h["reason"]
    # Fixed: the next start builds, and the broken file's first statement did not stay behind.
    write(str(sql / "migrations" / "002-broken.sql"), "INSERT INTO t VALUES (2);\n")
    assert d.stop() == 0
    d.start()
    d.wait_healthy()
    assert d.sql("SELECT a FROM t ORDER BY a") == [(1,), (2,)]


def test_configured_directory_must_exist(pgseedd, tmp_path):
    sql = tmp_path / "sql"
    write(str(sql / "01-base.sql"), "SELECT 1;\n")
    d = pgseedd(PGSEED_SQL_DIR=str(sql), PGSEED_MIGRATIONS_DIR=str(tmp_path / "missing"), PGSEED_DATASET="none")
    h = degraded(d)
    assert h and "Migrations" in h["reason"] and "missing" in h["reason"], d.health().body
