"""reports.trend_inputs.collect_monitoring: the ward's events aggregated in the database (issue 12) give exactly
what counting them one by one gives, in a number of queries that does not grow with the ward."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from ae.models import AdverseEvent
from reports.benchmark import GRADE_BANDS
from reports.models import BenchmarkCategory
from reports.trend_inputs import collect_monitoring
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


def _by_hand(site) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per category|band: the number of treatment-emergent events and the study IDs with one, counted per event."""
    events = [e for e in AdverseEvent.objects.filter(patient__site=site).select_related("patient")
              if e.grade is not None and not (e.present_before_cycle and e.grade <= (e.grade_at_cycle_start or 0))]
    counts, patients = {}, {}
    for cat in BenchmarkCategory.objects.prefetch_related("terms"):
        term_ids = {t.id for t in cat.terms.all()}
        for band in cat.grade_bands:
            hits = [e for e in events if e.grade >= GRADE_BANDS[band]
                    and (e.action_taken in cat.ae_actions if cat.ae_actions else e.term_id in term_ids)]
            counts[f"{cat.slug}|{band}"] = len(hits)
            patients[f"{cat.slug}|{band}"] = {e.patient.study_id for e in hits}
    return counts, patients


def _ward(ward, patients: int) -> None:
    terms = ["Cytokine release syndrome", "Encephalopathy", "Seizure", "Anemia", "Fever"]
    for i in range(patients):
        cycle = make_cycle(make_patient(ward, f"KRK-{i:03d}"), start=datetime.date(2026, 1, 5) + datetime.timedelta(i))
        for j, name in enumerate(terms[: 1 + i % len(terms)]):
            make_event(cycle, term_name=name, grade=1 + (i + j) % 3, onset_day=2 + j,
                       action_taken="DRUG INTERRUPTED" if (i + j) % 4 == 0 else "DOSE NOT CHANGED")
        make_event(cycle, term_name="Anemia", grade=2, onset_day=1, present_before_cycle=True)


def test_aggregated_counts_equal_counting_each_event(ward):
    _ward(ward, 7)
    monitoring = collect_monitoring(ward)
    counts, patients = _by_hand(ward)
    assert monitoring["events"] == counts
    assert sum(counts.values()) > 0 and any(BenchmarkCategory.objects.exclude(ae_actions=[]).values_list("id"))
    order = [p["id"] for p in monitoring["patients"]]
    study = dict(ward.patients.values_list("id", "study_id"))
    for key, positions in monitoring["outcomes"].items():
        assert positions == sorted(positions)
        assert {study[order[i]] for i in positions} == patients[key], key


def test_queries_do_not_grow_with_the_ward(ward, django_assert_num_queries):
    _ward(ward, 2)
    with django_assert_num_queries(8):
        collect_monitoring(ward)
    for i in range(6):
        make_event(make_cycle(make_patient(ward, f"WAW-{i:03d}")), grade=3)
    with django_assert_num_queries(8):
        collect_monitoring(ward)


def test_entry_lag_is_counted_in_local_days_and_never_negative(ward, settings):
    """Recorded 23:30 UTC on 13 Jan = 00:30 on 14 Jan in Warsaw: 9 days after a 5 Jan onset, not 8; an event
    recorded before its onset date (an onset typed ahead) counts 0."""
    settings.TIME_ZONE = "Europe/Warsaw"
    cycle = make_cycle(make_patient(ward))
    late = make_event(cycle, onset_day=1)  # onset 5 Jan 2026
    early = make_event(cycle, term_name="Fever", grade=1, onset_day=10)  # onset 14 Jan 2026
    utc = zoneinfo.ZoneInfo("UTC")
    AdverseEvent.objects.filter(pk=late.pk).update(created_at=datetime.datetime(2026, 1, 13, 23, 30, tzinfo=utc))
    AdverseEvent.objects.filter(pk=early.pk).update(created_at=datetime.datetime(2026, 1, 12, 9, 0, tzinfo=utc))
    with timezone.override("Europe/Warsaw"):
        lags = collect_monitoring(ward)["lags"]
    assert lags == [0, 9]
