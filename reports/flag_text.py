"""A flag's reason in the reader's language (issue 15, item 4).

``Flag.message`` is stored in English when the run is computed (``reports.benchmark.flag_message``) and stays so:
it is part of what the run recomputes exactly. The report shows it in the active language by rebuilding it from
the run's stored cell (ward x/n, pooled median and mean, number of cohorts, weak, the 95% predictive range, the
attribution basis) with the translated texts of ``reports.benchmark.FLAG_TEXTS``. The rebuilt text is used only if
its English version is exactly the stored message; otherwise (a run of an older method, a cell that does not
reproduce it) the stored English message is shown. The category's name is translated too (``reports.category_names``;
a name that is a CTCAE term stays as named). The rebuilt text
writes its decimal numbers in the language's convention ("τ² 0,0336" in Polish; :func:`core.numbers.reader_numbers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from core.numbers import reader_numbers
from reports.benchmark import flag_message
from reports.category_names import translated_name
from reports.signal_flags import cusum_message, network_message


def _message(cell: Mapping[str, Any], level: str, translate: Any) -> str | None:
    pooled, ward, limits = cell.get("pooled"), cell.get("ward") or {}, cell.get("predictive_range")
    if not pooled or not limits or ward.get("x") is None or not ward.get("n"):
        return None
    try:
        return flag_message(
            name=translated_name(cell["category_name"], translate), band=cell["grade_band"],
            scope=cell["cycle_scope"], x=ward["x"], n=ward["n"],
            level=level, limits=limits, median=pooled["median"], mean=pooled["marginal_mean"], k=pooled["k"],
            weak=bool(pooled.get("weak")), adjusted=pooled.get("method") == "glmm_ml_metareg",
            related=(cell.get("definitions") or {}).get("attribution") == "related", translate=translate)
    except (KeyError, TypeError, ValueError):
        return None


def flag_message_for_reader(stored: str, level: str, cell: Mapping[str, Any] | None) -> str:
    """``stored`` (the flag's English message) in the active language when ``cell`` (the run's
    ``results["cells"]`` entry of the flag) reproduces it exactly; else ``stored`` unchanged."""
    if not cell or _message(cell, level, str) != stored:
        return stored
    shown = _message(cell, level, gettext)
    return stored if shown is None else reader_numbers(shown)


def cusum_message_for_reader(stored: str, chart: Mapping[str, Any] | None) -> str:
    """A CUSUM flag's ``stored`` English message in the active language when ``chart`` (the run's
    ``results["monitoring"]["cusum"]`` entry of the flag's category and grade band) reproduces it exactly; else
    ``stored`` unchanged."""
    try:
        if not chart or cusum_message(chart) != stored:
            return stored
        return reader_numbers(cusum_message(chart, gettext))
    except (KeyError, TypeError, ValueError):
        return stored


def network_message_for_reader(stored: str, comparison: Mapping[str, Any] | None,
                               cell: Mapping[str, Any] | None) -> str:
    """A network flag's ``stored`` English message in the active language when ``comparison`` (the run's
    ``results["network"]`` entry of the flag's cell) and ``cell`` reproduce it exactly; else ``stored`` unchanged."""
    try:
        if not comparison or not cell or network_message(comparison, cell) != stored:
            return stored
        return reader_numbers(network_message(comparison, cell, gettext))
    except (KeyError, TypeError, ValueError):
        return stored


def reason_for_reader(results: Mapping[str, Any] | None) -> Any:
    """A function giving a flag's reason in the active language, for the flags of the run whose ``results`` these
    are: ``reason(flag)`` with a :class:`reports.models.Flag` (its ``kind``, ``message``, ``level``, category slug,
    grade band, cycle scope) → str. Literature flags by :func:`flag_message_for_reader` from the run's cell, CUSUM
    flags from its chart, network flags from its comparison; each the stored English when the rebuild differs."""
    results = results or {}
    cells = {(c["category"], c["grade_band"], c["cycle_scope"]): c for c in results.get("cells", [])}
    charts = {(c.get("category"), c.get("grade_band")): c for c in (results.get("monitoring") or {}).get("cusum", [])}
    comparisons = {(c.get("category"), c.get("grade_band"), c.get("cycle_scope")): c
                   for c in results.get("network") or []}

    def reason(flag: Any) -> str:
        key = (flag.category.slug, flag.grade_band, flag.cycle_scope)
        if flag.kind == "cusum":
            return cusum_message_for_reader(flag.message, charts.get((flag.category.slug, flag.grade_band)))
        if flag.kind == "network":
            return network_message_for_reader(flag.message, comparisons.get(key), cells.get(key))
        return flag_message_for_reader(flag.message, flag.level, cells.get(key))

    return reason
