"""Sites (wards), who may work on them, pseudonymous patients and blinatumomab treatment cycles."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from core.audit import tracked

#: Marrow blast threshold (%) separating high from low leukaemia burden; the strata of the
#: benchmark case mix (statistics.md §3.2; blinatumomab CRS/neurotoxicity rise with burden).
HIGH_BURDEN_BLASTS_PCT = Decimal("5")


class Site(models.Model):
    """A ward or hospital whose patients are tracked; the unit of access and of benchmarking."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    #: For a demo ward rebuilt from a published cohort: that cohort's slug. The cohort is then left
    #: out of the ward's own benchmark (it cannot be its own reference).
    demo_of_cohort = models.SlugField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@tracked
class Membership(models.Model):
    """Grants one user one role on one site; without a membership a user sees nothing of the site."""

    class Role(models.TextChoices):
        WARD_STAFF = "ward_staff", "Ward staff"
        SAFETY_OFFICER = "safety_officer", "Safety officer"
        ADMINISTRATOR = "administrator", "Administrator"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="membership_one_role_per_site")]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} @ {self.site}"


study_id_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,29}$",
    "Use the pseudonymous study ID (capital letters, digits and hyphens, e.g. KRK-007); never a name or record number.",
)


@tracked
class Patient(models.Model):
    """A child treated with blinatumomab, identified only by a pseudonymous study ID (USUBJID)."""

    class Sex(models.TextChoices):  # CDISC SEX codelist C66731
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNKNOWN = "U", "Unknown"

    class DiseaseStatus(models.TextChoices):
        PRIMARY_REFRACTORY = "primary_refractory", "Primary refractory"
        FIRST_RELAPSE = "relapse_1", "First relapse"
        SECOND_RELAPSE = "relapse_2", "Second relapse"
        LATER_RELAPSE = "relapse_3plus", "Third or later relapse"
        MRD_POSITIVE_CR = "mrd_positive_cr", "MRD-positive in complete remission"
        CHEMO_INELIGIBLE = "chemo_ineligible", "Chemotherapy-ineligible (in CR)"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    study_id = models.CharField("study ID", max_length=30, validators=[study_id_validator])
    sex = models.CharField(max_length=1, choices=Sex.choices)
    birth_month = models.DateField(help_text="Year and month of birth; stored as the first day of the month.")
    disease_status = models.CharField(max_length=20, choices=DiseaseStatus.choices)
    prior_hsct = models.BooleanField("prior HSCT", default=False)
    prior_car_t = models.BooleanField("prior CAR-T", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["site", "study_id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "study_id"], name="patient_study_id_unique_per_site"),
            models.CheckConstraint(condition=Q(birth_month__day=1), name="patient_birth_month_first_day",
                violation_error_message="The birth month is stored as the first day of the month."),
            models.CheckConstraint(condition=Q(study_id__regex=r"^[A-Z0-9][A-Z0-9-]{1,29}$"),
                                   name="patient_study_id_pseudonymous_format",
                violation_error_message=("Use the pseudonymous study ID (capital letters, digits and hyphens),"
                                         " never a name.")),
        ]

    def __str__(self) -> str:
        return self.study_id

    @property
    def usubjid(self) -> str:
        """CDISC USUBJID: site slug and study ID, unique across pvtrack."""
        return f"{self.site.slug.upper()}-{self.study_id}"


@tracked
class TreatmentCycle(models.Model):
    """One blinatumomab cycle: 28-day continuous infusion (standard) or 14-day short course."""

    class Schedule(models.TextChoices):
        STANDARD_28D = "standard_28d", "Standard (28-day infusion)"
        SHORT_14D = "short_14d", "Short course (14-day infusion)"

    class DiscontinuationReason(models.TextChoices):
        ADVERSE_EVENT = "adverse_event", "Adverse event"
        PROGRESSION = "progression", "Disease progression / no response"
        HSCT = "hsct", "Proceeded to HSCT"
        PHYSICIAN = "physician_decision", "Physician decision"
        FAMILY = "family_decision", "Patient/family decision"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cycles")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(20)])
    schedule = models.CharField(max_length=20, choices=Schedule.choices, default=Schedule.STANDARD_28D)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    starting_dose = models.DecimalField("starting dose (µg/m²/day)", max_digits=5, decimal_places=1,
                                       validators=[MinValueValidator(Decimal("0.1"))])
    step_up_dose = models.DecimalField("step-up dose (µg/m²/day)", max_digits=5, decimal_places=1,
                                       null=True, blank=True, validators=[MinValueValidator(Decimal("0.1"))])
    step_up_day = models.PositiveSmallIntegerField("step-up on cycle day", null=True, blank=True,
                                                   validators=[MinValueValidator(2)])
    dexamethasone_premedication = models.BooleanField(default=True)
    marrow_blasts_pct = models.DecimalField("marrow blasts at baseline (%)", max_digits=5, decimal_places=2,
                                            null=True, blank=True,
                                            validators=[MinValueValidator(0), MaxValueValidator(100)])
    mrd_pct = models.DecimalField("MRD at baseline (% of nucleated cells)", max_digits=9, decimal_places=6,
                                  null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)])
    interruptions = models.PositiveSmallIntegerField("infusion interruptions", default=0)
    interruption_reason = models.CharField(max_length=300, blank=True)
    discontinued = models.BooleanField("discontinued early", default=False)
    discontinuation_reason = models.CharField(max_length=30, choices=DiscontinuationReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient", "number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="cycle_number_unique_per_patient"),
            # Target of the adverse event's composite foreign key (cycle_id, patient_id).
            models.UniqueConstraint(fields=["id", "patient"], name="cycle_id_patient_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="cycle_number_positive"),
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                                   name="cycle_end_not_before_start",
                violation_error_message="The cycle cannot end before it starts."),
            models.CheckConstraint(
                condition=Q(marrow_blasts_pct__isnull=True)
                | (Q(marrow_blasts_pct__gte=0) & Q(marrow_blasts_pct__lte=100)),
                name="cycle_blasts_pct_0_100",
                violation_error_message="Marrow blasts must be between 0 and 100%."),
            models.CheckConstraint(
                condition=Q(mrd_pct__isnull=True) | (Q(mrd_pct__gte=0) & Q(mrd_pct__lte=100)),
                name="cycle_mrd_pct_0_100",
                violation_error_message="MRD must be between 0 and 100%."),
            models.CheckConstraint(condition=Q(starting_dose__gt=0), name="cycle_starting_dose_positive",
                violation_error_message="The starting dose must be above 0 µg/m²/day."),
            models.CheckConstraint(
                condition=Q(discontinued=False, discontinuation_reason="") | Q(discontinued=True)
                & ~Q(discontinuation_reason=""),
                name="cycle_discontinuation_has_reason",
                violation_error_message=("An early discontinuation needs its reason (and a reason needs the"
                                         " discontinuation ticked).")),
            models.CheckConstraint(condition=Q(interruptions=0) | ~Q(interruption_reason=""),
                                   name="cycle_interruption_has_reason",
                violation_error_message="Give the reason for the infusion interruptions."),
        ]
        triggers = [
            # An AE's onset must not precede its cycle's start (unless recorded as present before
            # the cycle); moving a cycle's start date must not silently break that for existing AEs.
            pgtrigger.Trigger(
                name="cycle_start_keeps_ae_onsets_valid",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(old__start_date__df=pgtrigger.F("new__start_date")),
                func="""
                IF EXISTS (SELECT 1 FROM ae_adverseevent a
                           WHERE a.cycle_id = NEW.id AND a.present_before_cycle = FALSE
                             AND a.onset_date < NEW.start_date) THEN
                    RAISE EXCEPTION 'cycle % start % would follow the onset of an adverse event in it',
                        NEW.number, NEW.start_date USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} cycle {self.number}"

    def clean(self) -> None:
        """Refuse a start date that would fall after the onset of an event recorded in this cycle."""
        if self.pk and self.start_date:
            early = self.adverse_events.filter(present_before_cycle=False, onset_date__lt=self.start_date).count()
            if early:
                raise ValidationError({"start_date": f"{early} adverse event(s) of this cycle began before "
                                                     f"{self.start_date:%d %b %Y}: correct their onset first."})

    @property
    def blast_stratum(self) -> str | None:
        """'blasts_ge5', 'blasts_lt5', or None when marrow blasts were not recorded."""
        if self.marrow_blasts_pct is None:
            return None
        return "blasts_ge5" if self.marrow_blasts_pct >= HIGH_BURDEN_BLASTS_PCT else "blasts_lt5"
