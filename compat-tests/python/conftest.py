"""Shared set-up of the Python compat suites.

Every test carries ``@pytest.mark.scenario(client, name)``; the hook below
appends one JSON line per test to $SAMSA_RESULTS (pass, or fail with the
first error), which ecosystems_test.go folds into the compat matrix.
"""

import json
import os

import pytest


def _env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set (run through compat-tests/ecosystems_test.go)")
    return v


@pytest.fixture(scope="session")
def bootstrap():
    return _env("SAMSA_BOOTSTRAP")


@pytest.fixture(scope="session")
def bootstrap_noauto():
    return _env("SAMSA_BOOTSTRAP_NOAUTO")


def _cell(item):
    m = item.get_closest_marker("scenario")
    if m is None:
        return None
    client, name = m.args
    params = getattr(getattr(item, "callspec", None), "params", {})
    return client, name.format(**params)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    cell = _cell(item)
    if cell is None:
        return report
    # One line per test: the call phase, or the setup phase if that failed
    # (then there is no call phase). Teardown failures after a passed call
    # are folded in by marking the cell failed once more (the Go side keeps
    # the first failure of a cell).
    write = (call.when == "call"
             or (call.when == "setup" and report.failed)
             or (call.when == "teardown" and report.failed))
    if not write:
        return report
    line = {"client": cell[0], "scenario": cell[1], "ok": report.passed}
    if not report.passed:
        if call.excinfo is not None:
            first = call.excinfo.exconly()
        else:
            first = str(report.longrepr).splitlines()[-1] if report.longrepr else "failed"
        line["error"] = f"{first}\n{report.longreprtext}"[:8000]
    with open(_env("SAMSA_RESULTS"), "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    return report
