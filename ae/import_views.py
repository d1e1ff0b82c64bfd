"""The import pages of a ward (docs/import.md): upload → mapping → dry run with per-row errors → commit.

``/sites/<site>/ae-imports/``: a file (CSV template, REDCap raw CSV export, CDISC ODM 1.3 XML), its source and a
saved mapping; "Check (dry run)" reports every row's errors in the form's words and saves nothing, "Import" saves
every row or — when any row is bad — none, and shows the same report. ``/sites/<site>/ae-imports/mapping/``: create
or replace a saved mapping (``ImportMapping``) of the ward. Only ward staff and administrators of the site
(``patients.access.RECORDERS``); another ward's pages answer 404. Every upload is sent again with each step (nothing
is kept on the server between steps).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from ae.models import ImportMapping
from ae.services.imports import COLUMNS, ImportFileError, adverse_events_import, import_mapping_save
from core.types import AuthenticatedRequest
from patients import access
from patients.models import Site

#: Largest upload accepted by the page (larger files: ``manage.py import_aes``, which streams from disk).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class ImportUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or CDISC ODM 1.3 XML.")
    file_source = forms.ChoiceField(label="Source", choices=ImportMapping.Source.choices,
                                    initial=ImportMapping.Source.CSV)
    mapping = forms.ModelChoiceField(queryset=ImportMapping.objects.none(), required=False, to_field_name="name",
                                     empty_label="none (the file uses pvtrack's template)")

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mapping"].queryset = ImportMapping.objects.filter(site=site).order_by("name")  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: import it with "
                                  "manage.py import_aes.")
        return upload


def _pairs(text: str, field: str) -> dict[str, str]:
    """``left = right`` per line → {left: right}; raises ValidationError naming the line."""
    pairs = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise ValidationError(f"line {number}: write 'source column = template column'.", code=field)
        pairs[left.strip()] = right.strip()
    return pairs


class ImportMappingForm(forms.Form):
    name = forms.CharField(max_length=100)
    source = forms.ChoiceField(choices=ImportMapping.Source.choices)
    columns = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False,
                              help_text=f"One per line: source column = template column ({', '.join(COLUMNS)}).")
    constants = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                help_text="Template columns the source lacks, one per line: column = value "
                                          "(e.g. cycle = 1).")
    row_filter = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                 help_text="Only rows with these values, one per line: source column = value "
                                           "(e.g. redcap_repeat_instrument = adverse_events).")
    values = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                             help_text='Coded values as JSON, per template column: {"relatedness": {"1": '
                                       '"not_related", "3": "possible"}}.')

    def clean_columns(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["columns"], "columns")

    def clean_constants(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["constants"], "constants")

    def clean_row_filter(self) -> dict[str, str]:
        return _pairs(self.cleaned_data["row_filter"], "row_filter")

    def clean_values(self) -> dict[str, dict[str, str]]:
        text = self.cleaned_data["values"].strip()
        try:
            values = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON: {exc.msg} (line {exc.lineno})") from exc
        if not (isinstance(values, dict) and all(isinstance(v, dict) for v in values.values())):
            raise ValidationError('write {"template column": {"code": "value", …}, …}')
        return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in values.items()}


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


@login_required
def ae_import_mapping(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = _recording_site(request, site)
    if request.method == "POST":
        form = ImportMappingForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                mapping = import_mapping_save(site=site_obj, name=data["name"], source=data["source"],
                                              columns=data["columns"], values=data["values"],
                                              constants=data["constants"], row_filter=data["row_filter"],
                                              acting_user=request.user)
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                return redirect(f"{reverse('ae-import', args=[site_obj.slug])}?mapping={mapping.name}")
    else:
        saved = ImportMapping.objects.filter(site=site_obj, name=request.GET.get("name", "")).first()
        initial = {}
        if saved is not None:
            initial = {"name": saved.name, "source": saved.source,
                       "columns": "\n".join(f"{k} = {v}" for k, v in saved.columns.items()),
                       "constants": "\n".join(f"{k} = {v}" for k, v in saved.constants.items()),
                       "row_filter": "\n".join(f"{k} = {v}" for k, v in saved.row_filter.items()),
                       "values": json.dumps(saved.values, indent=1) if saved.values else ""}
        form = ImportMappingForm(initial=initial)
    return render(request, "ae/ae_import_mapping.html", {"site": site_obj, "form": form})
