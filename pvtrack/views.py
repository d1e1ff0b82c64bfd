"""The readable history of any audited record (pghistory events), scoped like the record itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ae import selectors as ae_selectors
from core.audit import history_rows
from core.types import AnyUser, AuthenticatedRequest
from patients import selectors as patient_selectors
from reports import selectors as report_selectors

#: URL kind -> (label, queryset of the records this user may see).
RECORD_KINDS: dict[str, tuple[str | Promise, Callable[[AnyUser], QuerySet[Any]]]] = {
    "patient": (_("Patient"), patient_selectors.patients_for),
    "cycle": (_("Treatment cycle"), patient_selectors.cycles_for),
    "adverse-event": (_("Adverse event"), ae_selectors.adverse_events_for),
    "crs-assessment": (_("CRS assessment"), ae_selectors.crs_assessments_for),
    "icans-assessment": (_("ICANS assessment"), ae_selectors.icans_assessments_for),
    "lab-result": (_("Lab result"), ae_selectors.lab_results_for),
    "flag": (_("Benchmark flag"), report_selectors.flags_for),
    "sae-case": (_("SAE case"), ae_selectors.sae_cases_for),
}

#: The audit trail's action and source codes (``core.audit.history_rows``) as the page words them: English as
#: recorded, translated for other readers (the codes themselves stay what the triggers wrote).
AUDIT_WORDS: dict[str, str | Promise] = {
    "insert": pgettext_lazy("audit action", "insert"), "update": pgettext_lazy("audit action", "update"),
    "delete": pgettext_lazy("audit action", "delete"), "web": pgettext_lazy("audit source", "web"),
    "api": pgettext_lazy("audit source", "api"), "job": pgettext_lazy("audit source", "job"),
    "import": pgettext_lazy("audit source", "import"), "migration": pgettext_lazy("audit source", "migration"),
    "database (no application context)": pgettext_lazy("audit source", "database (no application context)"),
}


@login_required
def record_history(request: AuthenticatedRequest, kind: str, pk: int) -> HttpResponse:
    """Every insert, update and delete of one record, oldest first: when (UTC), who, from where, why, old → new."""
    if kind not in RECORD_KINDS:
        raise Http404("unknown record kind")
    label, queryset = RECORD_KINDS[kind]
    record = get_object_or_404(queryset(request.user), pk=pk)
    rows = history_rows(record)
    for row in rows:
        row["what"], row["source"] = (AUDIT_WORDS.get(row["what"], row["what"]),
                                      AUDIT_WORDS.get(row["source"], row["source"]))
    return render(request, "history.html", {"label": label, "record": record, "rows": rows})
