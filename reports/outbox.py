"""The benchmark outbox: a pending run row written in the transaction of the change that needs it,
published to the broker after commit (never holding the caller for long), swept again when missed.

Ward-data writers reach :func:`benchmark_run_queue` through :func:`core.outbox.benchmark_request`
(``settings.PVTRACK_BENCHMARK_REQUEST``). Computing a claimed run is :mod:`reports.runs`.
"""

from __future__ import annotations

import datetime
import functools
import logging
from typing import Any, cast

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.publish import publish
from patients.models import Site
from reports.models import BenchmarkRun
from reports.runs import locked_run_ids
from reports.tasks import benchmark_run_task

logger = logging.getLogger(__name__)


def benchmark_run_queue(*, site: Site, trigger: str) -> BenchmarkRun:
    """Queue a benchmark run of ``site`` in the caller's transaction; publish it after commit.

    At most one run per site waits at a time (a partial unique index): a change made while a run is pending
    is covered by that run, which reads the data when it starts. Coverage is guaranteed, not hoped for: the
    insert is ``INSERT … ON CONFLICT DO NOTHING`` (no unique-violation ERROR in the database log, no exception
    to catch), and when a run is already pending this transaction holds a share lock on its row until it
    commits, so the worker's claim (an UPDATE of that row) waits for this change to be visible. If the pending
    run was claimed in between, a new one is queued. If publishing fails (broker down), the run stays pending
    and ``requeue_pending_runs`` publishes it later; the caller's save is never undone by a broker error.
    """
    fields = BenchmarkRun._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)  # the model's own, quoted
    insert = ("INSERT INTO reports_benchmarkrun (site_id, status, trigger, requested_at, attempts, method_version, "  # noqa: S608
              f"error, progress) VALUES (%s, %s, %s, now(), 0, '', '', 0) ON CONFLICT DO NOTHING RETURNING {columns}")
    waiting = f"SELECT {columns} FROM reports_benchmarkrun WHERE site_id = %s AND status = %s FOR SHARE"  # noqa: S608
    for _ in range(5):  # the run is read from the statement that writes or locks it (RETURNING), not re-read
        with connection.cursor() as cursor:
            cursor.execute(insert, [site.pk, BenchmarkRun.Status.PENDING, trigger])
            inserted = cursor.fetchone()
            if inserted is None:
                cursor.execute(waiting, [site.pk, BenchmarkRun.Status.PENDING])
                pending = cursor.fetchone()
        if inserted is not None:
            run = BenchmarkRun.from_db(connection.alias, [f.attname for f in fields], _python_values(inserted))
            transaction.on_commit(functools.partial(_publish, run.pk), robust=True)
            return run
        if pending is not None:  # covered by the run already waiting (its claim now waits for this commit)
            return BenchmarkRun.from_db(connection.alias, [f.attname for f in fields], _python_values(pending))
    raise RuntimeError(f"could not queue a benchmark run of site {site.pk}: its pending run kept changing")


def _python_values(row: tuple) -> list:
    """A raw ``reports_benchmarkrun`` row (concrete fields in order) as the model's Python values (JSON decoded
    as Django's converters do)."""
    fields = BenchmarkRun._meta.concrete_fields
    converted = []
    for field, value in zip(fields, row, strict=True):
        for converter in cast(Any, field).get_db_converters(connection):  # from_db_value (JSON)
            value = converter(value, field, connection)
        converted.append(value)
    return converted


def _publish(run_id: int) -> None:
    """Send run ``run_id`` to the broker after commit, bounded (:func:`core.publish.publish`; never raises).

    Whatever is not sent stays a pending run in the database, and ``requeue_pending_runs`` (beat) publishes it
    later.
    """
    publish(benchmark_run_task, run_id, what=f"benchmark run {run_id}")


# Session-level advisory lock (namespace, run id) held by the process computing a run. PostgreSQL
# releases it when that process's connection ends, so a run left 'running' without its lock was


def requeue_pending_runs(*, older_than: datetime.timedelta | None = None) -> int:
    """The outbox sweeper: publish again every run waiting longer than ``older_than``; returns how many.

    Waiting means pending since before ``older_than`` (default ``PVTRACK_OUTBOX["SWEEP_AFTER_S"]``),
    or 'running' since before ``RECLAIM_AFTER_S`` with nobody holding its lock (its worker died). The
    rows are picked with SELECT ... FOR UPDATE SKIP LOCKED, so two sweepers never pick the same row at
    once, and published after that transaction; a run published twice is still computed once (the
    claim in ``benchmark_execute``).
    """
    now = timezone.now()
    if older_than is None:
        older_than = datetime.timedelta(seconds=settings.PVTRACK_OUTBOX["SWEEP_AFTER_S"])
    reclaim = now - datetime.timedelta(seconds=settings.PVTRACK_OUTBOX["RECLAIM_AFTER_S"])
    waiting = (Q(status=BenchmarkRun.Status.PENDING, requested_at__lt=now - older_than)
               | Q(status=BenchmarkRun.Status.RUNNING, started_at__lt=reclaim))
    with transaction.atomic():
        ids = list(BenchmarkRun.objects.select_for_update(skip_locked=True).filter(waiting)
                   .order_by("requested_at").values_list("pk", flat=True)[:500])
        alive = locked_run_ids()
    ids = [run_id for run_id in ids if run_id not in alive]
    for run_id in ids:
        _publish(run_id)
    return len(ids)


@shared_task(acks_late=True)
def requeue_pending_runs_task() -> int:
    """Outbox sweeper (beat, every ``SWEEP_EVERY_S``): publish again runs still waiting; returns how many."""
    return requeue_pending_runs()
