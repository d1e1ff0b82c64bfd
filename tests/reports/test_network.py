"""The network comparison pages (reports.network, reports.views.network): who sees which ward by name, flags against
the network, the CUSUM / exposure / entry-lag section of the report, and bounded queries."""

from __future__ import annotations

import copy
import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from patients.models import Membership, Site
from reports.models import BenchmarkRun
from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient, make_user

#: (slug, name, CRS any-grade x, n) of the other wards; ward A (the fixture's) has 5 CRS among 6 patients.
OTHERS = [("ward-c", "Ward C", 2, 12), ("ward-d", "Ward D", 3, 15), ("ward-e", "Ward E", 2, 10),
          ("ward-f", "Ward F", 4, 20), ("ward-g", "Ward G", 1, 8)]


def _with_counts(results: dict, x: int, n: int) -> dict:
    """``results`` with every cell's ward count set to CRS-like x of n (CRS any grade) or 0 of n (other cells)."""
    out = copy.deepcopy(results)
    for cell in out["cells"]:
        cx = x if (cell["category"], cell["grade_band"]) == ("crs", "any") else 0
        cell["ward"] = cell["ward"] | {"x": cx, "n": n, "rate": cx / n}
    return out


@pytest.fixture
def network(ward: Site) -> dict:
    return build_network(ward)


def build_network(ward: Site) -> dict:
    """Ward A: 6 patients, 5 with CRS (a real run); wards C–G: stored runs with the same cells and their own counts."""
    for i in range(6):
        cycle = make_cycle(make_patient(ward, f"KRK-{i:03d}"))
        if i < 5:
            make_event(cycle, grade=2)
    run = benchmark_run_now(site=ward)
    assert run.status == BenchmarkRun.Status.DONE
    sites = {}
    for slug, name, x, n in OTHERS:
        site = Site.objects.create(slug=slug, name=name)
        BenchmarkRun.objects.create(site=site, status=BenchmarkRun.Status.DONE, finished_at=timezone.now(),
                                    inputs=run.inputs, results=_with_counts(run.results, x, n),
                                    method_version=run.method_version)
        sites[slug] = site
    return {"run": run, "sites": sites}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_coordinator_sees_every_ward_named(network, ward, nurse, officer, outsider, django_assert_max_num_queries):
    coordinator = make_user("coordinator", network["sites"]["ward-c"], Membership.Role.NETWORK_COORDINATOR)
    client = login(coordinator)
    with django_assert_max_num_queries(12):
        page = client.get("/network/")
    assert page.status_code == 200
    text = page.content.decode()
    for name in ["Ward A", *[o[1] for o in OTHERS]]:
        assert name in text
    assert not re.search(r"other ward \d", text)
    assert "Cytokine release syndrome, any grade" in text and "<svg" in text
    assert "Ward A: <strong>alert</strong> above the network" in text  # the level in words (flag_short)
    for user in (nurse, officer, outsider):
        assert login(user).get("/network/").status_code == 404


def test_coordinator_role_gives_no_ward_data(network, ward):
    coordinator = make_user("coordinator", ward, Membership.Role.NETWORK_COORDINATOR)
    client = login(coordinator)
    assert client.get("/sites/ward-a/report/").status_code == 404
    assert client.get("/sites/ward-a/patients/").status_code == 404


def _network_section(client: Client, text: str) -> str:
    """The report's network section with the SVG of each funnel it links as an image (issue 12) appended."""
    section = text[text.index('id="network"'):text.index('id="over-time"')]
    images = re.findall(r'<img src="([^"]+)"', section)
    assert images
    return section + "".join(client.get(src).content.decode() for src in images)


def test_ward_sees_its_own_point_and_the_others_anonymous(network, officer, django_assert_max_num_queries):
    client = login(officer)
    client.get("/sites/ward-a/report/")  # draws the plots once
    with django_assert_max_num_queries(60):
        page = client.get("/sites/ward-a/report/")
    section = _network_section(client, page.content.decode())
    assert "Ward A (this ward)" in section
    assert "other ward 1" in section and "other ward 5" in section
    for _, name, _, _ in OTHERS:
        assert name not in section
    # 5/6 against a network of 17/71 (θ0 23.9 %): above the 95 % limit; ward A's own outlying z inflates τ² (with
    # fewer than 10 wards winsorising trims nothing), which keeps it inside the 99.8 % one
    assert "<strong>alert</strong>: above the network" in section


def test_a_ward_working_on_two_wards_sees_both_named(network, officer):
    Membership.objects.create(user=officer, site=network["sites"]["ward-d"], role=Membership.Role.WARD_STAFF)
    client = login(officer)
    section = _network_section(client, client.get("/sites/ward-a/report/").content.decode())
    assert "Ward D" in section and "Ward C" not in section


def test_run_stores_cusum_exposure_and_entry_lag(network, officer):
    monitoring = network["run"].results["monitoring"]
    crs = next(c for c in monitoring["cusum"] if (c["category"], c["grade_band"]) == ("crs", "any"))
    assert len(crs["values"]) == 6 and crs["outcomes"] == [True] * 5 + [False]
    assert crs["h"] > 0
    exposure = next(r for r in monitoring["exposure"] if (r["category"], r["grade_band"]) == ("crs", "any"))
    assert (exposure["events"], exposure["cycles"], exposure["x"]) == (5, 6, 5)
    started = datetime.date(2026, 1, 5)
    assert exposure["days"] == 6 * min(28, (timezone.localdate() - started).days + 1)
    lag = monitoring["entry_lag"]
    assert lag["n"] == 5 and lag["median"] == (timezone.localdate() - datetime.date(2026, 1, 6)).days
    text = login(officer).get("/sites/ward-a/report/").content.decode()
    assert 'id="entry-lag"' in text and "Events per 100 patient-days of infusion" in text


def test_fewer_than_three_wards_show_no_comparison(ward, officer):
    make_event(make_cycle(make_patient(ward, "KRK-001")), grade=2)
    benchmark_run_now(site=ward)
    text = login(officer).get("/sites/ward-a/report/").content.decode()
    assert "No comparison with other wards" in text


def test_xlsx_sheet_names_only_the_ward(network, ward):
    import html
    import io
    import zipfile

    from reports.exports import xlsx_bytes
    from tests.reports.test_exports import workbook_text

    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ward))) as book:
        text = html.unescape(workbook_text(book))
        workbook = book.read("xl/workbook.xml").decode()
    assert 'name="Network and trends"' in workbook
    assert "Cytokine release syndrome, any grade, all cycles" in text and "5/6 (83.3%)" in text
    assert "alert: above the network" in text and "Events per 100 patient-days" in text
    assert "ALERT" not in text and "ge3" not in text
    assert "Ward C" not in text and "Ward D" not in text


def test_the_network_reads_each_wards_cell_counts_not_its_whole_run(network, ward, django_assert_num_queries):
    """Every report page and every ward's job reads the network: the other wards' stored results (≈ 220 KB of JSON
    for a 200-patient ward, most of it monitoring rows) must not travel for the few fields a comparison needs, or a
    ward's cost grows with the registry (issue 12)."""
    from reports.network import NETWORK_CELL_FIELDS, latest_runs

    with django_assert_num_queries(2):  # the latest runs, then the cells of those this process has not read
        runs = latest_runs()
        cells = [cell for run in runs for cell in run.network_cells]
    assert all("results" in run.get_deferred_fields() for run in runs)
    with django_assert_num_queries(1):  # the next page: the same finished runs' cells are remembered
        again = latest_runs()
    assert [run.network_cells for run in again] == [run.network_cells for run in runs]
    assert len(runs) == 6
    assert {frozenset(cell) for cell in cells} == {frozenset(NETWORK_CELL_FIELDS)}
    own = next(run for run in runs if run.site_id == ward.pk)
    stored = [c for c in network["run"].results["cells"] if c["ward"]["n"]]
    names = ("category", "category_name", "grade_band", "cycle_scope")
    assert own.network_cells == [
        {key: cell[key] for key in names}
        | {"definitions": {k: cell["definitions"].get(k) for k in ("scale_family", "attribution")},
           "ward": {"x": cell["ward"]["x"], "n": cell["ward"]["n"]},
           "literature_median": (cell["pooled"] or {}).get("median")} for cell in stored]
    assert any(c["literature_median"] is not None for c in own.network_cells)


def test_a_run_finished_again_gives_its_new_cells_not_the_remembered_ones(network, ward):
    """The remembered cells are keyed by (run, finished_at): a run whose results are stored again (a recomputation)
    is read again, never shown with its earlier cells."""
    from django.utils import timezone

    from reports.models import BenchmarkRun
    from reports.network import latest_runs

    def own_cells():
        return next(run for run in latest_runs() if run.site_id == ward.pk).network_cells

    before = own_cells()
    run = network["run"]
    results = run.results
    results["cells"] = [c for c in results["cells"] if c["category"] != before[0]["category"]]
    BenchmarkRun.objects.filter(pk=run.pk).update(results=results, finished_at=timezone.now())
    after = own_cells()
    assert after != before and all(c["category"] != before[0]["category"] for c in after)


class _Sheet:
    """What network_sheet writes, row by row (the part of xlsxwriter's worksheet it uses)."""

    def __init__(self):
        self.rows: dict[int, list] = {}
        self.formats: dict[int, object] = {}

    def set_column(self, *args, **kwargs):
        pass

    def write(self, row, col, value, fmt=None):
        self.rows.setdefault(row, []).append(value)

    def write_row(self, row, col, values, fmt=None):
        self.rows[row] = list(values)
        self.formats[row] = fmt

    def text(self) -> str:
        return "\n".join(" | ".join("" if v is None else str(v) for v in row) for _, row in sorted(self.rows.items()))


class _Book:
    def __init__(self):
        self.sheet = _Sheet()

    def add_worksheet(self, name):
        return self.sheet

    def add_format(self, props=None):
        return props


def test_the_xlsx_monitoring_rows_say_flags_and_bands_in_words(ward):
    """Issue 17 item 5, no raw codes in exports: the CUSUM and entry-lag flags and the grade bands in words
    ("CUSUM signal", "late entry", "grade ≥3"), the CUSUM note said once, the chart values as numbers."""
    from reports.network_export import network_sheet

    run = BenchmarkRun(site=ward, results={"monitoring": {
        "entry_lag": {"flag": "LATE ENTRY", "message": "median 12 days after onset"},
        "cusum": [{"category_name": "Cytokine release syndrome", "grade_band": "any", "h": 2.421875,
                   "values": [0.7, 2.5], "flag": "CUSUM SIGNAL",
                   "note": "signalled at patient 6: the events came faster than the benchmark's expected rate"},
                  {"category_name": "Neurotoxicity", "grade_band": "ge3", "h": 1.7607421875, "values": [0.0],
                   "flag": None, "note": "no signal: the chart is at 0.00 of a threshold of 1.76"}],
        "exposure": [{"category_name": "Neurotoxicity", "grade_band": "ge3", "x": 1, "n": 3, "events": 1,
                      "cycles": 3, "per_cycle": 1 / 3, "days": 42, "per_100_days": 100 / 42}]}})
    book = _Book()
    network_sheet(book, ward, run, bold=None)
    text = book.sheet.text()
    assert "late entry | median 12 days after onset" in text
    assert ("Cytokine release syndrome, any grade | 2.421875 | 2.5 | CUSUM signal: signalled at patient 6: the events "
            "came faster") in text
    assert "Neurotoxicity, grade ≥3 | 1.7607421875 | 0.0 | no signal: the chart is at 0.00 of a threshold" in text
    assert "Neurotoxicity, grade ≥3 | 1/3 | 1 | 3 |" in text
    assert not re.search(r"CUSUM SIGNAL|LATE ENTRY|\bge3\b|no signal: no signal", text), text
