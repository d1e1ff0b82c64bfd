"""The curated published-cohort fixtures: integrity checks, provenance, and the loader's refusal of bad files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reports import cohort_data
from reports.models import Cohort, CohortFigure
from reports.reference_data import FixtureError, cohorts_load

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
COHORT_FILES = sorted((FIXTURES / "cohorts").glob("*.yaml"))
SOURCES = FIXTURES / "sources"

PRIMARY_SEEDS = {
    "pawinska2022_krakow": "000_b729290c12dac925.txt",
    "xie2023_suzhou": "001_303e15cd43562966.txt",
    "beneduce2022_aieop": "003_5db53e5870f8c09d.txt",
    "wu2022_beijing": "004_7bca12d6b7e592e6.txt",
}
CITED = ("vonstackelberg2016_phase12", "brown2021_aall1331", "locatelli2021_intreall", "tuebingen2021")

_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " "})


def fold(text: str) -> str:
    """Independent of reports.cohort_data: whitespace runs to one space, lower case, ASCII quotes/dashes."""
    return " ".join(text.translate(_TYPOGRAPHIC).split()).lower()


def records() -> list[tuple[str, dict]]:
    return [(p.name, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in COHORT_FILES]


def broken_copy(tmp_path: Path, mutate, name: str = "clesham2020_infants.yaml") -> Path:
    """Write a copy of a committed cohort file after ``mutate(record)``; returns its path."""
    record = yaml.safe_load((FIXTURES / "cohorts" / name).read_text(encoding="utf-8"))
    mutate(record)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(record, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def first_patient_figure(record: dict) -> dict:
    return next(f for f in record["figures"] if f["numerator"] is not None and f["denominator"] is not None)


def test_committed_fixtures_have_no_problems():
    """The shipped cohort files pass every integrity check (schema, quotes, counts, percentages)."""
    assert COHORT_FILES, "no cohort fixtures found"
    problems = cohort_data.check_all()
    assert problems == [], "\n".join(map(str, problems))


def test_every_figure_has_provenance_whose_quote_is_in_its_source():
    """Each figure names a seed file, a location and a quote that occurs (whitespace/case folded) in that seed."""
    sources: dict[str, str] = {}
    checked = 0
    for name, record in records():
        for fig in record["figures"]:
            prov = fig["provenance"]
            assert prov["seed"] and prov["location"].strip() and prov["quote"].strip(), (name, fig["reported_term"])
            path = SOURCES / prov["seed"]
            assert path.is_file(), f"{name}: unknown seed {prov['seed']}"
            if prov["seed"] not in sources:
                sources[prov["seed"]] = fold(path.read_text(encoding="utf-8"))
            assert fold(prov["quote"]) in sources[prov["seed"]], f"{name}: quote not in source: {prov['quote']!r}"
            checked += 1
    assert checked > 50


def test_numerators_never_exceed_denominators_in_files_and_database():
    for name, record in records():
        for fig in record["figures"]:
            if fig["numerator"] is not None and fig["denominator"] is not None:
                assert fig["numerator"] <= fig["denominator"], (name, fig["reported_term"], fig["grade_band"])


@pytest.mark.django_db
def test_loaded_figures_mirror_the_files():
    """Every figure of every file is in the database with its counts and provenance."""
    for _, record in records():
        cohort = Cohort.objects.get(slug=record["slug"])
        assert cohort.figures.count() == len(record["figures"])
        for fig in record["figures"]:
            assert cohort.figures.filter(
                category=fig["category"], grade_band=fig["grade_band"], numerator=fig["numerator"],
                denominator=fig["denominator"], seed=fig["provenance"]["seed"],
                quote=fig["provenance"]["quote"]).exists(), (record["slug"], fig["reported_term"])
    bad = [f for f in CohortFigure.objects.exclude(numerator=None).exclude(denominator=None)
           if f.numerator > f.denominator]
    assert bad == []


def test_a_quote_missing_from_the_source_is_reported(tmp_path):
    def mutate(record):
        first_patient_figure(record)["provenance"]["quote"] = "CRS occurred in 97 of 11 infants"

    problems = cohort_data.check_all([broken_copy(tmp_path, mutate)])
    messages = [str(p) for p in problems]
    assert any("quote not found" in m and "CRS occurred in 97 of 11 infants" in m for m in messages), messages
    assert all(p.file == "clesham2020_infants.yaml" for p in problems)


def test_a_numerator_above_its_denominator_is_reported(tmp_path):
    def mutate(record):
        fig = first_patient_figure(record)
        fig["numerator"] = fig["denominator"] + 1
        fig["percent_printed"] = None

    record = yaml.safe_load((FIXTURES / "cohorts" / "clesham2020_infants.yaml").read_text(encoding="utf-8"))
    den = first_patient_figure(record)["denominator"]
    problems = cohort_data.check_all([broken_copy(tmp_path, mutate)])
    assert any(f"numerator {den + 1} > denominator {den}" in p.message for p in problems), problems


def test_a_wrong_printed_percent_is_reported_unless_explained(tmp_path):
    # contreras2020 prints CRS as 6/18 (33%); 6/18 = 33.3%, so 45% can be neither rounding nor truncation.
    def wrong(record):
        fig = next(f for f in record["figures"] if f["numerator"] == 6 and f["denominator"] == 18)
        fig["percent_printed"] = 45.0
        fig.pop("percent_mismatch_why", None)

    problems = cohort_data.check_all([broken_copy(tmp_path, wrong, "contreras2020.yaml")])
    assert any("printed 45.0%" in p.message and "6/18" in p.message for p in problems), problems

    def explained(record):
        wrong(record)
        next(f for f in record["figures"] if f["numerator"] == 6 and f["denominator"] == 18)[
            "percent_mismatch_why"] = "typesetting slip, see conflicts"

    assert cohort_data.check_all([broken_copy(tmp_path, explained, "contreras2020.yaml")]) == []


def test_a_schema_violation_is_reported(tmp_path):
    def mutate(record):
        first_patient_figure(record)["unit"] = "children"

    problems = cohort_data.check_all([broken_copy(tmp_path, mutate)])
    assert problems and "children" in problems[0].message


@pytest.mark.parametrize(("num", "den", "printed", "ok"), [
    (1, 3, 33.3, True),    # 33.33 rounded to one decimal
    (2, 3, 66.7, True),    # 66.67 rounded
    (2, 3, 66.6, True),    # 66.67 truncated
    (2, 3, 66.5, False),   # neither
    (2, 3, 67, True),      # integer, rounded
    (2, 3, 66, True),      # integer, truncated
    (2, 3, 65, False),
    (1, 8, 13, True),      # 12.5 rounds half up to 13 (|12.5 - 13| = 0.5)
    (1, 8, 12, True),      # 12.5 truncated
    (1, 8, 14, False),
    (0, 23, 0.0, True),
    (4, 70, 6.0, True),    # 5.71 rounds to 6 (a value printed as "6.0" in YAML is still an integer percent)
    (4, 70, 5.8, False),   # 5.71 is 5.7 at one decimal
])
def test_percent_rule_accepts_rounding_and_truncation_only(num, den, printed, ok):
    assert cohort_data.percent_matches(num, den, printed) is ok


@pytest.mark.django_db
def test_cohorts_load_refuses_broken_files_and_writes_nothing(tmp_path):
    before = (Cohort.objects.count(), CohortFigure.objects.count())
    clesham = Cohort.objects.get(slug="clesham2020_infants")
    old_record, old_figures = clesham.record, list(clesham.figures.values_list("id", flat=True))

    def mutate(record):
        record["short_name"] = "CHANGED"
        fig = first_patient_figure(record)
        fig["numerator"] = fig["denominator"] + 5

    others = [p for p in COHORT_FILES if p.name != "clesham2020_infants.yaml"]
    with pytest.raises(FixtureError, match="numerator .* > denominator"):
        cohorts_load(others + [broken_copy(tmp_path, mutate)])
    assert (Cohort.objects.count(), CohortFigure.objects.count()) == before
    clesham.refresh_from_db()
    assert clesham.record == old_record and clesham.short_name != "CHANGED"
    assert list(clesham.figures.values_list("id", flat=True)) == old_figures


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "seed"), sorted(PRIMARY_SEEDS.items()))
def test_each_primary_seed_has_its_cohort(slug, seed):
    cohort = Cohort.objects.get(slug=slug)
    assert cohort.primary_seed == seed
    assert (SOURCES / seed).is_file()
    assert cohort.n_patients and cohort.record["n_patients_provenance"]["seed"] == seed
    assert cohort.figures.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", CITED)
def test_cohorts_cited_by_the_seeds_are_curated(slug):
    cohort = Cohort.objects.get(slug=slug)
    assert cohort.primary_seed == ""
    assert cohort.figures.exclude(category="other").exists()


@pytest.mark.django_db
def test_cohorts_in_database_match_the_files():
    assert sorted(Cohort.objects.values_list("slug", flat=True)) == sorted(r["slug"] for _, r in records())


def test_every_conflict_says_what_was_chosen_and_why():
    n = 0
    for name, record in records():
        for conflict in record["conflicts"]:
            assert conflict["chosen"].strip() and conflict["why"].strip(), (name, conflict.get("what"))
            assert re.search(r"\w", conflict["what"]) and conflict["sources"], (name, conflict["what"])
            n += 1
    assert n >= 4
