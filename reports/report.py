"""Presenting a stored benchmark run (text for the command line; the HTML report uses the same cells)."""

from __future__ import annotations

from django.utils import translation

from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS
from reports.cells import flag_label
from reports.definitions_text import ward_term_words
from reports.models import BenchmarkRun


def benchmark_text(cell: dict) -> str:
    """The cell's benchmark in one plain line: median and mean, what it was adjusted for (meta-regression, with the
    between-cohort variance before and after), or why there is none (issue 17 items 1, 2, 5)."""
    pooled = cell.get("pooled")
    if not pooled:
        return cell.get("note") or "no comparable published figure"
    if pooled.get("unusable"):
        return pooled["unusable"]
    text = (f"published benchmark: median {pct(pooled['median'])}, mean {pct(pooled['marginal_mean'])}, "
            f"95% predictive interval {interval(pooled['pi'])}, {pooled['k']} cohorts")
    reg = cell.get("meta_regression") or {}
    if reg.get("chosen"):
        exploratory = ", exploratory" if reg.get("exploratory") else ""
        text += (f"; at the ward's case mix, adjusted for {', '.join(reg['chosen_labels'])} (between-cohort τ² "
                 f"{reg['tau2_before']:.2f} → {reg['tau2_after']:.2f}{exploratory})")
    return text


def pct(value: float | None) -> str:
    """A proportion as a percentage with one decimal, '–' if missing."""
    return "–" if value is None else f"{100 * value:.1f}%"


def interval(bounds: list[float] | None) -> str:
    """A proportion interval as 'a–b%'."""
    return "–" if not bounds else f"{100 * bounds[0]:.1f}–{100 * bounds[1]:.1f}%"


def matched_text(cell: dict) -> str:
    """What a cell compared like with like (scale family, attribution, terms; for CRS premedication and regimen),
    and which cohorts it set aside and why (one line)."""
    d = cell["definitions"]
    with translation.override("en-gb"):  # the exports are in English, whoever downloads them
        terms = ", ".join(map(ward_term_words, d["terms"])) or "none"
    left_out = f" (left out: {', '.join(d['terms_left_out'])})" if d["terms_left_out"] else ""
    aside = "; ".join(f"{e['short_name']}: {e['reason']}" for e in cell["excluded"]) or "none"
    treatment = "".join(f", {what} {d[key]}" for what, key in (("premedication", "premedication_label"),
                                                                  ("regimen", "regimen_label")) if d.get(key))
    return (f"matched: {d['scale_family_label']} scale family, {d['attribution_label']}, ward terms {terms}"
            f"{left_out}{treatment}. Set aside: {aside}.")


def format_run_text(run: BenchmarkRun) -> str:
    """Plain-text report of a finished run: one line per benchmark cell, then the flags."""
    results = run.results or {}
    inputs = run.inputs or {}
    lines = [f"Benchmark run {run.pk} of {run.site.slug} ({run.method_version}), "
             f"finished {run.finished_at:%Y-%m-%d %H:%M}",
             f"Ward: {inputs['denominators']['all']} patients treated, "
             f"{inputs['denominators']['first']} with a cycle 1. Comparisons: {results.get('n_comparisons')}.",
             "",
             f"{'category':<28}{'band':<11}{'scope':<12}{'ward':>18}  {'95% CI':>13}  {'benchmark':>9}  "
             f"{'95% PI':>13}  k  method"]
    for c in results.get("cells", []):
        ward = c["ward"]
        pooled = c["pooled"]
        ward_txt = f"{ward['x']}/{ward['n']} {pct(ward['rate'])}"
        bench = (f"{pct(pooled['median']):>9}  {interval(pooled['pi']):>13}  {pooled['k']}  "
                 f"{'weak: ' if pooled['weak'] else ''}{pooled['method']}") if pooled and not pooled.get("unusable") \
            else (pooled["unusable"] if pooled else c.get("note") or "no comparable cohort")
        lines.append(f"{c['category_name'][:27]:<28}{GRADE_BAND_LABELS[c['grade_band']]:<11}"
                     f"{CYCLE_SCOPES[c['cycle_scope']]:<12}{ward_txt:>18}  {interval(ward['ci']):>13}  {bench}")
        if c.get("definitions") and (c["cohorts"] or c["excluded"]):
            lines.append("    " + matched_text(c))
    lines.append("")
    flags = results.get("flags", [])
    lines.append(f"Flags: {len(flags)}")
    for f in flags:
        lines.append(f"  [{flag_label(f['level'], f.get('kind'))}] {f['message']}")
    return "\n".join(lines)
