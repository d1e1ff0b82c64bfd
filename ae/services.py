"""Writing adverse events and the CTCAE catalogue. Every AE change requests a benchmark run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from ae.models import AdverseEvent, AdverseEventRevision, CTCAEGrade, CTCAETerm
from patients.access import RECORDERS, require_role
from reports.services import benchmark_request

CTCAE_CSV = Path(settings.BASE_DIR) / "fixtures" / "ctcae" / "ctcae_v5_terms.csv"

#: Fields a user may set on an adverse event (everything else is bookkeeping).
EDITABLE_FIELDS = (
    "cycle", "term", "grade", "verbatim_term", "grading_scale", "onset_date", "resolution_date",
    "present_before_cycle", "serious", *AdverseEvent.SAE_FIELDS, "relatedness", "action_taken", "outcome",
)


class StaleEditError(Exception):
    """The event was changed by someone else after the editor loaded it; nothing was saved."""

    def __init__(self, current: AdverseEvent) -> None:
        self.current = current
        super().__init__(f"adverse event {current.pk} is now at version {current.version}")


@transaction.atomic
def ctcae_catalogue_load(path: Path = CTCAE_CSV) -> int:
    """Create or update every CTCAE v5.0 term and its allowed grades from the fixture CSV.

    Returns the number of terms (837 for the NCI workbook). Idempotent. Raises ValueError if a row
    has no grade at all or a duplicate MedDRA code; source: fixtures/ctcae/README.md.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = [int(r["meddra_code"]) for r in rows]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate MedDRA codes in the CTCAE catalogue")
    existing = {t.meddra_code: t for t in CTCAETerm.objects.all()}
    grades: dict[int, dict[int, str]] = {}
    for row in rows:
        code = int(row["meddra_code"])
        grades[code] = {g: row[f"grade_{g}"].strip() for g in range(1, 6) if row[f"grade_{g}"].strip()}
        if not grades[code]:
            raise ValueError(f"{row['ctcae_term']}: no grade defined")
        if sorted(grades[code]) != [int(g) for g in row["allowed_grades"].split("|")]:
            raise ValueError(f"{row['ctcae_term']}: allowed_grades disagrees with the grade texts")
    # Write only what differs (a reload of an unchanged catalogue is a handful of queries).
    new_terms, changed_terms = [], []
    for row in rows:
        code, fields = int(row["meddra_code"]), _term_fields(row)
        term = existing.get(code)
        if term is None:
            new_terms.append(CTCAETerm(meddra_code=code, **fields))
        elif any(getattr(term, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(term, k, v)
            changed_terms.append(term)
    CTCAETerm.objects.bulk_update(changed_terms, list(_term_fields(rows[0])))
    for term in CTCAETerm.objects.bulk_create(new_terms):
        existing[term.meddra_code] = term
    stored = {(g.term_id, g.grade): g for g in CTCAEGrade.objects.all()}
    wanted = {(existing[code].pk, grade): text for code, by_grade in grades.items() for grade, text in by_grade.items()}
    CTCAEGrade.objects.bulk_create(CTCAEGrade(term_id=t, grade=g, description=text)
                                   for (t, g), text in wanted.items() if (t, g) not in stored)
    changed = [g for key, g in stored.items() if key in wanted and g.description != wanted[key]]
    for g in changed:
        g.description = wanted[(g.term_id, g.grade)]
    CTCAEGrade.objects.bulk_update(changed, ["description"])
    # A grade removed from the catalogue is deleted only if no event uses it (the composite FK refuses).
    removed = [g.pk for key, g in stored.items() if key not in wanted]
    CTCAEGrade.objects.filter(pk__in=removed).delete()
    return len(rows)


def _term_fields(row: dict[str, str]) -> dict[str, str]:
    return {"term": row["ctcae_term"], "soc": row["meddra_soc"], "definition": row["definition"],
            "navigational_note": row["navigational_note"]}


@transaction.atomic
def adverse_event_create(*, acting_user: AbstractBaseUser, **data: Any) -> AdverseEvent:
    """Validate and save a new adverse event, then request a benchmark run of its site.

    ``data`` holds the model's editable fields plus ``patient``. Raises ValidationError (nothing saved)
    when a rule of ``AdverseEvent.clean`` fails, PermissionDenied if the user may not record on the site.
    """
    require_role(acting_user, data["patient"].site, RECORDERS)
    event = AdverseEvent(created_by=acting_user, **data)
    event.full_clean()
    event.save()
    benchmark_request(site=event.patient.site, trigger="ae_change")
    return event


@transaction.atomic
def adverse_event_update(*, event: AdverseEvent, acting_user: AbstractBaseUser, reason: str,
                         expected_version: int, **data: Any) -> AdverseEvent:
    """Apply an edit with its reason; record old → new of each changed field in an AdverseEventRevision.

    Raises ValidationError if the reason is blank or a rule fails, StaleEditError if the event changed
    since the editor loaded ``expected_version`` (nothing is saved in either case). An edit that
    changes nothing saves nothing and needs no reason.
    """
    require_role(acting_user, event.patient.site, RECORDERS)
    # Lock the row: two nurses saving at once must not both pass the version check.
    current = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if current.version != expected_version:
        raise StaleEditError(current)
    changes = {}
    for field, new in data.items():
        if field not in EDITABLE_FIELDS:
            raise ValueError(f"{field} cannot be edited")
        old = getattr(current, field)
        if old != new:
            changes[field] = [_plain(old), _plain(new)]
            setattr(current, field, new)
    if not changes:
        return current
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the change (it is kept with the record)."})
    current.full_clean()
    current.version += 1
    current.save()
    AdverseEventRevision.objects.create(adverse_event=current, version=current.version, changed_by=acting_user,
                                        reason=reason.strip(), changes=changes)
    benchmark_request(site=current.patient.site, trigger="ae_change")
    return current


def _plain(value: Any) -> Any:
    """JSON-friendly form of a field value for the revision record."""
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
