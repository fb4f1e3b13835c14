# SPDX-License-Identifier: MIT
"""The short storm of `make test`: bench/storm for 15 s against its own pgseedd (from
PGSEED_BUILD_DIR, so the sanitizer build gets it too): 10 well-behaved clients on /health and
/sample, a POST /reset every 3 s with the seeded tables' checksums compared to the baseline after
each, and 200 slowloris connections.  Fails with bench/storm's FAIL lines: an undocumented 5xx, a
connection error, a failed reset or checksum, /health's p99 over the limit, more than 64 threads,
or fds and RSS not back near where they started."""

import os
import subprocess
import sys

from conftest import BUILD_DIR, SOURCE_ROOT

STORM = os.path.join(SOURCE_ROOT, "bench", "storm")

# The bound is 100 ms; `make test` runs on a shared two-core machine and, for the second
# time, under ASan, so the in-suite limit leaves room for that.  bench/storm itself keeps 100 ms.
MAX_P99_MS = 250


def test_storm_health_sample_resets_and_slowloris():
    cmd = [sys.executable, STORM, "--build", BUILD_DIR, "--duration", "15", "--slowloris", "200",
           "--reset-every", "3", "--comments", "20000", "--max-p99-ms", str(MAX_P99_MS)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    fails = [line[len("FAIL: "):] for line in r.stdout.splitlines() if line.startswith("FAIL: ")]
    assert r.returncode == 0, "bench/storm failed (exit %d):\n  %s\n\nits report:\n%s%s" % (
        r.returncode, "\n  ".join(fails) or "(no FAIL line; see stderr)", r.stdout, r.stderr[-3000:])
