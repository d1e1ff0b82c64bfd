"""Tests for reports.sequential (Pocock-type exact boundary, Ivanova, Qaqish & Schell 2005).

Reference numbers: docs/methods.md §3.4 (computed there and checked against
the CRAN package stoppingrule 0.5.2, ``calc.rule.bin(type="Pocock")``), N_max = 40, p0 = 0.10.
"""

from __future__ import annotations

import itertools

import pytest
from scipy import stats as sps

from reports import sequential
from reports.sequential import (
    crossing_probability,
    events_needed_to_cross,
    naive_boundary,
    nominal_bounds,
    operating_characteristics,
    pocock_boundaries,
)


@pytest.fixture(scope="module")
def rule():
    return pocock_boundaries(40, 0.10, alpha=0.05)


def test_pocock_reproduces_methods_md_table(rule) -> None:
    # §3.4: c = 0.01585; boundaries 2/2, 3/3-5, 4/6-10, 5/11-15, 6/16-21, 7/22-27, 8/28-33, 9/34-40.
    assert rule.nominal == pytest.approx(0.01585, rel=5e-4)
    assert rule.ranges() == [(2, 2, 2), (3, 3, 5), (4, 6, 10), (5, 11, 15), (6, 16, 21), (7, 22, 27),
                             (8, 28, 33), (9, 34, 40)]
    assert rule.bounds[0] == 2  # 1 event in 1 patient can never signal (b_1 = 2 > n)
    assert len(rule.bounds) == 40


def test_pocock_operating_characteristics(rule) -> None:
    # §3.4: P(false alarm | 0.10) = 0.0496, P(signal | 0.20) = 0.4996, P(signal | 0.30) = 0.9158.
    assert round(rule.overall_alpha, 4) == 0.0496
    assert rule.overall_alpha <= 0.05
    assert round(operating_characteristics(rule, 0.10), 4) == 0.0496
    assert round(operating_characteristics(rule, 0.20), 4) == 0.4996
    assert round(operating_characteristics(rule, 0.30), 4) == 0.9158


def test_pocock_nominal_level_is_the_largest_that_keeps_alpha(rule) -> None:
    # A slightly larger c moves some b_n down and pushes the exact overall level above alpha.
    bigger = nominal_bounds(40, 0.10, rule.nominal * (1 + 1e-6))
    assert bigger != rule.bounds
    assert crossing_probability(bigger, 0.10) > 0.05
    # Each b_n is the smallest b with P(Bin(n, p0) >= b) <= c.
    for n, b in enumerate(rule.bounds, start=1):
        assert sps.binom.sf(b - 1, n, 0.10) <= rule.nominal
        assert sps.binom.sf(b - 2, n, 0.10) > rule.nominal


@pytest.mark.parametrize(("nominal", "false_alarm", "at_020", "at_030"), [
    (0.05, 0.124, 0.678, 0.965),   # §3.4 "naive exact one-sided p < 0.05 at every look"
    (0.025, 0.066, 0.550, 0.930),  # §3.4 "p < 0.025 at every look"
])
def test_naive_repeated_testing_inflates_false_alarms(nominal, false_alarm, at_020, at_030) -> None:
    naive = naive_boundary(40, 0.10, nominal)
    assert round(naive.overall_alpha, 3) == false_alarm
    assert round(operating_characteristics(naive, 0.20), 3) == at_020
    assert round(operating_characteristics(naive, 0.30), 3) == at_030


def test_crossing_probability_matches_brute_force_enumeration() -> None:
    # All 2^8 event sequences, each checked against the boundary look by look.
    bounds, p = (2, 2, 3, 3, 3, 4, 4, 4), 0.3
    total = 0.0
    for seq in itertools.product((0, 1), repeat=len(bounds)):
        prob, x, crossed = 1.0, 0, False
        for n, e in enumerate(seq, start=1):
            prob *= p if e else 1 - p
            x += e
            crossed = crossed or x >= bounds[n - 1]
        total += prob if crossed else 0.0
    assert crossing_probability(bounds, p) == pytest.approx(total, abs=1e-14)


def test_events_needed_to_cross(rule) -> None:
    assert events_needed_to_cross(rule, 1, 0) is None  # no signal possible at n = 1
    assert events_needed_to_cross(rule, 2, 0) == 2
    assert events_needed_to_cross(rule, 2, 2) == 0
    assert events_needed_to_cross(rule, 20, 4) == 2  # b_20 = 6
    assert events_needed_to_cross(rule, 40, 12) == 0
    for bad in ((0, 0), (41, 0), (5, 6), (5, -1)):
        with pytest.raises(ValueError):
            events_needed_to_cross(rule, *bad)


def test_power_increases_with_the_true_rate(rule) -> None:
    powers = [operating_characteristics(rule, p) for p in (0.0, 0.05, 0.1, 0.2, 0.4, 1.0)]
    assert powers == sorted(powers)
    assert powers[0] == 0.0 and powers[-1] == pytest.approx(1.0)


@pytest.mark.parametrize(("n_max", "p0", "alpha"), [(0, 0.1, 0.05), (10, 0.0, 0.05), (10, 1.0, 0.05),
                                                     (10, 0.1, 0.0), (10, 0.1, 1.0), (2.5, 0.1, 0.05)])
def test_pocock_rejects_invalid_input(n_max, p0, alpha) -> None:
    with pytest.raises(ValueError):
        pocock_boundaries(n_max, p0, alpha)


# --- in the benchmark cell ----------------------------------------------------------------------------------

def test_each_cell_shows_events_needed_to_cross_the_pocock_boundary_at_the_wards_n():
    from reports import benchmark
    from tests.reports.test_benchmark import cell, figure, inputs_for

    # Two cohorts 1/10 and 1/10: weak common-effect benchmark, mean exactly 0.10 (the §3.4 reference).
    c = cell(benchmark.compute(inputs_for(2, 10, [figure("a", 1, 10), figure("b", 1, 10)])))
    assert c["pooled"]["marginal_mean"] == pytest.approx(0.10, abs=1e-12)
    seq = c["sequential"]
    assert (seq["n_max"], seq["alpha"]) == (40, 0.05)
    assert seq["nominal"] == pytest.approx(0.01585, abs=5e-6)
    assert seq["ranges"][:3] == [[2, 2, 2], [3, 3, 5], [4, 6, 10]]
    assert (seq["bound"], seq["needed"]) == (4, 2)  # 4 of 10 crosses; the ward has 2
    assert "2 more events among these 10 patients" in seq["note"]
    crossed = cell(benchmark.compute(inputs_for(4, 10, [figure("a", 1, 10), figure("b", 1, 10)])))["sequential"]
    assert crossed["needed"] == 0 and crossed["note"].startswith("crossed")


def test_n_max_comes_from_the_thresholds_and_a_ward_beyond_it_is_said_so():
    from reports import benchmark
    from tests.reports.test_benchmark import cell, figure, inputs_for

    inputs = inputs_for(2, 30, [figure("a", 1, 10), figure("b", 1, 10)])
    inputs["thresholds"]["N_MAX"] = 20
    seq = cell(benchmark.compute(inputs))["sequential"]
    assert seq["n_max"] == 20 and seq["bound"] is None and "passed the 20 planned patients" in seq["note"]
    inputs["thresholds"]["N_MAX"] = 40
    assert cell(benchmark.compute(inputs))["sequential"]["bound"] == sequential.pocock_boundaries(40, 0.1).bounds[29]


def test_pocock_search_evaluates_each_distinct_boundary_once(monkeypatch):
    """The bisection's 60 halvings revisit the same boundary (a step function of c); its crossing probability is
    computed once per distinct boundary (issue 12: the afresh benchmark job spent 1.9 s here), same result."""
    before = sequential.pocock_boundaries(40, 0.24)
    seen: list[tuple[int, ...]] = []
    real = sequential.crossing_probability

    def counting(bounds, p):
        seen.append(tuple(bounds))
        return real(bounds, p)

    monkeypatch.setattr(sequential, "crossing_probability", counting)
    assert sequential.pocock_boundaries(40, 0.24) == before
    assert len(seen) == len(set(seen[:-1])) + 1  # every boundary once, and the result's own once more
    assert len(seen) < sequential.BISECTION_STEPS / 2
