"""Issue 10 item 6 on the ward's lab form: the clinical criteria CTCAE v5.0 attaches to a lab term are entered with
the value, stored with it, and graded (a semicolon in CTCAE means "or")."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from ae.models import LabResult

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def post(client, patient, **data):
    body = {"collected_at": datetime.datetime(2026, 1, 8, 7, tzinfo=TZ).strftime("%Y-%m-%dT%H:%M")} | data
    return client.post(f"/patients/{patient.pk}/labs/new/", body)


def test_anemia_transfusion_indicated_is_grade_3_whatever_the_value(client, nurse, patient, cycle):
    """CTCAE v5.0 Anemia grade 3 "Hgb <8.0 g/dL; ...; transfusion indicated": Hb 95 g/L (grade 1 by value) with a
    transfusion indicated is grade 3, and the rationale names the criterion."""
    client.force_login(nurse)
    page = client.get(f"/patients/{patient.pk}/labs/new/").content.decode()
    assert "Clinical criteria (CTCAE v5.0)" in page and 'value="transfusion_indicated"' in page
    response = post(client, patient, analyte="hemoglobin", value="95", unit="g/L", lln="115",
                    clinical_criteria=["transfusion_indicated"])
    assert response.status_code == 302, response.context["form"].errors
    result = LabResult.objects.get()
    assert (result.grade, result.clinical_criteria) == (3, ["transfusion_indicated"])
    assert "transfusion indicated" in result.rationale


def test_hypokalemia_hospitalization_and_life_threatening(client, nurse, patient, cycle):
    """Hypokalemia grade 3 "<3.0 - 2.5 mmol/L; hospitalization indicated", grade 4 "<2.5 mmol/L; life-threatening
    consequences": K 3.2 mmol/L (grade 1 by value) with hospitalization indicated = 3."""
    client.force_login(nurse)
    post(client, patient, analyte="potassium", value="3.2", unit="mmol/L", lln="3.5", uln="5.0",
         clinical_criteria=["hospitalization_indicated"])
    assert LabResult.objects.get().grade == 3


def test_a_criterion_the_term_does_not_have_is_an_error_next_to_the_criteria(client, nurse, patient, cycle):
    client.force_login(nurse)
    response = post(client, patient, analyte="anc", value="0.4", unit="10^9/L", clinical_criteria=["seizures"])
    assert response.status_code == 200
    assert "not a CTCAE v5.0 criterion of Neutrophil count decreased" in response.context["form"].errors[
        "clinical_criteria"][0]
    assert LabResult.objects.count() == 0


def test_insulin_initiated_makes_hyperglycemia_grade_3(client, nurse, patient, cycle):
    """CTCAE v5.0 Hyperglycemia is graded by intervention: grade 3 "Insulin therapy initiated"."""
    client.force_login(nurse)
    post(client, patient, analyte="glucose", value="16", unit="mmol/L", lln="3.9", uln="6.1",
         clinical_criteria=["insulin_initiated"])
    result = LabResult.objects.get()
    assert (result.grade, result.ctcae_term) == (3, "Hyperglycemia")
