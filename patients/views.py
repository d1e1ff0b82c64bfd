"""Ward pages: home, patient list (with the registration form; ``PATIENT_PAGE_SIZE`` a page), treatment cycle form.

The patient's page (cycles with their adverse events and labs) is :func:`ae.views.patient_detail`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.forms import add_service_errors
from core.types import AuthenticatedRequest
from patients import access
from patients.forms import (
    DosingStepForm,
    HospitalStayForm,
    InfusionInterruptionForm,
    NextTherapyForm,
    PatientForm,
    TreatmentCycleForm,
)
from patients.models import Patient, TreatmentCycle
from patients.selectors import patients_for
from patients.services import cycle_save, patient_save
from patients.services.treatment import dosing_step_save, interruption_save, next_therapy_save, stay_save


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    memberships = request.user.memberships.select_related("site").order_by("site__name")
    if len(memberships) == 1:
        m = memberships[0]
        if m.role == access.Role.SAFETY_OFFICER:
            return redirect("report", site=m.site.slug)
        if m.role == access.Role.NETWORK_COORDINATOR:  # sees the network, not the ward's data
            return redirect("network")
        return redirect("patient-list", site=m.site.slug)
    return render(request, "home.html", {"memberships": memberships})


#: Patients per page of the patient list (issue 12: every HTML list is bounded).
PATIENT_PAGE_SIZE = 50


def _count_of(model: Any, related: str = "patient") -> Coalesce:
    """How many ``model`` rows point at the outer patient: a correlated subquery, evaluated for the page's rows only
    (a ``Count`` over joins would aggregate every patient of the ward before the page is cut)."""
    rows = model._default_manager.filter(**{related: OuterRef("pk")}).order_by().values(related)
    return Coalesce(Subquery(rows.annotate(n=Count("*")).values("n"), output_field=IntegerField()), 0)


@login_required
def patient_list(request: AuthenticatedRequest, site: str) -> HttpResponse:
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    patients = (patients_for(request.user).filter(site=site_obj).order_by("study_id", "id")
                .annotate(n_cycles=_count_of(TreatmentCycle),
                          n_events=_count_of(Patient._meta.get_field("adverse_events").related_model)))
    page = Paginator(patients, PATIENT_PAGE_SIZE).get_page(request.GET.get("page"))
    form = PatientForm(request.POST or None, site=site_obj)
    can_record = access.can_record(request.user, site_obj)
    if request.method == "POST" and can_record and form.is_valid():
        try:
            patient = patient_save(patient=form.instance, acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Patient %(study_id)s registered. Add the first cycle.")
                             % {"study_id": patient.study_id})
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "patients/patient_list.html",
                  {"site": site_obj, "patients": page, "page": page, "form": form,
                   "can_record": can_record})


@login_required
def cycle_form(request: AuthenticatedRequest, patient_pk: int, pk: int | None = None) -> HttpResponse:
    patient = get_object_or_404(patients_for(request.user, access.RECORDERS).select_related("site"),
                                pk=patient_pk)
    cycle = get_object_or_404(TreatmentCycle, patient=patient, pk=pk) if pk else None
    form = TreatmentCycleForm(request.POST or None, instance=cycle, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            saved = cycle_save(cycle=form.instance, acting_user=request.user,
                               reason=form.cleaned_data.get("reason", ""))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Cycle %(number)s saved.") % {"number": saved.number})
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "patients/cycle_form.html", {"form": form, "patient": patient, "site": patient.site,
                                                         "cycle": cycle})


#: The cycle's treatment records: form class and save service per ``record`` value of the POST.
_CYCLE_RECORDS = {
    "step": (DosingStepForm, lambda r, **kw: dosing_step_save(step=r, **kw), gettext_lazy("Dosing step saved.")),
    "interruption": (InfusionInterruptionForm, lambda r, **kw: interruption_save(interruption=r, **kw),
                     gettext_lazy("Interruption saved.")),
    "stay": (HospitalStayForm, lambda r, **kw: stay_save(stay=r, **kw), gettext_lazy("Stay saved.")),
}


@login_required
def cycle_treatment(request: AuthenticatedRequest, patient_pk: int, pk: int) -> HttpResponse:
    """A cycle's dosing steps, interruptions (with the ≥ 4 h dexamethasone flag) and ward/ICU stays; recorders add
    rows (``record`` = step | interruption | stay); the patient's next therapies are added on the same page."""
    patient = get_object_or_404(patients_for(request.user).select_related("site"), pk=patient_pk)
    cycle = get_object_or_404(TreatmentCycle, patient=patient, pk=pk)
    can_record = access.can_record(request.user, patient.site)
    kind = request.POST.get("record") if request.method == "POST" else None
    forms_ = {name: form_cls(request.POST if kind == name else None, prefix=name)
              for name, (form_cls, _, _) in _CYCLE_RECORDS.items()}
    therapy_form = NextTherapyForm(request.POST if kind == "therapy" else None, prefix="therapy")
    if kind in _CYCLE_RECORDS and can_record:
        form = forms_[kind]
        form.instance.cycle = cycle
        if form.is_valid():
            save, done = _CYCLE_RECORDS[kind][1:]
            try:
                save(form.instance, acting_user=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect("cycle-treatment", patient_pk=patient.pk, pk=cycle.pk)
    elif kind == "therapy" and can_record:
        therapy_form.instance.patient = patient
        if therapy_form.is_valid():
            try:
                next_therapy_save(therapy=therapy_form.instance, acting_user=request.user)
            except ValidationError as exc:
                add_service_errors(therapy_form, exc)
            else:
                messages.success(request, _("Next therapy saved: events from its start are no longer counted as "
                                            "treatment-emergent."))
                return redirect("cycle-treatment", patient_pk=patient.pk, pk=cycle.pk)
    return render(request, "patients/cycle_treatment.html", {
        "patient": patient, "site": patient.site, "cycle": cycle, "can_record": can_record, "forms": forms_,
        "therapy_form": therapy_form, "steps": cycle.dosing_steps.all(), "interruptions": cycle.interruption_log.all(),
        "stays": cycle.stays.all(), "therapies": patient.next_therapies.all()})
