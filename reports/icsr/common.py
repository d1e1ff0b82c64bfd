"""What the three ICSR writers share: the checks a case version must pass, dates and dose units.

Pure Python (no Django). Every writer calls :func:`check` first, so a case that cannot make a valid report
(no suspect drug, no reaction, a reaction without its MedDRA code, a malformed date) raises
:class:`IcsrError` naming the field before any byte is written.
"""

from __future__ import annotations

import datetime
import re

from ae.sae.snapshot import CaseSnapshot, DosePeriod, Drug, Reaction

_DOSE_UNIT_PER_TIME = re.compile(r"^(?P<unit>.+)/(?P<per>d|h|min)$")
# pvtrack's stored dose-unit choices (patients DosingStep, ae EventTreatment) → UCUM; a unit already in UCUM passes
PVTRACK_UNITS = {"ug_m2_day": "ug/m2/d", "ug_day": "ug/d", "mg": "mg", "mg_kg": "mg/kg", "mg_m2": "mg/m2",
                 "ug_kg_min": "ug/kg/min"}


# the snapshot's Literal types (ae.sae.snapshot), checked because ``from_dict`` reads JSON without checking them
OUTCOMES = {"recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"}
CHARACTERISATIONS = {"suspect", "concomitant", "interacting", "treatment_of_event"}
STUDY_TYPES = {"clinical_trial", "individual_patient_use", "other_study", "none"}
QUALIFICATIONS = {"physician", "pharmacist", "other_health_professional", "lawyer", "consumer"}
SEXES = {"male", "female", "unknown"}
REPORT_TYPES = {"initial", "follow_up"}


class IcsrError(ValueError):
    """The case version cannot be rendered; the message names the field (E2B element where there is one)."""


def check(snapshot: CaseSnapshot) -> None:
    """Raise :class:`IcsrError` unless ``snapshot`` has what every output needs.

    Needed: a case ID (C.1.1), exactly one suspect drug (G.k.1 = 1), at least one reaction (E.i), each with a
    MedDRA LLT code and version (E.i.2.1a/b) and a valid onset date (E.i.4); every date parses as ISO 8601.
    """
    if not snapshot.case_id.strip():
        raise IcsrError("C.1.1: the case has no identifier")
    try:
        _ = snapshot.suspect
    except ValueError as exc:
        raise IcsrError(f"G.k.1: {exc}") from exc
    for drug in snapshot.drugs:
        if not clean_text(drug.name).strip():
            raise IcsrError(f"G.k.2.2: a {drug.characterisation.replace('_', ' ')} drug has no name")
    if not snapshot.reactions:
        raise IcsrError("E.i: the case has no reaction")
    for number, reaction in enumerate(snapshot.reactions, start=1):
        if not reaction.meddra_llt_code.isdigit() or len(reaction.meddra_llt_code) != 8:
            raise IcsrError(f"E.i.2.1b: reaction {number} ({reaction.ctcae_term}) has no 8-digit MedDRA LLT code")
        if not reaction.meddra_version:
            raise IcsrError(f"E.i.2.1a: reaction {number} ({reaction.ctcae_term}) has no MedDRA version")
        if reaction.grade is not None and not 1 <= reaction.grade <= 5:
            raise IcsrError(f"reaction {number} ({reaction.ctcae_term}): grade {reaction.grade} is not 1–5")
        if reaction.outcome not in OUTCOMES:
            raise IcsrError(f"E.i.7: reaction {number} has the unknown outcome {reaction.outcome!r}")
        onset = parse(reaction.onset, f"E.i.4 (reaction {number})")
        if reaction.end and _day(parse(reaction.end, f"E.i.5 (reaction {number})")) < _day(onset):
            raise IcsrError(f"E.i.5: reaction {number} ({reaction.ctcae_term}) ends before its onset")
    for name, moment in (("C.1.2", snapshot.created_at), ("C.1.4", snapshot.awareness_at),
                         ("C.1.5", snapshot.latest_information_at), ("signature time", snapshot.signed_at)):
        if moment is not None:
            parse(moment, name)
    for drug in snapshot.drugs:
        if drug.characterisation not in CHARACTERISATIONS:
            raise IcsrError(f"G.k.1: {drug.name} has the unknown characterisation {drug.characterisation!r}")
        for period in drug.dose_periods:
            for value in (period.start, period.stop):
                if value:
                    parse(value, f"G.k.4.r.4/5 ({drug.name})")
    for lab in snapshot.labs:
        parse(lab.date, f"F.r.1 ({lab.name})")
    for element, value, allowed in (
            ("C.1.3", snapshot.study_type, STUDY_TYPES), ("C.2.r.4", snapshot.reporter.qualification, QUALIFICATIONS),
            ("D.5", snapshot.patient.sex, SEXES), ("report type", snapshot.report_type, REPORT_TYPES)):
        if value not in allowed:
            raise IcsrError(f"{element}: unknown value {value!r}")


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 and FHIR strings cannot carry: control characters other than tab,
    line feed and carriage return, lone surrogates, U+FFFE and U+FFFF. They are invisible (a pasted NUL, a
    vertical tab), so dropping them loses nothing a reader could see."""
    return "".join(ch for ch in text if (ch >= " " or ch in "\t\n\r") and not 0xD800 <= ord(ch) <= 0xDFFF
                   and ch not in "\ufffe\uffff" and not "\x7f" <= ch <= "\x9f")


def parse(value: str, element: str) -> datetime.date | datetime.datetime:
    """An ISO 8601 date (``YYYY-MM-DD``) or datetime with its offset; :class:`IcsrError` naming ``element``."""
    try:
        moment = datetime.datetime.fromisoformat(value) if "T" in value else datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise IcsrError(f"{element}: {value!r} is not an ISO 8601 date or datetime") from exc
    if isinstance(moment, datetime.datetime) and moment.utcoffset() is None:
        raise IcsrError(f"{element}: {value!r} has no UTC offset")
    return moment


def _day(moment: datetime.date) -> datetime.date:
    return moment.date() if isinstance(moment, datetime.datetime) else moment


def hl7_ts(value: str) -> str:
    """HL7 v3 TS of an ISO date or datetime: ``20260303`` or ``20260303161000+0100`` (the offset kept)."""
    moment = parse(value, "date")
    if isinstance(moment, datetime.datetime):
        return moment.strftime("%Y%m%d%H%M%S%z")
    return moment.strftime("%Y%m%d")


def day_month_year(value: str | None) -> str:
    """``03 MAR 2026`` (the CIOMS I form's day / month / year); "" for None."""
    if not value:
        return ""
    moment = parse(value, "date")
    return moment.strftime("%d %b %Y").upper()


def ucum(unit: str) -> str:
    """The UCUM form of a dose unit: pvtrack's choice codes (``ug_m2_day``, ``mg_kg`` …) mapped, ``/day`` written
    ``/d``, ``µg`` written ``ug``; anything else returned as given."""
    unit = PVTRACK_UNITS.get(unit, unit).replace("µg", "ug").replace("μg", "ug").replace("²", "2")
    return re.sub(r"/day$", "/d", unit)


def split_dose_unit(unit: str) -> tuple[str, str | None]:
    """(dose unit, period unit) of a snapshot dose unit in UCUM: ``ug/m2/d`` → (``ug/m2``, ``d``), ``ug/kg/min`` →
    (``ug/kg``, ``min``), ``mg/kg`` → (``mg/kg``, None). E2B(R3) carries a daily dose as dose G.k.4.r.1 per
    interval G.k.4.r.2/3 of 1 day (a rate per 1 minute or hour likewise)."""
    unit = ucum(unit)
    match = _DOSE_UNIT_PER_TIME.match(unit)
    if match and "/" not in match.group("unit").replace("/m2", "").replace("/kg", ""):
        return match.group("unit"), match.group("per")
    return unit, None


def dose_text(period: DosePeriod) -> str:
    """Human-readable dosage: ``5 ug/m2/d, Continuous intravenous infusion, cycle 1`` (G.k.4.r.8, CIOMS 15)."""
    parts = []
    if period.dose_value is not None:
        parts.append(f"{period.dose_value:g} {ucum(period.dose_unit)}".strip())
    if period.route:
        parts.append(period.route)
    if period.cycle is not None:
        parts.append(f"cycle {period.cycle}")
    return ", ".join(parts)


def as_reported(reaction: Reaction) -> str:
    """E.i.1.1a reaction as reported: the ward's verbatim, or the CTCAE term when the verbatim is blank."""
    return clean_text(reaction.verbatim).strip() or reaction.ctcae_term


def grade_text(reaction: Reaction) -> str:
    """``Cytokine release syndrome, grade 4 (CTCAE v5.0)``; "not graded" where the grade is missing."""
    grade = f"grade {reaction.grade}" if reaction.grade is not None else "not graded"
    return f"{reaction.ctcae_term}, {grade} ({reaction.grading_scale})"


def reactions_of(snapshot: CaseSnapshot, drug: Drug) -> list[tuple[Reaction, str]]:
    """(reaction, causality result) for each of ``drug``'s causality assessments whose reaction is in the case."""
    by_id = {reaction.adverse_event_id: reaction for reaction in snapshot.reactions}
    return [(by_id[c.adverse_event_id], c.result) for c in drug.causality if c.adverse_event_id in by_id]


MEDDRA_NOTE = ("Reactions are coded with the MedDRA LLT code that NCI assigned to each CTCAE v5.0 term; "
               "CTCAE v5.0 is built on MedDRA version 20.1.")
