"""The REST API for adverse events, patients, cycles and the CTCAE catalogue: rules, versions, access, queries."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from ae.models import AdverseEvent, AdverseEventRevision, CTCAETerm
from tests.conftest import api_errors, make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
EVENTS = "/api/v1/adverse-events/"


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def event_json(of_cycle, **overrides) -> dict:
    """A valid grade 2 Tremor on cycle day 3, as an API client sends it (term by name)."""
    cycle = of_cycle
    data = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + 2 * DAY).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    return data | overrides


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    return api_as(nurse)


@pytest.fixture
def event(cycle, nurse) -> AdverseEvent:
    return make_event(cycle, "Cytokine release syndrome", grade=2, user=nurse)


def detail(event) -> str:
    return f"{EVENTS}{event.pk}/"


# --- creating ---------------------------------------------------------------------------------------------


def test_it_creates_an_event_from_json_with_the_term_by_name(nurse_api, nurse, cycle):
    response = nurse_api.post(EVENTS, event_json(cycle), format="json")
    assert response.status_code == 201, response.json()
    event = AdverseEvent.objects.get()
    assert (event.term.term, event.grade, event.cycle, event.created_by) == ("Tremor", 2, cycle, nurse)
    body = response.json()
    assert body["id"] == event.pk
    assert body["term"] == "Tremor"
    assert body["meddra_code"] == 10044565  # MedDRA LLT code of Tremor in CTCAE v5.0
    assert body["onset_cycle_day"] == 3  # onset two days after the cycle start = day 3
    assert body["version"] == 1
    assert "reason" not in body


def test_it_refuses_a_grade_the_term_does_not_have(nurse_api, cycle):
    response = nurse_api.post(EVENTS, event_json(cycle, grade=4), format="json")
    assert response.status_code == 400
    assert "Tremor has no grade 4" in " ".join(api_errors(response)["grade"])
    assert AdverseEvent.objects.count() == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"term": "Tremr"}, "term"),
    ({"onset_date": "2026-01-04"}, "onset_date"),  # the cycle starts on 5 Jan 2026
    ({"resolution_date": "2026-01-06"}, "resolution_date"),  # onset is 7 Jan 2026
    ({"serious": True}, "serious"),
    ({"grade": 5, "term": "Cytokine release syndrome"}, "outcome"),  # grade 5 needs a fatal outcome
])
def test_it_refuses_bad_input_keyed_by_field(nurse_api, cycle, overrides, field):
    response = nurse_api.post(EVENTS, event_json(cycle, **overrides), format="json")
    assert response.status_code == 400
    assert field in api_errors(response)
    assert AdverseEvent.objects.count() == 0


def test_it_refuses_a_cycle_of_another_patient(nurse_api, ward, cycle):
    other_cycle = make_cycle(make_patient(ward, "KRK-002"))
    response = nurse_api.post(EVENTS, event_json(cycle, cycle=other_cycle.pk), format="json")
    assert response.status_code == 400
    assert "cycle" in api_errors(response)
    assert AdverseEvent.objects.count() == 0


# --- editing: reason and version ---------------------------------------------------------------------------


def test_a_change_without_a_reason_is_refused(nurse_api, event):
    response = nurse_api.patch(detail(event), {"grade": 3, "version": 1}, format="json")
    assert response.status_code == 400
    assert "reason" in api_errors(response)
    event.refresh_from_db()
    assert (event.grade, event.version) == (2, 1)
    assert not AdverseEventRevision.objects.exists()


def test_a_change_without_the_version_it_was_based_on_is_refused(nurse_api, event):
    response = nurse_api.patch(detail(event), {"grade": 3, "reason": "Reassessed"}, format="json")
    assert response.status_code == 400
    assert "version" in api_errors(response)
    event.refresh_from_db()
    assert (event.grade, event.version) == (2, 1)
    assert not AdverseEventRevision.objects.exists()


def test_a_stale_change_gets_409_with_the_current_record(nurse_api, event):
    first = nurse_api.patch(detail(event), {"grade": 3, "version": 1, "reason": "Worse"}, format="json")
    assert first.status_code == 200
    response = nurse_api.patch(detail(event), {"grade": 1, "version": 1, "reason": "Better"}, format="json")
    assert response.status_code == 409
    current = response.json()["current"]
    assert (current["id"], current["grade"], current["version"]) == (event.pk, 3, 2)
    event.refresh_from_db()
    assert (event.grade, event.version) == (3, 2)
    assert AdverseEventRevision.objects.count() == 1


def test_a_change_with_reason_and_version_is_saved_with_a_revision(nurse_api, nurse, event):
    response = nurse_api.patch(detail(event), {"grade": 3, "version": 1, "reason": "Reassessed"}, format="json")
    assert response.status_code == 200
    assert (response.json()["grade"], response.json()["version"]) == (3, 2)
    event.refresh_from_db()
    assert (event.grade, event.version) == (3, 2)
    revision = AdverseEventRevision.objects.get()
    assert (revision.adverse_event, revision.version, revision.changed_by) == (event, 2, nurse)
    assert (revision.reason, revision.changes) == ("Reassessed", {"grade": [2, 3]})


def test_a_change_that_breaks_a_rule_is_refused(nurse_api, event):
    response = nurse_api.patch(detail(event), {"term": "Tremor", "grade": 4, "version": 1, "reason": "x"},
                               format="json")
    assert response.status_code == 400
    assert "grade" in api_errors(response)
    event.refresh_from_db()
    assert (event.term.term, event.grade, event.version) == ("Cytokine release syndrome", 2, 1)


def test_an_event_cannot_move_to_another_patient(nurse_api, ward, event):
    other = make_patient(ward, "KRK-002")
    response = nurse_api.patch(detail(event), {"patient": other.pk, "version": 1, "reason": "x"}, format="json")
    assert response.status_code == 400
    event.refresh_from_db()
    assert event.patient_id != other.pk


# --- who sees and does what ---------------------------------------------------------------------------------


def test_the_outsider_sees_nothing_of_ward_a(outsider, patient, cycle, event):
    api = api_as(outsider)
    for url in (EVENTS, "/api/v1/patients/", "/api/v1/cycles/"):
        response = api.get(url)
        assert response.status_code == 200
        assert response.json().get("count", 0) == 0  # the AE list pages by cursor: no count
        assert response.json()["results"] == []
    assert api.get(detail(event)).status_code == 404
    assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 404
    assert api.get(f"/api/v1/cycles/{cycle.pk}/").status_code == 404
    assert api.patch(detail(event), {"grade": 3, "version": 1, "reason": "x"}, format="json").status_code == 404
    event.refresh_from_db()
    assert (event.grade, event.version) == (2, 1)


def test_the_outsider_cannot_create_an_event_on_ward_a(outsider, cycle):
    response = api_as(outsider).post(EVENTS, event_json(cycle), format="json")
    assert response.status_code == 400
    assert "patient" in api_errors(response)
    assert AdverseEvent.objects.count() == 0


def test_the_nurse_sees_her_wards_records(nurse_api, patient, cycle, event):
    assert [p["id"] for p in nurse_api.get("/api/v1/patients/").json()["results"]] == [patient.pk]
    assert [c["id"] for c in nurse_api.get("/api/v1/cycles/").json()["results"]] == [cycle.pk]
    assert [e["id"] for e in nurse_api.get(EVENTS).json()["results"]] == [event.pk]


def test_the_safety_officer_can_read_but_not_write(officer, cycle, event):
    api = api_as(officer)
    assert [e["id"] for e in api.get(EVENTS).json()["results"]] == [event.pk]
    assert api.get(detail(event)).json()["grade"] == 2
    assert api.patch(detail(event), {"grade": 3, "version": 1, "reason": "x"}, format="json").status_code == 403
    assert api.post(EVENTS, event_json(cycle), format="json").status_code == 403
    assert AdverseEvent.objects.count() == 1
    event.refresh_from_db()
    assert (event.grade, event.version) == (2, 1)


def test_an_anonymous_client_is_refused(cycle, event):
    api = APIClient()
    assert api.get(EVENTS).status_code in (401, 403)
    assert api.get("/api/v1/patients/").status_code in (401, 403)
    assert api.post(EVENTS, event_json(cycle), format="json").status_code in (401, 403)
    assert AdverseEvent.objects.count() == 1


def test_a_token_authenticates_the_nurse(nurse, event):
    _, token = AuthToken.objects.create(user=nurse)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(EVENTS)
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [event.pk]


def test_a_wrong_token_is_refused(nurse, event):
    AuthToken.objects.create(user=nurse)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert api.get(EVENTS).status_code in (401, 403)


# --- the CTCAE catalogue ------------------------------------------------------------------------------------


def test_the_term_search_finds_tremor_with_its_grades(nurse_api):
    response = nurse_api.get("/api/v1/ctcae-terms/", {"search": "tremor"})
    assert response.status_code == 200
    results = response.json()["results"]
    tremor = next(t for t in results if t["term"] == "Tremor")
    assert [g["grade"] for g in tremor["grades"]] == [1, 2, 3]
    assert tremor["soc"] == "Nervous system disorders"
    assert all("tremor" in t["term"].lower() or "tremor" in t["soc"].lower() for t in results)


TERMS = "/api/v1/ctcae-terms/"
TERM_FIELDS = {"id", "meddra_code", "term", "soc", "definition", "navigational_note", "grades"}


def term_search(api, text: str) -> list[dict]:
    response = api.get(TERMS, {"search": text})
    assert response.status_code == 200
    return response.json()["results"]


@pytest.mark.parametrize(("typed", "expected", "synonym"), [
    ("CRS", "Cytokine release syndrome", "CRS"),
    ("crs", "Cytokine release syndrome", "CRS"),
    ("ICANS", "Encephalopathy", "ICANS"),
    ("thrombocytopenia", "Platelet count decreased", "thrombocytopenia"),
    ("plt", "Platelet count decreased", "plt"),
    ("PLT", "Platelet count decreased", "plt"),
    ("ANC", "Neutrophil count decreased", "ANC"),
    ("anaemia", "Anemia", "anaemia"),
    ("Hb", "Anemia", "Hb"),
    ("TLS", "Tumor lysis syndrome", "TLS"),
    ("WBC", "White blood cell decreased", "WBC"),
    ("ALT", "Alanine aminotransferase increased", "ALT"),
    ("hypokalaemia", "Hypokalemia", "hypokalaemia"),
    ("pyrexia", "Fever", "pyrexia"),
    ("convulsion", "Seizure", "convulsion"),
])
def test_a_ward_word_finds_its_term_first_and_says_which_synonym_matched(nurse_api, typed, expected, synonym):
    first = term_search(nurse_api, typed)[0]
    assert (first["term"], first["matched_synonym"]) == (expected, synonym)
    assert TERM_FIELDS <= set(first)  # the former fields are all still there
    assert first["grades"]


def test_neutropenia_finds_neutrophil_count_decreased_and_febrile_neutropenia_first(nurse_api):
    results = term_search(nurse_api, "neutropenia")
    assert [(r["term"], r["matched_synonym"]) for r in results[:2]] == [
        ("Febrile neutropenia", "neutropenia"), ("Neutrophil count decreased", "neutropenia")]
    assert "Febrile neutropenia" in results[0]["matched_synonym_note"]


@pytest.mark.parametrize("typed", ["neurotox", "neurotoxicity", "NEUROTOX"])
def test_neurotoxicity_finds_each_of_its_manifestations_first(nurse_api, typed):
    results = term_search(nurse_api, typed)
    assert {r["term"] for r in results[:6]} == {"Encephalopathy", "Seizure", "Tremor", "Dysphasia", "Confusion",
                                               "Depressed level of consciousness"}
    assert all(r["matched_synonym"].casefold().startswith("neurotox") for r in results[:6])


def test_the_icans_result_says_how_pvtrack_records_and_grades_icans(nurse_api):
    first = term_search(nurse_api, "icans")[0]
    assert first["term"] == "Encephalopathy"
    assert 'verbatim term "ICANS"' in first["matched_synonym_note"]
    assert "ICANS bedside assessment" in first["matched_synonym_note"]


@pytest.mark.parametrize(("typed", "expected", "synonym"), [
    ("thrombocyto", "Platelet count decreased", "thrombocytopenia"),  # prefix of a synonym
    ("cytopenia", "Platelet count decreased", "thrombocytopenia"),    # inside a synonym
    ("10035528", "Platelet count decreased", None),                  # MedDRA LLT code
])
def test_a_synonym_prefix_or_substring_or_a_meddra_code_finds_the_term(nurse_api, typed, expected, synonym):
    results = term_search(nurse_api, typed)
    match = next(r for r in results if r["term"] == expected)
    assert match["matched_synonym"] == synonym
    if typed.isdigit():
        assert results == [match]


def test_a_match_on_the_term_name_shows_no_synonym(nurse_api):
    first = term_search(nurse_api, "Tremor")[0]
    assert (first["term"], first["matched_synonym"], first["matched_synonym_note"]) == ("Tremor", None, None)


def test_results_are_ranked_exact_then_prefix_then_substring_then_soc(nurse_api):
    names = [r["term"] for r in term_search(nurse_api, "cardiac")]
    exact_or_prefix = names.index("Cardiac arrest")
    substring = names.index("Chest pain - cardiac")
    soc_only = names.index("Atrial fibrillation")  # SOC "Cardiac disorders"
    assert exact_or_prefix < substring < soc_only
    names = [r["term"] for r in term_search(nurse_api, "sepsis")]
    assert names[0] == "Sepsis"  # the exact term before the synonym "neutropenic sepsis" of Febrile neutropenia
    assert "Febrile neutropenia" in names
    names = [r["term"] for r in term_search(nurse_api, "pain")]
    assert names[0] == "Pain"
    assert names.index("Pain in extremity") < names.index("Abdominal pain")
    # several words still match word by word (as the former search did), after the whole-phrase matches
    assert "Neutrophil count decreased" in [r["term"] for r in term_search(nurse_api, "count neutrophil")]


def test_a_term_read_without_a_search_has_no_matched_synonym(nurse_api):
    tremor = CTCAETerm.objects.get(term="Tremor")
    body = nurse_api.get(f"{TERMS}{tremor.pk}/").json()
    assert (body["term"], body["matched_synonym"], body["matched_synonym_note"]) == ("Tremor", None, None)


# --- no N+1 ---------------------------------------------------------------------------------------------------


def add_events(ward, nurse, n: int, first_study_no: int) -> None:
    """``n`` events, one per new patient and cycle, so every row has its own patient, cycle and term."""
    terms = ["Tremor", "Cytokine release syndrome", "Febrile neutropenia", "Neutrophil count decreased", "Hypoxia"]
    for i in range(n):
        cycle = make_cycle(make_patient(ward, f"KRK-{first_study_no + i:03d}"))
        make_event(cycle, terms[i % len(terms)], grade=3, user=nurse)


@pytest.mark.parametrize(("url", "most"), [(EVENTS, 3), ("/api/v1/patients/", 3),
                                          ("/api/v1/cycles/", 6)])  # + dosing steps, interruptions, stays
def test_list_queries_do_not_grow_with_the_rows(nurse_api, ward, nurse, url, most, django_assert_max_num_queries):
    """A page costs a COUNT and one SELECT (related rows joined; a cycle's nested treatment rows prefetched in one
    query each), whether it lists 2 or 10 records; the AE list (cursor pages) no COUNT."""
    add_events(ward, nurse, 2, first_study_no=1)
    with CaptureQueriesContext(connection) as with_2:
        assert len(nurse_api.get(url).json()["results"]) == 2
    add_events(ward, nurse, 8, first_study_no=3)
    with django_assert_max_num_queries(len(with_2)), CaptureQueriesContext(connection) as with_10:
        assert len(nurse_api.get(url).json()["results"]) == 10
    assert len(with_10) == len(with_2) <= most


def test_term_search_queries_do_not_grow_with_the_matches(nurse_api, django_assert_max_num_queries):
    """Grades are prefetched: one term or dozens, a page costs COUNT + terms + grades."""
    with django_assert_max_num_queries(3):
        assert nurse_api.get("/api/v1/ctcae-terms/", {"search": "tremor"}).json()["count"] >= 1
    with django_assert_max_num_queries(3):
        assert nurse_api.get("/api/v1/ctcae-terms/", {"search": "infection"}).json()["count"] > 10
