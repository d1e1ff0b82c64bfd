"""Friendly error pages (issue 15 item 7): 403/404/500 in the app's layout, saying what happened and where to go;
the favicon. Playwright drives Debian's Chromium for what a browser sees; the 500 page, which a live server
cannot be made to raise on demand, goes through Django's test client with a view that fails."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

from patients.models import Membership
from tests.conftest import log_in, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _boom(request):
    raise RuntimeError("an unexpected failure")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [path("boom/", _boom), path("forbidden/", _forbidden)]
from pvtrack.urls import urlpatterns as _site_urlpatterns  # noqa: E402

urlpatterns += _site_urlpatterns
handler500 = "core.errors.server_error"


def _assert_in_layout(html: str, heading: str) -> None:
    assert 'href="/static/pvtrack.css"' in html and 'rel="icon"' in html  # the app's layout and its icon
    assert f"<h1>{heading}</h1>" in html
    assert '<a href="/">Your wards</a>' in html  # where to go


@pytest.mark.urls("tests.test_browser_error_pages")
def test_500_page_in_the_layout_says_nothing_was_saved(db):
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    _assert_in_layout(html, "Something went wrong on our side")
    assert "it was not saved" in html


@pytest.mark.urls("tests.test_browser_error_pages")
def test_403_page_in_the_layout(client, ward):
    client.force_login(make_user("nurse", ward))
    response = client.get("/forbidden/")
    assert response.status_code == 403
    html = response.content.decode()
    _assert_in_layout(html, "You are not allowed to do this")
    assert "Nothing was changed" in html and ">Log out</button>" in html  # the signed-in navigation is there


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_404_page_in_the_layout_with_the_navigation(live_server, page, ward):
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    log_in(page, live_server.url, nurse.username)
    response = page.goto(f"{live_server.url}/patients/987654/")
    assert response is not None and response.status == 404
    assert page.title() == "Page not found · pvtrack"
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").is_visible()
    with page.expect_navigation() as nav:
        page.get_by_role("link", name="Your wards").click()
    assert nav.value is not None and nav.value.ok  # the start page (one ward: its patient list)
    assert "987654" not in page.url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_expired_form_answers_the_403_page_saying_nothing_was_saved(live_server, page, ward):
    page.goto(f"{live_server.url}/login/")
    page.context.clear_cookies()  # as when the session and its CSRF cookie are gone
    page.fill("#id_username", "nurse")
    page.fill("#id_password", "whatever")
    with page.expect_navigation() as nav:
        page.keyboard.press("Enter")
    assert nav.value is not None and nav.value.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Your form could not be sent"
    assert "nothing was saved" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Your wards").is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_favicon_is_linked_and_served(live_server, page):
    page.goto(f"{live_server.url}/login/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href == "/static/favicon.svg"
    icon = page.request.get(f"{live_server.url}{href}")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    legacy = page.request.get(f"{live_server.url}/favicon.ico")  # what browsers ask for unprompted
    assert legacy.status == 200 and legacy.url.endswith("/static/favicon.svg")
