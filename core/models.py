"""Ground-floor models: idempotency records of submitted writes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class IdempotencyRecord(models.Model):
    """One submitted write that must not be applied twice: an API ``Idempotency-Key`` or a web form's token.

    Claimed in the transaction of the write itself (``INSERT … ON CONFLICT DO NOTHING``), so a retry or a second
    click that arrives while the first is still running waits for it, then finds the result: the API replays
    the stored response, the form redirects to the record saved. A write that fails rolls back its claim, so a
    corrected resubmission goes through. ``request_sha256`` binds an API key to one request body.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=100, help_text='"api POST /api/v1/adverse-events/" or "form event-create".')
    key = models.CharField(max_length=100)
    request_sha256 = models.CharField(max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    result_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_once_per_user_scope_key"),
            models.CheckConstraint(condition=~Q(key=""), name="idempotency_key_not_empty"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
