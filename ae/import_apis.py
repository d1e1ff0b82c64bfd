"""``POST /api/v1/sites/<site>/ae-imports/``: import adverse events from an uploaded file (docs/import.md).

Multipart form: ``file`` (the CSV template, a REDCap raw CSV export or CDISC ODM 1.3 XML), ``file_source`` (csv,
redcap_csv, odm), ``mapping`` (name of the ward's saved mapping, optional), ``dry_run`` (true/false). A dry run
answers 200 with the report; an import without errors answers 201; an import with any bad row saves nothing and
answers 400 ``invalid`` with the report's rows in the ``rows`` member.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ae.models import ImportMapping
from ae.services.imports import ImportFileError, ImportReport, adverse_events_import
from core.errors import PROBLEM_JSON, DomainError
from core.openapi import ProblemSerializer
from patients import access


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line of the row in a CSV file (header = 1), or ordinal of the "
                                              "ODM ItemGroupData.")
    status = serializers.ChoiceField(choices=["created", "unchanged", "error"],
                                     help_text="created (or, in a dry run, would be created), already recorded, "
                                               "error")
    messages = serializers.ListField(child=serializers.CharField(), help_text="What is wrong, in the form's words.")
    event_id = serializers.IntegerField(allow_null=True)


class ImportReportSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    dry_run = serializers.BooleanField()
    committed = serializers.BooleanField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rows_with_errors = serializers.IntegerField()
    rows = ImportRowSerializer(many=True)


def _body(report: ImportReport) -> dict:
    return {"sha256": report.sha256, "dry_run": report.dry_run, "committed": report.committed,
            "created": report.count("created"), "unchanged": report.count("unchanged"),
            "rows_with_errors": report.count("error"),
            "rows": [{"line": r.line, "status": r.status, "messages": r.errors, "event_id": r.event_id}
                     for r in report.rows]}


class AdverseEventImportApi(APIView):
    """Check (dry_run) or import adverse events from an uploaded file, all rows or none."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        file_source = serializers.ChoiceField(choices=ImportMapping.Source.choices, default="csv")
        mapping = serializers.CharField(required=False, allow_blank=True, default="")
        dry_run = serializers.BooleanField(default=True)

    @extend_schema(request={"multipart/form-data": InputSerializer},
                   responses={200: ImportReportSerializer, 201: ImportReportSerializer,
                              (400, PROBLEM_JSON): OpenApiResponse(
                                  ProblemSerializer, description="invalid: a bad row (the report in `rows`), an "
                                                                 "unreadable file or an unknown mapping")},
                   operation_id="sites_ae_imports_create")
    def post(self, request, site: str) -> Response:
        site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = None
        if data.validated_data["mapping"]:
            mapping = ImportMapping.objects.filter(site=site_obj, name=data.validated_data["mapping"]).first()
            if mapping is None:
                raise DomainError("No saved mapping of that name on this ward.",
                                  errors={"mapping": ["No saved mapping of that name on this ward."]})
        upload = data.validated_data["file"]
        try:
            report = adverse_events_import(site=site_obj, raw=upload.file, file_name=upload.name,
                                           dry_run=data.validated_data["dry_run"], acting_user=request.user,
                                           source=data.validated_data["file_source"], mapping=mapping)
        except ImportFileError as exc:
            raise DomainError(f"The file cannot be imported: {exc}.", errors={"file": [str(exc)]}) from exc
        body = _body(report)
        if report.count("error") and not report.dry_run:
            raise DomainError(f"Nothing was imported: {report.count('error')} row(s) have errors.",
                              extra={"rows": body["rows"]})
        return Response(body, status=status.HTTP_201_CREATED if report.committed else status.HTTP_200_OK)
