"""Ward page of the treatments given for one adverse event (drug, dose, time): list and add.

Its own module (issue 20 item 6) so the event pages in :mod:`ae.views` stay as they are."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ae.models import EventTreatment
from ae.selectors import adverse_events_for
from ae.services.treatments import event_treatment_save
from core.forms import DecimalTextMixin, add_service_errors
from core.types import AuthenticatedRequest
from patients import access


class EventTreatmentForm(DecimalTextMixin, forms.ModelForm):
    """One drug given for the event (the event is set by the view)."""

    class Meta:
        model = EventTreatment
        fields = ["drug", "drug_name", "dose", "dose_unit", "given_at"]
        widgets = {"given_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}
        labels = {"drug": gettext_lazy("Drug"), "drug_name": gettext_lazy("Drug name"), "dose": gettext_lazy("Dose"),
                  "dose_unit": gettext_lazy("Dose unit"), "given_at": gettext_lazy("Given at")}
        help_texts = {"drug_name": gettext_lazy("The product given (e.g. dexamethasone); required for 'Other'."),
                      "dose": gettext_lazy("Empty when not recorded.")}


@login_required
def event_treatments(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The event's treatments, oldest first; ward staff and administrators add one (POST)."""
    event = get_object_or_404(adverse_events_for(request.user).select_related("patient__site", "term", "cycle"), pk=pk)
    can_record = access.can_record(request.user, event.patient.site)
    form = EventTreatmentForm(request.POST if request.method == "POST" and can_record else None)
    form.instance.adverse_event = event
    if form.is_bound and form.is_valid():
        try:
            event_treatment_save(treatment=form.instance, acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Treatment saved."))
            return redirect("event-treatments", pk=event.pk)
    return render(request, "ae/event_treatments.html", {
        "event": event, "patient": event.patient, "site": event.patient.site, "form": form, "can_record": can_record,
        "treatments": event.treatments.all()})
