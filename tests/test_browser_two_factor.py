"""Enrolling an authenticator app in Debian's Chromium, as a safety officer does at the first login (issue 11 item 4):
the QR code shows, and the code the app then gives completes the enrolment."""

from __future__ import annotations

import os

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from patients.models import Membership
from tests.conftest import PASSWORD, make_user
from tests.security.test_two_factor import code

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_officer_scans_the_qr_code_and_enrols_with_the_apps_code(live_server, page, ward, settings):
    """Found enrolling as an officer does: the QR code never showed (its alt text instead), so the 32-character key
    had to be typed into the phone by hand. The image was an SVG without the SVG namespace, which a browser draws
    inline but refuses as an image (``data:`` URI). Now it loads, at the size the page gives it."""
    settings.PVTRACK_TWO_FACTOR_ROLES = ["safety_officer"]
    officer = make_user("officer", ward, Membership.Role.SAFETY_OFFICER)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", officer.username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/account/two-factor/**")
    qr = page.locator("main img")
    assert qr.get_attribute("alt") == "QR code of your authenticator key"
    page.wait_for_function("() => document.querySelector('main img').complete")
    assert page.evaluate("document.querySelector('main img').naturalWidth") > 0  # drawn, not its alt text
    assert qr.bounding_box()["width"] == 180

    device = TOTPDevice.objects.get(user=officer)
    page.fill("#id_code", code(device))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert TOTPDevice.objects.get(user=officer).confirmed
