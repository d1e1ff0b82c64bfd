"""The benchmark plots in the reader's language (issue 15, item 4; docs/usability.md, "Language and formats"): the
words drawn inside the forest, funnel, network-funnel and CUSUM images and their SVG <title>/aria-label follow the
reader's language, with the language's decimal separator where a number is text; each language's plot is stored
under a key of its own, English plots as before (same key, same bytes), the XLSX export's PNGs stay English."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import translation

from patients.models import Membership
from patients.models.profiles import UserProfile
from reports import benchmark, network_plots, plots
from reports.models import CellPlot
from reports.plot_language import ENGLISH, plot_language
from reports.runs import benchmark_run_now
from tests.conftest import make_user
from tests.reports.test_benchmark import cell, figure, inputs_for
from tests.reports.test_network import OTHERS, build_network

SVG = "{http://www.w3.org/2000/svg}"

#: Every English word the cell plots draw (their message ids), none of which a Polish plot may show.
ENGLISH_WORDS = ("patients with the event", "patients (n)", "limit", "benchmark mean", "published cohorts",
                 "this ward", "This ward", "pooled median", "pooled count", "two-step", "Forest plot", "Funnel plot",
                 "any grade", "all cycles", "grade ≥3", "cycle 1")


@pytest.fixture(scope="module")
def crs_cell() -> dict:
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("zero", 0, 12)]
    return cell(benchmark.compute(inputs_for(9, 20, figs)))


def _texts(markup: str | bytes) -> list[str]:
    """The SVG's <title> and every drawn <text> (matplotlib keeps text as text)."""
    root = ET.fromstring(markup)  # noqa: S314 -- our own generated SVG
    return [root.find(f"{SVG}title").text, root.get("aria-label"), *(t.text or "" for t in root.iter(f"{SVG}text"))]


def _english_left(texts: list[str]) -> list[str]:
    return [t for t in texts if any(word in t for word in ENGLISH_WORDS)]


def test_the_plot_language_of_a_reader():
    assert [plot_language(c) for c in ("pl", "pl-pl", "PL", "en-gb", "en-us", "en", None, "", "de")] == [
        "pl", "pl", "pl", ENGLISH, ENGLISH, ENGLISH, ENGLISH, ENGLISH, ENGLISH]


def test_a_polish_cells_plots_draw_polish_words_and_no_english_ones(crs_cell):
    forest = _texts(plots.forest_svg(crs_cell, language="pl"))
    funnel = _texts(plots.funnel_svg(crs_cell, language="pl"))
    assert forest[0] == "Wykres drzewkowy: Cytokine release syndrome, dowolnego stopnia, wszystkie cykle" == forest[1]
    assert funnel[0].startswith("Wykres lejkowy: Cytokine release syndrome")  # the category name is data
    for word in ("pacjenci ze zdarzeniem (%)", "łączna mediana GLMM (95% CI, PI)", "Ten oddział 9/20",
                 "mediana dwuetapowa REML/HK (95% CI)", "A 5/20"):
        assert word in forest
    for word in ("pacjenci (n)", "pacjenci ze zdarzeniem (%)", "granica 95%", "granica 99,8%", "średnia porównania",
                 "opublikowane kohorty", "ten oddział"):
        assert word in funnel
    assert _english_left(forest) == [] and _english_left(funnel) == []


def test_english_plots_are_drawn_as_before_whatever_language_is_active(crs_cell):
    english = (str(plots.forest_svg(crs_cell)), str(plots.funnel_svg(crs_cell)))
    with translation.override("pl"):  # a Polish request drawing the English plot (the job, an English URL)
        assert (str(plots.forest_svg(crs_cell)), str(plots.funnel_svg(crs_cell))) == english
    assert "patients with the event (%)" in _texts(english[0]) and "99.8% limit" in _texts(english[1])
    assert plots.plot_key(crs_cell, ENGLISH) == plots.cell_key(crs_cell)  # the English key (and URL) unchanged
    assert plots.plot_key(crs_cell, "pl") != plots.cell_key(crs_cell)
    assert str(plots.forest_svg(crs_cell, language="pl")) == str(plots.forest_svg(crs_cell, language="pl"))


@pytest.mark.django_db
def test_a_polish_cusum_chart_writes_its_threshold_and_ticks_with_a_decimal_comma():
    chart = {"category_name": "Cytokine release syndrome", "grade_band": "any", "values": [0.0, 0.55, 1.2, 0.8, 2.6],
             "signals": [5], "h": 2.345, "outcomes": [0, 1, 1, 0, 1]}
    english_payload = network_plots.cusum_payload(chart)
    assert english_payload["title"] == "Cytokine release syndrome, any" and "language" not in english_payload
    payload = network_plots.cusum_payload(chart, "pl")
    assert network_plots.payload_key(payload) != network_plots.payload_key(english_payload)
    [polish, english] = network_plots.svgs([payload, english_payload])
    texts = _texts(polish)
    assert texts[0] == "Cytokine release syndrome, dowolnego stopnia"
    assert "próg h = 2,35" in texts and "pacjent ze zdarzeniem" in texts and "sygnał" in texts
    assert "pacjenci w kolejności leczenia" in texts and "0,5" in texts  # a tick label with decimals
    assert not [t for t in texts if re.search(r"\d\.\d|threshold|patient|signal", t)]
    assert "threshold h = 2.35" in _texts(english) and "0.5" in _texts(english)


# --- pages ------------------------------------------------------------------------------------------------------

def _images(html: str) -> list[str]:
    return re.findall(r'<img src="(/sites/[^"]+/report/plots/[^"]+\.svg)"', html)


def _refuse_drawing(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a page request drew a plot")
    for name in ("forest_figure", "funnel_figure"):
        monkeypatch.setattr(plots, name, refuse)
    monkeypatch.setattr(network_plots, "cusum_figure", refuse)


@pytest.mark.django_db
def test_a_polish_wards_job_draws_its_plots_in_polish_and_the_report_reads_them(polish_nurse, ward, crs_ward,
                                                                               monkeypatch):
    run = benchmark_run_now(site=ward)
    shown = [c for c in run.results["cells"] if c["flag"] and c["pooled"]]
    assert shown and CellPlot.objects.filter(key__in=[plots.plot_key(c, "pl") for c in shown]).count() == len(shown)
    assert CellPlot.objects.filter(key__in=[plots.cell_key(c) for c in shown]).count() == len(shown)  # and English
    _refuse_drawing(monkeypatch)  # a Polish page draws nothing the job drew
    images = _images(polish_nurse.get("/sites/ward-a/report/").content.decode())
    assert f"/sites/ward-a/report/plots/{plots.plot_key(shown[0], 'pl')}/forest.svg" in images
    assert not [src for src in images if any(plots.cell_key(c) in src for c in shown)]  # no English plot linked
    for src in images:
        texts = _texts(polish_nurse.get(src).content)
        assert _english_left(texts) == [], src
        assert "pacjenci ze zdarzeniem (%)" in texts or "pacjenci w kolejności leczenia" in texts


@pytest.mark.django_db
def test_a_polish_reader_of_an_english_ward_draws_once_then_reuses(client, ward, nurse, crs_ward, monkeypatch):
    run = benchmark_run_now(site=ward)
    c = next(c for c in run.results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"])
             == ("crs", "any", "all"))
    UserProfile.objects.update_or_create(user=nurse, defaults={"language": "pl"})
    client.force_login(nurse)
    url = "/sites/ward-a/report/crs/any/all/plots/"
    images = _images(client.get(url).content.decode())
    assert images == [f"/sites/ward-a/report/plots/{plots.plot_key(c, 'pl')}/{kind}.svg" for kind in ("forest",
                                                                                                         "funnel")]
    first = [client.get(src).content for src in images]  # drawn in Polish by the first image request
    assert "pacjenci ze zdarzeniem (%)" in _texts(first[0]) and "opublikowane kohorty" in _texts(first[1])
    _refuse_drawing(monkeypatch)
    assert [client.get(src).content for src in images] == first  # then read from the shared table
    # the English plot's URL still serves the English plot (a URL names what it draws)
    english = client.get(f"/sites/ward-a/report/plots/{plots.cell_key(c)}/forest.svg").content
    assert "patients with the event (%)" in _texts(english)
    # the XLSX export's PNGs stay English (the English row's), whoever asks
    monkeypatch.undo()
    assert client.get("/sites/ward-a/export.xlsx").status_code == 200
    assert CellPlot.objects.get(key=plots.cell_key(c)).forest_png is not None
    assert CellPlot.objects.get(key=plots.plot_key(c, "pl")).forest_png is None


@pytest.mark.django_db
def test_the_network_funnel_speaks_polish_and_keeps_the_other_wards_anonymous(ward):
    built = build_network(ward)
    ward.language = "pl"
    ward.save()
    nurse = make_user("nurse", ward, Membership.Role.WARD_STAFF)
    client = Client()
    client.force_login(nurse)
    html = client.get("/sites/ward-a/report/").content.decode()
    drawn = [client.get(src).content for src in _images(html)]
    funnels = [svg for svg in drawn if b"inny oddzia" in svg]
    assert funnels
    texts = _texts(funnels[0])
    assert texts[0].startswith("Cytokine release syndrome, dowolnego stopnia")
    assert any(t.endswith(" — oddziały sieci") for t in texts)
    assert all(f"inny oddział {i}" in texts for i in range(1, len(OTHERS) + 1))
    assert "Ward A (ten oddział) [ostrzeżenie]" in texts  # the flag level in words, as the table writes it
    for word in ("pacjenci (n)", "pacjenci ze zdarzeniem (%)", "granica 95%", "granica 99,8%", "częstość w sieci"):
        assert word in texts
    joined = " ".join(t for svg in funnels for t in _texts(svg))
    assert not re.search(r"other ward|this ward|network|patients|limit|ALERT|ALARM", joined)
    assert not any(name in joined for _, name, _, _ in OTHERS)  # site isolation unchanged
    assert len(re.findall(rb'id="[^"]*own"', funnels[0])) == 1

    coordinator = make_user("coordinator", built["sites"]["ward-c"], Membership.Role.NETWORK_COORDINATOR)
    UserProfile.objects.update_or_create(user=coordinator, defaults={"language": "pl"})
    client.force_login(coordinator)
    page = client.get("/network/").content.decode()
    inline = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert inline
    texts = _texts(inline[0])
    assert "pacjenci ze zdarzeniem (%)" in texts and any("Ward C" in t for t in texts)
    assert not re.search(r"other ward|inny oddział|network rate|patients \(n\)", " ".join(texts))
