"""Template context every page gets from the patients app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from patients.selectors import notifications_unread_count


def notifications(request: HttpRequest) -> dict[str, int | None]:
    """``notifications_unread``: the logged-in user's unread notifications (None when nobody is logged in: no link).
    One query per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"notifications_unread": None}
    return {"notifications_unread": notifications_unread_count(user)}


def session_timeout(request: HttpRequest) -> dict[str, int | None]:
    """``session_seconds``: how long an idle session lasts (``SESSION_COOKIE_AGE``, seconds) for the logged-in user,
    whose pages warn before it ends (static/session_timeout.js, WCAG 2.2 SC 2.2.1); None when nobody is logged in.
    No query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"session_seconds": None}
    return {"session_seconds": int(settings.SESSION_COOKIE_AGE)}
