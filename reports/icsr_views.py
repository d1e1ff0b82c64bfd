"""Downloads of a signed SAE case version as the three reports that leave the ward: CIOMS I (PDF), ICH E2B(R3)
(XML) and FHIR AdverseEvent (JSON), each written by ``reports.icsr.<format>.render(snapshot) -> bytes`` from the
same frozen :class:`ae.sae.snapshot.CaseSnapshot` (docs/sae-cases.md). Here, not in ``ae``: ``ae`` may not import
``reports``. Scoped like the case (another site's case answers 404)."""

from __future__ import annotations

import importlib

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from ae.models import CaseVersion
from ae.sae.snapshot import CaseSnapshot
from ae.selectors import sae_cases_for
from core.types import AnyUser

#: file name -> (writer module, media type)
FORMATS = {
    "cioms.pdf": ("reports.icsr.cioms", "application/pdf"),
    "e2b.xml": ("reports.icsr.e2b", "application/xml"),
    "fhir.json": ("reports.icsr.fhir", "application/fhir+json"),
}


def icsr_render(user: AnyUser, case_pk: int, number: int, name: str) -> tuple[bytes, str, str]:
    """(content, media type, download file name) of version ``number`` of a case the user may see; Http404 for an
    unknown format, case or version, or while the writer module is not installed."""
    if name not in FORMATS:
        raise Http404("unknown report format")
    case = get_object_or_404(sae_cases_for(user), pk=case_pk)
    version = get_object_or_404(CaseVersion.objects.filter(case=case), number=number)
    module, media_type = FORMATS[name]
    try:
        writer = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Http404(f"the {name} writer is not installed") from exc
    content = writer.render(CaseSnapshot.from_dict(version.snapshot))
    return content, media_type, f"{case.reference}-v{number}-{name}"


@login_required
def icsr_download(request, pk: int, number: int, name: str) -> HttpResponse:
    content, media_type, filename = icsr_render(request.user, pk, number, name)
    response = HttpResponse(content, content_type=media_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class IcsrDownloadApi(APIView):
    """The same download for API clients (token authentication): the bytes of the report, not JSON."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int, number: int, name: str) -> HttpResponse:
        content, media_type, filename = icsr_render(request.user, pk, number, name)
        response = HttpResponse(content, content_type=media_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
