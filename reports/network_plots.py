"""SVG plots of the network funnel and of a ward's CUSUM (matplotlib object API, sanitised like reports.plots).

Drawn plots are kept in the shared plot table (:class:`reports.models.CellPlot`, keyed by the SHA-256 of what is
drawn, in its ``funnel_svg`` column), so a page draws a plot once for every process; the network funnel depends on
other wards' runs, so it is drawn on the first page that shows it rather than by one ward's job.

A plot is drawn in a plot language (:mod:`reports.plot_language`): an English payload is what it was before
languages (same key, same SVG); another language's payload holds "language" and its title and wards' labels in that
language, so it has a key of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_noop
from matplotlib.figure import Figure

from reports import funnel
from reports.category_names import translated_name
from reports.cells import GRADE_BAND_LABELS, flag_short
from reports.models import CellPlot
from reports.network import ward_label
from reports.plot_language import ENGLISH, decimal_separator, decimal_text, localise_ticks, translator
from reports.plots import FUNNEL_ALPHAS, PATIENTS_AXIS, POOLED_COLOUR, RATE_AXIS, WARD_COLOUR, _render

OTHER_COLOUR = "#666666"


def funnel_payload(comparison: dict[str, Any], language: str = ENGLISH) -> dict[str, Any]:
    """What the network funnel shows in plot language ``language``, as JSON (its cache key): units (label, x, n,
    level), θ0, τ², title, the viewer's own unit's label; "language" unless English. The wards' labels as
    :func:`reports.network.ward_label` writes them ("other ward 2" / "inny oddział 2")."""
    f: funnel.Funnel = comparison["funnel"]
    if language == ENGLISH:
        labels = [u.label for u in f.units]
        title = f"{comparison['category_name']}, {comparison['band_label']}, {comparison['scope_label']}"
    else:
        translate = translator(language)
        labels = [ward_label(name, number, own=own, translate=translate)
                  for name, number, own in comparison["ward_labels"]]
        title = (f"{translated_name(comparison['category_name'], translate)}, {translate(comparison['band_label'])}, "
                 f"{translate(comparison['scope_label'])}")
    own_unit = comparison["own"]
    own = None if own_unit is None else next(
        (label for label, u in zip(labels, f.units, strict=True) if u is own_unit), own_unit.label)
    payload = {"kind": "network-funnel", "title": title, "theta0": f.theta0, "tau2": f.tau2, "own": own,
               "units": [[label, u.x, u.n, u.level] for label, u in zip(labels, f.units, strict=True)]}
    return payload if language == ENGLISH else payload | {"language": language}


def network_funnel_figure(payload: dict[str, Any], translate: Callable[[str], str] = str,
                          decimal: str = ".") -> Figure:
    """Funnel of the network's wards: proportion against n, θ0, the 95 % and 99.8 % limits (additive random effects
    when τ² > 0, exact binomial otherwise); the viewer's ward a red square, every other ward a grey dot labelled as
    the viewer may see it (the labels as the payload has them). Its own words through ``translate`` (English:
    ``str``), a flag level in brackets as its code in English and as its short name otherwise, numeric tick labels
    with ``decimal``."""
    units = payload["units"]
    theta0, tau2 = payload["theta0"], payload["tau2"]
    top = max(max(u[2] for u in units), 10) * 1.15
    ns = list(range(2, int(top) + 1))
    fig = Figure(figsize=(7.4, 3.6))
    fig.subplots_adjust(left=0.09, right=0.74, bottom=0.14, top=0.91)
    ax = fig.add_subplot()
    if 0 < theta0 < 1:
        for coverage, style, name in ((0.95, "--", translate(FUNNEL_ALPHAS[0.025])),
                                      (0.998, "-", translate(FUNNEL_ALPHAS[0.001]))):
            curve = funnel.limit_curve(ns, theta0, tau2, coverage)
            ax.plot(ns, [100 * hi for _, hi in curve], color="#999999", linestyle=style, linewidth=0.9, label=name)
            ax.plot(ns, [100 * lo for lo, _ in curve], color="#999999", linestyle=style, linewidth=0.9)
    ax.axhline(100 * theta0, color=POOLED_COLOUR, linewidth=0.8, label=translate(gettext_noop("network rate")))
    for label, x, n, level in units:
        own = label == payload["own"]
        ax.plot([n], [100 * x / n], marker="s" if own else "o", color=WARD_COLOUR if own else OTHER_COLOUR,
                markersize=7 if own else 5, linestyle="none", gid="own" if own else None, zorder=4 if own else 3)
        shown_level = translate(flag_short(level)) if level and "language" in payload else level
        ax.annotate(label + (f" [{shown_level}]" if level else ""), (n, 100 * x / n), fontsize=6,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xlim(0, top)
    ax.set_ylim(0, 100)
    ax.set_xlabel(translate(PATIENTS_AXIS))
    ax.set_ylabel(translate(RATE_AXIS))
    ax.set_title(translate(gettext_noop("%(title)s — wards of the network")) % {"title": payload["title"]},
                 fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.spines[["top", "right"]].set_visible(False)
    localise_ticks(ax, decimal)
    return fig


#: CUSUM charts drawn on the report (signalled charts first).
CUSUM_PLOTS_SHOWN = 4


def shown_cusums(monitoring: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The CUSUM charts the report draws: those with patients, signalled first, at most CUSUM_PLOTS_SHOWN."""
    charts = [c for c in (monitoring or {}).get("cusum", []) if c["values"]]
    return sorted(charts, key=lambda c: (not c["flag"], c["category"], c["grade_band"]))[:CUSUM_PLOTS_SHOWN]


def draw_run_cusums(results: dict[str, Any], languages: Iterable[str] = (ENGLISH,)) -> int:
    """Draw and store the CUSUM charts a run's report shows in each of ``languages`` (plot languages; the benchmark
    job calls it after storing the run, in English and the ward's language, so that no page request draws them);
    return how many charts there are."""
    charts = shown_cusums(results.get("monitoring"))
    svgs([cusum_payload(c, language) for language in dict.fromkeys(languages) for c in charts])
    return len(charts)


def cusum_payload(chart: dict[str, Any], language: str = ENGLISH) -> dict[str, Any]:
    """What a CUSUM chart shows in plot language ``language``, as JSON (its cache key): title, values, signals, h,
    outcomes; "language" unless English (the English title keeps the band's code, as before languages)."""
    band, name = chart["grade_band"], chart["category_name"]
    if language != ENGLISH:
        band = translator(language)(GRADE_BAND_LABELS.get(band, band))
        name = translated_name(name, translator(language))
    payload = {"kind": "cusum", "title": f"{name}, {band}", "values": chart["values"],
               "signals": chart["signals"], "h": chart["h"], "outcomes": chart["outcomes"]}
    return payload if language == ENGLISH else payload | {"language": language}


def cusum_figure(payload: dict[str, Any], translate: Callable[[str], str] = str, decimal: str = ".") -> Figure:
    """The CUSUM S_t against patient number with the threshold h; events marked, signals red. Words and numbers as
    :func:`network_funnel_figure` ("CUSUM" is the same word in every language)."""
    values = payload["values"]
    xs = list(range(1, len(values) + 1))
    fig = Figure(figsize=(7.4, 2.8))
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.17, top=0.89)
    ax = fig.add_subplot()
    ax.step(xs, values, where="post", color=POOLED_COLOUR, linewidth=1.0, label="CUSUM")
    ax.axhline(payload["h"], color=WARD_COLOUR, linestyle="--", linewidth=0.9,
               label=translate(gettext_noop("threshold h = %(h)s")) % {"h": decimal_text(payload["h"], 2, decimal)})
    events = [x for x, y in zip(xs, payload["outcomes"], strict=True) if y]
    ax.plot(events, [values[x - 1] for x in events], "o", color="#2166ac", markersize=3,
            label=translate(gettext_noop("patient with event")))
    if payload["signals"]:
        ax.plot(payload["signals"], [values[s - 1] for s in payload["signals"]], "v", color=WARD_COLOUR,
                markersize=7, label=translate(gettext_noop("signal")), gid="signal")
    ax.set_xlabel(translate(gettext_noop("patients in order of treatment")))
    ax.set_ylabel("CUSUM")
    ax.set_title(payload["title"], fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    localise_ticks(ax, decimal)
    return fig


def payload_key(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of a network funnel's or CUSUM chart's canonical JSON: its key in the shared plot table."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def svgs(payloads: list[dict[str, Any]]) -> list[SafeString]:
    """The SVG of each payload (network funnel or CUSUM, drawn in its "language", English without one): read in one
    query from the shared plot table, drawn and stored when missing."""
    keys = [payload_key(p) for p in payloads]
    stored = dict(CellPlot.objects.filter(key__in=set(keys)).values_list("key", "funnel_svg"))
    missing = {}
    for key, payload in zip(keys, payloads, strict=True):
        if key not in stored and key not in missing:
            figure = network_funnel_figure if payload["kind"] == "network-funnel" else cusum_figure
            language = payload.get("language", ENGLISH)
            drawn = figure(payload, translator(language), decimal_separator(language))
            missing[key] = str(_render(drawn, f"{payload['kind']}-{key[:8]}-", payload["title"]))
    if missing:
        CellPlot.objects.bulk_create([CellPlot(key=k, forest_svg="", funnel_svg=v) for k, v in missing.items()],
                                     ignore_conflicts=True)
        stored |= missing
    return [mark_safe(stored[k]) for k in keys]  # noqa: S308 - drawn and sanitised by reports.plots._render
