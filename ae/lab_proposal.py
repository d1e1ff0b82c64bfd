"""The grade the AE form proposes for a CTCAE term a lab analyte grades, from the patient's values of that analyte
(issue 10; window and choice in docs/grading.md, "Lab terms on the AE form").

Pure functions over :class:`ae.models.LabResult` objects the caller read (:func:`ae.selectors.lab_values_for_term`,
:func:`ae.selectors.graded_lab_values_of`); no queries here. The rationale saved on the event
(``computed_rationale``) is English; what the reader sees (the AE form's refusal and notice, the script's live
proposal) is built in the active language: analyte names from :mod:`ae.analyte_labels`, dates with the language's
month names, each value's CTCAE rationale by :func:`ae.rationale_text.lab_rationale_for_reader` (as stored when its
English rebuild is not exactly the stored text).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext

from ae import grading, lab_units
from ae.analyte_labels import ANALYTE_LABELS
from ae.episodes import lab_result_text, local_time
from ae.models import LabResult
from ae.rationale_text import lab_rationale_for_reader, lab_result_text_for_reader
from core.numbers import reader_numbers

#: The analytes whose values grade each CTCAE term ("Hypokalemia" → potassium; "Hypocalcemia" → total and ionized
#: calcium): the terms the AE form proposes a grade for from the patient's lab values.
LAB_ANALYTES_BY_TERM: dict[str, tuple[str, ...]] = {
    term: tuple(a for a, terms in grading.LAB_TERMS_BY_ANALYTE.items() if term in terms)
    for terms in grading.LAB_TERMS_BY_ANALYTE.values() for term in terms}


def lab_term_analytes(term: str, verbatim_term: str = "") -> tuple[str, ...]:
    """The analytes whose values grade ``term`` on the AE form; an "Other, specify" term (a low IgG reported as
    "Immune system disorders - Other, specify") only with the verbatim term the lab value reports under it
    (:data:`ae.grading.LAB_VERBATIM`, "Hypogammaglobulinemia"): the term holds many other events."""
    analytes = LAB_ANALYTES_BY_TERM.get(term, ())
    return tuple(a for a in analytes if (a, term) not in grading.LAB_VERBATIM
                 or grading.LAB_VERBATIM[(a, term)].casefold() == " ".join(verbatim_term.split()).casefold())


def _range_text(result: LabResult, *, for_reader: bool = False) -> str:
    limits = [f"{name} {lab_units.number(limit)} {result.unit_label}"
              for name, limit in (("LLN", result.lln), ("ULN", result.uln)) if limit is not None]
    return ", ".join(limits) if limits else gettext("no LLN/ULN") if for_reader else "no LLN/ULN"


def _value_text(result: LabResult, shown: Sequence[LabResult], *, for_reader: bool) -> str:
    """"Platelet count 60 ×10⁹/L of 08 Jan 2026 07:00 (LLN 150 ×10⁹/L): Grade 2: …", in English or (``for_reader``)
    in the active language, the value's rationale rebuilt with the values ``shown`` with it."""
    if not for_reader:
        return f"{lab_result_text(result)} ({_range_text(result)}): {result.rationale}"
    value = reader_numbers(f"{lab_result_text_for_reader(result)} ({_range_text(result, for_reader=True)})")
    return f"{value}: {lab_rationale_for_reader(result, shown)}"  # a rationale shown as stored keeps its English


def lab_grade_proposal(term: str, results: Sequence[LabResult], *, start: datetime.date,
                       end: datetime.date, for_reader: bool = False) -> tuple[int, str] | None:
    """The grade the AE form proposes for a CTCAE ``term`` from the patient's lab ``results`` of its analyte collected
    from ``start`` (the onset day) to ``end`` (the resolution day, or today while ongoing): the worst computed grade
    among them (the earliest value of that grade), as (grade 0-4, rationale naming the value, its unit, sample time,
    range and the criterion). CTCAE grades an adverse event at its worst, so the worst value of the event's days
    sets it. None when no result has a computed grade (no proposal: the grade stays the clinician's). The rationale
    is English (saved on the event); with ``for_reader`` it is in the active language (for a message)."""
    graded = [(r.computed_grade, r) for r in results if r.computed_grade is not None]
    if not graded:
        return None
    grade = max(g for g, _ in graded)
    worst = min((r for g, r in graded if g == grade), key=lambda r: (r.collected_at, r.pk or 0))
    value = _value_text(worst, results, for_reader=for_reader)
    if for_reader:
        return grade, gettext("CTCAE v5.0 %(term)s from the patient's lab values: worst of %(count)s %(analyte)s "
                              "value(s) from %(start)s to %(end)s: %(value)s") % {
            "term": term, "count": len(graded), "analyte": ANALYTE_LABELS[worst.analyte],
            "start": date_format(start, "d M Y"), "end": date_format(end, "d M Y"), "value": value}
    label = lab_units.ANALYTES[worst.analyte].label
    return grade, (f"CTCAE v5.0 {term} from the patient's lab values: worst of {len(graded)} {label} value(s) from "
                   f"{start:%d %b %Y} to {end:%d %b %Y}: {value}")


def lab_proposal_entries(results: Sequence[LabResult]) -> list[dict[str, Any]]:
    """The AE form's live proposal data (``static/ae_form.js``): per graded value ``{"terms": [CTCAE terms it grades:
    its own, or every term of its analyte when grade 0], "verbatim": the verbatim term an "Other, specify" term needs
    or "", "day": local date "YYYY-MM-DD", "grade": computed grade, "label": analyte name, "text": value, unit,
    sample time, range and criterion}``, the name and text in the active language (the page's reader; the rationale
    as stored when its English rebuild differs). The script applies :func:`lab_grade_proposal`'s window and worst
    grade."""
    entries = []
    for r in results:
        if r.computed_grade is None:
            continue
        terms = grading.LAB_TERMS_BY_ANALYTE[r.analyte] if r.computed_grade == 0 else (r.ctcae_term,)
        for term in terms:
            entries.append({"term": term, "verbatim": grading.LAB_VERBATIM.get((r.analyte, term), ""),
                            "day": local_time(r.collected_at).date().isoformat(), "grade": r.computed_grade,
                            "label": str(ANALYTE_LABELS[r.analyte]),
                            "text": _value_text(r, results, for_reader=True)})
    return entries
