"""The benchmark report's computed texts in the reader's language (issue 15, item 4): a flag's reason is stored in
English with the run and shown translated, rebuilt from the run's cell; signed statements stay as signed."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import translation

from reports.flag_text import flag_message_for_reader
from reports.runs import benchmark_run_now
from reports.signatures import flag_review, run_signoff
from tests.conftest import PASSWORD
from tests.reports.conftest import crs_flag

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def _cell(run, flag):
    return next(c for c in run.results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"]) == (
        flag.category.slug, flag.grade_band, flag.cycle_scope))


def test_a_flags_reason_is_stored_in_english_and_rebuilt_in_polish_from_its_cell(ward, crs_ward):
    with translation.override("pl"):
        run = benchmark_run_now(site=ward)  # computed under a Polish request: the stored text is still English
    flag = crs_flag(run)
    assert flag.message.startswith("8 of 10 patients had grade ≥3 cytokine release syndrome (all cycles); a "
                                   "comparable ward of 10")
    cell = _cell(run, flag)
    with translation.override("en-gb"):
        assert flag_message_for_reader(flag.message, flag.level, cell) == flag.message
    with translation.override("pl"):
        polish = flag_message_for_reader(flag.message, flag.level, cell)
    assert polish.startswith("8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle); "
                             "porównywalny oddział z 10")
    assert "Możliwy sygnał dotyczący bezpieczeństwa" in polish


def test_a_reason_the_cell_does_not_reproduce_is_shown_as_stored(ward, crs_ward):
    run = benchmark_run_now(site=ward)
    flag = crs_flag(run)
    changed = _cell(run, flag) | {"ward": {"x": 7, "n": 10}}  # e.g. a run of an older method: not this text
    with translation.override("pl"):
        assert flag_message_for_reader(flag.message, flag.level, changed) == flag.message
        assert flag_message_for_reader(flag.message, flag.level, None) == flag.message


def test_the_polish_report_shows_flags_reviews_and_sign_offs_in_polish_with_signed_texts_as_signed(ward, crs_ward,
                                                                                                   officer):
    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    signed = flag_review(flag=crs_flag(run), acting_user=officer, comment="Prawdziwy CRS.", password=PASSWORD)
    run_signoff(run=run, acting_user=officer, comment="", password=PASSWORD)
    client = Client()
    client.force_login(officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/"))
    assert "8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle)" in page
    assert "8 of 10 patients had" not in page
    assert f"Ostatnio podpisany: ten przebieg ({run.pk})" in page and "Last signed" not in page
    assert "Podpisał(a) " in page and "Signed by" not in page
    assert f"“{signed.signature_meaning}”" in page  # the signed meaning, in the language it was signed in
    assert "Oddział: pacjenci z ≥1 zdarzeniem występującym w trakcie leczenia" in page  # the table's explanation
    assert "W czasie i względem ekspozycji" in page and "CUSUM dla kolejnych pacjentów" in page  # monitoring
    assert "Porównanie z oddziałami sieci" in page and "Over time and per exposure" not in page


def test_the_run_history_run_page_and_drilldown_are_in_polish(ward, crs_ward, officer):
    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    history = _text(client.get(f"/sites/{ward.slug}/runs/"))
    assert "Ward A: przebiegi porównania" in history and f"Przebieg {run.pk} (bieżący)" in history
    assert "benchmark runs" not in history and "Newest first" not in history
    detail = _text(client.get(f"/sites/{ward.slug}/runs/{run.pk}/"))
    assert f"Ward A: przebieg porównania {run.pk}" in detail and "To bieżący przebieg" in detail
    assert "8 z 10 pacjentów miało" in detail and "This is the current run" not in detail
    drilldown = _text(client.get(f"/sites/{ward.slug}/report/crs/ge3/all/"))
    assert "stopnia ≥3, wszystkie cykle: 8 pacjentów" in drilldown and "Wróć do raportu" in drilldown
    assert "Back to the report" not in drilldown and "8 patients" not in drilldown


def test_the_cells_plots_page_is_in_polish_with_the_flags_reason_translated(ward, crs_ward, officer):
    ward.language = "pl"
    ward.save()
    benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/crs/ge3/all/plots/"))
    assert "8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle)" in page
    assert "Kohorty" in page and "Monitorowanie sekwencyjne" in page and "wróć do raportu" in page
    assert "Sequential monitoring" not in page and "back to the report" not in page and "8 of 10 patients" not in page
