"""DRF building blocks every API of pvtrack uses: parsing, paging."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination, parsers
from rest_framework.exceptions import ParseError
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
