"""The adverse-event list pages by keyset cursor (issue 12): bounded pages, no COUNT(*), no OFFSET, stable while
events are added, the filters and ``ordering`` kept."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.api import KeysetPagination
from tests.conftest import api_errors, make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/adverse-events/"


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    client = APIClient()
    client.force_authenticate(nurse)
    return client


@pytest.fixture
def events(ward, nurse):
    """Seven events with repeated grades and onsets (ties the cursor must break by id)."""
    made = []
    for i in range(7):
        cycle = make_cycle(make_patient(ward, f"PG-{i:02d}"))
        made.append(make_event(cycle, "Tremor", grade=1 + i % 3, user=nurse,
                               onset_day=2 + i % 2))
    return made


def walk(client: APIClient, url: str) -> tuple[list[dict], int]:
    """Every row the list gives by following ``next``; and the number of pages."""
    rows, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert set(body) == {"next", "results"}
        rows += body["results"]
        pages += 1
        url = body["next"]
    return rows, pages


@pytest.mark.parametrize("ordering", [None, "-grade", "grade,-onset_date", "onset_date", "-updated_at", "-id"])
def test_following_next_gives_every_event_once_in_the_requested_order(nurse_api, events, ordering):
    query = f"&ordering={ordering}" if ordering else ""
    whole = nurse_api.get(f"{EVENTS}?limit=1000{query}").json()
    assert whole["next"] is None and len(whole["results"]) == 7
    rows, pages = walk(nurse_api, f"{EVENTS}?limit=2{query}")
    assert [r["id"] for r in rows] == [r["id"] for r in whole["results"]]
    assert pages == 4


def test_the_filters_still_apply_across_pages(nurse_api, events):
    rows, _ = walk(nurse_api, f"{EVENTS}?limit=1&grade__gte=2&ordering=-grade")
    assert sorted(r["id"] for r in rows) == sorted(e.pk for e in events if e.grade >= 2)
    assert [r["grade"] for r in rows] == sorted((e.grade for e in events if e.grade >= 2), reverse=True)


def test_a_page_reads_no_count_and_no_offset(nurse_api, events):
    first = nurse_api.get(f"{EVENTS}?limit=2").json()
    with CaptureQueriesContext(connection) as queries:
        assert nurse_api.get(first["next"]).status_code == 200
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql


def test_an_event_added_while_paging_is_neither_skipped_nor_repeated(nurse_api, events, ward, nurse):
    first = nurse_api.get(f"{EVENTS}?limit=3").json()
    added = make_event(make_cycle(make_patient(ward, "PG-NEW")), "Tremor", grade=1, user=nurse)
    rest, _ = walk(nurse_api, first["next"])
    seen = [r["id"] for r in first["results"] + rest]
    assert len(seen) == len(set(seen)) == 8 and added.pk in seen


def test_the_page_size_has_a_maximum(nurse_api, events, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "max_page_size", 3)
    body = nurse_api.get(f"{EVENTS}?limit=100000").json()
    assert len(body["results"]) == 3 and body["next"]
    assert KeysetPagination.page_size <= 100  # the default page stays small


@pytest.mark.parametrize("limit", ["0", "-5", "x"])
def test_a_limit_that_is_not_a_positive_integer_gives_the_default_page(nurse_api, events, limit):
    assert len(nurse_api.get(f"{EVENTS}?limit={limit}").json()["results"]) == 7


@pytest.mark.parametrize("cursor", ["garbage", "eyJvIjpbImlkIl0sInYiOlsiYWJjIl19",  # {"o":["id"],"v":["abc"]}
                                    "eyJvIjpbImlkIl19", "W10"])  # {"o":["id"]}, []
def test_a_cursor_the_server_did_not_issue_answers_400(nurse_api, events, cursor):
    response = nurse_api.get(f"{EVENTS}?cursor={cursor}")
    assert response.status_code == 400 and "cursor" in api_errors(response)


def test_a_cursor_of_another_ordering_answers_400(nurse_api, events):
    nxt = nurse_api.get(f"{EVENTS}?limit=2&ordering=-grade").json()["next"]
    response = nurse_api.get(nxt.replace("ordering=-grade", "ordering=onset_date"))
    assert response.status_code == 400 and "cursor" in api_errors(response)


def test_offset_is_no_longer_a_parameter(nurse_api, events):
    response = nurse_api.get(f"{EVENTS}?limit=2&offset=2")
    assert response.status_code == 400 and "offset" in api_errors(response)
