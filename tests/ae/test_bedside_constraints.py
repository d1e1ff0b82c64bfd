"""The database refuses impossible bedside assessments, lab results and grade provenance, whatever writes them.

Each test writes through the ORM (bypassing forms and services) inside ``transaction.atomic()`` and expects
PostgreSQL to raise IntegrityError.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from ae.models import CRSAssessment, ICANSAssessment, LabResult
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db
AT = datetime.datetime(2026, 1, 6, 8, tzinfo=ZoneInfo("Europe/Warsaw"))


def refused(fn, *args, **kwargs) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        fn(*args, **kwargs)


@pytest.fixture
def episode(cycle, nurse):
    return make_event(cycle, grade=1, user=nurse, computed_grade=1, grading_scale="astct_2019")


def crs(episode, nurse, **kw):
    fields = {"adverse_event": episode, "assessed_at": AT, "temperature_c": 38.5, "astct_grade": 1,
              "astct_rationale": "r", "ctcae_grade": 1, "ctcae_rationale": "r", "lee_grade": 1, "lee_rationale": "r",
              "entered_by": nurse}
    return CRSAssessment.objects.create(**(fields | kw))


def icans(episode, nurse, **kw):
    fields = {"adverse_event": episode, "assessed_at": AT, "tool": "ICE", "score": 8, "grade": 1, "rationale": "r",
              "entered_by": nurse}
    return ICANSAssessment.objects.create(**(fields | kw))


def lab(patient, nurse, **kw):
    fields = {"patient": patient, "analyte": "anc", "value": 1.2, "unit": "10^9/L", "collected_at": AT,
              "ctcae_term": "Neutrophil count decreased", "grade": 2, "rationale": "r", "entered_by": nurse}
    return LabResult.objects.create(**(fields | kw))


def test_valid_rows_are_accepted(episode, nurse, patient, cycle):
    crs(episode, nurse, oxygen_device="nasal_cannula", oxygen_flow_l_min=6, vasopressors=["vasopressin"])
    icans(episode, nurse, tool="CAPD", score=32, grade=3)
    icans(episode, nurse, score=None, unable_to_perform=True, grade=4)
    lab(patient, nurse, cycle=cycle, baseline=True, treatment_emergent=None, lln=1.5, uln=8)


@pytest.mark.parametrize("kw", [
    {"oxygen_device": "nasal_cannula", "oxygen_flow_l_min": -0.5},   # negative flow
    {"oxygen_device": "nasal_cannula", "oxygen_flow_l_min": None},   # cannula without flow
    {"oxygen_device": "none", "oxygen_flow_l_min": 2},               # flow without device
    {"oxygen_device": "helmet"},                                     # unknown device
    {"vasopressors": ["dobutamine"]},                                # unknown agent
    {"temperature_c": 46},                                           # implausible temperature
    {"oxygen_fio2_percent": 15},                                     # FiO2 below room air
    {"astct_grade": 6},
    {"entered_grade": 2},                                            # differs from computed, no reason
])
def test_impossible_crs_assessments_are_refused(episode, nurse, kw):
    refused(crs, episode, nurse, **kw)
    assert CRSAssessment.objects.count() == 0


@pytest.mark.parametrize("kw", [
    {"score": 11},                                  # ICE is 0-10
    {"tool": "CAPD", "score": 33},                  # CAPD total is 0-32
    {"score": None},                                # neither a score nor 'unable to perform'
    {"score": 5, "unable_to_perform": True},        # both
    {"tool": "MMSE"},
    {"consciousness": "drowsy"},
    {"entered_grade": 3},                           # differs from computed, no reason
])
def test_impossible_icans_assessments_are_refused(episode, nurse, kw):
    refused(icans, episode, nurse, **kw)
    assert ICANSAssessment.objects.count() == 0


@pytest.mark.parametrize("kw", [
    {"value": -1},
    {"unit": "g/dL"},                                      # not a unit of ANC
    {"lln": 2, "uln": 1},
    {"lln": 0},
    {"grade": 5},                                          # lab terms have no grade 5
    {"baseline": True, "treatment_emergent": None},        # a baseline needs its cycle
])
def test_impossible_lab_results_are_refused(patient, nurse, kw):
    refused(lab, patient, nurse, **kw)
    assert LabResult.objects.count() == 0


def test_one_baseline_per_cycle_and_analyte_and_the_cycle_is_the_patients(ward, patient, cycle, nurse):
    lab(patient, nurse, cycle=cycle, baseline=True)
    refused(lab, patient, nurse, cycle=cycle, baseline=True)
    other_cycle = make_cycle(make_patient(ward, "KRK-099"))
    refused(lab, patient, nurse, cycle=other_cycle)
    refused(lab, patient, nurse, cycle=cycle, baseline=True, analyte="platelets", treatment_emergent=True)


def test_an_event_whose_grade_differs_from_the_computed_grade_needs_a_reason(cycle, nurse):
    refused(make_event, cycle, grade=2, user=nurse, computed_grade=1)
    make_event(cycle, grade=2, user=nurse, computed_grade=1, grade_discrepancy_reason="judged 2")


def test_a_resolved_discrepancy_needs_who_when_and_a_comment(cycle, nurse, episode):
    refused(make_event, cycle, grade=2, user=nurse, computed_grade=1, grade_discrepancy_reason="x",
            discrepancy_resolved_at=AT)
    refused(make_event, cycle, grade=2, user=nurse, computed_grade=1, grade_discrepancy_reason="x",
            discrepancy_resolved_at=AT, discrepancy_resolved_by=nurse)
    make_event(cycle, grade=2, user=nurse, computed_grade=1, grade_discrepancy_reason="x",
               discrepancy_resolved_at=AT, discrepancy_resolved_by=nurse, discrepancy_resolution_comment="ok")
