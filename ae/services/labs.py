"""Lab results graded by CTCAE v5.0, with their baseline and treatment-emergent flag (ADaM TRTEMFL), and the
adverse-event episodes they feed (one clinical event = one AE, :mod:`ae.services.episodes`).

**Episode rule for labs.** A graded value feeds the episode of its CTCAE term (:data:`ae.grading.LAB_TERMS`:
platelets → "Platelet count decreased") in its cycle:

* a *treatment-emergent* value (grade ≥ 1 and TRTEMFL true: worse than the cycle's baseline grade, within the
  cycle's window) attaches to the episode of that term in the cycle running on the value's day (its onset to its
  resolution date: a late value of a resolved episode's course, which stays resolved when entered by hand), else
  to the first episode of that term in the cycle that begins after the value's day — however it began: entered by
  hand, or started by lab values; the value entered late shows it began earlier, and moving its onset back to that
  day overlaps no other episode (:func:`ae.services.episodes.next_episode`; the open episode may lie beyond a
  resolved one) — and, when there is none, starts one: origin "lab", grading_scale CTCAE v5.0, relatedness
  "possible" and action taken "unknown" (:data:`LAB_EPISODE_DEFAULTS`, editable afterwards on the AE form: ICH E2A
  treats a causality nobody has assessed yet as a reasonable possibility, and a lab value does not say what was
  done). A new episode whose next value of the analyte is already recorded and normal (results typed in out of
  order) is resolved by it (:func:`_resolved_by_a_later_value`);
* any other graded value (grade 0, or not worse than the baseline) attaches only to the episode running on its day
  when that episode is already followed by lab values; there it counts as grade 0
  (:func:`ae.episodes.lab_effective_grade`), so it resolves the episode, as a grade-0 bedside assessment does.
  Otherwise it is no adverse event (a normal value before an episode began says nothing of its course);
* an undetermined value (grade None: no LLN/ULN), one collected before the first cycle, or one collected after its
  cycle's end plus the follow-up window (not treatment-emergent, and no evidence the episode ended) feeds nothing.

The episode's grade, computed grade, onset and resolution are recomputed from all its values by
:func:`ae.episodes.episode_fields`; a grade entered by hand (``entered_grade``) is a floor and the onset entered
by hand stays. Each change of the AE is a revision with its reason ("Platelet count 18 ×10⁹/L of 03 Aug 2025
08:00 graded 4.") and requests a benchmark run, as does a new episode. Everything happens under the episode lock
of (cycle, term), so values, baselines and assessments or AE forms of the same term and cycle never make two
episodes, and two baselines of one cycle and analyte never both pass the check.

**Entered vs computed grade.** A value's grade is the clinician's ``entered_grade`` where given (a different grade
needs ``grade_discrepancy_reason``), else the computed one (``computed_grade``); treatment emergence and the episode
follow that effective grade, and the episode's computed grade follows the computed ones, so an override is the
episode's entered-vs-computed data-quality query (docs/labs.md).

**A baseline recorded after later values** regrades them (ALT/AST are graded against an abnormal baseline) and
recomputes their TRTEMFL under ``audit_context(reason="Baseline ALT 80 U/L of 03 Aug 2025 07:00 recorded: …")``,
then updates the episodes those values feed with a revision carrying the same reason (:func:`_episode_sync`): a
value no longer treatment-emergent counts as grade 0, so the episode is lowered to its worst value that still is,
or resolved. When *none* of a lab-started episode's values is treatment-emergent any more, the abnormality was
already there at the cycle start: the episode becomes "present before the cycle" with the baseline's grade as its
grade at the cycle start and the baseline's date as its onset, so THE AE rule (:func:`ae.models.events.
treatment_emergent_q`) no longer counts it unless it worsens — except in cycle 2 and later, where an abnormality
that arose after the first dose is treatment-emergent by that rule. A grade entered by hand is never lowered.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ae import grading, lab_units, selectors
from ae.analyte_labels import ANALYTE_LABELS
from ae.episodes import (
    LAB_SCALE,
    as_float,
    episode_fields,
    episode_outcome,
    grade_floor,
    lab_effective_grade,
    lab_observation,
    lab_result_text,
    local_time,
    resolution_entered_by_hand,
)
from ae.models import AdverseEvent, CTCAETerm, LabResult
from ae.models.events import after_death_error
from ae.models.reference_ranges import sex_words
from ae.rationale_text import lab_result_text_for_reader
from ae.services.episodes import covering_episode, episode_locks, next_episode, open_episode
from ae.services.events import adverse_event_save_revision, revision_value
from ae.services.notifications import data_quality_query_notify, lab_override_query_notify
from core.audit import audit_context
from core.db import constraint_errors
from core.numbers import reader_numbers
from core.outbox import benchmark_request
from core.text import as_clause, clean_reason, visible
from patients.access import RECORDERS, require_role
from patients.models import Patient, TreatmentCycle

LAB_DATA_FIELDS = ("analyte", "value", "unit", "lln", "uln", "collected_at", "baseline", "cycle", "clinical_criteria",
                   "entered_grade", "grade_discrepancy_reason")
#: Highest grade a lab value carries (CTCAE grade 5, death, is recorded on the adverse event: outcome Fatal).
MAX_LAB_GRADE = 4
#: Relatedness and action taken of an episode started by lab values, until someone assesses them on the AE form.
LAB_EPISODE_DEFAULTS = {"relatedness": AdverseEvent.Relatedness.POSSIBLE, "action_taken": AdverseEvent.Action.UNKNOWN}
#: The analyte of a term's episode when none of its values says (calcium and ionized calcium share Hypocalcemia:
#: an episode's own values name theirs).
_ANALYTE_OF_TERM = {term: analyte for analyte, terms in reversed(grading.LAB_TERMS_BY_ANALYTE.items())
                    for term in terms}
#: How long before or after a total calcium its albumin may have been collected to correct it (same sample in
#: practice; one blood draw is often entered as two results minutes apart).
ALBUMIN_FOR_CALCIUM_WITHIN = datetime.timedelta(hours=24)


def _decimal(value: Any) -> Any:
    """A float as the decimal it was typed as (0.9, not 0.90000000000000002220); other values unchanged."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def _after_window(result: LabResult) -> bool:
    """Collected after its cycle's end plus the follow-up window (``TreatmentCycle.window_end``)."""
    window_end = result.cycle.window_end if result.cycle is not None else None
    return window_end is not None and local_time(result.collected_at).date() > window_end


def _lab_treatment_emergent(result: LabResult, baseline: LabResult | None) -> bool | None:
    """ADaM TRTEMFL of a post-baseline lab value (None = cannot be decided).

    Not treatment-emergent: grade 0, collected before any cycle (no treatment yet) or after its cycle's end plus
    the follow-up window. Otherwise treatment-emergent when worse than the baseline grade (no baseline = grade 0).
    With an undetermined baseline grade, a value worse than any grade the baseline can have is treatment-emergent
    (grade ≥ 2 over a count without its LLN, :func:`ae.grading.undetermined_grade_at_most`); else undetermined.
    """
    grade = result.grade
    if grade is None:
        return None
    if grade == 0 or result.cycle is None or _after_window(result):
        return False
    if baseline is None:
        return True
    if baseline.grade is not None and baseline.ctcae_term != result.ctcae_term:
        return True  # the baseline is abnormal the other way (Hyponatremia at baseline, Hypernatremia now): grade 0
    if baseline.grade is None:
        bound = grading.undetermined_grade_at_most(result.analyte)
        return True if bound is not None and grade > bound else None
    return grade > baseline.grade


def _criteria(raw: Any) -> list[str]:
    """The clinical criteria as stored: known names, each once, in :data:`ae.grading.LAB_CRITERIA` order."""
    given = set(raw or ())
    unknown = sorted(given - set(grading.LAB_CRITERIA))
    if unknown:
        raise ValidationError({"clinical_criteria": _("Unknown clinical criterion: %(names)s.") % {
            "names": ", ".join(unknown)}})
    return [name for name in grading.LAB_CRITERIA if name in given]


def _albumin_for(result: LabResult) -> LabResult | None:
    """The albumin that corrects a total calcium (CTCAE v5.0 grades the corrected value): the patient's albumin
    collected nearest to the calcium, within :data:`ALBUMIN_FOR_CALCIUM_WITHIN`; None for other analytes."""
    if result.analyte != "calcium":
        return None
    near = LabResult.objects.filter(
        patient=result.patient, analyte="albumin", collected_at__gte=result.collected_at - ALBUMIN_FOR_CALCIUM_WITHIN,
        collected_at__lte=result.collected_at + ALBUMIN_FOR_CALCIUM_WITHIN)
    return min(near, key=lambda r: (abs(r.collected_at - result.collected_at), -r.pk), default=None)


def _refusal_for_reader(graded_in: Callable[[Callable[[str], str]], grading.Grade],
                        refusal: grading.GradingInputError) -> str:
    """The grading rule's refusal of a lab entry in the reader's language (Django's active one): graded again with
    ``gettext`` so that the values it quotes ("corrected calcium …") are the reader's too, numbers with the
    language's decimal sign; the English refusal's own words translated if grading again does not refuse."""
    try:
        graded_in(_)
    except grading.GradingInputError as again:
        return reader_numbers(again.text(_))
    return refusal.text(_)


def _lab_grade(result: LabResult, baseline: LabResult | None) -> None:
    albumin = _albumin_for(result)

    def graded_in(translate: Callable[[str], str]) -> grading.Grade:
        return grading.grade_lab(
            result.analyte, float(result.value), result.unit, lln=as_float(result.lln), uln=as_float(result.uln),
            baseline=(as_float(baseline.value) if baseline is not None and result.analyte in grading.BASELINE_ANALYTES
                      else None),
            albumin=None if albumin is None else float(albumin.value), albumin_unit=None if albumin is None
            else albumin.unit, translate=translate, **{name: True for name in result.clinical_criteria})

    try:
        graded = graded_in(str)
    except grading.GradingInputError as exc:
        field = ("clinical_criteria" if exc.field in grading.LAB_CRITERIA else
                 exc.field if exc.field in LAB_DATA_FIELDS else "value")
        raise ValidationError({field: _refusal_for_reader(graded_in, exc)}) from exc
    result.computed_grade, result.rationale, result.ctcae_term = graded.grade, graded.rationale, str(graded.ctcae_term)
    result.grade = result.computed_grade if result.entered_grade is None else result.entered_grade
    result.rationale_for_reader = graded_in(_).rationale
    if albumin is not None:
        result.rationale += f" Corrected with {lab_result_text(albumin)}."
        result.rationale_for_reader += " " + _("Corrected with %(albumin)s.") % {
            "albumin": lab_result_text_for_reader(albumin)}
    result.rationale_for_reader = reader_numbers(result.rationale_for_reader)  # "38,5" in Polish


def _entered_grade_check(result: LabResult) -> None:
    """The clinician's grade (``entered_grade``, 0-4) against the computed one, as on the bedside CRS/ICANS forms: a
    different grade needs its reason (ValidationError on ``grade_discrepancy_reason`` naming the computed grade and
    its criterion); an equal grade, or none, keeps no reason. A grade entered over an undetermined computed grade
    (no LLN/ULN) decides it and needs no reason: there is nothing to differ from."""
    entered = result.entered_grade
    if entered is not None and (isinstance(entered, bool) or not isinstance(entered, int)
                                or not 0 <= entered <= MAX_LAB_GRADE):
        raise ValidationError({"entered_grade": _(
            "A lab value's grade is 0–%(max)s; record a death on the adverse event (outcome Fatal).") % {
                "max": MAX_LAB_GRADE}})
    if entered is None or entered == result.computed_grade:
        result.grade_discrepancy_reason = ""
        return
    if result.computed_grade is None:
        result.grade_discrepancy_reason = visible(result.grade_discrepancy_reason or "")
        return
    if not visible(result.grade_discrepancy_reason or ""):
        raise ValidationError({"grade_discrepancy_reason": (
            _("Your grade %(entered)s differs from the computed CTCAE v5.0 grade %(computed)s (%(rationale)s): "
              "give the reason.") % {"entered": entered, "computed": result.computed_grade,
                                     "rationale": as_clause(result.rationale_for_reader or result.rationale)})})
    result.grade_discrepancy_reason = clean_reason(result.grade_discrepancy_reason, field="grade_discrepancy_reason",
                                                   what=_("the reason your grade differs"))


def _graded(result: LabResult) -> str:
    """The reason an episode changed because of ``result``: "Platelet count 18 ×10⁹/L of … graded 4."."""
    text = f"{lab_result_text(result)} graded {'undetermined' if result.grade is None else result.grade}"
    if result.grade and result.treatment_emergent is False:
        text += ", not treatment-emergent (not worse than the cycle's baseline grade)"
    return text + "."


def _episode_start(result: LabResult, *, term: CTCAETerm, acting_user: User,
                   baseline_grade: int | None = None) -> AdverseEvent:
    """A new episode from one treatment-emergent value (not saved yet: it is saved here, then the value)."""
    assert result.cycle is not None  # only values of a cycle feed episodes
    summary = episode_fields(LAB_SCALE, [lab_observation(result, pre_existing=False, baseline_grade=baseline_grade)])
    episode = AdverseEvent(
        patient=result.patient, cycle=result.cycle, term=term, grading_scale=AdverseEvent.GradingScale.CTCAE_V5,
        created_by=acting_user, origin=AdverseEvent.Origin.LAB,
        verbatim_term=grading.LAB_VERBATIM.get((result.analyte, term.term), ""),
        outcome=episode_outcome(None, summary["resolution_date"] is not None), **LAB_EPISODE_DEFAULTS, **summary)
    episode.full_clean()
    with audit_context(reason=f"Started by {_graded(result)}"):
        episode.save()
    data_quality_query_notify(event=episode)  # a clinician's grade against the computed one: a query to review
    benchmark_request(site=result.patient.site, trigger="ae_change")
    return episode


def _episode_sync(episode: AdverseEvent, *, acting_user: User, reason: str, added: LabResult | None = None) -> bool:
    """Recompute the (locked) episode from all its lab values; save a revision with ``reason`` if anything changed.

    See the module docstring for the rule, including the switch to "present before the cycle" when no value of a
    lab-started episode is treatment-emergent any more. ``added``: the value just attached, when that is why; a
    resolution date its other values do not give was then set by hand (the AE form closes a lab-started episode),
    and a value on or before it keeps it, as for an episode entered by hand. Returns whether the episode changed.
    """
    linked = list(episode.lab_results.exclude(grade=None).select_related("cycle").order_by("collected_at", "id"))
    analyte = linked[0].analyte if linked else _ANALYTE_OF_TERM[episode.term.term]
    values = [r for r in linked if not r.baseline]
    baseline = (LabResult.objects.filter(cycle_id=episode.cycle_id, analyte=analyte, baseline=True,
                                         ctcae_term=episode.term.term)
                .exclude(grade=None).first())
    pre_existing = episode.present_before_cycle
    summary: dict[str, Any] = {}
    if (not pre_existing and episode.entered_grade is None and values and baseline is not None and baseline.grade
            and not any(lab_effective_grade(r, pre_existing=False) for r in values)):
        pre_existing = True  # the abnormality was there at the cycle start and has not worsened since
        summary |= {"present_before_cycle": True, "grade_at_cycle_start": baseline.grade}
    observations = [lab_observation(r, pre_existing=pre_existing,
                                    baseline_grade=None if baseline is None else baseline.grade) for r in values]
    if pre_existing and baseline is not None:
        observations.append(lab_observation(baseline, pre_existing=True))
    keep_onset = episode.origin == AdverseEvent.Origin.ENTERED or episode.present_before_cycle
    earlier = None if added is None else [
        o for r, o in zip(values, observations[:len(values)], strict=True) if r.pk != added.pk
    ] + observations[len(values):]  # the baseline's, if any
    fields = episode_fields(LAB_SCALE, observations, entered_grade=grade_floor(episode),
                            entered_onset=episode.onset_date if keep_onset else None,
                            entered_resolution=resolution_entered_by_hand(episode, LAB_SCALE, earlier))
    if fields["grade"] == 0:  # nothing treatment-emergent, no grade by hand, no baseline grade: ask a person
        fields |= {"grade": episode.grade, "onset_date": episode.onset_date,
                   "resolution_date": episode.resolution_date,
                   "grade_discrepancy_reason": "None of this episode's lab values is treatment-emergent any more and "
                                               "the cycle's baseline grade is undetermined: review whether it is an "
                                               "adverse event."}
    summary = fields | summary
    summary["outcome"] = episode_outcome(episode.outcome, summary["resolution_date"] is not None)
    summary["grading_scale"] = AdverseEvent.GradingScale.CTCAE_V5
    changes = {f: [revision_value(getattr(episode, f)), revision_value(v)] for f, v in summary.items()
               if getattr(episode, f) != v}
    if not changes:
        return False
    for field in changes:
        setattr(episode, field, summary[field])
    adverse_event_save_revision(episode, changes=changes, reason=reason, acting_user=acting_user)
    if pre_existing and baseline is not None and baseline.adverse_event_id is None:
        baseline.adverse_event = episode  # the baseline now shows the grade at the cycle start: it feeds the AE
        with audit_context(reason=reason):
            baseline.save(update_fields=["adverse_event"])
    return True


def _value_record(result: LabResult, *, term: CTCAETerm, acting_user: User,
                  baseline_grade: int | None = None) -> None:
    """Save a post-baseline value and feed its episode (module docstring); ``result.episode_changes`` says how."""
    cycle = result.cycle
    feeds = result.grade is not None and not _after_window(result)
    positive = bool(result.grade) and result.treatment_emergent is True
    ongoing = None
    if cycle is not None and feeds:
        # The episode running on the value's day (a late value of a resolved episode's course); for an abnormal
        # value of a day no episode covers, the first episode after it (it started earlier than known: the open
        # one may lie beyond a resolved one); a normal value before an episode began says nothing of its course.
        day = local_time(result.collected_at).date()
        ongoing = covering_episode(cycle=cycle, term=term, day=day)
        if ongoing is None and positive:
            ongoing = next_episode(cycle=cycle, term=term, day=day)
    verbatim = grading.LAB_VERBATIM.get((result.analyte, term.term))
    if ongoing is not None and verbatim and ongoing.verbatim_term.strip().casefold() != verbatim.casefold():
        ongoing = None  # an "Other, specify" episode of another event (not this value's verbatim term)
    if ongoing is None:
        if positive and cycle is not None:
            result.adverse_event = _episode_start(result, term=term, acting_user=acting_user,
                                                  baseline_grade=baseline_grade)
            result.episode_changes = [(result.adverse_event, "created", None)]
        result.save()
        if result.adverse_event is not None:
            _resolved_by_a_later_value(result, acting_user=acting_user)
        return
    if not positive and not ongoing.lab_results.exists():
        result.save()  # a normal value while an episode entered by hand is open: the nurse resolves it there
        return
    before = ongoing.grade
    result.adverse_event = ongoing
    result.save()
    changed = _episode_sync(ongoing, acting_user=acting_user, reason=_graded(result), added=result)
    result.episode_changes = [(ongoing, "updated" if changed else "unchanged", before)]


def _resolved_by_a_later_value(result: LabResult, *, acting_user: User) -> None:
    """Results typed in out of order: the episode ``result`` has just started resolves at the cycle's next graded value
    of its analyte when that value is already recorded and feeds no episode (normal — then shown under the term it
    resolves, as :func:`_episode_term` does —, or of the same term and not worse than the baseline, within the
    follow-up window) — it is linked to the episode, which is recomputed (:func:`_episode_sync`). A later value that
    feeds an episode of its own, is abnormal the other way (a high sodium after a low one) or none recorded leaves
    the new episode open."""
    later = (LabResult.objects.select_for_update(of=("self",)).select_related("cycle")
             .filter(cycle_id=result.cycle_id, analyte=result.analyte, baseline=False,
                     collected_at__gt=result.collected_at).exclude(grade=None).order_by("collected_at", "id").first())
    episode = result.adverse_event
    assert episode is not None
    if (later is None or later.adverse_event_id is not None or _after_window(later)
            or (later.grade and later.treatment_emergent is True)
            or (later.grade and later.ctcae_term != episode.term.term)):  # abnormal the other way: not its end
        return
    later.adverse_event, later.ctcae_term = episode, episode.term.term  # a normal value: the term it resolves
    reason = f"{_graded(result)[:-1]}, entered after {lab_result_text(later)}, which resolves it."
    with audit_context(reason=reason):
        later.save(update_fields=["adverse_event", "ctcae_term"])
    _episode_sync(episode, acting_user=acting_user, reason=reason)


def _episode_term(result: LabResult, terms: dict[str, CTCAETerm]) -> CTCAETerm:
    """The CTCAE term whose episode ``result`` feeds: the one its direction proposes (``result.ctcae_term``); a value
    that proposes none (grade 0 or undetermined) of an analyte with two terms feeds the open lab-followed episode of
    the other term if there is one (a normal sodium resolves the Hypernatremia it followed)."""
    proposed = terms[result.ctcae_term]
    if result.grade or len(terms) == 1 or result.cycle is None:
        return proposed
    for other in terms.values():
        if other.pk == proposed.pk:
            continue
        ongoing = open_episode(cycle=result.cycle, term=other)
        if ongoing is not None and ongoing.lab_results.filter(analyte=result.analyte).exists():
            result.ctcae_term = other.term
            return other
    return proposed


def _state(grade: int | None, treatment_emergent: bool | None) -> str:
    shown = "grade undetermined" if grade is None else f"grade {grade}"
    flag = {True: "treatment-emergent", False: "not treatment-emergent", None: "treatment-emergence undetermined"}
    return f"{shown} ({flag[treatment_emergent]})"


def _baseline_recorded(baseline: LabResult, *, acting_user: User) -> None:
    """Regrade the cycle's later values of the analyte against a baseline recorded after them, with the reason in
    their history, and update the episodes they feed (module docstring)."""
    later = list(LabResult.objects.select_for_update(of=("self",)).select_related("cycle", "patient")
                 .filter(cycle=baseline.cycle, analyte=baseline.analyte, baseline=False).order_by("collected_at", "id"))
    changed: list[tuple[LabResult, str]] = []
    for other in later:
        before = (other.grade, other.treatment_emergent, other.rationale)
        if other.analyte in grading.BASELINE_ANALYTES:
            _lab_grade(other, baseline)
            other.rationale += _range_note(before[2])  # its LLN/ULN are still the site range's
        other.treatment_emergent = _lab_treatment_emergent(other, baseline)
        if (other.grade, other.treatment_emergent, other.rationale) == before:
            continue
        if (other.grade, other.treatment_emergent) == before[:2]:
            what = f"regraded against the baseline, still {_state(other.grade, other.treatment_emergent)}"
        else:
            what = f"regraded from {_state(*before[:2])} to {_state(other.grade, other.treatment_emergent)}"
        changed.append((other, f"{lab_result_text(other)} {what}"))
    baseline.regraded = len(changed)
    if not changed:
        return
    reason = f"Baseline {lab_result_text(baseline)} recorded: {'; '.join(why for _, why in changed)}."
    with audit_context(reason=reason):
        LabResult.objects.bulk_update([r for r, _ in changed], ["grade", "computed_grade", "rationale",
                                                                 "treatment_emergent"])
    # A baseline only lowers grades and TRTEMFL flags, so no value it regrades starts an episode: only the
    # episodes the regraded values feed change.
    fed = {r.adverse_event_id for r, _ in changed if r.adverse_event_id is not None}
    episodes = (AdverseEvent.objects.select_for_update(of=("self",))
                .select_related("cycle", "term", "patient__site").filter(pk__in=fed).order_by("pk"))
    for episode in episodes:
        before_grade = episode.grade
        if _episode_sync(episode, acting_user=acting_user, reason=reason):
            baseline.episode_changes.append((episode, "updated", before_grade))


def _check_collected_at(patient: Patient, collected_at: datetime.datetime | None) -> datetime.datetime:
    """``collected_at`` if it is given, not in the future, not before the patient was born and not after the
    patient's death (``ae.models.events.after_death_error``)."""
    if collected_at is None:
        raise ValidationError({"collected_at": _("Give the date and time the sample was collected.")})
    if collected_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"collected_at": _("The sample cannot have been collected in the future.")})
    day = local_time(collected_at).date()
    if day < patient.birth_month:
        raise ValidationError({"collected_at": _("%(date)s is before the patient was born (%(born)s).") % {
            "date": date_format(day, "d M Y"), "born": date_format(patient.birth_month, "M Y")}})
    after_death = after_death_error(patient, day)
    if after_death:
        raise ValidationError({"collected_at": after_death})
    return collected_at


#: How the stored rationale of a value whose LLN/ULN came from the site's reference range ends (:func:`_site_range`).
_RANGE_NOTE_START = " LLN/ULN from the site reference range ("


def _range_note(rationale: str) -> str:
    """The site-range sentence that ends a stored rationale (:func:`_site_range`), or "" when the value's LLN/ULN
    were typed in: kept when a later baseline regrades the value, since the limits it is graded against stay."""
    start = rationale.find(_RANGE_NOTE_START)
    return "" if start < 0 else rationale[start:]


def _site_range(patient: Patient, analyte: str, unit: str, day: datetime.date,
                data: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """``data`` with the LLN/ULN of the site's reference range for the patient's sex and age on ``day``, converted
    into ``unit``, and the sentence the rationale gets, in English (stored) and in the active language; unchanged
    (and "", "") when the laboratory published none."""
    months = (day.year - patient.birth_month.year) * 12 + (day.month - patient.birth_month.month)
    found = selectors.reference_range_for(site=patient.site, analyte=analyte, sex=patient.sex, age_months=months,
                                          on=day)
    if found is None:
        return data, "", ""
    entry = lab_units.ANALYTES[analyte]
    into = Decimal(str(entry.unit(found.unit).factor / entry.unit(unit).factor))  # type: ignore[union-attr]

    def convert(limit: Decimal | None) -> Decimal | None:
        return None if limit is None else (limit * into).quantize(Decimal("0.0001"))

    with translation.override("en-gb"):  # stored: "female", "male", "both sexes" whoever records it
        english_sex = sex_words(found.sex)
    note = (f"{_RANGE_NOTE_START}{found.source}; valid from {found.valid_from:%d %b %Y}, "
            f"{english_sex}, {found.age_from_months}-{found.age_to_months} months).")
    for_reader = " " + _("LLN/ULN from the site reference range (%(source)s; valid from %(date)s, %(sex)s, "
                         "%(from)s-%(to)s months).") % {
        "source": found.source, "date": date_format(found.valid_from, "d M Y"), "sex": sex_words(found.sex),
        "from": found.age_from_months, "to": found.age_to_months}
    return data | {"lln": convert(found.lln), "uln": convert(found.uln)}, note, for_reader


@transaction.atomic
def lab_result_record(*, patient: Patient, data: dict[str, Any], acting_user: User) -> LabResult:
    """Record and grade one lab value (CTCAE v5.0, :func:`ae.grading.grade_lab`) and feed its AE episode.

    ``data``: analyte, value, unit (one of the analyte's units in :data:`ae.lab_units.ANALYTES`, any accepted
    spelling; stored as its one code), lln, uln (all in ``unit``, each plausible for the analyte in that unit —
    a unit slip is refused naming the likely unit), collected_at (aware datetime, not in the future), baseline
    (bool), cycle (optional; default: the latest cycle started on or before the collection date, or none; for a
    baseline, the first cycle starting on or after it),
    clinical_criteria, and optionally entered_grade (the clinician's grade 0–4; empty = accept the computed grade)
    with grade_discrepancy_reason (required when it differs from the computed grade: :func:`_entered_grade_check`).
    A baseline belongs to a cycle and is collected on or before its start; recording it regrades ALT/AST of
    that cycle against it, recomputes their treatment-emergent flags and updates the episodes they feed (module
    docstring). A post-baseline value is treatment-emergent only if its grade is worse than the baseline grade,
    and then starts or upgrades the episode of its CTCAE term (module docstring).

    Returns the saved LabResult with ``episode_changes`` ([(AdverseEvent, "created"/"updated"/"unchanged", grade
    before)]) and, for a baseline, ``regraded`` (how many later values it regraded). Raises PermissionDenied,
    ValidationError keyed by field (unit not of the analyte, implausible value or limit, negative value, LLN ≥ ULN,
    wrong cycle, second baseline — also when two arrive at once —, an entered grade outside 0–4 or differing from the
    computed grade without its reason).
    """
    require_role(acting_user, patient.site, RECORDERS)
    unknown = set(data) - set(LAB_DATA_FIELDS)
    if unknown:
        raise ValueError(f"unknown lab field(s): {', '.join(sorted(unknown))}")
    collected_at = _check_collected_at(patient, data.get("collected_at"))
    day = local_time(collected_at).date()
    cycle: TreatmentCycle | None = data.get("cycle")
    if cycle is not None and cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": _("This cycle belongs to another patient.")})
    is_baseline = bool(data.get("baseline"))
    if cycle is None and not is_baseline:
        cycle = patient.cycles.filter(start_date__lte=day).order_by("-start_date").first()
    if is_baseline:
        if cycle is None:  # the cycle it precedes: the next one to start
            cycle = patient.cycles.filter(start_date__gte=day).order_by("start_date").first()
        if cycle is None:
            raise ValidationError({"cycle": _(
                "A baseline value belongs to the cycle it precedes, and no cycle of this patient starts on or after "
                "%(date)s: add the cycle first.") % {"date": date_format(day, "d M Y")}})
        if day > cycle.start_date:
            raise ValidationError({"collected_at": _(
                "A baseline is collected on or before the cycle start (%(date)s).") % {
                    "date": date_format(cycle.start_date, "d M Y")}})
    elif cycle is not None and day < cycle.start_date:
        raise ValidationError({"collected_at": _(
            "Before cycle %(cycle)s started: tick 'baseline' if this is the value at the cycle start.") % {
                "cycle": cycle.number}})
    analyte = str(data.get("analyte") or "")
    if analyte not in grading.LAB_ANALYTES:
        raise ValidationError({"analyte": _("Unknown analyte; expected one of %(analytes)s.") % {
            "analytes": ", ".join(grading.LAB_ANALYTES)}})
    if data.get("value") is None:
        raise ValidationError({"value": _("Give the value.")})
    unit, errors = lab_units.entry_errors(analyte, str(data.get("unit") or ""), as_float(data["value"]),
                                          lln=as_float(data.get("lln")), uln=as_float(data.get("uln")), translate=_)
    if errors:  # the reader's language: its decimal separator too
        raise ValidationError({field: reader_numbers(message) for field, message in errors.items()})
    range_note = range_note_for_reader = ""
    if data.get("lln") is None and data.get("uln") is None and unit is not None:  # a range typed in overrides
        data, range_note, range_note_for_reader = _site_range(patient, analyte, str(unit), day, data)
    result = LabResult(patient=patient, cycle=cycle, analyte=analyte, value=_decimal(data.get("value")),
                       unit=str(unit), lln=_decimal(data.get("lln")), uln=_decimal(data.get("uln")),
                       collected_at=collected_at, baseline=is_baseline, entered_by=acting_user,
                       clinical_criteria=_criteria(data.get("clinical_criteria")),
                       entered_grade=data.get("entered_grade"),
                       grade_discrepancy_reason=data.get("grade_discrepancy_reason") or "")
    result.episode_changes = []
    terms = {t.term: t for t in CTCAETerm.objects.filter(term__in=grading.LAB_TERMS_BY_ANALYTE[analyte])}
    baseline = None
    taken = _("Cycle %(cycle)s already has a baseline %(analyte)s value.") % {
        "cycle": cycle.number if cycle else "?", "analyte": ANALYTE_LABELS[analyte]}
    if cycle is not None:
        # values, baselines and episodes of these terms in this cycle, in turn (every term the analyte can propose:
        # one fixed order, so two values of one analyte never wait for each other's second lock)
        episode_locks({(cycle.pk, t.pk) for t in terms.values()})
        baseline = LabResult.objects.filter(cycle=cycle, analyte=analyte, baseline=True).first()
        if is_baseline and baseline is not None:
            raise ValidationError({"baseline": taken})
    _lab_grade(result, None if is_baseline else baseline)
    _entered_grade_check(result)
    term = _episode_term(result, terms)
    result.rationale += range_note
    result.rationale_for_reader += range_note_for_reader
    result.treatment_emergent = None if is_baseline else _lab_treatment_emergent(result, baseline)
    result.full_clean()
    with constraint_errors({"lab_one_baseline_per_cycle_analyte": ("baseline", taken)}):
        if is_baseline:
            result.save()
            _baseline_recorded(result, acting_user=acting_user)
            result.refresh_from_db(fields=["adverse_event"])  # linked when it explains a pre-existing episode
        else:
            _value_record(result, term=term, acting_user=acting_user,
                          baseline_grade=baseline.grade if baseline is not None and baseline.ctcae_term == term.term
                          else None)
    lab_override_query_notify(result=result)  # an override no adverse event shows: a query for the officers
    return result
