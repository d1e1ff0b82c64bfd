"""Operating characteristics of every comparison the benchmark makes, one provider per approach (issue 17, Done-when).

``python manage.py validate_cohorts --operating-characteristics`` runs every registered provider on the same
``Context`` and prints their rows in one table. A provider is a function ``(Context) -> list[row]`` added with
``@register``; each approach (the literature benchmark here; the network comparison and the CUSUM elsewhere) registers
its own, in its own module, imported by ``PROVIDER_MODULES`` (or here: (b) and (c) wrap the pure functions of
``reports.monitoring_oc``). Row shape (all keys required, None where not
applicable): {"approach", "variant" ("before" | "after"), "category", "grade_band", "n", "expected" (the in-control
rate), "alternative" (the out-of-control rate, ``multiplier`` x expected), "false_alarm", "power", "false_any",
"power_any", "arl_in", "arl_out", "detail"}. Rates and probabilities are fractions; ARLs in patients.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from reports import meta_regression, monitoring_oc, stat_cache, stats
from reports.benchmark import MODERATORS, match_attribution, select_figures
from reports.validation import operating_characteristics

Row = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What every provider evaluates: the cohort ``figures`` (shape of ``benchmark.cohort_figures``), the flag
    ``thresholds`` (``settings.PVTRACK_BENCHMARK``), the ward sizes, the cells, the out-of-control multiplier and the
    case mix of the evaluated ward (its share of patients with >= 5 % marrow blasts at cycle 1)."""

    figures: list[dict[str, Any]]
    thresholds: dict[str, Any]
    sizes: tuple[int, ...] = (10, 20, 40)
    cells: tuple[tuple[str, str], ...] = (("crs", "any"), ("neurotoxicity", "any"))
    multiplier: float = 2.0
    ward_blast_share: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)


Provider = Callable[[Context], list[Row]]
PROVIDERS: list[Provider] = []
#: Modules whose import registers further providers (a missing one is skipped: the approach is not installed).
PROVIDER_MODULES: list[str] = []


def register(provider: Provider) -> Provider:
    """Add ``provider`` to the table (decorator); registering the same function twice keeps one."""
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)
    return provider


def run(ctx: Context) -> list[Row]:
    """Every provider's rows, in registration order (the literature benchmark first)."""
    for name in PROVIDER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    rows: list[Row] = []
    for provider in PROVIDERS:
        rows += provider(ctx)
    return rows


def _rows(approach: str, variant: str, category: str, band: str, pooled: stats.Pooled | None,
          thresholds: dict[str, Any], ctx: Context, detail: str) -> list[Row]:
    base = {"approach": approach, "variant": variant, "category": category, "grade_band": band, "arl_in": None,
            "arl_out": None}
    if pooled is None or pooled.unusable:
        return [base | {"n": n, "expected": pooled.marginal_mean if pooled else None,
                        "alternative": None, "false_alarm": 0.0, "power": 0.0, "false_any": 0.0, "power_any": 0.0,
                        "detail": (pooled.unusable if pooled else "no benchmark") + "; nothing can be flagged"}
                for n in ctx.sizes]
    return [base | {"n": r["n"], "expected": r["p0"], "alternative": r["p1"], "false_alarm": r["false_alert"],
                    "power": r["power_alert"], "false_any": r["false_any"], "power_any": r["power_any"],
                    "detail": detail + (f"; ALERT from {r['alert_at']} of {r['n']}" if r["alert_at"] is not None
                                        else f"; no count of {r['n']} raises ALERT")}
            for r in operating_characteristics(pooled, thresholds, ctx.sizes, ctx.multiplier)]


@register
def literature(ctx: Context) -> list[Row]:
    """(a) The literature benchmark, before (method 1.4: intercept-only GLMM over the printed figures, used whatever its
    spread) and after (1.5: with the derived figures, the meta-regression at the ward's blast share, and "no usable
    benchmark" when it still cannot fire). All comparable cohorts of the cell, all cycles, no like-with-like profile
    (as the leave-one-out table). Exact enumeration over X ~ Bin(n, p)
    (``reports.validation.operating_characteristics``);
    ALERT = ALARM or ALERT (upper predictive tail < ALERT_P), "any" adds WATCH."""
    th = ctx.thresholds
    out: list[Row] = []
    for category, band in ctx.cells:
        used, _ = select_figures(ctx.figures, category, band, "all", excluded_cohort="")
        printed = [f for f in used if not f.get("derived")]
        x0, n0 = [f["numerator"] for f in printed], [f["denominator"] for f in printed]
        before = stats.pool(x0, n0, min_cohorts=int(th["MIN_COHORTS"]), min_events=int(th["MIN_EVENTS"]))
        out += _rows("(a) literature", "before", category, band, replace(before, unusable=""), th, ctx,
                     f"{before.method} over {before.k} cohorts, tau2 {before.tau2:.2f}")
        x, n = [f["numerator"] for f in used], [f["denominator"] for f in used]
        after = stats.pool(x, n, min_cohorts=int(th["MIN_COHORTS"]), min_events=int(th["MIN_EVENTS"]))
        detail = f"{after.method} over {after.k} cohorts, tau2 {after.tau2:.2f}"
        if after.method == "glmm_ml" and len(used) >= meta_regression.MIN_REPORTING:
            reg = meta_regression.choose(x, n, {"blast_share": [f.get("blast_share") for f in used]},
                                         {"blast_share": ctx.ward_blast_share})
            if reg.pooled is not None:
                after = reg.pooled
                detail = (f"meta-regression on {', '.join(MODERATORS[m] for m in reg.chosen)} = "
                          f"{ctx.ward_blast_share:.0%} over {len(reg.rows)} of {reg.k} cohorts, tau2 "
                          f"{reg.tau2_before:.2f} -> {reg.tau2_after:.2f}"
                          + (", exploratory" if reg.exploratory else ""))
            else:
                detail += "; no moderator kept (" + "; ".join(f"{m}: {w}" for m, w in reg.considered.items()) + ")"
        out += _rows("(a) literature", "after", category, band, after, th, ctx, detail)
    return out


def expected_rate(figures: list[dict[str, Any]], thresholds: dict[str, Any], category: str,
                  band: str = "any") -> float | None:
    """The literature benchmark's marginal mean of the cell (all cohorts matched for attribution, all cycles, no
    ward profile): the in-control rate p0 the network comparison and the CUSUM are evaluated at (also by
    ``manage.py monitoring_oc``); None when the fit is "no usable benchmark"."""
    used, _ = select_figures(figures, category, band, "all", excluded_cohort="")
    _, used, _ = match_attribution(used)
    th = thresholds
    pooled = stat_cache.pool([f["numerator"] for f in used], [f["denominator"] for f in used],
                             min_cohorts=int(th["MIN_COHORTS"]), min_events=int(th["MIN_EVENTS"]))
    return None if pooled.unusable else pooled.marginal_mean


@register
def network(ctx: Context) -> list[Row]:
    """(b) The ward against 10 simulated wards of the same size (Spiegelhalter 2005 funnel with additive random
    effects; ``reports.monitoring_oc.network_operating_characteristics``): flagged ABOVE at ALERT (95 %) / any level."""
    out: list[Row] = []
    for category, band in ctx.cells:
        p0 = expected_rate(ctx.figures, ctx.thresholds, category, band)
        if p0 is None:
            continue
        for r in monitoring_oc.network_operating_characteristics({category: p0}, ctx.sizes):
            out.append({"approach": "(b) network", "variant": "after", "category": category, "grade_band": band,
                        "n": r["n"], "expected": p0, "alternative": min(1.0, ctx.multiplier * p0),
                        "false_alarm": r["false_alarm_alert"], "power": r["power_alert"], "false_any": None,
                        "power_any": None, "arl_in": None, "arl_out": None,
                        "detail": f"{r['wards']} wards, {r['replications']} simulated networks; ALARM (99.8 %) "
                                  f"false {r['false_alarm_alarm']:.3f}, power {r['power_alarm'] or 0:.3f}"})
    return out


@register
def cusum(ctx: Context) -> list[Row]:
    """(c) The risk-adjusted Bernoulli CUSUM (Steiner et al. 2000; in-control ARL 200 patients, designed for odds
    ratio 2; ``reports.monitoring_oc.cusum_operating_characteristics``): a signal within the ward's first n patients
    at p0 (false alarm) and at 2·p0 (power); ARLs in patients."""
    out: list[Row] = []
    for category, band in ctx.cells:
        p0 = expected_rate(ctx.figures, ctx.thresholds, category, band)
        if p0 is None:
            continue
        for r in monitoring_oc.cusum_operating_characteristics({category: p0}, ctx.sizes):
            out.append({"approach": "(c) CUSUM", "variant": "after", "category": category, "grade_band": band,
                        "n": r["n"], "expected": p0, "alternative": min(1.0, ctx.multiplier * p0),
                        "false_alarm": r["false_alarm"], "power": r["power"], "false_any": None, "power_any": None,
                        "arl_in": r["arl_in_control"], "arl_out": r["arl_at_twice"],
                        "detail": f"threshold h = {r['h']:.2f}"})
    return out
