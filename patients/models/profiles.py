"""A user's own settings that are not a role: the interface language (issue 15, item 4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class UserProfile(models.Model):
    """``language``: the user's interface language; blank = their site's default (``Site.language``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=Q(language="") | Q(language__in=[code for code, _ in settings.LANGUAGES]),
            name="userprofile_language_known")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or 'site default'}"
