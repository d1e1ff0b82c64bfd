"""A bedside assessment's ASTCT 2019 rationale in the reader's language (issue 15, item 4).

The rationale is stored in English when the assessment is recorded (``CRSAssessment.astct_rationale``,
``ICANSAssessment.rationale``, built by the pure rules of :mod:`ae.grading`) and stays so. The event history shows
it in the active language by grading the stored criteria again with Django's ``gettext`` as the rules' ``translate``.
The rebuilt text is used only when the English rebuild is exactly the stored rationale; otherwise (an assessment
graded by an older rule, or whose earlier assessments changed since) the stored English is shown. The CRS
assessments' CTCAE v5.0, CTCAE v4.03 and Lee 2014 rationales are rebuilt the same way
(:func:`ae.episodes.crs_other_scales`), each checked on its own.

A lab value's CTCAE v5.0 rationale (``LabResult.rationale``, :func:`ae.services.labs.lab_result_record`) is rebuilt
the same way for the lab tables (:func:`lab_rationales_for_reader`): graded again from the stored value, unit,
LLN/ULN and clinical criteria, with the cycle's baseline and the calcium's albumin taken from the values shown with
it (no query), plus the albumin and site-range sentences the service appends. Shown only when the English rebuild is
exactly the stored rationale, else as stored (e.g. a baseline or albumin that is not among the values shown).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable, Sequence

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from ae import grading
from ae.analyte_labels import ANALYTE_LABELS
from ae.bedside_labels import with_agent_names
from ae.episodes import CRS_DATA_FIELDS, as_float, crs_other_scales, lab_result_text, local_time
from ae.models import CRSAssessment, ICANSAssessment, LabResult, ReferenceRange
from ae.models.reference_ranges import sex_words
from core.numbers import reader_numbers


def _crs(a: CRSAssessment, had_crs_before: bool, translate: Callable[[str], str]) -> str:
    return grading.grade_crs_astct(
        temperature_c=as_float(a.temperature_c), fever_masking_therapies=list(a.fever_masking_therapies or []),
        had_crs_before=had_crs_before, hypotension=a.hypotension, vasopressors=list(a.vasopressors or []),
        oxygen_device=a.oxygen_device or "none", oxygen_flow_l_min=as_float(a.oxygen_flow_l_min),
        other_cause_findings=list(a.other_cause_findings or []), translate=with_agent_names(translate)).rationale


def _icans(a: ICANSAssessment, translate: Callable[[str], str]) -> str:
    return grading.grade_icans(
        tool=a.tool, ice_score=a.score if a.tool == "ICE" else None, capd_score=a.score if a.tool == "CAPD" else None,
        unable_to_perform=a.unable_to_perform, consciousness=a.consciousness or "normal", seizure=a.seizure or "none",
        motor=a.motor or "none", cerebral_edema=a.cerebral_edema or "none",
        other_cause_domains=list(a.other_cause_domains or []), translate=translate).rationale


def _other_scales(a: CRSAssessment, field: str, translate: Callable[[str], str]) -> str:
    data = {name: getattr(a, name) for name in CRS_DATA_FIELDS if hasattr(a, name)}
    return str(crs_other_scales(data, translate=translate)[field])


def _for_reader(stored: str, rebuild: Callable[[Callable[[str], str]], str], *, numbers: bool = True) -> str:
    """``rebuild(gettext)`` (its decimal numbers in the language's convention unless ``numbers`` is False: the
    rebuild converts them itself) when ``rebuild(str)`` is exactly ``stored``, else ``stored``."""
    try:
        if rebuild(str) != stored:
            return stored
        shown = rebuild(gettext)
        return reader_numbers(shown) if numbers else shown
    except (grading.GradingInputError, ValidationError, KeyError, TypeError, ValueError):
        return stored


def crs_rationales_for_reader(assessments: Iterable[CRSAssessment]) -> list[CRSAssessment]:
    """The CRS assessments of one episode, each with ``astct_rationale_shown``: its stored ASTCT rationale in the
    active language when the stored criteria reproduce it exactly (had CRS before: an earlier assessment of the
    episode with a positive grade, as when it was recorded), else the stored English; and likewise
    ``ctcae_rationale_shown``, ``ctcae_v4_rationale_shown`` and ``lee_rationale_shown`` (CTCAE v5.0, v4.03, Lee
    2014), each from its own stored rationale."""
    ordered = list(assessments)
    for a in ordered:
        had_crs_before = any(o.assessed_at < a.assessed_at and o.effective_grade > 0 for o in ordered)
        a.astct_rationale_shown = _for_reader(  # type: ignore[attr-defined]
            a.astct_rationale, functools.partial(_crs, a, had_crs_before))
        for field in ("ctcae_rationale", "ctcae_v4_rationale", "lee_rationale"):
            setattr(a, f"{field}_shown", _for_reader(getattr(a, field), functools.partial(_other_scales, a, field)))
    return ordered


def icans_rationales_for_reader(assessments: Iterable[ICANSAssessment]) -> list[ICANSAssessment]:
    """The ICANS assessments, each with ``rationale_shown``: its stored rationale in the active language when the
    stored domains reproduce it exactly, else the stored English."""
    ordered = list(assessments)
    for a in ordered:
        a.rationale_shown = _for_reader(a.rationale, functools.partial(_icans, a))  # type: ignore[attr-defined]
    return ordered


# ------------------------------------------------------------------------------------------------- lab values

#: The site-range sentence :func:`ae.services.labs._site_range` appends to a stored lab rationale.
_RANGE_NOTE = re.compile(r" LLN/ULN from the site reference range \((?P<source>.*); valid from "
                         r"(?P<date>\d{2} [A-Z][a-z]{2} \d{4}), (?P<sex>[a-z ]+), (?P<from>\d+)-(?P<to>\d+) "
                         r"months\)\.\Z", re.DOTALL)
_CORRECTED = re.compile(r" Corrected with (?P<albumin>.+? of \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2})\.\Z")


def lab_result_text_for_reader(result: LabResult) -> str:
    """:func:`ae.episodes.lab_result_text` in the active language: "Liczba płytek krwi 18 ×10⁹/L z 03 Sie 2025
    08:00" (the analyte's name from :mod:`ae.analyte_labels`, the date in the language's month names)."""
    return gettext("%(analyte)s %(value)s of %(at)s") % {
        "analyte": ANALYTE_LABELS[result.analyte], "value": reader_numbers(result.value_text),
        "at": date_format(local_time(result.collected_at), "d M Y H:i")}


def _sex_for_reader(stored: str) -> str:
    """The stored English words of a range's sex ("both sexes", "female", "male": :func:`sex_words` under
    ``en-gb``) in the active language; other words as stored."""
    with translation.override("en-gb"):
        codes = {sex_words(code): code for code in ReferenceRange.Sex.values}
    return sex_words(codes[stored]) if stored in codes else stored


def _range_note_for_reader(match: re.Match[str]) -> str:
    valid_from = datetime.datetime.strptime(match["date"], "%d %b %Y").date()  # noqa: DTZ007 (a date)
    return " " + gettext("LLN/ULN from the site reference range (%(source)s; valid from %(date)s, %(sex)s, "
                         "%(from)s-%(to)s months).") % {
        "source": match["source"], "date": date_format(valid_from, "d M Y"),
        "sex": _sex_for_reader(match["sex"]),
        "from": match["from"], "to": match["to"]}


def _lab_baseline(result: LabResult, shown: Sequence[LabResult]) -> float | None:
    """The value of the cycle's baseline of ``result``'s analyte among ``shown``, when the analyte is graded against
    it (:data:`ae.grading.BASELINE_ANALYTES`) and ``result`` is not the baseline itself."""
    if result.baseline or result.cycle_id is None or result.analyte not in grading.BASELINE_ANALYTES:
        return None
    found = next((r for r in shown if r.baseline and r.cycle_id == result.cycle_id and r.analyte == result.analyte
                  and r.pk != result.pk), None)
    return None if found is None else float(found.value)


def _lab_albumin(shown: Sequence[LabResult], text: str) -> LabResult | None:
    """The albumin among ``shown`` that the stored " Corrected with …" sentence names (``text``: its value and sample
    time, :func:`ae.episodes.lab_result_text`)."""
    return next((r for r in shown if r.analyte == "albumin" and lab_result_text(r) == text), None)


def lab_rationale_for_reader(result: LabResult, shown: Sequence[LabResult] = ()) -> str:
    """``result``'s stored CTCAE v5.0 rationale in the active language: graded again with ``gettext``
    (:func:`ae.grading.grade_lab`, the baseline and the albumin looked up among ``shown``, the values on the same
    page), with the albumin and site-range sentences translated; the stored English when the English rebuild is not
    exactly it. Pure: no query."""
    stored = result.rationale or ""
    rest, range_en, range_tr = stored, "", ""
    if (found := _RANGE_NOTE.search(rest)) is not None:
        rest, range_en = rest[:found.start()], found.group(0)
        try:
            range_tr = _range_note_for_reader(found)
        except ValueError:
            return stored
    albumin = None
    if (corrected := _CORRECTED.search(rest)) is not None:
        albumin = _lab_albumin(shown, corrected["albumin"])
        if albumin is None:
            return stored
    baseline = _lab_baseline(result, shown)

    def rebuild(translate: Callable[[str], str]) -> str:
        text = grading.grade_lab(
            result.analyte, float(result.value), result.unit, lln=as_float(result.lln), uln=as_float(result.uln),
            baseline=baseline, albumin=None if albumin is None else float(albumin.value),
            albumin_unit=None if albumin is None else albumin.unit, translate=translate,
            **{name: True for name in result.clinical_criteria or ()}).rationale
        if translate is str:
            return text + (f" Corrected with {lab_result_text(albumin)}." if albumin is not None else "") + range_en
        if albumin is not None:
            text += " " + gettext("Corrected with %(albumin)s.") % {"albumin": lab_result_text_for_reader(albumin)}
        return reader_numbers(text) + range_tr  # the site's source text quoted as typed

    return _for_reader(stored, rebuild, numbers=False)


def lab_rationales_for_reader(results: Iterable[LabResult]) -> list[LabResult]:
    """The lab values of a page, each with ``rationale_shown``: :func:`lab_rationale_for_reader` with the page's
    values as the place to find a baseline or an albumin."""
    shown = list(results)
    for r in shown:
        r.rationale_shown = lab_rationale_for_reader(r, shown)  # type: ignore[attr-defined]
    return shown
