"""Attention where it is needed (issue 15 item 6), in Debian's Chromium: a benchmark run raises a new flag, the
safety officer sees it counted in the header on every page, opens the notification, lands on the flagged cell's
drill-down and the notification is marked read (the count goes down)."""

from __future__ import annotations

import datetime
import os
import re

import pytest

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership, Notification
from reports.runs import benchmark_run_now
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def header_count(page) -> int:
    badge = page.locator("#notifications-unread")
    return int(re.match(r"(\d+) new", badge.inner_text()).group(1)) if badge.count() else 0


def test_a_new_flag_is_counted_in_the_header_opened_and_marked_read(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    fn = CTCAETerm.objects.get(term="Febrile neutropenia")
    for i in range(8):  # 8 of 9 patients with grade 3 febrile neutropenia: far above the cohorts, a flag
        cycle = make_cycle(make_patient(ward, f"P-{i:02d}"), start=datetime.date(2026, 1, 5))
        AdverseEvent.objects.create(patient=cycle.patient, cycle=cycle, term=fn, grade=3, onset_date=cycle.start_date,
                                    relatedness="probable", action_taken="DOSE NOT CHANGED",
                                    outcome="NOT RECOVERED/NOT RESOLVED", created_by=nurse)
    make_cycle(make_patient(ward, "P-08"), start=datetime.date(2026, 1, 5))

    log_in(page, live_server.url, officer.username)
    page.goto(f"{live_server.url}/sites/{ward.slug}/patients/")
    assert header_count(page) == 0

    run = benchmark_run_now(site=ward)
    raised = Notification.objects.filter(recipient=officer, kind="new_flag", key__startswith=f"flag:{run.pk}:")
    assert raised.count() == run.flags.count() > 0
    assert not Notification.objects.filter(recipient=nurse).exists()

    page.goto(f"{live_server.url}/sites/{ward.slug}/patients/")  # any page: the count is in the header
    before = header_count(page)
    assert before == raised.count()
    page.locator("#notifications-link").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    notice = raised.order_by("id").first()
    row = page.locator("tr.unread").filter(has_text=notice.subject)
    row.get_by_role("link").click()
    page.wait_for_url(f"{live_server.url}{notice.link}")  # the flagged cell's drill-down
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert header_count(page) == before - 1
