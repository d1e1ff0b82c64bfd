"""Site reference ranges: the LLN/ULN the ward's laboratory publishes per analyte, sex and age band (issue 10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ae.analyte_labels import analyte_choices
from ae.models.labs import _lab_unit_condition
from core.audit import tracked
from patients.models import Site


@tracked
class ReferenceRange(models.Model):
    """One published reference interval of a site's laboratory, valid from ``valid_from`` until ``valid_to``
    (exclusive; null = current).

    ``lln``/``uln`` are in ``unit`` (one of the analyte's units, :data:`ae.lab_units.ANALYTES`); at least one is
    given. ``sex`` is "F", "M" or "" (both); the age band is ``age_from_months`` (inclusive) to ``age_to_months``
    (exclusive). ``source`` says where it is published (laboratory handbook, edition). A new version of a range
    closes the one it replaces (``valid_to``) instead of editing it, and every change is in the history
    (:mod:`core.audit`), so a lab value graded months ago can be traced to the range then in force.
    """

    class Sex(models.TextChoices):
        ANY = "", _("Both")
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="reference_ranges")
    analyte = models.CharField(max_length=20, choices=analyte_choices())
    unit = models.CharField(max_length=20)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True, default="")
    age_from_months = models.PositiveIntegerField(default=0)
    age_to_months = models.PositiveIntegerField(default=12 * 120)
    lln = models.DecimalField("LLN", max_digits=12, decimal_places=4, null=True, blank=True)
    uln = models.DecimalField("ULN", max_digits=12, decimal_places=4, null=True, blank=True)
    source = models.TextField(help_text="Where the laboratory publishes it, e.g. 'Lab handbook 2026, p. 12'.")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "analyte", "sex", "age_from_months", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=_lab_unit_condition(), name="refrange_unit_known_for_analyte",
                                   violation_error_message=_("This unit is not one of the analyte's units.")),
            models.CheckConstraint(condition=Q(lln__isnull=False) | Q(uln__isnull=False), name="refrange_has_limit",
                                   violation_error_message=_("Give the LLN, the ULN or both.")),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(lln__gt=0), name="refrange_lln_positive"),
            models.CheckConstraint(condition=Q(uln__isnull=True) | Q(uln__gt=0), name="refrange_uln_positive"),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(uln__isnull=True) | Q(lln__lt=F("uln")),
                                   name="refrange_lln_below_uln",
                                   violation_error_message=_("The LLN must be below the ULN.")),
            models.CheckConstraint(condition=Q(age_from_months__lt=F("age_to_months")), name="refrange_age_band",
                                   violation_error_message=_("The age band must end after it starts.")),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                                   name="refrange_validity",
                                   violation_error_message=_("Valid to must be after valid from.")),
            models.CheckConstraint(condition=~Q(source=""), name="refrange_has_source",
                                   violation_error_message=_("Say where the laboratory publishes this range.")),
        ]

    def __str__(self) -> str:
        """In English whatever the active language (the words around the label are)."""
        limits = f"{self.lln if self.lln is not None else '—'}–{self.uln if self.uln is not None else '—'}"
        with translation.override("en-gb"):
            sex = self.get_sex_display()
        return (f"{self.analyte} {limits} {self.unit} ({sex}, {self.age_from_months}–"
                f"{self.age_to_months} months, from {self.valid_from})")


def sex_words(sex: str) -> str:
    """How a lab rationale names a range's ``sex`` ("" | "F" | "M"): "both sexes", "female" or "male", in the active
    language (the English is what a stored rationale carries: build it under ``translation.override("en-gb")``)."""
    return gettext("both sexes") if not sex else str(ReferenceRange.Sex(sex).label).lower()
