"""Lab results graded by CTCAE v5.0, with baseline and treatment-emergent flag."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from ae import grading, lab_units
from ae.analyte_labels import analyte_choices
from ae.models.assessments import _in
from ae.models.events import AdverseEvent
from core.audit import tracked
from core.numbers import reader_numbers
from core.text import MAX_REASON_CHARS, max_chars_constraint
from patients.models import Patient, TreatmentCycle


def _lab_unit_condition() -> Q:
    """Each analyte only in its units, each stored in its one spelling (:data:`ae.lab_units.ANALYTES`)."""
    condition = Q()
    for analyte, entry in lab_units.ANALYTES.items():
        condition |= Q(analyte=analyte, unit__in=[u.code for u in entry.units])
    return condition


@tracked
class LabResult(models.Model):
    """One lab value of a patient, graded by CTCAE v5.0 (:func:`ae.grading.grade_lab`).

    ``value``, ``lln`` and ``uln`` are in ``unit``, one of the analyte's units in its one stored spelling
    (:data:`ae.lab_units.ANALYTES`: "10^9/L", never "x10^9/L"). ``cycle``
    is the treatment cycle the value belongs to (null before any cycle). ``baseline`` marks the value at
    the cycle start (collected on or before it; at most one per cycle and analyte). ``grade`` is null
    when CTCAE cannot decide it (e.g. grade 0 vs 1 without an LLN). ``treatment_emergent`` follows ADaM
    TRTEMFL for labs: a value after the baseline is treatment-emergent only if its grade is worse than the
    baseline grade (null for the baseline itself and when the grade is undetermined).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lab_results")
    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="lab_results")
    analyte = models.CharField(max_length=20, choices=analyte_choices())
    value = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=20)
    lln = models.DecimalField("LLN", max_digits=12, decimal_places=4, null=True, blank=True)
    uln = models.DecimalField("ULN", max_digits=12, decimal_places=4, null=True, blank=True)
    collected_at = models.DateTimeField()
    baseline = models.BooleanField("baseline (value at cycle start)", default=False)
    #: The clinical criteria CTCAE v5.0 attaches to the value's term that the nurse recorded with it (names from
    #: :data:`ae.grading.LAB_CRITERIA`: "transfusion_indicated" for Anemia grade 3); read by the grade.
    clinical_criteria = ArrayField(models.CharField(max_length=40, choices=list(grading.LAB_CRITERIA_LABELS.items())),
                                   default=list, blank=True)
    ctcae_term = models.CharField(max_length=200)
    grade = models.PositiveSmallIntegerField("CTCAE v5.0 grade", null=True, blank=True)
    rationale = models.TextField()
    #: The grade the rule computes (:func:`ae.grading.grade_lab`, explained by ``rationale``); ``grade`` is the
    #: effective grade: the clinician's ``entered_grade`` where given, else this one (docs/labs.md, "Entered vs
    #: computed grade").
    computed_grade = models.PositiveSmallIntegerField("computed CTCAE v5.0 grade", null=True, blank=True)
    entered_grade = models.PositiveSmallIntegerField(
        "your grade", null=True, blank=True, help_text="Leave empty to accept the computed grade.")
    grade_discrepancy_reason = models.TextField(
        "reason your grade differs", blank=True, max_length=MAX_REASON_CHARS,
        help_text="Required when your grade differs from the computed grade.")
    treatment_emergent = models.BooleanField(null=True, blank=True)
    #: The adverse-event episode of this value's CTCAE term that it feeds (:mod:`ae.services.labs`): a
    #: treatment-emergent graded value starts or upgrades it, a later normal value resolves it; null when the
    #: value is no adverse event (grade 0, undetermined, not worse than the baseline) and no episode was open.
    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="lab_results")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    #: Not stored: set on the instance :func:`ae.services.labs.lab_result_record` returns — what recording it did to
    #: adverse events, [(event, "created" / "updated" / "unchanged", the event's grade before)], and for a baseline
    #: how many later values it regraded.
    episode_changes: list[tuple[AdverseEvent, str, int | None]]
    regraded: int = 0
    #: Set by the lab service while recording: the rationale in the active language, for its refusals.
    rationale_for_reader: str = ""
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "analyte", "collected_at", "id"]
        constraints = [
            models.CheckConstraint(condition=_in("analyte", grading.LAB_ANALYTES), name="lab_analyte_known"),
            models.CheckConstraint(condition=_lab_unit_condition(), name="lab_unit_known_for_analyte",
                                   violation_error_message=_("This unit is not accepted for the analyte.")),
            models.CheckConstraint(condition=Q(value__gte=0), name="lab_value_not_negative"),
            models.CheckConstraint(condition=Q(clinical_criteria__contained_by=list(grading.LAB_CRITERIA)),
                                   name="lab_clinical_criteria_known"),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(lln__gt=0), name="lab_lln_positive"),
            models.CheckConstraint(condition=Q(uln__isnull=True) | Q(uln__gt=0), name="lab_uln_positive"),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(uln__isnull=True) | Q(lln__lt=F("uln")),
                                   name="lab_lln_below_uln", violation_error_message=_("LLN must be below ULN.")),
            models.CheckConstraint(condition=Q(grade__isnull=True) | Q(grade__lte=4), name="lab_grade_0_4"),
            models.CheckConstraint(condition=Q(computed_grade__isnull=True) | Q(computed_grade__lte=4),
                                   name="lab_computed_grade_0_4"),
            models.CheckConstraint(condition=Q(entered_grade__isnull=True) | Q(entered_grade__lte=4),
                                   name="lab_entered_grade_0_4"),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=False, grade=F("entered_grade"))
                | Q(entered_grade__isnull=True, grade=F("computed_grade"))
                | Q(entered_grade__isnull=True, grade__isnull=True, computed_grade__isnull=True),
                name="lab_grade_is_entered_or_computed",
                violation_error_message=_("The grade is the clinician's grade where entered, else the computed one.")),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(computed_grade__isnull=True)
                | Q(entered_grade=F("computed_grade")) | ~Q(grade_discrepancy_reason=""),
                name="lab_discrepancy_has_reason",
                violation_error_message=_("A grade that differs from the computed grade needs its reason.")),
            max_chars_constraint("grade_discrepancy_reason", prefix="lab"),
            models.CheckConstraint(condition=Q(baseline=False) | Q(cycle__isnull=False),
                                   name="lab_baseline_has_cycle",
                                   violation_error_message=_("A baseline value belongs to the cycle it precedes.")),
            models.CheckConstraint(condition=Q(baseline=False) | Q(treatment_emergent__isnull=True),
                                   name="lab_baseline_not_treatment_emergent"),
            models.UniqueConstraint(fields=["cycle", "analyte"], condition=Q(baseline=True),
                                    name="lab_one_baseline_per_cycle_analyte"),
            models.CheckConstraint(condition=Q(adverse_event__isnull=True) | Q(grade__isnull=False),
                                   name="lab_feeding_an_ae_is_graded"),
        ]
        indexes = [models.Index(fields=["patient", "analyte", "collected_at"], name="lab_patient_analyte_idx")]

    def __str__(self) -> str:
        return f"{self.patient} {self.analyte} {self.value} {self.unit} @ {self.collected_at:%Y-%m-%d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A value saved with a ``grade`` and neither a computed nor an entered grade (written directly, not through
        :func:`ae.services.labs.lab_result_record`) has that grade as its computed grade: the invariant the
        ``lab_grade_is_entered_or_computed`` constraint checks."""
        if self.computed_grade is None and self.entered_grade is None and self.grade is not None:
            self.computed_grade = self.grade
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "computed_grade"}
        super().save(*args, **kwargs)

    @property
    def grade_overridden(self) -> bool:
        """The clinician's grade differs from the computed one (an undetermined computed grade is not overridden)."""
        return (self.entered_grade is not None and self.computed_grade is not None
                and self.entered_grade != self.computed_grade)

    @property
    def unit_label(self) -> str:
        """The unit as people write it ("×10⁹/L" for the stored "10^9/L")."""
        return lab_units.unit_label(self.unit)

    @property
    def value_text(self) -> str:
        """The value and unit as people write them: "18 ×10⁹/L", "95 g/L"."""
        return f"{lab_units.number(self.value)} {self.unit_label}"

    @property
    def value_text_for_reader(self) -> str:
        """:attr:`value_text` with the active language's decimal separator ("2,4 mmol/L" in Polish), for the pages;
        what is stored, exported or sent keeps :attr:`value_text`."""
        return reader_numbers(self.value_text)
