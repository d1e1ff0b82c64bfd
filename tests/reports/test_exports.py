"""The graded AE table (worst CTCAE grade per patient and term) and its CSV/XLSX exports."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections import defaultdict

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patients.models import Site
from reports.exports import ae_table_rows, neutralise, xlsx_bytes
from tests.conftest import make_cycle, make_event, make_patient

HEADER = ["Scope", "N patients", "MedDRA SOC", "CTCAE term", "MedDRA code",
          "Grade 1-2", "Grade 3", "Grade 4", "Grade 5", "Any grade", "Grading scale"]
CYCLE_2_START = datetime.date(2026, 2, 9)


def table(site) -> dict[tuple[str, str], tuple[int, int, tuple[int, int, int, int]]]:
    """{(scope, term): (N, any, (g1-2, g3, g4, g5))} of the site's AE table."""
    return {(r.scope, r.term): (r.n, r.any, r.counts) for r in ae_table_rows(site)}


@pytest.fixture
def ae_ward(ward):
    """Three patients; hand-counted expectations are in the tests below.

    A: cycles 1 and 2; Anemia grade 1 and grade 3 in cycle 1, Anemia grade 2 in cycle 2.
    B: cycles 1 and 2; Anemia grade 2 in cycle 1, Neutrophil count decreased grade 4 in cycle 2.
    C: cycle 1 only; Anemia grade 4 present before the cycle (not counted), Nausea grade 1.
    """
    a, b, c = (make_patient(ward, sid) for sid in ("A-001", "B-002", "C-003"))
    a1, b1, c1 = make_cycle(a), make_cycle(b), make_cycle(c)
    a2, b2 = make_cycle(a, 2, start=CYCLE_2_START), make_cycle(b, 2, start=CYCLE_2_START)
    make_event(a1, "Anemia", grade=1, onset_day=3)
    make_event(a1, "Anemia", grade=3, onset_day=10)
    make_event(a2, "Anemia", grade=2)
    make_event(b1, "Anemia", grade=2)
    make_event(b2, "Neutrophil count decreased", grade=4)
    make_event(c1, "Anemia", grade=4, onset_day=1, present_before_cycle=True)
    make_event(c1, "Nausea", grade=1)
    return ward


@pytest.mark.django_db
def test_each_patient_counts_once_per_term_at_the_worst_grade(ae_ward):
    rows = table(ae_ward)
    # All cycles, N = 3: Anemia A worst 3, B worst 2 (C's pre-existing grade 4 excluded).
    assert rows[("All cycles", "Anemia")] == (3, 2, (1, 1, 0, 0))
    assert rows[("All cycles", "Neutrophil count decreased")] == (3, 1, (0, 0, 1, 0))
    assert rows[("All cycles", "Nausea")] == (3, 1, (1, 0, 0, 0))
    assert len([k for k in rows if k[0] == "All cycles"]) == 3


@pytest.mark.django_db
def test_per_cycle_blocks_have_their_own_denominators(ae_ward):
    rows = table(ae_ward)
    # Cycle 1: all three patients; Anemia A worst 3 (grades 1 and 3), B 2.
    assert rows[("Cycle 1", "Anemia")] == (3, 2, (1, 1, 0, 0))
    assert rows[("Cycle 1", "Nausea")] == (3, 1, (1, 0, 0, 0))
    assert ("Cycle 1", "Neutrophil count decreased") not in rows
    # Cycle 2: only A and B received it (N = 2).
    assert rows[("Cycle 2", "Anemia")] == (2, 1, (1, 0, 0, 0))
    assert rows[("Cycle 2", "Neutrophil count decreased")] == (2, 1, (0, 0, 1, 0))
    assert ("Cycle 2", "Nausea") not in rows
    scopes = [r.scope for r in ae_table_rows(ae_ward)]
    assert scopes == sorted(scopes, key=["All cycles", "Cycle 1", "Cycle 2"].index)


@pytest.mark.django_db
def test_pre_existing_events_are_not_counted(ward):
    cycle = make_cycle(make_patient(ward))
    make_event(cycle, "Anemia", grade=3, onset_day=1, present_before_cycle=True)
    assert ae_table_rows(ward) == []


@pytest.mark.django_db
def test_rows_are_grouped_by_soc_then_by_frequency(ae_ward):
    all_rows = [r for r in ae_table_rows(ae_ward) if r.scope == "All cycles"]
    assert [(r.soc, r.term, r.meddra_code) for r in all_rows] == [
        ("Blood and lymphatic system disorders", "Anemia", 10002272),
        ("Gastrointestinal disorders", "Nausea", 10028813),
        ("Investigations", "Neutrophil count decreased", 10029366),
    ]


TERMS = {"Anemia": [1, 2, 3, 4, 5], "Nausea": [1, 2, 3], "Neutrophil count decreased": [1, 2, 3, 4],
         "Febrile neutropenia": [3, 4, 5]}
event_strategy = st.sampled_from(sorted(TERMS)).flatmap(lambda t: st.tuples(
    st.just(t), st.sampled_from(TERMS[t]), st.sampled_from([1, 2]), st.booleans(), st.integers(1, 10)))
patient_strategy = st.tuples(st.booleans(), st.lists(event_strategy, max_size=5))  # (has cycle 2, events)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patients=st.lists(patient_strategy, min_size=1, max_size=6))
def test_grade_columns_sum_to_any_and_match_a_hand_count(patients):
    """Random events: each row equals an independent per-patient worst-grade count, and its grade columns
    sum to the number of patients with the term (the Any column)."""
    with transaction.atomic():
        site = Site.objects.create(slug="prop-ward", name="Property ward")
        expected_n = {"All cycles": len(patients), "Cycle 1": len(patients),
                      "Cycle 2": sum(1 for has2, _ in patients if has2)}
        worst: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        for i, (has2, events) in enumerate(patients):
            patient = make_patient(site, f"H-{i:03d}")
            cycles = {1: make_cycle(patient)}
            if has2:
                cycles[2] = make_cycle(patient, 2, start=CYCLE_2_START)
            for term_name, grade, number, pre_existing, day in events:
                cycle = cycles.get(number, cycles[1])
                if grade == 5:  # a death is the last day of the record: the last cycle's last day drawn here
                    cycle, pre_existing, day = cycles[max(cycles)], False, 10
                make_event(cycle, term_name, grade=grade, onset_day=1 if pre_existing else day,
                           present_before_cycle=pre_existing,
                           outcome="FATAL" if grade == 5 else "NOT RECOVERED/NOT RESOLVED")
                # ADaM TRTEMFL (admiral): present before cycle 1 = before the first dose, not worsened: not counted;
                # present before cycle 2 but begun after the first dose: treatment-emergent, counted.
                if pre_existing and cycle.number == 1:
                    continue
                for scope in ("All cycles", f"Cycle {cycle.number}"):
                    seen = worst[(scope, term_name)]
                    seen[i] = max(seen.get(i, 0), grade)
        got = {(r.scope, r.term): r for r in ae_table_rows(site)}
        assert set(got) == set(worst)
        for key, per_patient in worst.items():
            columns = [0, 0, 0, 0]
            for grade in per_patient.values():
                columns[{1: 0, 2: 0, 3: 1, 4: 2, 5: 3}[grade]] += 1
            row = got[key]
            assert row.counts == tuple(columns), key
            assert sum(row.counts) == row.any == len(per_patient), key
            assert row.n == expected_n[key[0]], key
        transaction.set_rollback(True)


def _csv(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.django_db
def test_csv_export(client, ae_ward, officer):
    client.force_login(officer)
    response = client.get("/sites/ward-a/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="pvtrack-ae-table-ward-a.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == HEADER
    blank = rows.index([])
    data, notes = rows[1:blank], [r[0] for r in rows[blank + 1:]]
    by_key = {(r[0], r[3]): r for r in data}
    # Anemia over all cycles: grade 1-2 1 of 3, grade 3 1 of 3, any 2 of 3 (66.7%).
    assert by_key[("All cycles", "Anemia")] == [
        "All cycles", "3", "Blood and lymphatic system disorders", "Anemia", "10002272",
        "1 (33.3%)", "1 (33.3%)", "0", "0", "2 (66.7%)", "CTCAE v5.0"]
    # Cycle 2 has its own denominator of 2 patients.
    assert by_key[("Cycle 2", "Neutrophil count decreased")][1:] == [
        "2", "Investigations", "Neutrophil count decreased", "10029366", "0", "0", "1 (50.0%)", "0", "1 (50.0%)",
        "CTCAE v5.0"]
    assert len(data) == 3 + 2 + 2
    footnote = " ".join(notes)
    assert all(n.startswith("Note: ") for n in notes)
    assert "CTCAE v5.0" in footnote
    assert "counted once per term, at the worst grade" in footnote
    assert "present before the first dose and unchanged" in footnote  # ADaM TRTEMFL, admiral rule
    assert "Grades on the scale stated in each row" in footnote  # not a blanket "graded by CTCAE v5.0"


@pytest.mark.django_db
def test_each_row_states_its_grading_scale(ward):
    cycle = make_cycle(make_patient(ward, "S-001"))
    make_event(cycle, "Cytokine release syndrome", grade=2, grading_scale="astct_2019")
    make_event(make_cycle(make_patient(ward, "S-002")), "Cytokine release syndrome", grade=3)
    make_event(cycle, "Anemia", grade=1)
    rows = {(r.scope, r.term): r.scale_text for r in ae_table_rows(ward)}
    assert rows[("All cycles", "Cytokine release syndrome")] == "ASTCT 2019 consensus (CRS/ICANS); CTCAE v5.0"
    assert rows[("All cycles", "Anemia")] == "CTCAE v5.0"


@pytest.mark.django_db
def test_xlsx_export(client, ae_ward, nurse):
    client.force_login(nurse)
    response = client.get("/sites/ward-a/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as book:
        strings = workbook_text(book)
        workbook = book.read("xl/workbook.xml").decode("utf-8")
    for sheet in ("All cycles", "Cycle 1", "Cycle 2"):
        assert f'name="{sheet}"' in workbook
    assert "Anemia" in strings and "Blood and lymphatic system disorders" in strings
    assert "2 (66.7%)" in strings and "1 (50.0%)" in strings
    assert "NCI CTCAE v5.0" in strings
    assert "counted once per term, at the worst grade" in strings


@pytest.mark.django_db
def test_xlsx_export_of_an_empty_ward_is_a_valid_workbook(client, ward, nurse):
    client.force_login(nurse)
    response = client.get("/sites/ward-a/export.xlsx")
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as book:
        assert book.testzip() is None
        assert 'name="All cycles"' in book.read("xl/workbook.xml").decode()


@pytest.mark.parametrize("value", ["=1+2", "+SUM(A1:A9)", "-2+3", "@cmd", "\t=1", "\r=1", "=HYPERLINK(\"x\")"])
def test_neutralise_quotes_formula_like_text(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Anemia", "1 (33.3%)", "0", "Nervous system disorders - Other, specify", ""])
def test_neutralise_leaves_ordinary_text_alone(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [3, -3, 2.5, -0.5, None])
def test_neutralise_passes_numbers_through(value):
    assert neutralise(value) is value


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_outsider_gets_404_for_another_wards_export(client, ae_ward, outsider, fmt):
    client.force_login(outsider)
    assert client.get(f"/sites/ward-a/export.{fmt}").status_code == 404


@pytest.mark.django_db
def test_unknown_export_format_is_404(client, ward, nurse):
    client.force_login(nurse)
    assert client.get("/sites/ward-a/export.pdf").status_code == 404


@pytest.mark.django_db
def test_export_requires_login(client, ward):
    response = client.get("/sites/ward-a/export.csv")
    assert response.status_code == 302 and "/login/" in response["Location"]


def _export_queries(client, site, user, n_patients: int, fmt: str) -> int:
    for i in range(n_patients):
        cycle = make_cycle(make_patient(site, f"X-{i:03d}"))
        make_event(cycle, "Anemia", grade=1 + i % 5, outcome="FATAL" if i % 5 == 4 else "NOT RECOVERED/NOT RESOLVED")
        make_event(cycle, "Nausea", grade=1 + i % 3)
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/sites/{site.slug}/export.{fmt}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200 and body
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_query_count_does_not_grow_with_patients(client, ward, other_ward, nurse, outsider, fmt):
    small = _export_queries(client, ward, nurse, 2, fmt)
    large = _export_queries(client, other_ward, outsider, 10, fmt)
    assert small == large
    assert large <= 13  # 12, and one for the "Network and trends" sheet's latest runs of every ward (issue 17)


@pytest.mark.django_db
def test_the_xlsx_export_carries_the_plots_of_flagged_comparisons(ward):
    from reports.runs import benchmark_run_now

    for i in range(8):  # every patient with grade 3 CRS: flagged against the published cohorts
        make_event(make_cycle(make_patient(ward, f"X-{i:02d}")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    flagged = [c for c in run.results["cells"] if c["flag"] and c["pooled"]]
    assert flagged
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ward))) as book:
        images = [n for n in book.namelist() if n.startswith("xl/media/") and n.endswith(".png")]
        workbook = book.read("xl/workbook.xml").decode()
    assert "Benchmark plots" in workbook
    assert len(images) == 2 * len(flagged)  # a forest and a funnel plot per flagged cell


@pytest.mark.django_db
def test_the_xlsx_shows_the_run_time_in_the_sites_time_zone(ward):
    """Issue 15 item 4: the XLSX said UTC while the pages show the site's time."""
    import zoneinfo

    from reports.runs import benchmark_run_now

    ward.time_zone = "Asia/Shanghai"
    ward.save()
    make_event(make_cycle(make_patient(ward, "X-00")), "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    local = run.finished_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ward))) as book:
        text = workbook_text(book)
    assert f"finished {local:%Y-%m-%d %H:%M} CST (Asia/Shanghai)" in text


def workbook_text(book) -> str:
    """The text of every cell of an XLSX zip (shared strings, or inline strings as constant_memory writes them)."""
    return "".join(book.read(name).decode("utf-8") for name in book.namelist()
                   if name == "xl/sharedStrings.xml" or name.startswith("xl/worksheets/sheet"))


@pytest.mark.django_db
def test_the_exports_stream_and_write_xlsx_in_constant_memory(client, ae_ward, nurse, monkeypatch):
    """Issue 12: CSV streamed, the worst-grade rows read through a server-side cursor a chunk at a time, XLSX in
    xlsxwriter's constant_memory mode sent from a temporary file."""
    import xlsxwriter

    from reports import exports

    options = []
    real = xlsxwriter.Workbook
    monkeypatch.setattr(exports.xlsxwriter, "Workbook", lambda target, opts: options.append(opts) or real(target, opts))
    chunks = []
    from django.db.models.query import QuerySet
    original = QuerySet.iterator
    monkeypatch.setattr(QuerySet, "iterator", lambda self, chunk_size=None: chunks.append(chunk_size)
                        or original(self, chunk_size=chunk_size))
    client.force_login(nurse)
    csv_response = client.get("/sites/ward-a/export.csv")
    assert csv_response.streaming and b"Anemia" in csv_response.getvalue()
    assert chunks and set(chunks) == {exports.CHUNK_ROWS}
    xlsx_response = client.get("/sites/ward-a/export.xlsx")
    assert xlsx_response.streaming and options and options[0]["constant_memory"] is True
    with zipfile.ZipFile(io.BytesIO(xlsx_response.getvalue())) as book:
        assert "Anemia" in workbook_text(book)
