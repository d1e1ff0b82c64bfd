"""Shared by the patients tests (language, notifications): a logged-in client and a ward whose language is Polish."""

from __future__ import annotations

import html

import pytest
from django.test import Client


def logged_in(user) -> Client:
    """A test client logged in as ``user`` (the locale is worked out at log-in, user_logged_in, and kept in the
    session)."""
    client = Client()
    client.force_login(user)
    return client


def page_of(response) -> str:
    """The page's HTML with its entities read back ("ż", not "&#380;")."""
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def expect(page: str, language: str, polish: str, english: str) -> None:
    """``page`` shows the text of its language (``polish`` for "pl", else ``english``) and not the other's."""
    shown, hidden = (polish, english) if language == "pl" else (english, polish)
    assert shown in page, shown
    assert hidden not in page, hidden


@pytest.fixture
def polish_ward(ward):
    ward.language, ward.time_zone = "pl", "Europe/Warsaw"
    ward.save()
    return ward


@pytest.fixture(params=["pl", "en-gb"])
def language(request, ward):
    """The ward's language (each test runs for a Polish ward and an English one)."""
    ward.language = request.param
    ward.save()
    return request.param
