"""The grade the AE form proposes for a CTCAE term a lab analyte grades, from the patient's values of that analyte
(issue 10; window and choice in docs/grading.md, "Lab terms on the AE form").

Pure functions over :class:`ae.models.LabResult` objects the caller read (:func:`ae.selectors.lab_values_for_term`,
:func:`ae.selectors.graded_lab_values_of`); no queries here.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from ae import grading, lab_units
from ae.episodes import lab_result_text, local_time
from ae.models import LabResult

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


def _range_text(result: LabResult) -> str:
    limits = [f"{name} {lab_units.number(limit)} {result.unit_label}"
              for name, limit in (("LLN", result.lln), ("ULN", result.uln)) if limit is not None]
    return ", ".join(limits) if limits else "no LLN/ULN"


def lab_grade_proposal(term: str, results: Sequence[LabResult], *, start: datetime.date,
                       end: datetime.date) -> tuple[int, str] | None:
    """The grade the AE form proposes for a CTCAE ``term`` from the patient's lab ``results`` of its analyte collected
    from ``start`` (the onset day) to ``end`` (the resolution day, or today while ongoing): the worst computed grade
    among them (the earliest value of that grade), as (grade 0-4, rationale naming the value, its unit, sample time,
    range and the criterion). CTCAE grades an adverse event at its worst, so the worst value of the event's days
    sets it. None when no result has a computed grade (no proposal: the grade stays the clinician's)."""
    graded = [(r.computed_grade, r) for r in results if r.computed_grade is not None]
    if not graded:
        return None
    grade = max(g for g, _ in graded)
    worst = min((r for g, r in graded if g == grade), key=lambda r: (r.collected_at, r.pk or 0))
    label = lab_units.ANALYTES[worst.analyte].label
    return grade, (f"CTCAE v5.0 {term} from the patient's lab values: worst of {len(graded)} {label} value(s) from "
                   f"{start:%d %b %Y} to {end:%d %b %Y}: {lab_result_text(worst)} ({_range_text(worst)}): "
                   f"{worst.rationale}")


def lab_proposal_entries(results: Sequence[LabResult]) -> list[dict[str, Any]]:
    """The AE form's live proposal data (``static/ae_form.js``): per graded value ``{"terms": [CTCAE terms it grades:
    its own, or every term of its analyte when grade 0], "verbatim": the verbatim term an "Other, specify" term needs
    or "", "day": local date "YYYY-MM-DD", "grade": computed grade, "label": analyte label, "text": value, unit,
    sample time, range and criterion}``. The script applies :func:`lab_grade_proposal`'s window and worst grade."""
    entries = []
    for r in results:
        if r.computed_grade is None:
            continue
        terms = grading.LAB_TERMS_BY_ANALYTE[r.analyte] if r.computed_grade == 0 else (r.ctcae_term,)
        for term in terms:
            entries.append({"term": term, "verbatim": grading.LAB_VERBATIM.get((r.analyte, term), ""),
                            "day": local_time(r.collected_at).date().isoformat(), "grade": r.computed_grade,
                            "label": lab_units.ANALYTES[r.analyte].label,
                            "text": f"{lab_result_text(r)} ({_range_text(r)}): {r.rationale}"})
    return entries
