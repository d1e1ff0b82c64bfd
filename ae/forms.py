"""The ward's adverse-event form: quick to fill, every error next to its field, nothing typed is lost."""

from __future__ import annotations

from django import forms

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Patient, TreatmentCycle


class TermField(forms.CharField):
    """A CTCAE v5.0 term typed or picked by name; cleans to the CTCAETerm."""

    def to_python(self, value: str | None) -> CTCAETerm | None:  # type: ignore[override]
        value = (value or "").strip()
        if not value:
            return None
        term = CTCAETerm.objects.filter(term__iexact=value).prefetch_related("grades").first()
        if term is None:
            raise forms.ValidationError(f"“{value}” is not a CTCAE v5.0 term. Start typing and pick one from the list.")
        return term

    def prepare_value(self, value: object) -> object:
        if isinstance(value, int):
            term = CTCAETerm.objects.filter(pk=value).first()
            return term.term if term else value
        return str(value) if isinstance(value, CTCAETerm) else value


class AdverseEventForm(forms.ModelForm):
    """Record or edit one adverse event of a patient; the cycle list is limited to that patient's cycles."""

    term = TermField(label="CTCAE term", help_text="Type to search the 837 CTCAE v5.0 terms.")
    grade = forms.TypedChoiceField(coerce=int, choices=[(g, f"Grade {g}") for g in range(1, 6)],
                                   widget=forms.RadioSelect)

    class Meta:
        model = AdverseEvent
        fields = ["cycle", "term", "grade", "onset_date", "resolution_date", "present_before_cycle",
                  "relatedness", "action_taken", "outcome", "serious", *AdverseEvent.SAE_FIELDS,
                  "grading_scale", "verbatim_term"]
        widgets = {
            "onset_date": forms.DateInput(attrs={"type": "date"}),
            "resolution_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: object, patient: Patient, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.instance.patient = patient
        self.fields["cycle"].queryset = TreatmentCycle.objects.filter(patient=patient).order_by("-number")
        self.fields["cycle"].empty_label = None
        self.fields["cycle"].label_from_instance = lambda c: f"Cycle {c.number} (started {c.start_date:%d %b %Y})"
        self.fields["term"].widget.attrs.update({"list": "ctcae-terms", "autocomplete": "off",
                                                 "data-term-picker": "1", "autofocus": True})


class AdverseEventEditForm(AdverseEventForm):
    """The same form plus the reason for the change and the version the editor started from."""

    reason = forms.CharField(label="Reason for change", widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Required: kept with the record's history.")
    version = forms.IntegerField(widget=forms.HiddenInput)
