"""Celery tasks of the adverse-event app: thin wrappers around its services (ids in, nothing out).

The notification e-mail tasks moved to :mod:`patients.tasks` with the notifications (issue 15); these names stay
registered so that messages queued before the upgrade are still delivered.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def notification_email_task(notification_id: int) -> None:
    """Queued before issue 15: e-mail the notification (now :func:`patients.tasks.notification_email_task`)."""
    from patients.services.notifications import notification_email_send

    notification_email_send(notification_id)


@shared_task(acks_late=True)
def notification_emails_resend_task() -> int:
    """Scheduled before issue 15 (an old beat schedule file): the sweeper, now in :mod:`patients.tasks`."""
    from patients.services.notifications import notification_emails_resend

    return notification_emails_resend()


@shared_task(acks_late=True)
def sae_reminders_task() -> int:
    """Beat: e-mail SAE clock reminders due by now (each case, clock and stage once); returns how many were sent."""
    from ae.services.sae_reminders import sae_reminders_send

    return sae_reminders_send()
