# SPDX-License-Identifier: MIT
"""The dashboard page in a real browser: Debian's chromium driven by
playwright-core (tests/browser, installed by `make deps-test`) against a real
pgseedd.  The browser checks are in tests/browser/page.test.mjs; this file
starts the daemon, changes a row behind the page's back, runs the browser and
checks that the page's reset button brought the row back.  Screenshots go to
build/test-results/page*.png on every run."""

import json
import os
import shutil
import subprocess

from conftest import BUILD_DIR, SOURCE_ROOT, http

BROWSER_DIR = os.path.join(SOURCE_ROOT, "tests", "browser")
SHOTS = os.path.join(BUILD_DIR, "test-results")


def run_page(d, prefix, token=None, auth_all=False):
    """Modifies a row, runs page.test.mjs against d, checks its report and that the row is back."""
    assert os.path.exists("/usr/bin/chromium"), "chromium is missing: run `make deps-test` (.ci/deps test)"
    assert os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")), \
        "playwright-core is missing: run `make deps-test` (npm install in tests/browser)"
    node = shutil.which("node")
    assert node, "node is missing: run `make deps-test`"

    (channel_id, original), = d.sql("SELECT channel_id, channel_name FROM users ORDER BY channel_id LIMIT 1")
    d.sql("UPDATE users SET channel_name = 'CHANGED BY TEST' WHERE channel_id = %s", (channel_id,))
    modified = {"table": "users", "key": "channel_id", "id": channel_id, "column": "channel_name",
                "modified": "CHANGED BY TEST", "original": original}
    if token:
        modified["token"] = token
    if auth_all:
        modified["auth_all"] = True

    os.makedirs(SHOTS, exist_ok=True)
    p = subprocess.run([node, os.path.join(BROWSER_DIR, "page.test.mjs"), d.url, SHOTS, json.dumps(modified),
                        prefix], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=240)
    try:
        report = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("page.test.mjs printed no report (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    failed = [c for c in report["checks"] if not c["ok"]]
    assert p.returncode == 0 and report["ok"] and not failed, json.dumps(failed, indent=2) + p.stderr
    names = {c["name"] for c in report["checks"]}
    for want in ("no console errors", "the three tables with their counts", "sample browser pages through /sample",
                 "a reset from the button (with confirmation) brings the row back"):
        assert want in names, (want, names)
    assert os.path.getsize(os.path.join(SHOTS, prefix + ".png")) > 10000

    # The database agrees with the page: the row is back.
    assert d.sql("SELECT channel_name FROM users WHERE channel_id = %s", (channel_id,)) == [(original,)]


def test_page_in_chromium(ready):
    d = ready
    # Programs still get JSON from GET /; a browser gets the page with its security headers.
    assert http("GET", d.url + "/").json()["service"] == "pgseedd"
    r = http("GET", d.url + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html"), r.headers
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" in r.body and "<script>" not in r.body, "inline script would need a CSP hash"
    run_page(d, "page")


def test_page_reset_asks_for_the_token(pgseedd, tmp_path):
    """With a token configured, the reset answers 401; the dialog says so, asks for the token and
    sends it as Authorization: Bearer."""
    token_file = tmp_path / "token"
    token_file.write_text("page-test-token-0123456789\n")
    os.chmod(token_file, 0o600)
    d = pgseedd(PGSEED_TOKEN_FILE=str(token_file))
    d.wait_healthy()
    assert d.post("/reset").status == 401
    run_page(d, "page-token", token="page-test-token-0123456789")


def test_page_with_auth_all_asks_for_the_token_first(pgseedd, tmp_path):
    """auth = all: the page's shell and assets load without the token (they carry no data), every
    read answers 401 until the page has asked for it, and then the page works as usual."""
    token = "page-all-token-0123456789"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    os.chmod(token_file, 0o600)
    d = pgseedd(PGSEED_TOKEN_FILE=str(token_file), PGSEED_API_AUTH="all")
    d.wait_healthy(headers={"Authorization": "Bearer " + token})
    html = {"Accept": "text/html"}
    assert http("GET", d.url + "/", headers=html).status == 200
    for asset in ("/ui.js", "/ui.css"):
        assert http("GET", d.url + asset).status == 200, asset
    for path in ("/health", "/schema", "/sample?table=users", "/openapi.json", "/metrics"):
        assert http("GET", d.url + path).status == 401, path
    run_page(d, "page-auth-all", token=token, auth_all=True)
