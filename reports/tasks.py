"""Celery tasks: thin wrappers around reports.services (ids in, nothing out)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def benchmark_run_task(run_id: int) -> None:
    """Compute benchmark run ``run_id`` if it is still waiting (safe to deliver twice)."""
    from reports.services import benchmark_execute

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


@shared_task
def requeue_pending_runs_task() -> int:
    """Outbox sweeper: publish again runs that stayed pending (e.g. the broker was down at save time)."""
    from reports.services import requeue_pending_runs

    return requeue_pending_runs()
