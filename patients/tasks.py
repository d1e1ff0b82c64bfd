"""Celery tasks of the patients app: thin wrappers around its services (ids in, nothing out)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def notification_email_task(notification_id: int) -> None:
    """E-mail one notification if wanted and not sent yet (safe to deliver twice: the send claims the row)."""
    from patients.services.notifications import notification_email_send  # the service publishes this task

    notification_email_send(notification_id)


@shared_task(acks_late=True)
def notification_emails_resend_task() -> int:
    """Sweeper (beat): send again notification e-mails that could not be sent; returns how many were sent."""
    from patients.services.notifications import notification_emails_resend

    return notification_emails_resend()
