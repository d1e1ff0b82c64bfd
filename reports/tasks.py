"""Celery tasks: thin wrappers around reports.services (ids in, nothing out).

Every task is idempotent (the benchmark claims its run; the sweeper only re-publishes), which is what
makes ``acks_late`` and ``reject_on_worker_lost`` (re-queue when the worker process dies) safe; the
attempt cap on the run (``MAX_ATTEMPTS``) stops a job that keeps killing its worker from looping.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def benchmark_run_task(run_id: int) -> None:
    """Compute benchmark run ``run_id`` if it is still waiting (safe to deliver twice)."""
    from pvtrack.audit import audit_context
    from reports.services import benchmark_execute

    with audit_context(source="job"):
        benchmark_execute(run_id)


@shared_task
def benchmark_all_sites_task() -> None:
    """Nightly: queue a benchmark run for every site."""
    from django.db import transaction

    from patients.models import Site
    from reports.services import benchmark_request

    for site in Site.objects.all():
        with transaction.atomic():
            benchmark_request(site=site, trigger="nightly")


@shared_task(acks_late=True)
def requeue_pending_runs_task() -> int:
    """Outbox sweeper (beat, every ``SWEEP_EVERY_S``): publish again runs still waiting; returns how many."""
    from reports.services import requeue_pending_runs

    return requeue_pending_runs()
