"""The benchmark outbox: a pending run row written in the transaction of the change that needs it,
published to the broker after commit (never holding the caller for long), swept again when missed.

Ward-data writers reach :func:`benchmark_run_queue` through :func:`core.outbox.benchmark_request`
(``settings.PVTRACK_BENCHMARK_REQUEST``). Computing a claimed run is :mod:`reports.runs`.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from patients.models import Site
from reports.models import BenchmarkRun
from reports.runs import locked_run_ids
from reports.tasks import benchmark_run_task

logger = logging.getLogger(__name__)


def benchmark_run_queue(*, site: Site, trigger: str) -> BenchmarkRun:
    """Queue a benchmark run of ``site`` in the caller's transaction; publish it after commit.

    At most one run per site waits at a time (a partial unique index): a change made while a run is
    pending is covered by that run, which reads the data when it starts. If publishing fails (broker
    down), the run stays pending and ``requeue_pending_runs`` publishes it later; the caller's save is
    never undone by a broker error.
    """
    try:
        with transaction.atomic():
            run = BenchmarkRun.objects.create(site=site, trigger=trigger)
    except IntegrityError:
        return BenchmarkRun.objects.get(site=site, status=BenchmarkRun.Status.PENDING)
    transaction.on_commit(lambda: _publish(run.pk), robust=True)
    return run


def _publish(run_id: int) -> None:
    """Send run ``run_id`` to the broker, waiting at most ``PVTRACK_OUTBOX["PUBLISH_WAIT_S"]`` (never raises).

    With a real broker the send happens on a small thread pool and the caller waits for it only up
    to that bound: a refused connection fails in milliseconds, but a stalled broker (accepts the
    connection, never answers) holds a send for the broker socket timeouts plus the publish retry
    (about 4 s with the settings' values), which must not become the nurse's wait. A send still
    running after the bound finishes (or fails) in the background; at most ``PUBLISH_THREADS`` sends
    are in flight, further ones are skipped. Whatever is not sent stays a pending run in the
    database, and ``requeue_pending_runs`` (beat) publishes it later. In-process mode (no broker)
    runs the task directly.
    """

    if benchmark_run_task.app.conf.task_always_eager:
        benchmark_run_task.delay(run_id)
        return
    if not _publish_slots.acquire(blocking=False):
        logger.warning("benchmark run %s not published: broker sends are stuck; the sweeper will retry", run_id)
        return
    try:
        future = _publish_pool.submit(_send, benchmark_run_task, run_id)
    except RuntimeError:  # the interpreter is shutting down
        _publish_slots.release()
        return
    try:
        future.result(timeout=settings.PVTRACK_OUTBOX["PUBLISH_WAIT_S"])
    except concurrent.futures.TimeoutError:
        logger.warning("benchmark run %s: broker slow, publish left to finish in the background", run_id)
    except Exception as exc:  # broker down: the run stays pending for the sweeper
        logger.warning("benchmark run %s not published (%s); the sweeper will retry", run_id, type(exc).__name__)


_publish_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=settings.PVTRACK_OUTBOX["PUBLISH_THREADS"], thread_name_prefix="pvtrack-publish")
_publish_slots = threading.BoundedSemaphore(settings.PVTRACK_OUTBOX["PUBLISH_THREADS"])


def _send(task, run_id: int) -> None:
    try:
        task.delay(run_id)
    finally:
        _publish_slots.release()


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
