"""Issue 10 item 5 at the bedside: the CRS assessment stores the CTCAE v4.03 grade beside ASTCT 2019, CTCAE v5.0 and
Lee 2014, from the optional clinical-course inputs v4.03 grades by.

Rule text (CTCAE v4.03, 14 Jun 2010, "Cytokine release syndrome", MedDRA 10052015, as NCI's CTCAE v4.0 to v5.0
mapping sheet reproduces it): grade 1 "Mild reaction; infusion interruption not indicated; intervention not
indicated"; grade 2 "Therapy or infusion interruption indicated but responds promptly to symptomatic treatment
(e.g., antihistamines, NSAIDS, narcotics, IV fluids); prophylactic medications indicated for <=24 hrs"; grade 3
"Prolonged (e.g., not rapidly responsive to symptomatic medication and/or brief interruption of infusion);
recurrence of symptoms following initial improvement; hospitalization indicated for clinical sequelae (e.g., renal
impairment, pulmonary infiltrates)"; grade 4 "Life-threatening consequences; pressor or ventilatory support
indicated". A course criterion that was not recorded leaves the grade undetermined where it could change it.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from ae.episodes import crs_grades
from ae.models import CRSAssessment

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
NO_COURSE = {"therapy_or_interruption_indicated": False, "prolonged_or_recurrent": False,
             "hospitalization_indicated": False, "ventilatory_support": False}


def grades(**data):
    return crs_grades({"oxygen_device": "none"} | data, had_crs_before=False)


def test_fever_alone_with_the_course_recorded_is_grade_1():
    """38.6 °C, no interruption, not prolonged, no hospitalization, no ventilation: "Mild reaction" = grade 1."""
    result = grades(temperature_c=38.6, **NO_COURSE)
    assert result["ctcae_v4_grade"] == 1
    assert "mild reaction" in result["ctcae_v4_rationale"]


def test_an_unrecorded_course_criterion_that_could_raise_it_makes_it_undetermined():
    """38.6 °C with the course not recorded: grade 1 if no course criterion is met, up to grade 3 ("Prolonged ...;
    hospitalization indicated"): undetermined, and the rationale names what to record."""
    result = grades(temperature_c=38.6)
    assert result["ctcae_v4_grade"] is None
    why = result["ctcae_v4_rationale"]
    assert why.startswith("Undetermined") and "grade 3" in why and "prolonged or recurrent" in why


def test_one_pressor_is_grade_4_whatever_the_course():
    """v4.03 grade 4 "pressor ... support indicated": one pressor (ASTCT and v5.0: grade 3) is grade 4, so the
    unrecorded course criteria cannot change it."""
    result = grades(temperature_c=38.9, hypotension=True, vasopressors=["norepinephrine"])
    assert (result["ctcae_v4_grade"], result["astct_grade"], result["ctcae_grade"]) == (4, 3, 3)


def test_infusion_interruption_is_grade_2_and_hospitalization_grade_3_without_fever():
    """v4.03 needs no fever: 37.2 °C with the infusion interrupted and responding promptly = grade 2 (ASTCT: 0);
    hospitalization indicated for clinical sequelae = grade 3."""
    interrupted = grades(temperature_c=37.2, **NO_COURSE | {"therapy_or_interruption_indicated": True})
    assert (interrupted["ctcae_v4_grade"], interrupted["astct_grade"]) == (2, 0)
    admitted = grades(temperature_c=37.2, **NO_COURSE | {"hospitalization_indicated": True})
    assert admitted["ctcae_v4_grade"] == 3


def test_mechanical_ventilation_is_ventilatory_support():
    """v4.03 grade 4 "ventilatory support indicated": an assessment on mechanical ventilation is grade 4 even when the
    ventilatory-support box was left unrecorded; CPAP left unrecorded is undetermined (3 or 4: our reading of
    'ventilatory support' is the nurse's answer)."""
    ventilated = grades(temperature_c=38.5, oxygen_device="mechanical_ventilation", oxygen_fio2_percent=60)
    assert ventilated["ctcae_v4_grade"] == 4
    cpap = grades(temperature_c=38.5, oxygen_device="cpap", oxygen_fio2_percent=50,
                  **NO_COURSE | {"ventilatory_support": None})
    assert cpap["ctcae_v4_grade"] is None


def test_the_form_stores_and_the_episode_page_shows_the_v4_grade(client, nurse, patient, cycle):
    client.force_login(nurse)
    url = f"/patients/{patient.pk}/crs/new/"
    fields = client.get(url).context["form"].fields
    assert dict(fields["prolonged_or_recurrent"].widget.choices)[""] == "Not recorded"
    response = client.post(url, {
        "episode": "", "cycle": cycle.pk, "assessed_at": datetime.datetime(2026, 1, 6, 8, tzinfo=TZ).strftime(
            "%Y-%m-%dT%H:%M"), "oxygen_device": "none", "temperature_c": "38.7", "relatedness": "probable",
        "action_taken": "DRUG INTERRUPTED", "therapy_or_interruption_indicated": "true",
        "prolonged_or_recurrent": "false", "hospitalization_indicated": "false", "ventilatory_support": "false"})
    assert response.status_code == 302, response.context["form"].errors
    assessment = CRSAssessment.objects.get()
    assert (assessment.ctcae_v4_grade, assessment.therapy_or_interruption_indicated,
            assessment.prolonged_or_recurrent) == (2, True, False)
    page = client.get(f"/events/{assessment.adverse_event_id}/history/").content.decode()
    assert "CTCAE v4.03" in page and "therapy or infusion interruption indicated" in page
