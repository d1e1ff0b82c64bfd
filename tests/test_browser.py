"""The ward form in a real browser (Playwright driving Debian's Chromium), keyboard only."""

from __future__ import annotations

import datetime
import os

import pytest

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership
from tests.conftest import PASSWORD, log_in, make_cycle, make_patient, make_user, tab_to, type_into_autofocus

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_a_nurse_records_an_event_with_the_keyboard_only(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-042")
    cycle = make_cycle(patient, start=datetime.date(2026, 1, 20))

    page.goto(f"{live_server.url}/login/")
    tab_to(page, "el.id === 'id_username'")
    page.keyboard.type(nurse.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/patients/")

    tab_to(page, "el.textContent.trim() === 'KRK-042'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/")
    tab_to(page, "el.textContent.trim() === 'Record adverse event'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/events/new/")

    # The term field has focus; choosing Tremor shows its grade definitions and disables grades 4 and 5.
    type_into_autofocus(page, "id_term", "Tremor")
    definitions = page.locator("#field-grade")
    definitions.get_by_text("Severe symptoms; limiting self care ADL").wait_for()
    assert page.is_disabled("#id_grade_3")  # radio index 3 = grade 4
    assert page.is_disabled("#id_grade_4")  # grade 5
    assert page.is_enabled("#id_grade_2")  # grade 3

    # First try: onset the day before the cycle started -> a clear error, nothing saved, typing kept.
    _fill_rest_with_keyboard(page, onset=datetime.date(2026, 1, 19))
    page.keyboard.press("Enter")
    page.locator("#field-onset_date .error").wait_for()
    assert "before cycle 1 started" in page.inner_text("#field-onset_date .error")
    assert page.input_value("#id_term") == "Tremor"
    assert AdverseEvent.objects.count() == 0

    # Correct the onset (keyboard) and save.
    tab_to(page, "el.id === 'id_onset_date'")
    type_date(page, datetime.date(2026, 1, 21))
    tab_to(page, "el.classList.contains('primary')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/")
    assert "Saved: Tremor grade 2, cycle 1." in page.inner_text(".messages")
    event = AdverseEvent.objects.get()
    assert (event.term.term, event.grade, event.cycle_id) == ("Tremor", 2, cycle.pk)
    assert (event.onset_date, event.onset_cycle_day) == (datetime.date(2026, 1, 21), 2)
    assert "Tremor" in page.inner_text("section.cycle")


def type_date(page, day: datetime.date) -> None:
    """Type a date into the focused <input type=date>, in the segment order this browser's date field uses.

    Chromium orders the segments by its UI locale, not the page's: probe it once on a scratch page.
    """
    global _DATE_ORDER
    if _DATE_ORDER is None:
        probe = page.context.new_page()
        probe.set_content("<input id=d type=date autofocus>")
        probe.focus("#d")
        probe.keyboard.type("11222001")  # valid only as month 11, day 22
        _DATE_ORDER = "mdy" if probe.input_value("#d") == "2001-11-22" else "dmy"
        probe.close()
    parts = {"d": f"{day.day:02d}", "m": f"{day.month:02d}", "y": f"{day.year:04d}"}
    page.keyboard.type("".join(parts[p] for p in _DATE_ORDER))
    assert page.evaluate("document.activeElement.value") == day.isoformat()


_DATE_ORDER: str | None = None


def _fill_rest_with_keyboard(page, onset: datetime.date) -> None:
    """From the term field: grade 2 (arrow keys), onset date typed, selects chosen by typing."""
    tab_to(page, "el.name === 'grade'")
    page.keyboard.press("ArrowRight")  # selects the next grade: 1 -> 2
    if not page.is_checked("#id_grade_1"):  # the group was entered with nothing checked: Space picks 1 first
        page.keyboard.press("ArrowRight")
    assert page.is_checked("#id_grade_1")
    tab_to(page, "el.id === 'id_onset_date'")
    type_date(page, onset)
    tab_to(page, "el.id === 'id_relatedness'")
    page.keyboard.type("Probably")
    tab_to(page, "el.id === 'id_action_taken'")
    page.keyboard.type("Dose not")
    tab_to(page, "el.id === 'id_outcome'")
    page.keyboard.type("Not recovered")
    assert page.input_value("#id_relatedness") == "probable"
    assert page.input_value("#id_action_taken") == "DOSE NOT CHANGED"
    assert page.input_value("#id_outcome") == "NOT RECOVERED/NOT RESOLVED"
    tab_to(page, "el.classList.contains('primary')")


def test_the_officer_sees_forest_and_funnel_plots_of_a_flagged_benchmark(live_server, page, ward):
    from reports.runs import benchmark_run_now

    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    for i in range(8):  # 8 of 8 patients with grade 3 CRS: flagged against every published benchmark
        cycle = make_cycle(make_patient(ward, f"P-{i:02d}"))
        AdverseEvent.objects.create(patient=cycle.patient, cycle=cycle, term=CTCAETerm.objects.get(
            term="Cytokine release syndrome"), grade=3, onset_date=cycle.start_date, relatedness="probable",
            action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED", created_by=officer)
    assert benchmark_run_now(site=ward).flags.exists()

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", officer.username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/report/")
    plots = page.locator("figure.benchmark-plots img")  # the stored plots, linked as images (issue 12)
    assert plots.count() >= 2
    page.wait_for_function("Array.from(document.querySelectorAll('figure.benchmark-plots img')).slice(0, 2)"
                           ".every(img => img.complete && img.naturalWidth > 0)")  # loaded and decoded
    for i in range(2):
        box = plots.nth(i).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150  # drawn, not collapsed
    labels = [plots.nth(i).get_attribute("alt") for i in range(2)]
    assert labels[0].startswith("Forest plot") and labels[1].startswith("Funnel plot")
    # CSP-compatible styling survived: the plot's lines carry stroke colours.
    svg = page.request.get(live_server.url + plots.nth(0).get_attribute("src")).text()
    assert svg.count(" stroke=") > 10 and " style=" not in svg


def _term_to(page, name: str) -> None:
    """Replace the term with ``name`` the way a nurse does: select what is there and type over it."""
    page.focus("#id_term")
    page.keyboard.press("Control+A")
    page.keyboard.type(name)


def test_the_grade_definitions_still_appear_when_a_term_search_fails(live_server, page, ward):
    """A failed term search (busy server, a Wi-Fi drop) is retried: the grades appear without retyping."""
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-045")
    make_cycle(patient, start=datetime.date(2026, 1, 20))
    log_in(page, live_server.url, nurse.username)
    failures = []

    def fail_twice(route):
        if len(failures) < 2:
            failures.append(route.request.url)
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/api/v1/ctcae-terms/**", fail_twice)
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")
    page.fill("#id_term", "Cytokine release syndrome")
    page.locator("#field-grade").get_by_text("Hypotension managed with one pressor").wait_for(timeout=10000)
    assert len(failures) == 2


def test_changing_the_term_keeps_a_grade_the_new_term_has_and_says_when_it_cannot(live_server, page, ward):
    """Grade 2 survives CRS -> Hypoxia (both have grade 2); Febrile neutropenia (grades 3-5) clears it, in words."""
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-044")
    make_cycle(patient, start=datetime.date(2026, 1, 20))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", nurse.username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/patients/")
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")

    grade_box = page.locator("#field-grade")
    type_into_autofocus(page, "id_term", "Cytokine release syndrome")
    grade_box.get_by_text("Hypotension responding to fluids; hypoxia responding to <40% O2").wait_for()
    page.check("#id_grade_1")  # grade 2
    status = page.locator("#grade-status")
    assert status.get_attribute("aria-live") == "polite"

    _term_to(page, "Hypoxia")
    grade_box.get_by_text("Decreased oxygen saturation with exercise", exact=False).wait_for()
    page.wait_for_timeout(300)  # let any late answer for a partly typed term arrive
    assert page.is_checked("#id_grade_1"), "grade 2 exists for Hypoxia: it must be kept"
    assert page.is_enabled("#id_grade_1")
    assert status.inner_text().strip() == ""

    _term_to(page, "Febrile neutropenia")
    status.get_by_text("Grade 2 is not defined for Febrile neutropenia — choose a grade again.").wait_for()
    assert not page.is_checked("#id_grade_1")
    assert page.is_disabled("#id_grade_1")
    assert page.evaluate("document.querySelectorAll('input[name=grade]:checked').length") == 0
    # the status sits next to the grades, so a screen reader announces it where the nurse chooses again
    assert page.evaluate("!!document.querySelector('#field-grade #grade-status')")

    # choosing an allowed grade again clears the message
    page.check("#id_grade_2")  # grade 3
    page.wait_for_function("document.getElementById('grade-status').textContent.trim() === ''")


def test_the_picker_understands_ward_words_and_offers_the_choices_of_an_ambiguous_one(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-045")
    cycle = make_cycle(patient, start=datetime.date(2026, 1, 20))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", nurse.username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/patients/")
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")
    box = page.locator("#grade-definitions")

    # "ICANS": recorded as Encephalopathy, and the hint says how ICANS is graded.
    type_into_autofocus(page, "id_term", "ICANS")
    box.get_by_text("“ICANS” is recorded as Encephalopathy (CTCAE v5.0)", exact=False).wait_for()
    assert "ICANS bedside assessment" in box.inner_text()
    assert page.is_enabled("#id_grade_4")  # Encephalopathy has grades 1-5

    # "neutropenia" can mean two terms: no grades yet, the choices are offered and one can be picked.
    _term_to(page, "neutropenia")
    box.get_by_text("“neutropenia” can mean several CTCAE v5.0 terms", exact=False).wait_for()
    choices = box.locator(".term-choices button")
    assert choices.all_inner_texts() == ["Febrile neutropenia", "Neutrophil count decreased"]
    choices.nth(1).click()
    assert page.input_value("#id_term") == "Neutrophil count decreased"
    page.locator("#field-grade").get_by_text("<1500 - 1000/mm3", exact=False).wait_for()
    assert page.is_disabled("#id_grade_4")  # no grade 5 for a count

    # "plt": the suggestions show the term with the synonym that matched; grades 1-4 of Platelet count decreased.
    _term_to(page, "plt")
    box.get_by_text("“plt” is recorded as Platelet count decreased", exact=False).wait_for()
    labels = page.eval_on_selector_all("#ctcae-terms option", "els => els.map(o => [o.value, o.label])")
    assert labels[0] == ["Platelet count decreased", "Platelet count decreased — plt"]
    assert page.is_disabled("#id_grade_4") and page.is_enabled("#id_grade_3")
    page.check("#id_grade_1")  # grade 2
    page.fill("#id_onset_date", "2026-01-21")
    page.select_option("#id_relatedness", "possible")
    page.select_option("#id_action_taken", "DOSE NOT CHANGED")
    page.select_option("#id_outcome", "NOT RECOVERED/NOT RESOLVED")
    page.locator("button.primary").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/")
    event = AdverseEvent.objects.get()
    assert (event.term.term, event.grade, event.verbatim_term, event.cycle_id) == (
        "Platelet count decreased", 2, "plt", cycle.pk)


def _log_in(page, live_server, user) -> None:
    log_in(page, live_server.url, user.username)


def _record_event(page, live_server, patient, term: str, grade: int, definition: str) -> None:
    """The nurse records an event of ``term`` (grade ``grade``) on the patient's cycle 1 through the AE form."""
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")
    type_into_autofocus(page, "id_term", term)
    page.locator("#field-grade").get_by_text(definition, exact=False).wait_for()
    page.check(f"#id_grade_{grade - 1}")
    page.fill("#id_onset_date", "2026-01-06")
    page.select_option("#id_relatedness", "probable")
    page.select_option("#id_action_taken", "DOSE NOT CHANGED")
    page.select_option("#id_outcome", "NOT RECOVERED/NOT RESOLVED")
    page.locator("button.primary").click()
    page.wait_for_url(f"{live_server.url}/patients/{patient.pk}/")
    assert f"Saved: {term} grade {grade}" in page.inner_text(".messages")


def test_a_signed_flag_review_survives_an_unrelated_save_and_asks_again_when_its_comparison_changes(
        live_server, page, ward):
    """Issue 10: a review must not vanish at the next save, and must come back open when its numbers change."""
    from reports.models import BenchmarkRun
    from reports.runs import benchmark_run_now

    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patients = [make_patient(ward, f"P-{i:02d}") for i in range(10)]
    for patient in patients:
        cycle = make_cycle(patient, start=datetime.date(2026, 1, 5))
        if patient.study_id < "P-08":  # 8 of 10 with grade 3 CRS: flagged ALARM
            AdverseEvent.objects.create(patient=patient, cycle=cycle, term=CTCAETerm.objects.get(
                term="Cytokine release syndrome"), grade=3, onset_date=cycle.start_date, relatedness="probable",
                action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED", created_by=nurse)
    first = benchmark_run_now(site=ward)
    flag = first.flags.get(kind="literature", category__slug="crs", grade_band="ge3", cycle_scope="all")
    report = f"{live_server.url}/sites/{ward.slug}/report/"

    # The officer signs the review; a wrong password first: the comment stays, the error is at the password.
    _log_in(page, live_server, officer)
    page.goto(report)
    article = page.locator(f"#flag-{flag.pk}")
    article.locator("textarea").fill("True grade 3 CRS, reported to PV.")
    article.locator("input[type=password]").fill("not-my-password")
    article.get_by_role("button", name="Sign review").click()
    page.locator(f"#password-{flag.pk}-error").wait_for()
    assert page.evaluate("document.activeElement.id") == f"password-{flag.pk}"
    assert page.input_value(f"#comment-{flag.pk}") == "True grade 3 CRS, reported to PV."
    assert page.get_attribute(f"#password-{flag.pk}", "aria-invalid") == "true"
    assert page.evaluate(f"""(() => {{ const r = document.getElementById('password-{flag.pk}')
        .getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }})()""")  # in view
    page.fill(f"#password-{flag.pk}", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(report)
    assert "Signed by officer (officer)" in page.inner_text(f"#flag-{flag.pk}")

    # A nurse records anaemia (another category): the benchmark reruns, the CRS comparison is unchanged.
    nurse_context = page.context.browser.new_context(locale="en-GB", timezone_id="Europe/Warsaw")
    nurse_page = nurse_context.new_page()
    _log_in(nurse_page, live_server, nurse)
    _record_event(nurse_page, live_server, patients[0], "Anemia", 1, "Hemoglobin (Hgb) <LLN - 10.0 g/dL")
    second = BenchmarkRun.objects.filter(status="done").exclude(pk=first.pk).get()
    carried = second.flags.get(kind="literature", category__slug="crs", grade_band="ge3", cycle_scope="all")
    page.goto(report)
    text = page.inner_text(f"#flag-{carried.pk}")
    assert f"review carried over from run {first.pk} (signed by officer (officer), on" in text
    assert "True grade 3 CRS, reported to PV." in text
    assert page.locator(f"#flag-{carried.pk} form").count() == 0
    page.locator(f"#flag-{carried.pk}").get_by_role("link", name=f"run {first.pk}").click()
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/runs/{first.pk}/#flag-{flag.pk}")
    assert "Signed by officer (officer)" in page.inner_text(f"#flag-{flag.pk}")

    # Grade 3 CRS in a ninth patient changes the flagged comparison: the review no longer covers it.
    _record_event(nurse_page, live_server, patients[8], "Cytokine release syndrome", 3,
                  "Hypotension managed with one pressor")
    nurse_context.close()
    third = BenchmarkRun.objects.filter(status="done").order_by("-finished_at").first()
    changed = third.flags.get(kind="literature", category__slug="crs", grade_band="ge3", cycle_scope="all")
    page.goto(report)
    text = page.inner_text(f"#flag-{changed.pk}")
    assert f"Changed since your review: reviewed in run {first.pk}" in text
    assert "when the ward was 8/10" in text and "now 9/10" in text and "needs a new signature" in text
    assert page.locator(f"#flag-{changed.pk}").get_by_role("button", name="Sign review").is_visible()
    assert "Not signed yet" in page.inner_text(".last-signed")  # flags were reviewed, no run was signed
