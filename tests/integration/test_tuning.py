# SPDX-License-Identifier: MIT
"""Tuning (issue 12): [postgres] memory sizes the memory settings, and
[postgres] wal_archive_dir archives WAL into a directory."""

import os
import pwd
import tempfile

from conftest import wait_for


def setting(d, name):
    return d.sql("SELECT current_setting(%s)", (name,))[0][0]


def test_memory_and_wal_archive(pgseedd):
    # In the state directory: as root the server (the postgres user) must reach it.
    sd = tempfile.mkdtemp(prefix="pgseed-test-", dir="/tmp")
    os.chmod(sd, 0o755)
    archive = os.path.join(sd, "wal-archive")
    d = pgseedd(state_dir=sd, PGSEED_PG_MEMORY="512MB", PGSEED_PG_WAL_ARCHIVE_DIR=archive)
    d.wait_healthy()
    assert [setting(d, n) for n in ("shared_buffers", "effective_cache_size", "maintenance_work_mem",
                                    "work_mem")] == ["128MB", "384MB", "64MB", "8MB"]
    assert setting(d, "archive_mode") == "on"
    if os.geteuid() == 0:
        assert os.stat(archive).st_uid == pwd.getpwnam("postgres").pw_uid
    d.sql("CREATE TABLE wal_filler AS SELECT g FROM generate_series(1, 10000) g")
    segment = d.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0]
    d.sql("SELECT pg_switch_wal()")
    assert wait_for(lambda: os.path.exists(os.path.join(archive, segment)), 30), os.listdir(archive)
    # The archiver counts a segment once archive_command returned, a moment after the copy exists.
    assert wait_for(lambda: d.sql("SELECT archived_count > 0 FROM pg_stat_archiver") == [(True,)], 10)
    assert d.sql("SELECT failed_count FROM pg_stat_archiver") == [(0,)]


def test_memory_auto_takes_a_quarter_of_the_machine(pgseedd):
    with open("/proc/meminfo") as f:
        total_mb = int(f.read().split("MemTotal:")[1].split()[0]) // 1024
    d = pgseedd(PGSEED_PG_MEMORY="auto")
    d.wait_healthy()
    assert setting(d, "shared_buffers") in ("%dMB" % (total_mb // 4 // 4), "%dGB" % (total_mb // 4 // 4 // 1024))


def test_bad_values_are_config_errors(pgseedd):
    d = pgseedd(PGSEED_PG_MEMORY="lots")
    assert d.proc.wait(30) == 2
    assert "memory = 'lots' is not a memory size" in d.read_log()
    d = pgseedd(PGSEED_PG_MEMORY="16MB")
    assert d.proc.wait(30) == 2
    d = pgseedd(PGSEED_PG_WAL_ARCHIVE_DIR="/tmp/with space")
    assert d.proc.wait(30) != 0
    assert "is not a plain absolute path" in d.read_log()
