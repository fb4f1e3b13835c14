#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs N workers in parallel, each on its own clone of the seeded database:
#   examples/parallel.sh 8 ./run-my-tests.sh
# Every worker gets PGDATABASE and DATABASE_URL for its clone; the clone is
# returned when the worker ends (and expires after an hour anyway).
set -eu

n=${1:?usage: parallel.sh N COMMAND [ARGS...]}
shift
[ $# -gt 0 ] || { echo "usage: parallel.sh N COMMAND [ARGS...]" >&2; exit 2; }
ctl=${PGSEEDCTL:-pgseedctl}
command -v "$ctl" >/dev/null 2>&1 || ctl="$(dirname "$0")/../build/client/pgseedctl"

worker() {
        i=$1
        shift
        # PGDATABASE=... DATABASE_URL=... for this worker only.
        eval "$("$ctl" clone --env)"
        trap '"$ctl" unclone "$PGDATABASE" >/dev/null' EXIT
        echo "worker $i on $PGDATABASE" >&2
        "$@"
}

pids=
i=1
while [ "$i" -le "$n" ]; do
        ( worker "$i" "$@" ) &
        pids="$pids $!"
        i=$((i + 1))
done
status=0
for p in $pids; do
        wait "$p" || status=1
done
exit $status
