"""Issue 11 finding 3: an API token outlived a password change (the old token still read and wrote for up to its
10 h lifetime). Now every token of a user is deleted when the password changes or the user is deactivated."""

from __future__ import annotations

import base64

import pytest
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def token_for(username: str) -> str:
    basic = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    response = APIClient().post("/api/v1/auth/login/", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200
    return response.json()["token"]


def reads(token: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get("/api/v1/patients/").status_code


def test_a_password_change_revokes_every_token_of_the_user_and_no_one_elses(nurse, officer, patient):
    first, second, other = token_for("nurse"), token_for("nurse"), token_for("officer")
    assert reads(first) == 200
    nurse.set_password("a-new-password-2026")
    nurse.save()
    assert reads(first) in (401, 403) and reads(second) in (401, 403)
    assert reads(other) == 200
    assert list(AuthToken.objects.values_list("user__username", flat=True)) == ["officer"]


def test_the_changepassword_command_revokes_the_tokens(nurse, patient, monkeypatch):
    token = token_for("nurse")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-new-password-2026")
    call_command("changepassword", "nurse")
    assert reads(token) in (401, 403)
    assert not AuthToken.objects.filter(user=nurse).exists()


def test_deactivating_a_user_revokes_every_token(nurse, patient):
    token = token_for("nurse")
    nurse.is_active = False
    nurse.save(update_fields=["is_active"])
    assert not AuthToken.objects.filter(user=nurse).exists()
    nurse.is_active = True
    nurse.save()
    assert reads(token) in (401, 403)  # reactivation does not bring the token back


def test_other_changes_to_the_user_keep_the_tokens(nurse, patient):
    token = token_for("nurse")
    nurse.first_name = "Anna"
    nurse.save()
    nurse.refresh_from_db()
    nurse.save()  # last_login and the like are saved on every web login
    assert reads(token) == 200
