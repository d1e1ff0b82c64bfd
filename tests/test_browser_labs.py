"""A lab value becomes an adverse event the ward and the safety officer can see (Playwright driving Debian's Chromium).

A nurse records a platelet count of 40 ×10⁹/L (CTCAE v5.0 grade 3): the unit select offers only the analyte's units,
the ward's ×10⁹/L first; a unit slip is named while she types; on save the page says that a Platelet count decreased
adverse event was recorded and links it. The safety officer's report counts it within seconds (eager Celery: the
benchmark run happens after the commit, in-process).
"""

from __future__ import annotations

import datetime
import os
import time

import pytest

from ae.models import AdverseEvent, LabResult
from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_patient, make_user
from tests.test_browser_language import _nurse_on_a_form

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def unit_options(page) -> list[list[str]]:
    return page.eval_on_selector_all("#id_unit option", "els => els.map(o => [o.value, o.textContent])")


def test_a_grade_3_platelet_count_is_an_adverse_event_the_officer_sees(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    patient = make_patient(ward, "KRK-046")
    make_cycle(patient, start=datetime.date(2026, 1, 20))

    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Record lab result").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")

    # The unit select follows the analyte, the ward's unit first and chosen.
    page.select_option("#id_analyte", "hemoglobin")
    assert unit_options(page) == [["g/L", "g/L"], ["g/dL", "g/dL"], ["mmol/L", "mmol/L"]]
    assert page.input_value("#id_unit") == "g/L"
    page.select_option("#id_unit", "g/dL")
    page.fill("#id_value", "95")
    page.locator("#computed-grade").get_by_text("Did you mean 95 g/L?", exact=False).wait_for()
    page.select_option("#id_analyte", "platelets")
    assert unit_options(page) == [["10^9/L", "×10⁹/L"], ["/mm3", "/mm³"]]
    assert page.input_value("#id_unit") == "10^9/L"

    page.fill("#id_value", "40")
    page.fill("#id_lln", "150")
    page.fill("#id_collected_at", "2026-01-21T08:00")
    page.locator("#computed-grade").get_by_text("Platelet count decreased, CTCAE v5.0 grade: 3").wait_for()
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")

    event = AdverseEvent.objects.get()
    message = page.locator(".messages")
    assert "Adverse event recorded: Platelet count decreased grade 3 in cycle 1." in message.inner_text()
    link = message.get_by_role("link", name="Platelet count decreased grade 3")
    assert link.get_attribute("href") == f"/events/{event.pk}/history/"
    assert LabResult.objects.get().adverse_event == event
    link.click()
    page.wait_for_url(f"{live_server.url}/events/{event.pk}/history/")
    assert "21 Jan 2026 08:00" in page.inner_text("table.lab-results")

    # The safety officer's report counts the patient within seconds.
    page.context.clear_cookies()
    log_in(page, live_server.url, officer.username)
    report = f"{live_server.url}/sites/{ward.slug}/report/"
    cell = page.locator(f'a[href="/sites/{ward.slug}/report/thrombocytopenia/any/all/"]')
    deadline = time.monotonic() + 10
    while True:
        page.goto(report)
        if cell.count() and cell.inner_text().strip() == "1/1":
            break
        assert time.monotonic() < deadline, "the report did not count the lab's adverse event within 10 s"
        page.wait_for_timeout(500)
    assert page.locator(f'a[href="/sites/{ward.slug}/report/thrombocytopenia/ge3/all/"]').inner_text().strip() == "1/1"


def test_the_lab_form_defaults_lln_uln_from_the_site_range_and_a_typed_range_overrides(live_server, page, ward):
    """Issue 10 item 10: Hb 105 g/L for a 10-year-old girl, site range 115–155 g/L (2–12 years, both sexes): the form
    shows the range and its source, the live grade uses it (Anemia grade 1: <LLN - 100 g/L), the saved value is graded
    with it and names it; a value typed with the report's own LLN overrides it."""
    from ae.services.reference_ranges import reference_range_record

    admin = make_user("lab-admin", ward, Membership.Role.ADMINISTRATOR)
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-047", sex="F", birth_month=datetime.date(2016, 1, 1))
    make_cycle(patient, start=datetime.date(2026, 1, 20))
    reference_range_record(site=ward, acting_user=admin, data={
        "analyte": "hemoglobin", "unit": "g/L", "sex": "", "age_from_months": 24, "age_to_months": 144, "lln": 115,
        "uln": 155, "source": "Lab handbook 2026, haematology p. 4", "valid_from": datetime.date(2025, 1, 1)})

    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    page.select_option("#id_analyte", "hemoglobin")
    note = page.locator("#site-range-note")
    note.get_by_text("Site range 115–155 g/L", exact=False).wait_for()
    assert "Lab handbook 2026, haematology p. 4" in note.inner_text()
    assert page.get_attribute("#id_lln", "placeholder") == "115 (site range)"
    page.select_option("#id_unit", "g/dL")  # the same range in the unit chosen
    assert page.get_attribute("#id_lln", "placeholder") == "11.5 (site range)"
    page.select_option("#id_unit", "g/L")
    page.fill("#id_value", "105")
    page.fill("#id_collected_at", "2026-01-21T08:00")
    page.locator("#computed-grade").get_by_text("Anemia, CTCAE v5.0 grade: 1").wait_for()
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    saved = LabResult.objects.get()
    assert (saved.grade, saved.lln, saved.uln) == (1, 115, 155)
    assert "site reference range (Lab handbook 2026, haematology p. 4" in saved.rationale

    page.select_option("#id_analyte", "hemoglobin")
    page.fill("#id_value", "105")
    page.fill("#id_lln", "100")  # the report's own range overrides the site's
    page.fill("#id_collected_at", "2026-01-22T08:00")
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    typed = LabResult.objects.order_by("-collected_at").first()
    assert (typed.grade, typed.lln) == (0, 100)
    assert "site reference range" not in typed.rationale


def test_the_lab_form_proposes_the_range_of_the_age_band_at_the_sample_date(live_server, page, ward):
    """Issue 10 item 10: the form defaults LLN/ULN for the patient's age AT THE SAMPLE DATE. A girl exactly 144 months
    (12 years) old today is in the 144–216 month band (Hb 120–160 g/L, girls); a sample collected a month ago was taken
    at 143 months, in the 24–144 band (115–155 g/L, both sexes): changing the collection date changes the proposed
    range, the range the service grades with."""
    from django.utils import timezone

    from ae.services.reference_ranges import reference_range_record

    admin = make_user("lab-admin", ward, Membership.Role.ADMINISTRATOR)
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    today = timezone.localdate()
    birth = datetime.date(today.year - 12, today.month, 1)
    patient = make_patient(ward, "KRK-048", sex="F", birth_month=birth)
    base = {"analyte": "hemoglobin", "unit": "g/L", "source": "Lab handbook 2026, haematology p. 4",
            "valid_from": datetime.date(2000, 1, 1)}
    reference_range_record(site=ward, acting_user=admin, data=base | {
        "sex": "", "age_from_months": 24, "age_to_months": 144, "lln": 115, "uln": 155})
    reference_range_record(site=ward, acting_user=admin, data=base | {
        "sex": "F", "age_from_months": 144, "age_to_months": 216, "lln": 120, "uln": 160})
    earlier = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=15)  # mid last month: 143 months

    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    page.select_option("#id_analyte", "hemoglobin")
    page.fill("#id_collected_at", f"{today:%Y-%m-%d}T08:00")
    assert page.get_attribute("#id_lln", "placeholder") == "120 (site range)"
    assert "144–216 months" in page.inner_text("#site-range-note")
    page.fill("#id_collected_at", f"{earlier:%Y-%m-%d}T08:00")
    assert page.get_attribute("#id_lln", "placeholder") == "115 (site range)"
    assert page.get_attribute("#id_uln", "placeholder") == "155 (site range)"
    assert "24–144 months" in page.inner_text("#site-range-note")

    page.fill("#id_value", "118")  # grade 1 (Anemia <LLN) in the 144–216 band, grade 0 in the 24–144 band
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    saved = LabResult.objects.get()
    assert (saved.lln, saved.uln, saved.grade) == (115, 155, 0)  # the service agrees with the proposed range


def test_a_polish_nurse_types_a_decimal_comma_and_the_value_is_saved_as_typed(live_server, page, ward):
    """Found on the Polish lab form: the value box was ``<input type="number">``, and Chromium drops a typed comma
    there — "3,2" became 32. Typed with the keyboard, as a nurse does, "3,2" now stays "3,2", the calculator grades
    potassium 3.2 mmol/L and the saved value is 3.2."""
    patient = _nurse_on_a_form("pl", live_server, page, ward, "labs")
    page.select_option("#id_analyte", "potassium")
    for box, typed in (("#id_value", "3,2"), ("#id_lln", "3,5"), ("#id_uln", "5,1")):
        page.click(box)
        page.keyboard.type(typed)
        assert page.input_value(box) == typed
    page.fill("#id_collected_at", "2026-01-21T08:00")
    page.locator("#computed-grade").get_by_text("wg CTCAE v5.0: 1", exact=False).wait_for()
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    result = LabResult.objects.get()
    assert (str(result.value), str(result.lln), str(result.uln)) == ("3.2000", "3.5000", "5.1000")
