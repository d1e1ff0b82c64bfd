"""The registry of operating-characteristics providers (issue 17 Done-when): others add rows by registering."""

from __future__ import annotations

import pytest

from reports import operating_characteristics as oc
from tests.reports.test_benchmark import THRESHOLDS, figure


def test_a_registered_provider_adds_its_rows_after_the_literature_benchmark():
    def fake(ctx: oc.Context) -> list[dict]:
        return [{"approach": "(z) test", "variant": "after", "category": "crs", "grade_band": "any", "n": n,
                 "expected": 0.1, "alternative": 0.2, "false_alarm": 0.01, "power": 0.5, "false_any": None,
                 "power_any": None, "arl_in": 500.0, "arl_out": 20.0, "detail": ""} for n in ctx.sizes]
    oc.register(fake)
    oc.register(fake)  # twice: kept once
    try:
        figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("d", 6, 18)]
        rows = oc.run(oc.Context(figures=figs, thresholds=THRESHOLDS, cells=(("crs", "any"),), sizes=(10, 20)))
    finally:
        oc.PROVIDERS.remove(fake)
    approaches = [r["approach"] for r in rows]
    assert approaches == (["(a) literature"] * 4 + ["(b) network"] * 2 + ["(c) CUSUM"] * 2 + ["(z) test"] * 2)
    assert oc.PROVIDERS == [oc.literature, oc.network, oc.cusum]
    keys = set(rows[0])
    assert all(set(r) == keys for r in rows)  # one row shape for every approach
    cusum = [r for r in rows if r["approach"] == "(c) CUSUM"]
    assert cusum[0]["arl_in"] == pytest.approx(200, rel=0.1) and cusum[0]["arl_out"] < cusum[0]["arl_in"]
    assert cusum[0]["false_alarm"] < cusum[1]["false_alarm"] and cusum[0]["power"] < cusum[1]["power"]  # n 10 < 20


def test_a_benchmark_that_cannot_fire_reports_zero_power_and_says_why():
    figs = [figure("a", 0, 20), figure("b", 0, 25), figure("c", 12, 14)]
    rows = oc.literature(oc.Context(figures=figs, thresholds=THRESHOLDS, cells=(("crs", "any"),), sizes=(10,)))
    after = next(r for r in rows if r["variant"] == "after")
    assert after["power"] == 0.0 and after["false_alarm"] == 0.0
    assert after["detail"].startswith("no usable benchmark") and "nothing can be flagged" in after["detail"]


def test_literature_rows_are_exact_enumeration():
    from scipy import stats as sps

    from reports import stats

    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("d", 6, 18)]
    rows = oc.literature(oc.Context(figures=figs, thresholds=THRESHOLDS, cells=(("crs", "any"),), sizes=(20,)))
    pooled = stats.pool([5, 8, 3, 6], [20, 30, 25, 18])
    high, _ = stats.predictive_limits(20, pooled, THRESHOLDS["ALERT_P"])
    before = next(r for r in rows if r["variant"] == "before")
    assert before["false_alarm"] == pytest.approx(sps.binom.sf(high - 1, 20, pooled.marginal_mean), abs=1e-12)
