"""A patient's sex and disease status, and a reference range's sex, in the reader's language (issue 15, item 4).

The labels are pvtrack's display wording of a code (as the outcome, action and relatedness labels are): a Polish
ward's patient list, patient page, lab form and reference-range page show them in Polish. What is stored, signed or
exported stays English or carries the code: the SAE case snapshot and the CIOMS/E2B reports built from it, the CDISC
DM dataset, the API, and a lab value's stored rationale naming the site range's sex."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.utils import translation
from pypdf import PdfReader
from rest_framework.test import APIClient

from ae.models import CaseVersion, ReferenceRange
from patients.models import Membership, Patient
from patients.treatment import DosingStep
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient, make_user
from tests.patients.conftest import expect, logged_in, page_of

pytestmark = pytest.mark.django_db

FEMALE_ONLY_HB = {"analyte": "hemoglobin", "unit": "g/L", "sex": "F", "age_from_months": 0, "age_to_months": 1440,
                  "lln": Decimal("115"), "uln": Decimal("155"), "source": "Lab handbook 2026, p. 4",
                  "valid_from": datetime.date(2025, 12, 1)}




def test_the_patient_list_and_page_show_sex_and_disease_status_in_the_wards_language(language, ward, nurse):
    patient = make_patient(ward, disease_status=Patient.DiseaseStatus.PRIMARY_REFRACTORY)
    make_patient(ward, "KRK-002", sex="M", disease_status=Patient.DiseaseStatus.MRD_POSITIVE_CR)
    client = logged_in(nurse)
    listing = page_of(client.get(f"/sites/{ward.slug}/patients/"))
    expect(listing, language, "Oporność pierwotna", "Primary refractory")
    expect(listing, language, "Całkowita remisja z dodatnią MRD", "MRD-positive in complete remission")
    page = page_of(client.get(f"/patients/{patient.pk}/"))
    expect(page, language, "Żeńska, ur. ", "Female, born ")
    expect(page, language, "Oporność pierwotna", "Primary refractory")


def test_every_label_of_sex_and_disease_status_is_translated():
    """Each choice has its own Polish (a new one must be added to the catalogue); the unknown sex agrees with
    "płeć" (the context "sex" keeps it apart from the outcome's "Nieznane")."""
    labels = [*Patient.Sex.choices, *Patient.DiseaseStatus.choices, *ReferenceRange.Sex.choices]
    with translation.override("en-gb"):
        english = [str(label) for _, label in labels]
    with translation.override("pl"):
        polish = [str(label) for _, label in labels]
        assert str(Patient.Sex.UNKNOWN.label) == "Nieznana"
    assert [e for e, p in zip(english, polish, strict=True) if e == p] == []


def test_the_lab_form_and_reference_range_page_show_the_sex_in_the_wards_language(language, ward, nurse, patient):
    ReferenceRange.objects.create(site=ward, created_by=make_user("admin", ward, Membership.Role.ADMINISTRATOR),
                                  **FEMALE_ONLY_HB)
    ReferenceRange.objects.create(site=ward, created_by=make_user("admin2", ward, Membership.Role.ADMINISTRATOR),
                                  **FEMALE_ONLY_HB | {"analyte": "platelets", "unit": "10^9/L", "sex": "",
                                                      "lln": Decimal("150"), "uln": Decimal("450")})
    client = logged_in(nurse)
    lab = page_of(client.get(f"/patients/{patient.pk}/labs/new/"))
    expect(lab, language, "płeć: Żeńska", "sex Female")
    # the site range's sentence the script shows (data-site-ranges), built for the reader
    expect(lab, language, "Zakres ośrodka 115–155 g/L (żeńska, 0–1440 mies.; Lab handbook 2026, p. 4; obowiązuje "
                          "od 01 Gru 2025). Pozostaw LLN/ULN puste",
           "Site range 115–155 g/L (female, 0–1440 months; Lab handbook 2026, p. 4; valid from 01 Dec 2025). "
           "Leave LLN/ULN empty")
    ranges = page_of(client.get(f"/sites/{ward.slug}/reference-ranges/"))
    expect(ranges, language, "<td>Żeńska</td>", "<td>Female</td>")
    expect(ranges, language, "<td>Obie</td>", "<td>Both</td>")


def test_a_stored_lab_rationale_names_the_ranges_sex_in_english_and_the_reader_sees_it_translated(ward, nurse,
                                                                                                   patient):
    """Recorded by a Polish user: the stored rationale says "female" (it is the record), the lab tables and the
    "Saved: …" message say "żeńska"."""
    from ae.rationale_text import lab_rationale_for_reader
    from ae.services.labs import lab_result_record

    ReferenceRange.objects.create(site=ward, created_by=make_user("admin", ward, Membership.Role.ADMINISTRATOR),
                                  **FEMALE_ONLY_HB)
    with translation.override("pl"):
        result = lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "hemoglobin", "value": 70, "unit": "g/L",
            "collected_at": datetime.datetime(2026, 1, 8, 7, tzinfo=datetime.UTC)})
        saved_message = result.rationale_for_reader
    stored = type(result).objects.get(pk=result.pk).rationale
    assert stored.endswith(" LLN/ULN from the site reference range (Lab handbook 2026, p. 4; valid from 01 Dec 2025, "
                           "female, 0-1440 months)."), stored
    polish_end = ("LLN/ULN z zakresu referencyjnego ośrodka (Lab handbook 2026, p. 4; obowiązuje od 01 Gru 2025, "
                  "żeńska, 0–1440 mies.).")
    assert saved_message.endswith(polish_end), saved_message
    with translation.override("pl"):
        assert lab_rationale_for_reader(result, [result]).endswith(polish_end)
    with translation.override("en-gb"):
        assert lab_rationale_for_reader(result, [result]) == stored


@pytest.fixture
def signed_case(polish_ward, nurse, officer):
    """An SAE case of a first-relapse girl whose cycle has no disease status of its own, assessed and signed by a
    safety officer of a Polish ward through the case page (the snapshot is built while Polish is active)."""
    from ae.services import sae

    patient = make_patient(polish_ward)
    cycle = make_cycle(patient, marrow_blasts_pct=None)
    assert cycle.disease_status == ""  # the snapshot takes the patient's status
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    case = sae.case_open_for_event(event=event, acting_user=nurse)
    client = logged_in(officer)
    assert client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                              "causality_investigator": "probable", "causality_sponsor": "",
                                              "expectedness": "unexpected"}).status_code == 302
    client.post(f"/cases/{case.pk}/", {"action": "draft_narrative"})
    assert client.post(f"/cases/{case.pk}/", {"action": "submit", "password": PASSWORD}).status_code == 302
    return case, client


def test_the_signed_snapshot_cioms_and_e2b_keep_the_english_disease_status(signed_case):
    case, polish_client = signed_case
    with translation.override("pl"):
        assert str(Patient.DiseaseStatus.FIRST_RELAPSE.label) == "Pierwszy nawrót"  # what the pages show
    snapshot = CaseVersion.objects.get(case=case, number=1).snapshot
    assert snapshot["patient"]["disease_status"] == "First relapse"
    assert "Pierwszy nawrót" not in str(snapshot)
    e2b = polish_client.get(f"/cases/{case.pk}/versions/1/e2b.xml")
    assert e2b.status_code == 200
    xml = e2b.content.decode()
    assert "Disease status: First relapse" in xml and "Pierwszy nawrót" not in xml
    cioms = polish_client.get(f"/cases/{case.pk}/versions/1/cioms.pdf")
    assert cioms.status_code == 200
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(cioms.content)).pages)
    assert "Disease status: First relapse" in text and "nawrót" not in text


def test_the_cdisc_dm_dataset_and_the_api_carry_codes_and_english(polish_ward, nurse, patient):
    """SDTM DM's SEX is the CDISC code whatever the language; the API answers in English without Accept-Language
    (a token client has no session language), in Polish when it asks for it."""
    from reports.cdisc.sdtm import dm_dataset

    with translation.override("pl"):
        [dm] = dm_dataset(polish_ward).rows
    assert dm["SEX"] == "F"
    api = APIClient()
    api.force_authenticate(nurse)
    listed = api.get("/api/v1/patients/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["sex"], r["disease_status"]) for r in rows] == [("F", "relapse_1")]
    options = api.options("/api/v1/patients/").json()
    sexes = {c["value"]: c["display_name"] for c in options["actions"]["POST"]["sex"]["choices"]}
    assert sexes == {"F": "Female", "M": "Male", "U": "Unknown"}
    polish = api.options("/api/v1/patients/", HTTP_ACCEPT_LANGUAGE="pl").json()
    statuses = {c["value"]: c["display_name"] for c in polish["actions"]["POST"]["disease_status"]["choices"]}
    assert statuses["relapse_1"] == "Pierwszy nawrót"
