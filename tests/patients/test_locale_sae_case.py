"""The SAE case page in the reader's language (issue 15, item 4): its forms' labels, choices, help texts and error
summaries, the linked events' cycle and the RSI's date, and the submission statement a safety officer signs — which
is stored as shown, in the signer's language. What leaves the ward (the version's snapshot, CIOMS I, E2B(R3),
FHIR) and the API without Accept-Language stay English."""

from __future__ import annotations

import html
import io
import json
from decimal import Decimal

import pytest
from django.utils import translation
from pypdf import PdfReader
from rest_framework.test import APIClient

from ae.models import CaseVersion
from ae.services import sae
from patients.treatment import DosingStep
from tests.conftest import PASSWORD, make_event
from tests.patients.conftest import expect, logged_in, page_of

pytestmark = pytest.mark.django_db

ENGLISH_STATEMENT = ("Submitted: I have reviewed this serious adverse event case and its narrative, and I submit "
                     "this version as the site's report.")
POLISH_STATEMENT = ("Wysłano: przejrzałem(-am) to zgłoszenie ciężkiego zdarzenia niepożądanego i jego opis przypadku "
                    "oraz wysyłam tę wersję jako raport ośrodka.")

#: (Polish, English) pairs the case page shows to a safety officer of a draft case.
CASE_PAGE = [
    ("Podjęte działanie", "Action taken"),
    ("Odstawienie leku (dechallenge)", "Dechallenge"),
    ("Ponowne podanie (rechallenge)", "Rechallenge"),
    ("Czy reakcja ustąpiła po przerwaniu lub zakończeniu wlewu?",
     "Did the reaction abate when the infusion was interrupted or stopped?"),
    ("Czy reakcja wystąpiła ponownie po wznowieniu wlewu?", "Did it recur when the infusion was restarted?"),
    ('<option value="yes">Tak</option>', '<option value="yes">Yes</option>'),
    ('<option value="no">Nie</option>', '<option value="no">No</option>'),
    ('<option value="unknown" selected>Nieznane</option>', '<option value="unknown" selected>Unknown</option>'),
    ('<option value="not_applicable">Nie dotyczy</option>', '<option value="not_applicable">Not applicable</option>'),
    ('for="id_narrative">Opis przypadku', 'for="id_narrative">Narrative'),
    ("Uwagi zgłaszającego", "Reporter comments"),
    ("Związek przyczynowy wg badacza", "Investigator's causality"),
    ("Związek przyczynowy wg sponsora", "Sponsor's causality"),
    ("Oczekiwalność (ustalona)", "Expectedness (decided)"),
    ('for="id_awareness_at">Wiadomość od', 'for="id_awareness_at">Aware since'),
    ('for="id_reason">Powód', 'for="id_reason">Reason'),
    ("Cytokine release syndrome, stopień 4", "Cytokine release syndrome grade 4"),
    ("(cykl 1)", "(cycle 1)"),
    ("(obowiązuje od 03 Gru 2014)", "(in force from 03 Dec 2014)"),
    (POLISH_STATEMENT, ENGLISH_STATEMENT),
]


@pytest.fixture
def case(cycle, nurse):
    """A draft case of a grade 4 CRS (life-threatening) with the drug's exposure recorded."""
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    return sae.case_open_for_event(event=event, acting_user=nurse)


def _signed(case, client):
    """Assess, draft the narrative and sign through the case page as the client's user; the signed version."""
    assert client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                              "causality_investigator": "probable", "causality_sponsor": "",
                                              "expectedness": "unexpected"}).status_code == 302
    assert client.post(f"/cases/{case.pk}/", {"action": "draft_narrative"}).status_code == 302
    assert client.post(f"/cases/{case.pk}/", {"action": "submit", "password": PASSWORD}).status_code == 302
    return CaseVersion.objects.get(case=case, number=1)


def test_the_case_page_shows_labels_choices_help_cycle_rsi_date_and_statement_in_the_wards_language(
        language, case, officer):
    page = page_of(logged_in(officer).get(f"/cases/{case.pk}/"))
    for polish, english in CASE_PAGE:
        expect(page, language, polish, english)


def page_of_error(response) -> str:
    """The page of a refused form (400), with its entities read back."""
    assert response.status_code == 400
    return html.unescape(response.content.decode())


def test_the_case_forms_error_summaries_name_the_fields_in_the_wards_language(language, case, officer):
    client = logged_in(officer)
    draft = page_of_error(client.post(f"/cases/{case.pk}/", {"action": "draft", "revision": case.revision,
                                                             "action_taken": "unknown", "dechallenge": "",
                                                             "rechallenge": "maybe"}))
    expect(draft, language, "Odstawienie leku (dechallenge): To pole jest wymagane.",
           "Dechallenge: This field is required.")
    expect(draft, language, "Ponowne podanie (rechallenge): Wybierz poprawną wartość.",
           "Rechallenge: Select a valid choice.")
    assess = page_of_error(client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                                              "causality_investigator": "surely"}))
    expect(assess, language, "Związek przyczynowy wg badacza: Wybierz poprawną wartość.",
           "Investigator's causality: Select a valid choice.")
    awareness = page_of_error(client.post(f"/cases/{case.pk}/", {"action": "awareness", "awareness_at": "soon",
                                                                 "reason": ""}))
    expect(awareness, language, "Wiadomość od: Wpisz poprawną datę/godzinę.", "Aware since: Enter a valid date/time.")
    expect(awareness, language, "Powód: To pole jest wymagane.", "Reason: This field is required.")


def test_the_sign_forms_texts_are_translated():
    from ae.sae_views import SignForm

    with translation.override("pl"):
        form = SignForm()
        assert str(form.fields["password"].help_text) == "Twoje hasło: podpis elektroniczny tego kroku."
        assert str(form.fields["otp_code"].label) == "Kod z aplikacji uwierzytelniającej"


def test_a_polish_officer_signs_the_polish_statement_and_the_outputs_stay_english(polish_ward, case, officer):
    client = logged_in(officer)
    version = _signed(case, client)
    assert version.signature_meaning == POLISH_STATEMENT  # what the form showed is what was signed
    snapshot = json.dumps(version.snapshot, ensure_ascii=False)
    assert "in force from 03 Dec 2014" in version.snapshot["rsi_version"]
    for polish in ("Wysłano", "obowiązuje", "03 Gru", "cykl", "stopień", '"Tak"', "Nieznane", "Podjęte"):
        assert polish not in snapshot, polish
    xml = client.get(f"/cases/{case.pk}/versions/1/e2b.xml").content.decode()
    fhir = client.get(f"/cases/{case.pk}/versions/1/fhir.json").content.decode()
    pdf = client.get(f"/cases/{case.pk}/versions/1/cioms.pdf").content
    cioms = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    for output in (xml, fhir, cioms):
        assert "Wysłano" not in output and "przejrzałem" not in output and "obowiązuje" not in output
    assert "Cytokine release syndrome" in cioms
    page = page_of(client.get(f"/cases/{case.pk}/"))
    assert "1 (Zgłoszenie wstępne)" in page and "(Initial)" not in page


def test_an_english_officer_signs_the_english_statement(case, officer):
    version = _signed(case, logged_in(officer))
    assert version.signature_meaning == ENGLISH_STATEMENT == sae.SUBMISSION_MEANING
    assert "1 (Initial)" in page_of(logged_in(officer).get(f"/cases/{case.pk}/"))


def test_the_api_answers_english_without_accept_language_and_signs_in_english(polish_ward, case, officer):
    api = APIClient()
    api.force_authenticate(officer)
    fields = api.options("/api/v1/sae-cases/").json()["actions"]["POST"]
    assert fields["dechallenge"]["label"] == "Dechallenge"
    assert {c["value"]: c["display_name"] for c in fields["dechallenge"]["choices"]}["yes"] == "Yes"
    assert fields["dechallenge"]["help_text"].startswith("Did the reaction abate")
    polish = api.options("/api/v1/sae-cases/", HTTP_ACCEPT_LANGUAGE="pl").json()["actions"]["POST"]
    assert {c["value"]: c["display_name"] for c in polish["dechallenge"]["choices"]}["yes"] == "Tak"
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", expectedness="unexpected")
    sae.case_update(case=case, acting_user=officer, narrative=sae.narrative_draft_text(case))
    response = api.post(f"/api/v1/sae-cases/{case.pk}/submit/", {"password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["versions"][0]["signature_meaning"] == ENGLISH_STATEMENT
