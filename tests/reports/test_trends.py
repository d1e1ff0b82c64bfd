"""reports.trends: the run's monitoring section computed from its inputs (pure)."""

from __future__ import annotations

from reports import trends


def _cell(scope="all", mean=0.2, strata=None, x=0, n=0):
    return {"category": "crs", "category_name": "Cytokine release syndrome", "grade_band": "any",
            "cycle_scope": scope, "pooled": {"marginal_mean": mean} if mean is not None else None,
            "case_mix": {"strata": strata} if strata else None, "ward": {"x": x, "n": n, "rate": x / n if n else None}}


def _monitoring(outcomes, strata=None, lags=(), demo=False):
    n = len(outcomes)
    return {"patients": [{"id": i, "stratum": (strata or ["not_recorded"] * n)[i], "cycles": 1, "infusion_days": 28}
                         for i in range(n)],
            "outcomes": {"crs|any": [i for i, y in enumerate(outcomes) if y]}, "events": {"crs|any": sum(outcomes)},
            "lags": list(lags), "demo": demo}


def test_runs_stored_before_have_no_monitoring():
    assert trends.compute_monitoring(None, [_cell()]) is None


def test_a_run_of_events_signals_and_a_quiet_ward_does_not():
    busy = trends.compute_monitoring(_monitoring([True] * 8), [_cell(x=8, n=8)])
    chart = busy["cusum"][0]
    assert chart["flag"] == "CUSUM SIGNAL" and chart["signals"][0] <= 5
    quiet = trends.compute_monitoring(_monitoring([False] * 8 + [True]), [_cell(x=1, n=9)])
    assert quiet["cusum"][0]["flag"] is None and "no signal" in quiet["cusum"][0]["note"]


def test_each_patient_is_expected_at_its_blast_stratum_rate():
    strata = [{"stratum": "blasts_ge5", "rate": 0.4}, {"stratum": "blasts_lt5", "rate": 0.1},
              {"stratum": "not_recorded", "rate": 0.2}]
    result = trends.compute_monitoring(_monitoring([True, False, True], ["blasts_ge5", "blasts_lt5", "not_recorded"]),
                                       [_cell(strata=strata, x=2, n=3)])
    assert result["cusum"][0]["expected"] == [0.4, 0.1, 0.2]


def test_no_chart_for_a_zero_benchmark_or_a_cycle_1_cell():
    result = trends.compute_monitoring(_monitoring([False, False]), [_cell(mean=0.0), _cell(scope="first")])
    assert len(result["cusum"]) == 1 and "0 or 1" in result["cusum"][0]["note"]
    assert len(result["exposure"]) == 1


def test_exposure_and_entry_lag():
    result = trends.compute_monitoring(_monitoring([True, True, False], lags=[10, 9, 12, 8, 20]),
                                       [_cell(x=2, n=3)])
    exposure = result["exposure"][0]
    assert (exposure["events"], exposure["cycles"], exposure["days"]) == (2, 3, 84.0)
    assert exposure["per_100_days"] == 100 * 2 / 84
    assert result["entry_lag"]["flag"] == "LATE ENTRY"
    demo = trends.compute_monitoring(_monitoring([True], lags=[400] * 5, demo=True), [_cell(x=1, n=1)])
    assert demo["entry_lag"]["flag"] is None and "demo ward" in demo["entry_lag"]["message"]
