"""Login throttling: three tiers of failed-login limits on top of django-axes' database handler.

The policy (docs/operations.md, "Login throttling"; OWASP ASVS 5.0 V6.3.1 and V6.1.1, NIST SP 800-63B §5.2.2
"Rate Limiting (Throttling)"). Failures count within a sliding cool-off window (``AXES_COOLOFF_TIME``, 15 min):
a tier locks once its count reaches its limit and unlocks when its latest failure is older than the window.

- **username + address** (one user on one computer): 5 failures (``PVTRACK_LOCKOUT_PER_USERNAME_AND_ADDRESS``) stop
  guessing one password; they lock that user on that computer only.
- **address** (one computer, any usernames): 20 (``PVTRACK_LOCKOUT_PER_ADDRESS``) stop password spraying; they lock
  that computer.
- **username** (one user, any computers): 50 (``PVTRACK_LOCKOUT_PER_USERNAME``) stop distributed guessing; locking a
  user needs 50 failures from at least 10 computers (each computer stops at 5 for that user).

Attempts refused during a lockout are not counted (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``), so
an attacker who keeps hammering one computer's lock never adds to the username tier. The address is the client's
behind the trusted proxies (``core.clientip``). A successful login resets that user's failures on that computer
only (:meth:`TieredLockoutHandler.reset_user_attempts`).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

# The order of settings.AXES_LOCKOUT_PARAMETERS.
TIERS = ("username_and_address", "address", "username")
MESSAGES = {
    "username_and_address": "Too many failed login attempts for this username from this computer. Logging in as "
                            "this user from this computer is locked for {minutes} minutes.",
    "address": "Too many failed login attempts from this computer. Logging in from this computer is locked for "
               "{minutes} minutes.",
    "username": "Too many failed login attempts for this username from several computers. This username is locked "
                "for {minutes} minutes.",
}
ADVICE = " Try again later or ask an administrator to unlock it."


def tier_limits() -> dict[str, int]:
    """Failures that lock each tier, from the settings (see the module docstring)."""
    return {"username_and_address": int(getattr(settings, "PVTRACK_LOCKOUT_PER_USERNAME_AND_ADDRESS", 5)),
            "address": int(getattr(settings, "PVTRACK_LOCKOUT_PER_ADDRESS", 20)),
            "username": int(getattr(settings, "PVTRACK_LOCKOUT_PER_USERNAME", 50))}


def lockout_minutes(request: HttpRequest | None = None) -> int:
    """The cool-off period in whole minutes."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds() // 60) if cool_off else 0


class TieredLockoutHandler(AxesDatabaseHandler):
    """``AXES_HANDLER``: locks when any tier reaches its own limit (axes itself has one limit for all)."""

    def failures_by_tier(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> dict[str, int]:
        """Failures within the cool-off window per tier, for this request's username and address."""
        querysets = self.get_user_attempts(request, credentials)
        return {tier: qs.aggregate(n=Sum("failures_since_start"))["n"] or 0
                for tier, qs in zip(TIERS, querysets, strict=True)}

    def locked_tier(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
        """The first tier (in ``TIERS`` order) whose limit is reached, or None."""
        limits = tier_limits()
        counts = self.failures_by_tier(request, credentials)
        return next((tier for tier in TIERS if counts[tier] >= limits[tier]), None)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """After a successful login (``AXES_RESET_ON_SUCCESS``) forget the failures of this username on this
        computer only: axes would also forget the computer's failures for other usernames (a sprayer with an
        account of their own could reset their throttle by logging in) and the username's failures on other
        computers (an attacker's lock would end whenever the victim logs in)."""
        deleted, _ = self.filter_user_attempts(request, credentials)[0].delete()
        return int(deleted)

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """Axes compares this with ``AXES_FAILURE_LIMIT``: at least that when a tier is locked, below it otherwise."""
        limit = int(settings.AXES_FAILURE_LIMIT)
        if self.locked_tier(request, credentials) is not None:
            return limit
        return min(self.failures_by_tier(request, credentials)["username_and_address"], limit - 1)


def lockout_message(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """What a locked-out user is told: which tier (this user here, this computer, this username) and for how long."""
    from axes.handlers.proxy import AxesProxyHandler

    handler = AxesProxyHandler.get_implementation()
    tier = handler.locked_tier(request, credentials) if isinstance(handler, TieredLockoutHandler) else None
    return MESSAGES[tier or "username_and_address"].format(minutes=lockout_minutes(request)) + ADVICE
