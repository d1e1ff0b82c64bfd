"""ae.services.episodes.probable_duplicates: the same-onset event and the open episode in one query, the same
answers as same_onset_event and open_episode (issue 12)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ae.services.episodes import open_episode, probable_duplicates, same_onset_event
from tests.conftest import make_event

pytestmark = pytest.mark.django_db


def _both(cycle, term, onset):
    return same_onset_event(cycle=cycle, term=term, onset_date=onset), open_episode(cycle=cycle, term=term)


def test_it_answers_as_the_two_checks_in_one_query(cycle, nurse):
    day = datetime.timedelta(days=1)
    resolved = make_event(cycle, "Tremor", onset_day=2, resolution_date=cycle.start_date + 3 * day)
    make_event(cycle, "Tremor", onset_day=2, resolution_date=cycle.start_date + 4 * day)  # a later twin
    older_open = make_event(cycle, "Tremor", onset_day=5, resolution_date=None)
    newer_open = make_event(cycle, "Tremor", onset_day=7, resolution_date=None)
    make_event(cycle, "Tremor", onset_day=9, resolution_date=None, grade=3, outcome="FATAL")  # a death: not open
    make_event(cycle, "Headache", onset_day=2, resolution_date=None)  # another term
    term = resolved.term
    for onset in (resolved.onset_date, older_open.onset_date, cycle.start_date + 20 * day):
        with CaptureQueriesContext(connection) as captured:
            found = probable_duplicates(cycle=cycle, term=term, onset_date=onset)
        assert len(captured) == 1
        assert found == _both(cycle, term, onset)
    assert probable_duplicates(cycle=cycle, term=term, onset_date=resolved.onset_date) == (resolved, newer_open)


def test_nothing_recorded_is_none_twice(cycle, nurse):
    resolved = cycle.start_date + datetime.timedelta(days=3)
    make_event(cycle, "Tremor", onset_day=2, resolution_date=resolved)
    term = make_event(cycle, "Headache", onset_day=2, resolution_date=resolved).term
    assert probable_duplicates(cycle=cycle, term=term, onset_date=cycle.start_date) == (None, None)
