"""One clinical event = one AE (issue 9), for an episode that has ended: a new event of the same CTCAE term whose
onset falls inside a resolved episode of the cycle (onset ≤ new onset ≤ resolution) is the same event entered again
— found on the ward by logging CRS grade 3 from 15 Jan beside the CRS grade 3 of 14–18 Jan already recorded. Like a
same-onset twin or an open episode, it is refused with the existing event named, unless the user confirms a
separate event (form, API 409, import row error). An onset after the resolution is a new episode."""

from __future__ import annotations

import datetime

import pytest

from ae.models import AdverseEvent
from ae.services.events import ProbableDuplicateError, adverse_event_create
from tests.ae.test_import import _run, import_ward  # noqa: F401  (the fixture)
from tests.ae.test_record_integrity import EVENTS, ae_json, create_url, nurse_api  # noqa: F401
from tests.conftest import event_form_data, make_event, term

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def _crs_days_2_to_6(cycle):
    return make_event(cycle, "Cytokine release syndrome", grade=3, onset_day=2,
                      resolution_date=cycle.start_date + 5 * DAY)


def _create(nurse, cycle, onset_day, **kw):
    return adverse_event_create(
        acting_user=nurse, patient=cycle.patient, cycle=cycle, term=term("Cytokine release syndrome"), grade=3,
        onset_date=cycle.start_date + (onset_day - 1) * DAY, relatedness="probable", action_taken="DRUG INTERRUPTED",
        outcome="NOT RECOVERED/NOT RESOLVED", **kw)


@pytest.mark.parametrize("onset_day", [3, 6])  # inside, and on the resolution day
def test_an_onset_inside_a_resolved_episode_is_refused_naming_it(nurse, cycle, onset_day):
    episode = _crs_days_2_to_6(cycle)
    with pytest.raises(ProbableDuplicateError) as refused:
        _create(nurse, cycle, onset_day)
    assert refused.value.existing == episode
    start, end = cycle.start_date + DAY, cycle.start_date + 5 * DAY
    assert refused.value.detail == (
        f"Cytokine release syndrome (onset {start:%d %b %Y}, grade 3, resolved {end:%d %b %Y}) is already recorded "
        f"in cycle 1 and covers this onset: update that one, or confirm that this is a separate event.")
    assert AdverseEvent.objects.count() == 1
    assert _create(nurse, cycle, onset_day, confirm_separate=True).pk != episode.pk


def test_an_onset_after_the_resolution_is_a_new_episode(nurse, cycle):
    _crs_days_2_to_6(cycle)
    assert _create(nurse, cycle, 7).onset_date == cycle.start_date + 6 * DAY
    make_event(cycle, "Headache", grade=1, onset_day=2, resolution_date=cycle.start_date + 9 * DAY)  # another term
    assert AdverseEvent.objects.count() == 3


def test_the_form_offers_the_confirmation_and_the_api_answers_409(nurse_client, nurse_api, patient, cycle):  # noqa: F811
    episode = _crs_days_2_to_6(cycle)
    data = event_form_data(cycle, grade=3, onset_date=(cycle.start_date + 2 * DAY).isoformat())
    response = nurse_client.post(create_url(patient), data)
    page = response.content.decode()
    assert response.status_code == 200 and "Already recorded?" in page and "covers this onset" in page
    answer = nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=3,
                                            onset_date=(cycle.start_date + 2 * DAY).isoformat()), format="json")
    assert answer.status_code == 409 and answer.json()["existing"]["id"] == episode.pk
    assert AdverseEvent.objects.count() == 1


def test_an_import_row_inside_a_resolved_episode_is_an_error(import_ward, nurse):  # noqa: F811
    resolved = "IMP-01,1,Fever,2,2026-01-20,2026-01-24,,,,possible,DOSE NOT CHANGED,RECOVERED/RESOLVED,no,"
    inside = "IMP-01,1,Fever,1,2026-01-22,2026-01-23,,,,possible,DOSE NOT CHANGED,RECOVERED/RESOLVED,no,"
    after = "IMP-01,1,Fever,1,2026-01-26,2026-01-27,,,,possible,DOSE NOT CHANGED,RECOVERED/RESOLVED,no,"
    report = _run(import_ward, nurse, [resolved, inside, after], dry_run=True)
    assert [r.status for r in report.rows] == ["created", "error", "created"]
    assert "Fever (onset 20 Jan 2026, grade 2, resolved 24 Jan 2026)" in report.rows[1].errors[0]
    assert "(line 2 of this file)" in report.rows[1].errors[0]
    _run(import_ward, nurse, [resolved])
    (row,) = _run(import_ward, nurse, [inside]).rows
    assert (row.status, row.event_id) == ("error", AdverseEvent.objects.get().pk)
