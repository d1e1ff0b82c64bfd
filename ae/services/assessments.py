"""Bedside CRS and ICANS assessments: each is stored with its criteria and computed grades, and updates
its episode's adverse event in place (episode rules: :mod:`ae.episodes`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ae.episodes import (
    CRS_DATA_FIELDS,
    CRS_TERM,
    ICANS_DATA_FIELDS,
    ICANS_TERM,
    ICANS_VERBATIM,
    MAX_ASSESSMENT_GRADE,
    Observation,
    crs_grades,
    episode_fields,
    episode_outcome,
    grade_floor,
    icans_grade_fields,
    local_time,
    resolution_entered_by_hand,
)
from ae.models import AdverseEvent, CRSAssessment, CTCAETerm, ICANSAssessment
from ae.models.events import after_death_error
from ae.services.episodes import covering_episode, episode_lock, next_episode, open_episode, overlapping_episode
from ae.services.events import adverse_event_save_revision, revision_value
from ae.services.notifications import data_quality_query_notify
from core.numbers import reader_numbers
from core.outbox import benchmark_request
from core.text import as_clause, clean_reason, visible
from patients.access import RECORDERS, require_role
from patients.models import Patient, TreatmentCycle


@dataclass(frozen=True)
class _Kind:
    model: type[CRSAssessment] | type[ICANSAssessment]
    label: str
    term: str
    verbatim: str
    fields: tuple[str, ...]
    computed: Callable[[Any], int]
    rationale: Callable[[Any], str]
    origin: str


_CRS = _Kind(CRSAssessment, "CRS", CRS_TERM, "", CRS_DATA_FIELDS, lambda a: a.astct_grade,
             lambda a: a.astct_rationale, AdverseEvent.Origin.CRS_ASSESSMENT)
_ICANS = _Kind(ICANSAssessment, "ICANS", ICANS_TERM, ICANS_VERBATIM, ICANS_DATA_FIELDS, lambda a: a.grade,
               lambda a: a.rationale, AdverseEvent.Origin.ICANS_ASSESSMENT)


def _observation(kind: _Kind, assessment: Any) -> Observation:
    return Observation(at=assessment.assessed_at, effective_grade=assessment.effective_grade,
                       computed_grade=kind.computed(assessment), rationale=kind.rationale(assessment),
                       discrepancy_reason=assessment.grade_discrepancy_reason or "", label=f"{kind.label} assessment")


def _target_episode(kind: _Kind, *, patient: Patient, cycle: TreatmentCycle | None, episode: AdverseEvent | None,
                    new_episode: bool, day: datetime.date | None) -> tuple[TreatmentCycle, AdverseEvent | None]:
    """(cycle, episode to attach to or None for a new one), locked; see :func:`crs_assessment_record`. ``day``:
    the assessment's local date (None when it has none: refused later)."""
    term = CTCAETerm.objects.get(term=kind.term)
    if episode is not None:
        episode = (AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term")
                   .get(pk=episode.pk))
        if episode.patient_id != patient.pk or episode.term_id != term.pk:
            raise ValidationError({"episode": _("This is not a %(kind)s episode of %(patient)s.") % {
                "kind": kind.label, "patient": patient}})
        if cycle is not None and cycle.pk != episode.cycle_id:
            raise ValidationError({"cycle": _("This episode belongs to cycle %(cycle)s.") % {
                "cycle": episode.cycle.number}})
        return episode.cycle, episode
    if cycle is None or cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": _("Choose one of this patient's treatment cycles.")})
    episode_lock(cycle=cycle, term=term)
    if new_episode:
        return cycle, None
    # One clinical event = one AE, however it was first recorded: the episode running on the assessment's day (a
    # late entry of a resolved one's course included), else the ongoing one.
    covering = covering_episode(cycle=cycle, term=term, day=day) if day is not None else None
    return cycle, covering or open_episode(cycle=cycle, term=term)


def _refuse_overlap(kind: _Kind, episode: AdverseEvent) -> None:
    """Refuse (ValidationError on ``episode``) an assessment whose episode was chosen for the nurse ("the ongoing
    episode … a new one if none") when that episode's days, with the assessment, would overlap another episode of
    the term in the cycle — an assessment dated before a later episode, or before an ongoing one's onset with a
    resolved one in between: the nurse says which episode it belongs to."""
    other = overlapping_episode(episode)
    if other is None:
        return
    raise ValidationError({"episode": _(
        "%(term)s (onset %(onset)s, grade %(grade)s, %(course)s) is already recorded in cycle %(cycle)s, and this "
        "assessment's day would make the episodes overlap: choose that episode if the assessment belongs to it, or "
        "a new, separate episode.") % {
            "term": kind.label, "onset": date_format(other.onset_date, "d M Y"), "grade": other.grade,
            "course": (_("resolved %(date)s") % {"date": date_format(other.resolution_date, "d M Y")}
                       if other.resolution_date else _("not resolved")),
            "cycle": other.cycle.number}})


def _assessment_record(kind: _Kind, *, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                       acting_user: User, episode: AdverseEvent | None, new_episode: bool = False) -> Any:
    require_role(acting_user, patient.site, RECORDERS)
    unknown = set(data) - set(kind.fields)
    if unknown:
        raise ValueError(f"unknown {kind.label} assessment field(s): {', '.join(sorted(unknown))}")
    assessed_at = data.get("assessed_at")
    chosen = episode is not None or new_episode  # else pvtrack chooses the episode and checks it overlaps none
    cycle, episode = _target_episode(kind, patient=patient, cycle=cycle, episode=episode, new_episode=new_episode,
                                     day=local_time(assessed_at).date() if assessed_at is not None else None)
    existing: list[Any] = list(kind.model.objects.filter(adverse_event=episode)) if episode is not None else []
    if assessed_at is None:
        raise ValidationError({"assessed_at": _("Give the date and time of the assessment.")})
    day = local_time(assessed_at).date()
    if day < cycle.start_date:
        raise ValidationError({"assessed_at": _("Before cycle %(cycle)s started (%(date)s).") % {
            "cycle": cycle.number, "date": date_format(cycle.start_date, "d M Y")}})
    if assessed_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"assessed_at": _("The assessment cannot be in the future.")})
    after_death = after_death_error(patient, day)
    if after_death:
        raise ValidationError({"assessed_at": after_death})
    if cycle.window_end is not None and day > cycle.window_end:
        raise ValidationError({"assessed_at": (
            _("%(date)s is more than %(days)s days after cycle %(cycle)s ended (%(end)s): choose the cycle running "
              "on that day, or check the date.") % {
                "date": date_format(day, "d M Y"), "days": settings.PVTRACK_FOLLOW_UP_DAYS, "cycle": cycle.number,
                "end": date_format(cycle.end_date, "d M Y") if cycle.end_date else ""})})

    criteria = {k: v for k, v in data.items() if k not in ("relatedness", "action_taken")}
    had_crs_before = any(a.assessed_at < assessed_at and a.effective_grade > 0 for a in existing)

    def graded(translate: Callable[[str], str] = str) -> dict[str, Any]:
        """The computed fields; ``translate``: the ASTCT rationale in the reader's language (for a message)."""
        if kind is _CRS:
            return crs_grades(criteria, had_crs_before=had_crs_before, translate=translate)
        return icans_grade_fields(criteria, patient=patient, translate=translate)

    computed_fields = graded()
    assessment = kind.model(**(criteria | computed_fields), entered_by=acting_user)
    computed_grade = kind.computed(assessment)
    entered = assessment.entered_grade
    if entered is not None and not 0 <= entered <= MAX_ASSESSMENT_GRADE:
        raise ValidationError({"entered_grade": _("A bedside grade is 0–%(max)s; record a death on the adverse event "
                                                  "(outcome Fatal).") % {"max": MAX_ASSESSMENT_GRADE}})
    if entered is None or entered == computed_grade:
        assessment.grade_discrepancy_reason = ""
    elif not visible(assessment.grade_discrepancy_reason or ""):
        raise ValidationError({"grade_discrepancy_reason": (
            _("Your grade %(entered)s differs from the computed ASTCT 2019 grade %(computed)s (%(rationale)s): "
              "give the reason.") % {"entered": entered, "computed": computed_grade,
                                     "rationale": as_clause(reader_numbers(kind.rationale(kind.model(**graded(_)))))})})
    else:
        assessment.grade_discrepancy_reason = clean_reason(
            assessment.grade_discrepancy_reason, field="grade_discrepancy_reason",
            what=_("the reason your grade differs"))
    assessment.full_clean(exclude=["adverse_event"])

    observations = [_observation(kind, a) for a in [*existing, assessment]]
    scale = f"ASTCT 2019 {kind.label}"
    if episode is None:
        summary = episode_fields(scale, observations)
        if summary["grade"] == 0:
            raise ValidationError({"entered_grade": (
                _("The computed grade is 0 (%(rationale)s): there is no %(kind)s episode to record. If you judge it "
                  "is one, enter your grade and the reason.") % {
                      "rationale": as_clause(reader_numbers(kind.rationale(kind.model(**graded(_))))),
                      "kind": kind.label})})
        missing = {f: _("Required for a new episode.") for f in ("relatedness", "action_taken") if not data.get(f)}
        if missing:
            raise ValidationError(missing)
        episode = AdverseEvent(
            patient=patient, cycle=cycle, term=CTCAETerm.objects.get(term=kind.term), verbatim_term=kind.verbatim,
            grading_scale=AdverseEvent.GradingScale.ASTCT_2019, relatedness=data["relatedness"],
            action_taken=data["action_taken"], created_by=acting_user, origin=kind.origin,
            outcome=episode_outcome(None, summary["resolution_date"] is not None), **summary)
        episode.full_clean()
        if not chosen:
            _refuse_overlap(kind, episode)
        episode.save()
        data_quality_query_notify(event=episode)  # a grade entered against the computed one: a query to review
        benchmark_request(site=patient.site, trigger="ae_change")
    else:
        by_hand = episode.origin == AdverseEvent.Origin.ENTERED  # its onset is a clinician's
        summary = episode_fields(scale, observations, entered_grade=grade_floor(episode),
                                 entered_onset=episode.onset_date if by_hand else None,
                                 entered_resolution=resolution_entered_by_hand(episode, scale, observations[:-1]))
        summary["outcome"] = episode_outcome(episode.outcome, summary["resolution_date"] is not None)
        summary["grading_scale"] = AdverseEvent.GradingScale.ASTCT_2019
        changes = {f: [revision_value(getattr(episode, f)), revision_value(v)] for f, v in summary.items()
                   if getattr(episode, f) != v}
        if changes:
            for f in changes:
                setattr(episode, f, summary[f])
            if not chosen and {"onset_date", "resolution_date"} & set(changes):
                _refuse_overlap(kind, episode)
            adverse_event_save_revision(
                episode, changes=changes, acting_user=acting_user,
                reason=(f"{kind.label} assessment of {local_time(assessed_at):%d %b %Y %H:%M} recorded "
                        f"(computed grade {computed_grade}" + ("" if entered is None else f", entered grade {entered}")
                        + ")."))
    assessment.adverse_event = episode
    assessment.save()
    if isinstance(assessment, ICANSAssessment) and assessment.seizure in SEIZURE_AE_GRADE:
        _seizure_event(assessment, icans_episode=episode, acting_user=acting_user)
    return assessment


#: A seizure recorded on the ICANS assessment is also the CTCAE v5.0 AE "Seizure" (MedDRA 10039906), graded by the
#: seizure row of the ASTCT 2019 ICANS grading (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638, ICANS
#: grading table): any clinical seizure that resolves rapidly, or non-convulsive seizures on EEG that resolve with
#: intervention = 3; a life-threatening prolonged seizure (> 5 min) or repetitive seizures without return to
#: baseline in between = 4. (ICANS has no seizure grade below 3; "none" makes no Seizure AE.)
SEIZURE_AE_GRADE = {"rapid_resolving_or_eeg_treated": 3, "prolonged_or_repetitive": 4}
SEIZURE_TERM = "Seizure"


def _seizure_event(assessment: ICANSAssessment, *, icans_episode: AdverseEvent, acting_user: User) -> AdverseEvent:
    """Start or raise the Seizure AE of the assessment's cycle: the episode running on the assessment's day, else
    the first episode that begins after it (an assessment entered late shows the event began earlier: its onset
    moves back to the assessment's day, which overlaps no other episode — the open one may lie beyond a resolved
    one; :func:`ae.services.episodes.next_episode`), else a new one (one clinical event = one AE, like the others).

    A new episode takes the ICANS episode's relatedness and action taken, onset on the assessment's day, grading
    scale astct_2019; an existing one is raised (never lowered) and its onset moved back, with a revision naming
    the assessment.
    """
    cycle = icans_episode.cycle
    term = CTCAETerm.objects.get(term=SEIZURE_TERM)
    grade = SEIZURE_AE_GRADE[assessment.seizure]
    when = local_time(assessment.assessed_at)
    rationale = (f"ASTCT 2019 ICANS seizure row: {assessment.seizure.replace('_', ' ')} = grade {grade} "
                 f"(ICANS assessment of {when:%d %b %Y %H:%M})")
    episode_lock(cycle=cycle, term=term)
    ongoing = (covering_episode(cycle=cycle, term=term, day=when.date())
               or next_episode(cycle=cycle, term=term, day=when.date()))
    if ongoing is None:
        event = AdverseEvent(
            patient=icans_episode.patient, cycle=cycle, term=term, grade=grade, verbatim_term="seizure (ICANS)",
            grading_scale=AdverseEvent.GradingScale.ASTCT_2019, onset_date=when.date(),
            relatedness=icans_episode.relatedness, action_taken=icans_episode.action_taken,
            outcome=episode_outcome(None, resolved=False), created_by=acting_user,
            origin=AdverseEvent.Origin.ICANS_ASSESSMENT, computed_grade=grade, computed_rationale=rationale)
        event.full_clean()
        event.save()
        benchmark_request(site=icans_episode.patient.site, trigger="ae_change")
        return event
    changes: dict[str, list[Any]] = {}
    why = []
    if ongoing.onset_date > when.date():
        changes["onset_date"] = [revision_value(ongoing.onset_date), revision_value(when.date())]
        why.append(f"onset moved from {ongoing.onset_date:%d %b %Y} to {when:%d %b %Y}")
        ongoing.onset_date = when.date()
    if ongoing.grade < grade:
        changes |= {"grade": [ongoing.grade, grade], "computed_grade": [ongoing.computed_grade, grade],
                    "computed_rationale": [ongoing.computed_rationale, rationale]}
        why.append(rationale)
        ongoing.grade, ongoing.computed_grade, ongoing.computed_rationale = grade, grade, rationale
    if changes:
        adverse_event_save_revision(ongoing, changes=changes, acting_user=acting_user, reason=(
            f"ICANS assessment of {when:%d %b %Y %H:%M} recorded a seizure ({'; '.join(why)})."))
    return ongoing


@transaction.atomic
def crs_assessment_record(*, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                          acting_user: User, episode: AdverseEvent | None = None,
                          new_episode: bool = False) -> CRSAssessment:
    """Record one bedside CRS assessment; start the episode's AE or update it in place.

    ``data``: assessed_at (aware datetime, not before the cycle start, not in the future), temperature_c
    (°C), fever_masking_therapies, hypotension, vasopressors (agent names), oxygen_device,
    oxygen_flow_l_min (L/min), oxygen_fio2_percent (%), optional entered_grade (0–4) with
    grade_discrepancy_reason (required when it differs from the computed ASTCT grade), and for a new episode
    relatedness and action_taken.

    Which episode (one clinical event = one AE): ``episode`` when given (any CRS AE of this patient, e.g. a resolved
    one getting a late assessment); else the CRS episode of ``cycle`` running on the assessment's day (its onset to
    its resolution date: a late entry of its course), else the open one — whether it was first entered on the AE
    form or started by an assessment — and only when there is none, or ``new_episode`` says explicitly that this is
    a separate event, a new one. An episode chosen this way whose days would then overlap another episode of the
    term (an assessment dated before a later episode) is refused on ``episode``: the nurse says which one. An
    assessment on or before the resolution date of an episode entered by hand leaves it resolved. Concurrent
    assessments serialise on the episode lock (:mod:`ae.services.episodes`), so they never start two episodes. The
    AE ("Cytokine release syndrome", grading_scale astct_2019) gets the worst grade of its assessments and of a
    grade entered by hand, the onset, the resolution date and computed grade (:func:`ae.episodes.episode_fields`);
    each update is a revision in its history. Returns the saved CRSAssessment.

    Raises PermissionDenied unless the user records on the patient's site; ValidationError keyed by field
    (nothing saved) for impossible criteria, a missing reason, a new episode whose grade is 0, an
    episode/cycle not of this patient, or an assessment outside the cycle (before its start, after its end plus
    ``PVTRACK_FOLLOW_UP_DAYS``, or in the future).
    """
    return _assessment_record(_CRS, patient=patient, cycle=cycle, data=data, acting_user=acting_user,
                              episode=episode, new_episode=new_episode)


@transaction.atomic
def icans_assessment_record(*, patient: Patient, cycle: TreatmentCycle | None, data: dict[str, Any],
                            acting_user: User, episode: AdverseEvent | None = None,
                            new_episode: bool = False) -> ICANSAssessment:
    """Record one bedside ICANS assessment (ASTCT 2019); start the episode's AE or update it in place.

    ``data``: assessed_at, developmental_delay, tool ("ICE"/"CAPD"; empty = default from the patient's age at
    assessment), score (ICE 0–10 / CAPD total 0–32) or unable_to_perform, consciousness, seizure, motor,
    cerebral_edema, optional entered_grade with grade_discrepancy_reason, and for a new episode relatedness and
    action_taken. The AE is CTCAE "Encephalopathy" with verbatim term "ICANS" and grading_scale astct_2019
    (ICANS is no CTCAE term). A seizure on the assessment also starts (or raises) the cycle's CTCAE "Seizure"
    AE, graded 3 or 4 by the ASTCT 2019 ICANS seizure row (``SEIZURE_AE_GRADE``), so the benchmark's seizure
    category counts it. Same episode rules and errors as :func:`crs_assessment_record`.
    """
    return _assessment_record(_ICANS, patient=patient, cycle=cycle, data=data, acting_user=acting_user,
                              episode=episode, new_episode=new_episode)
