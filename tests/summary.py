#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts test cases across the JUnit XML files the suites wrote (cmocka,
pytest, tests/fuzz-run.sh) and meson's own log, in every build directory given
(build/ and build-asan/ in `make test`), and prints the one summary
line `make test` ends with: `N passed, N failed`.  A meson test that failed
without leaving XML (a crash, a timeout) counts as one failure; a skipped case
counts as failed, because a test that cannot reach what it needs must not pass
silently.  In a sanitizer build every test that left a report in
BUILD/sanitizer-logs/ (ASan, LSan, UBSan; from the test binary or any pgseedd
or pgseedctl it started) counts as one more failure, named with the report's
first finding.

Usage: tests/summary.py [BUILD_DIR...]   (default: build)"""

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


def sanitizer_findings(build_dir):
    """[(test, report file, first finding line)] from BUILD/sanitizer-logs/TEST.PID files."""
    found = []
    for path in sorted(glob.glob(os.path.join(build_dir, "sanitizer-logs", "*"))):
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not any(line.strip() for line in lines):
            continue
        first = next((line.strip() for line in lines if "ERROR:" in line or "runtime error:" in line),
                     next(line.strip() for line in lines if line.strip()))
        summary = next((line.strip() for line in lines if line.startswith("SUMMARY:")), "")
        test = os.path.basename(path).rsplit(".", 1)[0]
        found.append((test, path, first + (" -- " + summary if summary and summary not in first else "")))
    return found


def count_build(build_dir):
    """(passed, failed, failure descriptions, tests meson ran) for one build directory."""
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

    where = "" if os.path.basename(os.path.normpath(build_dir)) == "build" else build_dir.rstrip("/") + ": "
    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    ran = 0
    if os.path.exists(log):
        for line in open(log):
            t = json.loads(line)
            ran += 1
            if t["result"] in ("OK", "EXPECTEDFAIL"):
                continue
            # "pgseed:integration / foundation" -> the XML stem "integration-foundation", or
            # "asan-integration-foundation" in a sanitizer build, or "fuzz-csv" for "fuzz / fuzz-csv".
            # A test in several suites ("pgseed:integration+sanitized / clones") wrote the stem of any.
            suite, _, name = t["name"].partition(" / ")
            suites, name = suite.split(":")[-1].split("+"), name.strip()
            stems = {name} | {"%s%s-%s" % (prefix, s, name) for s in suites for prefix in ("", "asan-")}
            stem = next((s for s in sorted(stems) if s in seen), None)
            if stem and any(f.startswith(stem + ".xml") for f in failures):
                continue  # its failing cases are already counted
            failed += 1
            failures.append("%s%s: %s (the process failed%s)" % (
                where, t["name"], t["result"], "" if stem else ", no result file"))

    by_test = {}
    for test, path, first in sanitizer_findings(build_dir):
        by_test.setdefault(test, []).append((path, first))
    for test, reports in sorted(by_test.items()):
        failed += 1
        failures.append("%s%s: %d sanitizer report(s), first %s: %s" % (
            where, test, len(reports), os.path.relpath(reports[0][0]), reports[0][1]))
    return passed, failed, failures, ran


def main(build_dirs):
    passed = failed = ran = 0
    failures = []
    for build_dir in build_dirs:
        p, f, names, r = count_build(build_dir)
        passed += p
        failed += f
        failures += names
        ran += r
    if ran == 0 and passed == 0:
        failed += 1
        failures.append("no tests ran")

    for f in failures:
        print("FAILED " + f)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["build"]))
