"""The language and time zone a logged-in user's pages are rendered in (issue 15, item 4).

Language: the user's own choice (:class:`patients.models.UserProfile`), else the default of their site
(``Site.language``; a user of several sites: the first by name), else ``settings.LANGUAGE_CODE``. Time zone: that
site's ``time_zone``, else ``settings.TIME_ZONE``. Worked out once at log-in (:func:`remember_locale`, a
``user_logged_in`` receiver connected in ``PatientsConfig.ready``) and kept in the session, so pages cost no query for
it; :func:`locale_remember` refreshes it when the user changes their choice.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from core.types import AnyUser
from patients.models import Membership, UserProfile

SESSION_KEY = "pvtrack_locale"


def locale_for(user: AnyUser) -> tuple[str, str]:
    """``(language code, IANA time zone)`` for ``user`` (2 queries; the defaults for a user not saved)."""
    if user.pk is None:
        return settings.LANGUAGE_CODE, settings.TIME_ZONE
    chosen = UserProfile.objects.filter(user_id=user.pk).values_list("language", flat=True).first() or ""
    site = (Membership.objects.filter(user_id=user.pk).order_by("site__name")
            .values_list("site__language", "site__time_zone").first())
    language = chosen or (site[0] if site else settings.LANGUAGE_CODE)
    return language, (site[1] if site else settings.TIME_ZONE)


def locale_remember(request: HttpRequest, user: AnyUser) -> tuple[str, str]:
    """Work out the user's locale and keep it in the session; returns it."""
    value = locale_for(user)
    request.session[SESSION_KEY] = list(value)
    return value


def remember_locale(sender: Any, request: HttpRequest | None, user: AnyUser, **kwargs: Any) -> None:
    """``user_logged_in`` receiver (token log-ins of the API have no session: nothing to remember)."""
    if request is not None and hasattr(request, "session"):
        locale_remember(request, user)


class UserLocaleMiddleware:
    """Activate the logged-in user's language and time zone for the request (after LocaleMiddleware, which serves
    anonymous pages in the browser's language). A session from before this existed works it out once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        stored = request.session.get(SESSION_KEY)
        language, zone = stored if stored else locale_remember(request, user)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
