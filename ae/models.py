"""CTCAE v5.0 catalogue and the adverse events logged against it.

Rules that must always hold live in the database, not only in forms:

* a grade must be defined for its term: ``ae_adverseevent(term_id, grade)`` is a composite foreign key
  to ``ae_ctcaegrade(term_id, grade)`` (migration ``0002``), so Tremor grade 4, Febrile neutropenia
  grade 2 or Neutrophil count decreased grade 5 cannot be stored by any code path;
* the event's cycle belongs to the event's patient (composite foreign key to the cycle);
* onset is not before the cycle start unless the event was present before the cycle (trigger), and
  a pre-existing event started on or before the cycle start;
* resolution is not before onset; grade 5 means the outcome is fatal; serious means at least one
  SAE criterion is ticked (check constraints).
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Trim, Upper

from ae import grading
from core.audit import tracked
from patients.models import Patient, TreatmentCycle

CTCAE_VERSION = "5.0"


class CTCAETerm(models.Model):
    """One NCI CTCAE v5.0 term (MedDRA LLT) with its SOC; source: NCI CTCAE v5.0 workbook, Clean Copy."""

    meddra_code = models.PositiveIntegerField("MedDRA LLT code", unique=True)
    term = models.CharField("CTCAE term", max_length=200, unique=True)
    soc = models.CharField("MedDRA SOC", max_length=200)
    definition = models.TextField(blank=True)
    navigational_note = models.TextField(blank=True)

    class Meta:
        ordering = ["term"]
        verbose_name = "CTCAE term"

    def __str__(self) -> str:
        return self.term

    @property
    def allowed_grades(self) -> list[int]:
        """Grades (1–5) defined for this term, ascending."""
        return [g.grade for g in self.grades.all()]


class CTCAEGrade(models.Model):
    """A grade that exists for a term, with its CTCAE v5.0 definition (absent grades have no row)."""

    term = models.ForeignKey(CTCAETerm, on_delete=models.CASCADE, related_name="grades")
    grade = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    description = models.TextField()

    class Meta:
        ordering = ["term", "grade"]
        constraints = [
            models.UniqueConstraint(fields=["term", "grade"], name="ctcaegrade_term_grade_unique"),
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ctcaegrade_grade_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.term} grade {self.grade}"


class CTCAESynonym(models.Model):
    """A word ward staff type for a CTCAE v5.0 term (abbreviation, synonym, British spelling).

    Reference data from ``fixtures/ctcae/synonyms.csv`` (loaded by :func:`ae.synonyms.ctcae_synonyms_load`).
    One synonym may map to several terms (``neutropenia``: Neutrophil count decreased and Febrile neutropenia);
    a synonym is stored once per term whatever its case. Lookups are case-insensitive: ``synonym__iexact``
    compares ``UPPER(synonym)``, which the unique index covers.
    """

    term = models.ForeignKey(CTCAETerm, on_delete=models.CASCADE, related_name="synonyms")
    synonym = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True,
                              help_text="Where the word comes from (ward usage, British spelling, ASTCT 2019, ...).")
    note = models.TextField(blank=True, help_text="Shown to the nurse when she types the synonym.")

    class Meta:
        ordering = ["synonym", "term"]
        verbose_name = "CTCAE synonym"
        constraints = [
            models.UniqueConstraint(Upper("synonym"), "term", name="ctcaesynonym_synonym_term_unique",
                                    violation_error_message="This synonym already maps to this term."),
            models.CheckConstraint(condition=~Q(synonym="") & Q(synonym=Trim("synonym")),
                                   name="ctcaesynonym_synonym_trimmed",
                                   violation_error_message="A synonym is a non-empty word without outer spaces."),
        ]

    def __str__(self) -> str:
        return f"{self.synonym} → {self.term}"


@tracked
class AdverseEvent(models.Model):
    """One CTCAE-graded adverse event of a patient in a treatment cycle (SDTM AE record)."""

    class Relatedness(models.TextChoices):  # AEREL
        NOT_RELATED = "not_related", "Not related"
        UNLIKELY = "unlikely", "Unlikely related"
        POSSIBLE = "possible", "Possibly related"
        PROBABLE = "probable", "Probably related"
        DEFINITE = "definite", "Definitely related"

    class Action(models.TextChoices):  # AEACN, CDISC codelist ACN
        DOSE_NOT_CHANGED = "DOSE NOT CHANGED", "Dose not changed"
        DOSE_REDUCED = "DOSE REDUCED", "Dose reduced"
        DRUG_INTERRUPTED = "DRUG INTERRUPTED", "Infusion interrupted"
        DRUG_WITHDRAWN = "DRUG WITHDRAWN", "Blinatumomab permanently stopped"
        NOT_APPLICABLE = "NOT APPLICABLE", "Not applicable"
        UNKNOWN = "UNKNOWN", "Unknown"

    class Outcome(models.TextChoices):  # AEOUT, CDISC codelist OUT
        RECOVERED = "RECOVERED/RESOLVED", "Recovered/resolved"
        RECOVERING = "RECOVERING/RESOLVING", "Recovering/resolving"
        NOT_RECOVERED = "NOT RECOVERED/NOT RESOLVED", "Not recovered/not resolved"
        SEQUELAE = "RECOVERED/RESOLVED WITH SEQUELAE", "Recovered with sequelae"
        FATAL = "FATAL", "Fatal"
        UNKNOWN = "UNKNOWN", "Unknown"

    class GradingScale(models.TextChoices):
        CTCAE_V5 = "ctcae_v5_0", "CTCAE v5.0"
        CTCAE_V403 = "ctcae_v4_03", "CTCAE v4.03"
        ASTCT_2019 = "astct_2019", "ASTCT 2019 consensus (CRS/ICANS)"
        LEE_2014 = "lee_2014", "Lee 2014 (CRS)"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events")
    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.PROTECT, related_name="adverse_events")
    term = models.ForeignKey(CTCAETerm, on_delete=models.PROTECT, related_name="adverse_events",
                             verbose_name="CTCAE term")
    grade = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    verbatim_term = models.CharField("reported term (verbatim)", max_length=200, blank=True)
    grading_scale = models.CharField(max_length=20, choices=GradingScale.choices, default=GradingScale.CTCAE_V5)
    onset_date = models.DateField()
    resolution_date = models.DateField(null=True, blank=True)
    present_before_cycle = models.BooleanField(
        default=False, help_text="Already present when the cycle started (not treatment-emergent unless it worsens).")
    serious = models.BooleanField(default=False)
    sae_death = models.BooleanField("results in death", default=False)  # AESDTH
    sae_life_threatening = models.BooleanField("life-threatening", default=False)  # AESLIFE
    sae_hospitalization = models.BooleanField("requires or prolongs hospitalisation", default=False)  # AESHOSP
    sae_disability = models.BooleanField("persistent or significant disability", default=False)  # AESDISAB
    sae_congenital_anomaly = models.BooleanField("congenital anomaly", default=False)  # AESCONG
    sae_medically_important = models.BooleanField("other medically important event", default=False)  # AESMIE
    relatedness = models.CharField("relatedness to blinatumomab", max_length=20, choices=Relatedness.choices)
    action_taken = models.CharField(max_length=20, choices=Action.choices)
    outcome = models.CharField(max_length=40, choices=Outcome.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: Incremented on every edit; an edit based on an older version is refused (no lost update).
    version = models.PositiveIntegerField(default=1)
    # Grade provenance for events graded from bedside assessments (CRS/ICANS episodes). ``grading_scale``
    # names the scale and its version (CTCAE v5.0 / v4.03, ASTCT 2019, Lee 2014); ``computed_grade`` is the
    # grade the published rule gives from the recorded criteria (the episode's maximum), null when the
    # grade was only entered by hand. A clinician's grade that differs needs ``grade_discrepancy_reason``
    # and stays a data-quality query for the site's safety officer until resolved.
    computed_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    computed_rationale = models.TextField(blank=True)
    grade_discrepancy_reason = models.TextField(
        "reason the grade differs from the computed grade", blank=True,
        help_text="Required when your grade differs from the grade computed from the recorded criteria.")
    discrepancy_resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                                blank=True, related_name="+")
    discrepancy_resolved_at = models.DateTimeField(null=True, blank=True)
    discrepancy_resolution_comment = models.TextField(blank=True)

    SAE_FIELDS = ("sae_death", "sae_life_threatening", "sae_hospitalization", "sae_disability",
                  "sae_congenital_anomaly", "sae_medically_important")

    class Meta:
        ordering = ["patient", "cycle__number", "onset_date", "id"]
        verbose_name = "adverse event"
        constraints = [
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ae_grade_1_5"),
            models.CheckConstraint(
                condition=Q(resolution_date__isnull=True) | Q(resolution_date__gte=F("onset_date")),
                name="ae_resolution_not_before_onset",
                violation_error_message="Resolution cannot be before onset."),
            models.CheckConstraint(condition=~Q(grade=5) | Q(outcome="FATAL"), name="ae_grade5_is_fatal",
                violation_error_message="Grade 5 means death related to the event: the outcome must be Fatal."),
            models.CheckConstraint(
                condition=Q(serious=False, sae_death=False, sae_life_threatening=False,
                            sae_hospitalization=False, sae_disability=False, sae_congenital_anomaly=False,
                            sae_medically_important=False)
                | Q(serious=True) & (Q(sae_death=True) | Q(sae_life_threatening=True)
                                     | Q(sae_hospitalization=True) | Q(sae_disability=True)
                                     | Q(sae_congenital_anomaly=True) | Q(sae_medically_important=True)),
                name="ae_serious_iff_sae_criterion",
                violation_error_message=("A serious event needs at least one SAE criterion, and SAE criteria"
                                         " need the event marked serious.")),
            models.CheckConstraint(condition=Q(computed_grade__isnull=True) | Q(computed_grade__lte=5),
                                   name="ae_computed_grade_0_5"),
            models.CheckConstraint(
                condition=Q(computed_grade__isnull=True) | Q(computed_grade=F("grade"))
                | ~Q(grade_discrepancy_reason=""),
                name="ae_grade_discrepancy_has_reason",
                violation_error_message="A grade that differs from the computed grade needs its reason."),
            models.CheckConstraint(
                condition=Q(discrepancy_resolved_at__isnull=True, discrepancy_resolved_by__isnull=True,
                            discrepancy_resolution_comment="")
                | Q(discrepancy_resolved_at__isnull=False, discrepancy_resolved_by__isnull=False)
                & ~Q(discrepancy_resolution_comment=""),
                name="ae_discrepancy_resolution_complete",
                violation_error_message="A resolved discrepancy needs who resolved it, when, and a comment."),
        ]
        indexes = [models.Index(fields=["term", "grade"], name="ae_term_grade_idx")]
        triggers = [
            pgtrigger.Trigger(
                name="ae_onset_within_cycle",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                DECLARE cycle_start date;
                BEGIN
                    SELECT start_date INTO cycle_start FROM patients_treatmentcycle WHERE id = NEW.cycle_id;
                    IF NOT NEW.present_before_cycle AND NEW.onset_date < cycle_start THEN
                        RAISE EXCEPTION 'onset % is before the cycle start %', NEW.onset_date, cycle_start
                            USING ERRCODE = 'check_violation';
                    END IF;
                    IF NEW.present_before_cycle AND NEW.onset_date > cycle_start THEN
                        RAISE EXCEPTION 'an event present before the cycle cannot start after it (% > %)',
                            NEW.onset_date, cycle_start USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} C{self.cycle.number}: {self.term} G{self.grade}"

    def clean(self) -> None:
        """Check the rules the database enforces, with messages a ward nurse can act on.

        Raises ValidationError keyed by field; the database constraints and triggers named in the
        module docstring refuse the same data if this is bypassed.
        """
        errors: dict[str, str] = {}
        term = self.term if self.term_id else None
        cycle = self.cycle if self.cycle_id else None
        if term is not None and self.grade is not None:
            allowed = term.allowed_grades
            if self.grade not in allowed:
                errors["grade"] = (f"{term.term} has no grade {self.grade} in CTCAE v5.0; "
                                   f"allowed grades: {', '.join(map(str, allowed))}.")
        if cycle is not None and self.patient_id is not None and cycle.patient_id != self.patient_id:
            errors["cycle"] = "This cycle belongs to another patient."
        if cycle is not None and self.onset_date is not None:
            if not self.present_before_cycle and self.onset_date < cycle.start_date:
                errors["onset_date"] = (f"Onset {self.onset_date:%d %b %Y} is before cycle {cycle.number} started "
                                        f"({cycle.start_date:%d %b %Y}). If the event was already present, tick "
                                        f"'present before cycle'.")
            elif self.present_before_cycle and self.onset_date > cycle.start_date:
                errors["onset_date"] = (f"An event present before the cycle must have begun on or before "
                                        f"{cycle.start_date:%d %b %Y}.")
        if self.resolution_date and self.onset_date and self.resolution_date < self.onset_date:
            errors["resolution_date"] = "Resolution cannot be before onset."
        if (self.computed_grade is not None and self.grade is not None and self.grade != self.computed_grade
                and not self.grade_discrepancy_reason.strip()):
            errors["grade_discrepancy_reason"] = (
                f"Your grade {self.grade} differs from the computed grade {self.computed_grade} "
                f"({self.computed_rationale or 'from the recorded criteria'}): give the reason.")
        if self.grade == 5 and self.outcome != self.Outcome.FATAL:
            errors["outcome"] = "Grade 5 means death related to the event: the outcome must be Fatal."
        criteria = any(getattr(self, f) for f in self.SAE_FIELDS)
        if self.serious and not criteria:
            errors["serious"] = "A serious event needs at least one SAE criterion."
        elif criteria and not self.serious:
            errors["serious"] = "SAE criteria are ticked: mark the event as serious, or untick them."
        if errors:
            raise ValidationError(errors)

    @property
    def onset_cycle_day(self) -> int:
        """Day of the cycle on which the event began; day 1 is the cycle start (ADaM ASTDY convention)."""
        return (self.onset_date - self.cycle.start_date).days + 1

    @property
    def treatment_emergent(self) -> bool:
        """ADaM TRTEMFL: began on or after the cycle start."""
        return not self.present_before_cycle

    @property
    def grade_discrepancy_open(self) -> bool:
        """The entered grade differs from the computed grade and no reviewer has resolved the query yet."""
        return (self.computed_grade is not None and self.grade != self.computed_grade
                and self.discrepancy_resolved_at is None)

    @property
    def sae_criteria(self) -> list[str]:
        """Verbose names of the SAE criteria ticked."""
        return [str(self._meta.get_field(f).verbose_name) for f in self.SAE_FIELDS  # type: ignore[union-attr]
                if getattr(self, f)]


class AdverseEventRevision(models.Model):
    """Append-only record of an edit to an adverse event: who, when, why, and each field's old → new."""

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField(help_text="The event's version after this edit.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    changes = models.JSONField(help_text='{"field": ["old", "new"], ...}')

    class Meta:
        ordering = ["adverse_event", "version"]
        constraints = [
            models.UniqueConstraint(fields=["adverse_event", "version"], name="aerevision_one_per_version"),
            models.CheckConstraint(condition=~Q(reason=""), name="aerevision_reason_required"),
        ]
        triggers = [pgtrigger.Protect(name="aerevision_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.adverse_event_id} v{self.version}"



# ------------------------------------------------------------------------------------ bedside assessments

def _choices(values) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ").capitalize()) for v in values]


def _in(field: str, values) -> Q:
    return Q(**{f"{field}__in": list(values)})


def _entered_grade_fields() -> tuple[models.Field, models.Field]:
    return (
        models.PositiveSmallIntegerField(
            "your grade", null=True, blank=True,
            help_text="Leave empty to accept the computed grade."),
        models.TextField("reason your grade differs", blank=True,
                         help_text="Required when your grade differs from the computed grade."),
    )


@tracked
class CRSAssessment(models.Model):
    """One bedside CRS assessment of an episode (its AE): raw criteria plus the grades computed from them.

    Units: ``temperature_c`` degrees Celsius (25–45), ``oxygen_flow_l_min`` L/min (≥ 0),
    ``oxygen_fio2_percent`` delivered FiO2 in percent (21–100; needed for the CTCAE v5.0 and Lee 2014
    hypoxia criteria, not for ASTCT 2019, which grades by device and flow). ``vasopressors`` are agent names
    from :data:`ae.grading.VASOPRESSORS`. Grades: ASTCT 2019 (always computed, 0–5), CTCAE v5.0 and
    Lee 2014 (null when the recorded criteria cannot decide them), each with the criterion that set it.
    """

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="crs_assessments")
    assessed_at = models.DateTimeField()
    temperature_c = models.DecimalField("temperature (°C)", max_digits=3, decimal_places=1, null=True, blank=True)
    tocilizumab_or_steroids_given = models.BooleanField("tocilizumab or corticosteroids given", default=False)
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
    entered_grade, grade_discrepancy_reason = _entered_grade_fields()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["adverse_event", "assessed_at", "id"]
        verbose_name = "CRS assessment"
        constraints = [
            models.CheckConstraint(
                condition=Q(temperature_c__isnull=True) | Q(temperature_c__gte=25, temperature_c__lte=45),
                name="crs_temperature_plausible", violation_error_message="Temperature must be 25–45 °C."),
            models.CheckConstraint(condition=Q(oxygen_flow_l_min__isnull=True) | Q(oxygen_flow_l_min__gte=0),
                                   name="crs_flow_not_negative",
                                   violation_error_message="Oxygen flow cannot be negative."),
            models.CheckConstraint(
                condition=~Q(oxygen_device="none") | Q(oxygen_flow_l_min__isnull=True) | Q(oxygen_flow_l_min=0),
                name="crs_no_flow_without_device",
                violation_error_message="An oxygen flow needs an oxygen device."),
            models.CheckConstraint(condition=~Q(oxygen_device="nasal_cannula") | Q(oxygen_flow_l_min__isnull=False),
                                   name="crs_nasal_cannula_has_flow",
                                   violation_error_message="A nasal cannula needs its flow (L/min)."),
            models.CheckConstraint(
                condition=Q(oxygen_fio2_percent__isnull=True)
                | Q(oxygen_fio2_percent__gte=21, oxygen_fio2_percent__lte=100),
                name="crs_fio2_21_100", violation_error_message="FiO2 must be 21–100%."),
            models.CheckConstraint(condition=_in("oxygen_device", grading.OXYGEN_DEVICES), name="crs_device_known"),
            models.CheckConstraint(condition=Q(vasopressors__contained_by=sorted(grading.VASOPRESSORS)),
                                   name="crs_vasopressors_known"),
            models.CheckConstraint(condition=Q(astct_grade__lte=5), name="crs_astct_grade_0_5"),
            models.CheckConstraint(condition=Q(ctcae_grade__isnull=True) | Q(ctcae_grade__lte=5),
                                   name="crs_ctcae_grade_0_5"),
            models.CheckConstraint(condition=Q(lee_grade__isnull=True) | Q(lee_grade__lte=5), name="crs_lee_grade_0_5"),
            models.CheckConstraint(condition=Q(entered_grade__isnull=True) | Q(entered_grade__lte=5),
                                   name="crs_entered_grade_0_5"),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(entered_grade=F("astct_grade"))
                | ~Q(grade_discrepancy_reason=""),
                name="crs_discrepancy_has_reason",
                violation_error_message="A grade that differs from the computed ASTCT grade needs its reason."),
        ]

    def __str__(self) -> str:
        return f"CRS assessment {self.assessed_at:%Y-%m-%d %H:%M} ASTCT G{self.astct_grade}"

    @property
    def effective_grade(self) -> int:
        """The clinician's grade when entered, else the computed ASTCT 2019 grade."""
        return self.astct_grade if self.entered_grade is None else self.entered_grade


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
                                     choices=_choices(grading.CONSCIOUSNESS_LEVELS), default="normal")
    seizure = models.CharField(max_length=40, choices=_choices(grading.SEIZURE_LEVELS), default="none")
    motor = models.CharField("motor findings", max_length=30, choices=_choices(grading.MOTOR_LEVELS),
                             default="none")
    cerebral_edema = models.CharField("raised ICP / cerebral edema", max_length=30,
                                      choices=_choices(grading.CEREBRAL_EDEMA_LEVELS), default="none")
    grade = models.PositiveSmallIntegerField("ASTCT 2019 ICANS grade")
    rationale = models.TextField()
    entered_grade, grade_discrepancy_reason = _entered_grade_fields()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["adverse_event", "assessed_at", "id"]
        verbose_name = "ICANS assessment"
        constraints = [
            models.CheckConstraint(condition=_in("tool", grading.ICANS_TOOLS), name="icans_tool_known"),
            models.CheckConstraint(
                condition=Q(unable_to_perform=True, score__isnull=True) | Q(unable_to_perform=False,
                                                                           score__isnull=False),
                name="icans_score_xor_unable",
                violation_error_message="Give the score, or tick 'unable to perform' (not both)."),
            models.CheckConstraint(condition=~Q(tool="ICE") | Q(score__isnull=True) | Q(score__lte=grading.ICE_MAX),
                                   name="icans_ice_0_10", violation_error_message="The ICE score is 0–10."),
            models.CheckConstraint(condition=~Q(tool="CAPD") | Q(score__isnull=True)
                                   | Q(score__lte=grading.CAPD_MAX),
                                   name="icans_capd_0_32", violation_error_message="The CAPD total is 0–32."),
            models.CheckConstraint(condition=_in("consciousness", grading.CONSCIOUSNESS_LEVELS),
                                   name="icans_consciousness_known"),
            models.CheckConstraint(condition=_in("seizure", grading.SEIZURE_LEVELS), name="icans_seizure_known"),
            models.CheckConstraint(condition=_in("motor", grading.MOTOR_LEVELS), name="icans_motor_known"),
            models.CheckConstraint(condition=_in("cerebral_edema", grading.CEREBRAL_EDEMA_LEVELS),
                                   name="icans_edema_known"),
            models.CheckConstraint(condition=Q(grade__lte=5), name="icans_grade_0_5"),
            models.CheckConstraint(condition=Q(entered_grade__isnull=True) | Q(entered_grade__lte=5),
                                   name="icans_entered_grade_0_5"),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(entered_grade=F("grade")) | ~Q(grade_discrepancy_reason=""),
                name="icans_discrepancy_has_reason",
                violation_error_message="A grade that differs from the computed ICANS grade needs its reason."),
        ]

    def __str__(self) -> str:
        return f"ICANS assessment {self.assessed_at:%Y-%m-%d %H:%M} G{self.grade}"

    @property
    def effective_grade(self) -> int:
        """The clinician's grade when entered, else the computed ASTCT 2019 ICANS grade."""
        return self.grade if self.entered_grade is None else self.entered_grade


def _lab_unit_condition() -> Q:
    condition = Q()
    for analyte, rule in grading._LAB_RULES.items():  # noqa: SLF001 - the units the grading rules accept
        condition |= Q(analyte=analyte, unit__in=list(rule.units))
    return condition


@tracked
class LabResult(models.Model):
    """One lab value of a patient, graded by CTCAE v5.0 (:func:`ae.grading.grade_lab`).

    ``value``, ``lln`` and ``uln`` are in ``unit`` (one the grading rules accept for the analyte). ``cycle``
    is the treatment cycle the value belongs to (null before any cycle). ``baseline`` marks the value at
    the cycle start (collected on or before it; at most one per cycle and analyte). ``grade`` is null
    when CTCAE cannot decide it (e.g. grade 0 vs 1 without an LLN). ``treatment_emergent`` follows ADaM
    TRTEMFL for labs: a value after the baseline is treatment-emergent only if its grade is worse than the
    baseline grade (null for the baseline itself and when the grade is undetermined).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="lab_results")
    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="lab_results")
    analyte = models.CharField(max_length=20, choices=_choices(grading.LAB_ANALYTES))
    value = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=20)
    lln = models.DecimalField("LLN", max_digits=12, decimal_places=4, null=True, blank=True)
    uln = models.DecimalField("ULN", max_digits=12, decimal_places=4, null=True, blank=True)
    collected_at = models.DateTimeField()
    baseline = models.BooleanField("baseline (value at cycle start)", default=False)
    ctcae_term = models.CharField(max_length=200)
    grade = models.PositiveSmallIntegerField("CTCAE v5.0 grade", null=True, blank=True)
    rationale = models.TextField()
    treatment_emergent = models.BooleanField(null=True, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "analyte", "collected_at", "id"]
        constraints = [
            models.CheckConstraint(condition=_in("analyte", grading.LAB_ANALYTES), name="lab_analyte_known"),
            models.CheckConstraint(condition=_lab_unit_condition(), name="lab_unit_known_for_analyte",
                                   violation_error_message="This unit is not accepted for the analyte."),
            models.CheckConstraint(condition=Q(value__gte=0), name="lab_value_not_negative"),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(lln__gt=0), name="lab_lln_positive"),
            models.CheckConstraint(condition=Q(uln__isnull=True) | Q(uln__gt=0), name="lab_uln_positive"),
            models.CheckConstraint(condition=Q(lln__isnull=True) | Q(uln__isnull=True) | Q(lln__lt=F("uln")),
                                   name="lab_lln_below_uln", violation_error_message="LLN must be below ULN."),
            models.CheckConstraint(condition=Q(grade__isnull=True) | Q(grade__lte=4), name="lab_grade_0_4"),
            models.CheckConstraint(condition=Q(baseline=False) | Q(cycle__isnull=False),
                                   name="lab_baseline_has_cycle",
                                   violation_error_message="A baseline value belongs to the cycle it precedes."),
            models.CheckConstraint(condition=Q(baseline=False) | Q(treatment_emergent__isnull=True),
                                   name="lab_baseline_not_treatment_emergent"),
            models.UniqueConstraint(fields=["cycle", "analyte"], condition=Q(baseline=True),
                                    name="lab_one_baseline_per_cycle_analyte"),
        ]
        indexes = [models.Index(fields=["patient", "analyte", "collected_at"], name="lab_patient_analyte_idx")]

    def __str__(self) -> str:
        return f"{self.patient} {self.analyte} {self.value} {self.unit} @ {self.collected_at:%Y-%m-%d}"
