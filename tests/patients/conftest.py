"""Shared by the patients tests (language, notifications): a logged-in client and a ward whose language is Polish."""

from __future__ import annotations

import pytest
from django.test import Client


def logged_in(user) -> Client:
    """A test client logged in as ``user`` (the locale is worked out at log-in, user_logged_in, and kept in the
    session)."""
    client = Client()
    client.force_login(user)
    return client


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
