"""CRS/ICANS episodes: repeated bedside assessments update one adverse event in place (issue 3, item 4/5).

Grades cited from the ASTCT 2019 consensus (Lee DW et al. BBMT 2019;25:625, CRS and ICANS tables); the episode
rules (worst grade, first onset, resolution at the first grade-0 assessment) are pvtrack's (ae/services.py).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ae.episodes import age_in_years
from ae.models import AdverseEvent, AdverseEventRevision, CRSAssessment, ICANSAssessment
from ae.selectors import grade_discrepancies_open
from ae.services.assessments import crs_assessment_record, icans_assessment_record
from ae.services.events import grade_discrepancy_resolve
from tests.conftest import make_cycle, make_patient

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int, hour: int = 8) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, 0, tzinfo=TZ)


FEVER = {"temperature_c": 38.6}
NEW = {"relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}


def crs(patient, cycle, user, when, episode=None, **data):
    return crs_assessment_record(patient=patient, cycle=cycle, acting_user=user, episode=episode,
                                 data={"assessed_at": when, **data})


def test_two_assessments_make_one_ae_whose_grade_rose(patient, cycle, nurse):
    first = crs(patient, cycle, nurse, at(6), **FEVER, **NEW)
    event = first.adverse_event
    assert (first.astct_grade, event.grade, event.computed_grade) == (1, 1, 1)
    assert event.term.term == "Cytokine release syndrome"
    assert event.grading_scale == "astct_2019"
    assert event.onset_date == datetime.date(2026, 1, 6)
    assert event.outcome == "NOT RECOVERED/NOT RESOLVED"

    second = crs(patient, None, nurse, at(7), episode=event, temperature_c=39.2, hypotension=True,
                 vasopressors=["norepinephrine"])
    assert second.astct_grade == 3  # ASTCT 2019: fever + hypotension requiring one vasopressor = grade 3
    assert AdverseEvent.objects.count() == 1
    event.refresh_from_db()
    assert (event.grade, event.computed_grade, event.version) == (3, 3, 2)
    assert event.onset_date == datetime.date(2026, 1, 6)  # onset stays the first assessment's date
    assert "norepinephrine" in event.computed_rationale
    revision = AdverseEventRevision.objects.get(adverse_event=event)
    assert revision.changes["grade"] == [1, 3]
    assert list(event.crs_assessments.values_list("astct_grade", flat=True)) == [1, 3]


def test_a_lower_later_grade_does_not_lower_the_episode_and_grade_0_resolves_it(patient, cycle, nurse):
    event = crs(patient, cycle, nurse, at(6), temperature_c=39.0, oxygen_device="facemask", **NEW).adverse_event
    crs(patient, None, nurse, at(7), episode=event, temperature_c=38.2)
    event.refresh_from_db()
    assert (event.grade, event.resolution_date) == (3, None)
    crs(patient, None, nurse, at(9), episode=event, temperature_c=36.8)
    event.refresh_from_db()
    assert event.grade == 3
    assert event.resolution_date == datetime.date(2026, 1, 9)
    assert event.outcome == "RECOVERED/RESOLVED"
    # A fever again later in the same episode reopens it.
    crs(patient, None, nurse, at(10), episode=event, temperature_c=38.4)
    event.refresh_from_db()
    assert (event.resolution_date, event.outcome) == (None, "NOT RECOVERED/NOT RESOLVED")


def test_fever_is_masked_after_tocilizumab_within_the_episode(patient, cycle, nurse):
    """ASTCT 2019 footnote: after tocilizumab/steroids fever is no longer required (Lee et al. BBMT 2019;25:625,
    CRS table footnote)."""
    event = crs(patient, cycle, nurse, at(6), **FEVER, **NEW).adverse_event
    masked = crs(patient, None, nurse, at(7), episode=event, temperature_c=37.0,
                 fever_masking_therapies=["tocilizumab"], oxygen_device="nasal_cannula", oxygen_flow_l_min=2)
    assert masked.astct_grade == 2
    assert masked.fever_masking_therapies == ["tocilizumab"]


def test_an_antipyretic_after_crs_masks_fever_too(patient, cycle, nurse):
    """ASTCT 2019 CRS footnote: "antipyretic or anticytokine therapy" — a child afebrile on paracetamol after CRS who
    is hypotensive is grade 2 (issue 10 item 2), and the assessment records which therapy was given."""
    event = crs(patient, cycle, nurse, at(6), **FEVER, **NEW).adverse_event
    masked = crs(patient, None, nurse, at(7), episode=event, temperature_c=37.1,
                 fever_masking_therapies=["antipyretic"], hypotension=True)
    assert masked.astct_grade == 2
    assert "antipyretic" in masked.astct_rationale


def test_a_crs_assessment_without_temperature_is_refused_unless_fever_is_waived(patient, cycle, nurse):
    """ASTCT 2019: fever >= 38.0 °C is required, so a missing temperature is not "no fever" (issue 10 item 9): the
    assessment asks for it; after CRS and tocilizumab fever is waived and none is needed."""
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(6), hypotension=True, **NEW)
    assert "temperature_c" in exc.value.message_dict
    assert "grade 2 with fever, 0 without" in exc.value.message_dict["temperature_c"][0]
    event = crs(patient, cycle, nurse, at(6), **FEVER, **NEW).adverse_event
    waived = crs(patient, None, nurse, at(7), episode=event, fever_masking_therapies=["tocilizumab"], hypotension=True)
    assert waived.astct_grade == 2


def test_a_new_episode_needs_a_positive_grade_and_saves_nothing_otherwise(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(6), temperature_c=37.2, **NEW)
    assert "entered_grade" in exc.value.message_dict
    assert (AdverseEvent.objects.count(), CRSAssessment.objects.count()) == (0, 0)


def test_a_new_episode_needs_relatedness_and_action(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(6), **FEVER)
    assert set(exc.value.message_dict) == {"relatedness", "action_taken"}
    assert AdverseEvent.objects.count() == 0


@pytest.mark.parametrize(("data", "field"), [
    ({"oxygen_device": "nasal_cannula", "oxygen_flow_l_min": -1}, "oxygen_flow_l_min"),
    ({"oxygen_device": "nasal_cannula"}, "oxygen_flow_l_min"),
    ({"vasopressors": ["dobutamine"]}, "vasopressors"),
    ({"temperature_c": 48}, "temperature_c"),
])
def test_impossible_criteria_are_refused_with_the_field_named(patient, cycle, nurse, data, field):
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(6), **(FEVER | data), **NEW)
    assert field in exc.value.message_dict
    assert CRSAssessment.objects.count() == 0


def test_an_assessment_before_the_cycle_or_in_another_patients_episode_is_refused(ward, patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(4), **FEVER, **NEW)
    assert "assessed_at" in exc.value.message_dict
    event = crs(patient, cycle, nurse, at(6), **FEVER, **NEW).adverse_event
    other = make_patient(ward, "KRK-002")
    make_cycle(other)
    with pytest.raises(ValidationError):
        crs(other, None, nurse, at(7), episode=event, **FEVER)
    assert CRSAssessment.objects.count() == 1


def test_only_recorders_of_the_site_may_record(patient, cycle, officer, outsider):
    for user in (officer, outsider):
        with pytest.raises(PermissionDenied):
            crs(patient, cycle, user, at(6), **FEVER, **NEW)
    assert AdverseEvent.objects.count() == 0


def test_ctcae_and_lee_grades_are_stored_side_by_side(patient, cycle, nurse):
    a = crs(patient, cycle, nurse, at(6), temperature_c=39.0, hypotension=True,
            vasopressors=["norepinephrine", "vasopressin"], oxygen_device="facemask", oxygen_fio2_percent=40, **NEW)
    # ASTCT: vasopressin does not count toward "multiple" -> 3; CTCAE v5.0: pressor / >= 40% O2 -> 3;
    # Lee 2014: two distinct agents = multiple vasopressors -> 3.
    assert (a.astct_grade, a.ctcae_grade, a.lee_grade) == (3, 3, 3)
    b = crs(patient, None, nurse, at(7), episode=a.adverse_event, temperature_c=38.5, oxygen_device="facemask")
    assert b.astct_grade == 3 and b.ctcae_grade is None and "FiO2 not recorded" in b.ctcae_rationale


# --- entered vs computed -------------------------------------------------------------------------------


def test_an_entered_grade_that_differs_needs_a_reason(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        crs(patient, cycle, nurse, at(6), **FEVER, entered_grade=2, **NEW)
    assert "grade_discrepancy_reason" in exc.value.message_dict
    assert AdverseEvent.objects.count() == 0
    a = crs(patient, cycle, nurse, at(6), **FEVER, entered_grade=2, grade_discrepancy_reason="rigors, fluids", **NEW)
    event = a.adverse_event
    assert (event.grade, event.computed_grade) == (2, 1)
    assert "rigors, fluids" in event.grade_discrepancy_reason
    assert event.grade_discrepancy_open


def test_the_discrepancy_is_a_query_for_the_site_until_a_reviewer_resolves_it(ward, other_ward, patient, cycle,
                                                                              nurse, officer, outsider):
    event = crs(patient, cycle, nurse, at(6), **FEVER, entered_grade=2, grade_discrepancy_reason="judged 2",
                **NEW).adverse_event
    assert list(grade_discrepancies_open(site=ward)) == [event]
    assert list(grade_discrepancies_open(site=other_ward)) == []
    from patients.models import Notification  # issue 15: the query is assigned to the site's safety officer

    assigned = Notification.objects.get(kind="query")
    assert (assigned.recipient, assigned.link) == (officer, f"/events/{event.pk}/history/")
    for user in (nurse, outsider):
        with pytest.raises(PermissionDenied):
            grade_discrepancy_resolve(event=event, acting_user=user, comment="ok")
    with pytest.raises(ValidationError):
        grade_discrepancy_resolve(event=event, acting_user=officer, comment="  ")
    resolved = grade_discrepancy_resolve(event=event, acting_user=officer, comment="Agreed after chart review")
    assert (resolved.discrepancy_resolved_by, resolved.version) == (officer, 1)
    assert list(grade_discrepancies_open(site=ward)) == []
    with pytest.raises(ValidationError):
        grade_discrepancy_resolve(event=event, acting_user=officer, comment="again")
    # A new assessment that raises the computed grade changes the discrepancy: the query reopens.
    crs(patient, None, nurse, at(7), episode=event, temperature_c=39.0, hypotension=True, entered_grade=2)
    event.refresh_from_db()
    assert (event.grade, event.computed_grade) == (2, 2)
    assert not event.grade_discrepancy_open and event.discrepancy_resolved_at is None
    crs(patient, None, nurse, at(8), episode=event, temperature_c=39.0, hypotension=True,
        vasopressors=["epinephrine"], entered_grade=4, grade_discrepancy_reason="arrest")
    event.refresh_from_db()
    assert list(grade_discrepancies_open(site=ward)) == [event]
    assert Notification.objects.filter(kind="query", recipient=officer).count() == 2  # the new discrepancy, once


def test_an_aes_edit_away_from_the_computed_grade_needs_the_reason(patient, cycle, nurse):
    from ae.services.events import adverse_event_update

    event = crs(patient, cycle, nurse, at(6), **FEVER, **NEW).adverse_event
    with pytest.raises(ValidationError) as exc:
        adverse_event_update(event=event, acting_user=nurse, reason="regraded", expected_version=1, grade=2)
    assert "grade_discrepancy_reason" in exc.value.message_dict
    event = adverse_event_update(event=event, acting_user=nurse, reason="regraded", expected_version=1, grade=2,
                                 grade_discrepancy_reason="hypotension missed at the bedside")
    assert event.grade_discrepancy_open


# --- ICANS ---------------------------------------------------------------------------------------------


def test_age_to_the_month_and_the_default_tool(ward, nurse):
    assert age_in_years(datetime.date(2014, 3, 1), datetime.date(2026, 2, 28)) == pytest.approx(11 + 11 / 12)
    assert age_in_years(datetime.date(2014, 3, 1), datetime.date(2026, 3, 1)) == 12
    older = make_patient(ward, "KRK-012", birth_month=datetime.date(2013, 12, 1))  # 12 y 1 m on 6 Jan 2026
    younger = make_patient(ward, "KRK-011", birth_month=datetime.date(2014, 2, 1))  # 11 y 11 m
    data = {"score": 5, "relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}
    a = icans_assessment_record(patient=older, cycle=make_cycle(older), acting_user=nurse,
                                data={"assessed_at": at(6), **data})
    b = icans_assessment_record(patient=younger, cycle=make_cycle(younger), acting_user=nurse,
                                data={"assessed_at": at(6), **data})
    assert (a.tool, a.grade) == ("ICE", 2)  # ICE 3-6 = grade 2
    assert (b.tool, b.grade) == ("CAPD", 1)  # CAPD 1-8 = grade 1
    assert a.adverse_event.term.term == "Encephalopathy" and a.adverse_event.verbatim_term == "ICANS"
    assert a.adverse_event.grading_scale == "astct_2019"


def test_icans_episode_rises_and_resolves_in_one_event(patient, cycle, nurse):
    base = {"tool": "CAPD"}
    event = icans_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(6), **base, "score": 4, **NEW}).adverse_event
    icans_assessment_record(patient=patient, cycle=None, acting_user=nurse, episode=event, data={
        "assessed_at": at(7), **base, "unable_to_perform": True})
    icans_assessment_record(patient=patient, cycle=None, acting_user=nurse, episode=event, data={
        "assessed_at": at(8), **base, "score": 0})
    event.refresh_from_db()
    assert (event.grade, event.resolution_date) == (4, datetime.date(2026, 1, 8))  # unable to perform CAPD = 4
    assert ICANSAssessment.objects.filter(adverse_event=event).count() == 3
    with pytest.raises(ValidationError) as exc:
        icans_assessment_record(patient=patient, cycle=None, acting_user=nurse, episode=event, data={
            "assessed_at": at(9), "tool": "ICE", "score": 11})
    assert "score" in exc.value.message_dict


@pytest.mark.parametrize(("current", "resolved", "expected"), [
    (None, False, "NOT RECOVERED/NOT RESOLVED"), (None, True, "RECOVERED/RESOLVED"),
    ("RECOVERED/RESOLVED", False, "NOT RECOVERED/NOT RESOLVED"),            # reopened by a later observation
    ("RECOVERED/RESOLVED WITH SEQUELAE", False, "NOT RECOVERED/NOT RESOLVED"),  # ... with sequelae too
    ("RECOVERED/RESOLVED WITH SEQUELAE", True, "RECOVERED/RESOLVED WITH SEQUELAE"),
    ("RECOVERING/RESOLVING", False, "RECOVERING/RESOLVING"), ("RECOVERING/RESOLVING", True, "RECOVERED/RESOLVED"),
    ("UNKNOWN", False, "UNKNOWN"), ("FATAL", False, "FATAL"), ("FATAL", True, "FATAL"),
])
def test_the_episode_outcome_agrees_with_its_resolution_date(current, resolved, expected):
    """An ended outcome (recovered, with or without sequelae) only with a resolution date, an ongoing one only
    without (the constraints ae_ended_outcome_has_resolution_date / ae_ongoing_outcome_has_no_resolution_date)."""
    from ae.episodes import episode_outcome
    assert episode_outcome(current, resolved) == expected
