"""Celery tasks of the adverse-event app: thin wrappers around its services (ids in, nothing out)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def notification_email_task(notification_id: int) -> None:
    """E-mail one safety notice if it is not sent yet (safe to deliver twice: the send claims the row)."""
    from ae.services.notifications import notification_email_send  # the service publishes this task

    notification_email_send(notification_id)


@shared_task(acks_late=True)
def notification_emails_resend_task() -> int:
    """Sweeper (beat): send again safety notices whose e-mail could not be sent; returns how many were sent."""
    from ae.services.notifications import notification_emails_resend

    return notification_emails_resend()


@shared_task(acks_late=True)
def sae_reminders_task() -> int:
    """Beat: e-mail SAE clock reminders due by now (each case, clock and stage once); returns how many were sent."""
    from ae.services.sae_reminders import sae_reminders_send

    return sae_reminders_send()
