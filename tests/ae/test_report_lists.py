"""The report's serious-event and data-quality lists (issue 12): what they hold, and that each is read from its
partial index through the ward's patients rather than by scanning every adverse event of the registry."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from ae.models import AdverseEvent
from ae.selectors import grade_discrepancies_open, serious_events
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


def _serious(cycle, day: int, **kw):
    return make_event(cycle, "Tremor", grade=3, onset_day=day, serious=True, sae_hospitalization=True, **kw)


def test_serious_events_are_the_wards_latest_newest_first_with_their_rows(ward, other_ward,
                                                                          django_assert_num_queries):
    a, b = make_cycle(make_patient(ward, "S-001")), make_cycle(make_patient(ward, "S-002"))
    events = [_serious(a, 1), _serious(b, 3), _serious(a, 3), _serious(b, 2)]
    make_event(a, "Nausea", grade=1, onset_day=5)  # not serious
    _serious(make_cycle(make_patient(other_ward, "W-001")), 9)  # another ward's
    with django_assert_num_queries(1):
        rows = [(e.pk, e.patient.study_id, e.cycle.number, e.term.term) for e in serious_events(site=ward, limit=3)]
    newest = sorted(events, key=lambda e: (e.onset_date, e.pk), reverse=True)[:3]
    assert rows == [(e.pk, e.patient.study_id, 1, "Tremor") for e in newest]


def test_open_discrepancies_are_the_wards_unresolved_differences_oldest_first(ward, other_ward):
    cycle = make_cycle(make_patient(ward, "D-001"))
    late = make_event(cycle, "Hypoxia", grade=2, onset_day=4, computed_grade=3, grade_discrepancy_reason="bedside")
    early = make_event(cycle, "Hypoxia", grade=3, onset_day=2, computed_grade=2, grade_discrepancy_reason="chart")
    make_event(cycle, "Hypoxia", grade=2, onset_day=3, computed_grade=2)  # agrees
    make_event(cycle, "Nausea", grade=1, onset_day=3)  # no computed grade
    make_event(make_cycle(make_patient(other_ward, "W-001")), "Hypoxia", grade=2, computed_grade=3,
               grade_discrepancy_reason="bedside")
    assert list(grade_discrepancies_open(site=ward)) == [early, late]


def _registry_of_ordinary_events(*sites, patients: int = 10, events_each: int = 100) -> list:
    """``patients`` patients per site with ``events_each`` grade 1 Nausea events each (neither serious nor
    discrepant), inserted in bulk, and fresh planner statistics: enough rows that reading a list by scanning the
    registry costs visibly more than reading its partial index. Returns the patients' first cycles."""
    cycles = [make_cycle(make_patient(site, f"B-{site.pk}-{i:03d}")) for site in sites for i in range(patients)]
    fields = [f.attname for f in AdverseEvent._meta.concrete_fields if f.attname != "id"]
    rows = []
    for cycle in cycles:
        model = make_event(cycle, "Nausea", grade=1, onset_day=3)
        rows += [AdverseEvent(**{name: getattr(model, name) for name in fields}) for _ in range(events_each - 1)]
    AdverseEvent.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ae_adverseevent, patients_patient, patients_treatmentcycle")
    return cycles


def test_both_lists_read_their_partial_index(ward, other_ward):
    # The planner left to itself (no enable_* settings): with 2,000 ordinary events in two wards and statistics
    # gathered, each list is read from its partial index, which holds only the one serious / discrepant event.
    cycles = _registry_of_ordinary_events(ward, other_ward)
    _serious(cycles[0], 1)
    make_event(cycles[0], "Hypoxia", grade=2, onset_day=4, computed_grade=3, grade_discrepancy_reason="bedside")
    assert "ae_serious_recent_idx" in serious_events(site=ward).explain()
    assert "ae_discrepancy_open_idx" in grade_discrepancies_open(site=ward)[:51].explain()


def test_the_reports_serious_list_renders_from_its_one_query_without_the_heavy_columns(ward):
    cycle = make_cycle(make_patient(ward, "S-001"))
    _serious(cycle, 1)
    make_event(cycle, "Sepsis", grade=5, onset_day=2, serious=True, sae_death=True, outcome="FATAL")
    events = serious_events(site=ward)
    with CaptureQueriesContext(connection) as queries:
        html = render_to_string("reports/_serious.html", {"serious_events": events})
    assert len(queries) == 1  # every column the list shows was loaded by it
    assert 'class="death"' in html and "Sepsis grade 5" in html and "Tremor grade 3" in html
    assert "requires or prolongs hospitalisation" in html and "Not recovered/not resolved" in html and "S-001" in html
    sql = queries.captured_queries[0]["sql"]
    assert "computed_rationale" not in sql and '"ae_ctcaeterm"."definition"' not in sql
