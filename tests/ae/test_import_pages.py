"""The import pages: upload → mapping → dry run with per-row errors → commit; site-scoped and role-checked."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from ae.models import AdverseEvent, ImportMapping
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
