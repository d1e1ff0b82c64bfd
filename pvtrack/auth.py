"""Authentication glue: the API token login (django-rest-knox behind django-axes) and the lockout response.

- ``POST /api/v1/auth/login/`` with HTTP Basic credentials (or a logged-in browser session) answers
  ``{"expiry": ISO 8601 datetime, "token": str}``; the token is stored only as a SHA-512 digest and expires
  ``REST_KNOX["TOKEN_TTL"]`` after issue. Clients send ``Authorization: Token <token>``.
- Users with two-factor authentication (``pvtrack.twofactor``) also send their authenticator code in the
  ``X-OTP-Token`` header (else 403 ``two_factor_required``).
- ``POST /api/v1/auth/logout/`` (with that token) deletes it; ``/api/v1/auth/logoutall/`` deletes all the
  user's tokens. Both answer 204.
- Failed logins are throttled per username and address, per address and per username (``core.lockout``); a
  locked-out web or token login answers 429 saying which and for how long (:func:`lockout_response`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from knox import views as knox_views
from rest_framework import serializers
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from core.errors import PROBLEM_JSON, problem
from core.lockout import lockout_message
from core.otp import has_two_factor, verify_code
from patients.access import two_factor_required
from pvtrack.twofactor import is_verified


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: 429 with the problem document (code ``locked_out``, ``core.errors``) for the
    API, else the login page with the lockout message (no password is echoed back)."""
    message = lockout_message(request, credentials)
    if request.path.startswith("/api/"):
        status = settings.AXES_HTTP_RESPONSE_CODE
        return JsonResponse(problem(status, "locked_out", message), status=status, content_type=PROBLEM_JSON)
    return render(request, "registration/login.html", {"form": AuthenticationForm(request), "locked_out": message},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


class AxesBasicAuthentication(BasicAuthentication):
    """HTTP Basic that hands Django's ``authenticate()`` the underlying HttpRequest, so that django-axes
    counts the failure against it and AxesMiddleware can turn a lockout into the 429 response."""

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:  # PostgreSQL text cannot hold NUL: no such user can exist
            raise AuthenticationFailed("Invalid username/password.")
        return super().authenticate_credentials(userid, password, getattr(request, "_request", request))


class AxesBasicScheme(BasicScheme):
    """OpenAPI: :class:`AxesBasicAuthentication` is plain HTTP Basic."""

    target_class = AxesBasicAuthentication  # type: ignore[assignment]  # drf-spectacular accepts the class


@method_decorator(sensitive_post_parameters(), name="dispatch")
class TokenLoginView(knox_views.LoginView):
    """Issue an expiring API token to a user who proves who they are with HTTP Basic (or a session)."""

    authentication_classes = [AxesBasicAuthentication, SessionAuthentication]

    @extend_schema(request=None, parameters=[OpenApiParameter(
        "X-OTP-Token", str, OpenApiParameter.HEADER, required=False,
        description="The 6-digit authenticator code (or a recovery code): required from users with two-factor "
                    "authentication (safety officers, administrators, and anyone enrolled)")],
        responses=inline_serializer(
            "TokenLoginResponse", {"expiry": serializers.DateTimeField(), "token": serializers.CharField()}))
    def post(self, request, format=None):
        refused = second_factor_refusal(request)
        if refused is not None:
            return refused
        return super().post(request, format=format)


def second_factor_refusal(request) -> HttpResponse | None:
    """403 ``two_factor_required`` unless the user needs no second factor, the session is verified, or the
    ``X-OTP-Token`` header carries a valid code (``core.otp.verify_code``; wrong codes are throttled per device)."""
    user = request.user
    enrolled = has_two_factor(user)
    if not (enrolled or two_factor_required(user)) or is_verified(request._request):
        return None
    if not enrolled:
        detail = "Your role requires two-factor authentication: set it up at /account/two-factor/ first."
    elif verify_code(user, request.headers.get("X-OTP-Token", "")) is None:
        detail = "Send the code of your authenticator app (or a recovery code) in the X-OTP-Token header."
    else:
        return None
    return JsonResponse(problem(403, "two_factor_required", detail), status=403, content_type=PROBLEM_JSON)


class TokenLogoutView(knox_views.LogoutView):
    """Delete the token that authenticated this request."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class TokenLogoutAllView(knox_views.LogoutAllView):
    """Delete every token of the user who sent this request."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)
