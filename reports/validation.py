"""Leave-one-cohort-out validation of the benchmark (pure: no database access).

Each published cohort with a whole-cohort patient figure (unit patients, stated x/n, stratum all,
cycle scope all) in a benchmark category and grade band (any, ge3) is benchmarked as if it were a
ward against the OTHER cohorts (those of the other stated attribution, related-only vs all-cause, set aside), with
exactly the selection (``reports.benchmark.select_figures``),
pooling (``reports.stats.pool``, GLMM or weak common-effect fallback) and tail probabilities
(``reports.stats.predictive_tail`` / ``fixed_tail``) the ward benchmark uses, and the flag levels of
``reports.benchmark._flag`` (docs/methods.md §3.5 step 4). A benchmark that flags many published
cohorts is telling us the between-cohort spread (or the curation) deserves a look.
"""

from __future__ import annotations

from typing import Any

from reports import stats
from reports.benchmark import GRADE_BANDS, flag_level, match_attribution, select_figures

SCOPE = "all"


def leave_one_out(figures: list[dict[str, Any]], thresholds: dict[str, float],
                  bands: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Benchmark every eligible cohort against the others; one row per (category, band, cohort).

    ``figures``: the shape of ``reports.benchmark.collect_inputs()["figures"]`` (keys cohort,
    short_name, category, grade_band, cycle_scope, unit, numerator, denominator, stratum, ...).
    ``thresholds``: ``settings.PVTRACK_BENCHMARK`` (ALARM_P, ALERT_P, WATCH_P, LOW_P, MIN_COHORTS,
    MIN_EVENTS). ``bands``: {category: grade bands it shows} (a category not listed shows any and ge3; e.g.
    hepatotoxicity and febrile neutropenia show ge3 only). Rows, ordered by category (first appearance), band
    (any, ge3), then cohort:
    {"cohort", "short_name", "category", "grade_band", "x", "n", "rate", "k", "method", "weak",
    "median", "marginal_mean", "p_upper", "p_lower", "p_fixed", "flag", "note"}; when no other
    cohort reports the cell, the pooled and tail fields are None and ``note`` says why.
    """
    categories = list(dict.fromkeys(f["category"] for f in figures))
    rows: list[dict[str, Any]] = []
    for category in categories:
        for band in (bands or {}).get(category, list(GRADE_BANDS)):
            targets, _ = select_figures(figures, category, band, SCOPE, excluded_cohort="")
            for target in sorted(targets, key=lambda f: f["cohort"]):
                others, _ = select_figures(figures, category, band, SCOPE, excluded_cohort=target["cohort"])
                if target.get("attribution") in ("related", "all_cause"):  # like with like on attribution
                    _, others, _ = match_attribution(others, target["attribution"])
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
    if pooled.unusable:  # docs/methods.md §4.1: shown, never compared with
        row.update(k=pooled.k, method=pooled.method, weak=False, median=pooled.median,
                   marginal_mean=pooled.marginal_mean, note=pooled.unusable)
        return row
    p_upper = stats.predictive_tail(x, n, pooled, upper=True)
    p_lower = stats.predictive_tail(x, n, pooled, upper=False)
    p_fixed = stats.fixed_tail(x, n, pooled.marginal_mean, upper=True)
    row.update(k=pooled.k, method=pooled.method, weak=pooled.weak, median=pooled.median,
               marginal_mean=pooled.marginal_mean, p_upper=p_upper, p_lower=p_lower, p_fixed=p_fixed,
               flag=(flag_level(p_upper, p_lower, p_fixed, pooled.marginal_mean, thresholds) or (None,))[0],
               note=pooled.reason if pooled.weak else "")
    return row


def operating_characteristics(pooled: stats.Pooled, thresholds: dict[str, float],
                              sizes: tuple[int, ...] = (10, 20, 40), multiplier: float = 2.0) -> list[dict[str, Any]]:
    """Exact single-look operating characteristics of the default flag rule against ``pooled``.

    For a ward of n patients (each of ``sizes``) whose true rate is p, X ~ Bin(n, p); the rule flags x
    with ``flag_level`` (ALARM/ALERT: predictive upper tail < ALERT_P; WATCH: fixed tail < WATCH_P).
    Rows {"n", "p0", "p1", "alert_at", "watch_at", "false_alert", "false_any", "power_alert", "power_any"}:
    p0 = the benchmark marginal mean, p1 = ``multiplier`` * p0 (capped at 1); ``alert_at`` / ``watch_at``
    = the smallest x raising ALERT (or ALARM) / any upward flag (None if none); ``false_*`` =
    P(flag | p0), ``power_*`` = P(flag | p1) for ALERT-or-ALARM only and for any upward flag (incl. WATCH).
    source: docs/methods.md §3.5 (rule), §3.4 (operating characteristics by exact enumeration).
    """
    from scipy import stats as sps

    p0 = pooled.marginal_mean
    p1 = min(1.0, multiplier * p0)
    rows = []
    for n in sizes:
        alert, anyup = [], []
        for x in range(n + 1):
            level = flag_level(stats.predictive_tail(x, n, pooled, upper=True),
                               stats.predictive_tail(x, n, pooled, upper=False),
                               stats.fixed_tail(x, n, p0, upper=True), p0, thresholds)
            alert.append(level is not None and level[0] in ("ALARM", "ALERT"))
            anyup.append(level is not None and level[1] == "above")
        pmf0, pmf1 = sps.binom.pmf(range(n + 1), n, p0), sps.binom.pmf(range(n + 1), n, p1)
        rows.append({"n": n, "p0": p0, "p1": p1,
                     "alert_at": next((x for x, f in enumerate(alert) if f), None),
                     "watch_at": next((x for x, f in enumerate(anyup) if f), None),
                     "false_alert": float(pmf0 @ alert), "false_any": float(pmf0 @ anyup),
                     "power_alert": float(pmf1 @ alert), "power_any": float(pmf1 @ anyup)})
    return rows
