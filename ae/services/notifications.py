"""Telling a site's safety officers at once when a death or a new serious adverse event is recorded.

Each notice is a :class:`ae.models.SafetyNotification` row per safety officer (and administrator) of the site,
written in the transaction that made the event serious — the in-app list — and e-mailed after commit through
Django's e-mail backend (console backend in development). An e-mail that could not be sent is retried by
:func:`notification_emails_resend` (beat), at most ``MAX_EMAIL_ATTEMPTS`` times. Notices carry no names:
study ID, cycle, CTCAE term, grade, dates and SAE criteria, and a link to the record.
"""

from __future__ import annotations

import datetime
import functools
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from ae.models import AdverseEvent, SafetyNotification
from ae.tasks import notification_email_task
from core.publish import publish
from patients.models import Membership

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5


def _notice_kind(event: AdverseEvent, previous: AdverseEvent | None) -> str | None:
    """DEATH when the event is now a death and was not, SERIOUS when it is now serious and was not, else None."""
    if event.is_death and (previous is None or not previous.is_death):
        return SafetyNotification.Kind.DEATH
    if event.serious and (previous is None or not previous.serious):
        return SafetyNotification.Kind.SERIOUS
    return None


def _text(event: AdverseEvent, kind: str) -> tuple[str, str]:
    patient, cycle = event.patient, event.cycle
    what = "Death" if kind == SafetyNotification.Kind.DEATH else "Serious adverse event"
    subject = f"[pvtrack] {what}: {patient.usubjid} {event.term.term} grade {event.grade}"
    criteria = ", ".join(event.sae_criteria) or "none ticked"
    link = settings.PVTRACK_BASE_URL.rstrip("/") + reverse("event-history", args=[event.pk])
    body = "\n".join([
        f"{what} recorded on {patient.site.name}.",
        f"Patient: {patient.usubjid} (study ID {patient.study_id}), cycle {cycle.number} "
        f"(started {cycle.start_date:%d %b %Y}).",
        f"Event: {event.term.term} (MedDRA {event.term.meddra_code}), grade {event.grade} "
        f"({event.get_grading_scale_display()}), onset {event.onset_date:%d %b %Y}"
        + (f", resolved {event.resolution_date:%d %b %Y}" if event.resolution_date else "") + ".",
        f"Outcome: {event.get_outcome_display()}. SAE criteria: {criteria}. "
        f"Relatedness to blinatumomab: {event.get_relatedness_display()}.",
        "",
        f"Open the record: {link}",
        "Serious adverse events are reported to the sponsor within 24 hours of awareness (ICH E6).",
    ])
    return subject, body


def new_serious_events_notify(*, events: list[AdverseEvent]) -> int:
    """:func:`serious_event_notify` for many NEW events of one import at once: the recipients are read once per
    site, the notices written with one ``bulk_create`` and read back once (queries per import, not per event); each
    notice is e-mailed after commit as a single one is. ``events`` are saved, with patient (and site), cycle and
    term loaded. Returns the number of notices written."""
    kinds = [(event, kind) for event in events if (kind := _notice_kind(event, None)) is not None]
    if not kinds:
        return 0
    site_ids = {event.patient.site_id for event, _ in kinds}
    recipients: dict[int, list[int]] = {site_id: [] for site_id in site_ids}
    for site_id, user_id in Membership.objects.filter(
            site_id__in=site_ids, role__in=[Membership.Role.SAFETY_OFFICER, Membership.Role.ADMINISTRATOR]
    ).values_list("site_id", "user_id"):
        recipients[site_id].append(user_id)
    notices = []
    for event, kind in kinds:
        subject, body = _text(event, kind)
        notices += [SafetyNotification(recipient_id=user_id, site_id=event.patient.site_id, adverse_event=event,
                                       kind=kind, subject=subject, body=body)
                    for user_id in recipients[event.patient.site_id]]
    SafetyNotification.objects.bulk_create(notices, ignore_conflicts=True)
    written = list(SafetyNotification.objects.filter(adverse_event__in=[e for e, _ in kinds], emailed_at__isnull=True)
                   .values_list("pk", flat=True))
    for pk in written:
        transaction.on_commit(functools.partial(publish, notification_email_task, pk, what=f"notification {pk}"),
                              robust=True)
    return len(written)


def serious_event_notify(*, event: AdverseEvent, previous: AdverseEvent | None = None) -> list[SafetyNotification]:
    """Notify the site's safety officers (and administrators) if ``event`` just became a death or serious.

    ``previous``: the event as it was before this change (None for a new event). Call inside the saving
    transaction; the notices are written there and e-mailed after commit. Returns the notices written (none
    when nothing newly serious happened, or when no one on the site reviews). Idempotent per recipient, event
    and kind.
    """
    kind = _notice_kind(event, previous)
    if kind is None:
        return []
    recipients = list(Membership.objects.filter(
        site=event.patient.site, role__in=[Membership.Role.SAFETY_OFFICER, Membership.Role.ADMINISTRATOR])
        .values_list("user_id", flat=True))
    subject, body = _text(event, kind)
    SafetyNotification.objects.bulk_create(
        [SafetyNotification(recipient_id=user_id, site=event.patient.site, adverse_event=event, kind=kind,
                            subject=subject, body=body) for user_id in recipients],
        ignore_conflicts=True)
    notices = list(SafetyNotification.objects.filter(adverse_event=event, kind=kind, emailed_at__isnull=True))
    for notice in notices:
        transaction.on_commit(functools.partial(publish, notification_email_task, notice.pk,
                                                what=f"notification {notice.pk}"), robust=True)
    return notices


def notification_email_send(notification_id: int) -> bool:
    """Send one notice's e-mail if not sent yet; returns whether it is sent now. Never raises on a mail error:
    the error's class name is stored and the sweeper retries (at most ``MAX_EMAIL_ATTEMPTS`` attempts)."""
    with transaction.atomic():
        notice = (SafetyNotification.objects.select_for_update(skip_locked=True, of=("self",))
                  .select_related("recipient")
                  .filter(pk=notification_id, emailed_at__isnull=True, email_attempts__lt=MAX_EMAIL_ATTEMPTS)
                  .first())
        if notice is None:
            return False
        address = notice.recipient.email
        if not address:
            notice.email_attempts, notice.email_error = MAX_EMAIL_ATTEMPTS, "recipient has no e-mail address"
            notice.save(update_fields=["email_attempts", "email_error"])
            return False
        try:
            send_mail(notice.subject, notice.body, None, [address], fail_silently=False)
        except Exception as exc:  # SMTP down or refusing: kept for the sweeper
            logger.warning("notification %s: e-mail not sent (%s)", notice.pk, type(exc).__name__)
            SafetyNotification.objects.filter(pk=notice.pk).update(
                email_attempts=F("email_attempts") + 1, email_error=type(exc).__name__)
            return False
        notice.emailed_at, notice.email_error = timezone.now(), ""
        notice.email_attempts += 1
        notice.save(update_fields=["emailed_at", "email_error", "email_attempts"])
        return True


def notification_emails_resend(*, older_than: datetime.timedelta = datetime.timedelta(minutes=1)) -> int:
    """The e-mail sweeper: send again every notice still unsent after ``older_than``; returns how many were sent."""
    due = (SafetyNotification.objects.filter(emailed_at__isnull=True, email_attempts__lt=MAX_EMAIL_ATTEMPTS,
                                             created_at__lt=timezone.now() - older_than)
           .values_list("pk", flat=True)[:200])
    return sum(notification_email_send(pk) for pk in list(due))


def notices_mark_read(*, notices: QuerySet[SafetyNotification]) -> int:
    """Mark ``notices`` (already scoped to their recipient by the caller) read now; returns how many."""
    return notices.filter(read_at__isnull=True).update(read_at=timezone.now())
