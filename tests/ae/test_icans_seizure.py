"""A seizure recorded on the ICANS assessment is also a CTCAE "Seizure" AE (issue 20 item 2).

Grades from the seizure row of the ASTCT 2019 ICANS grading (Lee et al., Biol Blood Marrow Transplant
2019;25:625-638): rapidly resolving clinical seizure or EEG seizure resolving with intervention = 3;
prolonged (> 5 min) or repetitive seizures without return to baseline = 4.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from ae.models import AdverseEvent, AdverseEventRevision
from ae.services.assessments import icans_assessment_record
from reports import benchmark

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
NEW = {"relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}


def at(day: int, hour: int = 8) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, 0, tzinfo=TZ)


def icans(patient, cycle, user, when, episode=None, **data):
    return icans_assessment_record(patient=patient, cycle=cycle, acting_user=user, episode=episode,
                                   data={"assessed_at": when, "tool": "CAPD", "score": 0, **data})


def seizures(patient):
    return AdverseEvent.objects.filter(patient=patient, term__term="Seizure")


def test_an_icans_seizure_yields_a_seizure_ae_counted_in_the_seizure_category(ward, patient, cycle, nurse):
    a = icans(patient, cycle, nurse, at(6), seizure="rapid_resolving_or_eeg_treated", **NEW)
    assert a.adverse_event.term.term == "Encephalopathy" and a.adverse_event.grade == 3
    seizure = seizures(patient).get()
    assert (seizure.grade, seizure.grading_scale, seizure.onset_date) == (3, "astct_2019", datetime.date(2026, 1, 6))
    assert (seizure.relatedness, seizure.action_taken) == ("probable", "DRUG INTERRUPTED")
    assert seizure.computed_grade == 3 and "ASTCT 2019 ICANS seizure row" in seizure.computed_rationale
    counts = benchmark.collect_inputs(ward)["ward"]
    assert counts["seizure|any|all"] == counts["seizure|ge3|all"] == 1
    assert counts["neurotoxicity|any|all"] == 1  # the same patient, counted once


def test_a_later_prolonged_seizure_raises_the_same_seizure_ae(patient, cycle, nurse):
    first = icans(patient, cycle, nurse, at(6), seizure="rapid_resolving_or_eeg_treated", **NEW)
    icans(patient, None, nurse, at(7), episode=first.adverse_event, seizure="prolonged_or_repetitive")
    icans(patient, None, nurse, at(8), episode=first.adverse_event, seizure="rapid_resolving_or_eeg_treated")
    seizure = seizures(patient).get()
    assert seizure.grade == 4 and seizure.onset_date == datetime.date(2026, 1, 6)
    assert AdverseEventRevision.objects.filter(adverse_event=seizure, changes__grade=[3, 4]).count() == 1


def test_no_seizure_no_seizure_ae(patient, cycle, nurse):
    icans(patient, cycle, nurse, at(6), score=4, **NEW)
    assert not seizures(patient).exists()
