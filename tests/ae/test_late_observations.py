"""One clinical event = one AE (issue 9) for observations entered late: found on the ward by recording the CRS
assessment of 7 Jan after the CRS of 6-9 Jan had been logged and resolved on the AE form — it started a second CRS
episode (the form's default joined only an *ongoing* episode); and by choosing that resolved episode explicitly —
the episode was reopened ("not recovered", resolution date cleared), losing the resolution the clinician recorded.

Now a late bedside assessment or lab value joins the episode running on its day (onset ≤ day ≤ resolution), and an
observation on or before the resolution date recorded by hand leaves the episode resolved. Where the episode chosen
for the nurse would overlap another one (an assessment dated before a later episode), the form asks which episode
it belongs to instead of guessing. The cycle fixture starts on 5 Jan 2026."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from ae.models import AdverseEvent, CRSAssessment
from ae.services.assessments import crs_assessment_record, icans_assessment_record
from ae.services.labs import lab_result_record
from tests.conftest import make_event

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
NEW = {"relatedness": "probable", "action_taken": "DOSE NOT CHANGED"}
CRS = "Cytokine release syndrome"


def jan(day: int) -> datetime.date:
    return datetime.date(2026, 1, day)


def at(day: int, hour: int = 9) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def by_hand(cycle, term: str, grade: int, onset: int, resolved: int | None) -> AdverseEvent:
    """An episode logged on the AE form (origin entered, its grade the entered grade)."""
    return make_event(cycle, term, grade=grade, onset_day=onset - 4, entered_grade=grade,
                      resolution_date=None if resolved is None else jan(resolved))


def fever(patient, cycle, nurse, day: int, episode=None, new_episode=False, **extra) -> CRSAssessment:
    """A grade 1 CRS assessment (fever 39.2 °C, no hypotension or hypoxia) on ``day`` January."""
    return crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, episode=episode,
                                 new_episode=new_episode, data={"assessed_at": at(day), "temperature_c": 39.2,
                                                                "oxygen_device": "none", **extra})


def course(event: AdverseEvent) -> tuple:
    event.refresh_from_db()
    return event.onset_date, event.resolution_date, event.outcome, event.grade


def test_a_late_assessment_joins_the_resolved_episode_of_its_day_and_leaves_it_resolved(patient, cycle, nurse):
    episode = by_hand(cycle, CRS, 2, onset=6, resolved=9)
    assessment = fever(patient, cycle, nurse, 7, **NEW)
    assert assessment.adverse_event_id == episode.pk and AdverseEvent.objects.count() == 1
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 2)


@pytest.mark.parametrize("day", [6, 9])  # its onset day and its resolution day
def test_an_assessment_of_a_chosen_resolved_episode_within_its_days_keeps_the_resolution(patient, cycle, nurse,
                                                                                         day):
    episode = by_hand(cycle, CRS, 2, onset=6, resolved=9)
    fever(patient, None, nurse, day, episode=episode)
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 2)


def test_a_chosen_resolved_episode_with_an_assessment_after_its_resolution_is_reopened(patient, cycle, nurse):
    episode = by_hand(cycle, CRS, 2, onset=6, resolved=9)
    fever(patient, None, nurse, 11, episode=episode)  # the nurse says the fever of 11 Jan is the same event
    assert course(episode) == (jan(6), None, "NOT RECOVERED/NOT RESOLVED", 2)


def test_an_assessment_before_a_later_episode_asks_which_episode_it_belongs_to(patient, cycle, nurse):
    later = by_hand(cycle, CRS, 2, onset=10, resolved=12)
    with pytest.raises(ValidationError) as refused:
        fever(patient, cycle, nurse, 8, **NEW)
    (message,) = refused.value.message_dict["episode"]
    assert message == (
        "CRS (onset 10 Jan 2026, grade 2, resolved 12 Jan 2026) is already recorded in cycle 1, and this assessment's "
        "day would make the episodes overlap: choose that episode if the assessment belongs to it, or a new, "
        "separate episode.")
    assert AdverseEvent.objects.count() == 1 and not CRSAssessment.objects.exists()
    assert fever(patient, cycle, nurse, 8, new_episode=True, **NEW).adverse_event_id != later.pk
    assert fever(patient, None, nurse, 8, episode=later).adverse_event_id == later.pk  # or it belongs to it


def test_an_ongoing_episode_is_not_moved_back_over_a_resolved_one(patient, cycle, nurse):
    first = by_hand(cycle, CRS, 2, onset=6, resolved=8)
    ongoing = by_hand(cycle, CRS, 1, onset=12, resolved=None)
    with pytest.raises(ValidationError) as refused:
        fever(patient, cycle, nurse, 5)  # the ongoing one's onset would move to 5 Jan, over 6-8 Jan
    assert "onset 06 Jan 2026, grade 2, resolved 08 Jan 2026" in refused.value.message_dict["episode"][0]
    assert fever(patient, cycle, nurse, 10).adverse_event_id == ongoing.pk  # between the two: the ongoing one
    assert course(ongoing)[0] == jan(10) and course(first) == (jan(6), jan(8), "RECOVERED/RESOLVED", 2)
    assert fever(patient, cycle, nurse, 7).adverse_event_id == first.pk  # inside the first: the first


def test_a_late_lab_value_joins_the_resolved_episode_of_its_day(patient, cycle, nurse):
    episode = by_hand(cycle, "Platelet count decreased", 2, onset=6, resolved=9)
    result = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 40, "unit": "10^9/L", "lln": 150, "collected_at": at(7, 7)})
    assert result.grade == 3 and result.adverse_event_id == episode.pk
    assert AdverseEvent.objects.count() == 1
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 3)  # raised by the value, still resolved


def test_a_late_icans_seizure_joins_the_resolved_seizure_of_its_day(patient, cycle, nurse):
    seizure = by_hand(cycle, "Seizure", 3, onset=6, resolved=6)
    icans_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(6, 14), "tool": "CAPD", "score": 0, "seizure": "prolonged_or_repetitive", **NEW})
    assert AdverseEvent.objects.filter(term__term="Seizure").get() == seizure
    assert course(seizure) == (jan(6), jan(6), "RECOVERED/RESOLVED", 4)


def test_the_assessment_form_offers_a_separate_episode_beside_resolved_ones(nurse_client, patient, cycle):
    by_hand(cycle, CRS, 2, onset=6, resolved=9)
    page = nurse_client.get(f"/patients/{patient.pk}/crs/new/").content.decode()
    assert 'value="new">A new, separate episode</option>' in page
    assert ">Automatic: the episode of that day, else the ongoing one, else a new one</option>" in page


def test_an_episode_entered_by_hand_without_its_entered_grade_keeps_its_grade(patient, cycle, nurse):
    """Found on the demo ward (events loaded in bulk, like events saved before pvtrack kept ``entered_grade``): a
    late grade 1 assessment lowered the CRS grade 3 entered by hand to 1. The grade recorded by hand is the floor."""
    episode = make_event(cycle, CRS, grade=3, onset_day=2, resolution_date=jan(9))
    assert episode.entered_grade is None
    fever(patient, cycle, nurse, 7, **NEW)
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 3)


def test_a_resolution_entered_by_hand_on_an_assessment_started_episode_survives_a_late_assessment(
        patient, cycle, nurse):
    """The usual way a ward closes CRS: assessments start the episode, then the nurse sets its resolution date and
    outcome on the AE form (no grade-0 assessment). A late assessment of a day before that resolution must not
    reopen it; one after it does (the nurse says the event went on)."""
    from ae.services.events import adverse_event_update

    episode = fever(patient, cycle, nurse, 6, **NEW).adverse_event
    fever(patient, None, nurse, 8, episode=episode)
    episode.refresh_from_db()
    adverse_event_update(event=episode, acting_user=nurse, reason="Afebrile since the 9th, per the chart",
                         expected_version=episode.version, resolution_date=jan(9), outcome="RECOVERED/RESOLVED")
    fever(patient, cycle, nurse, 7)  # a late entry of the 7th: joins it, still resolved on the 9th
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 1)
    fever(patient, None, nurse, 11, episode=episode)  # chosen explicitly, after the resolution: reopened
    assert course(episode)[1:3] == (None, "NOT RECOVERED/NOT RESOLVED")


def test_a_resolution_entered_by_hand_on_a_lab_started_episode_survives_a_late_value(patient, cycle, nurse):
    from ae.services.events import adverse_event_update

    def platelets(value, day):
        return lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150, "collected_at": at(day, 7)})

    episode = platelets(40, 6).adverse_event
    adverse_event_update(event=episode, acting_user=nurse, reason="Transfused; recovered per the chart on the 9th",
                         expected_version=episode.version, resolution_date=jan(9), outcome="RECOVERED/RESOLVED")
    assert platelets(60, 7).adverse_event_id == episode.pk
    assert course(episode) == (jan(6), jan(9), "RECOVERED/RESOLVED", 3)


def test_a_late_normal_value_inside_a_lab_episode_moves_its_resolution_to_the_first_normal_value(
        patient, cycle, nurse):
    def platelets(value, day):
        return lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150, "collected_at": at(day, 7)})

    episode = platelets(40, 6).adverse_event
    platelets(180, 9)
    assert course(episode)[:3] == (jan(6), jan(9), "RECOVERED/RESOLVED")
    assert platelets(170, 7).adverse_event_id == episode.pk  # entered late: already normal on the 7th
    assert course(episode) == (jan(6), jan(7), "RECOVERED/RESOLVED", 3)
    assert AdverseEvent.objects.count() == 1


def platelets_on(patient, nurse, value: float, day: int):
    return lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": value, "unit": "10^9/L", "lln": 150, "collected_at": at(day, 7)})


def episodes() -> list[tuple]:
    return [(e.onset_date, e.resolution_date, e.grade) for e in AdverseEvent.objects.order_by("onset_date", "id")]


def test_a_late_low_value_before_a_resolved_lab_episode_joins_it_not_the_later_ongoing_one(patient, cycle, nurse):
    """Found reviewing the lab path: platelets 40 on the 10th, 180 on the 13th (an episode of 10-13 Jan), 60 on the
    16th (a second, ongoing one); a value of 50 on the 8th entered late moved the ongoing episode's onset back to
    the 8th, over the resolved one — two overlapping thrombocytopenia episodes. It is the first one's start."""
    for value, day in ((40, 10), (180, 13), (60, 16)):
        platelets_on(patient, nurse, value, day)
    first, ongoing = AdverseEvent.objects.order_by("onset_date")
    assert platelets_on(patient, nurse, 50, 8).adverse_event_id == first.pk
    assert episodes() == [(jan(8), jan(13), 3), (jan(16), None, 2)]
    assert course(ongoing)[:2] == (jan(16), None)


def test_a_late_low_value_before_the_only_resolved_lab_episode_joins_it_instead_of_starting_an_open_one(
        patient, cycle, nurse):
    """Found with the case above: with no ongoing episode, the value of the 8th started a new, open episode from the
    8th — overlapping the resolved 10-13 Jan one."""
    platelets_on(patient, nurse, 40, 10)
    platelets_on(patient, nurse, 180, 13)
    assert platelets_on(patient, nurse, 50, 8).adverse_event_id == AdverseEvent.objects.get().pk
    assert episodes() == [(jan(8), jan(13), 3)]


def test_a_late_low_value_before_an_episode_entered_by_hand_moves_its_onset_and_keeps_its_resolution(
        patient, cycle, nurse):
    episode = by_hand(cycle, "Platelet count decreased", 3, onset=10, resolved=13)
    assert platelets_on(patient, nurse, 70, 8).adverse_event_id == episode.pk
    assert course(episode) == (jan(8), jan(13), "RECOVERED/RESOLVED", 3)


def test_a_late_normal_value_before_a_lab_episode_feeds_nothing(patient, cycle, nurse):
    """A normal count before an episode began says nothing about that episode's course (not linked to it)."""
    episode = platelets_on(patient, nurse, 40, 10).adverse_event
    normal = platelets_on(patient, nurse, 180, 8)
    assert normal.adverse_event_id is None
    assert course(episode)[:3] == (jan(10), None, "NOT RECOVERED/NOT RESOLVED")


def test_a_late_low_value_between_two_resolved_lab_episodes_joins_the_later_one(patient, cycle, nurse):
    for value, day in ((40, 10), (180, 12), (60, 16), (170, 18)):
        platelets_on(patient, nurse, value, day)
    assert platelets_on(patient, nurse, 90, 14).adverse_event.onset_date == jan(14)
    assert episodes() == [(jan(10), jan(12), 3), (jan(14), jan(18), 2)]


def test_a_low_value_entered_after_the_normal_one_that_followed_it_starts_a_resolved_episode(patient, cycle, nurse):
    """Found with the cases above: results typed in out of order — the normal count of the 13th first, then the low
    count of the 10th — left a thrombocytopenia open for ever, though the ward had recorded its end."""
    normal = platelets_on(patient, nurse, 180, 13)
    episode = platelets_on(patient, nurse, 40, 10).adverse_event
    assert course(episode) == (jan(10), jan(13), "RECOVERED/RESOLVED", 3)
    normal.refresh_from_db()
    assert normal.adverse_event_id == episode.pk
    assert episode.revisions.order_by("-id").first().reason.endswith(
        "entered after Platelet count 180 ×10⁹/L of 13 Jan 2026 07:00, which resolves it.")


def test_a_low_value_typed_in_late_skips_an_undetermined_later_value_for_the_next_normal_one(patient, cycle, nurse):
    """A later value without a normal range (grade undetermined) says nothing about the episode's end: the next
    graded value does."""
    later = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 180, "unit": "10^9/L", "collected_at": at(13, 7)})
    assert later.grade is None
    platelets_on(patient, nurse, 170, 14)
    assert course(platelets_on(patient, nurse, 40, 10).adverse_event) == (jan(10), jan(14), "RECOVERED/RESOLVED", 3)
    later.refresh_from_db()
    assert later.adverse_event_id is None


def icans_seizure(patient, cycle, nurse, day: int):
    """An ICANS assessment on ``day`` January (CAPD 0) that records a rapidly resolving seizure (ICANS grade 3)."""
    return icans_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(day, 14), "tool": "CAPD", "score": 0, "seizure": "rapid_resolving_or_eeg_treated", **NEW})


def seizures() -> list[tuple]:
    return [(e.onset_date, e.resolution_date, e.grade) for e in
            AdverseEvent.objects.filter(term__term="Seizure").order_by("onset_date", "id")]


def test_a_late_icans_seizure_before_a_resolved_seizure_joins_it_instead_of_overlapping_it(patient, cycle, nurse):
    """Found reviewing the ICANS path after the lab one: a seizure recorded by the ICANS assessment of the 8th,
    entered after a Seizure of 10 Jan (resolved 10 Jan) was logged, started a new, open Seizure from the 8th —
    overlapping the logged one. No episode covers the 8th: it joins the first one after it, whose onset moves back,
    with the reason in its history (the ward can split it on the AE form if they were two events)."""
    logged = by_hand(cycle, "Seizure", 3, onset=10, resolved=10)
    icans_seizure(patient, cycle, nurse, 8)
    assert seizures() == [(jan(8), jan(10), 3)]
    assert "onset moved from 10 Jan 2026 to 08 Jan 2026" in logged.revisions.get().reason


def test_a_late_icans_seizure_joins_the_resolved_seizure_after_it_not_the_ongoing_one_beyond(patient, cycle, nurse):
    by_hand(cycle, "Seizure", 3, onset=10, resolved=10)
    by_hand(cycle, "Seizure", 4, onset=14, resolved=None)
    icans_seizure(patient, cycle, nurse, 8)
    assert seizures() == [(jan(8), jan(10), 3), (jan(14), None, 4)]


def test_a_late_icans_seizure_before_the_ongoing_seizure_moves_its_onset_back(patient, cycle, nurse):
    by_hand(cycle, "Seizure", 3, onset=12, resolved=None)
    icans_seizure(patient, cycle, nurse, 11)
    assert seizures() == [(jan(11), None, 3)]
