"""Drawn benchmark plots, shared by every web and worker process (issue 12): the cache of ``reports.plots``."""

from __future__ import annotations

from django.db import models


class CellPlot(models.Model):
    """The forest and funnel SVGs of one benchmark cell, keyed by the SHA-256 of the cell's canonical JSON
    (``reports.plots.cell_key``): a cell with the same numbers draws the same plots, whichever run or site it
    belongs to, and a changed cell has another key. A plot drawn in another language than English is stored under
    ``reports.plots.plot_key(cell, language)`` (the SHA-256 of the cell and the language; issue 15); a network
    funnel or CUSUM chart under the SHA-256 of its payload (which names its language). Drawn by the benchmark job
    after it stores a run (and, for a cell not drawn yet, by the first page that shows it); never edited, so not
    audited. Rows of cells no run
    shows any more can be deleted at any time (``created_at``): they are drawn again when needed."""

    key = models.CharField(primary_key=True, max_length=64, help_text="SHA-256 (hex) of the cell's canonical JSON.")
    forest_svg = models.TextField(help_text="Sanitised SVG markup (reports.plots.forest_svg).")
    funnel_svg = models.TextField(help_text="Sanitised SVG markup (reports.plots.funnel_svg).")
    forest_png = models.BinaryField(null=True, blank=True, help_text="PNG for the XLSX export; drawn by the first "
                                                                      "export that needs it.")
    funnel_png = models.BinaryField(null=True, blank=True, help_text="PNG for the XLSX export (as forest_png).")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"plots {self.key[:12]}"
