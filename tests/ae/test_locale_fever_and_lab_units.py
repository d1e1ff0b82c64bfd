"""The fever and febrile-neutropenia rationales and the lab units' analyte names in the reader's language (issue 15,
item 4; docs/usability.md, "Not yet translated"). What is stored (the event's computed rationale) and what the
grading API answers stay the English they were, byte for byte."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from ae import grading, lab_units
from ae.analyte_labels import ANALYTE_LABELS
from ae.models import AdverseEvent
from ae.services.labs import lab_result_record
from tests.ae.test_grading_coverage import _fever_form
from tests.conftest import form_errors

TZ = ZoneInfo("Europe/Warsaw")

#: (criteria, grade, term, rationale) as ``ae.grading.grade_fever_episode`` wrote them before it took ``translate``
#: (the f-strings of the commit before this one): the English stays byte for byte what is stored.
ENGLISH = [
    ({"temperature_c": 37.5}, 0, "Fever", "Grade 0: 37.5 °C is below 38.0 °C (no fever)."),
    ({"temperature_c": 38.0}, 1, "Fever", "Grade 1: 38 °C (38.0 - 39.0 °C)."),
    ({"temperature_c": 39.5}, 2, "Fever", "Grade 2: 39.5 °C (> 39.0 - 40.0 °C)."),
    ({"temperature_c": 40.5}, None, "Fever",
     "Undetermined: 40.5 °C > 40.0 °C is grade 3 for <= 24 h and grade 4 for > 24 h; the duration is not recorded."),
    ({"temperature_c": 40.5, "hours_above_40": 6}, 3, "Fever", "Grade 3: 40.5 °C > 40.0 °C for 6 h (<= 24 h)."),
    ({"temperature_c": 41.0, "hours_above_40": 30}, 4, "Fever", "Grade 4: 41 °C > 40.0 °C for 30 h (> 24 h)."),
    ({"temperature_c": 39.0, "death": True}, 5, "Fever", "Grade 5: death."),
    ({"temperature_c": 38.9, "anc": 0.4, "anc_unit": "10^9/L"}, 3, "Febrile neutropenia",
     "Grade 3: ANC 0.4 ×10⁹/L < 1.0 ×10⁹/L with a single temperature 38.9 °C > 38.3 °C."),
    ({"temperature_c": 38.1, "anc": 400, "anc_unit": "/mm3", "sustained_38_over_1h": True}, 3, "Febrile neutropenia",
     "Grade 3: ANC 0.4 ×10⁹/L (= 400 /mm³) < 1.0 ×10⁹/L with a temperature >= 38.0 °C (38.1 °C) sustained for more "
     "than one hour."),
    ({"temperature_c": 38.2, "anc": 0.5, "anc_unit": "10^9/L"}, None, "Febrile neutropenia",
     "Undetermined: ANC 0.5 ×10⁹/L < 1.0 ×10⁹/L with 38.2 °C (not > 38.3 °C); febrile neutropenia if >= 38.0 °C was "
     "sustained for more than one hour, which is not recorded."),
    ({"temperature_c": 38.2, "anc": 0.5, "anc_unit": "10^9/L", "sustained_38_over_1h": False}, 1, "Fever",
     "Grade 1: 38.2 °C (38.0 - 39.0 °C). (Febrile neutropenia not met: ANC 0.5 ×10⁹/L < 1.0 ×10⁹/L but 38.2 °C is "
     "not > 38.3 °C and was not sustained for more than one hour: not febrile neutropenia.)"),
    ({"temperature_c": 37.5, "anc": 0.5, "anc_unit": "10^9/L"}, 0, "Fever",
     "Grade 0: 37.5 °C is below 38.0 °C (no fever). (Febrile neutropenia not met: ANC 0.5 ×10⁹/L < 1.0 ×10⁹/L but "
     "37.5 °C is below 38.0 °C: not febrile neutropenia.)"),
    ({"temperature_c": 39.5, "anc": 1000, "anc_unit": "/mm3"}, 2, "Fever",
     "Grade 2: 39.5 °C (> 39.0 - 40.0 °C). (Febrile neutropenia not met: ANC 1 ×10⁹/L (= 1000 /mm³) is not < 1.0 "
     "×10⁹/L (< 1000/mm³): not febrile neutropenia.)"),
    ({"temperature_c": 39.0, "anc": 0.2, "anc_unit": "10^9/L", "life_threatening": True}, 4, "Febrile neutropenia",
     "Grade 4: life-threatening consequences; urgent intervention indicated (ANC 0.2 ×10⁹/L with a single "
     "temperature 39 °C > 38.3 °C)."),
    ({"temperature_c": 39.0, "anc": 0.2, "anc_unit": "10^9/L", "death": True}, 5, "Febrile neutropenia",
     "Grade 5: death (ANC 0.2 ×10⁹/L with a single temperature 39 °C > 38.3 °C)."),
]


@pytest.mark.parametrize(("criteria", "grade", "term", "english"), ENGLISH)
def test_the_fever_rationales_english_is_what_it_was(criteria, grade, term, english):
    result = grading.grade_fever_episode(**criteria)
    assert (result.grade, result.ctcae_term, result.rationale) == (grade, term, english)
    with translation.override("pl"):  # the default translate is str, whatever the active language
        assert grading.grade_fever_episode(**criteria).rationale == english
        assert grading.grade_fever_episode(**criteria, translate=str).rationale == english
    if "anc" not in criteria:
        assert grading.grade_fever(**criteria).rationale == english
    elif term == "Febrile neutropenia":
        assert grading.grade_febrile_neutropenia(**criteria).rationale == english


@pytest.mark.parametrize(("criteria", "grade", "term", "english"), ENGLISH)
def test_the_fever_rationales_in_polish_have_the_same_grade_and_term(criteria, grade, term, english):
    with translation.override("pl"):
        result = grading.grade_fever_episode(**criteria, translate=translation.gettext)
    assert (result.grade, result.ctcae_term) == (grade, term)
    assert result.rationale.startswith("Nieustalony: " if grade is None else f"Stopień {grade}: ")
    for english_word in ("Grade", "Undetermined", "below", "with", "sustained", "not met", "death", "fever"):
        assert english_word not in result.rationale


@pytest.mark.parametrize(("criteria", "polish"), [
    ({"temperature_c": 38.5}, "Stopień 1: 38.5 °C (38,0–39,0 °C)."),
    ({"temperature_c": 40.5, "hours_above_40": 6.5}, "Stopień 3: 40.5 °C > 40,0 °C przez 6.5 h (≤ 24 h)."),
    ({"temperature_c": 38.1, "anc": 400, "anc_unit": "/mm3", "sustained_38_over_1h": True},
     "Stopień 3: ANC 0.4 ×10⁹/L (= 400 /mm³) < 1,0 ×10⁹/L oraz temperatura ≥ 38,0 °C (38.1 °C) utrzymująca się "
     "ponad godzinę."),
    ({"temperature_c": 38.2, "anc": 0.5, "anc_unit": "10^9/L", "sustained_38_over_1h": False},
     "Stopień 1: 38.2 °C (38,0–39,0 °C). (kryteria Febrile neutropenia niespełnione: ANC 0.5 ×10⁹/L < 1,0 ×10⁹/L, ale "
     "temperatura 38.2 °C nie jest > 38,3 °C i nie utrzymywała się ponad godzinę: to nie gorączka neutropeniczna.)"),
    ({"temperature_c": 39.0, "anc": 0.2, "anc_unit": "10^9/L", "life_threatening": True},
     "Stopień 4: następstwa zagrażające życiu; wskazana pilna interwencja (ANC 0.2 ×10⁹/L oraz pojedynczy pomiar "
     "temperatury 39 °C > 38,3 °C)."),
])
def test_the_fever_rationale_through_gettext_is_polish(criteria, polish):
    """The pure rule translates its words; the numbers it fills in are the caller's to convert (reader_numbers)."""
    with translation.override("pl"):
        assert grading.grade_fever_episode(**criteria, translate=translation.gettext).rationale == polish




@pytest.mark.django_db
def test_the_ae_forms_febrile_neutropenia_mismatch_quotes_the_rationale_in_polish(polish_nurse, nurse, patient,
                                                                                   cycle):
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "anc", "value": 0.4, "unit": "10^9/L", "lln": 1.5,
        "collected_at": datetime.datetime(2026, 1, 5, 7, tzinfo=TZ)})
    url = f"/patients/{patient.pk}/events/new/"
    error = form_errors(polish_nurse.post(url, _fever_form(cycle, temperature_c="38.9")), "term")
    assert error == ("według CTCAE v5.0 to Febrile neutropenia, nie Fever (ANC 0,4 ×10⁹/L z 05 Sty 2026 07:00): "
                     "Stopień 3: ANC 0,4 ×10⁹/L < 1,0 ×10⁹/L oraz pojedynczy pomiar temperatury 38,9 °C > 38,3 °C.")
    saved = polish_nurse.post(url, _fever_form(cycle, term="Febrile neutropenia", grade=3, temperature_c="38.9"))
    assert saved.status_code == 302
    assert AdverseEvent.objects.get(term__term="Febrile neutropenia").computed_rationale == (
        "CTCAE v5.0 Febrile neutropenia (ANC 0.4 ×10⁹/L of 05 Jan 2026 07:00): Grade 3: ANC 0.4 ×10⁹/L < 1.0 ×10⁹/L "
        "with a single temperature 38.9 °C > 38.3 °C.")


@pytest.mark.django_db
def test_the_ae_forms_fever_grade_discrepancy_quotes_the_rationale_in_polish(polish_nurse, patient, cycle):
    url = f"/patients/{patient.pk}/events/new/"
    error = form_errors(polish_nurse.post(url, _fever_form(cycle, grade=3, temperature_c="38.5")),
                    "grade_discrepancy_reason")
    assert "(Stopień 1: 38,5 °C (38,0–39,0 °C)): podaj powód." in error and "Grade 1" not in error
    saved = polish_nurse.post(url, _fever_form(cycle, grade=3, temperature_c="38.5",
                                               grade_discrepancy_reason="rigors, clinically worse"))
    assert saved.status_code == 302
    assert AdverseEvent.objects.get().computed_rationale == (
        "CTCAE v5.0 Fever (no ANC recorded on the onset day or the two days before): Grade 1: 38.5 °C "
        "(38.0 - 39.0 °C).")


@pytest.mark.django_db
def test_the_fever_api_answers_the_english_rationale(client, nurse):
    client.force_login(nurse)
    response = client.post("/api/v1/grading/fever/", {"temperature_c": 38.2, "anc": 500, "anc_unit": "/mm3",
                                                      "sustained_38_over_1h": False}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["rationale"] == (
        "Grade 1: 38.2 °C (38.0 - 39.0 °C). (Febrile neutropenia not met: ANC 0.5 ×10⁹/L (= 500 /mm³) < 1.0 ×10⁹/L "
        "but 38.2 °C is not > 38.3 °C and was not sustained for more than one hour: not febrile neutropenia.)")


# ------------------------------------------------------------------------------------- lab units' analyte names


def test_the_lab_units_name_every_analyte_as_the_pages_do():
    """``lab_units.analyte_name`` reads the catalogue entries ``ae.analyte_labels`` marks (context "analyte")."""
    for language in ("en", "pl"):
        with translation.override(language):
            assert {code: lab_units.analyte_name(code, translation.gettext) for code in lab_units.ANALYTES} == {
                code: str(ANALYTE_LABELS[code]) for code in lab_units.ANALYTES}
    with translation.override("pl"):
        assert lab_units.analyte_name("potassium") == "Potassium"  # English without translate
        assert lab_units.analyte_name("potassium", translation.gettext) == "Potas"


def test_the_lab_units_messages_name_the_analyte_in_polish_and_keep_their_english():
    english = {
        "unit": "g/L is not a unit of Platelet count: use ×10⁹/L or /mm³.",
        "value": "Potassium 95 mmol/L is not plausible (potassium is 1–15 mmol/L). Check the value and the unit.",
        "uln": "ULN 95 mmol/L is not plausible for Potassium (potassium is 1–15 mmol/L). The value, LLN and ULN are "
               "all in the unit chosen (mmol/L).",
    }
    polish = {
        "unit": "g/L nie jest jednostką parametru Liczba płytek krwi: użyj ×10⁹/L lub /mm³.",
        "value": "Potas 95 mmol/L: wynik niewiarygodny (zakres parametru potas: 1–15 mmol/L). Sprawdź wartość i "
                 "jednostkę.",
        "uln": "ULN 95 mmol/L: wartość niewiarygodna dla parametru Potas (zakres parametru potas: 1–15 mmol/L). Wynik, "
               "LLN i ULN podaje się w wybranej jednostce (mmol/L).",
    }

    def messages(translate=str) -> dict[str, str | None]:
        return {"unit": lab_units.unit_error("platelets", "g/L", translate),
                "value": lab_units.implausible("potassium", 95, "mmol/L", translate=translate),
                "uln": lab_units.entry_errors("potassium", "mmol/L", 4.0, uln=95, translate=translate)[1]["uln"]}

    assert messages() == english
    with translation.override("pl"):
        assert messages() == english
        assert messages(translation.gettext) == polish


@pytest.mark.django_db
def test_the_lab_form_names_the_analyte_of_a_unit_refusal_in_polish(polish_nurse, patient):
    response = polish_nurse.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "platelets", "value": "20", "unit": "g/L", "lln": "", "uln": "",
        "collected_at": "2026-01-08T07:00", "cycle": ""})
    assert form_errors(response, "unit") == "g/L nie jest jednostką parametru Liczba płytek krwi: użyj ×10⁹/L lub /mm³."
