"""Writing a cycle's treatment records (dosing steps, interruptions, hospital/ICU stays) and a patient's next therapy.

Each change requests a benchmark run of the patient's site: the steps and premedication feed the case mix, the next
therapy ends the emergence window (:func:`ae.models.events.treatment_emergent_q`).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import audit_context
from core.db import constraint_errors
from core.outbox import benchmark_request
from core.text import clean_reason
from patients.access import RECORDERS, require_role
from patients.models import Site
from patients.treatment import DosingStep, HospitalStay, InfusionInterruption, NextTherapy

TreatmentRecord = DosingStep | InfusionInterruption | HospitalStay | NextTherapy

#: Unique constraints whose race answers a field error (400), never a 500.
UNIQUE = {
    "dosingstep_one_per_cycle_day": ("from_day", "This cycle already has a dose step on that day."),
    "stay_one_per_kind_and_day": ("admitted_on", "This stay is already recorded."),
    "nexttherapy_one_per_kind_and_day": ("start_date", "This therapy is already recorded on that day."),
}


def _site(record: TreatmentRecord) -> Site:
    if isinstance(record, NextTherapy):
        return record.patient.site
    return record.cycle.patient.site


def _full_clean(record: TreatmentRecord) -> None:
    """``full_clean`` with a duplicate reported on its field in the words of :data:`UNIQUE`."""
    try:
        record.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
        duplicates = [m for m in errors.get("__all__", []) if "already" in m]
        if duplicates:
            errors["__all__"] = [m for m in errors["__all__"] if m not in duplicates]
            if not errors["__all__"]:
                del errors["__all__"]
            field = next(f for name, (f, _) in UNIQUE.items()
                         if name in {c.name for c in record._meta.constraints})
            errors.setdefault(field, []).extend(duplicates)
        raise ValidationError(errors) from exc


def _save(record: TreatmentRecord, acting_user: User, reason: str, trigger: str) -> TreatmentRecord:
    site = _site(record)
    require_role(acting_user, site, RECORDERS)
    reason = clean_reason(reason) if record.pk is not None else ""
    _full_clean(record)
    with audit_context(reason=reason), constraint_errors(UNIQUE):
        record.save()
    benchmark_request(site=site, trigger=trigger)
    return record


@transaction.atomic
def dosing_step_save(*, step: DosingStep, acting_user: User, reason: str = "") -> DosingStep:
    """Validate and save a dosing step; an edit needs ``reason``. Raises ValidationError (a µg/day step without
    the cycle's weight ≥ 45 kg, a second step on one cycle day) or PermissionDenied."""
    _save(step, acting_user, reason, "cycle_change")
    return step


@transaction.atomic
def interruption_save(*, interruption: InfusionInterruption, acting_user: User,
                      reason: str = "") -> InfusionInterruption:
    """Validate and save an infusion interruption (stop, restart); an edit needs ``reason``.
    Raises ValidationError or PermissionDenied."""
    _save(interruption, acting_user, reason, "cycle_change")
    return interruption


@transaction.atomic
def stay_save(*, stay: HospitalStay, acting_user: User, reason: str = "") -> HospitalStay:
    """Validate and save a ward or ICU stay; an edit needs ``reason``. Raises ValidationError or PermissionDenied."""
    _save(stay, acting_user, reason, "cycle_change")
    return stay


@transaction.atomic
def next_therapy_save(*, therapy: NextTherapy, acting_user: User, reason: str = "") -> NextTherapy:
    """Validate and save the patient's next therapy (its start ends the emergence window); an edit needs
    ``reason``. Raises ValidationError or PermissionDenied."""
    _save(therapy, acting_user, reason, "cycle_change")
    return therapy
