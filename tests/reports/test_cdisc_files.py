"""CDISC files: the demo ward's SDTM and ADaM written as XPORT v5 and Dataset-JSON v1.1 and read back equal;
XPORT limits refused with an error naming the variable; Dataset-JSON valid against the published schema;
Define-XML valid against the Define-XML 2.1 schema."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reports.cdisc.datasetjson import datasetjson_read
from reports.cdisc.define import define_validate
from reports.cdisc.export import cdisc_export
from reports.cdisc.model import Dataset, Variable
from reports.cdisc.xpt import XptLimitError, xpt_read, xpt_write
from reports.demo import demo_ward_load
from tests.conftest import make_cycle, make_event, make_patient

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "dataset-json-1.1.schema.json").read_text())


@pytest.fixture
def demo_site(db):
    return demo_ward_load(cohort_slug="xie2023_suzhou", site_slug="demo-ward", site_name="Demo ward")


@pytest.mark.parametrize("kind", ["sdtm", "adam"])
@pytest.mark.parametrize("file_format", ["xpt", "json"])
def test_the_demo_wards_datasets_round_trip(demo_site, tmp_path, kind, file_format):
    export = cdisc_export(demo_site, kind=kind, file_format=file_format, folder=tmp_path)
    names = {d.name for d in export.datasets}
    assert names == ({"DM", "AE", "EX", "LB"} if kind == "sdtm" else {"ADAE"})
    ae_like = next(d for d in export.datasets if d.name in ("AE", "ADAE"))
    assert len(ae_like.rows) > 20  # the demo ward's events, not an empty file
    for dataset, path in zip(export.datasets, export.files, strict=False):
        back = (xpt_read if file_format == "xpt" else datasetjson_read)(path, dataset)
        assert (back.name, back.label) == (dataset.name, dataset.label)
        assert [(v.name, v.label) for v in back.variables] == [(v.name, v.label) for v in dataset.variables]
        assert back.rows == dataset.rows
        if file_format == "json":
            jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    assert define_validate(export.files[-1].read_bytes()) == []


def test_adae_dates_are_sas_dates_in_xpt(demo_site, tmp_path):
    export = cdisc_export(demo_site, kind="adam", file_format="xpt", folder=tmp_path)
    import pyreadstat

    _, meta = pyreadstat.read_xport(str(export.files[0]))
    assert meta.original_variable_types["ASTDT"] == "DATE9"
    assert meta.readstat_variable_types["ASTDT"] == "double"


def _tiny(variables, rows, name="AE", label="Adverse Events") -> Dataset:
    return Dataset(name, label, "SDTMIG 3.4", tuple(variables), rows)


@pytest.mark.parametrize("dataset, message", [
    (_tiny([Variable("AETOOLONGN", "x")], [{}]), "AE: variable name 'AETOOLONGN'"),
    (_tiny([Variable("AETERM", "L" * 41)], [{}]), "AE.AETERM: label 'L{41}' is 41 characters"),
    (_tiny([Variable("AETERM", "Term")], [{"AETERM": "x"}, {"AETERM": "y" * 201}]),
     "AE.AETERM record 2: value is 201 characters; XPORT v5 allows 200"),
    (_tiny([Variable("AETERM", "Term")], [{"AETERM": "fièvre"}]), "AE.AETERM record 1: 'fièvre' has characters"),
    (_tiny([Variable("AETERM", "Term")], [], name="ADVERSEEV"), "dataset name 'ADVERSEEV'"),
])
def test_xpt_limits_are_refused_before_writing_naming_the_variable(tmp_path, dataset, message):
    path = tmp_path / "ae.xpt"
    with pytest.raises(XptLimitError, match=message):
        xpt_write(dataset, path)
    assert not path.exists()


def test_xpt_limits_reach_the_command_as_a_clear_error(ward, tmp_path):
    cycle = make_cycle(make_patient(ward))
    make_event(cycle, verbatim_term="x" * 199 + "é")
    with pytest.raises(CommandError, match=r"AE\.AETERM record 1: .* outside ASCII"):
        call_command("export_sdtm", "--site", ward.slug, "--format", "xpt", "--output", str(tmp_path / "out"))
    assert not (tmp_path / "out" / "ae.xpt").exists()


def test_define_xml_validation_finds_a_broken_document(demo_site, tmp_path):
    export = cdisc_export(demo_site, kind="adam", file_format="json", folder=tmp_path)
    broken = export.files[-1].read_bytes().replace(b'def:Structure="', b'def:Structur="', 1)
    assert define_validate(broken)


def test_export_commands_write_datasets_define_and_say_meddra_is_missing(demo_site, tmp_path, capsys):
    call_command("export_sdtm", "--site", "demo-ward", "--format", "json", "--output", str(tmp_path / "sdtm"))
    call_command("export_adam", "--site", "demo-ward", "--output", str(tmp_path / "adam"))
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "sdtm").iterdir()) == ["ae.json", "define.xml", "dm.json", "ex.json",
                                                                     "lb.json"]
    assert sorted(p.name for p in (tmp_path / "adam").iterdir()) == ["adae.xpt", "define.xml"]
    assert "no MedDRA release was supplied" in out
    assert b"no MedDRA release was supplied" in (tmp_path / "adam" / "define.xml").read_bytes()


def test_export_command_refuses_an_unknown_site(db, tmp_path):
    with pytest.raises(CommandError, match="unknown site"):
        call_command("export_adam", "--site", "nowhere", "--output", str(tmp_path))


def test_dataset_json_creation_time_is_iso(demo_site, tmp_path):
    created = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=datetime.UTC)
    export = cdisc_export(demo_site, kind="adam", file_format="json", folder=tmp_path, created=created)
    document = json.loads(export.files[0].read_text())
    assert document["datasetJSONCreationDateTime"] == "2026-05-01T10:00:00+00:00"
    assert document["records"] == len(export.datasets[0].rows)
    assert document["columns"][0] == {"itemOID": "IT.ADAE.STUDYID", "name": "STUDYID", "label": "Study Identifier",
                                      "dataType": "string", "length": 9, "keySequence": 1}


def _zip_names(response) -> list[str]:
    import io
    import zipfile

    return sorted(zipfile.ZipFile(io.BytesIO(response.content)).namelist())


def test_api_downloads_the_sites_datasets_as_a_zip(client, ward, nurse, tmp_path):
    make_event(make_cycle(make_patient(ward)))
    client.force_login(nurse)
    response = client.get("/api/v1/sites/ward-a/adam/?file_format=json")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert _zip_names(response) == ["README.txt", "adae.json", "define.xml"]
    response = client.get("/api/v1/sites/ward-a/sdtm/")
    assert _zip_names(response) == ["README.txt", "ae.xpt", "define.xml", "dm.xpt", "ex.xpt", "lb.xpt"]


def test_api_is_site_scoped_and_validates_the_format(client, ward, outsider, nurse):
    client.force_login(outsider)
    assert client.get("/api/v1/sites/ward-a/sdtm/").status_code == 404
    client.force_login(nurse)
    response = client.get("/api/v1/sites/ward-a/sdtm/?file_format=sas7bdat")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_api_answers_409_naming_the_variable_xpt_cannot_hold(client, ward, nurse):
    make_event(make_cycle(make_patient(ward)), verbatim_term="fièvre")
    client.force_login(nurse)
    response = client.get("/api/v1/sites/ward-a/sdtm/?file_format=xpt")
    assert response.status_code == 409 and "AE.AETERM record 1" in response.json()["detail"]
    assert client.get("/api/v1/sites/ward-a/sdtm/?file_format=json").status_code == 200


def test_report_page_links_and_web_downloads_are_site_scoped(client, ward, nurse, outsider):
    make_event(make_cycle(make_patient(ward)))
    client.force_login(nurse)
    page = client.get("/sites/ward-a/report/").content.decode()
    assert "/sites/ward-a/cdisc/adam.json.zip" in page and "/sites/ward-a/aet.xlsx" in page
    response = client.get("/sites/ward-a/cdisc/adam.json.zip")
    assert response.status_code == 200 and _zip_names(response) == ["README.txt", "adae.json", "define.xml"]
    assert client.get("/sites/ward-a/aet.csv").content.decode().startswith("table,scope,N,")
    assert client.get("/sites/ward-a/cdisc/adam.sas.zip").status_code == 404
    client.force_login(outsider)
    assert client.get("/sites/ward-a/cdisc/sdtm.xpt.zip").status_code == 404
    assert client.get("/sites/ward-a/aet.xlsx").status_code == 404


@pytest.mark.parametrize("file_format", ["xpt", "json"])
def test_lb_with_graded_labs_round_trips(ward, nurse, tmp_path, file_format):
    from decimal import Decimal

    from django.utils import timezone

    from ae.models import LabResult

    cycle = make_cycle(make_patient(ward, "LB-1"), 1, datetime.date(2026, 1, 5))
    for day, value, grade, baseline in ((5, "120", 1, True), (9, "20.5", 4, False), (12, "80", None, False)):
        LabResult.objects.create(
            patient=cycle.patient, cycle=cycle, analyte="platelets", value=Decimal(value), unit="10^9/L",
            lln=Decimal("150"), collected_at=timezone.make_aware(datetime.datetime(2026, 1, day, 7, 30)),
            baseline=baseline, ctcae_term="Platelet count decreased", grade=grade, rationale="r", entered_by=nurse)
    export = cdisc_export(ward, kind="sdtm", file_format=file_format, folder=tmp_path)
    lb = next(d for d in export.datasets if d.name == "LB")
    assert [(r["LBTESTCD"], r["LBORRES"], r["LBSTRESN"], r["LBTOXGR"], r["LBBLFL"], r["LBDTC"], r["LBDY"])
            for r in lb.rows] == [("PLAT", "120", 120.0, "1", "Y", "2026-01-05T07:30", 1),
                                  ("PLAT", "20.5", 20.5, "4", "", "2026-01-09T07:30", 5),
                                  ("PLAT", "80", 80.0, "", "", "2026-01-12T07:30", 8)]
    path = export.files[[d.name for d in export.datasets].index("LB")]
    back = (xpt_read if file_format == "xpt" else datasetjson_read)(path, lb)
    assert back.rows == lb.rows
