"""Forest and funnel plots (server-side SVG), the per-cell detail page and the report's plots and progress bar."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from reports import benchmark, network_plots, plots, stats
from reports.models import BenchmarkRun
from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient
from tests.reports.test_benchmark import cell, figure, inputs_for

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def crs_cell() -> dict:
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("zero", 0, 12)]
    return cell(benchmark.compute(inputs_for(9, 20, figs)))


def _ids(markup: str) -> list[str]:
    return [el.get("id") for el in ET.fromstring(markup).iter() if el.get("id")]  # noqa: S314 -- our own generated SVG


@pytest.mark.parametrize("render", [plots.forest_svg, plots.funnel_svg])
def test_plots_are_svg_with_the_ward_marker_deterministic_and_script_free(crs_cell, render):
    markup = render(crs_cell)
    root = ET.fromstring(markup)  # noqa: S314 -- parses as XML
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text.endswith("Cytokine release syndrome, any grade, all cycles")
    ids = _ids(markup)
    assert any(i.endswith("-ward") for i in ids)  # the ward's marker
    assert len(ids) == len(set(ids))
    prefix = "forest-crs-any-all-" if render is plots.forest_svg else "funnel-crs-any-all-"
    assert all(i.startswith(prefix) for i in ids)  # several plots can share a page
    assert "<script" not in markup and "metadata" not in markup and "Date" not in markup
    assert render(crs_cell) == markup  # deterministic
    # The page's CSP (style-src 'self') would drop inline styles: everything is a presentation attribute.
    assert not [el for el in root.iter() if "style" in el.attrib] and root.find(f".//{SVG}style") is None
    assert any(el.get("stroke") for el in root.iter())


def test_forest_plot_shows_every_cohort_and_the_pooled_estimate(crs_cell):
    markup = plots.forest_svg(crs_cell)
    texts = " ".join(t.text or "" for t in ET.fromstring(markup).iter(f"{SVG}text"))  # noqa: S314
    for label in ("A 5/20", "B 8/30", "C 3/25", "Zero 0/12", "GLMM pooled median", "two-step REML/HK",
                  "This ward 9/20"):
        assert label in texts
    assert any(i.endswith("-pooled") for i in _ids(markup))
    assert any(i.endswith("-prediction-interval") for i in _ids(markup))


def test_funnel_limits_are_the_exact_predictive_flag_thresholds(crs_cell):
    data = plots.funnel_points(crs_cell)
    pooled = stats.pooled_from_dict(crs_cell["pooled"])
    for n, upper in zip(data["ns"], data["limits"][0.025]["upper"], strict=True):
        high, _ = stats.predictive_limits(n, pooled, 0.025)
        assert upper == (None if high is None else high / n)
    # The 99.8% limit lies at or outside the 95% one; the centre is the benchmark mean.
    for a, b in zip(data["limits"][0.001]["upper"], data["limits"][0.025]["upper"], strict=True):
        assert a is None or (b is not None and a >= b)
    assert data["centre"] == crs_cell["pooled"]["marginal_mean"]
    # The ward's n is covered.
    assert data["ns"][-1] >= crs_cell["ward"]["n"]


def test_a_cell_without_benchmark_cannot_be_plotted():
    c = cell(benchmark.compute(inputs_for(1, 10, [figure("a", 5, 20)], ward_ge3=1)), band="ge3")
    for render in (plots.forest_svg, plots.funnel_svg):
        with pytest.raises(ValueError):
            render(c)


def test_sanitise_strips_scripts_handlers_and_external_links():
    dirty = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="x()">'
             '<script>alert(1)</script><defs><path id="p1" d="M0 0"/></defs>'
             '<use xlink:href="#p1" onclick="y()"/><a href="javascript:alert(2)"><text>t</text></a>'
             '<g clip-path="url(#p1)"/><foreignObject><div/></foreignObject></svg>')
    clean = plots.sanitise_svg(dirty, "x-", "label")
    assert "script" not in clean and "onload" not in clean and "onclick" not in clean
    assert "javascript" not in clean and "foreignObject" not in clean
    assert 'id="x-p1"' in clean and 'href="#x-p1"' in clean and "url(#x-p1)" in clean


# --- pages --------------------------------------------------------------------------------------------------

def _crs_heavy_ward(site, n: int = 10) -> None:
    for i in range(n):
        make_event(make_cycle(make_patient(site, f"H-{i:03d}")), grade=3)


@pytest.mark.django_db
def test_report_shows_forest_and_funnel_plots_of_flagged_cells(client, ward, officer):
    _crs_heavy_ward(ward)
    run = benchmark_run_now(site=ward)
    flagged = [c for c in run.results["cells"] if c["flag"] and c["pooled"]]
    assert flagged
    client.force_login(officer)
    html = client.get("/sites/ward-a/report/").content.decode()
    for c in flagged:
        key = f"{c['category']}-{c['grade_band']}-{c['cycle_scope']}-"
        forest = client.get(f"/sites/ward-a/report/plots/{plots.cell_key(c)}/forest.svg").content.decode()
        funnel = client.get(f"/sites/ward-a/report/plots/{plots.cell_key(c)}/funnel.svg").content.decode()
        assert f'id="forest-{key}ward"' in forest and f'id="funnel-{key}ward"' in funnel
        assert f'alt="{plots.forest_label(c)}"' in html and f'alt="{plots.funnel_label(c)}"' in html
        assert f"/sites/ward-a/report/{c['category']}/{c['grade_band']}/{c['cycle_scope']}/plots/" in html
    charts = network_plots.shown_cusums(run.results["monitoring"])  # the CUSUM charts (issue 17)
    assert html.count('<img src="/sites/ward-a/report/plots/') == 2 * len(flagged) + len(charts)
    assert f"{run.results['n_comparisons']} comparisons" in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_cell_detail_page_shows_plots_weights_case_mix_and_boundary(client, ward, nurse):
    _crs_heavy_ward(ward)
    run = benchmark_run_now(site=ward)
    c = next(c for c in run.results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"])
             == ("crs", "any", "all"))
    client.force_login(nurse)
    response = client.get("/sites/ward-a/report/crs/any/all/plots/")
    assert response.status_code == 200
    html = response.content.decode()
    key = plots.cell_key(c)
    assert f'<img src="/sites/ward-a/report/plots/{key}/forest.svg" alt="{plots.forest_label(c)}">' in html
    assert 'id="forest-crs-any-all-ward"' in client.get(f"/sites/ward-a/report/plots/{key}/forest.svg").content.decode()
    assert 'id="funnel-crs-any-all-ward"' in client.get(f"/sites/ward-a/report/plots/{key}/funnel.svg").content.decode()
    for co in c["cohorts"]:
        assert co["short_name"] in html
    if c["two_step"]:
        assert "two-step logit, REML, Hartung–Knapp (ad hoc)" in html
    assert "Case mix" in html and "Pocock-type boundary" in html and "never used to flag" in html


@pytest.mark.django_db
def test_cell_detail_page_is_scoped_and_validated(client, ward, other_ward, outsider, nurse):
    _crs_heavy_ward(ward)
    benchmark_run_now(site=ward)
    client.force_login(outsider)
    assert client.get("/sites/ward-a/report/crs/any/all/plots/").status_code == 404
    client.force_login(nurse)
    assert client.get("/sites/ward-a/report/crs/any/bogus/plots/").status_code == 404
    assert client.get("/sites/ward-a/report/nosuch/any/all/plots/").status_code == 404
    client.logout()
    assert client.get("/sites/ward-a/report/crs/any/all/plots/").status_code == 302


@pytest.mark.django_db
def test_report_shows_a_progress_bar_and_reloads_while_a_run_is_running(client, ward, officer):
    BenchmarkRun.objects.create(site=ward, trigger="manual", status=BenchmarkRun.Status.RUNNING, progress=40)
    client.force_login(officer)
    html = client.get("/sites/ward-a/report/").content.decode()
    assert '<progress max="100" value="40">' in html and "40% of the benchmark cells computed" in html
    assert 'data-refresh-seconds="5"' in html and "report_refresh.js" in html
    BenchmarkRun.objects.all().delete()
    html = client.get("/sites/ward-a/report/").content.decode()
    assert "<progress" not in html and "report_refresh.js" not in html
