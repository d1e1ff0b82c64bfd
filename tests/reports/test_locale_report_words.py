"""The report's last English words in the reader's language (issue 15, item 4; docs/usability.md, "Not yet
translated"): the benchmark table's "two-step REML/HK:", "[counted: …]" and "stratum benchmark", the network
table's level codes, bands, cycle scopes and the other wards' directions, and the plots' text alternatives. The
templates are rendered as a Polish reader would see them (and in English, unchanged)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from reports import plots, report_plots
from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def _cell() -> dict:
    """A benchmark cell with every part the table's English words belonged to: a cohort's counted terms, the
    two-step REML/Hartung–Knapp median and a blast-stratified O/E."""
    return {
        "category": "crs",
        "category_name": "Cytokine release syndrome",
        "grade_band": "ge3",
        "cycle_scope": "all",
        "ward": {"x": 8, "n": 10, "rate": 0.8, "ci": [0.44, 0.97]},
        "pooled": {"median": 0.1, "pi": [0.02, 0.4], "weak": False, "marginal_mean": 0.12},
        "cohorts": [{"short_name": "Topp 2015", "x": 3, "n": 36, "terms_included": ["Cytokine release syndrome"]}],
        "two_step": {"median": 0.11, "ci": [0.05, 0.2]},
        "case_mix": {
            "observed": 8,
            "expected": 1.2,
            "sir": 6.67,
            "ci": [2.9, 13.1],
            "p_upper": 0.0001,
            "stratified": True,
        },
        "posterior_above": 0.99,
        "flag": {"level": "ALARM"},
    }


def _table(language: str) -> str:
    run = SimpleNamespace(results={"ward_profile": {}}, inputs={"thresholds": {}})
    with translation.override(language):
        return _text(render_to_string("reports/_table.html", {"run": run, "cells": [_cell()], "editable": False}))


def test_the_benchmark_tables_own_words_are_in_polish():
    polish = _table("pl")
    assert "dwuetapowo REML/HK: 11,0%" in polish and "[liczono: Cytokine release syndrome]" in polish
    assert "porównanie w warstwach blastów" in polish
    for english in ("two-step", "counted:", "stratum benchmark"):
        assert english not in polish
    english = _table("en-gb")  # the English page is unchanged
    assert "two-step REML/HK: 11.0%" in english and "[counted: Cytokine release syndrome]" in english
    assert "stratum benchmark" in english


def _comparison(own: SimpleNamespace | None, units: list[SimpleNamespace]) -> dict:
    return {
        "category": "crs",
        "category_name": "Cytokine release syndrome",
        "grade_band": "ge3",
        "band_label": "grade ≥3",
        "cycle_scope": "first",
        "scope_label": "cycle 1",
        "wards": 5,
        "pooled": None,
        "literature": None,
        "own": own,
        "funnel": SimpleNamespace(theta0=0.2, tau2=0.0, phi=1.0, flags_given=True, note=None, units=units),
    }


def _network(language: str, *, coordinator: bool) -> str:
    above = SimpleNamespace(
        label="Ward A",
        x=8,
        n=10,
        rate=0.8,
        level="ALERT",
        direction="above",
        flaggable=True,
        limits={"0.95": [0.0, 0.5], "0.998": [0.0, 0.65]},
    )
    below = SimpleNamespace(
        label="Ward B", x=0, n=40, rate=0.0, level="ALARM", direction="below", flaggable=True, limits={}
    )
    comparison = _comparison(None if coordinator else above, [above, below])
    context = {
        "network": [comparison],
        "own_column": not coordinator,
        "coordinator": coordinator,
        "network_plots": [{"comparison": comparison, "image": {"src": "/plot.svg", "alt": "English title"}}],
    }
    with translation.override(language):
        return render_to_string("reports/_network.html", context)


def test_the_network_tables_levels_bands_scopes_and_directions_are_in_polish():
    ward = _network("pl", coordinator=False)
    text = _text(ward)
    assert "Cytokine release syndrome, stopnia ≥3, cykl 1" in text
    assert "ostrzeżenie: powyżej sieci" in text and "ALERT" not in text and "grade ≥3" not in text
    assert 'alt="Wykres lejkowy oddziałów sieci: Cytokine release syndrome, stopnia ≥3, cykl 1"' in ward
    coordinator = _text(_network("pl", coordinator=True))
    assert "Ward A: ostrzeżenie powyżej sieci; Ward B: alarm poniżej sieci;" in coordinator
    assert "above" not in coordinator and "below" not in coordinator and "ALARM" not in coordinator
    english = _text(_network("en-gb", coordinator=True))
    assert "Ward A: alert above the network; Ward B: alarm below the network;" in english
    assert "Cytokine release syndrome, grade ≥3, cycle 1" in english


@pytest.mark.django_db
def test_a_cells_plot_images_have_polish_text_alternatives_and_link_the_polish_plots(ward):
    cell = _cell()
    with translation.override("pl"):
        images = report_plots.cell_images(ward, cell)
    assert images["forest_alt"] == "Wykres drzewkowy: Cytokine release syndrome, stopnia ≥3, wszystkie cykle"
    assert images["funnel_alt"] == "Wykres lejkowy: Cytokine release syndrome, stopnia ≥3, wszystkie cykle"
    # the image is the plot drawn in Polish (its own key; tests/reports/test_plot_language.py), the English one keeps
    # its English title and key
    assert plots.plot_key(cell, "pl") in images["forest"] and plots.cell_key(cell) not in images["forest"]
    assert plots.forest_label(cell) == "Forest plot: Cytokine release syndrome, grade ≥3, all cycles"
    with translation.override("en-gb"):
        english = report_plots.cell_images(ward, cell)
    assert english["funnel_alt"] == plots.funnel_label(cell) and plots.cell_key(cell) in english["funnel"]


@pytest.mark.django_db
def test_the_polish_report_gives_its_plot_images_polish_text_alternatives(ward, crs_ward, officer):
    """The flagged cell's forest and funnel plots and the CUSUM chart of a Polish ward's report."""
    ward.language = "pl"
    ward.save()
    benchmark_run_now(site=ward)
    client = Client()
    client.force_login(officer)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    alts = re.findall(r'<img src="[^"]*" alt="([^"]*)"', page)
    assert "Wykres drzewkowy: Cytokine release syndrome, stopnia ≥3, wszystkie cykle" in alts
    assert "Wykres CUSUM: Cytokine release syndrome, dowolnego stopnia" in alts
    assert not [a for a in alts if "plot" in a or "grade" in a or a.endswith(", any")]


# --- the cell's plots page: the cohorts' schedule, population and scale, the case-mix strata -----------------------


def test_the_profile_codes_and_strata_are_words_in_the_readers_language():
    from reports import computed_text as ct
    from reports.benchmark import STRATA, STRATUM_SOURCES

    weak = STRATUM_SOURCES["stratum_weak"] % {"stratum": STRATA["blasts_ge5"], "cohorts": "Xie 2023, Wu 2022"}
    assert weak == "marrow blasts ≥5% benchmark from Xie 2023, Wu 2022 (weak)"  # the stored English, as before
    with translation.override("pl"):
        assert ct.stratum_source(weak) == "blasty w szpiku ≥5%: porównanie z Xie 2023, Wu 2022 (słabe)"
        assert ct.stratum_source("overall benchmark") == "porównanie ogólne"
        assert ct.stratum_source("an older method's words") == "an older method's words"
        assert ct.stratum_label("not_recorded") == "blasty niezapisane"
        assert ct.schedule_word("short_14d") == "skrócony (wlew 14-dniowy)"
        assert ct.population_word("relapsed_refractory") == "nawrót lub oporność na leczenie"
        assert ct.scale_word("not_stated") == "nie podano"
        assert ct.scale_word("CTCAE v5.0") == "CTCAE v5.0"  # a scale's name is data
    with translation.override("en-gb"):
        assert ct.schedule_word("not_stated") == "not stated"
        assert ct.population_word("relapsed_refractory") == "relapsed or refractory"
        assert ct.schedule_word("weekly_9d") == "weekly_9d"  # an unknown code as it is


def test_the_cell_plots_page_shows_no_profile_codes(client, ward, officer):
    """The demo ward of a Polish officer: the cohorts table and the case-mix table speak Polish, no raw codes."""
    ward.language = "pl"
    ward.save()
    patient = make_patient(ward, "KRK-301")
    cycle = make_cycle(patient)
    make_event(cycle)  # a CRS grade 2
    benchmark_run_now(site=ward, trigger="manual")
    client.force_login(officer)
    page = _text(client.get(f"/sites/{ward.slug}/report/crs/any/all/plots/").content.decode())
    assert "not_stated" not in page and "relapsed_refractory" not in page and "standard_28d" not in page
    assert "overall benchmark" not in page and "blasts not recorded" not in page
    assert "porównanie ogólne" in page or "porównanie z" in page
