"""Episode rules and grade adapters of the bedside CRS and ICANS assessments (no database access).

Graded lab results feed the episode of their CTCAE term in the same way (:func:`lab_observation`; the rules are
in :mod:`ae.services.labs`).

One CRS (or ICANS) episode is one adverse event. Each bedside assessment is stored with its raw criteria
and computed grades, and the episode's AE is updated in place from all its assessments: grade = the worst
assessment grade (the clinician's where entered, else the computed one), onset = the first assessment's
date, resolution = the first grade-0 assessment after the last positive one (while the latest is 0).

ICANS is not a CTCAE v5.0 term (docs/grading.md). Its episode is recorded as the CTCAE term
"Encephalopathy" (MedDRA 10014625, grades 1–5, one of the benchmark's neurotoxicity terms) with the
verbatim term "ICANS" and grading_scale "astct_2019", so the grade's scale is never mistaken for CTCAE.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from ae import grading, lab_units
from ae.bedside_labels import with_agent_names
from ae.models import AdverseEvent, LabResult
from patients.models import Patient

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Encephalopathy"
ICANS_VERBATIM = "ICANS"
CRS_DATA_FIELDS = ("assessed_at", "temperature_c", "fever_masking_therapies", "hypotension", "vasopressors",
                   "oxygen_device", "oxygen_flow_l_min", "oxygen_fio2_percent", "other_cause_findings", "other_cause",
                   "therapy_or_interruption_indicated", "prolonged_or_recurrent", "hospitalization_indicated",
                   "ventilatory_support", "entered_grade",
                   "grade_discrepancy_reason", "relatedness", "action_taken")
ICANS_DATA_FIELDS = ("assessed_at", "developmental_delay", "tool", "score", "unable_to_perform", "consciousness",
                     "seizure", "motor", "cerebral_edema", "other_cause_domains", "other_cause", "entered_grade",
                     "grade_discrepancy_reason", "relatedness", "action_taken")
#: Highest grade a bedside assessment may carry; a death (grade 5) is recorded on the AE with outcome Fatal.
MAX_ASSESSMENT_GRADE = 4


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def crs_grades(data: dict[str, Any], *, had_crs_before: bool, translate: Callable[[str], str] = str) -> dict[str, Any]:
    """ASTCT 2019, CTCAE v5.0 and Lee 2014 grades of one CRS assessment, as CRSAssessment field values.

    ``data`` holds the CRSAssessment criteria (temperature_c °C, oxygen_flow_l_min L/min, oxygen_fio2_percent %,
    vasopressors as agent names, fever_masking_therapies as names from :data:`ae.grading.FEVER_MASKING_THERAPIES`).
    ``other_cause_findings`` (fever, hypotension, hypoxia attributed to another cause, named in ``other_cause``) are
    set aside from the ASTCT grade only (the ASTCT footnotes; CTCAE and Lee have no such clause).
    ``had_crs_before`` (an earlier assessment of the episode was positive) enables the ASTCT fever-masking rule
    after antipyretic or anticytokine therapy; without it a missing temperature is a ValidationError on
    ``temperature_c`` (the ASTCT grade would be undetermined, and the bedside grade is never left open). CTCAE v5.0
    and Lee 2014 grade hypoxia by FiO2: with oxygen given and no FiO2 they are undetermined (None) unless other
    criteria already set a grade hypoxia could not exceed; Lee 2014 with exactly one vasopressor is undetermined
    (low vs high dose is not recorded); only mechanical ventilation counts as Lee "ventilator support". Organ
    toxicities (Lee) and "life-threatening consequences" (CTCAE grade 4) are not recorded here, so those grades are
    lower bounds and the rationale says so (:func:`crs_other_scales`). Raises ValidationError keyed by field for
    impossible input. The rationales are English (stored); ``translate`` (``gettext``) gives them in the reader's
    language for a message.
    """
    temperature = as_float(data.get("temperature_c"))
    agents = list(data.get("vasopressors") or [])
    device = data.get("oxygen_device") or "none"
    flow = as_float(data.get("oxygen_flow_l_min"))

    def astct_of(t: Callable[[str], str]) -> grading.Grade:
        return grading.grade_crs_astct(
            temperature_c=temperature, fever_masking_therapies=list(data.get("fever_masking_therapies") or []),
            had_crs_before=had_crs_before, hypotension=bool(data.get("hypotension")), vasopressors=agents,
            oxygen_device=device, oxygen_flow_l_min=flow,
            other_cause_findings=list(data.get("other_cause_findings") or []), translate=t)

    try:
        astct = astct_of(with_agent_names(translate))
        others = crs_other_scales(data, translate=translate)
    except grading.GradingInputError as exc:
        raise ValidationError({exc.field: exc.text(gettext)}) from exc  # the reader's language
    if data.get("other_cause_findings") and not (data.get("other_cause") or "").strip():
        raise ValidationError({"other_cause": gettext("Name the other cause (e.g. septic shock) of the findings set "
                                                      "aside from the ASTCT CRS grade.")})
    if astct.grade is None:  # only a missing temperature leaves it open (ASTCT needs fever unless masked)
        raise ValidationError({"temperature_c": gettext(
            "Record the temperature: without it the ASTCT 2019 grade is undetermined. %(rationale)s") % {
            "rationale": astct_of(with_agent_names(gettext)).rationale}})
    return {"astct_grade": astct.grade, "astct_rationale": astct.rationale} | others


def crs_other_scales(data: dict[str, Any], *, translate: Callable[[str], str] = str) -> dict[str, Any]:
    """CTCAE v5.0, CTCAE v4.03 and Lee 2014 grades of one CRS assessment and their rationales, as CRSAssessment field
    values (``ctcae_grade``, ``ctcae_rationale``, ``ctcae_v4_grade``, ``ctcae_v4_rationale``, ``lee_grade``,
    ``lee_rationale``), from the criteria ``data`` of :func:`crs_grades` (which documents the rules). The rationales
    are English (stored); ``translate`` (``gettext``) gives them in the reader's language (the event history,
    :mod:`ae.rationale_text`; the vasopressors named as the bedside form names them). Raises GradingInputError for
    impossible input."""
    t = with_agent_names(translate)
    temperature = as_float(data.get("temperature_c"))
    agents = list(data.get("vasopressors") or [])
    device = data.get("oxygen_device") or "none"
    fio2 = as_float(data.get("oxygen_fio2_percent"))
    ctcae = grading.grade_crs_ctcae_v5(temperature_c=temperature, hypotension=bool(data.get("hypotension")),
                                       vasopressors=agents, oxygen_fio2_percent=fio2, translate=t)
    lee = grading.grade_crs_lee2014(temperature_c=temperature, hypotension=bool(data.get("hypotension")),
                                    vasopressors=agents, oxygen_fio2_percent=fio2,
                                    ventilator_support=device == "mechanical_ventilation", translate=t)
    oxygen_unknown_fio2 = device != "none" and fio2 is None
    ctcae_grade, ctcae_why = ctcae.grade, ctcae.rationale + " " + t(_NOT_ASSESSED_G4)
    if oxygen_unknown_fio2 and ctcae.grade is not None and ctcae.grade < 3:
        ctcae_grade, ctcae_why = None, t(gettext_noop(
            "Undetermined: oxygen given but FiO2 not recorded (CTCAE v5.0 grades hypoxia by < 40%% vs >= 40%% O2); "
            "without hypoxia: %(rationale)s")) % {"rationale": ctcae.rationale}
    lee_grade, lee_why = lee.grade, lee.rationale + " " + t(gettext_noop(
        "Organ toxicities not recorded in this assessment."))
    counted = set(agents)
    lee_below_3 = lee.grade is not None and lee.grade < 3  # CRS graders always return a grade
    if lee_below_3 and len(counted) == 1:
        lee_grade, lee_why = None, t(gettext_noop(
            "Undetermined: one vasopressor, dose not recorded (Lee 2014: low dose = grade 2, high dose = grade 3); "
            "%(rationale)s")) % {"rationale": lee.rationale}
    elif lee_below_3 and oxygen_unknown_fio2:
        lee_grade, lee_why = None, t(gettext_noop(
            "Undetermined: oxygen given but FiO2 not recorded (Lee 2014: < 40%% = grade 2, >= 40%% = grade 3); "
            "without hypoxia: %(rationale)s")) % {"rationale": lee.rationale}
    v4_grade, v4_why = _crs_ctcae_v4(data, temperature=temperature, agents=agents, device=device, translate=t)
    return {"ctcae_grade": ctcae_grade, "ctcae_rationale": ctcae_why, "lee_grade": lee_grade, "lee_rationale": lee_why,
            "ctcae_v4_grade": v4_grade, "ctcae_v4_rationale": v4_why}


#: CTCAE grade 4's "life-threatening consequences" is not asked at the bedside: a lower grade is a lower bound.
_NOT_ASSESSED_G4 = gettext_noop("Life-threatening consequences (grade 4) not assessed.")

#: The CTCAE v4.03 CRS clinical-course inputs of a bedside assessment and how the rationale names them.
CRS_V4_COURSE = {"therapy_or_interruption_indicated": gettext_noop("therapy or infusion interruption indicated "
                                                                   "(grade 2)"),
                 "prolonged_or_recurrent": gettext_noop("prolonged or recurrent (grade 3)"),
                 "hospitalization_indicated": gettext_noop("hospitalization indicated for clinical sequelae (grade 3)"),
                 "ventilatory_support": gettext_noop("ventilatory support indicated (grade 4)")}


def _crs_ctcae_v4(data: dict[str, Any], *, temperature: float | None, agents: list[str],
                  device: str, translate: Callable[[str], str] = str) -> tuple[int | None, str]:
    """CTCAE v4.03 CRS grade of a bedside assessment (:func:`ae.grading.grade_crs_ctcae_v4`) and its rationale.

    A "mild reaction" (grade 1) is any CRS finding recorded: fever >= 38.0 °C, hypotension, a vasopressor or oxygen.
    Hypotension without a pressor is grade 2 (treated with IV fluids), any pressor grade 4. The course inputs are
    True, False or None (not recorded); mechanical ventilation is ventilatory support whatever the box says. The grade
    is computed with every unrecorded input absent and again with every one present: when the two differ the grade
    is undetermined (None) and the rationale gives both and names what to record. Life-threatening consequences
    (grade 4) are not assessed at the bedside: a grade below 4 is a lower bound, as for CTCAE v5.0. The rationale is
    English; ``translate`` gives it in the reader's language.
    """
    t = translate
    hypotension = bool(data.get("hypotension"))
    symptoms = bool((temperature is not None and temperature >= grading.FEVER_C) or hypotension or agents
                    or device != "none")
    course: dict[str, bool | None] = {name: data.get(name) for name in CRS_V4_COURSE}
    if device == "mechanical_ventilation":
        course["ventilatory_support"] = True
    missing = [name for name, value in course.items() if value is None]

    def grade(assume: bool) -> grading.Grade:
        flags = {name: (assume if value is None else bool(value)) for name, value in course.items()}
        return grading.grade_crs_ctcae_v4(symptoms=symptoms, hypotension=hypotension, vasopressors=agents,
                                          translate=t, **flags)

    low, high = grade(False), grade(True)
    bound = " " + t(_NOT_ASSESSED_G4) if (low.grade or 0) < 4 else ""
    if low.grade == high.grade:
        return low.grade, low.rationale + bound
    named = "; ".join(t(CRS_V4_COURSE[name]) for name in missing)
    return None, t(gettext_noop("Undetermined: grade %(low)s if none of these was indicated, up to grade %(high)s if "
                                "it was; not recorded: %(named)s. Without them: %(rationale)s")) % {
        "low": low.grade, "high": high.grade, "named": named, "rationale": low.rationale}


def age_in_years(birth_month: datetime.date, on: datetime.date) -> float:
    """Age in years on ``on`` from a birth month (first day of the month), to the month.

    The birthday month counts as reached (born March 2014: 12.0 years from 1 March 2026).
    """
    months = (on.year - birth_month.year) * 12 + (on.month - birth_month.month)
    return months / 12


def icans_grade_fields(data: dict[str, Any], *, patient: Patient,
                       translate: Callable[[str], str] = str) -> dict[str, Any]:
    """ASTCT 2019 ICANS grade of one assessment, as ICANSAssessment field values (tool defaulted from age).

    ``data``: tool ("ICE"/"CAPD", or empty for the default from the patient's age at ``assessed_at`` and
    ``developmental_delay``), score (ICE 0–10 or CAPD total 0–32) or unable_to_perform, and the domains of
    :func:`ae.grading.grade_icans`, other_cause_domains (excluded from the grade) with other_cause (the cause, required
    with them). Raises ValidationError keyed by field (``score`` for the score). The rationale is English (stored);
    ``translate`` (``gettext``) gives it in the reader's language for a message.
    """
    on = timezone.localtime(data["assessed_at"]).date()
    tool = data.get("tool") or grading.default_icans_tool(age_in_years(patient.birth_month, on),
                                                          bool(data.get("developmental_delay")))
    score = data.get("score")
    try:
        result = grading.grade_icans(
            tool=tool, ice_score=score if tool == "ICE" else None, capd_score=score if tool == "CAPD" else None,
            unable_to_perform=bool(data.get("unable_to_perform")),
            consciousness=data.get("consciousness") or "normal", seizure=data.get("seizure") or "none",
            motor=data.get("motor") or "none", cerebral_edema=data.get("cerebral_edema") or "none",
            other_cause_domains=list(data.get("other_cause_domains") or []), translate=translate)
    except grading.GradingInputError as exc:
        field = "score" if exc.field in ("ice_score", "capd_score") else exc.field
        raise ValidationError({field: exc.text(gettext)}) from exc
    if data.get("other_cause_domains") and not (data.get("other_cause") or "").strip():
        raise ValidationError({"other_cause": gettext("Name the other cause (e.g. sedation with midazolam) of the "
                                                      "findings excluded from the ICANS grade.")})
    return {"tool": tool, "grade": result.grade, "rationale": result.rationale}


def local_time(at: datetime.datetime) -> datetime.datetime:
    """``at`` in the site time zone (settings.TIME_ZONE)."""
    return timezone.localtime(at)


@dataclass(frozen=True)
class Observation:
    """One graded observation of an episode: a bedside assessment or a graded lab result.

    ``at``: aware datetime (assessed / collected); ``effective_grade``: the grade that counts (the clinician's
    where entered, else the computed one; 0 = no longer present); ``computed_grade``: the published rule's grade;
    ``rationale``: the criterion that set the computed grade; ``discrepancy_reason``: why the clinician's grade
    differs ("" when it does not); ``label``: what it is ("CRS assessment", "platelet count").
    """

    at: datetime.datetime
    effective_grade: int
    computed_grade: int
    rationale: str
    discrepancy_reason: str = ""
    label: str = "observation"


def episode_fields(scale_label: str, observations: Sequence[Observation], *, entered_grade: int | None = None,
                   entered_onset: datetime.date | None = None,
                   entered_resolution: datetime.date | None = None) -> dict[str, Any]:
    """The episode AE's grade and date fields from all its observations (any order, at least one) and, for an
    episode first entered by hand, the grade, onset and resolution date entered then (a floor: a later observation
    never lowers what a clinician recorded, and an observation on or before the recorded resolution date — a late
    entry of the event's own course — does not reopen it).

    Returns grade (worst of the entered grade and the observations' effective grades), computed_grade (worst
    computed grade), computed_rationale ("Worst <scale_label> grade of N observation(s), <when>: <why>"),
    grade_discrepancy_reason (when grade and computed_grade differ: the observations' reasons and, if it is the
    entered grade that sets the episode's grade, that fact; else ""), onset_date (the entered onset or the local
    date of the first positive observation, whichever is earlier) and resolution_date (the entered resolution date
    when no positive observation is after it; else the local date of the first grade-0 observation after the last
    positive one, when the latest observation is grade 0; else None). Raises ValueError if there is no observation.
    """
    if not observations:
        raise ValueError("an episode needs at least one observation")
    ordered = sorted(observations, key=lambda o: o.at)
    observed = max(o.effective_grade for o in ordered)
    grade = max(observed, entered_grade or 0)
    top = max(o.computed_grade for o in ordered)
    setter = next(o for o in ordered if o.computed_grade == top)
    positive = [i for i, o in enumerate(ordered) if o.effective_grade > 0]
    resolution = None
    if entered_resolution is not None and all(local_time(ordered[i].at).date() <= entered_resolution
                                              for i in positive):
        resolution = entered_resolution  # the course recorded by hand still holds
    elif positive and ordered[-1].effective_grade == 0:
        resolution = local_time(ordered[positive[-1] + 1].at).date()
    reasons = [f"{local_time(o.at):%d %b %Y %H:%M}: {o.discrepancy_reason}" for o in ordered
               if o.effective_grade != o.computed_grade and o.discrepancy_reason]
    if entered_grade is not None and entered_grade > observed and entered_grade != top:
        reasons.insert(0, f"grade {entered_grade} was entered by hand on the adverse event before these "
                          f"{len(ordered)} observation(s)")
    first = local_time(ordered[positive[0]].at).date() if positive else local_time(ordered[0].at).date()
    onset = min(first, entered_onset) if entered_onset is not None else first
    return {
        "grade": grade, "computed_grade": top,
        "computed_rationale": (f"Worst {scale_label} grade of {len(ordered)} {setter.label}(s), "
                               f"{local_time(setter.at):%d %b %Y %H:%M}: {setter.rationale}"),
        "grade_discrepancy_reason": "; ".join(reasons) if grade != top else "",
        "onset_date": onset, "resolution_date": resolution,
    }


def grade_floor(episode: AdverseEvent) -> int | None:
    """The grade a clinician recorded on ``episode`` (an AdverseEvent), which its observations never lower: its
    ``entered_grade``; for an episode entered by hand without one (saved before pvtrack kept it, or loaded in bulk)
    its grade — the grade it was recorded with; else None (an episode started by observations)."""
    if episode.entered_grade is not None:
        return episode.entered_grade
    return episode.grade if episode.origin == AdverseEvent.Origin.ENTERED else None


def resolution_entered_by_hand(episode: AdverseEvent, scale_label: str,
                               earlier: Sequence[Observation] | None) -> datetime.date | None:
    """The episode's resolution date if a person recorded it — the episode was entered by hand, or its ``earlier``
    observations (those it had before the one being added) do not give that date, so it was set on the AE form —
    else None. ``earlier`` None: not known (nothing is being added), only an episode entered by hand counts. Pass
    it as ``entered_resolution`` to :func:`episode_fields`, so that a late observation before it keeps it."""
    if episode.resolution_date is None:
        return None
    if episode.origin == AdverseEvent.Origin.ENTERED:
        return episode.resolution_date
    if earlier is None:
        return None
    given = episode_fields(scale_label, earlier)["resolution_date"] if earlier else None
    return episode.resolution_date if given != episode.resolution_date else None


def episode_outcome(current: str | None, resolved: bool) -> str:
    """The episode AE's outcome (CDISC OUT) after an observation, agreeing with its resolution date (an ended outcome
    has one, an ongoing one none: ``ae_ended_outcome_has_resolution_date``): Fatal stays; resolved → recovered
    (with sequelae if that was recorded); otherwise not recovered (or the recovering/unknown outcome already
    recorded) — an episode reopened by a later observation is no longer "recovered", with or without sequelae."""
    out = AdverseEvent.Outcome
    if current == out.FATAL:
        return current
    if resolved:
        return out.SEQUELAE if current == out.SEQUELAE else out.RECOVERED
    if current is None or current in (out.RECOVERED, out.SEQUELAE):
        return out.NOT_RECOVERED
    return current


#: The scale lab episodes are graded by (the computed rationale says "Worst CTCAE v5.0 grade of …").
LAB_SCALE = "CTCAE v5.0"


def lab_effective_grade(result: LabResult, *, pre_existing: bool) -> int:
    """The grade one lab value gives its episode: its CTCAE grade if it is treatment-emergent (ADaM TRTEMFL for
    labs: worse than the cycle's baseline grade), else 0 — a value back to the baseline grade counts as "no longer
    present" and so resolves the episode. In an episode *present before the cycle* (the abnormality was there at
    baseline) every value counts with its grade: the episode follows the abnormality itself and is
    treatment-emergent only if it worsens beyond its grade at the cycle start. An undetermined grade gives 0."""
    if result.grade is None:
        return 0
    return result.grade if pre_existing or result.treatment_emergent else 0


def lab_observation(result: LabResult, *, pre_existing: bool, baseline_grade: int | None = None) -> Observation:
    """One lab result as an observation of its episode.

    Effective grade: :func:`lab_effective_grade` (from the value's effective grade, the clinician's where entered).
    Computed grade: the same unless a clinician overrode a computed grade; then the rule's grade, counted as the
    effective one is (in an episode present before the cycle with its grade, else only when worse than the cycle's
    ``baseline_grade``, None = no baseline), with the clinician's reason beside it.
    """
    effective = lab_effective_grade(result, pre_existing=pre_existing)
    computed = effective
    if result.entered_grade is not None and result.computed_grade is not None:
        counts = pre_existing or result.baseline or result.computed_grade > (baseline_grade or 0)
        computed = result.computed_grade if counts else 0
    why = result.rationale
    if result.baseline:
        why = f"baseline at the cycle start: {why}"
    elif effective == 0 and result.grade:
        why += " Not worse than the baseline grade: not treatment-emergent."
    return Observation(at=result.collected_at, effective_grade=effective, computed_grade=computed, rationale=why,
                       discrepancy_reason=result.grade_discrepancy_reason if computed != effective else "",
                       label=f"{lab_units.ANALYTES[result.analyte].label} value")


def lab_result_text(result: LabResult) -> str:
    """A lab value in a sentence: "Platelet count 18 ×10⁹/L of 03 Aug 2025 08:00"."""
    return (f"{lab_units.ANALYTES[result.analyte].label} {result.value_text} of "
            f"{local_time(result.collected_at):%d %b %Y %H:%M}")

