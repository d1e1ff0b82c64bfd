"""Fixtures shared by the reports tests."""

from __future__ import annotations

import pytest

from reports.models import BenchmarkRun, Flag
from tests.conftest import make_cycle, make_event, make_patient


@pytest.fixture
def crs_ward(ward):
    """10 patients on cycle 1, 8 of them with grade 3 CRS: CRS (any grade and grade ≥3) is flagged ALARM."""
    cycles = [make_cycle(make_patient(ward, f"S-{i:02d}")) for i in range(10)]
    for cycle in cycles[:8]:
        make_event(cycle, "Cytokine release syndrome", grade=3)
    return cycles


def crs_flag(run: BenchmarkRun, band: str = "ge3") -> Flag:
    return run.flags.get(kind="literature", category__slug="crs", grade_band=band, cycle_scope="all")
