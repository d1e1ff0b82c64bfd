"""Safety officer pages: benchmark report, drill-down to events, flag review; AE table exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ae.selectors import grade_discrepancies_open, serious_events
from core.types import AuthenticatedRequest
from patients import access
from reports import plots
from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS, GRADE_BANDS
from reports.exports import csv_lines, xlsx_bytes
from reports.models import BenchmarkCategory
from reports.selectors import benchmark_staleness, cell_events, flags_for, latest_run, runs_for, runs_waiting
from reports.signatures import FLAG_REVIEW_MEANING, RUN_SIGNOFF_MEANING, flag_review, results_sha256, run_signoff


@login_required
def report(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    run = latest_run(site_obj)
    waiting = runs_waiting(site_obj)
    flags = run.flags.select_related("category", "reviewed_by") if run else []
    cells = (run.results or {}).get("cells", []) if run else []
    flagged_plots = [dict(zip(("forest", "funnel"), plots.cell_svgs(c), strict=True), cell=c)
                     for c in cells if c.get("flag") and c.get("pooled")]
    in_progress = waiting.order_by("-started_at").first()
    return render(request, "reports/report.html", {
        "site": site_obj, "run": run, "cells": cells, "flagged_plots": flagged_plots,
        "in_progress": in_progress,
        "flags": flags, "waiting": in_progress is not None, "staleness": benchmark_staleness(site_obj),
        "can_review": access.can_review(request.user, site_obj),
        "band_labels": GRADE_BAND_LABELS, "scope_labels": CYCLE_SCOPES,
        "quality_queries": grade_discrepancies_open(site=site_obj),
        "serious_events": serious_events(site=site_obj),
        "flag_meaning": FLAG_REVIEW_MEANING, "signoff_meaning": RUN_SIGNOFF_MEANING,
        "signoffs": [(s, s.signed_results_sha256 == results_sha256(run)) for s in run.signoffs.all()] if run else [],
    })


@login_required
def drilldown(request: AuthenticatedRequest, site: str, category: str, band: str, scope: str) -> HttpResponse:
    """The ward's events behind one benchmark number (treatment-emergent, terms of the category, band)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    category_obj = get_object_or_404(BenchmarkCategory, slug=category)
    if band not in GRADE_BANDS or scope not in CYCLE_SCOPES:
        raise Http404("unknown grade band or cycle scope")
    events = cell_events(request.user, site=site_obj, category=category_obj, band=band, scope=scope)
    return render(request, "reports/drilldown.html", {
        "site": site_obj, "category": category_obj, "band": GRADE_BAND_LABELS[band], "scope": CYCLE_SCOPES[scope],
        "events": events, "n_patients": len({e.patient_id for e in events})})


@login_required
def cell_plots(request: AuthenticatedRequest, site: str, category: str, band: str, scope: str) -> HttpResponse:
    """One benchmark cell of the latest run in detail: forest and funnel plots, cohorts with two-step
    weights, case mix and the sequential boundary (site scoped like the report)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    if band not in GRADE_BANDS or scope not in CYCLE_SCOPES:
        raise Http404("unknown grade band or cycle scope")
    run = latest_run(site_obj)
    cell = next((c for c in ((run.results or {}).get("cells", []) if run else [])
                 if (c["category"], c["grade_band"], c["cycle_scope"]) == (category, band, scope)), None)
    if cell is None:
        raise Http404("no such benchmark cell in the latest run")
    forest, funnel = plots.cell_svgs(cell) if cell.get("pooled") else (None, None)
    weights = {w["cohort"]: w["weight"] for w in (cell.get("two_step") or {}).get("weights", [])}
    return render(request, "reports/plots.html", {
        "site": site_obj, "run": run, "cell": cell, "band": GRADE_BAND_LABELS[band], "scope": CYCLE_SCOPES[scope],
        "forest": forest, "funnel": funnel,
        "cohorts": [c | {"weight": weights.get(c["cohort"])} for c in cell["cohorts"]],
    })


@login_required
@require_POST
@sensitive_post_parameters("password")
def flag_review_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    flag = get_object_or_404(flags_for(request.user)
                             .select_related("run__site"), pk=pk)
    try:
        flag_review(flag=flag, acting_user=request.user, comment=request.POST.get("comment", ""),
                    password=request.POST.get("password", ""), request=request)
    except PermissionDenied:
        messages.error(request, "Only a safety officer of this site can review flags.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Flag reviewed and signed.")
    return redirect("report", site=flag.run.site.slug)


@login_required
@require_POST
@sensitive_post_parameters("password")
def run_signoff_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(runs_for(request.user)
                            .select_related("site"), pk=pk)
    try:
        run_signoff(run=run, acting_user=request.user, password=request.POST.get("password", ""),
                    comment=request.POST.get("comment", ""), request=request)
    except PermissionDenied:
        messages.error(request, "Only a safety officer of this site can sign benchmark runs.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Benchmark run {run.pk} signed.")
    return redirect("report", site=run.site.slug)


@login_required
def export_ae_table(request: AuthenticatedRequest, site: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    filename = f"pvtrack-ae-table-{site_obj.slug}"
    if fmt == "csv":
        stream = StreamingHttpResponse(csv_lines(site_obj), content_type="text/csv; charset=utf-8")
        stream["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return stream
    if fmt == "xlsx":
        response = HttpResponse(xlsx_bytes(site_obj),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    raise Http404("unknown format")
