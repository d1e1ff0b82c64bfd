"""Every user-facing page in Polish (issue 15, item 4), second slice: the pages the first slice left in English
(docs/usability.md, "Language and formats"). Each test renders a page as a user of a Polish ward and checks a
distinctive Polish text is there and the English one gone; CTCAE terms stay in NCI's English. The catalogue itself
is checked to have no empty or fuzzy entry."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from ae.forms import CRSAssessmentForm
from patients.models import Membership
from tests.conftest import make_event, make_user
from tests.patients.conftest import logged_in

PO = Path(__file__).resolve().parents[2] / "locale/pl/LC_MESSAGES/django.po"




def _po_entries(text: str) -> list[dict[str, object]]:
    """The entries of a gettext catalogue: {"flags": [...], "msgid": str, "msgstr": [str, ...]} (header left out).
    A small reader of the PO format (msgctxt/msgid/msgid_plural/msgstr[n], continued strings, "#," flags)."""
    entries = []
    for block in text.split("\n\n"):
        flags: list[str] = []
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            if line.startswith("#~"):  # an obsolete entry: its fields follow the marker
                fields["obsolete"] = "yes"
                line = line[2:].lstrip()
            if line.startswith("#,"):
                flags += [f.strip() for f in line[2:].split(",")]
            elif match := re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line):
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if "msgid" not in fields or fields["msgid"] == "" and "msgctxt" not in fields:
            continue
        entries.append({"flags": flags, "msgid": fields["msgid"], "obsolete": "obsolete" in fields,
                        "msgstr": [v for k, v in fields.items() if k.startswith("msgstr")]})
    return entries


def test_the_polish_catalogue_has_no_empty_fuzzy_or_obsolete_entry():
    entries = _po_entries(PO.read_text(encoding="utf-8"))
    assert len(entries) > 700
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    assert [e["msgid"] for e in entries if not e["msgstr"] or any(s == "" for s in e["msgstr"])] == []  # type: ignore[attr-defined]
    assert [e["msgid"] for e in entries if e["obsolete"]] == []


def test_the_catalogue_reader_finds_what_it_should():
    """The check above can fail: an empty, a fuzzy and an obsolete entry are found."""
    sample = ('msgid ""\nmsgstr ""\n"Language: pl\\n"\n\n#, fuzzy, python-format\nmsgid "a %(x)s"\nmsgstr "b %(x)s"\n\n'
              'msgid "c"\nmsgstr ""\n\nmsgid "d"\nmsgid_plural "ds"\nmsgstr[0] "e"\nmsgstr[1] ""\n\n'
              '#~ msgid "old"\n#~ msgstr "stary"')
    entries = {e["msgid"]: e for e in _po_entries(sample)}
    assert "fuzzy" in entries["a %(x)s"]["flags"] and entries["c"]["msgstr"] == [""]
    assert entries["d"]["msgstr"] == ["e", ""] and entries["old"]["obsolete"]
    assert set(entries) == {"a %(x)s", "c", "d", "old"}


def test_treatment_emergent_is_one_term_in_polish():
    """"Treatment-emergent" is "występujące w trakcie leczenia"; "związane z leczeniem" means related to treatment."""
    with translation.override("pl"):
        from django.utils.translation import gettext

        for msgid in ("Only for an event present before the cycle: a higher grade since then is a worsening "
                      "(treatment-emergent).",
                      "Already present when the cycle started (not treatment-emergent unless it worsens).",
                      "Onset later than the cycle's end plus the follow-up window: recorded with a reason, not "
                      "treatment-emergent."):
            assert "występujące w trakcie leczenia" in gettext(msgid), msgid
            assert "związane z leczeniem" not in gettext(msgid)


def test_error_pages_are_in_polish(polish_ward, nurse):
    page = logged_in(nurse).get("/patients/999999/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "Nie znaleziono strony" in text and "Dokąd przejść" in text and "Twoje oddziały" in text
    assert "Page not found" not in text and "Where to go" not in text


def test_the_login_and_two_factor_pages_are_in_polish(polish_ward, nurse):
    login = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Zaloguj się" in login and "Nazwa użytkownika" in login and "Log in" not in login
    setup = logged_in(nurse).get("/account/two-factor/").content.decode()
    assert "Uwierzytelnianie dwuskładnikowe" in setup and "Kod z aplikacji" in setup
    assert "Two-factor authentication" not in setup and "Scan this code" not in setup


def test_the_start_page_names_roles_in_polish(polish_ward, other_ward, nurse):
    Membership.objects.create(user=nurse, site=other_ward, role=Membership.Role.SAFETY_OFFICER)  # two wards: a list
    page = logged_in(nurse).get("/").content.decode()
    assert "Twoje oddziały" in page and "Personel oddziału" in page and "Raport porównawczy" in page
    assert "Specjalista ds. bezpieczeństwa" in page
    assert "Your wards" not in page and "Ward staff" not in page and "Safety officer" not in page


def test_the_cycle_form_and_treatment_page_are_in_polish(polish_ward, nurse, cycle):
    client = logged_in(nurse)
    form = client.get(f"/patients/{cycle.patient_id}/cycles/new/").content.decode()
    for polish in ("Nowy cykl — KRK-001", "Numer cyklu", "Masa ciała na początku cyklu (kg)", "Zapisz cykl",
                   "Standardowy (wlew 28-dniowy)", "— wybierz —"):
        assert polish in form, polish
    assert "New cycle" not in form and "Weight at cycle start" not in form and "Save cycle" not in form
    refused = client.post(f"/patients/{cycle.patient_id}/cycles/new/", {
        "number": 2, "schedule": "standard_28d", "start_date": "2026-02-10", "end_date": "2099-08-01",
        "dexamethasone_premedication": "no", "cns_status": "not_recorded", "interruptions": 0}).content.decode()
    assert "01 Sie 2099 to data w przyszłości" in refused and "01 Aug 2099" not in refused  # the model's message
    page = client.get(f"/patients/{cycle.patient_id}/cycles/{cycle.pk}/treatment/").content.decode()
    for polish in ("Dane leczenia — KRK-001, cykl 1", "Etapy dawkowania", "Dodaj przerwę", "Od dnia cyklu",
                   "Pobyty w szpitalu i na OIT"):
        assert polish in page, polish
    assert "Dosing steps" not in page and "Add an interruption" not in page and "From cycle day" not in page


def test_the_event_history_record_history_timeline_and_treatments_are_in_polish(polish_ward, nurse, cycle):
    event = make_event(cycle, user=nurse)
    client = logged_in(nurse)
    history = client.get(f"/events/{event.pk}/history/").content.decode()
    assert "Historia: Cytokine release syndrome" in history and "Pełna ścieżka audytu" in history
    assert "Full audit trail" not in history and "Not edited since it was recorded." not in history
    audit = client.get(f"/history/adverse-event/{event.pk}/").content.decode()
    assert "Kiedy (UTC)" in audit and "zdarzenie niepożądane" in audit and "When (UTC)" not in audit
    timeline = client.get(f"/patients/{cycle.patient_id}/timeline/").content.decode()
    assert "KRK-001: oś czasu" in timeline and "Wróć do pacjenta" in timeline and "Back to the patient" not in timeline
    treatments = client.get(f"/events/{event.pk}/treatments/").content.decode()
    assert "Dodaj leczenie" in treatments and "Zapisz leczenie" in treatments and "Add a treatment" not in treatments
    assert "Nazwa leku" in treatments and "Kortykosteroid (np. deksametazon" in treatments
    assert "Drug name" not in treatments


def test_imports_reference_ranges_and_rsi_pages_are_in_polish(polish_ward, nurse):
    admin = make_user("admin-pl", polish_ward, Membership.Role.ADMINISTRATOR)
    imports = logged_in(nurse).get(f"/sites/{polish_ward.slug}/ae-imports/").content.decode()
    assert "Sprawdź (bez zapisu)" in imports and "Nowe mapowanie" in imports and "Check (dry run)" not in imports
    ranges = logged_in(admin).get(f"/sites/{polish_ward.slug}/reference-ranges/").content.decode()
    assert "Laboratoryjne zakresy referencyjne — Ward A" in ranges and "Zapisz zakres" in ranges
    assert "Record range" not in ranges and "Laboratory reference ranges" not in ranges
    assert "Wiek od (miesiące, włącznie)" in ranges and "Age from (months" not in ranges
    rsi = logged_in(nurse).get("/rsi/").content.decode()
    assert "Referencyjne informacje o bezpieczeństwie" in rsi and "Reference safety information" not in rsi


def test_the_listing_filter_form_is_in_polish(polish_ward, nurse, cycle):
    page = logged_in(nurse).get(f"/sites/{polish_ward.slug}/events/").content.decode()
    for polish in ("Termin zawiera", "Stopień co najmniej", "Wystąpienie od", "Kategoria porównania"):
        assert polish in page, polish
    assert "Term contains" not in page and "Grade at least" not in page and "Benchmark category" not in page
    # the sort menu names its keys in Polish (found on a Polish ward's listing: "onset (malejąco)")
    assert "początek (malejąco)" in page and "termin CTCAE (rosnąco)" in page and "onset (" not in page


def test_the_edit_forms_reason_the_exports_note_and_the_sae_clock_are_in_polish(polish_ward, nurse, officer, cycle):
    """Found walking a Polish ward's pages in Chromium: the AE edit form's reason help, the report's CDISC export
    note and the SAE case list's next deadline were English."""
    from ae.services.sae import case_open_for_event

    event = make_event(cycle, user=nurse, grade=3, serious=True, sae_hospitalization=True)
    edit = logged_in(nurse).get(f"/events/{event.pk}/edit/").content.decode()
    assert "Wymagane: zachowywane w historii rekordu." in edit and "kept with the record" not in edit
    report = logged_in(officer).get(f"/sites/{polish_ward.slug}/report/").content.decode()
    assert "(z define.xml; MedDRA PT/SOC puste" in report and "(with define.xml" not in report
    assert case_open_for_event(event=event, acting_user=officer) is not None
    cases = logged_in(officer).get(f"/sites/{polish_ward.slug}/cases/").content.decode()
    assert "Raport do sponsora: " in cases and "Report to the sponsor" not in cases


def test_the_assessment_forms_episode_choices_are_in_polish(polish_ward, nurse, cycle):
    event = make_event(cycle, user=nurse)
    with translation.override("pl"):
        form = CRSAssessmentForm(patient=cycle.patient, episodes=[event])
        labels = {value: str(label) for value, label in form.fields["episode"].choices}  # lazy: render them here
        cycles = [str(label) for _, label in form.fields["cycle"].choices]
    assert labels[str(event.pk)] == f"Trwający epizod od {event.onset_date:%d} Sty 2026 (cykl 1, stopień 2)"
    assert labels[""] == "Automatycznie: epizod z tego dnia, inaczej trwający, inaczej nowy"
    assert labels["new"] == "Nowy, osobny epizod (choć jeden trwa)"
    assert cycles == ["Cykl 1 (rozpoczęty 05 Sty 2026)"]


def test_the_lab_saved_message_is_in_polish(polish_ward, nurse, cycle):
    response = logged_in(nurse).post(f"/patients/{cycle.patient_id}/labs/new/", {
        "analyte": "potassium", "value": "2.4", "unit": "mmol/L", "lln": "3.5", "uln": "5.1",
        "collected_at": "2026-01-10T08:00", "cycle": cycle.pk}, follow=True)
    page = response.content.decode()
    assert "Zapisano: " in page and "Zapisano zdarzenie niepożądane:" in page, page[:3000]
    assert "Saved: " not in page and "Adverse event recorded" not in page
    assert "Hypokalemia" in page  # the CTCAE v5.0 term stays in NCI's English
    assert "z 10 Sty 2026 08:00" in page and "of 10 Jan 2026" not in page  # the value's date in Polish


def test_the_event_history_names_changed_fields_and_the_audit_trail_its_actions_in_polish(polish_ward, nurse,
                                                                                          cycle):
    """Found walking a Polish ward: the event history's changes read "resolution_date: 2023-01-07 → …" (a field
    code, for English readers too) and the audit trail "insert" / "update" / "web"."""
    from ae.services.events import adverse_event_update

    event = make_event(cycle, user=nurse)
    adverse_event_update(event=event, acting_user=nurse, reason="Data ustąpienia z dokumentacji.",
                         expected_version=event.version, outcome="RECOVERED/RESOLVED",
                         resolution_date=cycle.start_date + datetime.timedelta(days=4))
    history = logged_in(nurse).get(f"/events/{event.pk}/history/").content.decode()
    assert "Data ustąpienia: " in history and "resolution_date" not in history
    audit = logged_in(nurse).get(f"/history/adverse-event/{event.pk}/").content.decode()
    assert "<td>zmiana</td>" in audit and "<td>utworzenie</td>" in audit
    assert "<td>update</td>" not in audit and "<td>insert</td>" not in audit


def test_the_event_history_names_changed_fields_by_their_form_labels_in_english(ward, nurse, cycle):
    from ae.services.events import adverse_event_update

    event = make_event(cycle, user=nurse)
    adverse_event_update(event=event, acting_user=nurse, reason="From the notes.", expected_version=event.version,
                         outcome="RECOVERED/RESOLVED", resolution_date=cycle.start_date + datetime.timedelta(days=4))
    history = logged_in(nurse).get(f"/events/{event.pk}/history/").content.decode()
    assert "Resolution date: " in history and "resolution_date" not in history
    audit = logged_in(nurse).get(f"/history/adverse-event/{event.pk}/").content.decode()
    assert "<td>update</td>" in audit  # English as recorded


def test_the_probable_duplicate_box_names_the_existing_event_in_polish(polish_ward, nurse, cycle):
    """Found on a Polish ward's phone: "Już zapisane? Cytokine release syndrome grade 1, wystąpienie …" — the box
    above a refused duplicate (a new event, or an edit after which two episodes overlap) said "grade" in English."""
    from tests.conftest import event_form_data

    first = make_event(cycle, grade=1, resolution_date=cycle.start_date + datetime.timedelta(days=3), user=nurse)
    onset = (cycle.start_date + datetime.timedelta(days=2)).isoformat()
    response = logged_in(nurse).post(f"/patients/{cycle.patient_id}/events/new/",
                                     event_form_data(cycle, onset_date=onset))
    box = re.search(r'<div class="warning" role="alert" id="probable-duplicate">(.*?)</div>',
                    response.content.decode(), re.S).group(1)
    assert "Cytokine release syndrome, stopień 1, wystąpienie" in box and "grade" not in box, box
    with translation.override("pl"):  # the lab tables' link to the episode a value feeds, likewise
        link = render_to_string("ae/_lab_event_link.html", {"event": first})
    assert ">Cytokine release syndrome, stopień 1</a>" in link, link
