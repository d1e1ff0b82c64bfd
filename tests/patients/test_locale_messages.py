"""Language (issue 15, item 4), third slice: the import forms, the models' validation messages, the database
constraints' messages and the model choice labels shown on pages, in Polish; CTCAE terms stay in NCI's English and
what a file or the API reads stays English (docs/usability.md, "Language and formats")."""

from __future__ import annotations

import datetime
import io

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import BaseConstraint
from django.utils import translation

from ae.models import AdverseEvent
from ae.services.imports import adverse_events_import
from tests.ae.test_import import HEADER, _good_rows, import_ward  # noqa: F401 (fixture)
from tests.conftest import make_event
from tests.patients.conftest import logged_in
from tests.patients.test_locale_numbers import visible_text


def _constraints() -> list[tuple[str, BaseConstraint]]:
    return [(f"{m._meta.label}.{c.name}", c) for m in apps.get_models() if m._meta.app_label in ("ae", "patients",
                                                                                                  "reports")
            for c in m._meta.constraints if c.violation_error_message != c.default_violation_error_message]


def test_every_constraint_message_can_be_shown_in_english_and_in_polish():
    """Django formats a constraint's message with ``% {"name": ...}``: a bare "%" (as in "100%.") made it raise
    ValueError instead of showing the message (a 500); now "%%", and every message is translated."""
    constraints = _constraints()
    assert len(constraints) > 60
    for label, constraint in constraints:
        with translation.override("en-gb"):
            english = constraint.get_violation_error_message()
        with translation.override("pl"):
            polish = constraint.get_violation_error_message()
        assert english and polish != english, label
    blasts = dict(_constraints())["patients.TreatmentCycle.cycle_blasts_pct_0_100"]
    with translation.override("en-gb"):
        assert blasts.get_violation_error_message() == "Marrow blasts must be between 0 and 100%."
    with translation.override("pl"):
        assert blasts.get_violation_error_message() == "Odsetek blastów w szpiku musi wynosić od 0 do 100%."


def test_the_adverse_events_validation_messages_are_in_the_active_language(nurse, cycle):
    event = make_event(cycle, user=nurse)
    event.onset_date = cycle.start_date - datetime.timedelta(days=3)
    event.resolution_date = event.onset_date - datetime.timedelta(days=1)
    for language, resolution, onset in (
            ("en-gb", "Resolution cannot be before onset.", "is before cycle 1 started"),
            ("pl", "Ustąpienie nie może nastąpić przed wystąpieniem.", "jest przed rozpoczęciem cyklu 1")):
        with translation.override(language), pytest.raises(ValidationError) as raised:
            event.full_clean()
        errors = raised.value.message_dict
        assert resolution in errors["resolution_date"], language
        assert onset in errors["onset_date"][0], language
    with translation.override("pl"):  # the date in the message is in Polish too (Django's abbreviated month)
        from django.utils.formats import date_format

        assert date_format(cycle.start_date, "d M Y") in errors["onset_date"][0]


def test_the_patients_validation_messages_are_in_the_active_language(patient):
    patient.birth_month = datetime.date(1899, 1, 1)
    with translation.override("pl"), pytest.raises(ValidationError) as raised:
        patient.full_clean()
    assert "Miesiąc urodzenia nie może być wcześniejszy niż" in str(raised.value.message_dict["birth_month"])


def test_the_import_pages_are_in_polish(polish_ward, nurse):
    client = logged_in(nurse)
    upload = client.get(f"/sites/{polish_ward.slug}/ae-imports/").content.decode()
    assert "brak (plik korzysta z szablonu pvtrack)" in upload and "CSV (szablon pvtrack lub inny arkusz)" in upload
    assert "the file uses pvtrack" not in upload and "CSV (UTF-8) or CDISC ODM" not in upload
    mapping = client.get(f"/sites/{polish_ward.slug}/ae-imports/mapping/").content.decode()
    assert "Plik przykładowy" in mapping and "Mapowanie do edycji" in mapping and "Wartości kodowane" in mapping
    assert "Sample file" not in mapping and "Mapping to edit" not in mapping
    refused = client.post(f"/sites/{polish_ward.slug}/ae-imports/mapping/", {
        "name": "X", "source": "csv", "columns": "no equals sign", "action": "text"}).content.decode()
    assert "wiersz 1: wpisz „kolumna źródła = kolumna szablonu”." in refused


def test_an_import_reads_the_files_english_labels_whoever_imports_it(import_ward, nurse):  # noqa: F811
    rows = [r.replace(",possible,", ",Possibly related,") for r in _good_rows()[:2]]
    raw = io.BytesIO(("\n".join([HEADER, *rows]) + "\n").encode())
    with translation.override("pl"):
        report = adverse_events_import(site=import_ward, raw=raw, file_name="aes.csv", dry_run=False,
                                       acting_user=nurse)
    assert report.count("created") == 2
    assert set(AdverseEvent.objects.values_list("relatedness", flat=True)) == {"possible"}


def test_the_choice_labels_are_in_polish_on_the_pages(polish_ward, nurse, cycle):
    make_event(cycle, user=nurse, resolution_date=cycle.start_date + datetime.timedelta(days=3))
    page = visible_text(logged_in(nurse).get(f"/patients/{cycle.patient_id}/"))
    assert "Wyzdrowienie/ustąpiło" in page and "Recovered/resolved" not in page
    form = logged_in(nurse).get(f"/patients/{cycle.patient_id}/events/new/").content.decode()
    assert "Możliwy związek" in form and "Dawki nie zmieniono" in form and "Possibly related" not in form
    assert "Cytokine release syndrome" in form  # the CTCAE term stays in NCI's English
