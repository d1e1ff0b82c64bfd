"""A ward's benchmark counts read only the site-scope indexes (index-only scans), so their cost follows the
ward's rows, not the registry's (docs/operations.md §7)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports import benchmark
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


def test_the_wards_benchmark_count_is_answered_from_the_site_scope_indexes(ward, other_ward, nurse):
    for site, prefix in ((ward, "A"), (other_ward, "B")):
        for i in range(6):
            make_event(make_cycle(make_patient(site, f"{prefix}-{i:02d}")), "Cytokine release syndrome", grade=3,
                       user=nurse)
    with CaptureQueriesContext(connection) as captured:
        benchmark.collect_inputs(ward)
    sql = next(q["sql"] for q in captured.captured_queries if 'FROM "ae_adverseevent"' in q["sql"])
    with connection.cursor() as cursor:
        # A tiny test table is cheapest to scan whole; forbid that to see which index the query can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using ae_site_scope_idx on ae_adverseevent" in plan, plan
    assert "Index Only Scan using cycle_site_scope_idx on patients_treatmentcycle" in plan, plan
