#!/bin/sh
# SPDX-License-Identifier: MIT
# build-local-images.sh -- builds pgseed's images without registry access.
#
# For machines that cannot reach Docker Hub: builds a Debian bookworm base
# image with debootstrap from the Debian mirror this machine's apt already
# uses, then the Postgres image (compose/postgres, tagged pgseed/postgres:15),
# the PgBouncer image pgseedd runs on the Docker runtime with [pgbouncer]
# enabled (compose/pgbouncer, Debian's pgbouncer package, tagged
# pgseed/pgbouncer:1) and the pgseedd image (compose/Dockerfile, tagged
# pgseed/pgseedd:latest).
# Each step is skipped when its image exists, so a second run takes seconds;
# --force rebuilds everything.  Needs root (debootstrap) and a Docker engine.
#
# Use the result by putting PGSEED_IMAGE=pgseed/postgres:15 into compose/.env.
#
# The mirror's host name is read from /etc/apt at run time and written only
# into the base image's apt configuration; this script never prints it.

set -eu

usage() {
    cat <<USAGE
Usage: $0 [--force]

Builds debian:bookworm (+ debian:bookworm-slim), pgseed/postgres:15,
pgseed/pgbouncer:1 and pgseed/pgseedd:latest locally, skipping images that
already exist.

  --force   rebuild every image even when it exists
USAGE
}

force=0
for arg in "$@"; do
    case "$arg" in
    --force) force=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
base_image=debian:bookworm
slim_image=debian:bookworm-slim
postgres_image=pgseed/postgres:15
pgbouncer_image=pgseed/pgbouncer:1
pgseedd_image=pgseed/pgseedd:latest

log() { printf '%s\n' "build-local-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# Whether a step has to run: its image is missing, or --force.
need() { [ "$force" = 1 ] || ! image_exists "$1"; }

# Sets $elapsed to the seconds since the last call (or the start).  Not to be
# called as $(lap): the subshell would lose lap_start.
lap_start=$(date +%s)
lap() { now=$(date +%s); elapsed=$((now - lap_start)); lap_start=$now; }

# The first Debian bookworm mirror URI from the host's apt sources (deb822
# .sources files first, then the one-line format).  Security and backports
# suites are skipped: debootstrap needs the main archive.
read_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; enabled = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)    { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/)  { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
                    if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
                }
                if (enabled && suites ~ /(^| )bookworm( |$)/) { split(uris, u, " "); print u[1]; exit }
            }' "$f"
    done | head -n 1 | grep . && return 0
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == "bookworm") { print $i; exit }
            }' | grep .
}

build_base() {
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root: run this script as root"
    mirror=$(read_mirror) || die "no Debian bookworm mirror found in /etc/apt/sources.list{,.d}"

    tmp=$(mktemp -d /tmp/pgseed-rootfs.XXXXXX)
    # The rootfs holds device nodes and root-owned files; remove it however we exit.
    trap 'rm -rf "$tmp"' EXIT INT TERM
    dir=$tmp/rootfs

    log "debootstrap --variant=minbase bookworm (from this machine's apt mirror) ..."
    if ! debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
        # Print the failure without the mirror's address.
        tail -n 20 "$tmp/debootstrap.log" | sed "s#$mirror#MIRROR#g" >&2
        die "debootstrap failed"
    fi

    # apt inside the image uses the same sources as the host, so that
    # `apt-get install` in the Dockerfiles reaches the same mirror (docker
    # build --network host).  deb822 .sources files and one-line lists are
    # copied as they are; the keyrings they name come with debian-archive-keyring.
    rm -f "$dir/etc/apt/sources.list"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [ -s "$f" ] || continue
        case "$f" in
        */sources.list) cp "$f" "$dir/etc/apt/sources.list" ;;
        *) cp "$f" "$dir/etc/apt/sources.list.d/" ;;
        esac
    done
    # Snapshot mirrors serve Release files past their Valid-Until, and a host
    # behind a proxy needs it inside too: carry those few settings over.
    apt-config dump 2>/dev/null |
        grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
            >"$dir/etc/apt/apt.conf.d/90pgseed-host" || true
    # Keep the image small: no downloaded packages or lists.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log

    log "importing $base_image ..."
    tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - "$base_image" >/dev/null
    rm -rf "$tmp"
    trap - EXIT INT TERM
}

# The pgseedd build context: the source tree without build directories or
# .git (git's own list when this is a checkout), streamed as a tarball.
source_context() {
    if command -v git >/dev/null && git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # compose/.env holds the user's passwords: never part of an image.
        git -C "$root" ls-files --cached --others --exclude-standard |
            grep -v -x -e 'compose/.env' |
            while IFS= read -r f; do [ -e "$root/$f" ] && printf '%s\n' "$f"; done |
            tar -C "$root" -c -T -
    else
        tar -C "$root" --exclude=./.git --exclude='./build*' --exclude=./compose/.env -c .
    fi
}

command -v docker >/dev/null || die "docker is not installed"
docker version >/dev/null 2>&1 || die "the Docker engine does not answer (is dockerd running? is DOCKER_HOST right?)"

start=$(date +%s)
# What the tags name now: with --force the old images become untagged, and
# are removed at the end rather than left behind as <none> (half a GB each).
old_ids="$(image_id "$pgseedd_image") $(image_id "$pgbouncer_image") $(image_id "$postgres_image") $(image_id "$base_image")"

if need "$base_image"; then
    build_base
    lap
    log "$base_image ready in $elapsed s"
else
    log "$base_image exists, skipping debootstrap"
    lap
fi
if [ "$force" = 1 ] || ! image_exists "$slim_image"; then
    # compose/Dockerfile's runtime stage starts from bookworm-slim; locally
    # the minbase rootfs is already slim, so it is the same image.
    docker tag "$base_image" "$slim_image"
fi

# Builds image from the directory compose/DIR unless it exists (or --force).
build_image() {
    if need "$1"; then
        log "building $1 ..."
        docker build --force-rm --network host -t "$1" "$here/$2"
        lap
        log "$1 built in $elapsed s"
    else
        log "$1 exists, skipping"
        lap
    fi
}

build_image "$postgres_image" postgres
build_image "$pgbouncer_image" pgbouncer

if need "$pgseedd_image"; then
    log "building $pgseedd_image ..."
    source_context | docker build --force-rm --network host -f compose/Dockerfile -t "$pgseedd_image" -
    lap
    log "$pgseedd_image built in $elapsed s"
else
    log "$pgseedd_image exists, skipping"
fi

# The pgseedd build stage (labelled in compose/Dockerfile) is left untagged by
# a multi-stage build; then the images that --force replaced, children first.
docker image prune -f --filter label=io.pgseed.stage=build >/dev/null 2>&1 || true
for id in $old_ids; do
    case " $(image_id "$pgseedd_image") $(image_id "$pgbouncer_image") $(image_id "$postgres_image") $(image_id "$base_image") " in
    *" $id "*) ;;
    *) docker rmi "$id" >/dev/null 2>&1 || true ;;
    esac
done

log "done in $(($(date +%s) - start)) s: $base_image, $postgres_image, $pgbouncer_image, $pgseedd_image"
log "use them with PGSEED_IMAGE=$postgres_image in compose/.env"
