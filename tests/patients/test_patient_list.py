"""The HTML patient list is paginated (issue 12: every HTML list bounded), with the counts of each patient."""

from __future__ import annotations

import pytest

from patients import views
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


def test_the_patient_list_shows_one_page_at_a_time(nurse_client, ward, nurse, monkeypatch):
    monkeypatch.setattr(views, "PATIENT_PAGE_SIZE", 2)
    for i in range(5):
        make_patient(ward, f"PL-{i:02d}")
    url = f"/sites/{ward.slug}/patients/"
    first = nurse_client.get(url).content.decode()
    assert "PL-00" in first and "PL-01" in first and "PL-02" not in first
    assert "Page 1 of 3 (5 patients)" in first and "?page=2" in first
    last = nurse_client.get(url, {"page": 3}).content.decode()
    assert "PL-04" in last and "PL-03" not in last and "?page=2" in last


@pytest.mark.parametrize("page", ["x", "-1", "999"])
def test_a_page_number_out_of_range_shows_a_page_not_an_error(nurse_client, ward, page):
    make_patient(ward, "PL-00")
    response = nurse_client.get(f"/sites/{ward.slug}/patients/", {"page": page})
    assert response.status_code == 200 and "PL-00" in response.content.decode()


def test_each_row_counts_its_cycles_and_events(nurse_client, ward, nurse):
    patient = make_patient(ward, "PL-00")
    cycle = make_cycle(patient)
    make_cycle(patient, number=2, start=cycle.start_date.replace(month=3))
    make_event(cycle, "Tremor", grade=1, user=nurse)
    make_event(cycle, "Cytokine release syndrome", grade=2, user=nurse)
    make_event(cycle, "Hypoxia", grade=2, user=nurse)
    make_patient(ward, "PL-01")
    page = nurse_client.get(f"/sites/{ward.slug}/patients/").context["patients"]
    assert [(p.study_id, p.n_cycles, p.n_events) for p in page] == [("PL-00", 2, 3), ("PL-01", 0, 0)]
