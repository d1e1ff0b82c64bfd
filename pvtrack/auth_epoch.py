"""The authentication epoch: sessions and API tokens issued before ``PVTRACK_AUTH_NOT_BEFORE`` are invalid.

Why it lives outside the database: a restored database brings back every session and knox token it held at
the backup's time, including those revoked since (a user logged out after the backup is logged in again).
A revocation stored in the database cannot undo that; a time kept in the deployment's configuration can. The
restore procedure (docs/operations.md §5.4) sets ``PVTRACK_AUTH_NOT_BEFORE`` (or ``PVTRACK_AUTH_NOT_BEFORE_FILE``,
a secret file) to the time of the restore before it starts the web service again, so every session and token
in the restored database is refused and users log in again. Unset (the default), nothing changes.

- Sessions: the log-in time (Unix seconds) is stored in the session under ``LOGIN_AT_KEY`` when a user logs in
  (``user_logged_in``); ``AuthEpochMiddleware`` logs out (and flushes) a session logged in before the epoch,
  or one without a log-in time (older than this rule).
- API tokens: ``EpochTokenAuthentication`` (``core.api.TokenAuthentication``: knox, ``Token`` or ``Bearer``) refuses a
  token whose ``created`` is before the epoch: "Invalid token.", answered as for an unknown token (401).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout, user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import AuthenticationFailed

from core.api import TokenAuthentication

LOGIN_AT_KEY = "pvtrack_login_at"


def auth_not_before() -> datetime.datetime | None:
    """The epoch (aware datetime) or None when unset; parsed and checked by the settings."""
    return settings.PVTRACK_AUTH_NOT_BEFORE


@receiver(user_logged_in, dispatch_uid="pvtrack-auth-epoch-login-time")
def _stamp_login_time(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and SESSION_KEY in session:  # a session log-in (not an API token's)
        session[LOGIN_AT_KEY] = time.time()


class AuthEpochMiddleware:
    """Log out a session that logged in before ``PVTRACK_AUTH_NOT_BEFORE`` (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        epoch = auth_not_before()
        if epoch is not None and request.user.is_authenticated:
            logged_in_at = request.session.get(LOGIN_AT_KEY)
            if not isinstance(logged_in_at, (int, float)) or logged_in_at < epoch.timestamp():
                logout(request)
        return self.get_response(request)


class EpochTokenAuthentication(TokenAuthentication):
    """knox token authentication that refuses tokens created before ``PVTRACK_AUTH_NOT_BEFORE``."""

    def authenticate_credentials(self, token):
        user, auth_token = super().authenticate_credentials(token)
        epoch = auth_not_before()
        if epoch is not None and auth_token.created < epoch:
            raise AuthenticationFailed("Invalid token.")
        return user, auth_token

