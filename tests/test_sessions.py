"""core.sessions: a session update outside a transaction is one UPDATE; Django's errors otherwise (issue 12)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.sessions import SessionStore

# Outside a transaction is what is tested: these tests commit, so they run last (tests/conftest.py).
pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_an_update_outside_a_transaction_is_one_statement_and_is_saved(settings):
    assert settings.SESSION_ENGINE == "core.sessions"  # what every request uses
    session = SessionStore()
    session["ward"] = "a"
    session.save()  # created: Django's own path
    session["ward"] = "b"
    with CaptureQueriesContext(connection) as captured:
        session.save()
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["UPDATE"]
    assert SessionStore(session_key=session.session_key)["ward"] == "b"


def test_an_update_inside_a_transaction_keeps_djangos_savepoint():
    session = SessionStore()
    session.save()
    session["ward"] = "c"
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        session.save()
    assert any("SAVEPOINT" in q["sql"] for q in captured.captured_queries)
    assert SessionStore(session_key=session.session_key)["ward"] == "c"


def test_updating_a_deleted_session_raises_djangos_update_error():
    session = SessionStore()
    session.save()
    Session.objects.filter(session_key=session.session_key).delete()  # e.g. logged out elsewhere
    session["ward"] = "d"
    with pytest.raises(UpdateError):
        session.save()
