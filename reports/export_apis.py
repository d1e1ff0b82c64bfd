"""REST downloads of a site's CDISC datasets (``GET /api/v1/sites/<site>/sdtm/`` and ``.../adam/``) and safety
tables (``GET /api/v1/sites/<site>/tables/aet/``).

Scoped through the access layer (a site the user holds no role on answers 404, as any record of it would). The
answer is a ZIP archive: the datasets (XPORT v5 or Dataset-JSON v1.1), ``define.xml`` and a README saying which
MedDRA version coded the PTs, or that none did (the API cannot take a MedDRA release: use the commands with
``--meddra``).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.views import APIView

from core.errors import PROBLEM_JSON, ConflictError
from core.openapi import ProblemSerializer
from patients import access
from reports.aet import aet_csv_lines, aet_xlsx_bytes
from reports.cdisc.export import Kind, cdisc_zip
from reports.cdisc.xpt import XptLimitError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _CdiscExportApi(APIView):
    permission_classes = [permissions.IsAuthenticated]
    kind: Kind = "sdtm"

    class QuerySerializer(serializers.Serializer):
        file_format = serializers.ChoiceField(choices=["xpt", "json"], default="xpt")

    def get(self, request, site: str) -> HttpResponse:
        site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["file_format"]
        try:
            body = cdisc_zip(site_obj, kind=self.kind, file_format=fmt)
        except XptLimitError as exc:
            raise ConflictError(f"{exc}. Correct the record, or export Dataset-JSON (file_format=json), which "
                                "has no such limit.") from exc
        response = HttpResponse(body, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="pvtrack-{self.kind}-{site_obj.slug}-{fmt}.zip"'
        return response


_PARAMS = [OpenApiParameter("file_format", str, enum=["xpt", "json"], default="xpt",
                            description="xpt: SAS XPORT v5; json: CDISC Dataset-JSON v1.1")]
_RESPONSES = {
    (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="ZIP archive"),
    (400, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="file_format is not xpt or json (invalid)."),
    (409, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="A value XPORT v5 cannot hold (conflict); "
                                                                        "the detail names the variable and record."),
}


class SdtmExportApi(_CdiscExportApi):
    """The site's SDTM DM, AE, EX and LB with define.xml, as a ZIP archive. A value XPORT v5 cannot hold
    answers 409 naming the variable and record."""

    kind = "sdtm"

    @extend_schema(parameters=_PARAMS, responses=_RESPONSES, operation_id="sites_sdtm_retrieve")
    def get(self, request, site: str) -> HttpResponse:
        return super().get(request, site)


class AdamExportApi(_CdiscExportApi):
    """The site's ADaM ADAE with define.xml, as a ZIP archive. A value XPORT v5 cannot hold answers 409 naming
    the variable and record."""

    kind = "adam"

    @extend_schema(parameters=_PARAMS, responses=_RESPONSES, operation_id="sites_adam_retrieve")
    def get(self, request, site: str) -> HttpResponse:
        return super().get(request, site)


class AetTablesApi(APIView):
    """The site's AET01, AET02 and AET04 tables (patients with treatment-emergent adverse events): CSV in long
    form (one count per line: table, scope, N, soc, term, category, n, percent, grading_scale) or XLSX (one sheet
    per table, n, N and % in numeric cells)."""

    permission_classes = [permissions.IsAuthenticated]

    class QuerySerializer(serializers.Serializer):
        file_format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, enum=["csv", "xlsx"], default="csv")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, long form"),
                   (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX workbook"),
                   (400, PROBLEM_JSON): OpenApiResponse(ProblemSerializer,
                                                        description="file_format is not csv or xlsx (invalid).")},
        operation_id="sites_tables_aet_retrieve")
    def get(self, request, site: str) -> HttpResponse:
        site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        name = f"pvtrack-aet-{site_obj.slug}"
        if query.validated_data["file_format"] == "csv":
            response = HttpResponse("".join(aet_csv_lines(site_obj)), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        else:
            response = HttpResponse(aet_xlsx_bytes(site_obj), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
