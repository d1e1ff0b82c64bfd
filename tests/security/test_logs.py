"""Application logs carry ids only: no passwords, no study IDs, no form or request bodies (ASVS V16.2.5)."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from ae.models import AdverseEvent
from patients.models import Patient
from tests.conftest import PASSWORD, event_form_data

pytestmark = pytest.mark.django_db

STUDY_ID = "ZQX-987"
WRONG_PASSWORD = "Sunflower-Harbour-6631"
VERBATIM = "fever after the night infusion"


def test_logins_patients_and_events_leave_no_phi_or_password_in_the_logs(client, nurse, ward, caplog, settings):
    assert settings.LOGGING["loggers"]["django.db.backends"]["level"] == "WARNING"  # no SQL parameters
    caplog.set_level(logging.DEBUG)  # stricter than production: every logger, every level

    assert client.post("/login/", {"username": "nurse", "password": WRONG_PASSWORD}).status_code == 200
    assert client.post("/login/", {"username": "nurse", "password": PASSWORD}).status_code == 302

    api = APIClient()
    api.force_login(nurse)
    body = {"site": ward.slug, "study_id": STUDY_ID, "sex": "F", "birth_month": "2015-03-01",
            "disease_status": "relapse_1"}
    assert api.post("/api/v1/patients/", body, format="json").status_code == 201
    assert api.post("/api/v1/patients/", body, format="json").status_code == 400  # duplicate: logged as 400
    patient = Patient.objects.get(study_id=STUDY_ID)
    cycle_body = {"patient": patient.pk, "number": 1, "schedule": "standard_28d", "start_date": "2026-01-05",
                  "weight_kg": "20"}
    response = api.post("/api/v1/cycles/", cycle_body, format="json")
    assert response.status_code == 201, response.json()
    cycle = patient.cycles.get()

    form = event_form_data(cycle, verbatim_term=VERBATIM)
    assert client.post(f"/patients/{patient.pk}/events/new/", form).status_code == 302
    assert client.post(f"/patients/{patient.pk}/events/new/", form | {"grade": 9}).status_code == 200  # invalid
    assert AdverseEvent.objects.filter(patient=patient, verbatim_term=VERBATIM).count() == 1

    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records, "nothing was logged at all: the capture is not working"
    assert any("login failure" in r.getMessage().lower() for r in caplog.records)  # axes logs the attempt...
    for secret in (WRONG_PASSWORD, PASSWORD, STUDY_ID, VERBATIM):
        assert secret not in logged  # ...but not the password, and nothing of the patient
