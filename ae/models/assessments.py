"""Bedside CRS and ICANS assessments (ASTCT 2019): raw criteria plus the grades computed from them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ae import bedside_labels, grading
from ae.models.events import AdverseEvent
from core.audit import tracked
from core.text import MAX_REASON_CHARS, max_chars_constraint


def _choices(values) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ").capitalize()) for v in values]


def _in(field: str, values) -> Q:
    return Q(**{f"{field}__in": list(values)})


def _entered_grade_fields() -> tuple[models.Field, models.Field]:
    return (
        models.PositiveSmallIntegerField(
            "your grade", null=True, blank=True,
            help_text="Leave empty to accept the computed grade."),
        models.TextField("reason your grade differs", blank=True, max_length=MAX_REASON_CHARS,
                         help_text="Required when your grade differs from the computed grade."),
    )


@tracked
class CRSAssessment(models.Model):
    """One bedside CRS assessment of an episode (its AE): raw criteria plus the grades computed from them.

    Units: ``temperature_c`` degrees Celsius (25–45), ``oxygen_flow_l_min`` L/min (≥ 0),
    ``oxygen_fio2_percent`` delivered FiO2 in percent (21–100; needed for the CTCAE v5.0 and Lee 2014
    hypoxia criteria, not for ASTCT 2019, which grades by device and flow). ``vasopressors`` are agent names
    from :data:`ae.grading.VASOPRESSORS`. Grades: ASTCT 2019 (always computed, 0–5), CTCAE v5.0, CTCAE v4.03
    (from the clinical-course inputs, null = not recorded) and Lee 2014 (null when the recorded criteria cannot
    decide them), each with the criterion that set it.
    """

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="crs_assessments")
    assessed_at = models.DateTimeField()
    temperature_c = models.DecimalField("temperature (°C)", max_digits=3, decimal_places=1, null=True, blank=True)
    fever_masking_therapies = ArrayField(
        models.CharField(max_length=40, choices=[(k, capfirst(_(v))) for k, v in grading.FEVER_MASKING_LABELS.items()]),
        verbose_name="antipyretic or anticytokine therapy given", default=list, blank=True,
        help_text="After CRS was diagnosed these can mask fever (ASTCT 2019 footnote).")
    hypotension = models.BooleanField(default=False)
    vasopressors = ArrayField(models.CharField(max_length=20, choices=_choices(sorted(grading.VASOPRESSORS))),
                              default=list, blank=True)
    oxygen_device = models.CharField(max_length=30, choices=_choices(grading.OXYGEN_DEVICES), default="none")
    oxygen_flow_l_min = models.DecimalField("oxygen flow (L/min)", max_digits=4, decimal_places=1, null=True,
                                            blank=True)
    oxygen_fio2_percent = models.DecimalField("FiO2 (%)", max_digits=4, decimal_places=1, null=True, blank=True)
    astct_grade = models.PositiveSmallIntegerField("ASTCT 2019 grade")
    astct_rationale = models.TextField()
    ctcae_grade = models.PositiveSmallIntegerField("CTCAE v5.0 grade", null=True, blank=True)
    ctcae_rationale = models.TextField()
    lee_grade = models.PositiveSmallIntegerField("Lee 2014 grade", null=True, blank=True)
    lee_rationale = models.TextField()
    # CTCAE v4.03 grades CRS by the clinical course (issue 10 item 5): each input is yes, no or not recorded (null),
    # and a criterion not recorded leaves ``ctcae_v4_grade`` null where it could change it (docs/grading.md).
    therapy_or_interruption_indicated = models.BooleanField(
        "therapy or infusion interruption indicated", null=True, blank=True,
        help_text="CTCAE v4.03 grade 2 (responds promptly to symptomatic treatment).")
    prolonged_or_recurrent = models.BooleanField(
        "prolonged, or recurrent after initial improvement", null=True, blank=True,
        help_text="CTCAE v4.03 grade 3 (not rapidly responsive to symptomatic medication or brief interruption).")
    hospitalization_indicated = models.BooleanField(
        "hospitalization indicated for clinical sequelae", null=True, blank=True,
        help_text="CTCAE v4.03 grade 3 (e.g. renal impairment, pulmonary infiltrates).")
    ventilatory_support = models.BooleanField("ventilatory support indicated", null=True, blank=True,
                                              help_text="CTCAE v4.03 grade 4.")
    ctcae_v4_grade = models.PositiveSmallIntegerField("CTCAE v4.03 grade", null=True, blank=True)
    ctcae_v4_rationale = models.TextField(blank=True)
    other_cause_findings = ArrayField(
        models.CharField(max_length=20, choices=_choices(grading.CRS_FINDINGS)), default=list, blank=True,
        verbose_name="findings attributable to another cause",
        help_text="Set aside from the ASTCT 2019 CRS grade (footnotes: fever, hypotension and hypoxia 'not "
                  "attributable to any other cause'), e.g. hypotension of septic shock.")
    other_cause = models.TextField("the other cause", blank=True)
    entered_grade, grade_discrepancy_reason = _entered_grade_fields()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["adverse_event", "assessed_at", "id"]
        verbose_name = "CRS assessment"
        constraints = [
            max_chars_constraint("grade_discrepancy_reason", prefix="crs"),
            models.CheckConstraint(
                condition=Q(temperature_c__isnull=True) | Q(temperature_c__gte=25, temperature_c__lte=45),
                name="crs_temperature_plausible", violation_error_message=_("Temperature must be 25–45 °C.")),
            models.CheckConstraint(condition=Q(oxygen_flow_l_min__isnull=True) | Q(oxygen_flow_l_min__gte=0),
                                   name="crs_flow_not_negative",
                                   violation_error_message=_("Oxygen flow cannot be negative.")),
            models.CheckConstraint(
                condition=~Q(oxygen_device="none") | Q(oxygen_flow_l_min__isnull=True) | Q(oxygen_flow_l_min=0),
                name="crs_no_flow_without_device",
                violation_error_message=_("An oxygen flow needs an oxygen device.")),
            models.CheckConstraint(condition=~Q(oxygen_device="nasal_cannula") | Q(oxygen_flow_l_min__isnull=False),
                                   name="crs_nasal_cannula_has_flow",
                                   violation_error_message=_("A nasal cannula needs its flow (L/min).")),
            models.CheckConstraint(
                condition=Q(oxygen_fio2_percent__isnull=True)
                | Q(oxygen_fio2_percent__gte=21, oxygen_fio2_percent__lte=100),
                name="crs_fio2_21_100", violation_error_message=_("FiO2 must be 21–100%%.")),
            models.CheckConstraint(condition=_in("oxygen_device", grading.OXYGEN_DEVICES), name="crs_device_known"),
            models.CheckConstraint(condition=Q(vasopressors__contained_by=sorted(grading.VASOPRESSORS)),
                                   name="crs_vasopressors_known"),
            models.CheckConstraint(condition=Q(fever_masking_therapies__contained_by=list(
                grading.FEVER_MASKING_THERAPIES)), name="crs_masking_therapies_known"),
            models.CheckConstraint(condition=Q(other_cause_findings__contained_by=list(grading.CRS_FINDINGS)),
                                   name="crs_other_cause_findings_known"),
            models.CheckConstraint(condition=Q(other_cause_findings=[]) | ~Q(other_cause=""),
                                   name="crs_other_cause_named",
                                   violation_error_message=_("Name the other cause of the findings set aside.")),
            models.CheckConstraint(condition=Q(astct_grade__lte=5), name="crs_astct_grade_0_5"),
            models.CheckConstraint(condition=Q(ctcae_grade__isnull=True) | Q(ctcae_grade__lte=5),
                                   name="crs_ctcae_grade_0_5"),
            models.CheckConstraint(condition=Q(lee_grade__isnull=True) | Q(lee_grade__lte=5), name="crs_lee_grade_0_5"),
            models.CheckConstraint(condition=Q(ctcae_v4_grade__isnull=True) | Q(ctcae_v4_grade__lte=5),
                                   name="crs_ctcae_v4_grade_0_5"),
            models.CheckConstraint(condition=Q(entered_grade__isnull=True) | Q(entered_grade__lte=5),
                                   name="crs_entered_grade_0_5"),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(entered_grade=F("astct_grade"))
                | ~Q(grade_discrepancy_reason=""),
                name="crs_discrepancy_has_reason",
                violation_error_message=_("A grade that differs from the computed ASTCT grade needs its reason.")),
        ]

    def __str__(self) -> str:
        return f"CRS assessment {self.assessed_at:%Y-%m-%d %H:%M} ASTCT G{self.astct_grade}"

    @property
    def effective_grade(self) -> int:
        """The clinician's grade when entered, else the computed ASTCT 2019 grade."""
        return self.astct_grade if self.entered_grade is None else self.entered_grade

    @property
    def fever_masking_labels(self) -> list[str]:
        """The fever-masking therapies given, as words in the active language (stored order; an unknown code as
        it is), e.g. ["antipyretic (e.g. paracetamol, ibuprofen)"] for ["antipyretic"]."""
        return [gettext(grading.FEVER_MASKING_LABELS[t]) if t in grading.FEVER_MASKING_LABELS else t
                for t in self.fever_masking_therapies or []]

    @property
    def vasopressor_labels(self) -> list[str]:
        """The vasopressors running, as words in the active language (stored order), e.g. ["Noradrenalina"]."""
        return [bedside_labels.label(bedside_labels.VASOPRESSOR_LABELS, v) for v in self.vasopressors or []]

    @property
    def oxygen_device_label(self) -> str:
        """The oxygen device in the active language, e.g. "Kaniula donosowa" for "nasal_cannula"."""
        return bedside_labels.label(bedside_labels.OXYGEN_DEVICE_LABELS, self.oxygen_device)

    @property
    def other_cause_finding_labels(self) -> list[str]:
        """The findings attributed to another cause, as words in the active language (stored order)."""
        return [bedside_labels.label(bedside_labels.CRS_FINDING_LABELS, f) for f in self.other_cause_findings or []]


@tracked
class ICANSAssessment(models.Model):
    """One bedside ICANS assessment (ASTCT 2019) of an episode (its AE).

    ``tool`` is explicit: ICE (10 points, age ≥ 12 y) or CAPD (total 0–32, age < 12 y or developmental
    delay; only the total is stored — the instrument is copyrighted); it defaults from the patient's age at
    assessment (:func:`ae.grading.default_icans_tool`). ``score`` is null exactly when the tool could not be
    performed. Tremor, myoclonus and intracranial haemorrhage are not ICANS domains (grade them by CTCAE).
    """

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="icans_assessments")
    assessed_at = models.DateTimeField()
    developmental_delay = models.BooleanField("baseline developmental delay", default=False)
    tool = models.CharField(max_length=4, choices=_choices(grading.ICANS_TOOLS))
    score = models.PositiveSmallIntegerField("ICE or CAPD total score", null=True, blank=True)
    unable_to_perform = models.BooleanField("unable to perform the ICE/CAPD", default=False)
    consciousness = models.CharField("level of consciousness", max_length=30,
                                     choices=list(grading.CONSCIOUSNESS_LABELS.items()), default="normal")
    seizure = models.CharField(max_length=40, choices=_choices(grading.SEIZURE_LEVELS), default="none")
    motor = models.CharField("motor findings", max_length=30, choices=_choices(grading.MOTOR_LEVELS),
                             default="none")
    cerebral_edema = models.CharField("raised ICP / cerebral edema", max_length=30,
                                      choices=_choices(grading.CEREBRAL_EDEMA_LEVELS), default="none")
    other_cause_domains = ArrayField(
        models.CharField(max_length=30, choices=_choices(grading.ICANS_DOMAINS)), default=list, blank=True,
        verbose_name="findings attributable to another cause",
        help_text="Excluded from the ICANS grade (ASTCT 2019 footnotes), e.g. depressed consciousness under sedation.")
    other_cause = models.TextField("the other cause", blank=True)
    grade = models.PositiveSmallIntegerField("ASTCT 2019 ICANS grade")
    rationale = models.TextField()
    entered_grade, grade_discrepancy_reason = _entered_grade_fields()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["adverse_event", "assessed_at", "id"]
        verbose_name = "ICANS assessment"
        constraints = [
            max_chars_constraint("grade_discrepancy_reason", prefix="icans"),
            models.CheckConstraint(condition=_in("tool", grading.ICANS_TOOLS), name="icans_tool_known"),
            models.CheckConstraint(
                condition=Q(unable_to_perform=True, score__isnull=True) | Q(unable_to_perform=False,
                                                                           score__isnull=False),
                name="icans_score_xor_unable",
                violation_error_message=_("Give the score, or tick 'unable to perform' (not both).")),
            models.CheckConstraint(condition=~Q(tool="ICE") | Q(score__isnull=True) | Q(score__lte=grading.ICE_MAX),
                                   name="icans_ice_0_10", violation_error_message=_("The ICE score is 0–10.")),
            models.CheckConstraint(condition=~Q(tool="CAPD") | Q(score__isnull=True)
                                   | Q(score__lte=grading.CAPD_MAX),
                                   name="icans_capd_0_32", violation_error_message=_("The CAPD total is 0–32.")),
            models.CheckConstraint(condition=_in("consciousness", grading.CONSCIOUSNESS_LEVELS),
                                   name="icans_consciousness_known"),
            models.CheckConstraint(condition=_in("seizure", grading.SEIZURE_LEVELS), name="icans_seizure_known"),
            models.CheckConstraint(condition=_in("motor", grading.MOTOR_LEVELS), name="icans_motor_known"),
            models.CheckConstraint(condition=_in("cerebral_edema", grading.CEREBRAL_EDEMA_LEVELS),
                                   name="icans_edema_known"),
            models.CheckConstraint(condition=Q(other_cause_domains__contained_by=list(grading.ICANS_DOMAINS)),
                                   name="icans_other_cause_domains_known"),
            models.CheckConstraint(condition=Q(other_cause_domains=[]) | ~Q(other_cause=""),
                                   name="icans_other_cause_named",
                                   violation_error_message=_("Name the other cause of the excluded findings.")),
            models.CheckConstraint(condition=Q(grade__lte=5), name="icans_grade_0_5"),
            models.CheckConstraint(condition=Q(entered_grade__isnull=True) | Q(entered_grade__lte=5),
                                   name="icans_entered_grade_0_5"),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(entered_grade=F("grade")) | ~Q(grade_discrepancy_reason=""),
                name="icans_discrepancy_has_reason",
                violation_error_message=_("A grade that differs from the computed ICANS grade needs its reason.")),
        ]

    def __str__(self) -> str:
        return f"ICANS assessment {self.assessed_at:%Y-%m-%d %H:%M} G{self.grade}"

    @property
    def effective_grade(self) -> int:
        """The clinician's grade when entered, else the computed ASTCT 2019 ICANS grade."""
        return self.grade if self.entered_grade is None else self.entered_grade

    @property
    def criteria_labels(self) -> dict[str, str]:
        """The level of consciousness, seizure, motor and cerebral-edema findings in the active language:
        {"consciousness", "seizure", "motor", "cerebral_edema": text}."""
        return {"consciousness": bedside_labels.label(bedside_labels.CONSCIOUSNESS_LABELS, self.consciousness),
                "seizure": bedside_labels.label(bedside_labels.SEIZURE_LABELS, self.seizure),
                "motor": bedside_labels.label(bedside_labels.MOTOR_LABELS, self.motor),
                "cerebral_edema": bedside_labels.label(bedside_labels.CEREBRAL_EDEMA_LABELS, self.cerebral_edema)}

    @property
    def other_cause_domain_labels(self) -> list[str]:
        """The ICANS domains attributed to another cause, as words in the active language (stored order)."""
        return [bedside_labels.label(bedside_labels.ICANS_DOMAIN_LABELS, d) for d in self.other_cause_domains or []]
