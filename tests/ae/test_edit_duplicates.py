"""One clinical event = one AE (issue 9) on the edit path too: found on the ward by editing a resolved CRS of days
2-4 to "resolved day 8" beside the CRS of days 6-7 already recorded, and by moving an event's onset onto the
onset of its twin — the create path refused both, the edit saved them. An edit that changes the cycle, the CTCAE
term, the onset, the resolution date or the outcome is refused when the event's days (onset to resolution; open
while unresolved and not fatal) then overlap those of another event of the same term in the same cycle, naming that
event, unless the user confirms a separate event (form, API 409 ``probable_duplicate``); nothing is saved. Edits
that leave those fields alone never ask again (events already confirmed as separate stay editable)."""

from __future__ import annotations

import datetime

import pytest

from ae.models import AdverseEvent, AdverseEventRevision
from ae.services.events import ProbableDuplicateError, adverse_event_update
from tests.ae.test_record_integrity import EVENTS, nurse_api  # noqa: F401  (the fixture)
from tests.conftest import event_form_data, make_event, term

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def day(cycle, n: int) -> datetime.date:
    """Cycle day ``n`` (day 1 = the cycle's start)."""
    return cycle.start_date + (n - 1) * DAY


def crs(cycle, onset: int, resolved: int | None, grade: int = 2, **kw) -> AdverseEvent:
    return make_event(cycle, "Cytokine release syndrome", grade=grade, onset_day=onset,
                      resolution_date=None if resolved is None else day(cycle, resolved), **kw)


def edit(nurse, event: AdverseEvent, **data) -> AdverseEvent:
    return adverse_event_update(event=event, acting_user=nurse, reason="Dates checked against the chart",
                                expected_version=event.version, **data)


def unchanged(event: AdverseEvent) -> bool:
    before = (event.onset_date, event.resolution_date, event.term_id, event.cycle_id, event.version)
    event.refresh_from_db()
    return (event.onset_date, event.resolution_date, event.term_id, event.cycle_id, event.version) == before


def test_a_resolution_moved_over_the_next_episode_is_refused_naming_it(nurse, cycle):
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7, grade=3)
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, first, resolution_date=day(cycle, 8))
    assert refused.value.existing == second
    assert refused.value.detail == (
        f"Cytokine release syndrome (onset {day(cycle, 6):%d %b %Y}, grade 3, resolved {day(cycle, 7):%d %b %Y}) is "
        f"already recorded in cycle 1 and its days overlap this event's: correct the dates, update that one instead, "
        f"or confirm that these are separate events.")
    assert unchanged(first) and not AdverseEventRevision.objects.exists()


def test_an_onset_moved_onto_a_twin_is_refused_as_a_twin(nurse, cycle):
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7)
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, second, onset_date=day(cycle, 2), resolution_date=day(cycle, 3))
    assert refused.value.existing == first
    assert "with onset" in refused.value.detail and "is already recorded in cycle 1" in refused.value.detail
    assert unchanged(second)


def test_reopening_an_episode_that_a_later_one_follows_is_refused(nurse, cycle):
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7)
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, first, resolution_date=None, outcome="NOT RECOVERED/NOT RESOLVED")
    assert refused.value.existing == second and unchanged(first)


def test_a_later_onset_moved_into_an_open_episode_is_refused(nurse, cycle):
    ongoing, later = crs(cycle, 2, None), crs(cycle, 20, 21)
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, later, onset_date=day(cycle, 10), resolution_date=day(cycle, 11))
    assert refused.value.existing == ongoing
    assert "(onset" in refused.value.detail and "not resolved) is already recorded" in refused.value.detail


def test_a_new_term_or_cycle_is_checked_against_its_own_episodes(nurse, cycle):
    from tests.conftest import make_cycle

    fever = make_event(cycle, "Fever", grade=1, onset_day=3, resolution_date=day(cycle, 5))
    event = crs(cycle, 4, 4)
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, event, term=term("Fever"), grade=1)
    assert refused.value.existing == fever and unchanged(event)
    cycle2 = make_cycle(cycle.patient, number=2, start=cycle.start_date + 42 * DAY)
    later = crs(cycle2, 2, 3)
    moved = crs(cycle2, 10, 11)
    with pytest.raises(ProbableDuplicateError):  # onset moved back into cycle 2's first CRS
        edit(nurse, moved, onset_date=day(cycle2, 3))
    assert unchanged(moved) and later.pk


def test_confirming_a_separate_event_saves_the_edit(nurse, cycle):
    first, _ = crs(cycle, 2, 4), crs(cycle, 6, 7)
    saved = adverse_event_update(event=first, acting_user=nurse, reason="Two distinct episodes, per the chart",
                                 expected_version=1, confirm_separate=True, resolution_date=day(cycle, 8))
    assert saved.resolution_date == day(cycle, 8) and saved.version == 2


def test_dates_that_stay_apart_and_edits_of_other_fields_are_not_asked(nurse, cycle):
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7)
    assert edit(nurse, first, resolution_date=day(cycle, 5)).version == 2  # the day before the next onset
    assert edit(nurse, second, onset_date=day(cycle, 6), resolution_date=None,  # open, nothing after it
                outcome="NOT RECOVERED/NOT RESOLVED").version == 2
    third = crs(cycle, 12, 14)  # saved beside the open one, as if confirmed separate
    assert edit(nurse, third, grade=3).grade == 3  # a grade change does not ask again


def test_a_death_without_a_resolution_date_ends_on_its_onset(nurse, cycle):
    death = crs(cycle, 10, None, grade=5, outcome="FATAL")
    earlier = crs(cycle, 2, 4)
    assert edit(nurse, earlier, resolution_date=day(cycle, 9)).version == 2
    with pytest.raises(ProbableDuplicateError) as refused:
        edit(nurse, earlier.__class__.objects.get(pk=earlier.pk), resolution_date=day(cycle, 10))
    assert refused.value.existing == death


def test_the_edit_form_offers_the_confirmation(nurse_client, cycle):
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7)
    data = event_form_data(cycle, version=1, reason="Dates checked against the chart",
                           onset_date=day(cycle, 2).isoformat(), resolution_date=day(cycle, 8).isoformat())
    response = nurse_client.post(f"/events/{first.pk}/edit/", data)
    page = response.content.decode()
    assert response.status_code == 200 and "Already recorded?" in page and "overlap this event" in page
    assert f'href="/events/{second.pk}/' in page and 'name="confirm_separate"' in page
    assert unchanged(first)
    response = nurse_client.post(f"/events/{first.pk}/edit/", data | {"confirm_separate": "on"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.resolution_date == day(cycle, 8) and first.version == 2


def test_the_api_answers_409_and_saves_with_confirm_separate(nurse_api, cycle):  # noqa: F811
    first, second = crs(cycle, 2, 4), crs(cycle, 6, 7)
    body = {"resolution_date": day(cycle, 8).isoformat(), "version": 1, "reason": "Dates checked against the chart"}
    answer = nurse_api.patch(f"{EVENTS}{first.pk}/", body, format="json")
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "probable_duplicate" and answer.json()["existing"]["id"] == second.pk
    assert unchanged(first)
    answer = nurse_api.patch(f"{EVENTS}{first.pk}/", body | {"confirm_separate": True}, format="json")
    assert answer.status_code == 200 and answer.json()["resolution_date"] == day(cycle, 8).isoformat()
