"""The frozen content of one SAE case version: the single input of every report that leaves the ward.

A :class:`CaseSnapshot` is built from the database when a case version is frozen (``ae.services.sae``), stored
as JSON on the version (``to_dict``), and read back (``from_dict``) by the writers of CIOMS I, ICH E2B(R3)
and FHIR AdverseEvent (``reports/icsr/``), so the three outputs of one version always say the same thing.

Pure Python (no Django). Dates are ISO 8601 strings: ``date`` fields ``YYYY-MM-DD``; ``datetime`` fields with
their UTC offset (``2026-03-01T14:05:00+01:00``), in the site's time zone. Element names in the comments are
those of the ICH E2B(R3) implementation guide (ICH, 2016; sections C, D, E, G, H).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

MEDDRA_VERSION_OF_CTCAE_5 = "20.1"  # CTCAE v5.0 (NCI, 27 Nov 2017) terms are MedDRA 20.1 LLTs

Outcome = Literal["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"]
Characterisation = Literal["suspect", "concomitant", "interacting", "treatment_of_event"]


@dataclass(frozen=True)
class Seriousness:
    """E.i.3.2 seriousness criteria of one reaction (ICH E2A: any one makes the event serious)."""

    death: bool = False
    life_threatening: bool = False
    hospitalisation: bool = False  # caused or prolonged inpatient hospitalisation
    disability: bool = False  # persistent or significant disability/incapacity
    congenital_anomaly: bool = False
    other_medically_important: bool = False

    @property
    def any(self) -> bool:
        return any(dataclasses.astuple(self))


@dataclass(frozen=True)
class Reaction:
    """E.i: one reaction/event, the graded AE it comes from."""

    adverse_event_id: int
    ctcae_term: str  # NCI CTCAE v5.0 term, as NCI publishes it (E.i.1.1a reaction as reported: verbatim below)
    verbatim: str  # the ward's own words (E.i.1.1a)
    meddra_llt_code: str  # E.i.2.1b, the CTCAE term's MedDRA LLT code
    meddra_version: str  # E.i.2.1a
    grade: int | None  # CTCAE/ASTCT grade 1–5 (None: not graded yet)
    grading_scale: str  # e.g. "CTCAE v5.0", "ASTCT 2019"
    onset: str  # date, E.i.4
    end: str | None  # date, E.i.5 (None: ongoing)
    outcome: Outcome  # E.i.7
    seriousness: Seriousness
    cycle: int | None  # treatment cycle number
    study_day: int | None  # day of the cycle (day 1 = cycle start)


@dataclass(frozen=True)
class Causality:
    """G.k.9.i.2: one assessment of relatedness of the suspect drug to one reaction."""

    adverse_event_id: int
    source: Literal["investigator", "sponsor"]  # G.k.9.i.2.r.1 source of assessment
    method: str  # G.k.9.i.2.r.2, e.g. "Global introspection"
    result: str  # G.k.9.i.2.r.3, e.g. "Related", "Not related", "Possibly related"


@dataclass(frozen=True)
class DosePeriod:
    """G.k.4.r: one dosage period of the suspect drug (one infusion period / dosing step of a cycle)."""

    cycle: int | None
    dose_value: float | None  # G.k.4.r.1a
    dose_unit: str  # G.k.4.r.1b, UCUM-ish: "ug/m2/d", "ug/d"
    route: str  # G.k.4.r.10, e.g. "Continuous intravenous infusion"
    start: str | None  # datetime or date, G.k.4.r.4
    stop: str | None  # datetime or date, G.k.4.r.5 (None: ongoing)
    batch: str = ""  # G.k.4.r.7 batch/lot number, "" unknown


@dataclass(frozen=True)
class Drug:
    """G.k: one drug; the suspect drug is blinatumomab, others are concomitant or treatment of the event."""

    characterisation: Characterisation  # G.k.1 (1 suspect, 2 concomitant, 3 interacting)
    name: str  # G.k.2.2 medicinal product name as reported
    active_substance: str  # G.k.2.3.r.1
    dose_periods: tuple[DosePeriod, ...] = ()
    indication: str = ""  # G.k.7.r.1 (e.g. "B-cell precursor acute lymphoblastic leukaemia, relapsed")
    # G.k.8 action taken: withdrawn, dose_reduced, dose_increased, not_changed, unknown, not_applicable
    action_taken: str = "unknown"
    # dechallenge: did the reaction abate after interruption/stop; rechallenge (G.k.9.i.4): did it recur on
    # re-administration. Each: yes, no, unknown, not_applicable
    dechallenge: str = "unknown"
    rechallenge: str = "unknown"
    causality: tuple[Causality, ...] = ()


@dataclass(frozen=True)
class LabResult:
    """F.r: one test result relevant to the case."""

    name: str  # F.r.2.1 test name (analyte)
    value: float | None
    unit: str
    date: str  # F.r.1
    low: float | None = None  # F.r.4 normal low
    high: float | None = None  # F.r.5 normal high
    grade: int | None = None  # CTCAE grade of the value where graded


@dataclass(frozen=True)
class Patient:
    """D: the patient, pseudonymous (no name: D.1 carries the study ID)."""

    identifier: str  # USUBJID / the study ID (D.1 "patient initials" masked)
    sex: Literal["male", "female", "unknown"]  # D.5
    age_years: int | None  # D.2.2a age at onset of the first reaction, in years
    age_group: str  # D.2.3, e.g. "child" (2–11 y), "adolescent" (12–17 y), "infant", "neonate", "adult"
    weight_kg: float | None = None  # D.3
    height_cm: float | None = None  # D.4
    disease_status: str = ""  # at the cycle of the event, e.g. "M3 marrow (≥ 25 % blasts)"
    prior_hsct: bool | None = None
    prior_car_t: bool | None = None
    medical_history: tuple[str, ...] = ()  # D.7.1 free text lines


@dataclass(frozen=True)
class Reporter:
    """C.2 primary source (the investigator or the ward) and C.3 sender."""

    name: str  # the user's full name (C.2.r.1)
    role: str  # the user's role on the site
    qualification: Literal["physician", "pharmacist", "other_health_professional", "lawyer", "consumer"]  # C.2.r.4
    organisation: str  # C.2.r.2.1, the site's name
    country: str  # C.2.r.3, ISO 3166-1 alpha-2 ("" unknown)


@dataclass(frozen=True)
class CaseSnapshot:
    """One frozen version of an SAE case (C.1 identification ... H narrative)."""

    case_id: str  # C.1.1 sender's safety report unique identifier, e.g. "PVT-KRK-2026-0007"
    version: int  # 1 initial, 2… follow-ups
    report_type: Literal["initial", "follow_up"]
    site_code: str
    site_name: str
    site_timezone: str  # IANA, e.g. "Europe/Warsaw"
    awareness_at: str  # datetime, C.1.4 date report was first received from source
    latest_information_at: str  # datetime, C.1.5 date of most recent information
    created_at: str  # datetime, C.1.2 date of creation of this version
    study_name: str  # C.5.2 / "" outside a study
    study_type: Literal["clinical_trial", "individual_patient_use", "other_study", "none"]  # C.5.4
    reporter: Reporter
    patient: Patient
    reactions: tuple[Reaction, ...]
    drugs: tuple[Drug, ...]  # exactly one with characterisation "suspect" (blinatumomab)
    labs: tuple[LabResult, ...] = ()
    seriousness: Seriousness = field(default_factory=Seriousness)  # of the case: the union over reactions
    expectedness: Literal["expected", "unexpected", "undetermined"] = "undetermined"
    rsi_version: str = ""  # reference safety information version the expectedness was judged against
    susar: bool = False  # serious + related + unexpected
    narrative: str = ""  # H.1
    reporter_comments: str = ""  # H.2
    sender_comments: str = ""  # H.4
    changes_since_previous: tuple[str, ...] = ()  # human-readable, for follow-ups
    signed_by: str = ""  # name of who signed the submission ("" for an unsigned draft)
    signed_at: str | None = None  # datetime

    @property
    def suspect(self) -> Drug:
        """The suspect drug; ``ValueError`` unless exactly one drug is characterised as suspect."""
        suspects = [d for d in self.drugs if d.characterisation == "suspect"]
        if len(suspects) != 1:
            raise ValueError(f"a case needs exactly one suspect drug, found {len(suspects)}")
        return suspects[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists); ``from_dict(to_dict(s)) == s``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseSnapshot:
        """Inverse of :meth:`to_dict`; ``KeyError``/``TypeError`` on a malformed dict."""
        def seriousness(d: dict[str, Any]) -> Seriousness:
            return Seriousness(**d)

        def drug(d: dict[str, Any]) -> Drug:
            return Drug(**{**d, "dose_periods": tuple(DosePeriod(**p) for p in d.get("dose_periods", ())),
                           "causality": tuple(Causality(**c) for c in d.get("causality", ()))})

        return cls(**{
            **data,
            "reporter": Reporter(**data["reporter"]),
            "patient": Patient(**{**data["patient"],
                                  "medical_history": tuple(data["patient"].get("medical_history", ()))}),
            "reactions": tuple(Reaction(**{**r, "seriousness": seriousness(r["seriousness"])})
                               for r in data["reactions"]),
            "drugs": tuple(drug(d) for d in data["drugs"]),
            "labs": tuple(LabResult(**lab) for lab in data.get("labs", ())),
            "seriousness": seriousness(data.get("seriousness", {})),
            "changes_since_previous": tuple(data.get("changes_since_previous", ())),
        })
