"""Forms that help (issue 15 item 5), in Debian's Chromium: required fields marked, an error summary at the top
that takes the focus and links to each field, errors tied to their fields, a warning before leaving a filled form,
and date fields that show the site's date format."""

from __future__ import annotations

import datetime
import os

import pytest

from patients.models import Membership
from tests.conftest import PASSWORD, log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ae_form(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-015")
    make_cycle(patient, start=datetime.date(2026, 1, 5))
    log_in(page, live_server.url, nurse.username)
    url = f"{live_server.url}/patients/{patient.pk}/events/new/"
    page.goto(url)
    return url, patient


def test_required_fields_are_marked_in_the_label_and_for_assistive_technology(page, ae_form):
    for field in ("term", "onset_date"):
        assert "(required)" in page.inner_text(f"label[for=id_{field}]")
        assert page.get_attribute(f"#id_{field}", "required") is not None
    assert "(required)" in page.inner_text("#field-grade legend")
    # an optional field is not marked
    assert "(required)" not in page.inner_text("label[for=id_resolution_date]")
    assert page.get_attribute("#id_resolution_date", "required") is None


def test_errors_are_summarised_at_the_top_focused_and_tied_to_their_fields(page, ae_form):
    page.get_by_role("button", name="Save", exact=True).click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert summary.get_attribute("role") == "alert"
    # the summary comes before the first field
    assert page.evaluate("document.getElementById('error-summary').compareDocumentPosition("
                         "document.querySelector('.field')) & Node.DOCUMENT_POSITION_FOLLOWING") > 0
    links = summary.locator("a")
    fields_with_errors = page.locator(".field.has-error")
    assert links.count() >= 3 and links.count() == page.locator(".field.has-error .error").count()
    assert fields_with_errors.count() >= 3
    for i in range(links.count()):
        target_id = links.nth(i).get_attribute("href").lstrip("#")
        target = page.locator(f"#{target_id}")
        assert target.count() == 1
        # the input (or its radio group's fieldset) names the error element, which holds the error's text
        described = target.get_attribute("aria-describedby") or page.locator(f"#{target_id}").evaluate(
            "el => el.closest('fieldset').getAttribute('aria-describedby')")
        assert described and f"{target_id.removesuffix('_0')}_error" in described.split(), (target_id, described)
        error_id = f"{target_id.removesuffix('_0')}_error"
        assert page.inner_text(f"#{error_id}") in links.nth(i).inner_text()
    onset = page.locator("#error-summary a[href='#id_onset_date']")
    onset.click()
    assert page.evaluate("document.activeElement.id") == "id_onset_date"
    assert page.get_attribute("#id_onset_date", "aria-invalid") == "true"


def test_leaving_a_filled_form_asks_first_and_saving_does_not(page, ae_form):
    url, patient = ae_form
    page.click("#id_verbatim_term")
    page.keyboard.type("rigors after the infusion")
    asked = []

    def dismiss(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", dismiss)
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and page.url == url
    page.remove_listener("dialog", dismiss)

    # an untouched form leaves without asking
    page.goto(url)
    page.on("dialog", lambda dialog: asked.append(dialog.type) or dialog.accept())
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(lambda u: u.endswith(f"/patients/{patient.pk}/"))
    assert asked == ["beforeunload"]


def test_date_fields_show_the_date_in_the_sites_format(page, ae_form):
    echo = page.locator("#id_onset_date_site_date")
    # Before a date is chosen: how it will be shown, never worded as the format to type (the native input has its
    # own, e.g. mm/dd/yyyy, and takes no month name).
    assert echo.inner_text() == "Shown here as dd Mmm yyyy once entered (e.g. 03 Aug 2025)"
    page.fill("#id_onset_date", "2026-01-06")
    assert echo.inner_text() == "06 Jan 2026"


def test_date_and_time_fields_show_the_site_format_too(live_server, page, ae_form):
    url, patient = ae_form
    page.goto(f"{live_server.url}/patients/{patient.pk}/crs/new/")
    echo = page.locator("#id_assessed_at_site_date")
    page.fill("#id_assessed_at", "2026-01-06T14:30")
    assert echo.inner_text() == "06 Jan 2026 14:30"


def test_choosing_grade_5_sets_an_empty_outcome_to_fatal_but_never_overrides_the_nurses_choice(page, ae_form):
    """Grade 5 is death related to the event (CTCAE v5.0): the outcome can only be Fatal. Found using the form as a
    nurse does: grade 5 ticked Serious and "results in death" for her, but left the outcome empty, and the save then
    came back with two errors on the outcome. An outcome she chose herself stays (the server explains the rule)."""
    page.check("#id_grade_4")  # grade 5
    assert page.input_value("#id_outcome") == "FATAL"
    assert "outcome is set to Fatal" in page.inner_text(".death-note")
    assert page.is_checked("#id_serious") and page.is_checked("#id_sae_death")

    page.goto(ae_form[0])
    page.select_option("#id_outcome", "RECOVERED/RESOLVED")
    page.check("#id_grade_4")
    assert page.input_value("#id_outcome") == "RECOVERED/RESOLVED"
    assert "outcome is set to Fatal" not in page.inner_text(".death-note")


def _fill_fever(page, verbatim: str) -> None:
    page.fill("#id_term", "Fever")
    page.check("#id_grade_0")
    page.fill("#id_onset_date", "2026-01-06")
    page.select_option("#id_relatedness", "possible")
    page.select_option("#id_action_taken", "DOSE NOT CHANGED")
    page.select_option("#id_outcome", "RECOVERED/RESOLVED")
    page.fill("#id_resolution_date", "2026-01-07")
    page.fill("#id_verbatim_term", verbatim)


def test_a_pasted_text_longer_than_the_field_is_kept_whole_and_blocks_the_save_until_shortened(page, ae_form):
    """Found using the form as a nurse does: a 2 MB note pasted into the verbatim term (200 characters at most) was
    cut to its first 200 characters by the browser's maxlength, without a word, and saved so. Now nothing is cut:
    the field counts what is too many (announced: a live region the field names), Save is held with the focus on the
    field until it is shortened, and then the shortened text saves."""
    from ae.models import AdverseEvent

    url, patient = ae_form
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" and
            "/events/new/" in request.url else None)
    _fill_fever(page, "x" * 2_000_000)
    assert page.evaluate("document.getElementById('id_verbatim_term').value.length") == 2_000_000  # nothing cut
    count = page.locator("#id_verbatim_term_count")
    assert "1,999,800 characters too many" in count.inner_text() and "at most 200" in count.inner_text()
    assert count.get_attribute("aria-live") == "polite"
    assert "id_verbatim_term_count" in page.get_attribute("#id_verbatim_term", "aria-describedby").split()
    assert page.get_attribute("#id_verbatim_term", "aria-invalid") == "true"
    page.get_by_role("button", name="Save", exact=True).click()
    assert page.evaluate("document.activeElement.id") == "id_verbatim_term"
    assert posts == [] and page.url == url and AdverseEvent.objects.count() == 0

    page.fill("#id_verbatim_term", "rigors " * 25)  # 175 characters
    assert "25 characters left" in count.inner_text()
    assert page.get_attribute("#id_verbatim_term", "aria-invalid") is None
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert AdverseEvent.objects.get().verbatim_term == ("rigors " * 25).strip()


def _end_every_session() -> None:
    """What SESSION_COOKIE_AGE does after 30 idle minutes: the server no longer knows the session."""
    from django.contrib.sessions.models import Session

    Session.objects.all().delete()


def _save_after_the_session_ended_then_log_in(page, url: str, username: str) -> None:
    """Save with the session ended: the login page comes; ``username`` logs in and lands on ``url`` again."""
    _end_every_session()
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url)


def _kept_entries(page) -> list[str]:
    return page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('pvtrack:draft:'))")


def test_a_form_sent_after_the_session_ended_comes_back_after_logging_in_and_saves_once(live_server, page, ae_form):
    """Found using the form as a nurse does: called away for more than 30 minutes, she came back and pressed Save;
    the session had ended, the login page came, and after logging in the form was empty — the AE she had typed was
    lost without a word. Now the login page says the form was not sent and nothing was saved, and after logging in
    again the same form holds what she typed (unsaved, with a notice that takes the focus); one Save stores it."""
    from ae.models import AdverseEvent

    url, patient = ae_form
    _fill_fever(page, "fever at 3 am, rigors")
    _end_every_session()
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/login/**")
    assert AdverseEvent.objects.count() == 0
    kept = page.locator("#drafts-kept")
    assert "nothing was saved" in kept.inner_text() and "Log in again" in kept.inner_text()
    stored = page.evaluate("Object.values(sessionStorage).join(' ')")
    assert "fever at 3 am, rigors" in stored and "csrfmiddlewaretoken" not in stored

    page.fill("#id_username", "nurse")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url)
    notice = page.locator("#draft-restored")
    assert "not saved" in notice.inner_text()
    assert page.evaluate("document.activeElement.id") == "draft-restored"
    assert page.input_value("#id_term") == "Fever" and page.is_checked("#id_grade_0")
    assert page.input_value("#id_onset_date") == "2026-01-06"
    assert page.input_value("#id_outcome") == "RECOVERED/RESOLVED"
    assert page.input_value("#id_verbatim_term") == "fever at 3 am, rigors"
    assert _kept_entries(page) == []  # in the form now, no longer kept aside
    assert AdverseEvent.objects.count() == 0

    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert AdverseEvent.objects.get().verbatim_term == "fever at 3 am, rigors"
    page.goto(url)  # the form opened again is empty: a saved form does not come back
    assert page.locator("#draft-restored").count() == 0 and page.input_value("#id_verbatim_term") == ""


def test_what_was_typed_never_reaches_another_user_logging_in_on_the_same_tab(live_server, page, ward, ae_form):
    url, patient = ae_form
    make_user("colleague", ward, Membership.Role.WARD_STAFF)
    _fill_fever(page, "typed by the first nurse")
    _save_after_the_session_ended_then_log_in(page, url, "colleague")
    assert page.locator("#draft-restored").count() == 0
    assert page.input_value("#id_verbatim_term") == ""
    assert _kept_entries(page) == []  # forgotten, not kept for later


def test_save_and_record_another_opens_an_empty_form_and_discard_empties_a_restored_one(live_server, page, ae_form):
    from ae.models import AdverseEvent

    url, patient = ae_form
    _fill_fever(page, "first fever")
    page.get_by_role("button", name="Save and record another").click()
    page.wait_for_function("() => !!document.querySelector('.messages')")
    # forms.js settles the drafts at DOMContentLoaded: the message exists while the page is still being parsed (a
    # race seen once on a loaded machine, 1 Dec 2026: the draft not yet forgotten when it was looked at)
    page.wait_for_load_state("domcontentloaded")
    assert AdverseEvent.objects.count() == 1
    assert page.locator("#draft-restored").count() == 0 and page.input_value("#id_verbatim_term") == ""
    assert _kept_entries(page) == []

    _fill_fever(page, "second fever")
    sent_token = page.input_value("input[name=submission_token]")  # the double-click guard of that form
    _save_after_the_session_ended_then_log_in(page, url, "nurse")
    assert page.input_value("#id_verbatim_term") == "second fever"
    assert page.input_value("input[name=submission_token]") == sent_token  # hidden fields come back too
    page.get_by_role("button", name="Discard it and start again").click()
    assert page.input_value("#id_verbatim_term") == "" and not page.is_checked("#id_grade_0")
    # ... and go back to what the server sent with this form (form.reset() leaves hidden fields as set)
    assert page.input_value("input[name=submission_token]") not in ("", sent_token)
    assert page.locator("#draft-restored").count() == 0
    assert AdverseEvent.objects.count() == 1


def _session_expiry():
    from django.contrib.sessions.models import Session

    return Session.objects.get().expire_date


@pytest.fixture
def short_session_form(live_server, page, ward, settings):
    """The AE form of a nurse whose session lasts 30 idle seconds: the warning comes 20 seconds before its end
    (never less, WCAG's minimum)."""
    settings.SESSION_COOKIE_AGE = 30
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-016")
    make_cycle(patient, start=datetime.date(2026, 1, 5))
    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/events/new/")


def test_an_idle_page_warns_before_the_session_ends_and_stay_logged_in_keeps_it(page, short_session_form):
    """WCAG 2.2 SC 2.2.1 (Timing Adjustable), found using the form as a nurse does: the session ended after 30 idle
    minutes without a word. Now an idle page warns before the end (an alert saying when, the focus on its
    button), and "Stay logged in" keeps the session going."""
    before = _session_expiry()
    warning = page.locator("#session-warning")
    warning.wait_for(timeout=15_000)
    assert warning.get_attribute("role") == "alert"
    assert "your session ends at" in warning.inner_text()
    assert page.evaluate("document.activeElement.textContent") == "Stay logged in"
    page.get_by_role("button", name="Stay logged in").click()
    warning.wait_for(state="detached")
    assert _session_expiry() > before


def test_a_page_in_use_keeps_the_session_without_a_warning(page, short_session_form):
    before = _session_expiry()
    page.click("#id_verbatim_term")
    page.keyboard.type("typing a long note")  # no request: the server does not see it
    page.wait_for_timeout(12_000)  # past the moment the warning would come
    assert page.locator("#session-warning").count() == 0
    assert _session_expiry() > before


def test_the_keepalive_answers_204_to_a_session_and_401_without_one(client, nurse):
    response = client.get("/account/session/")
    assert response.status_code == 401 and "no-cache" in response["Cache-Control"]
    client.force_login(nurse)
    response = client.get("/account/session/")
    assert response.status_code == 204 and "no-store" in response["Cache-Control"]
    # the pages of a logged-in user carry the session's length for the warning, the login page does not
    assert 'data-session-seconds="1800"' in client.get("/account/").content.decode()
    client.logout()
    assert "data-session-seconds" not in client.get("/login/").content.decode()


def test_an_officers_review_comment_comes_back_after_the_session_ended_but_never_her_password_or_code(
        live_server, page, ward, settings):
    """The officer's side of the same walk: the session ended while she wrote a flag's review. Sign review sent her
    to the login page and the two-factor page, then (GET of the signing address) to the report, where her comment
    is back in the review's form; the password and the one-time code are not (typed again); nothing was signed."""
    from reports.runs import benchmark_run_now
    from tests.conftest import make_event
    from tests.security.test_two_factor import code, enrolled

    settings.PVTRACK_TWO_FACTOR_ROLES = ["safety_officer"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    device, _ = enrolled(officer)
    for i in range(8):  # 8 of 8 patients with grade 3 CRS: flagged
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    flag = benchmark_run_now(site=ward).flags.first()
    report = f"{live_server.url}/sites/{ward.slug}/report/"

    def log_in_with_code():
        page.fill("#id_username", officer.username)
        page.fill("#id_password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/two-factor/verify/**")
        page.fill("#id_code", code(device))
        page.keyboard.press("Enter")
        page.wait_for_url(report)

    page.goto(f"{live_server.url}/login/?next=/sites/{ward.slug}/report/")
    log_in_with_code()
    form = page.locator(f"#review-{flag.pk}")
    form.locator("textarea").fill("True grade 3 CRS; ascertainment checked with the ward")
    form.locator("input[type=password]").fill(PASSWORD)
    form.locator("input[name=otp_code]").fill(code(device))
    _end_every_session()
    form.get_by_role("button", name="Sign review").click()
    page.wait_for_url("**/login/**")
    stored = page.evaluate("Object.values(sessionStorage).join(' ')")
    assert "ascertainment checked" in stored and PASSWORD not in stored and "otp_code" not in stored
    log_in_with_code()
    assert page.locator("#draft-restored").count() == 1
    assert form.locator("textarea").input_value() == "True grade 3 CRS; ascertainment checked with the ward"
    assert form.locator("input[type=password]").input_value() == ""
    assert form.locator("input[name=otp_code]").input_value() == ""
    flag.refresh_from_db()
    assert flag.reviewed_at is None


def test_a_form_refused_by_the_csrf_check_comes_back_when_its_page_opens_again(live_server, page, ae_form):
    """The CSRF page said "enter what you entered again": the cookie had changed (a login in another tab), and the
    typed AE was lost. Now the entries are kept and the form's page, opened again, holds them (unsaved)."""
    from ae.models import AdverseEvent

    url, patient = ae_form
    _fill_fever(page, "typed before the cookie changed")
    cookie = next(c for c in page.context.cookies() if c["name"] == "csrftoken")
    page.context.add_cookies([{**cookie, "value": "x" * 32}])
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_function("() => document.title.startsWith('Form not sent')")
    assert "Go back: what you entered is in the form again" in page.inner_text("main")
    assert AdverseEvent.objects.count() == 0
    page.goto(url)
    assert page.locator("#draft-restored").count() == 1
    assert page.input_value("#id_verbatim_term") == "typed before the cookie changed"
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/patients/{patient.pk}/")
    assert AdverseEvent.objects.get().verbatim_term == "typed before the cookie changed"
