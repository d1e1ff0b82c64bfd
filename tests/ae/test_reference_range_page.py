"""The site reference ranges page (issue 10 item 10): members read the laboratory's ranges with their source and
validity, only an administrator records a new version (audited, closing the one it replaces), another site's slug is
404; the lab form shows which site range a value left without LLN/ULN will be graded with."""

from __future__ import annotations

import datetime

import pytest

from ae.models import ReferenceRange
from core.audit import history_rows
from patients.models import Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
URL = "/sites/ward-a/reference-ranges/"
HB = {"analyte": "hemoglobin", "unit": "g/L", "sex": "", "age_from_months": "24", "age_to_months": "144",
      "lln": "115", "uln": "155", "source": "Lab handbook 2026, haematology p. 4", "valid_from": "2025-01-01"}


@pytest.fixture
def admin(ward):
    return make_user("lab-admin", ward, role=Membership.Role.ADMINISTRATOR)


def test_an_administrator_records_a_new_version_that_closes_the_old_one(client, admin):
    client.force_login(admin)
    assert "Record a new version" in client.get(URL).content.decode()
    assert client.post(URL, HB).status_code == 302
    response = client.post(URL, HB | {"lln": "110", "valid_from": "2026-01-01", "source": "Lab handbook 2027"})
    assert response.status_code == 302
    old, new = ReferenceRange.objects.order_by("valid_from")
    assert (old.valid_to, new.valid_to, new.lln) == (datetime.date(2026, 1, 1), None, 110)
    page = client.get(URL).content.decode()
    assert "Lab handbook 2027" in page and "01 Jan 2026" in page and "current" in page
    assert len(history_rows(old)) >= 2  # created, then closed: both in the audit history


def test_a_bad_range_is_an_error_next_to_its_field_and_nothing_is_saved(client, admin):
    client.force_login(admin)
    response = client.post(URL, HB | {"lln": "11.5", "uln": "15.5"})  # g/dL numbers with g/L chosen
    assert response.status_code == 200
    assert "not plausible" in " ".join(response.context["form"].errors["lln"])
    assert ReferenceRange.objects.count() == 0


def test_ward_staff_read_but_cannot_record(client, nurse):
    client.force_login(nurse)
    page = client.get(URL).content.decode()
    assert "Laboratory reference ranges" in page and "Record a new version" not in page
    client.post(URL, HB)
    assert ReferenceRange.objects.count() == 0


def test_another_sites_member_gets_404(client, outsider):
    client.force_login(outsider)
    assert client.get(URL).status_code == 404
    assert client.post(URL, HB).status_code == 404


def test_the_lab_form_shows_the_site_range_for_the_patients_age_and_sex(client, admin, nurse, patient,
                                                                        django_assert_max_num_queries):
    client.force_login(admin)
    client.post(URL, HB)
    client.force_login(nurse)
    with django_assert_max_num_queries(30):
        page = client.get(f"/patients/{patient.pk}/labs/new/").content.decode()
    assert "Lab handbook 2026, haematology p. 4" in page and 'data-analyte="hemoglobin"' in page


def test_limits_are_written_as_recorded_without_padding_zeros_in_the_readers_language(client, admin, ward):
    """A range of 3.5–5.1 mmol/L is shown "3.5–5.1", not "3.5000–5.1000" (the column holds four decimals), and with a
    decimal comma in Polish ("3,5–5,1")."""
    client.force_login(admin)
    potassium = HB | {"analyte": "potassium", "unit": "mmol/L", "lln": "3.5", "uln": "5.1", "age_from_months": "0"}
    assert client.post(URL, potassium).status_code == 302
    page = client.get(URL).content.decode()
    assert "3.5–5.1 mmol/L" in page and "3.5000" not in page
    ward.language = "pl"
    ward.save()
    client.force_login(admin)  # the site's language is the session's from the next login
    assert "3,5–5,1 mmol/L" in client.get(URL).content.decode()
