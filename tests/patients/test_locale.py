"""Language and formats (issue 15, item 4): the user's language (else the site's), the site's time zone, the Polish
translation of the base layout, the AE form, the report, the patient list and page, the lab and assessment forms, the
listing, the SAE case list, flash messages and the e-mail link line; CTCAE terms stay in NCI's English."""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import translation

from patients.models import Site, UserProfile
from reports.runs import benchmark_run_now
from tests.conftest import make_event
from tests.patients.conftest import logged_in

LOCALE = Path(__file__).resolve().parents[2] / "locale"




def test_the_polish_site_renders_the_ae_form_in_polish_with_ctcae_terms_in_english(polish_ward, nurse, cycle):
    page = logged_in(nurse).get(f"/patients/{cycle.patient_id}/events/new/").content.decode()
    assert '<html lang="pl">' in page
    for polish in ("Zapisz zdarzenie niepożądane", "Termin CTCAE", "Data wystąpienia", "(wymagane)", "Zapisz",
                   "Anuluj", "Pacjenci", "Wyloguj", "Przejdź do treści", "Związek z blinatumomabem"):
        assert polish in page, polish
    assert "Record adverse event" not in page and "Log out" not in page
    assert 'value="Cytokine release syndrome"' in page  # the CTCAE v5.0 term, as NCI publishes it
    assert "Grade 3" in page  # CTCAE grade labels stay in NCI's English


def test_the_polish_form_shows_its_errors_in_polish(polish_ward, nurse, cycle):
    page = logged_in(nurse).post(f"/patients/{cycle.patient_id}/events/new/", {"cycle": cycle.pk}).content.decode()
    assert "Problem z" in page and "To pole jest wymagane." in page  # our summary, Django's own Polish messages


def test_the_polish_site_renders_the_report_in_polish_with_dates_in_its_language(polish_ward, officer, nurse, cycle):
    make_event(cycle, user=nurse)
    run = benchmark_run_now(site=polish_ward)
    page = logged_in(officer).get(f"/sites/{polish_ward.slug}/report/").content.decode()
    for polish in ("Ward A: porównanie z opublikowanymi kohortami", "Flagi", "Tabela porównania",
                   "Ciężkie zdarzenia niepożądane i zgony", "Zapytania o jakość danych",
                   f"Przebieg {run.pk} zakończony"):
        assert polish in page, polish
    finished = run.finished_at.astimezone(zoneinfo.ZoneInfo("Europe/Warsaw"))
    with translation.override("pl"):
        from django.utils.formats import date_format

        assert date_format(finished, "d M Y H:i") in page  # Polish month abbreviation, the site's time


def test_the_user_chooses_the_language_over_the_sites_default(polish_ward, nurse, cycle):
    client = logged_in(nurse)
    assert "Wyloguj" in client.get("/account/").content.decode()
    response = client.post("/account/", {"language": "en-gb"})
    assert response.status_code == 302
    assert UserProfile.objects.get(user=nurse).language == "en-gb"
    page = client.get(f"/patients/{cycle.patient_id}/events/new/").content.decode()
    assert "Record adverse event" in page and '<html lang="en-gb">' in page
    client.post("/account/", {"language": ""})  # back to the site's default
    assert "Zapisz zdarzenie niepożądane" in client.get(f"/patients/{cycle.patient_id}/events/new/").content.decode()
    assert client.post("/account/", {"language": "xx"}).status_code == 200  # refused, nothing stored
    assert UserProfile.objects.get(user=nurse).language == ""


def test_times_are_shown_in_the_sites_time_zone(ward, officer, nurse, cycle):
    ward.time_zone = "Asia/Shanghai"  # UTC+8, no summer time
    ward.save()
    make_event(cycle, user=nurse)
    run = benchmark_run_now(site=ward)
    page = logged_in(officer).get(f"/sites/{ward.slug}/report/").content.decode()
    shanghai = run.finished_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    warsaw = run.finished_at.astimezone(zoneinfo.ZoneInfo("Europe/Warsaw"))
    assert f"Run {run.pk} finished {shanghai:%d %b %Y %H:%M}" in page
    assert shanghai.hour != warsaw.hour and f"finished {warsaw:%d %b %Y %H:%M}" not in page


def test_the_login_page_follows_the_browsers_language(db):
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Przejdź do treści" in page


def test_a_site_refuses_an_unknown_language_or_time_zone(ward):
    ward.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="IANA"):
        ward.full_clean()
    with pytest.raises(IntegrityError, match="site_language_known"), transaction.atomic():
        Site.objects.filter(pk=ward.pk).update(language="xx")


def test_the_compiled_polish_catalogue_is_committed_and_current():
    """Nothing needs msgfmt at run time: the .mo is in the repository, compiled from the current .po."""
    po, mo = LOCALE / "pl/LC_MESSAGES/django.po", LOCALE / "pl/LC_MESSAGES/django.mo"
    assert po.exists() and mo.exists()
    import gettext

    catalogue = gettext.GNUTranslations(mo.open("rb"))
    ids, context = [], None  # (msgctxt or None, msgid)
    for line in po.read_text(encoding="utf-8").splitlines():
        if line.startswith('msgctxt "'):
            context = line[9:-1]
        elif line.startswith('msgid "'):
            if line != 'msgid ""':
                ids.append((context, line[7:-1].replace('\\"', '"')))
            context = None
    assert len(ids) > 100

    def translated(ctx: str | None, msgid: str) -> str:
        return catalogue.pgettext(ctx, msgid) if ctx else catalogue.gettext(msgid)

    same_in_polish = ("E-mail", "O/E (95%% CI)", "Administrator", "BSA %(bsa)s m²", "%(level_label)s; %(direction)s.",
                      "alarm",  # a flag level (reports.cells.FLAG_SHORT): the same word in Polish
                      "Neutropenia",  # a benchmark category's name (reports.category_names): the same in Polish
                      "%(x)s/%(n)s (%(benchmark)s, %(level)s)",  # reports.cells.summary: only its parts translate
                      # laboratory abbreviations Polish laboratories print too (ae.analyte_labels)
                      "ANC", "WBC", "Hb", "ALT", "AST", "ALP", "GGT", "IgG",
                      "CPAP", "BiPAP",  # ventilation modes (ae.bedside_labels): the same abbreviations in Polish
                      "API", "import",  # the audit trail's sources (pvtrack.views.AUDIT_WORDS): the same in Polish
                      "SAE",  # the timeline's marker of a serious event (ae.timeline_views): Polish wards say SAE too
                      "sponsor",  # a causality assessment's source (ae.sae.change_words): the same word in Polish
                      "%(where)s: %(old)s → %(new)s")  # a case change's line (ae.sae.change_words): its parts translate
    untranslated = [i for c, i in ids if translated(c, i) == i and i not in same_in_polish]
    assert untranslated == []


def test_polish_plural_forms_of_the_unread_count():
    with translation.override("pl"):
        from django.utils.translation import ngettext

        assert [ngettext("%(n)s new", "%(n)s new", n) % {"n": n} for n in (1, 3, 5, 22)] == [
            "1 nowe", "3 nowe", "5 nowych", "22 nowe"]


def test_a_date_is_formatted_for_the_active_language():
    day = datetime.date(2025, 8, 3)
    from django.utils.formats import date_format

    with translation.override("pl"):
        assert date_format(day, "d M Y") == "03 Sie 2025"  # Django's Polish abbreviated month
    with translation.override("en-gb"):
        assert date_format(day, "d M Y") == "03 Aug 2025"


def test_the_polish_site_renders_the_patient_list_and_page_in_polish(polish_ward, nurse, cycle):
    make_event(cycle, user=nurse)
    client = logged_in(nurse)
    listing = client.get(f"/sites/{polish_ward.slug}/patients/").content.decode()
    for polish in ("Ward A: pacjenci", "Identyfikator w badaniu", "Zarejestruj pacjenta"):
        assert polish in listing, polish
    assert "Register a patient" not in listing and "Study ID" not in listing
    page = client.get(f"/patients/{cycle.patient_id}/").content.decode()
    for polish in ("Pacjent KRK-001", "Cykl 1", "Zapisz ocenę CRS", "Zapisz wynik laboratoryjny", "ścieżka audytu",
                   "Wystąpienie (dzień)"):
        assert polish in page, polish
    assert "Record CRS assessment" not in page and "audit trail" not in page and "Onset (day)" not in page
    assert "Cytokine release syndrome" in page  # the CTCAE v5.0 term stays in NCI's English


def test_the_polish_site_renders_the_lab_and_assessment_forms_in_polish(polish_ward, nurse, cycle):
    client = logged_in(nurse)
    lab = client.get(f"/patients/{cycle.patient_id}/labs/new/").content.decode()
    for polish in ("Zapisz wynik laboratoryjny — KRK-001", "Zapisz wynik", "Ostatnie wyniki",
                   "Nie zapisano wyników laboratoryjnych."):
        assert polish in lab, polish
    assert "Record lab result" not in lab and "Recent results" not in lab and "Save result" not in lab
    crs = client.get(f"/patients/{cycle.patient_id}/crs/new/").content.decode()
    assert "Zapisz ocenę CRS — KRK-001" in crs and "Zapisz ocenę" in crs
    assert "Save assessment" not in crs and "Fill in the bedside criteria" not in crs


def test_a_flash_message_is_in_the_users_language(polish_ward, nurse, patient):
    response = logged_in(nurse).get(f"/patients/{patient.pk}/events/new/", follow=True)  # no cycle yet
    page = response.content.decode()
    assert "Najpierw zapisz cykl leczenia pacjenta" in page and "Record the patient's treatment cycle" not in page


def test_the_polish_site_renders_the_listing_in_polish(polish_ward, nurse, cycle):
    make_event(cycle, user=nurse)
    page = logged_in(nurse).get(f"/sites/{polish_ward.slug}/events/").content.decode()
    assert "Ward A: zdarzenia niepożądane" in page and "1 zdarzenie niepożądane." in page and "Filtruj" in page
    assert "adverse events" not in page and "Export these" not in page
    # the date hint of static/forms.js
    assert 'data-date-hint="Po wpisaniu pokazana tu jako dd Mmm rrrr (np. 03 Sie 2025)"' in page


def test_the_notification_e_mail_link_line_is_in_the_recipients_language(polish_ward, officer,
                                                                          django_capture_on_commit_callbacks):
    from django.core import mail

    from patients.models import NotificationKind
    from patients.services.notifications import notify

    officer.email = "officer@hospital.example"
    officer.save()
    with django_capture_on_commit_callbacks(execute=True):
        notify(site=polish_ward, kind=NotificationKind.OVERDUE, subject="SAE report overdue: KRK-001",
               body="Due 24 h after awareness (ICH E2A).", link="/events/1/history/", key="sae-clock:1:24h")
    assert mail.outbox[0].body.endswith("Otwórz: http://localhost:8000/events/1/history/")


def test_the_polish_site_renders_the_sae_case_list_in_polish(polish_ward, officer):
    page = logged_in(officer).get(f"/sites/{polish_ward.slug}/cases/").content.decode()
    assert "Zgłoszenia ciężkich zdarzeń niepożądanych — Ward A" in page and "Brak zgłoszeń." in page
    assert "Serious adverse event cases" not in page and "No cases." not in page
