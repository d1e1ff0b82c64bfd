"""The database itself refuses impossible adverse events and cycles, whatever code path writes them.

Every test here bypasses forms, serializers and services: it writes through the ORM inside
``transaction.atomic()`` and expects PostgreSQL (check constraints, composite foreign keys, triggers)
to raise IntegrityError, then checks that nothing was stored.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from ae.models import AdverseEvent
from patients.models import TreatmentCycle
from tests.conftest import make_cycle, make_event, make_patient, term

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def refused(fn, *args, **kwargs) -> None:
    """Assert that the database raises IntegrityError for ``fn(*args, **kwargs)`` (rolled back cleanly)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        fn(*args, **kwargs)


# --- grade must exist for its CTCAE term (composite FK ae_grade_allowed_for_term) --------------------


@pytest.mark.parametrize(("term_name", "grade", "outcome"), [
    ("Tremor", 4, "NOT RECOVERED/NOT RESOLVED"),                   # Tremor has grades 1–3 only
    ("Febrile neutropenia", 2, "NOT RECOVERED/NOT RESOLVED"),      # FN starts at grade 3
    ("Neutrophil count decreased", 5, "FATAL"),                    # lab term: no grade 5
])
def test_it_refuses_a_grade_the_term_does_not_have(cycle, nurse, term_name, grade, outcome):
    """A grade absent from CTCAE v5.0 for the term cannot be stored, even with a consistent outcome."""
    with pytest.raises(IntegrityError, match="ae_grade_allowed_for_term"), transaction.atomic():
        make_event(cycle, term_name, grade=grade, user=nurse, outcome=outcome)
    assert AdverseEvent.objects.count() == 0


@pytest.mark.parametrize(("term_name", "grade"), [
    ("Tremor", 3), ("Febrile neutropenia", 3), ("Neutrophil count decreased", 4),
])
def test_it_accepts_the_highest_grade_the_term_has(cycle, nurse, term_name, grade):
    event = make_event(cycle, term_name, grade=grade, user=nurse)
    stored = AdverseEvent.objects.get()
    assert (stored.pk, stored.term.term, stored.grade) == (event.pk, term_name, grade)


def test_it_refuses_a_bulk_update_to_a_grade_the_term_does_not_have(cycle, nurse):
    """QuerySet.update() skips model validation; the composite FK still refuses Tremor grade 4."""
    event = make_event(cycle, "Tremor", grade=2, user=nurse)
    refused(AdverseEvent.objects.filter(pk=event.pk).update, grade=4)
    event.refresh_from_db()
    assert event.grade == 2


# --- onset relative to the cycle start (trigger ae_onset_within_cycle) -------------------------------


def test_it_refuses_an_onset_before_the_cycle_start(cycle, nurse):
    # onset_day=0 is the day before cycle day 1
    refused(make_event, cycle, user=nurse, onset_day=0)
    assert AdverseEvent.objects.count() == 0


def test_it_accepts_an_earlier_onset_when_present_before_the_cycle(cycle, nurse):
    event = make_event(cycle, user=nurse, onset_day=-6, present_before_cycle=True)
    assert AdverseEvent.objects.get().onset_date == cycle.start_date - 7 * DAY == event.onset_date


def test_it_accepts_an_onset_on_cycle_day_1(cycle, nurse):
    make_event(cycle, user=nurse, onset_day=1)
    assert AdverseEvent.objects.get().onset_date == cycle.start_date


def test_it_refuses_a_present_before_cycle_event_that_began_after_the_cycle_start(cycle, nurse):
    refused(make_event, cycle, user=nurse, onset_day=3, present_before_cycle=True)
    assert AdverseEvent.objects.count() == 0


def test_it_refuses_moving_an_existing_event_onset_before_the_cycle_start(cycle, nurse):
    event = make_event(cycle, user=nurse, onset_day=2)
    refused(AdverseEvent.objects.filter(pk=event.pk).update, onset_date=cycle.start_date - DAY)
    event.refresh_from_db()
    assert event.onset_date == cycle.start_date + DAY


def test_it_refuses_moving_the_cycle_start_after_an_existing_event_onset(cycle, nurse):
    """Trigger cycle_start_keeps_ae_onsets_valid: an event on day 2 pins the start to day 2 or earlier."""
    make_event(cycle, user=nurse, onset_day=2)
    original = cycle.start_date
    cycle.start_date = original + 3 * DAY
    refused(cycle.save)
    refused(TreatmentCycle.objects.filter(pk=cycle.pk).update, start_date=original + 3 * DAY)
    assert TreatmentCycle.objects.get(pk=cycle.pk).start_date == original


def test_it_allows_moving_the_cycle_start_onto_the_event_onset(cycle, nurse):
    event = make_event(cycle, user=nurse, onset_day=2)
    TreatmentCycle.objects.filter(pk=cycle.pk).update(start_date=event.onset_date)
    assert TreatmentCycle.objects.get(pk=cycle.pk).start_date == event.onset_date


# --- check constraints on the event -------------------------------------------------------------------


def test_it_refuses_a_resolution_before_the_onset(cycle, nurse):
    onset = cycle.start_date + DAY
    refused(make_event, cycle, user=nurse, onset_day=2, resolution_date=onset - DAY)
    assert AdverseEvent.objects.count() == 0


def test_it_accepts_resolution_on_the_onset_day(cycle, nurse):
    make_event(cycle, user=nurse, onset_day=2, resolution_date=cycle.start_date + DAY)
    assert AdverseEvent.objects.count() == 1


def test_it_refuses_grade_5_without_a_fatal_outcome(cycle, nurse):
    # CRS has a grade 5, so only the outcome rule (ae_grade5_is_fatal) can refuse this
    with pytest.raises(IntegrityError, match="ae_grade5_is_fatal"), transaction.atomic():
        make_event(cycle, "Cytokine release syndrome", grade=5, user=nurse, outcome="NOT RECOVERED/NOT RESOLVED",
                   serious=True, sae_death=True)
    assert AdverseEvent.objects.count() == 0


def test_it_accepts_grade_5_with_a_fatal_outcome(cycle, nurse):
    make_event(cycle, "Cytokine release syndrome", grade=5, user=nurse, outcome="FATAL",
               serious=True, sae_death=True)
    assert AdverseEvent.objects.get().grade == 5


def test_it_refuses_a_serious_event_without_any_sae_criterion(cycle, nurse):
    with pytest.raises(IntegrityError, match="ae_serious_iff_sae_criterion"), transaction.atomic():
        make_event(cycle, user=nurse, serious=True)
    assert AdverseEvent.objects.count() == 0


@pytest.mark.parametrize("criterion", AdverseEvent.SAE_FIELDS)
def test_it_refuses_an_sae_criterion_on_a_non_serious_event(cycle, nurse, criterion):
    # "results in death" is also refused for its own reasons (it needs the outcome Fatal, which needs serious)
    rule = "ae_serious_iff_sae_criterion" if criterion != "sae_death" else "ae_sae_death_is_fatal"
    with pytest.raises(IntegrityError, match=rule), transaction.atomic():
        make_event(cycle, user=nurse, serious=False, **{criterion: True})
    assert AdverseEvent.objects.count() == 0


def test_it_accepts_a_serious_event_with_a_criterion(cycle, nurse):
    make_event(cycle, user=nurse, serious=True, sae_hospitalization=True)
    assert AdverseEvent.objects.get().serious is True


# --- the cycle belongs to the event's patient (composite FK ae_cycle_belongs_to_patient) -------------


def test_it_refuses_an_event_whose_cycle_belongs_to_another_patient(ward, cycle, nurse):
    other_patient = make_patient(ward, "KRK-002")
    with pytest.raises(IntegrityError, match="ae_cycle_belongs_to_patient"), transaction.atomic():
        AdverseEvent.objects.create(
            patient=other_patient, cycle=cycle, term=term("Cytokine release syndrome"), grade=2,
            onset_date=cycle.start_date + DAY, relatedness="probable", action_taken="DOSE NOT CHANGED",
            outcome="NOT RECOVERED/NOT RESOLVED", created_by=nurse)
    assert AdverseEvent.objects.count() == 0


def test_it_refuses_moving_an_event_to_another_patients_cycle(ward, cycle, nurse):
    event = make_event(cycle, user=nurse)
    other_cycle = make_cycle(make_patient(ward, "KRK-002"), start=cycle.start_date)
    refused(AdverseEvent.objects.filter(pk=event.pk).update, cycle=other_cycle)
    event.refresh_from_db()
    assert event.cycle_id == cycle.pk


# --- treatment cycles -----------------------------------------------------------------------------------


def test_it_refuses_a_second_cycle_with_the_same_number_for_a_patient(patient, cycle):
    refused(make_cycle, patient, number=1, start=cycle.start_date + 40 * DAY)
    assert TreatmentCycle.objects.filter(patient=patient).count() == 1


def test_it_accepts_the_same_cycle_number_for_another_patient(ward, cycle):
    make_cycle(make_patient(ward, "KRK-002"), number=1)
    assert TreatmentCycle.objects.filter(number=1).count() == 2


@pytest.mark.parametrize("blasts", [Decimal("101"), Decimal("-1"), Decimal("100.01")])
def test_it_refuses_marrow_blasts_outside_0_to_100_percent(patient, blasts):
    with pytest.raises(IntegrityError, match="cycle_blasts_pct_0_100"), transaction.atomic():
        make_cycle(patient, marrow_blasts_pct=blasts)
    assert TreatmentCycle.objects.count() == 0


@pytest.mark.parametrize("blasts", [Decimal("0"), Decimal("100")])
def test_it_accepts_marrow_blasts_at_the_bounds(patient, blasts):
    make_cycle(patient, marrow_blasts_pct=blasts)
    assert TreatmentCycle.objects.get().marrow_blasts_pct == blasts
