"""A bedside assessment's ASTCT 2019 rationale in the reader's language (issue 15, item 4).

The rationale is stored in English when the assessment is recorded (``CRSAssessment.astct_rationale``,
``ICANSAssessment.rationale``, built by the pure rules of :mod:`ae.grading`) and stays so. The event history shows
it in the active language by grading the stored criteria again with Django's ``gettext`` as the rules' ``translate``.
The rebuilt text is used only when the English rebuild is exactly the stored rationale; otherwise (an assessment
graded by an older rule, or whose earlier assessments changed since) the stored English is shown. CTCAE v5.0,
CTCAE v4.03 and Lee 2014 rationales stay as stored (English).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.utils.translation import gettext

from ae import grading
from ae.episodes import as_float
from ae.models import CRSAssessment, ICANSAssessment


def _crs(a: CRSAssessment, had_crs_before: bool, translate: Callable[[str], str]) -> str:
    return grading.grade_crs_astct(
        temperature_c=as_float(a.temperature_c), fever_masking_therapies=list(a.fever_masking_therapies or []),
        had_crs_before=had_crs_before, hypotension=a.hypotension, vasopressors=list(a.vasopressors or []),
        oxygen_device=a.oxygen_device or "none", oxygen_flow_l_min=as_float(a.oxygen_flow_l_min),
        other_cause_findings=list(a.other_cause_findings or []), translate=translate).rationale


def _icans(a: ICANSAssessment, translate: Callable[[str], str]) -> str:
    return grading.grade_icans(
        tool=a.tool, ice_score=a.score if a.tool == "ICE" else None, capd_score=a.score if a.tool == "CAPD" else None,
        unable_to_perform=a.unable_to_perform, consciousness=a.consciousness or "normal", seizure=a.seizure or "none",
        motor=a.motor or "none", cerebral_edema=a.cerebral_edema or "none",
        other_cause_domains=list(a.other_cause_domains or []), translate=translate).rationale


def _for_reader(stored: str, rebuild: Callable[[Callable[[str], str]], str]) -> str:
    try:
        if rebuild(str) != stored:
            return stored
        return rebuild(gettext)
    except (grading.GradingInputError, KeyError, TypeError, ValueError):
        return stored


def crs_rationales_for_reader(assessments: Iterable[CRSAssessment]) -> list[CRSAssessment]:
    """The CRS assessments of one episode, each with ``astct_rationale_shown``: its stored ASTCT rationale in the
    active language when the stored criteria reproduce it exactly (had CRS before: an earlier assessment of the
    episode with a positive grade, as when it was recorded), else the stored English."""
    ordered = list(assessments)
    for a in ordered:
        had_crs_before = any(o.assessed_at < a.assessed_at and o.effective_grade > 0 for o in ordered)
        a.astct_rationale_shown = _for_reader(  # type: ignore[attr-defined]
            a.astct_rationale, functools.partial(_crs, a, had_crs_before))
    return ordered


def icans_rationales_for_reader(assessments: Iterable[ICANSAssessment]) -> list[ICANSAssessment]:
    """The ICANS assessments, each with ``rationale_shown``: its stored rationale in the active language when the
    stored domains reproduce it exactly, else the stored English."""
    ordered = list(assessments)
    for a in ordered:
        a.rationale_shown = _for_reader(a.rationale, functools.partial(_icans, a))  # type: ignore[attr-defined]
    return ordered
