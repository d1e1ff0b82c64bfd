"""Bedside CRS grading in a real browser (Playwright driving Debian's Chromium): the live calculator and episodes.

A nurse records two CRS assessments of one episode: fever only (ASTCT 2019 grade 1), then fever with hypotension
on norepinephrine (grade 3, ASTCT 2019 CRS table). The computed grade updates as the fields are filled, without a page
reload, and the patient has ONE CRS adverse event whose grade rose from 1 to 3.
"""

from __future__ import annotations

import datetime
import os

import pytest

from ae.models import AdverseEvent, CRSAssessment
from patients.models import Membership
from tests.conftest import PASSWORD, make_cycle, make_patient, make_user, tab_to

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def computed_grade(page, expected: str) -> str:
    """Wait until the live calculator shows ``expected`` and return its text."""
    box = page.locator("#computed-grade")
    box.get_by_text(expected).wait_for()
    return box.inner_text()


def test_a_nurse_records_two_crs_assessments_and_sees_one_event_whose_grade_rose(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-043")
    make_cycle(patient, start=datetime.date(2026, 1, 20))

    page.goto(f"{live_server.url}/login/")
    tab_to(page, "el.id === 'id_username'")
    page.keyboard.type(nurse.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/patients/")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")

    # First assessment: fever only -> ASTCT 2019 grade 1, shown live before saving.
    page.get_by_role("link", name="Record CRS assessment").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/crs/new/")
    assert page.input_value("#id_episode") == ""  # no episode yet: a new one
    page.fill("#id_assessed_at", "2026-01-21T08:00")
    page.locator("#id_temperature_c").press_sequentially("38.6")
    text = computed_grade(page, "grade: 1")
    assert "fever 38.6 °C without hypotension or hypoxia" in text
    page.select_option("#id_relatedness", "probable")
    page.select_option("#id_action_taken", "DRUG INTERRUPTED")
    page.get_by_role("button", name="Save assessment").click()
    event = AdverseEvent.objects.get()
    page.wait_for_url(f"{live_server.url}/events/{event.pk}/history/")
    assert "episode grade 1 (computed 1)" in page.inner_text(".messages")

    # Second assessment of the same (ongoing, preselected) episode: hypotension on norepinephrine -> grade 3.
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Record CRS assessment").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/crs/new/")
    assert page.input_value("#id_episode") == str(event.pk)
    page.fill("#id_assessed_at", "2026-01-22T06:30")
    page.locator("#id_temperature_c").press_sequentially("39.2")
    computed_grade(page, "grade: 1")
    page.check("#id_hypotension")
    computed_grade(page, "grade: 2")  # hypotension not requiring vasopressors
    url_before = page.url
    page.check("input[name=vasopressors][value=norepinephrine]")
    text = computed_grade(page, "grade: 3")
    assert "norepinephrine" in text
    assert page.url == url_before  # computed live, no page reload
    page.get_by_role("button", name="Save assessment").click()
    page.wait_for_url(f"{live_server.url}/events/{event.pk}/history/")
    assert "episode grade 3 (computed 3)" in page.inner_text(".messages")
    history = page.inner_text("table.assessments")
    assert "21 Jan 2026 08:00" in history and "22 Jan 2026 06:30" in history

    # The patient page shows ONE CRS event, now grade 3, onset at the first assessment.
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    rows = page.locator("section.cycle tbody tr", has_text="Cytokine release syndrome")
    assert rows.count() == 1
    assert rows.first.locator("td.grade").inner_text() == "3"
    assert "21 Jan 2026" in rows.first.inner_text()
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade, event.onset_date) == (3, 3, datetime.date(2026, 1, 21))
    assert list(CRSAssessment.objects.order_by("assessed_at").values_list("astct_grade", flat=True)) == [1, 3]
