"""Telling a site's safety officers at once when a death or a new serious adverse event is recorded.

Each notice goes through :func:`patients.services.notifications.notify_many` (the one notifications concept, see
``docs/notifications.md``): one notification per safety officer (and administrator) of the site, written in the
transaction that made the event serious — the in-app list — and e-mailed after commit when the officer wants that
kind by e-mail (deaths and serious AEs are, unless turned off). The idempotency key is ``ae:<event id>:<kind>``:
one notice per officer, event and kind. Notices carry no names: study ID, cycle, CTCAE term, grade, dates and SAE
criteria, and a link to the record.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from ae import lab_units
from ae.models import AdverseEvent, LabResult
from ae.selectors import event_notice_key
from patients.models import NotificationKind
from patients.services.notifications import Notice, notify_many


def _notice_kind(event: AdverseEvent, previous: AdverseEvent | None) -> str | None:
    """DEATH when the event is now a death and was not, SERIOUS when it is now serious and was not, else None."""
    if event.is_death and (previous is None or not previous.is_death):
        return NotificationKind.DEATH
    if event.serious and (previous is None or not previous.serious):
        return NotificationKind.SERIOUS
    return None


def _notice(event: AdverseEvent, kind: str) -> Notice:
    patient, cycle = event.patient, event.cycle
    what = "Death" if kind == NotificationKind.DEATH else "Serious adverse event"
    subject = f"[pvtrack] {what}: {patient.usubjid} {event.term.term} grade {event.grade}"
    criteria = ", ".join(event.sae_criteria) or "none ticked"
    body = "\n".join([
        f"{what} recorded on {patient.site.name}.",
        f"Patient: {patient.usubjid} (study ID {patient.study_id}), cycle {cycle.number} "
        f"(started {cycle.start_date:%d %b %Y}).",
        f"Event: {event.term.term} (MedDRA {event.term.meddra_code}), grade {event.grade} "
        f"({event.get_grading_scale_display()}), onset {event.onset_date:%d %b %Y}"
        + (f", resolved {event.resolution_date:%d %b %Y}" if event.resolution_date else "") + ".",
        f"Outcome: {event.get_outcome_display()}. SAE criteria: {criteria}. "
        f"Relatedness to blinatumomab: {event.get_relatedness_display()}.",
        "Serious adverse events are reported to the sponsor within 24 hours of awareness (ICH E6).",
    ])
    return Notice(site=patient.site, kind=kind, subject=subject[:200], body=body,
                  link=reverse("event-history", args=[event.pk]), key=event_notice_key(event.pk, kind))


def new_serious_events_notify(*, events: list[AdverseEvent]) -> int:
    """:func:`serious_event_notify` for many NEW events of one import at once, at a constant number of queries
    (``notify_many``). ``events`` are saved, with patient (and site), cycle and term loaded. Returns the number of
    notices written."""
    return notify_many([_notice(event, kind) for event in events
                        if (kind := _notice_kind(event, None)) is not None])


def serious_event_notify(*, event: AdverseEvent, previous: AdverseEvent | None = None) -> int:
    """Notify the site's safety officers (and administrators) if ``event`` just became a death or serious.

    ``previous``: the event as it was before this change (None for a new event). Call inside the saving
    transaction; the notices are written there and e-mailed after commit. Returns the number of notices written
    (none when nothing newly serious happened, or when no one on the site reviews). Idempotent per recipient, event
    and kind.
    """
    kind = _notice_kind(event, previous)
    return 0 if kind is None else notify_many([_notice(event, kind)])


def data_quality_query_notify(*, event: AdverseEvent) -> int:
    """If ``event``'s entered grade now differs from its computed grade with no review yet (an open data-quality
    query, ``AdverseEvent.grade_discrepancy_open``), assign the query to the site's safety officers (and
    administrators): a ``query`` notification linking to the event. Keyed by the event's version, so each new
    discrepancy is assigned once. Call in the saving transaction, after the save; returns the notices written."""
    if not event.grade_discrepancy_open:
        return 0
    patient = event.patient
    subject = (f"[pvtrack] Data-quality query: {patient.usubjid} {event.term.term} entered grade {event.grade}, "
               f"computed {event.computed_grade}")
    body = "\n".join([
        f"Data-quality query on {patient.site.name}: the entered grade differs from the grade computed from the "
        "recorded criteria.",
        f"Patient: {patient.usubjid}, cycle {event.cycle.number}. Event: {event.term.term}, onset "
        f"{event.onset_date:%d %b %Y}; entered grade {event.grade}, computed {event.computed_grade}.",
        f"Reason given: {event.grade_discrepancy_reason or '(none)'}",
        "Review it on the event's page or in the report's data-quality queries.",
    ])
    return notify_many([Notice(site=patient.site, kind=NotificationKind.QUERY, subject=subject[:200], body=body,
                               link=reverse("event-history", args=[event.pk]),
                               key=f"dq:{event.pk}:v{event.version}")])


def lab_override_query_notify(*, result: LabResult) -> int:
    """If the clinician's grade of a saved lab value differs from its computed grade and no adverse event shows the
    difference (the value feeds no episode — e.g. graded 0 where the computed grade would have started one — or its
    episode's grade equals its computed grade), assign it to the site's safety officers (and administrators) as a
    ``query`` notification linking to the patient's lab page, keyed ``dq:lab:<value id>``. An episode that shows it
    is the episode's data-quality query (:func:`data_quality_query_notify`). Call in the saving transaction; returns
    the notices written."""
    if not result.grade_overridden:
        return 0
    event = result.adverse_event
    if event is not None and event.grade_discrepancy_open:
        return 0
    patient = result.patient
    label = lab_units.ANALYTES[result.analyte].label
    subject = (f"[pvtrack] Data-quality query: {patient.usubjid} {label} entered grade {result.entered_grade}, "
               f"computed {result.computed_grade}")
    body = "\n".join([
        f"Data-quality query on {patient.site.name}: a lab value was graded differently from the computed CTCAE "
        "v5.0 grade, and no adverse event shows the difference.",
        f"Patient: {patient.usubjid}. Value: {label} {result.value_text} collected "
        f"{timezone.localtime(result.collected_at):%d %b %Y %H:%M}; entered grade {result.entered_grade}, computed "
        f"{result.computed_grade} ({result.rationale}).",
        f"Reason given: {result.grade_discrepancy_reason or '(none)'}",
        "Review it on the patient's lab page.",
    ])
    return notify_many([Notice(site=patient.site, kind=NotificationKind.QUERY, subject=subject[:200], body=body,
                               link=reverse("lab-result-create", args=[patient.pk]), key=f"dq:lab:{result.pk}")])
