"""Tests for reports.stats. Every expected number cites where it comes from.

Reference numbers and their primary sources: docs/methods.md (values reproduced with R metafor 3.8-1 when first built).
Tolerances: 1e-6 for closed forms, 1e-3 relative for the GLMM, printed precision for published tables.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special
from scipy import stats as sps

from reports.stats import (
    GLMMFitError,
    Pooled,
    clopper_pearson,
    fixed_tail,
    logit_normal_mean,
    pool,
    pool_common_effect,
    pool_glmm,
    posterior_prob_above,
    predictive_limits,
    predictive_tail,
    random_effects_hk,
    tau2_reml,
    two_step_logit,
)

# dat.nielweise2007 (metadat; Niel-Weise et al. 2007, Intensive Care Med 33:2058), 18 RCTs of
# anti-infective-treated vs standard central venous catheters, rows (ai, n1i, ci, n2i).
NIELWEISE2007 = [
    (0, 116, 3, 117), (1, 44, 3, 35), (2, 208, 9, 195), (0, 130, 7, 136), (5, 151, 6, 157),
    (1, 98, 4, 139), (1, 174, 3, 177), (1, 74, 2, 39), (1, 97, 19, 103), (1, 113, 2, 122),
    (0, 66, 7, 64), (0, 70, 1, 58), (3, 188, 5, 175), (6, 187, 11, 180), (0, 118, 0, 105),
    (0, 252, 1, 262), (1, 345, 3, 362), (4, 64, 1, 69),
]
TREATED_X, TREATED_N = [r[0] for r in NIELWEISE2007], [r[1] for r in NIELWEISE2007]
CONTROL_X, CONTROL_N = [r[2] for r in NIELWEISE2007], [r[3] for r in NIELWEISE2007]


def rel(expected: float, tol: float = 1e-3) -> object:
    return pytest.approx(expected, rel=tol)


# --------------------------------------------------------------------------- Clopper-Pearson

def test_clopper_pearson_closed_forms() -> None:
    # x = 0: upper = 1 - (alpha/2)^(1/n); x = 1: lower = 1 - (1 - alpha/2)^(1/n) (Clopper & Pearson 1934).
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** 0.1), abs=1e-9)
    assert clopper_pearson(0, 10)[1] == pytest.approx(0.3084971, abs=1e-6)
    low, high = clopper_pearson(1, 10)
    assert low == pytest.approx(1 - 0.975 ** 0.1, abs=1e-9)
    assert (low, high) == pytest.approx((0.002528, 0.445016), abs=1e-6)
    assert high == pytest.approx(sps.beta.ppf(0.975, 2, 9), abs=1e-9)  # Beta(x+1, n-x) quantile


@pytest.mark.parametrize(("x", "n", "expected"), [
    # Newcombe 1998, Stat Med 17:857, Table I, method 5 (exact). 81/263 is 0.2527-0.3676 there.
    (81, 263, (0.2527, 0.3676)),
    (15, 148, (0.0578, 0.1617)),
    (0, 20, (0.0000, 0.1684)),
    (1, 29, (0.0009, 0.1776)),
])
def test_clopper_pearson_newcombe_table_i(x: int, n: int, expected: tuple[float, float]) -> None:
    assert tuple(round(v, 4) for v in clopper_pearson(x, n)) == expected


@pytest.mark.parametrize(("x", "n"), [(0, 0), (-1, 10), (11, 10), (1.0, 10)])
def test_clopper_pearson_rejects_invalid_counts(x: int, n: int) -> None:
    with pytest.raises(ValueError):
        clopper_pearson(x, n)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_clopper_pearson_contains_the_point_estimate(xn: tuple[int, int]) -> None:
    x, n = xn
    low, high = clopper_pearson(x, n)
    assert 0 <= low <= x / n <= high <= 1


@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.9, 0.95, 0.99, 0.998]))
def test_clopper_pearson_equals_scipy_root_finding(xn: tuple[int, int], level: float) -> None:
    """The beta-quantile identity gives the limits scipy.stats.binomtest finds by root finding (its tolerance)."""
    x, n = xn
    ci = sps.binomtest(x, n).proportion_ci(confidence_level=level, method="exact")
    assert clopper_pearson(x, n, level) == pytest.approx((ci.low, ci.high), abs=1e-11)


@given(st.integers(1, 60), st.floats(-800, 50), st.floats(0.01, 400))
def test_log_weighted_sum_equals_scipy_logsumexp(rows: int, centre: float, spread: float) -> None:
    """The GLMM's quadrature sum (reports.stats._log_weighted_sum) is scipy's logsumexp with positive weights,
    including rows far below exp's range (log-likelihood terms of -800)."""
    from reports.stats import AGQ_NODES, _log_weighted_sum
    z, w = np.polynomial.hermite.hermgauss(AGQ_NODES)
    log_f = np.random.default_rng(rows).normal(centre, spread, (rows, AGQ_NODES))
    assert _log_weighted_sum(log_f, w) == pytest.approx(special.logsumexp(log_f, b=w, axis=1), rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- GLMM

def test_nielweise_data_as_described() -> None:
    # docs/methods.md §1.5: 18 arms, 27 treated-arm events, 6 zero-event treated arms. Its "2555 patients"
    # does not match the data: sum(n1i) = 2495 (and the GLMM below reproduces Stijnen 2010 with 2495).
    assert len(NIELWEISE2007) == 18
    assert (sum(TREATED_X), sum(TREATED_N), TREATED_X.count(0)) == (27, 2495, 6)
    assert (sum(CONTROL_X), sum(CONTROL_N)) == (87, 2495)


def test_glmm_control_arm_matches_metafor() -> None:
    # docs/methods.md §0/§2/§3.5: rma.glmm(measure="PLO", xi=ci, ni=n2i) mu = -3.4964, tau2 = 0.812214
    # (exact ML limit), SE = 0.2570, median 2.94%, marginal mean 4.16%. Stijnen 2010 Table II and
    # metafor tests/testthat/test_analysis_example_stijnen2010.r: 95% CI 0.018-0.048.
    res = pool_glmm(CONTROL_X, CONTROL_N)
    assert res.method == "glmm_ml" and not res.weak
    assert (res.k, res.events, res.total) == (18, 87, 2495)
    assert res.mu == rel(-3.4964)
    assert res.tau2 == rel(0.812214)
    assert res.se_mu == rel(0.2570)
    assert round(res.median, 4) == 0.0294
    assert round(res.marginal_mean, 4) == 0.0416
    assert tuple(round(v, 3) for v in res.ci) == (0.018, 0.048)


def test_glmm_treated_arm_matches_stijnen_2010() -> None:
    # Stijnen 2010 Table II via metafor test_analysis_example_stijnen2010.r: mu -4.81, SE 0.36,
    # tau2 0.83, median 0.008, CI 0.004-0.016; docs/methods.md §1.5: median 0.81%, mean 1.20%, CI 0.40-1.61%.
    res = pool_glmm(TREATED_X, TREATED_N)
    assert (res.k, res.events, res.total) == (18, 27, 2495)
    assert (round(res.mu, 2), round(res.se_mu, 2), round(res.tau2, 2)) == (-4.81, 0.36, 0.83)
    assert (round(res.median, 4), round(res.marginal_mean, 4)) == (0.0081, 0.0120)
    assert tuple(round(v, 4) for v in res.ci) == (0.0040, 0.0161)


def test_glmm_intervals_are_labelled_and_follow_their_definitions() -> None:
    # CI: z (metafor rma.glmm test="z"); PI: z sqrt(SE^2 + tau2), the flags' predictive distribution (issue 17
    # item 5: one distribution for forest PI, funnel and flags; docs/methods.md §4.3; metafor's rma.glmm default).
    res = pool_glmm(CONTROL_X, CONTROL_N)
    assert (res.ci_critical, res.pi_critical) == ("z=1.960", "z=1.960, sqrt(SE^2 + tau2)")
    half = sps.norm.ppf(0.975) * math.sqrt(res.se_mu**2 + res.tau2)
    assert res.pi == pytest.approx((special.expit(res.mu - half), special.expit(res.mu + half)), abs=1e-12)
    assert res.pi[0] < res.ci[0] < res.median < res.ci[1] < res.pi[1]
    # ...and it is the distribution of the flags: its bounds are the 2.5 % and 97.5 % points of expit(theta).
    from reports.stats import predictive_interval
    assert predictive_interval(res) == pytest.approx(res.pi, abs=1e-12)


def test_glmm_i2_uses_metafor_definition() -> None:
    # metafor: I2 = tau2 / (tau2 + s2), s2 = (k-1) sum w / ((sum w)^2 - sum w^2), w = 1/v from
    # escalc(measure="PLO", add=1/2, to="only0") (Higgins & Thompson 2002; docs/methods.md §1.2).
    res = pool_glmm(CONTROL_X, CONTROL_N)
    v = [1 / (x + 0.5) + 1 / (n - x + 0.5) if x in (0, n) else 1 / x + 1 / (n - x)
         for x, n in zip(CONTROL_X, CONTROL_N, strict=True)]
    w = [1 / vi for vi in v]
    s2 = 17 * sum(w) / (sum(w) ** 2 - sum(wi * wi for wi in w))
    assert res.i2 == pytest.approx(res.tau2 / (res.tau2 + s2), abs=1e-12)


def test_glmm_boundary_reports_common_effect_logistic_fit() -> None:
    # Identical cohorts: tau2-hat = 0, so the fit is logistic regression on pooled counts
    # (docs/methods.md §2 last bullet): mu = logit(6/60), SE = sqrt(1/6 + 1/54), I2 = 0.
    res = pool_glmm([2, 2, 2], [20, 20, 20])
    assert res.tau2 == 0.0 and res.i2 == 0.0
    assert res.mu == pytest.approx(math.log(6 / 54), abs=1e-6)
    assert res.se_mu == pytest.approx(math.sqrt(1 / 6 + 1 / 54), abs=1e-6)
    assert res.marginal_mean == pytest.approx(0.1, abs=1e-6)


# --------------------------------------------------------------------------- pooling fallbacks

def test_two_cohorts_fall_back_to_weak_common_effect() -> None:
    res = pool([1, 2], [10, 20])
    assert res.method == "common_effect" and res.weak
    assert "only 2 comparable cohorts" in res.reason
    assert res.median == pytest.approx(3 / 30, abs=1e-12)
    assert res.ci == clopper_pearson(3, 30) and res.pi == res.ci


def test_too_few_events_fall_back() -> None:
    assert "only 1 event across cohorts" in pool([0, 1, 0], [10, 20, 5]).reason
    res = pool([0, 0, 0], [10, 20, 5])
    assert res.method == "common_effect" and res.weak and res.median == 0.0
    # 0.5 correction for the predictive distribution when sum(x) = 0 (documented in pool_common_effect)
    assert res.mu == pytest.approx(math.log(0.5 / 35.5), abs=1e-12)
    assert res.se_mu == pytest.approx(math.sqrt(1 / 0.5 + 1 / 35.5), abs=1e-12)


def test_glmm_refuses_data_without_a_finite_fit() -> None:
    with pytest.raises(GLMMFitError):
        pool_glmm([0, 0, 0], [10, 20, 5])  # all-zero: ML logit is -infinity
    with pytest.raises(GLMMFitError):
        pool_glmm([3], [10])  # tau is not identifiable from one cohort


def test_diverging_fit_is_no_usable_benchmark() -> None:
    # tau -> infinity: one cohort all events, two with none. Issue 17 item 2 (docs/methods.md §4.1 rule 1): no longer
    # a weak common-effect number (5/25 = 20 % that no cohort resembles) but "no usable benchmark" with the reason.
    res = pool([0, 0, 5], [10, 10, 5])
    assert res.method == "glmm_ml" and res.tau2 == pytest.approx(100.0, rel=1e-3)
    assert res.unusable.startswith("no usable benchmark") and "bound" in res.unusable


def test_zero_event_cohort_stays_in_the_pool() -> None:
    with_zero = pool([0, 3, 4, 2], [50, 40, 60, 30])
    without = pool([3, 4, 2], [40, 60, 30])
    assert with_zero.method == "glmm_ml"
    assert (with_zero.k, with_zero.events, with_zero.total) == (4, 9, 180)
    assert with_zero.median < without.median


def test_common_effect_closed_forms() -> None:
    res = pool_common_effect([3, 5], [40, 60])
    assert res.mu == pytest.approx(math.log(8 / 92), abs=1e-12)
    assert res.se_mu == pytest.approx(math.sqrt(1 / 8 + 1 / 92), abs=1e-12)
    assert (res.tau2, res.i2, res.weak) == (0.0, None, True)


@pytest.mark.parametrize(("events", "totals"), [
    ([], []), ([1, 2], [10]), ([11], [10]), ([-1, 2], [10, 10]), ([0], [0]),
])
def test_pool_rejects_invalid_input(events: list[int], totals: list[int]) -> None:
    with pytest.raises(ValueError):
        pool(events, totals)


cohort = st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=30, deadline=None)
@given(st.lists(cohort, min_size=1, max_size=8))
def test_pool_never_raises_for_valid_counts(cohorts: list[tuple[int, int]]) -> None:
    res = pool([c[0] for c in cohorts], [c[1] for c in cohorts])
    assert 0 <= res.median <= 1 and 0 <= res.marginal_mean <= 1
    assert res.pi[0] <= res.ci[0] <= res.median <= res.ci[1] <= res.pi[1]


# --------------------------------------------------------------------------- ward vs benchmark

# docs/methods.md §3.5 worked example: benchmark mu = -3.4964, tau2 = 0.8122, SE = 0.2570.
BENCHMARK = Pooled(
    method="glmm_ml", k=18, events=87, total=2495, mu=-3.4964, se_mu=0.2570, tau2=0.8122,
    median=float(special.expit(-3.4964)), marginal_mean=logit_normal_mean(-3.4964, 0.8122),
    ci=(0.018, 0.048), pi=(0.004, 0.180), ci_critical="z=1.960", pi_critical="t(k-1)=2.110",
    weak=False, reason="docs/methods.md §3.5 worked example", i2=None,
)


def first_fixed_crossing(n: int, p: float, alpha: float) -> int:
    return next(x for x in range(n + 1) if fixed_tail(x, n, p) < alpha)


@pytest.mark.parametrize(("n", "alert", "alarm"), [(5, 3, 4), (10, 3, 6), (20, 5, 10), (40, 8, 17)])
def test_flag_table_predictive_columns(n: int, alert: int, alarm: int) -> None:
    # docs/methods.md §3.5 table: ALERT = first x with p_pred < 0.025, ALARM = first x with p_pred < 0.001.
    assert predictive_limits(n, BENCHMARK, 0.025) == (alert, None)
    assert predictive_limits(n, BENCHMARK, 0.001) == (alarm, None)


@pytest.mark.parametrize(("n", "watch"), [(5, 2), (10, 3), (20, 3), (40, 5)])
def test_flag_table_watch_column_uses_the_median_rate(n: int, watch: int) -> None:
    # docs/methods.md §3.5 table, WATCH = first x with p_fixed < 0.025. The printed column is reproduced
    # with p = median 2.94% (the example's "p_median"), not with the marginal mean 4.16% of step 3.
    assert first_fixed_crossing(n, BENCHMARK.median, 0.025) == watch


def test_watch_with_marginal_mean_differs_at_n20() -> None:
    # With p = marginal mean 4.16% (§3.5 step 3) p_fixed(3 of 20) = 0.0483, so WATCH starts at 4, not 3.
    assert round(BENCHMARK.marginal_mean, 4) == 0.0416
    assert [first_fixed_crossing(n, BENCHMARK.marginal_mean, 0.025) for n in (5, 10, 20, 40)] == [2, 3, 4, 5]


def test_flag_table_quoted_p_values() -> None:
    # docs/methods.md §3.5 table, printed to 2 significant digits.
    p = BENCHMARK.median
    assert round(fixed_tail(2, 5, p), 4) == 0.0082
    assert round(fixed_tail(3, 10, p), 4) == 0.0026
    assert round(fixed_tail(3, 20, p), 4) == 0.0200
    assert round(predictive_tail(3, 5, BENCHMARK), 4) == 0.0038
    assert round(predictive_tail(4, 5, BENCHMARK), 5) == 0.00045
    assert round(predictive_tail(3, 10, BENCHMARK), 4) == 0.0235
    assert round(predictive_tail(5, 20, BENCHMARK), 4) == 0.0190


def test_predictive_tail_matches_numerical_integration() -> None:
    # Gauss-Hermite (100 nodes) vs adaptive quadrature of E[P(X >= x | theta)], theta ~ N(mu, tau2 + SE^2).
    sd = math.sqrt(BENCHMARK.tau2 + BENCHMARK.se_mu**2)
    for x, n, upper in [(3, 10, True), (5, 20, True), (0, 40, False), (1, 40, False)]:
        def integrand(t: float, x: int = x, n: int = n, upper: bool = upper) -> float:
            q = special.expit(t)
            tail = sps.binom.sf(x - 1, n, q) if upper else sps.binom.cdf(x, n, q)
            return float(tail * sps.norm.pdf(t, BENCHMARK.mu, sd))
        expected = integrate.quad(integrand, BENCHMARK.mu - 12 * sd, BENCHMARK.mu + 12 * sd,
                                  epsabs=1e-12, epsrel=1e-10)[0]
        assert predictive_tail(x, n, BENCHMARK, upper=upper) == pytest.approx(expected, abs=1e-6)


def test_predictive_tail_of_weak_benchmark_uses_pooled_logit() -> None:
    # Common-effect: theta ~ N(logit(8/100), 1/8 + 1/92); P(X >= 0) = 1 and P(X <= n) = 1 exactly.
    weak = pool_common_effect([3, 5], [40, 60])
    sd = math.sqrt(1 / 8 + 1 / 92)
    expected = integrate.quad(lambda t: sps.binom.sf(2, 10, special.expit(t)) * sps.norm.pdf(t, weak.mu, sd),
                              weak.mu - 12 * sd, weak.mu + 12 * sd, epsabs=1e-12)[0]
    assert predictive_tail(3, 10, weak) == pytest.approx(expected, abs=1e-6)
    assert predictive_tail(0, 10, weak) == pytest.approx(1.0, abs=1e-12)
    assert predictive_tail(10, 10, weak, upper=False) == pytest.approx(1.0, abs=1e-12)


def test_fixed_tail_closed_forms() -> None:
    assert fixed_tail(1, 20, 0.05) == pytest.approx(1 - 0.95**20, abs=1e-12)
    assert fixed_tail(0, 20, 0.05, upper=False) == pytest.approx(0.95**20, abs=1e-12)
    assert fixed_tail(0, 20, 0.05) == 1.0
    with pytest.raises(ValueError):
        fixed_tail(1, 20, 1.5)


def test_predictive_limits_edges() -> None:
    # n = 1: even x = 1 has P(X >= 1) ~ 0.04 > 0.001, so no upper crossing exists.
    assert predictive_limits(1, BENCHMARK, 0.001) == (None, None)
    # With tau2 = 0.81 even 0 of 400 is not < 0.001 low: P(X = 0) is the mass of near-zero centres.
    assert predictive_limits(400, BENCHMARK, 0.001)[1] is None
    # A homogeneous benchmark lets a large ward be flagged low ("check ascertainment", §3.5 step 4).
    tight = replace(BENCHMARK, tau2=0.01, se_mu=0.05)
    high, low = predictive_limits(400, tight, 0.001)
    assert high is not None and low is not None
    lower_tail = [predictive_tail(x, 400, tight, upper=False) for x in (low, low + 1)]
    assert lower_tail[0] < 0.001 <= lower_tail[1]
    assert predictive_tail(high, 400, tight) < 0.001 <= predictive_tail(high - 1, 400, tight)


benchmarks = st.builds(
    lambda mu, tau2, se: Pooled("glmm_ml", 5, 10, 500, mu, se, tau2, float(special.expit(mu)),
                                logit_normal_mean(mu, tau2), (0.0, 1.0), (0.0, 1.0), "", "", False, "", None),
    st.floats(-6, 1), st.floats(0, 2), st.floats(0.01, 1),
)


@settings(max_examples=60, deadline=None)
@given(benchmarks, st.integers(1, 60))
def test_more_ward_events_are_never_less_alarming(bench: Pooled, n: int) -> None:
    # For a fixed ward size, P(X >= x) is non-increasing and P(X <= x) non-decreasing in x.
    upper = [predictive_tail(x, n, bench) for x in range(n + 1)]
    lower = [predictive_tail(x, n, bench, upper=False) for x in range(n + 1)]
    assert all(b <= a + 1e-12 for a, b in pairwise(upper))
    assert all(b >= a - 1e-12 for a, b in pairwise(lower))


# --------------------------------------------------------------------------- posterior

@pytest.mark.parametrize(("x", "expected", "digits"), [(1, 0.56, 2), (2, 0.885, 3), (3, 0.980, 3)])
def test_posterior_example(x: int, expected: float, digits: int) -> None:
    # docs/methods.md §3.3: theta0 = 0.0294, n = 20, prior Beta(2 theta0, 2 (1 - theta0)).
    assert round(posterior_prob_above(x, 20, 0.0294), digits) == expected


def test_posterior_closed_form() -> None:
    # x = n = 1, m = 2, p0 = 1/2: posterior Beta(2, 1), P(theta > 1/2) = 1 - 0.25 = 0.75.
    assert posterior_prob_above(1, 1, 0.5) == pytest.approx(0.75, abs=1e-12)


# --------------------------------------------------------------------------- two-step logit (REML + HK ad hoc)

# dat.bcg (metadat; Colditz et al. 1994), 13 trials, rows (tpos, tneg, cpos, cneg); log risk ratios.
BCG = [
    (4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
    (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
    (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825),
]
BCG_YI = [math.log(a / (a + b) / (c / (c + d))) for a, b, c, d in BCG]
BCG_VI = [1 / a - 1 / (a + b) + 1 / c - 1 / (c + d) for a, b, c, d in BCG]


def test_reml_and_knha_reproduce_metafor_bcg() -> None:
    # metafor rma(yi, vi, data=escalc("RR", ..., dat.bcg)) documented output: tau2 (REML) 0.3132,
    # I2 92.22%, H2 12.86, Q(df=12) 152.2330, estimate -0.7145, se 0.1798, CI -1.0669 to -0.3622;
    # with test="knha": se 0.1808, CI -1.1084 to -0.3206 (q > 1 here, so "adhoc" equals "knha").
    res = random_effects_hk(BCG_YI, BCG_VI)
    assert round(res.tau2, 4) == 0.3132
    assert (round(res.i2, 2), round(res.h2, 2)) == (92.22, 12.86)
    assert (round(res.q_stat, 4), res.q_df) == (152.2330, 12)
    assert (round(res.mu, 4), round(res.se_wald, 4)) == (-0.7145, 0.1798)
    assert tuple(round(v, 4) for v in res.ci_wald) == (-1.0669, -0.3622)
    assert res.hk_scale > 1 and res.se == res.se_hk
    assert round(res.se, 4) == 0.1808
    assert tuple(round(v, 4) for v in res.ci) == (-1.1084, -0.3206)


def test_hk_adhoc_restores_wald_when_q_below_one() -> None:
    # docs/methods.md §1.3: y = (0.10, 0.12, 0.11, 0.09), v = 0.05 each: Q = 0.01 < k-1, tau2 = 0,
    # Wald SE 0.1118, raw HK SE 0.00645 (17x narrower), ad hoc max(1, q) restores 0.1118.
    res = random_effects_hk([0.10, 0.12, 0.11, 0.09], [0.05] * 4)
    assert res.tau2 == 0.0 and res.q_stat == pytest.approx(0.01, abs=1e-12)
    assert round(res.se_wald, 4) == 0.1118
    assert round(res.se_hk, 5) == 0.00645
    assert res.se == res.se_wald
    t = sps.t.ppf(0.975, 3)
    assert res.ci == pytest.approx((res.mu - t * res.se_wald, res.mu + t * res.se_wald), abs=1e-12)
    assert res.i2 == 0.0


def test_two_step_logit_treated_arm_matches_stijnen_2010() -> None:
    # docs/methods.md §1.5 (Stijnen 2010 Table II): PLO + 0.5 correction, REML: 1.39% (Wald CI 0.84-2.29%).
    res = two_step_logit(TREATED_X, TREATED_N)
    assert round(res.median, 4) == 0.0139
    assert tuple(round(float(special.expit(v)), 4) for v in res.ci_wald) == (0.0084, 0.0229)
    assert res.corrected.count(True) == 6  # the 6 zero-event arms (docs/methods.md §1.5)
    assert res.corrected == tuple(x in (0, n) for x, n in zip(TREATED_X, TREATED_N, strict=True))


def _reml_loglik(tau2: float, y: list[float], v: list[float]) -> float:
    """Restricted log-likelihood of the random-effects model (up to a constant), written out directly."""
    w = [1 / (vi + tau2) for vi in v]
    mu = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
    return -0.5 * (sum(math.log(vi + tau2) for vi in v) + math.log(sum(w))
                   + sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True)))


def test_reml_matches_brute_force_maximisation_on_nielweise_control_arm() -> None:
    # REML by Fisher scoring vs an independent bounded maximisation of the restricted log-likelihood.
    res = two_step_logit(CONTROL_X, CONTROL_N)
    y, v = list(res.yi), list(res.vi)
    brute = optimize.minimize_scalar(lambda t2: -_reml_loglik(t2, y, v), bounds=(0.0, 10.0), method="bounded",
                                     options={"xatol": 1e-12})
    assert res.tau2 == pytest.approx(brute.x, abs=1e-6)
    assert tau2_reml(y, v)[0] == res.tau2
    assert res.tau2 > 0 and res.iterations > 1


def test_two_step_logit_effect_sizes_weights_and_labels() -> None:
    res = two_step_logit([0, 3, 10, 5], [20, 30, 10, 40])
    # only0: 0/20 and 10/10 get +1/2 in both cells; the others are uncorrected.
    assert res.corrected == (True, False, True, False)
    assert res.yi[0] == pytest.approx(math.log(0.5 / 20.5)) and res.vi[0] == pytest.approx(1 / 0.5 + 1 / 20.5)
    assert res.yi[2] == pytest.approx(math.log(10.5 / 0.5))
    assert res.yi[1] == pytest.approx(math.log(3 / 27)) and res.vi[1] == pytest.approx(1 / 3 + 1 / 27)
    w = [1 / (v + res.tau2) for v in res.vi]
    assert res.weights == pytest.approx(tuple(100 * wi / sum(w) for wi in w), abs=1e-12)
    assert sum(res.weights) == pytest.approx(100.0)
    assert res.ci_critical.startswith("t(k-1)=3.182") and "ad hoc" in res.ci_critical
    assert res.pi_critical.startswith("t(k-1)=3.182") and res.ci_wald_critical == "z=1.960"
    half = sps.t.ppf(0.975, 3) * math.sqrt(res.se**2 + res.tau2)
    assert res.pi == pytest.approx((res.mu - half, res.mu + half), abs=1e-12)
    assert res.pi_prop[0] < res.ci_prop[0] < res.median < res.ci_prop[1] < res.pi_prop[1]


@pytest.mark.parametrize(("events", "totals"), [([1], [10]), ([1, 2], [10]), ([-1, 2], [10, 10]), ([11, 2], [10, 10])])
def test_two_step_logit_rejects_invalid_input(events: list[int], totals: list[int]) -> None:
    with pytest.raises(ValueError):
        two_step_logit(events, totals)
