"""Notices to a site's safety officers when a death or a new serious adverse event is recorded."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ae.models.events import AdverseEvent
from patients.models import Site


class SafetyNotification(models.Model):
    """One notice to one safety officer (in-app list, also e-mailed): a death or a new serious AE on their site.

    Written in the transaction that made the event serious (so it is never lost); the e-mail is sent after
    commit and, if that fails, by the sweeper (``emailed_at`` null, ``email_attempts`` < the cap).
    """

    class Kind(models.TextChoices):
        DEATH = "death", "Death"
        SERIOUS = "serious", "New serious adverse event"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="safety_notices")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="safety_notifications")
    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="No names: study ID, cycle, CTCAE term, grade, dates, SAE criteria.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "adverse_event", "kind"],
                                    name="safetynotification_once_per_event_kind"),
            models.CheckConstraint(condition=Q(kind__in=["death", "serious"]), name="safetynotification_kind_known"),
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="safetynotification_unread_idx"),
                   models.Index(fields=["emailed_at", "email_attempts"], condition=Q(emailed_at__isnull=True),
                                name="safetynotification_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} notice to {self.recipient_id}: AE {self.adverse_event_id}"
