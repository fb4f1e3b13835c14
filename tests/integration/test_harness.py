# SPDX-License-Identifier: MIT
"""The test harness itself, where a mistake would make `make test` report
something untrue: free_port() never gives two test processes the same port
(the suites run side by side, and a daemon binds its ports a second after
they were chosen), and tests/summary.py counts a failing meson test that
belongs to several suites once, by its cases."""

import json
import os
import subprocess
import sys

from conftest import SOURCE_ROOT, _reserve, free_port

HERE = os.path.dirname(os.path.abspath(__file__))


def other_process(code):
    """Runs code in a second Python process that imports conftest; returns what it printed."""
    out = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\nimport conftest\n%s" % (HERE, code)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_port_given_out_here_is_never_given_to_another_test_process():
    mine = {free_port() for _ in range(300)}
    assert len(mine) == 300, "free_port() gave the same port twice in one process"
    theirs = {int(p) for p in other_process("print(*[conftest.free_port() for _ in range(300)])")}
    assert not mine & theirs, "ports given to both processes: %s" % sorted(mine & theirs)
    # Ask for one of ours directly: the other process's lock attempt must fail while we live.
    held = sorted(mine)[0]
    assert other_process("print(conftest._reserve(%d) is None)" % held) == ["True"]


def test_a_port_is_free_again_when_its_test_process_ends():
    port = int(other_process("print(conftest.free_port())")[0])
    lock = _reserve(port)
    assert lock is not None, "port %d still reserved after its process ended" % port
    lock.close()


def summarise(tmp_path, testlog, results):
    build = tmp_path / "build"
    (build / "meson-logs").mkdir(parents=True)
    (build / "test-results").mkdir()
    (build / "meson-logs" / "testlog.json").write_text("".join(json.dumps(t) + "\n" for t in testlog))
    for name, xml in results.items():
        (build / "test-results" / name).write_text(xml)
    out = subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, "tests", "summary.py"), str(build)],
                         capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout.splitlines()


JUNIT_ONE_FAILED = ('<testsuites><testsuite><testcase name="test_ok"/>'
                    '<testcase name="test_bad"><failure message="x"/></testcase></testsuite></testsuites>')


def test_a_failing_test_in_several_suites_counts_its_failed_cases_once(tmp_path):
    rc, lines = summarise(tmp_path, [{"name": "pgseed:integration+sanitized / clones", "result": "FAIL"},
                                     {"name": "pgseed:integration / faults", "result": "OK"}],
                          {"integration-clones.xml": JUNIT_ONE_FAILED})
    assert rc == 1
    assert lines[-1] == "1 passed, 1 failed", lines
    assert lines[:-1] == ["FAILED integration-clones.xml: test_bad (failure)"], lines


def test_a_test_that_died_without_results_counts_as_one_failure(tmp_path):
    rc, lines = summarise(tmp_path, [{"name": "pgseed:integration+sanitized / clones", "result": "TIMEOUT"}], {})
    assert rc == 1
    assert lines[-1] == "0 passed, 1 failed", lines
    assert "no result file" in lines[0], lines
