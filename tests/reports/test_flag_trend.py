"""Issue 17 item 5: a flag that persists across runs says since when; the report shows each flagged cell's trend over
the last runs, and pages and exports name flags in plain words (no raw codes such as CHECK_ASCERTAINMENT)."""

from __future__ import annotations

import pytest

from reports import cells
from reports.runs import benchmark_run_now
from reports.selectors import TREND_RUNS, flag_rows
from tests.conftest import make_event
from tests.reports.conftest import crs_flag

pytestmark = pytest.mark.django_db


def test_a_persisting_flag_says_since_when_and_shows_its_trend(ward, crs_ward):
    first = benchmark_run_now(site=ward)
    make_event(crs_ward[0], "Anemia", grade=1)  # unrelated change: a new run, the CRS flag persists
    second = benchmark_run_now(site=ward)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)  # 8/10 -> 9/10
    third = benchmark_run_now(site=ward)
    row = next(r for r in flag_rows(third) if r.flag.pk == crs_flag(third).pk)
    assert row.since == first.finished_at and not row.since_at_least
    assert [t[0] for t in row.trend] == [first.pk, second.pk, third.pk]
    assert [t[3] for t in row.trend] == ["8/10", "8/10", "9/10"]
    assert all(t[2] is not None for t in row.trend)
    assert second.pk != first.pk and TREND_RUNS >= 3


def test_report_page_shows_since_and_trend_in_plain_words(client, ward, crs_ward, officer):
    benchmark_run_now(site=ward)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    client.force_login(officer)
    html = client.get(f"/sites/{ward.slug}/report/").content.decode()
    level = crs_flag(run).level
    assert "Flagged since" in html and "8/10" in html and "9/10" in html
    assert cells.flag_label(level) in html
    for code in ("CHECK_ASCERTAINMENT", ">ALARM<", ">ALERT<", "[ALARM]"):
        assert code not in html
    # the flag's heading names its grade band and cycles in words (it read "Cytokine release syndrome, any, all")
    assert "— Cytokine release syndrome, any grade, all cycles</h3>" in html


def test_every_flag_level_has_a_plain_label():
    for level in ("ALARM", "ALERT", "WATCH", "CHECK_ASCERTAINMENT"):
        assert cells.flag_label(level) and "_" not in cells.flag_label(level)
        assert cells.flag_short(level) and "_" not in cells.flag_short(level)
    assert cells.flag_label("CHECK_ASCERTAINMENT").startswith("Possible under-reporting")


def test_benchmark_text_names_median_and_mean_and_the_adjustment():
    from reports.report import benchmark_text

    pooled = {"median": 0.06, "marginal_mean": 0.2, "pi": [0.01, 0.6], "k": 5, "unusable": ""}
    cell = {"pooled": pooled, "meta_regression": {"chosen": ["blast_share"], "chosen_labels": [
        "share of patients with ≥5% marrow blasts"], "tau2_before": 2.57, "tau2_after": 0.58, "exploratory": True}}
    text = benchmark_text(cell)
    assert "median 6.0%" in text and "mean 20.0%" in text
    assert "adjusted for share of patients with ≥5% marrow blasts (between-cohort τ² 2.57 → 0.58, exploratory)" in text
    assert benchmark_text({"pooled": pooled | {"unusable": "no usable benchmark: x"}}) == "no usable benchmark: x"
    assert benchmark_text({"pooled": None, "note": "no published figure"}) == "no published figure"
