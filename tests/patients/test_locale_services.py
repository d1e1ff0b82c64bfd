"""The refusals the services raise, in the reader's language (issue 15, item 4): the lab, bedside assessment, SAE
case, reference range, import, dosing and signature services answer a Polish user's page in Polish and an English
user's in English; the API answers in English unless the client asks for Polish (Accept-Language)."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from knox.models import AuthToken
from rest_framework.test import APIClient

from ae.services import sae
from core.text import clean_reason
from patients.models import Membership
from patients.treatment import DosingStep
from tests.ae.test_assessment_views import crs_post
from tests.ae.test_import import HEADER, _good_rows
from tests.conftest import make_cycle, make_event, make_patient, make_user
from tests.patients.conftest import expect, logged_in

pytestmark = pytest.mark.django_db


def page_of(response) -> str:
    return html.unescape(response.content.decode())



def test_the_lab_services_refusals(language, nurse, cycle):
    future = (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/labs/new/", {
        "analyte": "anc", "value": "800", "unit": "/mm3", "lln": "1500", "uln": "", "collected_at": future,
        "cycle": ""}))
    expect(page, language, "Próbka nie mogła zostać pobrana w przyszłości.",
           "The sample cannot have been collected in the future.")


def test_the_lab_services_refusal_names_the_analyte_in_the_readers_language(language, nurse, cycle):
    client = logged_in(nurse)
    url = f"/patients/{cycle.patient_id}/labs/new/"
    data = {"analyte": "platelets", "value": "120", "unit": "10^9/L", "lln": "150", "uln": "",
            "collected_at": "2026-01-04T07:00", "cycle": cycle.pk, "baseline": "on"}
    assert client.post(url, data).status_code == 302
    page = page_of(client.post(url, data | {"collected_at": "2026-01-05T06:00"}))
    expect(page, language, "Cykl 1 ma już wartość wyjściową: Liczba płytek krwi.",
           "Cycle 1 already has a baseline Platelet count value.")


def test_the_bedside_assessments_discrepancy_refusal(language, nurse, cycle):
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/crs/new/",
                                         crs_post(cycle, 6, temperature_c="38.5", entered_grade="2")))
    expect(page, language, "Twój stopień 2 różni się od stopnia obliczonego według ASTCT 2019 1 (Stopień 1: gorączka "
           "38,5 °C bez hipotensji i hipoksji): podaj powód.",
           "Your grade 2 differs from the computed ASTCT 2019 grade 1 (Grade 1: fever 38.5 °C without hypotension or "
           "hypoxia): give the reason.")


def test_the_icans_discrepancy_refusal_quotes_the_rationale_in_the_readers_language(language, nurse, cycle):
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/icans/new/", {
        "episode": "", "cycle": cycle.pk, "assessed_at": "2026-01-06T09:30", "tool": "CAPD", "score": "10",
        "consciousness": "awakens_to_voice", "seizure": "none", "motor": "none", "cerebral_edema": "none",
        "relatedness": "probable", "action_taken": "DRUG INTERRUPTED", "entered_grade": "1"}))
    expect(page, language, "(Stopień 3 (narzędzie CAPD): najcięższa domena: wynik CAPD 10 (≥ 9)):",
           "(Grade 3 (CAPD tool): worst domain CAPD score 10 (>= 9)):")


def test_the_assessment_date_refusal_dates_in_the_readers_language(language, nurse, patient):
    cycle = make_cycle(patient, start=datetime.date(2026, 2, 2))
    page = page_of(logged_in(nurse).post(f"/patients/{patient.pk}/crs/new/",
                                         crs_post(cycle, 6, temperature_c="38.5")))  # 6 January: before it
    expect(page, language, "Przed rozpoczęciem cyklu 1 (02 Lut 2026).", "Before cycle 1 started (02 Feb 2026).")


def test_the_sae_case_services_refusals(language, cycle, nurse, officer):
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    case = sae.case_open_for_event(event=event, acting_user=nurse)
    page = page_of(logged_in(officer).post(f"/cases/{case.pk}/", {"action": "submit", "password": "wrong"}))
    expect(page, language, "Przed wysłaniem podaj ocenę związku przyczynowego dokonaną przez badacza.",
           "Give the investigator's causality assessment before submitting.")


def test_the_signers_password_refusal(language, cycle, nurse, officer):
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    case = sae.case_open_for_event(event=event, acting_user=nurse)
    client = logged_in(officer)
    client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                       "causality_investigator": "probable", "causality_sponsor": "",
                                       "expectedness": "unexpected"})
    client.post(f"/cases/{case.pk}/", {"action": "draft_narrative"})
    page = page_of(client.post(f"/cases/{case.pk}/", {"action": "submit", "password": "wrong"}))
    expect(page, language, "Hasło jest nieprawidłowe: niczego nie podpisano.",
           "The password is not correct: nothing was signed.")


def test_the_reference_range_services_refusal(language, ward):
    admin = make_user("lab-admin", ward, role=Membership.Role.ADMINISTRATOR)
    client = logged_in(admin)
    data = {"analyte": "hemoglobin", "unit": "g/L", "sex": "", "age_from_months": "24", "age_to_months": "144",
            "lln": "115", "uln": "155", "source": "Lab handbook 2026", "valid_from": "2025-01-01"}
    assert client.post("/sites/ward-a/reference-ranges/", data).status_code == 302
    page = page_of(client.post("/sites/ward-a/reference-ranges/", data))
    expect(page, language, "Bieżąca wersja obowiązuje od 01 Sty 2025: nowa wersja musi zaczynać się później.",
           "The current version is valid from 01 Jan 2025: a new version starts after it.")


def test_the_import_row_errors(language, ward, nurse):
    for i in range(1, 6):
        make_cycle(make_patient(ward, f"IMP-{i:02d}"), 1, datetime.date(2026, 1, 5))
    rows = _good_rows()
    rows[2] = rows[2].replace(",Anemia,", ",Anaemic,").replace(",possible,", ",perhaps,")
    upload = SimpleUploadedFile("aes.csv", ("\n".join([HEADER, *rows]) + "\n").encode(), content_type="text/csv")
    page = page_of(logged_in(nurse).post("/sites/ward-a/ae-imports/", {"file": upload, "file_source": "csv",
                                                                       "action": "check"}))
    expect(page, language, "'Anaemic' nie jest terminem CTCAE v5.0. Czy chodziło o: Anemia?",
           "'Anaemic' is not a CTCAE v5.0 term. Did you mean: Anemia?")
    expect(page, language, "'perhaps' nie jest żadną z wartości:", "'perhaps' is not one of:")


def test_the_dosing_rule_refusal(language, nurse, cycle):
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/cycles/{cycle.pk}/treatment/", {
        "record": "step", "step-from_day": 1, "step-dose": "9", "step-unit": "ug_day"}))
    expect(page, language, "masa ciała w tym cyklu to 20", "this cycle's weight is 20")


def test_a_blank_reason_is_refused_in_the_active_language():
    for language, expected in (
            ("pl", "Podaj słowami powód zmiany (co najmniej 3 widoczne znaki); ten tekst jest przechowywany wraz z "
                   "dokumentacją."),
            ("en-gb", "Give a reason for the change in words (at least 3 visible characters); it is kept with the "
                      "record.")):
        with translation.override(language), pytest.raises(ValidationError) as refused:
            clean_reason(" \u200b ", field="comment")
        assert refused.value.message_dict == {"comment": [expected]}


# --- the API: English unless the client asks for Polish --------------------------------------------------------

def _token_client(user, **headers) -> APIClient:
    _, token = AuthToken.objects.create(user)
    client = APIClient(**headers)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _refused_dose(client: APIClient, cycle) -> str:
    response = client.post("/api/v1/dosing-steps/", {"cycle": cycle.pk, "from_day": 1, "dose": "9",
                                                     "unit": "ug_day"}, format="json")
    assert response.status_code == 400
    return response.json()["errors"]["unit"][0]


def test_the_api_answers_a_polish_wards_user_in_english_without_accept_language(polish_ward, nurse, cycle):
    from patients.models import UserProfile

    UserProfile.objects.update_or_create(user=nurse, defaults={"language": "pl"})
    message = _refused_dose(_token_client(nurse), cycle)
    assert message.startswith("Fixed doses in µg/day are for patients ≥ 45 kg"), message
    assert "this cycle's weight is 20.00 kg" in message


def test_the_api_answers_in_polish_when_the_client_asks_for_it(polish_ward, nurse, cycle):
    message = _refused_dose(_token_client(nurse, HTTP_ACCEPT_LANGUAGE="pl"), cycle)
    assert "masa ciała w tym cyklu to 20,00 kg" in message, message  # a message in Polish: the decimal comma


# --- the ASTCT rationales on the event history ------------------------------------------------------------------

def test_the_event_history_shows_the_astct_rationales_in_the_readers_language(language, nurse, cycle):
    from ae.models import CRSAssessment, ICANSAssessment
    from ae.services.assessments import crs_assessment_record, icans_assessment_record

    new = {"relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}
    at = datetime.datetime(2026, 1, 6, 9, tzinfo=datetime.UTC)
    crs = crs_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at, "temperature_c": Decimal("38.5"), "hypotension": True, **new}).adverse_event
    crs_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, episode=crs, data={
        "assessed_at": at + datetime.timedelta(hours=6), "temperature_c": Decimal("37.0"),
        "fever_masking_therapies": ["antipyretic"], "oxygen_device": "facemask"})
    icans = icans_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at, "tool": "CAPD", "score": 10, "consciousness": "awakens_to_voice", **new}).adverse_event
    client = logged_in(nurse)

    def assessments_table(event) -> str:  # the episode's own computed rationale and revisions stay as stored
        return page_of(client.get(f"/events/{event.pk}/history/")).split('class="grid assessments"', 1)[1].split(
            "</table>", 1)[0]

    page = assessments_table(crs)
    expect(page, language, "Stopień 2: gorączka 38,5 °C; hipotensja niewymagająca wazopresorów.",
           "Grade 2: fever 38.5 °C; hypotension not requiring vasopressors.")
    expect(page, language, "gorączka niewymagana: wcześniejszy CRS leczony (lek przeciwgorączkowy (np. paracetamol, "
                           "ibuprofen)), co może maskować gorączkę; hipoksja wymagająca tlenoterapii (maska twarzowa)",
           "fever not required: earlier CRS treated with antipyretic (e.g. paracetamol, ibuprofen), which can mask "
           "fever; hypoxia requiring facemask oxygen")
    page = assessments_table(icans)
    expect(page, language, "Stopień 3 (narzędzie CAPD): najcięższa domena: wynik CAPD 10 (≥ 9).",
           "Grade 3 (CAPD tool): worst domain CAPD score 10 (>= 9).")
    # a rationale the stored criteria do not reproduce (an older rule's wording) is shown as stored
    ICANSAssessment.objects.filter(adverse_event=icans).update(rationale="Grade 3: an older wording.")
    assert "Grade 3: an older wording." in assessments_table(icans)
    assert CRSAssessment.objects.filter(adverse_event=crs).count() == 2


def test_the_ae_forms_lab_discrepancy_refusal(language, nurse, cycle):
    from ae.services.labs import lab_result_record

    for day, value, baseline in ((5, 40, True), (8, 60, False)):
        lab_result_record(patient=cycle.patient, acting_user=nurse, data={
            "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150, "baseline": baseline,
            "cycle": cycle if baseline else None, "collected_at": datetime.datetime(2026, 1, day, 7,
                                                                                   tzinfo=datetime.UTC)})
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/events/new/", {
        "cycle": cycle.pk, "term": "Platelet count decreased", "grade": 3, "onset_date": "2026-01-08",
        "resolution_date": "", "relatedness": "probable", "action_taken": "DOSE NOT CHANGED",
        "outcome": "NOT RECOVERED/NOT RESOLVED", "grading_scale": "ctcae_v5_0", "verbatim_term": ""}))
    expect(page, language, "Twój stopień 3 różni się od stopnia obliczonego 2 (", "Your grade 3 differs from the "
                                                                                  "computed grade 2 (")


def test_the_lab_discrepancy_refusal_and_the_saved_message_quote_the_rationale_in_the_readers_language(
        language, nurse, cycle):
    client = logged_in(nurse)
    url = f"/patients/{cycle.patient_id}/labs/new/"
    data = {"analyte": "platelets", "value": "18", "unit": "10^9/L", "lln": "150", "uln": "",
            "collected_at": "2026-01-08T07:00", "cycle": ""}
    page = page_of(client.post(url, data | {"entered_grade": "3"}))
    expect(page, language, "Twój stopień 3 różni się od stopnia obliczonego według CTCAE v5.0 4 (Stopień 4: 18 ×10⁹/L "
                           "< 25 ×10⁹/L): podaj powód.",
           "Your grade 3 differs from the computed CTCAE v5.0 grade 4 (Grade 4: 18 ×10⁹/L < 25 ×10⁹/L): give the "
           "reason.")
    page = page_of(client.post(url, data, follow=True))
    expect(page, language, "(Stopień 4: 18 ×10⁹/L < 25 ×10⁹/L).", "(Grade 4: 18 ×10⁹/L < 25 ×10⁹/L).")


def test_the_lab_plausibility_and_unit_refusals(language, nurse, cycle):
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/labs/new/", {
        "analyte": "hemoglobin", "value": "95", "unit": "g/dL", "lln": "", "uln": "",
        "collected_at": "2026-01-08T07:00", "cycle": ""}))
    expect(page, language, "Hb 95 g/dL: wynik niewiarygodny (zakres parametru Hb: 3–25 g/dL). Czy chodziło o 95 g/L?",
           "Hb 95 g/dL is not plausible (Hb is 3–25 g/dL). Did you mean 95 g/L?")


def test_the_lab_units_messages_are_english_by_default_and_translated_through_translate():
    from ae import lab_units

    assert lab_units.unit_error("hemoglobin", "10^9/L") == "10^9/L is not a unit of Hb: use g/L, g/dL or mmol/L."
    with translation.override("pl"):
        assert lab_units.unit_error("hemoglobin", "10^9/L", translation.gettext) == (
            "10^9/L nie jest jednostką parametru Hb: użyj g/L, g/dL lub mmol/L.")


def test_a_chemistry_values_rationale_in_the_saved_message(language, nurse, cycle):
    page = page_of(logged_in(nurse).post(f"/patients/{cycle.patient_id}/labs/new/", {
        "analyte": "sodium", "value": "128", "unit": "mmol/L", "lln": "135", "uln": "145",
        "collected_at": "2026-01-08T07:00", "cycle": ""}, follow=True))
    expect(page, language, "(Stopień 2: 128 mmol/L (125-129 mmol/L), bezobjawowa (CTCAE v5.0 Hyponatremia)).",
           "(Grade 2: 128 mmol/L (125-129 mmol/L) and asymptomatic (CTCAE v5.0 Hyponatremia)).")
