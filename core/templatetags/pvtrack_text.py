"""Template filters for plain text on any page: a recorded number as a person writes it, in the reader's decimal
convention, and long slash-joined labels that may wrap on a tablet."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from core.decimals import plain_number
from core.numbers import reader_numbers

register = template.Library()


@register.filter("plain_number")
def plain_number_filter(value: Any) -> str:
    """A recorded number without the column's padding zeros (a lab limit 3.5, not 3.5000; blasts 40, not 40.00),
    with the reader's decimal sign ("3,5" in Polish); "" for None or "", so that ``|default`` applies."""
    if value is None or value == "":
        return ""
    return reader_numbers(plain_number(value))


@register.filter
def wrap_slashes(value: Any) -> SafeString:
    """``value`` escaped, with a line-break opportunity after each "/": a CDISC outcome label such as
    "Wyzdrowienie/ustąpiło" (Recovered/resolved) may then wrap in a narrow table column instead of widening it."""
    return mark_safe(str(conditional_escape(value)).replace("/", "/<wbr>"))  # noqa: S308 (escaped above)
