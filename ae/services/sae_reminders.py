"""Reminders of SAE reporting clocks: each clock of each open case is e-mailed to the site's safety officers (and
administrators) a lead time before its deadline and at it, at most once per case, clock and stage
(:class:`ae.models.CaseReminder`, unique). Run by Celery beat (``ae.tasks.sae_reminders_task``).

The e-mail goes through :func:`sae_reminder_deliver`, the one function to point at the general in-app
notifications of issue 15 when they exist.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ae.models import CaseReminder, SAECase
from ae.sae.clocks import Clock, reminder_times
from ae.selectors import clocks_for
from patients.models import Membership

logger = logging.getLogger(__name__)


def sae_reminder_deliver(*, case: SAECase, clock: Clock, stage: str) -> int:
    """E-mail one reminder to the site's safety officers and administrators; returns how many addresses.
    Never raises on a mail error (logged; the reminder row stays, so it is not repeated)."""
    addresses = list(Membership.objects.filter(
        site=case.site, role__in=[Membership.Role.SAFETY_OFFICER, Membership.Role.ADMINISTRATOR])
        .exclude(user__email="").values_list("user__email", flat=True))
    if not addresses:
        return 0
    local = timezone.localtime(clock.due_at, timezone=clock.due_at.tzinfo)
    when = "is due" if stage == "due" else "is due soon"
    subject = f"[pvtrack] {case.reference}: {clock.label} {when} ({local:%d %b %Y %H:%M %Z})"
    link = settings.PVTRACK_BASE_URL.rstrip("/") + reverse("sae-case", args=[case.pk])
    body = "\n".join([f"{clock.label} for case {case.reference} ({case.patient.usubjid}) {when}: "
                      f"{local:%d %b %Y %H:%M} ({case.site.time_zone}).", f"Status: {case.get_status_display()}.",
                      "", f"Open the case: {link}"])
    try:
        send_mail(subject, body, None, addresses, fail_silently=False)
    except Exception as exc:  # the mail server is down: logged, the deadline stays on the cases list
        logger.warning("SAE reminder %s/%s/%s not sent (%s)", case.pk, clock.name, stage, type(exc).__name__)
    return len(addresses)


def sae_reminders_send(*, now: datetime.datetime | None = None) -> int:
    """Send every reminder that is due by ``now`` and not sent yet; returns how many were sent. Idempotent: a
    second run (or a concurrent one) sends nothing twice (the unique row is written before the e-mail)."""
    now = now or timezone.now()
    sent = 0
    cases = (SAECase.objects.exclude(status=SAECase.Status.CLOSED).select_related("site", "patient")
             .prefetch_related("versions", "case_links__adverse_event"))
    for case in cases:
        for clock in clocks_for(case):
            window = clock.due_at - case.awareness_at if clock.name != "follow_up" else datetime.timedelta(
                hours=case.site.sae_sponsor_hours)
            for stage, at in reminder_times(clock, window=window):
                if at > now:
                    continue
                try:
                    with transaction.atomic():
                        CaseReminder.objects.create(case=case, clock=clock.name, stage=stage, due_at=clock.due_at)
                except IntegrityError:
                    continue  # sent already (or by a concurrent run)
                sae_reminder_deliver(case=case, clock=clock, stage=stage)
                sent += 1
    return sent
