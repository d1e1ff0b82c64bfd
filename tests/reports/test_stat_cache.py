"""The benchmark's site-independent statistics are computed once per process and reused across wards
(``reports.stat_cache``), with results identical to computing them afresh."""

from __future__ import annotations

import json

import pytest

from reports import benchmark, stat_cache
from tests.conftest import make_cycle, make_event, make_patient


@pytest.fixture
def two_wards(ward, other_ward):
    """Ward A: 10 patients, 8 with grade 3 CRS; ward B: 12 patients, 2 with grade 2 CRS and 1 febrile neutropenia."""
    for i in range(10):
        cycle = make_cycle(make_patient(ward, f"A-{i:02d}"))
        if i < 8:
            make_event(cycle, "Cytokine release syndrome", grade=3)
    for i in range(12):
        cycle = make_cycle(make_patient(other_ward, f"B-{i:02d}"))
        if i < 2:
            make_event(cycle, "Cytokine release syndrome", grade=2)
        if i == 5:
            make_event(cycle, "Febrile neutropenia", grade=3)
    return [benchmark.collect_inputs(ward), benchmark.collect_inputs(other_ward)]


def _canonical(results: dict) -> str:
    return json.dumps(results, sort_keys=True, allow_nan=True, default=str)


def test_cached_results_are_identical_to_uncached(two_wards):
    with stat_cache.disabled():
        uncached = [benchmark.compute(inputs) for inputs in two_wards]
    stat_cache.clear()
    cached_first = [benchmark.compute(inputs) for inputs in two_wards]
    cached_again = [benchmark.compute(inputs) for inputs in two_wards]  # every statistic now from the memo
    assert [_canonical(r) for r in cached_first] == [_canonical(r) for r in uncached]
    assert [_canonical(r) for r in cached_again] == [_canonical(r) for r in uncached]


def test_disabled_calls_leave_the_memo_empty(two_wards):
    stat_cache.clear()
    with stat_cache.disabled():
        benchmark.compute(two_wards[0])
    assert all(v["size"] == 0 and v["hits"] == 0 for v in stat_cache.info().values())


def test_the_second_ward_reuses_the_first_wards_pooled_benchmarks_and_boundaries(two_wards):
    stat_cache.clear()
    benchmark.compute(two_wards[0])
    after_first = stat_cache.info()
    assert after_first["pool"]["misses"] > 0 and after_first["pocock_boundaries"]["misses"] > 0
    benchmark.compute(two_wards[1])
    after_second = stat_cache.info()
    # Same cohort sets per cell: no GLMM is refitted and no boundary searched again for the other ward.
    assert after_second["pool"]["misses"] == after_first["pool"]["misses"]
    assert after_second["pool"]["hits"] > after_first["pool"]["hits"]
    assert after_second["two_step_logit"]["misses"] == after_first["two_step_logit"]["misses"]
    assert after_second["pocock_boundaries"]["misses"] == after_first["pocock_boundaries"]["misses"]


def test_the_key_is_the_whole_argument_list():
    stat_cache.clear()
    strict = stat_cache.pool([3, 4, 5], [20, 30, 40], min_cohorts=3)
    loose = stat_cache.pool([3, 4, 5], [20, 30, 40], min_cohorts=4)
    assert strict.method == "glmm_ml" and loose.weak and loose.method == "common_effect"
    assert stat_cache.pool((3, 4, 5), (20, 30, 40), min_cohorts=3) is strict  # lists and tuples: one key
    assert stat_cache.pocock_boundaries(40, 0.2, 0.05) != stat_cache.pocock_boundaries(40, 0.25, 0.05)
