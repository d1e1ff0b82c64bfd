"""Template filters for proportions in the benchmark report: numbers, flag levels and the run's stored English texts
in the reader's language (issue 15, item 4; the exports and the text report keep the English of
:mod:`reports.report` and :mod:`reports.cells`)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from core.numbers import reader_numbers
from reports.cells import CYCLE_SCOPES, GRADE_BAND_LABELS, flag_label, flag_short
from reports.computed_text import (
    category_name,
    cell_note,
    cohort_labels,
    cusum_note,
    entry_lag_message,
    exclusion_reason,
    funnel_note,
    moderator_labels,
    monitoring_flag,
    pool_reason,
    population_word,
    scale_word,
    schedule_word,
    sequential_note,
    stratum_label,
    stratum_source,
    unusable_detail,
)
from reports.definitions_text import matched_line
from reports.report import interval, pct

register = template.Library()
register.filter("reader_numbers", reader_numbers)
register.filter("matched_line", matched_line)
register.filter("exclusion_reason", exclusion_reason)
register.filter("category_name", category_name)
register.filter("cohort_labels", cohort_labels)
register.filter("cell_note", cell_note)
register.filter("cusum_note", cusum_note)
register.filter("entry_lag_message", entry_lag_message)
register.filter("funnel_note", funnel_note)
register.filter("moderator_labels", moderator_labels)
register.filter("sequential_note", sequential_note)
register.filter("pool_reason", pool_reason)
register.filter("monitoring_flag", monitoring_flag)
register.filter("unusable_detail", unusable_detail)
register.filter("stratum_label", stratum_label)
register.filter("stratum_source", stratum_source)
register.filter("schedule_word", schedule_word)
register.filter("population_word", population_word)
register.filter("scale_word", scale_word)


@register.filter("pct")
def pct_for_reader(value: float | None) -> str:
    """:func:`reports.report.pct` with the active language's decimal separator ("7,4%" in Polish; "–" if missing)."""
    return reader_numbers(pct(value))


@register.filter("interval")
def interval_for_reader(bounds: list[float] | None) -> str:
    """:func:`reports.report.interval` with the active language's decimal separator ("0,0–12,1%" in Polish)."""
    return reader_numbers(interval(bounds))


@register.filter("significant")
def significant_for_reader(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` significant digits as ``"%.<digits>g"`` writes it (a p-value: "0.0048"), with the
    active language's decimal separator ("0,0048" in Polish); "" if missing."""
    return "" if value is None else reader_numbers(f"{float(value):.{int(digits)}g}")


@register.filter("flag_label")
def flag_label_for_reader(level: str | None, kind: str | None = None) -> str:
    """``reports.cells.flag_label`` in the active language (an unknown code as it is)."""
    label = flag_label(level, kind)
    return gettext(label) if label else label


@register.filter("flag_short")
def flag_short_for_reader(level: str | None) -> str:
    """``reports.cells.flag_short`` in the active language."""
    short = flag_short(level)
    return gettext(short) if short else short


@register.filter("band_label")
def band_label_for_reader(grade_band: str | None) -> str:
    """A grade band's code ("any", "ge3") as words in the active language ("grade ≥3"; an unknown code as it is)."""
    label = GRADE_BAND_LABELS.get(grade_band or "")
    return gettext(label) if label else grade_band or ""


@register.filter("scope_label")
def scope_label_for_reader(cycle_scope: str | None) -> str:
    """A cycle scope's code ("all", "first") as words in the active language ("cycle 1"; an unknown code as it is)."""
    label = CYCLE_SCOPES.get(cycle_scope or "")
    return gettext(label) if label else cycle_scope or ""


@register.filter
def get_item(mapping: dict, key: str):
    """``mapping[key]`` in a template (None if missing)."""
    return mapping.get(key) if mapping else None
