"""AET01 / AET02 / AET04: every cell checked against counts computed independently in SQL; numeric XLSX cells;
machine-readable CSV; the grading scale stated per row."""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.db import connection

from reports.aet import aet_csv_lines, aet_tables, aet_xlsx_bytes
from tests.conftest import make_cycle, make_event, make_patient

D = datetime.date

TE_SQL = """
WITH te AS (
    SELECT a.patient_id, a.grade, a.serious, a.outcome, a.action_taken, c.number AS cycle_number, t.soc,
           t.term AS term_name
    FROM ae_adverseevent a
    JOIN patients_patient p ON p.id = a.patient_id
    JOIN patients_treatmentcycle c ON c.id = a.cycle_id
    JOIN ae_ctcaeterm t ON t.id = a.term_id
    WHERE p.site_id = %(site)s AND NOT a.after_cycle_follow_up
      AND (NOT a.present_before_cycle
           OR a.onset_date > (SELECT min(start_date) FROM patients_treatmentcycle WHERE patient_id = a.patient_id)
           OR a.grade > a.grade_at_cycle_start)
      AND (%(cycle)s::int IS NULL OR c.number = %(cycle)s::int)
)
"""


def _sql(site, query: str, cycle: int | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(TE_SQL + query, {"site": site.pk, "cycle": cycle})
        return cursor.fetchall()


@pytest.fixture
def table_ward(ward):
    a, b, c, d = (make_patient(ward, f"T-{i}") for i in "ABCD")
    make_cycle(make_patient(ward, "T-E"))  # treated, no event: in every denominator
    a1, a2 = make_cycle(a, 1, D(2026, 1, 5)), make_cycle(a, 2, D(2026, 2, 9))
    make_event(a1, "Cytokine release syndrome", 2, grading_scale="astct_2019")
    make_event(a1, "Anemia", 3, onset_day=4, serious=True, sae_hospitalization=True)
    make_event(a2, "Cytokine release syndrome", 3, grading_scale="astct_2019")
    b1 = make_cycle(b, 1)
    make_event(b1, "Neutrophil count decreased", 4, action_taken="DRUG WITHDRAWN")
    make_event(b1, "Anemia", 1, onset_day=6)
    make_event(make_cycle(c, 1), "Cytokine release syndrome", 5)  # CTCAE v5.0 scale, fatal
    make_event(make_cycle(d, 1), "Anemia", 2, onset_day=-3, present_before_cycle=True)  # unchanged: not counted
    return ward


def _cells(site, table, scope="All cycles"):
    return {(c.soc, c.term, c.category): c for c in aet_tables(site) if c.table == table and c.scope == scope}


@pytest.mark.parametrize("scope, cycle", [("All cycles", None), ("Cycle 1", 1), ("Cycle 2", 2)])
def test_every_cell_matches_an_independent_sql_count(table_ward, scope, cycle):
    site = table_ward
    n_total = {None: 5, 1: 5, 2: 1}[cycle]
    aet01 = {k[2]: c for k, c in _cells(site, "AET01", scope).items()}
    expected01 = {
        "Patients with any adverse event": "TRUE",
        "Patients with a serious adverse event": "serious",
        "Patients with an adverse event of grade 3 or higher": "grade >= 3",
        "Patients with a fatal adverse event (grade 5 or outcome fatal)": "grade = 5 OR outcome = 'FATAL'",
        "Patients with an adverse event leading to discontinuation of blinatumomab": "action_taken = 'DRUG WITHDRAWN'",
    }
    for label, condition in expected01.items():
        (n,), = _sql(site, f"SELECT count(DISTINCT patient_id) FROM te WHERE {condition}", cycle)  # noqa: S608 - constant conditions
        assert (aet01[label].n, aet01[label].N) == (n, n_total), label
    aet02 = _cells(site, "AET02", scope)
    socs = dict(_sql(site, "SELECT soc, count(DISTINCT patient_id) FROM te GROUP BY soc", cycle))
    terms = {(s, t): n for s, t, n in _sql(
        site, "SELECT soc, term_name, count(DISTINCT patient_id) FROM te GROUP BY soc, term_name", cycle)}
    assert {k[0]: c.n for k, c in aet02.items() if k[0] and not k[1]} == socs
    assert {(k[0], k[1]): c.n for k, c in aet02.items() if k[1]} == terms
    worst = {(s, t, f"Grade {g}"): n for s, t, g, n in _sql(
        site, "SELECT soc, term_name, worst, count(*) FROM (SELECT patient_id, soc, term_name, max(grade) AS worst "
              "FROM te GROUP BY 1, 2, 3) w GROUP BY 1, 2, 3", cycle)}
    aet04 = _cells(site, "AET04", scope)
    assert {k: c.n for k, c in aet04.items() if c.n and k[2] != "Any grade"} == worst
    assert {(k[0], k[1]): c.n for k, c in aet04.items() if k[2] == "Any grade"} == terms


def test_hand_counted_cells_and_the_scale_of_each_row(table_ward):
    aet01 = {k[2]: c for k, c in _cells(table_ward, "AET01").items()}
    assert [(c.n, c.percent) for c in aet01.values()] == [(3, 60.0), (2, 40.0), (3, 60.0), (1, 20.0), (1, 20.0)]
    aet04 = _cells(table_ward, "AET04")
    crs = [("Immune system disorders", "Cytokine release syndrome", f"Grade {g}") for g in (3, 5)]
    assert [(aet04[k].n, aet04[k].scale_text) for k in crs] == [
        (1, "ASTCT 2019 consensus (CRS/ICANS)"), (1, "CTCAE v5.0")]
    any_crs = aet04[("Immune system disorders", "Cytokine release syndrome", "Any grade")]
    assert any_crs.scale_text == "ASTCT 2019 consensus (CRS/ICANS); CTCAE v5.0"
    assert aet04[("Blood and lymphatic system disorders", "Anemia", "Any grade")].scale_text == "CTCAE v5.0"


def test_csv_is_long_form_with_numbers(table_ward):
    rows = list(csv.DictReader(io.StringIO("".join(aet_csv_lines(table_ward)))))
    serious = next(r for r in rows if r["table"] == "AET01" and r["scope"] == "All cycles"
                   and r["category"] == "Patients with a serious adverse event")
    assert (serious["n"], serious["N"], serious["percent"], serious["grading_scale"]) == ("2", "5", "40.0",
                                                                                          "CTCAE v5.0")
    assert {r["table"] for r in rows} == {"AET01", "AET02", "AET04"}
    assert all(re.fullmatch(r"\d+", r["n"]) and re.fullmatch(r"\d+(\.\d)?", r["percent"]) for r in rows)


def _sheet(book: zipfile.ZipFile, number: int) -> list[list[object]]:
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    strings = [si.findtext("m:t", namespaces=ns) or "" for si in
               ET.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", ns)]  # noqa: S314 - our own file
    rows = []
    sheet = ET.fromstring(book.read(f"xl/worksheets/sheet{number}.xml"))  # noqa: S314 - our own file
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        values: list[object] = [None] * 8
        for cell in row.findall("m:c", ns):
            column = ord(cell.get("r", "A")[0]) - ord("A")  # columns A-H only
            v = cell.findtext("m:v", namespaces=ns)
            values[column] = strings[int(v)] if cell.get("t") == "s" else (float(v) if v is not None else None)
        rows.append(values)
    return rows


def test_xlsx_counts_and_percentages_are_separate_numeric_cells(table_ward, tmp_path):
    with zipfile.ZipFile(io.BytesIO(aet_xlsx_bytes(table_ward))) as book:
        aet01 = _sheet(book, 1)
    header = aet01[1]
    assert header[:8] == ["Scope", "N", "MedDRA SOC", "CTCAE term", "Category", "n", "%", "Grading scale"]
    first = aet01[2]
    assert first[0] == "All cycles" and first[1] == 5.0 and first[5] == 3.0 and first[6] == 60.0
    total_n = sum(r[5] for r in aet01[2:] if r[0] == "All cycles")
    assert total_n == 3 + 2 + 3 + 1 + 1  # a statistician can sum the n cells
    call_command("export_aet", "--site", "ward-a", "--format", "csv", "--output", str(tmp_path / "aet.csv"))
    assert (tmp_path / "aet.csv").read_text().startswith("table,scope,N,soc,term,category,n,percent")


def test_api_serves_the_tables_site_scoped(client, table_ward, nurse, outsider):
    client.force_login(nurse)
    response = client.get("/api/v1/sites/ward-a/tables/aet/")
    assert response.status_code == 200 and response.content.decode().startswith("table,scope,N,")
    xlsx = client.get("/api/v1/sites/ward-a/tables/aet/?file_format=xlsx")
    assert xlsx.status_code == 200 and zipfile.ZipFile(io.BytesIO(xlsx.content)).testzip() is None
    assert client.get("/api/v1/sites/ward-a/tables/aet/?file_format=pdf").status_code == 400
    client.force_login(outsider)
    assert client.get("/api/v1/sites/ward-a/tables/aet/").status_code == 404
