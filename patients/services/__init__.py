"""Writing patients and treatment cycles. A cycle change requests a benchmark run (denominators change)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import audit_context
from core.db import constraint_errors
from core.outbox import benchmark_request
from core.text import clean_reason
from patients.access import RECORDERS, require_role
from patients.models import Patient, TreatmentCycle


def _require_reason(instance: Patient | TreatmentCycle, reason: str) -> str:
    """An edit of a submitted record needs a reason (kept in the audit trail; :func:`core.text.clean_reason`);
    a new record does not. Returns the reason as stored."""
    if instance.pk is None:
        return ""
    return clean_reason(reason)


#: Unique constraints whose race (both requests pass full_clean, the second INSERT fails) answers a field error.
PATIENT_UNIQUE = {"patient_study_id_unique_per_site": (
    "study_id", "A patient with this study ID is already registered on this site.")}
CYCLE_UNIQUE = {"cycle_number_unique_per_patient": ("number", "This patient already has a cycle with this number.")}


def _full_clean(instance: Patient | TreatmentCycle, unique: dict[str, tuple[str, str]]) -> None:
    """``full_clean``, with a unique-constraint error reported on its field and in the same words as when two
    requests race (:data:`PATIENT_UNIQUE`, :data:`CYCLE_UNIQUE`), not as Django's generic record-level message."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
        taken = [c.name for c in instance._meta.constraints if c.name in unique]
        if taken and errors.get("__all__") and any("already exists" in m for m in errors["__all__"]):
            field, message = unique[taken[0]]
            errors["__all__"] = [m for m in errors["__all__"] if "already exists" not in m]
            if not errors["__all__"]:
                del errors["__all__"]
            errors.setdefault(field, []).append(message)
        raise ValidationError(errors) from exc


@transaction.atomic
def patient_save(*, patient: Patient, acting_user: User, reason: str = "") -> Patient:
    """Validate and save a (new or edited) patient; an edit needs ``reason``.

    Raises ValidationError (nothing saved; also when a concurrent request registered the same study ID first)
    or PermissionDenied.
    """
    require_role(acting_user, patient.site, RECORDERS)
    reason = _require_reason(patient, reason)
    _full_clean(patient, PATIENT_UNIQUE)
    with audit_context(reason=reason), constraint_errors(PATIENT_UNIQUE):
        patient.save()
    return patient


@transaction.atomic
def cycle_save(*, cycle: TreatmentCycle, acting_user: User, reason: str = "") -> TreatmentCycle:
    """Validate and save a (new or edited) cycle, then request a benchmark run of the patient's site.

    An edit needs ``reason``. Raises ValidationError (nothing saved; also when a concurrent request saved the
    same cycle number first) or PermissionDenied.
    """
    require_role(acting_user, cycle.patient.site, RECORDERS)
    reason = _require_reason(cycle, reason)
    _full_clean(cycle, CYCLE_UNIQUE)
    with audit_context(reason=reason), constraint_errors(CYCLE_UNIQUE):
        cycle.save()
    benchmark_request(site=cycle.patient.site, trigger="cycle_change")
    return cycle
