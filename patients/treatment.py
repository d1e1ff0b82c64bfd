"""What a cycle's blinatumomab treatment was: dosing steps, infusion interruptions, hospital and ICU stays, and the
patient's next therapy (which ends the emergence window). These are the drivers of CRS and neurotoxicity the
benchmark's case mix and a later SAE report (ICH E2B(R3) G.k, drug information) read.

Primary source for the rules: BLINCYTO (blinatumomab) EU SmPC §4.2 and US prescribing information §2
(Dosage and Administration):

* patients < 45 kg are dosed by body-surface area (µg/m²/day: 5 then 15), patients ≥ 45 kg receive fixed doses
  (µg/day: 9 then 28) — a step in µg/day needs the cycle's weight ≥ 45 kg;
* the 7-day infusion bag (with the benzyl-alcohol preservative) is not for patients < 22 kg (on the cycle);
* dexamethasone premedication before the first dose, before a step dose and when restarting the infusion after an
  interruption of 4 hours or more (:attr:`InfusionInterruption.needs_dexamethasone`).

Rules the database enforces: positive doses in a known unit, one step per cycle day, a step in µg/day only when the
cycle's weight is ≥ 45 kg (trigger), a restart after the stop, a reason for every interruption, a discharge not
before the admission, one next therapy of a kind per date. Every model keeps its history (pghistory).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pgtrigger
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.audit import tracked
from core.numbers import number_for_reader

#: Body weight (kg) from which the label doses by fixed µg/day instead of µg/m²/day (SmPC §4.2, USPI §2.1).
FIXED_DOSE_MIN_KG = Decimal("45")
#: Lightest patient (kg) for whom the 7-day bag with preservative may be used (USPI §2; SmPC §4.2, §6.6).
SEVEN_DAY_BAG_MIN_KG = Decimal("22")
#: Interruption (hours) after which the restart needs dexamethasone premedication (USPI §2.2; SmPC §4.2).
DEXAMETHASONE_RESTART_HOURS = 4
#: Plausibility bound of a blinatumomab daily dose in either unit (label maximum 28 µg/day, 15 µg/m²/day).
MAX_BLINATUMOMAB_DOSE = Decimal("60")


class DoseUnit(models.TextChoices):
    """Units of a blinatumomab daily dose."""

    UG_M2_DAY = "ug_m2_day", _("µg/m²/day (BSA-based, < 45 kg)")
    UG_DAY = "ug_day", _("µg/day (fixed dose, ≥ 45 kg)")


class Recorded(models.TextChoices):
    """A yes/no that may also be unknown: "not recorded" is never read as yes or no."""

    YES = "yes", _("Yes")
    NO = "no", _("No")
    NOT_RECORDED = "not_recorded", _("Not recorded")


@tracked
class DosingStep(models.Model):
    """One dose level of a cycle from a cycle day (and, where known, the time it started) until the next step.

    Xie et al. 2023 (5 → 10 → 15 µg/m²/day) is three rows: day 1 at 5, day 3 at 10, day 5 at 15 µg/m²/day.
    """

    cycle = models.ForeignKey("patients.TreatmentCycle", on_delete=models.CASCADE, related_name="dosing_steps")
    from_day = models.PositiveSmallIntegerField(_("from cycle day"), validators=[MinValueValidator(1),
                                                                             MaxValueValidator(120)])
    started_at = models.DateTimeField(_("started at"), null=True, blank=True,
                                      help_text=_("When this dose level started, if known."))
    dose = models.DecimalField(_("daily dose"), max_digits=5, decimal_places=2,
                               validators=[MinValueValidator(Decimal("0.01")),
                                           MaxValueValidator(MAX_BLINATUMOMAB_DOSE)])
    unit = models.CharField(max_length=10, choices=DoseUnit.choices)
    #: Batch (lot) number of the bags given at this dose level, where known (ICH E2B(R3) G.k.4.r.7); "" unknown.
    batch_number = models.CharField(_("batch (lot) number"), max_length=35, blank=True,
                                    help_text=_("Printed on the vial and the bag label; leave empty if unknown."))

    class Meta:
        ordering = ["cycle", "from_day"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "from_day"], name="dosingstep_one_per_cycle_day",
                                    violation_error_message=_("This cycle already has a dose step on that day.")),
            models.CheckConstraint(condition=Q(dose__gt=0) & Q(dose__lte=MAX_BLINATUMOMAB_DOSE),
                                   name="dosingstep_dose_plausible",
                violation_error_message=format_lazy(_("A daily dose is above 0 and at most {dose}."),
                                                    dose=MAX_BLINATUMOMAB_DOSE)),
            models.CheckConstraint(condition=Q(from_day__gte=1) & Q(from_day__lte=120),
                                   name="dosingstep_day_in_cycle",
                violation_error_message=_("The step starts on a cycle day between 1 and 120.")),
            models.CheckConstraint(condition=Q(unit__in=[u.value for u in DoseUnit]), name="dosingstep_unit_known",
                violation_error_message=_("Unknown dose unit.")),
            models.CheckConstraint(condition=Q(batch_number__regex=r"^[A-Za-z0-9./-]*$"),
                                   name="dosingstep_batch_number_format",
                                   violation_error_message=_("A batch number has letters, digits, '.', '/' or '-'.")),
        ]
        triggers = [
            pgtrigger.Trigger(  # the f-string holds only the numeric constant FIXED_DOSE_MIN_KG
                name="dosingstep_fixed_dose_needs_45kg",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func=f"""
                IF NEW.unit = 'ug_day' AND COALESCE((SELECT weight_kg FROM patients_treatmentcycle
                                                     WHERE id = NEW.cycle_id), 0) < {FIXED_DOSE_MIN_KG} THEN
                    RAISE EXCEPTION 'a fixed dose in ug/day needs the cycle weight >= {FIXED_DOSE_MIN_KG} kg'
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,  # noqa: S608 - only the constant FIXED_DOSE_MIN_KG is interpolated
            ),
        ]

    def __str__(self) -> str:
        return f"day {self.from_day}: {self.dose} {self.get_unit_display()}"

    def clean(self) -> None:
        """A fixed dose (µg/day) needs the cycle's weight ≥ 45 kg (SmPC §4.2, USPI §2.1). Raises ValidationError."""
        if self.unit == DoseUnit.UG_DAY and self.cycle_id is not None:
            weight = self.cycle.weight_kg
            if weight is None or weight < FIXED_DOSE_MIN_KG:
                raise ValidationError({"unit": (
                    gettext("Fixed doses in µg/day are for patients ≥ %(kg)s kg (BLINCYTO SmPC §4.2): record the "
                            "cycle's weight first.") % {"kg": number_for_reader(FIXED_DOSE_MIN_KG)} if weight is None
                    else gettext("Fixed doses in µg/day are for patients ≥ %(kg)s kg (BLINCYTO SmPC §4.2): this "
                                 "cycle's weight is %(weight)s kg; dose in µg/m²/day.") % {
                        "kg": number_for_reader(FIXED_DOSE_MIN_KG), "weight": number_for_reader(weight)})})


@tracked
class InfusionInterruption(models.Model):
    """One interruption of the continuous infusion, from its stop to its restart (None: not restarted, e.g.
    discontinued). A restart after ≥ 4 h needs dexamethasone before it (USPI §2.2; SmPC §4.2)."""

    cycle = models.ForeignKey("patients.TreatmentCycle", on_delete=models.CASCADE, related_name="interruption_log")
    stopped_at = models.DateTimeField(_("infusion stopped at"))
    restarted_at = models.DateTimeField(_("infusion restarted at"), null=True, blank=True)
    cause = models.CharField(_("reason for the interruption"), max_length=300,
                             help_text=_("E.g. CRS grade 3, seizure, line occlusion, bag change."))
    dexamethasone_before_restart = models.CharField(
        max_length=12, choices=Recorded.choices, default=Recorded.NOT_RECORDED,
        help_text=_("Whether dexamethasone was given before the restart (expected after an interruption of ≥ 4 h)."))

    class Meta:
        ordering = ["cycle", "stopped_at"]
        constraints = [
            models.CheckConstraint(condition=Q(restarted_at__isnull=True) | Q(restarted_at__gt=F("stopped_at")),
                                   name="interruption_restart_after_stop",
                violation_error_message=_("The infusion restarts after it stopped.")),
            models.CheckConstraint(condition=~Q(cause=""), name="interruption_has_reason",
                violation_error_message=_("Give the reason for the interruption.")),
            models.CheckConstraint(condition=Q(dexamethasone_before_restart__in=[r.value for r in Recorded]),
                                   name="interruption_dexamethasone_known",
                violation_error_message=_("Dexamethasone before restart is yes, no or not recorded.")),
        ]

    def __str__(self) -> str:
        return f"{self.stopped_at:%Y-%m-%d %H:%M} – {self.restarted_at or 'not restarted'}"

    def clean(self) -> None:
        """The stop lies inside the cycle (start date to end date) and the restart after the stop, neither in the
        future. Raises ValidationError keyed by field."""
        errors: dict[str, str] = {}
        now = timezone.now()
        if self.stopped_at is not None:
            if self.stopped_at > now:
                errors["stopped_at"] = gettext("The stop cannot be in the future.")
            elif self.cycle_id is not None:
                day = timezone.localdate(self.stopped_at)
                if day < self.cycle.start_date or (self.cycle.end_date and day > self.cycle.end_date):
                    errors["stopped_at"] = (f"{day:%d %b %Y} is outside the cycle ({self.cycle.start_date:%d %b %Y} "
                                            f"to {self.cycle.end_date or 'ongoing'}).")
        if self.restarted_at is not None:
            if self.restarted_at > now:
                errors["restarted_at"] = gettext("The restart cannot be in the future.")
            elif self.stopped_at is not None and self.restarted_at <= self.stopped_at:
                errors["restarted_at"] = gettext("The infusion restarts after it stopped.")
        if errors:
            raise ValidationError(errors)

    @property
    def duration(self) -> datetime.timedelta | None:
        """Stop to restart; None when not restarted."""
        return None if self.restarted_at is None else self.restarted_at - self.stopped_at

    @property
    def needs_dexamethasone(self) -> bool:
        """The restart followed an interruption of ≥ 4 h, so dexamethasone premedication is due before it."""
        duration = self.duration
        return duration is not None and duration >= datetime.timedelta(hours=DEXAMETHASONE_RESTART_HOURS)

    @property
    def dexamethasone_rule_flag(self) -> str | None:
        """A plain-language flag when the ≥ 4 h restart rule was not shown to be followed; None otherwise."""
        if not self.needs_dexamethasone or self.dexamethasone_before_restart == Recorded.YES:
            return None
        hours = self.duration.total_seconds() / 3600 if self.duration else 0
        params = {"hours": f"{hours:.1f}", "due": DEXAMETHASONE_RESTART_HOURS}
        if self.dexamethasone_before_restart == Recorded.NO:
            return gettext("Restart after a %(hours)s h interruption: dexamethasone before the restart was not given "
                           "(due after ≥ %(due)s h; blinatumomab USPI §2.2, SmPC §4.2).") % params
        return gettext("Restart after a %(hours)s h interruption: dexamethasone before the restart is not recorded "
                       "(due after ≥ %(due)s h; blinatumomab USPI §2.2, SmPC §4.2).") % params


@tracked
class HospitalStay(models.Model):
    """An admission during a cycle, on the ward or in intensive care, by dates (whole-cycle admissions, as in
    Pawinska 2022 and Xie 2023, make "prolonged hospitalisation" auditable only with these)."""

    class Kind(models.TextChoices):
        WARD = "ward", _("Hospital admission")
        ICU = "icu", _("Intensive care (ICU/PICU)")

    cycle = models.ForeignKey("patients.TreatmentCycle", on_delete=models.CASCADE, related_name="stays")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    admitted_on = models.DateField()
    discharged_on = models.DateField(null=True, blank=True, help_text=_("Empty while still admitted."))

    class Meta:
        ordering = ["cycle", "admitted_on", "kind"]
        constraints = [
            models.CheckConstraint(condition=Q(discharged_on__isnull=True) | Q(discharged_on__gte=F("admitted_on")),
                                   name="stay_discharge_not_before_admission",
                violation_error_message=_("The discharge cannot be before the admission.")),
            models.CheckConstraint(condition=Q(kind__in=["ward", "icu"]), name="stay_kind_known",
                violation_error_message=_("A stay is on the ward or in intensive care.")),
            models.UniqueConstraint(fields=["cycle", "kind", "admitted_on"], name="stay_one_per_kind_and_day",
                violation_error_message=_("This stay is already recorded.")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.admitted_on} – {self.discharged_on or 'ongoing'}"


@tracked
class NextTherapy(models.Model):
    """A therapy the patient went on to after blinatumomab (HSCT, CAR-T, chemotherapy…), with its start date.

    Its start ends the emergence window of the blinatumomab cycles before it
    (:func:`ae.models.events.treatment_emergent_q`).
    """

    class Kind(models.TextChoices):
        HSCT = "hsct", _("Haematopoietic stem-cell transplantation (conditioning start)")
        CAR_T = "car_t", _("CAR-T cells (lymphodepletion start)")
        CHEMOTHERAPY = "chemotherapy", _("Chemotherapy")
        OTHER = "other", _("Other anti-leukaemic therapy")

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="next_therapies")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    start_date = models.DateField(help_text=_("First day of the therapy (for HSCT the first day of conditioning, "
                                              "for CAR-T of lymphodepletion)."))
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["patient", "start_date"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "kind", "start_date"], name="nexttherapy_one_per_kind_and_day",
                violation_error_message=_("This therapy is already recorded on that day.")),
            models.CheckConstraint(condition=Q(kind__in=["hsct", "car_t", "chemotherapy", "other"]),
                                   name="nexttherapy_kind_known", violation_error_message=_("Unknown therapy.")),
            models.CheckConstraint(condition=~Q(kind="other") | ~Q(description=""),
                                   name="nexttherapy_other_described",
                violation_error_message=_("Describe the other therapy.")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.start_date}"
