"""Standard safety tables AET01, AET02 and AET04 (layouts of the Roche/pharmaverse TLG catalogue),
counted in patients with treatment-emergent adverse events (ADaM TRTEMFL,
:func:`ae.models.events.treatment_emergent_q`).

* **AET01** overview: patients with any adverse event, a serious one, one of grade ≥ 3, a fatal one (grade 5 or
  outcome Fatal), one leading to discontinuation (action "blinatumomab permanently stopped", CDISC ACN
  DRUG WITHDRAWN).
* **AET02** by MedDRA SOC (as CTCAE v5.0 lists it) and CTCAE term: patients with at least one event.
* **AET04** by CTCAE term and worst grade: each patient counted once per term, at the worst grade (grade 1 … 5
  columns sum to "Any grade").

Scopes: all cycles (N = patients who received a cycle), then each cycle number (N = patients who received it).
Every row states the grading scale(s) of the events it counts — CTCAE v5.0, ASTCT 2019 (CRS/ICANS) or Lee 2014 —
never a blanket note. Percentages are 100·n/N rounded to 0.1, or None when N is 0. Outputs: XLSX with n, N and %
in separate numeric cells; CSV in long form (one count per line).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import xlsxwriter
from django.db.models import Count

from ae.models import AdverseEvent
from ae.selectors import treatment_emergent_events
from patients.models import Patient, Site, TreatmentCycle
from reports.exports import neutralise

SCALES = dict(AdverseEvent.GradingScale.choices)
AET01_ROWS = (
    ("any", "Patients with any adverse event"),
    ("serious", "Patients with a serious adverse event"),
    ("grade3", "Patients with an adverse event of grade 3 or higher"),
    ("fatal", "Patients with a fatal adverse event (grade 5 or outcome fatal)"),
    ("discontinued", "Patients with an adverse event leading to discontinuation of blinatumomab"),
)
CSV_HEADER = ("table", "scope", "N", "soc", "term", "category", "n", "percent", "grading_scale")


@dataclass(frozen=True)
class Count_:
    """One cell: ``n`` patients of ``N`` (``percent`` = 100·n/N to 0.1, None when N = 0), the scales counted."""

    table: str
    scope: str
    N: int
    soc: str
    term: str
    category: str
    n: int
    scales: tuple[str, ...]

    @property
    def percent(self) -> float | None:
        return round(100 * self.n / self.N, 1) if self.N else None

    @property
    def scale_text(self) -> str:
        return "; ".join(SCALES.get(s, s) for s in self.scales)


@dataclass(frozen=True)
class _Event:
    patient: int
    cycle: int
    soc: str
    term: str
    grade: int
    serious: bool
    fatal: bool
    discontinued: bool
    scale: str


def _events(site: Site) -> list[_Event]:
    rows = treatment_emergent_events(site).values_list(
        "patient_id", "cycle__number", "term__soc", "term__term", "grade", "serious", "outcome", "action_taken",
        "grading_scale")
    return [_Event(p, c, soc, term, g, s, g == 5 or out == AdverseEvent.Outcome.FATAL,
                   act == AdverseEvent.Action.DRUG_WITHDRAWN, scale)
            for p, c, soc, term, g, s, out, act, scale in rows]


def _scopes(site: Site) -> list[tuple[str, int | None, int]]:
    total = Patient.objects.filter(site=site, cycles__isnull=False).aggregate(n=Count("id", distinct=True))["n"]
    per_cycle = (TreatmentCycle.objects.filter(patient__site=site).values("number")
                 .annotate(n=Count("patient", distinct=True)).order_by("number"))
    return [("All cycles", None, total)] + [(f"Cycle {c['number']}", c["number"], c["n"]) for c in per_cycle]


def _cell(table: str, scope: str, n_total: int, soc: str, term: str, category: str,
          events: list[_Event]) -> Count_:
    return Count_(table, scope, n_total, soc, term, category, len({e.patient for e in events}),
                  tuple(sorted({e.scale for e in events})))


def aet01(scope: str, n_total: int, events: list[_Event]) -> list[Count_]:
    tests = {"any": lambda e: True, "serious": lambda e: e.serious, "grade3": lambda e: e.grade >= 3,
             "fatal": lambda e: e.fatal, "discontinued": lambda e: e.discontinued}
    return [_cell("AET01", scope, n_total, "", "", label, [e for e in events if tests[key](e)])
            for key, label in AET01_ROWS]


def aet02(scope: str, n_total: int, events: list[_Event]) -> list[Count_]:
    by_soc: dict[str, list[_Event]] = defaultdict(list)
    for e in events:
        by_soc[e.soc].append(e)
    cells = [_cell("AET02", scope, n_total, "", "", "Any adverse event", events)]
    for soc in sorted(by_soc, key=lambda s: (-len({e.patient for e in by_soc[s]}), s)):
        cells.append(_cell("AET02", scope, n_total, soc, "", "Any term in the SOC", by_soc[soc]))
        by_term: dict[str, list[_Event]] = defaultdict(list)
        for e in by_soc[soc]:
            by_term[e.term].append(e)
        for term in sorted(by_term, key=lambda t: (-len({e.patient for e in by_term[t]}), t)):
            cells.append(_cell("AET02", scope, n_total, soc, term, "Any grade", by_term[term]))
    return cells


def aet04(scope: str, n_total: int, events: list[_Event]) -> list[Count_]:
    """Per term: patients by their worst grade of the term (grade 1 … 5), then any grade. A worst grade's scale is
    the scale of the event(s) that reached it."""
    by_term: dict[tuple[str, str], dict[int, list[_Event]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        by_term[(e.soc, e.term)][e.patient].append(e)
    cells = []
    for (soc, term), patients in sorted(by_term.items()):
        worst: dict[int, list[_Event]] = defaultdict(list)
        for patient_events in patients.values():
            top = max(e.grade for e in patient_events)
            worst[top].extend(e for e in patient_events if e.grade == top)
        for grade in range(1, 6):
            cells.append(_cell("AET04", scope, n_total, soc, term, f"Grade {grade}", worst.get(grade, [])))
        cells.append(_cell("AET04", scope, n_total, soc, term, "Any grade",
                           [e for es in patients.values() for e in es]))
    return cells


def aet_tables(site: Site) -> list[Count_]:
    """AET01, AET02 and AET04 cells of every scope, in that order (one query for the events, two for N)."""
    events = _events(site)
    cells: list[Count_] = []
    for build in (aet01, aet02, aet04):
        for scope, number, n_total in _scopes(site):
            scoped = [e for e in events if number is None or e.cycle == number]
            cells.extend(build(scope, n_total, scoped))
    return cells


def aet_csv_lines(site: Site) -> Iterator[str]:
    """The tables in long form, one count per line (``CSV_HEADER``); ``percent`` empty when N is 0."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def emit(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(v) for v in values])
        return buffer.getvalue()

    yield emit(list(CSV_HEADER))
    for c in aet_tables(site):
        yield emit([c.table, c.scope, c.N, c.soc, c.term, c.category, c.n,
                    "" if c.percent is None else c.percent, c.scale_text])


def aet_xlsx_bytes(site: Site) -> bytes:
    """One sheet per table; columns Scope, N, SOC, Term, Category, n, %, Grading scale; n, N and % are numbers."""
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    pct = book.add_format({"num_format": "0.0"})
    titles = {"AET01": "AET01 Overview of treatment-emergent adverse events (patients)",
              "AET02": "AET02 Treatment-emergent adverse events by SOC and CTCAE term (patients)",
              "AET04": "AET04 Treatment-emergent adverse events by CTCAE term and worst grade (patients)"}
    by_table: dict[str, list[Count_]] = defaultdict(list)
    for c in aet_tables(site):
        by_table[c.table].append(c)
    for table, title in titles.items():
        sheet = book.add_worksheet(table)
        sheet.write(0, 0, neutralise(f"{title} — {site.name}"), bold)
        sheet.write_row(2, 0, ["Scope", "N", "MedDRA SOC", "CTCAE term", "Category", "n", "%", "Grading scale"], bold)
        for r, c in enumerate(by_table.get(table, []), start=3):
            sheet.write_row(r, 0, [neutralise(c.scope), c.N, neutralise(c.soc), neutralise(c.term),
                                   neutralise(c.category), c.n])
            if c.percent is None:
                sheet.write_blank(r, 6, None)
            else:
                sheet.write_number(r, 6, c.percent, pct)
            sheet.write(r, 7, c.scale_text)
        sheet.set_column(0, 0, 12)
        sheet.set_column(2, 4, 36)
        sheet.set_column(7, 7, 28)
    book.close()
    return output.getvalue()
