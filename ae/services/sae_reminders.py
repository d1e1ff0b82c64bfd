"""Reminders of SAE reporting clocks: each clock of each open case is e-mailed to the site's safety officers (and
administrators) a lead time before its deadline and at it, at most once per case, clock and stage
(:class:`ae.models.CaseReminder`, unique). Run by Celery beat (``ae.tasks.sae_reminders_task``).

Each reminder is a notification of kind "overdue" (:func:`sae_reminder_deliver` → the in-app list with its unread
count, and e-mail for the recipients who keep that kind's e-mails on: ``patients.services.notifications``).
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from ae.models import CaseReminder, SAECase
from ae.sae.clocks import Clock, reminder_times
from ae.selectors import clocks_for
from patients.models import NotificationKind
from patients.notification_texts import message
from patients.services.notifications import notify


def sae_reminder_deliver(*, case: SAECase, clock: Clock, stage: str) -> int:
    """Notify the site's safety officers and administrators of one clock (in-app, and e-mailed unless they turned
    "Overdue item" e-mails off: :func:`patients.services.notifications.notify`); returns how many notices were
    written. Call inside the transaction that records the :class:`CaseReminder`: both commit or neither; the
    e-mail goes after commit and a mail error never undoes the notice (it is retried by the notifications' sweeper).
    """
    soon = stage != "due"
    tz = getattr(clock.due_at.tzinfo, "key", None) or "UTC"
    with translation.override("en-gb"):
        status = str(case.get_status_display())
    text = message(
        gettext_noop("%(case)s: %(clock)s is due soon (%(due)s)") if soon else
        gettext_noop("%(case)s: %(clock)s is due (%(due)s)"),
        [gettext_noop("%(clock)s for case %(case)s (%(usubjid)s) is due soon: %(due_local)s (%(tz)s).") if soon else
         gettext_noop("%(clock)s for case %(case)s (%(usubjid)s) is due: %(due_local)s (%(tz)s)."),
         gettext_noop("Status: %(status)s.")],
        case=case.reference, clock={"text": clock.label}, due=clock.due_at, usubjid=case.patient.usubjid,
        due_local={"datetime": clock.due_at.isoformat(), "tz": tz, "format": "d M Y H:i"},
        tz=case.site.time_zone, status={"text": status})
    return notify(site=case.site, kind=NotificationKind.OVERDUE, message=text,
                  link=reverse("sae-case", args=[case.pk]),
                  key=f"sae-clock:{case.pk}:{clock.name}:{stage}:{clock.due_at.isoformat()}")


#: The clocks' names (``ae.sae.clocks.LABELS``, a module without Django) marked for translation: reminders and the
#: case pages show them in the reader's language (``tests/ae/test_sae_reminder_language.py`` keeps the two equal).
CLOCK_LABELS = (gettext_noop("Report to the sponsor"),
                gettext_noop("SUSAR to the authority (fatal or life-threatening: 7 days)"),
                gettext_noop("SUSAR complete report to the authority (8 more days)"),
                gettext_noop("SUSAR to the authority (15 days)"),
                gettext_noop("Follow-up report to the sponsor"))


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
                        sae_reminder_deliver(case=case, clock=clock, stage=stage)
                except IntegrityError:
                    continue  # sent already (or by a concurrent run)
                sent += 1
    return sent
