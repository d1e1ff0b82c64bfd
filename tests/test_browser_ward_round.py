"""A ward round in a real browser (Playwright driving Debian's Chromium): the records the ward can trust (issue 9).

One walk-through, as the issue's "done when" describes it: a nurse logs CRS on the AE form, then a bedside
assessment of the same CRS → one AE whose grade rose; a grade 3 platelet count → one Platelet count decreased AE,
counted on the officer's report within seconds; a grade 5 event → serious with "results in death", the officer
notified; the officer's signed review still shown after an unrelated save. The benchmark runs after each commit
in-process (eager Celery).
"""

from __future__ import annotations

import datetime
import os
import time

import pytest

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership, Notification
from reports.runs import benchmark_run_now
from tests.conftest import PASSWORD, log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_event(page, term: str, grade: int, onset: datetime.date, outcome: str) -> None:
    page.fill("#id_term", term)
    page.locator("#field-grade").get_by_text(f"Grade {grade}", exact=False).first.wait_for()
    page.check(f"input[name=grade][value='{grade}']")
    page.fill("#id_onset_date", onset.isoformat())
    page.select_option("#id_relatedness", "probable")
    page.select_option("#id_action_taken", "DOSE NOT CHANGED")
    page.select_option("#id_outcome", outcome)


def report_cell(page, url: str, site: str, path: str, expected: str) -> None:
    """Reload the report until the cell at ``path`` reads ``expected`` (at most 10 s)."""
    cell = page.locator(f'a[href="/sites/{site}/report/{path}/"]')
    deadline = time.monotonic() + 10
    while True:
        page.goto(f"{url}/sites/{site}/report/")
        if cell.count() and cell.inner_text().strip() == expected:
            return
        assert time.monotonic() < deadline, f"{path} did not read {expected} within 10 s"
        page.wait_for_timeout(500)


def test_a_ward_round_keeps_one_event_per_clinical_event_and_the_officer_informed(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    officer.email = "officer@hospital.example"
    officer.save()
    fn = CTCAETerm.objects.get(term="Febrile neutropenia")
    for i in range(8):  # 8 of 9 patients with febrile neutropenia and none with anaemia: a flag to review
        cycle = make_cycle(make_patient(ward, f"P-{i:02d}"), start=datetime.date(2026, 1, 5))
        AdverseEvent.objects.create(patient=cycle.patient, cycle=cycle, term=fn, grade=3, onset_date=cycle.start_date,
                                    relatedness="probable", action_taken="DOSE NOT CHANGED",
                                    outcome="NOT RECOVERED/NOT RESOLVED", created_by=nurse)
    patient = make_patient(ward, "KRK-090")  # the patient of the round (already treated: n stays 9)
    today = datetime.date.today()
    make_cycle(patient, start=today - datetime.timedelta(days=6))
    first_run = benchmark_run_now(site=ward)
    # "Check ascertainment": far fewer anaemia events than the cohorts report (none of the round's saves is anaemia)
    flag = first_run.flags.get(kind="literature", category__slug="anemia", grade_band="any", cycle_scope="all")
    url, report = live_server.url, f"{live_server.url}/sites/{ward.slug}/report/"

    # The officer signs the CRS review before the round.
    log_in(page, url, officer.username)
    page.goto(report)
    page.fill(f"#comment-{flag.pk}", "Checked: Hb is graded from the lab results now.")
    page.fill(f"#password-{flag.pk}", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(report)
    officer_context = page.context
    nurse_page = page.context.browser.new_context(locale="en-GB", timezone_id="Europe/Warsaw").new_page()
    nurse_page.set_default_timeout(15_000)
    page = nurse_page
    log_in(page, url, nurse.username)

    # 1. CRS on the AE form (grade 1, ongoing), then a bedside assessment of the same CRS: one AE, grade 3.
    page.goto(f"{url}/patients/{patient.pk}/events/new/")
    fill_event(page, "CRS", 1, today - datetime.timedelta(days=5), "NOT RECOVERED/NOT RESOLVED")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{url}/patients/{patient.pk}/")
    page.goto(f"{url}/patients/{patient.pk}/crs/new/")
    entered = AdverseEvent.objects.get(patient=patient)
    assert page.input_value("#id_episode") == str(entered.pk)  # the episode entered by hand is offered first
    page.fill("#id_temperature_c", "39.4")
    page.check("#id_hypotension")
    page.check("input[name=vasopressors][value=norepinephrine]")
    page.get_by_role("button", name="Save assessment").click()
    page.wait_for_url(f"{url}/events/{entered.pk}/history/")
    assert "episode grade 3" in page.inner_text(".messages")
    assert AdverseEvent.objects.filter(patient=patient).count() == 1
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade) == (3, 3)

    # 2. A grade 3 platelet count: one Platelet count decreased AE, counted on the report within seconds.
    page.goto(f"{url}/patients/{patient.pk}/labs/new/")
    page.select_option("#id_analyte", "platelets")
    page.fill("#id_value", "40")
    page.fill("#id_lln", "150")
    page.fill("#id_collected_at", f"{today - datetime.timedelta(days=2):%Y-%m-%d}T08:00")
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url(f"{url}/patients/{patient.pk}/labs/new/")
    assert "Adverse event recorded: Platelet count decreased grade 3" in page.inner_text(".messages")
    assert AdverseEvent.objects.filter(patient=patient, term__term="Platelet count decreased").count() == 1

    # 3. A death: Serious and "results in death" are ticked for the nurse, the officer is notified.
    page.goto(f"{url}/patients/{patient.pk}/events/new/")
    # today: the CRS assessment above was taken now, and a death is the last day of the record
    fill_event(page, "Sepsis", 5, today, "FATAL")
    assert page.is_checked("#id_serious") and page.is_checked("#id_sae_death")
    assert "always a serious adverse event" in page.inner_text(".death-note")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"{url}/patients/{patient.pk}/")
    assert "safety officers were notified (1)" in page.inner_text(".messages")
    death = AdverseEvent.objects.get(patient=patient, term__term="Sepsis")
    assert (death.serious, death.sae_death) == (True, True)
    assert Notification.objects.get(kind="death").recipient == officer

    # 4. The officer: notified in the menu, the platelet AE counted, the anaemia review still standing after all
    #    these saves (its comparison did not change).
    page = officer_context.new_page()
    report_cell(page, url, ward.slug, "thrombocytopenia/ge3/all", "1/9")
    unread = Notification.objects.filter(recipient=officer, read_at=None).count()  # the death, and new flags
    assert unread >= 1 and f"{unread} new" in page.inner_text("nav")
    fn_flag = page.locator("article.flag").filter(has_text="Anemia, any grade, all cycles")
    assert "Checked: Hb is graded from the lab results now." in fn_flag.inner_text()
    assert "review carried over from run" in fn_flag.inner_text()
    assert fn_flag.get_by_role("button", name="Sign review").count() == 0
    page.locator("#notifications-link").click()
    assert "Sepsis grade 5" in page.inner_text("table")
