# SPDX-License-Identifier: MIT
"""A pytest fixture that gives every test its own database, cloned from
pgseed's seeded template, and returns it afterwards.

Copy this file next to your tests.  It needs only the standard library (plus
your database driver); PGSEED_URL points at pgseedd's API (default
http://127.0.0.1:7432); PGSEED_SNAPSHOT=N clones snapshot N (`pgseedctl snapshot
N`) instead of the seeded state.  With pytest-xdist (`pytest -n 8`) every worker's
tests get their own clones, so parallel tests never see each other's writes.

    def test_signup(clone_url):
        conn = psycopg2.connect(clone_url, password="app")
        ...
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import pytest

PGSEED_URL = os.environ.get("PGSEED_URL", "http://127.0.0.1:7432").rstrip("/")
PGSEED_SNAPSHOT = os.environ.get("PGSEED_SNAPSHOT", "")


def _call(method, path, timeout=60):
    req = urllib.request.Request(PGSEED_URL + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"error": {"message": body.decode(errors="replace")}}


@pytest.fixture
def clone():
    """The lease: {"name", "url", "expires_at", ...}.  Waits up to 30 s for a
    clone when the pool is empty; the lease lasts 10 minutes at most, so a
    killed test run leaves nothing behind for long."""
    query = "?ttl=600&timeout=30" + ("&from=" + urllib.parse.quote(PGSEED_SNAPSHOT) if PGSEED_SNAPSHOT else "")
    status, lease = _call("POST", "/clones" + query)
    if status != 201:
        pytest.fail("pgseed could not lease a clone (%s): %s" % (status, lease.get("error")))
    yield lease
    _call("DELETE", "/clones/" + lease["name"])


@pytest.fixture
def clone_url(clone):
    """postgresql://USER@127.0.0.1:PORT/NAME of this test's own database (no password in it)."""
    return clone["url"]
