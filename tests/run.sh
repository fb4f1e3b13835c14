#!/bin/bash
# SPDX-License-Identifier: MIT
# `make test`: every suite (unit, integration on the embedded runtime, docker
# against a real engine) on the normal build; then on an ASan+UBSan build
# ($BUILD-asan, clang) unit and the integration suites tagged "sanitized" (tests/meson.build)
# again and every libFuzzer target for
# FUZZ_SECONDS; then one summary line "N passed, N failed" over both builds.
# Starts the Docker engine when it is not running (and stops it again afterwards),
# and builds the local images the docker suite uses (cached after the first run).
#
#   SANITIZE=0   skips the ASan+UBSan run     FUZZ=0   skips the fuzzers
#   FUZZ_SECONDS=N (default 20) each fuzzer's time
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-$BUILD-asan}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
mkdir -p "$BUILD"
builds=("$BUILD")
start=$(date +%s)

# A build that fails before its tests run leaves one failed test case, so the summary shows it.
record_failure() { # BUILD_DIR NAME MESSAGE
    /usr/bin/python3 - "$@" <<'PY'
import os, sys
import xml.etree.ElementTree as ET
build, name, message = sys.argv[1:]
suite = ET.Element("testsuite", name="build", tests="1")
case = ET.SubElement(suite, "testcase", classname="build", name=name)
ET.SubElement(case, "failure", message=message)
os.makedirs(os.path.join(build, "test-results"), exist_ok=True)
ET.ElementTree(suite).write(os.path.join(build, "test-results", "build-%s.xml" % name), encoding="unicode")
PY
    echo "tests: $3"
}

# Fresh results for BUILD_DIR: no XML, sanitizer report or meson log left from an earlier run.
fresh_results() {
    rm -rf "$1/test-results" "$1/sanitizer-logs" "$1/meson-logs/testlog.json"
    mkdir -p "$1/test-results"
}

dockerd_pid=""
cleanup() {
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
    if command -v dockerd >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "tests: starting dockerd (--bridge=none --iptables=false, log in $BUILD/dockerd.log)"
        # No bridge network: test containers use host networking and talk to 127.0.0.1 only.
        dockerd --bridge=none --iptables=false >"$BUILD/dockerd.log" 2>&1 &
        dockerd_pid=$!
        for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
        docker info >/dev/null 2>&1 || echo "tests: dockerd did not come up; see $BUILD/dockerd.log (the docker suite will fail)"
    else
        echo "tests: no Docker engine and cannot start one (need root and docker.io); the docker suite will fail"
    fi
fi

if docker info >/dev/null 2>&1 && [ -x compose/build-local-images.sh ]; then
    compose/build-local-images.sh || echo "tests: building the local images failed (the docker suite will fail)"
fi

fresh_results "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2
echo "tests: $BUILD done after $(( $(date +%s) - start ))s"

# The same unit and integration tests against pgseedd, pgseedctl and test binaries built with
# AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer, and the libFuzzer targets (suite
# fuzz, each FUZZ_SECONDS).  Built with clang: its ASan runtime includes UBSan, so UBSan's reports
# honour log_path too (gcc's separate libubsan writes them to stderr only), and libFuzzer needs it
# anyway.  tests/meson.build gives each test ASAN_OPTIONS/UBSAN_OPTIONS that abort on the first
# finding and write the report to $ASAN_BUILD/sanitizer-logs/TEST.PID; tests/summary.py counts
# them as failures.  Postgres, which the embedded runtime execs, is not instrumented.
suites=()
[ "${SANITIZE:-1}" != 0 ] && suites+=(--suite unit --suite sanitized)
[ "${FUZZ:-1}" != 0 ] && suites+=(--suite fuzz)
if [ ${#suites[@]} -gt 0 ]; then
    builds+=("$ASAN_BUILD")
    # Set up before anything else is written there: meson only adds its .gitignore to a new directory.
    if [ ! -f "$ASAN_BUILD/build.ninja" ]; then
        # werror stays off here: the gcc build enforces the warnings, clang warns about other things.
        CC=clang meson setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Dfuzzers=true \
            -Dfuzz_seconds="$FUZZ_SECONDS" >"$BUILD/asan-setup.log" 2>&1 || cat "$BUILD/asan-setup.log"
    else
        meson configure "$ASAN_BUILD" -Dfuzz_seconds="$FUZZ_SECONDS" >/dev/null
    fi
    fresh_results "$ASAN_BUILD"
    mkdir -p "$ASAN_BUILD/sanitizer-logs"
    if ninja -C "$ASAN_BUILD" >"$ASAN_BUILD/ninja.log" 2>&1; then
        meson test -C "$ASAN_BUILD" "${suites[@]}" --print-errorlogs --num-processes 2 --no-rebuild
    else
        tail -40 "$ASAN_BUILD/ninja.log"
        record_failure "$ASAN_BUILD" asan \
            "building $ASAN_BUILD (clang, ASan+UBSan, fuzzers) failed: clang installed (.ci/deps test)? see $ASAN_BUILD/ninja.log"
    fi
    for f in "$ASAN_BUILD"/sanitizer-logs/*; do
        [ -s "$f" ] || continue
        echo "=== sanitizer report $f"
        head -60 "$f"
    done
fi

echo "tests: all done after $(( $(date +%s) - start ))s"
/usr/bin/python3 tests/summary.py "${builds[@]}"
