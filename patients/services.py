"""Writing patients and treatment cycles. A cycle change requests a benchmark run (denominators change)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from core.audit import audit_context
from core.outbox import benchmark_request
from patients.access import RECORDERS, require_role
from patients.models import Patient, TreatmentCycle


def _require_reason(instance: Patient | TreatmentCycle, reason: str) -> None:
    """An edit of a submitted record needs a reason (kept in the audit trail); a new record does not."""
    if instance.pk is not None and not reason.strip():
        raise ValidationError({"reason": "Give a reason for the change (it is kept in the record's history)."})


@transaction.atomic
def patient_save(*, patient: Patient, acting_user: User, reason: str = "") -> Patient:
    """Validate and save a (new or edited) patient; an edit needs ``reason``.

    Raises ValidationError (nothing saved) or PermissionDenied.
    """
    require_role(acting_user, patient.site, RECORDERS)
    _require_reason(patient, reason)
    patient.full_clean()
    with audit_context(reason=reason.strip()):
        patient.save()
    return patient


@transaction.atomic
def cycle_save(*, cycle: TreatmentCycle, acting_user: User, reason: str = "") -> TreatmentCycle:
    """Validate and save a (new or edited) cycle, then request a benchmark run of the patient's site.

    An edit needs ``reason``. Raises ValidationError (nothing saved) or PermissionDenied.
    """
    require_role(acting_user, cycle.patient.site, RECORDERS)
    _require_reason(cycle, reason)
    cycle.full_clean()
    with audit_context(reason=reason.strip()):
        cycle.save()
    benchmark_request(site=cycle.patient.site, trigger="cycle_change")
    return cycle
