"""OpenAPI: every API operation declares its error responses with the one problem shape of :mod:`core.errors`.

``PvtrackAutoSchema`` is drf-spectacular's ``DEFAULT_SCHEMA_CLASS``; it adds, to each operation, the error
statuses it can answer (400 when it takes a body or query parameters, 401/403 when it needs authentication,
404 on a single record, 409 on a write to a versioned record, 429, 500), each as ``application/problem+json``
with the ``Problem`` component. Response components require every member the server always returns
(``COMPONENT_SPLIT_REQUEST`` keeps request components apart); a serializer lists the members it may leave out in
``response_optional``, and the request members it needs even in a PATCH in ``always_required``. The API token is
declared as an HTTP bearer scheme (``Authorization: Bearer <token>``, RFC 6750; ``Token <token>`` is accepted too,
:class:`core.api.TokenAuthentication`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.errors import CODE_CHOICES, PROBLEM_JSON


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """RFC 9457 problem details as pvtrack answers them (core/errors.py)."""

    response_optional = ("errors", "current", "existing")

    type = serializers.CharField(help_text='Always "about:blank": the problem is identified by `code`.')
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.ChoiceField(choices=CODE_CHOICES, help_text="Stable machine-readable code.")
    detail = serializers.CharField(help_text="One sentence a person can act on.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field named like Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text='Validation errors: field name -> messages ("non_field_errors" for the record as a whole).')
    current = serializers.DictField(required=False, help_text="stale_version: the record as it is now.")
    existing = serializers.DictField(required=False,
                                     help_text="probable_duplicate: the record this one would duplicate.")


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (code invalid or parse_error); field messages in `errors`.",
    "401": "Not authenticated (missing, expired or invalid token).",
    "403": "Authenticated, but your role on the site does not allow this.",
    "404": "Not found, or on a site you hold no role on.",
    "409": "Conflict: stale_version (with `current`), probable_duplicate (with `existing`) or conflict.",
    "415": "The body is not JSON (unsupported_media_type): send `Content-Type: application/json`.",
    "422": "The Idempotency-Key was already used with a different body (idempotency_key_reused).",
    "429": "Too many requests or login attempts (throttled, locked_out).",
    "500": "Unexpected server error (server_error); nothing was changed.",
    "503": "The database is unavailable (database_unavailable); retry after `Retry-After` seconds.",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="1-100 visible ASCII characters (e.g. a UUID). The first request with a key is applied once; a retry "
                "with the same key and body answers the first response again (header `Idempotent-Replayed: true`); "
                "the same key with another body answers 422. Keys are kept 7 days.")


class PvtrackAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the declared error responses (see the module docstring)."""

    def _idempotent(self) -> bool:
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return self.method == "POST" and bool(getattr(handler, "idempotent", False))

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        return [*parameters, IDEMPOTENCY_KEY] if self._idempotent() else parameters

    def _error_statuses(self) -> list[str]:
        has_filters = bool(self._get_filter_parameters())  # type: ignore[no-untyped-call]
        writes = self.method in ("POST", "PUT", "PATCH")
        statuses = ["400"] if writes or has_filters else []
        if self.get_auth():
            statuses += ["401", "403"]
        if "{" in self.path:
            statuses.append("404")
        if writes and "{" in self.path or self.method == "POST":
            statuses.append("409")
        if writes and self.get_request_serializer() is not None:
            statuses.append("415")
        if self._idempotent():
            statuses.append("422")
        return [*statuses, "429", "500", "503"]

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)  # type: ignore[no-untyped-call]
        if direction == "response" and schema.get("properties"):
            optional = set(getattr(serializer, "response_optional", ()))
            schema["required"] = sorted(set(schema["properties"]) - optional)
        elif direction == "request":  # members needed even in a PATCH body
            needed: tuple[str, ...] = getattr(serializer, "always_required", ())
            if needed:
                schema["required"] = sorted(set(schema.get("required", ())) | set(needed))
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        if direction != "response":
            return responses
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in self._error_statuses():
            responses.setdefault(status, {"content": {PROBLEM_JSON: {"schema": problem}},
                                          "description": ERROR_DESCRIPTIONS[status]})
        return responses


class TokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """OpenAPI security scheme of :class:`core.api.TokenAuthentication`: HTTP bearer (``Bearer <token>``, what
    generated clients send by default); ``Token <token>`` is accepted as well."""

    target_class = "core.api.TokenAuthentication"
    match_subclasses = True  # pvtrack.auth_epoch.EpochTokenAuthentication, the class settings use
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer",
                "description": "The token from POST /api/v1/auth/login/, sent as `Authorization: Bearer <token>` "
                               "or `Authorization: Token <token>`."}
