"""Sites (wards), who may work on them, pseudonymous patients and blinatumomab treatment cycles."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import format_lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from core.audit import tracked
from core.numbers import number_for_reader
from patients import disease_status
from patients.treatment import (
    FIXED_DOSE_MIN_KG,
    SEVEN_DAY_BAG_MIN_KG,
    DoseUnit,
    DosingStep,
    HospitalStay,
    InfusionInterruption,
    NextTherapy,
    Recorded,
)

#: Plausibility of cycle dates (a typing slip such as 0001-01-01 or 9999-12-31 is refused): earliest start
#: (blinatumomab's first paediatric use was in the phase I/II trial from 2008; 2005 leaves a margin), longest cycle
#: from start to end (28-day infusion + interruptions; 120 days is generous), how far ahead a start may be entered.
EARLIEST_CYCLE = datetime.date(2005, 1, 1)
MAX_CYCLE_DAYS = 120
MAX_START_AHEAD_DAYS = 60
#: Earliest plausible birth month (young adults are treated on paediatric protocols up to about 25 years).
EARLIEST_BIRTH = datetime.date(1950, 1, 1)

#: Marrow blast threshold (%) separating high from low leukaemia burden; the strata of the
#: benchmark case mix (statistics.md §3.2; blinatumomab CRS/neurotoxicity rise with burden).
HIGH_BURDEN_BLASTS_PCT = Decimal("5")


def validate_time_zone(value: str) -> None:
    """Refuse a name that is not an IANA time zone of the system's tz database (zoneinfo)."""
    import zoneinfo

    if value not in zoneinfo.available_timezones():
        raise ValidationError(gettext("%(value)r is not an IANA time zone name (e.g. Europe/Warsaw).")
                              % {"value": value})


class Site(models.Model):
    """A ward or hospital whose patients are tracked; the unit of access and of benchmarking."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    #: For a demo ward rebuilt from a published cohort: that cohort's slug. The cohort is then left
    #: out of the ward's own benchmark (it cannot be its own reference).
    demo_of_cohort = models.SlugField(blank=True)
    #: The ward's default interface language (a user may choose another on their profile) and its IANA time zone:
    #: the dates and times of pages, forms and exports of the site's users (issue 15, item 4), and the zone in which
    #: SAE awareness times and reporting clocks are computed and shown (docs/sae-cases.md, "Clocks").
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    time_zone = models.CharField("time zone", max_length=64, default=settings.TIME_ZONE,
                                 validators=[validate_time_zone],
                                 help_text="IANA time zone name, e.g. Europe/Warsaw, Asia/Shanghai, Europe/Rome.")
    #: ISO 3166-1 alpha-2 code of the ward's country ("" not given): the primary source's and sender's country of
    #: SAE reports (ICH E2B(R3) C.2.r.3, C.3.4.5) and the prefix of their worldwide unique case ID (C.1.8.1).
    country = models.CharField("country", max_length=2, blank=True,
                               validators=[RegexValidator(r"^[A-Z]{2}$", "Give the two capital letters of the ISO "
                                                          "3166-1 country code, e.g. PL.")],
                               help_text="ISO 3166-1 alpha-2, e.g. PL, CN, IT.")
    #: Hours from awareness of a serious adverse event to the report to the sponsor (ICH E6(R2) 4.11.1
    #: "immediately"; protocols commonly say 24 h). A protocol may set a shorter window.
    sae_sponsor_hours = models.PositiveSmallIntegerField("SAE report to the sponsor within (hours)", default=24,
                                                         validators=[MinValueValidator(1), MaxValueValidator(72)])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(language__in=[code for code, _ in settings.LANGUAGES]),
                                   name="site_language_known"),
            models.CheckConstraint(condition=Q(sae_sponsor_hours__gte=1, sae_sponsor_hours__lte=72),
                                   name="site_sae_sponsor_hours_1_72",
                                   violation_error_message=_("The sponsor window is 1 to 72 hours.")),
            models.CheckConstraint(condition=~Q(time_zone=""), name="site_time_zone_set",
                                   violation_error_message=_("Give the site's time zone.")),
            models.CheckConstraint(condition=Q(country="") | Q(country__regex=r"^[A-Z]{2}$"), name="site_country_iso",
                                   violation_error_message=_("The country is a two-letter ISO 3166-1 code.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a time zone that is not an IANA name known to this system (zoneinfo)."""
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": gettext("%(value)r is not a known IANA time zone.")
                                   % {"value": self.time_zone}}) from exc


@tracked
class Membership(models.Model):
    """Grants one user one role on one site; without a membership a user sees nothing of the site."""

    class Role(models.TextChoices):
        WARD_STAFF = "ward_staff", _("Ward staff")
        SAFETY_OFFICER = "safety_officer", _("Safety officer")
        ADMINISTRATOR = "administrator", _("Administrator")
        #: Sees every ward of the installation in the network comparison (names included) and no ward's patient
        #: data; the site of the membership is where the grant was made (patients.access, docs/network-and-trends.md).
        NETWORK_COORDINATOR = "network_coordinator", _("Network coordinator")

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

    # The codes are what is stored, exported (CDISC SEX codelist C66731) and sent; the labels are pvtrack's display
    # wording of a code, shown in the reader's language (issue 15). What is signed or leaves the ward is built under
    # translation.override("en-gb") and keeps the English labels (ae.sae.build, ae.services.labs).
    class Sex(models.TextChoices):  # CDISC SEX codelist C66731
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        UNKNOWN = "U", pgettext_lazy("sex", "Unknown")

    class DiseaseStatus(models.TextChoices):
        PRIMARY_REFRACTORY = "primary_refractory", _("Primary refractory")
        FIRST_RELAPSE = "relapse_1", _("First relapse")
        SECOND_RELAPSE = "relapse_2", _("Second relapse")
        LATER_RELAPSE = "relapse_3plus", _("Third or later relapse")
        MRD_POSITIVE_CR = "mrd_positive_cr", _("MRD-positive in complete remission")
        CHEMO_INELIGIBLE = "chemo_ineligible", _("Chemotherapy-ineligible (in CR)")

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
                violation_error_message=_("The birth month is stored as the first day of the month.")),
            models.CheckConstraint(condition=Q(birth_month__gte=EARLIEST_BIRTH), name="patient_birth_month_plausible",
                violation_error_message=format_lazy(_("The birth month cannot be before {year}."),
                                                    year=f"{EARLIEST_BIRTH:%Y}")),
            models.CheckConstraint(condition=Q(study_id__regex=r"^[A-Z0-9][A-Z0-9-]{1,29}$"),
                                   name="patient_study_id_pseudonymous_format",
                violation_error_message=_("Use the pseudonymous study ID (capital letters, digits and hyphens),"
                                         " never a name.")),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="patient_birth_month_not_future",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                IF NEW.birth_month > CURRENT_DATE + 1 THEN
                    RAISE EXCEPTION 'birth month % is in the future', NEW.birth_month USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return self.study_id

    def clean(self) -> None:
        """Refuse a birth month in the future, before ``EARLIEST_BIRTH``, or after one of the patient's cycles."""
        if self.birth_month is None:
            return
        if self.birth_month > timezone.localdate():
            raise ValidationError({"birth_month": gettext("The birth month cannot be in the future.")})
        if self.birth_month < EARLIEST_BIRTH:
            raise ValidationError({"birth_month": gettext("The birth month cannot be before {year}.").format(
                year=f"{EARLIEST_BIRTH:%Y}")})
        if self.pk:
            first = self.cycles.order_by("start_date").values_list("start_date", flat=True).first()
            if first is not None and first < self.birth_month:
                raise ValidationError({"birth_month": gettext("Cycle treatment started %(start)s, before this "
                                                              "birth month.") % {"start": _day(first)}})

    def death_date(self, *, excluding_event: int | None = None) -> datetime.date | None:
        """The day the patient died as the record says, or None: the earliest end of an adverse event with outcome
        Fatal (its resolution date — CDISC AEENDTC of a fatal AE is the date of death —, else its onset date),
        leaving out the event with id ``excluding_event`` (the one being edited). Nothing of the patient can begin
        after it: no event onset, resolution, lab value, bedside assessment, treatment or cycle start
        (``AdverseEvent.clean``, ``TreatmentCycle.clean``, ``EventTreatment.clean``, the lab and assessment services;
        database triggers ``ae_not_after_death`` and ``ae_death_is_last``). The same rule, as subqueries for many
        patients at once, is ``ae.models.events.death_annotations``. One query."""
        if not self.pk:
            return None
        fatal = self.adverse_events.filter(outcome="FATAL")  # AdverseEvent.Outcome.FATAL (app ae, above this one)
        if excluding_event is not None:
            fatal = fatal.exclude(pk=excluding_event)
        return fatal.aggregate(day=models.Min(Coalesce("resolution_date", "onset_date")))["day"]

    @property
    def usubjid(self) -> str:
        """CDISC USUBJID: site slug and study ID, unique across pvtrack."""
        return f"{self.site.slug.upper()}-{self.study_id}"


def _day(day: datetime.date) -> str:
    """A date as the pages show it ("05 Jan 2026"; "05 Sty 2026" in Polish)."""
    return date_format(day, "d M Y")


@tracked
class TreatmentCycle(models.Model):
    """One blinatumomab cycle: 28-day continuous infusion (standard) or 14-day short course."""

    class Schedule(models.TextChoices):
        STANDARD_28D = "standard_28d", _("Standard (28-day infusion)")
        SHORT_14D = "short_14d", _("Short course (14-day infusion)")

    class DiscontinuationReason(models.TextChoices):
        ADVERSE_EVENT = "adverse_event", _("Adverse event")
        PROGRESSION = "progression", _("Disease progression / no response")
        HSCT = "hsct", _("Proceeded to HSCT")
        PHYSICIAN = "physician_decision", _("Physician decision")
        FAMILY = "family_decision", _("Patient/family decision")
        OTHER = "other", _("Other")

    class BagDuration(models.IntegerChoices):  # BLINCYTO USPI §2 / SmPC §6.6: preservative-free 24–96 h, 7-day bag
        H24 = 24, _("24 hours")
        H48 = 48, _("48 hours")
        H72 = 72, _("72 hours")
        H96 = 96, _("96 hours")
        D7 = 168, _("7 days (with preservative; not for patients < 22 kg)")

    class CNSStatus(models.TextChoices):  # CNS involvement at cycle start (CSF cytology; standard ALL protocols)
        CNS1 = "cns1", _("CNS1 (no blasts in CSF)")
        CNS2 = "cns2", _("CNS2 (< 5 WBC/µL with blasts)")
        CNS3 = "cns3", _("CNS3 (≥ 5 WBC/µL with blasts, or CNS signs)")
        NOT_RECORDED = "not_recorded", _("Not recorded")

    class DexamethasoneUnit(models.TextChoices):
        MG_M2 = "mg_m2", "mg/m²"
        MG = "mg", "mg"

    class CycleDiseaseStatus(models.TextChoices):  # patients.disease_status: derivation and definitions
        RELAPSED_REFRACTORY = disease_status.RELAPSED_REFRACTORY, _("Relapsed/refractory (marrow blasts ≥ 5 %)")
        MRD_POSITIVE_CR = disease_status.MRD_POSITIVE_CR, _("Complete remission, MRD-positive (≥ 0.01 %)")
        MRD_NEGATIVE_CR = disease_status.MRD_NEGATIVE_CR, _("Complete remission, MRD-negative (< 0.01 %)")
        CHEMO_INELIGIBLE_CR = disease_status.CHEMO_INELIGIBLE_CR, _("Complete remission, chemotherapy-ineligible")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cycles")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(20)])
    schedule = models.CharField(max_length=20, choices=Schedule.choices, default=Schedule.STANDARD_28D)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    weight_kg = models.DecimalField(
        _("weight at cycle start (kg)"), max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(250)],
        help_text=_("Sets BSA-based (< 45 kg) or fixed (≥ 45 kg) dosing, and the 7-day bag."))
    bsa_m2 = models.DecimalField(_("body-surface area at cycle start (m²)"), max_digits=4, decimal_places=2, null=True,
                                 blank=True, validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(3)])
    bag_hours = models.PositiveSmallIntegerField(_("infusion bag duration"), choices=BagDuration.choices, null=True,
                                                 blank=True)
    cns_status = models.CharField(_("CNS status"), max_length=12, choices=CNSStatus.choices,
                                  default=CNSStatus.NOT_RECORDED)
    dexamethasone_premedication = models.CharField(
        _("dexamethasone premedication"), max_length=12, choices=Recorded.choices, default=Recorded.NOT_RECORDED,
        help_text=_("Before the first dose of the cycle (and before a step dose); 'not recorded' is neither yes "
                    "nor no."))
    dexamethasone_dose = models.DecimalField(_("dexamethasone premedication dose"), max_digits=5, decimal_places=2,
                                             null=True, blank=True, validators=[MinValueValidator(Decimal("0.01"))])
    dexamethasone_dose_unit = models.CharField(_("dexamethasone dose unit"), max_length=6,
                                               choices=DexamethasoneUnit.choices, blank=True)
    disease_status = models.CharField(
        _("disease status at cycle start"), max_length=20, choices=CycleDiseaseStatus.choices, blank=True,
        help_text=_("Derived from marrow blasts and MRD when they are recorded (≥ 5 % blasts = relapsed/refractory); "
                    "empty: the patient's status is used."))
    marrow_blasts_pct = models.DecimalField(_("marrow blasts at baseline (%)"), max_digits=5, decimal_places=2,
                                            null=True, blank=True,
                                            validators=[MinValueValidator(0), MaxValueValidator(100)])
    # xgettext:no-python-format
    mrd_pct = models.DecimalField(_("MRD at baseline (% of nucleated cells)"), max_digits=9, decimal_places=6,
                                  null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)])
    interruptions = models.PositiveSmallIntegerField(_("infusion interruptions"), default=0)
    interruption_reason = models.CharField(max_length=300, blank=True)
    discontinued = models.BooleanField(_("discontinued early"), default=False)
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
                violation_error_message=_("The cycle cannot end before it starts.")),
            models.CheckConstraint(
                condition=Q(start_date__gte=EARLIEST_CYCLE)
                & (Q(end_date__isnull=True)
                   | Q(end_date__lte=F("start_date") + datetime.timedelta(days=MAX_CYCLE_DAYS))),
                name="cycle_dates_plausible",
                violation_error_message=format_lazy(_("A cycle starts after {year} and lasts at most {days} days."),
                                                    year=f"{EARLIEST_CYCLE:%Y}", days=MAX_CYCLE_DAYS)),
            models.CheckConstraint(
                condition=Q(marrow_blasts_pct__isnull=True)
                | (Q(marrow_blasts_pct__gte=0) & Q(marrow_blasts_pct__lte=100)),
                name="cycle_blasts_pct_0_100",
                violation_error_message=_("Marrow blasts must be between 0 and 100%%.")),
            models.CheckConstraint(
                condition=Q(mrd_pct__isnull=True) | (Q(mrd_pct__gte=0) & Q(mrd_pct__lte=100)),
                name="cycle_mrd_pct_0_100",
                violation_error_message=_("MRD must be between 0 and 100%%.")),
            models.CheckConstraint(
                condition=Q(bag_hours__isnull=True) | ~Q(bag_hours=168) | Q(weight_kg__gte=SEVEN_DAY_BAG_MIN_KG),
                name="cycle_seven_day_bag_min_22kg",
                violation_error_message=format_lazy(_("The 7-day bag is not for patients under {kg} kg (record the "
                                                      "weight; use a 24–96 h bag)."), kg=SEVEN_DAY_BAG_MIN_KG)),
            models.CheckConstraint(condition=Q(bag_hours__isnull=True) | Q(bag_hours__in=[24, 48, 72, 96, 168]),
                                   name="cycle_bag_hours_known",
                violation_error_message=_("A bag runs 24, 48, 72 or 96 hours or 7 days.")),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | (Q(weight_kg__gte=Decimal("0.5")) & Q(weight_kg__lte=250)),
                name="cycle_weight_plausible", violation_error_message=_("Weight must be between 0.5 and 250 kg.")),
            models.CheckConstraint(
                condition=Q(bsa_m2__isnull=True) | (Q(bsa_m2__gte=Decimal("0.1")) & Q(bsa_m2__lte=3)),
                name="cycle_bsa_plausible",
                violation_error_message=_("Body-surface area must be between 0.1 and 3 m².")),
            models.CheckConstraint(condition=Q(dexamethasone_premedication__in=[r.value for r in Recorded]),
                                   name="cycle_dexamethasone_premedication_known",
                violation_error_message=_("Dexamethasone premedication is yes, no or not recorded.")),
            models.CheckConstraint(
                condition=Q(dexamethasone_premedication="yes", dexamethasone_dose__gt=0)
                & ~Q(dexamethasone_dose_unit="")
                | ~Q(dexamethasone_premedication="yes")
                & Q(dexamethasone_dose__isnull=True, dexamethasone_dose_unit=""),
                name="cycle_dexamethasone_dose_iff_given",
                violation_error_message=_("Give the dexamethasone dose and unit when premedication was given (and only "
                                        "then).")),
            models.CheckConstraint(
                condition=Q(disease_status="") | Q(disease_status__in=[
                    disease_status.RELAPSED_REFRACTORY, disease_status.MRD_POSITIVE_CR,
                    disease_status.MRD_NEGATIVE_CR, disease_status.CHEMO_INELIGIBLE_CR]),
                name="cycle_disease_status_known", violation_error_message=_("Unknown disease status.")),
            models.CheckConstraint(
                condition=~Q(disease_status__in=[disease_status.MRD_POSITIVE_CR, disease_status.MRD_NEGATIVE_CR,
                                                 disease_status.CHEMO_INELIGIBLE_CR])
                | Q(marrow_blasts_pct__isnull=True) | Q(marrow_blasts_pct__lt=disease_status.RR_BLASTS_PCT),
                name="cycle_remission_blasts_below_5",
                violation_error_message=_("A remission has marrow blasts below 5%%.")),
            models.CheckConstraint(
                condition=Q(discontinued=False, discontinuation_reason="") | Q(discontinued=True)
                & ~Q(discontinuation_reason=""),
                name="cycle_discontinuation_has_reason",
                violation_error_message=_("An early discontinuation needs its reason (and a reason needs the"
                                         " discontinuation ticked).")),
            models.CheckConstraint(condition=Q(interruptions=0) | ~Q(interruption_reason=""),
                                   name="cycle_interruption_has_reason",
                violation_error_message=_("Give the reason for the infusion interruptions.")),
        ]
        indexes = [
            # An event's cycle number, start and end (the emergence window), read without visiting the table
            # (index-only) when a ward's events are counted per cycle (benchmark, graded AE table per cycle).
            models.Index(fields=["id"], name="cycle_site_scope_idx",
                         include=["patient", "number", "start_date", "end_date"]),
        ]
        triggers = [
            pgtrigger.Trigger(  # the f-string holds only the integer constant MAX_START_AHEAD_DAYS
                name="cycle_dates_not_future_nor_before_birth",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func=f"""
                IF NEW.start_date > CURRENT_DATE + {MAX_START_AHEAD_DAYS + 1} OR NEW.end_date > CURRENT_DATE + 1 THEN
                    RAISE EXCEPTION 'cycle dates too far ahead (start %, end %)', NEW.start_date, NEW.end_date
                        USING ERRCODE = 'check_violation';
                END IF;
                IF NEW.start_date < (SELECT birth_month FROM patients_patient WHERE id = NEW.patient_id) THEN
                    RAISE EXCEPTION 'cycle start % is before the birth month', NEW.start_date
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,  # noqa: S608 - the f-string inserts only the integer constant MAX_START_AHEAD_DAYS
            ),
            # A fixed dose (µg/day) needs a weight >= 45 kg: lowering the weight must not orphan such steps.
            pgtrigger.Trigger(  # the f-string holds only the numeric constant FIXED_DOSE_MIN_KG
                name="cycle_weight_keeps_fixed_doses_valid",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(old__weight_kg__df=pgtrigger.F("new__weight_kg")),
                func=f"""
                IF COALESCE(NEW.weight_kg, 0) < {FIXED_DOSE_MIN_KG} AND EXISTS (
                        SELECT 1 FROM patients_dosingstep s WHERE s.cycle_id = NEW.id AND s.unit = 'ug_day') THEN
                    RAISE EXCEPTION 'cycle % has fixed doses in ug/day, which need a weight >= {FIXED_DOSE_MIN_KG} kg',
                        NEW.number USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,  # noqa: S608 - only the constant FIXED_DOSE_MIN_KG is interpolated
            ),
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a cycle without a disease status gets the one its marrow shows (:func:`disease_status.derive`),
        however it is created (form, API, demo, import)."""
        if not self.disease_status:
            self.disease_status = disease_status.derive(self.marrow_blasts_pct, self.mrd_pct) or ""
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Refuse implausible dates (a start before birth or more than ``MAX_START_AHEAD_DAYS`` ahead, an end in
        the future or more than ``MAX_CYCLE_DAYS`` after the start), a start after the patient's death
        (:meth:`Patient.death_date`) and a start date that would fall after the onset of an event recorded in this
        cycle. Raises ValidationError keyed by field."""
        errors: dict[str, str] = {}
        today = timezone.localdate()
        born = self.patient.birth_month if self.patient_id else None
        if self.start_date is not None:
            if born is not None and self.start_date < born:
                errors["start_date"] = gettext("%(start)s is before the patient was born (%(born)s).") % {
                    "start": _day(self.start_date), "born": date_format(born, "M Y")}
            elif self.start_date > today + datetime.timedelta(days=MAX_START_AHEAD_DAYS):
                errors["start_date"] = gettext("%(start)s is more than %(days)s days ahead (today is %(today)s).") % {
                    "start": _day(self.start_date), "days": MAX_START_AHEAD_DAYS, "today": _day(today)}
            elif self.start_date < EARLIEST_CYCLE:
                errors["start_date"] = gettext("%(start)s is before blinatumomab was given to children.") % {
                    "start": _day(self.start_date)}
        if self.end_date is not None:
            if self.end_date > today:
                errors["end_date"] = gettext("%(end)s is in the future: enter the end date once the infusion has "
                                             "ended.") % {"end": _day(self.end_date)}
            elif self.start_date is not None and self.end_date > self.start_date + datetime.timedelta(
                    days=MAX_CYCLE_DAYS):
                errors["end_date"] = gettext("A cycle lasts at most %(days)s days from its start.") % {
                    "days": MAX_CYCLE_DAYS}
        if self.bag_hours == self.BagDuration.D7 and (self.weight_kg is None or self.weight_kg < SEVEN_DAY_BAG_MIN_KG):
            errors["bag_hours"] = (gettext(
                "The 7-day bag (with benzyl-alcohol preservative) is not for patients under %(min)s kg (BLINCYTO USPI "
                "§2, SmPC §4.2): record the weight.") if self.weight_kg is None else gettext(
                "The 7-day bag (with benzyl-alcohol preservative) is not for patients under %(min)s kg (BLINCYTO USPI "
                "§2, SmPC §4.2): this child weighs %(weight)s kg; use a 24–96 h bag.")) % {
                "min": number_for_reader(SEVEN_DAY_BAG_MIN_KG), "weight": number_for_reader(self.weight_kg)}
        if self.dexamethasone_premedication == Recorded.YES and (self.dexamethasone_dose is None
                                                                 or not self.dexamethasone_dose_unit):
            errors["dexamethasone_dose"] = gettext("Give the dexamethasone dose and its unit.")
        elif self.dexamethasone_premedication != Recorded.YES and (self.dexamethasone_dose is not None
                                                                   or self.dexamethasone_dose_unit):
            errors["dexamethasone_dose"] = gettext("A dose is recorded only when premedication was given.")
        if (self.pk and "weight_kg" not in errors
                and (self.weight_kg is None or self.weight_kg < FIXED_DOSE_MIN_KG)
                and self.dosing_steps.filter(unit=DoseUnit.UG_DAY).exists()):
            errors["weight_kg"] = gettext("This cycle has fixed doses in µg/day, which are for patients ≥ %(min)s kg: "
                                          "correct the dosing steps first.") % {
                                              "min": number_for_reader(FIXED_DOSE_MIN_KG)}
        if self.pk and self.disease_status:
            # A status that was derived from the stored marrow follows the marrow when it is corrected; a status
            # the ward entered (or changes in this edit) stays.
            stored = (TreatmentCycle.objects.filter(pk=self.pk)
                      .values("marrow_blasts_pct", "mrd_pct", "disease_status").first())
            if (stored and stored["disease_status"] == self.disease_status
                    and disease_status.derive(stored["marrow_blasts_pct"], stored["mrd_pct"]) == self.disease_status):
                self.disease_status = ""
        if not self.disease_status:
            self.disease_status = disease_status.derive(self.marrow_blasts_pct, self.mrd_pct) or ""
        else:
            conflict = disease_status.check(self.disease_status, self.marrow_blasts_pct, self.mrd_pct)
            if conflict:
                errors["disease_status"] = conflict
        if self.start_date and "start_date" not in errors and self.patient_id:
            died = self.patient.death_date()
            if died is not None and self.start_date > died:
                errors["start_date"] = gettext(
                    "The patient died on %(died)s (an adverse event with outcome Fatal): a cycle cannot start after "
                    "that. Check this date, or the date of the death.") % {"died": _day(died)}
        if self.pk and self.start_date and "start_date" not in errors:
            early = self.adverse_events.filter(present_before_cycle=False, onset_date__lt=self.start_date).count()
            if early:
                errors["start_date"] = gettext("%(n)s adverse event(s) of this cycle began before %(start)s: correct "
                                               "their onset first.") % {"n": early, "start": _day(self.start_date)}
        if errors:
            raise ValidationError(errors)

    @property
    def window_end(self) -> datetime.date | None:
        """Last day an event's onset or an assessment may fall in this cycle without being recorded as
        follow-up: the cycle's end plus ``settings.PVTRACK_FOLLOW_UP_DAYS`` (default 30); None while the cycle
        has no end date (then only "not in the future" bounds it)."""
        if self.end_date is None:
            return None
        return self.end_date + datetime.timedelta(days=settings.PVTRACK_FOLLOW_UP_DAYS)

    @property
    def blast_stratum(self) -> str | None:
        """'blasts_ge5', 'blasts_lt5', or None when marrow blasts were not recorded."""
        if self.marrow_blasts_pct is None:
            return None
        return "blasts_ge5" if self.marrow_blasts_pct >= HIGH_BURDEN_BLASTS_PCT else "blasts_lt5"

    @property
    def population(self) -> str | None:
        """The benchmark population of this cycle: its own disease status at start, else the patient's
        (:data:`PATIENT_POPULATION`); None for an MRD-negative remission (no cohort population matches)."""
        if self.disease_status:
            return CYCLE_POPULATION.get(self.disease_status)
        return PATIENT_POPULATION.get(self.patient.disease_status)


#: Cycle disease status -> the population terms the cohort records use.
CYCLE_POPULATION: dict[str, str] = {disease_status.RELAPSED_REFRACTORY: "relapsed_refractory",
                    disease_status.MRD_POSITIVE_CR: "mrd_positive_cr",
                    disease_status.CHEMO_INELIGIBLE_CR: "chemo_ineligible_cr"}
#: Fallback for cycles without a status of their own: the patient-level status (relapse history) as before.
PATIENT_POPULATION: dict[str, str] = {Patient.DiseaseStatus.PRIMARY_REFRACTORY: "relapsed_refractory",
                      Patient.DiseaseStatus.FIRST_RELAPSE: "relapsed_refractory",
                      Patient.DiseaseStatus.SECOND_RELAPSE: "relapsed_refractory",
                      Patient.DiseaseStatus.LATER_RELAPSE: "relapsed_refractory",
                      Patient.DiseaseStatus.MRD_POSITIVE_CR: "mrd_positive_cr",
                      Patient.DiseaseStatus.CHEMO_INELIGIBLE: "chemo_ineligible_cr"}

__all__ = ["CYCLE_POPULATION", "EARLIEST_BIRTH", "EARLIEST_CYCLE", "HIGH_BURDEN_BLASTS_PCT", "PATIENT_POPULATION",
           "DosingStep", "HospitalStay", "InfusionInterruption", "Membership", "NextTherapy", "Patient", "Site",
           "TreatmentCycle", "Notification", "NotificationKind", "NotificationPreference",
           "UserProfile"]


# Notifications (new flags, flag level changes, serious AEs and deaths, data-quality queries, overdue items) are
# their own concept: patients/models/notifications.py, re-exported here so that ``patients.models`` stays the one
# import of the app's models.
from patients.models.notifications import (  # noqa: E402
    Notification,
    NotificationKind,
    NotificationPreference,
)
from patients.models.profiles import UserProfile  # noqa: E402
