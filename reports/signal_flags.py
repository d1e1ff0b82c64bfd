"""Network flags and CUSUM signals of a run as flags the safety officer reviews (issue 17; docs/network-and-trends.md,
"Flags of the network and the CUSUM").

Pure Python (no Django): :func:`reports.benchmark.compute` calls these on the run's own results and inputs, so a
stored run recomputes exactly.

* **CUSUM** (:func:`cusum_flags`): one flag per all-cycles cell whose risk-adjusted Bernoulli CUSUM
  (``results["monitoring"]["cusum"]``, :mod:`reports.trends`) reached its threshold h at any patient: level
  "SIGNAL", direction "above", no p-value (a sequential test has none; its in-control ARL is stated instead).
* **Network** (:func:`network_comparisons`): the run's job records in ``inputs["network"]`` the counts of the other
  wards' cells from their latest finished runs at that moment (anonymous: counts and definitions only, no ward
  names or ids) and each cell of this ward with patients is compared with the wards with the same definitions
  (:func:`comparison_key`) in the funnel of :mod:`reports.funnel` (Spiegelhalter 2005). A comparison needs
  ``MIN_WARDS_SHOWN`` wards with patients; flags need what :func:`reports.funnel.funnel` needs (5 wards with ≥ 3
  patients). A ward outside the 99.8 % limit is "ALARM", outside the 95 % one "ALERT", above or below. Its
  p-value is one-sided, on the scale the limits use: the exact binomial tail P(X ≥ x) (above) or P(X ≤ x) (below)
  under Binomial(n, θ0) when τ² = 0, the normal tail of (y − θ0)/√(θ0(1−θ0)/n + τ²) when τ² > 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scipy import stats

from core.i18n_marker import gettext_noop
from reports import funnel
from reports.category_names import translated_name
from reports.cells import CYCLE_SCOPES, GRADE_BAND_LABELS

#: A comparison is made when at least this many wards (this one included) have patients in it.
MIN_WARDS_SHOWN = 3
OWN_LABEL = "this ward"

ComparisonKey = tuple[str, str, str, str, str]


def comparison_key(cell: Mapping[str, Any]) -> ComparisonKey:
    """Cells of two wards are compared only when this key is equal (same definitions): category, grade band, cycle
    scope, grading-scale family and attribution."""
    d = cell.get("definitions") or {}
    return (str(cell["category"]), str(cell["grade_band"]), str(cell["cycle_scope"]), str(d.get("scale_family")),
            str(d.get("attribution")))


def _label(cell: Mapping[str, Any], translate: Callable[[str], str] = str) -> str:
    name = translated_name(str(cell.get("category_name") or cell["category"]), translate)
    return name if name[1:2].isupper() else name[:1].lower() + name[1:]  # keep acronyms such as CRS


#: The text of a CUSUM flag's message, in English as stored with the flag (``Flag.message``) and marked for
#: translation: the report shows it in the reader's language, rebuilt from the run's chart (``reports.flag_text``).
CUSUM_TEXT = gettext_noop(
    "%(x)s of %(n)s patients had %(band)s %(label)s (%(scope)s). The risk-adjusted CUSUM over the ward's patients "
    "in order of treatment reached its threshold h = %(h)s at patient %(at)s: the events came faster than the "
    "published benchmark's expected rate for these patients (testing a doubling of the odds; in-control average "
    "run length %(arl0)s patients). Possible safety signal: review these patients' events.")


def cusum_message(chart: Mapping[str, Any], translate: Callable[[str], str] = str) -> str:
    """The message of a CUSUM flag on ``chart`` (a ``results["monitoring"]["cusum"]`` entry that signalled):
    English by default (what the flag stores); ``translate`` (``gettext``) gives the reader's language. Raises
    KeyError/TypeError for a chart without the keys used."""
    n, x = len(chart["outcomes"]), sum(1 for y in chart["outcomes"] if y)
    return translate(CUSUM_TEXT) % {
        "x": x, "n": n, "band": translate(GRADE_BAND_LABELS[chart["grade_band"]]), "label": _label(chart, translate),
        "scope": translate(CYCLE_SCOPES["all"]), "h": f"{chart['h']:.2f}",
        "at": ", ".join(str(i) for i in chart["signals"]), "arl0": f"{chart['arl0']:g}"}


#: The text of a network flag's message (as ``CUSUM_TEXT``): "what" is the literature flag's opening
#: (``reports.benchmark.FLAG_TEXTS["what"]``, the same catalogue entry), then the funnel's limits and the verdict.
NETWORK_TEXTS = {
    "what": gettext_noop("%(x)s of %(n)s patients had %(band)s %(label)s (%(scope)s)"),
    "message": gettext_noop("%(what)s; the network's %(wards)s wards with the same definitions (this one included) "
                            "had %(theta0)s overall, and a ward of %(n)s lies between %(low)s and %(high)s in "
                            "%(coverage)s of 100 cases (%(method)s limits, τ² %(tau2)s). %(verdict)s"),
    "above": gettext_noop("Possible safety signal: review these events."),
    "below": gettext_noop("Possible under-reporting: check that these events are being recorded."),
}


def network_message(comparison: Mapping[str, Any], cell: Mapping[str, Any],
                    translate: Callable[[str], str] = str) -> str:
    """The message of a network flag from its ``comparison`` (a ``results["network"]`` entry with a level) and the
    ward's ``cell`` (for the category's name): English by default (what the flag stores); ``translate``
    (``gettext``) gives the reader's language. Raises KeyError/TypeError for entries without the keys used."""
    x, n, level = comparison["x"], comparison["n"], comparison["level"]
    low, high = comparison["limits"]["0.998" if level == "ALARM" else "0.95"]
    what = translate(NETWORK_TEXTS["what"]) % {
        "x": x, "n": n, "band": translate(GRADE_BAND_LABELS[comparison["grade_band"]]),
        "label": _label(cell, translate), "scope": translate(CYCLE_SCOPES[comparison["cycle_scope"]])}
    return translate(NETWORK_TEXTS["message"]) % {
        "what": what, "wards": comparison["wards"], "theta0": f"{comparison['theta0']:.0%}", "n": n,
        "low": f"{low:.0%}", "high": f"{high:.0%}", "coverage": "99.8" if level == "ALARM" else "95",
        "method": comparison["method"], "tau2": f"{comparison['tau2']:.3g}",
        "verdict": translate(NETWORK_TEXTS["above" if comparison["direction"] == "above" else "below"])}


def cusum_flags(monitoring: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The flags of ``results["monitoring"]`` (:func:`reports.trends.compute_monitoring`): one per chart that
    signalled. Shape of each: {"kind": "cusum", "category", "grade_band", "cycle_scope": "all", "level": "SIGNAL",
    "direction": "above", "p_value": None, "message"}."""
    out: list[dict[str, Any]] = []
    for chart in (monitoring or {}).get("cusum", []):
        if not chart.get("signals"):
            continue
        message = cusum_message(chart)
        out.append({"kind": "cusum", "category": chart["category"], "grade_band": chart["grade_band"],
                    "cycle_scope": "all", "level": "SIGNAL", "direction": "above", "p_value": None,
                    "message": message})
    return out


def _p_value(x: int, n: int, theta0: float, tau2: float, direction: str) -> float:
    if tau2 > 0:
        z = (x / n - theta0) / math.sqrt(theta0 * (1 - theta0) / n + tau2)
        return float(stats.norm.sf(z) if direction == "above" else stats.norm.cdf(z))
    if direction == "above":
        return float(stats.binom.sf(x - 1, n, theta0))
    return float(stats.binom.cdf(x, n, theta0))


def network_comparisons(cells: Sequence[Mapping[str, Any]], network: Mapping[str, Any] | None
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(comparisons, flags) of this ward's ``cells`` against ``network`` (``inputs["network"]``: {"groups": [{"key":
    [category, band, scope, scale family, attribution], "others": [[x, n], ...]}], "as_of": ISO time}).

    Each comparison: {"category", "grade_band", "cycle_scope", "wards" (this one included), "x", "n", "theta0",
    "tau2", "phi", "method", "limits" ({"0.95": [lo, hi], "0.998": [lo, hi]} at this ward's n, proportions), "z",
    "level", "direction", "p_value", "flags_given", "note"}. Each flag: {"kind": "network", "category",
    "grade_band", "cycle_scope", "level": "ALARM" | "ALERT", "direction", "p_value", "message"}. Raises ValueError
    for counts that are not 0 ≤ x ≤ n integers."""
    if not network:
        return [], []
    others = {tuple(g["key"]): [(int(x), int(n)) for x, n in g["others"]] for g in network.get("groups", [])}
    comparisons: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    for cell in cells:
        x, n = int(cell["ward"]["x"]), int(cell["ward"]["n"])
        rest = [(ox, on) for ox, on in others.get(comparison_key(cell), []) if on > 0]
        if not n or len(rest) + 1 < MIN_WARDS_SHOWN:
            continue
        units = [funnel.Unit(OWN_LABEL, x, n)] + [funnel.Unit(f"other ward {i}", ox, on)
                                                   for i, (ox, on) in enumerate(rest, start=1)]
        result = funnel.funnel(units)
        own = result.units[0]
        p_value = (_p_value(x, n, result.theta0, result.tau2, own.direction)
                   if own.level and own.direction else None)
        comparisons.append({
            "category": cell["category"], "grade_band": cell["grade_band"], "cycle_scope": cell["cycle_scope"],
            "wards": len(units), "x": x, "n": n, "theta0": result.theta0, "tau2": result.tau2, "phi": result.phi,
            "method": result.method, "limits": {k: list(v) for k, v in own.limits.items()}, "z": own.z,
            "level": own.level, "direction": own.direction, "p_value": p_value, "flags_given": result.flags_given,
            "note": result.note})
        if own.level is None or own.direction is None:
            continue
        message = network_message(comparisons[-1], cell)
        flags.append({"kind": "network", "category": cell["category"], "grade_band": cell["grade_band"],
                      "cycle_scope": cell["cycle_scope"], "level": own.level, "direction": own.direction,
                      "p_value": p_value, "message": message})
    return comparisons, flags


def find(items: Sequence[Mapping[str, Any]] | None, category: str, band: str,
         scope: str | None = None) -> Mapping[str, Any] | None:
    """The entry of ``items`` (CUSUM charts or network comparisons) for this cell, or None."""
    for item in items or []:
        if item["category"] == category and item["grade_band"] == band and (
                scope is None or item.get("cycle_scope", "all") == scope):
            return item
    return None

