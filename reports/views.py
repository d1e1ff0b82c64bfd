"""Safety officer pages: benchmark report, drill-down to events, flag review; AE table exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from patients import access
from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS, GRADE_BANDS
from reports.exports import csv_lines, xlsx_bytes
from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from reports.services import flag_review, latest_run


@login_required
def report(request: HttpRequest, site: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    run = latest_run(site_obj)
    waiting = site_obj.benchmark_runs.filter(status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING])
    failed = site_obj.benchmark_runs.filter(status=BenchmarkRun.Status.FAILED).first()
    flags = run.flags.select_related("category", "reviewed_by") if run else []
    return render(request, "reports/report.html", {
        "site": site_obj, "run": run, "cells": (run.results or {}).get("cells", []) if run else [],
        "flags": flags, "waiting": waiting.exists(), "failed": failed,
        "can_review": access.role_on(request.user, site_obj) in access.REVIEWERS,
        "band_labels": GRADE_BAND_LABELS, "scope_labels": CYCLE_SCOPES,
    })


@login_required
def drilldown(request: HttpRequest, site: str, category: str, band: str, scope: str) -> HttpResponse:
    """The ward's events behind one benchmark number (treatment-emergent, terms of the category, band)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    category_obj = get_object_or_404(BenchmarkCategory, slug=category)
    if band not in GRADE_BANDS or scope not in CYCLE_SCOPES:
        raise Http404("unknown grade band or cycle scope")
    events = (access.adverse_events_for(request.user).filter(
        patient__site=site_obj, present_before_cycle=False, term__in=category_obj.terms.all(),
        grade__gte=GRADE_BANDS[band]).select_related("patient", "cycle", "term").order_by("patient__study_id",
                                                                                          "onset_date"))
    if scope == "first":
        events = events.filter(cycle__number=1)
    return render(request, "reports/drilldown.html", {
        "site": site_obj, "category": category_obj, "band": GRADE_BAND_LABELS[band], "scope": CYCLE_SCOPES[scope],
        "events": events, "n_patients": len({e.patient_id for e in events})})


@login_required
@require_POST
def flag_review_view(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_object_or_404(Flag.objects.filter(run__site__in=access.sites_for(request.user))
                             .select_related("run__site"), pk=pk)
    try:
        flag_review(flag=flag, acting_user=request.user, comment=request.POST.get("comment", ""))
    except PermissionDenied:
        messages.error(request, "Only a safety officer of this site can review flags.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Flag marked reviewed.")
    return redirect("report", site=flag.run.site.slug)


@login_required
def export_ae_table(request: HttpRequest, site: str, fmt: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    filename = f"pvtrack-ae-table-{site_obj.slug}"
    if fmt == "csv":
        response = StreamingHttpResponse(csv_lines(site_obj), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(site_obj),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    raise Http404("unknown format")
