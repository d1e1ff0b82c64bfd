"""ae.services.episodes.probable_duplicates: the same-onset event, the open episode and the resolved episode that
covers the onset in one query, the same answers as same_onset_event, open_episode and a plain query (issue 12)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ae.models import AdverseEvent
from ae.services.episodes import open_episode, probable_duplicates, same_onset_event
from tests.conftest import make_event

pytestmark = pytest.mark.django_db


def _covering(cycle, term, onset):
    return (AdverseEvent.objects.filter(cycle=cycle, term=term, onset_date__lt=onset, resolution_date__gte=onset)
            .order_by("-onset_date", "-id").first())


def _both(cycle, term, onset):
    return (same_onset_event(cycle=cycle, term=term, onset_date=onset), open_episode(cycle=cycle, term=term),
            _covering(cycle, term, onset))


def test_it_answers_as_the_two_checks_in_one_query(cycle, nurse):
    day = datetime.timedelta(days=1)
    resolved = make_event(cycle, "Tremor", onset_day=2, resolution_date=cycle.start_date + 3 * day)
    make_event(cycle, "Tremor", onset_day=2, resolution_date=cycle.start_date + 4 * day)  # a later twin
    older_open = make_event(cycle, "Tremor", onset_day=5, resolution_date=None)
    newer_open = make_event(cycle, "Tremor", onset_day=7, resolution_date=None)
    make_event(cycle, "Tremor", onset_day=9, resolution_date=None, grade=3, outcome="FATAL")  # a death: not open
    make_event(cycle, "Headache", onset_day=2, resolution_date=None)  # another term
    term = resolved.term
    for onset in (resolved.onset_date, resolved.onset_date + day, older_open.onset_date, cycle.start_date + 20 * day):
        with CaptureQueriesContext(connection) as captured:
            found = probable_duplicates(cycle=cycle, term=term, onset_date=onset)
        assert len(captured) == 1
        assert found == _both(cycle, term, onset)
    assert probable_duplicates(cycle=cycle, term=term, onset_date=resolved.onset_date) == (resolved, newer_open, None)
    later_twin = AdverseEvent.objects.get(term=term, onset_date=resolved.onset_date,
                                          resolution_date=cycle.start_date + 4 * day)
    assert probable_duplicates(cycle=cycle, term=term, onset_date=resolved.onset_date + day) == (
        None, newer_open, later_twin)  # both twins cover day 3: the latest onset, then the highest id


def test_nothing_recorded_is_none_three_times(cycle, nurse):
    resolved = cycle.start_date + datetime.timedelta(days=3)
    make_event(cycle, "Tremor", onset_day=2, resolution_date=resolved)
    term = make_event(cycle, "Headache", onset_day=2, resolution_date=resolved).term
    assert probable_duplicates(cycle=cycle, term=term, onset_date=cycle.start_date) == (None, None, None)
