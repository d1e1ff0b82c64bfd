"""Treatments given for an adverse event (tocilizumab, corticosteroids, anticonvulsants, vasopressors…), as rows
with drug, dose and time — the management that CRS and ICANS grading and an SAE report (ICH E2B(R3) G.k,
"drug(s) given for the reaction") need, instead of one yes/no for all drugs.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ae.models.events import AdverseEvent, after_death_error
from core.audit import tracked


@tracked
class EventTreatment(models.Model):
    """One administration (or start of a course) of a drug for an adverse event."""

    class Drug(models.TextChoices):
        TOCILIZUMAB = "tocilizumab", "Tocilizumab"
        CORTICOSTEROID = "corticosteroid", _("Corticosteroid (e.g. dexamethasone, methylprednisolone)")
        ANTICONVULSANT = "anticonvulsant", _("Anticonvulsant (e.g. levetiracetam)")
        VASOPRESSOR = "vasopressor", _("Vasopressor (e.g. noradrenaline)")
        ANAKINRA = "anakinra", "Anakinra"
        OTHER = "other", pgettext_lazy("drug", "Other")

    class DoseUnit(models.TextChoices):
        MG = "mg", "mg"
        MG_KG = "mg_kg", "mg/kg"
        MG_M2 = "mg_m2", "mg/m²"
        UG_KG_MIN = "ug_kg_min", _("µg/kg/min (infusion)")

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.CASCADE, related_name="treatments")
    drug = models.CharField(max_length=16, choices=Drug.choices)
    drug_name = models.CharField("drug name", max_length=100, blank=True,
                                 help_text="The product given (e.g. dexamethasone); required for 'Other'.")
    dose = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True,
                               validators=[MinValueValidator(0)], help_text="Empty when not recorded.")
    dose_unit = models.CharField(max_length=10, choices=DoseUnit.choices, blank=True)
    given_at = models.DateTimeField("given at")

    class Meta:
        ordering = ["adverse_event", "given_at"]
        constraints = [
            models.CheckConstraint(condition=Q(drug__in=["tocilizumab", "corticosteroid", "anticonvulsant",
                                                         "vasopressor", "anakinra", "other"]),
                                   name="eventtreatment_drug_known", violation_error_message=_("Unknown drug class.")),
            models.CheckConstraint(condition=~Q(drug="other") | ~Q(drug_name=""), name="eventtreatment_other_named",
                violation_error_message=_("Name the drug.")),
            models.CheckConstraint(condition=Q(dose__isnull=True, dose_unit="") | Q(dose__gt=0) & ~Q(dose_unit=""),
                                   name="eventtreatment_dose_with_unit",
                violation_error_message=_("A dose is above 0 and has its unit (or both are empty: not recorded).")),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name or self.get_drug_display()} {self.dose or ''} {self.dose_unit} at {self.given_at}"

    def clean(self) -> None:
        """Not in the future, not before the event's onset day, not after the patient's death
        (``ae.models.events.after_death_error``). Raises ValidationError keyed by field."""
        if self.given_at is None:
            return
        if self.given_at > timezone.now():
            raise ValidationError({"given_at": gettext("The time cannot be in the future.")})
        if self.adverse_event_id is not None and timezone.localdate(self.given_at) < self.adverse_event.onset_date:
            raise ValidationError({"given_at": gettext("Before the event's onset (%(onset)s).") % {
                "onset": date_format(self.adverse_event.onset_date, "d M Y")}})
        if self.adverse_event_id is not None:
            after_death = after_death_error(self.adverse_event.patient, timezone.localdate(self.given_at))
            if after_death:
                raise ValidationError({"given_at": after_death})
