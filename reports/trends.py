"""A ward over time and per unit of exposure, from a run's inputs: CUSUM per category, exposure-adjusted rates and
the entry-lag indicator. Pure (no Django): ``reports.trend_inputs`` gathers the ward data into the run's inputs
("monitoring"), and :func:`compute_monitoring` turns it into the run's results["monitoring"], so a stored run
recomputes exactly. Methods: :mod:`reports.cusum`, :mod:`reports.exposure`, :mod:`reports.entry_lag`;
docs/network-and-trends.md.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from core.i18n_marker import gettext_noop
from reports import cusum, entry_lag, exposure

#: Expected probabilities are kept inside (P_FLOOR, 1 − P_FLOOR) for the chart (a benchmark of exactly 0 or 1 has no
#: CUSUM: a cell whose benchmark is outside this range is skipped with a note).
P_FLOOR = 1e-3
#: A CUSUM chart's note and the demo ward's entry-lag message, stored in English (the report translates them,
#: ``reports.computed_text``).
TRENDS_TEXTS = {
    "no_patients": gettext_noop("no treated patient yet"),
    "degenerate": gettext_noop("the benchmark rate is 0 or 1: no chart"),
    "signal": gettext_noop("signalled at patient %(patients)s: the events came faster than the benchmark's expected "
                           "rate (odds doubled, in-control ARL %(arl0)s patients)"),
    "no_signal": gettext_noop("no signal: the chart is at %(value)s of a threshold of %(h)s"),
    "demo_lag": gettext_noop("a demo ward rebuilt from a published cohort: its entry dates mean nothing"),
}


@lru_cache(maxsize=256)
def _threshold(mix: tuple[tuple[float, float], ...], arl0: float, odds_ratio: float) -> float:
    return cusum.threshold_for_arl(list(mix), arl0, odds_ratio)


def _expected_by_stratum(cell: dict[str, Any]) -> dict[str, float]:
    pooled = cell["pooled"]["marginal_mean"]
    rates = {"blasts_ge5": pooled, "blasts_lt5": pooled, "not_recorded": pooled}
    for row in (cell.get("case_mix") or {}).get("strata", []):
        rates[row["stratum"]] = row["rate"]
    return rates


def cell_cusum(cell: dict[str, Any], monitoring: dict[str, Any], arl0: float = cusum.ARL0,
               odds_ratio: float = cusum.ODDS_RATIO) -> dict[str, Any] | None:
    """The CUSUM of one all-cycles cell over the ward's patients in order of their first cycle: {"category",
    "grade_band", "values", "signals", "h", "arl0", "odds_ratio", "expected", "outcomes", "flag", "note"};
    None when the cell has no pooled benchmark. ``flag`` is "CUSUM SIGNAL" when the chart is at or above h at its
    last patient or signalled at any patient (with the patient numbers, 1-based, in ``signals``)."""
    if cell["cycle_scope"] != "all" or not cell.get("pooled"):
        return None
    patients = monitoring["patients"]
    key = f"{cell['category']}|{cell['grade_band']}"
    with_event = set(monitoring["outcomes"].get(key, []))
    out: dict[str, Any] = {"category": cell["category"], "category_name": cell["category_name"],
                           "grade_band": cell["grade_band"], "arl0": arl0, "odds_ratio": odds_ratio,
                           "values": [], "signals": [], "h": None, "expected": [], "outcomes": [], "flag": None,
                           "note": ""}
    if not patients:
        out["note"] = TRENDS_TEXTS["no_patients"]
        return out
    rates = _expected_by_stratum(cell)
    if not all(P_FLOOR < r < 1 - P_FLOOR for r in rates.values()):
        out["note"] = TRENDS_TEXTS["degenerate"]
        return out
    expected = [rates[p["stratum"]] for p in patients]
    outcomes = [i in with_event for i in range(len(patients))]
    counts: dict[float, int] = {}
    for p in expected:
        counts[round(p, 4)] = counts.get(round(p, 4), 0) + 1
    h = _threshold(tuple(sorted(counts.items())), arl0, odds_ratio)
    chart = cusum.path(outcomes, expected, h, odds_ratio)
    out.update(values=chart.values, signals=[i + 1 for i in chart.signals], h=h, expected=expected,
               outcomes=outcomes)
    if chart.signals:
        out["flag"] = "CUSUM SIGNAL"
        out["note"] = TRENDS_TEXTS["signal"] % {"patients": ", ".join(str(i + 1) for i in chart.signals),
                                                "arl0": f"{arl0:g}"}
    else:
        out["note"] = TRENDS_TEXTS["no_signal"] % {"value": f"{chart.values[-1]:.2f}", "h": f"{h:.2f}"}
    return out


def cell_exposure(cell: dict[str, Any], monitoring: dict[str, Any]) -> dict[str, Any] | None:
    """Per-patient incidence beside events per patient-cycle and per 100 patient-days of infusion, for an all-cycles
    cell: {"category", "grade_band", "patients": x/n, "events", "cycles", "days", "per_cycle", "per_cycle_ci",
    "per_100_days", "per_100_days_ci"}."""
    if cell["cycle_scope"] != "all":
        return None
    key = f"{cell['category']}|{cell['grade_band']}"
    patients = monitoring["patients"]
    rates = exposure.exposure_rates(int(monitoring["events"].get(key, 0)), sum(p["cycles"] for p in patients),
                                    float(sum(p["infusion_days"] for p in patients)))
    return {"category": cell["category"], "category_name": cell["category_name"], "grade_band": cell["grade_band"],
            "x": cell["ward"]["x"], "n": cell["ward"]["n"], "rate": cell["ward"]["rate"], "events": rates.events,
            "cycles": rates.cycles, "days": rates.days, "per_cycle": rates.per_cycle,
            "per_cycle_ci": list(rates.per_cycle_ci) if rates.per_cycle_ci else None,
            "per_100_days": rates.per_100_days,
            "per_100_days_ci": list(rates.per_100_days_ci) if rates.per_100_days_ci else None}


def compute_monitoring(monitoring: dict[str, Any] | None, cells: list[dict[str, Any]]) -> dict[str, Any] | None:
    """results["monitoring"] of a run: {"cusum": [...], "exposure": [...], "entry_lag": {...}}; None for inputs
    stored before this existed."""
    if not monitoring:
        return None
    charts = [c for c in (cell_cusum(cell, monitoring) for cell in cells) if c is not None]
    rates = [r for r in (cell_exposure(cell, monitoring) for cell in cells) if r is not None]
    lag: dict[str, Any]
    if monitoring.get("demo"):
        lag = {"n": 0, "median": None, "p90": None, "late_share": None, "flag": None,
               "message": TRENDS_TEXTS["demo_lag"]}
    else:
        summary = entry_lag.entry_lag(monitoring["lags"])
        lag = {"n": summary.n, "median": summary.median, "p90": summary.p90, "late_share": summary.late_share,
               "flag": summary.flag, "message": summary.message,
               "median_days": entry_lag.MEDIAN_DAYS, "p90_days": entry_lag.P90_DAYS}
    return {"cusum": charts, "exposure": rates, "entry_lag": lag}
