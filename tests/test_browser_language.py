"""The texts the scripts write into the page, in the reader's language (issue 15, item 4), in Debian's Chromium: a
nurse of a Polish ward sees the AE form's death note, the term picker's texts and the grade status in Polish (CTCAE
terms and grade definitions stay in NCI's English); an English reader still sees English; and the scripts still work,
in English, if the catalogue (/jsi18n/) fails to load."""

from __future__ import annotations

import datetime
import os

import pytest

from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "pl": {
        "death": "Zgon (stopień 5 lub zejście „Zgon”) jest zawsze ciężkim zdarzeniem niepożądanym zakończonym zgonem: "
                 "pola „Ciężkie” i „Zakończone zgonem” zostały zaznaczone automatycznie. Zejście ustawiono na „Zgon”.",
        "synonym": "„plt” zostanie zapisane jako Platelet count decreased (CTCAE v5.0), a „plt” jako termin zgłoszony "
                   "(dosłownie), chyba że wpiszesz własny.",
        "grades": "Stopnie tego terminu: 1, 2, 3, 4.",
        "status": "Stopień 5 nie jest zdefiniowany dla Platelet count decreased — wybierz stopień ponownie.",
        "not_a_grade": "tego stopnia nie ma dla tego terminu w CTCAE v5.0",
        "table": "(przewijana w poziomie)",
        "calculator": "Obliczony stopień: —",
        "enter_score": "Wpisz wynik ",
    },
    "en-gb": {
        "death": "A death (grade 5 or outcome Fatal) is always a serious adverse event that results in death: Serious "
                 "and 'results in death' are ticked for you. The outcome is set to Fatal.",
        "synonym": "“plt” is recorded as Platelet count decreased (CTCAE v5.0), with “plt” as the verbatim term unless "
                   "you write one.",
        "grades": "Grades 1, 2, 3, 4 exist for this term.",
        "status": "Grade 5 is not defined for Platelet count decreased — choose a grade again.",
        "not_a_grade": "not a grade of this term in CTCAE v5.0",
        "table": "(scrolls sideways)",
        "calculator": "Computed grade: —",
        "enter_score": "Enter the ",
    },
}


def _nurse_on_a_form(language: str, live_server, page, ward, form: str):
    """A nurse of ``ward`` (set to ``language``) logged in on a new patient's ``form`` ("events", "crs"…)."""
    ward.language = language
    ward.save()
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    patient = make_patient(ward, "KRK-115")
    make_cycle(patient, start=datetime.date(2026, 1, 5))
    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/patients/{patient.pk}/{form}/new/")
    return patient


def _ae_form_of_a_ward_in(language: str, live_server, page, ward):
    patient = _nurse_on_a_form(language, live_server, page, ward, "events")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_term'")  # scripts ran
    return patient


def _grade_5_then_plt(page, texts: dict[str, str]) -> None:
    page.check("#id_grade_4")  # grade 5: a death
    assert page.inner_text(".death-note").strip() == texts["death"]
    page.focus("#id_term")
    page.keyboard.type("plt")  # a ward synonym of exactly one term
    box = page.locator("#grade-definitions")
    box.get_by_text(texts["synonym"]).wait_for()
    assert texts["grades"] in box.inner_text()
    assert "Platelet count decreased — MedDRA" in box.inner_text()  # the term and its codes stay as NCI has them
    status = page.locator("#grade-status")
    status.get_by_text(texts["status"]).wait_for()  # grade 5 was chosen: Platelet count decreased has no grade 5
    assert texts["not_a_grade"] in page.inner_text("label[for=id_grade_4]")
    assert "<75.0 - 50.0 x 10e9 /L" in page.inner_text("#field-grade")  # CTCAE's grade 2 text, in NCI's English


@pytest.mark.parametrize("language", ["pl", "en-gb"])
def test_the_ae_forms_script_texts_are_in_the_readers_language(live_server, page, ward, language):
    patient = _ae_form_of_a_ward_in(language, live_server, page, ward)
    assert page.get_attribute("html", "lang") == language
    _grade_5_then_plt(page, TEXTS[language])
    other = TEXTS["en-gb" if language == "pl" else "pl"]
    assert other["grades"] not in page.inner_text("#grade-definitions")
    # layout.js names each table's scrolling box (an accessible name, read by screen readers)
    page.goto(f"{live_server.url}/sites/{ward.slug}/patients/")
    assert page.get_attribute(".table-scroll", "aria-label").endswith(TEXTS[language]["table"])
    # the ICANS bedside calculator before a score is entered (grading_calculator.js)
    page.goto(f"{live_server.url}/patients/{patient.pk}/icans/new/")
    box = page.locator("#computed-grade")
    box.get_by_text(TEXTS[language]["calculator"]).wait_for()
    assert box.locator("p").inner_text().startswith(TEXTS[language]["enter_score"])


def test_the_character_count_speaks_polish(live_server, page, ward):
    """char_count.js: a text over a field's limit counted with Polish plurals and Polish digit grouping."""
    _ae_form_of_a_ward_in("pl", live_server, page, ward)
    page.fill("#id_verbatim_term", "x" * 2_000_000)
    assert page.inner_text("#id_verbatim_term_count").replace("\u00a0", " ").startswith(
        "1 999 800 znaków za dużo (limit pola: 200)")
    page.fill("#id_verbatim_term", "x" * 198)
    assert page.inner_text("#id_verbatim_term_count") == "Pozostały 2 znaki"


def test_the_scripts_still_work_in_english_if_the_catalogue_does_not_load(live_server, page, ward):
    page.route("**/jsi18n/", lambda route: route.abort())
    _ae_form_of_a_ward_in("pl", live_server, page, ward)
    assert "Zapisz zdarzenie niepożądane" in page.content()  # the page itself is Polish (server-side)
    _grade_5_then_plt(page, TEXTS["en-gb"])  # the scripts' own English, same behaviour


def test_the_crs_calculator_speaks_polish_on_a_polish_page(live_server, page, ward):
    """The live computed grade of the CRS form: the grading API answers the page's session in its language (the
    rationale with the decimal comma), and a refused entry is named by the form's own label, not the API's name."""
    _nurse_on_a_form("pl", live_server, page, ward, "crs")
    box = page.locator("#computed-grade")
    page.fill("#id_temperature_c", "38.5")
    box.get_by_text("38,5 °C", exact=False).wait_for()  # the page's CSP allows no string eval: locators wait
    assert "temperature" not in box.inner_text().lower()
    assert page.get_by_label("Noradrenalina (norepinefryna)").count() == 1  # the choices in Polish too
    page.fill("#id_temperature_c", "20")
    page.locator("#computed-grade[data-state='error']").wait_for()
    assert box.locator("p").inner_text() == "Temperatura: musi wynosić co najmniej 25, podano 20"
