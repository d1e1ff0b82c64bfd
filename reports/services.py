"""Benchmark runs (request, execute, requeue) and flag reviews."""

from __future__ import annotations

import datetime
import logging
import traceback

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.access import REVIEWERS, require_role
from patients.models import Site
from reports import benchmark
from reports.models import BenchmarkCategory, BenchmarkRun, Flag

logger = logging.getLogger(__name__)


def benchmark_request(*, site: Site, trigger: str) -> BenchmarkRun:
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
    from reports.tasks import benchmark_run_task

    benchmark_run_task.delay(run_id)


def benchmark_execute(run_id: int) -> BenchmarkRun | None:
    """Claim a pending run, compute it and store inputs, results and flags; return it (None if not claimed).

    The claim is a conditional UPDATE, so a run delivered twice is computed once. A run left
    'running' by a dead worker is reclaimed after the task time limit, at most MAX_ATTEMPTS times.
    A failure is stored on the run (status failed, error text) and re-raised.
    """
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    max_attempts = settings.PVTRACK_BENCHMARK["MAX_ATTEMPTS"]
    claimable = Q(status=BenchmarkRun.Status.PENDING) | Q(status=BenchmarkRun.Status.RUNNING, started_at__lt=stale)
    claimed = BenchmarkRun.objects.filter(claimable, pk=run_id, attempts__lt=max_attempts).update(
        status=BenchmarkRun.Status.RUNNING, started_at=now, attempts=F("attempts") + 1)
    if not claimed:
        BenchmarkRun.objects.filter(claimable, pk=run_id, attempts__gte=max_attempts).update(
            status=BenchmarkRun.Status.FAILED, finished_at=now, error=f"gave up after {max_attempts} attempts")
        return None
    run = BenchmarkRun.objects.select_related("site").get(pk=run_id)
    _compute_and_store(run)
    return run


def _compute_and_store(run: BenchmarkRun) -> None:
    try:
        inputs = benchmark.collect_inputs(run.site)
        results = benchmark.compute(inputs)
        _store(run, inputs, results)
    except Exception:
        logger.exception("benchmark run %s failed", run.pk)
        BenchmarkRun.objects.filter(pk=run.pk).update(status=BenchmarkRun.Status.FAILED, finished_at=timezone.now(),
                                                      error=traceback.format_exc(limit=5))
        raise


@transaction.atomic
def _store(run: BenchmarkRun, inputs: dict, results: dict) -> None:
    categories = {c.slug: c for c in BenchmarkCategory.objects.all()}
    run.inputs, run.results = inputs, results
    run.method_version = results["method_version"]
    run.status, run.finished_at, run.error = BenchmarkRun.Status.DONE, timezone.now(), ""
    run.save(update_fields=["inputs", "results", "method_version", "status", "finished_at", "error"])
    Flag.objects.bulk_create(
        Flag(run=run, category=categories[f["category"]], grade_band=f["grade_band"], cycle_scope=f["cycle_scope"],
             level=f["level"], direction=f["direction"], message=f["message"], p_value=f["p_value"])
        for f in results["flags"])


def benchmark_run_now(*, site: Site, trigger: str = "manual") -> BenchmarkRun:
    """Compute a run synchronously in this process (command line) and return it, finished.

    The run is created already claimed, so no worker competes for it. Raises whatever the
    computation raises, after storing the failure on the run.
    """
    run = BenchmarkRun.objects.create(site=site, trigger=trigger, status=BenchmarkRun.Status.RUNNING,
                                      started_at=timezone.now(), attempts=1)
    _compute_and_store(run)
    run.refresh_from_db()
    return run


def requeue_pending_runs(*, older_than: datetime.timedelta = datetime.timedelta(minutes=2)) -> int:
    """Publish again every run still pending after ``older_than`` (the outbox sweeper); returns how many."""
    cutoff = timezone.now() - older_than
    ids = list(BenchmarkRun.objects.filter(status=BenchmarkRun.Status.PENDING, requested_at__lt=cutoff)
               .values_list("pk", flat=True))
    for run_id in ids:
        _publish(run_id)
    return len(ids)


def latest_run(site: Site) -> BenchmarkRun | None:
    """The most recent finished run of ``site``."""
    return site.benchmark_runs.filter(status=BenchmarkRun.Status.DONE).order_by("-finished_at", "-id").first()


@transaction.atomic
def flag_review(*, flag: Flag, acting_user: AbstractBaseUser, comment: str) -> Flag:
    """Mark a flag reviewed with the safety officer's comment.

    Raises PermissionDenied unless the user is a safety officer (or administrator) of the flag's site,
    ValidationError if the comment is blank or the flag was already reviewed.
    """
    require_role(acting_user, flag.run.site, REVIEWERS)
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.reviewed_at is not None:
        raise ValidationError(f"This flag was already reviewed by {flag.reviewed_by} on {flag.reviewed_at:%d %b %Y}.")
    if not comment.strip():
        raise ValidationError({"comment": "Write what you concluded (it is kept with the flag)."})
    flag.reviewed_by, flag.reviewed_at, flag.review_comment = acting_user, timezone.now(), comment.strip()
    flag.save(update_fields=["reviewed_by", "reviewed_at", "review_comment"])
    return flag
