"""Gathering a ward's data for :mod:`reports.trends` (the run's inputs["monitoring"]), in a fixed number of queries."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, F, Func, IntegerField, Min, QuerySet, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from ae.selectors import treatment_emergent_events
from patients.models import HIGH_BURDEN_BLASTS_PCT, InfusionInterruption, Site, TreatmentCycle
from reports.benchmark import GRADE_BANDS
from reports.exposure import infusion_days
from reports.models import BenchmarkCategory


def collect_monitoring(site: Site, today: datetime.date | None = None) -> dict[str, Any]:
    """{"patients": [{"id", "stratum", "cycles", "infusion_days"}] in order of first cycle start (then id),
    "outcomes": {"<category>|<band>": [patient positions with a treatment-emergent event of the category's terms
    (or actions) at that grade or above]}, "events": {"<category>|<band>": number of such events},
    "lags": [days from onset to recording, per treatment-emergent event, ascending], "demo": bool}. Outcomes are
    all-cause and count every term of the category (docs/network-and-trends.md). Eight queries, whatever the
    ward's size; the events are aggregated in the database."""
    today = today or timezone.localdate()
    cycles = list(TreatmentCycle.objects.filter(patient__site=site)
                  .values("id", "patient_id", "number", "start_date", "end_date", "schedule", "marrow_blasts_pct"))
    interrupted: dict[int, float] = {}
    for row in (InfusionInterruption.objects.filter(cycle__patient__site=site, restarted_at__isnull=False)
                .values("cycle_id").annotate(total=Sum(F("restarted_at") - F("stopped_at")))):
        interrupted[row["cycle_id"]] = row["total"].total_seconds() / 3600
    first_start = {r["patient_id"]: r["first"] for r in TreatmentCycle.objects.filter(patient__site=site)
                   .values("patient_id").annotate(first=Min("start_date"))}
    order = sorted(first_start, key=lambda pid: (first_start[pid], pid))
    position = {pid: i for i, pid in enumerate(order)}
    patients: list[dict[str, Any]] = [{"id": pid, "stratum": "not_recorded", "cycles": 0, "infusion_days": 0.0}
                                      for pid in order]
    for c in cycles:
        p = patients[position[c["patient_id"]]]
        p["cycles"] += 1
        p["infusion_days"] += infusion_days(c["start_date"], c["end_date"], c["schedule"], today,
                                            interrupted.get(c["id"], 0.0))
        if c["number"] == 1 and c["marrow_blasts_pct"] is not None:
            p["stratum"] = "blasts_ge5" if c["marrow_blasts_pct"] >= HIGH_BURDEN_BLASTS_PCT else "blasts_lt5"
    # Aggregated in the database (issue 12): per (term, grade) and per (action taken, grade) the number of
    # treatment-emergent events and their distinct patients, then summed per category and band below; the
    # entry lags as one integer per event, computed in SQL in the site's time zone.
    events = treatment_emergent_events(site).filter(grade__isnull=False)
    by_term = _grade_groups(events, "term_id")
    categories = list(BenchmarkCategory.objects.prefetch_related("terms"))
    by_action = (_grade_groups(events.filter(action_taken__in={a for c in categories for a in c.ae_actions}),
                               "action_taken")
                 if any(c.ae_actions for c in categories) else {})
    outcomes: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for cat in categories:
        groups = by_action if cat.ae_actions else by_term
        keys = set(cat.ae_actions) if cat.ae_actions else {t.id for t in cat.terms.all()}
        for band in cat.grade_bands:
            key = f"{cat.slug}|{band}"
            hits = [g for (k, grade), g in groups.items() if k in keys and grade >= GRADE_BANDS[band]]
            counts[key] = sum(n for n, _ in hits)
            outcomes[key] = sorted({position[pid] for _, pids in hits for pid in pids if pid in position})
    lags = sorted(treatment_emergent_events(site)
                  .annotate(lag=Greatest(Value(0), OnsetToRecordDays("created_at", "onset_date", tz=_tz_name())))
                  .values_list("lag", flat=True))
    for p in patients:
        p["infusion_days"] = round(p["infusion_days"], 3)
    return {"patients": patients, "outcomes": outcomes, "events": counts, "lags": lags,
            "demo": bool(site.demo_of_cohort)}


def _grade_groups(events: QuerySet[Any], key: str) -> dict[tuple[Any, int], tuple[int, list[int]]]:
    """{(key value, grade): (number of events, [distinct patient ids])} in one GROUP BY."""
    rows = events.values(key, "grade").annotate(n=Count("id"), pids=ArrayAgg("patient_id", distinct=True))
    return {(r[key], r["grade"]): (r["n"], r["pids"]) for r in rows}


def _tz_name() -> str:
    return timezone.get_current_timezone_name()


class OnsetToRecordDays(Func):
    """Whole days from the onset date to the local date (time zone ``tz``) the event was recorded:
    ``(created_at AT TIME ZONE tz)::date - onset_date`` (an integer in PostgreSQL)."""

    output_field = IntegerField()

    def __init__(self, created: str, onset: str, tz: str) -> None:
        super().__init__(created, onset, tz=tz)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        created, created_params = compiler.compile(self.source_expressions[0])
        onset, onset_params = compiler.compile(self.source_expressions[1])
        return (f"(({created} AT TIME ZONE %s)::date - {onset})",
                (*created_params, self.extra["tz"], *onset_params))
