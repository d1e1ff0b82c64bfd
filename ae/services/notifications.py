"""Telling a site's safety officers at once when a death or a new serious adverse event is recorded.

Each notice goes through :func:`patients.services.notifications.notify_many` (the one notifications concept, see
``docs/notifications.md``): one notification per safety officer (and administrator) of the site, written in the
transaction that made the event serious — the in-app list — and e-mailed after commit when the officer wants that
kind by e-mail (deaths and serious AEs are, unless turned off). The idempotency key is ``ae:<event id>:<kind>``:
one notice per officer, event and kind. Notices carry no names: study ID, cycle, CTCAE term, grade, dates and SAE
criteria, and a link to the record.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from ae import lab_units
from ae.models import AdverseEvent, LabResult, SAECase, SAECaseLink
from ae.selectors import event_notice_key
from patients.models import NotificationKind
from patients.notification_texts import message
from patients.services.notifications import Notice, notify_many


def _notice_kind(event: AdverseEvent, previous: AdverseEvent | None) -> str | None:
    """DEATH when the event is now a death and was not, SERIOUS when it is now serious and was not, else None."""
    if event.is_death and (previous is None or not previous.is_death):
        return NotificationKind.DEATH
    if event.serious and (previous is None or not previous.serious):
        return NotificationKind.SERIOUS
    return None


def _notice(event: AdverseEvent, kind: str) -> Notice:
    """The notice of a death or a new serious event, as message ids and parameters (shown in each reader's
    language, ``patients.notification_texts``); CTCAE term, MedDRA code and the CDISC terms stay as recorded."""
    patient, cycle = event.patient, event.cycle
    # The form's words (outcome, relatedness, SAE criteria) as English msgids, translated for each reader; the
    # grading scale's name is the same in every language.
    with translation.override("en-gb"):
        criteria: dict[str, Any] = ({"texts": event.sae_criteria} if event.sae_criteria
                                    else {"text": gettext_noop("none ticked")})
        params = {
            "what": {"text": gettext_noop("Death") if kind == NotificationKind.DEATH
                     else gettext_noop("Serious adverse event")},
            "usubjid": patient.usubjid, "study_id": patient.study_id, "site": patient.site.name,
            "term": event.term.term, "grade": event.grade, "meddra": event.term.meddra_code,
            "scale": str(event.get_grading_scale_display()), "cycle": cycle.number, "start": cycle.start_date,
            "onset": event.onset_date, "resolved": event.resolution_date,
            "outcome": {"text": str(event.get_outcome_display())},
            "criteria": criteria,
            "relatedness": {"text": str(event.get_relatedness_display())}}
    event_line = (gettext_noop("Event: %(term)s (MedDRA %(meddra)s), grade %(grade)s (%(scale)s), onset %(onset)s, "
                               "resolved %(resolved)s.") if event.resolution_date else
                  gettext_noop("Event: %(term)s (MedDRA %(meddra)s), grade %(grade)s (%(scale)s), onset %(onset)s."))
    if not event.resolution_date:
        params.pop("resolved")
    text = message(
        gettext_noop("[pvtrack] %(what)s: %(usubjid)s %(term)s grade %(grade)s"),
        [gettext_noop("%(what)s recorded on %(site)s."),
         gettext_noop("Patient: %(usubjid)s (study ID %(study_id)s), cycle %(cycle)s (started %(start)s)."),
         event_line,
         gettext_noop("Outcome: %(outcome)s. SAE criteria: %(criteria)s. Relatedness to blinatumomab: "
                      "%(relatedness)s."),
         gettext_noop("Serious adverse events are reported to the sponsor within 24 hours of awareness (ICH E6).")],
        **params)
    return Notice(site=patient.site, kind=kind, subject="", body="", message=text,
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


#: What of an adverse event a signed SAE case version reports (its reaction, ``ae.sae.build``): a change of one of
#: these after the case was submitted is new information for a follow-up report (ICH E2D §5.1; EU Regulation
#: 536/2014 Art. 41(4)). The relatedness is not among them: the case records its own causality assessment.
REPORTED_FIELDS = ("term_id", "verbatim_term", "grade", "grading_scale", "onset_date", "resolution_date", "outcome",
                   "cycle_id", "serious", *AdverseEvent.SAE_FIELDS)


def sae_new_information_notify(*, event: AdverseEvent, previous: AdverseEvent) -> int:
    """If ``event`` belongs to a submitted SAE case and a field the case reports (:data:`REPORTED_FIELDS`) changed
    from ``previous``, tell the site's safety officers (and administrators) that a follow-up may be due: an
    ``sae_update`` notice linking to the case, keyed by the case and its last submitted version — one notice per
    officer until the follow-up is submitted. A case in follow-up (its draft will carry the change) or closed (no
    further version) notifies no one. Call in the saving transaction, after the save; returns the notices written."""
    if all(getattr(event, f) == getattr(previous, f) for f in REPORTED_FIELDS):
        return 0
    link = (SAECaseLink.objects.filter(adverse_event=event, case__status=SAECase.Status.SUBMITTED)
            .select_related("case").first())
    if link is None:
        return 0
    case = link.case
    version = case.versions.order_by("-number").values_list("number", flat=True).first()
    patient = event.patient
    with translation.override("en-gb"):  # the outcome's English label, its msgid: translated for each reader
        outcome = {"text": str(event.get_outcome_display())}
    text = message(
        gettext_noop("[pvtrack] New information on SAE case %(reference)s: %(usubjid)s %(term)s"),
        [gettext_noop("%(term)s of patient %(usubjid)s changed on %(site)s after version %(version)s of SAE case "
                      "%(reference)s was submitted."),
         gettext_noop("Now: grade %(grade)s, onset %(onset)s, outcome %(outcome)s."),
         gettext_noop("If this is new information for the sponsor, open a follow-up on the case and submit it "
                      "(ICH E2D).")],
        reference=case.reference, usubjid=patient.usubjid, term=event.term.term, site=patient.site.name,
        version=version, grade=event.grade, onset=event.onset_date, outcome=outcome)
    return notify_many([Notice(site=patient.site, kind=NotificationKind.SAE_UPDATE, subject="", body="", message=text,
                               link=reverse("sae-case", args=[case.pk]), key=f"case:{case.pk}:v{version}:new-info")])


def data_quality_query_notify(*, event: AdverseEvent) -> int:
    """If ``event``'s entered grade now differs from its computed grade with no review yet (an open data-quality
    query, ``AdverseEvent.grade_discrepancy_open``), assign the query to the site's safety officers (and
    administrators): a ``query`` notification linking to the event. Keyed by the event's version, so each new
    discrepancy is assigned once. Call in the saving transaction, after the save; returns the notices written."""
    if not event.grade_discrepancy_open:
        return 0
    patient = event.patient
    text = message(
        gettext_noop("[pvtrack] Data-quality query: %(usubjid)s %(term)s entered grade %(grade)s, computed "
                     "%(computed)s"),
        [gettext_noop("Data-quality query on %(site)s: the entered grade differs from the grade computed from the "
                      "recorded criteria."),
         gettext_noop("Patient: %(usubjid)s, cycle %(cycle)s. Event: %(term)s, onset %(onset)s; entered grade "
                      "%(grade)s, computed %(computed)s."),
         gettext_noop("Reason given: %(reason)s"),
         gettext_noop("Review it on the event's page or in the report's data-quality queries.")],
        usubjid=patient.usubjid, term=event.term.term, grade=event.grade, computed=event.computed_grade,
        site=patient.site.name, cycle=event.cycle.number, onset=event.onset_date,
        reason=event.grade_discrepancy_reason or {"text": gettext_noop("(none)")})
    return notify_many([Notice(site=patient.site, kind=NotificationKind.QUERY, subject="", body="", message=text,
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
