"""A rationale quoted in brackets reads as a clause: "(Grade 1: ALT 80 U/L = 2 x ULN 40 U/L (> 1 x ULN))." and
not "(… (> 1 x ULN).).". The rules end each rationale with a full stop (it is also shown on its own); the messages
that quote one in brackets drop it (:func:`core.text.as_clause`)."""

from __future__ import annotations

import html

import pytest

from core.text import as_clause
from tests.ae.test_lab_grade_override import post


@pytest.mark.parametrize(("text", "clause"), [
    ("Grade 1: ALT 80 U/L = 2 x ULN 40 U/L (> 1 x ULN).", "Grade 1: ALT 80 U/L = 2 x ULN 40 U/L (> 1 x ULN)"),
    ("Grade 0: 200 ×10⁹/L (>= LLN).  ", "Grade 0: 200 ×10⁹/L (>= LLN)"),
    ("no full stop", "no full stop"),
    ("an ellipsis…", "an ellipsis…"),
    ("dots...", "dots..."),
    ("", ""),
])
def test_a_clause_loses_its_one_closing_full_stop(text, clause):
    assert as_clause(text) == clause


@pytest.mark.django_db
def test_the_lab_saved_message_quotes_the_rationale_as_a_clause(client, nurse, patient, cycle):
    client.force_login(nurse)
    page = html.unescape(client.get(post(client, patient, analyte="alt", value="80", unit="U/L", uln="40",
                                         lln="").url).content.decode())
    assert "Saved: ALT 80 U/L of 08 Jan 2026 07:00 — Alanine aminotransferase increased grade 1 (Grade 1: " in page
    assert "(> 1 x ULN))." in page and ".)." not in page


@pytest.mark.django_db
def test_the_override_error_quotes_the_rationale_as_a_clause(client, nurse, patient, cycle):
    client.force_login(nurse)
    response = post(client, patient, value="60", entered_grade="3")
    error = response.context["form"].errors["grade_discrepancy_reason"][0]
    assert "< 75 ×10⁹/L): give the reason." in error and ".)" not in error
