"""Fault-injection suite: one harness (own PostgreSQL, Redis, gunicorn, worker, beat) for the whole run
(its modules share it: starting one takes most of a minute).

Skipped with a stated reason when the PostgreSQL server binaries or redis-server are missing, unless
PVTRACK_REQUIRE_SERVICES=1 (CI), where that is a failure. The measured numbers are printed at the end
of the pytest run (terminal summary).
"""

from __future__ import annotations

import os

import pytest

from tests.faults.harness import Harness, HarnessError, binaries

METRICS: dict[str, dict] = {}


@pytest.fixture(scope="session")
def harness():
    pg_bin, redis_server = binaries()
    if pg_bin is None or redis_server is None:
        missing = " and ".join(n for n, b in (("PostgreSQL server binaries (initdb, pg_ctl)", pg_bin),
                                               ("redis-server", redis_server)) if b is None)
        if os.environ.get("PVTRACK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"fault-injection tests cannot run: {missing} not found, but PVTRACK_REQUIRE_SERVICES=1")
        pytest.skip(f"fault-injection tests need {missing} (install postgresql and redis-server)")
    h = Harness(pg_bin, redis_server)
    try:
        h.start()
    except (HarnessError, OSError) as exc:
        logs = "\n".join(f"--- {n}\n{h.log_tail(n)}" for n in ("web", "worker", "beat", "redis"))
        h.stop()
        pytest.fail(f"fault harness did not start: {exc}\n{logs}")
    try:
        yield h
    finally:
        if os.environ.get("PVTRACK_FAULTS_SHOW_LOGS") == "1":
            for name in ("web", "worker", "beat"):
                print(f"--- {name} log\n{h.log_tail(name)}")
        h.stop()


def pytest_terminal_summary(terminalreporter):
    if not METRICS:
        return
    terminalreporter.section("fault injection: measured")
    for scenario, numbers in METRICS.items():
        terminalreporter.write_line(f"{scenario}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))
