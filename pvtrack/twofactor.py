"""Two-factor authentication pages and their enforcement (TOTP with recovery codes, django-otp).

- ``/account/two-factor/`` (:func:`two_factor_setup`): enrol an authenticator app — a QR code (and the key as
  text) of a new TOTP device; the first correct code confirms it and shows ``core.otp.RECOVERY_CODES`` recovery
  codes once. Enrolled and verified users can renew their recovery codes there.
- ``/account/two-factor/verify/`` (:func:`two_factor_verify`): after the password, the 6-digit code (or a
  recovery code) marks the session verified (``django_otp.login``).
- :class:`TwoFactorMiddleware`: a logged-in session that is not verified goes to the verify page if the user has
  an authenticator, to the enrolment page if their role requires one (``patients.access.two_factor_required``:
  safety officers, administrators, staff); the session API answers 403 ``two_factor_required``. Ward staff
  without an authenticator pass.

The token login (``pvtrack.auth.TokenLoginView``) asks the same users for the code in ``X-OTP-Token``; signatures
(``reports.signatures``) ask for it with the password.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import segno
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticToken

from core.errors import PROBLEM_JSON, problem
from core.otp import (
    SESSION_STEP_KEY,
    authenticator_confirm,
    authenticator_start,
    has_two_factor,
    recovery_codes_renew,
    verify_code,
)
from patients.access import two_factor_required

#: Paths a logged-in but unverified user may still reach.
OPEN_PATHS = ("/login/", "/logout/", "/account/two-factor/", "/static/", "/jsi18n/", "/health/", "/api/v1/auth/")


def is_verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor (``django_otp.middleware.OTPMiddleware``)."""
    verified = getattr(request.user, "is_verified", None)
    return bool(verified and verified())


class TwoFactorMiddleware:
    """After ``OTPMiddleware``: send unverified sessions that need a second factor to enrol or verify."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated and not request.path.startswith(OPEN_PATHS) and not is_verified(request):
            step = self.step_needed(request)
            if step and request.path.startswith("/api/"):
                detail = ("Two-factor authentication is required: verify your session at /account/two-factor/verify/ "
                          "or use an API token.")
                return JsonResponse(problem(403, "two_factor_required", detail), status=403,
                                    content_type=PROBLEM_JSON)
            if step:
                return redirect(f"{reverse(step)}?next={quote(request.get_full_path())}")
        return self.get_response(request)

    @staticmethod
    def step_needed(request: HttpRequest) -> str:
        """"two-factor-verify", "two-factor-setup" or "" (no second factor needed) for this unverified session.

        Decided at login and kept in the session (:func:`remember_step`): a ward nurse without an authenticator
        costs no query per request. Signatures and the token login decide live."""
        step = request.session.get(SESSION_STEP_KEY)
        if step is None:  # a session from before this was deployed
            step = remember_step(request, request.user)
        return str(step)


def remember_step(request: HttpRequest, user: Any, **kwargs: Any) -> str:
    """``user_logged_in`` receiver: decide the second-factor step of this login and keep it in the session."""
    step = "two-factor-verify" if has_two_factor(user) else "two-factor-setup" if two_factor_required(user) else ""
    request.session[SESSION_STEP_KEY] = step
    return step


def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        remember_step(request, user)


user_logged_in.connect(_on_login, dispatch_uid="pvtrack-second-factor-step")


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


def _qr_data_uri(text: str) -> str:
    """The QR code of ``text`` as a ``data:image/svg+xml`` URI for an ``<img>`` (CSP ``img-src data:``), by segno.
    With the SVG namespace: ``svg_inline`` (for SVG inside HTML) leaves it out, and a browser then refuses the SVG
    as an image and shows the alt text."""
    return segno.make(text, error="m").svg_data_uri(scale=4)


@login_required
@sensitive_post_parameters("code")
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app, or (enrolled and verified) renew the recovery codes."""
    user = request.user
    if has_two_factor(user):
        if not is_verified(request):
            return redirect(f"{reverse('two-factor-verify')}?next={quote(request.get_full_path())}")
        if request.method == "POST" and request.POST.get("action") == "renew":
            return render(request, "registration/two_factor_codes.html",
                          {"codes": recovery_codes_renew(user), "next": reverse("home")})
        remaining = StaticToken.objects.filter(device__user=user, device__name="recovery").count()
        return render(request, "registration/two_factor_setup.html", {"enrolled": True, "remaining": remaining})
    device = authenticator_start(user)
    if request.method == "POST":
        codes = authenticator_confirm(user=user, device=device, code=request.POST.get("code", ""))
        if codes is not None:
            otp_login(request, device)
            return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": _next_url(request)})
    key = base64.b32encode(device.bin_key).decode()
    return render(request, "registration/two_factor_setup.html", {
        "enrolled": False, "qr": _qr_data_uri(device.config_url), "key": " ".join(key[i:i + 4] for i in
                                                                                 range(0, len(key), 4)),
        "required": two_factor_required(user), "next": _next_url(request),
        "error": _("That code is not correct (or has been used): enter the code your app shows now.")
        if request.method == "POST" else None,
    }, status=400 if request.method == "POST" else 200)


@login_required
@sensitive_post_parameters("code")
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of the login: a code from the authenticator app or a recovery code."""
    if not has_two_factor(request.user):
        return redirect(f"{reverse('two-factor-setup')}?next={quote(_next_url(request))}")
    error = None
    if request.method == "POST":
        device = verify_code(request.user, request.POST.get("code", ""))
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        error = _("That code is not correct, has been used, or came too soon after a wrong one: wait a few seconds "
                  "and enter the code your app shows now, or a recovery code.")
    return render(request, "registration/two_factor_verify.html", {"next": _next_url(request), "error": error},
                  status=400 if error else 200)
