"""Lab values arriving at once, in real concurrent threads with their own database connections: one clinical event
stays one AE (the episode lock of cycle + term, ae/services/episodes.py), and two baselines of one cycle and analyte
answer a field error, not a 500 (unique constraint lab_one_baseline_per_cycle_analyte).

Each test widens the window between "look" and "write" (a short sleep in full_clean) so that, without the lock, both
threads would look before either writes: the outcome does not depend on scheduling luck.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from ae.models import AdverseEvent, LabResult
from ae.services.events import ProbableDuplicateError, adverse_event_create
from ae.services.labs import lab_result_record
from tests.conftest import term

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def concurrently(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads released together; each returns its result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcomes[i] = exc
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


@pytest.fixture
def slow_checks(monkeypatch):
    """Make every model check take 0.3 s: a save that looks first and writes later leaves a wide window."""
    for model in (LabResult, AdverseEvent):
        original = model.full_clean

        def slow(self, *args, _original=original, **kwargs):
            time.sleep(0.3)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(model, "full_clean", slow)


def lab(patient, nurse, **data) -> Callable[[], LabResult]:
    return lambda: lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "unit": "10^9/L", "lln": 150} | data)


def test_two_platelet_counts_at_once_make_one_episode(committed_reference_data, patient, cycle, nurse, slow_checks):
    outcomes = concurrently(lab(patient, nurse, value=40, collected_at=at(8)),
                            lab(patient, nurse, value=18, collected_at=at(8, 9)))
    assert all(isinstance(o, LabResult) for o in outcomes), outcomes
    event = AdverseEvent.objects.get()
    assert set(LabResult.objects.values_list("adverse_event", flat=True)) == {event.pk}
    assert (event.grade, event.term.term) == (4, "Platelet count decreased")


def test_a_lab_and_a_hand_entered_event_at_once_make_one_episode(committed_reference_data, patient, cycle, nurse,
                                                                 slow_checks):
    def entered():
        return adverse_event_create(acting_user=nurse, patient=patient, cycle=cycle,
                                    term=term("Platelet count decreased"), grade=3,
                                    onset_date=datetime.date(2026, 1, 8), relatedness="probable",
                                    action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED")

    lab_outcome, entered_outcome = concurrently(lab(patient, nurse, value=18, collected_at=at(8)), entered)
    assert isinstance(lab_outcome, LabResult), lab_outcome
    assert isinstance(entered_outcome, AdverseEvent | ProbableDuplicateError), entered_outcome
    event = AdverseEvent.objects.get()  # the lab joined the event entered first, or the form was told of the lab's
    assert LabResult.objects.get().adverse_event == event and event.grade == 4


def test_two_baselines_at_once_answer_a_field_error(committed_reference_data, patient, cycle, nurse, slow_checks):
    baseline = {"baseline": True, "cycle": cycle}
    outcomes = concurrently(lab(patient, nurse, value=140, collected_at=at(4), **baseline),
                            lab(patient, nurse, value=135, collected_at=at(5), **baseline))
    saved = [o for o in outcomes if isinstance(o, LabResult)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert (len(saved), len(refused)) == (1, 1), outcomes
    assert refused[0].message_dict == {"baseline": ["Cycle 1 already has a baseline Platelet count value."]}
    assert LabResult.objects.count() == 1


def test_recording_a_lab_value_locks_its_episode_not_the_term_or_site_every_patient_shares(
        committed_reference_data, ward, patient, cycle, nurse):
    """open_episode row-locks the episode only: a lock on the CTCAE term or the site it reads along would make every
    lab value of the hospital (or the ward) wait for each other's transactions."""
    from django.db import DatabaseError, transaction

    from ae.models import CTCAETerm
    from ae.services.episodes import episode_lock, open_episode
    from patients.models import Site

    lab(patient, nurse, value=40, collected_at=at(8))()
    platelet_term = CTCAETerm.objects.get(term="Platelet count decreased")
    holding, release = threading.Event(), threading.Event()

    def hold_the_episode() -> None:
        try:
            with transaction.atomic():
                episode_lock(cycle=cycle, term=platelet_term)
                assert open_episode(cycle=cycle, term=platelet_term) is not None
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_the_episode)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        with transaction.atomic():  # another patient's save may lock the term and the site (NOWAIT: fail at once)
            CTCAETerm.objects.select_for_update(nowait=True).get(pk=platelet_term.pk)
            Site.objects.select_for_update(nowait=True).get(pk=ward.pk)
        with pytest.raises(DatabaseError), transaction.atomic():  # while the episode itself is locked
            AdverseEvent.objects.select_for_update(nowait=True).get()
    finally:
        release.set()
        thread.join(timeout=10)
