"""Benchmark plots are drawn by the job and kept where every process sees them (issue 12): the ``CellPlot``
table, not a per-process cache; a page request never draws a plot the job drew."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from reports import network_plots, plots
from reports.models import CellPlot
from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged_run(ward):
    for i in range(10):
        make_event(make_cycle(make_patient(ward, f"H-{i:03d}")), grade=3)
    run = benchmark_run_now(site=ward)
    assert [c for c in run.results["cells"] if c["flag"] and c["pooled"]]
    return run


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", html, flags=re.S)


def _images(html: str) -> list[tuple[str, str]]:
    """(src, alt) of each plot image of a page (the report links its stored plots, issue 12)."""
    return re.findall(r'<img src="(/sites/[^"]+/report/plots/[^"]+\.svg)" alt="([^"]+)"', html)


def refuse_figure(payload):
    raise AssertionError("a page request drew a plot")


def _refuse_drawing(monkeypatch) -> None:
    def refuse(cell):
        raise AssertionError("a page request drew a plot")
    monkeypatch.setattr(plots, "forest_svg", refuse)
    monkeypatch.setattr(plots, "funnel_svg", refuse)


def test_the_job_draws_the_plots_of_its_flagged_cells_into_the_shared_table(flagged_run):
    shown = [c for c in flagged_run.results["cells"] if c["flag"] and c["pooled"]]
    stored = CellPlot.objects.in_bulk([plots.cell_key(c) for c in shown])
    assert len(stored) == len(shown)
    for c in shown:
        assert stored[plots.cell_key(c)].forest_svg == str(plots.forest_svg(c))
        assert stored[plots.cell_key(c)].funnel_svg == str(plots.funnel_svg(c))


def test_the_report_page_draws_nothing_and_needs_no_process_cache(client, officer, flagged_run, monkeypatch):
    cache.clear()  # what another web process would have: no per-process cache at all
    _refuse_drawing(monkeypatch)
    client.force_login(officer)
    monkeypatch.setattr(network_plots, "cusum_figure", refuse_figure)
    html = client.get("/sites/ward-a/report/").content.decode()
    charts = network_plots.shown_cusums(flagged_run.results["monitoring"])  # drawn by the job too (issue 17)
    assert charts
    images = _images(html)
    assert "<svg" not in html  # linked, not inlined: the page is no longer mostly plots
    assert len(images) == 2 * len([c for c in flagged_run.results["cells"] if c["flag"] and c["pooled"]]) \
        + len(charts)
    for src, _alt in images:  # and each image request reads the stored plot
        response = client.get(src)
        assert response.status_code == 200 and response.content.startswith(b"<svg")


def test_a_cell_the_job_did_not_draw_is_drawn_once_then_shared(client, nurse, flagged_run, monkeypatch):
    cell = next(c for c in flagged_run.results["cells"] if c["pooled"] and not c["flag"])
    assert not CellPlot.objects.filter(key=plots.cell_key(cell)).exists()
    url = f"/sites/ward-a/report/{cell['category']}/{cell['grade_band']}/{cell['cycle_scope']}/plots/"
    client.force_login(nurse)
    images = [src for src, _alt in _images(client.get(url).content.decode())]
    assert len(images) == 2 and not CellPlot.objects.filter(key=plots.cell_key(cell)).exists()
    first = [client.get(src).content for src in images]  # the first image request draws both plots
    assert all(svg.startswith(b"<svg") for svg in first)
    assert CellPlot.objects.filter(key=plots.cell_key(cell)).exists()
    cache.clear()
    _refuse_drawing(monkeypatch)
    assert [client.get(src).content for src in images] == first


def test_a_failure_to_draw_leaves_the_run_done(ward, monkeypatch):
    for i in range(10):
        make_event(make_cycle(make_patient(ward, f"H-{i:03d}")), grade=3)
    monkeypatch.setattr(plots, "forest_svg", lambda cell: 1 / 0)
    run = benchmark_run_now(site=ward)
    assert run.status == "done" and not CellPlot.objects.exists()


def test_the_xlsx_export_draws_its_pngs_once_then_reads_them(client, nurse, flagged_run, monkeypatch):
    client.force_login(nurse)
    first = client.get("/sites/ward-a/export.xlsx").getvalue()
    shown = [c for c in flagged_run.results["cells"] if c["flag"] and c["pooled"]]
    assert all(p.forest_png and p.funnel_png for p in CellPlot.objects.filter(key__in=[plots.cell_key(c)
                                                                                       for c in shown]))

    def refuse(cell):
        raise AssertionError("an export drew a plot again")
    monkeypatch.setattr(plots, "forest_figure", refuse)
    monkeypatch.setattr(plots, "funnel_figure", refuse)
    assert len(client.get("/sites/ward-a/export.xlsx").getvalue()) == len(first)


def test_the_reports_data_quality_list_is_bounded(client, officer, ward, nurse, monkeypatch):
    from reports import views

    monkeypatch.setattr(views, "QUALITY_QUERIES_SHOWN", 2)
    cycle = make_cycle(make_patient(ward, "DQ-001"))
    for day in (2, 3, 4):
        make_event(cycle, "Hypoxia", grade=2, onset_day=day, computed_grade=3, grade_discrepancy_reason="bedside")
    client.force_login(officer)
    html = client.get("/sites/ward-a/report/").content.decode()
    assert html.count('class="query"') == 2 and "Only the 2 oldest open queries are shown" in html


def test_a_plot_image_is_cached_under_its_content_address_and_scoped_to_the_report(client, nurse, outsider,
                                                                                   flagged_run):
    client.force_login(nurse)
    src, alt = _images(client.get("/sites/ward-a/report/").content.decode())[0]
    cell = next(c for c in flagged_run.results["cells"] if c["flag"] and c["pooled"])
    assert src == f"/sites/ward-a/report/plots/{plots.cell_key(cell)}/forest.svg" and alt == plots.forest_label(cell)
    response = client.get(src)
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"  # not the pages' no-store
    assert response["ETag"] == f'"{plots.cell_key(cell)}-forest"'
    assert f"<title>{alt}</title>".encode() in response.content  # the text alternative inside the image too
    again = client.get(src, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    # only what this site's report shows: no other key, no other kind, no other site's URL
    assert client.get(src.replace(plots.cell_key(cell), "0" * 64)).status_code == 404
    assert client.get(src.replace("forest.svg", "script.svg")).status_code == 404
    assert client.get(src.replace("forest.svg", "chart.svg")).status_code == 404
    client.force_login(outsider)
    refused = client.get(src, HTTP_IF_NONE_MATCH=response["ETag"])
    assert refused.status_code == 404 and "no-store" in refused["Cache-Control"]
    assert client.get(src.replace("ward-a", "ward-b")).status_code == 404
