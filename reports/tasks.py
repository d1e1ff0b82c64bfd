"""Celery tasks of the benchmark: thin wrappers around the reports services (ids in, nothing out).

The outbox sweeper's task is :func:`reports.outbox.requeue_pending_runs_task` (it publishes this module's
``benchmark_run_task``, so it cannot live here without an import cycle).

Every task is idempotent (the benchmark claims its run; the sweeper only re-publishes), which is what
makes ``acks_late`` and ``reject_on_worker_lost`` (re-queue when the worker process dies) safe; the
attempt cap on the run (``MAX_ATTEMPTS``) stops a job that keeps killing its worker from looping.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from core.audit import audit_context
from core.outbox import benchmark_request
from patients.models import Site
from reports.health import worker_heartbeat_write
from reports.runs import benchmark_execute


@shared_task(acks_late=True, reject_on_worker_lost=True)
def benchmark_run_task(run_id: int) -> None:
    """Compute benchmark run ``run_id`` if it is still waiting (safe to deliver twice)."""
    with audit_context(source="job"):
        benchmark_execute(run_id)


@shared_task
def benchmark_all_sites_task() -> None:
    """Nightly: queue a benchmark run for every site."""
    for site in Site.objects.all():
        with transaction.atomic():
            benchmark_request(site=site, trigger="nightly")


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat_task(self) -> None:
    """Sent by beat every ``PVTRACK_HEARTBEAT_EVERY_S``: the worker running it records its heartbeat."""
    worker_heartbeat_write(self.request.hostname or "unknown")
