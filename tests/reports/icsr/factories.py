"""Example SAE case versions (:class:`ae.sae.snapshot.CaseSnapshot`) for the ICSR writers' tests.

Three realistic, invented cases of the paediatric blinatumomab ward (no real patient):

* :func:`crs_initial` — a 7-year-old boy on cycle 1 of blinatumomab for relapsed B-cell precursor ALL: continuous
  IV infusion at 5 µg/m²/day from day 1, the dose of cycle 1 days 1–7 before the step to 15 µg/m²/day on day 8
  (Blincyto EU SmPC, section 4.2, "Paediatric population", patients < 45 kg). Grade 4 cytokine release syndrome
  (CTCAE v5.0 "Cytokine release syndrome", MedDRA LLT 10052015 as NCI published it with CTCAE v5.0) on day 2;
  the infusion is stopped for good (SmPC 4.2: grade 4 CRS → discontinue permanently), tocilizumab 12 mg/kg IV
  (the RoActemra/Actemra posology for CRS in patients < 30 kg) and dexamethasone 5 mg/m² IV are given. Initial
  report the day after: recovering, SUSAR = False (CRS is listed in SmPC 4.8: expected).
* :func:`crs_follow_up` — version 2 of the same case: the CRS resolved on day 5 (recovered), signed.
* :func:`fatal_icans` — a 14-year-old girl, post-HSCT, cycle 2 at 15 µg/m²/day: ICANS graded 4 then 5
  (ASTCT 2019 consensus grading, recorded as the CTCAE v5.0 term "Encephalopathy", MedDRA LLT 10014625, with the
  verbatim "ICANS", as ``ae.episodes`` does) with a grade 3 seizure (CTCAE "Seizure", LLT 10039906); she died on
  day 6 — a fatal case that ticks "patient died" and fills D.9 in E2B(R3).

Dates are in the site's zone (Europe/Warsaw); the CRS case's cycle crosses no DST change, the follow-up is signed
in CET. The fatal case is in May (CEST, +02:00).
"""

from __future__ import annotations

import dataclasses

from ae.sae.snapshot import (
    MEDDRA_VERSION_OF_CTCAE_5,
    CaseSnapshot,
    Causality,
    DosePeriod,
    Drug,
    LabResult,
    Patient,
    Reaction,
    Reporter,
    Seriousness,
)

INDICATION = "B-cell precursor acute lymphoblastic leukaemia, relapsed"

KRAKOW_INVESTIGATOR = Reporter(
    name="Anna Nowak",
    role="investigator",
    qualification="physician",
    organisation="University Children's Hospital Kraków",
    country="PL",
)


def _blinatumomab(periods: tuple[DosePeriod, ...], causality: tuple[Causality, ...], **extra: str) -> Drug:
    return Drug(
        characterisation="suspect",
        name="Blincyto",
        active_substance="blinatumomab",
        dose_periods=periods,
        indication=INDICATION,
        causality=causality,
        **extra,
    )


def crs_initial() -> CaseSnapshot:
    """Version 1 (initial) of a grade 4 CRS case, day 2 of cycle 1; unsigned draft content frozen for submission."""
    crs = Reaction(
        adverse_event_id=101,
        ctcae_term="Cytokine release syndrome",
        verbatim="CRS gr 4 - hypotension on adrenaline, high-flow O2",
        meddra_llt_code="10052015",
        meddra_version=MEDDRA_VERSION_OF_CTCAE_5,
        grade=4,
        grading_scale="CTCAE v5.0",
        onset="2026-03-03",
        end=None,
        outcome="recovering",
        seriousness=Seriousness(life_threatening=True, hospitalisation=True),
        cycle=1,
        study_day=2,
    )
    return CaseSnapshot(
        case_id="PVT-KRK-2026-0007",
        version=1,
        report_type="initial",
        site_code="KRK",
        site_name="University Children's Hospital Kraków",
        site_timezone="Europe/Warsaw",
        awareness_at="2026-03-03T16:10:00+01:00",
        latest_information_at="2026-03-03T22:40:00+01:00",
        created_at="2026-03-04T09:30:00+01:00",
        study_name="",
        study_type="none",
        reporter=KRAKOW_INVESTIGATOR,
        patient=Patient(
            identifier="KRK-0042",
            sex="male",
            age_years=7,
            age_group="child",
            weight_kg=24.0,
            height_cm=122.0,
            disease_status="M3 marrow (≥ 25 % blasts) before cycle 1",
            prior_hsct=False,
            prior_car_t=False,
            medical_history=("B-cell precursor ALL diagnosed 2024, first bone-marrow relapse January 2026",),
        ),
        reactions=(crs,),
        drugs=(
            _blinatumomab(
                periods=(
                    DosePeriod(cycle=1, dose_value=5.0, dose_unit="ug/m2/d", route="Continuous intravenous infusion",
                               start="2026-03-02T10:00:00+01:00", stop="2026-03-03T16:30:00+01:00", batch="1234567A"),
                ),
                causality=(Causality(adverse_event_id=101, source="investigator", method="Global introspection",
                                     result="Related"),),
                action_taken="withdrawn",
                dechallenge="yes",
                rechallenge="not_applicable",
            ),
            Drug(characterisation="treatment_of_event", name="RoActemra", active_substance="tocilizumab",
                 dose_periods=(DosePeriod(cycle=1, dose_value=12.0, dose_unit="mg/kg", route="Intravenous",
                                          start="2026-03-03T17:05:00+01:00", stop="2026-03-03T18:05:00+01:00"),),
                 indication="Cytokine release syndrome", action_taken="not_applicable",
                 dechallenge="not_applicable", rechallenge="not_applicable"),
            Drug(characterisation="treatment_of_event", name="Dexamethasone", active_substance="dexamethasone",
                 dose_periods=(DosePeriod(cycle=1, dose_value=5.0, dose_unit="mg/m2", route="Intravenous",
                                          start="2026-03-03T17:30:00+01:00", stop=None),),
                 indication="Cytokine release syndrome", action_taken="not_applicable",
                 dechallenge="not_applicable", rechallenge="not_applicable"),
            Drug(characterisation="concomitant", name="Co-trimoxazole",
                 active_substance="sulfamethoxazole; trimethoprim",
                 dose_periods=(DosePeriod(cycle=1, dose_value=5.0, dose_unit="mg/kg", route="Oral",
                                          start="2026-02-20", stop=None),),
                 indication="Pneumocystis prophylaxis", action_taken="not_changed"),
        ),
        labs=(
            LabResult(name="C-reactive protein", value=182.0, unit="mg/L", date="2026-03-03", low=0.0, high=5.0),
            LabResult(name="Ferritin", value=4120.0, unit="ug/L", date="2026-03-03", low=7.0, high=140.0),
        ),
        seriousness=Seriousness(life_threatening=True, hospitalisation=True),
        expectedness="expected",
        rsi_version="Blincyto EU SmPC, section 4.8",
        susar=False,
        narrative=(
            "A 7-year-old boy with relapsed B-cell precursor ALL (M3 marrow) started cycle 1 of blinatumomab "
            "5 ug/m2/day by continuous IV infusion on 2 March 2026 at 10:00. On day 2 (3 March) he developed fever "
            "39.8 C, hypotension requiring adrenaline and hypoxia requiring high-flow oxygen: cytokine release "
            "syndrome, CTCAE v5.0 grade 4. The infusion was stopped at 16:30 and not restarted. Tocilizumab "
            "12 mg/kg IV was given at 17:05 and dexamethasone 5 mg/m2 IV from 17:30. CRP 182 mg/L, ferritin "
            "4120 ug/L. At the time of this report he is recovering on the paediatric intensive care unit."
        ),
        reporter_comments="Temporal relationship and known mechanism: related to blinatumomab.",
    )


def crs_follow_up() -> CaseSnapshot:
    """Version 2 (follow-up) of :func:`crs_initial`: the CRS resolved on 6 March (day 5); signed."""
    initial = crs_initial()
    crs = dataclasses.replace(initial.reactions[0], end="2026-03-06", outcome="recovered")
    dex = dataclasses.replace(initial.drugs[2], dose_periods=(
        dataclasses.replace(initial.drugs[2].dose_periods[0], stop="2026-03-05T17:30:00+01:00"),))
    return dataclasses.replace(
        initial,
        version=2,
        report_type="follow_up",
        latest_information_at="2026-03-06T12:00:00+01:00",
        created_at="2026-03-09T08:45:00+01:00",
        reactions=(crs,),
        drugs=(initial.drugs[0], initial.drugs[1], dex, initial.drugs[3]),
        narrative=initial.narrative.replace(
            "At the time of this report he is recovering on the paediatric intensive care unit.",
            "He left the paediatric intensive care unit on 5 March; the CRS resolved on 6 March 2026 (day 5). "
            "Dexamethasone was stopped on 5 March. Blinatumomab was permanently discontinued.",
        ),
        changes_since_previous=("Cytokine release syndrome: outcome recovering → recovered",
                                "Cytokine release syndrome: end date — → 2026-03-06",
                                "Dexamethasone: stop — → 2026-03-05 17:30"),
        signed_by="Anna Nowak",
        signed_at="2026-03-09T09:02:00+01:00",
    )


def fatal_icans() -> CaseSnapshot:
    """Version 1 of a fatal ICANS case (grade 5, ASTCT 2019) with a grade 3 seizure, cycle 2 day 3; signed."""
    icans = Reaction(
        adverse_event_id=201,
        ctcae_term="Encephalopathy",
        verbatim="ICANS",
        meddra_llt_code="10014625",
        meddra_version=MEDDRA_VERSION_OF_CTCAE_5,
        grade=5,
        grading_scale="ASTCT 2019",
        onset="2026-05-13",
        end="2026-05-16",
        outcome="fatal",
        seriousness=Seriousness(death=True, life_threatening=True, hospitalisation=True),
        cycle=2,
        study_day=3,
    )
    seizure = Reaction(
        adverse_event_id=202,
        ctcae_term="Seizure",
        verbatim="generalised tonic-clonic seizure",
        meddra_llt_code="10039906",
        meddra_version=MEDDRA_VERSION_OF_CTCAE_5,
        grade=3,
        grading_scale="CTCAE v5.0",
        onset="2026-05-14",
        end="2026-05-14",
        outcome="recovered",
        seriousness=Seriousness(other_medically_important=True),
        cycle=2,
        study_day=4,
    )
    return CaseSnapshot(
        case_id="PVT-KRK-2026-0011",
        version=1,
        report_type="initial",
        site_code="KRK",
        site_name="University Children's Hospital Kraków",
        site_timezone="Europe/Warsaw",
        awareness_at="2026-05-13T08:20:00+02:00",
        latest_information_at="2026-05-16T06:15:00+02:00",
        created_at="2026-05-16T10:00:00+02:00",
        study_name="Blinatumomab paediatric expanded access",
        study_type="individual_patient_use",
        reporter=KRAKOW_INVESTIGATOR,
        patient=Patient(
            identifier="KRK-0057",
            sex="female",
            age_years=14,
            age_group="adolescent",
            weight_kg=47.5,
            height_cm=158.0,
            disease_status="MRD 0.3 % before cycle 2",
            prior_hsct=True,
            prior_car_t=False,
            medical_history=("Allogeneic HSCT 2025 (matched unrelated donor)", "Second relapse March 2026"),
        ),
        reactions=(icans, seizure),
        drugs=(
            _blinatumomab(
                periods=(
                    DosePeriod(cycle=2, dose_value=15.0, dose_unit="ug/m2/d", route="Continuous intravenous infusion",
                               start="2026-05-11T09:00:00+02:00", stop="2026-05-13T09:10:00+02:00"),
                ),
                causality=(
                    Causality(adverse_event_id=201, source="investigator", method="Global introspection",
                              result="Related"),
                    Causality(adverse_event_id=202, source="investigator", method="Global introspection",
                              result="Possibly related"),
                ),
                action_taken="withdrawn",
                dechallenge="no",
                rechallenge="not_applicable",
            ),
            Drug(characterisation="treatment_of_event", name="Levetiracetam", active_substance="levetiracetam",
                 dose_periods=(DosePeriod(cycle=2, dose_value=20.0, dose_unit="mg/kg", route="Intravenous",
                                          start="2026-05-14T03:40:00+02:00", stop=None),),
                 indication="Seizure", action_taken="not_applicable"),
            Drug(characterisation="treatment_of_event", name="Dexamethasone", active_substance="dexamethasone",
                 dose_periods=(DosePeriod(cycle=2, dose_value=10.0, dose_unit="mg/m2", route="Intravenous",
                                          start="2026-05-13T10:00:00+02:00", stop="2026-05-16T06:00:00+02:00"),),
                 indication="Immune effector cell-associated neurotoxicity syndrome", action_taken="not_applicable"),
        ),
        seriousness=Seriousness(death=True, life_threatening=True, hospitalisation=True,
                                other_medically_important=True),
        expectedness="expected",
        rsi_version="Blincyto EU SmPC, section 4.8",
        susar=False,
        narrative=(
            "A 14-year-old girl, 10 months after allogeneic HSCT, started cycle 2 of blinatumomab 15 ug/m2/day on "
            "11 May 2026. On day 3 she became somnolent with expressive aphasia (ICE score 3): ICANS, ASTCT grade 2, "
            "rising to grade 4 on day 4 with a generalised seizure (CTCAE grade 3). The infusion was stopped on "
            "13 May at 09:10. Despite dexamethasone, levetiracetam and intensive care she developed cerebral "
            "oedema and died on 16 May 2026 (ICANS grade 5)."
        ),
        signed_by="Anna Nowak",
        signed_at="2026-05-16T10:20:00+02:00",
    )


def as_built_by_the_ward() -> CaseSnapshot:
    """:func:`crs_initial` in the shape ``ae.sae.build.case_snapshot`` gives it today: times to the minute, lab
    times (not dates), pvtrack's stored dose-unit codes for treatments, no route for them, no reporter country,
    individual patient use without a study name, and both the investigator's and the sponsor's causality."""
    case = crs_initial()
    suspect = dataclasses.replace(case.drugs[0], name="BLINCYTO", causality=(
        Causality(adverse_event_id=101, source="investigator", method="Global introspection",
                  result="Probably related"),
        Causality(adverse_event_id=101, source="sponsor", method="Global introspection", result="Possibly related"),
    ))
    tocilizumab = Drug(characterisation="treatment_of_event", name="Tocilizumab", active_substance="tocilizumab",
                       dose_periods=(DosePeriod(cycle=1, dose_value=12.0, dose_unit="mg_kg", route="",
                                                start="2026-03-03T17:05+01:00", stop=None),))
    steroid = Drug(characterisation="treatment_of_event",
                   name="Corticosteroid (e.g. dexamethasone, methylprednisolone)", active_substance="corticosteroid",
                   dose_periods=(DosePeriod(cycle=1, dose_value=5.0, dose_unit="mg_m2", route="",
                                            start="2026-03-03T17:30+01:00", stop=None),))
    return dataclasses.replace(
        case, awareness_at="2026-03-03T16:10+01:00", latest_information_at="2026-03-03T16:10+01:00",
        created_at="2026-03-04T09:30+01:00", study_type="individual_patient_use", study_name="",
        reporter=dataclasses.replace(case.reporter, country="", qualification="other_health_professional"),
        drugs=(suspect, tocilizumab, steroid),
        labs=(LabResult(name="C-reactive protein", value=182.0, unit="mg/L", date="2026-03-03T18:00+01:00",
                        low=None, high=5.0),),
    )
