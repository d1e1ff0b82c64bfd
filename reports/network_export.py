"""The XLSX sheet "Network and trends": the ward against the network's wards (this ward named, the others anonymous,
whoever downloads it), its CUSUM charts, exposure-adjusted rates and entry lag, from its latest run (issue 17)."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from patients.models import Site
from reports.cells import GRADE_BAND_LABELS, flag_short
from reports.computed_text import monitoring_flag
from reports.models import BenchmarkRun
from reports.network import comparisons_for_site, latest_runs
from reports.report import interval, pct


def _write(sheet: Any, row: int, values: list[Any], fmt: object = None) -> int:
    from reports.exports import neutralise  # the one formula-neutralising rule of the exports

    sheet.write_row(row, 0, [neutralise(v) if isinstance(v, str) else v for v in values], fmt)
    return row + 1


def _band(code: str) -> str:
    return GRADE_BAND_LABELS.get(code, code)


def _monitoring_flag(code: str | None) -> str | None:
    """A monitoring flag code ("CUSUM SIGNAL", "LATE ENTRY") in English words (the exports are in English)."""
    with translation.override("en-gb"):
        return monitoring_flag(code)


def network_sheet(book: Any, site: Site, run: BenchmarkRun | None, bold: object) -> None:
    """Add the sheet to ``book`` (an xlsxwriter Workbook in constant-memory mode: rows written in order) for
    ``run``, the site's latest finished run (None: none yet)."""
    sheet = book.add_worksheet("Network and trends")
    sheet.set_column(0, 0, 52)
    sheet.set_column(1, 6, 22)
    runs = latest_runs()  # the network's cell counts, this site's among them (a demo ward is not in the network)
    if run is None:
        sheet.write(0, 0, "No benchmark run has finished for this site yet.")
        return
    r = _write(sheet, 0, [f"{site.name}: compared with the network's wards (others anonymous), run {run.pk}"], bold)
    comparisons = comparisons_for_site(site, {site.pk}, runs)
    if not comparisons:
        r = _write(sheet, r, ["No comparison: fewer than 3 wards have a finished benchmark in the same comparison."])
    else:
        r = _write(sheet, r, ["Comparison", "This ward", "Network rate (wards)", "95% limits", "99.8% limits",
                              "Position", "Network benchmark median (95% PI)"], bold)
        for c in comparisons:
            own, f = c["own"], c["funnel"]
            position = (f"{flag_short(own.level)}: {own.direction} the network" if own.level else
                        (f"not flagged: {f.note}" if not f.flags_given else "within the limits"))
            pooled = c["pooled"]
            r = _write(sheet, r, [f"{c['category_name']}, {c['band_label']}, {c['scope_label']}",
                                  f"{own.x}/{own.n} ({pct(own.rate)})", f"{pct(f.theta0)} ({c['wards']})",
                                  interval(list(own.limits["0.95"])) if own.limits else "–",
                                  interval(list(own.limits["0.998"])) if own.limits else "–", position,
                                  f"{pct(pooled['median'])} ({interval(pooled['pi'])})" if pooled else "–"])
    monitoring = (run.results or {}).get("monitoring")
    r += 1
    if not monitoring:
        _write(sheet, r, ["This run was computed before the CUSUM, exposure rates and entry lag existed."])
        return
    lag = monitoring["entry_lag"]
    r = _write(sheet, r, ["Entry lag (recorded minus onset, days)", _monitoring_flag(lag.get("flag")) or "no flag",
                          lag["message"]], bold)
    r += 1
    r = _write(sheet, r, ["CUSUM (Steiner 2000, odds ratio 2, in-control ARL 200 patients)", "Threshold h", "Now",
                          "Signal"], bold)
    for c in monitoring["cusum"]:
        flag = _monitoring_flag(c["flag"])  # the note says "no signal: …" itself when there is none
        r = _write(sheet, r, [f"{c['category_name']}, {_band(c['grade_band'])}", c["h"],
                              c["values"][-1] if c["values"] else None, f"{flag}: {c['note']}" if flag else c["note"]])
    r += 1
    r = _write(sheet, r, ["Exposure-adjusted rates", "Patients with the event", "Events", "Patient-cycles",
                          "Events per patient-cycle", "Patient-days of infusion", "Events per 100 patient-days"], bold)
    for e in monitoring["exposure"]:
        r = _write(sheet, r, [f"{e['category_name']}, {_band(e['grade_band'])}", f"{e['x']}/{e['n']}", e["events"],
                              e["cycles"], e["per_cycle"], e["days"], e["per_100_days"]])
