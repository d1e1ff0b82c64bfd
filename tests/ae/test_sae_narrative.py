"""The draft narrative (ae/sae/narrative.py) says what a reviewer needs, in order, from the snapshot alone."""

import pytest

from ae.sae.narrative import CourseEntry, narrative_draft
from ae.sae.snapshot import (
    CaseSnapshot,
    Causality,
    DosePeriod,
    Drug,
    Patient,
    Reaction,
    Reporter,
    Seriousness,
)


def snapshot(**overrides) -> CaseSnapshot:
    crs = Reaction(adverse_event_id=7, ctcae_term="Cytokine release syndrome", verbatim="CRS",
                   meddra_llt_code="10052015", meddra_version="20.1", grade=4,
                   grading_scale="ASTCT 2019 consensus (CRS/ICANS)", onset="2026-01-07",
                   end="2026-01-11", outcome="recovered", seriousness=Seriousness(life_threatening=True), cycle=1,
                   study_day=3)
    suspect = Drug(characterisation="suspect", name="BLINCYTO", active_substance="blinatumomab",
                   dose_periods=(DosePeriod(cycle=1, dose_value=5.0, dose_unit="ug/m2/d",
                                            route="Continuous intravenous infusion", start="2026-01-05",
                                            stop="2026-01-07T06:00+01:00"),),
                   indication="B-cell precursor acute lymphoblastic leukaemia, first relapse", action_taken="withdrawn",
                   dechallenge="yes", rechallenge="not_applicable",
                   causality=(Causality(7, "investigator", "Global introspection", "Probably related"),))
    tocilizumab = Drug(characterisation="treatment_of_event", name="Tocilizumab", active_substance="tocilizumab",
                       dose_periods=(DosePeriod(cycle=1, dose_value=12.0, dose_unit="mg_kg", route="",
                                                start="2026-01-07T08:00+01:00", stop=None),))
    data = dict(case_id="PVT-WARD-A-2026-0001", version=1, report_type="initial", site_code="WARD-A",
                site_name="Ward A", site_timezone="Europe/Warsaw", awareness_at="2026-01-07T07:10+01:00",
                latest_information_at="2026-01-07T07:10+01:00", created_at="2026-01-07T09:00+01:00", study_name="",
                study_type="individual_patient_use",
                reporter=Reporter("Officer", "safety_officer", "other_health_professional", "Ward A", ""),
                patient=Patient(identifier="WARD-A-KRK-001", sex="female", age_years=10, age_group="child",
                                disease_status="Relapsed/refractory (marrow blasts ≥ 5 %)", prior_hsct=True,
                                prior_car_t=False),
                reactions=(crs,), drugs=(suspect, tocilizumab), expectedness="unexpected", rsi_version="USPI test",
                susar=True)
    return CaseSnapshot(**(data | overrides))


def test_the_draft_names_patient_exposure_course_interventions_outcome_and_assessment_in_order():
    text = narrative_draft(snapshot(), [CourseEntry("2026-01-07T06:00+01:00", "CRS assessment, ASTCT grade 4, "
                                                                              "hypotension")])
    expected_in_order = ["10-year-old female (child; study ID WARD-A-KRK-001)", "first relapse",
                         "prior HSCT, no prior CAR-T", "5 ug/m2/d from 2026-01-05", "cycle 1, day 3",
                         "Cytokine release syndrome (reported as \"CRS\"), grade 4", "life threatening",
                         "CRS assessment, ASTCT grade 4, hypotension", "Tocilizumab 12 mg_kg at 2026-01-07T08:00",
                         "dechallenge: yes", "Cytokine release syndrome: recovered on 2026-01-11",
                         "investigator: Probably related", "Expectedness: unexpected (RSI USPI test)"]
    positions = [text.find(part) for part in expected_in_order]
    assert -1 not in positions, [p for p, i in zip(expected_in_order, positions, strict=True) if i == -1]
    assert positions == sorted(positions)


def test_no_names_and_unknowns_said_as_unknown():
    text = narrative_draft(snapshot(patient=Patient(identifier="WARD-A-KRK-001", sex="unknown", age_years=None,
                                                    age_group="child")))
    assert "age not recorded" in text and "prior HSCT not recorded" in text


def test_a_snapshot_without_a_suspect_drug_has_no_narrative():
    with pytest.raises(ValueError, match="suspect"):
        narrative_draft(snapshot(drugs=()))
