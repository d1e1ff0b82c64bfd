"""A ward's benchmark counts can be answered by index-only scans of the site-scope indexes, so their cost follows
the ward's rows, not the registry's (docs/operations.md §7 shows the plans at 200,000 AEs)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports import benchmark
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


def _index_columns(index: str) -> set[str]:
    """Key and INCLUDE columns of an index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                       "WHERE c.relname = %s", [index])
        return {row[0] for row in cursor.fetchall()}


def _columns_read(sql: str, table: str) -> set[str]:
    return set(re.findall(rf'"{table}"\."(\w+)"', sql))


def test_the_site_scope_indexes_hold_every_column_a_wards_benchmark_count_reads(ward, nurse):
    make_event(make_cycle(make_patient(ward, "A-01")), "Cytokine release syndrome", grade=3, user=nurse)
    with CaptureQueriesContext(connection) as captured:
        benchmark.collect_inputs(ward)
    sql = next(q["sql"] for q in captured.captured_queries if 'FROM "ae_adverseevent"' in q["sql"])
    ae_read = _columns_read(sql, "ae_adverseevent")
    assert {"patient_id", "term_id", "grade", "onset_date"} <= ae_read  # the parse found the query's columns
    assert ae_read <= _index_columns("ae_site_scope_idx"), ae_read - _index_columns("ae_site_scope_idx")
    cycle_read = _columns_read(sql, "patients_treatmentcycle")
    assert "number" in cycle_read
    assert cycle_read <= _index_columns("cycle_site_scope_idx"), cycle_read - _index_columns("cycle_site_scope_idx")


def test_with_the_table_scan_ruled_out_the_planner_reads_the_ae_index_only(ward, nurse):
    for i in range(6):
        make_event(make_cycle(make_patient(ward, f"A-{i:02d}")), "Cytokine release syndrome", grade=3, user=nurse)
    with CaptureQueriesContext(connection) as captured:
        benchmark.collect_inputs(ward)
    sql = next(q["sql"] for q in captured.captured_queries if 'FROM "ae_adverseevent"' in q["sql"])
    with connection.cursor() as cursor:
        # The planner's statistics describe this test's rows, not whatever earlier tests of the run left behind
        # (ANALYZE and DROP INDEX are transactional here and rolled back with the test).
        cursor.execute("ANALYZE ae_adverseevent, patients_patient, patients_treatmentcycle")
        # A tiny test table is cheapest to scan whole: forbid that (sequential and bitmap scans), and take away the
        # narrower indexes (patient, cycle, term...), to see that the covering index answers the query without the
        # table. Not `enable_indexscan = off`: it disables index-only scans too, and PostgreSQL 18 (the embedded
        # server of a fresh machine) ranks plans by their number of disabled nodes first, so it then read the table.
        cursor.execute("""SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                          JOIN pg_class t ON t.oid = x.indrelid
                          WHERE t.relname = 'ae_adverseevent' AND i.relname <> 'ae_site_scope_idx'
                          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using ae_site_scope_idx on ae_adverseevent" in plan, plan
