"""Recording lab results: CTCAE v5.0 grade (grading.md §3.1), baseline at cycle start, treatment-emergent flag
(ADaM TRTEMFL: a post-baseline value is treatment-emergent only if its grade is worse than the baseline grade)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ae.models import LabResult
from ae.services.labs import lab_result_record

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, 7, tzinfo=TZ)


def record(patient, user, **data):
    return lab_result_record(patient=patient, acting_user=user, data=data)


def test_a_value_is_graded_and_assigned_to_the_running_cycle(patient, cycle, nurse):
    r = record(patient, nurse, analyte="platelets", value=50000, unit="/mm3", lln=150000, collected_at=at(8))
    # "<75,000 - 50,000/mm3" = grade 2: exactly 50,000 belongs to the less severe grade.
    assert (r.grade, r.ctcae_term, r.cycle) == (2, "Platelet count decreased", cycle)
    assert r.treatment_emergent is True  # no baseline: any grade > 0 is new


def test_without_lln_grade_1_is_undetermined(patient, cycle, nurse):
    r = record(patient, nurse, analyte="anc", value=1.6, unit="10^9/L", collected_at=at(8))
    assert r.grade is None and "LLN" in r.rationale
    assert r.treatment_emergent is None


def test_not_treatment_emergent_unless_worse_than_the_baseline(patient, cycle, nurse):
    base = record(patient, nurse, analyte="anc", value=1.2, unit="10^9/L", lln=1.5, collected_at=at(5),
                  baseline=True, cycle=cycle)
    assert (base.grade, base.treatment_emergent, base.cycle) == (2, None, cycle)
    same = record(patient, nurse, analyte="anc", value=1.1, unit="10^9/L", lln=1.5, collected_at=at(9))
    worse = record(patient, nurse, analyte="anc", value=0.9, unit="10^9/L", lln=1.5, collected_at=at(10))
    assert (same.grade, same.treatment_emergent) == (2, False)
    assert (worse.grade, worse.treatment_emergent) == (3, True)


def test_a_late_baseline_regrades_alt_against_an_abnormal_baseline(patient, cycle, nurse):
    later = record(patient, nurse, analyte="alt", value=130, unit="U/L", uln=40, collected_at=at(9))
    assert (later.grade, later.treatment_emergent) == (2, True)  # 3.25 x ULN: ">3.0 - 5.0 x ULN" = grade 2
    record(patient, nurse, analyte="alt", value=80, unit="U/L", uln=40, collected_at=at(4), baseline=True,
           cycle=cycle)
    later.refresh_from_db()
    # Abnormal baseline 80 U/L (2 x ULN = grade 1): 130 = 1.6 x baseline -> "1.5 - 3.0 x baseline" = grade 1,
    # not worse than the baseline grade, so not treatment-emergent.
    assert (later.grade, later.treatment_emergent) == (1, False)


@pytest.mark.parametrize(("data", "field"), [
    ({"unit": "mg/dL"}, "unit"),
    ({"lln": 2.0, "uln": 1.0}, "lln"),
    ({"baseline": True}, "collected_at"),  # a baseline after the cycle start
])
def test_bad_input_is_refused_and_nothing_saved(patient, cycle, nurse, data, field):
    with pytest.raises(ValidationError) as exc:
        record(patient, nurse, **({"analyte": "anc", "value": 1.0, "unit": "10^9/L", "collected_at": at(8),
                                   "cycle": cycle} | data))
    assert field in exc.value.message_dict
    assert LabResult.objects.count() == 0


def test_only_recorders_of_the_site(patient, cycle, officer, outsider):
    for user in (officer, outsider):
        with pytest.raises(PermissionDenied):
            record(patient, user, analyte="anc", value=1.0, unit="10^9/L", collected_at=at(8))
