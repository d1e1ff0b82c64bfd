"""Two-factor authentication (TOTP, django-otp) for the roles that sign: enforced at login, for API tokens and for
signatures; recovery codes; optional for ward staff. Issue 11, "What must hold afterwards"."""

from __future__ import annotations

import base64

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from core.otp import authenticator_confirm, authenticator_start
from reports.models import RunSignoff
from reports.runs import benchmark_run_now
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db

SETUP, VERIFY = "/account/two-factor/", "/account/two-factor/verify/"


@pytest.fixture(autouse=True)
def _two_factor_on(settings):
    settings.PVTRACK_TWO_FACTOR_ROLES = ["safety_officer", "administrator", "network_coordinator"]  # production's
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a right code straight after a wrong one (the throttle: its own test)


def code(device: TOTPDevice) -> str:
    """The code the app shows now; forgets the last step used, as if the next 30-second step had come."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    device = authenticator_start(user)
    codes = authenticator_confirm(user=user, device=device, code=code(device))
    assert codes is not None
    return device, codes


def password_login(client, username: str):
    return client.post("/login/", {"username": username, "password": PASSWORD})


def test_the_production_default_requires_two_factor_of_the_roles_that_sign():
    from pvtrack import settings as production

    assert production.PVTRACK_TWO_FACTOR_ROLES == ["safety_officer", "administrator", "network_coordinator"]
    assert "pvtrack.twofactor.TwoFactorMiddleware" in production.MIDDLEWARE


def test_an_officer_without_an_authenticator_must_enrol_before_anything_else(client, officer, patient):
    assert password_login(client, "officer").status_code == 302
    response = client.get("/sites/ward-a/report/")
    assert response.status_code == 302 and response["Location"].startswith(SETUP)
    response = client.get("/api/v1/patients/")
    assert response.status_code == 403 and response.json()["code"] == "two_factor_required"
    page = client.get(SETUP)
    assert page.status_code == 200 and 'id="totp-key"' in page.text
    # the QR code: an SVG image with its namespace, which an <img> needs (drawn: tests/test_browser_two_factor.py)
    assert "data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns%3D%27http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%27" in page.text
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    assert client.post(SETUP, {"code": "000000"}).status_code == 400
    response = client.post(SETUP, {"code": code(device), "next": "/sites/ward-a/report/"})
    assert response.status_code == 200
    shown = [c for c in StaticToken.objects.filter(device__user=officer).values_list("token", flat=True)]
    assert len(shown) == 10 and all(c in response.text for c in shown)
    assert client.get("/sites/ward-a/report/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200


def test_an_enrolled_officer_logs_in_with_password_then_code(client, officer):
    device, _ = enrolled(officer)
    password_login(client, "officer")
    response = client.get("/sites/ward-a/report/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"code": "123456", "next": "/sites/ward-a/report/"}).status_code == 400
    assert client.get("/sites/ward-a/report/").status_code == 302
    response = client.post(VERIFY, {"code": code(device), "next": "/sites/ward-a/report/"})
    assert response.status_code == 302 and response["Location"] == "/sites/ward-a/report/"
    assert client.get("/sites/ward-a/report/").status_code == 200


def test_a_recovery_code_logs_in_once(client, officer):
    _, codes = enrolled(officer)
    password_login(client, "officer")
    assert client.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert client.get("/sites/ward-a/report/").status_code == 200
    client.logout()
    password_login(client, "officer")
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 400  # used
    assert StaticToken.objects.filter(device__user=officer).count() == 9


def test_wrong_codes_are_throttled(client, officer, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    device, _ = enrolled(officer)
    password_login(client, "officer")
    """After n wrong codes the next attempt waits 2**(n-1) s (django-otp): a guesser gets about 12 tries a minute
    at first, and fewer and fewer (n tries take about 2**n s)."""
    assert client.post(VERIFY, {"code": "000000"}).status_code == 400
    assert client.post(VERIFY, {"code": code(device)}).status_code == 400  # right, but within the 1 s back-off
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 1


def test_ward_staff_need_no_second_factor_but_may_enrol(client, nurse, patient):
    password_login(client, "nurse")
    assert client.get("/sites/ward-a/patients/").status_code == 200
    device = authenticator_start(nurse)
    assert client.post(SETUP, {"code": code(device)}).status_code == 200  # enrolled and verified in this session
    assert client.get("/sites/ward-a/patients/").status_code == 200
    client.logout()
    password_login(client, "nurse")  # from now on the nurse's own choice is enforced
    assert client.get("/sites/ward-a/patients/")["Location"].startswith(VERIFY)


def test_a_network_coordinator_must_enrol_before_seeing_the_network(client, ward):
    """The coordinator signs nothing but sees every ward of the network by name: a stolen password alone must not
    open that view (production default, ``patients.access.TWO_FACTOR_ROLES``)."""
    from patients.models import Membership
    from tests.conftest import make_user

    coordinator = make_user("coordinator", ward, Membership.Role.NETWORK_COORDINATOR)
    password_login(client, "coordinator")
    response = client.get("/network/")
    assert response.status_code == 302 and response["Location"].startswith(SETUP)
    device = authenticator_start(coordinator)
    assert client.post(SETUP, {"code": code(device)}).status_code == 200
    assert client.get("/network/").status_code == 200


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


def test_the_token_login_asks_for_the_code(officer, nurse):
    api = APIClient()
    response = api.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=basic("officer"))
    assert response.status_code == 403 and "set it up" in response.json()["detail"]
    device, _ = enrolled(officer)
    response = api.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=basic("officer"))
    assert response.status_code == 403 and response.json()["code"] == "two_factor_required"
    response = api.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=basic("officer"), HTTP_X_OTP_TOKEN=code(device))
    assert response.status_code == 200 and response.json()["token"]
    assert api.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=basic("nurse")).status_code == 200


@pytest.fixture
def flagged_run(ward):
    for i in range(8):
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    return run


def test_a_signature_needs_the_password_and_the_code(client, officer, flagged_run):
    device, _ = enrolled(officer)
    password_login(client, "officer")
    client.post(VERIFY, {"code": code(device)})
    page = client.get("/sites/ward-a/report/").text
    assert 'name="otp_code"' in page
    sign = f"/benchmark-runs/{flagged_run.pk}/sign/"
    response = client.post(sign, {"password": PASSWORD})
    assert response.status_code == 400 and "authenticator code is not correct" in response.text
    response = client.post(sign, {"password": PASSWORD, "otp_code": "000000"})
    assert response.status_code == 400 and not RunSignoff.objects.exists()
    assert client.post(sign, {"password": PASSWORD, "otp_code": code(device)}).status_code == 302
    assert RunSignoff.objects.filter(signed_by=officer).exists()


def test_an_officer_who_has_not_enrolled_cannot_sign(officer, flagged_run):
    from django.core.exceptions import ValidationError

    from reports.signatures import run_signoff

    with pytest.raises(ValidationError, match="set it up"):
        run_signoff(run=flagged_run, acting_user=officer, password=PASSWORD)
    assert not RunSignoff.objects.exists()
