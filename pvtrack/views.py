"""The readable history of any audited record (pghistory events), scoped like the record itself."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from pghistory.models import Events

from ae.models import CRSAssessment, ICANSAssessment, LabResult
from patients import access
from reports.models import Flag

#: URL kind -> (label, queryset of the records this user may see).
RECORD_KINDS = {
    "patient": ("Patient", lambda user: access.patients_for(user)),
    "cycle": ("Treatment cycle", lambda user: access.cycles_for(user)),
    "adverse-event": ("Adverse event", lambda user: access.adverse_events_for(user)),
    "crs-assessment": ("CRS assessment", lambda user: CRSAssessment.objects.filter(
        adverse_event__in=access.adverse_events_for(user))),
    "icans-assessment": ("ICANS assessment", lambda user: ICANSAssessment.objects.filter(
        adverse_event__in=access.adverse_events_for(user))),
    "lab-result": ("Lab result", lambda user: LabResult.objects.filter(patient__in=access.patients_for(user))),
    "flag": ("Benchmark flag", lambda user: Flag.objects.filter(run__site__in=access.sites_for(user))),
}


@login_required
def record_history(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Every insert, update and delete of one record, oldest first: when (UTC), who, from where, why, old → new."""
    if kind not in RECORD_KINDS:
        raise Http404("unknown record kind")
    label, queryset = RECORD_KINDS[kind]
    record = get_object_or_404(queryset(request.user), pk=pk)
    events = list(Events.objects.tracks(record).order_by("pgh_created_at", "pgh_id"))
    user_ids = {(e.pgh_context or {}).get("user") for e in events} - {None}
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    rows = [{
        "at": e.pgh_created_at, "what": e.pgh_label, "who": names.get((e.pgh_context or {}).get("user"), "—"),
        "source": (e.pgh_context or {}).get("source", "database (no application context)"),
        "reason": (e.pgh_context or {}).get("reason", ""),
        "changes": sorted((e.pgh_diff or {}).items()) if e.pgh_label != "insert" else [],
    } for e in events]
    return render(request, "history.html", {"label": label, "record": record, "rows": rows})
