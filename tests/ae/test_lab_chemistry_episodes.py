"""Chemistry lab values recorded on the ward (issue 10 item 7): the value's direction proposes the CTCAE v5.0 term
whose episode it feeds; total calcium is corrected for the albumin of the same draw; a low IgG is recorded under
"Immune system disorders - Other, specify" with the verbatim term."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from ae.models import AdverseEvent, LabResult
from ae.services.labs import lab_result_record

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def sodium(patient, user, value, day):
    return lab_result_record(patient=patient, acting_user=user, data={
        "analyte": "sodium", "value": value, "unit": "mmol/L", "lln": 135, "uln": 145, "collected_at": at(day)})


def test_low_then_high_sodium_are_two_episodes_of_two_terms(patient, cycle, nurse):
    """CTCAE v5.0: 128 mmol/L is Hyponatremia grade 2 ("125-129 mmol/L and asymptomatic"), 156 mmol/L is Hypernatremia
    grade 3 (">155 - 160 mmol/L"); each starts the episode of its own term."""
    low = sodium(patient, nurse, 128, 7)
    assert (low.ctcae_term, low.grade, low.adverse_event.term.term) == ("Hyponatremia", 2, "Hyponatremia")
    high = sodium(patient, nurse, 156, 9)
    assert (high.ctcae_term, high.grade, high.adverse_event.term.term) == ("Hypernatremia", 3, "Hypernatremia")
    assert AdverseEvent.objects.count() == 2


def test_a_normal_sodium_resolves_the_hypernatremia_it_followed(patient, cycle, nurse):
    high = sodium(patient, nurse, 152, 7)
    normal = sodium(patient, nurse, 140, 9)
    assert normal.grade == 0
    assert normal.adverse_event_id == high.adverse_event_id
    event = AdverseEvent.objects.get(pk=high.adverse_event_id)
    assert (event.term.term, event.resolution_date) == ("Hypernatremia", datetime.date(2026, 1, 9))


def test_total_calcium_is_corrected_with_the_albumin_of_the_same_draw(patient, cycle, nurse):
    """corrected Ca = 1.8 mmol/L + 0.8 x (4.0 - 2.5 g/dL) / 4.008 = 2.0994 mmol/L: Hypocalcemia grade 1 ("<LLN -
    2.0 mmol/L"), not grade 2 as the uncorrected 1.8 mmol/L would be."""
    uncorrected = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "calcium", "value": 1.8, "unit": "mmol/L", "lln": 2.15, "uln": 2.58, "collected_at": at(7, 6)})
    assert uncorrected.grade is None and "albumin" in uncorrected.rationale
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "albumin", "value": 25, "unit": "g/L", "lln": 35, "collected_at": at(8)})
    calcium = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "calcium", "value": 1.8, "unit": "mmol/L", "lln": 2.15, "uln": 2.58, "collected_at": at(8)})
    assert (calcium.grade, calcium.ctcae_term) == (1, "Hypocalcemia")
    assert "Corrected with Albumin 25 g/L" in calcium.rationale and "2.0994" in calcium.rationale


def test_a_low_igg_is_an_other_specify_event_with_its_verbatim_term(patient, cycle, nurse):
    result = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "igg", "value": 2.1, "unit": "g/L", "lln": 4.5, "uln": 13, "collected_at": at(8)})
    assert (result.grade, result.ctcae_term) == (1, "Immune system disorders - Other, specify")
    assert (result.adverse_event.term.term, result.adverse_event.verbatim_term) == (
        "Immune system disorders - Other, specify", "Hypogammaglobulinemia")


def test_a_unit_slip_of_a_chemistry_value_is_refused_naming_the_unit(patient, cycle, nurse):
    with pytest.raises(ValidationError) as exc:
        lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "glucose", "value": 90, "unit": "mmol/L", "collected_at": at(8)})
    assert "Did you mean 90 mg/dL" in exc.value.message_dict["value"][0]
    assert LabResult.objects.count() == 0


def test_the_database_refuses_a_unit_the_analyte_does_not_have(patient, nurse):
    from django.db import IntegrityError, transaction
    with pytest.raises(IntegrityError), transaction.atomic():
        LabResult.objects.create(patient=patient, analyte="sodium", value=140, unit="mg/dL", collected_at=at(8),
                                 ctcae_term="Hyponatremia", rationale="x", entered_by=nurse)


def test_a_low_igg_does_not_join_another_other_specify_event(patient, cycle, nurse):
    """"Immune system disorders - Other, specify" holds many events: a low IgG feeds only the one whose verbatim term
    is Hypogammaglobulinemia, never an open one reported as something else."""
    from tests.conftest import make_event
    other = make_event(cycle, "Immune system disorders - Other, specify", grade=2, outcome="NOT RECOVERED/NOT RESOLVED",
                       verbatim_term="Serum sickness")
    result = lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "igg", "value": 2.1, "unit": "g/L", "lln": 4.5, "uln": 13, "collected_at": at(8)})
    assert result.adverse_event is not None and result.adverse_event.pk != other.pk
    assert result.adverse_event.verbatim_term == "Hypogammaglobulinemia"


@pytest.mark.parametrize(("abnormal", "term"), [(128, "Hyponatremia"), (132, "Hyponatremia"),
                                                (152, "Hypernatremia")])
def test_a_sodium_typed_in_after_the_normal_one_that_followed_it_is_resolved_by_it(patient, cycle, nurse,
                                                                                   abnormal, term):
    """Results typed in out of order (the normal sodium of the 9th first): the episode the abnormal value of the 7th
    starts is resolved on the 9th, and the normal value is shown under the term it resolves."""
    normal = sodium(patient, nurse, 140, 9)
    event = sodium(patient, nurse, abnormal, 7).adverse_event
    assert (event.term.term, event.resolution_date) == (term, datetime.date(2026, 1, 9))
    normal.refresh_from_db()
    assert (normal.adverse_event_id, normal.ctcae_term) == (event.pk, term)


def test_a_low_sodium_typed_in_before_a_high_one_not_worse_than_baseline_stays_open(patient, cycle, nurse):
    """The later value is abnormal the other way (Hypernatremia grade 1, as at the cycle start: no AE of its own):
    it is not the end of the Hyponatremia, and keeps its own term."""
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "sodium", "value": 150, "unit": "mmol/L", "lln": 135, "uln": 145, "collected_at": at(5, 6),
        "baseline": True, "cycle": cycle})
    high = sodium(patient, nurse, 150, 9)
    assert (high.grade, high.treatment_emergent, high.adverse_event_id) == (1, False, None)
    assert sodium(patient, nurse, 128, 7).adverse_event.resolution_date is None
    high.refresh_from_db()
    assert (high.adverse_event_id, high.ctcae_term) == (None, "Hypernatremia")
