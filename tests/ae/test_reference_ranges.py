"""Site reference ranges (issue 10 item 10): an administrator keeps the laboratory's LLN/ULN per analyte, sex and
age band, with source and validity, versioned and audited; lab values without their own range take the one in force
for the patient's sex and age on the sample date, and a range typed with the value overrides it."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ae.models import ReferenceRange
from ae.selectors import reference_range_for
from ae.services.labs import lab_result_record
from ae.services.reference_ranges import reference_range_record
from patients.models import Membership
from tests.conftest import api_errors, make_patient, make_user

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
HB_CHILD = {"analyte": "hemoglobin", "unit": "g/L", "sex": "", "age_from_months": 24, "age_to_months": 144,
            "lln": 115, "uln": 155, "source": "Lab handbook 2026, haematology p. 4",
            "valid_from": datetime.date(2025, 1, 1)}


@pytest.fixture
def admin(ward):
    return make_user("lab-admin", ward, role=Membership.Role.ADMINISTRATOR)


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, 7, tzinfo=TZ)


def test_only_an_administrator_keeps_the_ranges(ward, nurse, admin):
    with pytest.raises(PermissionDenied):
        reference_range_record(site=ward, data=HB_CHILD, acting_user=nurse)
    saved = reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    assert (saved.lln, saved.uln, saved.valid_to) == (115, 155, None)


def test_a_lab_value_without_its_range_takes_the_sites_range_for_age_and_sex(ward, nurse, admin, patient, cycle):
    """CTCAE v5.0 Anemia grade 1 "<LLN - 10.0 g/dL" needs the age-specific LLN: Hb 105 g/L of a child is grade 1
    against the laboratory's 115 g/L, undetermined without it; the rationale names the range's source."""
    before = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "hemoglobin", "value": 105, "unit": "g/L", "collected_at": at(6)})
    assert before.grade is None
    reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    after = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "hemoglobin", "value": 10.5, "unit": "g/dL", "collected_at": at(7)})  # range in g/L, value g/dL
    assert (after.grade, after.lln, after.uln) == (1, pytest.approx(11.5), pytest.approx(15.5))
    assert "Lab handbook 2026" in after.rationale
    own = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "hemoglobin", "value": 105, "unit": "g/L", "lln": 100, "collected_at": at(8)})
    assert own.grade == 0 and "site reference range" not in own.rationale  # the range typed in overrides


def test_the_range_for_the_patients_sex_comes_first(ward, admin):
    reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    reference_range_record(site=ward, data=HB_CHILD | {"sex": "F", "age_from_months": 144, "age_to_months": 216,
                                                        "lln": 120}, acting_user=admin)
    on = datetime.date(2026, 1, 6)
    assert reference_range_for(site=ward, analyte="hemoglobin", sex="F", age_months=150, on=on).lln == 120
    assert reference_range_for(site=ward, analyte="hemoglobin", sex="M", age_months=150, on=on) is None
    assert reference_range_for(site=ward, analyte="hemoglobin", sex="M", age_months=60, on=on).lln == 115


def test_a_new_version_closes_the_old_one_and_both_stay_with_their_history(ward, admin):
    first = reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    second = reference_range_record(site=ward, data=HB_CHILD | {"lln": 110, "valid_from": datetime.date(2026, 1, 1)},
                                    acting_user=admin)
    first.refresh_from_db()
    assert first.valid_to == datetime.date(2026, 1, 1) and second.valid_to is None
    assert reference_range_for(site=ward, analyte="hemoglobin", sex="M", age_months=60,
                               on=datetime.date(2025, 12, 31)).pk == first.pk
    assert reference_range_for(site=ward, analyte="hemoglobin", sex="M", age_months=60,
                               on=datetime.date(2026, 1, 1)).pk == second.pk
    events = ReferenceRange.pgh_event_model.objects.filter(pgh_obj_id=first.pk).order_by("pgh_id")
    assert [e.pgh_label for e in events] == ["insert", "update"]
    with pytest.raises(ValidationError) as exc:
        reference_range_record(site=ward, data=HB_CHILD | {"valid_from": datetime.date(2025, 6, 1)},
                               acting_user=admin)
    assert "valid_from" in exc.value.message_dict


@pytest.mark.parametrize(("change", "field"), [
    ({"age_from_months": 60, "age_to_months": 200}, "age_from_months"),  # overlaps the 24-144 month band
    ({"lln": 11.5}, "lln"),  # 11.5 g/L: a g/dL value in the wrong unit
    ({"unit": "10^9/L"}, "unit"),
    ({"source": "  "}, "source"),
    ({"lln": 160}, "lln")])  # above the ULN
def test_impossible_ranges_are_refused(ward, admin, change, field):
    reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    with pytest.raises(ValidationError) as exc:
        reference_range_record(site=ward, data=HB_CHILD | {"valid_from": datetime.date(2026, 1, 1)} | change
                               if "age_from_months" not in change else HB_CHILD | change, acting_user=admin)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert ReferenceRange.objects.filter(valid_to__isnull=False).count() == 0  # nothing closed


def test_a_patient_outside_every_band_keeps_an_undetermined_grade(ward, nurse, admin):
    baby = make_patient(ward, "KRK-099", birth_month=datetime.date(2025, 6, 1))
    reference_range_record(site=ward, data=HB_CHILD, acting_user=admin)
    value = lab_result_record(patient=baby, acting_user=nurse, data={
        "analyte": "hemoglobin", "value": 105, "unit": "g/L", "collected_at": at(6)})
    assert value.grade is None and value.lln is None


def test_api_lists_the_sites_ranges_and_only_an_administrator_adds_one(client, ward, other_ward, nurse, admin):
    """GET/POST /api/v1/reference-ranges/: scoped to the user's sites; ward staff may read but not add (403)."""
    body = HB_CHILD | {"site": ward.pk, "valid_from": "2025-01-01"}
    client.force_login(nurse)
    assert client.post("/api/v1/reference-ranges/", body, content_type="application/json").status_code == 403
    client.force_login(admin)
    created = client.post("/api/v1/reference-ranges/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["valid_to"] is None and created.json()["source"].startswith("Lab handbook")
    newer = client.post("/api/v1/reference-ranges/", body | {"lln": 110, "valid_from": "2026-01-01"},
                        content_type="application/json")
    assert newer.status_code == 201
    listed = client.get("/api/v1/reference-ranges/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["valid_to"] for r in rows] == ["2026-01-01", None]
    implausible = client.post("/api/v1/reference-ranges/", body | {"lln": 11.5, "valid_from": "2026-06-01"},
                              content_type="application/json")
    assert implausible.status_code == 400 and "lln" in api_errors(implausible)
    outsider = make_user("other-admin", other_ward, role=Membership.Role.ADMINISTRATOR)
    client.force_login(outsider)
    seen = client.get("/api/v1/reference-ranges/").json()
    assert (seen["results"] if isinstance(seen, dict) else seen) == []


def test_an_empty_age_band_is_refused_not_widened(ward, admin):
    """An age band 0-0 months is an input error (it ends where it starts), not "all ages"."""
    with pytest.raises(ValidationError):
        reference_range_record(site=ward, data=HB_CHILD | {"age_from_months": 0, "age_to_months": 0},
                               acting_user=admin)
    assert ReferenceRange.objects.count() == 0


def test_a_baseline_recorded_later_keeps_the_site_range_in_the_regraded_rationale(ward, nurse, admin, patient, cycle):
    """ALT 130 U/L against the site's ULN 40 U/L (3.25 x ULN: CTCAE v5.0 "Alanine aminotransferase increased"
    ">3.0 - 5.0 x ULN" = grade 2); a baseline ALT 80 U/L recorded afterwards regrades it (1.6 x an abnormal
    baseline: "1.5 - 3.0 x baseline" = grade 1). The regraded rationale still says where its ULN came from: the
    LLN/ULN are the site range's, and the stored rationale is what a reviewer traces them by."""
    reference_range_record(site=ward, acting_user=admin, data=HB_CHILD | {
        "analyte": "alt", "unit": "U/L", "lln": None, "uln": 40, "age_from_months": 0, "age_to_months": 240})
    later = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "alt", "value": 130, "unit": "U/L", "collected_at": at(8)})
    assert later.grade == 2 and "site reference range (Lab handbook 2026" in later.rationale
    baseline = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "alt", "value": 80, "unit": "U/L", "baseline": True, "cycle": cycle,
        "collected_at": datetime.datetime(2026, 1, 4, 7, tzinfo=TZ)})
    assert baseline.regraded == 1
    later.refresh_from_db()
    assert later.grade == 1 and "baseline" in later.rationale
    assert "site reference range (Lab handbook 2026" in later.rationale
