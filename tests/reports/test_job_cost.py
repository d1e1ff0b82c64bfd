"""What a ward's benchmark run costs besides its statistics: progress is stored at most once a second."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.models import BenchmarkRun
from reports.runs import _progress_recorder

pytestmark = pytest.mark.django_db


def _record_all(run: BenchmarkRun, seconds_per_cell: float) -> list[int]:
    """Report 1..100 % with a clock that advances ``seconds_per_cell`` per call; the stored progress after each
    write, as the run's page would see it."""
    ticks = (i * seconds_per_cell for i in itertools.count())
    record = _progress_recorder(run.pk, clock=lambda: next(ticks))
    seen = []
    with CaptureQueriesContext(connection) as captured:
        for percent in range(1, 101):
            record(percent)
    for q in captured.captured_queries:
        assert q["sql"].startswith('UPDATE "reports_benchmarkrun" SET "progress"')
        seen.append(int(q["sql"].split("= ")[1].split(" ")[0]))
    run.refresh_from_db()
    assert run.progress == 100
    return seen


def test_a_fast_run_stores_its_progress_once_at_100(ward):
    run = BenchmarkRun.objects.create(site=ward, status=BenchmarkRun.Status.RUNNING)
    assert _record_all(run, seconds_per_cell=0.005) == [100]  # was ten committed UPDATEs, one per 10 %


def test_a_slow_run_still_shows_its_progress_every_step(ward):
    run = BenchmarkRun.objects.create(site=ward, status=BenchmarkRun.Status.RUNNING)
    assert _record_all(run, seconds_per_cell=0.5) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
