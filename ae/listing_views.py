"""The AE listing page ``/sites/<site>/events/``: filter, sort, paginate, export (CSV/XLSX) — reads only."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

import xlsxwriter
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from ae import listing_copy
from ae.listing import EXPORT_CHOICE_FIELDS, LISTING_HEADER, SORT_LABELS, SORTS, export_labels, listing, listing_row
from core.types import AuthenticatedRequest
from patients import access

PAGE_SIZE = 50
#: Events fetched at a time from the server-side cursor by the exports (memory flat whatever the rows; issue 12).
CHUNK_ROWS = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: object) -> object:
    """Text a spreadsheet would read as a formula gets a leading quote (OWASP ASVS V1.2.10)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value


def csv_lines(events: Iterable[object]) -> Iterator[str]:
    """The listing's CSV written by Python, one line at a time: the header, then one row per event
    (``LISTING_HEADER``). The page's export uses :func:`ae.listing_copy.csv_blocks` (the same rows, by COPY);
    this is the reference it is tested against."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(LISTING_HEADER))
    labels = {f: export_labels(f) for f in EXPORT_CHOICE_FIELDS}
    for event in events:
        yield line([_safe(v) for v in listing_row(event, labels)])  # type: ignore[arg-type]


@login_required
def event_listing(request: AuthenticatedRequest, site: str) -> HttpResponse | StreamingHttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    params = request.GET.dict()
    bound, events, sort = listing(site_obj, params)
    fmt = params.get("format")
    if fmt == "csv":  # PostgreSQL COPY, streamed block by block: memory flat, COPY's throughput
        stream = StreamingHttpResponse(listing_copy.csv_blocks(events, list(LISTING_HEADER)),
                                       content_type="text/csv; charset=utf-8")
        stream["Content-Disposition"] = f'attachment; filename="pvtrack-ae-listing-{site_obj.slug}.csv"'
        return stream
    if fmt == "xlsx":  # constant_memory: each row goes to a temporary file; the file is then sent in blocks
        output = tempfile.TemporaryFile()  # noqa: SIM115  # closed by FileResponse
        book = xlsxwriter.Workbook(output, {"constant_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
        sheet = book.add_worksheet("AE listing")
        sheet.write_row(0, 0, LISTING_HEADER, book.add_format({"bold": True}))
        labels = {f: export_labels(f) for f in EXPORT_CHOICE_FIELDS}
        for r, event in enumerate(events.iterator(chunk_size=CHUNK_ROWS), start=1):
            sheet.write_row(r, 0, [_safe(v) for v in listing_row(event, labels)])
        book.close()
        output.seek(0)
        return FileResponse(output, as_attachment=True, filename=f"pvtrack-ae-listing-{site_obj.slug}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    page = Paginator(events, PAGE_SIZE).get_page(params.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(request, "ae/event_listing.html", {
        "site": site_obj, "filter": bound, "page": page, "sort": sort,
        "sorts": [(key, SORT_LABELS[key]) for key in SORTS], "query": query.urlencode(), "total": page.paginator.count})
