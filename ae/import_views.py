"""The import pages of a ward (docs/import.md): upload → mapping → dry run with per-row errors → commit.

``/sites/<site>/ae-imports/``: a file (CSV template, REDCap raw CSV export, CDISC ODM 1.3 XML), its source and a
saved mapping; "Check (dry run)" reports every row's errors in the form's words and saves nothing, "Import" saves
every row or — when any row is bad — none, and shows the same report. ``/sites/<site>/ae-imports/mapping/``: create
or replace a saved mapping (``ImportMapping``) of the ward, by picking, per template column, a column of a sample
file (only its header or ODM item OIDs are read: ``ae.import_columns``) or as text. Only ward staff and
administrators of the site (``patients.access.RECORDERS``); another ward's pages answer 404. Every upload is sent
again with each step (nothing is kept on the server between steps; the picker carries the sample's column names).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from ae.import_columns import SampleColumn, SampleFileError, sample_columns, suggest_mapping
from ae.import_forms import (
    PICK_COLUMN,
    PICK_CONSTANT,
    ColumnPickerForm,
    ImportMappingForm,
    ImportUploadForm,
    SampleFileForm,
    options_json,
    parse_options,
)
from ae.models import ImportMapping
from ae.services.imports import COLUMNS, ImportFileError, adverse_events_import, import_mapping_save
from core.forms import add_service_errors
from core.types import AuthenticatedRequest
from patients import access
from patients.models import Site


def _recording_site(request: AuthenticatedRequest, site: str) -> Site:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    access.require_role(request.user, site_obj, access.RECORDERS)
    return site_obj


@login_required
def ae_import(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = _recording_site(request, site)
    report = None
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES, site=site_obj)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = adverse_events_import(
                    site=site_obj, raw=upload.file, file_name=upload.name, acting_user=request.user,
                    dry_run=request.POST.get("action") != "import", source=form.cleaned_data["file_source"],
                    mapping=form.cleaned_data["mapping"])
            except ImportFileError as exc:
                form.add_error("file", str(exc))
    else:
        form = ImportUploadForm(site=site_obj, initial={"mapping": request.GET.get("mapping")})
    errors = [r for r in report.rows if r.status == "error"] if report else []
    counts = {s: report.count(s) for s in ("created", "unchanged", "error")} if report else {}
    return render(request, "ae/ae_import.html", {"site": site_obj, "form": form, "report": report, "errors": errors,
                                                 "counts": counts,
                                                 "mappings": ImportMapping.objects.filter(site=site_obj)
                                                 .order_by("name")})


def _text_initial(saved: ImportMapping | None) -> dict[str, Any]:
    if saved is None:
        return {}
    return {"name": saved.name, "source": saved.source,
            "columns": "\n".join(f"{k} = {v}" for k, v in saved.columns.items()),
            "constants": "\n".join(f"{k} = {v}" for k, v in saved.constants.items()),
            "row_filter": "\n".join(f"{k} = {v}" for k, v in saved.row_filter.items()),
            "values": json.dumps(saved.values, indent=1) if saved.values else ""}


def _picker(columns: list[SampleColumn], source: str, file_name: str, saved: ImportMapping | None
            ) -> ColumnPickerForm:
    """The picker for a sample's ``columns``, pre-selected by the ``saved`` mapping, else by name."""
    saved_columns = saved.columns if saved else {}
    saved_constants = saved.constants if saved else {}
    names = [c.name for c in columns]
    # a column the saved mapping fills with a constant keeps it, rather than a column suggested by its name
    template = [c for c in COLUMNS if c not in saved_constants or c in saved_columns.values()]
    suggested = suggest_mapping(template, names, saved_columns)
    missing = [s for s in dict.fromkeys(suggested.values()) if s not in names]
    options = [(c, True) for c in columns] + [(SampleColumn(s), False) for s in missing]
    initial: dict[str, Any] = {"name": saved.name if saved else "", "source": source, "sample_file": file_name,
                               "options": options_json(options)}
    for column in COLUMNS:
        if column in suggested:
            initial[f"pick_{column}"] = f"{PICK_COLUMN}{suggested[column]}"
        elif column in saved_constants:
            initial[f"pick_{column}"] = PICK_CONSTANT
        if column in saved_constants:
            initial[f"constant_{column}"] = saved_constants[column]
    if saved is not None:
        initial |= {"row_filter": "\n".join(f"{k} = {v}" for k, v in saved.row_filter.items()),
                    "values": json.dumps(saved.values, indent=1) if saved.values else ""}
    return ColumnPickerForm(initial=initial, options=options, constant_columns=set(saved_constants))


def _save(form: ImportMappingForm | ColumnPickerForm, site: Site, request: AuthenticatedRequest) -> bool:
    """Save the form's mapping with the service; its refusals land on the form. Whether it was saved."""
    data = form.cleaned_data
    try:
        import_mapping_save(site=site, name=data["name"], source=data["source"], acting_user=request.user,
                            **form.mapping())
    except ValidationError as exc:
        add_service_errors(form, exc)
        return False
    return True


@login_required
def ae_import_mapping(request: AuthenticatedRequest, site: str) -> HttpResponse:
    """The mapping page: read a sample file's columns (``action=read``; the upload page sends its form here with
    "Map this file's columns"), pick a column per template column (``action=pick``), or write the mapping as text
    (any other POST). Each way saves with ``import_mapping_save`` and returns to the upload page."""
    site_obj = _recording_site(request, site)
    saved = ImportMapping.objects.filter(site=site_obj, name=request.GET.get("name", "")).first()
    text_form = ImportMappingForm(initial=_text_initial(saved), auto_id="id_text_%s")
    sample_form = SampleFileForm(site=site_obj, initial={"mapping": saved.name if saved else None,
                                                         "file_source": saved.source if saved else None})
    picker: ColumnPickerForm | None = None
    problem = ""
    action = request.POST.get("action", "text")
    if request.method == "POST" and action == "read":
        sample_form = SampleFileForm(request.POST, request.FILES, site=site_obj)
        if sample_form.is_valid():
            upload, source = sample_form.cleaned_data["file"], sample_form.cleaned_data["file_source"]
            try:
                columns = sample_columns(upload.file, source)
            except SampleFileError as exc:
                sample_form.add_error("file", str(exc))
            else:
                picker = _picker(columns, source, upload.name, sample_form.cleaned_data["mapping"])
    elif request.method == "POST" and action == "pick":
        try:
            options = parse_options(request.POST.get("options", ""))
        except ValidationError as exc:
            problem = exc.messages[0]
        else:
            constant_columns = {k.removeprefix("constant_") for k, v in request.POST.items()
                                if k.startswith("constant_") and k.removeprefix("constant_") in COLUMNS}
            picker = ColumnPickerForm(request.POST, options=options, constant_columns=constant_columns)
            if picker.is_valid() and _save(picker, site_obj, request):
                return _saved(site_obj, picker)
    elif request.method == "POST":
        text_form = ImportMappingForm(request.POST, auto_id="id_text_%s")
        if text_form.is_valid() and _save(text_form, site_obj, request):
            return _saved(site_obj, text_form)
    return render(request, "ae/ae_import_mapping.html", {"site": site_obj, "sample_form": sample_form,
                                                         "picker": picker, "form": text_form,
                                                         "problem": problem})


def _saved(site: Site, form: Form) -> HttpResponse:
    return redirect(f"{reverse('ae-import', args=[site.slug])}?{urlencode({'mapping': form.cleaned_data['name']})}")
