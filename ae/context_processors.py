"""Template context every page gets from the adverse-event app."""

from __future__ import annotations

from django.http import HttpRequest

from ae.selectors import safety_notices_unread_count


def safety_notices(request: HttpRequest) -> dict[str, int | None]:
    """``safety_notices_unread``: the logged-in reviewer's unread notices of deaths and serious events (None for
    anyone who reviews no site: the link is not shown). One query per page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"safety_notices_unread": None}
    return {"safety_notices_unread": safety_notices_unread_count(user)}
