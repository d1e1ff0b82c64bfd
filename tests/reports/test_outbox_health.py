"""The outbox's bounded publish, the sweeper, the run lock, benchmark staleness and the health report."""

from __future__ import annotations

import datetime
import json
import logging
import time

import psycopg
import pytest
from celery.utils.log import LoggingProxy
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
    with django_assert_num_queries(3) as captured:
        s = benchmark_staleness(ward)
    assert (s["stale"], s["latest_done_run"], s["waiting_s"]) == (False, done.pk, None)
    # the report reads the run itself: its staleness line decodes neither JSON column again (issue 12)
    assert not any('"inputs"' in q["sql"] or '"results"' in q["sql"] for q in captured.captured_queries)
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


class _FakeRedis:
    """The few Redis commands the heartbeats use, in memory (values as bytes, as redis-py returns them)."""

    def __init__(self):
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value, ex=None):
        self.data[key] = value.encode() if isinstance(value, str) else value

    def hgetall(self, key):
        return dict(self.data.get(key, {}))

    def hset(self, key, field, value):
        self.data.setdefault(key, {})[field.encode()] = value.encode()

    def hdel(self, key, *fields):
        for field in fields:
            self.data.get(key, {}).pop(field, None)

    def expire(self, key, seconds):
        pass

    def pipeline(self):
        calls = []

        class Pipe:
            def __getattr__(pipe, name):
                return lambda *args, **kwargs: calls.append((getattr(self, name), args, kwargs))

            def execute(pipe):
                return [fn(*args, **kwargs) for fn, args, kwargs in calls]

        return Pipe()


@pytest.fixture
def fake_redis(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.PVTRACK_HEARTBEAT = {"EVERY_S": 10.0, "GRACE_S": 5.0, "WORKER_DEAD_AFTER_S": 30.0}
    fake = _FakeRedis()
    monkeypatch.setattr(health, "_redis_client", lambda timeout: fake)
    monkeypatch.setattr(health, "_database", lambda: {"database": {"ok": True}, "backlog": {"ok": True}})
    monkeypatch.setattr(health, "_broker", lambda: {"ok": True})
    return fake


def _without_latency(check: dict) -> dict:
    return {k: v for k, v in check.items() if k != "latency_ms"}


def _clock(monkeypatch, now: float) -> None:
    monkeypatch.setattr(health.time, "time", lambda: now)


def test_health_never_pings_the_workers_while_the_request_waits(fake_redis, monkeypatch):
    """Issue 19: /health/ held a web worker ~1 s per call on a Celery control ping."""
    from celery import current_app

    def ping(*args, **kwargs):
        raise AssertionError("health must not ping workers inline")

    monkeypatch.setattr(current_app.control, "ping", ping)
    started = time.monotonic()
    report = health.collect()
    assert time.monotonic() - started < 0.5
    assert _without_latency(report["worker"]) == {"ok": False, "workers": 0, "heartbeat_age_s": None,
                                                  "dead_after_s": 30.0, "error": "no heartbeat"}


def test_worker_heartbeats_are_counted_with_their_age_until_they_are_stale(fake_redis, monkeypatch):
    _clock(monkeypatch, 1000.0)
    benchmark_task_module = __import__("reports.tasks", fromlist=["worker_heartbeat_task"])
    benchmark_task_module.worker_heartbeat_task.apply(task_id="hb-1")  # eager: hostname of the caller
    health.worker_heartbeat_write("celery@b")
    _clock(monkeypatch, 1012.0)
    health.worker_heartbeat_write("celery@a")
    _clock(monkeypatch, 1020.0)
    worker = {"ok": True, "dead_after_s": 30.0}
    assert _without_latency(health.collect()["worker"]) == worker | {"workers": 3, "heartbeat_age_s": 8.0}
    _clock(monkeypatch, 1035.0)  # the first two are 35 s old: stale
    assert _without_latency(health.collect()["worker"]) == worker | {"workers": 1, "heartbeat_age_s": 23.0}
    _clock(monkeypatch, 1042.5)
    report = health.collect()
    assert report["ok"] is False and report["worker"]["ok"] is False and report["worker"]["workers"] == 0
    assert report["worker"]["heartbeat_age_s"] == 30.5
    _clock(monkeypatch, 1000.0 + health.HEARTBEAT_FORGET_AFTER_S + 100)
    health.worker_heartbeat_write("celery@a")  # entries of long-gone workers are dropped
    assert list(fake_redis.hgetall(health.WORKER_HEARTBEAT_KEY)) == [b"celery@a"]


def test_a_stopped_beat_is_stale_as_soon_as_its_announced_tick_is_late(fake_redis, monkeypatch):
    """Issue 19: a 24.7 s-old heartbeat of a stopped beat counted as alive for 120 s."""
    monkeypatch.setattr(health.PersistentScheduler, "tick", lambda self, *a, **k: 10.0)
    _clock(monkeypatch, 2000.0)
    health.HeartbeatScheduler.tick(object.__new__(health.HeartbeatScheduler))
    _clock(monkeypatch, 2014.9)
    assert _without_latency(health.collect()["beat"]) == {"ok": True, "heartbeat_age_s": 14.9, "stale_after_s": 15.0}
    _clock(monkeypatch, 2015.2)  # beat stopped after its tick at 2000: one period + grace later it is stale
    report = health.collect()
    assert report["ok"] is False
    assert _without_latency(report["beat"]) == {"ok": False, "heartbeat_age_s": 15.2, "stale_after_s": 15.0}


def test_a_bare_time_heartbeat_of_a_beat_not_yet_upgraded_counts_with_the_longest_tick(fake_redis, monkeypatch,
                                                                                      settings):
    settings.CELERY_BEAT_MAX_LOOP_INTERVAL = 30
    fake_redis.set(health.BEAT_HEARTBEAT_KEY, "3000.0")
    _clock(monkeypatch, 3034.0)
    assert _without_latency(health.collect()["beat"]) == {"ok": True, "heartbeat_age_s": 34.0, "stale_after_s": 35.0}
    _clock(monkeypatch, 3036.0)
    assert health.collect()["beat"]["ok"] is False


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


class _Exited(Exception):
    pass


def test_a_beat_whose_ticks_stop_finishing_dumps_its_stacks_and_exits_for_its_supervisor(monkeypatch, caplog,
                                                                                         capfd):
    """Beat stuck inside a tick (a send that never returns) must not look alive forever: it exits (status 70)."""
    scheduler = object.__new__(health.HeartbeatScheduler)
    exits = []

    def fake_exit(status):
        exits.append(status)
        raise _Exited

    monkeypatch.setattr(health.os, "_exit", fake_exit)
    # as in a running beat: Celery has replaced sys.stderr by a logging proxy without a file descriptor
    monkeypatch.setattr(health.sys, "stderr", LoggingProxy(logging.getLogger("celery.redirected")))
    scheduler._tick_done_at = health.time.monotonic() - 0.05
    with pytest.raises(_Exited), caplog.at_level("CRITICAL", logger="reports.health"):
        scheduler._watchdog(0.3)  # returns only by exiting
    assert exits == [70]
    assert "no tick finished" in caplog.text and "supervisor restarts it" in caplog.text
    assert "_watchdog" in capfd.readouterr().err  # every thread's stack, the watchdog's own included


def test_a_beat_that_keeps_ticking_is_left_alone(monkeypatch, settings):
    monkeypatch.setattr(health.PersistentScheduler, "tick", lambda self, *a, **k: 1.0)
    settings.REDIS_URL = ""
    scheduler = object.__new__(health.HeartbeatScheduler)
    scheduler._tick_done_at = health.time.monotonic() - 100
    health.HeartbeatScheduler.tick(scheduler)
    assert health.time.monotonic() - scheduler._tick_done_at < 1.0


def test_sigusr2_writes_every_threads_stack_of_a_celery_process_to_its_real_stderr(monkeypatch, capfd):
    """``kill -USR2`` on a worker or beat (pvtrack/celery.py), whose sys.stderr Celery has redirected."""
    import faulthandler
    import os
    import signal

    from pvtrack.celery import _stacks_on_sigusr2

    monkeypatch.setattr(health.sys, "stderr", LoggingProxy(logging.getLogger("celery.redirected")))
    _stacks_on_sigusr2()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        time.sleep(0.2)
    finally:
        faulthandler.unregister(signal.SIGUSR2)
    err = capfd.readouterr().err
    assert "most recent call first" in err and "test_sigusr2_writes_every_threads_stack" in err
