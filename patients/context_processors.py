"""Template context every page gets from the patients app."""

from __future__ import annotations

from django.http import HttpRequest

from patients.selectors import notifications_unread_count


def notifications(request: HttpRequest) -> dict[str, int | None]:
    """``notifications_unread``: the logged-in user's unread notifications (None when nobody is logged in: no link).
    One query per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"notifications_unread": None}
    return {"notifications_unread": notifications_unread_count(user)}
