"""Celery tasks of the ground floor: housekeeping."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import records_expire


@shared_task  # type: ignore[untyped-decorator]  # celery has no type hints
def idempotency_records_expire_task() -> int:
    """Daily: forget idempotency keys and form tokens older than their time to live; returns how many."""
    return records_expire()
