"""The graded AE table ("AEs by highest CTCAE grade", AET04 layout pivoted as in the seeds' tables); each row
states the grading scale(s) of the events it counts. ``reports/aet.py`` has AET01/02/04 with numeric cells.

Rows: CTCAE terms grouped by MedDRA SOC. Columns: Grade 1–2, Grade 3, Grade 4, Grade 5, Any grade.
Cells: n (%) of patients. Each patient counts once per term, at their worst grade, so the grade
columns of a row sum to its Any column. Only treatment-emergent events count (not those present
before the cycle started). Blocks: all cycles, then each cycle number (denominator: patients who
received that cycle).
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import xlsxwriter
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Max

from ae.models import CTCAE_VERSION, AdverseEvent
from ae.selectors import treatment_emergent_events
from patients.models import Patient, Site, TreatmentCycle
from reports import plots
from reports.cells import flag_label
from reports.models import BenchmarkRun
from reports.network_export import network_sheet
from reports.report import benchmark_text
from reports.selectors import latest_run

#: Rows fetched at a time from the server-side cursor: memory stays flat whatever the ward's size (issue 12).
CHUNK_ROWS = 2000
GRADE_COLUMNS = ("Grade 1-2", "Grade 3", "Grade 4", "Grade 5")
HEADER = ("Scope", "N patients", "MedDRA SOC", "CTCAE term", "MedDRA code", *GRADE_COLUMNS, "Any grade",
          "Grading scale")
SCALE_LABELS = dict(AdverseEvent.GradingScale.choices)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Row:
    """One term of one scope: patient counts per worst-grade column (Grade 1-2, 3, 4, 5) and any grade."""

    scope: str
    n: int
    soc: str
    term: str
    meddra_code: int
    counts: tuple[int, int, int, int]
    #: The grading scale(s) of the events counted in the row ("CTCAE v5.0", "ASTCT 2019 consensus (CRS/ICANS)", …).
    scales: tuple[str, ...] = ()

    @property
    def scale_text(self) -> str:
        return "; ".join(SCALE_LABELS.get(s, s) for s in self.scales)

    @property
    def any(self) -> int:
        return sum(self.counts)


def footnote(site: Site) -> list[str]:
    """The table's footnote lines: CTCAE version, counting rule and denominators."""
    return [
        f"Site: {site.name}. Terms and SOCs: NCI CTCAE v{CTCAE_VERSION} (MedDRA LLT codes published with it). Grades "
        "on the scale stated in each row's Grading scale (CTCAE v5.0; CRS/ICANS may be graded by ASTCT 2019 or Lee "
        "2014).",
        "Cells: n (%) of patients. Each patient is counted once per term, at the worst grade recorded for that term "
        "in the scope; grade columns therefore sum to Any grade.",
        "Only treatment-emergent events are counted (ADaM TRTEMFL, admiral rule): events that began during treatment, "
        "and events present before the cycle that worsened; not those present before the first dose and unchanged, "
        "nor onsets recorded as follow-up after a cycle's window.",
        "Denominator N: patients who received at least one cycle (all cycles) or who received that cycle.",
    ]


def ae_table_rows(site: Site) -> list[Row]:
    """Return the table's rows, all cycles first, then cycle 1, 2, ...; two queries per scope plus one.

    Worst grade per (term, patient) is computed in the database and read through a server-side cursor
    (``CHUNK_ROWS`` at a time), so memory is set by the number of terms, not of events or patients; rows are ordered
    by SOC, then by falling Any count, then term.
    """
    events = treatment_emergent_events(site)
    cycle_numbers = list(TreatmentCycle.objects.filter(patient__site=site).values_list("number", flat=True)
                         .distinct().order_by("number"))
    scopes: list[tuple[str, int | None]] = [("All cycles", None)] + [(f"Cycle {c}", c) for c in cycle_numbers]
    rows: list[Row] = []
    for label, number in scopes:
        patients = Patient.objects.filter(site=site, cycles__isnull=False)
        scoped = events
        if number is not None:
            patients = patients.filter(cycles__number=number)
            scoped = events.filter(cycle__number=number)
        n = patients.aggregate(n=Count("id", distinct=True))["n"]
        worst = (scoped.values("term__soc", "term__term", "term__meddra_code", "patient")
                 .annotate(worst=Max("grade"), scales=ArrayAgg("grading_scale", distinct=True)).order_by())
        scales: dict[str, set[str]] = defaultdict(set)
        per_term: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for w in worst.iterator(chunk_size=CHUNK_ROWS):
            column = max(w["worst"] - 2, 0)  # 1-2 -> 0, 3 -> 1, 4 -> 2, 5 -> 3
            per_term[(w["term__soc"], w["term__term"], w["term__meddra_code"])][column] += 1
            scales[w["term__term"]].update(w["scales"])
        scope_rows = [Row(label, n, soc, term, code, (c[0], c[1], c[2], c[3]), tuple(sorted(scales[term])))
                      for (soc, term, code), c in per_term.items()]
        scope_rows.sort(key=lambda r: (r.soc, -r.any, r.term))
        rows.extend(scope_rows)
    return rows


def cell(count: int, n: int) -> str:
    """'n (x.x%)' of patients; '0' when zero."""
    if count == 0:
        return "0"
    return f"{count} ({100 * count / n:.1f}%)"


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would read as a formula with a quote (OWASP ASVS V1.2.10)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _values(row: Row) -> list[object]:
    return [row.scope, row.n, row.soc, row.term, row.meddra_code,
            *(cell(c, row.n) for c in row.counts), cell(row.any, row.n), row.scale_text]


def csv_lines(site: Site) -> Iterator[str]:
    """Yield the CSV export line by line (for StreamingHttpResponse or a file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def emit(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(v) for v in values])
        return buffer.getvalue()

    yield emit(list(HEADER))
    for row in ae_table_rows(site):
        yield emit(_values(row))
    yield emit([])
    for line in footnote(site):
        yield emit([f"Note: {line}"])


def _plots_sheet(book: xlsxwriter.Workbook, site: Site, run: BenchmarkRun | None, bold: object) -> None:
    """A sheet with the forest and funnel plots (PNG) of the flagged cells of the site's latest benchmark run
    (``run``)."""
    sheet = book.add_worksheet("Benchmark plots")
    cells = [c for c in ((run.results or {}).get("cells", []) if run else []) if c.get("flag") and c.get("pooled")]
    if run is None:
        sheet.write(0, 0, "No benchmark run has finished for this site yet.")
        return
    when = "(not finished)"
    if run.finished_at is not None:  # the site's time, as its pages show it
        finished = run.finished_at.astimezone(zoneinfo.ZoneInfo(site.time_zone))
        when = f"{finished:%Y-%m-%d %H:%M %Z} ({site.time_zone})"
    sheet.write(0, 0, neutralise(f"Benchmark run {run.pk} ({run.method_version}), finished {when}: flagged "
                                 "comparisons"), bold)
    if not cells:
        sheet.write(2, 0, "No flagged comparison in this run.")
    row = 2
    for cell, pngs in zip(cells, plots.cells_pngs(cells), strict=True):  # drawn once, then shared (CellPlot)
        sheet.write(row, 0, neutralise(f"[{flag_label(cell['flag']['level'])}] {cell['flag']['message']}"))
        sheet.write(row + 1, 0, neutralise(benchmark_text(cell)))
        for col, image in ((0, pngs[0]), (12, pngs[1])):
            sheet.insert_image(row + 2, col, f"{cell['category']}-{col}.png",
                               {"image_data": io.BytesIO(image), "x_scale": 0.8, "y_scale": 0.8})
        row += 27


def xlsx_bytes(site: Site) -> bytes:
    """Return the XLSX export (:func:`xlsx_write`) as bytes."""
    output = io.BytesIO()
    xlsx_write(site, output)
    return output.getvalue()


def xlsx_write(site: Site, target: IO[bytes]) -> None:
    """Write the XLSX export to ``target`` (a binary file): one sheet per scope, SOC header rows, footnote below each
    table, then the benchmark plots. xlsxwriter's ``constant_memory`` mode: each row is flushed to a temporary file
    as soon as the next one starts, so memory does not grow with the rows (XlsxWriter docs, "Working with Memory
    and Performance")."""
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    soc_format = book.add_format({"bold": True, "bg_color": "#E8EEF4"})
    by_scope: dict[str, list[Row]] = defaultdict(list)
    for row in ae_table_rows(site):
        by_scope[row.scope].append(row)
    for scope in by_scope or {"All cycles": []}:
        sheet = book.add_worksheet(scope[:31])
        rows = by_scope.get(scope, [])
        n = rows[0].n if rows else 0
        sheet.write_row(0, 0, [neutralise(f"Adverse events by worst CTCAE grade — {scope} (N = {n} patients)")], bold)
        sheet.write_row(2, 0, ["MedDRA SOC / CTCAE term", "MedDRA code", *GRADE_COLUMNS, "Any grade", "Grading scale"],
                        bold)
        r, soc = 3, None
        for row in rows:
            if row.soc != soc:
                soc = row.soc
                sheet.write(r, 0, neutralise(soc), soc_format)
                r += 1
            sheet.write_row(r, 0, [neutralise("  " + row.term), row.meddra_code,
                                   *(cell(c, row.n) for c in row.counts), cell(row.any, row.n), row.scale_text])
            r += 1
        for line in footnote(site):
            r += 1
            sheet.write(r, 0, neutralise(line))
        sheet.set_column(0, 0, 48)
        sheet.set_column(1, 6, 14)
    run = latest_run(site)
    _plots_sheet(book, site, run, bold)
    network_sheet(book, site, run, bold)
    book.close()
