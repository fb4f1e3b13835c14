#!/bin/bash
# SPDX-License-Identifier: MIT
# pgseed benchmark: seeding and resetting, each against the original setup's
# approach, measured side by side in one run on the same Postgres.
#
#   seed      pgseedd from an empty cluster to a ready working database (template build + clone)
#   baseline  the same rows written to three files, then `psql \copy` into the fully indexed, FK'd schema
#   reset     POST /reset (template mode) after changes, median of RESETS runs
#   baseline  the original reset: drop the database, create it, run the schema, \copy the files again
#
# Usage: bench/run.sh   (COMMENTS=500000 RESETS=5 SEED_RUNS=3 by default; needs a built tree)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
COMMENTS=${COMMENTS:-500000}
RESETS=${RESETS:-5}
SEED_RUNS=${SEED_RUNS:-3}
PGSEEDD=$BUILD/daemon/pgseedd
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

work=$(mktemp -d /tmp/pgseed-bench-XXXXXX)
chmod 755 "$work"
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Below the ephemeral range, so that no client connection's local port can take it meanwhile.
free_port() { python3 -c '
import random, socket
while True:
    p = random.randint(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'; }
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }

export PGPASSWORD=app
API_PORT=$(free_port)
PG_PORT=$(free_port)
export PGSEED_STATE_DIR=$work/state PGSEED_LISTEN=127.0.0.1:$API_PORT PGSEED_PG_PORT=$PG_PORT \
       PGSEED_RUNTIME=embedded PGSEED_COMMENTS=$COMMENTS PGSEED_CONFIG=/dev/null
API=http://127.0.0.1:$API_PORT
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U app "$@"; }
status() { curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null || true; }
state() { curl -s "$API/health" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true; }

echo "pgseed benchmark: $COMMENTS comments, $(nproc) cores, $("$BIN/postgres" --version)"
echo

# --- seeding ----------------------------------------------------------------
# Each run: a fresh cluster; the clock starts when pgseedd begins seeding
# (Postgres up, nothing built) and stops when /health says ready.
seeds=()
for run in $(seq 1 "$SEED_RUNS"); do
    rm -rf "$work/state"
    "$PGSEEDD" >"$work/pgseedd.log" 2>&1 &
    daemon_pid=$!
    until [ "$(state)" = seeding ]; do sleep 0.01; done
    t0=$(now)
    until [ "$(status)" = 200 ]; do sleep 0.02; done
    t1=$(now)
    seeds+=("$(elapsed "$t0" "$t1")")
    if [ "$run" -lt "$SEED_RUNS" ]; then kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""; fi
done
seed=$(median "${seeds[@]}")
phases=$(curl -s "$API/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataset"]["phases_ms"])')

# --- the original approach on the same server --------------------------------
"$PGSEEDD" --export-dataset "$work/data" >/dev/null
rows=$(cat "$work"/data/*.tsv | wc -l)
original_load() {
    psql_ -d postgres -c "DROP DATABASE IF EXISTS bench_original" -c "CREATE DATABASE bench_original"
    psql_ -d bench_original -f bench/original-schema.sql
    for t in videos users comments; do
        cols=$(head -c0 /dev/null; case $t in
            videos) echo "video_id, title, category";;
            users) echo "channel_id, channel_name";;
            comments) echo "comment_id, video_id, channel_id, comment_text, likes, replies, published_at, sentiment_label, country_code";;
        esac)
        psql_ -d bench_original -c "\\copy $t ($cols) FROM '$work/data/$t.tsv'"
    done
}
t0=$(now); original_load; t1=$(now)
original_seed=$(elapsed "$t0" "$t1")

# --- resets -------------------------------------------------------------------
resets=()
for run in $(seq 1 "$RESETS"); do
    # Let the next reset's copy be prepared, as it is between a developer's resets.
    sleep 3
    psql_ -d app -c "DELETE FROM comments WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 1000)" \
          -c "INSERT INTO videos (video_id, title) VALUES ('bench$run', 'x')" -c "DROP INDEX idx_comments_country"
    resets+=("$(curl -s -o /dev/null -w '%{time_total}' -X POST "$API/reset")")
done
reset=$(median "${resets[@]}")
sleep 3
psql_ -d app -c "UPDATE comments SET likes = likes + 1 WHERE comment_id IN (SELECT comment_id FROM comments LIMIT 100)"
inplace=$(curl -s -o /dev/null -w '%{time_total}' -X POST "$API/reset?mode=inplace")
t0=$(now); original_load; t1=$(now)
original_reset=$(elapsed "$t0" "$t1")

# /health under a flood of probes: answered from the probe's last state, never a connection per request.
health_rps="(wrk not installed)"
if command -v wrk >/dev/null; then
    health_rps=$(wrk -t2 -c32 -d5s "$API/health" | awk '/Requests\/sec/ {print $2}')
    probe_conns=$(psql_ -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgseedd-probe'")
fi

echo "                                             pgseed    original   speed-up"
printf "seed %'d rows from an empty cluster        %6.2f s   %7.2f s   %5sx\n" "$rows" "$seed" "$original_seed" "$(ratio "$original_seed" "$seed")"
printf "reset to the seeded state (template)         %6.3f s   %7.2f s   %5sx\n" "$reset" "$original_reset" "$(ratio "$original_reset" "$reset")"
printf "reset in place (keeps slots, 100 updates)    %6.2f s\n" "$inplace"
echo "GET /health under wrk (2 threads, 32 connections): $health_rps requests/s, ${probe_conns:-?} probe connection(s) to Postgres"
echo
echo "seed runs (s): ${seeds[*]}   phases of the last build (ms): $phases"
echo "reset runs (s): ${resets[*]}"
echo "original: psql \\copy of the same rows from three files into the indexed, FK'd schema (file writing not counted)"
