"""Authentication: lockout after repeated failures (django-axes), expiring hashed API tokens (knox), session
expiry for shared ward PCs, and passwords kept out of error reports."""

from __future__ import annotations

import base64
import datetime

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import views as auth_views
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter
from knox.models import AuthToken
from rest_framework.test import APIClient

from pvtrack.auth import TokenLoginView
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
API_LOGIN = "/api/v1/auth/login/"
WRONG = "not-the-password-42"


def web_login(client, username="nurse", password=PASSWORD, ip="127.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def api_login(username="nurse", password=PASSWORD, ip="127.0.0.1"):
    return APIClient().post(API_LOGIN, HTTP_AUTHORIZATION=basic(username, password), REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- lockout (django-axes) ------------------------------------------------------------------------------------


def test_five_failures_lock_the_username_on_that_computer_with_a_clear_message(client, nurse, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = web_login(client, password=WRONG)
        assert response.status_code == 200
        assert "didn't match" in response.text
    response = web_login(client, password=WRONG)
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.text
    assert "locked for 15 minutes" in response.text
    assert WRONG not in response.text
    # Locked: even the right password is refused, and nobody is logged in.
    response = web_login(client)
    assert response.status_code == 429
    assert not logged_in(client)


def test_the_lockout_is_per_username_and_address(client, nurse, officer):
    for _ in range(5):
        web_login(client, password=WRONG)
    assert web_login(client).status_code == 429
    # Another user on the same PC, and the same user on another PC, may still log in.
    assert web_login(client, username="officer").status_code == 302
    client.logout()
    assert web_login(client, ip="10.1.2.3").status_code == 302
    assert logged_in(client)


def test_the_lockout_ends_after_the_cool_off_period(client, nurse):
    for _ in range(5):
        web_login(client, password=WRONG)
    assert web_login(client).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=14))
    assert web_login(client).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))
    assert web_login(client).status_code == 302
    assert logged_in(client)


def test_a_successful_login_resets_the_failure_count(client, nurse):
    for _ in range(4):
        web_login(client, password=WRONG)
    assert web_login(client).status_code == 302
    client.logout()
    for _ in range(4):
        assert web_login(client, password=WRONG).status_code == 200
    assert web_login(client).status_code == 302


# --- API tokens (knox) ----------------------------------------------------------------------------------------


def test_the_token_login_issues_an_expiring_token_stored_only_as_a_hash(nurse, patient):
    before = timezone.now()
    response = api_login()
    assert response.status_code == 200
    body = response.json()
    token = body["token"]
    assert len(token) == 64
    stored = AuthToken.objects.get(user=nurse)
    assert token not in (stored.digest, stored.token_key)
    assert stored.token_key == token[:15]  # knox keeps a lookup prefix and the SHA-512 digest, never the token
    expiry = datetime.datetime.fromisoformat(body["expiry"])
    assert datetime.timedelta(hours=9, minutes=59) < expiry - before <= datetime.timedelta(hours=10, seconds=5)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert [p["study_id"] for p in api.get("/api/v1/patients/").json()["results"]] == [patient.study_id]


def test_the_token_lifetime_is_configurable(nurse, settings):
    settings.REST_KNOX = settings.REST_KNOX | {"TOKEN_TTL": datetime.timedelta(hours=1)}
    before = timezone.now()
    expiry = datetime.datetime.fromisoformat(api_login().json()["expiry"])
    assert datetime.timedelta(minutes=59) < expiry - before <= datetime.timedelta(hours=1, seconds=5)


def test_an_expired_token_is_refused(nurse):
    token = api_login().json()["token"]
    AuthToken.objects.update(expiry=timezone.now() - datetime.timedelta(seconds=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/patients/").status_code in (401, 403)


def test_logout_deletes_the_token(nurse):
    token = api_login().json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert not AuthToken.objects.exists()
    assert api.get("/api/v1/patients/").status_code in (401, 403)


def test_logoutall_deletes_every_token_of_the_user(nurse, officer):
    first, second = api_login().json()["token"], api_login().json()["token"]
    api_login(username="officer")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.post("/api/v1/auth/logoutall/").status_code == 204
    assert list(AuthToken.objects.values_list("user__username", flat=True)) == ["officer"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/v1/patients/").status_code in (401, 403)


def test_a_wrong_password_gets_no_token(nurse):
    response = api_login(password=WRONG)
    assert response.status_code == 401
    assert not AuthToken.objects.exists()


def test_the_token_login_is_locked_out_too_and_answers_json(nurse):
    for _ in range(4):
        assert api_login(password=WRONG).status_code == 401
    response = api_login(password=WRONG)
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.json()["detail"]
    assert api_login().status_code == 429
    assert not AuthToken.objects.exists()
    # The lockout is shared with the web login (same username, same address).
    assert web_login(APIClient()).status_code == 429


def test_a_browser_session_can_obtain_a_token(client, nurse):
    client.force_login(nurse)
    csrf_client = APIClient(enforce_csrf_checks=False)
    csrf_client.force_login(nurse)
    response = csrf_client.post(API_LOGIN)
    assert response.status_code == 200
    assert AuthToken.objects.filter(user=nurse).count() == 1


def test_the_old_plain_drf_token_scheme_is_gone(settings):
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    assert "rest_framework.authentication.TokenAuthentication" not in \
        settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]


# --- sessions on shared ward PCs --------------------------------------------------------------------------------


def test_the_session_cookie_dies_with_the_browser_and_the_session_after_30_idle_minutes(client, nurse):
    response = web_login(client)
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert cookie["httponly"]
    session = Session.objects.get()
    remaining = session.expire_date - timezone.now()
    assert datetime.timedelta(minutes=14) < remaining <= datetime.timedelta(minutes=30)


def test_each_request_extends_the_session_and_an_idle_one_expires(client, nurse):
    web_login(client)
    Session.objects.update(expire_date=timezone.now() + datetime.timedelta(minutes=5))
    assert client.get("/sites/ward-a/patients/").status_code == 200
    assert Session.objects.get().expire_date - timezone.now() > datetime.timedelta(minutes=14)
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))  # 30 idle minutes later
    response = client.get("/sites/ward-a/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- passwords kept out of error reports ----------------------------------------------------------------------


@pytest.mark.parametrize("view", [auth_views.LoginView.as_view(), TokenLoginView.as_view()])
def test_login_views_mark_every_post_parameter_sensitive(view, nurse):
    request = RequestFactory().post("/login/", {"username": "nurse", "password": WRONG})
    request.session = {}
    view(request)
    assert request.sensitive_post_parameters == "__ALL__"
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed["password"] != WRONG


# --- issue 11: switching user on a shared PC; the password policy ------------------------------------------------


def test_logging_in_as_someone_else_on_a_shared_pc_ends_the_first_users_session(client, nurse, officer):
    assert web_login(client).status_code == 302
    first_key = client.session.session_key
    client.session["left-behind"] = "nurse's data"  # anything the first user's session held
    assert client.get(LOGIN).status_code == 200  # the login page opens while logged in
    assert web_login(client, username="officer").status_code == 302
    assert client.session["_auth_user_id"] == str(officer.pk)
    assert client.session.session_key != first_key  # a new session, not the nurse's continued
    assert not Session.objects.filter(session_key=first_key).exists()
    assert client.get("/sites/ward-a/report/").status_code == 200  # the officer's page, as the officer


@pytest.mark.parametrize(("password", "accepted"), [
    ("short-9ch", False),  # 9 characters: below the minimum of 10
    ("password123", False),  # on Django's list of 20,000 common passwords
    ("1234567890123", False),  # entirely numeric
    ("blue tractor milk", True),  # a passphrase (NIST SP 800-63B §3.1.1.2: length over composition rules)
])
def test_passwords_follow_the_policy(nurse, password, accepted):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password, user=nurse)
    except ValidationError:
        assert not accepted
    else:
        assert accepted
