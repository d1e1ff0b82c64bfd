"""The AE listing page: filters, sort, pagination, CSV/XLSX export of the filtered rows, site scoping."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile

import pytest

from ae import listing_views
from tests.conftest import make_cycle, make_event, make_patient


@pytest.fixture
def listed(ward):
    a, b = make_patient(ward, "L-A"), make_patient(ward, "L-B")
    a1, a2 = make_cycle(a, 1, datetime.date(2026, 1, 5)), make_cycle(a, 2, datetime.date(2026, 2, 9))
    b1 = make_cycle(b, 1, datetime.date(2026, 1, 12))
    make_event(a1, "Cytokine release syndrome", 2, onset_day=1, resolution_date=datetime.date(2026, 1, 8))
    make_event(a1, "Anemia", 3, onset_day=4, serious=True, sae_hospitalization=True)
    make_event(a2, "Cytokine release syndrome", 1, onset_day=2, verbatim_term="fever and rigors")
    make_event(b1, "Neutrophil count decreased", 4, onset_day=3)
    make_event(b1, "Anemia", 2, onset_day=-2, present_before_cycle=True)  # not treatment-emergent
    return ward


def _ids(response) -> list[str]:
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    return [f"{r[0]}/{r[1]}/{r[2]}/{r[5]}" for r in rows[1:]]


@pytest.mark.parametrize("query, expected", [
    ("", ["L-A/2/Cytokine release syndrome/1", "L-B/1/Neutrophil count decreased/4", "L-B/1/Anemia/2",
          "L-A/1/Anemia/3", "L-A/1/Cytokine release syndrome/2"]),  # newest onset first
    ("term=cytokine&sort=onset", ["L-A/1/Cytokine release syndrome/2", "L-A/2/Cytokine release syndrome/1"]),
    ("term=rigors", ["L-A/2/Cytokine release syndrome/1"]),  # verbatim term
    ("grade_min=3&sort=-grade", ["L-B/1/Neutrophil count decreased/4", "L-A/1/Anemia/3"]),
    ("serious=yes", ["L-A/1/Anemia/3"]),
    ("cycle=2", ["L-A/2/Cytokine release syndrome/1"]),
    ("patient=l-b&sort=term", ["L-B/1/Anemia/2", "L-B/1/Neutrophil count decreased/4"]),
    ("onset_from=2026-01-08&onset_to=2026-01-31&sort=onset", ["L-A/1/Anemia/3", "L-B/1/Anemia/2",
                                                             "L-B/1/Neutrophil count decreased/4"]),
    ("open=no", ["L-A/1/Cytokine release syndrome/2"]),
    ("emergent=no", ["L-B/1/Anemia/2"]),
    ("outcome=FATAL", []),
    ("soc=blood&sort=patient", ["L-A/1/Anemia/3", "L-B/1/Anemia/2"]),
    ("category=crs&sort=onset", ["L-A/1/Cytokine release syndrome/2", "L-A/2/Cytokine release syndrome/1"]),
    ("category=anemia&sort=patient", ["L-A/1/Anemia/3", "L-B/1/Anemia/2"]),
    ("category=neutropenia", ["L-B/1/Neutrophil count decreased/4"]),
    ("category=seizure", []),
])
def test_filters_and_sorts(client, listed, nurse, query, expected):
    client.force_login(nurse)
    response = client.get(f"/sites/ward-a/events/?{query}&format=csv")
    assert response.status_code == 200
    assert _ids(response) == expected


def test_the_page_paginates_and_keeps_filters_in_its_links(client, listed, nurse, monkeypatch):
    monkeypatch.setattr(listing_views, "PAGE_SIZE", 2)
    client.force_login(nurse)
    page = client.get("/sites/ward-a/events/?term=a&sort=onset").content.decode()
    assert "5 adverse events" in page and "Page 1 of 3" in page
    assert "term=a&amp;sort=onset&amp;page=2" in page and "sort=onset&amp;format=xlsx" in page
    assert "Page 3 of 3" in client.get("/sites/ward-a/events/?page=99").content.decode()


def test_bad_filter_values_show_errors_not_a_500(client, listed, nurse):
    client.force_login(nurse)
    response = client.get("/sites/ward-a/events/?onset_from=yesterday&grade=high&sort=nonsense&category=nope")
    assert response.status_code == 200
    assert "Enter a valid date" in response.content.decode() and "0 adverse events" in response.content.decode()
    assert "Select a valid choice. nope is not one of the available choices." in response.content.decode()


def test_xlsx_export_and_site_scoping(client, listed, nurse, outsider):
    client.force_login(nurse)
    response = client.get("/sites/ward-a/events/?format=xlsx&serious=yes")
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as book:
        assert "Anemia" in workbook_text(book)
    client.force_login(outsider)
    assert client.get("/sites/ward-a/events/").status_code == 404
    assert client.get("/sites/ward-a/events/?format=csv").status_code == 404


def workbook_text(book) -> str:
    """The text of every cell of an XLSX zip (shared strings, or inline strings as constant_memory writes them)."""
    return "".join(book.read(name).decode("utf-8") for name in book.namelist()
                   if name == "xl/sharedStrings.xml" or name.startswith("xl/worksheets/sheet"))


def test_the_listing_exports_stream_from_a_server_side_cursor(client, listed, nurse, monkeypatch):
    """Issue 12: the CSV is streamed and both exports read the events a chunk at a time (``iterator``); XLSX in
    constant_memory mode, sent from a temporary file."""
    from django.db.models.query import QuerySet

    from ae import listing_views

    monkeypatch.setattr(listing_views, "CHUNK_ROWS", 2)
    chunks = []
    original = QuerySet.iterator
    monkeypatch.setattr(QuerySet, "iterator", lambda self, chunk_size=None: chunks.append(chunk_size)
                        or original(self, chunk_size=chunk_size))
    client.force_login(nurse)
    response = client.get("/sites/ward-a/events/?format=csv")  # COPY, streamed: no model instances at all
    assert response.streaming and len(_ids(response)) == 5 and chunks == []
    response = client.get("/sites/ward-a/events/?format=xlsx")
    assert response.streaming and chunks == [2]
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as book:
        assert "inlineStr" in book.read("xl/worksheets/sheet1.xml").decode()  # constant_memory writes inline


@pytest.mark.parametrize("query", ["", "sort=grade", "serious=yes", "term=anemia&sort=-onset"])
def test_the_copy_csv_has_the_same_rows_as_the_python_writer(listed, query):
    """``ae.listing_copy`` (PostgreSQL COPY) writes what ``listing_row`` + Python's csv write, formula text quoted."""
    from django.http import QueryDict

    from ae import listing_copy, listing_views
    from ae.listing import LISTING_HEADER, listing
    from ae.models import AdverseEvent

    AdverseEvent.objects.filter(verbatim_term="fever and rigors").update(verbatim_term="=HYPERLINK(\"x\")")
    AdverseEvent.objects.filter(grade=4).update(verbatim_term="-2, \"quoted\"\nsecond line",
                                                serious=True, sae_death=False, sae_hospitalization=True,
                                                sae_medically_important=True)
    events = listing(listed, QueryDict(query).dict())[1]
    python = list(csv.reader(io.StringIO("".join(listing_views.csv_lines(events)))))
    copied = list(csv.reader(io.StringIO(b"".join(listing_copy.csv_blocks(events, list(LISTING_HEADER))).decode())))
    assert copied == python and len(python) > 1
    assert any(row[3] == "'=HYPERLINK(\"x\")" for row in copied) or query not in ("", "sort=grade")


def test_the_exports_are_in_english_whatever_the_readers_language(client, listed, nurse):
    """The page speaks the user's language; the CSV and XLSX write the choice labels in English, like their header
    and Yes/No, so one file reads the same for every user (a Polish user's export mixed Polish outcome labels with
    English Yes/No)."""
    listed.language = "pl"  # the ward's language: its users' default
    listed.save(update_fields=["language"])
    client.force_login(nurse)
    assert "Bez wyzdrowienia/nie ustąpiło" in client.get("/sites/ward-a/events/?sort=onset").content.decode()
    rows = list(csv.reader(io.StringIO(b"".join(client.get("/sites/ward-a/events/?format=csv")).decode())))
    assert {r[13] for r in rows[1:]} == {"Recovered/resolved", "Not recovered/not resolved"}
    assert {r[11] for r in rows[1:]} == {"Probably related"}
    assert {r[9] for r in rows[1:]} == {"Yes", "No"}
    with zipfile.ZipFile(io.BytesIO(client.get("/sites/ward-a/events/?format=xlsx").getvalue())) as book:
        text = workbook_text(book)
    assert "Probably related" in text and "Not recovered/not resolved" in text and "Recovered/resolved" in text
    assert "wyzdrowienia" not in text and "Wyzdrowienie" not in text
