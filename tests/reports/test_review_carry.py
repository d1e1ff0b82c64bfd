"""A flag review carries over to later runs while its cell is unchanged (issue "A record the ward can trust", 10).

Every save of ward data starts a new benchmark run; a reviewed flag must not come back unreviewed because a
nurse recorded something unrelated, and must come back open (saying what changed) when its cell changed.
"""

from __future__ import annotations

import copy
import importlib

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from reports import cells
from reports.models import Flag
from reports.runs import benchmark_run_now
from reports.signatures import flag_review
from tests.conftest import PASSWORD, make_event
from tests.reports.conftest import crs_flag

pytestmark = pytest.mark.django_db




def signed_crs_flag(ward, officer) -> Flag:
    run = benchmark_run_now(site=ward)
    return flag_review(flag=crs_flag(run), acting_user=officer, comment="Checked: true grade 3 CRS.",
                       password=PASSWORD)


def test_a_review_carries_over_to_later_runs_while_its_cell_is_unchanged(ward, crs_ward, officer):
    signed = signed_crs_flag(ward, officer)
    make_event(crs_ward[0], "Anemia", grade=1)  # another category: the CRS cells do not change
    second = crs_flag(benchmark_run_now(site=ward))
    assert second.pk != signed.pk
    assert second.carried_review == signed and second.signed_review == signed
    assert second.reviewed_at is None and second.signer_name == ""  # a reference, never a copied signature
    third = crs_flag(benchmark_run_now(site=ward))
    assert third.carried_review == signed  # always the original signature, not the flag that carried it
    assert third.cell_fingerprint == signed.cell_fingerprint
    assert third.cell_values["x"] == 8 and third.cell_values["n"] == 10 and third.cell_values["level"] == "ALARM"


def test_a_review_does_not_carry_over_when_its_cell_changed(ward, crs_ward, officer):
    signed = signed_crs_flag(ward, officer)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)  # 8/10 -> 9/10
    changed = crs_flag(benchmark_run_now(site=ward))
    assert changed.carried_review is None and changed.signed_review is None
    assert (signed.cell_values["x"], changed.cell_values["x"]) == (8, 9)
    assert cells.describe_cell_change(signed.cell_values, changed.cell_values).startswith(
        "when the ward was 8/10 (benchmark ")


def test_a_review_signed_on_an_older_run_carries_forward_to_the_runs_stored_since(ward, crs_ward, officer):
    """The officer opened the report on run 1; meanwhile a nurse's saves made runs 2 (unrelated) and 3 (CRS)."""
    first = benchmark_run_now(site=ward)
    make_event(crs_ward[0], "Anemia", grade=1)
    second = benchmark_run_now(site=ward)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    third = benchmark_run_now(site=ward)
    signed = flag_review(flag=crs_flag(first), acting_user=officer, comment="Checked.", password=PASSWORD)
    assert crs_flag(second).carried_review == signed
    assert crs_flag(third).carried_review is None  # its cell changed: it needs its own signature


def test_the_chain_breaks_when_the_cell_changed_in_between(ward, crs_ward, officer):
    signed = signed_crs_flag(ward, officer)
    extra = make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    assert crs_flag(benchmark_run_now(site=ward)).carried_review is None
    extra.delete()  # back to 8/10, but the run in between was open: the old review is not revived
    back = crs_flag(benchmark_run_now(site=ward))
    assert back.cell_fingerprint == signed.cell_fingerprint
    assert back.carried_review is None


def test_a_flag_carrying_a_review_cannot_be_signed_again(ward, crs_ward, officer):
    signed = signed_crs_flag(ward, officer)
    carried = crs_flag(benchmark_run_now(site=ward))
    with pytest.raises(ValidationError, match=f"already reviewed: the review by officer .* in run {signed.run_id} "
                                              "carries over"):
        flag_review(flag=carried, acting_user=officer, comment="again", password=PASSWORD)


def _refused(**changes) -> str:
    """Apply ``changes`` to a flag with one UPDATE and return the database's refusal."""
    flag_id = changes.pop("pk")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Flag.objects.filter(pk=flag_id).update(**changes)
    return str(exc.value)


def test_the_database_keeps_carried_reviews_consistent(ward, crs_ward, officer):
    signed = signed_crs_flag(ward, officer)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    second = benchmark_run_now(site=ward)
    changed, other_cell = crs_flag(second), crs_flag(second, band="any")
    unsigned_first = crs_flag(signed.run, band="any")
    # a flag of another cell, or whose cell changed, cannot carry the review
    assert "needs a new signature" in _refused(pk=changed.pk, carried_review=signed.pk)
    assert "needs a new signature" in _refused(pk=other_cell.pk, carried_review=signed.pk)
    # only a signed flag's review can be carried, and not within the same run
    assert "not signed itself" in _refused(pk=other_cell.pk, carried_review=unsigned_first.pk)
    make_event(crs_ward[0], "Anemia", grade=1)
    carried = crs_flag(benchmark_run_now(site=ward))
    assert carried.carried_review is None  # run 2 was open: nothing to carry
    assert "only to a later run" in _refused(pk=unsigned_first.pk, carried_review=signed.pk,
                                             cell_fingerprint=signed.cell_fingerprint)
    # signed and carrying at once
    both = Flag(run=carried.run, category=signed.category, grade_band="ge3", cycle_scope="first", level="ALARM",
                direction="above", message="m", p_value=0.001, cell_values=signed.cell_values,
                cell_fingerprint=signed.cell_fingerprint, carried_review=signed,
                **{f: getattr(signed, f) for f in ("reviewed_by", "reviewed_at", "review_comment", "signer_name",
                                                   "signature_meaning", "signed_results_sha256")})
    with pytest.raises(IntegrityError, match="flag_signed_or_carried_not_both"), transaction.atomic():
        both.save()
    # a signature and the cell it was given for never change
    assert "cannot change" in _refused(pk=signed.pk, review_comment="edited afterwards")
    assert "cannot change" in _refused(pk=signed.pk, cell_values={})


# --- cell values and their fingerprint -----------------------------------------------------------------------

CELL = {"category": "crs", "category_name": "Cytokine release syndrome", "grade_band": "any", "cycle_scope": "all",
        "ward": {"x": 5, "n": 20, "rate": 0.25, "ci": [0.1, 0.5]},
        "pooled": {"method": "glmm_ml", "k": 5, "median": 0.07403405, "pi": [0.0000799, 0.98765], "weak": False,
                   "marginal_mean": 0.1},
        "flag": {"level": "ALERT", "direction": "above", "p_value": 0.01, "message": "m"}, "p_upper": 0.01}


def _cell(**changes) -> dict:
    cell = copy.deepcopy(CELL)
    for path, value in changes.items():
        target = cell
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        target[leaf] = value
    return cell


def test_cell_values_keep_what_the_flag_was_judged_on_rounded_to_what_the_report_shows():
    values = cells.cell_values(CELL)
    assert values == {"v": 1, "category": "crs", "grade_band": "any", "cycle_scope": "all", "x": 5, "n": 20,
                      "benchmark": {"method": "glmm_ml", "k": 5, "weak": False, "median_pct": 7.4,
                                    "pi_pct": [0.0, 98.8]},
                      "level": "ALERT", "direction": "above"}
    same = cells.cell_fingerprint(values)
    assert len(same) == 64
    # noise below 0.1 point, other statistics and names: the same cell
    for unchanged in (_cell(pooled__median=0.074031), _cell(p_upper=0.02), _cell(category_name="CRS"),
                      _cell(pooled__marginal_mean=0.2), _cell(flag__p_value=0.02), _cell(ward__ci=[0, 1])):
        assert cells.cell_fingerprint(cells.cell_values(unchanged)) == same
    # anything the flag was judged on: a changed cell
    for changed in (_cell(ward__x=6), _cell(ward__n=21), _cell(pooled__median=0.0755), _cell(pooled__k=6),
                    _cell(pooled__method="common_effect"), _cell(pooled__pi=[0.0, 0.9]), _cell(flag__level="ALARM"),
                    _cell(flag=None), _cell(pooled=None)):
        assert cells.cell_fingerprint(cells.cell_values(changed)) != same


def test_a_changed_cell_is_described_in_the_officers_terms():
    before = cells.cell_values(CELL)
    after = cells.cell_values(_cell(ward__x=6, ward__n=21, pooled__median=0.076, pooled__k=6,
                                    flag__level="ALARM"))
    assert cells.describe_cell_change(before, after) == (
        "when the ward was 5/20 (benchmark 7.4%, alert); now 6/21 (benchmark 7.6%, alarm); "
        "benchmark from 5 cohorts (GLMM) → 6 cohorts (GLMM)")
    assert cells.describe_cell_change(before, before) == ""


def test_changes_between_two_runs_list_counts_benchmarks_and_flags():
    neutropenia = _cell(category="neutropenia", category_name="Neutropenia", grade_band="ge3", flag=None)
    old = {"cells": [CELL, neutropenia]}
    new = {"cells": [_cell(ward__x=6, ward__n=21), _cell(category="neutropenia", category_name="Neutropenia",
                                                         grade_band="ge3", ward__n=21,
                                                         flag={"level": "ALARM", "direction": "above"})]}
    assert cells.changes_between(old, "m/1", new, "m/1") == [
        "patients treated 20 → 21", "Cytokine release syndrome any 5/20 → 6/21", "new flag (alarm): Neutropenia ≥3"]
    assert cells.changes_between(old, "m/1", old, "m/1") == []


def test_the_migration_fills_flags_with_the_same_values_and_fingerprint_as_the_app():
    """0005 keeps a frozen copy of cell_values/cell_fingerprint: today both must agree exactly."""
    migration = importlib.import_module("reports.migrations.0005_flag_review_carry_over")
    for cell in (CELL, _cell(pooled=None, flag=None), _cell(ward__x=0, flag__level="CHECK_ASCERTAINMENT")):
        values = cells.cell_values(cell)
        assert migration._cell_values(cell) == values
        assert migration._fingerprint(values) == cells.cell_fingerprint(values)


def test_the_api_shows_a_carried_review_as_the_original_signature(client, ward, crs_ward, officer,
                                                                  django_assert_max_num_queries):
    signed = signed_crs_flag(ward, officer)
    make_event(crs_ward[0], "Anemia", grade=1)
    second = benchmark_run_now(site=ward)
    client.force_login(officer)
    first_flags = {f["id"]: f for f in client.get(f"/api/v1/benchmark-runs/{signed.run_id}/").json()["flags"]}
    own = first_flags[signed.pk]
    assert (own["reviewed_by"], own["review_comment"], own["carried_review"], own["carried_from_run"]) == (
        "officer", "Checked: true grade 3 CRS.", None, None)
    flags = {f["id"]: f for f in client.get(f"/api/v1/benchmark-runs/{second.pk}/").json()["flags"]}
    carried = flags[crs_flag(second).pk]
    assert carried["carried_review"] == signed.pk and carried["carried_from_run"] == signed.run_id
    assert {k: carried[k] for k in ("reviewed_by", "reviewed_at", "review_comment")} == {
        k: own[k] for k in ("reviewed_by", "reviewed_at", "review_comment")}
    assert carried["cell_fingerprint"] == own["cell_fingerprint"] == signed.cell_fingerprint
    still_open = flags[crs_flag(second, "any").pk]
    assert (still_open["reviewed_by"], still_open["reviewed_at"], still_open["review_comment"],
            still_open["carried_review"], still_open["carried_from_run"]) == (None, None, "", None, None)
    with django_assert_max_num_queries(8):  # the flags and their reviews are prefetched: no query per flag
        assert len(client.get("/api/v1/benchmark-runs/").json()["results"]) == 2


def test_figures_not_recorded_or_an_older_result_format_are_said_in_words():
    values = cells.cell_values(CELL)
    assert "not recorded" in cells.describe_cell_change({}, values)
    older = {"cells": [{"category": "crs", "category_name": "CRS", "grade_band": "any", "cycle_scope": "all",
                        "ward": {"count": 5, "n": 20}}]}  # a shape cell_values cannot read
    assert cells.changes_between(older, "m/0", {"cells": [CELL]}, "m/1") == [
        "benchmark method m/0 → m/1",
        "Cytokine release syndrome any: not comparable (stored in an older result format)"]
