#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts test cases across the JUnit XML files the suites wrote (cmocka and
pytest) and meson's own log, and prints the one summary line `make test` ends
with: `N passed, N failed`.  A meson test that failed without leaving XML
(a crash, a timeout) counts as one failure; a skipped case counts as failed,
because a test that cannot reach what it needs must not pass silently."""

import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = 0
    names = []
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return 0, 1, ["%s: unreadable results" % os.path.basename(path)]
    for case in root.iter("testcase"):
        bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
        if bad:
            failed += 1
            names.append("%s: %s (%s)" % (os.path.basename(path), case.get("name"), bad[0].tag))
        else:
            passed += 1
    return passed, failed, names


def main(build_dir):
    results = os.path.join(build_dir, "test-results")
    passed = failed = 0
    failures = []
    seen = set()
    for path in sorted(glob.glob(os.path.join(results, "*.xml"))):
        p, f, names = count_xml(path)
        passed += p
        failed += f
        failures += names
        seen.add(os.path.splitext(os.path.basename(path))[0])

    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    ran = 0
    if os.path.exists(log):
        for line in open(log):
            t = json.loads(line)
            ran += 1
            if t["result"] in ("OK", "EXPECTEDFAIL"):
                continue
            # "pgseed:integration / foundation" -> the XML stem "integration-foundation".
            suite, _, name = t["name"].partition(" / ")
            stem = "%s-%s" % (suite.split(":")[-1], name.strip())
            if stem in seen and any(f.startswith(stem + ".xml") for f in failures):
                continue  # its failing cases are already counted
            failed += 1
            failures.append("%s: %s (the process failed%s)" % (
                t["name"], t["result"], "" if stem in seen else ", no result file"))
    if ran == 0 and passed == 0:
        failed += 1
        failures.append("no tests ran")

    for f in failures:
        print("FAILED " + f)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
