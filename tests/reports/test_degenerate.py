"""Issue 17 item 2: degenerate fits are labelled "no usable benchmark", never compared with; all-zero cohorts build
no two-step row on the continuity correction alone; cycle-1 cells say that no source publishes them (item 9).

Rules: docs/methods.md §4.1. The examples are the issue's own (0/20, 0/25, 12/14; 0/94).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from reports import benchmark, stats
from tests.reports.test_benchmark import cell, figure, inputs_for


def _brute_loglik(mu: float, tau2: float, x: list[int], n: list[int]) -> float:
    """Binomial-normal marginal log-likelihood by adaptive scipy quadrature over u (independent of stats._loglik)."""
    total = 0.0
    for xi, ni in zip(x, n, strict=True):
        def f(u: float, xi: int = xi, ni: int = ni) -> float:
            theta = mu + u
            return math.exp(xi * special.log_expit(theta) + (ni - xi) * special.log_expit(-theta)
                            - u * u / (2 * tau2)) / math.sqrt(2 * math.pi * tau2)
        val, _ = integrate.quad(f, -60, 60, points=[0.0], limit=400)
        total += math.log(math.comb(ni, xi) * val)
    return total


def test_issue_example_0_20_0_25_12_14_is_no_usable_benchmark():
    pooled = stats.pool([0, 0, 12], [20, 25, 14])
    # The ML fit the issue quotes: tau2 about 46 on the logit scale.
    assert pooled.tau2 == pytest.approx(46, rel=0.05)
    assert pooled.unusable.startswith("no usable benchmark")
    assert "flat" in pooled.unusable
    # Independent check of the "flat" reading: the profile log-likelihood at the bound tau = 10 is within
    # chi2_1(0.95)/2 = 1.92 of the maximum (brute-force quadrature, profile over mu).
    x, n = [0, 0, 12], [20, 25, 14]
    best = max(_brute_loglik(m, pooled.tau2, x, n) for m in np.linspace(-12, 0, 49))
    at_bound = -optimize.minimize_scalar(lambda m: -_brute_loglik(m, 100.0, x, n), bounds=(-25, 5),
                                         method="bounded").fun
    assert best - at_bound < 1.92
    lo, hi = stats.predictive_interval(pooled)
    assert lo < 1e-6 and hi > 0.999  # the predictive interval is all of 0-1: no count could ever cross


def test_no_usable_benchmark_cell_has_no_number_no_tails_and_no_flag():
    figs = [figure("a", 0, 20), figure("b", 0, 25), figure("c", 12, 14)]
    c = cell(benchmark.compute(inputs_for(20, 20, figs)))  # 20/20 would have been "Keep watching" at best
    assert c["pooled"]["unusable"].startswith("no usable benchmark")
    assert c["note"] == c["pooled"]["unusable"]
    assert c["flag"] is None and c["p_upper"] is None and c["predictive_range"] is None


def test_crs_any_grade_spread_is_labelled_without_moderators():
    # The six CRS any-grade cohorts of the fixtures (docs/benchmark-validation.md): tau2 about 4.2, the 95 %
    # predictive interval 0.2-92.7 % covers [1 %, 90 %] (rule 3): no usable benchmark without moderators.
    pooled = stats.pool([0, 0, 6, 1, 20, 18], [9, 39, 18, 13, 38, 33])
    assert pooled.tau2 == pytest.approx(4.2, abs=0.05)
    assert "almost any rate" in pooled.unusable


@pytest.mark.parametrize(("x", "n"), [([7, 4, 0, 2], [38, 70, 23, 33]), ([3, 14, 1, 4, 7, 17, 2, 1],
                                                                      [9, 39, 11, 18, 38, 70, 23, 33])])
def test_usable_random_effects_fits_stay_usable(x, n):
    # CRS >=3 (tau2 0.36) and neurotoxicity any grade (tau2 0.34) of the fixtures: informative, still compared.
    pooled = stats.pool(x, n)
    assert pooled.method == "glmm_ml" and pooled.unusable == ""


def test_homogeneous_fit_is_usable():
    assert stats.pool([6, 6, 6], [20, 20, 20]).unusable == ""


def test_all_zero_cohorts_give_no_two_step_row_on_the_correction_alone():
    figs = [figure("a", 0, 94), figure("b", 0, 40)]
    c = cell(benchmark.compute(inputs_for(0, 10, figs)))
    assert c["two_step"] is None  # was "0.4 % from 0/94 and 0/40" made by adding 1/2 to each cell
    assert c["pooled"]["method"] == "common_effect" and c["pooled"]["median"] == 0.0  # the honest count 0/134
    single = cell(benchmark.compute(inputs_for(0, 10, [figure("a", 0, 94)])))
    assert single["two_step"] is None and single["pooled"]["events"] == 0 and single["pooled"]["total"] == 94


def test_two_step_row_kept_when_one_cohort_has_events():
    c = cell(benchmark.compute(inputs_for(1, 10, [figure("a", 0, 94), figure("b", 3, 40)])))
    assert c["two_step"] is not None and c["two_step"]["k"] == 2


def test_cycle_one_cells_say_no_source_publishes_them():
    results = benchmark.compute(inputs_for(3, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)]))
    first = cell(results, scope="first")
    assert first["pooled"] is None and first["note"] == benchmark.NO_CYCLE1_FIGURE
    # With a cycle-1 figure that is not comparable (another unit), the cell says "no comparable figure" instead.
    figs = [figure("a", 5, 20), figure("d", 4, 20, scope="first", unit="events")]
    assert cell(benchmark.compute(inputs_for(3, 10, figs)), scope="first")["note"] == "no comparable published figure"


def test_degenerate_reason_survives_the_stored_json_round_trip():
    pooled = stats.pool([0, 0, 12], [20, 25, 14])
    stored = benchmark._pooled_dict(pooled)
    assert stats.pooled_from_dict(stored).unusable == pooled.unusable


def test_leave_one_out_does_not_compare_against_a_degenerate_benchmark():
    from reports.validation import leave_one_out

    figs = [figure("a", 0, 20), figure("b", 0, 25), figure("c", 12, 14), figure("d", 5, 10)]
    thresholds = {"ALARM_P": 0.001, "ALERT_P": 0.025, "WATCH_P": 0.025, "LOW_P": 0.025, "MIN_COHORTS": 3,
                  "MIN_EVENTS": 3}
    row = next(r for r in leave_one_out(figs, thresholds, {"crs": ["any"]}) if r["cohort"] == "d")
    assert row["note"].startswith("no usable benchmark") and row["flag"] is None and row["p_upper"] is None
