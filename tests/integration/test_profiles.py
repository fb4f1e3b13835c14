# SPDX-License-Identifier: MIT
"""The ready profiles under examples/profiles (issue 12): each starts, has its
schema, resets, and is idempotent on a second run."""

import glob
import os
import shutil
import subprocess

import psycopg2
import psycopg2.errors
import pytest

from conftest import SOURCE_ROOT, free_port, wait_for

PROFILES = os.path.join(SOURCE_ROOT, "examples", "profiles")


def builds(d):
    """How many times the daemon built its template (its whole log)."""
    with open(d.log_path, errors="replace") as f:
        return f.read().count("Building template")


def restart_without_rebuild(d):
    assert d.stop() == 0
    d.start()
    d.wait_healthy()
    assert builds(d) == 1, d.read_log()


def test_job_etl(pgseedd):
    sql_dir = os.path.join(PROFILES, "job-etl")
    d = pgseedd(PGSEED_SQL_DIR=sql_dir, PGSEED_DATASET="none")
    h = d.wait_healthy()
    assert {(t["schema"], t["name"]) for t in h["tables"]} == {
        ("raw", "job_postings_raw"), ("staging", "job_postings_stg"),
        ("marts", "dim_companies"), ("marts", "fact_jobs")}
    assert h["rows_total"] == 0
    assert d.sql("SELECT provolatile FROM pg_proc WHERE proname = 'generate_hash_key'") == [("i",)]
    assert d.sql("SELECT generate_hash_key(' Acme ', 'Data Engineer', 'Berlin')"
                 " = generate_hash_key('acme', 'DATA ENGINEER', 'berlin ')") == [(True,)]
    assert d.sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'job_postings_raw_payload_gin'")[0][0] \
        .endswith("USING gin (payload)")
    d.sql("INSERT INTO raw.job_postings_raw (source, payload) VALUES ('board', '{\"title\": \"DE\"}')")
    assert d.sql("SELECT count(*) FROM raw.job_postings_raw WHERE payload @> '{\"title\": \"DE\"}'") == [(1,)]
    d.sql("INSERT INTO staging.job_postings_stg (hash_key, source, company, title, location, skills)"
          " VALUES (generate_hash_key('Acme', 'DE', 'Berlin'), 'board', 'Acme', 'DE', 'Berlin', '{sql,python}')")
    with pytest.raises(psycopg2.errors.CheckViolation):
        d.sql("INSERT INTO staging.job_postings_stg (hash_key, source, company, title, employment_type)"
              " VALUES (generate_hash_key('A', 'B', NULL), 's', 'A', 'B', 'forever')")
    d.sql("INSERT INTO marts.dim_companies (company_name) VALUES ('Acme')")
    d.sql("INSERT INTO marts.fact_jobs (hash_key, company_id, title, employment_type, salary_min, salary_max,"
          " first_seen_at, last_seen_at) SELECT 'k1', company_id, 'DE', 'full_time', 50000, 70000, now(), now()"
          " FROM marts.dim_companies")
    assert d.sql("SELECT company_name, postings, avg_salary_mid FROM marts.job_posting_stats") == \
        [("Acme", 1, 60000)]
    assert d.sql("SELECT has_table_privilege('etl', 'staging.job_postings_stg', 'INSERT'),"
                 " has_table_privilege('etl', 'marts.fact_jobs', 'SELECT'),"
                 " has_function_privilege('etl', 'generate_hash_key(text, text, text)', 'EXECUTE')") == \
        [(True, True, True)]
    # Both resets return to the empty baseline, schema intact.
    assert d.post("/reset", timeout=60).status == 200
    assert d.sql("SELECT count(*) FROM marts.fact_jobs") == [(0,)]
    d.sql("INSERT INTO marts.dim_companies (company_name) VALUES ('Initech')")
    r = d.post("/reset?mode=inplace", timeout=60)
    assert r.status == 200, r.body
    assert d.sql("SELECT count(*) FROM marts.dim_companies") == [(0,)]
    assert d.sql("SELECT count(*) FROM marts.job_posting_stats") == [(0,)]
    # Idempotent: every file runs again on the database that has it all.
    for path in sorted(glob.glob(os.path.join(sql_dir, "*.sql"))):
        with open(path) as f:
            d.sql(f.read())
    restart_without_rebuild(d)


def test_youtube_cdc_is_the_default(pgseedd):
    d = pgseedd(PGSEED_SQL_DIR=os.path.join(PROFILES, "youtube-cdc"))
    h = d.wait_healthy()
    assert {t["name"] for t in h["tables"]} == {"videos", "users", "comments"}
    assert h["cdc"]["publication"] == {"name": "pgseed", "exists": True, "tables": 3}
    assert os.path.realpath(os.path.join(PROFILES, "youtube-cdc")) == os.path.join(SOURCE_ROOT, "sql")
    d.sql("DELETE FROM comments")
    assert d.post("/reset", timeout=60).status == 200
    assert d.sql("SELECT count(*) FROM comments") == [(2000,)]
    restart_without_rebuild(d)


def psql(url, sql, password):
    return subprocess.run(["psql", url, "-XAtc", sql], env=dict(os.environ, PGPASSWORD=password),
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def secrets(tmp_path):
    made = {}
    for name in ("owner", "app", "readonly", "replication"):
        p = tmp_path / ("%s.pw" % name)
        p.write_text("pw-%s-%s\n" % (name, os.getpid()))
        made[name] = (str(p), "pw-%s-%s" % (name, os.getpid()))
    return made


def production(pgseedd, secrets, sql_dir=None, state_dir=None):
    return pgseedd(state_dir=state_dir,
                   PGSEED_CONFIG=os.path.join(PROFILES, "production", "pgseedd.conf"),
                   PGSEED_SQL_DIR=sql_dir or os.path.join(PROFILES, "production"),
                   PGSEED_PGBOUNCER_PORT=str(free_port()),
                   PGSEED_PG_PASSWORD_FILE=secrets["owner"][0], PGSEED_APP_PASSWORD_FILE=secrets["app"][0],
                   PGSEED_READONLY_PASSWORD_FILE=secrets["readonly"][0],
                   PGSEED_REPLICATION_PASSWORD_FILE=secrets["replication"][0])


def test_production_like(pgseedd, secrets, tmp_path):
    sql_dir = tmp_path / "production"
    shutil.copytree(os.path.join(PROFILES, "production"), sql_dir)
    d = production(pgseedd, secrets, str(sql_dir))
    d.env["PGSEED_PG_PASSWORD"] = secrets["owner"][1]  # for d.sql()
    h = d.wait_healthy()
    assert h["tls"]["required"] is True
    assert wait_for(lambda: d.health().json()["pgbouncer"]["up"], 15)
    pb = d.health().json()["pgbouncer"]
    assert pb["pool_mode"] == "transaction" and pb["max_client_conn"] == 500
    ca = h["tls"]["ca_file"]
    owner = "postgresql://app@127.0.0.1:%d/app?sslmode=verify-full&sslrootcert=%s" % (d.pg_port, ca)
    pooled = "postgresql://app_rw@127.0.0.1:%d/app?sslmode=verify-full&sslrootcert=%s" % (pb["port"], ca)
    app_pw = secrets["app"][1]

    r = psql(owner, "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM pgseed_migrations",
             secrets["owner"][1])
    assert r.stdout.strip() == "001:001-accounts.sql,002:002-orders.sql,003:003-orders-status-index.sql", r.stderr
    assert {t["name"] for t in h["tables"]} == {"accounts", "orders", "pgseed_migrations"}
    # The application works through the pooler, over TLS, with DML only.
    r = psql(pooled, "INSERT INTO orders (account_id, total_cents) SELECT min(account_id), 5 FROM accounts"
                     " RETURNING 1", app_pw)
    assert r.returncode == 0, r.stderr
    assert "must be owner" in psql(pooled, "DROP TABLE orders", app_pw).stderr
    assert psql(pooled.replace("sslmode=verify-full", "sslmode=disable"), "SELECT 1", app_pw).returncode != 0
    # Both resets return to the migrated baseline.
    assert d.post("/reset", timeout=60).status == 200
    assert psql(pooled, "SELECT count(*) FROM orders", app_pw).stdout.strip() == "9"
    psql(pooled, "DELETE FROM orders", app_pw)
    assert d.post("/reset?mode=inplace", timeout=60).status == 200
    assert psql(pooled, "SELECT count(*) FROM orders", app_pw).stdout.strip() == "9"
    assert "password" not in h["roles"][1] and secrets["app"][1] not in d.health().body
    restart_without_rebuild(d)

    # A new migration: applied on top of the others, in a rebuilt template.
    (sql_dir / "migrations" / "004-accounts-plan.sql").write_text(
        "ALTER TABLE accounts ADD COLUMN plan text NOT NULL DEFAULT 'free';\n")
    assert d.stop() == 0
    d.start()
    d.wait_healthy()
    assert builds(d) == 2
    r = psql(owner, "SELECT count(*), max(version) FROM pgseed_migrations", secrets["owner"][1])
    assert r.stdout.strip() == "4|004", r.stderr
    assert psql(pooled, "SELECT count(*) FROM accounts WHERE plan = 'free'", app_pw).stdout.strip() == "3"
