"""Template filters for proportions in the benchmark report."""

from __future__ import annotations

from django import template

from reports.cells import flag_label, flag_short
from reports.report import interval, pct

register = template.Library()
register.filter("pct", pct)
register.filter("interval", interval)
register.filter("flag_label", flag_label)
register.filter("flag_short", flag_short)


@register.filter
def get_item(mapping: dict, key: str):
    """``mapping[key]`` in a template (None if missing)."""
    return mapping.get(key) if mapping else None
