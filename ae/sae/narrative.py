"""The draft narrative of a case (ICH E2B(R3) H.1 "case narrative"), written from the frozen record: pure Python.

Order follows CIOMS Working Group V / ICH E2D practice for a case narrative: patient (age band, sex), disease and
prior therapy, exposure (cycle, day, dose), the course of the event (bedside assessments and labs, in time order),
interventions, outcome and the assessments. No names: the study ID only. The reviewer edits the draft; the edited
text is what a version keeps (``SAECase.narrative``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ae.sae.snapshot import CaseSnapshot

_SEX = {"male": "male", "female": "female", "unknown": "patient of unrecorded sex"}


@dataclass(frozen=True)
class CourseEntry:
    """One dated line of the event's course: a bedside assessment, a lab result or an intervention."""

    at: str  # ISO date or datetime, site time
    text: str


def _yes_no(value: bool | None, what: str) -> str:
    return f"no {what}" if value is False else (what if value else f"{what} not recorded")


def narrative_draft(snapshot: CaseSnapshot, course: Sequence[CourseEntry] = ()) -> str:
    """Paragraphs of plain text (see module docstring). ``ValueError`` if the snapshot has no suspect drug."""
    p, suspect = snapshot.patient, snapshot.suspect
    age = f"{p.age_years}-year-old" if p.age_years is not None else "age not recorded"
    lines = [f"A {age} {_SEX[p.sex]} ({p.age_group}; study ID {p.identifier}) with "
             f"{suspect.indication or 'B-cell precursor acute lymphoblastic leukaemia'}"
             + (f", disease status at the cycle: {p.disease_status}" if p.disease_status else "")
             + f"; {_yes_no(p.prior_hsct, 'prior HSCT')}, {_yes_no(p.prior_car_t, 'prior CAR-T')}."]
    first = snapshot.reactions[0] if snapshot.reactions else None
    periods = suspect.dose_periods
    if periods:
        dose = "; ".join(f"{d.dose_value:g} {d.dose_unit} from {d.start}" + (f" to {d.stop}" if d.stop else "")
                         for d in periods)
        lines.append(f"{suspect.name} ({suspect.active_substance}) by {periods[0].route.lower()}: {dose}.")
    else:
        lines.append(f"{suspect.name} ({suspect.active_substance}): dosing not recorded.")
    for r in snapshot.reactions:
        where = (f"cycle {r.cycle}, day {r.study_day}" if r.cycle is not None and r.study_day is not None
                 else "cycle not recorded")
        grade = f"grade {r.grade} ({r.grading_scale})" if r.grade is not None else "not graded"
        criteria = [name.replace("_", " ") for name, ticked in vars(r.seriousness).items() if ticked]
        lines.append(f"On {r.onset} ({where}) the patient developed {r.ctcae_term}"
                     + (f" (reported as \"{r.verbatim}\")" if r.verbatim and r.verbatim != r.ctcae_term else "")
                     + f", {grade}; serious: {', '.join(criteria) or 'no criterion'}.")
    if course:
        lines.append("Course: " + " ".join(f"{c.at}: {c.text}." for c in sorted(course, key=lambda c: c.at)))
    given = [d for d in snapshot.drugs if d.characterisation == "treatment_of_event"]
    if given:
        lines.append("Treatment of the event: " + "; ".join(
            d.name + (" " + ", ".join(f"{x.dose_value:g} {x.dose_unit} at {x.start}" for x in d.dose_periods)
                      if d.dose_periods else "") for d in given) + ".")
    lines.append(f"Action taken with {suspect.name}: {suspect.action_taken.replace('_', ' ')}; dechallenge: "
                 f"{suspect.dechallenge.replace('_', ' ')}; rechallenge: {suspect.rechallenge.replace('_', ' ')}.")
    outcomes = "; ".join(f"{r.ctcae_term}: {r.outcome.replace('_', ' ')}" + (f" on {r.end}" if r.end else "")
                         for r in snapshot.reactions)
    lines.append(f"Outcome: {outcomes or 'not recorded'}.")
    causality = "; ".join(f"{c.source}: {c.result}" for c in suspect.causality)
    lines.append(f"Causality to {suspect.active_substance}: {causality or 'not assessed'}. Expectedness: "
                 f"{snapshot.expectedness}" + (f" (RSI {snapshot.rsi_version})" if snapshot.rsi_version else "") + ".")
    if first is None:
        lines.append("No reaction is linked to the case yet.")
    return "\n\n".join(lines)
