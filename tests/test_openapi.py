"""The committed OpenAPI schema (openapi.yaml) is the API contract: it must match the code and be valid."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import yaml
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parent.parent / "openapi.yaml"


def test_the_committed_schema_matches_the_api_and_validates():
    out = StringIO()
    # --validate checks the generated document against the OpenAPI 3 specification; warnings fail too.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    generated = yaml.safe_load(out.getvalue())
    committed = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    assert generated == committed, (
        "openapi.yaml is stale: regenerate with `python manage.py spectacular --file openapi.yaml`")


def test_the_schema_documents_every_resource_and_token_auth():
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    for path in ("/api/v1/patients/", "/api/v1/cycles/", "/api/v1/adverse-events/{id}/",
                 "/api/v1/ctcae-terms/", "/api/v1/benchmark-runs/{id}/"):
        assert path in schema["paths"], path
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    assert "post" not in schema["paths"]["/api/v1/benchmark-runs/"]  # runs are read-only
