"""The AE listing page ``/sites/<site>/events/``: filter, sort, paginate, export (CSV/XLSX) — reads only."""

from __future__ import annotations

import csv
import io

import xlsxwriter
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from ae.listing import LISTING_HEADER, SORTS, listing, listing_row
from core.types import AuthenticatedRequest
from patients import access

PAGE_SIZE = 50
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: object) -> object:
    """Text a spreadsheet would read as a formula gets a leading quote (OWASP ASVS V1.2.10)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value


@login_required
def event_listing(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    params = request.GET.dict()
    bound, events, sort = listing(site_obj, params)
    fmt = params.get("format")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LISTING_HEADER)
        for event in events:
            writer.writerow([_safe(v) for v in listing_row(event)])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="pvtrack-ae-listing-{site_obj.slug}.csv"'
        return response
    if fmt == "xlsx":
        output = io.BytesIO()
        book = xlsxwriter.Workbook(output, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
        sheet = book.add_worksheet("AE listing")
        sheet.write_row(0, 0, LISTING_HEADER, book.add_format({"bold": True}))
        for r, event in enumerate(events, start=1):
            sheet.write_row(r, 0, [_safe(v) for v in listing_row(event)])
        book.close()
        response = HttpResponse(output.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="pvtrack-ae-listing-{site_obj.slug}.xlsx"'
        return response
    page = Paginator(events, PAGE_SIZE).get_page(params.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    return render(request, "ae/event_listing.html", {
        "site": site_obj, "filter": bound, "page": page, "sort": sort, "sorts": list(SORTS),
        "query": query.urlencode(), "total": page.paginator.count})
