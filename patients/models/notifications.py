"""In-app notifications, each also e-mailed when its recipient chose that kind, and the recipients' choices.

One concept for everything that needs someone's attention (issue 15, item 6): a new benchmark flag, a flag whose
level changed, a new serious adverse event, a death, a data-quality query assigned, an overdue item. Written by
:func:`patients.services.notifications.notify` in the transaction of the event itself (never lost); the e-mail
goes after commit and, if it fails, by the sweeper. Until issue 15 deaths and serious AEs were
``ae.SafetyNotification`` rows: migration ``ae.0013_safety_notifications_into_notifications`` copied them here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    """What a notification is about; the recipient chooses per kind whether it is also e-mailed."""

    NEW_FLAG = "new_flag", _("New benchmark flag")
    FLAG_LEVEL = "flag_level", _("Benchmark flag changed level")
    SERIOUS = "serious", _("New serious adverse event")
    DEATH = "death", _("Death")
    QUERY = "query", _("Data-quality query assigned")
    OVERDUE = "overdue", _("Overdue item")
    SAE_UPDATE = "sae_update", _("New information on a submitted SAE case")


#: Kinds e-mailed unless the recipient turned them off (deaths and serious AEs were always e-mailed before issue 15;
#: overdue items are deadlines; flags are read in the report). A user's NotificationPreference row overrides.
EMAIL_BY_DEFAULT = frozenset({NotificationKind.DEATH, NotificationKind.SERIOUS, NotificationKind.NEW_FLAG,
                              NotificationKind.OVERDUE, NotificationKind.SAE_UPDATE})


class Notification(models.Model):
    """One notice to one user about one thing on one of the user's sites.

    ``link``: the path of the thing itself (``/events/12/history/``), shown as the notice's link and, prefixed with
    ``PVTRACK_BASE_URL``, in the e-mail. ``key``: the caller's idempotency key of the event ("ae:12:death",
    "flag:ward-a:run:7:crs:3+:c1"): one notice per recipient and key, whatever the retries. ``email_wanted``: the
    recipient's choice for the kind when the notice was written; only those are e-mailed (and swept).
    """

    Kind = NotificationKind

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    site = models.ForeignKey("patients.Site", on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    key = models.CharField(max_length=200, help_text="Idempotency key of the event notified.")
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="No names: study ID, cycle, CTCAE term, grade, dates, SAE criteria.")
    link = models.CharField(max_length=500, help_text="Path of the thing notified, starting with /.")
    #: The subject and body as message ids and parameters, rendered in the reader's language
    #: (``patients.notification_texts``): {"subject": msgid, "body": [msgid, ...], "params": {...}}. Null for notices
    #: written before it existed and for callers that give plain text: ``subject``/``body`` (English) are shown.
    message = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_wanted = models.BooleanField(default=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_once_per_recipient_key"),
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values), name="notification_kind_known"),
            models.CheckConstraint(condition=Q(link__startswith="/") & ~Q(link__startswith="//"),
                                   name="notification_link_is_a_path",
                                   violation_error_message=_("A notification links to a path of this site (/...).")),
            models.CheckConstraint(condition=~Q(key="") & ~Q(subject=""),
                                   name="notification_key_and_subject_given"),
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
                   models.Index(fields=["emailed_at", "email_attempts"],
                                condition=Q(emailed_at__isnull=True, email_wanted=True),
                                name="notification_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient_id}: {self.subject}"


class NotificationPreference(models.Model):
    """A user's choice to receive (or not) the e-mail of one kind of notification; absent: ``EMAIL_BY_DEFAULT``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_preferences")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    email = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notificationpreference_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values),
                                   name="notificationpreference_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} e-mail {'on' if self.email else 'off'}"
