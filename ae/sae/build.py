"""Build a :class:`CaseSnapshot` of an SAE case from the database (the reads; the rules are pure modules).

``case_snapshot(case, ...)`` reads the case's events, their cycles' dosing steps and interruptions, the treatments
given for the events, their labs and bedside assessments, and returns the frozen content of one version. Times
are written in the site's time zone (``Site.time_zone``).
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import TYPE_CHECKING, Any, Literal

from django.utils import translation

from ae.models import AdverseEvent, CRSAssessment, EventTreatment, ICANSAssessment, LabResult
from ae.sae import exposure
from ae.sae.narrative import CourseEntry
from ae.sae.snapshot import (
    MEDDRA_VERSION_OF_CTCAE_5,
    CaseSnapshot,
    Causality,
    DosePeriod,
    Drug,
    Outcome,
    Patient,
    Reaction,
    Reporter,
    Seriousness,
)
from ae.sae.snapshot import LabResult as SnapshotLab
from patients.models import TreatmentCycle

if TYPE_CHECKING:
    from ae.models import SAECase

SUSPECT_NAME = "BLINCYTO"
SUSPECT_SUBSTANCE = "blinatumomab"
CAUSALITY_METHOD = "Global introspection"
_OUTCOMES: dict[str, Outcome] = {"RECOVERED/RESOLVED": "recovered", "RECOVERING/RESOLVING": "recovering",
             "NOT RECOVERED/NOT RESOLVED": "not_recovered",
             "RECOVERED/RESOLVED WITH SEQUELAE": "recovered_with_sequelae", "FATAL": "fatal", "UNKNOWN": "unknown"}
_SEX: dict[str, Any] = {"M": "male", "F": "female", "U": "unknown"}
_INDICATION = {
    "primary_refractory": "B-cell precursor acute lymphoblastic leukaemia, primary refractory",
    "relapse_1": "B-cell precursor acute lymphoblastic leukaemia, first relapse",
    "relapse_2": "B-cell precursor acute lymphoblastic leukaemia, second relapse",
    "relapse_3plus": "B-cell precursor acute lymphoblastic leukaemia, third or later relapse",
    "mrd_positive_cr": "B-cell precursor acute lymphoblastic leukaemia, MRD-positive complete remission",
    "chemo_ineligible": "B-cell precursor acute lymphoblastic leukaemia, complete remission, chemotherapy-ineligible",
}
#: G.k.9.i.2.r.3 result of assessment, by the case's causality value: the English labels of ``SAECase.Causality``.
CAUSALITY_RESULTS = {"not_related": "Not related", "unlikely": "Unlikely related", "possible": "Possibly related",
                     "probable": "Probably related", "definite": "Definitely related"}


def age_group(age_days: int) -> str:
    """ICH E2B(R3) D.2.3 age group of an age in days: neonate (< 28 days), infant (< 2 years), child (2–11 years),
    adolescent (12–17 years), adult (18–64), elderly (≥ 65)."""
    years = age_days / 365.25
    if age_days < 28:
        return "neonate"
    for limit, name in ((2, "infant"), (12, "child"), (18, "adolescent"), (65, "adult")):
        if years < limit:
            return name
    return "elderly"


def _age_years(birth_month: datetime.date, on: datetime.date) -> int:
    """Whole years from the birth month (its first day, the only day pvtrack keeps) to ``on``."""
    return on.year - birth_month.year - ((on.month, on.day) < (birth_month.month, birth_month.day))


def _iso(value: datetime.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(zone).isoformat(timespec="minutes")


def case_events(case: SAECase) -> list[AdverseEvent]:
    """The case's adverse events (primary first, then by onset) with term, cycle and patient loaded."""
    return list(AdverseEvent.objects.filter(case_link__case=case)
                .select_related("term", "cycle", "patient__site").order_by("-case_link__primary", "onset_date", "id"))


def suspect_dose_periods(cycles: list[TreatmentCycle], time_zone: str) -> list[DosePeriod]:
    """Dose periods of blinatumomab over ``cycles`` (their dosing steps and interruptions prefetched or read)."""
    periods: list[DosePeriod] = []
    for cycle in sorted(cycles, key=lambda c: c.number):
        steps = [exposure.Step(from_day=s.from_day, dose=s.dose, unit=s.unit, started_at=s.started_at,
                               batch=s.batch_number) for s in cycle.dosing_steps.all()]
        cuts = [exposure.Interruption(i.stopped_at, i.restarted_at) for i in cycle.interruption_log.all()]
        periods += exposure.dose_periods(cycle_number=cycle.number, cycle_start=cycle.start_date,
                                         cycle_end=cycle.end_date, steps=steps, interruptions=cuts,
                                         time_zone=time_zone)
    return periods


def case_snapshot(case: SAECase, *, version: int, report_type: str, signed_by: str = "",
                  signed_at: datetime.datetime | None = None, changes: tuple[str, ...] = (),
                  narrative: str | None = None, now: datetime.datetime | None = None) -> CaseSnapshot:
    """The snapshot of ``case`` as it is now (see module docstring). ``narrative`` None: the case's narrative.
    Built in English whatever the user's language (the analyte, drug, disease-status and oxygen labels): it is
    what is signed and what the CIOMS, E2B and FHIR reports carry."""
    with translation.override("en-gb"):
        return _case_snapshot(case, version=version, report_type=report_type, signed_by=signed_by,
                              signed_at=signed_at, changes=changes, narrative=narrative, now=now)


def _case_snapshot(case: SAECase, *, version: int, report_type: str, signed_by: str,
                   signed_at: datetime.datetime | None, changes: tuple[str, ...], narrative: str | None,
                   now: datetime.datetime | None) -> CaseSnapshot:
    site, patient = case.site, case.patient
    zone = zoneinfo.ZoneInfo(site.time_zone)
    now = now or datetime.datetime.now(datetime.UTC)
    events = case_events(case)
    cycles = list(TreatmentCycle.objects.filter(adverse_events__in=events).distinct()
                  .prefetch_related("dosing_steps", "interruption_log"))
    cycle_of = {c.pk: c for c in cycles}
    first_onset = min((e.onset_date for e in events), default=now.astimezone(zone).date())
    reactions = tuple(Reaction(
        adverse_event_id=e.pk, ctcae_term=e.term.term, verbatim=e.verbatim_term or e.term.term,
        meddra_llt_code=str(e.term.meddra_code), meddra_version=MEDDRA_VERSION_OF_CTCAE_5, grade=e.grade,
        grading_scale=e.get_grading_scale_display(), onset=e.onset_date.isoformat(),
        end=e.resolution_date.isoformat() if e.resolution_date else None, outcome=_OUTCOMES[e.outcome],
        seriousness=Seriousness(death=e.sae_death, life_threatening=e.sae_life_threatening,
                                hospitalisation=e.sae_hospitalization, disability=e.sae_disability,
                                congenital_anomaly=e.sae_congenital_anomaly,
                                other_medically_important=e.sae_medically_important),
        cycle=e.cycle.number, study_day=e.onset_cycle_day) for e in events)
    union = Seriousness(**{f: any(getattr(r.seriousness, f) for r in reactions)
                           for f in Seriousness.__dataclass_fields__})
    sources: tuple[tuple[Literal["investigator", "sponsor"], str], ...] = (
        ("investigator", case.causality_investigator), ("sponsor", case.causality_sponsor))
    causality = tuple(Causality(adverse_event_id=e.pk, source=source, method=CAUSALITY_METHOD,
                                result=CAUSALITY_RESULTS[value]) for source, value in sources if value for e in events)
    suspect = Drug(characterisation="suspect", name=SUSPECT_NAME, active_substance=SUSPECT_SUBSTANCE,
                   dose_periods=tuple(suspect_dose_periods(cycles, site.time_zone)),
                   indication=_INDICATION.get(patient.disease_status, "B-cell precursor acute lymphoblastic "
                                                                        "leukaemia"),
                   action_taken=case.action_taken, dechallenge=case.dechallenge, rechallenge=case.rechallenge,
                   causality=causality)
    given = [Drug(characterisation="treatment_of_event", name=t.drug_name or t.get_drug_display(),
                  active_substance=t.drug_name or t.drug,
                  dose_periods=(DosePeriod(cycle=cycle_of[t.adverse_event.cycle_id].number if t.adverse_event.cycle_id
                                           in cycle_of else None,
                                           dose_value=float(t.dose) if t.dose is not None else None,
                                           dose_unit=t.dose_unit, route="", start=_iso(t.given_at, zone), stop=None),))
             for t in EventTreatment.objects.filter(adverse_event__in=events).select_related("adverse_event")
             .order_by("given_at", "id")]
    labs = tuple(SnapshotLab(name=lab.get_analyte_display(), value=float(lab.value), unit=lab.unit,
                             date=_iso(lab.collected_at, zone) or "", low=float(lab.lln) if lab.lln is not None
                             else None, high=float(lab.uln) if lab.uln is not None else None, grade=lab.grade)
                 for lab in LabResult.objects.filter(adverse_event__in=events).order_by("collected_at", "id"))
    first_cycle = min(cycles, key=lambda c: c.number) if cycles else None
    disease = (first_cycle.get_disease_status_display() if first_cycle is not None and first_cycle.disease_status
               else patient.get_disease_status_display())
    snapshot_patient = Patient(
        identifier=patient.usubjid, sex=_SEX[patient.sex], age_years=_age_years(patient.birth_month, first_onset),
        age_group=age_group((first_onset - patient.birth_month).days),
        weight_kg=float(first_cycle.weight_kg) if first_cycle is not None and first_cycle.weight_kg else None,
        disease_status=disease, prior_hsct=patient.prior_hsct, prior_car_t=patient.prior_car_t)
    reporter = case.reporter
    expectedness = case.expectedness or case.expectedness_proposed
    return CaseSnapshot(
        case_id=case.reference, version=version, report_type=report_type,  # type: ignore[arg-type]
        site_code=site.slug.upper(), site_name=site.name, site_timezone=site.time_zone,
        awareness_at=_iso(case.awareness_at, zone) or "",
        latest_information_at=_iso(case.follow_up_awareness_at or case.awareness_at, zone) or "",
        created_at=_iso(now, zone) or "", study_name="", study_type="individual_patient_use",
        reporter=Reporter(name=reporter.get_full_name() or reporter.get_username(), role=case.reporter_role,
                          qualification="other_health_professional", organisation=site.name,
                          country=site.country),
        patient=snapshot_patient, reactions=reactions, drugs=(suspect, *given), labs=labs, seriousness=union,
        expectedness=expectedness,  # type: ignore[arg-type]
        rsi_version=str(case.rsi) if case.rsi_id else "", susar=case.is_susar,
        narrative=case.narrative if narrative is None else narrative,
        reporter_comments=case.reporter_comments, changes_since_previous=tuple(changes),
        signed_by=signed_by, signed_at=_iso(signed_at, zone))


def case_course(case: SAECase) -> list[CourseEntry]:
    """The course of the case's events from their bedside assessments and graded labs, in site time, in English
    (it goes into the snapshot and its reports, as :func:`case_snapshot`)."""
    with translation.override("en-gb"):
        return _case_course(case)


def _case_course(case: SAECase) -> list[CourseEntry]:
    zone = zoneinfo.ZoneInfo(case.site.time_zone)
    events = AdverseEvent.objects.filter(case_link__case=case)
    entries = [CourseEntry(_iso(a.assessed_at, zone) or "",
                           f"CRS assessment, ASTCT grade {a.astct_grade}"
                           + (f", temperature {a.temperature_c} °C" if a.temperature_c is not None else "")
                           + (", hypotension" if a.hypotension else "")
                           + (f", vasopressors {', '.join(a.vasopressors)}" if a.vasopressors else "")
                           + (f", oxygen {a.get_oxygen_device_display()}" if a.oxygen_device != "none" else ""))
               for a in CRSAssessment.objects.filter(adverse_event__in=events).order_by("assessed_at")]
    entries += [CourseEntry(_iso(a.assessed_at, zone) or "",
                            f"ICANS assessment ({a.tool.upper()}"
                            + (f" score {a.score}" if a.score is not None else "") + f"), ASTCT grade {a.grade}")
                for a in ICANSAssessment.objects.filter(adverse_event__in=events).order_by("assessed_at")]
    entries += [CourseEntry(_iso(lab.collected_at, zone) or "",
                            f"{lab.get_analyte_display()} {lab.value.normalize():f} {lab.unit}"
                            + (f" (CTCAE grade {lab.grade})" if lab.grade else ""))
                for lab in LabResult.objects.filter(adverse_event__in=events).order_by("collected_at")]
    return sorted(entries, key=lambda c: c.at)


