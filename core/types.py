"""Types shared by the apps: the user model and the request of a logged-in user."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest

#: Whoever sends a request: a logged-in user or the anonymous user.
AnyUser = User | AnonymousUser


class AuthenticatedRequest(HttpRequest):
    """The request of a view behind ``login_required``: ``user`` is a logged-in :class:`User`.

    A typing aid only (django-stubs' recommended pattern); at run time views receive a plain HttpRequest.
    """

    user: User
