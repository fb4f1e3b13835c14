# SPDX-License-Identifier: MIT
"""Crash safety: kill -9 of pgseedd or of the postmaster at many points of a
template reset, an in-place reset, seeding and spare preparation, and the
states an interrupted operation can leave behind (an invalid working
database, one that refuses connections).  After every fault pgseedd must come
back ready by itself, a reset must give exactly the seeded rows, no database
may be left over and no process orphaned."""

import os
import re
import signal
import threading
import time

import pytest

from conftest import http, wait_for
from test_dataset import content_checksums, databases, health

SYSTEM_DBS = {"postgres", "template0", "template1"}
OURS = {"app", "app_template", "app_spare_1", "app_spare_2", "app_spare_3"}
POOL = 2  # [clones] pool default: ready clones app_clone_<16 hex>


def ours_settled(d):
    """The exact set of our databases once upkeep is done: the working one,
    the template, every spare and a full clone pool, nothing else."""
    dbs = databases(d) - SYSTEM_DBS
    clones = {x for x in dbs if re.fullmatch(r"app_clone_[0-9a-f]{16}", x)}
    return dbs - clones == OURS and len(clones) == POOL


def restart(d):
    """pgseedd again on the same state directory, ports and settings (the
    same Daemon object, so the fixture still stops it after a failure)."""
    return d.start()


def kill9(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    # PDEATHSIG ends the postmaster; its backends follow it.
    assert wait_for(lambda: not d.postgres_pids(), 30), "postgres outlived its killed pgseedd"


def postmaster_pid(d):
    """The Postgres process whose parent is this pgseedd."""
    for pid in d.postgres_pids():
        try:
            with open("/proc/%d/stat" % pid) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == d.proc.pid:
                    return pid
        except (OSError, IndexError, ValueError):
            pass
    return None


def settled(d, baseline, timeout=120):
    """Ready again, a reset restores the seeded rows exactly, nothing left over."""
    d.wait_healthy(timeout)
    r = d.post("/reset", timeout=120)
    assert r.status == 200, r.body
    assert content_checksums(d) == baseline
    assert wait_for(lambda: ours_settled(d), 30), databases(d)
    assert d.sql("SELECT datconnlimit, datallowconn FROM pg_database WHERE datname = 'app'",
                 dbname="postgres") == [(-1, True)]


def modify(d):
    d.sql("UPDATE users SET channel_name = 'changed' WHERE channel_id = (SELECT min(channel_id) FROM users)")
    d.sql("DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 10)")


def post_async(d, path):
    """POSTs in the background; the daemon may be killed before it answers."""
    def run():
        try:
            http("POST", d.url + path, timeout=30)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def seeded(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=20000)
    d.wait_healthy()
    return d, content_checksums(d)


def test_kill9_during_template_reset_sweep(seeded):
    d, baseline = seeded
    for delay_ms in (0, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300):
        modify(d)
        post_async(d, "/reset")
        time.sleep(delay_ms / 1000.0)
        kill9(d)
        d = restart(d)
        d.wait_healthy(120)
        # Either the reset happened or it did not: never a half-way state.
        changed = d.sql("SELECT count(*) FROM users WHERE channel_name = 'changed'")[0][0]
        assert changed == 1 or content_checksums(d) == baseline, delay_ms
    settled(d, baseline)
    d.stop()
    assert not d.postgres_pids()


def test_kill9_during_inplace_reset(seeded):
    d, baseline = seeded
    for delay_ms in (0, 50, 150, 400, 800):
        modify(d)
        post_async(d, "/reset?mode=inplace")
        time.sleep(delay_ms / 1000.0)
        kill9(d)
        d = restart(d)
        d.wait_healthy(120)
        # One transaction: all of it or none of it.
        changed = d.sql("SELECT count(*) FROM users WHERE channel_name = 'changed'")[0][0]
        assert changed == 1 or content_checksums(d) == baseline, delay_ms
    settled(d, baseline)


def test_kill9_during_spare_preparation(seeded):
    d, baseline = seeded
    for delay_ms in (0, 10, 30, 60):
        modify(d)
        r = d.post("/reset")
        assert r.status == 200, r.body
        # Upkeep prepares the next copy right after a reset.
        time.sleep(delay_ms / 1000.0)
        kill9(d)
        d = restart(d)
        d.wait_healthy(120)
        assert content_checksums(d) == baseline
    settled(d, baseline)


def test_kill9_during_seeding(pgseedd):
    d = pgseedd(PGSEED_COMMENTS=100000)
    for delay_s in (0.3, 1.0, 2.0):
        assert wait_for(lambda: health(d).get("status") == "seeding", 60, 0.02), d.read_log()
        time.sleep(delay_s)
        kill9(d)
        d = restart(d)
    d.wait_healthy(180)
    baseline = content_checksums(d)
    assert d.sql("SELECT count(*) FROM comments")[0][0] == 100000
    settled(d, baseline)


@pytest.mark.parametrize("during", ["template", "inplace", "spare"])
def test_postmaster_killed_during_lifecycle_work(seeded, during):
    d, baseline = seeded
    for delay_ms in (0, 30, 120):
        modify(d)
        if during == "spare":
            assert d.post("/reset").status == 200
        else:
            post_async(d, "/reset?mode=" + during)
        time.sleep(delay_ms / 1000.0)
        pid = postmaster_pid(d)
        assert pid, "no postmaster found"
        os.kill(pid, signal.SIGKILL)
        # pgseedd notices, restarts Postgres (crash recovery) and repairs what the job left.
        assert wait_for(lambda: health(d).get("status") != "ready", 10, 0.02), "the crash went unnoticed"
        d.wait_healthy(120)
    settled(d, baseline)
    assert d.proc.poll() is None


def test_invalid_working_database_is_repaired_at_start(seeded):
    """The finding: an interrupted DROP DATABASE marks the database invalid
    (datconnlimit -2); nobody can connect and the probe failed for ever."""
    d, baseline = seeded
    modify(d)
    d.sql("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'app'", dbname="postgres")
    kill9(d)
    d = restart(d)
    settled(d, baseline)
    assert "invalid" in d.read_log()


def test_invalid_working_database_is_repaired_while_running(seeded):
    d, baseline = seeded
    # As an interrupted DROP DATABASE ... WITH (FORCE) leaves it: sessions ended, database invalid.
    d.sql("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'app'", dbname="postgres")
    d.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'app'", dbname="postgres")
    assert wait_for(lambda: "invalid" in d.read_log(), 30), d.read_log()
    settled(d, baseline)


def test_working_database_refusing_connections_is_opened_again(seeded):
    """The other interrupted state: the old code crashed between the spare's
    RENAME and ALLOW_CONNECTIONS true; the new one between refusing
    connections and the swap.  Either way start-up opens it again."""
    d, baseline = seeded
    modify(d)
    d.sql("ALTER DATABASE app WITH ALLOW_CONNECTIONS false", dbname="postgres")
    kill9(d)
    d = restart(d)
    d.wait_healthy(120)
    # The developer's changes survive: nothing was reset.
    assert d.sql("SELECT count(*) FROM users WHERE channel_name = 'changed'")[0][0] == 1
    settled(d, baseline)


def test_leftover_aside_databases_are_dropped(seeded):
    d, baseline = seeded
    for _ in range(5):
        assert d.post("/reset").status == 200
    assert wait_for(lambda: ours_settled(d), 30), databases(d)
    # One set aside by a reset that crashed before upkeep dropped it.
    d.sql("CREATE DATABASE app_pgseed_aside_1 TEMPLATE app_template", dbname="postgres")
    d.sql("COMMENT ON DATABASE app_pgseed_aside_1 IS 'pgseed:{\"role\": \"working\"}'", dbname="postgres")
    # A database of the user's with a similar name is never touched.
    d.sql("CREATE DATABASE app_pgseed_aside_mine", dbname="postgres")
    kill9(d)
    d = restart(d)
    d.wait_healthy(120)
    assert wait_for(lambda: "app_pgseed_aside_1" not in databases(d), 30), databases(d)
    assert "app_pgseed_aside_mine" in databases(d)
    d.sql("DROP DATABASE app_pgseed_aside_mine", dbname="postgres")
    settled(d, baseline)


def test_probe_sees_database_gone_while_ready_no_race(seeded):
    """The race: the probe finds the working database gone while the state
    says ready, and a reset arrives at the same time: both used to drop and
    clone it.  Now the worker runs them one after the other."""
    d, baseline = seeded
    for _ in range(3):
        d.sql("DROP DATABASE app WITH (FORCE)", dbname="postgres")
        results = []
        threads = [threading.Thread(target=lambda: results.append(d.post("/reset", timeout=120)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.status in (200, 503) for r in results), [r.body for r in results]
        d.wait_healthy(60)
    settled(d, baseline)
    assert "already exists" not in d.read_log()


def test_stale_spares_and_clones_are_recognised_at_start(seeded):
    """Spares and clones a crash (or an older pgseedd) left behind: the single
    app_spare of earlier versions, a spare beyond the configured number, a
    spare whose CREATE finished but whose comment was never written (refuses
    connections, no comment), a spare of another template, a half-made clone.
    Start-up drops each of them; databases under similar names that do not
    carry our comment are left alone."""
    d, baseline = seeded
    assert wait_for(lambda: ours_settled(d), 60), databases(d)
    sql = lambda q: d.sql(q, dbname="postgres")
    comment = "pgseed:{\"pgseed\":1,\"role\":\"spare\",\"fingerprint\":\"%s\"}"
    sql("CREATE DATABASE app_spare TEMPLATE app_template")
    sql("COMMENT ON DATABASE app_spare IS '%s'" % (comment % "0000000000000000"))
    sql("CREATE DATABASE app_spare_9 TEMPLATE app_template")
    sql("COMMENT ON DATABASE app_spare_9 IS '%s'" % (comment % "0000000000000000"))
    sql("DROP DATABASE app_spare_2 WITH (FORCE)")
    sql("CREATE DATABASE app_spare_2 TEMPLATE app_template ALLOW_CONNECTIONS false")  # no comment yet
    sql("ALTER DATABASE app_spare_3 WITH ALLOW_CONNECTIONS true")
    sql("COMMENT ON DATABASE app_spare_3 IS '%s'" % (comment % "0000000000000000"))
    sql("ALTER DATABASE app_spare_3 WITH ALLOW_CONNECTIONS false")
    sql("CREATE DATABASE app_clone_00000000000000aa TEMPLATE app_template ALLOW_CONNECTIONS false")
    sql("CREATE DATABASE app_clone_00000000000000bb TEMPLATE app_template")
    sql("COMMENT ON DATABASE app_clone_00000000000000bb IS 'pgseed:{\"pgseed\":1,\"role\":\"clone-new\"}'")
    # The user's own, similar names: no comment, accepting connections.
    sql("CREATE DATABASE app_spare_mine")
    sql("CREATE DATABASE app_clone_00000000000000cc")
    kill9(d)
    d = restart(d)
    d.wait_healthy(120)
    gone = {"app_spare", "app_spare_9", "app_clone_00000000000000aa", "app_clone_00000000000000bb"}
    assert wait_for(lambda: not gone & databases(d), 30), databases(d)
    assert {"app_spare_mine", "app_clone_00000000000000cc"} <= databases(d)
    # The other-template spare and the uncommented one are current again, with our comment.
    assert wait_for(lambda: d.health().json().get("dataset", {}).get("spares_ready") == 3, 30), d.health().body
    rows = sql("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
               " WHERE datname IN ('app_spare_2', 'app_spare_3')")
    fp = d.health().json()["dataset"]["fingerprint"]
    assert all(c and fp in c for _, c in rows), rows
    sql("DROP DATABASE app_spare_mine")
    sql("DROP DATABASE app_clone_00000000000000cc")
    settled(d, baseline)
