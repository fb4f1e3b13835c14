# SPDX-License-Identifier: MIT
# pgseed: `make start` for a ready, seeded database; `make test` for every test.
# The targets call pgseedctl; see `build/client/pgseedctl --help`.

BUILD ?= build
CTL := $(BUILD)/client/pgseedctl
MESON_OPTS ?= -Dwerror=true

.PHONY: all deps deps-test build start stop restart status health wait reset inspect-schema inspect-data \
        logs load-data test images clean distclean bench bench-inplace storm format \
        clone clones unclone bench-clones workload bench-workload snapshot snapshots restore snapshot-dump \
        snapshot-load bench-pooler

all: build

deps:
	@sh .ci/deps

deps-test:
	@sh .ci/deps test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null || ninja -C $(BUILD)

# Starts pgseedd in the background (if it is not running), waits until the
# database is seeded and healthy, and prints how to connect.
start: build
	@$(CTL) start

stop: build
	@$(CTL) stop

restart: build
	@$(CTL) stop && $(CTL) start

status: build
	@$(CTL) status

health: build
	@$(CTL) health

wait: build
	@$(CTL) wait

# Restores the seeded state; asks first unless YES=1.  MODE=inplace keeps
# the database, its publication and replication slots (for a running Debezium);
# TABLES=comments,users restores only those tables (in place).
reset: build
	@$(CTL) reset $(if $(YES),--yes) $(if $(MODE),--mode $(MODE)) $(if $(TABLES),--tables $(TABLES))

# Generated change traffic: make workload RATE=5000 [MIX=60,30,10] [DURATION=S | COUNT=N] [SEED=N] [WAIT=1];
# make workload STOP=1 stops it, STATUS=1 shows its progress.
workload: build
	@$(CTL) workload $(if $(STOP),--stop,$(if $(STATUS),--status,$(if $(RATE),--rate $(RATE)) \
		$(if $(MIX),--mix $(MIX)) $(if $(DURATION),--duration $(DURATION)) $(if $(COUNT),--count $(COUNT)) \
		$(if $(SEED),--seed $(SEED)) $(if $(WAIT),--wait)))

# Leases an isolated copy of the seeded database: make clone [TTL=S] [ENV=1]
# (ENV=1 prints PGDATABASE=/DATABASE_URL= lines: eval "$$(make -s clone ENV=1)").
clone: build
	@$(CTL) clone $(if $(TTL),--ttl $(TTL)) $(if $(ENV),--env)

clones: build
	@$(CTL) clones

unclone: build
	@test -n "$(NAME)" || { echo "usage: make unclone NAME=app_clone_..." >&2; exit 2; }
	@$(CTL) unclone "$(NAME)"

# Named snapshots: make snapshot NAME=before-migration; make restore NAME=before-migration;
# make snapshot-dump NAME=N FILE=n.pgdump (a pg_dump archive); make snapshot-load NAME=N FILE=n.pgdump.
snapshot: build
	@test -n "$(NAME)" || { echo "usage: make snapshot NAME=before-migration" >&2; exit 2; }
	@$(CTL) snapshot "$(NAME)"

snapshots: build
	@$(CTL) snapshots

restore: build
	@test -n "$(NAME)" || { echo "usage: make restore NAME=before-migration" >&2; exit 2; }
	@$(CTL) restore --yes "$(NAME)"

snapshot-dump: build
	@test -n "$(NAME)" -a -n "$(FILE)" || { echo "usage: make snapshot-dump NAME=N FILE=n.pgdump" >&2; exit 2; }
	@$(CTL) snapshot-dump "$(NAME)" "$(FILE)"

snapshot-load: build
	@test -n "$(NAME)" -a -n "$(FILE)" || { echo "usage: make snapshot-load NAME=N FILE=n.pgdump" >&2; exit 2; }
	@$(CTL) snapshot-load "$(NAME)" "$(FILE)"

inspect-schema: build
	@$(CTL) schema $(if $(TABLE),--table $(TABLE))

inspect-data: build
	@$(CTL) sample $(if $(TABLE),--table $(TABLE)) $(if $(LIMIT),--limit $(LIMIT))

logs: build
	@$(CTL) logs $(if $(FOLLOW),--follow) --tail $(or $(TAIL),100)

# Restarts pgseedd seeded from the real CSV: make load-data CSV=/path/to/comments.csv
load-data: build
	@test -n "$(CSV)" || { echo "usage: make load-data CSV=/path/to/youtube_comments.csv" >&2; exit 2; }
	@$(CTL) load-data "$(CSV)"

test: deps-test build
	@tests/run.sh

# Offline images for the Docker runtime and compose (debootstrap + docker build).
images:
	@compose/build-local-images.sh

bench: build
	@bench/run.sh

# A private pgseedd under load: clients, resets every 3 s, 600 slowloris connections (bench/storm --help).
storm: build
	@bench/storm $(if $(DURATION),--duration $(DURATION))

# The in-place reset's time against the number of changed rows (tracked vs the full diff).
bench-inplace: build
	@bench/inplace

# Clone hand-out and reset latencies against a private pgseedd (see bench/clones).
bench-clones: build
	@bench/clones

# The workload's achieved rate and in-place reset times with a subscriber attached (see bench/workload).
bench-workload: build
	@bench/workload

# Resets under pgbench load through PgBouncer and straight to Postgres (see bench/pooler).
bench-pooler: build
	@bench/pooler

# Removes the Postgres container (or stops the embedded one); VOLUMES=1 also deletes the data.
clean: build
	@$(CTL) down $(if $(VOLUMES),--volumes)

distclean: clean
	rm -rf $(BUILD) $(BUILD)-asan

format:
	clang-format -i daemon/*.[ch] client/*.[ch] tests/*.c
