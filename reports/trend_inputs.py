"""Gathering a ward's data for :mod:`reports.trends` (the run's inputs["monitoring"]), in a fixed number of queries."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F, Min, Sum
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
    "lags": [days from onset to recording, per treatment-emergent event], "demo": bool}. Outcomes are all-cause
    and count every term of the category (docs/network-and-trends.md)."""
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
    events = list(treatment_emergent_events(site).values("patient_id", "term_id", "grade", "action_taken",
                                                         "onset_date", "created_at"))
    outcomes: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for cat in BenchmarkCategory.objects.prefetch_related("terms"):
        term_ids = {t.id for t in cat.terms.all()}
        for band in cat.grade_bands:
            key = f"{cat.slug}|{band}"
            hits = [e for e in events if e["grade"] is not None and e["grade"] >= GRADE_BANDS[band]
                    and (e["action_taken"] in cat.ae_actions if cat.ae_actions else e["term_id"] in term_ids)]
            counts[key] = len(hits)
            outcomes[key] = sorted({position[e["patient_id"]] for e in hits if e["patient_id"] in position})
    lags = [max(0, (timezone.localdate(e["created_at"]) - e["onset_date"]).days) for e in events]
    for p in patients:
        p["infusion_days"] = round(p["infusion_days"], 3)
    return {"patients": patients, "outcomes": outcomes, "events": counts, "lags": lags,
            "demo": bool(site.demo_of_cohort)}
