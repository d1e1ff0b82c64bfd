"""SVG plots of the network funnel and of a ward's CUSUM (matplotlib object API, sanitised like reports.plots).

Drawn plots are kept in the shared plot table (:class:`reports.models.CellPlot`, keyed by the SHA-256 of what is
drawn, in its ``funnel_svg`` column), so a page draws a plot once for every process; the network funnel depends on
other wards' runs, so it is drawn on the first page that shows it rather than by one ward's job.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from matplotlib.figure import Figure

from reports import funnel
from reports.models import CellPlot
from reports.plots import POOLED_COLOUR, WARD_COLOUR, _render

OTHER_COLOUR = "#666666"


def funnel_payload(comparison: dict[str, Any]) -> dict[str, Any]:
    """What the network funnel shows, as JSON (its cache key): units (label, x, n, level), θ0, τ², title."""
    f: funnel.Funnel = comparison["funnel"]
    own = comparison["own"].label if comparison["own"] else None
    return {"kind": "network-funnel", "title": f"{comparison['category_name']}, {comparison['band_label']}, "
                                              f"{comparison['scope_label']}",
            "theta0": f.theta0, "tau2": f.tau2, "own": own,
            "units": [[u.label, u.x, u.n, u.level] for u in f.units]}


def network_funnel_figure(payload: dict[str, Any]) -> Figure:
    """Funnel of the network's wards: proportion against n, θ0, the 95 % and 99.8 % limits (additive random effects
    when τ² > 0, exact binomial otherwise); the viewer's ward a red square, every other ward a grey dot labelled as
    the viewer may see it."""
    units = payload["units"]
    theta0, tau2 = payload["theta0"], payload["tau2"]
    top = max(max(u[2] for u in units), 10) * 1.15
    ns = list(range(2, int(top) + 1))
    fig = Figure(figsize=(7.4, 3.6))
    fig.subplots_adjust(left=0.09, right=0.74, bottom=0.14, top=0.91)
    ax = fig.add_subplot()
    if 0 < theta0 < 1:
        for coverage, style, name in ((0.95, "--", "95% limit"), (0.998, "-", "99.8% limit")):
            curve = funnel.limit_curve(ns, theta0, tau2, coverage)
            ax.plot(ns, [100 * hi for _, hi in curve], color="#999999", linestyle=style, linewidth=0.9, label=name)
            ax.plot(ns, [100 * lo for lo, _ in curve], color="#999999", linestyle=style, linewidth=0.9)
    ax.axhline(100 * theta0, color=POOLED_COLOUR, linewidth=0.8, label="network rate")
    for label, x, n, level in units:
        own = label == payload["own"]
        ax.plot([n], [100 * x / n], marker="s" if own else "o", color=WARD_COLOUR if own else OTHER_COLOUR,
                markersize=7 if own else 5, linestyle="none", gid="own" if own else None, zorder=4 if own else 3)
        ax.annotate(label + (f" [{level}]" if level else ""), (n, 100 * x / n), fontsize=6,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xlim(0, top)
    ax.set_ylim(0, 100)
    ax.set_xlabel("patients (n)")
    ax.set_ylabel("patients with the event (%)")
    ax.set_title(payload["title"] + " — wards of the network", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


#: CUSUM charts drawn on the report (signalled charts first).
CUSUM_PLOTS_SHOWN = 4


def shown_cusums(monitoring: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The CUSUM charts the report draws: those with patients, signalled first, at most CUSUM_PLOTS_SHOWN."""
    charts = [c for c in (monitoring or {}).get("cusum", []) if c["values"]]
    return sorted(charts, key=lambda c: (not c["flag"], c["category"], c["grade_band"]))[:CUSUM_PLOTS_SHOWN]


def draw_run_cusums(results: dict[str, Any]) -> int:
    """Draw and store the CUSUM charts a run's report shows (the benchmark job calls it after storing the run, so
    that no page request draws them); return how many charts there are."""
    charts = shown_cusums(results.get("monitoring"))
    svgs([cusum_payload(c) for c in charts])
    return len(charts)


def cusum_payload(chart: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "cusum", "title": f"{chart['category_name']}, {chart['grade_band']}", "values": chart["values"],
            "signals": chart["signals"], "h": chart["h"], "outcomes": chart["outcomes"]}


def cusum_figure(payload: dict[str, Any]) -> Figure:
    """The CUSUM S_t against patient number with the threshold h; events marked, signals red."""
    values = payload["values"]
    xs = list(range(1, len(values) + 1))
    fig = Figure(figsize=(7.4, 2.8))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.17, top=0.89)
    ax = fig.add_subplot()
    ax.step(xs, values, where="post", color=POOLED_COLOUR, linewidth=1.0, label="CUSUM")
    ax.axhline(payload["h"], color=WARD_COLOUR, linestyle="--", linewidth=0.9,
               label=f"threshold h = {payload['h']:.2f}")
    events = [x for x, y in zip(xs, payload["outcomes"], strict=True) if y]
    ax.plot(events, [values[x - 1] for x in events], "o", color="#2166ac", markersize=3,
            label="patient with event")
    if payload["signals"]:
        ax.plot(payload["signals"], [values[s - 1] for s in payload["signals"]], "v", color=WARD_COLOUR,
                markersize=7, label="signal", gid="signal")
    ax.set_xlabel("patients in order of treatment")
    ax.set_ylabel("CUSUM")
    ax.set_title(payload["title"], fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def payload_key(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of a network funnel's or CUSUM chart's canonical JSON: its key in the shared plot table."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def svgs(payloads: list[dict[str, Any]]) -> list[SafeString]:
    """The SVG of each payload (network funnel or CUSUM): read in one query from the shared plot table, drawn and
    stored when missing."""
    keys = [payload_key(p) for p in payloads]
    stored = dict(CellPlot.objects.filter(key__in=set(keys)).values_list("key", "funnel_svg"))
    missing = {}
    for key, payload in zip(keys, payloads, strict=True):
        if key not in stored and key not in missing:
            figure = network_funnel_figure if payload["kind"] == "network-funnel" else cusum_figure
            missing[key] = str(_render(figure(payload), f"{payload['kind']}-{key[:8]}-", payload["title"]))
    if missing:
        CellPlot.objects.bulk_create([CellPlot(key=k, forest_svg="", funnel_svg=v) for k, v in missing.items()],
                                     ignore_conflicts=True)
        stored |= missing
    return [mark_safe(stored[k]) for k in keys]  # noqa: S308 - drawn and sanitised by reports.plots._render
