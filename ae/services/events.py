"""Recording and editing adverse events (each edit a revision with its reason) and closing grade queries.

Every change requests a benchmark run of the event's site (``core.outbox.benchmark_request``).
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ae.models import AdverseEvent, AdverseEventRevision
from ae.services.episodes import episode_lock, observed_grade, overlapping_episode, probable_duplicates
from ae.services.notifications import data_quality_query_notify, sae_new_information_notify, serious_event_notify
from ae.services.sae import case_open_for_event
from core.audit import audit_context
from core.errors import ConflictError
from core.outbox import benchmark_request
from core.text import clean_reason, visible
from patients.access import RECORDERS, REVIEWERS, require_role

#: Fields a user may set on an adverse event (everything else is bookkeeping).
EDITABLE_FIELDS = (
    "cycle", "term", "grade", "verbatim_term", "grading_scale", "onset_date", "resolution_date",
    "present_before_cycle", "grade_at_cycle_start", "after_cycle_follow_up", "follow_up_reason",
    "serious", *AdverseEvent.SAE_FIELDS, "relatedness", "action_taken", "outcome", "grade_discrepancy_reason",
)

#: The fields that place an event among its term's episodes in the cycle: an edit of one of them is checked for
#: overlap with the other episodes (``adverse_event_update``).
EPISODE_FIELDS = ("cycle", "term", "onset_date", "resolution_date", "outcome")


class StaleEditError(ConflictError):
    """The event was changed by someone else after the editor loaded it; nothing was saved (409 stale_version).

    ``current`` is the event as it is now (the API returns it in the ``current`` member).
    """

    code = "stale_version"

    def __init__(self, current: AdverseEvent) -> None:
        super().__init__(_("The event was changed by someone else (now version %(version)s); nothing was saved. "
                           "Apply your change again to the current version.") % {"version": current.version},
                         current=current)


class ProbableDuplicateError(ConflictError):
    """409 probable_duplicate: the event looks like one already recorded; nothing was saved.

    ``existing`` is that event. The API returns it in the ``existing`` member (id, links, term, grade, onset,
    open); the form offers to open it, or to confirm that this is a separate event.
    """

    code = "probable_duplicate"

    def __init__(self, existing: AdverseEvent, detail: str) -> None:
        super().__init__(detail, extra={"existing": {
            "id": existing.pk, "url": reverse("api:adverse-event-detail", args=[existing.pk]),
            "page": reverse("event-history", args=[existing.pk]), "term": existing.term.term,
            "grade": existing.grade, "onset_date": existing.onset_date.isoformat(),
            "open": existing.resolution_date is None}})
        self.existing = existing


def derive_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Fields that follow from others, set the same way for the form and the API: a death (grade 5 or outcome
    Fatal) is serious with "results in death" (ICH E2A; the database refuses otherwise); only an event present
    before the cycle has a grade at the cycle start; only follow-up after the cycle's window has a reason."""
    data = dict(data)
    if data.get("grade") == 5 or data.get("outcome") == AdverseEvent.Outcome.FATAL:
        data["serious"], data["sae_death"] = True, True
    if "present_before_cycle" in data and not data["present_before_cycle"]:
        data["grade_at_cycle_start"] = None
    if "after_cycle_follow_up" in data and not data["after_cycle_follow_up"]:
        data["follow_up_reason"] = ""
    for field in ("follow_up_reason", "verbatim_term", "grade_discrepancy_reason"):
        if isinstance(data.get(field), str):
            data[field] = visible(data[field])
    return data


def _refuse_duplicate(event: AdverseEvent) -> None:
    """Raise ProbableDuplicateError if ``event`` (not saved) repeats one already recorded: the same term and onset
    in the cycle, an open episode of the term in the cycle, or a resolved one whose days cover its onset (one clinical
    event = one adverse event)."""
    twin, ongoing, covering = probable_duplicates(cycle=event.cycle, term=event.term, onset_date=event.onset_date,
                                                  verbatim=event.verbatim_term)
    if twin is not None:
        raise ProbableDuplicateError(twin, same_onset_detail(twin, cycle=event.cycle.number))
    if ongoing is not None:
        raise ProbableDuplicateError(ongoing, ongoing_episode_detail(
            term=str(ongoing.term), onset_date=ongoing.onset_date, grade=ongoing.grade, cycle=event.cycle.number))
    if covering is not None:
        raise ProbableDuplicateError(covering, covering_episode_detail(
            term=str(covering.term), onset_date=covering.onset_date, resolution_date=covering.resolution_date,
            grade=covering.grade, cycle=event.cycle.number))


def _refuse_overlap(event: AdverseEvent) -> None:
    """Raise ProbableDuplicateError if the edited ``event`` (its new values set, not saved) now shares its onset
    with, or overlaps the days of, another event of its term in its cycle."""
    other = overlapping_episode(event)
    if other is None:
        return
    if other.onset_date == event.onset_date:
        raise ProbableDuplicateError(other, same_onset_detail(other, cycle=event.cycle.number))
    raise ProbableDuplicateError(other, overlapping_episode_detail(
        term=str(other.term), onset_date=other.onset_date, resolution_date=other.resolution_date, grade=other.grade,
        cycle=event.cycle.number))


def same_onset_detail(twin: AdverseEvent, *, cycle: int) -> str:
    """The sentence refusing an event with the same term and onset as ``twin`` in cycle number ``cycle``."""
    return _("%(term)s with onset %(onset)s is already recorded in cycle %(cycle)s (grade %(grade)s): open it to "
             "change it, or confirm that this is a separate event.") % {
                 "term": twin.term, "onset": date_format(twin.onset_date, "d M Y"), "cycle": cycle,
                 "grade": twin.grade}


def ongoing_episode_detail(*, term: str, onset_date: Any, grade: int, cycle: int) -> str:
    """The sentence refusing a new event while an episode of its term is open in the cycle (form, API, import)."""
    return _("An ongoing %(term)s (onset %(onset)s, grade %(grade)s, not resolved) is already recorded in cycle "
             "%(cycle)s: update that one — its grade, or its resolution date if it ended — or confirm that this is a "
             "separate event.") % {"term": term, "onset": date_format(onset_date, "d M Y"), "grade": grade,
                                   "cycle": cycle}


def overlapping_episode_detail(*, term: str, onset_date: Any, resolution_date: Any, grade: int, cycle: int) -> str:
    """The sentence refusing an edit after which the event's days overlap those of another episode of its term in the
    cycle (form, API)."""
    if resolution_date is None:
        return _("%(term)s (onset %(onset)s, grade %(grade)s, not resolved) is already recorded in cycle %(cycle)s "
                 "and its days overlap this event's: correct the dates, update that one instead, or confirm that "
                 "these are separate events.") % {"term": term, "onset": date_format(onset_date, "d M Y"),
                                                  "grade": grade, "cycle": cycle}
    return _("%(term)s (onset %(onset)s, grade %(grade)s, resolved %(resolved)s) is already recorded in cycle "
             "%(cycle)s and its days overlap this event's: correct the dates, update that one instead, or confirm "
             "that these are separate events.") % {
                 "term": term, "onset": date_format(onset_date, "d M Y"), "grade": grade,
                 "resolved": date_format(resolution_date, "d M Y"), "cycle": cycle}


def covering_episode_detail(*, term: str, onset_date: Any, resolution_date: Any, grade: int, cycle: int) -> str:
    """The sentence refusing a new event whose onset falls inside a resolved episode of its term in the cycle (its
    onset to its resolution date, both days included): the same clinical event entered again, unless the user says
    otherwise (form, API, import)."""
    return _("%(term)s (onset %(onset)s, grade %(grade)s, resolved %(resolved)s) is already recorded in cycle "
             "%(cycle)s and covers this onset: update that one, or confirm that this is a separate event.") % {
                 "term": term, "onset": date_format(onset_date, "d M Y"), "grade": grade,
                 "resolved": date_format(resolution_date, "d M Y"), "cycle": cycle}


def adverse_event_create(*, acting_user: User, confirm_separate: bool = False, **data: Any) -> AdverseEvent:
    """Validate and save a new adverse event (entered by hand), then request a benchmark run of its site.

    ``data`` holds the model's editable fields plus ``patient``. A death is made serious with "results in death"
    (see ``derive_fields``). One clinical event = one AE: unless ``confirm_separate``, an event with the same term and
    onset in the cycle, while an episode of the term is open in the cycle, or with its onset inside a resolved
    episode of the term in the cycle, is refused with
    ProbableDuplicateError (409) naming the existing event; concurrent creates of the same event serialise on the
    episode lock, so exactly one is saved. A new serious event or death notifies the site's safety officers and
    opens its draft SAE case (``ae.services.sae.case_open_for_event``) in the same transaction.

    The event's rules (``AdverseEvent.full_clean``: its fields, ``clean`` and every check constraint in one query)
    are validated once, before the transaction opens: they read nothing that the transaction could change, and
    the database's constraints refuse the same data at the INSERT. The access check, the episode lock, the
    duplicate check and the save run in one transaction (the access check there, so that a role withdrawn
    meanwhile is seen).

    Raises ValidationError (nothing saved) when a rule of ``AdverseEvent.clean`` fails, PermissionDenied if the
    user may not record on the site, ProbableDuplicateError as above.
    """
    data = derive_fields(data)
    event = AdverseEvent(created_by=acting_user, origin=AdverseEvent.Origin.ENTERED,
                         entered_grade=data.get("grade"), **data)
    event.full_clean()
    return _adverse_event_insert(event, acting_user=acting_user, confirm_separate=confirm_separate)


@transaction.atomic
def _adverse_event_insert(event: AdverseEvent, *, acting_user: User, confirm_separate: bool) -> AdverseEvent:
    """The transaction of :func:`adverse_event_create` for a validated ``event`` (not saved)."""
    require_role(acting_user, event.patient.site, RECORDERS)
    episode_lock(cycle=event.cycle, term=event.term)
    if not confirm_separate:
        _refuse_duplicate(event)
    event.save()
    serious_event_notify(event=event)
    case_open_for_event(event=event, acting_user=acting_user)  # a serious event opens its SAE case (draft)
    data_quality_query_notify(event=event)
    benchmark_request(site=event.patient.site, trigger="ae_change")
    return event


@transaction.atomic
def adverse_event_update(*, event: AdverseEvent, acting_user: User, reason: str,
                         expected_version: int, confirm_separate: bool = False, **data: Any) -> AdverseEvent:
    """Apply an edit with its reason; record old → new of each changed field in an AdverseEventRevision.

    One clinical event = one AE, as for a new event: unless ``confirm_separate``, an edit of an ``EPISODE_FIELDS``
    field (or of the reported term under an "Other, specify" term, which says which event it is) after which the
    event's days (onset to resolution; open while unresolved, a death's ending on its onset) overlap those of another
    event of the same term in the same cycle — or share its onset — is refused with ProbableDuplicateError (409)
    naming that event (``ae.services.episodes.overlapping_episode``). Concurrent edits
    and creates of the term's episodes in the cycle serialise on its episode lock, taken before the event's row
    (the order every writer of episodes takes them).

    A death is made serious with "results in death" (see ``derive_fields``); an event that becomes serious or a death
    notifies the site's safety officers, and one that becomes serious opens its draft SAE case. The grade entered
    by hand becomes the event's ``entered_grade``; on an episode also graded from bedside assessments or labs it
    may not go below their worst grade (record a different grade on the assessment, with its reason).
    ``reason``: see :func:`core.text.clean_reason`.

    Raises ValidationError if the reason is not a real reason or a rule fails, StaleEditError if the event
    changed since the editor loaded ``expected_version``, ProbableDuplicateError as above (nothing is saved in any
    case). An edit that changes nothing saves nothing and needs no reason.
    """
    require_role(acting_user, event.patient.site, RECORDERS)
    # The lock of the episodes the event will be among, when the edit may move it (``event`` may already hold the
    # edited values — a form's instance — so any episode field sent takes it; a stale ``event`` is refused below).
    may_move = any(field in data for field in (*EPISODE_FIELDS, "verbatim_term"))
    if may_move:
        episode_lock(cycle=data.get("cycle", event.cycle), term=data.get("term", event.term))
    # Lock the row: two nurses saving at once must not both pass the version check. Only the event's row
    # (of=self): the joined patient, site, term and cycle rows stay free, so edits of other events of the same
    # ward or term never wait for this one.
    current = (AdverseEvent.objects.select_for_update(of=("self",)).select_related("patient__site", "term", "cycle")
               .get(pk=event.pk))
    if current.version != expected_version:
        raise StaleEditError(current)
    previous = copy.copy(current)
    data = derive_fields(data)
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
    errors: dict[str, list[str]] = {}
    for check in (lambda: clean_reason(reason), current.full_clean):  # report the reason and the rules together
        try:
            check()
        except ValidationError as exc:
            errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    reason = clean_reason(reason)
    if "grade" in changes:
        observed = observed_grade(current)
        if observed is not None and current.grade < observed:
            raise ValidationError({"grade": _(
                "This episode is graded from its bedside assessments or lab results (worst grade %(grade)s): to grade "
                "it lower, record your grade with its reason on the assessment.") % {"grade": observed}})
        current.entered_grade = current.grade  # bookkeeping that mirrors "grade" (not a change of its own)
    renamed = "verbatim_term" in changes and current.term.is_other_specify  # another event of that term now?
    if may_move and not confirm_separate and (set(EPISODE_FIELDS) & set(changes) or renamed):
        _refuse_overlap(current)
    # validated above (the bookkeeping since — entered_grade mirroring the grade, a discrepancy review cleared —
    # keeps every rule): not again
    adverse_event_save_revision(current, changes=changes, reason=reason, acting_user=acting_user, validated=True)
    serious_event_notify(event=current, previous=previous)
    sae_new_information_notify(event=current, previous=previous)
    if current.serious and not previous.serious:
        case_open_for_event(event=current, acting_user=acting_user)
    return current


def adverse_event_save_revision(current: AdverseEvent, *, changes: dict[str, list], reason: str,
                                acting_user: User, validated: bool = False) -> None:
    """Validate and save a changed (locked) event, bump its version and append the revision. ``validated``: the
    caller has just run ``current.full_clean()`` on these values (the database's constraints still refuse a bad row).

    A change of the grade or the computed grade reopens a resolved grade-discrepancy query (the reviewed
    discrepancy is no longer the one on the record), and an open one is assigned to the site's safety officers
    (a ``query`` notification).
    """
    if current.discrepancy_resolved_at is not None and {"grade", "computed_grade"} & set(changes):
        changes["discrepancy_resolved_at"] = [revision_value(current.discrepancy_resolved_at), None]
        current.discrepancy_resolved_at = None
        current.discrepancy_resolved_by = None
        current.discrepancy_resolution_comment = ""
    if not validated:
        current.full_clean()
    current.version += 1
    with audit_context(reason=reason):  # the trigger-written history carries the reason too
        current.save()
    AdverseEventRevision.objects.create(adverse_event=current, version=current.version, changed_by=acting_user,
                                        reason=reason, changes=changes)
    if {"grade", "computed_grade"} & set(changes):  # a new discrepancy is assigned to the site's safety officers
        data_quality_query_notify(event=current)
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
        raise ValidationError(_("This event has no open grade discrepancy."))
    comment = clean_reason(comment, field="comment", what=_("your review comment"))
    current.discrepancy_resolved_by = acting_user
    current.discrepancy_resolved_at = timezone.now()
    current.discrepancy_resolution_comment = comment.strip()
    current.save(update_fields=["discrepancy_resolved_by", "discrepancy_resolved_at",
                                "discrepancy_resolution_comment"])
    return current
