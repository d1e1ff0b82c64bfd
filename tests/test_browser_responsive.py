"""Tablet and phone (issue 15 item 2): no horizontal scrolling of the page at 768 and 390 CSS px on the pages a user
reaches (a wide table scrolls inside its own container); a full-page screenshot of each page at each width is kept
under test-artifacts/responsive/ (gitignored)."""

from __future__ import annotations

import datetime
import os
import re

import pytest

from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_event, make_patient, make_user
from tests.test_browser_accessibility import ARTIFACTS, _pages

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = (768, 390)  # a portrait ward tablet; a phone


def test_no_horizontal_page_scroll_on_tablet_and_phone(live_server, page, ward):
    overflowing: dict[str, list[str]] = {}
    seen = 0
    for name, _ in _pages(live_server, page, ward):
        seen += 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(50)
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            folder = ARTIFACTS / "responsive" / str(width)
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"), full_page=True)
            if scroll > client:
                wide = page.evaluate("""(w) => Array.from(document.querySelectorAll('body *'))
                    .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-scroll'))
                    .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (typeof el.className === 'string' && el.className ? '.' + el.className : ''))""",
                                     client)
                overflowing[f"{name} @ {width}px"] = [f"scrollWidth {scroll} > {client}", *wide]
        page.set_viewport_size({"width": 1280, "height": 720})
    assert seen == 14
    assert overflowing == {}


def test_the_patient_pages_event_table_fits_a_portrait_tablet_in_polish(live_server, page, ward):
    """Found on a 768 px tablet in Polish: the patient page's events table was 22 px wider than the page, so its last
    column ("edytuj · leczenie · historia") was cut off at the right edge — a tablet shows no scroll bar to say
    there is more. "Wyzdrowienie/ustąpiło" (Recovered/resolved) had no place to wrap. The table now fits."""
    ward.language, ward.time_zone = "pl", "Europe/Warsaw"
    ward.save()
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    cycle = make_cycle(make_patient(ward, "P-01"), start=datetime.date(2026, 1, 2))
    make_event(cycle, grade=3, resolution_date=datetime.date(2026, 1, 7))  # outcome Recovered/resolved
    log_in(page, live_server.url, nurse.username)
    page.set_viewport_size({"width": 768, "height": 1000})
    page.goto(f"{live_server.url}/patients/{cycle.patient_id}/")
    assert page.get_by_text("Wyzdrowienie/ustąpiło").is_visible()
    scroll, client = page.evaluate("""() => { const box = document.querySelector('main .table-scroll');
        return [box.scrollWidth, box.clientWidth]; }""")
    assert scroll <= client, f"the events table is {scroll - client} px wider than its place"
