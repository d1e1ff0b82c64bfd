"""Recording and editing adverse events (each edit a revision with its reason) and closing grade queries.

Every change requests a benchmark run of the event's site (``core.outbox.benchmark_request``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ae.models import AdverseEvent, AdverseEventRevision
from core.audit import audit_context
from core.errors import ConflictError
from core.outbox import benchmark_request
from patients.access import RECORDERS, REVIEWERS, require_role

#: Fields a user may set on an adverse event (everything else is bookkeeping).
EDITABLE_FIELDS = (
    "cycle", "term", "grade", "verbatim_term", "grading_scale", "onset_date", "resolution_date",
    "present_before_cycle", "serious", *AdverseEvent.SAE_FIELDS, "relatedness", "action_taken", "outcome",
    "grade_discrepancy_reason",
)


class StaleEditError(ConflictError):
    """The event was changed by someone else after the editor loaded it; nothing was saved (409 stale_version).

    ``current`` is the event as it is now (the API returns it in the ``current`` member).
    """

    code = "stale_version"

    def __init__(self, current: AdverseEvent) -> None:
        super().__init__(f"The event was changed by someone else (now version {current.version}); nothing was "
                         "saved. Apply your change again to the current version.", current=current)


@transaction.atomic
def adverse_event_create(*, acting_user: User, **data: Any) -> AdverseEvent:
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
def adverse_event_update(*, event: AdverseEvent, acting_user: User, reason: str,
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
            changes[field] = [revision_value(old), revision_value(new)]
            setattr(current, field, new)
    if not changes:
        return current
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the change (it is kept with the record)."})
    adverse_event_save_revision(current, changes=changes, reason=reason.strip(), acting_user=acting_user)
    return current


def adverse_event_save_revision(current: AdverseEvent, *, changes: dict[str, list], reason: str,
                   acting_user: User) -> None:
    """Validate and save a changed (locked) event, bump its version and append the revision.

    A change of the grade or the computed grade reopens a resolved grade-discrepancy query (the reviewed
    discrepancy is no longer the one on the record).
    """
    if current.discrepancy_resolved_at is not None and {"grade", "computed_grade"} & set(changes):
        changes["discrepancy_resolved_at"] = [revision_value(current.discrepancy_resolved_at), None]
        current.discrepancy_resolved_at = None
        current.discrepancy_resolved_by = None
        current.discrepancy_resolution_comment = ""
    current.full_clean()
    current.version += 1
    with audit_context(reason=reason):  # the trigger-written history carries the reason too
        current.save()
    AdverseEventRevision.objects.create(adverse_event=current, version=current.version, changed_by=acting_user,
                                        reason=reason, changes=changes)
    benchmark_request(site=current.patient.site, trigger="ae_change")


def revision_value(value: Any) -> Any:
    """JSON-friendly form of a field value for the revision record."""
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value



@transaction.atomic
def grade_discrepancy_resolve(*, event: AdverseEvent, acting_user: User, comment: str) -> AdverseEvent:
    """Close the data-quality query on an event's entered-vs-computed grade with the reviewer's comment.

    Raises PermissionDenied unless the user is a reviewer (safety officer or administrator) of the site;
    ValidationError if the comment is blank or the event has no open discrepancy. The clinical record
    (grade, version) is unchanged; a later change of either grade reopens the query.
    """
    require_role(acting_user, event.patient.site, REVIEWERS)
    current = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if not current.grade_discrepancy_open:
        raise ValidationError("This event has no open grade discrepancy.")
    if not comment.strip():
        raise ValidationError({"comment": "Give your review comment."})
    current.discrepancy_resolved_by = acting_user
    current.discrepancy_resolved_at = timezone.now()
    current.discrepancy_resolution_comment = comment.strip()
    current.save(update_fields=["discrepancy_resolved_by", "discrepancy_resolved_at",
                                "discrepancy_resolution_comment"])
    return current
