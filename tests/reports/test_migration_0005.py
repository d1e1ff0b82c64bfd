"""Migration 0005 on a database with runs, flags and signatures stored before it: cell values are filled in from
each run's results and reviews carry over along unchanged cells, as for runs stored after it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from reports import benchmark
from reports.cells import cell_fingerprint, cell_values
from reports.models import Flag
from tests.conftest import make_cycle, make_event, make_patient, make_user, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("reports", "0004_electronic_signatures")]



@pytest.fixture(autouse=True)
def _back_to_the_latest_migrations():
    """Leave the schema as the other tests expect it: every migration applied, including those after 0005."""
    yield
    migrate_to()


def test_0005_fills_cell_values_and_carries_reviews_of_unchanged_cells(committed_reference_data, ward):
    officer = make_user("officer")
    cycles = [make_cycle(make_patient(ward, f"S-{i:02d}")) for i in range(10)]
    for cycle in cycles[:8]:
        make_event(cycle, "Cytokine release syndrome", grade=3, user=officer)
    same = benchmark.compute(benchmark.collect_inputs(ward))
    make_event(cycles[8], "Cytokine release syndrome", grade=3, user=officer)
    changed = benchmark.compute(benchmark.collect_inputs(ward))
    try:
        old = migrate_to(BEFORE)
        OldRun, OldFlag = old.get_model("reports", "BenchmarkRun"), old.get_model("reports", "Flag")
        OldCategory = old.get_model("reports", "BenchmarkCategory")
        start = timezone.now() - datetime.timedelta(hours=3)
        runs = []
        for i, results in enumerate([same, same, changed, changed]):
            run = OldRun.objects.create(site_id=ward.pk, trigger="ae_change", status="done", results=results,
                                        inputs={}, method_version=results["method_version"],
                                        finished_at=start + datetime.timedelta(hours=i / 2))
            for f in results["flags"]:
                OldFlag.objects.create(run=run, category=OldCategory.objects.get(slug=f["category"]),
                                       grade_band=f["grade_band"], cycle_scope=f["cycle_scope"], level=f["level"],
                                       direction=f["direction"], message=f["message"], p_value=f["p_value"])
            runs.append(run)
        signature = {"reviewed_by_id": officer.pk, "reviewed_at": start, "review_comment": "Checked.",
                     "signer_name": "officer", "signature_meaning": "Reviewed", "signed_results_sha256": "a" * 64}
        for run in (runs[0], runs[2]):
            OldFlag.objects.filter(run=run, category__slug="crs", grade_band="ge3", cycle_scope="all").update(
                **signature)
    finally:
        migrate_to()  # back to the newest state

    def crs(run) -> Flag:
        return Flag.objects.get(run_id=run.pk, category__slug="crs", grade_band="ge3", cycle_scope="all")

    for run, results in zip(runs, [same, same, changed, changed], strict=True):
        cell = next(c for c in results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"])
                    == ("crs", "ge3", "all"))
        values = cell_values(cell)
        assert crs(run).cell_values == values and crs(run).cell_fingerprint == cell_fingerprint(values)
    assert crs(runs[1]).carried_review == crs(runs[0])  # unchanged: carries run 1's signature
    assert crs(runs[2]).carried_review is None and crs(runs[2]).reviewed_at is not None  # signed itself
    assert crs(runs[3]).carried_review == crs(runs[2])
    assert not Flag.objects.filter(cell_fingerprint="").exists()
