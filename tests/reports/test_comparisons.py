"""Clinically faithful comparisons (issue 20 items 1, 3, 7, 8): scale families, attribution, terms, new categories."""

from __future__ import annotations

import pytest

from ae.models import AdverseEvent
from reports import benchmark
from reports.demo import demo_ward_load
from reports.models import BenchmarkCategory, CohortFigure
from reports.report import format_run_text
from reports.runs import benchmark_run_now
from reports.validation import leave_one_out
from tests.conftest import make_cycle, make_event, make_patient
from tests.reports.test_benchmark import THRESHOLDS, cell, figure, inputs_for

NEURO = {"slug": "neurotoxicity", "name": "Neurotoxicity", "terms": ["Encephalopathy", "Seizure", "Tremor"],
         "bands": ["any", "ge3"], "actions": [], "terms_excluded_by_family": {"astct_lee": ["Tremor"]}}


def _profile(**scales: str) -> dict:
    return {"schedule": "standard_28d", "population": "relapsed_refractory", "scales": scales}


# --- item 1: CTCAE v4.x CRS is not the v5.0 scale family ----------------------------------------------------

def test_crs_scale_families_separate_ctcae_v4_from_v5_and_from_astct_lee():
    assert benchmark.scale_family("ctcae_v4_03", "crs") == benchmark.scale_family("ctcae_v4_0", "crs") == "ctcae_v4_crs"
    assert benchmark.scale_family("ctcae_v5_0", "crs") == "ctcae_v5_crs"
    assert benchmark.scale_family("lee_2014", "crs") == benchmark.scale_family("astct_2019", "crs") == "astct_lee"
    assert benchmark.scale_family("ctcae_unspecified", "crs") is None  # version unknown: kept with a label
    # Other categories: the CTCAE versions grade them alike.
    assert benchmark.scale_family("ctcae_v4_03", "neurotoxicity") == benchmark.scale_family("ctcae_v5_0",
                                                                                            "neurotoxicity")


def test_a_ctcae_v403_crs_cohort_is_not_pooled_with_a_v5_ward_unless_labelled():
    figs = [figure("v5a", 5, 20), figure("v5b", 8, 30), figure("v5c", 3, 25),
            figure("v4", 9, 20) | {"scale": "ctcae_v4_03"}, figure("vx", 4, 20) | {"scale": "ctcae_unspecified"}]
    inputs = inputs_for(4, 10, figs) | {"ward_profile": _profile(crs="ctcae_v5_crs")}
    c = cell(benchmark.compute(inputs))
    assert {co["cohort"] for co in c["cohorts"]} == {"v5a", "v5b", "v5c", "vx"}
    assert {e["cohort"]: e["reason"] for e in c["excluded"]}["v4"] == (
        "graded by CTCAE v3/v4 CRS (infusion-reaction wording) (ctcae_v4_03), the ward by CTCAE v5.0 CRS")
    assert {co["cohort"]: co["labels"] for co in c["cohorts"]}["vx"] == [
        "graded by ctcae_unspecified: scale version not stated"]
    assert c["definitions"]["scale_family"] == "ctcae_v5_crs"
    assert c["definitions"]["attribution_label"] == (
        "all AEs regardless of cause (no cohort compared here states its attribution)")
    inputs["thresholds"]["SCALE_MISMATCH"] = "label"
    labelled = cell(benchmark.compute(inputs))
    assert {co["cohort"]: co["labels"] for co in labelled["cohorts"]}["v4"] == [
        "graded by CTCAE v3/v4 CRS (infusion-reaction wording) (ctcae_v4_03), the ward by CTCAE v5.0 CRS"]


@pytest.mark.django_db
def test_ward_profile_tells_ctcae_v5_crs_from_v403_and_the_fixture_cohort_is_left_out(ward):
    p = make_patient(ward)
    make_event(make_cycle(p), grade=2, grading_scale="ctcae_v5_0")
    inputs = benchmark.collect_inputs(ward)
    assert inputs["ward_profile"]["scales"]["crs"] == "ctcae_v5_crs"
    assert inputs["ward_profile"]["scales"]["neurotoxicity"] == "ctcae"
    c = cell(benchmark.compute(inputs))
    reasons = {e["cohort"]: e["reason"] for e in c["excluded"]}
    # Beneduce 2022 graded CRS by CTCAE v4.03 (seed 003, 3.2).
    assert reasons["beneduce2022_aieop"].startswith("graded by CTCAE v3/v4 CRS")


# --- item 3: attribution ------------------------------------------------------------------------------------

def test_a_related_only_cohort_is_compared_with_the_wards_related_count():
    figs = [figure("r1", 5, 20) | {"attribution": "related"}, figure("r2", 6, 25) | {"attribution": "related"},
            figure("all", 9, 20) | {"attribution": "all_cause"}, figure("ns", 4, 20) | {"attribution": "not_stated"}]
    inputs = inputs_for(7, 10, figs)
    inputs["ward"] |= {"crs|any|all|related": 3, "crs|any|first|related": 3}
    c = cell(benchmark.compute(inputs))
    assert c["ward"]["x"] == 3  # the related count, not the all-cause 7
    assert c["definitions"]["attribution"] == "related"
    assert {co["cohort"] for co in c["cohorts"]} == {"r1", "r2", "ns"}
    assert {co["cohort"]: co["labels"] for co in c["cohorts"]}["ns"] == ["attribution not stated"]
    assert {e["cohort"]: e["reason"] for e in c["excluded"]}["all"] == (
        "counts all AEs regardless of cause; this comparison uses treatment-related AEs only")
    # Mostly all-cause figures: the all-cause count, the related-only cohort set aside.
    figs = [figure("a1", 5, 20) | {"attribution": "all_cause"}, figure("r1", 6, 25) | {"attribution": "related"}]
    inputs = inputs_for(7, 10, figs) | {}
    inputs["ward"] |= {"crs|any|all|related": 3, "crs|any|first|related": 3}
    c = cell(benchmark.compute(inputs))
    assert c["ward"]["x"] == 7 and c["definitions"]["attribution"] == "all_cause"
    assert [e["cohort"] for e in c["excluded"]] == ["r1"]


def test_a_flag_on_a_related_only_comparison_says_so():
    figs = [figure(f"r{i}", 1, 40) | {"attribution": "related"} for i in range(3)]
    inputs = inputs_for(8, 10, figs)
    inputs["ward"] |= {"crs|any|all|related": 8, "crs|any|first|related": 8}
    flag = cell(benchmark.compute(inputs))["flag"]
    assert flag["level"] in ("ALERT", "ALARM")
    assert flag["message"].startswith(
        "8 of 10 patients had any grade cytokine release syndrome judged treatment-related (all cycles)")


@pytest.mark.django_db
def test_collect_inputs_counts_related_events_as_possible_probable_or_definite(ward):
    for i, relatedness in enumerate(["not_related", "unlikely", "possible", "probable", "definite"]):
        make_event(make_cycle(make_patient(ward, f"R-{i}")), relatedness=relatedness)
    ward_counts = benchmark.collect_inputs(ward)["ward"]
    assert ward_counts["crs|any|all"] == 5
    assert ward_counts["crs|any|all|related"] == 3


@pytest.mark.django_db
def test_fixture_attribution_follows_the_source_text():
    def attribution(cohort: str, category: str, band: str = "any") -> str:
        return CohortFigure.objects.get(cohort__slug=cohort, category=category, grade_band=band,
                                        unit="patients").attribution
    assert attribution("beneduce2022_aieop", "neurotoxicity") == "related"  # "treatment-related AE" (seed 003)
    assert attribution("wu2022_beijing", "neurotoxicity") == "all_cause"  # "regardless of cause" (seed 004)
    assert attribution("xie2023_suzhou", "crs") == "related"  # "3.3 Treatment-related toxicity" (seed 001)
    assert attribution("vonstackelberg2016_phase12", "neurotoxicity") == "all_cause"
    assert attribution("tuebingen2021", "crs") == "not_stated"


def test_leave_one_out_compares_like_attribution_only():
    figs = [figure("rel", 5, 20, category="neurotoxicity") | {"attribution": "related"},
            figure("all1", 2, 20, category="neurotoxicity") | {"attribution": "all_cause"},
            figure("all2", 3, 25, category="neurotoxicity") | {"attribution": "all_cause"}]
    rows = {r["cohort"]: r for r in leave_one_out(figs, THRESHOLDS) if r["grade_band"] == "any"}
    assert rows["rel"]["k"] == 0 and rows["rel"]["note"] == "no other cohort reports this cell"
    assert rows["all1"]["k"] == 1
    # A category shown in one band only (hepatotoxicity, febrile neutropenia: grade >=3) is validated in that band.
    assert leave_one_out(figs, THRESHOLDS, {"neurotoxicity": ["ge3"]}) == []


# --- item 7: terms, new categories, one band for febrile neutropenia --------------------------------------

def _neuro_inputs(family: str) -> dict:
    figs = [figure("c1", 4, 20, category="neurotoxicity") | {"terms_included": ["tremor", "dizziness"]},
            figure("c2", 2, 20, category="neurotoxicity") | {"scale": "astct_2019"}]
    return inputs_for(0, 10, figs) | {
        "categories": [NEURO], "ward_profile": _profile(neurotoxicity=family),
        "ward": {f"neurotoxicity|{b}|{s}{v}": x for b in ("any", "ge3") for s in ("all", "first")
                 for v, x in (("", 5), ("|related", 5), ("|astct_lee", 2), ("|astct_lee|related", 2))}}


def test_tremor_counts_only_against_ctcae_cohorts():
    ctcae = cell(benchmark.compute(_neuro_inputs("ctcae")), category="neurotoxicity")
    assert ctcae["ward"]["x"] == 5 and "Tremor" in ctcae["definitions"]["terms"]
    assert [co["cohort"] for co in ctcae["cohorts"]] == ["c1"]
    assert ctcae["cohorts"][0]["terms_included"] == ["tremor", "dizziness"]
    astct = cell(benchmark.compute(_neuro_inputs("astct_lee")), category="neurotoxicity")
    assert astct["ward"]["x"] == 2 and astct["definitions"]["terms_left_out"] == ["Tremor"]
    assert [co["cohort"] for co in astct["cohorts"]] == ["c2"]


@pytest.mark.django_db
def test_ward_neurotoxicity_without_tremor_is_counted_in_sql(ward):
    make_event(make_cycle(make_patient(ward, "T-1")), "Tremor", grade=1)
    make_event(make_cycle(make_patient(ward, "T-2")), "Encephalopathy", grade=2)
    counts = benchmark.collect_inputs(ward)["ward"]
    assert counts["neurotoxicity|any|all"] == 2 and counts["neurotoxicity|any|all|astct_lee"] == 1


@pytest.mark.django_db
def test_new_categories_count_alt_ast_grade_3_and_ae_driven_interruptions(ward):
    cats = {c.slug: c for c in BenchmarkCategory.objects.all()}
    assert cats["febrile_neutropenia"].grade_bands == ["ge3"]
    assert cats["hepatotoxicity"].grade_bands == ["ge3"]
    assert cats["ae_interruption"].ae_actions == ["DRUG INTERRUPTED"]
    make_event(make_cycle(make_patient(ward, "H-1")), "Alanine aminotransferase increased", grade=3, onset_day=5)
    make_event(make_cycle(make_patient(ward, "H-2")), "Aspartate aminotransferase increased", grade=2, onset_day=5)
    make_event(make_cycle(make_patient(ward, "I-1")), "Seizure", grade=2, action_taken="DRUG INTERRUPTED")
    make_event(make_cycle(make_patient(ward, "D-1")), "Encephalopathy", grade=4, action_taken="DRUG WITHDRAWN")
    inputs = benchmark.collect_inputs(ward)
    counts = inputs["ward"]
    assert counts["hepatotoxicity|ge3|all"] == 1 and "hepatotoxicity|any|all" not in counts
    assert counts["ae_interruption|any|all"] == 1 and counts["ae_discontinuation|any|all"] == 1
    assert "febrile_neutropenia|any|all" not in counts
    results = benchmark.compute(inputs)
    keys = {(c["category"], c["grade_band"]) for c in results["cells"]}
    assert ("febrile_neutropenia", "any") not in keys and ("febrile_neutropenia", "ge3") in keys
    hep = cell(results, band="ge3", category="hepatotoxicity")
    # Pawinska 5/13 (grade 3 in 4, grade 4 in 1); Xie 10/33 and Wu 1/23 treat other populations/schedules.
    every = {co["cohort"]: (co["x"], co["n"]) for co in hep["cohorts"]} | {
        e["cohort"]: e["reason"] for e in hep["excluded"]}
    assert every["pawinska2022_krakow"] == (5, 13)
    assert every["wu2022_beijing"] == "population chemo ineligible cr differs from the ward's relapsed refractory"
    assert every["xie2023_suzhou"] == "schedule short_14d differs from the ward's standard_28d"
    stop = cell(results, category="ae_discontinuation")
    assert {co["cohort"]: (co["x"], co["n"]) for co in stop["cohorts"]} == {"pawinska2022_krakow": (1, 13)}
    set_aside = {e["cohort"]: e["reason"] for e in stop["excluded"]}
    assert set_aside["tuebingen2021"].startswith("counts discontinuations for generalized seizures only")
    assert set_aside["vonstackelberg2016_phase12"].startswith("counts discontinuations for neurologic events only")
    assert "wu2022_beijing" in set_aside
    assert stop["definitions"]["terms"] == ["action taken: DRUG WITHDRAWN"]  # stored: English, the AEACN code
    from django.utils import translation

    from reports.definitions_text import matched_line
    from reports.report import matched_text  # the exports' line
    with translation.override("en-gb"):
        assert "ward terms action taken: Blinatumomab permanently stopped (DRUG WITHDRAWN)." in matched_line(
            stop["definitions"])
    with translation.override("pl"):
        assert ("podjęte działanie: Blinatumomab odstawiono na stałe (DRUG WITHDRAWN)."
                in matched_line(stop["definitions"]))
        assert "ward terms action taken: Blinatumomab permanently stopped (DRUG WITHDRAWN)" in matched_text(stop)
    assert stop["definitions"]["scale_family"] is None  # counted by the action, whatever graded the AE


@pytest.mark.django_db
def test_each_neurotoxicity_figure_records_what_it_included():
    included = {f.cohort.slug: f.terms_included for f in CohortFigure.objects.filter(
        category="neurotoxicity", grade_band__in=["any", "3"]).select_related("cohort") if f.terms_included}
    assert "dizziness" in included["vonstackelberg2016_phase12"]
    assert any("neuropathy" in t for t in included["beneduce2022_aieop"])
    assert "paresthesia" in included["sheop_spain"]


# --- item 8: the demo ward's scales are the article's --------------------------------------------------------

@pytest.mark.django_db
def test_xie_demo_grades_crs_by_lee_and_icans_by_astct_as_the_article_did():
    site = demo_ward_load(cohort_slug="xie2023_suzhou", site_slug="demo-xie", site_name="Demo Xie")
    scales = dict(AdverseEvent.objects.filter(patient__site=site).values_list("term__term", "grading_scale")
                  .distinct())
    assert scales["Cytokine release syndrome"] == "lee_2014"
    assert scales["Encephalopathy"] == "astct_2019"
    assert scales["Platelet count decreased"] == "ctcae_v5_0"
    profile = benchmark.collect_inputs(site)["ward_profile"]
    assert profile["scales"]["crs"] == "astct_lee" and profile["scales"]["neurotoxicity"] == "astct_lee"


# --- the report says which definitions each comparison matched and what it set aside ------------------------

@pytest.mark.django_db
def test_report_and_text_say_what_each_comparison_matched_and_set_aside(client, ward, officer):
    make_event(make_cycle(make_patient(ward)), grade=2, grading_scale="ctcae_v5_0")
    run = benchmark_run_now(site=ward)
    text = format_run_text(run)
    crs_line = next(line for line in text.splitlines() if line.strip().startswith("matched: CTCAE v5.0 CRS"))
    assert "ward terms Cytokine release syndrome" in crs_line
    assert "Beneduce 2022" in crs_line and "graded by CTCAE v3/v4 CRS" in crs_line
    client.force_login(officer)
    html = client.get("/sites/ward-a/report/").content.decode()
    assert "Matched: CTCAE v5.0 CRS scale family" in html


@pytest.mark.django_db
def test_drilldown_of_an_action_category_lists_the_events_with_that_action(client, ward, officer):
    interrupted = make_event(make_cycle(make_patient(ward, "I-1")), "Seizure", action_taken="DRUG INTERRUPTED")
    make_event(make_cycle(make_patient(ward, "I-2")), "Seizure")
    client.force_login(officer)
    response = client.get("/sites/ward-a/report/ae_interruption/any/all/")
    assert [e.pk for e in response.context["events"]] == [interrupted.pk]


def test_any_grade_seizures_are_compared_whatever_the_scale_but_grade_3_is_not():
    figs = [figure("ctcae", 3, 39, category="seizure"), figure("ctcae", 1, 23, category="seizure", band="ge3")]
    inputs = inputs_for(0, 10, figs) | {
        "categories": [{"slug": "seizure", "name": "Seizure", "terms": ["Seizure"]}],
        "ward": {f"seizure|{b}|{s}": 1 for b in ("any", "ge3") for s in ("all", "first")},
        "ward_profile": _profile(seizure="astct_lee")}  # the ward's seizures came from ICANS assessments
    results = benchmark.compute(inputs)
    any_grade = cell(results, category="seizure")
    assert [co["cohort"] for co in any_grade["cohorts"]] == ["ctcae"] and not any_grade["cohorts"][0]["labels"]
    assert any_grade["definitions"]["scale_family"] is None
    assert cell(results, band="ge3", category="seizure")["excluded"][0]["reason"].startswith("graded by CTCAE")
