"""OpenAPI: every API operation declares its error responses with the one problem shape of :mod:`core.errors`.

``PvtrackAutoSchema`` is drf-spectacular's ``DEFAULT_SCHEMA_CLASS``; it adds, to each operation, the error
statuses it can answer (400 when it takes a body or query parameters, 401/403 when it needs authentication,
404 on a single record, 409 on a write to a versioned record, 429, 500), each as ``application/problem+json``
with the ``Problem`` component.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from core.errors import CODE_CHOICES, PROBLEM_JSON


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """RFC 9457 problem details as pvtrack answers them (core/errors.py)."""

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
    "429": "Too many requests or login attempts (throttled, locked_out).",
    "500": "Unexpected server error (server_error); nothing was changed.",
}


class PvtrackAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the declared error responses (see the module docstring)."""

    def _error_statuses(self) -> list[str]:
        has_filters = bool(self._get_filter_parameters())  # type: ignore[no-untyped-call]
        statuses = ["400"] if self.method in ("POST", "PUT", "PATCH") or has_filters else []
        if self.get_auth():
            statuses += ["401", "403"]
        if "{" in self.path:
            statuses.append("404")
        if self.method in ("PUT", "PATCH", "POST") and "{" in self.path or self.method == "POST":
            statuses.append("409")
        return [*statuses, "429", "500"]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        if direction != "response":
            return responses
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for status in self._error_statuses():
            responses.setdefault(status, {"content": {PROBLEM_JSON: {"schema": problem}},
                                          "description": ERROR_DESCRIPTIONS[status]})
        return responses
