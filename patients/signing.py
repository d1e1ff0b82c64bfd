"""Re-authentication of a signer (21 CFR 11.200: ID plus password, plus the second factor where the role needs it).

Shared by every electronic signature: flag reviews and run sign-offs (``reports.signatures``) and SAE case
submissions (``ae.services.sae``). Moved here from ``reports.signatures`` so that ``ae`` (below ``reports``) can
sign with the same rules.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from core.lockout import lockout_message
from core.otp import has_two_factor, verify_code
from patients.access import two_factor_required


def verify_signer(*, acting_user: User, password: str, otp_code: str, request: HttpRequest | None) -> str:
    """Re-authenticate the signer (21 CFR 11.200: ID plus password); returns the printed name.

    A signature is a login attempt under the login throttle (``core.lockout``): the failure django-axes records
    is committed in its own transaction, so callers check the password before (outside) their signing
    transaction and nothing rolls it back. Raises ValidationError keyed "password": code ``locked_out`` (with
    the lockout message: which lock and for how long) when this attempt was refused by the throttle or locked
    it, else "not correct". A signer with two-factor authentication (required for the roles that sign,
    ``patients.access.two_factor_required``) also gives the authenticator code: ValidationError keyed
    "otp_code" if it is missing or wrong (django-otp throttles wrong codes per device), or if the signer's role
    requires two-factor and they have not enrolled.
    """
    request = request or HttpRequest()  # the throttle needs a request; a command-line caller has none
    user = authenticate(request, username=acting_user.get_username(), password=password)
    if user is not None and user.pk == acting_user.pk:
        verify_second_factor(acting_user, otp_code)
        return acting_user.get_full_name() or acting_user.get_username()
    if getattr(request, "axes_locked_out", False):
        message = lockout_message(request, getattr(request, "axes_credentials", None)
                                  or {"username": acting_user.get_username()})
        # Answered here, on the signature form: AxesMiddleware would replace the page with the login page.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        raise ValidationError({"password": ValidationError(message, code="locked_out")})
    raise ValidationError({"password": _("The password is not correct: nothing was signed.")})


def signing_needs_code(user: User) -> bool:
    """Whether ``user`` signs with an authenticator code besides the password."""
    return has_two_factor(user) or two_factor_required(user)


def verify_second_factor(user: User, otp_code: str) -> None:
    if has_two_factor(user):
        if verify_code(user, otp_code) is None:
            raise ValidationError({"otp_code": _("The authenticator code is not correct (or was used already): "
                                                 "nothing was signed.")})
    elif two_factor_required(user):
        raise ValidationError({"otp_code": _(
            "Your role signs with two-factor authentication: set it up under Two-factor (/account/two-factor/) "
            "first. Nothing was signed.")})


def is_locked_out(error: ValidationError) -> bool:
    """Whether a refused signature was refused by the login throttle (answer 429 rather than 400)."""
    return any(e.code == "locked_out" for e in getattr(error, "error_dict", {}).get("password", []))
