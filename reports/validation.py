"""Leave-one-cohort-out validation of the benchmark (pure: no database access).

Each published cohort with a whole-cohort patient figure (unit patients, stated x/n, stratum all,
cycle scope all) in a benchmark category and grade band (any, ge3) is benchmarked as if it were a
ward against the OTHER cohorts, with exactly the selection (``reports.benchmark.select_figures``),
pooling (``reports.stats.pool``, GLMM or weak common-effect fallback) and tail probabilities
(``reports.stats.predictive_tail`` / ``fixed_tail``) the ward benchmark uses, and the flag levels of
``reports.benchmark._flag`` (statistics.md §3.5 step 4). A benchmark that flags many published
cohorts is telling us the between-cohort spread (or the curation) deserves a look.
"""

from __future__ import annotations

from typing import Any

from reports import stats
from reports.benchmark import GRADE_BANDS, flag_level, select_figures

SCOPE = "all"


def leave_one_out(figures: list[dict[str, Any]], thresholds: dict[str, float]) -> list[dict[str, Any]]:
    """Benchmark every eligible cohort against the others; one row per (category, band, cohort).

    ``figures``: the shape of ``reports.benchmark.collect_inputs()["figures"]`` (keys cohort,
    short_name, category, grade_band, cycle_scope, unit, numerator, denominator, stratum, ...).
    ``thresholds``: ``settings.PVTRACK_BENCHMARK`` (ALARM_P, ALERT_P, WATCH_P, LOW_P, MIN_COHORTS,
    MIN_EVENTS). Rows, ordered by category (first appearance), band (any, ge3), then cohort:
    {"cohort", "short_name", "category", "grade_band", "x", "n", "rate", "k", "method", "weak",
    "median", "marginal_mean", "p_upper", "p_lower", "p_fixed", "flag", "note"}; when no other
    cohort reports the cell, the pooled and tail fields are None and ``note`` says why.
    """
    categories = list(dict.fromkeys(f["category"] for f in figures))
    rows: list[dict[str, Any]] = []
    for category in categories:
        for band in GRADE_BANDS:
            targets, _ = select_figures(figures, category, band, SCOPE, excluded_cohort="")
            for target in sorted(targets, key=lambda f: f["cohort"]):
                others, _ = select_figures(figures, category, band, SCOPE, excluded_cohort=target["cohort"])
                rows.append(_row(target, others, category, band, thresholds))
    return rows


def _row(target: dict[str, Any], others: list[dict[str, Any]], category: str, band: str,
         thresholds: dict[str, float]) -> dict[str, Any]:
    x, n = target["numerator"], target["denominator"]
    row: dict[str, Any] = {
        "cohort": target["cohort"], "short_name": target["short_name"], "category": category,
        "grade_band": band, "x": x, "n": n, "rate": x / n, "k": 0, "method": None, "weak": None,
        "median": None, "marginal_mean": None, "p_upper": None, "p_lower": None, "p_fixed": None,
        "flag": None, "note": "",
    }
    if not others:
        row["note"] = "no other cohort reports this cell"
        return row
    pooled = stats.pool([f["numerator"] for f in others], [f["denominator"] for f in others],
                        min_cohorts=int(thresholds["MIN_COHORTS"]), min_events=int(thresholds["MIN_EVENTS"]))
    p_upper = stats.predictive_tail(x, n, pooled, upper=True)
    p_lower = stats.predictive_tail(x, n, pooled, upper=False)
    p_fixed = stats.fixed_tail(x, n, pooled.marginal_mean, upper=True)
    row.update(k=pooled.k, method=pooled.method, weak=pooled.weak, median=pooled.median,
               marginal_mean=pooled.marginal_mean, p_upper=p_upper, p_lower=p_lower, p_fixed=p_fixed,
               flag=(flag_level(p_upper, p_lower, p_fixed, pooled.marginal_mean, thresholds) or (None,))[0],
               note=pooled.reason if pooled.weak else "")
    return row
