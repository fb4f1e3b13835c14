#!/bin/bash
# SPDX-License-Identifier: MIT
# `make test`: every suite (unit, integration on the embedded runtime, docker
# against a real engine), then one summary line "N passed, N failed".  Starts
# the Docker engine when it is not running (and stops it again afterwards),
# and builds the local images the docker suite uses (cached after the first run).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD"

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

rm -rf "$BUILD/test-results"
mkdir -p "$BUILD/test-results"
meson test -C "$BUILD" --print-errorlogs --num-processes 2
/usr/bin/python3 tests/summary.py "$BUILD"
