"""Writing adverse events and the CTCAE catalogue. Every AE change requests a benchmark run."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ae import grading
from ae.models import (
    AdverseEvent,
    AdverseEventRevision,
    CRSAssessment,
    CTCAEGrade,
    CTCAETerm,
    ICANSAssessment,
    LabResult,
)
from patients.access import RECORDERS, REVIEWERS, require_role
from patients.models import Patient, Site, TreatmentCycle
from pvtrack.audit import audit_context
from reports.services import benchmark_request

CTCAE_CSV = Path(settings.BASE_DIR) / "fixtures" / "ctcae" / "ctcae_v5_terms.csv"

#: Fields a user may set on an adverse event (everything else is bookkeeping).
EDITABLE_FIELDS = (
    "cycle", "term", "grade", "verbatim_term", "grading_scale", "onset_date", "resolution_date",
    "present_before_cycle", "serious", *AdverseEvent.SAE_FIELDS, "relatedness", "action_taken", "outcome",
    "grade_discrepancy_reason",
)


class StaleEditError(Exception):
    """The event was changed by someone else after the editor loaded it; nothing was saved."""

    def __init__(self, current: AdverseEvent) -> None:
        self.current = current
        super().__init__(f"adverse event {current.pk} is now at version {current.version}")


@transaction.atomic
def ctcae_catalogue_load(path: Path = CTCAE_CSV) -> int:
    """Create or update every CTCAE v5.0 term and its allowed grades from the fixture CSV.

    Returns the number of terms (837 for the NCI workbook). Idempotent. Raises ValueError if a row
    has no grade at all or a duplicate MedDRA code; source: fixtures/ctcae/README.md.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = [int(r["meddra_code"]) for r in rows]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate MedDRA codes in the CTCAE catalogue")
    existing = {t.meddra_code: t for t in CTCAETerm.objects.all()}
    grades: dict[int, dict[int, str]] = {}
    for row in rows:
        code = int(row["meddra_code"])
        grades[code] = {g: row[f"grade_{g}"].strip() for g in range(1, 6) if row[f"grade_{g}"].strip()}
        if not grades[code]:
            raise ValueError(f"{row['ctcae_term']}: no grade defined")
        if sorted(grades[code]) != [int(g) for g in row["allowed_grades"].split("|")]:
            raise ValueError(f"{row['ctcae_term']}: allowed_grades disagrees with the grade texts")
    # Write only what differs (a reload of an unchanged catalogue is a handful of queries).
    new_terms, changed_terms = [], []
    for row in rows:
        code, fields = int(row["meddra_code"]), _term_fields(row)
        term = existing.get(code)
        if term is None:
            new_terms.append(CTCAETerm(meddra_code=code, **fields))
        elif any(getattr(term, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(term, k, v)
            changed_terms.append(term)
    CTCAETerm.objects.bulk_update(changed_terms, list(_term_fields(rows[0])))
    for term in CTCAETerm.objects.bulk_create(new_terms):
        existing[term.meddra_code] = term
    stored = {(g.term_id, g.grade): g for g in CTCAEGrade.objects.all()}
    wanted = {(existing[code].pk, grade): text for code, by_grade in grades.items() for grade, text in by_grade.items()}
    CTCAEGrade.objects.bulk_create(CTCAEGrade(term_id=t, grade=g, description=text)
                                   for (t, g), text in wanted.items() if (t, g) not in stored)
    changed = [g for key, g in stored.items() if key in wanted and g.description != wanted[key]]
    for g in changed:
        g.description = wanted[(g.term_id, g.grade)]
    CTCAEGrade.objects.bulk_update(changed, ["description"])
    # A grade removed from the catalogue is deleted only if no event uses it (the composite FK refuses).
    removed = [g.pk for key, g in stored.items() if key not in wanted]
    CTCAEGrade.objects.filter(pk__in=removed).delete()
    return len(rows)


def _term_fields(row: dict[str, str]) -> dict[str, str]:
    return {"term": row["ctcae_term"], "soc": row["meddra_soc"], "definition": row["definition"],
            "navigational_note": row["navigational_note"]}


@transaction.atomic
def adverse_event_create(*, acting_user: AbstractBaseUser, **data: Any) -> AdverseEvent:
    """Validate and save a new adverse event, then request a benchmark run of its site.

    ``data`` holds the model's editable fields plus ``patient``. Raises ValidationError (nothing saved)
    when a rule of ``AdverseEvent.clean`` fails, PermissionDenied if the user may not record on the site.
    """
    require_role(acting_user, data["patient"].site, RECORDERS)
    event = AdverseEvent(created_by=acting_user, **data)
    event.full_clean()
    event.save()
    benchmark_request(site=event.patient.site, trigger="ae_change")
    return event


@transaction.atomic
def adverse_event_update(*, event: AdverseEvent, acting_user: AbstractBaseUser, reason: str,
                         expected_version: int, **data: Any) -> AdverseEvent:
    """Apply an edit with its reason; record old → new of each changed field in an AdverseEventRevision.

    Raises ValidationError if the reason is blank or a rule fails, StaleEditError if the event changed
    since the editor loaded ``expected_version`` (nothing is saved in either case). An edit that
    changes nothing saves nothing and needs no reason.
    """
    require_role(acting_user, event.patient.site, RECORDERS)
    # Lock the row: two nurses saving at once must not both pass the version check.
    current = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if current.version != expected_version:
        raise StaleEditError(current)
    changes = {}
    for field, new in data.items():
        if field not in EDITABLE_FIELDS:
            raise ValueError(f"{field} cannot be edited")
        old = getattr(current, field)
        if old != new:
            changes[field] = [_plain(old), _plain(new)]
            setattr(current, field, new)
    if not changes:
        return current
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the change (it is kept with the record)."})
    _save_revision(current, changes=changes, reason=reason.strip(), acting_user=acting_user)
    return current


def _save_revision(current: AdverseEvent, *, changes: dict[str, list], reason: str,
                   acting_user: AbstractBaseUser) -> None:
    """Validate and save a changed (locked) event, bump its version and append the revision.

    A change of the grade or the computed grade reopens a resolved grade-discrepancy query (the reviewed
    discrepancy is no longer the one on the record).
    """
    if current.discrepancy_resolved_at is not None and {"grade", "computed_grade"} & set(changes):
        changes["discrepancy_resolved_at"] = [_plain(current.discrepancy_resolved_at), None]
        current.discrepancy_resolved_at = None
        current.discrepancy_resolved_by = None
        current.discrepancy_resolution_comment = ""
    current.full_clean()
    current.version += 1
    with audit_context(reason=reason):  # the trigger-written history carries the reason too
        current.save()
    AdverseEventRevision.objects.create(adverse_event=current, version=current.version, changed_by=acting_user,
                                        reason=reason, changes=changes)
    benchmark_request(site=current.patient.site, trigger="ae_change")


def _plain(value: Any) -> Any:
    """JSON-friendly form of a field value for the revision record."""
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# ------------------------------------------------------------------------ bedside assessments and episodes
#
# One CRS (or ICANS) episode is one adverse event. Each bedside assessment is stored with its raw criteria
# and computed grades, and the episode's AE is updated in place from all its assessments: grade = the worst
# assessment grade (the clinician's where entered, else the computed one), onset = the first assessment's
# date, resolution = the first grade-0 assessment after the last positive one (while the latest is 0).
#
# ICANS is not a CTCAE v5.0 term (grading.md §1.3). Its episode is recorded as the CTCAE term
# "Encephalopathy" (MedDRA 10014625, grades 1–5, one of the benchmark's neurotoxicity terms) with the
# verbatim term "ICANS" and grading_scale "astct_2019", so the grade's scale is never mistaken for CTCAE.

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Encephalopathy"
ICANS_VERBATIM = "ICANS"
CRS_DATA_FIELDS = ("assessed_at", "temperature_c", "tocilizumab_or_steroids_given", "hypotension", "vasopressors",
                   "oxygen_device", "oxygen_flow_l_min", "oxygen_fio2_percent", "entered_grade",
                   "grade_discrepancy_reason", "relatedness", "action_taken")
ICANS_DATA_FIELDS = ("assessed_at", "developmental_delay", "tool", "score", "unable_to_perform", "consciousness",
                     "seizure", "motor", "cerebral_edema", "entered_grade", "grade_discrepancy_reason",
                     "relatedness", "action_taken")
#: Highest grade a bedside assessment may carry; a death (grade 5) is recorded on the AE with outcome Fatal.
MAX_ASSESSMENT_GRADE = 4


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def crs_grades(data: dict[str, Any], *, had_crs_before: bool) -> dict[str, Any]:
    """ASTCT 2019, CTCAE v5.0 and Lee 2014 grades of one CRS assessment, as CRSAssessment field values.

    ``data`` holds the CRSAssessment criteria (temperature_c °C, oxygen_flow_l_min L/min, oxygen_fio2_percent %,
    vasopressors as agent names). ``had_crs_before`` (an earlier assessment of the episode was positive)
    enables the ASTCT fever-masking rule after tocilizumab/steroids. CTCAE v5.0 and Lee 2014 grade hypoxia by
    FiO2: with oxygen given and no FiO2 they are undetermined (None) unless other criteria already set a grade
    hypoxia could not exceed; Lee 2014 with exactly one vasopressor is undetermined (low vs high dose is not
    recorded); only mechanical ventilation counts as Lee "ventilator support". Organ toxicities (Lee) and
    "life-threatening consequences" (CTCAE grade 4) are not recorded here, so those grades are lower bounds
    and the rationale says so. Raises ValidationError keyed by field for impossible input.
    """
    temperature = _num(data.get("temperature_c"))
    agents = list(data.get("vasopressors") or [])
    device = data.get("oxygen_device") or "none"
    flow = _num(data.get("oxygen_flow_l_min"))
    fio2 = _num(data.get("oxygen_fio2_percent"))
    try:
        astct = grading.grade_crs_astct(
            temperature_c=temperature, tocilizumab_or_steroids_given=bool(data.get("tocilizumab_or_steroids_given")),
            had_crs_before=had_crs_before, hypotension=bool(data.get("hypotension")), vasopressors=agents,
            oxygen_device=device, oxygen_flow_l_min=flow)
        ctcae = grading.grade_crs_ctcae_v5(temperature_c=temperature, hypotension=bool(data.get("hypotension")),
                                           vasopressors=agents, oxygen_fio2_percent=fio2)
        lee = grading.grade_crs_lee2014(temperature_c=temperature, hypotension=bool(data.get("hypotension")),
                                        vasopressors=agents, oxygen_fio2_percent=fio2,
                                        ventilator_support=device == "mechanical_ventilation")
    except grading.GradingInputError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    oxygen_unknown_fio2 = device != "none" and fio2 is None
    ctcae_grade, ctcae_why = ctcae.grade, ctcae.rationale + " Life-threatening consequences (grade 4) not assessed."
    if oxygen_unknown_fio2 and ctcae.grade < 3:
        ctcae_grade, ctcae_why = None, ("Undetermined: oxygen given but FiO2 not recorded (CTCAE v5.0 grades hypoxia "
                                        f"by < 40% vs >= 40% O2); without hypoxia: {ctcae.rationale}")
    lee_grade, lee_why = lee.grade, lee.rationale + " Organ toxicities not recorded in this assessment."
    counted = set(agents)
    if lee.grade < 3 and len(counted) == 1:
        lee_grade, lee_why = None, ("Undetermined: one vasopressor, dose not recorded (Lee 2014: low dose = grade 2,"
                                    f" high dose = grade 3); {lee.rationale}")
    elif lee.grade < 3 and oxygen_unknown_fio2:
        lee_grade, lee_why = None, ("Undetermined: oxygen given but FiO2 not recorded (Lee 2014: < 40% = grade 2, "
                                    f">= 40% = grade 3); without hypoxia: {lee.rationale}")
    return {"astct_grade": astct.grade, "astct_rationale": astct.rationale, "ctcae_grade": ctcae_grade,
            "ctcae_rationale": ctcae_why, "lee_grade": lee_grade, "lee_rationale": lee_why}


def age_in_years(birth_month: datetime.date, on: datetime.date) -> float:
    """Age in years on ``on`` from a birth month (first day of the month), to the month.

    The birthday month counts as reached (born March 2014: 12.0 years from 1 March 2026).
    """
    months = (on.year - birth_month.year) * 12 + (on.month - birth_month.month)
    return months / 12


def icans_grade_fields(data: dict[str, Any], *, patient: Patient) -> dict[str, Any]:
    """ASTCT 2019 ICANS grade of one assessment, as ICANSAssessment field values (tool defaulted from age).

    ``data``: tool ("ICE"/"CAPD", or empty for the default from the patient's age at ``assessed_at`` and
    ``developmental_delay``), score (ICE 0–10 or CAPD total 0–32) or unable_to_perform, and the domains of
    :func:`ae.grading.grade_icans`. Raises ValidationError keyed by field (``score`` for the score).
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
            motor=data.get("motor") or "none", cerebral_edema=data.get("cerebral_edema") or "none")
    except grading.GradingInputError as exc:
        field = "score" if exc.field in ("ice_score", "capd_score") else exc.field
        raise ValidationError({field: exc.message}) from exc
    return {"tool": tool, "grade": result.grade, "rationale": result.rationale}


@dataclass(frozen=True)
class _Kind:
    model: type[CRSAssessment] | type[ICANSAssessment]
    label: str
    term: str
    verbatim: str
    fields: tuple[str, ...]
    computed: Callable[[Any], int]
    rationale: Callable[[Any], str]


_CRS = _Kind(CRSAssessment, "CRS", CRS_TERM, "", CRS_DATA_FIELDS, lambda a: a.astct_grade,
             lambda a: a.astct_rationale)
_ICANS = _Kind(ICANSAssessment, "ICANS", ICANS_TERM, ICANS_VERBATIM, ICANS_DATA_FIELDS, lambda a: a.grade,
               lambda a: a.rationale)


def _local(at: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(at)


def episode_fields(kind_label: str, assessments: Sequence[Any], computed: Callable[[Any], int],
                   rationale: Callable[[Any], str]) -> dict[str, Any]:
    """The episode AE's grade fields from all its assessments (any order; each has ``assessed_at``,
    ``effective_grade`` and ``grade_discrepancy_reason``).

    Returns grade (max effective grade), computed_grade (max computed grade), computed_rationale,
    grade_discrepancy_reason (the assessments' reasons when the two maxima differ, else ""), onset_date
    (local date of the first assessment) and resolution_date (local date of the first grade-0 assessment
    after the last positive one when the latest assessment is grade 0, else None).
    """
    ordered = sorted(assessments, key=lambda a: a.assessed_at)
    grade = max(a.effective_grade for a in ordered)
    top = max(computed(a) for a in ordered)
    setter = next(a for a in ordered if computed(a) == top)
    positive = [i for i, a in enumerate(ordered) if a.effective_grade > 0]
    resolution = None
    if positive and ordered[-1].effective_grade == 0:
        resolution = _local(ordered[positive[-1] + 1].assessed_at).date()
    reasons = [f"{_local(a.assessed_at):%d %b %Y %H:%M}: {a.grade_discrepancy_reason}" for a in ordered
               if a.effective_grade != computed(a)]
    return {
        "grade": grade, "computed_grade": top,
        "computed_rationale": (f"Worst ASTCT 2019 {kind_label} grade of {len(ordered)} assessment(s), "
                               f"{_local(setter.assessed_at):%d %b %Y %H:%M}: {rationale(setter)}"),
        "grade_discrepancy_reason": "; ".join(reasons) if grade != top else "",
        "onset_date": _local(ordered[0].assessed_at).date(), "resolution_date": resolution,
    }


def _episode_outcome(current: str | None, resolved: bool) -> str:
    out = AdverseEvent.Outcome
    if current in (out.FATAL, out.SEQUELAE):
        return current
    if resolved:
        return out.RECOVERED
    return out.NOT_RECOVERED if current in (None, out.RECOVERED) else current


def _assessment_record(kind: _Kind, *, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                       acting_user: AbstractBaseUser, episode: AdverseEvent | None):
    require_role(acting_user, patient.site, RECORDERS)
    unknown = set(data) - set(kind.fields)
    if unknown:
        raise ValueError(f"unknown {kind.label} assessment field(s): {', '.join(sorted(unknown))}")
    existing: list = []
    if episode is not None:
        episode = AdverseEvent.objects.select_for_update().select_related("cycle", "term").get(pk=episode.pk)
        if episode.patient_id != patient.pk or episode.term.term != kind.term:
            raise ValidationError({"episode": f"This is not a {kind.label} episode of {patient}."})
        if cycle is not None and cycle.pk != episode.cycle_id:
            raise ValidationError({"cycle": f"This episode belongs to cycle {episode.cycle.number}."})
        cycle = episode.cycle
        existing = list(kind.model.objects.filter(adverse_event=episode))
    elif cycle is None or cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": "Choose one of this patient's treatment cycles."})
    assessed_at = data.get("assessed_at")
    if assessed_at is None:
        raise ValidationError({"assessed_at": "Give the date and time of the assessment."})
    if _local(assessed_at).date() < cycle.start_date:
        raise ValidationError({"assessed_at": f"Before cycle {cycle.number} started ({cycle.start_date:%d %b %Y})."})
    if assessed_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"assessed_at": "The assessment cannot be in the future."})

    criteria = {k: v for k, v in data.items() if k not in ("relatedness", "action_taken")}
    if kind is _CRS:
        had_crs_before = any(a.assessed_at < assessed_at and a.effective_grade > 0 for a in existing)
        computed_fields = crs_grades(criteria, had_crs_before=had_crs_before)
    else:
        computed_fields = icans_grade_fields(criteria, patient=patient)
    assessment = kind.model(**(criteria | computed_fields), entered_by=acting_user)
    computed_grade = kind.computed(assessment)
    entered = assessment.entered_grade
    if entered is not None and not 0 <= entered <= MAX_ASSESSMENT_GRADE:
        raise ValidationError({"entered_grade": f"A bedside grade is 0–{MAX_ASSESSMENT_GRADE}; record a death "
                                                "on the adverse event (outcome Fatal)."})
    if entered is None or entered == computed_grade:
        assessment.grade_discrepancy_reason = ""
    elif not (assessment.grade_discrepancy_reason or "").strip():
        raise ValidationError({"grade_discrepancy_reason": (
            f"Your grade {entered} differs from the computed ASTCT 2019 grade {computed_grade} "
            f"({kind.rationale(assessment)}): give the reason.")})
    assessment.grade_discrepancy_reason = (assessment.grade_discrepancy_reason or "").strip()
    assessment.full_clean(exclude=["adverse_event"])

    summary = episode_fields(kind.label, [*existing, assessment], kind.computed, kind.rationale)
    if episode is None:
        if summary["grade"] == 0:
            raise ValidationError({"entered_grade": (
                f"The computed grade is 0 ({kind.rationale(assessment)}): there is no {kind.label} episode to "
                "record. If you judge it is one, enter your grade and the reason.")})
        missing = {f: "Required for a new episode." for f in ("relatedness", "action_taken") if not data.get(f)}
        if missing:
            raise ValidationError(missing)
        episode = AdverseEvent(
            patient=patient, cycle=cycle, term=CTCAETerm.objects.get(term=kind.term), verbatim_term=kind.verbatim,
            grading_scale=AdverseEvent.GradingScale.ASTCT_2019, relatedness=data["relatedness"],
            action_taken=data["action_taken"], created_by=acting_user,
            outcome=_episode_outcome(None, summary["resolution_date"] is not None), **summary)
        episode.full_clean()
        episode.save()
        benchmark_request(site=patient.site, trigger="ae_change")
    else:
        summary["outcome"] = _episode_outcome(episode.outcome, summary["resolution_date"] is not None)
        changes = {f: [_plain(getattr(episode, f)), _plain(v)] for f, v in summary.items()
                   if getattr(episode, f) != v}
        if changes:
            for f in changes:
                setattr(episode, f, summary[f])
            _save_revision(episode, changes=changes, acting_user=acting_user,
                           reason=(f"{kind.label} assessment of {_local(assessed_at):%d %b %Y %H:%M} recorded "
                                   f"(computed grade {computed_grade}"
                                   + ("" if entered is None else f", entered grade {entered}") + ")."))
    assessment.adverse_event = episode
    assessment.save()
    return assessment


@transaction.atomic
def crs_assessment_record(*, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                          acting_user: AbstractBaseUser, episode: AdverseEvent | None = None) -> CRSAssessment:
    """Record one bedside CRS assessment; start the episode's AE or update it in place.

    ``data``: assessed_at (aware datetime, not before the cycle start, not in the future), temperature_c
    (°C), tocilizumab_or_steroids_given, hypotension, vasopressors (agent names), oxygen_device,
    oxygen_flow_l_min (L/min), oxygen_fio2_percent (%), optional entered_grade (0–4) with
    grade_discrepancy_reason (required when it differs from the computed ASTCT grade), and for a new episode
    relatedness and action_taken. ``episode`` is the CRS AE of an ongoing episode (None starts a new one in
    ``cycle``). The AE ("Cytokine release syndrome", grading_scale astct_2019) gets the worst grade, the
    first assessment's onset, the resolution date (see :func:`episode_fields`), computed_grade and rationale,
    and each update is a revision in its history. Returns the saved CRSAssessment.

    Raises PermissionDenied unless the user records on the patient's site; ValidationError keyed by field
    (nothing saved) for impossible criteria, a missing reason, a new episode whose grade is 0, or an
    episode/cycle not of this patient.
    """
    return _assessment_record(_CRS, patient=patient, cycle=cycle, data=data, acting_user=acting_user,
                              episode=episode)


@transaction.atomic
def icans_assessment_record(*, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                            acting_user: AbstractBaseUser, episode: AdverseEvent | None = None) -> ICANSAssessment:
    """Record one bedside ICANS assessment (ASTCT 2019); start the episode's AE or update it in place.

    ``data``: assessed_at, developmental_delay, tool ("ICE"/"CAPD"; empty = default from the patient's age at
    assessment), score (ICE 0–10 / CAPD total 0–32) or unable_to_perform, consciousness, seizure, motor,
    cerebral_edema, optional entered_grade with grade_discrepancy_reason, and for a new episode relatedness and
    action_taken. The AE is CTCAE "Encephalopathy" with verbatim term "ICANS" and grading_scale astct_2019
    (ICANS is no CTCAE term). Same episode rules and errors as :func:`crs_assessment_record`.
    """
    return _assessment_record(_ICANS, patient=patient, cycle=cycle, data=data, acting_user=acting_user,
                              episode=episode)


def grade_discrepancies_open(*, site: Site) -> QuerySet[AdverseEvent]:
    """Data-quality queries of a site: events whose entered grade differs from the computed grade, unresolved."""
    return (AdverseEvent.objects.filter(patient__site=site, computed_grade__isnull=False,
                                        discrepancy_resolved_at__isnull=True)
            .exclude(grade=F("computed_grade")).select_related("patient", "cycle", "term")
            .order_by("onset_date", "id"))


@transaction.atomic
def grade_discrepancy_resolve(*, event: AdverseEvent, acting_user: AbstractBaseUser, comment: str) -> AdverseEvent:
    """Close the data-quality query on an event's entered-vs-computed grade with the reviewer's comment.

    Raises PermissionDenied unless the user is a reviewer (safety officer or administrator) of the site;
    ValidationError if the comment is blank or the event has no open discrepancy. The clinical record
    (grade, version) is unchanged; a later change of either grade reopens the query.
    """
    require_role(acting_user, event.patient.site, REVIEWERS)
    current = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if not current.grade_discrepancy_open:
        raise ValidationError("This event has no open grade discrepancy.")
    if not comment.strip():
        raise ValidationError({"comment": "Give your review comment."})
    current.discrepancy_resolved_by = acting_user
    current.discrepancy_resolved_at = timezone.now()
    current.discrepancy_resolution_comment = comment.strip()
    current.save(update_fields=["discrepancy_resolved_by", "discrepancy_resolved_at",
                                "discrepancy_resolution_comment"])
    return current


# -------------------------------------------------------------------------------------------- lab results

LAB_DATA_FIELDS = ("analyte", "value", "unit", "lln", "uln", "collected_at", "baseline", "cycle")


def _decimal(value: Any) -> Any:
    """A float as the decimal it was typed as (0.9, not 0.90000000000000002220); other values unchanged."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def _lab_treatment_emergent(grade: int | None, baseline: LabResult | None) -> bool | None:
    """ADaM TRTEMFL for a post-baseline lab grade: worse than the baseline grade (no baseline = grade 0)."""
    if grade is None:
        return None
    if grade == 0:
        return False
    if baseline is None:
        return True
    if baseline.grade is None:
        return None
    return grade > baseline.grade


def _lab_grade(result: LabResult, baseline: LabResult | None) -> None:
    try:
        graded = grading.grade_lab(
            result.analyte, float(result.value), result.unit, lln=_num(result.lln), uln=_num(result.uln),
            baseline=_num(baseline.value) if baseline is not None and result.analyte in ("alt", "ast") else None)
    except grading.GradingInputError as exc:
        raise ValidationError({exc.field if exc.field in LAB_DATA_FIELDS else "value": exc.message}) from exc
    result.grade, result.rationale, result.ctcae_term = graded.grade, graded.rationale, graded.ctcae_term


@transaction.atomic
def lab_result_record(*, patient: Patient, data: dict[str, Any], acting_user: AbstractBaseUser) -> LabResult:
    """Record and grade one lab value (CTCAE v5.0, :func:`ae.grading.grade_lab`).

    ``data``: analyte, value, unit, lln, uln (all in ``unit``), collected_at (aware datetime), baseline
    (bool), cycle (optional; default: the latest cycle started on or before the collection date, or none).
    A baseline belongs to a cycle and is collected on or before its start; recording it regrades ALT/AST of
    that cycle against it and recomputes their treatment-emergent flags. A post-baseline value is
    treatment-emergent only if its grade is worse than the baseline grade. Raises PermissionDenied,
    ValidationError keyed by field (unknown unit, negative value, LLN ≥ ULN, wrong cycle, second baseline).
    """
    require_role(acting_user, patient.site, RECORDERS)
    unknown = set(data) - set(LAB_DATA_FIELDS)
    if unknown:
        raise ValueError(f"unknown lab field(s): {', '.join(sorted(unknown))}")
    collected_at = data.get("collected_at")
    if collected_at is None:
        raise ValidationError({"collected_at": "Give the date and time the sample was collected."})
    day = _local(collected_at).date()
    cycle = data.get("cycle")
    if cycle is not None and cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": "This cycle belongs to another patient."})
    is_baseline = bool(data.get("baseline"))
    if cycle is None and not is_baseline:
        cycle = patient.cycles.filter(start_date__lte=day).order_by("-start_date").first()
    if is_baseline:
        if cycle is None:
            raise ValidationError({"cycle": "A baseline value belongs to the cycle it precedes: choose the cycle."})
        if day > cycle.start_date:
            raise ValidationError({"collected_at": f"A baseline is collected on or before the cycle start "
                                                   f"({cycle.start_date:%d %b %Y})."})
    elif cycle is not None and day < cycle.start_date:
        raise ValidationError({"collected_at": f"Before cycle {cycle.number} started: tick 'baseline' if this is "
                                               "the value at the cycle start."})
    result = LabResult(patient=patient, cycle=cycle, analyte=data.get("analyte"), value=_decimal(data.get("value")),
                       unit=data.get("unit"), lln=_decimal(data.get("lln")), uln=_decimal(data.get("uln")),
                       collected_at=collected_at,
                       baseline=is_baseline, entered_by=acting_user)
    if result.analyte not in grading.LAB_ANALYTES:
        raise ValidationError({"analyte": f"Unknown analyte; expected one of {', '.join(grading.LAB_ANALYTES)}."})
    baseline = None
    if cycle is not None:
        baseline = LabResult.objects.filter(cycle=cycle, analyte=result.analyte, baseline=True).first()
        if is_baseline and baseline is not None:
            raise ValidationError({"baseline": f"Cycle {cycle.number} already has a baseline {result.analyte} value."})
    _lab_grade(result, None if is_baseline else baseline)
    result.treatment_emergent = None if is_baseline else _lab_treatment_emergent(result.grade, baseline)
    result.full_clean()
    result.save()
    if is_baseline:
        later = list(LabResult.objects.filter(cycle=cycle, analyte=result.analyte, baseline=False))
        for other in later:
            if other.analyte in ("alt", "ast"):
                _lab_grade(other, result)
            other.treatment_emergent = _lab_treatment_emergent(other.grade, result)
        LabResult.objects.bulk_update(later, ["grade", "rationale", "treatment_emergent"])
    return result
