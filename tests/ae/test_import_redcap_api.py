"""Import through the REDCap API (PyCap), against a local stub of a REDCap server — never the internet.

The stub answers ``POST /api/`` as REDCap's "Export Metadata" (the data dictionary, which PyCap reads first) and
"Export Records" do: with the form fields token, content=record,
format=csv, type=flat, rawOrLabel=raw it returns the project's raw CSV export; a wrong token gets REDCap's 403
error body.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ae.import_sources import RedcapFetchError, redcap_records_csv
from ae.models import AdverseEvent
from ae.services.imports import ImportFileError, adverse_events_import_redcap
from tests.ae.test_import_sources import redcap_csv, redcap_ward  # noqa: F401 (fixture)

TOKEN = "A" * 32


class _Stub(BaseHTTPRequestHandler):
    body = b""
    requests: list[dict[str, list[str]]] = []  # noqa: RUF012 (shared on purpose: what the test sent)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        type(self).requests.append(form)
        if form.get("token") != [TOKEN]:
            self._answer(403, b'{"error": "You do not have permissions to use the API"}', "application/json")
        elif form.get("content") == ["metadata"]:  # PyCap reads the data dictionary to find the record ID field
            self._answer(200, json.dumps([{"field_name": "record_id", "form_name": "demographics"},
                                          {"field_name": "ae_term", "form_name": "adverse_events"}]).encode(),
                         "application/json")
        elif form.get("content") != ["record"] or form.get("format") != ["csv"]:
            self._answer(400, b'{"error": "unexpected request"}', "application/json")
        else:
            self._answer(200, type(self).body, "text/csv; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redcap_server():
    _Stub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()
    server.server_close()


def test_records_are_exported_as_raw_csv_through_pycap(redcap_server):
    _Stub.body = redcap_csv(bad=False)
    assert redcap_records_csv(redcap_server, TOKEN, forms=["adverse_events"]) == _Stub.body
    sent = _Stub.requests[-1]
    assert (sent["content"], sent["format"], sent["type"], sent["rawOrLabel"]) == (["record"], ["csv"], ["flat"],
                                                                                 ["raw"])
    assert sent["forms[0]"] == ["adverse_events"]


def test_a_refused_token_and_an_unreachable_server_are_clear_errors(redcap_server):
    with pytest.raises(RedcapFetchError, match="You do not have permissions to use the API"):
        redcap_records_csv(redcap_server, "B" * 32)
    with pytest.raises(RedcapFetchError, match="32 characters long") as refused:
        redcap_records_csv(redcap_server, "secret-token")
    assert "secret-token" not in str(refused.value)
    with pytest.raises(RedcapFetchError, match="not a REDCap API address"):
        redcap_records_csv("http://127.0.0.1:9/", TOKEN)
    with pytest.raises(RedcapFetchError, match="could not be reached"):
        redcap_records_csv("http://127.0.0.1:9/api/", TOKEN, timeout=2)


def test_api_import_dry_run_with_bad_rows_then_fixed_then_again(redcap_server, redcap_ward, nurse):  # noqa: F811
    _Stub.body = redcap_csv(bad=True)
    report = adverse_events_import_redcap(site=redcap_ward.site, url=redcap_server, token=TOKEN, mapping=redcap_ward,
                                          dry_run=True, acting_user=nurse)
    assert (len(report.rows), report.count("error"), report.committed) == (20, 3, False)
    _Stub.body = redcap_csv(bad=False)
    report = adverse_events_import_redcap(site=redcap_ward.site, url=redcap_server, token=TOKEN, mapping=redcap_ward,
                                          dry_run=False, acting_user=nurse)
    assert (report.committed, AdverseEvent.objects.count()) == (True, 20)
    event = AdverseEvent.objects.first()
    history = AdverseEvent.pgh_event_model.objects.filter(pgh_obj_id=event.pk).select_related("pgh_context").get()
    assert history.pgh_context.metadata["reason"].startswith(f"import of REDCap API export from {redcap_server}")
    assert TOKEN not in str(history.pgh_context.metadata)
    again = adverse_events_import_redcap(site=redcap_ward.site, url=redcap_server, token=TOKEN, mapping=redcap_ward,
                                         dry_run=False, acting_user=nurse)
    assert (again.count("unchanged"), AdverseEvent.objects.count()) == (20, 20)
    with pytest.raises(ImportFileError, match="REDCap refused the export"):
        adverse_events_import_redcap(site=redcap_ward.site, url=redcap_server, token="B" * 32, mapping=redcap_ward,
                                     dry_run=True, acting_user=nurse)


def test_the_command_reads_the_token_from_the_environment(redcap_server, redcap_ward, nurse, monkeypatch,  # noqa: F811
                                                          capsys):
    _Stub.body = redcap_csv(bad=False)
    args = ["import_aes", "--site", "ward-a", "--user", "nurse", "--redcap-url", redcap_server,
            "--mapping", "REDCap AE instrument", "--dry-run"]
    with pytest.raises(CommandError, match=r"API token in \$REDCAP_API_TOKEN"):
        call_command(*args)
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    call_command(*args)
    assert "Dry run, nothing saved: 20 to create" in capsys.readouterr().out
