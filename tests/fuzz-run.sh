#!/bin/bash
# SPDX-License-Identifier: MIT
# fuzz-run.sh -- runs one libFuzzer target for a bounded time, seeded from its committed corpus, and
# writes a JUnit XML with one test case: passed when the target ran the whole time without a crash,
# a leak, a timeout or running out of memory.
#
#   tests/fuzz-run.sh NAME FUZZER SECONDS SEED_DIR WORK_DIR RESULT_XML
#
# New inputs go to WORK_DIR/corpus (kept, so later runs in the same build dir start from what earlier
# ones found); a crashing input to WORK_DIR/artifacts, named in the failure message.
set -uo pipefail
name=$1 fuzzer=$2 seconds=$3 seeds=$4 work=$5 xml=$6

mkdir -p "$work/corpus" "$work/artifacts" "$(dirname "$xml")"
rm -f "$work"/artifacts/*
# A target without committed seeds starts from the empty input.
dirs=("$work/corpus")
[ -d "$seeds" ] && dirs+=("$seeds")
start=$(date +%s.%N)
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$work/fuzz.log" 2>&1
rc=$?
end=$(date +%s.%N)
# Inputs that crashed, in case the exit status alone does not tell (it does for libFuzzer).
artifacts=$(ls "$work/artifacts" 2>/dev/null | tr '\n' ' ')

/usr/bin/python3 - "$name" "$rc" "$start" "$end" "$work/fuzz.log" "$xml" "$artifacts" "$work/artifacts" <<'PY'
import sys
import xml.etree.ElementTree as ET

name, rc, start, end, log, xml, artifacts, artifact_dir = sys.argv[1:]
with open(log, errors="replace") as f:
    text = f.read()
suite = ET.Element("testsuite", name="fuzz", tests="1")
case = ET.SubElement(suite, "testcase", classname="fuzz", name=name, time="%.1f" % (float(end) - float(start)))
if rc != "0" or artifacts.strip():
    fail = ET.SubElement(case, "failure", message="fuzz-%s exited with %s%s" % (
        name, rc, "; inputs in %s: %s" % (artifact_dir, artifacts.strip()) if artifacts.strip() else ""))
    fail.text = text[-6000:]
ET.ElementTree(suite).write(xml, encoding="unicode")
PY
if [ "$rc" != 0 ] || [ -n "$artifacts" ]; then
    tail -60 "$work/fuzz.log"
    echo "fuzz-$name: FAILED (exit $rc); crashing inputs in $work/artifacts: ${artifacts:-none}"
    exit 1
fi
grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/fuzz.log" | tr '\n' ' '
echo "fuzz-$name: no crash in ${seconds}s"
