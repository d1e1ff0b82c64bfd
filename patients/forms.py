"""Forms for registering a patient and a treatment cycle."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import DecimalTextMixin, date_input, decimal_text_fields
from patients.models import Patient, Site, TreatmentCycle
from patients.treatment import DosingStep, HospitalStay, InfusionInterruption, NextTherapy, Recorded


class PatientForm(forms.ModelForm):
    birth_month = forms.DateField(label=_("Birth year and month"), input_formats=["%Y-%m"],
                                  widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
                                  help_text=_("Year and month only (e.g. 2016-04)."))

    class Meta:
        model = Patient
        fields = ["study_id", "sex", "birth_month", "disease_status", "prior_hsct", "prior_car_t"]
        labels = {"study_id": _("Study ID"), "sex": _("Sex"), "disease_status": _("Disease status"),
                  "prior_hsct": _("Prior HSCT"), "prior_car_t": _("Prior CAR-T")}

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.site = site

    def clean_study_id(self) -> str:
        return self.cleaned_data["study_id"].strip().upper()

    def clean_birth_month(self) -> datetime.date:
        value = self.cleaned_data["birth_month"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The birth month cannot be in the future."))
        return value.replace(day=1)

    def validate_unique(self) -> None:
        # The site is set on the instance, not in the form: include it in the uniqueness check.
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]  # Django's own helper
        exclude.discard("site")
        try:
            self.instance.validate_unique(exclude=exclude)
            self.instance.validate_constraints(exclude=exclude)
        except forms.ValidationError as e:
            self._update_errors(e)  # type: ignore[attr-defined]


class TreatmentCycleForm(forms.ModelForm):
    class Meta:
        model = TreatmentCycle
        fields = ["number", "schedule", "start_date", "end_date", "weight_kg", "bsa_m2", "bag_hours", "cns_status",
                  "dexamethasone_premedication", "dexamethasone_dose", "dexamethasone_dose_unit",
                  "marrow_blasts_pct", "mrd_pct", "disease_status", "interruptions",
                  "interruption_reason", "discontinued", "discontinuation_reason"]
        widgets = {"start_date": date_input(), "end_date": date_input()}
        # Fields without a verbose name in the model (the others are translated there).
        labels = {"number": _("Cycle number"), "schedule": _("Schedule"), "start_date": _("Start date"),
                  "end_date": _("End date"), "interruption_reason": _("Reason for the interruptions"),
                  "discontinuation_reason": _("Reason for discontinuation")}

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.patient = patient
        if self.instance.pk is None:
            # No silent default: premedication is chosen (yes, no or "not recorded") on every new cycle.
            self.initial.pop("dexamethasone_premedication", None)
            premedication = self.fields["dexamethasone_premedication"]
            premedication.choices = [("", _("— choose —")), *Recorded.choices]  # type: ignore[attr-defined]
            premedication.initial = None
            if not self.is_bound:
                self.initial.setdefault("number", patient.cycles.count() + 1)
        else:  # editing a submitted cycle: the reason goes into its audit trail
            self.fields["reason"] = forms.CharField(label=_("Reason for change"),
                                                    widget=forms.Textarea(attrs={"rows": 2}),
                                                    help_text=_("Required: kept in the cycle's history."))
        decimal_text_fields(self)  # typed decimals as the reader writes them (core.forms)

    def validate_unique(self) -> None:
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]  # Django's own helper
        exclude.discard("patient")
        try:
            self.instance.validate_unique(exclude=exclude)
            self.instance.validate_constraints(exclude=exclude)
        except forms.ValidationError as e:
            self._update_errors(e)  # type: ignore[attr-defined]


_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_DATE = date_input()


class DosingStepForm(DecimalTextMixin, forms.ModelForm):
    """One dose level of the cycle (the cycle is set by the view)."""

    class Meta:
        model = DosingStep
        fields = ["from_day", "started_at", "dose", "unit", "batch_number"]
        widgets = {"started_at": _DATETIME}
        labels = {"unit": _("Unit")}


class InfusionInterruptionForm(forms.ModelForm):
    """One interruption of the infusion, stop to restart."""

    class Meta:
        model = InfusionInterruption
        fields = ["stopped_at", "restarted_at", "cause", "dexamethasone_before_restart"]
        widgets = {"stopped_at": _DATETIME, "restarted_at": _DATETIME}
        labels = {"dexamethasone_before_restart": _("Dexamethasone before the restart")}


class HospitalStayForm(forms.ModelForm):
    """An admission (ward or ICU) during the cycle."""

    class Meta:
        model = HospitalStay
        fields = ["kind", "admitted_on", "discharged_on"]
        widgets = {"admitted_on": _DATE, "discharged_on": _DATE}
        labels = {"kind": _("Where"), "admitted_on": _("Admitted on"), "discharged_on": _("Discharged on")}


class NextTherapyForm(forms.ModelForm):
    """The therapy the patient went on to (ends the emergence window)."""

    class Meta:
        model = NextTherapy
        fields = ["kind", "start_date", "description"]
        widgets = {"start_date": _DATE}
        labels = {"kind": _("Therapy"), "start_date": _("Start date"), "description": _("Description")}
