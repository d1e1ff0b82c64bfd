"""Tests for reports.validation (leave-one-cohort-out) and the validate_cohorts command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from reports import benchmark, stats
from reports.benchmark import flag_level
from reports.management.commands.validate_cohorts import all_cohort_figures
from reports.models import BenchmarkCategory
from reports.validation import leave_one_out

THRESHOLDS = {"ALARM_P": 0.001, "ALERT_P": 0.025, "WATCH_P": 0.025, "LOW_P": 0.025,
              "MIN_COHORTS": 3, "MIN_EVENTS": 3}
FLAGS = {None, "ALARM", "ALERT", "CHECK_ASCERTAINMENT", "WATCH"}


def fig(cohort: str, x: int | None, n: int | None, category: str = "crs", band: str = "any", *,
        unit: str = "patients", stratum: str = "all", scope: str = "all") -> dict:
    """A cohort figure in the shape of benchmark.collect_inputs()["figures"]."""
    return {"id": hash((cohort, category, band, unit, stratum, scope)) % 10**6, "cohort": cohort,
            "short_name": cohort.title(), "category": category, "grade_band": band, "cycle_scope": scope,
            "unit": unit, "numerator": x, "denominator": n, "percent_printed": None, "stratum": stratum,
            "scale": "ctcae", "schedule": "standard", "population": "paediatric"}


def by_cohort(rows: list[dict], category: str = "crs", band: str = "any") -> dict[str, dict]:
    return {r["cohort"]: r for r in rows if r["category"] == category and r["grade_band"] == band}


def test_outlier_cohort_raises_alarm_against_homogeneous_others() -> None:
    figures = [fig(c, 10, 100) for c in ("a", "b", "c", "d")] + [fig("e", 60, 100)]
    rows = by_cohort(leave_one_out(figures, THRESHOLDS))
    assert set(rows) == {"a", "b", "c", "d", "e"}
    e = rows["e"]
    assert (e["x"], e["n"], e["k"], e["method"], e["weak"]) == (60, 100, 4, "glmm_ml", False)
    assert e["median"] == pytest.approx(0.10, abs=1e-6)  # tau2 = 0: common-effect logistic fit over a-d
    assert e["p_upper"] < 0.001 and e["flag"] == "ALARM"
    assert all(rows[c]["k"] == 4 for c in "abcd")


def test_low_cohort_asks_to_check_ascertainment() -> None:
    figures = [fig(c, 30, 100) for c in ("a", "b", "c")] + [fig("z", 0, 100)]
    z = by_cohort(leave_one_out(figures, THRESHOLDS))["z"]
    assert z["p_lower"] < 0.025 and z["flag"] == "CHECK_ASCERTAINMENT"


def test_only_whole_cohort_patient_figures_for_all_cycles_are_used() -> None:
    figures = [
        fig("a", 5, 50), fig("b", 6, 60), fig("c", 4, 40),
        fig("ev", 30, 50, unit="events"),            # counts events: neither target nor comparator
        fig("st", 3, 20, stratum="blasts_ge5"),      # blast stratum only
        fig("c1", 2, 20, scope="first"),             # cycle 1 only
        fig("pct", None, None),                      # percentage without denominator
        fig("a", 9, 50, band="ge3"),                 # other band: its own cell
    ]
    rows = leave_one_out(figures, THRESHOLDS)
    assert {(r["cohort"], r["grade_band"]) for r in rows} == {("a", "any"), ("b", "any"), ("c", "any"), ("a", "ge3")}
    any_rows = by_cohort(rows)
    assert all(r["k"] == 2 for r in any_rows.values())  # never its own figure, never the ineligible ones
    # k = 2 < MIN_COHORTS: weak common-effect fallback over the two other cohorts, with its reason.
    a = any_rows["a"]
    assert a["method"] == "common_effect" and a["weak"] and "only 2 comparable cohorts" in a["note"]
    assert a["median"] == pytest.approx(10 / 100)
    lone = by_cohort(rows, band="ge3")["a"]
    assert lone["k"] == 0 and lone["method"] is None and lone["flag"] is None
    assert lone["note"] == "no other cohort reports this cell" and lone["rate"] == pytest.approx(9 / 50)


def test_rows_match_the_ward_benchmark_of_the_same_counts() -> None:
    # A "ward" with cohort c's counts, benchmarked by reports.benchmark.compute with c excluded, gets the
    # same pooled reference, tail probabilities and flag level as the leave-one-out row for c.
    figures = [fig("a", 3, 40), fig("b", 8, 60), fig("c", 12, 30), fig("d", 2, 25), fig("e", 5, 45),
               fig("a", 1, 40, band="ge3"), fig("b", 2, 60, band="ge3"), fig("c", 6, 30, band="ge3"),
               fig("d", 0, 25, band="ge3")]
    rows = leave_one_out(figures, THRESHOLDS)
    for band, target in (("any", "c"), ("ge3", "c"), ("any", "d")):
        row = by_cohort(rows, band=band)[target]
        x, n = row["x"], row["n"]
        inputs = {"method_version": "test", "thresholds": THRESHOLDS, "excluded_cohort": target,
                  "categories": [{"slug": "crs", "name": "CRS", "terms": []}],
                  "denominators": {"all": n, "first": n},
                  "ward": {f"crs|{b}|{s}": x for b in benchmark.GRADE_BANDS for s in benchmark.CYCLE_SCOPES},
                  "figures": figures}
        cell = next(c for c in benchmark.compute(inputs)["cells"]
                    if c["grade_band"] == band and c["cycle_scope"] == "all")
        assert (row["k"], row["method"]) == (cell["pooled"]["k"], cell["pooled"]["method"])
        assert row["median"] == pytest.approx(cell["pooled"]["median"], rel=1e-9)
        assert (row["p_upper"], row["p_lower"]) == pytest.approx((cell["p_upper"], cell["p_lower"]), rel=1e-9)
        assert row["flag"] == (cell["flag"]["level"] if cell["flag"] else None)


def test_flag_level_precedence() -> None:
    assert flag_level(0.0005, 0.9, 0.0001, 0.1, THRESHOLDS) == ("ALARM", "above")
    assert flag_level(0.01, 0.9, 0.0001, 0.1, THRESHOLDS) == ("ALERT", "above")
    assert flag_level(0.5, 0.01, 0.0001, 0.1, THRESHOLDS) == ("CHECK_ASCERTAINMENT", "below")
    assert flag_level(0.5, 0.5, 0.01, 0.1, THRESHOLDS) == ("WATCH", "above")
    assert flag_level(0.5, 0.5, 0.5, 0.1, THRESHOLDS) is None
    # Against a benchmark with no events at all, one ward event is not "above the average rate".
    assert flag_level(0.5, 0.5, 0.0, 0.0, THRESHOLDS) is None
    assert flag_level(0.025, 0.025, 0.025, 0.1, THRESHOLDS) is None  # strict "<", as in benchmark._flag


def test_empty_input_gives_no_rows() -> None:
    assert leave_one_out([], THRESHOLDS) == []


@pytest.mark.django_db
def test_validate_cohorts_command_smoke() -> None:
    out = StringIO()
    call_command("validate_cohorts", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0].split()[:4] == ["cohort", "category", "band", "x/n"]
    assert "cohort cells" in text and "flagged" in text

    out = StringIO()
    call_command("validate_cohorts", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["thresholds"] == dict(settings.PVTRACK_BENCHMARK)
    rows = data["rows"]
    bands = dict(BenchmarkCategory.objects.values_list("slug", "grade_bands"))
    assert rows and len(rows) == len(leave_one_out(all_cohort_figures(), dict(settings.PVTRACK_BENCHMARK), bands))
    assert not any(r["category"] == "hepatotoxicity" and r["grade_band"] == "any" for r in rows)  # ge3 only
    assert {r["flag"] for r in rows} <= FLAGS
    assert {r["grade_band"] for r in rows} <= {"any", "ge3"}
    for r in rows:
        assert 0 <= r["x"] <= r["n"]
        if r["method"]:
            assert r["k"] >= 1 and 0 <= r["p_upper"] <= 1 and 0 <= r["p_lower"] <= 1
    # the pooled median of a row never includes the cohort itself: recompute one from the other cohorts
    figures = all_cohort_figures()
    r = next(r for r in rows if r["method"] == "glmm_ml")
    others, _ = benchmark.select_figures(figures, r["category"], r["grade_band"], "all", r["cohort"])
    pooled = stats.pool([f["numerator"] for f in others], [f["denominator"] for f in others])
    assert r["median"] == pytest.approx(pooled.median, rel=1e-9)


def test_operating_characteristics_match_exact_enumeration() -> None:
    from scipy import stats as sps

    from reports.validation import operating_characteristics

    pooled = stats.pool([5, 8, 3, 6], [20, 30, 25, 18])
    rows = operating_characteristics(pooled, THRESHOLDS, sizes=(10, 20))
    assert [r["n"] for r in rows] == [10, 20]
    for r in rows:
        n, p0 = r["n"], pooled.marginal_mean
        high, _ = stats.predictive_limits(n, pooled, THRESHOLDS["ALERT_P"])
        assert r["alert_at"] == high
        assert r["false_alert"] == pytest.approx(0.0 if high is None else sps.binom.sf(high - 1, n, p0), abs=1e-12)
        assert r["power_alert"] == pytest.approx(0.0 if high is None else sps.binom.sf(high - 1, n, 2 * p0), abs=1e-12)
        assert r["false_any"] >= r["false_alert"] and r["power_any"] >= r["power_alert"]
        assert r["power_any"] > r["false_any"]


@pytest.mark.django_db
def test_validate_cohorts_operating_characteristics_option() -> None:
    out = StringIO()
    call_command("validate_cohorts", "--operating-characteristics", "--json", stdout=out)
    data = json.loads(out.getvalue())
    lit = [r for r in data["rows"] if r["approach"] == "(a) literature"]
    # Done-when (a): before and after, CRS and neurotoxicity any grade, wards of 10 / 20 / 40.
    assert {(r["variant"], r["category"], r["grade_band"], r["n"]) for r in lit} == {
        (v, c, "any", n) for v in ("before", "after") for c in ("crs", "neurotoxicity") for n in (10, 20, 40)}
    crs = {(r["variant"], r["n"]): r for r in lit if r["category"] == "crs"}
    # Issue 17: before, ALERT could not fire for CRS at any size (power 0); after, the meta-regression lets it.
    assert all(crs[("before", n)]["power"] < 1e-6 for n in (10, 20, 40))
    assert all(crs[("after", n)]["power"] > 1e-3 for n in (10, 20, 40))
    assert all(r["false_alarm"] <= 0.025 for r in lit)
