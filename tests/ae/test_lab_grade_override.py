"""Issue 10, "Done when": the lab form has the entered-vs-computed override the bedside CRS/ICANS forms have.

The lab value's CTCAE v5.0 grade is computed (``computed_grade``, with its rationale); the clinician may accept it
(the default) or give another grade with the reason. The clinician's grade is the value's effective grade
(``grade``): it feeds the episode, whose grade then differs from the computed one, which opens the entered-vs-computed
data-quality query (docs/labs.md, "Entered vs computed grade").

Rule texts checked (NCI CTCAE v5.0, 27 Nov 2017, Investigations, "Platelet count decreased", MedDRA 10035528):
grade 2 "<75,000 - 50,000/mm3; <75.0 - 50.0 x 10e9 /L", grade 3 "<50,000 - 25,000/mm3; <50.0 - 25.0 x 10e9 /L".
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from pghistory.models import Events

from ae.models import AdverseEvent, LabResult
from ae.selectors import grade_discrepancies_open
from ae.services.labs import lab_result_record

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
WHEN = datetime.datetime(2026, 1, 8, 7, tzinfo=TZ)


def post(client, patient, **data):
    body = {"collected_at": WHEN.strftime("%Y-%m-%dT%H:%M"), "analyte": "platelets", "unit": "10^9/L",
            "lln": "150"} | data
    return client.post(f"/patients/{patient.pk}/labs/new/", body)


def test_the_lab_form_offers_accept_the_computed_grade_by_default(client, nurse, patient, cycle):
    client.force_login(nurse)
    form = client.get(f"/patients/{patient.pk}/labs/new/").context["form"]
    choices = form.fields["entered_grade"].choices
    assert choices[0] == ("", "Accept the computed grade")
    assert [c for c, _ in choices[1:]] == [0, 1, 2, 3, 4]  # a lab grade is 0-4 (grade 5 is the AE's outcome)
    assert "grade_discrepancy_reason" in form.fields


def test_accepting_the_computed_grade_keeps_todays_behaviour(client, nurse, patient, cycle):
    """Platelets 60 x 10^9/L: "<75.0 - 50.0 x 10e9 /L" = grade 2, computed and effective; the episode is grade 2
    with no query."""
    client.force_login(nurse)
    response = post(client, patient, value="60")
    assert response.status_code == 302, response.context["form"].errors
    result = LabResult.objects.get()
    assert (result.grade, result.computed_grade, result.entered_grade) == (2, 2, None)
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade) == (2, 2)
    assert not event.grade_discrepancy_open


def test_an_override_without_reason_is_a_form_error_naming_the_computed_grade(client, nurse, patient, cycle):
    """Platelets 60 x 10^9/L computes grade 2 ("<75.0 - 50.0"): grade 3 without a reason is refused, the message
    names the computed grade and its criterion, and nothing is saved."""
    client.force_login(nurse)
    response = post(client, patient, value="60", entered_grade="3")
    assert response.status_code == 200
    error = response.context["form"].errors["grade_discrepancy_reason"][0]
    assert "computed CTCAE v5.0 grade 2" in error and "60 ×10⁹/L < 75 ×10⁹/L" in error
    assert LabResult.objects.count() == 0 and AdverseEvent.objects.count() == 0


def test_an_override_with_reason_is_saved_and_opens_the_query(client, nurse, patient, cycle, ward):
    """Platelets 60 x 10^9/L computes grade 2; the clinician grades 3 with the reason: the value keeps both grades
    and the reason, the episode takes the clinician's grade 3 (computed 2), and the difference is an open
    data-quality query of the site, as for CRS/ICANS."""
    client.force_login(nurse)
    response = post(client, patient, value="60", entered_grade="3",
                    grade_discrepancy_reason="Falling fast: 30 x 10^9/L on the ward analyser an hour later.")
    assert response.status_code == 302, response.context["form"].errors
    result = LabResult.objects.get()
    assert (result.grade, result.computed_grade, result.entered_grade) == (3, 2, 3)
    assert result.grade_discrepancy_reason.startswith("Falling fast")
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade) == (3, 2)
    assert "Falling fast" in event.grade_discrepancy_reason
    assert list(grade_discrepancies_open(site=ward)) == [event]
    assert "clinician's grade; computed 2" in client.get(f"/events/{event.pk}/history/").content.decode()
    assert "your grade; computed" in client.get(f"/patients/{patient.pk}/labs/new/").content.decode()
    assert "your grade; computed 2" in client.get(f"/patients/{patient.pk}/").content.decode()
    inserted = Events.objects.tracks(result).get()  # the audit trail keeps the override and its reason
    assert inserted.pgh_data["entered_grade"] == 3 and inserted.pgh_data["computed_grade"] == 2


def test_the_episode_follows_the_effective_grade(patient, cycle, nurse):
    """Platelets 60 x 10^9/L (grade 2) starts the episode; 40 x 10^9/L ("<50.0 - 25.0" = grade 3) that the
    clinician grades 2 (with the reason) keeps it at grade 2, computed 3; a later 40 accepted raises it to 3."""
    first = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150, "collected_at": WHEN})
    episode = first.adverse_event
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 40, "unit": "10^9/L", "lln": 150,
        "collected_at": WHEN + datetime.timedelta(days=1), "entered_grade": 2,
        "grade_discrepancy_reason": "Clumped sample: 58 x 10^9/L on the citrate tube."})
    episode.refresh_from_db()
    assert (episode.grade, episode.computed_grade) == (2, 3)
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 40, "unit": "10^9/L", "lln": 150,
        "collected_at": WHEN + datetime.timedelta(days=2)})
    episode.refresh_from_db()
    assert (episode.grade, episode.computed_grade) == (3, 3)


def test_an_entered_grade_decides_an_undetermined_value(patient, cycle, nurse):
    """ANC 1.6 x 10^9/L without the LLN is grade 0 or 1 (CTCAE v5.0 Neutrophil count decreased grade 1 "<LLN -
    1500/mm3" needs the LLN): undetermined. A clinician's grade 1 needs no reason (nothing to differ from) and starts
    the episode."""
    result = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "anc", "value": 1.6, "unit": "10^9/L", "collected_at": WHEN, "entered_grade": 1})
    assert (result.grade, result.computed_grade, result.treatment_emergent) == (1, None, True)
    assert result.adverse_event is not None and result.adverse_event.grade == 1


def test_the_service_refuses_an_override_without_reason_and_a_grade_above_4(patient, cycle, nurse):
    data = {"analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150, "collected_at": WHEN}
    with pytest.raises(ValidationError) as refused:
        lab_result_record(patient=patient, acting_user=nurse, data=data | {"entered_grade": 3})
    assert "computed CTCAE v5.0 grade 2" in str(refused.value.message_dict["grade_discrepancy_reason"])
    with pytest.raises(ValidationError) as five:
        lab_result_record(patient=patient, acting_user=nurse, data=data | {"entered_grade": 5,
                                                                            "grade_discrepancy_reason": "died"})
    assert "entered_grade" in five.value.message_dict
    assert LabResult.objects.count() == 0


def test_a_baseline_recorded_later_keeps_the_clinicians_grade(patient, cycle, nurse):
    """ALT 130 U/L, ULN 40 (3.25 x ULN: ">3.0 - 5.0 x ULN" = grade 2) graded 3 by the clinician; a baseline ALT 80
    recorded later regrades the computed grade (1.6 x the abnormal baseline: "1.5 - 3.0 x baseline" = grade 1) but
    the clinician's grade 3 stays the effective grade."""
    later = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "alt", "value": 130, "unit": "U/L", "uln": 40, "collected_at": WHEN, "entered_grade": 3,
        "grade_discrepancy_reason": "Rising bilirubin with it: hepatotoxicity, not a lab finding only."})
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "alt", "value": 80, "unit": "U/L", "uln": 40, "baseline": True, "cycle": cycle,
        "collected_at": datetime.datetime(2026, 1, 4, 7, tzinfo=TZ)})
    later.refresh_from_db()
    assert (later.grade, later.computed_grade, later.entered_grade) == (3, 1, 3)


def test_an_override_no_episode_shows_is_assigned_to_the_safety_officers(patient, cycle, nurse, officer):
    """Platelets 60 x 10^9/L computes grade 2 ("<75.0 - 50.0 x 10e9 /L"), which would start an episode; the
    clinician's grade 0 (a clumped sample) starts none, so no adverse event carries the difference: the override is
    assigned to the site's safety officers as a data-quality query notice linking to the patient's lab page. An
    override the episode shows (its grade differs from its computed grade) is the episode's query, not a second one."""
    from patients.models import Notification

    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150, "collected_at": WHEN, "entered_grade": 0,
        "grade_discrepancy_reason": "Clumped sample: 180 x 10^9/L on the citrate tube."})
    assert AdverseEvent.objects.count() == 0
    notice = Notification.objects.get(kind="query", recipient=officer)
    assert "entered grade 0, computed 2" in notice.subject and "Clumped sample" in notice.body
    assert notice.link == f"/patients/{patient.pk}/labs/new/"
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 60, "unit": "10^9/L", "lln": 150, "entered_grade": 3,
        "collected_at": WHEN + datetime.timedelta(days=1), "grade_discrepancy_reason": "Bleeding: transfused."})
    episode = AdverseEvent.objects.get()
    assert episode.grade_discrepancy_open
    assert Notification.objects.filter(kind="query", recipient=officer).count() == 2  # the episode's, not a third
