# SPDX-License-Identifier: MIT
"""GET /metrics for dashboards: valid for promtool, scraped by a real
Prometheus server, with requests by route and real status code, resets by
mode (a refusal is not a failure), slots, seeding and process series."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from conftest import free_port, http, wait_for

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def series(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def promtool_check(text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "promtool check metrics:\n%s%s" % (r.stdout, r.stderr)


def test_metrics_by_route_code_mode_and_reason(ready):
    d = ready
    m = series(d.get("/metrics").body)
    # Before any reset: no last duration (0 would read as "instant").
    assert not any(k.startswith("pgseed_last_reset_duration_seconds") for k in m), m
    assert m['pgseed_resets_total{mode="template",result="ok"}'] == 0

    assert d.get("/health").status == 200
    assert d.get("/no/such/path").status == 404
    assert d.get("/sample?limit=zero").status == 400
    assert d.post("/reset").status == 200
    assert d.post("/reset?mode=inplace").status == 200
    # A template reset with a logical slot is refused (409): counted as a refusal, never a failure.
    d.sql("SELECT pg_create_logical_replication_slot('metrics_slot', 'pgoutput')")
    r = d.post("/reset")
    assert r.status == 409, r.body

    text = d.get("/metrics").body
    promtool_check(text)
    m = series(text)
    assert m['pgseed_http_requests_total{route="/health",code="200"}'] >= 1
    assert m['pgseed_http_requests_total{route="none",code="404"}'] == 1
    assert m['pgseed_http_requests_total{route="/sample",code="400"}'] == 1
    assert m['pgseed_http_requests_total{route="/reset",code="409"}'] == 1
    assert m['pgseed_http_request_duration_seconds_count{route="/reset",code="200"}'] == 2
    assert m['pgseed_http_request_duration_seconds_bucket{route="/health",code="200",le="+Inf"}'] >= 1
    assert m['pgseed_resets_total{mode="template",result="ok"}'] == 1
    assert m['pgseed_resets_total{mode="inplace",result="ok"}'] == 1
    assert m['pgseed_resets_total{mode="template",result="failed"}'] == 0
    assert m['pgseed_resets_total{mode="template",result="refused"}'] == 1
    assert m['pgseed_reset_refusals_total{mode="template",reason="replication_slot_active"}'] == 1
    assert not any(k.startswith("pgseed_reset_failures_total{") for k in m), m
    # Each mode keeps its own last duration, and its histogram.
    assert m['pgseed_last_reset_duration_seconds{mode="template"}'] > 0
    assert m['pgseed_last_reset_duration_seconds{mode="inplace"}'] > 0
    assert m['pgseed_reset_duration_seconds_count{mode="inplace"}'] == 1
    assert m['pgseed_reset_duration_seconds_count{mode="template"}'] == 1

    assert wait_for(lambda: 'pgseed_replication_slot_active{slot="metrics_slot",plugin="pgoutput"}'
                    in series(d.get("/metrics").body), 15), d.get("/metrics").body
    m = series(d.get("/metrics").body)
    assert m['pgseed_replication_slot_active{slot="metrics_slot",plugin="pgoutput"}'] == 0
    info = [k for k in m if k.startswith("pgseed_build_info{")]
    assert len(info) == 1 and 'runtime="embedded"' in info[0] and 'postgres_version="1' in info[0], info
    assert 0 <= m["pgseed_probe_age_seconds"] < 30
    assert abs(m["process_start_time_seconds"] - time.time()) < 600
    assert m['pgseed_seed_phase{phase="idle"}'] == 1
    assert m["pgseed_last_seed_duration_seconds"] > 0
    assert any(k.startswith("pgseed_last_seed_phase_duration_seconds{phase=") for k in m), m
    d.sql("SELECT pg_drop_replication_slot('metrics_slot')")


def test_prometheus_scrapes_pgseed_up_and_a_slot(ready, tmp_path):
    d = ready
    d.sql("SELECT pg_create_logical_replication_slot('prom_slot', 'pgoutput')")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pgseed\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
        % d.api_port)
    storage = tempfile.mkdtemp(prefix="pgseed-prom-", dir="/tmp")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, "--config.file=%s" % config, "--storage.tsdb.path=%s" % storage,
                             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % port

    def query(q):
        try:
            r = http("GET", base + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=5)
        except OSError:
            return None
        if r.status != 200:
            return None
        result = r.json()["data"]["result"]
        return result or None

    try:
        up = wait_for(lambda: query("pgseed_up"), 30, interval=0.5)
        assert up, "Prometheus never had pgseed_up; its log:\n%s" % open(tmp_path / "prometheus.log").read()
        assert up[0]["value"][1] == "1"
        assert up[0]["metric"]["instance"] == "127.0.0.1:%d" % d.api_port
        slot = wait_for(lambda: query('pgseed_replication_slot_active{slot="prom_slot"}'), 20, interval=0.5)
        assert slot and slot[0]["value"][1] == "0", slot
        # The scrape itself is healthy (Prometheus' own view of the target).
        target = query('up{job="pgseed"}')
        assert target and target[0]["value"][1] == "1", target
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(storage, ignore_errors=True)
        d.sql("SELECT pg_drop_replication_slot('prom_slot')")
