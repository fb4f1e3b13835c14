#!/bin/bash
# SPDX-License-Identifier: MIT
# The probe's speed: pgseedd's GET /health against nginx serving the same JSON
# body as a static file, side by side in one run (wrk, 16 connections, 10 s
# each, alternated ROUNDS times), then `pgseedctl health` with and without
# PGSEED_URL against curl, pg_isready and `docker exec ... pg_isready`, and
# pgseedd's RSS before and after the floods.
#
# Usage: bench/probe.sh   (ROUNDS=2 DURATION=10s CONNECTIONS=16 RUNS=30 RATE=10000; LONG=5000000 adds
#                          an RSS soak of that many requests).  Installs nginx-light and wrk with
#                          apt-get when missing.
#
# Each round floods both servers twice:
#   split cores   the server on core 0, one wrk thread on core 1 (taskset): the usual way to load
#                 a server from its own machine;
#   shared cores  nothing pinned, wrk -t2: three busy threads on two cores, as in the issue's
#                 first measurement.
# The target (at least 0.8x nginx, p99 under 2 ms) is judged on the medians of each.
# Then, once: wrk -t2 on core 1 alone against each server on core 0, which shows the tail two wrk
# threads make on one core whoever answers; and a fixed RATE of requests per second (wrk's delay()
# hook) with nothing pinned, what a probe under steady traffic sees.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
RUNS=${RUNS:-30}
RATE=${RATE:-10000}
LONG=${LONG:-0}
PGSEEDD=$PWD/$BUILD/daemon/pgseedd
PGSEEDCTL=$PWD/$BUILD/client/pgseedctl
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

need=""
command -v wrk >/dev/null || need="$need wrk"
[ -x /usr/sbin/nginx ] || need="$need nginx-light"
if [ -n "$need" ]; then
    echo "bench: installing$need" >&2
    # Debian's nginx would start a system server on port 80: keep services stopped.
    policy=/usr/sbin/policy-rc.d
    [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made_policy=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    [ -n "${made_policy:-}" ] && rm -f "$policy"
fi

work=$(mktemp -d /tmp/pgseed-probe-XXXXXX)
chmod 755 "$work"
daemon_pid="" nginx_pid="" nginx1_pid="" container=""
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
    [ -n "$nginx1_pid" ] && kill "$nginx1_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c '
import random, socket
while True:
    p = random.randint(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

API_PORT=$(free_port)
PG_PORT=$(free_port)
NGINX_PORT=$(free_port)
NGINX1_PORT=$(free_port)
export PGSEED_STATE_DIR=$work/state PGSEED_LISTEN=127.0.0.1:$API_PORT PGSEED_PG_PORT=$PG_PORT \
       PGSEED_RUNTIME=embedded PGSEED_COMMENTS=${COMMENTS:-2000} PGSEED_CONFIG=/dev/null
API=http://127.0.0.1:$API_PORT
unset PGSEED_URL
# In a session of its own, as `pgseedctl start` runs it (and nginx below, as a daemon would be).
setsid "$PGSEEDD" >"$work/pgseedd.log" 2>&1 </dev/null &
daemon_pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null)" = 200 ]; do
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/pgseedd.log" >&2; exit 1; }
    sleep 0.1
done
sleep 1
rss_idle=$(rss_kib "$daemon_pid")

# The same bytes as a static file; nginx tuned as a static file server usually is.
mkdir -p "$work/www" "$work/nginx"
curl -s "$API/health" >"$work/www/health"
chmod -R a+rX "$work/www"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $work/www;
        location = /health { default_type application/json; }
    }
}
CONF
setsid /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/health"; do sleep 0.05; done

# A second nginx with one worker, for the split-core rounds: one core each, as pgseedd's one loop.
sed -e 's/^worker_processes auto;/worker_processes 1;/' -e "s/listen 127.0.0.1:$NGINX_PORT;/listen 127.0.0.1:$NGINX1_PORT;/" \
    -e "s|pid $work/nginx/nginx.pid;|pid $work/nginx/nginx1.pid;|" "$work/nginx/nginx.conf" >"$work/nginx/nginx1.conf"
setsid taskset -c 0 /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx1.conf" &
nginx1_pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$NGINX1_PORT/health"; do sleep 0.05; done

CORES=$(nproc)
LAST_CORE=$((CORES - 1))
# pgseedd's threads on core 0 (its Postgres stays where it is: a /health flood never reaches it), or back.
pin_pgseedd() { taskset -a -p -c "$1" "$daemon_pid" >/dev/null; }

# wrk's "Requests/sec" and its 99th percentile in ms.
flood() { # URL THREADS [CPUS] [SCRIPT]
    local pin=() script=()
    [ -n "${3:-}" ] && pin=(taskset -c "$3")
    [ -n "${4:-}" ] && script=(-s "$4")
    "${pin[@]}" wrk -t"$2" -c"$CONNECTIONS" -d"$DURATION" --latency "${script[@]}" "$1" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ {rps = $2} / 99%/ {p99 = ms($2)} END {printf "%s %.3f\n", rps, p99}'
}
split_flood() { # URL: the server is on core 0, wrk on the others
    if [ "$CORES" -lt 2 ]; then flood "$1" 1; else flood "$1" 1 "1-$LAST_CORE"; fi
}
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }
verdict() { # RPS NGINX_RPS P99
    python3 -c "r = $1 / $2; print(f'{r:.2f}x nginx, p99 $3 ms (target >= 0.80x, p99 < 2 ms: ' + ('met' if r >= 0.8 and $3 < 2 else 'NOT met') + ')')"
}

PGSEED=$API/health NGINX=http://127.0.0.1:$NGINX_PORT/health NGINX1=http://127.0.0.1:$NGINX1_PORT/health
echo "probe benchmark: $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg), wrk -c$CONNECTIONS -d$DURATION, $ROUNDS rounds"
echo "body: $(wc -c <"$work/www/health") bytes of /health JSON"
[ "$CORES" -lt 2 ] && echo "(one core: the split-core rounds cannot split anything and run unpinned)"
s_rps=() s_p99=() m_rps=() m_p99=() p_rps=() p_p99=() n_rps=() n_p99=()
for round in $(seq 1 "$ROUNDS"); do
    [ "$CORES" -ge 2 ] && pin_pgseedd 0
    read -r rps p99 < <(split_flood "$PGSEED"); s_rps+=("$rps"); s_p99+=("$p99")
    read -r rps p99 < <(split_flood "$NGINX1"); m_rps+=("$rps"); m_p99+=("$p99")
    pin_pgseedd "0-$LAST_CORE"
    read -r rps p99 < <(flood "$PGSEED" 2); p_rps+=("$rps"); p_p99+=("$p99")
    read -r rps p99 < <(flood "$NGINX" 2); n_rps+=("$rps"); n_p99+=("$p99")
    echo "  round $round, split cores:  pgseedd ${s_rps[-1]} req/s p99 ${s_p99[-1]} ms | nginx (1 worker) ${m_rps[-1]} req/s p99 ${m_p99[-1]} ms"
    echo "  round $round, shared cores: pgseedd ${p_rps[-1]} req/s p99 ${p_p99[-1]} ms | nginx (2 workers) ${n_rps[-1]} req/s p99 ${n_p99[-1]} ms"
done
if [ "$CORES" -ge 2 ]; then
    pin_pgseedd 0
    read -r tp_rps tp_p99 < <(flood "$PGSEED" 2 "1-$LAST_CORE")
    read -r tn_rps tn_p99 < <(flood "$NGINX1" 2 "1-$LAST_CORE")
    pin_pgseedd "0-$LAST_CORE"
    echo "  wrk -t2 on core 1 alone:    pgseedd ${tp_rps} req/s p99 ${tp_p99} ms | nginx (1 worker) ${tn_rps} req/s p99 ${tn_p99} ms"
fi
# delay() is wrk's pause before each request of a connection: CONNECTIONS connections at RATE in all.
printf 'function delay() return %s end\n' "$(python3 -c "print(max(1, round($CONNECTIONS * 1000 / $RATE)))")" >"$work/rate.lua"
read -r fp_rps fp_p99 < <(flood "$PGSEED" 2 "" "$work/rate.lua")
read -r fn_rps fn_p99 < <(flood "$NGINX" 2 "" "$work/rate.lua")
echo "  fixed rate, shared cores:   pgseedd ${fp_rps} req/s p99 ${fp_p99} ms | nginx (2 workers) ${fn_rps} req/s p99 ${fn_p99} ms"

S_RPS=$(median "${s_rps[@]}") S_P99=$(median "${s_p99[@]}") M_RPS=$(median "${m_rps[@]}") M_P99=$(median "${m_p99[@]}")
P_RPS=$(median "${p_rps[@]}") P_P99=$(median "${p_p99[@]}") N_RPS=$(median "${n_rps[@]}") N_P99=$(median "${n_p99[@]}")
rss_flood=$(rss_kib "$daemon_pid")
requests=$(curl -s "$API/metrics" | awk -F' ' '/^pgseed_http_requests_total\{route="\/health",code="200"\}/ {print $2}')

echo
printf "%-46s %12s %10s\n" "GET /health (median of rounds)" "req/s" "p99"
printf "%-46s %12.0f %8.3f ms\n" "split cores: pgseedd" "$S_RPS" "$S_P99"
printf "%-46s %12.0f %8.3f ms\n" "split cores: nginx, same body, 1 worker" "$M_RPS" "$M_P99"
printf "%-46s %12.0f %8.3f ms\n" "shared cores: pgseedd" "$P_RPS" "$P_P99"
printf "%-46s %12.0f %8.3f ms\n" "shared cores: nginx, same body, 2 workers" "$N_RPS" "$N_P99"
echo "split cores:  pgseedd $(verdict "$S_RPS" "$M_RPS" "$S_P99")"
echo "shared cores: pgseedd $(verdict "$P_RPS" "$N_RPS" "$P_P99"); nginx's own p99 $N_P99 ms"

# One command's wall time, median of RUNS, in ms.
timeit() {
    python3 - "$RUNS" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(times):.1f}")
PY
}
cfg=$work/pgseed.conf
printf '[api]\nlisten = 127.0.0.1:%s\n' "$API_PORT" >"$cfg"
echo
echo "one health check from the command line (median of $RUNS, ms)"
printf "  %-52s %6s\n" "curl -s $API/health" "$(timeit curl -s "$API/health")"
printf "  %-52s %6s\n" "pgseedctl health (PGSEED_URL set)" "$(PGSEED_URL=$API timeit "$PGSEEDCTL" health)"
printf "  %-52s %6s\n" "pgseedctl health (PGSEED_LISTEN, no PGSEED_URL)" "$(timeit "$PGSEEDCTL" health)"
printf "  %-52s %6s\n" "pgseedctl health (config file, nothing in env)" \
    "$(env -u PGSEED_LISTEN PGSEED_CONFIG="$cfg" bash -c "$(declare -f timeit); RUNS=$RUNS; timeit $PGSEEDCTL health")"
printf "  %-52s %6s\n" "pg_isready -h 127.0.0.1 -p $PG_PORT" "$(timeit "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT")"
if command -v docker >/dev/null && docker image inspect pgseed/postgres:15 >/dev/null 2>&1; then
    container=$(docker run -d --network none --entrypoint sleep pgseed/postgres:15 600)
    printf "  %-52s %6s\n" "docker exec <container> pg_isready" "$(timeit docker exec "$container" pg_isready -q)"
else
    printf "  %-52s %6s\n" "docker exec <container> pg_isready" "(no docker or no pgseed/postgres:15 image)"
fi

if [ "$LONG" -gt 0 ]; then
    # wrk has no request budget: flood until pgseedd itself has counted LONG more probes, then stop it.
    health_count() { curl -s "$API/metrics" | awk -F' ' '/^pgseed_http_requests_total\{route="\/health",code="200"\}/ {print $2}'; }
    soak_from=$(health_count)
    wrk -t2 -c"$CONNECTIONS" -d3600s "$API/health" >/dev/null &
    soak_pid=$!
    soak_start=$(date +%s)
    while [ $(( $(health_count) - soak_from )) -lt "$LONG" ] && kill -0 "$soak_pid" 2>/dev/null; do sleep 1; done
    kill "$soak_pid" 2>/dev/null; wait "$soak_pid" 2>/dev/null || true
    requests=$(health_count)
    echo
    echo "soak: $(( requests - soak_from )) /health requests in $(( $(date +%s) - soak_start )) s"
fi
echo
echo "pgseedd RSS: $((rss_idle / 1024)).$(((rss_idle % 1024) * 10 / 1024)) MiB idle, $((rss_flood / 1024)).$(((rss_flood % 1024) * 10 / 1024)) MiB after the floods, $(( $(rss_kib "$daemon_pid") / 1024 )) MiB now, after ${requests:-?} /health requests"
