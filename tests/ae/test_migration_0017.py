"""Migrations ae 0017 and 0018 on a database with lab values and CRS assessments stored before them: a lab value's
stored grade becomes its computed grade (no one could override it then), and an earlier CRS assessment keeps a
null CTCAE v4.03 grade that says its clinical course was not recorded."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from ae.models import CRSAssessment, LabResult
from tests.conftest import make_cycle, make_event, make_patient, make_user, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ae", "0016_merge_sae_cases_notifications")]



def test_0017_0018_keep_the_stored_grades(committed_reference_data, ward):
    nurse = make_user("nurse-0017", ward)
    cycle = make_cycle(make_patient(ward, "M-0017"))
    episode = make_event(cycle, "Cytokine release syndrome", grade=1, user=nurse)
    at = timezone.make_aware(datetime.datetime(2026, 1, 7, 8))
    try:
        old = migrate_to(BEFORE)
        old.get_model("ae", "LabResult").objects.create(
            patient_id=cycle.patient_id, cycle_id=cycle.pk, analyte="platelets", value=Decimal("40"), unit="10^9/L",
            lln=Decimal("150"), collected_at=at, ctcae_term="Platelet count decreased", grade=3, rationale="r",
            entered_by_id=nurse.pk)
        old.get_model("ae", "CRSAssessment").objects.create(
            adverse_event_id=episode.pk, assessed_at=at, temperature_c=Decimal("38.5"), astct_grade=1,
            astct_rationale="r", ctcae_rationale="r", lee_rationale="r", entered_by_id=nurse.pk)
    finally:
        migrate_to()

    lab = LabResult.objects.get()
    assert (lab.grade, lab.computed_grade, lab.entered_grade, lab.grade_discrepancy_reason) == (3, 3, None, "")
    crs = CRSAssessment.objects.get()
    assert crs.ctcae_v4_grade is None and crs.ctcae_v4_rationale.startswith("Undetermined: recorded before")
