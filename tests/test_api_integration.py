"""Issue 16: an API integrators' tools can use — authentication answers, JSON-only bodies, filters that never
ignore a parameter, the bulk AE endpoint, and a schema that says what the server does."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
import yaml
from knox.models import AuthToken
from rest_framework.test import APIClient

from ae.models import AdverseEvent
from reports.models import BenchmarkRun
from tests.conftest import api_errors, make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
EVENTS = "/api/v1/adverse-events/"
BULK = "/api/v1/adverse-events/bulk/"
SCHEMA = yaml.safe_load((Path(__file__).resolve().parent.parent / "openapi.yaml").read_text(encoding="utf-8"))


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    return api_as(nurse)


def event_json(of_cycle, **overrides) -> dict:
    cycle = of_cycle
    data = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + 2 * DAY).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    return data | overrides


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# --- authentication: 401 with a challenge, both prefixes -------------------------------------------------


@pytest.mark.parametrize("header", [None, "Token not-a-token", "Bearer not-a-token", "Token"])
def test_missing_or_bad_credentials_answer_401_with_a_token_challenge(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert api_errors(response) == {}
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


@pytest.mark.parametrize("prefix", ["Token", "Bearer", "bearer"])
def test_a_token_is_accepted_with_knoxs_prefix_and_with_bearer(nurse, patient, prefix):
    _, token = AuthToken.objects.create(nurse)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{prefix} {token}")
    assert ids(client.get("/api/v1/patients/")) == [patient.pk]


def test_a_form_encoded_body_answers_415(nurse_api, cycle):
    response = nurse_api.post(EVENTS, event_json(cycle), format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not AdverseEvent.objects.exists()


# --- filters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/patients/", "/api/v1/cycles/", EVENTS, "/api/v1/ctcae-terms/",
                                 "/api/v1/benchmark-runs/", f"{EVENTS}?grade=2&"])
@pytest.mark.parametrize("param", ["updated_after", "onset_date__gt", "sort", "patient_id"])
def test_an_unknown_query_parameter_answers_400_naming_it(nurse_api, url, param):
    response = nurse_api.get(f"{url}{'&' if '?' in url else '?'}{param}=1".replace("&&", "&"))
    assert response.status_code == 400
    assert param in api_errors(response)


@pytest.mark.parametrize("query", ["grade=1&grade=4", "term=Tremor&term=Seizure", "limit=1&limit=2"])
def test_a_parameter_given_twice_answers_400_instead_of_using_one_value(nurse_api, query):
    response = nurse_api.get(f"{EVENTS}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in api_errors(response)


def test_known_parameters_still_work_with_paging(nurse_api, cycle, nurse):
    make_event(cycle, "Tremor", grade=1, user=nurse)
    response = nurse_api.get(f"{EVENTS}?limit=1&format=json")
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_patients_are_found_by_study_id(nurse_api, ward, patient):
    other = make_patient(ward, "KRK-002")
    assert ids(nurse_api.get("/api/v1/patients/?study_id=KRK-002")) == [other.pk]
    assert ids(nurse_api.get("/api/v1/patients/?study_id=KRK-999")) == []


@pytest.fixture
def events(cycle, nurse):
    """Three events of one cycle: a resolved grade 1 tremor, an open grade 3 CRS, a serious grade 4 seizure."""
    tremor = make_event(cycle, "Tremor", grade=1, user=nurse, onset_day=2, resolution_date=cycle.start_date + 3 * DAY)
    crs = make_event(cycle, "Cytokine release syndrome", grade=3, user=nurse, onset_day=3,
                     outcome="RECOVERING/RESOLVING")
    seizure = make_event(cycle, "Seizure", grade=4, user=nurse, onset_day=6, serious=True, sae_life_threatening=True,
                         outcome="RECOVERING/RESOLVING")
    return tremor, crs, seizure


@pytest.mark.parametrize("query, expected", [
    ("term=Tremor", ["tremor"]),
    ("term=cytokine%20release%20syndrome", ["crs"]),
    ("term=10052015", ["crs"]),  # MedDRA LLT code of Cytokine release syndrome
    ("term=CRS", ["crs"]),  # ward synonym
    ("category=crs", ["crs"]),
    ("category=neurotoxicity", ["tremor", "seizure"]),
    ("soc=nervous%20system%20disorders", ["tremor", "seizure"]),
    ("grade__gte=3", ["crs", "seizure"]),
    ("grade__gte=2&grade__lte=3", ["crs"]),
    ("serious=true", ["seizure"]),
    ("serious=false", ["tremor", "crs"]),
    ("open=true", ["crs", "seizure"]),
    ("open=false", ["tremor"]),
    ("ordering=-onset_date", ["seizure", "crs", "tremor"]),
    ("ordering=-grade&grade__lte=3", ["crs", "tremor"]),
    ("ordering=-grade,onset_date", ["seizure", "crs", "tremor"]),
    # repeated, as generated clients send an array: the first key still leads (the last alone would sort by onset)
    ("ordering=-grade&ordering=onset_date", ["seizure", "crs", "tremor"]),
])
def test_adverse_events_filter_by_term_category_grade_seriousness_and_open_episodes(nurse_api, events, query,
                                                                                    expected):
    by_name = dict(zip(["tremor", "crs", "seizure"], events, strict=True))
    assert ids(nurse_api.get(f"{EVENTS}?{query}")) == [by_name[name].pk for name in expected]


def test_onset_and_updated_date_ranges_select_events(nurse_api, events, cycle):
    tremor, crs, seizure = events
    start = cycle.start_date
    assert ids(nurse_api.get(f"{EVENTS}?onset_date__gte={start + 2 * DAY}&onset_date__lte={start + 4 * DAY}")) == [
        crs.pk]
    AdverseEvent.objects.filter(pk=tremor.pk).update(updated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    since = "2026-02-01T00:00:00Z"
    assert ids(nurse_api.get(f"{EVENTS}?updated_since={since}")) == [crs.pk, seizure.pk]
    assert ids(nurse_api.get(f"{EVENTS}?updated_before={since}")) == [tremor.pk]


@pytest.mark.parametrize("query, field", [
    ("term=Not%20a%20CTCAE%20term", "term"), ("category=nope", "category"), ("serious=yes", "serious"),
    ("grade__gte=high", "grade__gte"), ("onset_date__gte=yesterday", "onset_date__gte"),
    ("updated_since=2026-13-01", "updated_since"), ("ordering=password", "ordering"), ("open=1", "open"),
])
def test_bad_filter_values_answer_400_naming_the_parameter(nurse_api, events, query, field):
    response = nurse_api.get(f"{EVENTS}?{query}")
    assert response.status_code == 400
    assert field in api_errors(response)


def test_another_sites_patient_filter_answers_like_a_missing_one(nurse_api, other_ward):
    theirs = make_patient(other_ward, "WAW-001")
    a = nurse_api.get(f"{EVENTS}?patient={theirs.pk}")
    b = nurse_api.get(f"{EVENTS}?patient=999999")
    assert a.status_code == b.status_code == 400 and a.json() == b.json()


# --- bulk ---------------------------------------------------------------------------------------------------


def test_bulk_creates_per_item_and_reports_duplicates_and_field_errors(nurse_api, cycle, nurse):
    existing = make_event(cycle, "Cytokine release syndrome", grade=2, user=nurse, onset_day=2,
                          outcome="RECOVERING/RESOLVING")
    batch = [
        event_json(cycle),  # created
        event_json(cycle, term="Seizure", grade=2),  # created
        event_json(cycle, term="Cytokine release syndrome", onset_date=(cycle.start_date + DAY).isoformat()),
        event_json(cycle, term="Tremor", grade=4),  # Tremor has no grade 4
        event_json(cycle),  # the same as item 0: a duplicate of what item 0 created
        "not an object",
    ]
    response = nurse_api.post(BULK, batch, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"], body["failed"]) == (2, 2, 2)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == ["created", "created", "duplicate", "error", "duplicate", "error"]
    tremor = AdverseEvent.objects.get(term__term="Tremor")
    assert results[0]["id"] == tremor.pk and results[0]["errors"] == {}
    assert results[2]["duplicate_of"] == existing.pk and results[2]["code"] == "probable_duplicate"
    assert results[4]["duplicate_of"] == tremor.pk
    assert results[3]["code"] == "invalid" and "grade" in results[3]["errors"]
    assert "non_field_errors" in results[5]["errors"]
    assert AdverseEvent.objects.count() == 3


def test_a_bulk_batch_requests_one_benchmark_run_where_single_creates_request_one_each(
        nurse_api, cycle, ward, django_capture_on_commit_callbacks):
    for grade in (1, 2):  # one by one: each committed create queues (and, in-process, computes) its own run
        with django_capture_on_commit_callbacks(execute=True):
            term = "Tremor" if grade == 1 else "Seizure"
            assert nurse_api.post(EVENTS, event_json(cycle, term=term, grade=grade), format="json").status_code == 201
    assert BenchmarkRun.objects.filter(site=ward).count() == 2
    batch = [event_json(cycle, term=term, grade=2) for term in ("Headache", "Dizziness", "Somnolence", "Fatigue")]
    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_api.post(BULK, batch, format="json")
    assert response.json()["created"] == 4
    assert BenchmarkRun.objects.filter(site=ward).count() == 3  # the batch added one run, not four


def test_a_retried_bulk_batch_with_its_idempotency_key_creates_nothing_twice(nurse_api, cycle):
    batch = [event_json(cycle), event_json(cycle, term="Seizure")]
    key = str(uuid.uuid4())
    first = nurse_api.post(BULK, batch, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = nurse_api.post(BULK, batch, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.json()["created"] == 2
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert AdverseEvent.objects.count() == 2
    other = nurse_api.post(BULK, batch[:1], format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # without a key, a retry is answered item by item: every event is already recorded
    retry = nurse_api.post(BULK, batch, format="json")
    assert [r["status"] for r in retry.json()["results"]] == ["duplicate", "duplicate"]
    assert AdverseEvent.objects.count() == 2


@pytest.mark.parametrize("body", [{"patient": 1}, [], "events", [{}] * 1001])
def test_a_bulk_body_that_is_not_an_array_of_1_to_1000_answers_400(nurse_api, body):
    response = nurse_api.post(BULK, body, format="json")
    assert response.status_code == 400
    assert "JSON array" in response.json()["detail"]


def test_bulk_items_naming_another_wards_patient_fail_like_a_missing_patient(nurse_api, cycle, other_ward):
    theirs = make_cycle(make_patient(other_ward, "WAW-001"))
    response = nurse_api.post(BULK, [event_json(theirs), event_json(cycle, patient=999999, cycle=999999)],
                              format="json")
    first, second = response.json()["results"]
    assert first["status"] == second["status"] == "error"
    assert set(first["errors"]) == set(second["errors"]) == {"patient", "cycle"}
    assert not AdverseEvent.objects.exists()


def test_a_safety_officer_may_not_bulk_create(officer, cycle):
    response = api_as(officer).post(BULK, [event_json(cycle)], format="json")
    assert response.status_code == 403


# --- the schema says what the server does -----------------------------------------------------------------


def components() -> dict:
    return SCHEMA["components"]["schemas"]


#: The one operation whose body is a file: an upload is multipart only (never listed under several encodings).
UPLOADS = {("post", "/api/v1/sites/{site}/ae-imports/"): ["multipart/form-data"]}


def test_request_bodies_are_json_only_and_request_components_leave_out_read_only_fields():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                expected = UPLOADS.get((method, path), ["application/json"])
                assert list(operation["requestBody"]["content"]) == expected, (method, path)
    create = components()["AdverseEventRequest"]
    assert not {"id", "created_at", "updated_at", "meddra_code", "treatment_emergent"} & set(create["properties"])
    assert set(create["required"]) == {"patient", "cycle", "term", "grade", "onset_date", "relatedness",
                                       "action_taken", "outcome"}
    assert not {"id", "usubjid", "created_at"} & set(components()["PatientRequest"]["properties"])
    # an edit needs the version it was based on, even as a PATCH (the server answers 400 without it)
    assert components()["PatchedAdverseEventUpdateRequest"]["required"] == ["version"]


def test_response_components_require_what_the_server_always_returns():
    event = components()["AdverseEvent"]
    assert {"id", "version", "serious", "sae_death", "resolution_date", "treatment_emergent"} <= set(event["required"])
    assert event["properties"]["resolution_date"]["nullable"] is True
    assert "prior_hsct" in components()["Patient"]["required"]
    flag = components()["Flag"]
    assert flag["properties"]["reviewed_by"]["nullable"] is True and "reviewed_by" in flag["required"]
    assert set(components()["Problem"]["required"]) == {"type", "title", "status", "code", "detail"}
    run = components()["BenchmarkRun"]["properties"]
    assert run["results"]["allOf"][0]["$ref"] == "#/components/schemas/BenchmarkResults"
    assert "cells" in components()["BenchmarkResults"]["required"]


def test_every_operation_declares_its_errors_with_the_problem_shape_and_the_token_scheme():
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            errors = {status: response for status, response in operation["responses"].items() if status >= "400"}
            assert {"429", "500", "503"} <= set(errors), (method, path)
            if operation.get("security") != [{}] and path != "/api/v1/auth/login/":
                assert "401" in errors, (method, path)
            for response in errors.values():
                assert response["content"] == {"application/problem+json": {"schema": problem}}, (method, path)
    assert SCHEMA["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http", "scheme": "bearer", "description": SCHEMA["components"]["securitySchemes"]["tokenAuth"][
            "description"]}


def test_the_serious_filter_is_a_boolean_and_every_ae_filter_is_listed():
    parameters = {p["name"]: p for p in SCHEMA["paths"]["/api/v1/adverse-events/"]["get"]["parameters"]}
    assert parameters["serious"]["schema"] == {"type": "boolean"}
    assert {"patient", "cycle", "term", "category", "soc", "grade", "grade__gte", "grade__lte", "onset_date__gte",
            "onset_date__lte", "updated_since", "updated_before", "serious", "open", "ordering", "limit",
            "cursor"} == set(parameters)
    assert "study_id" in {p["name"] for p in SCHEMA["paths"]["/api/v1/patients/"]["get"]["parameters"]}
