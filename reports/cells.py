"""Benchmark cells compared across runs: what a flag review is bound to, and what changed between two runs.

A *cell* is one comparison of a run's results (``results["cells"][i]``: category × grade band × cycle scope).
Its *values* (:func:`cell_values`) are exactly what a flag on that cell was judged on: the ward's count
(x patients with an event) and denominator (n), the pooled benchmark it was compared with (method, k,
weak, median and 95% prediction interval in percent, rounded to the 0.1 percentage point the report
shows), the flag level and direction. Its *fingerprint* is the sha256
of those values as canonical JSON. A flag review carries over to a later run only while the fingerprint
of its cell is unchanged (``reports.carry``); when it changed, :func:`describe_cell_change` says how.

Names (category names, labels) and the benchmark method version are left out of the values on purpose:
renaming a category is not a change of what was reviewed, and a new method version that gives the same
counts, benchmark and level leaves the officer's conclusion about those numbers standing (a version that
changes any of them changes the fingerprint). Pure Python: no Django, no models (checked by import-linter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.i18n_marker import gettext_noop
from reports.category_names import translated_name

#: Bump when the set or rounding of the values changes: older fingerprints then never match new ones.
FINGERPRINT_VERSION = 1
GRADE_BAND_LABELS = {"any": "any grade", "ge3": "grade ≥3"}
CYCLE_SCOPES = {"all": "all cycles", "first": "cycle 1"}

#: Flag levels in plain words for pages and exports (issue 17 item 5: no raw codes such as CHECK_ASCERTAINMENT).
FLAG_LABELS = {"ALARM": gettext_noop("Alarm: far above the published benchmark (outside the 99.8% predictive limit)"),
               "ALERT": gettext_noop("Alert: above the published benchmark (outside the 95% predictive limit)"),
               "WATCH": gettext_noop("Watch: above the published mean rate, within the spread between cohorts"),
               "CHECK_ASCERTAINMENT": gettext_noop("Possible under-reporting: fewer events than the published "
                                                   "benchmark predicts")}


FLAG_SHORT = {"ALARM": gettext_noop("alarm"), "ALERT": gettext_noop("alert"), "WATCH": gettext_noop("watch"),
              "CHECK_ASCERTAINMENT": gettext_noop("possible under-reporting"), "SIGNAL": gettext_noop("CUSUM signal")}
#: Flags compared with something else than the published cohorts (``Flag.Kind``): their levels in plain words.
KIND_FLAG_LABELS = {
    # xgettext:no-python-format
    "network": {"ALARM": gettext_noop("Network alarm: far from the other wards of the network (outside the 99.8% "
                                      "funnel limit)"),
                # xgettext:no-python-format
                "ALERT": gettext_noop("Network alert: away from the other wards of the network (outside the 95% "
                                      "funnel limit)")},
    "cusum": {"SIGNAL": gettext_noop("CUSUM signal: events came faster than the expected rate of the benchmark over "
                                     "consecutive patients")},
}
KIND_LABELS = {"literature": gettext_noop("published benchmark"),
               "network": gettext_noop("other wards of the network"), "cusum": gettext_noop("over time (CUSUM)")}


def flag_short(level: str | None) -> str:
    """The one- or two-word name of a flag level, for trends ("" for none)."""
    return FLAG_SHORT.get(level or "", level or "")


def flag_label(level: str | None, kind: str | None = None) -> str:
    """The plain-language name of a flag level of a flag of ``kind`` (literature when None; "" for no level; an
    unknown code is returned as it is)."""
    labels = KIND_FLAG_LABELS.get(kind or "literature", FLAG_LABELS)
    return labels.get(level or "", level or "")
_BAND_SHORT = {"any": "any", "ge3": "≥3"}

CellKey = tuple[str, str, str]


def canonical_sha256(data: Any) -> str:
    """Hex sha256 of ``data`` as canonical JSON (sorted keys, no spaces): a stable content hash."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _pct(value: float) -> float:
    """A proportion as a percentage rounded to 0.1 point (what the report prints)."""
    return round(100 * value, 1)


def cell_key(cell: Mapping[str, Any]) -> CellKey:
    """(category slug, grade band, cycle scope) of a cell, a flag dict or cell values."""
    return cell["category"], cell["grade_band"], cell["cycle_scope"]


def cell_values(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The values a flag on ``cell`` (one entry of ``results["cells"]``) is judged on, JSON-able.

    Shape: {"v": FINGERPRINT_VERSION, "category", "grade_band", "cycle_scope", "x": int, "n": int,
    "benchmark": {"method": str, "k": int, "weak": bool, "median_pct": float, "pi_pct": [lo, hi]} | None,
    "level": "ALARM" | "ALERT" | "WATCH" | "CHECK_ASCERTAINMENT" | None, "direction": "above" | "below" | None}.
    Percentages are rounded to 0.1 point; x and n are exact counts.
    """
    pooled = cell.get("pooled")
    flag = cell.get("flag") or {}
    return {
        "v": FINGERPRINT_VERSION,
        "category": cell["category"], "grade_band": cell["grade_band"], "cycle_scope": cell["cycle_scope"],
        "x": cell["ward"]["x"], "n": cell["ward"]["n"],
        "benchmark": None if not pooled else {
            "method": pooled["method"], "k": pooled["k"], "weak": bool(pooled["weak"]),
            "median_pct": _pct(pooled["median"]), "pi_pct": [_pct(b) for b in pooled["pi"]]},
        "level": flag.get("level"), "direction": flag.get("direction"),
    }


def _find(items: Sequence[Mapping[str, Any]] | None, key: CellKey) -> Mapping[str, Any] | None:
    return next((i for i in items or [] if (i["category"], i["grade_band"], i.get("cycle_scope", "all")) == key),
                None)


def flag_values(flag: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """The values a flag of ``results["flags"]`` is judged on, by its kind (absent: literature).

    Literature: :func:`cell_values` of its cell (unchanged, so reviews signed before kinds existed still carry).
    CUSUM: {"v", "kind": "cusum", "category", "grade_band", "cycle_scope", "x" (patients with the event), "n"
    (patients charted), "h" (3 decimals), "signals" (patient numbers), "level", "direction"} from
    ``results["monitoring"]["cusum"]``. Network: {"v", "kind": "network", …, "x", "n", "network": {"wards",
    "theta0_pct", "limits_pct": {"0.95": [lo, hi], "0.998": [lo, hi]}, "method"}, "level", "direction"} from
    ``results["network"]`` (percentages to 0.1 point). Raises KeyError when the flag's entry is missing."""
    kind = flag.get("kind", "literature")
    key = cell_key(flag)
    head = {"v": FINGERPRINT_VERSION, "kind": kind, "category": key[0], "grade_band": key[1], "cycle_scope": key[2]}
    tail = {"level": flag["level"], "direction": flag["direction"]}
    if kind == "cusum":
        chart = _find((results.get("monitoring") or {}).get("cusum"), key)
        if chart is None:
            raise KeyError(f"no CUSUM chart for {key}")
        return head | {"x": sum(1 for y in chart["outcomes"] if y), "n": len(chart["outcomes"]),
                       "h": round(float(chart["h"]), 3), "signals": list(chart["signals"])} | tail
    if kind == "network":
        comparison = _find(results.get("network"), key)
        if comparison is None:
            raise KeyError(f"no network comparison for {key}")
        return head | {"x": comparison["x"], "n": comparison["n"], "network": {
            "wards": comparison["wards"], "theta0_pct": _pct(comparison["theta0"]), "method": comparison["method"],
            "limits_pct": {k: [_pct(b) for b in v] for k, v in sorted(comparison["limits"].items())}}} | tail
    cell = _find(results.get("cells"), key)
    if cell is None:
        raise KeyError(f"no cell {key}")
    return cell_values(cell)


def cell_fingerprint(values: Mapping[str, Any]) -> str:
    """Hex sha256 of cell values (:func:`cell_values`) as canonical JSON: equal iff the values are equal."""
    return canonical_sha256(values)


#: The texts of the change lists (``summary``, ``describe_cell_change``, ``changes_between``): English by default,
#: in the reader's language when the report passes ``translate`` (``gettext``).
CHANGE_TEXTS = {
    "cusum": gettext_noop("CUSUM threshold %(h)s, signal at patient %(patients)s"),
    "network": gettext_noop("network %(rate)s%% over %(wards)s wards"),
    "no_benchmark": gettext_noop("no benchmark"),
    "benchmark": gettext_noop("benchmark %(median)s%%"),
    "no_flag": gettext_noop("no flag"),
    "summary": gettext_noop("%(x)s/%(n)s (%(benchmark)s, %(level)s)"),
    "not_recorded": gettext_noop("(the figures it was reviewed at were not recorded: it was stored before pvtrack "
                                 "kept them)"),
    "when": gettext_noop("when the ward was %(reviewed)s; now %(now)s"),
    "benchmark_from": gettext_noop("benchmark from %(old)s → %(new)s"),
    "interval": gettext_noop("95%% prediction interval %(old)s → %(new)s"),
    "rules": gettext_noop("the comparison rules of pvtrack changed"),
    "cohorts": gettext_noop("%(k)s cohorts (%(method)s)"),
    "cohort": gettext_noop("%(k)s cohort (%(method)s)"),
    "cohorts_weak": gettext_noop("%(k)s cohorts (%(method)s, weak)"),
    "cohort_weak": gettext_noop("%(k)s cohort (%(method)s, weak)"),
    "method": gettext_noop("benchmark method %(old)s → %(new)s"),
    "all": gettext_noop("patients treated %(old)s → %(new)s"),
    "first": gettext_noop("patients with a cycle 1 %(old)s → %(new)s"),
    "new_comparison": gettext_noop("new comparison %(label)s"),
    "new_comparison_flag": gettext_noop("new comparison %(label)s with a flag (%(level)s)"),
    "not_comparable": gettext_noop("%(label)s: not comparable (stored in an older result format)"),
    "new_flag": gettext_noop("new flag (%(level)s): %(label)s"),
    "flag_gone": gettext_noop("flag (%(level)s) no longer raised: %(label)s"),
    "flag_change": gettext_noop("flag %(label)s: %(old)s → %(new)s"),
    "removed": gettext_noop("comparison %(label)s removed"),
    "any": gettext_noop("any"),
}
Translate = Callable[[str], str]


#: A pooling method (``reports.stats.Pooled.method``) in words, for the change lists.
METHOD_WORDS = {"glmm_ml": "GLMM", "glmm_ml_metareg": gettext_noop("GLMM at the ward's case mix"),
                "common_effect": gettext_noop("common effect")}


def _level(level: str, translate: Translate) -> str:
    """A flag level by its short name ("alert", "possible under-reporting"), in the reader's language with
    ``translate``; an unknown level as stored."""
    short = FLAG_SHORT.get(level)
    return level if short is None else translate(short)


def cell_label(category_name: str, grade_band: str, cycle_scope: str, translate: Translate = str) -> str:
    """A short name of a cell for a change list, e.g. "Cytokine release syndrome any", "Neutropenia ≥3, cycle 1"."""
    band = translate(CHANGE_TEXTS["any"]) if grade_band == "any" else _BAND_SHORT.get(grade_band, grade_band)
    name = translated_name(category_name, translate)
    return f"{name} {band}" + (f", {translate(CYCLE_SCOPES['first'])}" if cycle_scope == "first" else "")


def _benchmark(values: Mapping[str, Any], translate: Translate = str) -> str:
    if values.get("kind") == "cusum":
        return translate(CHANGE_TEXTS["cusum"]) % {"h": f"{values['h']:.2f}",
                                                   "patients": ", ".join(map(str, values["signals"]))}
    if values.get("kind") == "network":
        net = values["network"]
        return translate(CHANGE_TEXTS["network"]) % {"rate": f"{net['theta0_pct']:.1f}", "wards": net["wards"]}
    bench = values.get("benchmark")
    return (translate(CHANGE_TEXTS["no_benchmark"]) if not bench else
            translate(CHANGE_TEXTS["benchmark"]) % {"median": f"{bench['median_pct']:.1f}"})


def summary(values: Mapping[str, Any], translate: Translate = str) -> str:
    """One phrase for cell values: "5/20 (benchmark 7.4%, alert)"; ``translate`` (``gettext``) gives it in the
    reader's language (the level by its short name)."""
    level = values.get("level")
    return translate(CHANGE_TEXTS["summary"]) % {
        "x": values["x"], "n": values["n"], "benchmark": _benchmark(values, translate),
        "level": _level(level, translate) if level else translate(CHANGE_TEXTS["no_flag"])}


def describe_cell_change(reviewed: Mapping[str, Any], now: Mapping[str, Any], translate: Translate = str) -> str:
    """How a cell changed since it was reviewed, for the officer: "" when the values are equal (a sentence saying
    so when either side's values are unknown, i.e. empty); ``translate`` as for ``summary``.

    E.g. "when the ward was 5/20 (benchmark 7.4%, ALERT); now 6/21 (benchmark 7.6%, ALARM)", followed by
    what else changed in the benchmark (number of cohorts, pooling method, prediction interval).
    """
    if not reviewed or not now:
        return translate(CHANGE_TEXTS["not_recorded"])
    if cell_fingerprint(reviewed) == cell_fingerprint(now):
        return ""
    text = translate(CHANGE_TEXTS["when"]) % {"reviewed": summary(reviewed, translate),
                                              "now": summary(now, translate)}
    details = []
    old, new = reviewed.get("benchmark") or {}, now.get("benchmark") or {}
    if old and new:
        if (old["k"], old["method"], old["weak"]) != (new["k"], new["method"], new["weak"]):
            details.append(translate(CHANGE_TEXTS["benchmark_from"]) % {"old": _cohorts(old, translate),
                                                                        "new": _cohorts(new, translate)})
        if old["pi_pct"] != new["pi_pct"]:
            details.append(translate(CHANGE_TEXTS["interval"]) % {"old": _interval(old["pi_pct"]),
                                                                  "new": _interval(new["pi_pct"])})
    if reviewed.get("v") != now.get("v"):
        details.append(translate(CHANGE_TEXTS["rules"]))
    return text + "".join(f"; {d}" for d in details)


def _cohorts(bench: Mapping[str, Any], translate: Translate = str) -> str:
    key = ("cohorts" if bench["k"] != 1 else "cohort") + ("_weak" if bench["weak"] else "")
    method = bench["method"]
    return translate(CHANGE_TEXTS[key]) % {"k": bench["k"], "method": translate(METHOD_WORDS.get(method, method))}


def _interval(bounds: Sequence[float]) -> str:
    return f"{bounds[0]:.1f}–{bounds[1]:.1f}%"


def _values_or_none(cell: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return cell_values(cell)
    except (KeyError, TypeError):
        return None


def changes_between(old_results: Mapping[str, Any], old_method: str, new_results: Mapping[str, Any],
                    new_method: str, translate: Translate = str) -> list[str]:
    """What changed from one run's results to another's, one phrase each, in the newer run's cell order;
    ``translate`` (``gettext``) gives the phrases in the reader's language (flag levels by their short names).

    Lists: a changed benchmark method version; changed denominators (patients treated, patients with a
    cycle 1); cells whose ward count changed ("Cytokine release syndrome any 5/20 → 6/21"); cells whose
    benchmark changed (rounded median, k or method); flags added ("new flag (alarm): Neutropenia ≥3"),
    removed or with a changed level; comparisons added or removed. [] when nothing of that changed.
    """
    t = translate
    old_cells = {cell_key(c): c for c in old_results.get("cells", [])}
    new_cells = {cell_key(c): c for c in new_results.get("cells", [])}
    changes: list[str] = []
    if old_method != new_method:
        changes.append(t(CHANGE_TEXTS["method"]) % {"old": old_method, "new": new_method})
    for scope in ("all", "first"):
        old_n = next((c.get("ward", {}).get("n") for k, c in old_cells.items() if k[2] == scope), None)
        new_n = next((c.get("ward", {}).get("n") for k, c in new_cells.items() if k[2] == scope), None)
        if old_n is not None and new_n is not None and old_n != new_n:
            changes.append(t(CHANGE_TEXTS[scope]) % {"old": old_n, "new": new_n})
    for key, new_cell in new_cells.items():
        label = cell_label(new_cell.get("category_name") or key[0], key[1], key[2], t)
        old_cell = old_cells.get(key)
        new = _values_or_none(new_cell)
        old = _values_or_none(old_cell) if old_cell is not None else None
        if old_cell is None:
            changes.append(t(CHANGE_TEXTS["new_comparison_flag"]) % {"label": label, "level": _level(new["level"], t)}
                           if new and new["level"] else t(CHANGE_TEXTS["new_comparison"]) % {"label": label})
            continue
        if old is None or new is None:
            changes.append(t(CHANGE_TEXTS["not_comparable"]) % {"label": label})
            continue
        if old["x"] != new["x"]:
            changes.append(f"{label} {old['x']}/{old['n']} → {new['x']}/{new['n']}")
        old_bench, new_bench = old["benchmark"] or {}, new["benchmark"] or {}
        if ({k: old_bench.get(k) for k in ("median_pct", "k", "method")}
                != {k: new_bench.get(k) for k in ("median_pct", "k", "method")}):
            changes.append(f"{label} {_benchmark(old, t)} → {_benchmark(new, t)}")
        if old["level"] != new["level"]:
            changes.append(_flag_change(label, old["level"], new["level"], t))
    for key, old_cell in old_cells.items():
        if key not in new_cells:
            changes.append(t(CHANGE_TEXTS["removed"]) % {
                "label": cell_label(old_cell.get("category_name") or key[0], *key[1:], translate=t)})
    names = {cell_key(c): c.get("category_name") or c["category"] for c in new_results.get("cells", [])}
    old_kinds, new_kinds = _kind_flags(old_results), _kind_flags(new_results)
    def kind_label(flag_key: tuple[str, str, str, str]) -> str:
        cell = (flag_key[1], flag_key[2], flag_key[3])
        return (cell_label(names.get(cell, flag_key[1]), flag_key[2], flag_key[3], t)
                + f", {t(KIND_LABELS[flag_key[0]])}")

    for flag_key, level in new_kinds.items():
        was = old_kinds.get(flag_key)
        if was != level:
            changes.append(_flag_change(kind_label(flag_key), was, level, t))
    for flag_key, level in old_kinds.items():
        if flag_key not in new_kinds:
            changes.append(_flag_change(kind_label(flag_key), level, None, t))
    return changes


def _flag_change(label: str, old: str | None, new: str | None, t: Translate) -> str:
    if old is None:
        return t(CHANGE_TEXTS["new_flag"]) % {"level": _level(new or "", t), "label": label}
    if new is None:
        return t(CHANGE_TEXTS["flag_gone"]) % {"level": _level(old, t), "label": label}
    return t(CHANGE_TEXTS["flag_change"]) % {"label": label, "old": _level(old, t), "new": _level(new, t)}


def _kind_flags(results: Mapping[str, Any]) -> dict[tuple[str, str, str, str], str]:
    """{(kind, category, band, scope): level} of the network and CUSUM flags of ``results``."""
    return {(f["kind"], *cell_key(f)): f["level"] for f in results.get("flags", [])
            if f.get("kind", "literature") in KIND_FLAG_LABELS}
