"""The import pages: upload → mapping → dry run with per-row errors → commit; site-scoped and role-checked."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from ae.models import AdverseEvent, ImportMapping
from ae.services.imports import COLUMNS, REQUIRED
from patients.models import Membership
from tests.ae.test_import import HEADER, _good_rows, import_ward  # noqa: F401 (fixture)
from tests.ae.test_import_sources import REDCAP_MAPPING, redcap_csv, redcap_ward  # noqa: F401 (fixture)
from tests.conftest import make_user

URL = "/sites/ward-a/ae-imports/"


def _file(rows, name="aes.csv"):
    return SimpleUploadedFile(name, ("\n".join([HEADER, *rows]) + "\n").encode(), content_type="text/csv")


def test_check_shows_row_errors_then_import_saves_all(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    assert client.get(URL).status_code == 200
    rows = _good_rows()
    rows[2] = rows[2].replace(",Anemia,", ",Anaemic,")
    page = client.post(URL, {"file": _file(rows), "file_source": "csv", "action": "check"}).content.decode()
    assert "Nothing saved: 1 row with errors" in page and "<td>4</td>" in page
    assert "is not a CTCAE v5.0 term. Did you mean: Anemia?" in page
    page = client.post(URL, {"file": _file(rows), "file_source": "csv", "action": "import"}).content.decode()
    assert "Nothing saved: 1 row with errors" in page and not AdverseEvent.objects.exists()
    page = client.post(URL, {"file": _file(_good_rows()), "file_source": "csv", "action": "check"}).content.decode()
    assert "Dry run: no errors, nothing saved yet" in page and "20 to create" in page
    assert not AdverseEvent.objects.exists()
    page = client.post(URL, {"file": _file(_good_rows()), "file_source": "csv", "action": "import"}).content.decode()
    assert "Imported" in page and "20 created, 0 already recorded, 0 with errors." in page
    assert AdverseEvent.objects.count() == 20


def test_an_unreadable_file_is_a_form_error_not_a_500(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    response = client.post(URL, {"file": SimpleUploadedFile("x.csv", b"patient,term\nA,B\n"), "file_source": "csv",
                                 "action": "check"})
    assert response.status_code == 200 and "lacks the template&#x27;s columns" in response.content.decode()


def test_a_saved_mapping_is_edited_on_its_page_and_used_by_the_upload(client, redcap_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    form = client.get(f"{URL}mapping/?name=REDCap+AE+instrument").content.decode()
    assert "record_id = study_id" in form and "redcap_repeat_instrument = adverse_events" in form
    columns = "\n".join(f"{k} = {v}" for k, v in REDCAP_MAPPING["columns"].items())
    bad = client.post(f"{URL}mapping/", {"name": "Copy", "source": "redcap_csv", "columns": columns + "\nx = nope",
                                         "values": "{not json", "row_filter": "", "constants": ""})
    text = bad.content.decode()
    assert bad.status_code == 200 and "not JSON" in text
    bad = client.post(f"{URL}mapping/", {"name": "Copy", "source": "redcap_csv", "columns": columns + "\nx = nope",
                                         "values": "", "row_filter": "", "constants": ""})
    assert "not columns of the template: nope" in bad.content.decode()
    saved = client.post(f"{URL}mapping/", {
        "name": "Copy", "source": "redcap_csv", "columns": columns, "values": json.dumps(REDCAP_MAPPING["values"]),
        "row_filter": "redcap_repeat_instrument = adverse_events", "constants": ""})
    assert saved.status_code == 302 and saved["Location"] == f"{URL}?mapping=Copy"
    assert ImportMapping.objects.get(name="Copy").row_filter == {"redcap_repeat_instrument": "adverse_events"}
    page = client.post(URL, {"file": SimpleUploadedFile("export.csv", redcap_csv(bad=False)),
                             "file_source": "redcap_csv", "mapping": "Copy", "action": "import"}).content.decode()
    assert "20 created" in page and AdverseEvent.objects.count() == 20


def test_pages_are_site_scoped_and_role_checked(client, import_ward, outsider):  # noqa: F811
    client.force_login(outsider)
    assert client.get(URL).status_code == 404
    assert client.get(f"{URL}mapping/").status_code == 404
    officer = make_user("reviewer-only", import_ward, Membership.Role.SAFETY_OFFICER)
    client.force_login(officer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"file": _file(_good_rows()), "file_source": "csv", "action": "import"}).status_code == 403
    assert not AdverseEvent.objects.exists()


# --- the column picker (docs/import.md, "The mapping page") -------------------------------------------------------

MAPPING_URL = f"{URL}mapping/"
PARTS = ("source", "columns", "values", "constants", "row_filter")


def _read(client, body, source="redcap_csv", mapping="", name="export.csv"):
    """POST a sample file to the mapping page ("Read its columns"); the page with the picker."""
    response = client.post(MAPPING_URL, {"file": SimpleUploadedFile(name, body), "file_source": source,
                                         "mapping": mapping, "action": "read"})
    assert response.status_code == 200
    return response


def _submitted(picker, **changes):
    """What the browser sends back for the picker as shown (each field's shown value), with ``changes``."""
    data = {name: picker[name].value() or "" for name in picker.fields}
    return data | {"action": "pick"} | changes


def _parts(mapping):
    return {p: getattr(mapping, p) for p in PARTS}


def test_a_redcap_sample_preselects_by_name_and_marks_the_required_columns(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    response = _read(client, redcap_csv(bad=False))
    picker = response.context["picker"]
    picks = {n.removeprefix("pick_"): v for n, v in picker.initial.items() if n.startswith("pick_")}
    assert picks == {target: f"col:{source}" for source, target in REDCAP_MAPPING["columns"].items()}
    html = response.content.decode()
    assert '<option value="col:ae_term" selected>ae_term</option>' in html
    required = [c for c in COLUMNS if picker.fields[f"pick_{c}"].required]
    assert required == list(REQUIRED)  # study_id … outcome (docs/import.md)
    assert '<label for="id_pick_grade">grade <span class="required">(required)</span></label>' in html
    assert '<label for="id_pick_verbatim_term">verbatim_term</label>' in html
    assert "— not in this file —" in html and "— one value for every row (below) —" in html
    assert 'name="options"' in html and "record_id" in html


def test_saving_with_the_picker_equals_saving_the_same_mapping_as_text(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    picker = _read(client, redcap_csv(bad=False)).context["picker"]
    saved = client.post(MAPPING_URL, _submitted(
        picker, name="Picked", row_filter="redcap_repeat_instrument = adverse_events",
        values=json.dumps(REDCAP_MAPPING["values"])))
    assert saved.status_code == 302 and saved["Location"] == f"{URL}?mapping=Picked"
    columns = "\n".join(f"{k} = {v}" for k, v in REDCAP_MAPPING["columns"].items())
    typed = client.post(MAPPING_URL, {"name": "Typed", "source": "redcap_csv", "columns": columns,
                                      "values": json.dumps(REDCAP_MAPPING["values"]), "constants": "",
                                      "row_filter": "redcap_repeat_instrument = adverse_events"})
    assert typed.status_code == 302
    picked, written = ImportMapping.objects.get(name="Picked"), ImportMapping.objects.get(name="Typed")
    assert _parts(picked) == _parts(written)
    assert picked.columns == REDCAP_MAPPING["columns"] and picked.updated_by == nurse


def test_editing_a_saved_mapping_with_a_sample_keeps_it_unchanged(client, redcap_ward, nurse):  # noqa: F811
    """The upload page's "Map this file's columns" sends its form (file, source, chosen mapping) to the mapping
    page, which pre-selects the saved mapping's choices; saving them again changes nothing."""
    client.force_login(nurse)
    upload = client.get(URL).content.decode()
    assert 'formaction="/sites/ward-a/ae-imports/mapping/"' in upload and "Map this file's columns" in upload
    before = _parts(redcap_ward)
    picker = _read(client, redcap_csv(bad=False), mapping="REDCap AE instrument").context["picker"]
    assert picker.initial["name"] == "REDCap AE instrument"
    assert picker.initial["row_filter"] == "redcap_repeat_instrument = adverse_events"
    assert client.post(MAPPING_URL, _submitted(picker)).status_code == 302
    redcap_ward.refresh_from_db()
    assert _parts(redcap_ward) == before


def test_an_odm_sample_with_a_constant_cycle_round_trips(client, redcap_ward, nurse):  # noqa: F811
    from tests.ae.test_import_sources import ODM, ODM_MAPPING
    client.force_login(nurse)
    mapping = ImportMapping.objects.create(site=redcap_ward.site, name="ODM AE", source="odm", updated_by=nurse,
                                           **ODM_MAPPING)
    picker = _read(client, ODM.encode(), source="odm", mapping="ODM AE", name="study.xml").context["picker"]
    assert (picker.initial["pick_cycle"], picker.initial["constant_cycle"]) == ("const", "1")
    assert picker.initial["pick_ctcae_term"] == "col:I.AETERM"
    assert client.post(MAPPING_URL, _submitted(picker, name="ODM copy")).status_code == 302
    assert _parts(ImportMapping.objects.get(name="ODM copy")) == _parts(mapping)


def test_a_saved_constant_wins_over_a_column_suggested_by_name(client, redcap_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    columns = {k: v for k, v in REDCAP_MAPPING["columns"].items() if v != "cycle"}
    mapping = ImportMapping.objects.create(site=redcap_ward.site, name="Cycle 1 only", source="redcap_csv",
                                           updated_by=nurse, columns=columns, constants={"cycle": "1"})
    picker = _read(client, redcap_csv(bad=False), mapping="Cycle 1 only").context["picker"]
    assert (picker.initial["pick_cycle"], picker.initial["constant_cycle"]) == ("const", "1")  # not ae_cycle
    assert client.post(MAPPING_URL, _submitted(picker)).status_code == 302
    fresh = ImportMapping.objects.get(pk=mapping.pk)
    assert (fresh.columns, fresh.constants) == (columns, {"cycle": "1"})


def test_bad_choices_are_errors_next_to_their_field_and_nothing_is_saved(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    picker = _read(client, redcap_csv(bad=False)).context["picker"]
    cases = [
        ({"pick_grade": ""}, "pick_grade", "Required: pick the file&#x27;s column that holds it."),
        ({"pick_cycle": ""}, "pick_cycle", "Required: pick the file&#x27;s column that holds it, or one value"),
        ({"pick_cycle": "const", "constant_cycle": " "}, "constant_cycle", "Write the value for every row"),
        ({"constant_cycle": "2"}, "constant_cycle", "to use this value, or clear it"),
        ({"pick_verbatim_term": "col:ae_term"}, "pick_verbatim_term", "ae_term is already picked for ctcae_term."),
        ({"pick_grade": "col:nope"}, "pick_grade", "Select a valid choice"),
    ]
    for changes, field, message in cases:
        response = client.post(MAPPING_URL, _submitted(picker, name="Bad", **changes))
        html = response.content.decode()
        assert response.status_code == 200, changes
        assert response.context["picker"].errors.keys() == {field}, changes
        assert f'id="field-{field}"' in html and message in html, changes
        assert 'id="error-summary"' in html
    assert not ImportMapping.objects.filter(name="Bad").exists()
    ok = client.post(MAPPING_URL, _submitted(picker, name="Good", pick_cycle="const", constant_cycle="2"))
    assert ok.status_code == 302
    assert ImportMapping.objects.get(name="Good").constants == {"cycle": "2"}
    assert "ae_cycle" not in ImportMapping.objects.get(name="Good").columns


def test_a_template_named_column_left_out_is_an_error(client, import_ward, nurse):  # noqa: F811
    """The import reads a column named as a template column as that column unless it is mapped to another: the
    picker cannot pretend it is "not in this file"."""
    client.force_login(nurse)
    header = "study_id,cycle,ctcae_term,grade,onset_date,relatedness,action_taken,outcome,my_grade\n"
    picker = _read(client, header.encode(), source="csv").context["picker"]
    assert picker.initial["pick_grade"] == "col:grade"
    response = client.post(MAPPING_URL, _submitted(picker, name="T", pick_grade="col:my_grade"))
    assert "The file has a column named grade, which the import reads as grade" in response.content.decode()
    assert client.post(MAPPING_URL, _submitted(picker, name="T", pick_grade="col:my_grade",
                                               pick_grade_at_cycle_start="col:grade")).status_code == 302
    assert ImportMapping.objects.get(name="T").columns == {"my_grade": "grade", "grade": "grade_at_cycle_start"}


def test_an_unreadable_sample_or_lost_columns_are_form_errors_not_500(client, import_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    bad = _read(client, "étude,cycle,grade\n".encode("latin-1"), source="csv").content.decode()
    assert "not UTF-8" in bad and 'id="column-picker"' not in bad
    odm = _read(client, b"<ODM><unclosed>", source="odm").content.decode()
    assert "not well-formed ODM XML" in odm
    lost = client.post(MAPPING_URL, {"action": "pick", "name": "X", "source": "csv", "options": "[[1, 2]]"})
    assert lost.status_code == 200 and "read the file again" in lost.content.decode()
    assert not ImportMapping.objects.exists()


def test_a_3_mb_export_uploaded_to_the_page_is_read_from_disk_by_its_header(client, import_ward, nurse):  # noqa: F811
    """Above Django's in-memory limit (2.5 MB) the upload is a temporary file on disk; only its header is read."""
    client.force_login(nurse)
    body = redcap_csv(bad=False) + b"RC-01,adverse_events,9,,1,Anemia,2,2026-01-07,,3,1,1\n" * 60_000
    assert len(body) > 3_000_000
    picker = _read(client, body).context["picker"]
    assert picker.initial["pick_study_id"] == "col:record_id" and len(picker.sample) == 12


def test_the_text_form_is_still_there_for_a_source_without_a_sample(client, redcap_ward, nurse):  # noqa: F811
    client.force_login(nurse)
    page = client.get(f"{MAPPING_URL}?name=REDCap+AE+instrument").content.decode()
    assert '<details open id="mapping-as-text">' in page and 'id="sample-form"' in page
    assert "Without a sample file: write the mapping as text" in page
