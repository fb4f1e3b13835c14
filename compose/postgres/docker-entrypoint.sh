#!/bin/sh
# SPDX-License-Identifier: MIT
# docker-entrypoint.sh -- the official postgres image's contract on Debian's postgresql-15.
#
# First run (no $PGDATA/PG_VERSION): initdb as the postgres user with
# POSTGRES_USER as superuser, POSTGRES_PASSWORD as its password and
# scram-sha-256 for every TCP connection; then creates POSTGRES_DB and runs
# /docker-entrypoint-initdb.d/*.sql and *.sh.  Every run: starts the server
# with the arguments given (`postgres -c name=value ...`) as the postgres
# user, turning SIGTERM into Postgres's fast shutdown.

set -eu

# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`, as in the official image.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

# Anything but the server (`docker run -it IMAGE bash`) runs as it is.
if [ "$1" != postgres ]; then
    exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# As root: make the data directory (possibly a fresh volume or bind mount)
# and the socket directory the postgres user's, then re-run this script as
# that user.  setpriv is util-linux's, already in the base image.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    # Only what is not postgres's yet: a full chown -R would rewrite every
    # file's metadata of a large cluster on each start.
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chown postgres:postgres /var/run/postgresql
    chmod 2775 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

# Postgres treats SIGTERM as "smart" shutdown, which waits for every client
# to disconnect: a supervisor that keeps connections open would wait out the
# stop timeout and then kill.  So the server runs as this shell's child, and
# SIGTERM (or SIGINT, the image's STOPSIGNAL) becomes SIGINT, the fast
# shutdown; SIGQUIT stays immediate shutdown.  The traps are set before
# initialising, so that a stop during initdb lets it finish (a half-made
# cluster would look initialised next time) and then starts nothing.
pending=
pid=
# shellcheck disable=SC2317 # called from the traps below
on_signal() {
    pending=$1
    if [ -n "$pid" ]; then
        kill -"$1" "$pid" 2>/dev/null || true
    fi
}
trap 'on_signal INT' TERM INT
trap 'on_signal QUIT' QUIT

init_cluster() {
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "docker-entrypoint: error: the database is uninitialised and POSTGRES_PASSWORD is not set" >&2
        echo "docker-entrypoint: set POSTGRES_PASSWORD (e.g. docker run -e POSTGRES_PASSWORD=secret ...)" >&2
        exit 1
    fi

    # The password goes through a file, never the command line (visible in ps).
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    # Local (unix socket) connections are trusted, as in the official image:
    # they are only reachable from inside the container.  TCP needs the password.
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"

    # initdb only allows 127.0.0.1 and ::1; a published port (bridge network)
    # connects from the bridge's gateway, so accept any address, password
    # required -- replication too (logical decoding clients such as Debezium).
    {
        echo
        echo "host all all all scram-sha-256"
        echo "host replication all all scram-sha-256"
    } >>"$PGDATA/pg_hba.conf"

    # A temporary server on the unix socket only creates the database and
    # runs the init scripts; nothing can connect over TCP meanwhile.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" \
        start >/dev/null
    psql_init() { psql -v ON_ERROR_STOP=1 --no-psqlrc --username="$POSTGRES_USER" --host=/var/run/postgresql "$@"; }
    if [ "$POSTGRES_DB" != postgres ]; then
        psql_init --dbname=postgres --set=db="$POSTGRES_DB" <<'SQL' >/dev/null
CREATE DATABASE :"db";
SQL
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
        *.sql)
            echo "docker-entrypoint: running $f" >&2
            psql_init --dbname="$POSTGRES_DB" -f "$f" >/dev/null
            ;;
        *.sh)
            echo "docker-entrypoint: running $f" >&2
            # shellcheck source=/dev/null # the user's init scripts
            . "$f"
            ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "docker-entrypoint: database cluster initialised in $PGDATA" >&2
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_cluster
fi

# Asked to stop while initialising: the cluster is complete, start nothing.
if [ -n "$pending" ]; then
    exit 0
fi
"$@" &
pid=$!
# A signal that came between the two lines above found no pid to forward to.
if [ -n "$pending" ]; then
    kill -"$pending" "$pid" 2>/dev/null || true
fi
status=0
while :; do
    # wait returns early (status > 128) when a trapped signal arrives; the
    # loop waits again until the server has really exited.
    if wait "$pid"; then status=0; else status=$?; fi
    kill -0 "$pid" 2>/dev/null || break
    # A script starts its background jobs with SIGINT ignored, so a server in
    # its first milliseconds (before it sets its handlers) misses the signal:
    # repeat it until the server goes.  Once shutting down it ignores repeats.
    if [ -n "$pending" ]; then
        sleep 0.2
        kill -"$pending" "$pid" 2>/dev/null || true
    fi
done
exit "$status"
