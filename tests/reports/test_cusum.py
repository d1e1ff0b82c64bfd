"""The risk-adjusted Bernoulli CUSUM (reports.cusum): Steiner et al. 2000's score, its ARL by Markov chain.

Oracles: the CUSUM weights Steiner 2000 (p. 446) and Steiner 2014 (p. 234) print for their cardiac-surgery risk
model (published worked example), Steiner 2000 eq. 2 computed by hand (R_A = 2, p = 0.1: W = ln 2 − ln 1.1 =
0.597837 after an event, −ln 1.1 = −0.095310 without), the geometric run length when every event signals (ARL = 1/p
exactly), Monte Carlo, and an independent implementation on published data: the R package vlad's thresholds and
in-control ARLs (its test fixtures) for the cardiac-surgery data printed in Knoth, Wittenberg & Gan 2019's
supplemental material and for Steiner 2000's risk model with a Beta patient mix.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reports import cusum


def test_weights_worked_example():
    w_event, w_none = cusum.weights(0.1, 2.0)
    assert w_event == pytest.approx(0.597837, abs=1e-6)
    assert w_none == pytest.approx(-0.095310, abs=1e-6)


def test_path_resets_at_zero_and_signals_at_h():
    # p = 0.1 each: 3 events in a row reach 1.7935 > h = 1.5, then the chart restarts.
    result = cusum.path([False, True, True, True, False], [0.1] * 5, h=1.5)
    assert result.values[0] == 0.0
    assert result.values[1] == pytest.approx(0.597837, abs=1e-6)
    assert result.signals == [3]
    assert result.values[4] == 0.0


def test_risk_adjustment_weighs_an_expected_event_less():
    low_risk, _ = cusum.weights(0.05)
    high_risk, _ = cusum.weights(0.6)
    assert high_risk < low_risk


def test_arl_is_geometric_when_every_event_signals():
    p = 0.2
    w_event, _ = cusum.weights(p)
    assert cusum.arl([(p, 1)], h=w_event * 0.999) == pytest.approx(1 / p, rel=1e-9)


@pytest.mark.parametrize("true_or", [1.0, 2.0])
def test_markov_chain_arl_agrees_with_simulation(true_or):
    mix = [(0.2, 0.5), (0.45, 0.5)]
    h = 2.0
    chain = cusum.arl(mix, h, true_odds_ratio=true_or)
    simulated = cusum.simulate_arl(mix, h, true_odds_ratio=true_or, runs=3000, seed=7)
    assert chain == pytest.approx(simulated, rel=0.08)


def test_threshold_reaches_the_stated_in_control_arl():
    mix = [(0.3, 1.0)]
    h = cusum.threshold_for_arl(mix, 200)
    assert cusum.arl(mix, h) >= 200 > cusum.arl(mix, h - 0.01)
    assert cusum.arl(mix, h, true_odds_ratio=2.0) < 50


def test_signal_probability_grows_with_patients_and_odds():
    mix = [(0.3, 1.0)]
    h = cusum.threshold_for_arl(mix, 200)
    p10, p40 = cusum.signal_probability(mix, h, 10), cusum.signal_probability(mix, h, 40)
    assert 0 <= p10 < p40 < cusum.signal_probability(mix, h, 40, true_odds_ratio=2.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        cusum.weights(0.0)
    with pytest.raises(ValueError):
        cusum.path([True], [0.2, 0.3], h=1)
    with pytest.raises(ValueError):
        cusum.arl([], 1.0)


#: Steiner's published cardiac-surgery example: 30-day mortality risk logit(p) = −3.68 + 0.077·Parsonnet score
#: (Steiner SH, Cook RJ, Farewell VT, Treasure T. Biostatistics 2000;1:441–452, p. 445–446; and Steiner SH.
#: Risk-adjusted monitoring of outcomes in health care. In: Lawless JF (ed.), Statistics in Action, CRC 2014,
#: pp. 225–242, p. 234). The CUSUM weights the papers print, to 3 decimals, for patients with Parsonnet score 0 and 50
#: who survive or die: (score, died, W). The same figures are the expected values of the R package vlad's
#: tests/testthat/test-llr_score.R (commit 08585d4), which is where they were found; the numbers are the papers'.
STEINER_RA2 = [(0, False, -0.024), (0, True, 0.669), (50, False, -0.433), (50, True, 0.260)]
STEINER_RA_HALF = [(0, False, 0.012), (0, True, -0.681), (50, False, 0.316), (50, True, -0.377)]


def _parsonnet_risk(score: int) -> float:
    return 1 / (1 + math.exp(3.68 - 0.077 * score))


@pytest.mark.parametrize(("odds_ratio", "rows"), [(2.0, STEINER_RA2), (0.5, STEINER_RA_HALF)])
def test_steiner_published_weights(odds_ratio, rows):
    """Steiner 2000 p. 446 / Steiner 2014 p. 234, R_A = 2 (deterioration) and R_A = 1/2 (improvement): our eq. 2
    weights at Steiner's risk model reproduce the printed values within their rounding (±0.0005)."""
    assert _parsonnet_risk(0) == pytest.approx(0.025, abs=5e-4)  # Steiner 2000 p. 445, Steiner 2014 p. 234
    assert _parsonnet_risk(50) == pytest.approx(0.542, abs=5e-4)  # Steiner 2014 p. 234
    assert _parsonnet_risk(71) == pytest.approx(0.86, abs=5e-3)  # Steiner 2000 p. 445
    for score, died, printed in rows:
        if_event, if_none = cusum.weights(_parsonnet_risk(score), odds_ratio)
        assert (if_event if died else if_none) == pytest.approx(printed, abs=5e-4), (score, died)


#: A published risk-adjusted CUSUM threshold and ARLs on real data, computed by an independent implementation.
#: Data: Knoth S, Wittenberg P, Gan FF. Risk-adjusted CUSUM charts under model error. Stat Med 2019;38:2206–2218,
#: doi:10.1002/sim.8104 — supplemental material, table "DD1", as stored in the R package vlad's repository
#: (github wittenberg/vlad, man/examples/Supplemental-material-SIM-18-0571.R, commit de684fe): the first two years
#: ("phase I") of the `cardiacsurgery` data of the R package spcadjust 1.1 (Gandy & Kvaløy 2015; a noised subset of
#: Steiner et al. 2000's operations), per Parsonnet score: operations and deaths within 30 days. (Checked here:
#: spcadjust 1.1's data with date < 730 and status 1 with time ≤ 30 give exactly these 1 766 operations, 108
#: deaths.) Rows: (Parsonnet score, operations, deaths).
# fmt: off
CARDIAC_SURGERY_PHASE_ONE = [
    (0, 312, 1), (1, 53, 0), (2, 131, 0), (3, 166, 3), (4, 88, 4), (5, 128, 3), (6, 74, 2), (7, 106, 2),
    (8, 54, 5), (9, 65, 4), (10, 68, 5), (11, 51, 2), (12, 57, 7), (13, 23, 5), (14, 32, 3), (15, 27, 3),
    (16, 21, 2), (17, 24, 1), (18, 25, 4), (19, 51, 8), (20, 27, 0), (21, 15, 2), (22, 11, 0), (23, 9, 2),
    (24, 15, 5), (25, 10, 0), (26, 15, 3), (27, 12, 5), (28, 8, 1), (29, 11, 0), (30, 4, 1), (31, 5, 0),
    (32, 10, 4), (33, 3, 0), (34, 3, 0), (35, 7, 2), (36, 2, 0), (37, 1, 1), (38, 1, 0), (39, 2, 0), (40, 3, 1),
    (41, 4, 1), (42, 3, 1), (43, 1, 0), (44, 1, 1), (46, 2, 1), (47, 3, 0), (48, 1, 1), (49, 1, 1), (50, 2, 1),
    (51, 3, 1), (52, 2, 1), (53, 2, 2), (54, 1, 1), (57, 1, 0), (58, 3, 2), (60, 2, 1), (62, 2, 1), (67, 1, 1),
    (69, 1, 0),
]
# fmt: on


def _phase_one_mix() -> list[tuple[float, float]]:
    """vlad's patient mix: the logistic model logit(p) = β0 + β1·score fitted to phase I by maximum likelihood (R's
    glm; here Newton–Raphson on the grouped data), each score weighted by its share of the operations."""
    score = np.array([row[0] for row in CARDIAC_SURGERY_PHASE_ONE], dtype=float)
    n = np.array([row[1] for row in CARDIAC_SURGERY_PHASE_ONE], dtype=float)
    deaths = np.array([row[2] for row in CARDIAC_SURGERY_PHASE_ONE], dtype=float)
    design = np.column_stack([np.ones_like(score), score])
    beta = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ beta))
        step = np.linalg.solve((design * (n * p * (1 - p))[:, None]).T @ design, design.T @ (deaths - n * p))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    p = 1 / (1 + np.exp(-design @ beta))
    return [(float(pi), float(share)) for pi, share in zip(p, n / n.sum(), strict=True)]


def test_vlad_threshold_on_the_cardiac_surgery_data():
    """vlad 0.2.2 (CRAN, 2021-02-15), tests/testthat/test-racusum_crit_mc.R: on this phase-I mix, the threshold
    for an in-control ARL of 370 at R_A = 2 is h = 1.8592 (Markov chain of Knoth et al. 2019, paired rounding,
    600 states per unit of S); test-racusum_crit_sim.R: 1.8481 at R_A = 2 and 1.6383 at R_A = ½ by Monte Carlo
    (1 000 simulated charts per step). Tolerance 1 %: our chain rounds S to the nearest of 400 states of width h/400
    (Steiner 2000's simple rounding); measured 1.8486 here, 1.8564 with 1 600 states and 1.8594 with 6 400, so the
    difference is our discretisation and shrinks as it is refined. At vlad's h our in-control ARL is within 1.5 %
    of 370 (370.97 here; 368.6–372.6 with 400–3 200 states: a chain on a fixed grid oscillates with the grid,
    Knoth et al. 2019, Fig. A1)."""
    mix = _phase_one_mix()
    assert sum(p * share for p, share in mix) == pytest.approx(108 / 1766, rel=1e-9)  # the ML fit's defining score
    assert cusum.threshold_for_arl(mix, 370, 2.0) == pytest.approx(1.8592, rel=0.01)
    assert cusum.threshold_for_arl(mix, 370, 2.0) == pytest.approx(1.8481, rel=0.01)
    assert cusum.threshold_for_arl(mix, 370, 0.5) == pytest.approx(1.6383, rel=0.01)
    assert cusum.arl(mix, 1.8592, 2.0) == pytest.approx(370, rel=0.015)


#: Steiner et al. 2000's risk model with unrounded coefficients (intercept −3.6798, 0.0768 per Parsonnet point) and
#: Parsonnet scores spread as 71·Beta(1, 3): vlad's continuous patient mix (racusum_beta_arl_*), expected values of
#: vlad 0.2.2's tests/testthat/test-racusum_beta_arl_mc.R and test-racusum_beta_arl_int.R (in-control ARL at h = 4.5
#: by its Markov chain with 600 states / by full and piece-wise collocation) and test-racusum_beta_crit_mc.R (h for an
#: in-control ARL of 500). (odds ratio R_A, h, [vlad's ARLs]).
STEINER_BETA_ARL = [(2.0, 4.5, [4474.738, 4485.203, 4561.862]), (0.5, 4.5, [5658.854, 5731.772, 5728.431])]


def _steiner_beta_mix(bins: int = 200) -> list[tuple[float, float]]:
    """The 71·Beta(1, 3) score distribution cut into ``bins`` equal intervals of the unit score, each at its midpoint
    with its Beta probability."""
    edges = np.linspace(0, 1, bins + 1)
    middles = (edges[:-1] + edges[1:]) / 2
    shares = np.diff(stats.beta.cdf(edges, 1, 3))
    p = 1 / (1 + np.exp(3.6798 - 0.0768 * 71 * middles))
    return [(float(pi), float(share)) for pi, share in zip(p, shares, strict=True)]


@pytest.mark.parametrize(("odds_ratio", "h", "published"), STEINER_BETA_ARL)
def test_vlad_arl_for_steiners_risk_model(odds_ratio, h, published):
    """In-control ARL at h = 4.5 with 1 600 states: 4 478.8 (R_A = 2) and 5 766.7 (R_A = ½) against vlad's
    4 474.7–4 561.9 and 5 658.9–5 731.8. Tolerance 2.5 %: vlad's own three methods differ from each other by up to
    1.9 %. With the default 400 states our chain gives 4 392.6 and 6 020.3 (2 % and 6 % off) at this long ARL —
    the rounding of the many small weights of low-risk patients; at the ARL of 200 that pvtrack uses, h ≈ 2 and
    the default grid is as close as the threshold test above."""
    mix = _steiner_beta_mix()
    ours = cusum.arl(mix, h, odds_ratio, grid=1600)
    for value in published:
        assert ours == pytest.approx(value, rel=0.025)


def test_vlad_threshold_for_steiners_risk_model():
    """vlad 0.2.2, tests/testthat/test-racusum_beta_crit_mc.R: h = 2.5178 for an in-control ARL of 500 at R_A = 2;
    ours (400 states) 2.5244, within 1 % (the discretisation, as above)."""
    assert cusum.threshold_for_arl(_steiner_beta_mix(), 500, 2.0) == pytest.approx(2.5178, rel=0.01)
