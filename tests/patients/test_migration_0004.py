"""Migration patients 0004 on cycles stored before it: the starting dose and single step-up become dosing-step rows,
a stored premedication "yes" (possibly the old silent default) becomes "not recorded" while "no" stays "no", and
each cycle gets the disease status its marrow shows."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from patients.models import TreatmentCycle
from tests.conftest import make_patient, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("patients", "0003_record_integrity")]



def test_0004_moves_doses_into_steps_and_premedication_to_not_recorded(ward):
    patient = make_patient(ward)
    try:
        old = migrate_to(BEFORE)
        OldCycle = old.get_model("patients", "TreatmentCycle")
        OldCycle.objects.create(patient_id=patient.pk, number=1, start_date=datetime.date(2026, 1, 5),
                                starting_dose=Decimal("5"), step_up_dose=Decimal("15"), step_up_day=8,
                                dexamethasone_premedication=True, marrow_blasts_pct=Decimal("40"))
        OldCycle.objects.create(patient_id=patient.pk, number=2, start_date=datetime.date(2026, 2, 16),
                                starting_dose=Decimal("15"), dexamethasone_premedication=False,
                                marrow_blasts_pct=Decimal("1"), mrd_pct=Decimal("0.5"))
    finally:
        migrate_to()  # back to the newest state
    first, second = TreatmentCycle.objects.filter(patient=patient).order_by("number")
    assert [(s.from_day, s.dose, s.unit) for s in first.dosing_steps.all()] == [
        (1, Decimal("5"), "ug_m2_day"), (8, Decimal("15"), "ug_m2_day")]
    assert [(s.from_day, s.dose) for s in second.dosing_steps.all()] == [(1, Decimal("15"))]
    assert (first.dexamethasone_premedication, second.dexamethasone_premedication) == ("not_recorded", "no")
    assert (first.disease_status, second.disease_status) == ("relapsed_refractory", "mrd_positive_cr")
