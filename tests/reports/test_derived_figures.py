"""Issue 17 item 9: every figure the sources support is used; derived figures say so, with their rule and quotes.

The expected list is the issue's own (checked against the articles in fixtures/sources/): grade-specific figures summed
into >= 3, implied zeros, printed figures not recorded before. docs/methods.md §4.4 gives the rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reports import benchmark, cohort_data
from reports.models import CohortFigure
from tests.reports.test_cohort_fixtures import broken_copy, fold

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

#: (cohort, category, band, x, n): the issue's list.
EXPECTED = [
    ("pawinska2022_krakow", "crs", "ge3", 1, 13), ("pawinska2022_krakow", "neurotoxicity", "ge3", 3, 13),
    ("beneduce2022_aieop", "anemia", "ge3", 1, 39), ("beneduce2022_aieop", "thrombocytopenia", "ge3", 1, 39),
    ("beneduce2022_aieop", "crs", "ge3", 0, 39), ("ampatzidou2020_greece", "crs", "ge3", 0, 9),
    ("clesham2020_infants", "crs", "ge3", 0, 11), ("beneduce2022_aieop", "seizure", "ge3", 2, 39),
    ("beneduce2022_aieop", "neutropenia", "ge3", 0, 39), ("clesham2020_infants", "crs", "any", 3, 11),
    ("wu2022_beijing", "crs", "any", 2, 23), ("wu2022_beijing", "seizure", "any", 1, 23),
    ("wu2022_beijing", "anemia", "any", 7, 23), ("wu2022_beijing", "thrombocytopenia", "any", 1, 23),
    ("wu2022_beijing", "neutropenia", "any", 17, 23),
]


def derived_figures() -> list[tuple[str, dict]]:
    out = []
    for path in cohort_data.cohort_files():
        record = cohort_data.load_cohort(path)
        out += [(record["slug"], f) for f in record["figures"] if "derived" in f]
    return out


def test_the_issues_derived_figures_are_recorded_as_derived():
    found = {(slug, f["category"], f["grade_band"], f["numerator"], f["denominator"]) for slug, f in derived_figures()}
    assert set(EXPECTED) <= found


def test_every_derived_quote_is_in_its_source_and_every_rule_shows_its_arithmetic():
    for slug, f in derived_figures():
        for prov in [f["provenance"], *f["derived"]["sources"]]:
            text = fold((FIXTURES / "sources" / prov["seed"]).read_text(encoding="utf-8"))
            assert fold(prov["quote"]) in text, (slug, prov["quote"])
        assert f"{f['numerator']} of {f['denominator']}" in f["derived"]["rule"], (slug, f["reported_term"])
        assert f["unit"] == "patients" and "(derived)" in f["reported_term"]


def test_a_derived_figure_with_a_quote_not_in_its_source_is_refused(tmp_path):
    def mutate(record):
        fig = next(f for f in record["figures"] if "derived" in f)
        fig["derived"]["sources"] = [{"seed": fig["provenance"]["seed"], "location": "Table 9",
                                      "quote": "not in the text"}]
    problems = cohort_data.check_all([broken_copy(tmp_path, mutate, "pawinska2022_krakow.yaml")])
    assert any("derived.sources[0]" in p.where and "quote not found" in p.message for p in problems)


def test_a_derived_figure_without_a_rule_is_refused(tmp_path):
    def mutate(record):
        next(f for f in record["figures"] if "derived" in f)["derived"].pop("rule")
    problems = cohort_data.check_all([broken_copy(tmp_path, mutate, "wu2022_beijing.yaml")])
    assert any("rule" in p.message for p in problems)


@pytest.mark.django_db
def test_derived_figures_reach_the_benchmark_with_their_rule():
    assert CohortFigure.objects.exclude(derived="").count() == len(derived_figures())
    used, _ = benchmark.select_figures(benchmark.cohort_figures(["crs"]), "crs", "ge3", "all", excluded_cohort="")
    by_cohort = {f["cohort"]: f for f in used}
    # CRS >= 3 had two comparable cohorts before; the derived figures bring Pawinska, Beneduce, Ampatzidou, Clesham.
    for slug in ("pawinska2022_krakow", "beneduce2022_aieop", "ampatzidou2020_greece", "clesham2020_infants"):
        assert by_cohort[slug]["derived"], slug


def test_no_source_reports_a_cycle_one_count_for_a_benchmark_category():
    # The basis of the report's "no published figure" for cycle-1 cells (benchmark.NO_CYCLE1_FIGURE).
    for path in cohort_data.cohort_files():
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert not [f for f in record["figures"] if f["cycle_scope"] == "first" and f["category"] != "other"]
