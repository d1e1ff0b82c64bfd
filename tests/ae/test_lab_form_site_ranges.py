"""Issue 10 item 10: the lab form proposes the site reference range for the patient's age AT THE SAMPLE DATE, the
range the service grades with (``ae.selectors.reference_ranges_in_force``), not the age today. The form lists every
site range that can apply to the patient (their sex or both), with age band and validity, so ``static/lab_form.js``
picks the one in force for the collection date typed (browser test: ``tests/test_browser_labs.py``)."""

from __future__ import annotations

import datetime

import pytest

from ae.forms import LabResultForm, site_range_candidates
from ae.services.reference_ranges import reference_range_record
from patients.models import Membership
from tests.conftest import make_patient, make_user

pytestmark = pytest.mark.django_db


def _record(ward, admin, **data):
    base = {"analyte": "hemoglobin", "unit": "g/L", "sex": "", "source": "Lab handbook 2026, haematology p. 4",
            "valid_from": datetime.date(2025, 1, 1)}
    return reference_range_record(site=ward, acting_user=admin, data=base | data)


def test_the_form_lists_every_age_band_of_the_patients_sex_with_its_validity(ward):
    admin = make_user("lab-admin", ward, Membership.Role.ADMINISTRATOR)
    patient = make_patient(ward, "KRK-101", sex="F", birth_month=datetime.date(2014, 3, 1))
    _record(ward, admin, age_from_months=24, age_to_months=144, lln=115, uln=155)
    _record(ward, admin, age_from_months=144, age_to_months=216, lln=120, uln=160, sex="F")
    _record(ward, admin, age_from_months=144, age_to_months=216, lln=130, uln=170, sex="M")  # not her sex

    listed = site_range_candidates(patient)["hemoglobin"]
    assert [(r["age_from_months"], r["age_to_months"], r["sex"], r["by_unit"]["g/L"]) for r in listed] == [
        (24, 144, "", [115.0, 155.0]), (144, 216, "F", [120.0, 160.0])]
    assert listed[0]["by_unit"]["g/dL"] == [11.5, 15.5]
    assert (listed[0]["valid_from"], listed[0]["valid_to"]) == ("2025-01-01", None)
    assert "24–144 months" in listed[0]["text"] and "Lab handbook 2026" in listed[0]["text"]

    form = LabResultForm(patient=patient)
    attrs = form.fields["analyte"].widget.attrs
    assert attrs["data-birth-month"] == "2014-03"
    assert '"age_from_months": 144' in attrs["data-site-ranges"]


def test_a_closed_version_stays_listed_for_samples_taken_while_it_was_in_force(ward):
    admin = make_user("lab-admin", ward, Membership.Role.ADMINISTRATOR)
    patient = make_patient(ward, "KRK-102", sex="M", birth_month=datetime.date(2016, 1, 1))
    _record(ward, admin, age_from_months=24, age_to_months=144, lln=115, uln=155)
    _record(ward, admin, age_from_months=24, age_to_months=144, lln=110, uln=150, valid_from=datetime.date(2026, 1, 1),
            source="Lab handbook 2027")
    listed = site_range_candidates(patient)["hemoglobin"]
    assert [(r["valid_from"], r["valid_to"], r["by_unit"]["g/L"][0]) for r in listed] == [
        ("2025-01-01", "2026-01-01", 115.0), ("2026-01-01", None, 110.0)]
