"""The texts a run computes, in the reader's language (issue 15, item 4; ``reports.computed_text``): stored in
English by the pure modules, shown translated when the stored English is exactly one of their messages, else as
stored."""

from __future__ import annotations

import re
from html import escape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from reports.benchmark import COMPARISON_TEXTS, dosing_text, match_attribution, premedication_text, select_figures
from reports.computed_text import cell_note, cohort_labels, exclusion_reason
from reports.runs import benchmark_run_now

pytestmark = pytest.mark.django_db

FIGURE = {"category": "crs", "grade_band": "ge3", "cohort": "c1", "short_name": "Xie 2023", "unit": "patients",
          "numerator": 2, "denominator": 20, "stratum": "all", "cycle_scope": "all", "schedule": "standard_28d",
          "population": "relapsed_refractory", "scale": "ctcae_v5_0"}
PROFILE = {"schedule": "standard_28d", "population": "relapsed_refractory", "scales": {"crs": "ctcae_v5_crs"},
           "premedication": "yes", "premedication_counts": {"yes": 5, "not_recorded": 1}, "dosing": "step_up",
           "dosing_counts": {"step_up": 6}}


def _reasons(**changes) -> list[str]:
    _, excluded = select_figures([FIGURE | changes], "crs", "ge3", "all", "", PROFILE)
    return [e["reason"] for e in excluded]


def _both(text: str, translate) -> tuple[str, str]:
    with translation.override("en-gb"):
        english = translate(text)
    with translation.override("pl"):
        return english, translate(text)


@pytest.mark.parametrize(("changes", "english", "polish"), [
    ({"unit": "events"}, "counts events, not patients", "liczy zdarzenia, a nie pacjentów"),
    ({"numerator": None}, "percentage without a stated denominator", "odsetek bez podanego mianownika"),
    ({"cycle_scope": "cycle_2_plus"}, "reported for cycle 2 plus, not all cycles",
     "podane dla: cykle 2 i kolejne, a nie: wszystkie cykle"),
    ({"schedule": "short_14d"}, "schedule short_14d differs from the ward's standard_28d",
     "schemat: skrócony (wlew 14-dniowy), inny niż na oddziale (standardowy (wlew 28-dniowy))"),
    ({"population": "chemo_ineligible_cr"}, "population chemo ineligible cr differs from the ward's relapsed "
     "refractory", "populacja: remisja, bez kwalifikacji do chemioterapii, inna niż na oddziale (nawrót lub oporność "
     "na leczenie)"),
    ({"scale": "lee_2014"}, "graded by ASTCT/Lee (lee_2014), the ward by CTCAE v5.0 CRS",
     "stopień wg ASTCT/Lee (lee_2014), na oddziale wg CTCAE v5.0 CRS"),
    ({"premedication": {"given": "some", "n": 3, "of": 23}, "dosing": {"regimen": "step_up_5_15"}},
     "premedication: 3 of 23 premedicated, the ward's first cycles mostly premedicated (5 of 6 first cycles)",
     "premedykacja: 3 z 23 z premedykacją, na oddziale pierwsze cykle w większości z premedykacją (5 z 6 "
     "pierwszych cykli)"),
])
def test_a_cohorts_reason_to_be_left_out_is_stored_in_english_and_shown_in_polish(changes, english, polish):
    with translation.override("pl"):
        assert _reasons(**changes) == [english]  # computed under Polish: still stored in English
    assert _both(english, exclusion_reason) == (english, polish)


def test_the_attribution_reason_and_the_cells_notes_in_polish():
    _, _, set_aside = match_attribution([FIGURE | {"attribution": "related"}], basis="all_cause")
    english = set_aside[0]["reason"]
    assert english == "counts treatment-related AEs only; this comparison uses all AEs regardless of cause"
    assert _both(english, exclusion_reason)[1] == ("liczy: tylko zdarzenia niepożądane związane z leczeniem; to "
                                                    "porównanie obejmuje: wszystkie zdarzenia niepożądane niezależnie "
                                                    "od przyczyny")
    assert _both(COMPARISON_TEXTS["note_no_patients"], cell_note) == ("no ward patients in this scope",
                                                                       "brak pacjentów oddziału w tym zakresie")


def test_a_kept_cohorts_labels_in_polish():
    used, _ = select_figures([FIGURE | {"schedule": "not_stated", "scale": "not_stated",
                                        "premedication": {"given": "not_reported"},
                                        "dosing": {"regimen": "mixed", "counts": {"step_up": 1, "flat": 22}}}],
                             "crs", "ge3", "all", "", PROFILE)
    labels = used[0]["labels"]
    assert labels == ["schedule not stated", "premedication not reported",
                      "mixed regimens (step-up 1, flat 22); the ward mostly step-up", "grading scale not stated"]
    assert premedication_text({"given": "all"}) == "all premedicated" and dosing_text(None) == "regimen not reported"
    with translation.override("pl"):
        assert cohort_labels(labels) == ["schemat: nie podano", "nie podano premedykacji",
                                         "różne schematy dawkowania (step-up 1, flat 22); na oddziale w większości "
                                         "dawka wzrastająca", "nie podano skali oceny"]
    with translation.override("en-gb"):
        assert cohort_labels(labels) == labels


@pytest.mark.parametrize("stored", [
    "counts events, not patients (older wording)",  # a text of an older method: none of the messages
    "Figure superseded by the 2024 update",  # free text of the cohort tables (``set_aside``)
    "schedule standard_28d",  # a label's message is not a reason's
])
def test_a_stored_text_that_is_none_of_the_messages_is_shown_as_stored(stored):
    with translation.override("pl"):
        assert exclusion_reason(stored) == stored and cell_note(stored) == stored
        assert cohort_labels(["population somewhere else", "graded by x"]) == ["population somewhere else",
                                                                                "graded by x"]


def test_the_polish_report_and_plots_show_the_reasons_a_cohort_was_left_out_in_polish(ward, crs_ward, officer):
    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    reasons = {e["reason"] for c in run.results["cells"] for e in c["excluded"]}
    assert "counts events, not patients" in reasons
    client = Client()
    client.force_login(officer)
    page = re.sub(r"\s+", " ", client.get(f"/sites/{ward.slug}/report/").content.decode())
    assert "liczy zdarzenia, a nie pacjentów" in page and "counts events, not patients" not in page
    cell = next(c for c in run.results["cells"] if c["pooled"] and any(
        e["reason"] == "counts events, not patients" for e in c["excluded"]))
    plots = client.get(reverse("cell-plots", args=[ward.slug, cell["category"], cell["grade_band"],
                                                   cell["cycle_scope"]]))
    assert plots.status_code == 200 and "liczy zdarzenia, a nie pacjentów" in plots.content.decode()


# --- the cohort tables' own reasons to set a figure aside (reports.cohort_texts) --------------------------------

def _fixture_set_aside_reasons() -> set[str]:
    from reports import cohort_data

    return {f["set_aside"] for path in cohort_data.cohort_files()
            for f in cohort_data.load_cohort(path)["figures"] if f.get("set_aside")}


def test_every_set_aside_reason_of_the_cohort_fixtures_is_marked_for_translation():
    """A new reason in a fixture fails here until it is added to ``SET_ASIDE_REASONS`` (and to the catalogue); a
    marked reason no fixture writes any more is dropped from the list."""
    from reports.cohort_texts import SET_ASIDE_REASONS

    in_fixtures = _fixture_set_aside_reasons()
    assert len(in_fixtures) >= 4
    assert sorted(in_fixtures - set(SET_ASIDE_REASONS)) == []
    assert sorted(set(SET_ASIDE_REASONS) - in_fixtures) == []


def test_a_set_aside_reason_is_translated_when_it_is_exactly_a_marked_one():
    from reports.cohort_texts import SET_ASIDE_REASONS

    for reason in SET_ASIDE_REASONS:
        english, polish = _both(reason, exclusion_reason)
        assert english == reason and polish != reason and polish.startswith("liczy tylko "), polish
    english, polish = _both("counts discontinuations for generalized seizures only, a lower bound of "
                            "discontinuations for any AE", exclusion_reason)
    assert polish == ("liczy tylko przerwania leczenia z powodu uogólnionych napadów drgawkowych, co daje dolną "
                      "granicę przerwań leczenia z powodu dowolnego AE")
    reworded = SET_ASIDE_REASONS[0] + " (2024 update)"
    with translation.override("pl"):
        assert exclusion_reason(reworded) == reworded  # not exactly a marked reason: as stored


def test_the_polish_report_and_plots_show_a_cohort_tables_set_aside_reason_in_polish(ward, officer):
    from tests.conftest import make_cycle, make_event, make_patient

    ward.language = "pl"
    ward.save()
    for i in range(3):
        make_event(make_cycle(make_patient(ward, f"D-{i}")), "Encephalopathy", grade=3, action_taken="DRUG WITHDRAWN")
    run = benchmark_run_now(site=ward)
    english = ("counts discontinuations for generalized seizures only, a lower bound of discontinuations for any "
               "AE")
    cell = next(c for c in run.results["cells"] if any(e["reason"] == english for e in c["excluded"]))
    polish = "liczy tylko przerwania leczenia z powodu uogólnionych napadów drgawkowych"
    client = Client()
    client.force_login(officer)
    page = re.sub(r"\s+", " ", client.get(f"/sites/{ward.slug}/report/").content.decode())
    assert polish in page and "counts discontinuations for generalized seizures only" not in page
    plots = client.get(reverse("cell-plots", args=[ward.slug, cell["category"], cell["grade_band"],
                                                   cell["cycle_scope"]]))
    assert plots.status_code == 200
    assert polish in plots.content.decode() and english not in plots.content.decode()


# --- the "since then" changes of the last-signed box and the "changed since" of a flag (reports.cells) -----------

def test_a_changed_cell_and_the_changes_between_runs_in_words_in_english_and_polish():
    from django.utils.translation import gettext

    from reports import cells
    from tests.reports.test_review_carry import CELL, _cell

    before = cells.cell_values(CELL)
    after = cells.cell_values(_cell(ward__x=6, ward__n=21, pooled__median=0.076, pooled__k=6, flag__level="WATCH",
                                    pooled__weak=True))
    english = ("when the ward was 5/20 (benchmark 7.4%, alert); now 6/21 (benchmark 7.6%, watch); "
               "benchmark from 5 cohorts (GLMM) → 6 cohorts (GLMM, weak)")
    assert cells.describe_cell_change(before, after) == english
    with translation.override("en-gb"):
        assert cells.describe_cell_change(before, after, gettext) == english
    with translation.override("pl"):
        assert cells.describe_cell_change(before, after, gettext) == (
            "gdy oddział miał 5/20 (porównanie 7.4%, ostrzeżenie); teraz 6/21 (porównanie 7.6%, obserwacja); "
            "porównanie z: kohorty: 5 (GLMM) → kohorty: 6 (GLMM, słabe)")
        assert cells.describe_cell_change({}, after, gettext).startswith("(nie zapisano liczb")
        assert cells.summary(cells.cell_values(_cell(pooled=None, flag=None)), gettext) == "5/20 (brak porównania, " \
                                                                                            "bez flagi)"
    neutropenia = _cell(category="neutropenia", category_name="Neutropenia", grade_band="ge3", cycle_scope="first",
                        flag=None)
    old = {"cells": [CELL, neutropenia]}
    new = {"cells": [_cell(ward__x=6, ward__n=21, flag=None),
                     _cell(category="neutropenia", category_name="Neutropenia", grade_band="ge3", cycle_scope="first",
                           ward__n=21, flag={"level": "ALERT", "direction": "above"})],
           "flags": [{"kind": "cusum", "category": "crs", "grade_band": "any", "cycle_scope": "all",
                      "level": "SIGNAL"}]}
    english_changes = ["benchmark method m/1 → m/2", "patients treated 20 → 21", "patients with a cycle 1 20 → 21",
                       "Cytokine release syndrome any 5/20 → 6/21",
                       "flag (alert) no longer raised: Cytokine release syndrome any",
                       "new flag (alert): Neutropenia ≥3, cycle 1",
                       "new flag (CUSUM signal): Cytokine release syndrome any, over time (CUSUM)"]
    assert cells.changes_between(old, "m/1", new, "m/2") == english_changes
    with translation.override("pl"):
        assert cells.changes_between(old, "m/1", new, "m/2", gettext) == [
            "metoda porównania m/1 → m/2", "leczeni pacjenci 20 → 21", "pacjenci z cyklem 1 20 → 21",
            "Cytokine release syndrome dowolny 5/20 → 6/21",
            "flaga (ostrzeżenie) już nie występuje: Cytokine release syndrome dowolny",
            "nowa flaga (ostrzeżenie): Neutropenia ≥3, cykl 1",
            "nowa flaga (sygnał CUSUM): Cytokine release syndrome dowolny, w czasie (CUSUM)"]


def test_the_polish_report_says_what_changed_since_the_last_signed_run_and_the_review_in_polish(ward, crs_ward,
                                                                                              officer):
    from reports.signatures import flag_review, run_signoff
    from tests.conftest import PASSWORD, make_event
    from tests.reports.conftest import crs_flag

    ward.language = "pl"
    ward.save()
    signed = benchmark_run_now(site=ward)
    run_signoff(run=signed, acting_user=officer, comment="", password=PASSWORD)
    flag_review(flag=crs_flag(signed), acting_user=officer, comment="Sprawdzone.", password=PASSWORD)
    make_event(crs_ward[8], "Cytokine release syndrome", grade=3)  # 8/10 -> 9/10
    benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(f"/sites/{ward.slug}/report/").content.decode()))
    assert "od tego czasu: " in page and "Cytokine release syndrome ≥3 8/10 → 9/10" in page
    assert "gdy oddział miał 8/10 (porównanie " in page and "when the ward was" not in page


# --- the CUSUM charts' notes and the entry-lag message (reports.trends, reports.entry_lag) -------------------------

def _cusum(outcomes: list[bool], rate: float = 0.1) -> dict:
    from reports.trends import cell_cusum

    cell = {"category": "crs", "category_name": "CRS", "grade_band": "ge3", "cycle_scope": "all",
            "pooled": {"marginal_mean": rate}}
    monitoring = {"patients": [{"stratum": "not_recorded"} for _ in outcomes],
                  "outcomes": {"crs|ge3": [i for i, y in enumerate(outcomes) if y]}}
    return cell_cusum(cell, monitoring)


def test_a_cusum_charts_note_is_stored_in_english_and_shown_in_polish():
    from reports.computed_text import cusum_note

    signalled, quiet = _cusum([True] * 6), _cusum([False] * 6)
    assert signalled["note"].startswith("signalled at patient ") and signalled["note"].endswith(
        "the events came faster than the benchmark's expected rate (odds doubled, in-control ARL 200 patients)")
    patients = signalled["note"].removeprefix("signalled at patient ").split(":")[0]
    assert _both(signalled["note"], cusum_note) == (signalled["note"], (
        f"sygnał u pacjenta {patients}: zdarzenia pojawiały się szybciej, niż przewiduje częstość oczekiwana z "
        "porównania (podwojone szanse, ARL w stanie kontroli: 200 pacjentów)"))
    h = f"{quiet['h']:.2f}"
    assert quiet["note"] == f"no signal: the chart is at 0.00 of a threshold of {h}"
    assert _both(quiet["note"], cusum_note)[1] == (  # the numbers with the language's decimal comma
        f"brak sygnału: wykres jest na poziomie 0,00 przy progu {h.replace('.', ',')}")
    degenerate = _cusum([True], rate=0.0)["note"]
    assert _both(degenerate, cusum_note)[1] == "częstość w porównaniu wynosi 0 lub 1: brak wykresu"
    with translation.override("pl"):
        assert cusum_note("signalled at patient 3 (an older wording)") == "signalled at patient 3 (an older wording)"


@pytest.mark.parametrize(("lags", "polish"), [
    ([], "nie zapisano żadnego zdarzenia niepożądanego"),
    ([1, 2], "zdarzenia: 2 — za mało do oceny (flaga wymaga 5)"),
    ([1, 1, 2, 3, 4], "wprowadzane na czas (mediana 2 dni, 90. percentyl 3,6 dni)"),
    ([9, 9, 10, 30, 40], "zdarzenia niepożądane są wprowadzane z opóźnieniem: mediana 10 dni > 7; 90. percentyl 36 dni "
                         "> 15"),
    ([9, 9, 10, 11, 12], "zdarzenia niepożądane są wprowadzane z opóźnieniem: mediana 10 dni > 7"),
])
def test_the_entry_lag_message_is_stored_in_english_and_shown_in_polish(lags, polish):
    from reports.computed_text import entry_lag_message
    from reports.entry_lag import entry_lag

    with translation.override("pl"):
        stored = entry_lag(lags).message
    assert stored.isascii()  # English, whoever computed it
    assert _both(stored, entry_lag_message) == (stored, polish)


def test_the_monitorings_flag_codes_in_words_in_polish_and_english():
    from reports.computed_text import monitoring_flag

    with translation.override("pl"):
        assert [monitoring_flag(c) for c in ("CUSUM SIGNAL", "LATE ENTRY", "NEW CODE", None)] == [
            "sygnał CUSUM", "opóźnione wprowadzanie", "NEW CODE", None]
    with translation.override("en-gb"):
        assert [monitoring_flag(c) for c in ("CUSUM SIGNAL", "LATE ENTRY")] == ["CUSUM signal", "late entry"]


def test_an_entry_lag_message_of_another_wording_is_shown_as_stored():
    from reports.computed_text import entry_lag_message

    with translation.override("pl"):
        for stored in ("adverse events are entered late: median 10 days > 7; mode 9 days",
                       "entered on time (median 2 days)"):
            assert entry_lag_message(stored) == stored


def test_the_polish_report_shows_the_cusum_notes_and_the_entry_lag_in_polish(ward, crs_ward, officer):
    from reports.computed_text import cusum_note, entry_lag_message

    ward.language = "pl"
    ward.save()
    run = benchmark_run_now(site=ward)
    monitoring = run.results["monitoring"]
    client = Client()
    client.force_login(officer)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    notes = {c["note"] for c in monitoring["cusum"]}
    assert notes and all(escape(note) not in page for note in notes)
    with translation.override("pl"):
        assert all(escape(cusum_note(note)) in page for note in notes)
        message = entry_lag_message(monitoring["entry_lag"]["message"])
    assert message != monitoring["entry_lag"]["message"] and escape(message[0].upper() + message[1:]) in page


# --- the funnel's notes (reports.funnel) ------------------------------------------------------------------------

@pytest.mark.parametrize(("units", "english", "polish"), [
    ([(1, 20), (2, 20), (20, 20), (0, 2)], "3 wards with at least 3 patients; flags need 5",
     "oddziały z co najmniej 3 pacjentami: 3; flagi wymagają 5"),
    ([(1, 20), (0, 2)], "1 ward with at least 3 patients; flags need 5",
     "oddziały z co najmniej 3 pacjentami: 1; flagi wymagają 5"),
    ([(0, 10)] * 6, "every ward has none of its patients with the event: nothing to compare",
     "na żadnym oddziale nikt z pacjentów nie miał tego zdarzenia: nie ma czego porównywać"),
    ([(10, 10)] * 6, "every ward has all of its patients with the event: nothing to compare",
     "na każdym oddziale wszyscy pacjenci mieli to zdarzenie: nie ma czego porównywać"),
])
def test_the_funnels_note_is_stored_in_english_and_shown_in_polish(units, english, polish):
    from django.template import Context, Template

    from reports.funnel import Unit, funnel

    with translation.override("pl"):
        note = funnel([Unit(f"w{i}", x, n) for i, (x, n) in enumerate(units)]).note
    assert note == english
    page = Template("{% load pvtrack_format %}{{ note|funnel_note }}")
    with translation.override("en-gb"):
        assert page.render(Context({"note": note})) == english
    with translation.override("pl"):
        assert page.render(Context({"note": note})) == polish
        assert page.render(Context({"note": "2 wards; flags need 5"})) == "2 wards; flags need 5"  # another wording


# --- meta-regression labels (reports.benchmark.MODERATORS) --------------------------------------------------------

def _table(cells: list[dict]) -> str:
    from django.template.loader import render_to_string

    run = {"results": {"ward_profile": {}}, "inputs": {"thresholds": {}}}
    return re.sub(r"\s+", " ", render_to_string("reports/_table.html", {"run": run, "cells": cells,
                                                                         "editable": False}))


def test_the_meta_regressions_labels_and_sentence_in_polish():
    from reports.benchmark import MODERATORS

    cell = {"category": "crs", "category_name": "CRS", "grade_band": "ge3", "cycle_scope": "all",
            "ward": {"x": 2, "n": 10, "rate": 0.2, "ci": [0.03, 0.56]},
            "pooled": {"median": 0.1, "pi": [0.05, 0.2], "marginal_mean": 0.11, "weak": False},
            "meta_regression": {"chosen": ["blast_share"], "chosen_labels": [MODERATORS["blast_share"], "age (new)"],
                                "tau2_before": 0.5, "tau2_after": 0.1, "exploratory": True, "k": 6},
            "cohorts": [], "excluded": []}
    with translation.override("en-gb"):
        assert ("at the ward's case mix: adjusted for share of patients with ≥5% marrow blasts, age (new); "
                "between-cohort τ² 0.50 → 0.10 (exploratory: 6 cohorts)") in _table([cell])
    with translation.override("pl"):
        assert ("przy strukturze pacjentów oddziału: skorygowane o: odsetek pacjentów z ≥5% blastów w szpiku, age "
                "(new); τ² między kohortami 0,50 → 0,10 (eksploracyjnie: kohorty: 6)") in _table([cell])


# --- the sequential boundary's note (reports.benchmark._sequential) --------------------------------------------------

@pytest.mark.parametrize(("x", "n", "n_max", "polish"), [
    (0, 30, 20, "oddział przekroczył 20 planowanych pacjentów: granica już nie obowiązuje"),
    (1, 10, 40, "dodatkowe zdarzenia u tych 10 pacjentów ({needed}) przekroczyłyby granicę ({bound})"),
    (10, 10, 40, "przekroczono: zdarzenia u 10 pacjentów (10) osiągają granicę {bound}"),
])
def test_the_sequential_note_is_stored_in_english_and_shown_in_polish(x, n, n_max, polish):
    from django.template import Context, Template

    from reports.benchmark import _sequential

    with translation.override("pl"):
        seq = _sequential(x, n, 0.1, {"N_MAX": n_max, "SEQUENTIAL_ALPHA": 0.05}, {})
    assert seq["note"].isascii()
    page = Template("{% load pvtrack_format %}{{ note|sequential_note }}")
    with translation.override("en-gb"):
        assert page.render(Context({"note": seq["note"]})) == seq["note"]
    bound = re.search(r"boundary (?:of |\()?(\d*)", seq["note"]).group(1)  # the boundary at n, as the English says
    with translation.override("pl"):
        shown = page.render(Context({"note": seq["note"]}))
        assert shown == polish.format(needed=seq["needed"], bound=bound)
        assert page.render(Context({"note": "2 more events would cross"})) == "2 more events would cross"


# --- a weak or unusable benchmark's explanation (reports.stats) ------------------------------------------------------

def test_a_weak_benchmarks_reason_is_stored_in_english_and_shown_in_polish():
    from reports import stats
    from reports.computed_text import pool_reason

    with translation.override("pl"):
        two, one_event = stats.pool([2, 3], [20, 30]), stats.pool([1, 0, 0], [20, 30, 10])
    assert two.reason == ("Weak benchmark: only 2 comparable cohorts (the model needs 3). Showing the pooled count "
                          "5/50 with an exact Clopper-Pearson CI; between-cohort variation is not modelled.")
    assert _both(two.reason, pool_reason) == (two.reason, (
        "Słabe porównanie: porównywalne kohorty: tylko 2 (model wymaga 3). Pokazano łączną liczbę 5/50 z dokładnym "
        "przedziałem ufności Cloppera-Pearsona; zmienność między kohortami nie jest modelowana."))
    assert _both(one_event.reason, pool_reason)[1].startswith(
        "Słabe porównanie: tylko 1 zdarzenie we wszystkich kohortach (model wymaga 3). Pokazano łączną liczbę 1/60")
    with translation.override("pl"):  # another reason inside: the stored English
        other = two.reason.replace("only 2 comparable cohorts", "too much heterogeneity")
        assert pool_reason(other) == other


def test_an_unusable_benchmarks_reason_in_polish_in_the_table_and_as_a_cells_note():
    from reports import stats
    from reports.computed_text import cell_note, unusable_detail

    flat = stats.pool([0, 0, 12], [20, 25, 14]).unusable
    span = stats.pool([0, 0, 6, 1, 20, 18], [9, 39, 18, 13, 38, 33]).unusable
    assert flat.startswith("no usable benchmark: the published cohorts disagree so much (between-cohort variance ")
    with translation.override("en-gb"):
        assert unusable_detail(flat) == flat.removeprefix("no usable benchmark: ") and cell_note(flat) == flat
    with translation.override("pl"):
        assert unusable_detail(flat).startswith("opublikowane kohorty różnią się tak bardzo (wariancja między "
                                                "kohortami ")
        assert unusable_detail(flat).endswith(", a funkcja wiarygodności jest płaska: te kohorty nie wykluczają, że "
                                              "każda kohorta ma własną częstość")
        assert cell_note(span).startswith("brak użytecznego porównania: opublikowane kohorty różnią się tak bardzo")
        assert cell_note(span).endswith("że porównywalny oddział mógłby mieć niemal dowolną częstość, więc prawie "
                                        "żadna liczba nie mogłaby zostać oflagowana")


# --- the premedication and regimen labels of the "Matched:" line (reports.benchmark.treatment_definitions) ----------

def test_the_matched_lines_premedication_and_regimen_are_rebuilt_in_polish_from_the_cells_cohorts():
    from reports.benchmark import treatment_definitions
    from reports.computed_text import treatment_label

    used = [FIGURE | {"short_name": "Xie 2023", "premedication": {"given": "all"}, "dosing": {"regimen": "mixed",
                                                                                               "counts": {"flat": 2}}},
            FIGURE | {"short_name": "Lee, 2021", "premedication": {"given": "some", "n": 3, "of": 23},
                      "dosing": {"regimen": "step_up_5_15"}}]
    cohorts = [{"short_name": f["short_name"], "premedication": premedication_text(f["premedication"]),
                "regimen": dosing_text(f["dosing"])} for f in used]  # as the cell stores them
    with translation.override("pl"):
        labels = treatment_definitions("crs", used, PROFILE)
    assert labels == {"premedication_label": "premedicated (ward: 5 of 6 first cycles); cohorts: Xie 2023 all "
                                             "premedicated, Lee, 2021 3 of 23 premedicated",
                      "regimen_label": "step-up (ward: 6 of 6 first cycles); cohorts: Xie 2023 mixed regimens (flat "
                                       "2), Lee, 2021 step-up 5→15 µg/m²/day"}
    premed, regimen = labels["premedication_label"], labels["regimen_label"]
    with translation.override("en-gb"):
        assert treatment_label(premed, "premedication", cohorts) == premed
        assert treatment_label(regimen, "regimen", cohorts) == regimen
    with translation.override("pl"):
        assert treatment_label(premed, "premedication", cohorts) == (
            "z premedykacją (oddział: 5 z 6 pierwszych cykli); kohorty: Xie 2023 wszyscy z premedykacją, Lee, 2021 3 z "
            "23 z premedykacją")
        assert treatment_label(regimen, "regimen", cohorts) == (
            "dawka wzrastająca (oddział: 6 z 6 pierwszych cykli); kohorty: Xie 2023 różne schematy dawkowania (flat "
            "2), Lee, 2021 dawka wzrastająca 5→15 µg/m²/dobę")
        unmatched = treatment_definitions("crs", [], PROFILE | {"premedication": "mixed", "dosing": None})
        assert treatment_label(unmatched["premedication_label"], "premedication", []) == (
            "nie dopasowano (pierwsze cykle na oddziale: różne)")
        assert treatment_label(unmatched["regimen_label"], "regimen", []) == (
            "nie dopasowano (pierwsze cykle na oddziale: w większości nie zapisano)")
        # the cell's cohorts do not give the stored list (another run's, an older wording): as stored
        assert treatment_label(premed, "premedication", cohorts[:1]) == premed
        assert treatment_label(premed, "premedication", None) == premed


def test_a_cell_without_a_note_says_no_comparable_figure_in_polish():
    cell = {"category": "crs", "category_name": "CRS", "grade_band": "ge3", "cycle_scope": "all",
            "ward": {"x": 0, "n": 0, "rate": None}, "pooled": None, "cohorts": [], "excluded": []}
    with translation.override("pl"):
        assert "brak porównywalnej liczby" in _table([cell]) and "no comparable figure" not in _table([cell])
    with translation.override("en-gb"):
        assert "no comparable figure" in _table([cell])
