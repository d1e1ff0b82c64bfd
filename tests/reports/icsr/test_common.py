"""Shared rules of the ICSR writers: dose units, dates."""

from __future__ import annotations

import pytest

from reports.icsr.common import IcsrError, hl7_ts, split_dose_unit, ucum


@pytest.mark.parametrize(("unit", "expected"), [
    ("ug_m2_day", "ug/m2/d"), ("ug_day", "ug/d"), ("mg_kg", "mg/kg"), ("mg_m2", "mg/m2"),
    ("ug_kg_min", "ug/kg/min"), ("µg/m²/day", "ug/m2/d"), ("mg", "mg"), ("", ""),
])
def test_ucum(unit, expected):
    """pvtrack's stored choices (DosingStep.unit, EventTreatment.dose_unit) and ward spellings become UCUM."""
    assert ucum(unit) == expected


@pytest.mark.parametrize(("unit", "expected"), [
    ("ug/m2/d", ("ug/m2", "d")), ("ug_day", ("ug", "d")), ("ug_kg_min", ("ug/kg", "min")),
    ("mg/kg", ("mg/kg", None)), ("mg", ("mg", None)), ("mg/m2", ("mg/m2", None)),
])
def test_split_dose_unit(unit, expected):
    assert split_dose_unit(unit) == expected


def test_hl7_ts_keeps_the_offset_and_accepts_minutes():
    assert hl7_ts("2026-03-29T03:30+02:00") == "20260329033000+0200"  # after the spring DST change in Warsaw
    assert hl7_ts("2026-03-29") == "20260329"
    with pytest.raises(IcsrError, match="no UTC offset"):
        hl7_ts("2026-03-29T03:30")
