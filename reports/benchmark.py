"""Benchmark a ward's AE incidence against the published cohorts.

Two steps, so that every stored run can be recomputed exactly:

* ``collect_inputs(site)`` reads the database (ward counts aggregated in SQL, comparable cohort
  figures, thresholds) into a plain JSON-able dict;
* ``compute(inputs)`` is a pure function of that dict and returns the results (ward rate with exact
  CI, pooled reference, predictive tail probabilities, flags with plain-language reasons).

Counting rule (ward and, as curated, cohorts): a patient counts once per category and grade band if
they had at least one treatment-emergent event (not present before the cycle) of a term of the
category with grade in the band; denominators are patients with at least one cycle (all cycles) or
with a cycle 1 (first cycle). Methods: statistics.md §1.7 (binomial–normal GLMM, fallback to the
common-effect pooled count when fewer than 3 cohorts or 3 events) and §3.5 (flags on the exact
predictive tail).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from ae.models import AdverseEvent
from patients.models import HIGH_BURDEN_BLASTS_PCT, Patient, Site
from reports import stats
from reports.models import BenchmarkCategory, CohortFigure

METHOD_VERSION = "pvtrack-benchmark/1.0 glmm-ml+predictive-tail"
GRADE_BANDS = {"any": 1, "ge3": 3}
GRADE_BAND_LABELS = {"any": "any grade", "ge3": "grade ≥3"}
CYCLE_SCOPES = {"all": "all cycles", "first": "cycle 1"}
OWN_COHORT = "the ward itself is built from this cohort"


def collect_inputs(site: Site) -> dict[str, Any]:
    """Gather everything ``compute`` needs for ``site``, as JSON-able data (4 queries).

    Shape: {"site", "thresholds", "denominators": {"all": n, "first": n}, "strata": {...},
    "categories": [{"slug", "name", "terms"}], "ward": {"<cat>|<band>|<scope>": x},
    "figures": [{"id", "cohort", "short_name", "category", "grade_band", "cycle_scope", "unit",
    "numerator", "denominator", "scale", "schedule", "population", "stratum"}], "excluded_cohort"}.
    """
    categories = list(BenchmarkCategory.objects.prefetch_related("terms"))
    treated = Patient.objects.filter(site=site, cycles__isnull=False).distinct()
    denominators = treated.aggregate(
        all=Count("id", distinct=True),
        first=Count("id", distinct=True, filter=Q(cycles__number=1)),
        blasts_ge5=Count("id", distinct=True,
                         filter=Q(cycles__number=1, cycles__marrow_blasts_pct__gte=HIGH_BURDEN_BLASTS_PCT)),
        blasts_lt5=Count("id", distinct=True,
                         filter=Q(cycles__number=1, cycles__marrow_blasts_pct__lt=HIGH_BURDEN_BLASTS_PCT)),
    )
    counts = {}
    for cat in categories:
        term_ids = [t.id for t in cat.terms.all()]
        for band, min_grade in GRADE_BANDS.items():
            cell = Q(term_id__in=term_ids, grade__gte=min_grade)
            counts[f"{cat.slug}|{band}|all"] = Count("patient", distinct=True, filter=cell)
            counts[f"{cat.slug}|{band}|first"] = Count("patient", distinct=True, filter=cell & Q(cycle__number=1))
    ward = AdverseEvent.objects.filter(patient__site=site, present_before_cycle=False).aggregate(**counts)

    slugs = [c.slug for c in categories]
    figures = [
        {"id": f.id, "cohort": f.cohort.slug, "short_name": f.cohort.short_name, "category": f.category,
         "grade_band": f.grade_band, "cycle_scope": f.cycle_scope, "unit": f.unit, "numerator": f.numerator,
         "denominator": f.denominator, "percent_printed": f.percent_printed, "stratum": f.stratum,
         "scale": f.scale, "schedule": f.cohort.schedule, "population": f.cohort.population}
        for f in CohortFigure.objects.filter(category__in=slugs, grade_band__in=list(GRADE_BANDS))
        .select_related("cohort").order_by("cohort__slug", "id")
    ]
    return {
        "site": site.slug,
        "method_version": METHOD_VERSION,
        "thresholds": dict(settings.PVTRACK_BENCHMARK),
        "denominators": {"all": denominators["all"], "first": denominators["first"]},
        "strata": {"blasts_ge5": denominators["blasts_ge5"], "blasts_lt5": denominators["blasts_lt5"]},
        "categories": [{"slug": c.slug, "name": c.name, "terms": sorted(t.term for t in c.terms.all())}
                       for c in categories],
        "ward": ward,
        "figures": figures,
        "excluded_cohort": site.demo_of_cohort,
    }


def select_figures(figures: list[dict[str, Any]], category: str, band: str, scope: str,
                   excluded_cohort: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Split the cohort figures of one benchmark cell into (used, excluded-with-reason).

    Used: unit patients, stated numerator and denominator, whole cohort (stratum all), same cycle
    scope, at most one figure per cohort, and not the ward's own source cohort.
    """
    used: list[dict[str, Any]] = []
    excluded: list[dict[str, str]] = []
    for f in figures:
        if f["category"] != category or f["grade_band"] != band:
            continue
        reason = None
        if f["cohort"] == excluded_cohort:
            reason = OWN_COHORT
        elif f["unit"] != "patients":
            reason = f"counts {f['unit']}, not patients"
        elif f["numerator"] is None or f["denominator"] is None:
            reason = "percentage without a stated denominator"
        elif f["stratum"] != "all":
            reason = f"reported for a blast stratum only ({f['stratum']})"
        elif f["cycle_scope"] != scope:
            reason = f"reported for {f['cycle_scope'].replace('_', ' ')}, not {CYCLE_SCOPES[scope]}"
        elif any(u["cohort"] == f["cohort"] for u in used):
            reason = "another figure of this cohort is already used for this cell"
        if reason:
            excluded.append({"cohort": f["cohort"], "short_name": f["short_name"], "reason": reason})
        else:
            used.append(f)
    return used, excluded


def compute(inputs: dict[str, Any]) -> dict[str, Any]:
    """Compute every benchmark cell from ``collect_inputs`` output; pure and deterministic.

    Returns {"method_version", "cells": [cell, ...], "n_comparisons", "flags": [flag, ...]} where each
    cell holds the ward's x/n, rate and Clopper–Pearson 95% CI, the cohorts used and excluded, the pooled
    reference (GLMM or labelled weak fallback), the upper/lower predictive tails, the 95% predictive range
    for a ward of this size, and its flag (or None).
    """
    thresholds = inputs["thresholds"]
    cells = []
    for cat in inputs["categories"]:
        for band in GRADE_BANDS:
            for scope in CYCLE_SCOPES:
                cells.append(_cell(inputs, cat, band, scope, thresholds))
    flags = [c["flag"] | {"category": c["category"], "grade_band": c["grade_band"],
                          "cycle_scope": c["cycle_scope"]}
             for c in cells if c["flag"]]
    return {"method_version": inputs["method_version"], "cells": cells,
            "n_comparisons": sum(1 for c in cells if c["pooled"] and c["ward"]["n"]), "flags": flags}


def _cell(inputs: dict[str, Any], cat: dict[str, Any], band: str, scope: str,
          thresholds: dict[str, float]) -> dict[str, Any]:
    n = inputs["denominators"][scope]
    x = inputs["ward"][f"{cat['slug']}|{band}|{scope}"]
    used, excluded = select_figures(inputs["figures"], cat["slug"], band, scope, inputs["excluded_cohort"])
    if inputs["excluded_cohort"] and not any(e["reason"] == OWN_COHORT for e in excluded):
        # A demo ward rebuilt from a cohort has events only where that cohort reported a figure:
        # elsewhere its zero is an artefact of the source, not a ward observation to flag.
        used = []
    cell: dict[str, Any] = {
        "category": cat["slug"], "category_name": cat["name"], "grade_band": band, "cycle_scope": scope,
        "ward": {"x": x, "n": n, "rate": x / n if n else None,
                 "ci": list(stats.clopper_pearson(x, n)) if n else None},
        "cohorts": [{"cohort": f["cohort"], "short_name": f["short_name"], "x": f["numerator"],
                     "n": f["denominator"], "rate": f["numerator"] / f["denominator"], "scale": f["scale"],
                     "schedule": f["schedule"], "population": f["population"]} for f in used],
        "excluded": excluded, "pooled": None, "p_upper": None, "p_lower": None, "p_fixed": None,
        "predictive_range": None, "posterior_above": None, "flag": None,
    }
    if not used:
        cell["note"] = ("not reported by the cohort this demo ward is built from" if excluded and not cell["cohorts"]
                        and inputs["excluded_cohort"] else "no comparable published figure")
        return cell
    pooled = stats.pool([f["numerator"] for f in used], [f["denominator"] for f in used],
                        min_cohorts=int(thresholds["MIN_COHORTS"]), min_events=int(thresholds["MIN_EVENTS"]))
    cell["pooled"] = {
        "method": pooled.method, "k": pooled.k, "events": pooled.events, "total": pooled.total,
        "median": pooled.median, "marginal_mean": pooled.marginal_mean, "ci": list(pooled.ci),
        "pi": list(pooled.pi), "tau2": pooled.tau2, "i2": pooled.i2, "mu": pooled.mu, "se_mu": pooled.se_mu,
        "ci_critical": pooled.ci_critical, "pi_critical": pooled.pi_critical, "weak": pooled.weak,
        "reason": pooled.reason,
    }
    if not n:
        cell["note"] = "no ward patients in this scope"
        return cell
    p_up = stats.predictive_tail(x, n, pooled, upper=True)
    p_low = stats.predictive_tail(x, n, pooled, upper=False)
    p_fixed = stats.fixed_tail(x, n, pooled.marginal_mean, upper=True)
    lo_limit, hi_limit = _predictive_range(n, pooled, thresholds["ALERT_P"])
    cell.update(p_upper=p_up, p_lower=p_low, p_fixed=p_fixed, predictive_range=[lo_limit, hi_limit],
                posterior_above=(stats.posterior_prob_above(x, n, pooled.marginal_mean)
                                 if 0 < pooled.marginal_mean < 1 else None))
    cell["flag"] = _flag(cat["name"], band, scope, x, n, p_up, p_low, p_fixed, (lo_limit, hi_limit),
                         pooled, thresholds)
    return cell


def _predictive_range(n: int, pooled: stats.Pooled, alpha: float) -> tuple[int, int]:
    """Event counts a comparable ward of n patients shows without being flagged: (lowest, highest)."""
    high, low = stats.predictive_limits(n, pooled, alpha)
    return (0 if low is None else low + 1, n if high is None else high - 1)


def flag_level(p_upper: float, p_lower: float, p_fixed: float, pooled_mean: float,
               thresholds: dict[str, float]) -> tuple[str, str] | None:
    """Return (level, direction) of the flag for these tail probabilities, or None (statistics.md §3.5).

    ALARM if p_upper < ALARM_P, ALERT if p_upper < ALERT_P (above); CHECK_ASCERTAINMENT if p_lower < LOW_P
    (below); WATCH if p_fixed < WATCH_P (above the average published rate, inside the spread). WATCH needs a
    positive pooled mean: against a benchmark of 0 events any single event would "exceed the average".
    """
    if p_upper < thresholds["ALERT_P"]:
        return ("ALARM" if p_upper < thresholds["ALARM_P"] else "ALERT"), "above"
    if p_lower < thresholds["LOW_P"]:
        return "CHECK_ASCERTAINMENT", "below"
    if pooled_mean > 0 and p_fixed < thresholds["WATCH_P"]:
        return "WATCH", "above"
    return None


def _flag(name: str, band: str, scope: str, x: int, n: int, p_up: float, p_low: float, p_fixed: float,
          limits: tuple[int, int], pooled: stats.Pooled, th: dict[str, float]) -> dict[str, Any] | None:
    decided = flag_level(p_up, p_low, p_fixed, pooled.marginal_mean, th)
    if decided is None:
        return None
    level, direction = decided
    label = name if name[1:2].isupper() else name[:1].lower() + name[1:]  # keep acronyms such as CRS
    what = f"{x} of {n} patients had {GRADE_BAND_LABELS[band]} {label} ({CYCLE_SCOPES[scope]})"
    reference = (f"published benchmark {pooled.median:.0%} from {pooled.k} cohort{'s' if pooled.k != 1 else ''}"
                 + (", weak" if pooled.weak else ""))
    if level in ("ALARM", "ALERT"):
        message = (f"{what}; a comparable ward of {n} would see at most {limits[1]} in 95 of 100 cases "
                   f"({reference}). Possible safety signal: review these events.")
        p_value = p_up
    elif level == "CHECK_ASCERTAINMENT":
        message = (f"{what}; a comparable ward of {n} would see at least {limits[0]} in 95 of 100 cases "
                   f"({reference}). Possible under-reporting: check that these events are being recorded.")
        p_value = p_low
    else:
        message = (f"{what}; more than the average published rate ({pooled.marginal_mean:.0%}) would explain, "
                   f"but within the spread between published cohorts ({reference}). Keep watching.")
        p_value = p_fixed
    return {"level": level, "direction": direction, "p_value": p_value, "message": message}
