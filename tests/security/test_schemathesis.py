"""API contract fuzzing: schemathesis generates requests for every operation of the app's own OpenAPI schema.

The schema is the committed ``openapi.yaml`` (the app serves it at ``/api/v1/schema/`` to logged-in users only;
``tests/test_openapi.py`` proves the file is what the code generates), so the fuzzed contract is the code's.
Requests go in-process to the WSGI application, authenticated as ward A's nurse with an expiring knox token.
Checks per response: no 5xx (``not_a_server_error``), and nothing of ward B — its study IDs, its site slug,
its patients, cycles or events (:func:`no_other_site_data`). Path ids are drawn from the generated value,
the nurse's own records and ward B's records, so cross-site ids are really requested.

Bounded for CI: at most ``MAX_EXAMPLES`` cases per operation, derandomized (the same cases every run).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from knox.models import AuthToken

from pvtrack.wsgi import application
from tests.conftest import make_cycle, make_event, make_patient, make_user

MAX_EXAMPLES = 25
FOREIGN_STUDY_IDS = ("BBB-901", "BBB-902")
OWN_STUDY_ID = "AAA-001"

schema = schemathesis.openapi.from_path(Path(__file__).resolve().parents[2] / "openapi.yaml")
schema.app = application

# Filled by the ``fuzz_data`` fixture before any case of an operation is generated.
KNOWN: dict[str, object] = {}
# Requests sent per operation and status codes seen (printed at the end of the module with ``-s``).
CALLS: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@schema.hook
def after_call(ctx, case, response):
    CALLS[ctx.operation.label] += 1
    STATUSES[response.status_code] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_run():
    yield
    if CALLS:
        print(f"\nschemathesis: {sum(CALLS.values())} requests over {len(CALLS)} operations; "
              f"status codes {dict(sorted(STATUSES.items()))}")


@schema.hook
def flatmap_path_parameters(ctx, path_parameters):
    """Replace a generated ``{id}`` by ward B's record or the nurse's own record in two cases of three."""
    if not path_parameters or "id" not in path_parameters or not KNOWN:
        return st.just(path_parameters)
    path = ctx.operation.path
    kind = next((k for k in ("patients", "cycles", "adverse-events", "benchmark-runs") if f"/{k}/" in path), None)
    if kind is None:
        return st.just(path_parameters)
    own, foreign = KNOWN["own"][kind], KNOWN["foreign"][kind]
    return st.sampled_from([path_parameters["id"], own, foreign]).map(lambda i: {**path_parameters, "id": i})


def _objects(value):
    """Every JSON object inside a decoded JSON value, depth first."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def leaks(body: bytes, foreign: dict) -> list[str]:
    """What of ward B a response body shows: its study IDs or slug anywhere in the text, or (in JSON) an object
    that is, or points at, one of its patients, cycles, events or benchmark runs."""
    text = body.decode("utf-8", "replace")
    found = [s for s in (*FOREIGN_STUDY_IDS, foreign["slug"]) if s in text]
    try:
        data = json.loads(text)
    except ValueError:
        return found
    for obj in _objects(data):
        obj = {k: v for k, v in obj.items() if isinstance(v, str | int | None)}  # ids, not nested values
        if obj.get("patient") in foreign["patient_ids"] and ("cycle" in obj or "number" in obj):
            found.append(f"patient {obj['patient']} in {sorted(obj)[:6]}")
        if obj.get("cycle") in foreign["cycle_ids"] and "term" in obj:
            found.append(f"cycle {obj['cycle']}")
        if "study_id" in obj and obj.get("id") in foreign["patient_ids"]:
            found.append(f"patient id {obj['id']}")
        if "term" in obj and "grade" in obj and obj.get("id") in foreign["event_ids"]:
            found.append(f"event id {obj['id']}")
        if "status" in obj and "flags" in obj and obj.get("id") in foreign["run_ids"]:
            found.append(f"benchmark run {obj['id']}")
    return found


@schemathesis.check
def no_other_site_data(ctx, response, case):
    """Fail when a response shows anything of ward B to ward A's nurse."""
    if not KNOWN:
        return None
    found = leaks(response.content, KNOWN["foreign"])
    if found:
        raise AssertionError(f"response shows another site's data: {found}")
    return None


def test_the_leak_check_recognises_another_sites_data():
    """The custom check can fail: a body with ward B's study ID or one of its event ids is caught."""
    foreign = {"slug": "ward-b", "patient_ids": {7}, "cycle_ids": {8}, "event_ids": {9}, "run_ids": {10}}
    assert leaks(b'{"results": [{"id": 3, "study_id": "BBB-901"}]}', foreign)
    assert leaks(b'{"results": [{"id": 9, "term": "Tremor", "grade": 2, "cycle": 1, "patient": 1}]}', foreign)
    assert leaks(b'{"id": 5, "patient": 7, "number": 1}', foreign)
    assert not leaks(b'{"results": [{"id": 1, "study_id": "AAA-001", "patient": 2, "number": 1}]}', foreign)


@pytest.fixture
def wsgi_in_test_transaction():
    """Keep the test's database connection (and transaction) across WSGI requests, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(ward, other_ward, wsgi_in_test_transaction):
    """Ward A: the nurse, a patient with a cycle and an event. Ward B: two patients with cycles, events and a run."""
    from reports.models import BenchmarkRun

    nurse = make_user("fuzz-nurse", ward)
    make_user("fuzz-outsider", other_ward)
    own_patient = make_patient(ward, OWN_STUDY_ID)
    own_cycle = make_cycle(own_patient)
    own_event = make_event(own_cycle, user=nurse)
    own_run = BenchmarkRun.objects.create(site=ward)
    foreign = {"slug": other_ward.slug, "patient_ids": set(), "cycle_ids": set(), "event_ids": set(),
               "run_ids": {BenchmarkRun.objects.create(site=other_ward).pk}}
    for study_id in FOREIGN_STUDY_IDS:
        patient = make_patient(other_ward, study_id)
        cycle = make_cycle(patient)
        event = make_event(cycle, user=nurse)
        foreign["patient_ids"].add(patient.pk)
        foreign["cycle_ids"].add(cycle.pk)
        foreign["event_ids"].add(event.pk)
    KNOWN.update(
        own={"patients": own_patient.pk, "cycles": own_cycle.pk, "adverse-events": own_event.pk,
             "benchmark-runs": own_run.pk},
        foreign=foreign | {"patients": min(foreign["patient_ids"]), "cycles": min(foreign["cycle_ids"]),
                           "adverse-events": min(foreign["event_ids"]), "benchmark-runs": min(foreign["run_ids"])},
    )
    _, token = AuthToken.objects.create(user=nurse)
    yield {"Authorization": f"Token {token}"}
    KNOWN.clear()


@pytest.mark.django_db
@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_api_contract(case, fuzz_data):
    case.call_and_validate(headers=fuzz_data, checks=[schemathesis.checks.not_a_server_error, no_other_site_data])
