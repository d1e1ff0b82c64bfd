"""DRF building blocks every API of pvtrack uses: parsing, paging, token authentication, strict query parameters."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from knox import auth as knox_auth
from rest_framework import pagination, parsers
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply to parse (e.g. 50,000 ``[``) answers 400 parse_error
    instead of a RecursionError (500)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset paging with bounds: ``limit`` at most ``max_limit`` (1,000), ``offset`` at most ``MAX_OFFSET``
    (a value beyond PostgreSQL's bigint, e.g. 10^20, would otherwise fail in the database)."""

    max_limit = 1000
    MAX_OFFSET = 2**31 - 1

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), self.MAX_OFFSET)


class KeysetPagination(pagination.BasePagination):
    """Keyset ("seek") paging for lists that grow with the registry (the adverse-event list): each page is one
    ``SELECT … WHERE (sort keys) > (the last row's) ORDER BY (sort keys) LIMIT n+1`` — no ``COUNT(*)`` and no
    ``OFFSET`` scan, so the thousandth page costs what the first costs, and a row inserted while a client pages
    through is neither skipped nor repeated (Winand, *SQL Performance Explained*, "Paging Through Results").

    Answer: ``{"next": url | null, "results": [...]}``; follow ``next`` (it carries an opaque ``cursor`` and the
    request's other parameters) until it is null. ``limit`` sets the page size (default 100, at most
    :attr:`max_page_size`, 1,000; a limit that is not a positive integer gives the default, as DRF's paginators do).
    The order is the queryset's (e.g. the filter's ``?ordering=-grade,onset_date``) with ``id`` appended, so that
    every position is unique; the sort fields must be NOT NULL. A cursor the server did not issue, or issued for
    another ordering, answers 400 ``invalid``.
    """

    limit_query_param = "limit"
    cursor_query_param = "cursor"
    page_size = 100
    max_page_size = 1000

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        order = tuple(str(field) for field in queryset.query.order_by) or ("id",)
        if not any(field.lstrip("-") in ("id", "pk") for field in order):
            order += ("id",)
        self.order = order
        limit = self.get_limit(request)
        raw = request.query_params.get(self.cursor_query_param)
        if raw is not None:
            queryset = self._after(queryset, order, self._decode(raw, order))
        rows = list(queryset.order_by(*order)[:limit + 1])
        self.next_values = ([_json_value(getattr(rows[limit - 1], f.lstrip("-"))) for f in order]
                            if len(rows) > limit else None)
        return rows[:limit]

    def get_limit(self, request: Request) -> int:
        try:
            limit = int(request.query_params[self.limit_query_param])
        except (KeyError, ValueError):
            return self.page_size
        return min(limit, self.max_page_size) if limit > 0 else self.page_size

    def _decode(self, raw: str, order: tuple[str, ...]) -> list[Any]:
        try:
            cursor = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==="))
            values = cursor["v"]
            valid = cursor["o"] == list(order) and isinstance(values, list) and len(values) == len(order)
        except (ValueError, TypeError, KeyError, UnicodeError):
            valid = False
        if not valid or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values):
            raise ValidationError({self.cursor_query_param: [
                "Invalid cursor: use the next link of the previous page, with the same ordering."]})
        return values  # type: ignore[no-any-return]

    def _after(self, queryset: Any, order: tuple[str, ...], values: list[Any]) -> Any:
        """Rows after ``values`` in ``order``: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR … ('<' for a '-' key)."""
        after = Q(pk__in=[])
        equal = Q()
        for field, value in zip(order, values, strict=True):
            name = field.lstrip("-")
            after |= equal & Q(**{f"{name}__{'lt' if field.startswith('-') else 'gt'}": value})
            equal &= Q(**{name: value})
        try:
            return queryset.filter(after)
        except (DjangoValidationError, ValueError, TypeError) as exc:
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from exc

    def get_next_link(self) -> str | None:
        if self.next_values is None:
            return None
        token = base64.urlsafe_b64encode(json.dumps({"o": list(self.order), "v": self.next_values},
                                                    separators=(",", ":")).encode()).decode().rstrip("=")
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, token)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["next", "results"], "properties": {
            "next": {"type": "string", "nullable": True, "format": "uri",
                     "description": "The next page (null on the last page): follow it as it is.",
                     "example": "https://pvtrack.example/api/v1/adverse-events/?cursor=eyJvIjpbImlkIl0sInYiOlsxMDBdfQ"},
            "results": schema}}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Where the page starts: the opaque value in the previous page's next link.",
             "schema": {"type": "string"}},
            {"name": self.limit_query_param, "required": False, "in": "query",
             "description": f"Rows per page (default {self.page_size}, at most {self.max_page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]


def _json_value(value: Any) -> int | str:
    """A sort key's value as it travels in a cursor: ints as they are, dates and times as ISO 8601 text."""
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


class TokenAuthentication(knox_auth.TokenAuthentication):
    """django-rest-knox token authentication that accepts both header prefixes clients send:
    ``Authorization: Token <token>`` (knox's, ``REST_KNOX["AUTH_HEADER_PREFIX"]``) and ``Authorization: Bearer
    <token>`` (RFC 6750 §2.1; the default of generated clients such as openapi-python-client's
    ``AuthenticatedClient``). A request without credentials, or with a bad or expired token, answers 401 with
    ``WWW-Authenticate: Token`` (RFC 9110 §11.6.1) as long as this class is the first authentication class of the
    view (settings.REST_FRAMEWORK); another scheme's header (e.g. ``Basic``) is left to the next class.
    """

    BEARER = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if header and header[0].lower() == self.BEARER:
            if len(header) != 2:
                raise AuthenticationFailed("Invalid token header: send `Authorization: Bearer <token>`.")
            return self.authenticate_credentials(header[1])  # type: ignore[no-any-return]
        return super().authenticate(request)  # type: ignore[no-any-return]


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend that also refuses query parameters the view does not know (400 ``invalid``, the
    parameter named under ``errors``), so a misspelt or unsupported filter is never silently ignored (all rows
    returned). Known: the filterset's filters, the view's other filter backends' parameters (``search``,
    ``ordering``), the paginator's ``limit``/``offset`` (or ``cursor``) and DRF's ``format``. A parameter given
    twice answers 400 too, unless it takes a list (``ordering``): only one of the values would be used."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        unknown = sorted(set(request.query_params) - known_query_params(view, request, queryset))
        if unknown:
            raise ValidationError({name: ["Unknown query parameter (see the operation's parameters in openapi.yaml)."]
                                   for name in unknown})
        filterset_class = self.get_filterset_class(view, queryset)
        lists = {name for name, f in (filterset_class.base_filters.items() if filterset_class else ())
                 if isinstance(f, django_filters.filters.BaseCSVFilter | django_filters.MultipleChoiceFilter)}
        repeated = sorted(name for name in request.query_params
                          if name not in lists and len(request.query_params.getlist(name)) > 1)
        if repeated:  # only one value would be used: refuse rather than silently drop the others
            raise ValidationError({name: ["Give this query parameter once."] for name in repeated})
        return super().filter_queryset(request, queryset, view)


def known_query_params(view: Any, request: Request, queryset: Any) -> set[str]:
    """The query parameter names ``view`` understands (see :class:`StrictFilterBackend`)."""
    known = {"format"}
    for backend_class in getattr(view, "filter_backends", []):
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known |= set(filterset_class.base_filters)
        for attribute in ("search_param", "ordering_param"):
            if hasattr(backend, attribute):
                known.add(getattr(backend, attribute))
    paginator = getattr(view, "paginator", None)
    for attribute in ("limit_query_param", "offset_query_param", "page_query_param", "page_size_query_param",
                      "cursor_query_param"):
        if getattr(paginator, attribute, None):
            known.add(getattr(paginator, attribute))
    return known


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.TypedChoiceFilter):
    """A boolean query parameter: ``true`` or ``false`` (what generated clients send for a boolean); any other
    value answers 400 (django-filter's own BooleanFilter silently ignores values it does not know)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)
