"""One clinical event = one adverse event: finding the open episode of a term in a cycle, safely under concurrency.

An *episode* is the adverse event of one CTCAE term in one treatment cycle, from onset to resolution. Whatever
records it — the AE form or API, bedside CRS/ICANS assessments, graded lab results — attaches to the *open*
episode of that term in that cycle (unresolved and not fatal); a new episode begins only when the previous one
resolved or the user says explicitly that this is a separate event.

Finding and creating happen under a transaction-scoped advisory lock on (cycle, term) (:func:`episode_lock`), so
concurrent saves of the same event (five "new episode" posts, a lab and an assessment at once) serialise: the
first creates the episode, the others find it.
"""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower, Trim

from ae.episodes import lab_effective_grade
from ae.models import AdverseEvent, CTCAETerm
from patients.models import TreatmentCycle

#: First key of the advisory locks taken here (the benchmark run lock uses 0x5056).
EPISODE_LOCK_NAMESPACE = 0x4550  # "EP"


def episode_lock(*, cycle: TreatmentCycle, term: CTCAETerm) -> None:
    """Take the transaction-scoped advisory lock of ``term``'s episodes in ``cycle`` (released at commit).

    Call inside ``transaction.atomic``; a second transaction asking for the same lock waits until the first
    commits or rolls back, then sees what it wrote. Unrelated (cycle, term) pairs may share a hash and then
    wait for each other briefly — harmless.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                       [EPISODE_LOCK_NAMESPACE, f"{cycle.pk}:{term.pk}"])


def episode_locks(pairs: set[tuple[int, int]]) -> None:
    """:func:`episode_lock` of many (cycle id, term id) pairs in ONE query (a bulk import's batch), taken in a fixed
    order so that two imports locking overlapping pairs cannot deadlock."""
    if not pairs:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(k)) FROM unnest(%s::text[]) AS k",
                       [EPISODE_LOCK_NAMESPACE, sorted(f"{cycle}:{term}" for cycle, term in pairs)])


def open_episode(*, cycle: TreatmentCycle, term: CTCAETerm) -> AdverseEvent | None:
    """The open episode of ``term`` in ``cycle`` (no resolution date, outcome not Fatal), row-locked; the most
    recent onset if several are open. Call after :func:`episode_lock`. Only the episode's row is locked: its cycle,
    CTCAE term, patient and site (read along) are shared by every other patient's events and stay unlocked."""
    return (AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term", "patient__site")
            .filter(cycle=cycle, term=term, resolution_date__isnull=True)
            .exclude(outcome=AdverseEvent.Outcome.FATAL).order_by("-onset_date", "-id").first())


def _lasts_until(day: datetime.date) -> Q:
    """Events whose days reach ``day``: resolved on or after it, still open (no resolution date, not fatal), or a
    death without a resolution date — its days end on its onset — with its onset on or after ``day``."""
    fatal = AdverseEvent.Outcome.FATAL
    return (Q(resolution_date__gte=day) | (Q(resolution_date__isnull=True) & ~Q(outcome=fatal))
            | Q(resolution_date__isnull=True, outcome=fatal, onset_date__gte=day))


def covering_episode(*, cycle: TreatmentCycle, term: CTCAETerm, day: datetime.date) -> AdverseEvent | None:
    """The episode of ``term`` in ``cycle`` whose days include ``day`` (its onset on or before it, and its resolution
    date on or after it, or still open; a death without a resolution date covers its onset day), row-locked; the
    latest onset (then highest id) if several do; None if none. A late observation of that day belongs to it. Call
    after :func:`episode_lock`."""
    return (AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term", "patient__site")
            .filter(_lasts_until(day), cycle=cycle, term=term, onset_date__lte=day)
            .order_by("-onset_date", "-id").first())


def next_episode(*, cycle: TreatmentCycle, term: CTCAETerm, day: datetime.date) -> AdverseEvent | None:
    """The first episode of ``term`` in ``cycle`` that begins after ``day`` (the earliest onset, then lowest id),
    row-locked, or None. An abnormal value of a day no episode covers, entered late, is the start of that episode:
    moving its onset back to the day overlaps no other, while the open episode, further on, might have a resolved
    one in between. Call after :func:`episode_lock`."""
    return (AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term", "patient__site")
            .filter(cycle=cycle, term=term, onset_date__gt=day).order_by("onset_date", "id").first())


def same_onset_event(*, cycle: TreatmentCycle, term: CTCAETerm, onset_date: datetime.date,
                     exclude_pk: int | None = None) -> AdverseEvent | None:
    """An event of ``term`` in ``cycle`` with the same onset date (a probable duplicate), or None."""
    events = AdverseEvent.objects.filter(cycle=cycle, term=term, onset_date=onset_date)
    if exclude_pk is not None:
        events = events.exclude(pk=exclude_pk)
    return events.order_by("id").first()


def reported_key(verbatim: str | None) -> str:
    """The reported term as :func:`same_reported_event` compares it: trimmed, lower-case."""
    return (verbatim or "").strip().lower()


def same_reported_event(events: QuerySet[AdverseEvent], *, term: CTCAETerm, verbatim: str
                        ) -> QuerySet[AdverseEvent]:
    """``events`` (of ``term``) narrowed to those that can be the same clinical event as one reported as
    ``verbatim``: under an "Other, specify" term (:attr:`ae.models.CTCAETerm.is_other_specify`) only those with the
    same reported term, trimmed and case-insensitive — "dysgraphia" and "micrographia" are two events; under any
    other term, all of them."""
    if not term.is_other_specify:
        return events
    return events.alias(reported=Lower(Trim("verbatim_term"))).filter(reported=reported_key(verbatim))


def probable_duplicates(*, cycle: TreatmentCycle, term: CTCAETerm, onset_date: datetime.date, verbatim: str = ""
                        ) -> tuple[AdverseEvent | None, AdverseEvent | None, AdverseEvent | None]:
    """(:func:`same_onset_event`, :func:`open_episode`, the covering episode) of a new event of ``term`` in ``cycle``
    with onset ``onset_date``, read in ONE query: the first event with that onset (lowest id); the open episode
    (latest onset, then highest id); and a resolved episode whose days cover the onset (its onset before it, its
    resolution date on or after it: latest onset, then highest id) — each None if there is none. All are row-locked
    (``open_episode`` locks the episode; locking the others too changes nothing, as the new event is refused or
    saved beside them). Under an "Other, specify" term only events reporting the same ``verbatim`` term count
    (:func:`same_reported_event`). Call after :func:`episode_lock`."""
    candidates = list(same_reported_event(
        AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term", "patient__site")
        .filter(Q(onset_date=onset_date) | (Q(resolution_date__isnull=True) & ~Q(outcome=AdverseEvent.Outcome.FATAL))
                | Q(onset_date__lt=onset_date, resolution_date__gte=onset_date),
                cycle=cycle, term=term), term=term, verbatim=verbatim))
    twin = min((e for e in candidates if e.onset_date == onset_date), key=lambda e: e.pk, default=None)
    ongoing = max((e for e in candidates if e.resolution_date is None and e.outcome != AdverseEvent.Outcome.FATAL),
                  key=lambda e: (e.onset_date, e.pk), default=None)
    covering = max((e for e in candidates if e.onset_date < onset_date and e.resolution_date is not None
                    and e.resolution_date >= onset_date), key=lambda e: (e.onset_date, e.pk), default=None)
    return twin, ongoing, covering


def overlapping_episode(event: AdverseEvent) -> AdverseEvent | None:
    """Another event of ``event``'s term in its cycle whose days overlap the event's (an edited event, its new values
    set, saved or not), row-locked, or None: the same-onset twin first (lowest id), else the overlapping episode
    with the latest onset (then highest id). An event's days run from its onset to its resolution date, both
    included; without a resolution date, an open episode runs on (no end) and a death ends on its onset — as
    :func:`probable_duplicates` reads them for a new event (under an "Other, specify" term, only those reporting
    the same event: :func:`same_reported_event`). Call after :func:`episode_lock` of the event's (cycle, term)."""
    others = same_reported_event(
        AdverseEvent.objects.select_for_update(of=("self",)).select_related("cycle", "term", "patient__site")
        .filter(_lasts_until(event.onset_date), cycle=event.cycle, term=event.term),
        term=event.term, verbatim=event.verbatim_term)
    if event.pk is not None:
        others = others.exclude(pk=event.pk)
    last_day = event.resolution_date or (event.onset_date if event.outcome == AdverseEvent.Outcome.FATAL else None)
    if last_day is not None:
        others = others.filter(onset_date__lte=last_day)
    found = list(others)
    twin = min((e for e in found if e.onset_date == event.onset_date), key=lambda e: e.pk, default=None)
    return twin or max(found, key=lambda e: (e.onset_date, e.pk), default=None)


def observed_grade(episode: AdverseEvent) -> int | None:
    """The worst effective grade of the episode's observations — bedside assessments and graded lab results (a lab
    value counts with its grade if treatment-emergent, :func:`ae.episodes.lab_effective_grade`) — None if it has
    none."""
    grades = [a.effective_grade for a in episode.crs_assessments.all()]
    grades += [a.effective_grade for a in episode.icans_assessments.all()]
    grades += [lab_effective_grade(r, pre_existing=episode.present_before_cycle)
               for r in episode.lab_results.exclude(grade=None)]
    return max(grades) if grades else None
