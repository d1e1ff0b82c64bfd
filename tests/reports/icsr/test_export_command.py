"""``export_icsr``: a snapshot JSON file in, one report file out; bad input is a CommandError, no file."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from lxml import etree
from pypdf import PdfReader

from ae.sae.snapshot import CaseSnapshot
from tests.reports.icsr.factories import fatal_icans


@pytest.fixture
def snapshot_file(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(fatal_icans().to_dict()), encoding="utf-8")
    return path


def test_snapshot_json_round_trips():
    assert CaseSnapshot.from_dict(json.loads(json.dumps(fatal_icans().to_dict()))) == fatal_icans()


@pytest.mark.parametrize("report_format", ["cioms", "e2b", "fhir"])
def test_each_format_is_written(snapshot_file, tmp_path, report_format):
    target = tmp_path / f"out.{report_format}"
    out = io.StringIO()
    call_command("export_icsr", "--snapshot", str(snapshot_file), "--format", report_format, "--output",
                 str(target), stdout=out)
    content = target.read_bytes()
    assert f"Wrote {target}" in out.getvalue()
    if report_format == "cioms":
        assert "[X] PATIENT DIED" in PdfReader(io.BytesIO(content)).pages[0].extract_text()
    elif report_format == "e2b":
        assert etree.fromstring(content).tag == "{urn:hl7-org:v3}MCCI_IN200100UV01"
    else:
        assert json.loads(content)["resourceType"] == "Bundle"


def test_default_file_name(snapshot_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call_command("export_icsr", "--snapshot", str(snapshot_file), "--format", "e2b", stdout=io.StringIO())
    assert (tmp_path / "PVT-KRK-2026-0011-v1-e2b.xml").is_file()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    ('{"case_id": "X"}', "is not a case snapshot"),
])
def test_bad_snapshot_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("export_icsr", "--snapshot", str(path), "--format", "fhir", "--output",
                     str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_a_case_without_a_suspect_drug_is_refused(tmp_path):
    data = fatal_icans().to_dict()
    data["drugs"] = [d for d in data["drugs"] if d["characterisation"] != "suspect"]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CommandError, match="exactly one suspect drug"):
        call_command("export_icsr", "--snapshot", str(path), "--format", "cioms", "--output",
                     str(tmp_path / "x.pdf"))
    assert not (tmp_path / "x.pdf").exists()


def test_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("export_icsr", "--snapshot", str(tmp_path / "none.json"), "--format", "e2b")
