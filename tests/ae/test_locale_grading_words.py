"""The bedside grading's last English words in the reader's language (issue 15, item 4; docs/usability.md, "Not yet
translated"): the CRS form's fever-masking therapy choices, the AE form's febrile-neutropenia term mismatch and the
pure grading rules' input refusals shown as field errors. What is stored (codes, the computed rationale) and what
the API answers stay as they were, in English."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import translation

from ae import grading
from ae.forms import CRSAssessmentForm
from ae.models import AdverseEvent, CRSAssessment
from ae.services.labs import lab_result_record
from tests.ae.test_grading_coverage import _fever_form
from tests.conftest import form_errors, make_cycle, make_patient

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")




def _crs_form(cycle, **criteria) -> dict:
    """A bedside CRS form's post for a new episode of ``cycle`` on 6 Jan 2026, no oxygen, with ``criteria``."""
    return {"episode": "", "cycle": cycle.pk, "assessed_at": "2026-01-06T08:00", "oxygen_device": "none",
            "relatedness": "probable", "action_taken": "DRUG INTERRUPTED", **criteria}


def test_the_crs_forms_fever_masking_choices_are_in_polish_with_the_codes_kept(polish_nurse, patient, cycle):
    response = polish_nurse.get(f"/patients/{patient.pk}/crs/new/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lek przeciwgorączkowy (np. paracetamol, ibuprofen)" in page and "Kortykosteroid (np. deksametazon)" in page
    assert 'value="antipyretic"' in page  # the stored code
    assert "Antipyretic (e.g." not in page and "Corticosteroid (e.g." not in page
    with translation.override("en-gb"):
        assert dict(CRSAssessmentForm.base_fields["fever_masking_therapies"].choices)["antipyretic"] == (
            "Antipyretic (e.g. paracetamol, ibuprofen)"
        )
    field = CRSAssessment._meta.get_field("fever_masking_therapies").base_field
    with translation.override("pl"):
        assert dict(field.choices)["tocilizumab_or_corticosteroid"] == (
            "Tocilizumab lub kortykosteroid (nie zapisano który)"
        )
    call_command("makemigrations", "ae", "--check", "--dry-run", verbosity=0)  # no migration for the labels


def test_the_ae_forms_febrile_neutropenia_mismatch_is_in_polish_and_the_stored_rationale_english(
    polish_nurse, nurse, patient, cycle
):
    lab_result_record(
        patient=patient,
        acting_user=nurse,
        data={
            "analyte": "anc",
            "value": 0.4,
            "unit": "10^9/L",
            "lln": 1.5,
            "collected_at": datetime.datetime(2026, 1, 5, 7, tzinfo=TZ),
        },
    )
    url = f"/patients/{patient.pk}/events/new/"
    error = form_errors(polish_nurse.post(url, _fever_form(cycle, temperature_c="38.9")), "term")
    assert error.startswith("według CTCAE v5.0 to Febrile neutropenia, nie Fever (ANC 0,4 ")
    assert " z 05 Sty 2026 07:00): Stopień 3: " in error  # the rationale after the colon in Polish too
    assert "by CTCAE v5.0, not" not in error and " of 05 Jan" not in error
    saved = polish_nurse.post(url, _fever_form(cycle, term="Febrile neutropenia", grade=3, temperature_c="38.9"))
    assert saved.status_code == 302
    stored = AdverseEvent.objects.get(term__term="Febrile neutropenia").computed_rationale
    assert stored.startswith("CTCAE v5.0 Febrile neutropenia (ANC 0.4 ") and " of 05 Jan 2026 07:00): " in stored


def test_a_grading_input_error_keeps_its_english_and_gives_the_readers_language():
    with pytest.raises(grading.GradingInputError) as caught:
        grading.grade_crs_astct(temperature_c=20.0)
    error = caught.value
    assert (error.field, error.message, str(error)) == (
        "temperature_c",
        "must be >= 25, got 20",
        "temperature_c: must be >= 25, got 20",
    )
    assert error.text() == error.message
    with translation.override("pl"):
        assert error.text(translation.gettext) == "musi wynosić co najmniej 25, podano 20"
    with pytest.raises(grading.GradingInputError) as caught:
        grading.grade_crs_astct(temperature_c=37.0, other_cause_findings=["fever"])
    assert caught.value.message == "fever is attributed to another cause but was not recorded"
    with translation.override("pl"):  # a parameter that is a word is translated with the message
        assert caught.value.text(translation.gettext) == (
            "przypisano innej przyczynie objaw, którego nie odnotowano: gorączka"
        )


def test_the_bedside_forms_show_the_grading_rules_refusals_in_polish(polish_nurse, ward, patient, cycle):
    crs = _crs_form(cycle, temperature_c="37.0", other_cause_findings=["fever"], other_cause="line infection")
    error = form_errors(polish_nurse.post(f"/patients/{patient.pk}/crs/new/", crs), "other_cause_findings")
    assert error == "przypisano innej przyczynie objaw, którego nie odnotowano: gorączka"
    child = make_patient(ward, "KRK-007", birth_month=datetime.date(2018, 5, 1))
    icans = {
        "episode": "",
        "cycle": make_cycle(child).pk,
        "assessed_at": "2026-01-06T09:30",
        "tool": "CAPD",
        "score": "",
        "consciousness": "normal",
        "seizure": "none",
        "motor": "none",
        "cerebral_edema": "none",
        "relatedness": "probable",
        "action_taken": "DRUG INTERRUPTED",
    }
    error = form_errors(polish_nurse.post(f"/patients/{child.pk}/icans/new/", icans), "score")
    assert error.startswith("jest wymagany dla narzędzia CAPD") and "is required" not in error


def test_the_grading_api_still_answers_the_rules_refusals_in_english(client, nurse):
    client.force_login(nurse)
    response = client.post(
        "/api/v1/grading/crs/",
        {"temperature_c": 37.0, "other_cause_findings": ["fever"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "fever is attributed to another cause but was not recorded" in response.content.decode()


def test_the_event_history_names_the_fever_masking_therapies_given_in_polish(polish_nurse, patient, cycle):
    crs = _crs_form(cycle, temperature_c="38.5", fever_masking_therapies=["antipyretic", "tocilizumab"])
    saved = polish_nurse.post(f"/patients/{patient.pk}/crs/new/", crs)
    assert saved.status_code == 302
    assert CRSAssessment.objects.get().fever_masking_therapies == ["antipyretic", "tocilizumab"]  # codes stored
    page = polish_nurse.get(saved.url).content.decode()
    assert "podano: lek przeciwgorączkowy (np. paracetamol, ibuprofen), tocilizumab (lek przeciwcytokinowy)" in page
    assert "antipyretic, tocilizumab" not in page


# --- the lab rules' refusals (grade_lab, lab_chemistry) ----------------------------------------------------------

SODIUM_NEITHER = (
    "140 mmol/L is beyond neither reference limit, so it proposes neither Hyponatremia nor Hypernatremia: give the "
    "LLN/ULN or grade the event on the AE form"
)


@pytest.mark.parametrize(
    ("entry", "field", "english", "polish"),
    [
        (
            {"analyte": "sodium", "value": 140, "unit": "mmol/L", "lln": 135, "uln": 145, "seizures": True},
            "seizures",
            SODIUM_NEITHER,
            "140 mmol/L nie przekracza żadnej z granic referencyjnych, więc nie wskazuje ani na Hyponatremia, ani na "
            "Hypernatremia: podaj LLN/ULN albo oceń zdarzenie w formularzu AE",
        ),
        (
            {"analyte": "glucose", "value": 5.5, "unit": "mmol/L", "uln": 6, "insulin_initiated": True},
            "insulin_initiated",
            "5.5 mmol/L is beyond neither reference limit (LLN missing), so it proposes neither Hypoglycemia nor "
            "Hyperglycemia: give the LLN/ULN or grade the event on the AE form",
            "5,5 mmol/L nie przekracza żadnej z granic referencyjnych (brak LLN), więc nie wskazuje ani na "
            "Hypoglycemia, ani na Hyperglycemia: podaj LLN/ULN albo oceń zdarzenie w formularzu AE",
        ),
        (
            {"analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150, "hospitalization_indicated": True},
            "hospitalization_indicated",
            "is not a CTCAE v5.0 criterion of Platelet count decreased",
            "nie jest kryterium CTCAE v5.0 dla Platelet count decreased",
        ),
        (
            {"analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 450, "uln": 400},
            "lln",
            "must be below uln",
            "musi być niższa niż ULN",
        ),
        (
            {"analyte": "potassium", "value": 6.5, "unit": "mmol/L", "uln": 5, "albumin": 30, "albumin_unit": "g/L"},
            "albumin",
            "corrects total calcium only",
            "koryguje tylko wapń całkowity",
        ),
    ],
)
def test_a_lab_rules_refusal_keeps_its_english_and_gives_the_readers_language(entry, field, english, polish):
    entry = dict(entry)
    analyte, value, unit = entry.pop("analyte"), entry.pop("value"), entry.pop("unit")
    with pytest.raises(grading.GradingInputError) as caught:
        grading.grade_lab(analyte, value, unit, **entry)
    assert (caught.value.field, caught.value.message) == (field, english)  # what the API and the logs say
    with translation.override("pl"), pytest.raises(grading.GradingInputError) as again:
        grading.grade_lab(analyte, value, unit, translate=translation.gettext, **entry)
    # the words translated; the quoted value stays as the rule writes it (the service adds the decimal comma)
    with translation.override("pl"):
        assert again.value.text(translation.gettext) == polish.replace("5,5 mmol/L", "5.5 mmol/L")


def test_the_lab_form_shows_the_lab_rules_refusal_in_polish(polish_nurse, patient, cycle):
    response = polish_nurse.post(
        f"/patients/{patient.pk}/labs/new/",
        {
            "analyte": "glucose",
            "value": "5.5",
            "unit": "mmol/L",
            "lln": "",
            "uln": "6",
            "collected_at": "2026-01-08T07:00",
            "cycle": "",
            "clinical_criteria": ["insulin_initiated"],
        },
    )
    error = form_errors(response, "clinical_criteria")
    assert error == (
        "5,5 mmol/L nie przekracza żadnej z granic referencyjnych (brak LLN), więc nie wskazuje ani na Hypoglycemia, "
        "ani na Hyperglycemia: podaj LLN/ULN albo oceń zdarzenie w formularzu AE"
    )


def test_the_lab_service_refuses_in_english_for_an_english_reader(nurse, patient, cycle):
    from django.core.exceptions import ValidationError

    data = {"analyte": "sodium", "value": 140, "unit": "mmol/L", "lln": 135, "uln": 145,
            "collected_at": datetime.datetime(2026, 1, 8, 7, tzinfo=TZ), "clinical_criteria": ["seizures"]}
    with translation.override("en-gb"), pytest.raises(ValidationError) as caught:
        lab_result_record(patient=patient, acting_user=nurse, data=data)
    assert caught.value.message_dict == {"clinical_criteria": [SODIUM_NEITHER]}


def test_the_calculators_answer_the_pages_script_in_the_readers_language(polish_nurse, nurse):
    """The bedside and lab forms' live "computed grade" box shows the grading API's rationale: a Polish nurse's
    page (her session) gets it in Polish, with the decimal comma; a token client without Accept-Language gets the
    English it always got."""
    body = {"temperature_c": 38.5}
    polish = polish_nurse.post("/api/v1/grading/crs/", body, content_type="application/json").json()["rationale"]
    english = grading.grade_crs_astct(temperature_c=38.5).rationale
    with translation.override("pl"):
        expected = grading.grade_crs_astct(temperature_c=38.5, translate=translation.gettext).rationale
    assert polish == expected.replace("38.5", "38,5") and polish != english and "38,5 °C" in polish
    lab = {"analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150}
    lab_answer = polish_nurse.post("/api/v1/grading/lab/", lab, content_type="application/json").json()["rationale"]
    with translation.override("pl"):
        lab_expected = grading.grade_lab("platelets", 60, "10^9/L", lln=150, translate=translation.gettext).rationale
    assert lab_answer == lab_expected != grading.grade_lab("platelets", 60, "10^9/L", lln=150).rationale
    refused = polish_nurse.post("/api/v1/grading/crs/", {"temperature_c": 20}, content_type="application/json")
    assert refused.status_code == 400 and "musi wynosić co najmniej 25, podano 20" in refused.content.decode()

    from knox.models import AuthToken
    from rest_framework.test import APIClient

    _, token = AuthToken.objects.create(user=nurse)  # the same Polish ward's nurse, by token, no Accept-Language
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = api.post("/api/v1/grading/crs/", body, format="json")
    assert answer.status_code == 200
    assert answer.json()["rationale"] == english
