"""End to end with a real Celery worker process and Redis: a nurse's AE reaches the safety officer's report."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.http import HttpRequest

from patients.models import Membership
from reports.models import BenchmarkRun
from tests.conftest import PASSWORD, database_url, event_form_data, make_cycle, make_patient, make_user

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _require_redis() -> None:
    if not settings.REDIS_URL:
        if os.environ.get("PVTRACK_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set but PVTRACK_REQUIRE_SERVICES=1: the worker tests must run")
        pytest.skip("needs a Redis server: set REDIS_URL (CI does)")


@pytest.fixture
def worker(committed_reference_data, tmp_path):
    """A `celery worker` subprocess on the test database; stopped (and its log shown on failure) after the test."""
    _require_redis()
    from pvtrack.celery import app

    app.control.purge()  # messages left by earlier runs refer to runs that do not exist here
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL_FILE", "REDIS_URL_FILE")} | {
        "DATABASE_URL": database_url(connection),  # the test database, on whichever server the tests use
        "REDIS_URL": settings.REDIS_URL, "PVTRACK_ENV": "test", "CONN_MAX_AGE": "0",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pvtrack", "worker", "--pool=solo", "-l", "info",
             "--without-gossip", "--without-mingle", "--hostname", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()}")
            if app.control.ping(timeout=1.0):
                break
        else:
            pytest.fail(f"worker did not answer within 60 s:\n{log.read_text()}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        print(log.read_text()[-4000:])


def test_an_event_recorded_in_the_form_appears_in_the_officers_benchmark(worker, client, ward):
    """The form's save enqueues a run after commit; the worker computes it within seconds."""
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    cycles = [make_cycle(make_patient(ward, f"W-{i:02d}")) for i in range(3)]

    assert client.login(request=HttpRequest(), username=nurse.username, password=PASSWORD)
    started = time.monotonic()
    response = client.post(f"/patients/{cycles[0].patient.pk}/events/new/", event_form_data(cycles[0], grade=3))
    assert response.status_code == 302, response.content.decode()[:2000]

    run = None
    while time.monotonic() - started < 60:
        run = BenchmarkRun.objects.filter(site=ward, status=BenchmarkRun.Status.DONE).order_by("-id").first()
        if run is not None:
            break
        time.sleep(0.25)
    assert run is not None, list(BenchmarkRun.objects.values("status", "error", "attempts"))
    elapsed = time.monotonic() - started
    print(f"benchmark visible {elapsed:.1f} s after the save")
    assert run.inputs["ward"]["crs|any|all"] == 1
    assert run.inputs["ward"]["crs|ge3|all"] == 1
    assert run.inputs["denominators"]["all"] == 3

    client.logout()
    assert client.login(request=HttpRequest(), username=officer.username, password=PASSWORD)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    assert f"Run {run.pk} finished" in page
    assert ">1/3</a>" in page  # CRS any grade, all cycles: 1 of 3 patients
