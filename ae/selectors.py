"""Reads of the adverse-event app, scoped to the sites a user holds a role on (:mod:`patients.access`)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)

from ae import lab_units
from ae.episodes import CRS_TERM, ICANS_TERM
from ae.models import (
    AdverseEvent,
    CRSAssessment,
    CTCAESynonym,
    CTCAETerm,
    EventTreatment,
    ICANSAssessment,
    LabResult,
    ReferenceRange,
    SAECase,
    SAECaseLink,
)
from ae.models.events import death_annotations, last_record_day, treatment_emergent_q
from ae.sae.clocks import Clock, Submission, case_clocks
from core.types import AnyUser
from patients.access import ALL_ROLES, sites_for
from patients.models import Notification, NotificationKind, Patient, Site, TreatmentCycle
from patients.selectors import patients_for


def adverse_events_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[AdverseEvent]:
    """Adverse events of the sites on which ``user`` holds one of ``roles``."""
    return AdverseEvent.objects.filter(patient__site__in=sites_for(user, roles))


def patient_records_for(user: AnyUser) -> QuerySet[Patient]:
    """The user's patients, each with its site, its cycles in order, each cycle's adverse events (by onset) and lab
    results (by collection time, each with the adverse event it feeds), and the lab results collected before any
    cycle (``labs_before_cycles``) prefetched: what the patient's page shows (6 queries for one patient, however
    many cycles, events and values)."""
    events = AdverseEvent.objects.select_related("term", "case_link").order_by("onset_date", "id")
    labs = LabResult.objects.select_related("adverse_event__term").order_by("collected_at", "id")
    cycles = TreatmentCycle.objects.order_by("number").prefetch_related(
        Prefetch("adverse_events", queryset=events), Prefetch("lab_results", queryset=labs))
    return patients_for(user).select_related("site").prefetch_related(
        Prefetch("cycles", queryset=cycles),
        Prefetch("lab_results", queryset=labs.filter(cycle__isnull=True), to_attr="labs_before_cycles"))


def treatment_emergent_events(site: Site) -> QuerySet[AdverseEvent]:
    """The site's treatment-emergent adverse events (ADaM TRTEMFL = "Y", :func:`ae.models.events.treatment_emergent_q`):
    what the benchmark counts and the graded AE table tabulates."""
    return AdverseEvent.objects.filter(patient__site=site).filter(treatment_emergent_q())


def with_treatment_emergent(events: QuerySet[AdverseEvent]) -> QuerySet[AdverseEvent]:
    """``events`` annotated ``trtemfl`` (bool, ADaM TRTEMFL) by the same rule."""
    return events.annotate(trtemfl=ExpressionWrapper(treatment_emergent_q(), output_field=BooleanField()))


def crs_assessments_for(user: AnyUser) -> QuerySet[CRSAssessment]:
    """CRS assessments of the user's sites."""
    return CRSAssessment.objects.filter(adverse_event__patient__site__in=sites_for(user))


def icans_assessments_for(user: AnyUser) -> QuerySet[ICANSAssessment]:
    """ICANS assessments of the user's sites."""
    return ICANSAssessment.objects.filter(adverse_event__patient__site__in=sites_for(user))


def lab_results_for(user: AnyUser) -> QuerySet[LabResult]:
    """Lab results of the user's sites."""
    return LabResult.objects.filter(patient__site__in=sites_for(user))


def grade_discrepancies_open(*, site: Site) -> QuerySet[AdverseEvent]:
    """Data-quality queries of a site: events whose entered grade differs from the computed grade, unresolved."""
    return (AdverseEvent.objects.filter(patient__site=site, computed_grade__isnull=False,
                                        discrepancy_resolved_at__isnull=True)
            .exclude(grade=F("computed_grade")).select_related("patient", "cycle", "term")
            .order_by("onset_date", "id"))


def records_after_death(*, site: Site, limit: int) -> list[tuple[Patient, datetime.date, datetime.date]]:
    """Patients of ``site`` whose records go on after their date of death — (patient, date of death, latest day of
    their records), study ID order, at most ``limit`` — in ONE query. pvtrack refuses such records since 1 Dec 2026
    (``AdverseEvent._death_errors``, triggers ``ae_not_after_death``/``ae_death_is_last``); these were saved before,
    or by two saves at the same moment, and the report lists them as data-quality queries."""
    annotations = death_annotations()
    rows = (Patient.objects.filter(site=site, adverse_events__outcome=AdverseEvent.Outcome.FATAL).distinct()
            .annotate(**annotations).order_by("study_id"))
    found = []
    for patient in rows:
        values = {name: getattr(patient, name) for name in annotations}
        last = last_record_day(values)
        if last is not None and last > values["death_day"]:
            found.append((patient, values["death_day"], last))
            if len(found) == limit:
                break
    return found


def assessment_episodes(*, patient: Patient, kind: str) -> list[AdverseEvent]:
    """The patient's CRS (``kind`` "crs") or ICANS ("icans", recorded as CTCAE Encephalopathy) episodes —
    entered by hand or started by bedside assessments, one clinical event being one AE — ongoing first, then
    newest first; each annotated ``has_positive`` (an assessment above grade 0, or a grade entered by hand)."""
    model, term, positive_filter = ((CRSAssessment, CRS_TERM, {"astct_grade": 0}) if kind == "crs"
                                    else (ICANSAssessment, ICANS_TERM, {"grade": 0}))
    positive = model.objects.filter(adverse_event=OuterRef("pk")).exclude(**positive_filter)
    return list(AdverseEvent.objects.filter(patient=patient, term__term=term)
                .annotate(has_positive=ExpressionWrapper(Q(Exists(positive)) | Q(entered_grade__isnull=False),
                                                         output_field=BooleanField()))
                .select_related("cycle").order_by(F("resolution_date").asc(nulls_first=True), "-onset_date", "-id"))


def lab_results_of(patient: Patient, limit: int = 50) -> QuerySet[LabResult]:
    """The patient's latest lab results (newest first), at most ``limit``, each with its cycle and the adverse
    event it feeds (one query)."""
    return (patient.lab_results.select_related("cycle", "adverse_event__term")
            .order_by("-collected_at", "-id")[:limit])


def term_picker_options() -> list[tuple[str, str]]:
    """The picker's suggestions without JavaScript: every term, and each ward synonym labelled with its term."""
    options = [(name, "") for name in CTCAETerm.objects.values_list("term", flat=True)]
    options += [(term, f"{term} — {synonym}")
                for synonym, term in CTCAESynonym.objects.values_list("synonym", "term__term")]
    return sorted(options)


def event_notice_key(event_id: int, kind: str) -> str:
    """The idempotency key of a notice of one event's death or seriousness (``ae.services.notifications``)."""
    return f"ae:{event_id}:{kind}"


def event_notices_count(event: AdverseEvent) -> int:
    """How many notices of this event's death or seriousness were written (to its site's safety officers)."""
    return Notification.objects.filter(key__in=[event_notice_key(event.pk, kind) for kind in
                                                (NotificationKind.DEATH, NotificationKind.SERIOUS)]).count()


def sae_update_notices_count(event: AdverseEvent) -> tuple[str, int] | None:
    """(reference of the SAE case ``event`` is in, how many notices of new information on that case were written
    — ``sae_update``, :func:`ae.services.notifications.sae_new_information_notify`), or None outside a case."""
    link = SAECaseLink.objects.filter(adverse_event=event).select_related("case").first()
    if link is None:
        return None
    return link.case.reference, Notification.objects.filter(
        kind=NotificationKind.SAE_UPDATE, key__startswith=f"case:{link.case_id}:").count()


#: What the report's list of serious events shows of each (``templates/reports/_serious.html``): the other columns,
#: the term's definitions and grades and the event's grading rationale among them, are not read for it (issue 12).
SERIOUS_EVENT_FIELDS = ("id", "patient", "cycle", "term", "grade", "onset_date", "outcome", *AdverseEvent.SAE_FIELDS,
                        "patient__study_id", "cycle__number", "term__term")


def serious_events(*, site: Site, limit: int = 20) -> QuerySet[AdverseEvent]:
    """The site's most recent serious adverse events (deaths included), newest onset first, at most ``limit``, with
    their patient's study ID, cycle number and term (one query; only :data:`SERIOUS_EVENT_FIELDS` loaded, another
    field costs a query per event). The ``limit`` events are picked first from the partial index of serious events
    (``ae_serious_recent_idx``, through the site's patients) and only they are joined: joining every serious event
    of the site before the limit read the whole table (issue 12)."""
    latest = (AdverseEvent.objects.filter(patient__site=site, serious=True).order_by("-onset_date", "-id")
              .values("pk")[:limit])
    return (AdverseEvent.objects.filter(pk__in=Subquery(latest)).select_related("patient", "cycle", "term")
            .only(*SERIOUS_EVENT_FIELDS).order_by("-onset_date", "-id"))


def event_treatments_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[EventTreatment]:
    """Treatments of adverse events of the sites on which ``user`` holds one of ``roles``."""
    return EventTreatment.objects.filter(adverse_event__patient__site__in=sites_for(user, roles))


#: How far back a neutrophil count counts as "recent" for a fever (calendar days before the onset day, inclusive).
RECENT_ANC_DAYS = 2


def recent_anc(*, patient: Patient, on: datetime.date) -> LabResult | None:
    """The patient's latest ANC collected on ``on`` or the :data:`RECENT_ANC_DAYS` days before (local dates), or
    None — the count a fever is checked against for CTCAE v5.0 Febrile neutropenia (docs/grading.md)."""
    start = on - datetime.timedelta(days=RECENT_ANC_DAYS)
    return (LabResult.objects.filter(patient=patient, analyte="anc", collected_at__date__gte=start,
                                     collected_at__date__lte=on).order_by("-collected_at", "-id").first())


#: How many of a patient's latest graded lab values the AE form sends to the page for its live proposal.
PROPOSAL_VALUES_SHOWN = 400


def graded_lab_values_of(patient: Patient, limit: int = PROPOSAL_VALUES_SHOWN) -> list[LabResult]:
    """The patient's ``limit`` latest lab values with a computed grade, in collection order (the AE form's live
    proposal of a lab term's grade; the server recomputes it on save with :func:`lab_values_for_term`)."""
    latest = (LabResult.objects.filter(patient=patient, computed_grade__isnull=False)
              .order_by("-collected_at", "-id")[:limit])
    return sorted(latest, key=lambda r: (r.collected_at, r.pk))


def lab_values_for_term(*, patient: Patient, analytes: Iterable[str], term: str, start: datetime.date,
                        end: datetime.date) -> list[LabResult]:
    """The patient's graded values of ``analytes`` collected from ``start`` to ``end`` (local dates, both inclusive)
    that grade ``term`` — graded as that term, or grade 0 (normal: grade 0 of every term of its analyte) — in
    collection order; what the AE form proposes a lab term's grade from (:func:`ae.lab_proposal.lab_grade_proposal`)."""
    return list(LabResult.objects.filter(patient=patient, analyte__in=list(analytes), computed_grade__isnull=False,
                                         collected_at__date__gte=start, collected_at__date__lte=end)
                .filter(Q(ctcae_term=term) | Q(computed_grade=0)).order_by("collected_at", "id"))


def reference_range_for(*, site: Site, analyte: str, sex: str, age_months: int,
                        on: datetime.date) -> ReferenceRange | None:
    """The site's reference range in force on ``on`` for ``analyte``, the patient's ``sex`` ("F"/"M"/"U") and age in
    whole months: one for that sex first, else one for both sexes; None when the laboratory published none."""
    ranges = ReferenceRange.objects.filter(site=site, analyte=analyte, age_from_months__lte=age_months,
                                           age_to_months__gt=age_months, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    return (ranges.filter(sex=sex).order_by("-valid_from").first() if sex in ("F", "M") else None) or (
        ranges.filter(sex="").order_by("-valid_from").first())


def reference_ranges_in_force(*, site: Site, sex: str, age_months: int, on: datetime.date) -> list[ReferenceRange]:
    """The range of each analyte :func:`reference_range_for` would choose on ``on`` (one query), in analyte order."""
    ranges = ReferenceRange.objects.filter(site=site, age_from_months__lte=age_months, age_to_months__gt=age_months,
                                           valid_from__lte=on).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    chosen: dict[str, ReferenceRange] = {}
    for found in ranges.order_by("valid_from"):
        if found.sex not in ("", sex):
            continue
        held = chosen.get(found.analyte)
        if held is None or (held.sex == "" and found.sex) or held.sex == found.sex:
            chosen[found.analyte] = found
    order = list(lab_units.ANALYTES)
    return sorted(chosen.values(), key=lambda r: order.index(r.analyte))


def reference_ranges_of_patient(*, site: Site, sex: str) -> list[ReferenceRange]:
    """Every version of the site's ranges that can apply to a patient of ``sex`` (their sex or both), current and
    closed, in analyte then valid-from order (one query): the lab form picks among them the one
    :func:`reference_ranges_in_force` would choose for the collection date (``static/lab_form.js``)."""
    order = list(lab_units.ANALYTES)
    ranges = ReferenceRange.objects.filter(site=site, sex__in=("", sex)).order_by("valid_from", "age_from_months")
    return sorted(ranges, key=lambda r: order.index(r.analyte))


def reference_ranges_for(user: AnyUser) -> QuerySet[ReferenceRange]:
    """Reference ranges of the sites on which ``user`` holds any role."""
    return ReferenceRange.objects.filter(site__in=sites_for(user, ALL_ROLES))


def sae_cases_for(user: AnyUser, roles: Iterable[str] = ALL_ROLES) -> QuerySet[SAECase]:
    """SAE cases of the sites on which ``user`` holds one of ``roles``, with what their clocks read (site, patient,
    versions, linked events with their terms): a fixed number of queries for a page of cases."""
    return (SAECase.objects.filter(site__in=sites_for(user, roles)).select_related("site", "patient", "reporter")
            .prefetch_related("versions", Prefetch("case_links", queryset=SAECaseLink.objects.select_related(
                "adverse_event__term", "adverse_event__cycle"))))


def clocks_for(case: SAECase) -> list[Clock]:
    """The case's clocks (see :func:`ae.sae.clocks.case_clocks`); reads its versions and events (prefetch
    ``versions`` and ``case_links__adverse_event`` for lists)."""
    events = [link.adverse_event for link in case.case_links.all()]
    return case_clocks(
        awareness_at=case.awareness_at, time_zone=case.site.time_zone, sponsor_hours=case.site.sae_sponsor_hours,
        susar=case.is_susar, fatal_or_life_threatening=any(e.sae_death or e.sae_life_threatening for e in events),
        submissions=[Submission(v.signed_at, v.susar) for v in case.versions.all()],
        follow_up_awareness_at=case.follow_up_awareness_at if case.status == SAECase.Status.FOLLOW_UP else None)


def sae_case_rows(cases: Iterable[SAECase], now: datetime.datetime) -> list[dict[str, Any]]:
    """Each case with its next open clock (``next``) and its overdue clocks (``overdue``), for lists and reports."""
    rows = []
    for case in cases:
        running = [c for c in clocks_for(case) if c.met_at is None]
        rows.append({"case": case, "next": running[0] if running else None,
                     "overdue": [c for c in running if c.overdue(now)]})
    return rows


def overdue_sae_cases(user: AnyUser, site: Site, now: datetime.datetime) -> list[dict[str, Any]]:
    """The site's open cases with an overdue clock (the safety officer's report: overdue until submitted)."""
    cases = sae_cases_for(user).filter(site=site).exclude(status=SAECase.Status.CLOSED)
    return [row for row in sae_case_rows(cases, now) if row["overdue"]]
