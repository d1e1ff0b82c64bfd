"""Concurrent writes of treatment records: a dose step and a next therapy posted 10 times at once store one row;
every other request gets a clear 400 on the field, never a 500."""

from __future__ import annotations

from collections import Counter

import pytest

from patients.treatment import DosingStep, NextTherapy
from tests.conftest import make_cycle, make_patient
from tests.test_concurrency import all_at_once, api

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_ten_concurrent_identical_dose_steps_store_one(ward, nurse):
    cycle = make_cycle(make_patient(ward, "KRK-600"))
    body = {"cycle": cycle.pk, "from_day": 1, "dose": "5", "unit": "ug_m2_day"}
    responses = all_at_once(10, lambda i: api(nurse).post("/api/v1/dosing-steps/", body, format="json"))
    assert Counter(r.status_code for r in responses) == {201: 1, 400: 9}
    assert all("from_day" in r.json()["errors"] for r in responses if r.status_code == 400)
    assert DosingStep.objects.filter(cycle=cycle).count() == 1


def test_ten_concurrent_identical_next_therapies_store_one(ward, nurse):
    patient = make_cycle(make_patient(ward, "KRK-601")).patient
    body = {"patient": patient.pk, "kind": "hsct", "start_date": "2026-03-01"}
    responses = all_at_once(10, lambda i: api(nurse).post("/api/v1/next-therapies/", body, format="json"))
    assert Counter(r.status_code for r in responses) == {201: 1, 400: 9}
    assert NextTherapy.objects.filter(patient=patient).count() == 1
