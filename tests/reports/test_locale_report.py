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


def _polish_run_and_officer(ward, officer):
    """The ward set to Polish, a benchmark run of it, and a client logged in as the officer: (run, client)."""
    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    return run, client


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
    client = Client()
    client.force_login(officer)
    form = _text(client.get(f"/sites/{ward.slug}/report/"))
    shown = "Oceniono: przejrzałem(-am) tę flagę"
    assert f"Podpis oznacza: {shown}" in form and "Signing means" not in form and "I have reviewed" not in form
    with translation.override("pl"):  # the officer signs in the language the form showed
        signed = flag_review(flag=crs_flag(run), acting_user=officer, comment="Prawdziwy CRS.", password=PASSWORD)
        signoff = run_signoff(run=run, acting_user=officer, comment="", password=PASSWORD)
    assert signed.signature_meaning.startswith(shown) and signoff.meaning.startswith("Zatwierdzono: ")
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
    run, client = _polish_run_and_officer(ward, officer)
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
    _, client = _polish_run_and_officer(ward, officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/crs/ge3/all/plots/"))
    assert "8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle)" in page
    assert "Kohorty" in page and "Monitorowanie sekwencyjne" in page and "wróć do raportu" in page
    assert "Sequential monitoring" not in page and "back to the report" not in page and "8 of 10 patients" not in page


def test_a_cusum_flags_reason_and_the_flag_levels_are_shown_in_polish(ward, crs_ward, officer):
    """The CUSUM flag's message is stored in English (``reports.signal_flags.cusum_message``) and rebuilt in the
    reader's language from the run's chart only when the chart reproduces it exactly; the levels' plain names are
    translated by the template filters (exports keep the English of ``reports.cells``)."""
    from reports.cells import flag_label
    from reports.flag_text import cusum_message_for_reader
    from reports.models import Flag
    from reports.signal_flags import cusum_message
    from reports.templatetags.pvtrack_format import flag_label_for_reader, flag_short_for_reader
    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    flag = run.flags.get(kind=Flag.Kind.CUSUM, category__slug="crs", grade_band="any")
    chart = next(c for c in run.results["monitoring"]["cusum"] if (c["category"], c["grade_band"]) == ("crs", "any"))
    assert cusum_message(chart) == flag.message  # the stored English, unchanged
    with translation.override("pl"):
        polish = cusum_message_for_reader(flag.message, chart)
        assert polish.startswith("8 z 10 pacjentów miało cytokine release syndrome, dowolnego stopnia "
                                 "(wszystkie cykle)")
        assert "CUSUM skorygowany o ryzyko" in polish and f"h = {chart['h']:.2f}".replace(".", ",") in polish
        assert cusum_message_for_reader(flag.message, chart | {"h": chart["h"] + 1}) == flag.message
        assert cusum_message_for_reader(flag.message, None) == flag.message
        assert flag_label_for_reader("ALERT").startswith("Ostrzeżenie: powyżej opublikowanego porównania")
        assert flag_short_for_reader("SIGNAL") == "sygnał CUSUM" and flag_label_for_reader("XYZ") == "XYZ"
    assert flag_label("ALERT").startswith("Alert: above the published benchmark")  # exports keep the English
    client = Client()
    client.force_login(officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/"))
    assert "CUSUM skorygowany o ryzyko, liczony dla pacjentów oddziału" in page
    assert "The risk-adjusted CUSUM over the ward" not in page
    assert "Sygnał CUSUM: u kolejnych pacjentów" in page and "CUSUM signal: events came faster" not in page


def test_the_matched_line_is_rebuilt_in_the_readers_language_from_the_cells_definitions():
    from reports.definitions_text import matched_line

    d = {"scale_family": None, "scale_family_label": "any (the count does not depend on the scale)",
         "attribution": "all_cause",
         "attribution_label": "all AEs regardless of cause (no cohort compared here states its attribution)",
         "terms": ["Cytokine release syndrome"], "terms_left_out": ["Fever"],
         "premedication_label": "premedicated (ward: 5 of 6 first cycles)", "regimen_label": "step-up"}
    with translation.override("en-gb"):  # exactly the line the template wrote before
        assert matched_line(d) == (
            "Matched: any (the count does not depend on the scale) scale family; all AEs regardless of cause (no "
            "cohort compared here states its attribution); ward terms Cytokine release syndrome (left out: Fever); "
            "premedication premedicated (ward: 5 of 6 first cycles); regimen step-up.")
        assert matched_line(d | {"terms": [], "terms_left_out": [], "premedication_label": ""}).endswith(
            "ward terms none.")
    with translation.override("pl"):
        assert matched_line(d).startswith(
            "Dopasowano: rodzina skal dowolna (liczba nie zależy od skali); wszystkie zdarzenia niepożądane "
            "niezależnie od przyczyny (żadna z porównywanych tu kohort nie podaje związku przyczynowego); terminy "
            "oddziału Cytokine release syndrome (pominięte: Fever); premedykacja: z premedykacją (oddział: 5 z 6 "
            "pierwszych cykli); schemat dawkowania: step-up.")  # a regimen label it cannot rebuild: as stored
        odd = matched_line(d | {"attribution_label": "something older", "scale_family": "ctcae",
                                "scale_family_label": "CTCAE"})
        assert "rodzina skal CTCAE; something older;" in odd  # what it cannot rebuild, shown as stored
    assert matched_line(None) == ""


def test_the_polish_report_shows_the_matched_line_in_polish(ward, crs_ward, officer):
    _, client = _polish_run_and_officer(ward, officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/"))
    assert "Dopasowano: rodzina skal" in page and "Matched:" not in page


def test_a_network_flags_reason_is_rebuilt_in_polish_from_the_runs_comparison(ward, crs_ward):
    """A network flag's reason is stored in English (the run recomputes it) and shown in Polish, rebuilt from the
    run's comparison of the cell; a reason the comparison does not reproduce is shown as stored."""
    from reports import signal_flags
    from reports.flag_text import network_message_for_reader

    run = benchmark_run_now(site=ward)
    cell = next(c for c in run.results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"]) == (
        "crs", "ge3", "all"))
    comparison = {"category": "crs", "grade_band": "ge3", "cycle_scope": "all", "x": 8, "n": 10, "wards": 10,
                  "theta0": 0.224, "tau2": 0.0, "method": "exact",
                  "limits": {"0.95": [0.0, 0.5], "0.998": [0.0, 0.648]}, "level": "ALARM", "direction": "above"}
    stored = signal_flags.network_message(comparison, cell)
    assert stored == ("8 of 10 patients had grade ≥3 cytokine release syndrome (all cycles); the network's 10 wards "
                      "with the same definitions (this one included) had 22% overall, and a ward of 10 lies between "
                      "0% and 65% in 99.8 of 100 cases (exact limits, τ² 0). Possible safety signal: review these "
                      "events.")
    with translation.override("pl"):
        polish = network_message_for_reader(stored, comparison, cell)
        assert polish.startswith("8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle); 10 "
                                 "oddziałów sieci")
        assert polish.endswith("Możliwy sygnał dotyczący bezpieczeństwa: przejrzyj te zdarzenia.")
        assert network_message_for_reader(stored + " edited", comparison, cell) == stored + " edited"
