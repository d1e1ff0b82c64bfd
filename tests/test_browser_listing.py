"""A safety reviewer filters the AE listing and opens a patient's timeline (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import datetime
import os

import pytest

from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_event, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_the_listing_then_open_the_timeline(live_server, page, ward):
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    a, b = make_patient(ward, "BR-001"), make_patient(ward, "BR-002")
    make_event(make_cycle(a, start=datetime.date(2026, 1, 5)), "Cytokine release syndrome", 3)
    make_event(make_cycle(b, start=datetime.date(2026, 1, 12)), "Anemia", 2)

    log_in(page, live_server.url, officer.username)
    page.goto(f"{live_server.url}/sites/{ward.slug}/patients/")
    page.get_by_role("link", name="All adverse events (listing: filter, sort, export)").click()
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/events/")
    assert page.locator("#ae-listing tbody tr").count() == 2
    page.fill("#id_grade_min", "3")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "grade_min=3" in u)
    rows = page.locator("#ae-listing tbody tr")
    assert rows.count() == 1 and "Cytokine release syndrome" in rows.first.inner_text()
    rows.first.get_by_role("link", name="BR-001").click()
    page.get_by_role("link", name="timeline").click()
    page.wait_for_url(f"{live_server.url}/patients/{a.pk}/timeline/")
    bar = page.locator("#timeline svg g.ae.grade-3")
    assert bar.count() == 1 and "G3" in bar.text_content()
    assert bar.is_visible()
    assert page.locator("#timeline svg g.cycle").count() == 1
