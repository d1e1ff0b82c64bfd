"""Server-side SVG plots of one benchmark cell: a forest plot and a funnel plot (docs/methods.md §3.1).

Matplotlib's object API only (``matplotlib.figure.Figure`` with the SVG canvas, never pyplot, so no
global figure state and no GUI backend). Output is deterministic for the same cell: fixed
``svg.hashsalt``, no date in the metadata, text kept as ``<text>`` (``svg.fonttype`` none). Every id
is prefixed per plot so that several plots can be inlined in one page, and the markup is sanitised
(no scripts, no event-handler attributes, only local links) before it is marked safe.

Inputs are the stored cell dicts of ``reports.benchmark.compute`` (``run.results["cells"]``), so a plot
of an old run shows exactly that run's numbers.

Every word drawn is a ``gettext_noop`` message written through a ``translate`` callable, and a number written as
text uses a ``decimal`` separator: a plot is drawn, and stored, per language (:mod:`reports.plot_language`; English,
the default, is drawn as before languages). Category names and cohort names are data, drawn as stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any

import matplotlib
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_noop
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from core.xml import tostring as xml_tostring
from reports import stats
from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS
from reports.category_names import translated_name
from reports.models import CellPlot
from reports.plot_language import ENGLISH, decimal_separator, localise_ticks, translator

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("xlink", XLINK_NS)
RC: dict[str, Any] = {"svg.hashsalt": "pvtrack", "svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans"}
# one-sided upper/lower tail of each limit: its legend
# xgettext:no-python-format
FUNNEL_ALPHAS = {0.025: gettext_noop("95% limit"),
                 # xgettext:no-python-format
                 0.001: gettext_noop("99.8% limit")}
# xgettext:no-python-format
RATE_AXIS = gettext_noop("patients with the event (%)")
PATIENTS_AXIS = gettext_noop("patients (n)")
# The forest plot's rows of the pooled benchmarks.
# xgettext:no-python-format
WEAK_POOLED_LABEL = gettext_noop("weak pooled count (95% CI, PI)")
# xgettext:no-python-format
GLMM_POOLED_LABEL = gettext_noop("GLMM pooled median (95% CI, PI)")
# xgettext:no-python-format
TWO_STEP_LABEL = gettext_noop("two-step REML/HK median (95% CI)")
WARD_COLOUR, COHORT_COLOUR, POOLED_COLOUR = "#b2182b", "#2166ac", "#333333"
_URL_REF = re.compile(r"url\(#([^)]+)\)")


def _title(cell: dict[str, Any], translate: Callable[[str], str] = str) -> str:
    return (f"{translated_name(cell['category_name'], translate)}, {translate(GRADE_BAND_LABELS[cell['grade_band']])}, "
            f"{translate(CYCLE_SCOPES[cell['cycle_scope']])}")


def _render(fig: Figure, prefix: str, label: str) -> SafeString:
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # matplotlib types rc keys as literals
        FigureCanvasSVG(fig)
        fig.savefig(buf, format="svg", metadata={"Date": None})
    # Our own generated markup, sanitised by sanitise_svg (no scripts, handlers or external links).
    return mark_safe(sanitise_svg(buf.getvalue().decode("utf-8"), prefix, label))  # noqa: S308


def sanitise_svg(markup: str, prefix: str, label: str) -> str:
    """Return ``markup`` (an SVG document) as an inline ``<svg>`` element safe to insert into a page.

    Drops ``<script>``, ``<foreignObject>`` and ``<metadata>`` elements, ``on*`` attributes and any link that is not a
    local ``#id``; prefixes every id (and the references to it) with ``prefix``; adds role="img",
    an aria-label and a ``<title>``. Raises ``xml.etree.ElementTree.ParseError`` for malformed markup.
    """
    root = ET.fromstring(markup)  # noqa: S314 -- matplotlib's own output, parsed only to sanitise it
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (f"{{{SVG_NS}}}script", f"{{{SVG_NS}}}foreignObject", "script",
                             f"{{{SVG_NS}}}metadata"):
                parent.remove(child)
    for el in root.iter():
        for name in list(el.attrib):
            value = el.attrib[name]
            local = name.rsplit("}", 1)[-1]
            if local.lower().startswith("on"):
                del el.attrib[name]
            elif local == "href":
                if value.startswith("#"):
                    el.attrib[name] = f"#{prefix}{value[1:]}"
                else:
                    del el.attrib[name]
            elif local == "id":
                el.attrib[name] = prefix + value
            elif "url(#" in value:
                el.attrib[name] = _URL_REF.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
    # The page's Content-Security-Policy (style-src 'self') blocks inline style attributes and <style>
    # elements: move every declaration onto SVG presentation attributes, which CSP does not govern.
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}style":
                parent.remove(child)
    for el in root.iter():
        if "style" in el.attrib:
            for name, value in _presentation_attributes(el.attrib.pop("style")).items():
                el.attrib.setdefault(name, value)  # url(#…) references were prefixed above
    root.set("role", "img")
    root.set("aria-label", label)
    title = ET.Element(f"{{{SVG_NS}}}title")
    title.text = label
    root.insert(0, title)
    return xml_tostring(root, default_namespace=SVG_NS, encoding="unicode")


_FONT = re.compile(r"^(?:(italic|oblique|normal)\s+)?(?:(bold|normal|[1-9]00)\s+)?([\d.]+px)\s+(.+)$")


def _presentation_attributes(style: str) -> dict[str, str]:
    """Turn a CSS declaration list into SVG presentation attributes (``font`` split into its parts)."""
    attributes: dict[str, str] = {}
    for declaration in style.split(";"):
        name, _, value = (part.strip() for part in declaration.partition(":"))
        if not name or not value:
            continue
        match = _FONT.match(value) if name == "font" else None
        if match:
            style_, weight, size, family = match.groups()
            attributes.update({"font-size": size, "font-family": family.replace("'", "")})
            if style_:
                attributes["font-style"] = style_
            if weight:
                attributes["font-weight"] = weight
        elif name != "font":
            attributes[name] = value
    return attributes


def _short(name: str, width: int = 30) -> str:
    """A cohort name cut to ``width`` characters for an axis label (the table beside the plot has it in full)."""
    return name if len(name) <= width else name[: width - 1].rstrip() + "…"


def _prefix(kind: str, cell: dict[str, Any]) -> str:
    return f"{kind}-{cell['category']}-{cell['grade_band']}-{cell['cycle_scope']}-"


def forest_label(cell: dict[str, Any], translate: Callable[[str], str] = str) -> str:
    """The forest plot's text alternative in the language of ``translate`` (a message → its text; ``str``: English):
    its SVG ``<title>`` and aria-label, and the ``alt`` of its ``<img>`` (Django's ``gettext``: the reader's
    language)."""
    return translate(gettext_noop("Forest plot: %(title)s")) % {"title": _title(cell, translate)}


def funnel_label(cell: dict[str, Any], translate: Callable[[str], str] = str) -> str:
    """The funnel plot's text alternative (as :func:`forest_label`)."""
    return translate(gettext_noop("Funnel plot: %(title)s")) % {"title": _title(cell, translate)}


def forest_svg(cell: dict[str, Any], language: str = ENGLISH) -> SafeString:
    """The forest plot of ``forest_figure`` as sanitised inline SVG, drawn in plot language ``language``
    (:mod:`reports.plot_language`)."""
    translate = translator(language)
    return _render(forest_figure(cell, translate, decimal_separator(language)), _prefix("forest", cell),
                   forest_label(cell, translate))


def funnel_svg(cell: dict[str, Any], language: str = ENGLISH) -> SafeString:
    """The funnel plot of ``funnel_figure`` as sanitised inline SVG, in plot language ``language``."""
    translate = translator(language)
    return _render(funnel_figure(cell, translate, decimal_separator(language)), _prefix("funnel", cell),
                   funnel_label(cell, translate))


def png(fig: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (for the XLSX export, which cannot hold SVG)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # matplotlib types rc keys as literals
        FigureCanvasSVG(fig)
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def forest_figure(cell: dict[str, Any], translate: Callable[[str], str] = str, decimal: str = ".") -> Figure:
    """Forest plot of one cell: each cohort's rate with its exact (Clopper–Pearson) 95% CI, the GLMM (or weak
    common-effect) pooled median with its 95% CI (diamond) and 95% PI (line), the two-step REML/HK median
    when computed, and the ward (red square, element id ``...ward``) with its exact CI. Rates in percent. Its words
    through ``translate`` (English: ``str``), numeric tick labels with ``decimal``.
    Raises ValueError when the cell has no pooled benchmark.
    """
    pooled = cell.get("pooled")
    if not pooled:
        raise ValueError("this cell has no pooled benchmark to plot")
    rows: list[tuple[str, float, tuple[float, float]]] = [
        (f"{_short(c['short_name'])} {c['x']}/{c['n']}", c["rate"], stats.clopper_pearson(c["x"], c["n"]))
        for c in cell["cohorts"]]
    height = 1.3 + 0.28 * (len(rows) + 4)
    fig = Figure(figsize=(7.0, height))
    fig.subplots_adjust(left=0.42, right=0.97, bottom=0.55 / height, top=1 - 0.35 / height)
    ax = fig.add_subplot()
    y = len(rows) + 3
    for _name, rate, (lo, hi) in rows:
        ax.plot([100 * lo, 100 * hi], [y, y], color=COHORT_COLOUR, linewidth=1.2)
        ax.plot([100 * rate], [y], marker="o", color=COHORT_COLOUR, markersize=4)
        y -= 1
    labels = [name for name, _, _ in rows]
    # pooled (GLMM or weak): PI as a thin line, CI as a diamond around the median
    y_pooled = 2
    lo, hi = pooled["ci"]
    med = pooled["median"]
    ax.plot([100 * pooled["pi"][0], 100 * pooled["pi"][1]], [y_pooled, y_pooled], color=POOLED_COLOUR,
            linewidth=0.8, linestyle="--", gid="prediction-interval")
    ax.fill([100 * lo, 100 * med, 100 * hi, 100 * med], [y_pooled, y_pooled + 0.3, y_pooled, y_pooled - 0.3],
            color=POOLED_COLOUR, gid="pooled")
    pooled_label = translate(WEAK_POOLED_LABEL if pooled["weak"] else GLMM_POOLED_LABEL)
    ticks = [*range(len(rows) + 3, 3, -1), y_pooled]
    tick_labels = [*labels, pooled_label]
    two = cell.get("two_step")
    if two:
        ax.plot([100 * two["ci"][0], 100 * two["ci"][1]], [y_pooled - 1, y_pooled - 1], color="#777777",
                linewidth=1.2)
        ax.plot([100 * two["median"]], [y_pooled - 1], marker="D", color="#777777", markersize=4)
        ticks.append(y_pooled - 1)
        tick_labels.append(translate(TWO_STEP_LABEL))
    ward = cell["ward"]
    if ward["n"]:
        y_ward = 0
        ax.plot([100 * ward["ci"][0], 100 * ward["ci"][1]], [y_ward, y_ward], color=WARD_COLOUR, linewidth=1.6)
        ax.plot([100 * ward["rate"]], [y_ward], marker="s", color=WARD_COLOUR, markersize=6, gid="ward")
        ticks.append(y_ward)
        tick_labels.append(translate(gettext_noop("This ward %(counts)s")) % {"counts": f"{ward['x']}/{ward['n']}"})
    ax.axvline(100 * med, color=POOLED_COLOUR, linewidth=0.5, linestyle=":")
    ax.set_yticks(ticks, tick_labels)
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.8, len(rows) + 3.8)
    ax.set_xlabel(translate(RATE_AXIS))
    ax.set_title(_title(cell, translate), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    localise_ticks(ax, decimal)
    return fig


def cell_key(cell: dict[str, Any]) -> str:
    """SHA-256 (hex) of the cell's canonical JSON: the key of its English plots (:class:`reports.models.CellPlot`)."""
    return hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()


def plot_key(cell: dict[str, Any], language: str = ENGLISH) -> str:
    """The key of ``cell``'s plots drawn in plot language ``language`` (:mod:`reports.plot_language`), in the shared
    table and in the plots' URLs: :func:`cell_key` in English (as before languages), else the SHA-256 (hex) of the
    canonical JSON of {"cell": cell, "language": language}."""
    if language == ENGLISH:
        return cell_key(cell)
    return hashlib.sha256(json.dumps({"cell": cell, "language": language}, sort_keys=True).encode()).hexdigest()


def plotted(cell: dict[str, Any]) -> bool:
    """Whether the report shows plots of ``cell``: it has a pooled benchmark (a forest and a funnel to draw)."""
    return bool(cell.get("pooled"))


def cells_svgs(cells: list[dict[str, Any]], language: str = ENGLISH) -> list[tuple[SafeString, SafeString]]:
    """(forest, funnel) SVGs of each of ``cells`` in plot language ``language``, in order: read in one query from
    the table every process shares (:class:`reports.models.CellPlot`, under :func:`plot_key`; the benchmark job
    draws a run's plots when it stores the run), and a cell not drawn yet in that language is drawn here (about
    0.3 s a cell) and stored for every later request and process."""
    keys = [plot_key(c, language) for c in cells]
    stored = {p.key: (p.forest_svg, p.funnel_svg)
              for p in CellPlot.objects.filter(key__in=set(keys)).only("key", "forest_svg", "funnel_svg")}
    missing = {}
    for key, cell in zip(keys, cells, strict=True):
        if key not in stored and key not in missing:
            missing[key] = (str(forest_svg(cell, language=language)), str(funnel_svg(cell, language=language)))
    if missing:  # another process may have drawn the same cell meanwhile: same key, same markup, keep theirs
        CellPlot.objects.bulk_create([CellPlot(key=k, forest_svg=f, funnel_svg=u) for k, (f, u) in missing.items()],
                                     ignore_conflicts=True)
        stored |= missing
    # The markup was produced and sanitised by forest_svg / funnel_svg (here or in the job).
    return [(mark_safe(stored[k][0]), mark_safe(stored[k][1])) for k in keys]  # noqa: S308


def cell_svgs(cell: dict[str, Any], language: str = ENGLISH) -> tuple[SafeString, SafeString]:
    """(forest, funnel) SVGs of one cell in plot language ``language`` (:func:`cells_svgs`)."""
    return cells_svgs([cell], language)[0]


def cells_pngs(cells: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(forest, funnel) PNGs of each of ``cells`` for the XLSX export (English, like the rest of the export), from
    the shared table (the English row, :func:`cell_key`); a cell whose PNGs are not stored yet is drawn once and
    stored, so later exports of the same run draw nothing."""
    keys = [cell_key(c) for c in cells]
    stored = {p.key: p for p in CellPlot.objects.filter(key__in=set(keys))}
    out: dict[str, tuple[bytes, bytes]] = {}
    for key, cell in zip(keys, cells, strict=True):
        row = stored.get(key)
        if key in out:
            continue
        if row is not None and row.forest_png is not None and row.funnel_png is not None:
            out[key] = (bytes(row.forest_png), bytes(row.funnel_png))
            continue
        out[key] = (png(forest_figure(cell)), png(funnel_figure(cell)))
        if row is None:
            cells_svgs([cell])
        CellPlot.objects.filter(key=key).update(forest_png=out[key][0], funnel_png=out[key][1])
    return [out[k] for k in keys]


def draw_run_plots(cells: list[dict[str, Any]], languages: Iterable[str] = (ENGLISH,)) -> int:
    """Draw and store the plots of a run's ``cells`` that show plots (:func:`plotted`) in each of ``languages``
    (plot languages) where they are not stored yet; return how many (cell, language) plots were drawn. The benchmark
    job calls it after storing the run, in English and in the ward's language, so that no page request draws."""
    shown = [c for c in cells if plotted(c)]
    drawn = 0
    for language in dict.fromkeys(languages):
        keys = {plot_key(c, language) for c in shown}
        before = CellPlot.objects.filter(key__in=keys).count()
        cells_svgs(shown, language)
        drawn += len(keys) - before
    return drawn


def funnel_points(cell: dict[str, Any], points: int = 60) -> dict[str, Any]:
    """The funnel plot's data: {"ns": [n], "limits": {alpha: {"upper": [rate or None], "lower": [...]}}, "centre"}.

    For each n, the upper limit is the smallest event count x/n whose exact predictive upper tail is below
    alpha (a ward at or above it is flagged), the lower limit the largest x/n whose lower tail is below
    alpha; None where no count qualifies. alpha 0.025 and 0.001 are the 95% and 99.8% limits (§3.1, §3.5).
    """
    pooled = stats.pooled_from_dict(cell["pooled"])
    n_top = max([c["n"] for c in cell["cohorts"]] + [cell["ward"]["n"] or 0, 10])
    n_top = int(n_top * 1.1) + 1
    step = max(1, n_top // points)
    ns = sorted(set(range(2, n_top + 1, step)) | {n_top})
    curves = stats.predictive_limit_curve(ns, pooled, list(FUNNEL_ALPHAS))
    limits = {a: {"upper": [None if hi is None else hi / n for (hi, _), n in zip(curves[a], ns, strict=True)],
                  "lower": [None if lo is None else lo / n for (_, lo), n in zip(curves[a], ns, strict=True)]}
              for a in FUNNEL_ALPHAS}
    return {"ns": ns, "limits": limits, "centre": pooled.marginal_mean}


def funnel_figure(cell: dict[str, Any], translate: Callable[[str], str] = str, decimal: str = ".") -> Figure:
    """Funnel plot of one cell: the published cohorts (blue) and the ward (red square, id ``...ward``) as
    rate against patients n, the benchmark marginal mean, and the exact predictive 95% and 99.8% limits of
    the random-effects benchmark (``funnel_points``); words and numbers as :func:`forest_figure`. Raises ValueError
    when the cell has no pooled benchmark.
    """
    if not cell.get("pooled"):
        raise ValueError("this cell has no pooled benchmark to plot")
    data = funnel_points(cell)
    fig = Figure(figsize=(7.4, 3.6))
    fig.subplots_adjust(left=0.09, right=0.76, bottom=0.14, top=0.91)
    ax = fig.add_subplot()
    ns = data["ns"]
    for alpha, style in zip(FUNNEL_ALPHAS, ("--", "-"), strict=True):
        for side in ("upper", "lower"):
            values = data["limits"][alpha][side]
            xs = [n for n, v in zip(ns, values, strict=True) if v is not None]
            ys = [100 * v for v in values if v is not None]
            if xs:
                ax.step(xs, ys, where="mid", color="#999999", linestyle=style, linewidth=0.9,
                        label=translate(FUNNEL_ALPHAS[alpha]) if side == "upper" else None)
    ax.axhline(100 * data["centre"], color=POOLED_COLOUR, linewidth=0.8,
               label=translate(gettext_noop("benchmark mean")))
    ax.scatter([c["n"] for c in cell["cohorts"]], [100 * c["rate"] for c in cell["cohorts"]], color=COHORT_COLOUR,
               s=18, label=translate(gettext_noop("published cohorts")), zorder=3)
    ward = cell["ward"]
    if ward["n"]:
        ax.plot([ward["n"]], [100 * ward["rate"]], marker="s", color=WARD_COLOUR, markersize=7, linestyle="none",
                label=translate(gettext_noop("this ward")), gid="ward", zorder=4)
    ax.set_xlim(0, ns[-1])
    ax.set_ylim(0, 100)
    ax.set_xlabel(translate(PATIENTS_AXIS))
    ax.set_ylabel(translate(RATE_AXIS))
    ax.set_title(_title(cell, translate), fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.spines[["top", "right"]].set_visible(False)
    localise_ticks(ax, decimal)
    return fig
