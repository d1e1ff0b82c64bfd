"""A nurse imports a small file with one bad row, sees the row's error, fixes the file and commits it; a data manager
maps a REDCap export by picking its columns and checks it with the new mapping (Playwright driving Debian's
Chromium)."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ae.models import AdverseEvent, ImportMapping
from patients.models import Membership
from tests.conftest import log_in, make_cycle, make_patient, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "study_id,cycle,ctcae_term,grade,onset_date,resolution_date,relatedness,action_taken,outcome"


def _csv(term: str) -> dict:
    rows = [HEADER, "BI-001,1,Anemia,2,2026-01-07,2026-01-09,possible,DOSE NOT CHANGED,RECOVERED/RESOLVED",
            f"BI-001,1,{term},1,2026-01-08,2026-01-08,unlikely,DOSE NOT CHANGED,RECOVERED/RESOLVED",
            "BI-002,1,CRS,2,2026-01-13,2026-01-14,probable,DRUG INTERRUPTED,RECOVERED/RESOLVED"]
    return {"name": "ward-aes.csv", "mimeType": "text/csv", "buffer": ("\n".join(rows) + "\n").encode()}


def test_import_a_file_with_one_bad_row_fix_it_and_commit(live_server, page, ward):
    nurse = make_user("importer", ward, Membership.Role.WARD_STAFF)
    make_cycle(make_patient(ward, "BI-001"), start=datetime.date(2026, 1, 5))
    make_cycle(make_patient(ward, "BI-002"), start=datetime.date(2026, 1, 12))

    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/sites/{ward.slug}/patients/")
    page.get_by_role("link", name="Import adverse events (CSV template, REDCap, ODM)").click()
    page.wait_for_url(f"{live_server.url}/sites/{ward.slug}/ae-imports/")
    page.set_input_files("#id_file", files=[_csv("Headacke")])
    page.get_by_role("button", name="Check (dry run)").click()
    errors = page.locator("#import-errors tbody tr")
    errors.first.wait_for()
    assert errors.count() == 1
    assert "3" in errors.first.locator("td").first.inner_text()
    assert "'Headacke' is not a CTCAE v5.0 term. Did you mean: Headache?" in errors.first.inner_text()
    assert "Nothing saved" in page.locator("#import-report h2").inner_text()
    assert not AdverseEvent.objects.exists()

    page.set_input_files("#id_file", files=[_csv("Headache")])
    page.get_by_role("button", name="Import").click()
    page.locator("#import-report h2", has_text="Imported").wait_for()
    assert "3 created, 0 already recorded, 0 with errors." in page.locator("#import-summary").inner_text()
    assert page.locator("#import-errors").count() == 0
    assert AdverseEvent.objects.filter(patient__site=ward).count() == 3


def test_map_a_redcap_export_by_picking_its_columns_then_check_it(live_server, page, ward):
    """A data manager uploads a REDCap-style export whose attribution field has a name pvtrack does not know,
    passes it on to the mapping page, picks that column, adds the row filter and coded values, saves, and runs the
    dry run with the new mapping: the three bad rows of twenty are reported, nothing is saved."""
    from tests.ae.test_import_sources import REDCAP_MAPPING, redcap_csv

    nurse = make_user("manager", ward, Membership.Role.WARD_STAFF)
    for i in range(1, 6):
        make_cycle(make_patient(ward, f"RC-{i:02d}"), 1, datetime.date(2026, 1, 5))
    body = redcap_csv(bad=True).replace(b"ae_attrib", b"causality_ae", 1)
    export = {"name": "redcap-export.csv", "mimeType": "text/csv", "buffer": body}

    log_in(page, live_server.url, nurse.username)
    page.goto(f"{live_server.url}/sites/{ward.slug}/ae-imports/")
    page.set_input_files("#id_file", files=[export])
    page.select_option("#id_file_source", "redcap_csv")
    page.get_by_role("button", name="Map this file's columns").click()
    picker = page.locator("#column-picker")
    picker.wait_for()
    assert "Columns of redcap-export.csv" in page.locator("#picker-title").inner_text()
    assert page.locator("#id_pick_ctcae_term").input_value() == "col:ae_term"  # suggested by name
    assert page.locator("#id_pick_relatedness").input_value() == ""  # causality_ae: not a known name
    # keyboard only: the select takes the column by typing its name, the form is sent with Enter on its button
    page.get_by_label("relatedness").focus()
    page.keyboard.type("causality")
    assert page.locator("#id_pick_relatedness").input_value() == "col:causality_ae"
    page.locator("#id_name").fill("Ward REDCap export")
    page.locator("#id_row_filter").fill("redcap_repeat_instrument = adverse_events")
    page.locator("#id_values").fill(json.dumps(REDCAP_MAPPING["values"]))
    page.get_by_role("button", name="Save mapping").first.focus()
    page.keyboard.press("Enter")

    page.wait_for_url(lambda url: "/ae-imports/?mapping=" in url)
    mapping = ImportMapping.objects.get(site=ward, name="Ward REDCap export")
    expected = {k: v for k, v in REDCAP_MAPPING["columns"].items() if k != "ae_attrib"} | {
        "causality_ae": "relatedness"}
    assert mapping.columns == expected
    assert page.locator("#id_mapping").input_value() == "Ward REDCap export"
    page.set_input_files("#id_file", files=[export])
    page.select_option("#id_file_source", "redcap_csv")
    page.get_by_role("button", name="Check (dry run)").click()
    page.locator("#import-report").wait_for()
    assert "17 to create, 0 already recorded, 3 with errors." in page.locator("#import-summary").inner_text()
    assert page.locator("#import-errors tbody tr").count() == 3
    assert "'Anaemiaa' is not a CTCAE v5.0 term" in page.locator("#import-errors").inner_text()
    assert not AdverseEvent.objects.exists()
