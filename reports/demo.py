"""Rebuild a published cohort as a demo ward, so the first run shows a benchmark on real data.

The ward gets the cohort's n patients (in its blast-burden strata where the cohort reports them),
one cycle each with the cohort's schedule, and events placed so that, for every benchmark category
and grade band the cohort reports in patients over its whole cohort, the ward's count of patients
reproduces the published count exactly. Categories that are subsets of others (seizure within
neurotoxicity) are placed first, and the containing category reuses those patients.
The patients are synthetic: only the published counts are real.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from ae.models import AdverseEvent, CTCAEGrade, CTCAETerm
from core.audit import bulk_audit_context
from patients.disease_status import derive as derive_status
from patients.models import DosingStep, HospitalStay, Membership, Patient, Site, TreatmentCycle
from patients.treatment import DoseUnit, Recorded
from reports.benchmark import GRADE_BANDS
from reports.models import BenchmarkCategory, Cohort, CohortFigure

# Placement order: a category listed in CONTAINS[c] counts toward c as well.
CONTAINS = {"neurotoxicity": ["seizure"]}
_PRIMARY_TERM = {"neurotoxicity": "Encephalopathy"}  # the term used for placed events
ONSET_DAY = {"crs": 2, "neurotoxicity": 3, "seizure": 3, "febrile_neutropenia": 8}
SCHEDULES = {"short_14d": TreatmentCycle.Schedule.SHORT_14D}
DISEASE_STATUS = {"mrd_positive_cr": Patient.DiseaseStatus.MRD_POSITIVE_CR,
                  "chemo_ineligible_cr": Patient.DiseaseStatus.CHEMO_INELIGIBLE}


@dataclass(frozen=True)
class Regimen:
    """A cohort's blinatumomab regimen as its article states it (``docs/treatment-data.md``)."""

    steps: tuple[tuple[int, Decimal], ...]  # (from cycle day, µg/m²/day)
    days: int  # infusion days of the cycle
    premedication: str  # patients.treatment.Recorded value
    dexamethasone_mg_m2: Decimal | None = None
    admitted_whole_cycle: bool = False
    source: str = ""


#: Regimens by cohort slug. Xie et al., Front Pediatr 2023, §2.2 and Figure 1: dexamethasone 5 (mg)/m² for 2–3 days
#: before, then 5 µg/m²/day for 2 days, 10 for 2 days, 15 for 10 days (14 days), hospitalised throughout.
REGIMENS = {
    "xie2023_suzhou": Regimen(steps=((1, Decimal("5")), (3, Decimal("10")), (5, Decimal("15"))), days=14,
                              premedication=Recorded.YES, dexamethasone_mg_m2=Decimal("5"), admitted_whole_cycle=True,
                              source="Xie et al. 2023, §2.2 Treatment strategy and Figure 1"),
}
#: Any other cohort: the label's paediatric regimen (5 µg/m²/day days 1–7, 15 from day 8; BLINCYTO SmPC §4.2), with
#: premedication "not recorded" because the demo cannot know it.
LABEL_REGIMEN = Regimen(steps=((1, Decimal("5")), (8, Decimal("15"))), days=28, premedication=Recorded.NOT_RECORDED,
                        source="BLINCYTO SmPC §4.2 (the cohort's own regimen is not rebuilt)")
#: Which of the cohort's grading scales a placed event carries (the rest: its general scale).
_SCALE_FIELD = {"crs": "grading_crs", "neurotoxicity": "grading_neurotoxicity", "seizure": "grading_neurotoxicity"}
_FILLER_TERM = "Fever"  # the term of events placed for action categories (AE-driven interruption/discontinuation)
#: Demo accounts (prefixed so they never collide with real users); their passwords are reset on every load.
DEMO_PASSWORDS = {"demo-nurse": "nurse-demo-2026", "demo-safety": "safety-demo-2026",
                  "demo-other-nurse": "other-demo-2026"}


class DemoError(ValueError):
    """The cohort's published figures cannot be reproduced (they contradict each other)."""


@dataclass
class Target:
    """Published patient counts of one category: any grade and grade >=3 (None if not reported)."""

    any: int | None = None
    ge3: int | None = None
    figures: list[str] = field(default_factory=list)


def targets_for(cohort: Cohort) -> dict[str, Target]:
    """Published whole-cohort patient counts per category, from the cohort's figures."""
    targets: dict[str, Target] = {}
    figures = CohortFigure.objects.filter(cohort=cohort, unit="patients", stratum="all", cycle_scope="all",
                                          grade_band__in=list(GRADE_BANDS), numerator__isnull=False,
                                          denominator=cohort.n_patients)
    for fig in figures.order_by("id"):
        target = targets.setdefault(fig.category, Target())
        if getattr(target, fig.grade_band) is None:
            setattr(target, fig.grade_band, fig.numerator)
            target.figures.append(f"{fig.reported_term} {fig.grade_band} {fig.numerator}/{fig.denominator}")
    return targets


@transaction.atomic
def demo_ward_load(*, cohort_slug: str, site_slug: str, site_name: str) -> Site:
    """Create (or rebuild) the demo site from ``cohort_slug``; returns the site.

    Raises Cohort.DoesNotExist for an unknown cohort, DemoError if its figures contradict each other
    (e.g. more patients at grade >=3 than at any grade).
    """
    cohort = Cohort.objects.get(slug=cohort_slug)
    if not cohort.n_patients:
        raise DemoError(f"{cohort_slug} has no patient count")
    site, _ = Site.objects.update_or_create(slug=site_slug,
                                            defaults={"name": site_name, "demo_of_cohort": cohort.slug})
    AdverseEvent.objects.filter(patient__site=site).delete()
    TreatmentCycle.objects.filter(patient__site=site).delete()
    site.patients.all().delete()
    user = _demo_users(site)
    patients, cycles = _patients(site, cohort)
    categories = {c.slug: c for c in BenchmarkCategory.objects.prefetch_related("terms")}
    targets = targets_for(cohort)
    placed: dict[str, dict[str, set[int]]] = {}
    events: list[AdverseEvent] = []
    order = sorted((c for c in targets if c in categories), key=lambda c: (c in CONTAINS, c))
    for offset, slug in enumerate(order):
        target = targets[slug]
        have = {band: set().union(*(placed.get(sub, {}).get(band, set()) for sub in CONTAINS.get(slug, [])))
                for band in GRADE_BANDS}
        placed[slug] = _place(slug, target, have, len(patients), offset * 5)
        actions = categories[slug].ae_actions
        term = (CTCAETerm.objects.get(term=_FILLER_TERM) if actions else
                sorted(categories[slug].terms.all(), key=lambda t: t.term != _PRIMARY_TERM.get(slug, t.term))[0])
        grades = list(CTCAEGrade.objects.filter(term=term).values_list("grade", flat=True))
        chosen = placed[slug]
        high = [(i, min(g for g in grades if g >= 3)) for i in sorted(chosen["ge3"] - have["ge3"])]
        low = [(i, min(grades)) for i in sorted(chosen["any"] - chosen["ge3"] - have["any"])]
        if low and min(grades) >= 3:
            raise DemoError(f"{slug}: {term} has no grade below 3, so any-grade and grade >=3 must agree")
        for i, grade in high + low:
            cycle = cycles[i]
            day = ONSET_DAY.get(slug, 6)
            events.append(AdverseEvent(
                patient=patients[i], cycle=cycle, term=term, grade=grade, entered_grade=grade,  # graded by hand
                grading_scale=demo_scale(cohort, slug),
                onset_date=cycle.start_date + datetime.timedelta(days=day - 1),
                resolution_date=cycle.start_date + datetime.timedelta(days=day + 3),
                relatedness=AdverseEvent.Relatedness.PROBABLE,
                action_taken=actions[0] if actions else AdverseEvent.Action.DOSE_NOT_CHANGED,
                outcome=AdverseEvent.Outcome.RECOVERED, created_by=user, verbatim_term=f"demo from {cohort.slug}"))
    with bulk_audit_context(source="import"):  # one audit context, no per-row subtransaction
        AdverseEvent.objects.bulk_create(events)
    return site



def demo_scale(cohort: Cohort, category: str) -> str:
    """The grading scale (AE ``grading_scale`` value) the cohort used for ``category``, as the article states it.

    CRS uses the cohort's CRS scale, neurotoxicity and seizure its neurotoxicity scale, the rest its general
    scale (e.g. Xie 2023: CRS by Lee 2014, ICANS by ASTCT 2019, other AEs by CTCAE v5.0). CTCAE v3.0/v4.0/v4.03
    are stored as v4.03 (the only v4 the AE form offers); a scale the article does not state is stored as the
    form's default, CTCAE v5.0.
    """
    code = getattr(cohort, _SCALE_FIELD.get(category, "grading_general"))
    if code in AdverseEvent.GradingScale.values:
        return code
    if code in ("ctcae_v3_0", "ctcae_v4_0"):
        return AdverseEvent.GradingScale.CTCAE_V403
    return AdverseEvent.GradingScale.CTCAE_V5


def _place(slug: str, target: Target, have: dict[str, set[int]], n: int, offset: int) -> dict[str, set[int]]:
    """Choose which patients (indices) count for each band, honouring patients already counted."""
    want_any = target.any if target.any is not None else target.ge3
    want_ge3 = target.ge3 if target.ge3 is not None else 0
    if want_any is None or want_ge3 > want_any:
        raise DemoError(f"{slug}: grade >=3 count {target.ge3} exceeds any-grade count {target.any}")
    if len(have["ge3"]) > want_ge3 or len(have["any"]) > want_any:
        raise DemoError(f"{slug}: its sub-categories already exceed the published counts {target.figures}")
    ring = [(offset + k) % n for k in range(n)]
    ge3 = set(have["ge3"])
    for i in sorted(have["any"] - ge3) + [i for i in ring if i not in have["any"]]:
        if len(ge3) >= want_ge3:
            break
        ge3.add(i)
    any_ = set(have["any"]) | ge3
    for i in ring:
        if len(any_) >= want_any:
            break
        any_.add(i)
    if len(any_) != want_any or len(ge3) != want_ge3:
        raise DemoError(f"{slug}: cannot place {want_any}/{want_ge3} patients among {n}")
    return {"any": any_, "ge3": ge3}


def _patients(site: Site, cohort: Cohort) -> tuple[list[Patient], list[TreatmentCycle]]:
    n = cohort.n_patients or 0
    burden = cohort.record.get("blast_burden", {})
    n_ge5 = burden.get("n_ge5")
    if n_ge5 is None:
        n_ge5 = {"high": n, "low": 0}.get(burden.get("category"), n // 2)
    patients, cycles = [], []
    for i in range(n):
        patient = Patient.objects.create(
            site=site, study_id=f"DEMO-{i + 1:03d}", sex="F" if i % 2 else "M",
            birth_month=datetime.date(2012 + i % 10, 1 + i % 12, 1),
            disease_status=DISEASE_STATUS.get(cohort.population, Patient.DiseaseStatus.FIRST_RELAPSE))
        # Starts 11 days apart from January 2023, wrapping after 1,000 days: every cycle, event and resolution
        # lies in the past (a cohort of 93 patients would otherwise start cycles in the future, which is refused).
        start = datetime.date(2023, 1, 2) + datetime.timedelta(days=(11 * i) % 1000)
        schedule = SCHEDULES.get(cohort.schedule, TreatmentCycle.Schedule.STANDARD_28D)
        regimen = REGIMENS.get(cohort.slug, LABEL_REGIMEN)
        days = regimen.days if cohort.slug in REGIMENS else (14 if schedule == "short_14d" else 28)
        end = start + datetime.timedelta(days=days - 1)
        dexamethasone = regimen.premedication == Recorded.YES
        cycle = TreatmentCycle.objects.create(
            patient=patient, number=1, schedule=schedule, start_date=start, end_date=end,
            dexamethasone_premedication=regimen.premedication,
            dexamethasone_dose=regimen.dexamethasone_mg_m2 if dexamethasone else None,
            dexamethasone_dose_unit=TreatmentCycle.DexamethasoneUnit.MG_M2 if dexamethasone else "",
            marrow_blasts_pct=Decimal("40") if i < n_ge5 else Decimal("1"),
            disease_status=derive_status(Decimal("40") if i < n_ge5 else Decimal("1"), None) or "")
        DosingStep.objects.bulk_create([DosingStep(cycle=cycle, from_day=day, dose=dose, unit=DoseUnit.UG_M2_DAY)
                                        for day, dose in regimen.steps if day <= days])
        if regimen.admitted_whole_cycle:
            HospitalStay.objects.create(cycle=cycle, kind=HospitalStay.Kind.WARD, admitted_on=start, discharged_on=end)
        cycles.append(cycle)
        patients.append(patient)
    return patients, cycles


def _demo_users(site: Site):
    """Demo logins: a nurse and a safety officer of the demo site, and a nurse of another ward."""
    User = get_user_model()
    other, _ = Site.objects.get_or_create(slug="demo-other-ward", defaults={"name": "Other ward (demo)"})
    users = {}
    for username, site_, role in (("demo-nurse", site, Membership.Role.WARD_STAFF),
                                  ("demo-safety", site, Membership.Role.SAFETY_OFFICER),
                                  ("demo-other-nurse", other, Membership.Role.WARD_STAFF)):
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(DEMO_PASSWORDS[username])
        user.email = f"{username}@demo.invalid"  # safety notices are e-mailed (printed to the console in development)
        user.save(update_fields=["password", "email"])
        Membership.objects.update_or_create(user=user, site=site_, defaults={"role": role})
        users[username] = user
    return users["demo-nurse"]
