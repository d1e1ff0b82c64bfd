"""The network funnel (reports.funnel): Spiegelhalter 2005's exact binomial limits, over-dispersion, flags.

Oracles: the defining equations of Spiegelhalter 2005 (Stat Med 24:1185, Appendix A.1.1 and §3.5), the normal
limits they converge to at large n, and a small over-dispersion example worked by hand in
docs/network-and-trends.md ("Worked example: funnel").
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from reports import funnel
from reports.funnel import Unit


@pytest.mark.parametrize("n", [5, 10, 20, 40, 137])
@pytest.mark.parametrize("p", [0.001, 0.025, 0.975, 0.999])
def test_exact_limit_solves_the_interpolation_equation(n, p):
    """At the limit y = (r − α)/n the interpolated CDF F(r−1) + (1−α)·(F(r) − F(r−1)) equals p (Appendix A.1.1)."""
    theta0 = 0.3
    y = funnel.binomial_limit(n, theta0, p)
    if y == 0:  # the interpolated limit fell below 0 and is shown at 0
        assert stats.binom.cdf(0, n, theta0) >= p
        return
    r = math.ceil(y * n - 1e-12)
    alpha = r - y * n
    f_r, f_before = stats.binom.cdf(r, n, theta0), stats.binom.cdf(r - 1, n, theta0)
    assert f_before + (1 - alpha) * (f_r - f_before) == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize("theta0", [0.003, 0.05, 0.3, 0.77, 0.999])
def test_the_limits_of_many_wards_at_once_equal_each_wards_own(theta0):
    """``exact_limits_many`` (one vectorised scipy call per limit, for a funnel of many wards) gives exactly the
    Appendix A.1.1 limits :func:`binomial_limit` gives ward by ward, at every n from 1 to 400."""
    ns = list(range(1, 401))
    for coverage in funnel.LIMITS:
        many = funnel.exact_limits_many(ns, theta0, coverage)
        assert many == [funnel.exact_limits(n, theta0, coverage) for n in ns]


def test_exact_limits_approach_the_normal_ones_at_large_n():
    n, theta0 = 20000, 0.25
    se = math.sqrt(theta0 * (1 - theta0) / n)
    low, high = funnel.exact_limits(n, theta0, 0.998)
    assert high == pytest.approx(theta0 + 3.0902 * se, abs=2e-4)
    assert low == pytest.approx(theta0 - 3.0902 * se, abs=2e-4)


def test_limits_widen_at_99_8_and_narrow_with_n():
    lo95, hi95 = funnel.exact_limits(20, 0.3, 0.95)
    lo998, hi998 = funnel.exact_limits(20, 0.3, 0.998)
    assert lo998 < lo95 < 0.3 < hi95 < hi998
    assert funnel.exact_limits(40, 0.3, 0.95)[1] < hi95


def test_winsorising_replaces_the_tails_at_10_percent():
    z = list(range(20))  # 2 in each tail
    assert list(funnel.winsorise(z)) == [2, 2, 2, *range(3, 17), 17, 17, 17]
    assert list(funnel.winsorise([3.0, -1.0, 0.5])) == [3.0, -1.0, 0.5]  # I < 10: unchanged


def test_overdispersion_worked_example():
    """docs/network-and-trends.md, worked example: 5 wards of 20, x = 2, 4, 6, 8, 10, θ0 = 0.3.
    z = (x/20 − 0.3)/√(0.21/20) = −1.9518, −0.9759, 0, 0.9759, 1.9518; φ = Σz²/5 = 1.90476;
    w = 20/0.21 = 95.238 each; τ² = (5·1.90476 − 4)/(5w − w) = 5.5238/380.95 = 0.0145."""
    units = [Unit(f"w{i}", x, 20) for i, x in enumerate((2, 4, 6, 8, 10))]
    phi, tau2, p, z = funnel.overdispersion(units, 0.3)
    assert z[0] == pytest.approx(-1.9518, abs=1e-4)
    assert phi == pytest.approx(1.90476, abs=1e-5)
    assert tau2 == pytest.approx(0.0145, abs=1e-4)
    assert p == pytest.approx(0.049260, abs=1e-6)  # I·φ = 9.5238 against χ² with I − 1 = 4 df (θ0 pooled)
    *_, p_external, _ = funnel.overdispersion(units, 0.3, target_from_units=False)
    assert p_external == pytest.approx(stats.chi2.sf(5 * 1.904762, 5), rel=1e-6)  # an external target: I df


def test_overdispersion_reproduces_fleiss_1981_printed_test_of_equal_proportions():
    """Fleiss JL, Statistical Methods for Rates and Proportions, 2nd ed. 1981, p. 139: smokers among lung cancer
    patients in four studies, 83/86, 90/93, 129/136, 70/82; R's prop.test documentation example prints
    "X-squared = 12.6004, df = 3, p-value = 0.005585". Around the pooled θ0 = 372/397 (I = 4 < 10: nothing
    winsorised) Σz² is that statistic, φ = Σz²/4, and the test uses I − 1 = 3 degrees of freedom
    (docs/network-and-trends.md §1, "Published figures the tests reproduce")."""
    units = [Unit(f"s{i}", x, n) for i, (x, n) in enumerate([(83, 86), (90, 93), (129, 136), (70, 82)])]
    phi, _, p, z = funnel.overdispersion(units, 372 / 397)
    assert 4 * phi == pytest.approx(12.6004, abs=1e-4)
    assert sum(v * v for v in z) == pytest.approx(12.6004, abs=1e-4)
    assert p == pytest.approx(0.005585, abs=1e-6)
    assert funnel.funnel(units).overdispersion_p == pytest.approx(0.005585, abs=1e-6)  # the funnel's own θ0


def test_overdispersion_reproduces_agresti_2007_printed_residuals_and_test():
    """Agresti A, An Introduction to Categorical Data Analysis, 2nd ed. 2007, p. 39: party identification by gender,
    female 762/1246, 327/566, 468/945 (N = 2757); R's chisq.test documentation example prints "X-squared = 30.07,
    df = 2, p-value = 2.954e-07" and the female row's standardised residuals 4.5020535, 0.6994517, −5.3159455.
    For a 2 × I table the ward's z around the pooled θ0 is that residual times √(1 − n_i/N)."""
    rows = [(762, 1246), (327, 566), (468, 945)]
    units = [Unit(f"p{i}", x, n) for i, (x, n) in enumerate(rows)]
    phi, _, p, z = funnel.overdispersion(units, 1557 / 2757)
    printed = [4.5020535, 0.6994517, -5.3159455]
    expected = [r * math.sqrt(1 - n / 2757) for r, (_, n) in zip(printed, rows, strict=True)]
    assert z == pytest.approx(expected, abs=1e-6)
    assert 3 * phi == pytest.approx(30.07, abs=5e-3)
    assert p == pytest.approx(2.954e-07, rel=2e-3)


def test_overdispersion_with_winsorising_on_the_bristol_infant_cardiac_surgery_data():
    """An independent recomputation (not a printed result: no published φ/τ² for these data was found, see
    docs/network-and-trends.md §1), at I = 12 ≥ 10 so that winsorising acts. Data: open-heart surgery deaths in
    infants under one year, 12 UK centres, 1991–95 (Bristol Royal Infirmary Inquiry; the "Surgical" example of the
    BUGS manual, Spiegelhalter et al. 1996, vol. I): deaths 0, 18, 8, 46, 8, 13, 9, 31, 14, 8, 29, 24 of 47, 148,
    119, 810, 211, 196, 148, 215, 207, 97, 256, 360 operations (Bristol is centre 8, 31/215).
    By hand (docs/network-and-trends.md §1, "Winsorising at I ≥ 10"): θ0 = 208/2814 = 0.0739161; z of Bristol
    3.9382 and of centre 5 −1.9988 are the extremes, ⌊12·0.1⌋ = 1 each tail is set to the next value (2.4073 and
    −1.9368); φ = Σz_w²/12 = 2.38316 (3.21297 unwinsorised); τ² = (12φ − 11)/(Σw − Σw²/Σw) = 4.9662e-4; at
    n = 215 the 95 % limits θ0 ± 1.95996·√(θ0(1−θ0)/215 + τ²) are 0.017963–0.129870, the 99.8 % upper 0.162137:
    Bristol's 14.4 % is the one ward outside, an ALERT above."""
    deaths = (0, 18, 8, 46, 8, 13, 9, 31, 14, 8, 29, 24)
    operations = (47, 148, 119, 810, 211, 196, 148, 215, 207, 97, 256, 360)
    units = [Unit(f"c{i + 1}", x, n) for i, (x, n) in enumerate(zip(deaths, operations, strict=True))]
    phi, tau2, _, z = funnel.overdispersion(units, 208 / 2814)
    assert (z[7], z[4]) == (pytest.approx(3.9382, abs=1e-4), pytest.approx(-1.9988, abs=1e-4))
    assert phi == pytest.approx(2.38316, abs=1e-5)
    assert funnel.overdispersion(units, 208 / 2814, fraction=0)[0] == pytest.approx(3.21297, abs=1e-5)
    assert tau2 == pytest.approx(4.9662e-4, abs=1e-8)
    result = funnel.funnel(units)
    assert result.method == "additive random effects" and result.theta0 == pytest.approx(0.0739161, abs=1e-7)
    bristol = result.units[7]
    assert bristol.limits["0.95"] == (pytest.approx(0.017963, abs=1e-6), pytest.approx(0.129870, abs=1e-6))
    assert bristol.limits["0.998"][1] == pytest.approx(0.162137, abs=1e-6)
    assert [(u.label, u.level, u.direction) for u in result.units if u.level] == [("c8", "ALERT", "above")]


def test_no_overdispersion_gives_tau2_zero_and_exact_limits():
    result = funnel.funnel([Unit(f"w{i}", 6, 20) for i in range(6)])
    assert result.tau2 == 0 and result.method == "exact binomial"
    assert all(u.level is None for u in result.units)


def test_flags_in_both_directions():
    units = [Unit(f"w{i}", 6, 20) for i in range(8)] + [Unit("high", 18, 20), Unit("low", 0, 40)]
    result = funnel.funnel(units)
    by_label = {u.label: u for u in result.units}
    assert result.flags_given
    assert (by_label["high"].level, by_label["high"].direction) == ("ALARM", "above")
    assert by_label["low"].direction == "below"
    assert by_label["w0"].level is None


def test_no_flag_under_three_patients_or_five_wards():
    units = [Unit(f"w{i}", 3, 20) for i in range(6)] + [Unit("tiny", 2, 2)]
    result = funnel.funnel(units)
    tiny = next(u for u in result.units if u.label == "tiny")
    assert not tiny.flaggable and tiny.level is None
    few = funnel.funnel([Unit("a", 1, 20), Unit("b", 2, 20), Unit("c", 20, 20), Unit("d", 0, 2)])
    assert not few.flags_given and "3 wards" in few.note and all(u.level is None for u in few.units)


def test_nothing_to_compare_when_no_ward_has_the_event():
    result = funnel.funnel([Unit(f"w{i}", 0, 10) for i in range(6)])
    assert not result.flags_given and "none" in result.note


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        Unit("x", 5, 3)
    with pytest.raises(ValueError):
        funnel.funnel([])
    with pytest.raises(ValueError):
        funnel.binomial_limit(0, 0.3, 0.975)
