"""Recording a treatment given for an adverse event (drug, dose, time)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from ae.models import EventTreatment
from core.audit import audit_context
from core.text import clean_reason
from patients.access import RECORDERS, require_role


@transaction.atomic
def event_treatment_save(*, treatment: EventTreatment, acting_user: User, reason: str = "") -> EventTreatment:
    """Validate and save a treatment of an adverse event; an edit needs ``reason`` (kept in the audit trail).

    Raises ValidationError keyed by field (unknown drug class, "other" without a name, a dose without its unit,
    a time in the future or before the event's onset) or PermissionDenied.
    """
    require_role(acting_user, treatment.adverse_event.patient.site, RECORDERS)
    reason = clean_reason(reason) if treatment.pk is not None else ""
    treatment.full_clean()
    with audit_context(reason=reason):
        treatment.save()
    return treatment
