"""Migration 0009 on a database with CRS assessments stored before it: the old yes/no "tocilizumab or
corticosteroids given" becomes the therapy "tocilizumab_or_corticosteroid" in the assessment and in its history
rows (the history table is append-only, so the migration must write past that trigger), and the ASTCT 2019
fever-masking rule still applies to it."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from ae.grading import grade_crs_astct
from ae.models import CRSAssessment
from tests.conftest import make_cycle, make_event, make_patient, make_user, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ae", "0008_lab_units_and_episodes")]



def test_0009_carries_the_old_therapy_flag_into_assessments_and_history(committed_reference_data, ward):
    nurse = make_user("nurse-0009", ward)
    event = make_event(make_cycle(make_patient(ward, "M-0009")), "Cytokine release syndrome", grade=1, user=nurse)
    try:
        old = migrate_to(BEFORE)
        OldCRS = old.get_model("ae", "CRSAssessment")
        at = timezone.make_aware(datetime.datetime(2026, 1, 6, 8))
        common = {"adverse_event_id": event.pk, "astct_grade": 1, "astct_rationale": "Grade 1.", "ctcae_grade": 1,
                  "ctcae_rationale": "Grade 1.", "lee_grade": 1, "lee_rationale": "Grade 1.",
                  "entered_by_id": nurse.pk, "temperature_c": 38.5}
        given = OldCRS.objects.create(assessed_at=at, tocilizumab_or_steroids_given=True, **common)
        not_given = OldCRS.objects.create(assessed_at=at + datetime.timedelta(hours=1), **common)
    finally:
        migrate_to()

    assert CRSAssessment.objects.get(pk=given.pk).fever_masking_therapies == ["tocilizumab_or_corticosteroid"]
    assert CRSAssessment.objects.get(pk=not_given.pk).fever_masking_therapies == []
    history = apps.get_model("ae", "CRSAssessmentEvent").objects.get(pgh_obj_id=given.pk)
    assert history.fever_masking_therapies == ["tocilizumab_or_corticosteroid"]
    with connection.cursor() as cursor, pytest.raises(Exception, match="Cannot update or delete"):
        cursor.execute("UPDATE ae_crsassessmentevent SET temperature_c = 37")  # append-only again
    masked = grade_crs_astct(temperature_c=37.0, fever_masking_therapies=["tocilizumab_or_corticosteroid"],
                             had_crs_before=True, hypotension=True)
    assert masked.grade == 2 and "not recorded which" in masked.rationale
