"""Benchmarking a ward against the published cohorts: counting, pooling, flags, runs, review and the report."""

from __future__ import annotations

import datetime
import itertools
import json
import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy import integrate, special
from scipy import stats as sps

from patients.models import Patient
from reports import benchmark, cells, stats
from reports.models import BenchmarkRun, CohortFigure, Flag
from reports.runs import benchmark_execute, benchmark_run_now
from reports.signatures import flag_review
from tests.conftest import PASSWORD, make_cycle, make_event, make_patient

THRESHOLDS = {"ALARM_P": 0.001, "ALERT_P": 0.025, "WATCH_P": 0.025, "LOW_P": 0.025,
              "MIN_COHORTS": 3, "MIN_EVENTS": 3, "MAX_ATTEMPTS": 3}
_IDS = itertools.count(1)
CRS = {"slug": "crs", "name": "Cytokine release syndrome", "terms": ["Cytokine release syndrome"]}


# --- helpers -----------------------------------------------------------------------------------------------

def figure(cohort: str, x: int | None, n: int | None, *, band: str = "any", scope: str = "all",
           unit: str = "patients", stratum: str = "all", category: str = "crs", pct: float | None = None) -> dict:
    """A cohort figure in the shape ``collect_inputs`` produces."""
    return {"id": next(_IDS), "cohort": cohort,
            "short_name": cohort.title(), "category": category, "grade_band": band, "cycle_scope": scope,
            "unit": unit, "numerator": x, "denominator": n, "percent_printed": pct, "stratum": stratum,
            "scale": "ctcae_v5_0", "schedule": "standard_28d", "population": "relapsed_refractory"}


def inputs_for(ward_any: int, n: int, figures: list[dict], *, ward_ge3: int = 0, excluded_cohort: str = "") -> dict:
    """Hand-made ``compute`` inputs: one category (CRS), a ward of n patients all with a cycle 1."""
    return {
        "site": "test-ward", "method_version": benchmark.METHOD_VERSION, "thresholds": dict(THRESHOLDS),
        "denominators": {"all": n, "first": n}, "strata": {"blasts_ge5": n, "blasts_lt5": 0},
        "categories": [CRS],
        "ward": {"crs|any|all": ward_any, "crs|any|first": ward_any, "crs|ge3|all": ward_ge3,
                 "crs|ge3|first": ward_ge3},
        "figures": figures, "excluded_cohort": excluded_cohort,
    }


def cell(results: dict, band: str = "any", scope: str = "all", category: str = "crs") -> dict:
    return next(c for c in results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"])
                == (category, band, scope))


def clopper_pearson(x: int, n: int) -> tuple[float, float]:
    """Exact 95% CI from beta quantiles (Clopper & Pearson 1934), written out independently of the app."""
    lower = 0.0 if x == 0 else sps.beta.ppf(0.025, x, n - x + 1)
    upper = 1.0 if x == n else sps.beta.ppf(0.975, x + 1, n - x)
    return lower, upper


def build_crs_ward(site, n_patients: int = 10) -> list[Patient]:
    """n patients with one cycle each (+ one without a cycle) and the CRS events described in the test below.

    P0: CRS grade 1 and grade 2 (two events, counts once); P1, P2: CRS grade 2; P3: CRS grade 3;
    P4: CRS grade 2 present before the cycle (not treatment-emergent, must not count);
    P5: Anemia grade 3 (other category). The rest: no events.
    """
    patients = [make_patient(site, f"P-{i:03d}") for i in range(n_patients)]
    cycles = [make_cycle(p, start=datetime.date(2026, 1, 5) + datetime.timedelta(days=i)) for i, p in
              enumerate(patients)]
    make_patient(site, "NO-CYCLE")  # never treated: not in any denominator
    make_event(cycles[0], grade=1, onset_day=2)
    make_event(cycles[0], grade=2, onset_day=9)
    make_event(cycles[1], grade=2)
    make_event(cycles[2], grade=2)
    make_event(cycles[3], grade=3)
    make_event(cycles[4], grade=2, onset_day=1, present_before_cycle=True)
    make_event(cycles[5], "Anemia", grade=3)
    return patients


# --- collect_inputs: the ward's counts ---------------------------------------------------------------------

@pytest.mark.django_db
def test_ward_counts_patients_once_and_ignores_pre_existing_events(ward):
    build_crs_ward(ward)
    inputs = benchmark.collect_inputs(ward)
    # Patients P0-P3 had a treatment-emergent CRS (P0 twice: counted once); P4's CRS predates the cycle.
    assert inputs["ward"]["crs|any|all"] == 4
    assert inputs["ward"]["crs|any|first"] == 4
    # Only P3 reached grade 3.
    assert inputs["ward"]["crs|ge3|all"] == 1
    # Anemia grade 3 of P5 counts under anemia only.
    assert inputs["ward"]["anemia|any|all"] == 1 and inputs["ward"]["anemia|ge3|all"] == 1
    assert inputs["ward"]["neurotoxicity|any|all"] == 0
    # 10 treated patients; the patient without a cycle is not in the denominator.
    assert inputs["denominators"] == {"all": 10, "first": 10}
    json.dumps(inputs)  # storable as the run's inputs


@pytest.mark.django_db
def test_ward_counts_do_not_leak_between_sites(ward, other_ward):
    build_crs_ward(other_ward)
    inputs = benchmark.collect_inputs(ward)
    assert inputs["denominators"] == {"all": 0, "first": 0}
    assert all(v == 0 for v in inputs["ward"].values())


@pytest.mark.django_db
def test_first_cycle_scope_counts_only_cycle_one(ward):
    patient = make_patient(ward, "C2-ONLY")
    make_cycle(patient, 1, start=datetime.date(2026, 1, 5))
    c2 = make_cycle(patient, 2, start=datetime.date(2026, 3, 2))
    make_event(c2, grade=3)
    later = make_patient(ward, "STARTS-C2")
    make_cycle(later, 2, start=datetime.date(2026, 3, 2))  # cycle 1 given elsewhere / not recorded
    inputs = benchmark.collect_inputs(ward)
    assert inputs["ward"]["crs|ge3|all"] == 1 and inputs["ward"]["crs|ge3|first"] == 0
    assert inputs["denominators"] == {"all": 2, "first": 1}


def _queries_for_collect_inputs(site, n_patients: int) -> int:
    for i in range(n_patients):
        cycle = make_cycle(make_patient(site, f"Q-{n_patients}-{i:03d}"))
        make_event(cycle, grade=2 + i % 2)
        make_event(cycle, "Anemia", grade=1 + i % 4)
    with CaptureQueriesContext(connection) as ctx:
        benchmark.collect_inputs(site)
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_collect_inputs_query_count_does_not_grow_with_patients(ward, other_ward):
    small = _queries_for_collect_inputs(ward, 2)
    large = _queries_for_collect_inputs(other_ward, 20)
    assert small == large
    assert large <= 8  # 5 + the ward's first-cycle treatment mix (3, patients.selectors.treatment_mix)


# --- compute: hand-made inputs -----------------------------------------------------------------------------

def test_ward_rate_and_exact_ci():
    results = benchmark.compute(inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)]))
    ward = cell(results)["ward"]
    assert (ward["x"], ward["n"]) == (4, 10)
    assert ward["rate"] == pytest.approx(0.4)
    lower, upper = clopper_pearson(4, 10)  # about 0.1216-0.7376
    assert ward["ci"] == pytest.approx([lower, upper], abs=1e-9)
    # Boundaries: 0 events -> lower limit 0, upper 1 - 0.025**(1/n) for n = 10.
    zero = cell(benchmark.compute(inputs_for(0, 10, [figure("a", 5, 20)])))["ward"]
    assert zero["ci"][0] == 0.0
    assert zero["ci"][1] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)


def test_pool_uses_the_glmm_with_three_cohorts_and_enough_events():
    results = benchmark.compute(inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)]))
    c = cell(results)
    assert [co["cohort"] for co in c["cohorts"]] == ["a", "b", "c"]
    pooled = c["pooled"]
    assert pooled["method"] == "glmm_ml" and pooled["weak"] is False
    assert (pooled["k"], pooled["events"], pooled["total"]) == (3, 16, 75)
    assert pooled["ci"][0] < pooled["median"] < pooled["ci"][1]
    assert pooled["pi"][0] <= pooled["ci"][0] and pooled["pi"][1] >= pooled["ci"][1]


def test_pool_falls_back_to_a_weak_common_effect_count_with_two_cohorts():
    results = benchmark.compute(inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30)]))
    pooled = cell(results)["pooled"]
    assert pooled["method"] == "common_effect" and pooled["weak"] is True
    assert "2 comparable cohorts" in pooled["reason"]
    # Common effect: 13 events among 50 patients, exact CI of 13/50.
    assert pooled["median"] == pytest.approx(13 / 50)
    assert pooled["ci"] == pytest.approx(list(clopper_pearson(13, 50)), abs=1e-9)


def test_pool_falls_back_when_cohorts_have_fewer_than_three_events():
    results = benchmark.compute(inputs_for(0, 10, [figure("a", 1, 20), figure("b", 0, 30), figure("c", 1, 25)]))
    pooled = cell(results)["pooled"]
    assert pooled["method"] == "common_effect" and pooled["weak"] is True
    assert "2 events" in pooled["reason"]


def test_figures_that_are_not_comparable_are_excluded_with_reasons():
    figures = [
        figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25),
        figure("events", 12, 40, unit="events"),
        figure("pct-only", None, None, pct=22.0),
        figure("later-cycles", 2, 10, scope="cycle_2_plus"),
        figure("stratum", 1, 3, stratum="blasts_ge5"),
        figure("own", 6, 18),
    ]
    c = cell(benchmark.compute(inputs_for(4, 10, figures, excluded_cohort="own")))
    assert sorted(co["cohort"] for co in c["cohorts"]) == ["a", "b", "c"]
    reasons = {e["cohort"]: e["reason"] for e in c["excluded"]}
    assert reasons["events"] == "counts events, not patients"
    assert reasons["pct-only"] == "percentage without a stated denominator"
    assert "cycle 2 plus" in reasons["later-cycles"] and "all cycles" in reasons["later-cycles"]
    assert "blasts_ge5" in reasons["stratum"]
    assert reasons["own"] == benchmark.OWN_COHORT
    assert set(reasons) == {"events", "pct-only", "later-cycles", "stratum", "own"}
    assert c["pooled"]["k"] == 3


def test_a_cohort_is_used_once_per_cell():
    figures = [figure("a", 5, 20), figure("a", 6, 20), figure("b", 8, 30), figure("c", 3, 25)]
    c = cell(benchmark.compute(inputs_for(4, 10, figures)))
    assert [co["cohort"] for co in c["cohorts"]] == ["a", "b", "c"]
    assert c["excluded"] == [{"cohort": "a", "short_name": "A",
                              "reason": "another figure of this cohort is already used for this cell"}]


def test_many_events_against_a_low_benchmark_is_flagged_above():
    # Benchmark about 3.5% (4/115). The chance of >=8 of 10 patients at such a rate is far below 0.001
    # (C(10,8) * 0.035**8 ~ 1e-10), even allowing for the uncertainty of the pooled rate.
    low = [figure("a", 1, 30), figure("b", 2, 40), figure("c", 1, 45)]
    results = benchmark.compute(inputs_for(8, 10, low))
    c = cell(results)
    assert c["flag"]["level"] == "ALARM" and c["flag"]["direction"] == "above"
    assert c["p_upper"] < THRESHOLDS["ALARM_P"]
    assert "8 of 10 patients" in c["flag"]["message"]
    flags = {(f["category"], f["grade_band"], f["cycle_scope"]): f for f in results["flags"]}
    # Only the cell with comparable figures is flagged: no cohort reports cycle 1 alone here.
    assert set(flags) == {("crs", "any", "all")}
    assert flags[("crs", "any", "all")]["level"] == "ALARM"


def test_predictive_tail_matches_an_independent_integral_and_raises_an_alert():
    # Three identical cohorts (3/30 each): the ML between-cohort variance is 0, so the predictive
    # distribution of the ward rate is logit p ~ N(logit(9/90), SE^2) with SE^2 = 1/9 + 1/81 (logit of the
    # pooled count). The ward's upper tail P(X >= 5 | n = 10) is the binomial tail averaged over it.
    cohorts = [figure("a", 3, 30), figure("b", 3, 30), figure("c", 3, 30)]
    c = cell(benchmark.compute(inputs_for(5, 10, cohorts)))
    assert c["pooled"]["tau2"] == 0.0
    mu, sd = math.log(9 / 81), math.sqrt(1 / 9 + 1 / 81)
    expected, _ = integrate.quad(
        lambda z: sps.binom.sf(4, 10, special.expit(mu + sd * z)) * sps.norm.pdf(z), -12, 12, epsabs=1e-12)
    assert c["p_upper"] == pytest.approx(expected, rel=1e-4)
    # The fixed-rate tail at 10% alone is 0.0016; the pooled rate's uncertainty widens it past 0.001.
    assert THRESHOLDS["ALARM_P"] < expected < THRESHOLDS["ALERT_P"]
    assert (c["flag"]["level"], c["flag"]["direction"]) == ("ALERT", "above")
    assert c["p_fixed"] == pytest.approx(sps.binom.sf(4, 10, 0.1), rel=1e-9)


def test_no_events_against_a_high_benchmark_asks_to_check_ascertainment():
    # Cohorts around 60%: P(0 of 20 | p=0.6) = 0.4**20 ~ 1e-8, so a silent ward suggests under-reporting.
    high = [figure("a", 12, 20), figure("b", 18, 30), figure("c", 15, 25)]
    c = cell(benchmark.compute(inputs_for(0, 20, high)))
    assert c["flag"]["level"] == "CHECK_ASCERTAINMENT"
    assert c["flag"]["direction"] == "below"
    assert c["p_lower"] < THRESHOLDS["LOW_P"]
    assert "under-reporting" in c["flag"]["message"]


def test_above_the_average_but_within_the_spread_is_a_watch():
    # Heterogeneous cohorts (5%, 25%, 10%): a ward of 7/20 exceeds the average rate but a new centre at
    # 35% is plausible under the between-cohort spread, so it is WATCH, not ALERT.
    cohorts = [figure("a", 2, 40), figure("b", 10, 40), figure("c", 4, 40)]
    c = cell(benchmark.compute(inputs_for(7, 20, cohorts)))
    pooled = c["pooled"]
    assert pooled["method"] == "glmm_ml" and pooled["tau2"] > 0
    # Marginal mean = E[expit(mu + tau Z)], Z ~ N(0, 1), by direct integration.
    mean, _ = integrate.quad(lambda z: special.expit(pooled["mu"] + math.sqrt(pooled["tau2"]) * z)
                             * sps.norm.pdf(z), -12, 12, epsabs=1e-12)
    assert pooled["marginal_mean"] == pytest.approx(mean, rel=1e-6)
    p_fixed = sps.binom.sf(6, 20, mean)  # P(X >= 7 | n = 20, p = marginal mean)
    assert p_fixed < THRESHOLDS["WATCH_P"] and c["p_upper"] >= THRESHOLDS["ALERT_P"]
    assert c["flag"]["level"] == "WATCH" and c["flag"]["direction"] == "above"
    assert c["flag"]["p_value"] == pytest.approx(p_fixed, rel=1e-6)


def test_a_ward_matching_the_benchmark_is_not_flagged():
    high = [figure("a", 12, 20), figure("b", 18, 30), figure("c", 15, 25)]
    results = benchmark.compute(inputs_for(12, 20, high))  # 60% like the cohorts
    c = cell(results)
    assert c["flag"] is None
    assert c["p_upper"] > 0.2 and c["p_lower"] > 0.2
    assert results["flags"] == []


def test_a_cell_without_comparable_figures_has_no_benchmark_and_no_flag():
    c = cell(benchmark.compute(inputs_for(9, 10, [figure("a", 5, 20)], ward_ge3=9)), band="ge3")
    assert c["pooled"] is None and c["flag"] is None
    assert c["note"] == "no comparable published figure"


def test_compute_is_deterministic_and_json_serialisable():
    inputs = inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)])
    first = benchmark.compute(inputs)
    assert json.loads(json.dumps(first)) == first
    assert benchmark.compute(json.loads(json.dumps(inputs))) == first


# --- stored runs -------------------------------------------------------------------------------------------

def _high_crs_ward(site, n: int = 10) -> None:
    """Every patient had grade 3 CRS: far above every published grade >=3 CRS rate (all under 20%)."""
    for i in range(n):
        make_event(make_cycle(make_patient(site, f"H-{i:03d}")), grade=3)


@pytest.mark.django_db
def test_a_stored_run_can_be_recomputed_exactly_from_its_inputs(ward):
    build_crs_ward(ward)
    run = benchmark_run_now(site=ward)
    assert run.status == BenchmarkRun.Status.DONE
    assert run.method_version == benchmark.METHOD_VERSION
    assert run.inputs["ward"]["crs|any|all"] == 4
    assert benchmark.compute(run.inputs) == run.results


@pytest.mark.django_db
def test_benchmark_execute_claims_a_run_once(ward):
    _high_crs_ward(ward)
    run = BenchmarkRun.objects.create(site=ward, trigger=BenchmarkRun.Trigger.MANUAL)
    first = benchmark_execute(run.pk)
    second = benchmark_execute(run.pk)
    assert first is not None and first.pk == run.pk
    assert second is None
    run.refresh_from_db()
    assert run.status == BenchmarkRun.Status.DONE and run.attempts == 1
    flags = Flag.objects.filter(run=run)
    assert flags.count() == len(run.results["flags"]) >= 1
    crs = flags.get(kind="literature", category__slug="crs", grade_band="ge3", cycle_scope="all")
    assert crs.level in {"ALERT", "ALARM"} and crs.direction == "above"


@pytest.mark.django_db
def test_benchmark_execute_ignores_a_finished_run(ward):
    run = benchmark_run_now(site=ward)
    assert benchmark_execute(run.pk) is None
    run.refresh_from_db()
    assert run.attempts == 1


@pytest.mark.django_db
def test_a_run_abandoned_by_a_dead_worker_is_reclaimed(ward, settings):
    stale = timezone.now() - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    run = BenchmarkRun.objects.create(site=ward, trigger="manual", status="running", started_at=stale, attempts=1)
    assert benchmark_execute(run.pk) is not None
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("done", 2)


@pytest.mark.django_db
def test_a_run_still_being_computed_is_not_taken_over(ward):
    run = BenchmarkRun.objects.create(site=ward, trigger="manual", status="running", started_at=timezone.now(),
                                      attempts=1)
    assert benchmark_execute(run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.attempts, run.results) == ("running", 1, None)


@pytest.mark.django_db
def test_a_run_is_given_up_after_the_maximum_attempts(ward, settings):
    limit = settings.PVTRACK_BENCHMARK["MAX_ATTEMPTS"]
    stale = timezone.now() - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    run = BenchmarkRun.objects.create(site=ward, trigger="manual", status="running", started_at=stale,
                                      attempts=limit)
    assert benchmark_execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == "failed" and f"gave up after {limit} attempts" in run.error
    assert not run.flags.exists()


@pytest.mark.django_db
def test_a_failing_computation_is_stored_on_the_run(ward, monkeypatch):
    def boom(inputs):
        raise ZeroDivisionError("synthetic failure")

    monkeypatch.setattr(benchmark, "compute", boom)
    run = BenchmarkRun.objects.create(site=ward, trigger="manual")
    with pytest.raises(ZeroDivisionError):
        benchmark_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "synthetic failure" in run.error and run.finished_at is not None
    assert run.results is None and not run.flags.exists()


# --- flag review -------------------------------------------------------------------------------------------

@pytest.fixture
def flagged_run(ward):
    _high_crs_ward(ward)
    run = benchmark_run_now(site=ward)
    assert run.flags.exists()
    return run


@pytest.mark.django_db
def test_only_the_sites_safety_officer_may_review_a_flag(flagged_run, nurse, officer, outsider):
    flag = flagged_run.flags.first()
    for user in (nurse, outsider):
        with pytest.raises(PermissionDenied):
            flag_review(flag=flag, acting_user=user, comment="looked at it", password=PASSWORD)
        flag.refresh_from_db()
        assert flag.reviewed_at is None and flag.review_comment == ""
    reviewed = flag_review(flag=flag, acting_user=officer, comment="  Grading checked with the team.  ",
                           password=PASSWORD)
    flag.refresh_from_db()
    assert flag.reviewed_by == officer and flag.reviewed_at is not None
    assert flag.review_comment == "Grading checked with the team." == reviewed.review_comment


@pytest.mark.django_db
def test_a_blank_review_comment_is_refused(flagged_run, officer):
    flag = flagged_run.flags.first()
    with pytest.raises(ValidationError) as exc:
        flag_review(flag=flag, acting_user=officer, comment="   ", password=PASSWORD)
    assert "comment" in exc.value.message_dict
    flag.refresh_from_db()
    assert flag.reviewed_at is None and flag.reviewed_by is None


@pytest.mark.django_db
def test_a_flag_is_reviewed_only_once(flagged_run, officer):
    flag = flagged_run.flags.first()
    flag_review(flag=flag, acting_user=officer, comment="first", password=PASSWORD)
    with pytest.raises(ValidationError, match="already reviewed"):
        flag_review(flag=flag, acting_user=officer, comment="second", password=PASSWORD)
    flag.refresh_from_db()
    assert flag.review_comment == "first"


@pytest.mark.django_db
def test_review_through_the_page(client, flagged_run, nurse, officer, outsider):
    flag = flagged_run.flags.first()
    url = f"/flags/{flag.pk}/review/"
    client.force_login(outsider)
    assert client.post(url, {"comment": "x"}).status_code == 404
    client.force_login(nurse)
    response = client.post(url, {"comment": "x"}, follow=True)
    assert "Only a safety officer" in response.content.decode()
    flag.refresh_from_db()
    assert flag.reviewed_at is None
    client.force_login(officer)
    response = client.post(url, {"comment": "Checked: true grade 3 CRS, reported to PV.", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/sites/ward-a/report/"
    flag.refresh_from_db()
    assert flag.reviewed_by == officer and flag.review_comment == "Checked: true grade 3 CRS, reported to PV."


# --- report and drill-down pages ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_report_shows_the_flags(client, flagged_run, officer):
    client.force_login(officer)
    response = client.get("/sites/ward-a/report/")
    assert response.status_code == 200
    html = response.content.decode()
    flags = list(flagged_run.flags.all())
    assert flags
    for flag in flags:
        assert cells.flag_label(flag.level, flag.kind) in html  # plain words, no raw code (issue 17 item 5)
        assert f"/flags/{flag.pk}/review/" in html  # the officer can review it here
    assert "/sites/ward-a/report/crs/ge3/all/" in html


@pytest.mark.django_db
def test_drilldown_lists_exactly_the_events_behind_the_number(client, ward, nurse):
    patients = build_crs_ward(ward)
    benchmark_run_now(site=ward)
    client.force_login(nurse)
    response = client.get("/sites/ward-a/report/crs/any/all/")
    assert response.status_code == 200
    events = list(response.context["events"])
    # P0's two events, P1, P2 and P3; not P4's pre-existing CRS, not P5's anemia.
    assert sorted(e.patient.study_id for e in events) == ["P-000", "P-000", "P-001", "P-002", "P-003"]
    assert response.context["n_patients"] == 4 == benchmark.collect_inputs(ward)["ward"]["crs|any|all"]
    html = response.content.decode()
    assert patients[4].study_id not in html and patients[5].study_id not in html

    ge3 = client.get("/sites/ward-a/report/crs/ge3/all/")
    assert [e.patient.study_id for e in ge3.context["events"]] == ["P-003"]


@pytest.mark.django_db
def test_drilldown_of_cycle_one_leaves_out_later_cycles(client, ward, nurse):
    patient = make_patient(ward, "TWO-CYCLES")
    c1 = make_cycle(patient, 1, start=datetime.date(2026, 1, 5))
    c2 = make_cycle(patient, 2, start=datetime.date(2026, 3, 2))
    first = make_event(c1, grade=1)
    later = make_event(c2, grade=3)
    client.force_login(nurse)
    assert [e.pk for e in client.get("/sites/ward-a/report/crs/any/first/").context["events"]] == [first.pk]
    assert [e.pk for e in client.get("/sites/ward-a/report/crs/ge3/all/").context["events"]] == [later.pk]
    assert list(client.get("/sites/ward-a/report/crs/ge3/first/").context["events"]) == []


@pytest.mark.django_db
def test_report_before_any_run_says_so(client, ward, officer):
    client.force_login(officer)
    response = client.get("/sites/ward-a/report/")
    assert response.status_code == 200
    assert "No benchmark has been computed yet." in response.content.decode()


@pytest.mark.django_db
def test_drilldown_rejects_unknown_band_or_scope(client, ward, nurse):
    client.force_login(nurse)
    assert client.get("/sites/ward-a/report/crs/ge4/all/").status_code == 404
    assert client.get("/sites/ward-a/report/crs/any/second/").status_code == 404
    assert client.get("/sites/ward-a/report/nosuch/any/all/").status_code == 404


@pytest.mark.django_db
def test_outsider_gets_404_on_report_and_drilldown(client, flagged_run, outsider):
    client.force_login(outsider)
    assert client.get("/sites/ward-a/report/").status_code == 404
    assert client.get("/sites/ward-a/report/crs/any/all/").status_code == 404


@pytest.mark.django_db
def test_report_requires_login(client, ward):
    response = client.get("/sites/ward-a/report/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- two-step sensitivity, posterior, property tests, reproducibility -------------------------------------------

def test_each_cell_shows_the_two_step_reml_hk_sensitivity_with_weights():
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("zero", 0, 12)]
    c = cell(benchmark.compute(inputs_for(4, 10, figs)))
    two = c["two_step"]
    ref = stats.two_step_logit([5, 8, 3, 0], [20, 30, 25, 12])
    assert two["median"] == pytest.approx(ref.median, abs=1e-12)
    assert two["ci"] == pytest.approx(list(ref.ci_prop)) and two["pi"] == pytest.approx(list(ref.pi_prop))
    assert [w["cohort"] for w in two["weights"]] == ["a", "b", "c", "zero"]
    assert sum(w["weight"] for w in two["weights"]) == pytest.approx(100.0)
    assert [w["corrected"] for w in two["weights"]] == [False, False, False, True]
    assert "Hartung-Knapp ad hoc" in two["ci_critical"]
    # One cohort: no two-step sensitivity.
    assert cell(benchmark.compute(inputs_for(4, 10, [figure("a", 5, 20)])))["two_step"] is None


def test_a_zero_event_cohort_stays_in_the_pool():
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25), figure("zero", 0, 40)]
    c = cell(benchmark.compute(inputs_for(4, 10, figs)))
    assert "zero" in [co["cohort"] for co in c["cohorts"]]
    assert (c["pooled"]["k"], c["pooled"]["total"]) == (4, 115)
    without = cell(benchmark.compute(inputs_for(4, 10, figs[:3])))
    assert c["pooled"]["median"] < without["pooled"]["median"]  # the zero pulls the benchmark down


@pytest.mark.parametrize("cohort_index", [0, 1, 2])
def test_property_adding_a_benchmark_event_never_lowers_the_wards_upper_tail(cohort_index):
    counts = [[2, 20], [5, 30], [1, 25]]
    previous = None
    for extra in range(0, 8):
        figs = [figure(name, x + (extra if i == cohort_index else 0), n)
                for i, (name, (x, n)) in enumerate(zip("abc", counts, strict=True))]
        c = cell(benchmark.compute(inputs_for(4, 10, figs)))
        if previous is not None:
            assert c["p_upper"] >= previous - 1e-9
        previous = c["p_upper"]


def test_property_one_more_ward_event_never_raises_the_upper_tail():
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)]
    tails = [cell(benchmark.compute(inputs_for(x, 12, figs)))["p_upper"] for x in range(13)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(tails))


def test_posterior_probability_is_shown_but_never_flags():
    figs = [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)]
    c = cell(benchmark.compute(inputs_for(4, 10, figs)))
    mean = c["pooled"]["marginal_mean"]
    assert c["posterior_above"] == pytest.approx(sps.beta.sf(mean, 2 * mean + 4, 2 * (1 - mean) + 6), rel=1e-12)
    assert c["posterior_above"] > 0.85 and c["flag"] is None  # a high posterior alone raises nothing


def test_compute_reports_progress_without_changing_results():
    inputs = inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)])
    seen = []
    assert benchmark.compute(inputs, progress=seen.append) == benchmark.compute(inputs)
    assert seen == [25, 50, 75, 100]


@pytest.mark.django_db
def test_running_a_run_stores_progress_100(ward):
    build_crs_ward(ward)
    run = benchmark_run_now(site=ward)
    assert run.progress == 100


@pytest.mark.django_db
def test_an_old_run_recomputes_identically_after_the_cohort_tables_change(ward):
    build_crs_ward(ward)
    run = benchmark_run_now(site=ward)
    stored = BenchmarkRun.objects.get(pk=run.pk)
    assert {f["cohort"] for f in stored.inputs["figures"]}  # the cohort list is stored with the run
    assert stored.inputs["thresholds"]["N_MAX"] == 40 and stored.inputs["method_version"] == benchmark.METHOD_VERSION
    figure_ids = [f["id"] for f in stored.inputs["figures"] if f["category"] == "crs"]
    CohortFigure.objects.filter(id__in=figure_ids).update(numerator=0)
    CohortFigure.objects.filter(id=figure_ids[0]).delete()
    assert benchmark.collect_inputs(ward)["figures"] != stored.inputs["figures"]  # the tables did change
    assert benchmark.compute(json.loads(json.dumps(stored.inputs))) == stored.results


def test_reporting_progress_block_feeds_compute_and_ends_with_the_block():
    inputs = inputs_for(4, 10, [figure("a", 5, 20), figure("b", 8, 30), figure("c", 3, 25)])
    seen: list[int] = []
    with benchmark.reporting_progress(seen.append):
        benchmark.compute(inputs)
    benchmark.compute(inputs)
    assert seen == [25, 50, 75, 100]


def test_the_method_version_fits_its_column():
    assert len(benchmark.METHOD_VERSION) <= BenchmarkRun._meta.get_field("method_version").max_length
