"""The outbox's bounded publish, the sweeper, the run lock, benchmark staleness and the health report."""

from __future__ import annotations

import datetime
import json
import time

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.utils import timezone

from core import errors
from reports import health, outbox, runs
from reports.models import BenchmarkRun
from reports.outbox import requeue_pending_runs
from reports.runs import RUN_LOCK_NAMESPACE, benchmark_execute, benchmark_run_now
from reports.selectors import benchmark_staleness
from reports.tasks import benchmark_run_task
from tests.conftest import libpq_params


def _ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


@pytest.fixture
def broker_mode(monkeypatch):
    """Publishing as with a real broker (not in-process); records the run ids sent by a fake ``delay``."""
    monkeypatch.setitem(benchmark_run_task.app.conf, "task_always_eager", False)
    sent: list[int] = []
    monkeypatch.setattr(benchmark_run_task, "delay", sent.append)
    return sent


@pytest.fixture
def other_connection():
    """A second database session (as another worker process would have), on exactly the server Django uses."""
    conn = psycopg.connect(**libpq_params(connection), autocommit=True)
    yield conn
    conn.close()


# --- publish -------------------------------------------------------------------------------------------------

def test_a_stalled_broker_holds_the_caller_at_most_the_publish_wait(monkeypatch, settings, broker_mode):
    settings.PVTRACK_OUTBOX = settings.PVTRACK_OUTBOX | {"PUBLISH_WAIT_S": 0.3}
    sent = []
    monkeypatch.setattr(benchmark_run_task, "delay", lambda run_id: (time.sleep(1.0), sent.append(run_id)))
    started = time.monotonic()
    outbox._publish(41)
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 0.6
    assert sent == []  # still sending in the background
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent == [41]


def test_when_every_publish_thread_is_stuck_further_publishes_are_skipped(monkeypatch, settings, broker_mode):
    settings.PVTRACK_OUTBOX = settings.PVTRACK_OUTBOX | {"PUBLISH_WAIT_S": 0.05}
    sent = []
    monkeypatch.setattr(benchmark_run_task, "delay", lambda run_id: (time.sleep(0.8), sent.append(run_id)))
    threads = settings.PVTRACK_OUTBOX["PUBLISH_THREADS"]
    for run_id in range(threads + 2):
        outbox._publish(run_id)
    deadline = time.monotonic() + 5
    while len(sent) < threads and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert sorted(sent) == list(range(threads))  # the last two were left for the sweeper


def test_a_broker_error_is_logged_not_raised(monkeypatch, broker_mode, caplog):
    def refuse(run_id):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(benchmark_run_task, "delay", refuse)
    outbox._publish(7)
    assert "not published (ConnectionRefusedError)" in caplog.text


# --- sweeper and run lock ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_sweeper_republishes_old_pending_and_abandoned_runs_only(ward, other_ward, broker_mode, settings):
    settings.PVTRACK_OUTBOX = settings.PVTRACK_OUTBOX | {"SWEEP_AFTER_S": 60, "RECLAIM_AFTER_S": 300}
    old = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    BenchmarkRun.objects.filter(pk=old.pk).update(requested_at=_ago(120))
    BenchmarkRun.objects.create(site=other_ward, trigger="ae_change")  # fresh: its publish may still land
    abandoned = BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="running",
                                            started_at=_ago(600), attempts=1)
    BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="running", started_at=_ago(10), attempts=1)
    BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="done", finished_at=_ago(500))

    assert requeue_pending_runs() == 2
    assert sorted(broker_mode) == sorted([old.pk, abandoned.pk])


@pytest.mark.django_db
def test_a_run_whose_worker_holds_its_lock_is_neither_swept_nor_taken_over(ward, broker_mode, other_connection,
                                                                           settings):
    long_running = BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="running",
                                               started_at=_ago(3600), attempts=1)
    other_connection.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, long_running.pk))

    assert requeue_pending_runs() == 0 and broker_mode == []
    assert benchmark_execute(long_running.pk) is None
    long_running.refresh_from_db()
    assert (long_running.status, long_running.attempts) == ("running", 1)

    other_connection.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK_NAMESPACE, long_running.pk))
    assert requeue_pending_runs() == 1  # its worker died: now it is abandoned
    assert benchmark_execute(long_running.pk) is not None
    long_running.refresh_from_db()
    assert (long_running.status, long_running.attempts) == ("done", 2)


@pytest.mark.django_db
def test_benchmark_execute_releases_the_run_lock(ward, other_connection):
    run = BenchmarkRun.objects.create(site=ward, trigger="manual")
    benchmark_execute(run.pk)
    got = other_connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK_NAMESPACE, run.pk)).fetchone()
    assert got == (True,)


def test_the_test_only_job_delay_is_ignored_outside_tests(monkeypatch, settings):
    monkeypatch.setenv("PVTRACK_TEST_JOB_DELAY_S", "5")
    settings.PVTRACK_ENV = "production"
    started = time.monotonic()
    runs._test_only_delay()
    assert time.monotonic() - started < 0.1


# --- staleness for the report --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_staleness_of_a_site_without_runs(ward):
    s = benchmark_staleness(ward)
    assert s["stale"] is False and s["latest_done_run"] is None and s["message"] == "No benchmark has finished yet."


@pytest.mark.django_db
def test_staleness_up_to_date_then_waiting_then_overdue(ward, settings, django_assert_num_queries):
    done = benchmark_run_now(site=ward)
    with django_assert_num_queries(3):
        s = benchmark_staleness(ward)
    assert (s["stale"], s["latest_done_run"], s["waiting_s"]) == (False, done.pk, None)
    assert s["message"].startswith("Benchmark up to date as of")

    pending = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    s = benchmark_staleness(ward)
    assert s["stale"] is False and s["message"].endswith("A newer run is queued.") and s["waiting_s"] < 5

    limit = settings.PVTRACK_OUTBOX["STALE_AFTER_S"]
    BenchmarkRun.objects.filter(pk=pending.pk).update(requested_at=_ago(limit + 120))
    s = benchmark_staleness(ward)
    assert s["stale"] is True and s["waiting_s"] >= limit + 120
    assert "may be out of date" in s["message"] and f"{(limit + 120) / 60:.0f} min" in s["message"]


@pytest.mark.django_db
def test_staleness_shows_a_failure_newer_than_the_latest_result(ward):
    benchmark_run_now(site=ward)
    failed = BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="failed", attempts=3,
                                         finished_at=timezone.now() + datetime.timedelta(seconds=1),
                                         error="Traceback ...\nZeroDivisionError: synthetic")
    s = benchmark_staleness(ward)
    assert s["stale"] is True
    assert s["last_failure"] == {"run": failed.pk, "at": failed.finished_at, "attempts": 3,
                                 "error": "ZeroDivisionError: synthetic"}
    assert "failed after 3 attempt(s) (ZeroDivisionError: synthetic)" in s["message"]


def test_the_officers_report_says_when_its_figures_may_be_out_of_date(client, ward, officer):
    benchmark_run_now(site=ward)
    client.force_login(officer)
    assert "may be out of date" not in client.get(f"/sites/{ward.slug}/report/").content.decode()
    BenchmarkRun.objects.create(site=ward, trigger="ae_change", status="failed", attempts=3,
                                finished_at=timezone.now() + datetime.timedelta(seconds=1),
                                error="OperationalError: connection refused")
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    assert "The latest benchmark attempt failed after 3 attempt(s) (OperationalError: connection refused)" in page


# --- health --------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_health_endpoint_needs_no_login_and_reports_the_backlog(client, ward, settings):
    settings.REDIS_URL = ""  # in-process mode: no broker, worker or beat to check
    response = client.get("/health/")
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["ok"] is True and report["database"]["ok"] and report["database"]["latency_ms"] >= 0
    assert report["backlog"] == {"ok": True, "oldest_pending_age_s": None, "pending": 0, "running": 0,
                                 "failed_last_24h": 0, "stale_after_s": settings.PVTRACK_OUTBOX["STALE_AFTER_S"]}
    assert {k: report[k] for k in ("broker", "worker", "beat")} == {
        k: {"ok": True, "mode": "in-process"} for k in ("broker", "worker", "beat")}

    run = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    BenchmarkRun.objects.filter(pk=run.pk).update(requested_at=_ago(settings.PVTRACK_OUTBOX["STALE_AFTER_S"] + 60))
    response = client.get("/health/")
    assert response.status_code == 503
    backlog = response.json()["backlog"]
    assert backlog["ok"] is False and backlog["pending"] == 1
    assert backlog["oldest_pending_age_s"] >= settings.PVTRACK_OUTBOX["STALE_AFTER_S"] + 60
    assert ward.slug not in response.content.decode() and ward.name not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_health_command_prints_the_report_and_fails_when_unhealthy(ward, settings, capsys):
    settings.REDIS_URL = ""
    call_command("health")
    out = capsys.readouterr().out
    assert "database  ok" in out and out.strip().endswith("healthy")

    run = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    BenchmarkRun.objects.filter(pk=run.pk).update(requested_at=_ago(settings.PVTRACK_OUTBOX["STALE_AFTER_S"] + 60))
    with pytest.raises(CommandError) as excinfo:
        call_command("health", "--json")
    assert excinfo.value.returncode == 1
    assert json.loads(capsys.readouterr().out)["backlog"]["ok"] is False


def test_health_reports_a_broker_that_does_not_answer(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    monkeypatch.setattr(health, "_database", lambda: {"database": {"ok": True}, "backlog": {"ok": True}})
    monkeypatch.setattr(health, "_worker", lambda: {"ok": False, "workers": 0})
    started = time.monotonic()
    report = health.collect(timeout=1.0)
    assert time.monotonic() - started < 2.5
    assert report["ok"] is False and report["broker"]["ok"] is False and report["broker"]["error"]
    assert report["beat"]["ok"] is False


def test_a_lost_database_answers_a_clean_503_and_other_errors_the_500_page(rf: RequestFactory):
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        api = errors.server_error(rf.post("/api/v1/adverse-events/"))
        page = errors.server_error(rf.post("/patients/1/events/new/"))
    assert api.status_code == 503 and "database is unavailable" in json.loads(api.content)["detail"]
    assert page.status_code == 503 and api["Retry-After"] == "30"
    try:
        raise ValueError("a bug")
    except ValueError:
        assert errors.server_error(rf.get("/")).status_code == 500


def test_a_session_lost_with_the_database_answers_503_not_400(rf: RequestFactory):
    from django.contrib.sessions.backends.base import UpdateError
    from django.contrib.sessions.exceptions import SessionInterrupted

    try:
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            raise UpdateError from None
    except UpdateError:
        try:
            raise SessionInterrupted("The request's session was deleted before the request completed.")
        except SessionInterrupted as exc:
            interrupted = exc
    assert errors.bad_request(rf.post("/api/v1/adverse-events/"), interrupted).status_code == 503
    assert errors.bad_request(rf.get("/"), SessionInterrupted("logged out elsewhere")).status_code == 400
