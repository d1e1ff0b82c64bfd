"""Safety officer pages: benchmark report, history of runs and each run, drill-down to events, flag review and
run sign-off; AE table exports."""

from __future__ import annotations

import tempfile
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from ae.selectors import grade_discrepancies_open, overdue_sae_cases, records_after_death, serious_events
from core.errors import validation_errors
from core.otp import SESSION_STEP_KEY
from core.types import AuthenticatedRequest
from patients import access
from patients.models import Site
from reports import network_plots, plots, report_plots
from reports.aet import aet_csv_lines, aet_xlsx_bytes
from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS, GRADE_BANDS
from reports.cdisc.export import cdisc_zip
from reports.cdisc.xpt import XptLimitError
from reports.exports import csv_lines, xlsx_write
from reports.flag_text import flag_message_for_reader
from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from reports.network import network_for_site, network_overview, shown_plots
from reports.plot_language import reader_language
from reports.report_table import benchmark_table_html
from reports.selectors import (
    FlagRow,
    benchmark_staleness,
    cell_events,
    flag_rows,
    flags_for,
    last_signed,
    latest_run,
    latest_run_id,
    report_run,
    runs_for,
    runs_waiting,
    signoffs_by_run,
    signoffs_with_validity,
)
from reports.selectors import run_history as run_history_of
from reports.signatures import (
    FLAG_REVIEW_MEANING,
    RUN_SIGNOFF_MEANING,
    flag_review,
    is_locked_out,
    run_signoff,
    signing_needs_code,
)

#: Open data-quality queries the report lists, oldest onset first (issue 12: every HTML list bounded).
QUALITY_QUERIES_SHOWN = 50


def _report_response(request: AuthenticatedRequest, site: Site, *, review: dict[str, Any] | None = None,
                     signoff: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    """The report of ``site``'s latest finished run. ``review``/``signoff``: a refused signature to show again at
    its form — {"flag" | "run": pk, "comment": text kept, "errors": {"comment" | "password" | "non_field_errors":
    [messages]}}; the page is then answered with ``status`` (400)."""
    run = report_run(site)
    # The site's runs still pending or running (at most one pending), newest start first (a pending one, not started,
    # first); without their JSON columns.
    waiting = list(runs_waiting(site).defer("inputs", "results").order_by("-started_at"))
    cells = (run.results or {}).get("cells", []) if run else []
    shown = [c for c in cells if c.get("flag") and plots.plotted(c)]
    quality = list(grade_discrepancies_open(site=site)[:QUALITY_QUERIES_SHOWN + 1])  # bounded (issue 12)
    after_death = records_after_death(site=site, limit=QUALITY_QUERIES_SHOWN)
    flagged_plots = [report_plots.cell_images(site, c) | {"cell": c} for c in shown]  # <img>: no SVG in the page
    in_progress = waiting[0] if waiting else None
    signed = last_signed(site, run)
    rows = flag_rows(run) if run else []
    page_errors: list[str] = []
    if review is not None and run is not None:
        review = _review_on_current_flag(review, rows, run, page_errors)
    if signoff is not None and run is not None and signoff["run"] != run.pk:
        signoff["errors"].setdefault("non_field_errors", []).append(
            f"The benchmark was rerun since you opened this page: run {run.pk} is shown now — check it before "
            f"signing.")
    run_inputs = run.report_inputs if run else {}  # type: ignore[attr-defined]  # annotated by report_run
    return render(request, "reports/report.html", {
        "site": site, "run": run, "run_inputs": run_inputs, "cells": cells,
        "benchmark_table": benchmark_table_html(site=site, run=run, run_inputs=run_inputs, cells=cells,
                                                editable=True) if run else "",
        "flagged_plots": flagged_plots,
        **_network_context(request, site, run),
        "in_progress": in_progress, "rows": rows, "editable": True,
        "waiting": in_progress is not None, "staleness": benchmark_staleness(site, (run, waiting)),
        "can_review": access.can_review(request.user, site),
        "signing_needs_code": _signing_needs_code(request),
        "band_labels": {k: _(v) for k, v in GRADE_BAND_LABELS.items()},
        "scope_labels": {k: _(v) for k, v in CYCLE_SCOPES.items()},
        "quality_queries": quality[:QUALITY_QUERIES_SHOWN], "quality_shown": QUALITY_QUERIES_SHOWN,
        "quality_more": len(quality) > QUALITY_QUERIES_SHOWN, "records_after_death": after_death,
        "serious_events": serious_events(site=site),
        "overdue_cases": overdue_sae_cases(request.user, site, timezone.now()),
        "flag_meaning": _(FLAG_REVIEW_MEANING), "signoff_meaning": _(RUN_SIGNOFF_MEANING),
        "last_signed": signed,
        "signoffs": (signed.signoffs if signed and signed.is_latest else signoffs_with_validity(run)) if run else [],
        "review": review, "signoff": signoff, "page_errors": page_errors,
    }, status=status)


def _network_context(request: AuthenticatedRequest, site: Site, run: BenchmarkRun | None) -> dict[str, Any]:
    """The report's comparison with the network's wards (names as ``patients.access.named_sites`` allows) and its
    CUSUM, exposure rates and entry lag (the run's results["monitoring"]), with their plots (issue 17)."""
    if run is None:
        return {"network": [], "network_plots": [], "monitoring": None, "cusum_plots": []}
    comparisons = network_for_site(site, request.user)
    funnels = shown_plots(comparisons)
    monitoring = (run.results or {}).get("monitoring")
    charts = network_plots.shown_cusums(monitoring)
    language = reader_language()  # the plots drawn in the reader's language (reports.plot_language)
    return {"network": comparisons, "own_column": True,
            "network_plots": [{"comparison": c,
                               "image": report_plots.chart_image(site, network_plots.funnel_payload(c, language))}
                              for c in funnels],
            "monitoring": monitoring,
            "cusum_plots": [{"chart": c,
                             "image": report_plots.chart_image(site, network_plots.cusum_payload(c, language))}
                            for c in charts]}


@login_required
def network(request: AuthenticatedRequest) -> HttpResponse:
    """The network coordinator's page: every comparison of the installation's wards, every ward named. Anyone who
    is not a network coordinator gets 404 (like a site they hold no role on)."""
    comparisons = network_overview(request.user)
    if comparisons is None:
        raise Http404("No network comparison for you.")
    funnels = shown_plots(comparisons, limit=8)
    drawn = network_plots.svgs([network_plots.funnel_payload(c, reader_language()) for c in funnels])
    return render(request, "reports/network.html", {
        "network": comparisons, "coordinator": True, "own_column": False,
        "network_plots": [{"comparison": c, "svg": s} for c, s in zip(funnels, drawn, strict=True)]})


def _signing_needs_code(request: AuthenticatedRequest) -> bool:
    """Whether the signature forms ask for the authenticator code; from the session (no query): a verified session
    has an authenticator, an unverified one knows its second-factor step from the login."""
    if getattr(request.user, "is_verified", lambda: False)():
        return True
    step = request.session.get(SESSION_STEP_KEY)
    return bool(step) if step is not None else signing_needs_code(request.user)


def _review_on_current_flag(review: dict[str, Any], rows: list[FlagRow], run: BenchmarkRun,
                            page_errors: list[str]) -> dict[str, Any] | None:
    """A refused review of a flag of an older run (the page was opened before a newer run was stored) is shown
    at the latest run's flag of the same comparison, or, if the latest run has none, at the top of the page."""
    flag: Flag = review.pop("flag_obj")
    if flag.run_id == run.pk:
        return review
    key = (flag.kind, flag.category_id, flag.grade_band, flag.cycle_scope)
    current = next((r.flag for r in rows
                    if (r.flag.kind, r.flag.category_id, r.flag.grade_band, r.flag.cycle_scope) == key), None)
    if current is None:
        page_errors.append(f"Your review of a flag of run {flag.run_id} was not signed "
                           f"({' '.join(m for ms in review['errors'].values() for m in ms)}); the latest run "
                           f"{run.pk} no longer flags that comparison. Your comment was: “{review['comment']}”")
        return None
    review["errors"].setdefault("non_field_errors", []).append(
        f"The benchmark was rerun since you opened this page: this is that comparison in run {run.pk}.")
    return review | {"flag": current.pk}


@login_required
def report(request: AuthenticatedRequest, site: str) -> HttpResponse:
    """The safety officer's report of the site's latest finished run: flags (with carried-over reviews and what
    changed since an earlier review), plots, sign-off (and what changed since the last signed run), table."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    return _report_response(request, site_obj)


RUNS_PER_PAGE = 20


@login_required
def run_history(request: AuthenticatedRequest, site: str) -> HttpResponse:
    """The site's benchmark runs, newest first, 20 a page: time, trigger, status, flags (signed / carried /
    open) and sign-offs (valid / INVALID)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    page = Paginator(run_history_of(site_obj), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    runs = list(page.object_list)
    signoffs = signoffs_by_run(runs)
    return render(request, "reports/run_history.html", {
        "site": site_obj, "page": page, "latest_id": latest_run_id(site_obj),
        "rows": [(r, signoffs.get(r.pk, [])) for r in runs]})


@login_required
def run_detail(request: AuthenticatedRequest, site: str, pk: int) -> HttpResponse:
    """One benchmark run of the site as stored: its flags with their reviews, its sign-offs, its table."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    run = get_object_or_404(site_obj.benchmark_runs, pk=pk)
    done = run.status == BenchmarkRun.Status.DONE
    return render(request, "reports/run_detail.html", {
        "site": site_obj, "run": run, "run_inputs": run.inputs or {}, "latest_id": latest_run_id(site_obj),
        "editable": False,
        "rows": flag_rows(run) if done else [], "signoffs": signoffs_with_validity(run) if done else [],
        "cells": (run.results or {}).get("cells", []), "band_labels": GRADE_BAND_LABELS,
        "scope_labels": CYCLE_SCOPES})


@login_required
def drilldown(request: AuthenticatedRequest, site: str, category: str, band: str, scope: str) -> HttpResponse:
    """The ward's events behind one benchmark number (treatment-emergent, terms of the category, band)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    category_obj = get_object_or_404(BenchmarkCategory, slug=category)
    if band not in GRADE_BANDS or scope not in CYCLE_SCOPES:
        raise Http404("unknown grade band or cycle scope")
    events = cell_events(request.user, site=site_obj, category=category_obj, band=band, scope=scope)
    return render(request, "reports/drilldown.html", {
        "site": site_obj, "category": category_obj, "band": _(GRADE_BAND_LABELS[band]), "scope": _(CYCLE_SCOPES[scope]),
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
    images = report_plots.cell_images(site_obj, cell) if plots.plotted(cell) else None
    weights = {w["cohort"]: w["weight"] for w in (cell.get("two_step") or {}).get("weights", [])}
    return render(request, "reports/plots.html", {
        "site": site_obj, "run": run, "cell": cell, "band": _(GRADE_BAND_LABELS[band]), "scope": _(CYCLE_SCOPES[scope]),
        "images": images,
        "flag_message": flag_message_for_reader(cell["flag"]["message"], cell["flag"]["level"], cell)
        if cell.get("flag") else "",
        "cohorts": [c | {"weight": weights.get(c["cohort"])} for c in cell["cohorts"]],
    })


#: A plot's URL names its content (the key is the SHA-256 of what it draws): the browser may keep it a year without
#: asking again. ``private``: it is a ward's page content (rates, counts), never for a shared cache.
PLOT_CACHE_CONTROL = "private, max-age=31536000, immutable"


@login_required
def report_plot(request: AuthenticatedRequest, site: str, key: str, kind: str) -> HttpResponse:
    """One stored plot of the site's report as ``image/svg+xml`` (``reports.report_plots``): 404 unless the site's
    report shows it to this user (site scoped like the report); cached by the browser under its content-addressed
    URL (ETag: the key and kind; ``If-None-Match`` answers 304)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    svg = report_plots.shown_plot_svg(site=site_obj, user=request.user, key=key, kind=kind)
    if svg is None:
        raise Http404("no such plot on this site's report")
    etag = f'"{key}-{kind}"'
    response: HttpResponse = (HttpResponseNotModified() if etag in request.headers.get("If-None-Match", "")
                              else HttpResponse(svg, content_type="image/svg+xml; charset=utf-8"))
    response["ETag"] = etag
    response["Cache-Control"] = PLOT_CACHE_CONTROL
    return response


@login_required
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "otp_code")
def flag_review_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Sign a flag's review. Signed: back to the report (POST/redirect/GET). Refused (wrong password, blank
    comment, reviewed meanwhile): the report again with status 400 (429 when the login throttle refused it, saying
    why), the comment kept in its field and the error next to the field it is about. GET (where the login page
    sends an officer whose session ended as they signed): the report, where the form is (its comment comes back
    there, static/forms.js)."""
    flag = get_object_or_404(flags_for(request.user)
                             .select_related("run__site"), pk=pk)
    if request.method == "GET":
        return redirect("report", site=flag.run.site.slug)
    comment = request.POST.get("comment", "")
    try:
        flag_review(flag=flag, acting_user=request.user, comment=comment,
                    password=request.POST.get("password", ""), otp_code=request.POST.get("otp_code", ""),
                    request=request)
    except PermissionDenied:
        messages.error(request, _("Only a safety officer of this site can review flags."))
    except ValidationError as exc:
        return _report_response(request, flag.run.site, status=429 if is_locked_out(exc) else 400, review={
            "flag": flag.pk, "flag_obj": flag, "comment": comment, "errors": validation_errors(exc)})
    else:
        messages.success(request, _("Flag reviewed and signed."))
    return redirect("report", site=flag.run.site.slug)


@login_required
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "otp_code")
def run_signoff_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Sign a benchmark run. Signed: back to the report. Refused (wrong password, signed already, also by a
    concurrent request): the report again with status 400 (429 when the login throttle refused it, saying why),
    the comment kept and the error at the form. GET (after a new login): the report, as for a flag's review."""
    run = get_object_or_404(runs_for(request.user)
                            .select_related("site"), pk=pk)
    if request.method == "GET":
        return redirect("report", site=run.site.slug)
    comment = request.POST.get("comment", "")
    try:
        run_signoff(run=run, acting_user=request.user, password=request.POST.get("password", ""),
                    comment=comment, otp_code=request.POST.get("otp_code", ""), request=request)
    except PermissionDenied:
        messages.error(request, _("Only a safety officer of this site can sign benchmark runs."))
    except ValidationError as exc:
        return _report_response(request, run.site, status=429 if is_locked_out(exc) else 400, signoff={
            "run": run.pk, "comment": comment, "errors": validation_errors(exc)})
    else:
        messages.success(request, _("Benchmark run %(run)s signed.") % {"run": run.pk})
    return redirect("report", site=run.site.slug)


@login_required
def export_ae_table(request: AuthenticatedRequest, site: str, fmt: str) -> StreamingHttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    filename = f"pvtrack-ae-table-{site_obj.slug}"
    if fmt == "csv":
        stream = StreamingHttpResponse(csv_lines(site_obj), content_type="text/csv; charset=utf-8")
        stream["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return stream
    if fmt == "xlsx":  # written in constant_memory mode to a temporary file, then sent in blocks
        output = tempfile.TemporaryFile()  # noqa: SIM115  # closed by FileResponse
        xlsx_write(site_obj, output)
        output.seek(0)
        return FileResponse(output, as_attachment=True, filename=f"{filename}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    raise Http404("unknown format")


@login_required
def export_aet(request: AuthenticatedRequest, site: str, fmt: str) -> HttpResponse:
    """AET01/AET02/AET04 download (CSV long form or XLSX with numeric cells) of a site the user holds a role on."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    name = f"pvtrack-aet-{site_obj.slug}"
    if fmt == "csv":
        response = HttpResponse("".join(aet_csv_lines(site_obj)), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(aet_xlsx_bytes(site_obj),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        raise Http404("unknown format")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
def export_cdisc(request: AuthenticatedRequest, site: str, kind: str, fmt: str) -> HttpResponse:
    """SDTM or ADaM ZIP (datasets + define.xml) of a site the user holds a role on; a value XPORT v5 cannot hold
    answers 409 with the message naming the variable (Dataset-JSON has no such limit)."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    if kind not in ("sdtm", "adam") or fmt not in ("xpt", "json"):
        raise Http404("unknown export")
    try:
        body = cdisc_zip(site_obj, kind=kind, file_format=fmt)  # type: ignore[arg-type]
    except XptLimitError as exc:
        return HttpResponse(f"{exc}. Correct the record, or download Dataset-JSON instead.", status=409,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="pvtrack-{kind}-{site_obj.slug}-{fmt}.zip"'
    return response
