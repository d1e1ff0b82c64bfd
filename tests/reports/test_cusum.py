"""The risk-adjusted Bernoulli CUSUM (reports.cusum): Steiner et al. 2000's score, its ARL by Markov chain.

Oracles: the CUSUM weights Steiner 2000 (p. 446) and Steiner 2014 (p. 234) print for their cardiac-surgery risk
model (published worked example), Steiner 2000 eq. 2 computed by hand (R_A = 2, p = 0.1: W = ln 2 − ln 1.1 =
0.597837 after an event, −ln 1.1 = −0.095310 without), the geometric run length when every event signals (ARL = 1/p
exactly), and Monte Carlo.
"""

from __future__ import annotations

import math

import pytest

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

