"""``python -m benchmarks.run --only concurrent`` (issue 12): a real gunicorn against the database, logged-in
clients POSTing AEs through the form and GETting the trivial view. Checked here on a tiny registry with 2 clients
for a second of each: every POST counted saved one event, and the line carries both p95s and the query count."""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.db import connection

from ae.models import AdverseEvent
from benchmarks.concurrent import measure_concurrent
from benchmarks.generate import generate
from patients.models import Site

pytestmark = pytest.mark.django_db(transaction=True)  # committed, so that the server's processes see the rows


def _test_database_url(name: str) -> str:
    """DATABASE_URL with its database replaced by the test database ``name``: the server must use the test database.
    Only the path changes, so a socket directory given in ``?host=`` (the embedded PostgreSQL of a fresh machine,
    pvtrack.devdb) stays; rebuilt from the connection's settings, the URL pointed at 127.0.0.1:5432 and every request
    of the server failed (500)."""
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path=f"/{quote(name)}"))


def test_the_concurrent_line_saves_each_post_through_a_real_server(monkeypatch):
    generate(sites=1, patients=60, aes=30, seed=5, prefix="cc", log=lambda *_: None)
    monkeypatch.setenv("DATABASE_URL", _test_database_url(connection.settings_dict["NAME"]))
    [line] = measure_concurrent(list(Site.objects.filter(slug__startswith="cc-")), seconds=2, clients=2)
    posts = int(re.match(r"(\d+) POSTs", line.note).group(1))
    assert posts > 0 and line.pvtrack > 0 and line.baseline > 0
    saved = AdverseEvent.objects.filter(term__term="Hiccups", created_by__username="bench-concurrent").count()
    assert saved == posts + 1  # and the one POST whose queries were counted in process
    assert int(re.search(r"\((\d+) queries\)", line.what).group(1)) > 0  # budgeted in tests/test_query_counts.py
