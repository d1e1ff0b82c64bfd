"""Notifying users of what needs their attention: one entry point, :func:`notify`, for every app.

``notify`` writes one :class:`patients.models.Notification` per recipient in the caller's transaction (the in-app
list; never lost with a rolled-back change, never written twice for the same idempotency key) and e-mails those
whose recipient wants that kind after commit, through Django's e-mail backend (console in development). An e-mail
that could not be sent is retried by :func:`notification_emails_resend` (beat), at most ``MAX_EMAIL_ATTEMPTS``
times. It lives in the patients app, the lowest layer that knows sites and roles, so that ``ae`` (serious AEs,
deaths, data-quality queries, SAE clocks) and ``reports`` (benchmark flags) both call it. Notices carry no names.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation

from core.publish import publish
from patients.access import REVIEWERS
from patients.locale import locale_for
from patients.models import Membership, Notification, NotificationPreference, Site
from patients.models.notifications import EMAIL_BY_DEFAULT, NotificationKind
from patients.notification_texts import english, render
from patients.tasks import notification_email_task

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class Notice:
    """What :func:`notify_many` writes: one thing to tell, to explicit ``recipients`` (user ids; those without a
    role on ``site`` are skipped) or, when ``recipients`` is None, to every user holding one of ``roles`` on ``site``.
    """

    site: Site
    kind: str
    subject: str
    body: str
    link: str
    key: str
    recipients: tuple[int, ...] | None = None
    roles: tuple[str, ...] = tuple(REVIEWERS)
    #: The subject and body as message ids and parameters (``patients.notification_texts.message``), shown in each
    #: reader's language; then ``subject`` and ``body`` may be left empty: they are stored in English from it.
    message: dict[str, Any] | None = None


def notify(*, site: Site, kind: str, link: str, key: str, subject: str = "", body: str = "",
           message: dict[str, Any] | None = None, recipients: Iterable[int] | None = None,
           roles: Iterable[str] = REVIEWERS) -> int:
    """Tell users of ``site`` about one thing; returns how many notices were written now (0 when ``key`` was
    already notified to every recipient, or nobody holds the roles).

    - ``kind``: a :class:`patients.models.NotificationKind` value ("new_flag", "flag_level", "serious", "death",
      "query", "overdue").
    - ``subject`` (≤ 200 characters) and ``body`` (plain text, no patient names): the in-app line and the e-mail.
    - ``message``: the same as message ids and parameters (:func:`patients.notification_texts.message`), so that
      each reader gets it in their language; ``subject`` and ``body`` are then made from it in English.
    - ``link``: the path of the thing itself, e.g. ``reverse("event-history", args=[pk])`` (must start with "/").
    - ``key``: the idempotency key of the event, e.g. ``f"sae-clock:{case.pk}:overdue:7d"``; the same key never
      notifies the same user twice (retries, re-runs, a second worker).
    - ``recipients``: user ids; or None for every user holding one of ``roles`` (default: safety officers and
      administrators) on ``site``. Users without a role on ``site`` are never notified (site isolation).

    Call inside the transaction that records the event: notices roll back with it, and their e-mails (for the
    recipients whose preference for ``kind`` is on, :data:`EMAIL_BY_DEFAULT` otherwise) are sent after commit.
    Raises ValidationError for an unknown kind, an empty key or subject, a subject over 200 characters or a link
    that is not a path.
    """
    return notify_many([Notice(site=site, kind=kind, subject=subject, body=body, link=link, key=key, message=message,
                               recipients=None if recipients is None else tuple(recipients), roles=tuple(roles))])


def _check(notice: Notice) -> None:
    errors = {}
    if notice.kind not in NotificationKind.values:
        errors["kind"] = f"Unknown notification kind {notice.kind!r}; one of {', '.join(NotificationKind.values)}."
    if not notice.key or len(notice.key) > 200:
        errors["key"] = "An idempotency key of 1 to 200 characters is required."
    if not notice.subject or len(notice.subject) > 200:
        errors["subject"] = "A subject of 1 to 200 characters is required."
    if not notice.link.startswith("/") or notice.link.startswith("//") or len(notice.link) > 500:
        errors["link"] = "The link is a path of this site, starting with / (at most 500 characters)."
    if errors:
        raise ValidationError(errors)


def notify_many(notices: Sequence[Notice]) -> int:
    """:func:`notify` for many things at once (an import, a benchmark run's flags) at a constant number of queries:
    the recipients and their e-mail choices are read once, the notices written with one INSERT and the ones to
    e-mail read back once. Returns the number of notices written now."""
    notices = [dataclasses.replace(n, subject=n.subject or english(n.message)[0], body=n.body or english(n.message)[1])
               if n.message else n for n in notices]
    for notice in notices:
        _check(notice)
    if not notices:
        return 0
    site_ids = {n.site.pk for n in notices}
    members: dict[int, dict[int, str]] = {site_id: {} for site_id in site_ids}
    for site_id, user_id, role in Membership.objects.filter(site_id__in=site_ids).values_list(
            "site_id", "user_id", "role"):
        members[site_id][user_id] = role
    targets = []
    for n in notices:
        on_site = members[n.site.pk]
        users = ([u for u in dict.fromkeys(n.recipients) if u in on_site] if n.recipients is not None
                 else [u for u, role in on_site.items() if role in n.roles])
        targets += [(n, user_id) for user_id in users]
    if not targets:
        return 0
    choices = dict(((user_id, kind), email) for user_id, kind, email in NotificationPreference.objects.filter(
        user_id__in={u for _, u in targets}).values_list("user_id", "kind", "email"))
    rows = [Notification(recipient_id=user_id, site=n.site, kind=n.kind, key=n.key, subject=n.subject, body=n.body,
                         message=n.message, link=n.link,
                         email_wanted=choices.get((user_id, n.kind), n.kind in EMAIL_BY_DEFAULT))
            for n, user_id in targets]
    before = timezone.now()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    written = list(Notification.objects.filter(key__in={n.key for n in notices}, created_at__gte=before,
                                               recipient_id__in={u for _, u in targets})
                   .values_list("pk", "email_wanted"))
    for pk, email_wanted in written:
        if email_wanted:
            transaction.on_commit(functools.partial(_publish_email, pk), robust=True)
    return len(written)


def _publish_email(pk: int) -> None:
    publish(notification_email_task, pk, what=f"notification {pk}")


def notification_email_send(notification_id: int) -> bool:
    """Send one notice's e-mail if wanted and not sent yet; returns whether it is sent now. Never raises on a mail
    error: the error's class name is stored and the sweeper retries (at most ``MAX_EMAIL_ATTEMPTS`` attempts)."""
    with transaction.atomic():
        notice = (Notification.objects.select_for_update(skip_locked=True, of=("self",))
                  .select_related("recipient")
                  .filter(pk=notification_id, email_wanted=True, emailed_at__isnull=True,
                          email_attempts__lt=MAX_EMAIL_ATTEMPTS)
                  .first())
        if notice is None:
            return False
        address = notice.recipient.email
        if not address:
            notice.email_attempts, notice.email_error = MAX_EMAIL_ATTEMPTS, "recipient has no e-mail address"
            notice.save(update_fields=["email_attempts", "email_error"])
            return False
        url = f"{settings.PVTRACK_BASE_URL.rstrip('/')}{notice.link}"
        with translation.override(locale_for(notice.recipient)[0]):  # the recipient's language (else the site's)
            subject, body = render(notice.message, subject=notice.subject, body=notice.body)
            body = body + "\n\n" + translation.gettext("Open it: %(url)s") % {"url": url}
        try:
            send_mail(subject, body, None, [address], fail_silently=False)
        except Exception as exc:  # SMTP down or refusing: kept for the sweeper
            logger.warning("notification %s: e-mail not sent (%s)", notice.pk, type(exc).__name__)
            Notification.objects.filter(pk=notice.pk).update(
                email_attempts=F("email_attempts") + 1, email_error=type(exc).__name__)
            return False
        notice.emailed_at, notice.email_error = timezone.now(), ""
        notice.email_attempts += 1
        notice.save(update_fields=["emailed_at", "email_error", "email_attempts"])
        return True


def notification_emails_resend(*, older_than: datetime.timedelta = datetime.timedelta(minutes=1)) -> int:
    """The e-mail sweeper: send again every wanted e-mail still unsent after ``older_than``; returns how many."""
    due = (Notification.objects.filter(email_wanted=True, emailed_at__isnull=True,
                                       email_attempts__lt=MAX_EMAIL_ATTEMPTS,
                                       created_at__lt=timezone.now() - older_than)
           .values_list("pk", flat=True)[:200])
    return sum(notification_email_send(pk) for pk in list(due))


def notifications_mark_read(*, notifications: QuerySet[Notification]) -> int:
    """Mark ``notifications`` (already scoped to their recipient by the caller) read now; returns how many."""
    return notifications.filter(read_at__isnull=True).update(read_at=timezone.now())


def email_preferences_set(*, user_id: int, email_kinds: Iterable[str]) -> None:
    """Store the user's choice: e-mail exactly ``email_kinds``, in-app only for the other kinds (one row per kind).
    Raises ValidationError for an unknown kind."""
    chosen = set(email_kinds)
    if unknown := chosen - set(NotificationKind.values):
        raise ValidationError({"email_kinds": f"Unknown kinds: {', '.join(sorted(unknown))}."})
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user_id=user_id, kind=kind, email=kind in chosen) for kind in NotificationKind.values],
        update_conflicts=True, unique_fields=["user", "kind"], update_fields=["email"])


def email_kinds_for(user_id: int) -> set[str]:
    """The kinds the user gets by e-mail (their choices over :data:`EMAIL_BY_DEFAULT`)."""
    chosen = dict(NotificationPreference.objects.filter(user_id=user_id).values_list("kind", "email"))
    return {kind for kind in NotificationKind.values if chosen.get(kind, kind in EMAIL_BY_DEFAULT)}
