"""Issue 6, "Nothing lost": AE saves through the API while Redis, a worker or PostgreSQL fail (real services).

Each scenario runs against the harness's own services (tests/faults/harness.py), restores them before it
ends, and records its counts in METRICS (printed at the end of the run). Order matters only for speed:
the harness is shared by the module.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.faults.conftest import METRICS
from tests.faults.harness import Harness, HarnessError, ae_payload, wait_for

pytestmark = pytest.mark.faults

SAVE_LIMIT_S = 2.0  # a nurse's save must answer within this, whatever the broker does
RECOVERY_LIMIT_S = 90.0


def _save(session: requests.Session, h: Harness, patient: tuple[int, int, str]) -> tuple[int, float, dict]:
    started = time.monotonic()
    response = session.post(f"{h.base_url}/api/v1/adverse-events/", json=ae_payload(*patient), timeout=15)
    elapsed = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:300]}
    return response.status_code, elapsed, body


def _patients_with_events(h: Harness) -> int:
    return h.query("SELECT count(DISTINCT patient_id) FROM ae_adverseevent WHERE NOT present_before_cycle")[0][0]


def _latest_done_count(h: Harness) -> int | None:
    rows = h.query("SELECT (inputs->'ward'->>'crs|any|all')::int FROM reports_benchmarkrun WHERE status = 'done' "
                   "ORDER BY finished_at DESC, id DESC LIMIT 1")
    return rows[0][0] if rows else None


def _wait_reflected(h: Harness, timeout: float = RECOVERY_LIMIT_S) -> float:
    """Seconds until the latest finished benchmark counts every patient with an event (fails after timeout)."""
    started = time.monotonic()
    expected = _patients_with_events(h)
    runs = h.query("SELECT id, status, attempts, left(error, 200) FROM reports_benchmarkrun ORDER BY id")[-5:]
    try:
        wait_for(lambda: _latest_done_count(h) == expected, timeout,
                 f"a finished benchmark counting all {expected} patients with events (latest runs: {runs})",
                 interval=0.5)
    except HarnessError as exc:
        raise HarnessError(f"{exc}\n{h.diagnostics()}") from exc
    return round(time.monotonic() - started, 1)


def test_two_users_editing_one_event_lose_no_update(harness):
    """(e) The second of two edits based on the same version gets 409 with the first edit shown; nothing lost."""
    h = harness
    first, second = h.login("nurse1"), h.login("nurse2")
    status, _, event = _save(first, h, h.patients()[139])
    assert status == 201, event
    url = f"{h.base_url}/api/v1/adverse-events/{event['id']}/"
    seen_by_second = second.get(url, timeout=10).json()
    assert seen_by_second["version"] == event["version"]

    one = first.patch(url, json={"grade": 3, "version": event["version"], "reason": "worse on day 3"}, timeout=10)
    two = second.patch(url, json={"grade": 1, "version": seen_by_second["version"], "reason": "milder"}, timeout=10)

    assert one.status_code == 200, one.text
    assert two.status_code == 409, two.text
    assert two.json()["current"]["grade"] == 3 and "changed by someone else" in two.json()["detail"]
    assert h.query("SELECT grade FROM ae_adverseevent WHERE id = %s", (event["id"],)) == [(3,)]
    METRICS["(e) two users, one event"] = {"first": one.status_code, "second": two.status_code}


def test_redis_stopped_100_saves_succeed_and_all_reach_the_benchmark(harness):
    """(a) With Redis down, 100 API saves succeed quickly; after it returns, the benchmark counts all of them."""
    h = harness
    session = h.login("nurse1")
    patients = h.patients()[:100]
    _wait_reflected(h)  # nothing outstanding from earlier scenarios
    h.redis_stop()
    try:
        results = [_save(session, h, p) for p in patients]
        health = h.health()
        command_status, command_report = h.health_command()
    finally:
        h.redis_start()
    restarted = time.monotonic()
    succeeded = [r for r in results if r[0] == 201]
    slowest = max(r[1] for r in results)
    assert len(succeeded) == 100, [r for r in results if r[0] != 201][:3]
    assert slowest < SAVE_LIMIT_S, f"slowest save {slowest:.2f} s"
    assert health["status"] == 503 and not health["broker"]["ok"] and health["database"]["ok"]
    assert command_status == 1 and not command_report["ok"]

    recovery = _wait_reflected(h)
    reflected = _latest_done_count(h)
    assert reflected == _patients_with_events(h) >= 100
    ids = [r[2]["id"] for r in succeeded]
    assert h.query("SELECT count(*) FROM ae_adverseevent WHERE id = ANY(%s)", (ids,)) == [(100,)]
    healthy = wait_for(lambda: (report := h.health())["status"] == 200 and report, 30, "health 200 after recovery")
    assert healthy["beat"]["ok"] and healthy["worker"]["workers"] >= 1
    METRICS["(a) Redis stopped"] = {
        "saves_attempted": len(results), "succeeded": len(succeeded), "reflected_patients": reflected,
        "slowest_save_s": round(slowest, 3), "median_save_s": round(sorted(r[1] for r in results)[50], 3),
        "backlog_recovery_s": round(time.monotonic() - restarted, 1), "wait_after_first_check_s": recovery}


def test_redis_paused_saves_still_answer_within_two_seconds(harness):
    """(b) A stalled Redis (SIGSTOP: accepts connections, never answers) does not hold up a save."""
    h = harness
    session = h.login("nurse1")
    _wait_reflected(h)  # so that the first save below creates (and publishes) a new pending run
    h.redis_pause()
    try:
        results = [_save(session, h, p) for p in h.patients()[100:110]]
        health_started = time.monotonic()
        health = h.health()
        health_s = time.monotonic() - health_started
    finally:
        h.redis_resume()
    resumed = time.monotonic()
    slowest = max(r[1] for r in results)
    assert [r[0] for r in results] == [201] * 10, results[:2]
    assert slowest < SAVE_LIMIT_S, f"slowest save {slowest:.2f} s"
    assert health["status"] == 503 and not health["broker"]["ok"] and health_s < 5
    _wait_reflected(h)
    METRICS["(b) Redis paused"] = {
        "saves_attempted": len(results), "succeeded": len(results), "reflected_patients": _latest_done_count(h),
        "slowest_save_s": round(slowest, 3), "health_answer_s": round(health_s, 2),
        "backlog_recovery_s": round(time.monotonic() - resumed, 1)}


def test_worker_killed_mid_job_completes_exactly_once_after_restart(harness):
    """(c) SIGKILL of the worker while it computes: a restarted worker finishes the run once (attempts 2)."""
    h = harness
    _wait_reflected(h)
    h._stop_proc("worker")
    h.worker_start(job_delay_s=6)  # test-only hook: the job sleeps after its claim
    session = h.login("nurse1")
    status, _, _ = _save(session, h, h.patients()[110])
    assert status == 201
    run_id = wait_for(lambda: (rows := h.query("SELECT id FROM reports_benchmarkrun WHERE status = 'running'"))
                      and rows[0][0], 30, "the worker to claim the run")
    h.worker_kill()
    assert h.query("SELECT status, attempts FROM reports_benchmarkrun WHERE id = %s", (run_id,)) == [("running", 1)]
    killed = time.monotonic()
    h.worker_start()
    wait_for(lambda: h.query("SELECT status FROM reports_benchmarkrun WHERE id = %s", (run_id,)) == [("done",)],
             60, f"run {run_id} to finish after the restart")
    recovery = round(time.monotonic() - killed, 1)
    # The killed worker's message is still unacknowledged in Redis and comes back after the visibility
    # timeout: deliver the same run again now and check that it changes nothing.
    h.manage("shell", "-c", f"from reports.tasks import benchmark_run_task; benchmark_run_task.delay({run_id})")
    time.sleep(3)
    (status, attempts, n_flags, n_result_flags), = h.query(
        "SELECT r.status, r.attempts, (SELECT count(*) FROM reports_flag f WHERE f.run_id = r.id), "
        "jsonb_array_length(r.results->'flags') FROM reports_benchmarkrun r WHERE r.id = %s", (run_id,))
    assert (status, attempts) == ("done", 2)
    assert n_flags == n_result_flags
    assert _latest_done_count(h) == _patients_with_events(h)
    METRICS["(c) worker SIGKILL mid-job"] = {"run": run_id, "attempts": attempts, "flags": n_flags,
                                             "completed_after_kill_s": recovery}


def test_postgres_restart_during_saves_loses_no_acknowledged_save(harness):
    """(d) Saves that answered 201 are all in the database after a restart; the others got a clean 503."""
    h = harness
    session = h.login("nurse1")
    patients = h.patients()[111:139]
    restart_done = threading.Event()
    restart_window: dict[str, float] = {}

    def restart():
        time.sleep(1.0)
        restart_window["start"] = time.monotonic()
        h.pg_restart()
        restart_window["end"] = time.monotonic()
        restart_done.set()

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    results, deadline = [], time.monotonic() + 40
    for i in range(200):  # bounded in count and time; keeps going a little after the restart
        if time.monotonic() > deadline or (restart_done.is_set() and len(results) >= 10 and
                                           sum(r[0] == 201 for r in results[-5:]) == 5):
            break
        try:
            results.append(_save(session, h, patients[i % len(patients)]))
        except requests.RequestException as exc:
            results.append((0, 0.0, {"exception": type(exc).__name__}))
        time.sleep(0.02)
    thread.join(60)
    assert restart_done.is_set(), "PostgreSQL restart did not finish"

    ok = [r for r in results if r[0] == 201]
    failed = [r for r in results if r[0] != 201]
    ids = [r[2]["id"] for r in ok]
    present = h.query("SELECT count(*) FROM ae_adverseevent WHERE id = ANY(%s)", (ids,))[0][0]
    assert present == len(ok), f"{len(ok) - present} acknowledged saves are missing"
    assert failed, "the restart fell between two saves: no save met the outage"
    assert all(r[0] == 503 and "database is unavailable" in r[2].get("detail", "") for r in failed), failed[:3]
    assert ok and results[-1][0] == 201, "saves did not recover after the restart"
    recovery = _wait_reflected(h)
    METRICS["(d) PostgreSQL restart"] = {
        "saves_attempted": len(results), "succeeded": len(ok), "present_after": present,
        "clean_503": len(failed), "slowest_save_s": round(max(r[1] for r in results), 3),
        "restart_s": round(restart_window["end"] - restart_window["start"], 1),
        "reflected_patients": _latest_done_count(h), "backlog_recovery_s": recovery}
