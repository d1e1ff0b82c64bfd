"""Peak memory and time of one export in a fresh process (issue 12: flat memory, streamed exports).

    python -m benchmarks.memory <export> <site slug>

Prints one JSON object: ``rows`` (the ward's AEs), ``bytes`` written, ``seconds``, ``rss_start_mib`` (resident set
after Django's start-up, the models loaded and one query), ``rss_peak_mib`` (``getrusage`` ``ru_maxrss``, the
process's peak) and ``growth_mib`` (peak − start: what the export itself held). Exports:

- ``listing-csv``: the AE listing's CSV as the page streams it (``ae.listing_copy.csv_blocks``: PostgreSQL COPY);
- ``listing-csv-python``: the same CSV written by Python over a server-side cursor (``ae.listing_views.csv_lines``);
- ``listing-csv-list``: the same rows read into a list first (how the export worked before issue 12);
- ``listing-xlsx``: the AE listing's XLSX in ``constant_memory`` mode into a temporary file;
- ``table-csv``: the graded AE table (``reports.exports.csv_lines``);
- ``copy``: PostgreSQL ``COPY (the listing's rows) TO STDOUT`` read to the end (the baseline).

A fresh process per measurement, because ``ru_maxrss`` never falls: ``benchmarks.run --only memory`` starts one per
export and ward.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from typing import Any

from benchmarks._setup import django_setup

#: The listing's rows as COPY reads them: the same joins and columns as ``ae.listing.listing_row``.
LISTING_SQL = """
SELECT p.study_id, c.number, t.term, ae.verbatim_term, t.soc, ae.grade, ae.grading_scale, ae.onset_date,
       ae.resolution_date, ae.serious, ae.relatedness, ae.action_taken, ae.outcome, ae.id
FROM ae_adverseevent ae JOIN patients_patient p ON p.id = ae.patient_id
JOIN patients_treatmentcycle c ON c.id = ae.cycle_id JOIN ae_ctcaeterm t ON t.id = ae.term_id
WHERE p.site_id = %s ORDER BY ae.onset_date DESC, ae.id
"""


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def measure(export: str, slug: str) -> dict[str, Any]:
    django_setup()
    import xlsxwriter
    from django.db import connection

    from ae import listing_copy, listing_views
    from ae.listing import listing
    from ae.models import AdverseEvent
    from patients.models import Site
    from reports import exports

    site = Site.objects.get(slug=slug)
    rows = AdverseEvent.objects.filter(patient__site=site).count()
    start = _current_rss_mib()
    written = 0
    began = time.perf_counter()
    if export == "listing-csv":
        for block in listing_copy.csv_blocks(listing(site, {})[1], list(listing_views.LISTING_HEADER)):
            written += len(block)
    elif export in ("listing-csv-python", "listing-csv-list"):
        events = listing(site, {})[1]
        source = (events.iterator(chunk_size=listing_views.CHUNK_ROWS) if export == "listing-csv-python"
                  else list(events))
        for line in listing_views.csv_lines(source):
            written += len(line)
    elif export == "listing-xlsx":
        with tempfile.TemporaryFile() as output:
            book = xlsxwriter.Workbook(output, {"constant_memory": True})
            sheet = book.add_worksheet("AE listing")
            sheet.write_row(0, 0, listing_views.LISTING_HEADER)
            for r, event in enumerate(listing(site, {})[1].iterator(chunk_size=listing_views.CHUNK_ROWS), start=1):
                sheet.write_row(r, 0, [listing_views._safe(v) for v in listing_views.listing_row(event)])
            book.close()
            written = output.tell()
    elif export == "table-csv":
        for line in exports.csv_lines(site):
            written += len(line)
    elif export == "copy":
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY ({LISTING_SQL}) TO STDOUT (FORMAT csv, HEADER)", [site.pk]) as copy:
            for block in copy:
                written += len(block)
    else:
        raise SystemExit(f"unknown export {export!r}")
    seconds = time.perf_counter() - began
    peak = _rss_mib()
    return {"export": export, "site": slug, "rows": rows, "bytes": written, "seconds": round(seconds, 3),
            "rss_start_mib": round(start, 1), "rss_peak_mib": round(peak, 1), "growth_mib": round(peak - start, 1)}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
