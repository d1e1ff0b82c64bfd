"""One error contract for the whole API: domain exceptions with a stable ``code``, and the one error shape.

Every API error answers an RFC 9457 problem document (``Content-Type: application/problem+json``)::

    {"type": "about:blank", "title": "Conflict", "status": 409, "code": "stale_version",
     "detail": "One sentence a person can act on.",
     "errors": {"grade": ["..."], "non_field_errors": ["..."]},   # validation errors only
     ...}                                                           # extension members, e.g. "current"

``code`` is stable and machine-readable (the list is :data:`CODES`, documented in ``docs/api-errors.md``);
``detail`` is for people; ``errors`` maps field names to messages ("non_field_errors" for the record as a
whole). Extension members: ``current`` (the record as it is now, on ``stale_version``), ``existing``
(the record a ``probable_duplicate`` duplicates). Unexpected exceptions answer 500 ``server_error`` in the
same shape (never an HTML page under ``/api/``), a lost database 503 ``database_unavailable``.

Services raise Django's ``ValidationError`` (keyed by field: forms show it next to the field; the API answers
400 ``invalid``), ``PermissionDenied`` (403 ``permission_denied``) or a :class:`DomainError` subclass.
``api_exception_handler`` is DRF's ``EXCEPTION_HANDLER``; ``server_error``/``bad_request`` are Django's
``handler500``/``handler400``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Every ``code`` the API answers, with its HTTP status (docs/api-errors.md explains each).
CODES: dict[str, int] = {
    "invalid": 400, "parse_error": 400, "not_authenticated": 401, "authentication_failed": 401,
    "permission_denied": 403, "not_found": 404, "method_not_allowed": 405, "not_acceptable": 406,
    "stale_version": 409, "probable_duplicate": 409, "conflict": 409, "idempotency_key_reused": 422,
    "unsupported_media_type": 415, "throttled": 429, "locked_out": 429, "server_error": 500,
    "database_unavailable": 503, "two_factor_required": 403,
}

CODE_CHOICES = [(code, code) for code in sorted(CODES)]

DATABASE_DOWN = ("The database is unavailable (restarting or unreachable). Your change may not have been "
                 "saved: check the record and try again in a minute.")
SERVER_ERROR = ("Something went wrong on the server; nothing was changed by this request. The error was logged "
                "— if it happens again, tell your administrator the time it happened.")


class DomainError(Exception):
    """A refusal a user can act on: stable ``code``, HTTP ``status``, a sentence, optional field errors.

    ``errors``: {field: [message, ...]} (use "non_field_errors" for the record as a whole); ``extra``:
    extension members added to the problem document as they are (JSON-able values).
    """

    code = "invalid"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, errors: Mapping[str, list[str]] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = dict(errors or {})
        self.extra = dict(extra or {})


class ConflictError(DomainError):
    """409: the request conflicts with the current state (a stale version, a duplicate, a lost race).

    ``current``: the record as it is now (a model instance; the API serialises it with the view's
    serializer into the ``current`` member), or None.
    """

    code = "conflict"
    status = 409

    def __init__(self, detail: str, *, current: Any = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.current = current


def problem(status: int, code: str, detail: str, *, errors: Mapping[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    """The problem document for ``status``/``code`` (see the module docstring for the shape)."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                            "code": code, "detail": detail}
    if errors:
        body["errors"] = {field: list(messages) for field, messages in errors.items()}
    return body | extra


def validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """Django ValidationError → {field: [messages]}; errors not tied to a field go under "non_field_errors"."""
    if hasattr(exc, "error_dict"):
        return {("non_field_errors" if field == "__all__" else field): messages
                for field, messages in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def _first(errors: Mapping[str, Any]) -> str:
    """A one-sentence summary of field errors: the first message, prefixed by its field."""
    for field, messages in errors.items():
        message = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(message, dict):  # nested serializer errors
            return f"{field}: {_first(message)}"
        return str(message) if field == "non_field_errors" else f"{field}: {message}"
    return "The request is not valid."


def _drf_errors(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {("non_field_errors" if k == "__all__" else k): v if isinstance(v, list | dict) else [v]
                for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [detail]}


def _response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=dict(headers or {}))
    response.content_type = PROBLEM_JSON
    return response


def database_lost(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised while handling, is a lost database connection."""
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every exception raised in an API view → one problem document.

    Maps :class:`DomainError` (its code/status; a ConflictError's ``current`` instance serialised with the
    view's serializer), Django ``ValidationError`` (400 invalid), ``PermissionDenied`` (403), ``Http404``
    (404), DRF's APIExceptions (their status; ``code`` from DRF's codes, validation errors under ``errors``),
    a lost database (503) and anything else (500 server_error, logged with its traceback; no detail leaks).
    """
    if isinstance(exc, DomainError):
        body = problem(exc.status, exc.code, exc.detail, errors=exc.errors, **exc.extra)
        current = getattr(exc, "current", None)
        view = context.get("view")
        if current is not None and view is not None and hasattr(view, "get_serializer"):
            body["current"] = view.get_serializer(current).data
        return _response(body)
    if isinstance(exc, DjangoValidationError):
        errors = validation_errors(exc)
        return _response(problem(400, "invalid", _first(errors), errors=errors))
    if isinstance(exc, Http404):
        return _response(problem(404, "not_found", "Not found (or not on a site you hold a role on)."))
    if isinstance(exc, PermissionDenied):
        return _response(problem(403, "permission_denied", str(exc) or "Your role does not allow this."))
    if isinstance(exc, drf_exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        if isinstance(exc, drf_exceptions.ValidationError):
            errors = _drf_errors(exc.detail)
            return _response(problem(400, "invalid", _first(errors), errors=errors), headers)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return _response(problem(exc.status_code, str(code), str(exc.detail)), headers)
    if database_lost(exc):
        return _response(problem(503, "database_unavailable", DATABASE_DOWN), {"Retry-After": "30"})
    if isinstance(exc, IntegrityError):  # a race the service did not name: still a conflict, never a 500
        logger.warning("integrity error answered 409 (%s)", type(exc.__cause__).__name__)
        return _response(problem(409, "conflict", "This conflicts with a record saved at the same moment; nothing "
                                                  "was changed. Reload and try again."))
    request = context.get("request")
    logger.exception("unhandled error in API view %s", getattr(request, "path", "?"), exc_info=exc)
    return _response(problem(500, "server_error", SERVER_ERROR))


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _database_down_response(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        response: HttpResponse = JsonResponse(problem(503, "database_unavailable", DATABASE_DOWN), status=503,
                                              content_type=PROBLEM_JSON)
    else:
        response = HttpResponse(DATABASE_DOWN, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "30"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database answers 503; an API request the 500 problem document; a page the 500 page.

    Django calls this inside its exception handler, so ``sys.exc_info()`` is the unhandled exception.
    """
    from django.views.defaults import server_error as default_server_error

    if database_lost(sys.exc_info()[1]):
        return _database_down_response(request)
    if _is_api(request):
        return JsonResponse(problem(500, "server_error", SERVER_ERROR), status=500, content_type=PROBLEM_JSON)
    return default_server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a session Django could not save because the database was lost answers the same 503 as
    :func:`server_error`; an API request gets the 400 problem document; anything else the default 400 page."""
    from django.views.defaults import bad_request as default_bad_request

    if database_lost(exception):
        return _database_down_response(request)
    if _is_api(request):
        return JsonResponse(problem(400, "invalid", "The request could not be understood."), status=400,
                            content_type=PROBLEM_JSON)
    return default_bad_request(request, exception)
