"""Management commands: cohorts, benchmark, export_ae_table, load_reference_data, load_demo_ward."""

from __future__ import annotations

import csv
import json
import zipfile
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from ae.models import CTCAEGrade, CTCAESynonym, CTCAETerm
from ae.synonyms import SYNONYMS_CSV
from reports import benchmark
from reports.models import BenchmarkCategory, BenchmarkRun, Cohort, CohortFigure
from tests.conftest import make_cycle, make_event, make_patient

COHORT_FILES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "cohorts").glob("*.yaml"))
with SYNONYMS_CSV.open(encoding="utf-8", newline="") as _fh:
    SYNONYM_ROWS = sum(1 for _ in csv.DictReader(_fh))


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def crs_ward(ward):
    """Ward A: 6 patients, 2 with CRS (one grade 3), one with anemia."""
    cycles = [make_cycle(make_patient(ward, f"K-{i:03d}")) for i in range(6)]
    make_event(cycles[0], grade=2)
    make_event(cycles[1], grade=3)
    make_event(cycles[2], "Anemia", grade=2)
    return ward


@pytest.mark.django_db
def test_cohorts_lists_every_cohort_with_quoted_provenance():
    text = run("cohorts")
    for path in COHORT_FILES:
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert f"{record['slug']}:" in text
    # A figure line carries its counts, seed, location and exact quote (Xie 2023, Table 3).
    assert "14/33" in text
    assert '"Thrombocytopenia 14 (42.4) 10 (30.3)"' in text
    assert "001_303e15cd43562966.txt" in text


@pytest.mark.django_db
def test_cohorts_json_is_the_curated_records():
    records = json.loads(run("cohorts", "--json"))
    assert isinstance(records, list)
    assert sorted(r["slug"] for r in records) == sorted(
        yaml.safe_load(p.read_text(encoding="utf-8"))["slug"] for p in COHORT_FILES)
    xie = next(r for r in records if r["slug"] == "xie2023_suzhou")
    assert xie["n_patients"] == 33
    assert len(xie["figures"]) == CohortFigure.objects.filter(cohort__slug="xie2023_suzhou").count()
    assert all({"numerator", "denominator", "provenance"} <= set(f) for r in records for f in r["figures"])


@pytest.mark.django_db
def test_benchmark_prints_the_table_and_flags(crs_ward):
    text = run("benchmark", "--site", "ward-a")
    assert "Ward: 6 patients treated, 6 with a cycle 1." in text
    assert "Cytokine release syndrome" in text
    # Ward CRS any grade: 2 of 6 = 33.3%.
    assert "2/6 33.3%" in text
    assert "Flags:" in text
    assert BenchmarkRun.objects.filter(site=crs_ward, status="done").count() == 1


@pytest.mark.django_db
def test_benchmark_json_has_inputs_and_results_that_recompute(crs_ward):
    data = json.loads(run("benchmark", "--site", "ward-a", "--json"))
    assert data["site"] == "ward-a"
    assert data["inputs"]["ward"]["crs|any|all"] == 2 and data["inputs"]["ward"]["crs|ge3|all"] == 1
    assert data["inputs"]["denominators"] == {"all": 6, "first": 6}
    assert data["results"]["method_version"] == data["method_version"] == benchmark.METHOD_VERSION
    assert benchmark.compute(data["inputs"]) == data["results"]
    assert BenchmarkRun.objects.get(pk=data["run"]).results == data["results"]


@pytest.mark.django_db
def test_benchmark_of_a_ward_without_patients(ward):
    text = run("benchmark", "--site", "ward-a")
    assert "Ward: 0 patients treated" in text and "0/0" in text
    assert "Flags: 0" in text


@pytest.mark.django_db
def test_benchmark_of_an_unknown_site_is_a_command_error():
    runs = BenchmarkRun.objects.count()
    with pytest.raises(CommandError, match="unknown site 'nope'"):
        run("benchmark", "--site", "nope")
    assert BenchmarkRun.objects.count() == runs


@pytest.mark.django_db
def test_export_ae_table_writes_csv(crs_ward, tmp_path):
    output = tmp_path / "table.csv"
    text = run("export_ae_table", "--site", "ward-a", "--format", "csv", "--output", str(output))
    assert str(output) in text
    with output.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["Scope", "N patients", "MedDRA SOC", "CTCAE term"]
    crs = next(r for r in rows if r[:1] == ["All cycles"] and r[3] == "Cytokine release syndrome")
    # CRS: one patient at grade 2, one at grade 3, of 6.
    assert crs[5:] == ["1 (16.7%)", "1 (16.7%)", "0", "0", "2 (33.3%)", "CTCAE v5.0"]
    assert any("CTCAE v5.0" in r[0] for r in rows if r)


@pytest.mark.django_db
def test_export_ae_table_writes_xlsx(crs_ward, tmp_path):
    output = tmp_path / "table.xlsx"
    run("export_ae_table", "--site", "ward-a", "--format", "xlsx", "--output", str(output))
    with zipfile.ZipFile(output) as book:
        strings = workbook_text(book)
    assert "Cytokine release syndrome" in strings and "2 (33.3%)" in strings


@pytest.mark.django_db
def test_export_ae_table_of_an_unknown_site_writes_nothing(tmp_path):
    output = tmp_path / "table.csv"
    with pytest.raises(CommandError, match="unknown site"):
        run("export_ae_table", "--site", "nope", "--format", "csv", "--output", str(output))
    assert not output.exists()


@pytest.mark.django_db
def test_load_reference_data_is_idempotent():
    """The test database was loaded once at session start; loading again changes nothing."""
    def snapshot():
        return (CTCAETerm.objects.count(), CTCAEGrade.objects.count(),
                sorted(CTCAESynonym.objects.values_list("pk", "synonym", "term_id", "note")),
                sorted(Cohort.objects.values_list("slug", "record")), CohortFigure.objects.count(),
                sorted(BenchmarkCategory.objects.values_list("slug", "terms__term")))

    before = snapshot()
    assert before[0] == 837 and len(before[3]) == len(COHORT_FILES)
    assert len(before[2]) == SYNONYM_ROWS
    text = run("load_reference_data")
    # 837 terms in the NCI workbook, the rows of fixtures/ctcae/synonyms.csv, 7 categories in
    # fixtures/benchmark_categories.yaml.
    expected = (f"Loaded 837 CTCAE v5.0 terms, {SYNONYM_ROWS} synonym mappings, 10 benchmark categories, "
                f"{len(COHORT_FILES)} published cohorts, 0 new reference safety information entries.")
    assert text.strip() == expected
    assert snapshot() == before


@pytest.mark.django_db
def test_load_demo_ward_command(tmp_path):
    text = run("load_demo_ward", "--cohort", "pawinska2022_krakow", "--site", "demo-krakow")
    assert "13 patients rebuilt from pawinska2022_krakow" in text
    assert "safety / safety-demo-2026" in text
    with pytest.raises(CommandError, match="unknown cohort"):
        run("load_demo_ward", "--cohort", "nope")


def workbook_text(book) -> str:
    """The text of every cell of an XLSX zip (shared strings, or inline strings as constant_memory writes them)."""
    return "".join(book.read(name).decode("utf-8") for name in book.namelist()
                   if name == "xl/sharedStrings.xml" or name.startswith("xl/worksheets/sheet"))
