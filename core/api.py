"""DRF building blocks every API of pvtrack uses: parsing, paging, token authentication, strict query parameters."""

from __future__ import annotations

from typing import Any

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from knox import auth as knox_auth
from rest_framework import pagination, parsers
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, ParseError, ValidationError
from rest_framework.request import Request


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
    ``ordering``), the paginator's ``limit``/``offset`` and DRF's ``format``. A parameter given twice answers 400 too,
unless it takes a list (``ordering``): only one of the values would be used."""

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
    for attribute in ("limit_query_param", "offset_query_param", "page_query_param", "page_size_query_param"):
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
