"""Writing patients and treatment cycles. A cycle change requests a benchmark run (denominators change)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from patients.access import RECORDERS, require_role
from patients.models import Patient, TreatmentCycle


@transaction.atomic
def patient_save(*, patient: Patient, acting_user: AbstractBaseUser) -> Patient:
    """Validate and save a (new or edited) patient; raises ValidationError or PermissionDenied."""
    require_role(acting_user, patient.site, RECORDERS)
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def cycle_save(*, cycle: TreatmentCycle, acting_user: AbstractBaseUser) -> TreatmentCycle:
    """Validate and save a (new or edited) cycle, then request a benchmark run of the patient's site.

    Raises ValidationError (nothing saved) or PermissionDenied.
    """
    from reports.services import benchmark_request

    require_role(acting_user, cycle.patient.site, RECORDERS)
    cycle.full_clean()
    cycle.save()
    benchmark_request(site=cycle.patient.site, trigger="cycle_change")
    return cycle
