"""Issue 16 "done when": a client generated from the committed openapi.yaml with openapi-python-client works.

The client is generated once per session (no generator warnings allowed), every generated module is imported,
and an integrator's workflow runs through it against the live test server: token login, patient, cycle, AEs
valid and invalid, a stale edit answered 409 and parsed, the bedside calculators, paging and filters, the bulk
endpoint with an Idempotency-Key, benchmark runs with typed results, and 401 without a token. The committed
schema is also checked with openapi-spec-validator.
"""

from __future__ import annotations

import base64
import datetime
import importlib
import pkgutil
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from openapi_spec_validator import validate

from patients.models import Membership, Site

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "openapi.yaml"
PACKAGE = "pvtrack_api_client"
PASSWORD = "client-test-2026"


def test_the_committed_schema_passes_openapi_spec_validator():
    validate(yaml.safe_load(SCHEMA.read_text(encoding="utf-8")))  # raises OpenAPIValidationError if not valid


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> tuple[Any, str]:
    """(the generated package, the generator's output); the package is importable for the session."""
    generator = shutil.which("openapi-python-client") or str(Path(sys.executable).with_name("openapi-python-client"))
    where = tmp_path_factory.mktemp("generated")
    config = where / "config.yaml"
    # no ruff formatting pass: nothing to warn about; the CDISC ZIP downloads read as bytes (the generator's
    # documented override for a binary content type it does not know)
    config.write_text("post_hooks: []\ncontent_type_overrides:\n  application/zip: application/octet-stream\n",
                      encoding="utf-8")
    result = subprocess.run(
        [generator, "generate", "--path", str(SCHEMA), "--meta", "none", "--output-path", str(where / PACKAGE),
         "--config", str(config)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE), result.stdout + result.stderr
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_generator_warns_about_nothing_and_every_module_imports(generated):
    package, output = generated
    assert "warning" not in output.lower(), output
    failures, modules = [], 0
    for module in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
        modules += 1
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001 — each failure is reported, not only the first
            failures.append(f"{module.name}: {exc!r}")
    assert modules > 100 and failures == []


def api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


@pytest.fixture
def integrator(committed_reference_data, django_user_model) -> Site:
    ward = Site.objects.create(slug="api-ward", name="API ward")
    nurse = django_user_model.objects.create_user(username="api-nurse", password=PASSWORD)
    Membership.objects.create(user=nurse, site=ward, role=Membership.Role.WARD_STAFF)
    return ward


@pytest.mark.client
def test_an_integrators_workflow_runs_through_the_generated_client(generated, live_server, integrator):
    package, _ = generated
    basic = base64.b64encode(f"api-nurse:{PASSWORD}".encode()).decode()

    # token: HTTP Basic in, {expiry, token} out; the client's default "Bearer" prefix is accepted
    login = api("auth.auth_login_create").sync_detailed(
        client=package.Client(base_url=live_server.url, headers={"Authorization": f"Basic {basic}"}))
    assert login.status_code == 200, login.content
    token = login.parsed.token
    client = package.AuthenticatedClient(base_url=live_server.url, token=token)
    anonymous = package.Client(base_url=live_server.url)

    refused = api("patients.patients_list").sync_detailed(client=anonymous)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Token"
    assert refused.parsed.code.value == "not_authenticated"

    # patient and cycle: read-only fields are not asked for
    patient = api("patients.patients_create").sync(client=client, body=model("PatientRequest").from_dict({
        "site": "api-ward", "study_id": "API-001", "sex": "F", "birth_month": "2016-05-01",
        "disease_status": "relapse_1"}))
    assert patient.usubjid and patient.id
    start = datetime.date.today() - datetime.timedelta(days=10)
    cycle = api("cycles.cycles_create").sync(client=client, body=model("TreatmentCycleRequest").from_dict({
        "patient": patient.id, "number": 1, "schedule": "standard_28d", "start_date": start.isoformat(),
        "weight_kg": "20"}))
    assert cycle.id

    def event(**overrides: Any) -> Any:
        data = {"patient": patient.id, "cycle": cycle.id, "term": "Tremor", "grade": 2,
                "onset_date": (start + datetime.timedelta(days=2)).isoformat(), "relatedness": "possible",
                "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
        return model("AdverseEventRequest").from_dict(data | overrides)

    # a valid AE, then an invalid one: the problem document is parsed with its field errors
    created = api("adverse_events.adverse_events_create").sync_detailed(client=client, body=event())
    assert created.status_code == 201, created.content
    tremor = created.parsed
    assert (tremor.term, tremor.version, tremor.serious, tremor.resolution_date) == ("Tremor", 1, False, None)
    invalid = api("adverse_events.adverse_events_create").sync_detailed(
        client=client, body=event(grade=4, onset_date=(start + datetime.timedelta(days=3)).isoformat()))
    assert invalid.status_code == 400
    assert invalid.parsed.code.value == "invalid" and "grade" in invalid.parsed.errors.additional_properties

    # a stale edit: the second edit from version 1 answers 409 with the current record
    patch = api("adverse_events.adverse_events_partial_update")
    edit = model("PatchedAdverseEventUpdateRequest").from_dict({"grade": 3, "version": 1, "reason": "worse on day 4"})
    assert patch.sync_detailed(tremor.id, client=client, body=edit).parsed.version == 2
    stale = patch.sync_detailed(tremor.id, client=client, body=model("PatchedAdverseEventUpdateRequest").from_dict(
        {"grade": 1, "version": 1, "reason": "better on day 5"}))
    assert stale.status_code == 409
    assert stale.parsed.code.value == "stale_version" and stale.parsed.current["version"] == 2

    # the bedside calculators
    crs = api("grading.grading_crs_create").sync(client=client, body=model("CRSGradeInputRequest").from_dict(
        {"temperature_c": 39.2}))
    assert crs.grade == 1
    icans = api("grading.grading_icans_create").sync(client=client, body=model("ICANSGradeInputRequest").from_dict(
        {"tool": "CAPD", "capd_score": 9}))
    assert icans.grade == 3
    lab = api("grading.grading_lab_create").sync(client=client, body=model("LabGradeInputRequest").from_dict(
        {"analyte": "anc", "value": 1000, "unit": "/mm3"}))
    assert (lab.grade, lab.ctcae_term) == (2, "Neutrophil count decreased")

    # bulk with an Idempotency-Key: per-item results; the retry answers the same and creates nothing
    batch = [event(term=name, grade=2) for name in ("Headache", "Fatigue", "Nausea")] + [event(term="Tremor")]
    key = str(uuid.uuid4())
    bulk = api("adverse_events.adverse_events_bulk_create")
    first = bulk.sync_detailed(client=client, body=batch, idempotency_key=key)
    assert first.status_code == 200, first.content
    assert (first.parsed.created, first.parsed.duplicates, first.parsed.failed) == (3, 1, 0)
    assert first.parsed.results[3].duplicate_of == tremor.id
    again = bulk.sync_detailed(client=client, body=batch, idempotency_key=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.parsed.to_dict() == first.parsed.to_dict()

    # paging and filters
    listing = api("adverse_events.adverse_events_list")
    by_id = [model("AdverseEventsListOrderingItem")("id")]
    page = listing.sync(client=client, limit=2, ordering=by_id)
    assert len(page.results) == 2 and page.next_
    cursor = parse_qs(urlsplit(page.next_).query)["cursor"][0]  # keyset paging: follow the next link's cursor
    rest = listing.sync(client=client, limit=2, cursor=cursor, ordering=by_id)
    assert rest.next_ is None
    assert [e.id for e in page.results + rest.results] == sorted(e.id for e in page.results + rest.results)
    assert len({e.id for e in page.results + rest.results}) == 4
    assert [e.term for e in listing.sync(client=client, term="Tremor", serious=False).results] == ["Tremor"]
    assert len(listing.sync(client=client, grade_gte=3).results) == 1
    found = api("patients.patients_list").sync(client=client, study_id="API-001")
    assert [p.id for p in found.results] == [patient.id]

    # benchmark runs: results are typed (cells, flags) once a run has finished
    runs = api("benchmark_runs.benchmark_runs_list").sync(client=client)
    assert runs.count >= 1
    done = [run for run in runs.results if run.status.value == "done"]
    assert done and done[0].results.method_version and done[0].results.cells
    assert {cell.grade_band for cell in done[0].results.cells} == {"any", "ge3"}
