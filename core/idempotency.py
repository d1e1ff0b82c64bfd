"""Writes that are applied once however often they are submitted: API ``Idempotency-Key`` and web form tokens.

API: a POST that carries ``Idempotency-Key: <1–100 visible ASCII characters>`` is applied at most once per user
and endpoint. A retry with the same key and the same body gets the first response again (same status and body,
header ``Idempotent-Replayed: true``); the same key with a different body answers 422
``idempotency_key_reused``. Keys are kept ``IDEMPOTENCY_KEY_TTL_DAYS`` (cleared by :func:`records_expire`).

Web forms: each form carries a one-time ``submission_token`` (:func:`new_token`); a second POST of the same
token (a double click, a resubmitted page) redirects to the record the first one saved instead of saving again.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError
from core.models import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,100}$")
IDEMPOTENCY_KEY_TTL_DAYS = 7
FORM_FIELD = "submission_token"


class IdempotencyKeyReused(DomainError):
    """422: the Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"
    status = 422


def _claim(*, user_id: int, scope: str, key: str, request_sha256: str = "") -> IdempotencyRecord | None:
    """Insert the claim in the current transaction; None if it was new, else the record already there (a
    concurrent claim of the same key waits here until the first transaction ends)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_idempotencyrecord (user_id, scope, key, request_sha256, result_url, created_at) "
            "VALUES (%s, %s, %s, %s, '', now()) ON CONFLICT DO NOTHING RETURNING id",
            [user_id, scope, key, request_sha256])
        if cursor.fetchone() is not None:
            return None
    return IdempotencyRecord.objects.get(user_id=user_id, scope=scope, key=key)


def _body_sha256(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent_create(create: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF ``create(self, request, ...)``: honour ``Idempotency-Key`` as the module docstring says.

    Without the header the create runs as before. Raises ValidationError (400) for a malformed key,
    IdempotencyKeyReused (422) for a key used with another body.
    """

    @functools.wraps(create)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return create(self, request, *args, **kwargs)
        if not KEY_PATTERN.match(key):
            from django.core.exceptions import ValidationError

            raise ValidationError({"Idempotency-Key": "Use 1–100 visible ASCII characters (e.g. a UUID)."})
        digest = _body_sha256(request)
        user_id = int(request.user.pk or 0)  # authenticated: the view's permission classes ran first
        with transaction.atomic():
            earlier = _claim(user_id=user_id, scope=f"api {request.method} {request.path}", key=key,
                             request_sha256=digest)
            if earlier is not None:
                if earlier.request_sha256 != digest:
                    raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request "
                                               "body; nothing was changed. Use a new key for a new request.")
                return Response(earlier.response_body, status=earlier.status_code,
                                headers={"Idempotent-Replayed": "true"})
            response = create(self, request, *args, **kwargs)
            IdempotencyRecord.objects.filter(user_id=user_id, scope=f"api {request.method} {request.path}",
                                             key=key).update(status_code=response.status_code,
                                                             response_body=response.data)
            return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # core.openapi declares the Idempotency-Key header
    return wrapper


def new_token() -> str:
    """A fresh one-time token for a web form (hidden field ``submission_token``)."""
    return uuid.uuid4().hex


def once_per_submission(scope: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a form view: a POST whose ``submission_token`` was already saved redirects to what it saved.

    The view runs inside one transaction with the token's claim: a success (a redirect) records where it led;
    anything else (the form shown again with errors) rolls the claim back, so the corrected form can be sent
    with the same token. A POST without a token is handled as before (old pages, tests, scripts).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token = request.POST.get(FORM_FIELD, "") if request.method == "POST" else ""
            if not token or not request.user.is_authenticated:
                return view(request, *args, **kwargs)
            if not re.fullmatch(r"[0-9a-f]{32}", token):
                return view(request, *args, **kwargs)  # not one we issued: no once-only guarantee to give
            with transaction.atomic():
                earlier = _claim(user_id=request.user.pk, scope=f"form {scope}", key=token)
                if earlier is not None and earlier.result_url:
                    messages.info(request, "This form was already saved (sent twice): showing what was saved.")
                    return redirect(earlier.result_url)
                response = view(request, *args, **kwargs)
                if isinstance(response, HttpResponseRedirect):
                    IdempotencyRecord.objects.filter(user_id=request.user.pk, scope=f"form {scope}",
                                                     key=token).update(result_url=response.url)
                else:
                    transaction.set_rollback(True)
                return response

        return wrapper

    return decorate


def records_expire(*, older_than: datetime.timedelta = datetime.timedelta(days=IDEMPOTENCY_KEY_TTL_DAYS)) -> int:
    """Delete idempotency records older than ``older_than``; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
