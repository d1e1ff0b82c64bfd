"""Units per analyte (the ward's usual one first, one stored spelling) and plausibility ranges that catch unit slips
(issue "A record the ward can trust", item 5): Hb 95 sent as g/dL graded 0, ANC 750 sent as ×10⁹/L graded 0,
platelets 18 ×10⁹/L stored as 18 /mm³ because the form defaulted to /mm³. The table and its reasoning:
ae/lab_units.py and docs/labs.md."""

from __future__ import annotations

import datetime
import html
import json
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from ae import lab_units
from ae.forms import LabResultForm
from ae.models import LabResult
from ae.services.labs import lab_result_record
from tests.conftest import api_errors

TZ = ZoneInfo("Europe/Warsaw")
HB_95 = "Hb 95 g/dL is not plausible (Hb is 3–25 g/dL). Did you mean 95 g/L?"
ANC_750 = "ANC 750 ×10⁹/L is not plausible (ANC is 0–150 ×10⁹/L). Did you mean 750 /mm³ (= 0.75 ×10⁹/L)?"
PLT_18 = ("Platelet count 18 /mm³ is not plausible (platelet count is 0 or 1000–3\u202f000\u202f000 /mm³). "
          "Did you mean 18 ×10⁹/L?")
#: What a European paediatric ward's laboratory reports, first (docs/labs.md).
EXPECTED_UNITS = {"anc": ["10^9/L", "/mm3"], "platelets": ["10^9/L", "/mm3"], "wbc": ["10^9/L", "/mm3"],
                  "lymphocytes": ["10^9/L", "/mm3"], "hemoglobin": ["g/L", "g/dL", "mmol/L"], "potassium": ["mmol/L"],
                  "alt": ["U/L"], "ast": ["U/L"], "bilirubin": ["umol/L", "mg/dL"], "creatinine": ["umol/L", "mg/dL"],
                  "alp": ["U/L"], "ggt": ["U/L"], "lipase": ["U/L"], "amylase": ["U/L"], "albumin": ["g/L", "g/dL"],
                  "fibrinogen": ["g/L", "mg/dL"], "sodium": ["mmol/L"], "calcium": ["mmol/L", "mg/dL", "mEq/L"],
                  "calcium_ionized": ["mmol/L", "mg/dL"], "magnesium": ["mmol/L", "mg/dL", "mEq/L"],
                  "phosphate": ["mmol/L", "mg/dL"], "glucose": ["mmol/L", "mg/dL"], "uric_acid": ["umol/L", "mg/dL"],
                  "igg": ["g/L", "mg/dL"]}


# --- the table ---------------------------------------------------------------------------------------------


def test_units_are_offered_per_analyte_with_the_wards_usual_unit_first():
    assert {a: [u.code for u in entry.units] for a, entry in lab_units.ANALYTES.items()} == EXPECTED_UNITS
    assert lab_units.ANALYTES["platelets"].default_unit.label == "×10⁹/L"
    assert lab_units.ANALYTES["hemoglobin"].default_unit.label == "g/L"


@pytest.mark.parametrize(("analyte", "typed", "stored"), [
    ("platelets", "10^9/L", "10^9/L"), ("platelets", "x10^9/L", "10^9/L"), ("anc", "×10⁹/L", "10^9/L"),
    ("anc", "10^3/uL", "10^9/L"), ("anc", "/uL", "/mm3"), ("anc", "/µL", "/mm3"), ("wbc", "/mm³", "/mm3"),
    ("alt", "IU/L", "U/L"), ("hemoglobin", "g/dl", "g/dL"), ("hemoglobin", "g/L", "g/L"),
    ("hemoglobin", "10^9/L", None), ("potassium", "g/L", None), ("anc", "cells", None)])
def test_one_stored_spelling_per_unit(analyte, typed, stored):
    assert lab_units.unit_code(analyte, typed) == stored


def _just_outside(value: float, direction: int) -> float:
    return value + direction * max(abs(value) * 1e-6, 1e-6)


CASES = [(a, u) for a, entry in lab_units.ANALYTES.items() for u in entry.units]


@pytest.mark.parametrize(("analyte", "unit"), CASES, ids=[f"{a}-{u.code}" for a, u in CASES])
def test_plausibility_boundaries_are_inclusive(analyte, unit):
    low, high = unit.plausible
    assert lab_units.implausible(analyte, low, unit.code) is None
    assert lab_units.implausible(analyte, high, unit.code) is None
    assert lab_units.implausible(analyte, _just_outside(high, +1), unit.code) is not None
    if low > 0:
        assert lab_units.implausible(analyte, _just_outside(low, -1), unit.code) is not None
    # a count below the detection limit may be typed as 0 in any count unit, nothing else may be 0 unless in range
    assert (lab_units.implausible(analyte, 0, unit.code) is None) == (unit.zero_plausible or low == 0)


def test_the_ranges_of_two_units_of_an_analyte_say_the_same_in_the_default_unit_where_they_can():
    """The /mm³ and g/dL ranges are the ×10⁹/L and g/L ones converted, except the /mm³ floors (analyser resolution,
    docs/labs.md): no value the default unit accepts is refused in the other unit above that floor."""
    for entry in lab_units.ANALYTES.values():
        default = entry.default_unit
        for other in entry.units[1:]:
            scale = other.factor / default.factor
            assert other.plausible[1] * scale == pytest.approx(default.plausible[1])
            assert other.plausible[0] * scale >= default.plausible[0]


@pytest.mark.parametrize(("analyte", "value", "unit", "message"), [
    ("hemoglobin", 95, "g/dL", HB_95), ("anc", 750, "10^9/L", ANC_750), ("platelets", 18, "/mm3", PLT_18),
    ("hemoglobin", 9.5, "g/L", "Hb 9.5 g/L is not plausible (Hb is 30–250 g/L). Did you mean 9.5 g/dL (= 95 g/L) or "
     "9.5 mmol/L (= 153.083 g/L)?"),
    ("potassium", 35, "mmol/L", "Potassium 35 mmol/L is not plausible (potassium is 1–15 mmol/L). Check the value "
                                "and the unit.")])
def test_a_unit_slip_is_named_with_the_likely_unit(analyte, value, unit, message):
    assert lab_units.implausible(analyte, value, unit) == message


# --- the service -------------------------------------------------------------------------------------------


def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def record(patient, user, **data):
    return lab_result_record(patient=patient, acting_user=user, data={"collected_at": at(8)} | data)


@pytest.mark.django_db
@pytest.mark.parametrize(("analyte", "value", "unit", "message"), [
    ("hemoglobin", 95, "g/dL", HB_95), ("anc", 750, "10^9/L", ANC_750), ("platelets", 18, "/mm3", PLT_18)])
def test_the_reported_unit_slips_are_refused_and_nothing_is_saved(patient, cycle, nurse, analyte, value, unit,
                                                                  message):
    with pytest.raises(ValidationError) as exc:
        record(patient, nurse, analyte=analyte, value=value, unit=unit)
    assert exc.value.message_dict == {"value": [message]}
    assert LabResult.objects.count() == 0


@pytest.mark.django_db
def test_a_reference_limit_in_another_unit_is_refused(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        record(patient, nurse, analyte="hemoglobin", value=95, unit="g/L", lln=11.5)
    assert "LLN 11.5 g/L is not plausible for Hb" in exc.value.message_dict["lln"][0]


@pytest.mark.django_db
def test_a_unit_of_another_analyte_is_refused_and_a_duplicate_spelling_is_stored_once(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        record(patient, nurse, analyte="hemoglobin", value=95, unit="10^9/L")
    assert exc.value.message_dict == {"unit": ["10^9/L is not a unit of Hb: use g/L, g/dL or mmol/L."]}
    result = record(patient, nurse, analyte="platelets", value=18, unit="x10^9/L", lln=150)
    assert (result.unit, result.grade) == ("10^9/L", 4)
    assert set(LabResult.objects.values_list("unit", flat=True)) == {"10^9/L"}


# --- the form ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_offers_each_analytes_units_default_first_and_the_default_is_not_mm3(nurse_client, patient, cycle):
    page = nurse_client.get(f"/patients/{patient.pk}/labs/new/")
    form = page.context["form"]
    assert form["analyte"].value() == "anc"
    assert form["unit"].value() == "10^9/L"  # not /mm³: 18 means 18 ×10⁹/L
    offered = json.loads(form.fields["unit"].widget.attrs["data-units"])
    assert {a: [code for code, _label in units] for a, units in offered.items()} == EXPECTED_UNITS
    assert offered["platelets"][0] == ["10^9/L", "×10⁹/L"]
    content = html.unescape(page.content.decode())
    assert '<option value="10^9/L" selected>×10⁹/L</option>' in content
    assert "x10^9/L" not in content  # one spelling per unit
    assert "lab_form.js" in content and "<script>" not in content  # the filter is a static file (CSP: no inline)


@pytest.mark.django_db
def test_without_javascript_the_form_offers_every_unit_once_and_refuses_a_wrong_pair(nurse_client, patient, cycle):
    form = LabResultForm(patient=patient)
    codes = [code for code, _label in form.fields["unit"].choices]
    assert sorted(codes) == sorted({c for units in EXPECTED_UNITS.values() for c in units})
    response = nurse_client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "hemoglobin", "value": "95", "unit": "10^9/L", "collected_at": "2026-01-08T07:00"})
    assert response.status_code == 200
    assert response.context["form"].errors["unit"] == ["10^9/L is not a unit of Hb: use g/L, g/dL or mmol/L."]
    response = nurse_client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "hemoglobin", "value": "95", "unit": "g/dL", "collected_at": "2026-01-08T07:00"})
    assert response.context["form"].errors["value"] == [HB_95]
    assert LabResult.objects.count() == 0


# --- the API -----------------------------------------------------------------------------------------------

LAB_URL = "/api/v1/grading/lab/"


@pytest.fixture
def api(client, db):
    client.force_login(get_user_model().objects.create_user(username="grader", password="grading-pass-1234"))
    return client


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"analyte": "hemoglobin", "value": 95, "unit": "g/dL"}, "value", HB_95),
    ({"analyte": "anc", "value": 750, "unit": "10^9/L"}, "value", ANC_750),
    ({"analyte": "anc", "value": 0.5, "unit": "g/L"}, "unit", "g/L is not a unit of ANC: use ×10⁹/L or /mm³.")])
def test_the_grading_api_refuses_unit_slips_with_the_likely_unit(api, body, field, message):
    response = api.post(LAB_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert api_errors(response)[field] == [message]


def test_the_grading_api_accepts_the_other_spelling(api):
    response = api.post(LAB_URL, {"analyte": "platelets", "value": 18, "unit": "x10^9/L"},
                        content_type="application/json")
    assert response.status_code == 200 and response.json()["grade"] == 4


def test_the_units_of_each_analyte_are_listed_default_first(api):
    response = api.get(f"{LAB_URL}units/")
    assert response.status_code == 200
    body = {a["analyte"]: a for a in response.json()}
    assert {a: [u["unit"] for u in entry["units"]] for a, entry in body.items()} == EXPECTED_UNITS
    assert body["hemoglobin"]["units"][1] == {"unit": "g/dL", "label": "g/dL", "default": False,
                                              "plausible_min": 3.0, "plausible_max": 25.0, "zero_plausible": False}
    assert body["platelets"]["label"] == "Platelet count"
    assert body["platelets"]["ctcae_term"] == "Platelet count decreased"
