"""Lab results graded by CTCAE v5.0, with their baseline and treatment-emergent flag (ADaM TRTEMFL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ae import grading, lab_units
from ae.episodes import as_float, local_time
from ae.models import LabResult
from patients.access import RECORDERS, require_role
from patients.models import Patient

LAB_DATA_FIELDS = ("analyte", "value", "unit", "lln", "uln", "collected_at", "baseline", "cycle")


def _decimal(value: Any) -> Any:
    """A float as the decimal it was typed as (0.9, not 0.90000000000000002220); other values unchanged."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def _lab_treatment_emergent(grade: int | None, baseline: LabResult | None) -> bool | None:
    """ADaM TRTEMFL for a post-baseline lab grade: worse than the baseline grade (no baseline = grade 0)."""
    if grade is None:
        return None
    if grade == 0:
        return False
    if baseline is None:
        return True
    if baseline.grade is None:
        return None
    return grade > baseline.grade


def _lab_grade(result: LabResult, baseline: LabResult | None) -> None:
    try:
        graded = grading.grade_lab(
            result.analyte, float(result.value), result.unit, lln=as_float(result.lln), uln=as_float(result.uln),
            baseline=as_float(baseline.value) if baseline is not None and result.analyte in ("alt", "ast") else None)
    except grading.GradingInputError as exc:
        raise ValidationError({exc.field if exc.field in LAB_DATA_FIELDS else "value": exc.message}) from exc
    result.grade, result.rationale, result.ctcae_term = graded.grade, graded.rationale, str(graded.ctcae_term)


@transaction.atomic
def lab_result_record(*, patient: Patient, data: dict[str, Any], acting_user: User) -> LabResult:
    """Record and grade one lab value (CTCAE v5.0, :func:`ae.grading.grade_lab`).

    ``data``: analyte, value, unit (one of the analyte's units in :data:`ae.lab_units.ANALYTES`, any accepted
    spelling; stored as its one code), lln, uln (all in ``unit``, each plausible for the analyte in that unit —
    a unit slip is refused naming the likely unit), collected_at (aware datetime), baseline
    (bool), cycle (optional; default: the latest cycle started on or before the collection date, or none).
    A baseline belongs to a cycle and is collected on or before its start; recording it regrades ALT/AST of
    that cycle against it and recomputes their treatment-emergent flags. A post-baseline value is
    treatment-emergent only if its grade is worse than the baseline grade. Raises PermissionDenied,
    ValidationError keyed by field (unit not of the analyte, implausible value or limit, negative value, LLN ≥ ULN,
    wrong cycle, second baseline).
    """
    require_role(acting_user, patient.site, RECORDERS)
    unknown = set(data) - set(LAB_DATA_FIELDS)
    if unknown:
        raise ValueError(f"unknown lab field(s): {', '.join(sorted(unknown))}")
    collected_at = data.get("collected_at")
    if collected_at is None:
        raise ValidationError({"collected_at": "Give the date and time the sample was collected."})
    day = local_time(collected_at).date()
    cycle = data.get("cycle")
    if cycle is not None and cycle.patient_id != patient.pk:
        raise ValidationError({"cycle": "This cycle belongs to another patient."})
    is_baseline = bool(data.get("baseline"))
    if cycle is None and not is_baseline:
        cycle = patient.cycles.filter(start_date__lte=day).order_by("-start_date").first()
    if is_baseline:
        if cycle is None:
            raise ValidationError({"cycle": "A baseline value belongs to the cycle it precedes: choose the cycle."})
        if day > cycle.start_date:
            raise ValidationError({"collected_at": f"A baseline is collected on or before the cycle start "
                                                   f"({cycle.start_date:%d %b %Y})."})
    elif cycle is not None and day < cycle.start_date:
        raise ValidationError({"collected_at": f"Before cycle {cycle.number} started: tick 'baseline' if this is "
                                               "the value at the cycle start."})
    analyte = str(data.get("analyte") or "")
    if analyte not in grading.LAB_ANALYTES:
        raise ValidationError({"analyte": f"Unknown analyte; expected one of {', '.join(grading.LAB_ANALYTES)}."})
    if data.get("value") is None:
        raise ValidationError({"value": "Give the value."})
    unit, errors = lab_units.entry_errors(analyte, str(data.get("unit") or ""), as_float(data["value"]),
                                          lln=as_float(data.get("lln")), uln=as_float(data.get("uln")))
    if errors:
        raise ValidationError(errors)
    result = LabResult(patient=patient, cycle=cycle, analyte=analyte, value=_decimal(data.get("value")),
                       unit=str(unit), lln=_decimal(data.get("lln")), uln=_decimal(data.get("uln")),
                       collected_at=collected_at, baseline=is_baseline, entered_by=acting_user)
    baseline = None
    if cycle is not None:
        baseline = LabResult.objects.filter(cycle=cycle, analyte=result.analyte, baseline=True).first()
        if is_baseline and baseline is not None:
            raise ValidationError({"baseline": f"Cycle {cycle.number} already has a baseline {result.analyte} value."})
    _lab_grade(result, None if is_baseline else baseline)
    result.treatment_emergent = None if is_baseline else _lab_treatment_emergent(result.grade, baseline)
    result.full_clean()
    result.save()
    if is_baseline:
        later = list(LabResult.objects.filter(cycle=cycle, analyte=result.analyte, baseline=False))
        for other in later:
            if other.analyte in ("alt", "ast"):
                _lab_grade(other, result)
            other.treatment_emergent = _lab_treatment_emergent(other.grade, result)
        LabResult.objects.bulk_update(later, ["grade", "rationale", "treatment_emergent"])
    return result
