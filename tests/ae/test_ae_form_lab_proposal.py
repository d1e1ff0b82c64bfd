"""Issue 10, "Done when": the AE form proposes the computed grade for a CTCAE term a lab analyte grades, with the
entered-vs-computed query behaviour Fever/Febrile neutropenia and CRS/ICANS have.

The window (docs/grading.md, "Lab terms on the AE form"): the patient's values of the term's analyte collected from
the onset day to the resolution day (today while the event is ongoing), both inclusive; the proposal is the worst
computed grade among them. No value in the window: no proposal, nothing required.

Rule texts checked (NCI CTCAE v5.0, 27 Nov 2017): "Platelet count decreased" (MedDRA 10035528) grade 1 "<LLN -
75,000/mm3; <LLN - 75.0 x 10e9 /L", grade 2 "<75.0 - 50.0 x 10e9 /L", grade 3 "<50.0 - 25.0 x 10e9 /L";
"Hyperkalemia" (10020647) grade 1 ">ULN - 5.5 mmol/L" (a potassium within LLN-ULN is grade 0 of both potassium
terms).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from ae.models import AdverseEvent
from ae.selectors import grade_discrepancies_open
from ae.services.labs import lab_result_record

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def lab(patient, user, day, value, **data):
    return lab_result_record(patient=patient, acting_user=user, data={
        "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150,
        "collected_at": datetime.datetime(2026, 1, day, 7, tzinfo=TZ)} | data)


def form(cycle, **overrides) -> dict:
    data = {"cycle": cycle.pk, "term": "Platelet count decreased", "grade": 2, "onset_date": "2026-01-08",
            "resolution_date": "", "relatedness": "probable", "action_taken": "DOSE NOT CHANGED",
            "outcome": "NOT RECOVERED/NOT RESOLVED", "grading_scale": "ctcae_v5_0", "verbatim_term": ""}
    return data | overrides


def post(client, patient, data):
    return client.post(f"/patients/{patient.pk}/events/new/", data)


@pytest.fixture
def baseline_grade_3(patient, cycle, nurse):
    """Platelets 40 x 10^9/L at the cycle start ("<50.0 - 25.0" = grade 3): later values no worse are not
    treatment-emergent, so they start no episode and the AE is entered by hand."""
    return lab(patient, nurse, 5, 40, baseline=True, cycle=cycle)


def test_the_proposal_is_saved_with_value_unit_sample_time_and_range(client, nurse, patient, cycle,
                                                                     baseline_grade_3):
    """Platelets 60 x 10^9/L on the onset day: grade 2 ("<75.0 - 50.0 x 10e9 /L"); entered as grade 2 it is saved
    with the computed grade and a rationale naming the value, its unit, the sample time and the range."""
    lab(patient, nurse, 8, 60)
    client.force_login(nurse)
    response = post(client, patient, form(cycle))
    assert response.status_code == 302, response.context["form"].errors
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade, event.grade_discrepancy_reason) == (2, 2, "")
    assert "Platelet count 60 ×10⁹/L of 08 Jan 2026 07:00" in event.computed_rationale
    assert "LLN 150 ×10⁹/L" in event.computed_rationale and "< 75" in event.computed_rationale


def test_a_different_grade_needs_the_reason_and_opens_the_query(client, nurse, patient, cycle, ward,
                                                                baseline_grade_3):
    """Platelets 60 x 10^9/L computes grade 2: grade 3 entered without a reason is an error naming the computed grade;
    with the reason the event is saved with both grades and is an open data-quality query, as Fever/CRS/ICANS."""
    lab(patient, nurse, 8, 60)
    client.force_login(nurse)
    refused = post(client, patient, form(cycle, grade=3))
    assert refused.status_code == 200
    error = refused.context["form"].errors["grade_discrepancy_reason"][0]
    assert "computed grade 2" in error and "Platelet count 60 ×10⁹/L of 08 Jan 2026 07:00" in error
    assert AdverseEvent.objects.count() == 0
    saved = post(client, patient, form(cycle, grade=3, grade_discrepancy_reason="Bleeding gums: transfused."))
    assert saved.status_code == 302, saved.context["form"].errors
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade) == (3, 2)
    assert list(grade_discrepancies_open(site=ward)) == [event]


def test_the_window_runs_from_onset_to_resolution(client, nurse, patient, cycle, baseline_grade_3):
    """Values 45 (grade 3) on 7 Jan and 60 (grade 2) on 8 Jan: an event with onset 8 Jan proposes grade 2 (the value
    of the day before is not part of it); onset 7 Jan, resolved 8 Jan, proposes the worst of both, grade 3."""
    lab(patient, nurse, 7, 45)
    lab(patient, nurse, 8, 60)
    client.force_login(nurse)
    assert post(client, patient, form(cycle, grade=2)).status_code == 302
    assert AdverseEvent.objects.get().computed_grade == 2
    AdverseEvent.objects.all().delete()
    refused = post(client, patient, form(cycle, grade=2, onset_date="2026-01-07", resolution_date="2026-01-08",
                                         outcome="RECOVERED/RESOLVED"))
    assert "computed grade 3" in refused.context["form"].errors["grade_discrepancy_reason"][0]


def test_a_normal_value_proposes_grade_0_of_either_direction(client, nurse, patient, cycle):
    """Potassium 4.0 mmol/L within 3.5-5.0 is grade 0 (not Hypokalemia "<LLN - 3.0", not Hyperkalemia ">ULN -
    5.5"): a Hyperkalemia grade 1 entered that day needs the reason."""
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "potassium", "value": 4.0, "unit": "mmol/L", "lln": 3.5, "uln": 5.0,
        "collected_at": datetime.datetime(2026, 1, 8, 7, tzinfo=TZ)})
    client.force_login(nurse)
    refused = post(client, patient, form(cycle, term="Hyperkalemia", grade=1))
    assert refused.status_code == 200
    assert "computed grade 0" in refused.context["form"].errors["grade_discrepancy_reason"][0]


def test_no_lab_value_no_proposal_nothing_required(client, nurse, patient, cycle):
    """No platelet count from the onset day on: no proposal, the grade is the clinician's and needs no reason; the
    help text says so."""
    client.force_login(nurse)
    page = client.get(f"/patients/{patient.pk}/events/new/").context["form"]
    assert "no lab value" in str(page.fields["grade_discrepancy_reason"].help_text).lower()
    response = post(client, patient, form(cycle, grade=3))
    assert response.status_code == 302, response.context["form"].errors
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade) == (3, None)
