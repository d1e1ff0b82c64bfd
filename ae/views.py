"""Recording and editing adverse events in the browser."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from ae.forms import AdverseEventEditForm, AdverseEventForm
from ae.models import CTCAETerm
from ae.services import EDITABLE_FIELDS, StaleEditError, adverse_event_create, adverse_event_update
from patients import access


def _term_names() -> list[str]:
    return list(CTCAETerm.objects.order_by("term").values_list("term", flat=True))


@login_required
def event_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(access.patients_for(request.user, access.RECORDERS).select_related("site"),
                                pk=patient_pk)
    form = AdverseEventForm(request.POST or None, patient=patient)
    if not patient.cycles.exists():
        messages.error(request, "Record the patient's treatment cycle first: every event belongs to a cycle.")
        return redirect("patient-detail", pk=patient.pk)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS}
        try:
            event = adverse_event_create(acting_user=request.user, patient=patient, **data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved: {event.term} grade {event.grade}, cycle {event.cycle.number}.")
            if "save_another" in request.POST:
                return redirect("event-create", patient_pk=patient.pk)
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "ae/event_form.html", {"form": form, "patient": patient, "site": patient.site,
                                                  "term_names": _term_names()})


@login_required
def event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(access.adverse_events_for(request.user, access.RECORDERS)
                              .select_related("patient__site", "term", "cycle"), pk=pk)
    patient = event.patient
    form = AdverseEventEditForm(request.POST or None, instance=event, patient=patient,
                                initial={"version": event.version})
    stale = None
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS}
        try:
            adverse_event_update(event=event, acting_user=request.user, reason=form.cleaned_data["reason"],
                                 expected_version=form.cleaned_data["version"], **data)
        except StaleEditError as exc:
            stale = exc.current
            form.data = form.data.copy()
            form.data["version"] = stale.version  # a re-submission applies on top of the current version
            form.add_error(None, f"Someone else changed this event while you were editing (now version "
                                 f"{stale.version}, grade {stale.grade}). Your changes were not saved: review the "
                                 f"current values below, then apply your change again.")
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Change saved with its reason.")
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "ae/event_form.html", {"form": form, "patient": patient, "site": patient.site,
                                                  "event": event, "stale": stale, "term_names": _term_names()})


@login_required
def event_history(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(access.adverse_events_for(request.user).select_related("patient__site", "term"), pk=pk)
    revisions = event.revisions.select_related("changed_by")
    return render(request, "ae/event_history.html",
                  {"event": event, "revisions": revisions, "patient": event.patient, "site": event.patient.site})
