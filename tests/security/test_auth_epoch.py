"""Issue 19 item 4: after a restore, sessions and API tokens from the restored database are refused.

The epoch is ``PVTRACK_AUTH_NOT_BEFORE`` (configuration, not the database: pvtrack/auth_epoch.py). The fault
harness's restore rehearsal (tests/faults/test_restore.py) shows it on a really restored database.
"""

from __future__ import annotations

import datetime
import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from knox.models import AuthToken

from pvtrack.auth_epoch import LOGIN_AT_KEY

SETTINGS = Path(__file__).resolve().parents[2] / "pvtrack" / "settings.py"
API = "/api/v1/adverse-events/"


def _in(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


@pytest.mark.django_db
def test_a_token_issued_before_the_epoch_is_refused_and_one_after_it_accepted(client, nurse, settings):
    _, old = AuthToken.objects.create(user=nurse)
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {old}").status_code == 200  # no epoch: as before

    settings.PVTRACK_AUTH_NOT_BEFORE = _in(1)  # "the restore happened now"
    refused = client.get(API, HTTP_AUTHORIZATION=f"Token {old}")
    # as for an unknown token: 401 with the token challenge (the token class comes first)
    unknown = client.get(API, HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert refused.status_code == unknown.status_code == 401
    assert refused["WWW-Authenticate"] == unknown["WWW-Authenticate"]
    assert refused.json()["detail"] == unknown.json()["detail"] == "Invalid token."

    logout = client.post("/api/v1/auth/logout/", HTTP_AUTHORIZATION=f"Token {old}")
    assert logout.status_code == 401  # knox's own log-out views check the epoch too

    issued, new = AuthToken.objects.create(user=nurse)
    AuthToken.objects.filter(digest=issued.digest).update(created=_in(2))  # issued after the restore
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


@pytest.mark.django_db
def test_a_session_logged_in_before_the_epoch_is_logged_out(client, nurse, settings):
    client.force_login(nurse)
    assert isinstance(client.session[LOGIN_AT_KEY], float)
    assert client.get(API).status_code == 200

    settings.PVTRACK_AUTH_NOT_BEFORE = _in(1)
    assert client.get(API).status_code == 401  # logged out: no credentials
    page = client.get("/")
    assert page.status_code == 302 and "/login/" in page["Location"]
    assert "_auth_user_id" not in client.session  # flushed, not only hidden

    settings.PVTRACK_AUTH_NOT_BEFORE = _in(-60)  # a later log-in is after the epoch
    client.force_login(nurse)
    assert client.get(API).status_code == 200


@pytest.mark.django_db
def test_a_session_without_a_login_time_counts_as_older_than_any_epoch(client, nurse, settings):
    client.force_login(nurse)
    session = client.session
    del session[LOGIN_AT_KEY]
    session.save()
    assert client.get(API).status_code == 200
    settings.PVTRACK_AUTH_NOT_BEFORE = timezone.now() - datetime.timedelta(days=365)
    assert client.get(API).status_code == 401  # logged out: no credentials


def test_the_epoch_is_read_from_the_environment_or_a_secret_file(monkeypatch, tmp_path):
    monkeypatch.setenv("PVTRACK_AUTH_NOT_BEFORE", "2026-03-01T14:30:00Z")
    assert runpy.run_path(str(SETTINGS))["PVTRACK_AUTH_NOT_BEFORE"] == datetime.datetime(
        2026, 3, 1, 14, 30, tzinfo=datetime.UTC)
    monkeypatch.delenv("PVTRACK_AUTH_NOT_BEFORE")
    (tmp_path / "epoch").write_text("2026-03-02T10:00:00+01:00\n")
    monkeypatch.setenv("PVTRACK_AUTH_NOT_BEFORE_FILE", str(tmp_path / "epoch"))
    assert runpy.run_path(str(SETTINGS))["PVTRACK_AUTH_NOT_BEFORE"] == datetime.datetime(
        2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("value", ["yesterday", "2026-03-01T14:30:00"])
def test_an_unreadable_or_naive_epoch_is_refused(monkeypatch, value):
    monkeypatch.setenv("PVTRACK_AUTH_NOT_BEFORE", value)
    with pytest.raises(ImproperlyConfigured, match="PVTRACK_AUTH_NOT_BEFORE"):
        runpy.run_path(str(SETTINGS))
