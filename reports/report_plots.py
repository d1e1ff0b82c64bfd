"""The report's plots as images with their own URLs (issue 12): the page links each stored plot with ``<img>``
instead of inlining its SVG (the report was ≈ 690 KB of HTML, ≈ 600 KB of it 28 inline plots), and the plot's URL
holds its key — the SHA-256 of what it draws — so the browser may keep it for as long as it likes: a changed plot
has another URL.

A plot is served only when the site's report (or one of its cell pages) shows it to the user asking: a forest or
funnel plot of a cell of the site's latest finished run with a pooled benchmark, one of the CUSUM charts the report
draws, or one of the network funnels the report draws for this user (the other wards named as
``patients.access.named_sites`` allows). A plot not drawn yet (an older run, or a cell the job does not draw) is
drawn by that request and stored in the shared table for every process (:class:`reports.models.CellPlot`).

The plots are drawn in the reader's language (:mod:`reports.plot_language`): the page links the plot of its active
language, whose key differs by language, and a plot's URL serves the language its key names (the reader's language
is matched first, so an English request hashes what it did).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext

from core.types import AnyUser
from patients.models import Site
from reports import network_plots, plots
from reports.network import network_for_site, shown_plots
from reports.plot_language import plot_languages, reader_language
from reports.selectors import latest_run

#: What an image URL may name: the cell plots' two columns, and "chart" (a network funnel or a CUSUM chart).
KINDS = ("forest", "funnel", "chart")


def plot_url(site: Site, key: str, kind: str) -> str:
    """The URL of stored plot ``key`` of ``kind`` (one of :data:`KINDS`) under ``site``'s report."""
    return reverse("report-plot", kwargs={"site": site.slug, "key": key, "kind": kind})


def cell_images(site: Site, cell: dict[str, Any]) -> dict[str, str]:
    """{"forest": URL, "forest_alt": text, "funnel": URL, "funnel_alt": text} of a plotted cell (no query): the
    plots drawn in the active language (:func:`reports.plots.plot_key`) and their texts in it."""
    key = plots.plot_key(cell, reader_language())
    return {"forest": plot_url(site, key, "forest"), "forest_alt": plots.forest_label(cell, gettext),
            "funnel": plot_url(site, key, "funnel"), "funnel_alt": plots.funnel_label(cell, gettext)}


def chart_image(site: Site, payload: dict[str, Any]) -> dict[str, str]:
    """{"src": URL, "alt": text} of a network funnel's or CUSUM chart's ``payload`` (no query; the payload built in
    the reader's language, ``network_plots.funnel_payload(c, reader_language())``)."""
    return {"src": plot_url(site, network_plots.payload_key(payload), "chart"), "alt": payload["title"]}


def shown_plot_svg(*, site: Site, user: AnyUser, key: str, kind: str) -> str | None:
    """The SVG markup (a sanitised ``<svg>`` document, ``reports.plots.sanitise_svg``) of plot ``key`` of ``kind``
    if ``site``'s report or one of its cell pages shows it to ``user``, else None; drawn in the language ``key``
    names (any of ``settings.LANGUAGES``, the reader's first). 2 queries for a stored cell plot (the latest run, the
    plot); a network funnel also costs the network comparison's queries (once, whatever the language)."""
    if kind not in KINDS:
        return None
    run = latest_run(site)
    if run is None:
        return None
    results = run.results or {}
    languages = plot_languages(reader_language())
    if kind != "chart":
        shown = [c for c in results.get("cells", []) if plots.plotted(c)]
        found = next(((c, language) for language in languages for c in shown
                      if plots.plot_key(c, language) == key), None)
        if found is None:
            return None
        forest, funnel = plots.cell_svgs(*found)
        return str(forest if kind == "forest" else funnel)
    charts = network_plots.shown_cusums(results.get("monitoring"))
    payload = next((p for language in languages for p in (network_plots.cusum_payload(c, language) for c in charts)
                    if network_plots.payload_key(p) == key), None)
    if payload is None:  # the network funnels as this user sees them (labels differ by viewer, and so do keys)
        comparisons = shown_plots(network_for_site(site, user))
        payload = next((p for language in languages
                        for p in (network_plots.funnel_payload(c, language) for c in comparisons)
                        if network_plots.payload_key(p) == key), None)
    return None if payload is None else str(network_plots.svgs([payload])[0])
