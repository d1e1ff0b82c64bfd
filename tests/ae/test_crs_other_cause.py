"""ASTCT 2019 CRS table footnotes: fever is a temperature >= 38 °C "not attributable to any other cause", and the grade
is set by "hypotension or hypoxia not attributable to any other cause" (issue 10: CRS lacked what item 3 gave ICANS).
The bedside CRS form records which findings are attributed to another cause and names it."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from ae.models import AdverseEvent, CRSAssessment

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def crs_post(cycle, **criteria) -> dict:
    return {"episode": "", "cycle": cycle.pk, "assessed_at": datetime.datetime(2026, 1, 6, 8, tzinfo=TZ)
            .strftime("%Y-%m-%dT%H:%M"), "oxygen_device": "none", "relatedness": "probable",
            "action_taken": "DRUG INTERRUPTED"} | criteria


def test_septic_hypotension_set_aside_grades_crs_by_fever_alone(client, nurse, patient, cycle):
    """Fever 39.2 °C with norepinephrine for E. coli sepsis: ASTCT grade 1 (fever), not 3; the history names the
    cause. CTCAE v5.0 and Lee 2014 have no such clause and still read the pressor."""
    client.force_login(nurse)
    url = f"/patients/{patient.pk}/crs/new/"
    assert "Findings attributable to another cause" in client.get(url).content.decode()
    response = client.post(url, crs_post(cycle, temperature_c="39.2", hypotension="on", vasopressors=["norepinephrine"],
                                         other_cause_findings=["hypotension"], other_cause="E. coli line sepsis"))
    assert response.status_code == 302, response.context["form"].errors
    assessment = CRSAssessment.objects.get()
    assert (assessment.astct_grade, assessment.other_cause_findings) == (1, ["hypotension"])
    assert "attributable to another cause" in assessment.astct_rationale
    assert assessment.ctcae_grade == 3  # CTCAE v5.0 CRS: hypotension managed with one pressor
    history = client.get(f"/events/{AdverseEvent.objects.get().pk}/history/").content.decode()
    assert "attributed to another cause (E. coli line sepsis): hypotension" in history


def test_a_finding_set_aside_needs_its_cause_named(client, nurse, patient, cycle):
    client.force_login(nurse)
    response = client.post(f"/patients/{patient.pk}/crs/new/", crs_post(
        cycle, temperature_c="39.2", hypotension="on", other_cause_findings=["hypotension"]))
    assert response.status_code == 200
    assert "other_cause" in response.context["form"].errors
    assert CRSAssessment.objects.count() == 0
