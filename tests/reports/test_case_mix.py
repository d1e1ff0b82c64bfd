"""Case mix (O/E by marrow blast burden, docs/methods.md §3.2) and like-with-like cohort selection."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from scipy import stats as sps

from patients.models import Patient, TreatmentCycle
from reports import benchmark, stats
from tests.conftest import make_cycle, make_event, make_patient
from tests.reports.test_benchmark import cell, figure, inputs_for


def _independent_tail(o: int, strata: list[tuple[int, float]]) -> float:
    """P(sum of stratum binomials >= o) by enumerating every combination of stratum counts (no convolution)."""
    (n1, p1), (n2, p2) = strata
    total = 0.0
    for x1 in range(n1 + 1):
        for x2 in range(n2 + 1):
            if x1 + x2 >= o:
                total += (math.comb(n1, x1) * p1**x1 * (1 - p1) ** (n1 - x1)
                          * math.comb(n2, x2) * p2**x2 * (1 - p2) ** (n2 - x2))
    return total


def test_methods_md_synthetic_example_o4_e18():
    # A ward of 20: 8 patients with blasts >= 5% at 15% and 12 with < 5% at 5% -> E = 1.2 + 0.6 = 1.8.
    strata = [(8, 0.15), (12, 0.05)]
    mix = stats.case_mix(4, [n for n, _ in strata], [p for _, p in strata])
    assert mix.expected == pytest.approx(1.8, abs=1e-12)
    assert mix.sir == pytest.approx(2.22, abs=0.005)
    assert mix.ci == pytest.approx((0.61, 5.69), abs=0.005)
    assert mix.p_upper == pytest.approx(0.0962, abs=5e-5)
    assert mix.p_upper == pytest.approx(_independent_tail(4, strata), abs=1e-12)
    assert mix.p_poisson == pytest.approx(0.1087, abs=5e-5)
    assert "Garwood" in mix.ci_critical


def test_garwood_closed_form_and_zero_count():
    assert stats.garwood_ci(4) == pytest.approx((sps.chi2.ppf(0.025, 8) / 2, sps.chi2.ppf(0.975, 10) / 2), abs=1e-12)
    assert stats.garwood_ci(0) == pytest.approx((0.0, -math.log(0.025)), abs=1e-9)  # 3.689
    with pytest.raises(ValueError):
        stats.garwood_ci(-1)


def test_poisson_binomial_reduces_to_the_binomial_and_sums_to_one():
    dist = stats.poisson_binomial_pmf([7, 5], [0.2, 0.2])
    assert dist == pytest.approx(sps.binom.pmf(range(13), 12, 0.2), abs=1e-14)
    assert stats.poisson_binomial_pmf([3, 4, 0], [0.1, 0.9, 0.5]).sum() == pytest.approx(1.0, abs=1e-14)
    with pytest.raises(ValueError):
        stats.case_mix(13, [7, 5], [0.2, 0.2])
    with pytest.raises(ValueError):
        stats.poisson_binomial_pmf([3], [1.5])


@pytest.mark.parametrize("o", range(0, 11))
def test_property_one_more_event_never_raises_the_upper_tail_and_higher_rates_never_lower_it(o):
    base = stats.case_mix(o, [6, 5], [0.1, 0.3])
    more = stats.case_mix(o + 1, [6, 5], [0.1, 0.3])
    riskier = stats.case_mix(o, [6, 5], [0.1, 0.35])
    assert more.p_upper <= base.p_upper + 1e-15
    assert riskier.p_upper >= base.p_upper - 1e-15


def test_cell_uses_a_stratum_benchmark_where_cohorts_report_one_and_says_so():
    figures = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25),
               figure("p", 1, 3, stratum="blasts_ge5"), figure("q", 2, 4, stratum="blasts_ge5")]
    inputs = inputs_for(6, 20, figures)
    inputs["strata"] = {"blasts_ge5": 8, "blasts_lt5": 10}  # 2 patients without a recorded blast count
    c = cell(benchmark.compute(inputs))
    mix = c["case_mix"]
    rows = {r["stratum"]: r for r in mix["strata"]}
    assert [r["n"] for r in mix["strata"]] == [8, 10, 2]
    # >= 5%: weak common-effect pool of the two stratum figures, 3/7; the others use the overall benchmark.
    assert rows["blasts_ge5"]["rate"] == pytest.approx(3 / 7)
    assert "P, Q" in rows["blasts_ge5"]["source"] and "weak" in rows["blasts_ge5"]["source"]
    mean = c["pooled"]["marginal_mean"]
    assert rows["blasts_lt5"]["source"] == rows["not_recorded"]["source"] == "overall benchmark"
    assert rows["blasts_lt5"]["rate"] == rows["not_recorded"]["rate"] == mean
    expected = 8 * 3 / 7 + 12 * mean
    assert mix["expected"] == pytest.approx(expected, rel=1e-12)
    assert mix["sir"] == pytest.approx(6 / expected, rel=1e-12)
    assert mix["p_upper"] == pytest.approx(
        float(stats.poisson_binomial_pmf([8, 10, 2], [3 / 7, mean, mean])[6:].sum()), rel=1e-12)
    assert mix["stratified"] is True
    # The stratum figures never enter the whole-cohort benchmark.
    assert [co["cohort"] for co in c["cohorts"]] == ["a", "b", "c"]


def test_without_stratum_figures_e_is_n_times_the_marginal_mean():
    c = cell(benchmark.compute(inputs_for(6, 20, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)])))
    assert c["case_mix"]["expected"] == pytest.approx(20 * c["pooled"]["marginal_mean"], rel=1e-12)
    assert c["case_mix"]["stratified"] is False


# --- like with like ----------------------------------------------------------------------------------------

PROFILE = {"schedule": "standard_28d", "population": "relapsed_refractory", "scales": {"crs": "astct_lee"}}


def _figs():
    return [
        figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25),
        figure("short", 9, 20) | {"schedule": "short_14d"},
        figure("unstated", 4, 20) | {"schedule": "not_stated"},
        figure("mrd", 1, 30) | {"population": "mrd_positive_cr"},
        figure("mixed", 2, 15) | {"population": "mixed"},
        figure("nograde", 6, 18) | {"scale": "not_stated"},
        figure("lee", 7, 21) | {"scale": "lee_2014"},
    ]


def _with_profile(figs, policy="exclude", profile=PROFILE):
    inputs = inputs_for(4, 10, figs)
    inputs["ward_profile"] = profile
    inputs["thresholds"]["SCALE_MISMATCH"] = policy
    return cell(benchmark.compute(inputs))


def test_like_with_like_leaves_out_other_schedules_populations_and_scales_with_reasons():
    # Hand-made figures are graded CTCAE v5; the ward grades CRS by ASTCT: CTCAE figures differ.
    c = _with_profile(_figs(), profile=PROFILE | {"scales": {"crs": "ctcae_v5_crs"}})
    used = {co["cohort"]: co["labels"] for co in c["cohorts"]}
    reasons = {e["cohort"]: e["reason"] for e in c["excluded"]}
    assert set(used) == {"a", "b", "c", "unstated", "mixed", "nograde"}
    assert used["a"] == [] and used["unstated"] == ["schedule not stated"]
    assert used["mixed"] == ["population mixed"] and used["nograde"] == ["grading scale not stated"]
    assert reasons["short"] == "schedule short_14d differs from the ward's standard_28d"
    assert reasons["mrd"] == "population mrd positive cr differs from the ward's relapsed refractory"
    assert reasons["lee"] == "graded by ASTCT/Lee (lee_2014), the ward by CTCAE v5.0 CRS"
    assert c["pooled"]["k"] == 6


def test_scale_policy_label_pools_other_scales_with_a_label():
    c = _with_profile(_figs(), policy="label", profile=PROFILE | {"scales": {"crs": "ctcae_v5_crs"}})
    used = {co["cohort"]: co["labels"] for co in c["cohorts"]}
    assert used["lee"] == ["graded by ASTCT/Lee (lee_2014), the ward by CTCAE v5.0 CRS"]
    assert "lee" not in {e["cohort"] for e in c["excluded"]}


def test_unknown_or_mixed_ward_profile_filters_nothing_but_labels_unstated_values():
    for profile in ({"schedule": None, "population": None, "scales": {}},
                    {"schedule": "mixed", "population": "mixed", "scales": {"crs": "mixed"}}):
        c = _with_profile(_figs(), profile=profile)
        assert len(c["cohorts"]) == len(_figs()) and not c["excluded"]
    # Inputs stored before like-with-like existed (no ward_profile) still compute, without labels.
    c = cell(benchmark.compute(inputs_for(4, 10, _figs())))
    assert len(c["cohorts"]) == len(_figs()) and all(co["labels"] == [] for co in c["cohorts"])


@pytest.mark.django_db
def test_collect_inputs_profiles_the_ward_by_majority(ward):
    for i in range(3):
        p = make_patient(ward, f"S-{i}", disease_status=Patient.DiseaseStatus.MRD_POSITIVE_CR)
        c = make_cycle(p, schedule=TreatmentCycle.Schedule.SHORT_14D, marrow_blasts_pct=Decimal("2"))
        # Status is per cycle (issue 20 item 5): cycle 2 starts in remission too (blasts < 5 %).
        make_cycle(p, 2, start=c.start_date.replace(month=3), schedule=TreatmentCycle.Schedule.SHORT_14D,
                   marrow_blasts_pct=Decimal("2"))
    p = make_patient(ward, "S-9")  # first relapse, standard schedule, blasts 30%
    make_event(make_cycle(p), grade=2, grading_scale="astct_2019")
    inputs = benchmark.collect_inputs(ward)
    profile = inputs["ward_profile"]
    assert profile["schedule"] == "short_14d" and profile["schedule_counts"] == {"standard_28d": 1, "short_14d": 6}
    assert profile["population"] == "mrd_positive_cr"
    assert profile["population_counts"] == {"relapsed_refractory": 1, "mrd_positive_cr": 3, "chemo_ineligible_cr": 0}
    assert profile["scales"]["crs"] == "astct_lee"
    assert profile["scales"]["anemia"] == "ctcae"  # no anaemia events: the AE form's default scale
    assert inputs["strata"] == {"blasts_ge5": 1, "blasts_lt5": 3}
