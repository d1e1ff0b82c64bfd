"""Forms for registering a patient and a treatment cycle."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone

from patients.models import Patient, Site, TreatmentCycle


class PatientForm(forms.ModelForm):
    birth_month = forms.DateField(label="Birth year and month", input_formats=["%Y-%m"],
                                  widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
                                  help_text="Year and month only (e.g. 2016-04).")

    class Meta:
        model = Patient
        fields = ["study_id", "sex", "birth_month", "disease_status", "prior_hsct", "prior_car_t"]

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.site = site

    def clean_study_id(self) -> str:
        return self.cleaned_data["study_id"].strip().upper()

    def clean_birth_month(self) -> datetime.date:
        value = self.cleaned_data["birth_month"]
        if value > timezone.localdate():
            raise forms.ValidationError("The birth month cannot be in the future.")
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
        fields = ["number", "schedule", "start_date", "end_date", "starting_dose", "step_up_dose", "step_up_day",
                  "dexamethasone_premedication", "marrow_blasts_pct", "mrd_pct", "interruptions",
                  "interruption_reason", "discontinued", "discontinuation_reason"]
        widgets = {"start_date": forms.DateInput(attrs={"type": "date"}),
                   "end_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.patient = patient
        if self.instance.pk is None:
            if not self.is_bound:
                self.initial.setdefault("number", patient.cycles.count() + 1)
        else:  # editing a submitted cycle: the reason goes into its audit trail
            self.fields["reason"] = forms.CharField(label="Reason for change", widget=forms.Textarea(attrs={"rows": 2}),
                                                    help_text="Required: kept in the cycle's history.")

    def validate_unique(self) -> None:
        exclude = self._get_validation_exclusions()  # type: ignore[attr-defined]  # Django's own helper
        exclude.discard("patient")
        try:
            self.instance.validate_unique(exclude=exclude)
            self.instance.validate_constraints(exclude=exclude)
        except forms.ValidationError as e:
            self._update_errors(e)  # type: ignore[attr-defined]
