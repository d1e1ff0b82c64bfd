"""Network flags and CUSUM signals are stored flags, reviewed, signed and carried over like the literature flags
(issue 17; reports.signal_flags, docs/network-and-trends.md "Flags of the network and the CUSUM")."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import Membership, Notification, NotificationKind, Site
from reports import signal_flags
from reports.models import BenchmarkRun, Flag
from reports.runs import benchmark_run_now
from reports.signatures import flag_review
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient, make_user

pytestmark = pytest.mark.django_db

#: Nine other wards, CRS any grade x of n: 23 of 144 patients (16 %), homogeneous (τ² = 0 with ward A at 2/10).
OTHERS = [(2, 12), (3, 15), (2, 10), (4, 20), (1, 8), (2, 14), (3, 16), (2, 11), (3, 18)]


def _with_counts(results: dict, x: int, n: int) -> dict:
    """``results`` with the CRS cells (any grade and grade ≥3, both scopes) at x of n, every other cell at 0 of n."""
    out = copy.deepcopy(results)
    for cell in out["cells"]:
        cx = x if cell["category"] == "crs" else 0
        cell["ward"] = cell["ward"] | {"x": cx, "n": n, "rate": cx / n}
    return out


def _other_wards(template: BenchmarkRun) -> list[Site]:
    sites = []
    for i, (x, n) in enumerate(OTHERS):
        site = Site.objects.create(slug=f"net-{i}", name=f"Network ward {i}")
        BenchmarkRun.objects.create(site=site, status=BenchmarkRun.Status.DONE, finished_at=timezone.now(),
                                    inputs=template.inputs, results=_with_counts(template.results, x, n),
                                    method_version=template.method_version)
        sites.append(site)
    return sites


def _ward_with(ward: Site, with_crs: int, patients: int = 10, grade: int = 3) -> list:
    cycles = [make_cycle(make_patient(ward, f"S-{i:02d}")) for i in range(patients)]
    for cycle in cycles[:with_crs]:
        make_event(cycle, "Cytokine release syndrome", grade=grade)
    return cycles


def _flag(run: BenchmarkRun, kind: str, band: str = "any", scope: str = "all") -> Flag | None:
    return run.flags.filter(kind=kind, category__slug="crs", grade_band=band, cycle_scope=scope).first()


# --- CUSUM ---------------------------------------------------------------------------------------------------------

def test_a_ward_whose_cusum_crosses_h_gets_a_cusum_flag_that_is_reviewed_and_signed(ward, officer):
    _ward_with(ward, 8)  # 8 of 10 with grade 3 CRS: the chart crosses h
    run = benchmark_run_now(site=ward)
    chart = next(c for c in run.results["monitoring"]["cusum"] if (c["category"], c["grade_band"]) == ("crs", "any"))
    assert chart["signals"], chart["note"]
    flag = _flag(run, "cusum")
    assert flag is not None and (flag.level, flag.direction, flag.cycle_scope, flag.p_value) == (
        "SIGNAL", "above", "all", None)
    assert f"h = {chart['h']:.2f}" in flag.message and "in-control average run length 200" in flag.message
    assert flag.cell_values["kind"] == "cusum" and flag.cell_values["signals"] == chart["signals"]
    assert (flag.cell_values["x"], flag.cell_values["n"]) == (8, 10)
    assert _flag(run, "literature") is not None  # the literature flag of the same cell is a separate row
    signed = flag_review(flag=flag, acting_user=officer, comment="Checked: a run of true grade 3 CRS.",
                         password=PASSWORD)
    assert signed.reviewed_at is not None and signed.signer_name
    # a new notice for the new CUSUM flag, keyed by its kind
    notice = Notification.objects.filter(key=f"flag:{run.pk}:cusum:crs:any:all", recipient=officer).get()
    assert notice.kind == NotificationKind.NEW_FLAG and "CUSUM" in notice.subject


def test_the_next_run_carries_the_cusum_review_while_the_chart_is_unchanged(ward, officer):
    cycles = _ward_with(ward, 8)
    first = _flag(benchmark_run_now(site=ward), "cusum")
    signed = flag_review(flag=first, acting_user=officer, comment="Reviewed the CUSUM.", password=PASSWORD)
    make_event(cycles[0], "Anemia", grade=1)  # another category: the CRS chart does not change
    second = _flag(benchmark_run_now(site=ward), "cusum")
    assert second is not None and second.carried_review == signed
    assert second.cell_fingerprint == signed.cell_fingerprint
    make_event(cycles[9], "Cytokine release syndrome", grade=3)  # 9/10: the chart changed
    third = _flag(benchmark_run_now(site=ward), "cusum")
    assert third is not None and third.carried_review is None and third.signed_review is None
    # the literature flag of the same cell never carries the CUSUM review, nor the reverse
    assert _flag(Flag.objects.get(pk=second.pk).run, "literature").carried_review is None


def test_no_cusum_flag_when_the_chart_stays_below_h(ward):
    _ward_with(ward, 1, grade=2)
    run = benchmark_run_now(site=ward)
    assert not run.flags.filter(kind="cusum").exists()
    assert not [f for f in run.results["flags"] if f["kind"] == "cusum"]


# --- network -------------------------------------------------------------------------------------------------------

def test_a_ward_outside_the_funnels_99_8_limit_gets_a_network_flag(ward, officer):
    _ward_with(ward, 8, grade=2)  # 8/10 against 23/144 elsewhere: z ≈ 4.4, outside the 99.8 % limit
    _other_wards(benchmark_run_now(site=ward))
    run = benchmark_run_now(site=ward)
    assert run.inputs["network"]["wards"] == len(OTHERS)
    assert "Network ward" not in str(run.inputs["network"])  # the other wards are anonymous in the inputs
    flag = _flag(run, "network")
    assert flag is not None and (flag.level, flag.direction) == ("ALARM", "above")
    assert 0 < flag.p_value < 0.001
    assert flag.cell_values["network"]["wards"] == len(OTHERS) + 1
    assert "the network's 10 wards" in flag.message
    comparison = signal_flags.find(run.results["network"], "crs", "any", "all")
    assert comparison is not None and comparison["level"] == "ALARM"
    signed = flag_review(flag=flag, acting_user=officer, comment="Network outlier checked.", password=PASSWORD)
    assert signed.reviewed_at is not None
    again = _flag(benchmark_run_now(site=ward), "network")  # the other wards unchanged: the review carries
    assert again is not None and again.carried_review == signed


def test_a_ward_inside_the_funnel_gets_no_network_flag(ward):
    _ward_with(ward, 2, grade=2)
    _other_wards(benchmark_run_now(site=ward))
    run = benchmark_run_now(site=ward)
    comparison = signal_flags.find(run.results["network"], "crs", "any", "all")
    assert comparison is not None and comparison["flags_given"] and comparison["level"] is None
    assert not run.flags.filter(kind="network").exists()


def test_the_run_recomputes_exactly_from_its_inputs(ward):
    from reports import benchmark
    _ward_with(ward, 8, grade=2)
    _other_wards(benchmark_run_now(site=ward))
    run = benchmark_run_now(site=ward)
    Site.objects.filter(slug__startswith="net-").update(name="renamed")  # and another ward's newer run:
    BenchmarkRun.objects.filter(site__slug="net-0").update(results=None)
    assert benchmark.compute(run.inputs) == run.results


def test_a_ward_sees_only_its_own_network_and_cusum_flags(ward, officer, outsider, other_ward):
    _ward_with(ward, 8, grade=2)
    _other_wards(benchmark_run_now(site=ward))
    run = benchmark_run_now(site=ward)
    flag = _flag(run, "network")
    flag_review(flag=flag, acting_user=officer, comment="SECRET-REVIEW-TEXT", password=PASSWORD)
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/api/v1/benchmark-runs/{run.pk}/").status_code == 404
    assert client.get(f"/sites/{ward.slug}/report/").status_code == 404
    text = client.get(f"/sites/{other_ward.slug}/report/").content.decode()
    assert "SECRET-REVIEW-TEXT" not in text
    coordinator = make_user("coordinator", other_ward, Membership.Role.NETWORK_COORDINATOR)
    client.force_login(coordinator)
    page = client.get("/network/")
    assert page.status_code == 200 and "SECRET-REVIEW-TEXT" not in page.content.decode()
    assert client.get(f"/sites/{ward.slug}/report/").status_code == 404


def test_the_report_page_costs_the_same_for_few_or_many_flags(ward, officer, django_assert_max_num_queries):
    cycles = _ward_with(ward, 2, grade=3)
    _other_wards(benchmark_run_now(site=ward))
    few_run = benchmark_run_now(site=ward)
    n_few = few_run.flags.count()
    assert n_few >= 1 and few_run.flags.filter(reviewed_at__isnull=True, carried_review__isnull=True).exists()
    client = Client()
    client.force_login(officer)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/sites/{ward.slug}/report/").status_code == 200
    for cycle in cycles[2:8]:
        make_event(cycle, "Cytokine release syndrome", grade=3)
    run = benchmark_run_now(site=ward)
    assert set(run.flags.values_list("kind", flat=True)) == {"literature", "network", "cusum"}
    assert run.flags.count() > n_few
    with django_assert_max_num_queries(len(few)):
        page = client.get(f"/sites/{ward.slug}/report/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Over time (risk-adjusted CUSUM):" in text and "Other wards of the network:" in text
