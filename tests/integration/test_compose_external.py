# SPDX-License-Identifier: MIT
"""compose/docker-compose.external.yml: pgseedd attached to the stack's own
`postgres` service (runtime = external), brought up with docker-compose to
healthy; the stack's server stopped is `down` in /health and left alone,
started again by its owner it is ready again.  A private project name, private
ports and host networking; the branch's binaries are mounted over the image's,
so the test runs this tree's pgseedd, not the last `make images`."""

import os
import random
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD_DIR, SOURCE_ROOT, free_port, http, wait_for

COMPOSE_FILE = os.path.join(SOURCE_ROOT, "compose", "docker-compose.external.yml")
PGSEEDD_IMAGE = os.environ.get("PGSEED_TEST_PGSEEDD_IMAGE", "pgseed/pgseedd:latest")
POSTGRES_IMAGE = os.environ.get("PGSEED_TEST_IMAGE", "pgseed/postgres:15")

OVERRIDE = """
services:
  pgseedd:
    volumes:
      - {build}/daemon/pgseedd:/usr/bin/pgseedd:ro
      - {build}/client/pgseedctl:/usr/bin/pgseedctl:ro
      - {source}/sql:/pgseed/sql:ro
    environment:
      PGSEED_SQL_DIR: /pgseed/sql
"""


class Stack:
    def __init__(self, tmp):
        self.project = "pgseed-ext11-%d" % random.randint(100000, 999999)
        self.pg_port = free_port()
        self.api_port = free_port()
        self.override = os.path.join(tmp, "override.yml")
        with open(self.override, "w") as f:
            f.write(OVERRIDE.format(build=os.path.abspath(BUILD_DIR), source=SOURCE_ROOT))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PGSEED_")}
        self.env.update({
            "PGSEEDD_IMAGE": PGSEEDD_IMAGE,
            "PGSEED_IMAGE": POSTGRES_IMAGE,
            "PGSEED_PG_PORT": str(self.pg_port),
            "PGSEED_PG_PASSWORD": "compose-secret",
            "PGSEED_LISTEN": "127.0.0.1:%d" % self.api_port,
            "PGSEED_INSTANCE": self.project,
            "PGSEED_COMMENTS": "2000",
        })
        self.url = "http://127.0.0.1:%d" % self.api_port

    def compose(self, *args, timeout=300, check=True):
        r = subprocess.run(["docker-compose", "-p", self.project, "-f", COMPOSE_FILE, "-f", self.override]
                           + list(args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, "docker-compose %s failed:\n%s" % (" ".join(args), r.stdout)
        return r

    def container(self, service):
        return self.compose("ps", "-q", service).stdout.strip()

    def inspect(self, service, fmt):
        cid = self.container(service)
        r = subprocess.run(["docker", "inspect", "--format", fmt, cid], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        return r.stdout.strip()

    def health(self):
        try:
            return http("GET", self.url + "/health", timeout=5).json()
        except (OSError, ValueError):
            return None

    def logs(self):
        return self.compose("logs", "--no-color", "--tail=80", check=False).stdout


@pytest.fixture
def stack(tmp_path):
    s = Stack(str(tmp_path))
    try:
        yield s
    finally:
        s.compose("down", "-v", "--remove-orphans", "-t", "10", check=False)


def test_compose_external_up_to_healthy_and_the_stack_owns_the_server(stack):
    for image in (PGSEEDD_IMAGE, POSTGRES_IMAGE):
        r = subprocess.run(["docker", "image", "inspect", image], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        assert r.returncode == 0, "image %s is missing: run `make images`" % image
    stack.compose("up", "-d", "--no-build")

    healthy = wait_for(lambda: stack.inspect("pgseedd", "{{.State.Health.Status}}") == "healthy", 240, 1)
    assert healthy, stack.logs()
    h = stack.health()
    assert h and h["status"] == "ready", (h, stack.logs())
    assert h["runtime"] == "external" and h["runtime_info"]["owner"] == "external", h
    assert h["runtime_info"]["server"] == "127.0.0.1:%d" % stack.pg_port, h
    # The official image's POSTGRES_USER is the server's superuser: every feature is available.
    assert all(f["ok"] for f in h["runtime_info"]["features"]), h
    assert h["rows_total"] > 0, h
    r = http("POST", stack.url + "/reset", timeout=120)
    assert r.status == 200, r.body
    # The probes deploy/kubernetes/ gates the pod with, as the kubelet sends them.
    probe_host = {"Host": "127.0.0.1"}
    assert http("GET", stack.url + "/readyz", headers=probe_host).status == 200
    assert http("GET", stack.url + "/livez", headers=probe_host).status == 200

    # The stack stops its own server: pgseedd reports it and starts nothing.
    stack.compose("stop", "-t", "10", "postgres")
    down = wait_for(lambda: (stack.health() or {}).get("status") == "down", 30, 0.5)
    assert down, (stack.health(), stack.logs())
    b = stack.health()
    assert "127.0.0.1:%d" % stack.pg_port in b["reason"] and "does not answer" in b["reason"], b
    time.sleep(3)
    assert stack.inspect("postgres", "{{.State.Running}}") == "false"
    assert stack.health()["restarts"] == 0
    # Not ready (the pod leaves the Service), but alive (nothing restarts pgseedd).
    r = http("GET", stack.url + "/readyz", headers=probe_host)
    assert r.status == 503 and "postgres" in r.body, r.body
    assert http("GET", stack.url + "/livez", headers=probe_host).status == 200

    # Its owner starts it again: ready again.
    stack.compose("start", "postgres")
    ready = wait_for(lambda: (stack.health() or {}).get("status") == "ready", 90, 0.5)
    assert ready, (stack.health(), stack.logs())
