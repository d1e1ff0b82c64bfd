"""Demo wards rebuilt from published cohorts reproduce the published counts exactly."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from ae.models import AdverseEvent
from patients.access import sites_for
from patients.models import Membership, Patient, Site
from reports import benchmark
from reports.demo import DEMO_PASSWORDS, DemoError, demo_ward_load
from reports.models import BenchmarkCategory, Cohort, CohortFigure
from reports.runs import benchmark_run_now

CATEGORIES = ("crs", "neurotoxicity", "seizure", "anemia", "neutropenia", "thrombocytopenia", "febrile_neutropenia",
              "hepatotoxicity", "ae_interruption", "ae_discontinuation")
MUST_REPRODUCE = ("xie2023_suzhou", "pawinska2022_krakow", "wu2022_beijing")
WITH_PATIENT_COUNT = ("ampatzidou2020_greece", "beneduce2022_aieop", "clesham2020_infants", "contreras2020",
                      "horibe2020_japan", "pawinska2022_krakow", "sheop_spain", "tuebingen2021",
                      "vonstackelberg2016_phase12", "wu2022_beijing", "xie2023_suzhou")


def published(cohort: Cohort) -> dict[str, int]:
    """Whole-cohort patient figures in the category's bands (any / grade >=3): {"<category>|<band>|all": numerator}."""
    bands = dict(BenchmarkCategory.objects.values_list("slug", "grade_bands"))
    figures = CohortFigure.objects.filter(
        cohort=cohort, category__in=CATEGORIES, grade_band__in=["any", "ge3"], unit="patients", stratum="all",
        cycle_scope="all", denominator=cohort.n_patients).exclude(numerator=None)
    return {f"{f.category}|{f.grade_band}|all": f.numerator for f in figures if f.grade_band in bands[f.category]}


def load(slug: str) -> Site:
    return demo_ward_load(cohort_slug=slug, site_slug=f"demo-{slug.replace('_', '-')}", site_name=f"Demo {slug}")


@pytest.mark.django_db
def test_xie2023_demo_ward_reproduces_every_published_patient_figure():
    cohort = Cohort.objects.get(slug="xie2023_suzhou")
    targets = published(cohort)
    # Xie 2023 reports CRS 18/33 (2 at grade >=3), neurotoxicity 1/33 (0 at >=3), thrombocytopenia 14/33 (10),
    # liver function damage at grade >=3 10/33 (Table 3).
    assert targets == {"crs|any|all": 18, "crs|ge3|all": 2, "neurotoxicity|any|all": 1,
                       "neurotoxicity|ge3|all": 0, "thrombocytopenia|any|all": 14, "thrombocytopenia|ge3|all": 10,
                       "hepatotoxicity|ge3|all": 10}
    site = load("xie2023_suzhou")
    inputs = benchmark.collect_inputs(site)
    assert inputs["denominators"] == {"all": 33, "first": 33}
    # 25 children had >=5% marrow blasts, 8 fewer (the cohort's blast_burden).
    assert inputs["strata"] == {"blasts_ge5": 25, "blasts_lt5": 8}
    assert {k: inputs["ward"][k] for k in targets} == targets


@pytest.mark.django_db
@pytest.mark.parametrize("slug", WITH_PATIENT_COUNT)
def test_every_cohort_with_a_patient_count_reproduces_or_refuses(slug):
    cohort = Cohort.objects.get(slug=slug)
    assert cohort.n_patients
    targets = published(cohort)
    events_before = AdverseEvent.objects.count()
    try:
        site = load(slug)
    except DemoError:
        assert slug not in MUST_REPRODUCE
        assert not Site.objects.filter(slug=f"demo-{slug.replace('_', '-')}").exists()
        assert AdverseEvent.objects.count() == events_before
        return
    inputs = benchmark.collect_inputs(site)
    assert inputs["denominators"]["all"] == cohort.n_patients
    assert {k: inputs["ward"][k] for k in targets} == targets
    # Where the cohort reports both bands, grade >=3 patients are among the any-grade ones.
    for category in CATEGORIES:
        if f"{category}|any|all" in inputs["ward"] and f"{category}|ge3|all" in inputs["ward"]:
            assert inputs["ward"][f"{category}|ge3|all"] <= inputs["ward"][f"{category}|any|all"]


@pytest.mark.django_db
def test_the_parametrised_list_covers_every_cohort_with_a_patient_count():
    with_n = set(Cohort.objects.exclude(n_patients=None).values_list("slug", flat=True))
    assert with_n == set(WITH_PATIENT_COUNT)


@pytest.mark.django_db
def test_contradictory_figures_raise_demo_error_and_save_nothing():
    cohort = Cohort.objects.get(slug="xie2023_suzhou")
    # More patients at grade >=3 than at any grade cannot be reproduced.
    cohort.figures.filter(category="crs", grade_band="ge3").update(numerator=20)
    sites, patients = Site.objects.count(), Patient.objects.count()
    with pytest.raises(DemoError, match="crs"):
        load("xie2023_suzhou")
    assert (Site.objects.count(), Patient.objects.count()) == (sites, patients)


@pytest.mark.django_db
def test_a_cohort_without_a_patient_count_is_refused():
    with pytest.raises(DemoError, match="no patient count"):
        load("brown2021_aall1331")
    assert not Site.objects.filter(slug="demo-brown2021-aall1331").exists()


@pytest.mark.django_db
def test_reloading_a_demo_ward_rebuilds_it():
    site = load("pawinska2022_krakow")
    first = benchmark.collect_inputs(site)["ward"]
    site = load("pawinska2022_krakow")
    assert site.patients.count() == 13
    assert benchmark.collect_inputs(site)["ward"] == first


@pytest.mark.django_db
def test_the_demo_wards_own_cohort_is_left_out_of_its_benchmark():
    site = load("xie2023_suzhou")
    assert site.demo_of_cohort == "xie2023_suzhou"
    results = benchmark.compute(benchmark.collect_inputs(site))
    crs = next(c for c in results["cells"] if (c["category"], c["grade_band"], c["cycle_scope"])
               == ("crs", "any", "all"))
    assert {"cohort": "xie2023_suzhou", "short_name": Cohort.objects.get(slug="xie2023_suzhou").short_name,
            "reason": benchmark.OWN_COHORT} in crs["excluded"]
    assert crs["pooled"] is not None
    for c in results["cells"]:
        assert all(co["cohort"] != "xie2023_suzhou" for co in c["cohorts"])


@pytest.mark.django_db
def test_demo_logins_exist_with_their_roles():
    site = load("xie2023_suzhou")
    User = get_user_model()
    expected = {"demo-nurse": (site.slug, Membership.Role.WARD_STAFF),
                "demo-safety": (site.slug, Membership.Role.SAFETY_OFFICER),
                "demo-other-nurse": ("demo-other-ward", Membership.Role.WARD_STAFF)}
    for username, (slug, role) in expected.items():
        user = User.objects.get(username=username)
        assert user.check_password(DEMO_PASSWORDS[username])
        assert list(user.memberships.values_list("site__slug", "role")) == [(slug, role)]
    # The other ward's nurse cannot see the demo ward.
    assert not sites_for(User.objects.get(username="demo-other-nurse")).filter(pk=site.pk).exists()


@pytest.mark.django_db
def test_demo_safety_officer_sees_the_report(client):
    site = load("xie2023_suzhou")
    run = benchmark_run_now(site=site)
    assert run.status == "done"
    assert client.login(request=HttpRequest(), username="demo-safety", password=DEMO_PASSWORDS["demo-safety"])
    response = client.get(f"/sites/{site.slug}/report/")
    assert response.status_code == 200
    assert "Cytokine release syndrome" in response.content.decode()
    client.logout()
    assert client.login(request=HttpRequest(), username="demo-other-nurse", password=DEMO_PASSWORDS["demo-other-nurse"])
    assert client.get(f"/sites/{site.slug}/report/").status_code == 404


@pytest.mark.django_db
def test_the_demo_wards_events_are_audited_under_one_import_context():
    from pghistory.models import Events

    site = load("xie2023_suzhou")
    events = Events.objects.filter(pgh_model="ae.AdverseEventEvent",
                                   pgh_obj_id__in=[str(pk) for pk in AdverseEvent.objects.filter(patient__site=site)
                                                   .values_list("pk", flat=True)])
    assert events.count() == AdverseEvent.objects.filter(patient__site=site).count() > 0
    assert {e.pgh_context["source"] for e in events} == {"import"}
    assert len({e.pgh_context_id for e in events}) == 1
