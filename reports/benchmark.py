"""Benchmark a ward's AE incidence against the published cohorts.

Two steps, so that every stored run can be recomputed exactly:

* ``collect_inputs(site)`` reads the database (ward counts aggregated in SQL, comparable cohort
  figures, thresholds) into a plain JSON-able dict;
* ``compute(inputs)`` is a pure function of that dict and returns the results (ward rate with exact
  CI, pooled reference, predictive tail probabilities, flags with plain-language reasons).

Counting rule (ward and, as curated, cohorts): a patient counts once per category and grade band if
they had at least one treatment-emergent event (ADaM TRTEMFL by the admiral rule,
:func:`ae.models.events.treatment_emergent_q`: began during treatment, or present before and worsened) of a
term of the category with grade in the band; denominators are patients with at least one cycle (all cycles) or
with a cycle 1 (first cycle). Methods: docs/methods.md §1.7 (binomial–normal GLMM, fallback to the
common-effect pooled count when fewer than 3 cohorts or 3 events) and §3.5 (flags on the exact
predictive tail).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_noop

from ae.models import AdverseEvent
from ae.selectors import treatment_emergent_events
from patients.models import (
    CYCLE_POPULATION,
    HIGH_BURDEN_BLASTS_PCT,
    PATIENT_POPULATION,
    Patient,
    Site,
    TreatmentCycle,
)
from patients.selectors import treatment_mix
from reports import meta_regression, sequential, signal_flags, stat_cache, stats, trends
from reports.cells import CYCLE_SCOPES, GRADE_BAND_LABELS  # noqa: F401 - GRADE_BAND_LABELS: re-exported (views)
from reports.models import BenchmarkCategory, CohortFigure

#: 1.4: premedication and regimen in like-with-like (``treatment_comparability``) and the end of the emergence
#: window (30 days after the last infusion day or the next therapy, ``ae.models.events.treatment_emergent_q``).
#: 1.5 (issue 17): degenerate fits are "no usable benchmark" (``stats.degenerate_reason``), no two-step row on the
#: continuity correction alone, derived cohort figures (grade-specific sums, implied zeros), meta-regression on
#: cohort moderators and one predictive distribution for the PI, the funnel and the flags (docs/methods.md §4).
#: 1.6 (issue 17): every flag says its kind ("literature"); CUSUM signals and, with ``inputs["network"]``, the funnel
#: against the network's other wards are flags of their own kinds (``reports.signal_flags``).
METHOD_VERSION = "pvtrack-benchmark/1.6 glmm+metareg+1pred+unusable+derived+lwl+premed+cm+pocock"
GRADE_BANDS = {"any": 1, "ge3": 3}
OWN_COHORT = gettext_noop("the ward itself is built from this cohort")
#: Issue 17 item 9: no source reports a cycle-1 count for any benchmark category (tests check the fixtures).
NO_CYCLE1_FIGURE = gettext_noop("no published figure: no source reports cycle-1 counts for this category and grade")
#: Why a cohort figure was left out of a cell ("excluded" reasons), what a kept one is labelled with, and a cell's
#: note when it has no benchmark. Stored in English in the run's results; the report shows them in the reader's
#: language (``reports.comparison_text``), matching the stored English against these texts.
COMPARISON_TEXTS = {
    "unit": gettext_noop("counts %(unit)s, not patients"),
    "no_denominator": gettext_noop("percentage without a stated denominator"),
    "stratum": gettext_noop("reported for a blast stratum only (%(stratum)s)"),
    "scope": gettext_noop("reported for %(scope)s, not %(ward_scope)s"),
    "same_cohort": gettext_noop("another figure of this cohort is already used for this cell"),
    "schedule": gettext_noop("schedule %(schedule)s differs from the ward's %(ward_schedule)s"),
    "population": gettext_noop("population %(population)s differs from the ward's %(ward_population)s"),
    "scale": gettext_noop("graded by %(family)s (%(scale)s), the ward by %(ward_family)s"),
    "premedication": gettext_noop("premedication: %(cohort)s, the ward's first cycles mostly %(ward)s (%(share)s)"),
    "attribution": gettext_noop("counts %(attribution)s; this comparison uses %(basis)s"),
    "schedule_label": gettext_noop("schedule %(schedule)s"),
    "population_label": gettext_noop("population %(population)s"),
    "scale_not_stated": gettext_noop("grading scale not stated"),
    "version_not_stated": gettext_noop("graded by %(scale)s: scale version not stated"),
    "regimen_label": gettext_noop("%(regimen)s; the ward mostly %(ward)s"),
    "ward_share": gettext_noop("%(k)s of %(n)s first cycles"),
    "note_demo": gettext_noop("not reported by the cohort this demo ward is built from"),
    "note_none": gettext_noop("no comparable published figure"),
    "note_no_patients": gettext_noop("no ward patients in this scope"),
}

#: Grading-scale families: CTCAE (any version) grades neurotoxicity and the other categories differently from
#: the ASTCT 2019 consensus and Lee 2014 (docs/methods.md §3.5, §5). "not_stated" has no family.
SCALE_FAMILIES = {"ctcae_v3_0": "ctcae", "ctcae_v4_0": "ctcae", "ctcae_v4_03": "ctcae", "ctcae_v5_0": "ctcae",
                  "ctcae_unspecified": "ctcae", "lee_2014": "astct_lee", "astct_2019": "astct_lee"}
#: CRS only: CTCAE v3.0/v4.0x word CRS as an infusion reaction (interruption, response to symptomatic treatment,
#: no fever required; one pressor is grade 4), CTCAE v5.0 follows Lee 2014 (fever; one pressor is grade 3).
#: So CRS has three families, and a CTCAE figure of unstated version has none (kept and labelled).
#: Sources: CTCAE v4.03 (NCI 2010) and v5.0 (NCI 2017) "Cytokine release syndrome"; Lee et al., Blood
#: 2014;124:188-195; Lee et al., Biol Blood Marrow Transplant 2019;25:625-638 (ASTCT).
CRS_SCALE_FAMILIES = {"ctcae_v3_0": "ctcae_v4_crs", "ctcae_v4_0": "ctcae_v4_crs", "ctcae_v4_03": "ctcae_v4_crs",
                      "ctcae_v5_0": "ctcae_v5_crs", "lee_2014": "astct_lee", "astct_2019": "astct_lee"}
SCALE_FAMILY_LABELS = {"ctcae": "CTCAE", "astct_lee": "ASTCT/Lee",
                       "ctcae_v4_crs": "CTCAE v3/v4 CRS (infusion-reaction wording)", "ctcae_v5_crs": "CTCAE v5.0 CRS"}
#: How a cell's definitions name a ward "term" that is an action taken with the drug (AEACN), not a CTCAE term.
ACTION_TERM_PREFIX = "action taken: "
#: Cells whose count does not depend on the grading scale: a seizure is a seizure whether CTCAE or the ASTCT 2019
#: ICANS seizure row grades it (the scales differ only in the grade), so any-grade seizure figures of every
#: scale are compared (a ward's seizures from ICANS assessments are graded by ASTCT, most cohorts by CTCAE).
#: AE-driven interruption and discontinuation are counted by the action taken, whatever graded the AE.
SCALE_FREE = {("seizure", "any"), ("ae_interruption", "any"), ("ae_discontinuation", "any")}
ATTRIBUTIONS = {"related": gettext_noop("treatment-related AEs only"),
                "all_cause": gettext_noop("all AEs regardless of cause"),
                "not_stated": gettext_noop("attribution not stated")}
#: What a cell's attribution label adds when no cohort compared states its attribution; and the scale family
#: label of a count that does not depend on the scale (both stored in English, translated on the pages by
#: ``reports.definitions_text``).
ATTRIBUTION_UNSTATED_NOTE = gettext_noop(" (no cohort compared here states its attribution)")
SCALE_FREE_LABEL = gettext_noop("any (the count does not depend on the scale)")
#: Relatedness values (AEREL) that make a ward event "related": a reasonable possibility of a causal
#: relationship (ICH E2A, 1994, section III.A.1), i.e. possible, probable or definite.
RELATED = [AdverseEvent.Relatedness.POSSIBLE, AdverseEvent.Relatedness.PROBABLE, AdverseEvent.Relatedness.DEFINITE]


def scale_family(scale: str | None, category: str) -> str | None:
    """The grading-scale family of ``scale`` for a benchmark ``category`` (CRS has its own families), or None."""
    table = CRS_SCALE_FAMILIES if category == "crs" else SCALE_FAMILIES
    return table.get(scale or "not_stated")


def scale_families(category: str) -> list[str]:
    """The families a category's events can fall into, in a stable order."""
    table = CRS_SCALE_FAMILIES if category == "crs" else SCALE_FAMILIES
    return list(dict.fromkeys(table.values()))


#: Cohort population term -> the ward's cycle disease statuses (at cycle start) it covers, and, for a cycle without a
#: status of its own, the patient-level statuses used as the fallback (patients.models CYCLE_/PATIENT_POPULATION).
POPULATIONS = {pop: {"cycle": sorted(s for s, p in CYCLE_POPULATION.items() if p == pop),
                     "patient": sorted(s for s, p in PATIENT_POPULATION.items() if p == pop)}
               for pop in dict.fromkeys(CYCLE_POPULATION.values())}
SCHEDULES = [s.value for s in TreatmentCycle.Schedule]
#: Defaults for thresholds that older stored runs may not carry (their inputs are recomputed as stored).
DEFAULTS = {"N_MAX": 40, "SEQUENTIAL_ALPHA": 0.05, "SCALE_MISMATCH": "exclude", "PREMEDICATION_MISMATCH": "exclude"}
STRATA = {"blasts_ge5": gettext_noop("marrow blasts ≥5%"), "blasts_lt5": gettext_noop("marrow blasts <5%"),
          "not_recorded": gettext_noop("blasts not recorded")}
#: Where a case-mix stratum's benchmark rate comes from (``case_mix["strata"][i]["source"]``; shown in the reader's
#: language by ``reports.computed_text.stratum_source``).
STRATUM_SOURCES = {"overall": gettext_noop("overall benchmark"),
                   "stratum": gettext_noop("%(stratum)s benchmark from %(cohorts)s"),
                   "stratum_weak": gettext_noop("%(stratum)s benchmark from %(cohorts)s (weak)")}


def cohort_figures(category_slugs: list[str]) -> list[dict[str, Any]]:
    """The published figures of these benchmark categories (bands any/ge3) as plain dicts, one query.

    Each carries its cohort's first-cycle treatment as curated (``cohort_treatment``): "premedication"
    {"given", "n", "of", "agent"} and "dosing" {"regimen", "counts"}, or None where the record has none.
    """
    return [
        cohort_treatment(f.premedication, f.dosing) | {
         "id": f.id, "cohort": f.cohort.slug, "short_name": f.cohort.short_name, "category": f.category,
         "grade_band": f.grade_band, "cycle_scope": f.cycle_scope, "unit": f.unit, "numerator": f.numerator,
         "denominator": f.denominator, "percent_printed": f.percent_printed, "stratum": f.stratum,
         "scale": f.scale, "schedule": f.cohort.schedule, "population": f.cohort.population,
         "attribution": f.attribution, "terms_included": f.terms_included, "set_aside": f.set_aside,
         "derived": f.derived, "blast_share": blast_share(f.blast)}
        for f in CohortFigure.objects.filter(category__in=category_slugs, grade_band__in=list(GRADE_BANDS))
        .select_related("cohort").defer("cohort__record").order_by("cohort__slug", "id")  # record: large
        .annotate(premedication=KeyTransform("premedication", "cohort__record"),
                  dosing=KeyTransform("dosing", "cohort__record"),
                  blast=KeyTransform("blast_burden", "cohort__record"))
    ]


def blast_share(burden: dict[str, Any] | None) -> float | None:
    """A cohort's share of patients with >= 5 % marrow blasts at start: n_ge5 / (n_ge5 + n_lt5) when both are
    recorded, else 1.0 for "high" (all or most) and 0.0 for "low" (all or most in CR), else None (docs/methods.md §4.2;
    Xie: the text and Table 1 reading, 25 of 33, §4.4)."""
    if not burden:
        return None
    ge5, lt5 = burden.get("n_ge5"), burden.get("n_lt5")
    if ge5 is not None and lt5 is not None and ge5 + lt5 > 0:
        return float(ge5 / (ge5 + lt5))
    return {"high": 1.0, "low": 0.0}.get(burden.get("category") or "")


def collect_inputs(site: Site) -> dict[str, Any]:
    """Gather everything ``compute`` needs for ``site``, as JSON-able data (a fixed number of queries).

    The ward profile includes its first-cycle premedication and dosing (``ward_treatment`` of ``treatment_mix``).

    Shape: {"site", "thresholds", "denominators": {"all": n, "first": n}, "strata": {...},
    "categories": [{"slug", "name", "terms", "bands", "actions", "terms_excluded_by_family"}],
    "ward": {"<cat>|<band>|<scope>[|<family without its excluded terms>][|related]": x},
    "figures": [{"id", "cohort", "short_name", "category", "grade_band", "cycle_scope", "unit",
    "numerator", "denominator", "scale", "schedule", "population", "stratum", "attribution",
    "terms_included", "set_aside"}], "excluded_cohort"}. Ward counts come in variants: all-cause and
    treatment-related only (relatedness possible, probable or definite: ``RELATED``), and for a category
    with ``terms_excluded_by_family`` without those terms (e.g. neurotoxicity without Tremor for ASTCT/Lee).
    """
    categories = list(BenchmarkCategory.objects.prefetch_related("terms"))
    treated = Patient.objects.filter(site=site, cycles__isnull=False).distinct()
    denominators = treated.aggregate(
        all=Count("id", distinct=True),
        first=Count("id", distinct=True, filter=Q(cycles__number=1)),
        blasts_ge5=Count("id", distinct=True,
                         filter=Q(cycles__number=1, cycles__marrow_blasts_pct__gte=HIGH_BURDEN_BLASTS_PCT)),
        blasts_lt5=Count("id", distinct=True,
                         filter=Q(cycles__number=1, cycles__marrow_blasts_pct__lt=HIGH_BURDEN_BLASTS_PCT)),
        **{f"schedule|{s}": Count("cycles__id", distinct=True, filter=Q(cycles__schedule=s)) for s in SCHEDULES},
        **{f"population|{pop}": Count("id", distinct=True, filter=Q(cycles__disease_status__in=statuses["cycle"])
                                      | Q(cycles__disease_status="", disease_status__in=statuses["patient"]))
           for pop, statuses in POPULATIONS.items()},
    )
    counts = {}
    for cat in categories:
        term_names = {t.id: t.term for t in cat.terms.all()}
        variants = {"": list(term_names)} | {
            f"|{family}": [i for i, name in term_names.items() if name not in excluded]
            for family, excluded in cat.terms_excluded_by_family.items()}
        for suffix, term_ids in variants.items():
            what = Q(action_taken__in=cat.ae_actions) if cat.ae_actions else Q(term_id__in=term_ids)
            for band in cat.grade_bands:
                cell = what & Q(grade__gte=GRADE_BANDS[band])
                for attribution, extra in (("", Q()), ("|related", Q(relatedness__in=RELATED))):
                    key = f"{cat.slug}|{band}|{{scope}}{suffix}{attribution}"
                    counts[key.format(scope="all")] = Count("patient", distinct=True, filter=cell & extra)
                    counts[key.format(scope="first")] = Count("patient", distinct=True,
                                                              filter=cell & extra & Q(cycle__number=1))
        term_ids = list(term_names)
        for family in scale_families(cat.slug):
            scales = [code for code in AdverseEvent.GradingScale.values if scale_family(code, cat.slug) == family]
            counts[f"scale|{cat.slug}|{family}"] = Count("id", filter=Q(term_id__in=term_ids, grading_scale__in=scales))
    ward = treatment_emergent_events(site).aggregate(**counts)
    scale_counts = {k: ward.pop(k) for k in [k for k in ward if k.startswith("scale|")]}

    figures = cohort_figures([c.slug for c in categories])
    return {
        "site": site.slug,
        "method_version": METHOD_VERSION,
        "thresholds": dict(settings.PVTRACK_BENCHMARK),
        "denominators": {"all": denominators["all"], "first": denominators["first"]},
        "strata": {"blasts_ge5": denominators["blasts_ge5"], "blasts_lt5": denominators["blasts_lt5"]},
        "categories": [{"slug": c.slug, "name": c.name, "terms": sorted(t.term for t in c.terms.all()),
                        "bands": list(c.grade_bands), "actions": list(c.ae_actions),
                        "terms_excluded_by_family": dict(c.terms_excluded_by_family)} for c in categories],
        "ward": ward,
        "ward_profile": ward_profile(denominators, scale_counts, [c.slug for c in categories])
        | ward_treatment(treatment_mix(site)),
        "figures": figures,
        "excluded_cohort": site.demo_of_cohort,
    }


def _majority(counts: dict[str, int]) -> str | None:
    """The key with the strictly largest positive count; "mixed" on a tie; None when all counts are 0."""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] == 0:
        return None
    return "mixed" if len(ranked) > 1 and ranked[1][1] == ranked[0][1] else ranked[0][0]


def ward_profile(denominators: dict[str, int], scale_counts: dict[str, int], categories: list[str]) -> dict[str, Any]:
    """What the ward is, for like-with-like selection (pure; input: the aggregates of ``collect_inputs``).

    Shape: {"schedule": "standard_28d" | "short_14d" | "mixed" | None, "schedule_counts": {schedule: cycles},
    "population": "relapsed_refractory" | "mrd_positive_cr" | "chemo_ineligible_cr" | "mixed" | None,
    "population_counts": {population: patients}, "scales": {category: family | "mixed"},
    "scale_counts": {category: {family: events}}} (families: ``scale_family``; CRS has its own). Schedule = majority
    of the ward's cycles; population = majority of its treated patients' disease status at cycle start (a patient
    counts in each population one of their cycles started in; a cycle without a status falls back to the
    patient's); scale family = majority of the category's treatment-emergent events, or the AE form's default scale
    (CTCAE) when the ward has none yet.
    """
    schedules = {s: denominators[f"schedule|{s}"] for s in SCHEDULES}
    populations = {p: denominators[f"population|{p}"] for p in POPULATIONS}
    default_scale = AdverseEvent._meta.get_field("grading_scale").default
    per_cat = {c: {fam: scale_counts.get(f"scale|{c}|{fam}", 0) for fam in scale_families(c) if fam}
               for c in categories}
    scales = {}
    for c, fam_counts in per_cat.items():
        major = _majority(fam_counts)
        scales[c] = scale_family(default_scale, c) if major is None else major
    return {"schedule": _majority(schedules), "schedule_counts": schedules,
            "population": _majority(populations), "population_counts": populations,
            "scales": scales, "scale_counts": per_cat}


def _comparability(f: dict[str, Any], profile: dict[str, Any] | None, scale_policy: str,
                   premedication_policy: str = "exclude") -> tuple[str | None, list[str]]:
    """(reason to leave the figure out or None, labels to show next to it) for schedule, population, scale and,
    for CRS, premedication and regimen (``treatment_comparability``).

    Differing stated values are left out (scale: only if ``scale_policy`` is "exclude", else labelled; never for
    the cells of ``SCALE_FREE``);
    values the cohort did not state, or mixed ones, are kept with a label; so is everything when the
    ward's own value is unknown (no cycles yet) or mixed.
    """
    if not profile:
        return None, []
    labels: list[str] = []
    schedule, ward_schedule = f.get("schedule") or "not_stated", profile.get("schedule")
    if schedule in ("not_stated", "mixed"):
        labels.append(COMPARISON_TEXTS["schedule_label"] % {"schedule": schedule.replace("_", " ")})
    elif ward_schedule and ward_schedule != "mixed" and schedule != ward_schedule:
        return COMPARISON_TEXTS["schedule"] % {"schedule": schedule, "ward_schedule": ward_schedule}, []
    population, ward_population = f.get("population") or "not_stated", profile.get("population")
    if population in ("not_stated", "mixed"):
        labels.append(COMPARISON_TEXTS["population_label"] % {"population": population.replace("_", " ")})
    elif ward_population and ward_population != "mixed" and population != ward_population:
        return COMPARISON_TEXTS["population"] % {"population": population.replace("_", " "),
                                                 "ward_population": ward_population.replace("_", " ")}, []
    treatment_reason, treatment_labels = treatment_comparability(f, profile, premedication_policy)
    if treatment_reason:
        return treatment_reason, []
    labels += treatment_labels
    if (f["category"], f["grade_band"]) in SCALE_FREE:
        return None, labels
    family = scale_family(f.get("scale"), f["category"])
    ward_family = (profile.get("scales") or {}).get(f["category"])
    if family is None:
        labels.append(COMPARISON_TEXTS["scale_not_stated"] if (f.get("scale") or "not_stated") == "not_stated"
                      else COMPARISON_TEXTS["version_not_stated"] % {"scale": f["scale"]})
    elif ward_family and ward_family != "mixed" and family != ward_family:
        why = COMPARISON_TEXTS["scale"] % {"family": SCALE_FAMILY_LABELS[family], "scale": f["scale"],
                                           "ward_family": SCALE_FAMILY_LABELS[ward_family]}
        if scale_policy == "exclude":
            return why, []
        labels.append(why)
    return None, labels


def select_figures(figures: list[dict[str, Any]], category: str, band: str, scope: str,
                   excluded_cohort: str, profile: dict[str, Any] | None = None, scale_policy: str = "exclude",
                   stratum: str = "all", premedication_policy: str = "exclude"
                   ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Split the cohort figures of one benchmark cell into (used, excluded-with-reason).

    Used: unit patients, stated numerator and denominator, whole cohort (``stratum`` "all"; otherwise
    only figures of that blast stratum are considered), same cycle scope, at most one figure per cohort,
    not the ward's own source cohort, and comparable with the ward ``profile`` (``ward_profile``; schedule,
    population, grading-scale family, CRS premedication: see ``_comparability``). Used figures are copies with "labels"
    (list of str: what is only partly comparable); excluded ones are {"cohort", "short_name", "reason"}.
    """
    used: list[dict[str, Any]] = []
    excluded: list[dict[str, str]] = []
    for f in figures:
        if f["category"] != category or f["grade_band"] != band:
            continue
        if stratum != "all" and f["stratum"] != stratum:
            continue
        reason: str | None = None
        labels: list[str] = []
        if f["cohort"] == excluded_cohort:
            reason = OWN_COHORT
        elif f["unit"] != "patients":
            reason = COMPARISON_TEXTS["unit"] % {"unit": f["unit"]}
        elif f["numerator"] is None or f["denominator"] is None:
            reason = COMPARISON_TEXTS["no_denominator"]
        elif f["stratum"] != stratum:
            reason = COMPARISON_TEXTS["stratum"] % {"stratum": f["stratum"]}
        elif f["cycle_scope"] != scope:
            reason = COMPARISON_TEXTS["scope"] % {"scope": f["cycle_scope"].replace("_", " "),
                                                  "ward_scope": CYCLE_SCOPES[scope]}
        elif f.get("set_aside"):
            reason = f["set_aside"]  # the fixture's text; translated on the pages if in reports.cohort_texts
        else:
            reason, labels = _comparability(f, profile, scale_policy, premedication_policy)
            if reason is None and any(u["cohort"] == f["cohort"] for u in used):
                reason = COMPARISON_TEXTS["same_cohort"]
        if reason:
            excluded.append({"cohort": f["cohort"], "short_name": f["short_name"], "reason": reason})
        else:
            used.append(f | {"labels": labels})
    return used, excluded


# --- Treatment layer: dexamethasone premedication and the dosing regimen (issue 20 item 6) ----------------------
#: Categories whose comparison is matched on premedication and shown with the regimen. CRS only: dexamethasone
#: premedication is given to prevent CRS (BLINCYTO USPI §2.2) and the cohorts tie it to CRS (Tuebingen: high-grade
#: CRS "especially ... in patients who did not receive steroid premedication"); docs/comparisons.md §7.
TREATMENT_MATCHED = {"crs"}
PREMEDICATION_WARD = {"yes": gettext_noop("premedicated"), "no": gettext_noop("not premedicated")}
REGIMENS = {"step_up_5_15": gettext_noop("step-up 5→15 µg/m²/day"),
            "step_up_5_10_15": gettext_noop("step-up 5→10→15 µg/m²/day"),
            "flat_15": gettext_noop("15 µg/m²/day from day 1"), "fixed_dose": gettext_noop("fixed dose (µg/day)"),
            "mixed": gettext_noop("mixed regimens"), "not_reported": gettext_noop("regimen not reported")}
DOSING_WARD = {"step_up": gettext_noop("step-up"), "flat": gettext_noop("flat (one dose level)")}
#: A cohort's premedication in words (``premedication_text``).
PREMEDICATION_TEXTS = {"all": gettext_noop("all premedicated"), "none": gettext_noop("none premedicated"),
                       "not_reported": gettext_noop("premedication not reported"),
                       "some": gettext_noop("%(n)s of %(of)s premedicated"),
                       "some_unknown": gettext_noop("some premedicated (number not reported)")}


def cohort_treatment(premedication: dict[str, Any] | None, dosing: dict[str, Any] | None) -> dict[str, Any]:
    """The cohort record's ``premedication`` and ``dosing`` reduced to what the benchmark uses (pure).

    Shape: {"premedication": {"given": "all"|"none"|"some"|"not_reported", "n": int|None, "of": int|None,
    "agent": str} | None, "dosing": {"regimen": str, "counts": {"step_up", "flat", "fixed": int}} | None}.
    """
    return {"premedication": None if not premedication else
            {k: premedication.get(k) for k in ("given", "n", "of")} | {"agent": premedication.get("agent", "")},
            "dosing": None if not dosing else {"regimen": dosing["regimen"], "counts": dosing.get("counts") or {}}}


def cohort_premedication(p: dict[str, Any] | None) -> str | None:
    """A cohort's premedication as the ward's majority values: "yes" (all or most premedicated), "no" (none or a
    minority), "mixed" (some, number not given, or exactly half), None (not reported)."""
    if not p or p.get("given") in (None, "not_reported"):
        return None
    if p["given"] in ("all", "none"):
        return "yes" if p["given"] == "all" else "no"
    n, of = p.get("n"), p.get("of")
    if n is None or not of or 2 * n == of:
        return "mixed"
    return "yes" if 2 * n > of else "no"


def premedication_text(p: dict[str, Any] | None) -> str:
    """"all premedicated", "3 of 23 premedicated", "premedication not reported"..."""
    given = (p or {}).get("given") or "not_reported"
    if given == "some":
        return (PREMEDICATION_TEXTS["some"] % {"n": p["n"], "of": p["of"]} if p and p.get("n") is not None
                and p.get("of") else PREMEDICATION_TEXTS["some_unknown"])
    return PREMEDICATION_TEXTS[given if given in ("all", "none") else "not_reported"]


def cohort_dosing(d: dict[str, Any] | None) -> str | None:
    """A cohort's first-cycle dosing as the ward's values: "step_up", "flat" (majority of its counts, or its
    regimen), "mixed" (a tie or mixed without counts), None (not reported)."""
    if not d or d.get("regimen") in (None, "not_reported"):
        return None
    counts = {k: v for k, v in (d.get("counts") or {}).items() if k in DOSING_WARD}
    if counts:
        return _majority(counts) or "mixed"
    return {"flat_15": "flat", "mixed": "mixed", "fixed_dose": "mixed"}.get(d["regimen"], "step_up")


def dosing_text(d: dict[str, Any] | None) -> str:
    """The regimen as reported, with its split when mixed, e.g. "mixed regimens (step-up 1, flat 22)"."""
    if not d:
        return REGIMENS["not_reported"]
    given = d.get("counts") or {}  # stored as JSONB, whose key order is not the file's
    counts = ", ".join(f"{k.replace('_', '-')} {given[k]}" for k in ("step_up", "flat", "fixed") if k in given)
    return REGIMENS[d["regimen"]] + (f" ({counts})" if counts else "")


def ward_treatment(mix: dict[str, dict[str, int]] | None) -> dict[str, Any]:
    """The ward's first-cycle premedication and dosing for like-with-like (pure; input ``treatment_mix``).

    Shape: {"premedication": "yes"|"no"|"mixed"|None, "premedication_counts": {...}, "dosing": "step_up"|"flat"|
    "mixed"|None, "dosing_counts": {...}} = the majority of the first cycles, None when most are "not recorded"
    or there are none (then nothing is set aside on it).
    """
    if not mix:
        return {}
    out: dict[str, Any] = {}
    for key in ("premedication", "dosing"):
        counts = dict(mix.get(key) or {})
        major = _majority(counts)
        out[key] = None if major == "not_recorded" else major
        out[f"{key}_counts"] = counts
    return out


def _ward_share(profile: dict[str, Any], key: str) -> str:
    counts = profile.get(f"{key}_counts") or {}
    return COMPARISON_TEXTS["ward_share"] % {"k": counts.get(profile.get(key) or "", 0), "n": sum(counts.values())}


def treatment_comparability(f: dict[str, Any], profile: dict[str, Any] | None,
                            policy: str = "exclude") -> tuple[str | None, list[str]]:
    """(reason to set the figure aside or None, labels) on premedication and regimen, for ``TREATMENT_MATCHED``.

    A cohort whose premedication ("yes"/"no" by ``cohort_premedication``) differs from the ward's majority
    (``ward_treatment``) is set aside with ``policy`` "exclude", labelled with "label". A cohort that does not
    report it, or reports a mix, is kept and labelled; so is a regimen that differs from the ward's (labelled only,
    never set aside). Nothing happens when the ward's premedication is unknown (mostly not recorded), for other
    categories, or for figures stored before 1.4 (no "premedication" key).
    """
    if f["category"] not in TREATMENT_MATCHED or "premedication" not in f or not profile:
        return None, []
    labels: list[str] = []
    ward_premed = profile.get("premedication")
    if ward_premed in PREMEDICATION_WARD:
        cohort_premed = cohort_premedication(f["premedication"])
        if cohort_premed in PREMEDICATION_WARD and cohort_premed != ward_premed:
            why = COMPARISON_TEXTS["premedication"] % {"cohort": premedication_text(f["premedication"]),
                                                       "ward": PREMEDICATION_WARD[ward_premed],
                                                       "share": _ward_share(profile, "premedication")}
            if policy == "exclude":
                return why, []
            labels.append(why)
        elif cohort_premed != ward_premed:
            labels.append(premedication_text(f["premedication"]))
    ward_dosing = profile.get("dosing")
    cohort_dose = cohort_dosing(f.get("dosing"))
    if ward_dosing in DOSING_WARD and cohort_dose != ward_dosing:
        labels.append(COMPARISON_TEXTS["regimen_label"] % {"regimen": dosing_text(f.get("dosing")),
                                                           "ward": DOSING_WARD[ward_dosing]})
    return None, labels


#: The premedication and regimen labels of a cell's "Matched:" line (``treatment_definitions``).
TREATMENT_TEXTS = {
    "ward": gettext_noop("%(value)s (ward: %(share)s)"),
    "not_matched": gettext_noop("not matched (ward's first cycles: %(value)s)"),
    "not_recorded": gettext_noop("mostly not recorded"),
    "cohorts": gettext_noop("%(label)s; cohorts: %(cohorts)s"),
}


def treatment_definitions(category: str, used: list[dict[str, Any]], profile: dict[str, Any] | None
                          ) -> dict[str, str] | None:
    """What a cell matched on premedication and regimen, for its "Matched:" line; None outside the layer.

    Shape: {"premedication_label": "premedicated (ward: 5 of 6 first cycles); cohorts: Xie 2023 all premedicated",
    "regimen_label": "step-up (ward: 6 of 6 first cycles); cohorts: Xie 2023 step-up 5→10→15 µg/m²/day"}.
    """
    if category not in TREATMENT_MATCHED or not profile or "premedication" not in profile:
        return None
    cohorts = [f for f in used if "premedication" in f]
    ward_premed, ward_dosing = profile.get("premedication"), profile.get("dosing")
    premed = (TREATMENT_TEXTS["ward"] % {"value": PREMEDICATION_WARD[ward_premed],
                                         "share": _ward_share(profile, "premedication")}
              if ward_premed in PREMEDICATION_WARD else
              TREATMENT_TEXTS["not_matched"] % {"value": ward_premed or TREATMENT_TEXTS["not_recorded"]})
    regimen = (TREATMENT_TEXTS["ward"] % {"value": DOSING_WARD[ward_dosing], "share": _ward_share(profile, "dosing")}
               if ward_dosing in DOSING_WARD else
               TREATMENT_TEXTS["not_matched"] % {"value": ward_dosing or TREATMENT_TEXTS["not_recorded"]})
    if cohorts:
        premed = TREATMENT_TEXTS["cohorts"] % {"label": premed, "cohorts": ", ".join(
            f"{f['short_name']} {premedication_text(f['premedication'])}" for f in cohorts)}
        regimen = TREATMENT_TEXTS["cohorts"] % {"label": regimen, "cohorts": ", ".join(
            f"{f['short_name']} {dosing_text(f.get('dosing'))}" for f in cohorts)}
    return {"premedication_label": premed, "regimen_label": regimen}


_progress: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar("benchmark_progress",
                                                                                        default=None)


@contextlib.contextmanager
def reporting_progress(callback: Callable[[int], None]) -> Iterator[None]:
    """Within this block, ``compute`` calls ``callback(percent)`` after each cell (unless given its own)."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def compute(inputs: dict[str, Any], progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Compute every benchmark cell from ``collect_inputs`` output; pure and deterministic.

    Uses only ``inputs`` (so a stored run recomputes exactly, whatever the cohort tables hold now).
    Returns {"method_version", "cells": [cell, ...], "n_comparisons", "flags": [flag, ...], "ward_profile"}
    where each cell holds the ward's x/n, rate and Clopper–Pearson 95% CI, the cohorts used (with labels,
    attribution and what each counted) and excluded (with reasons), the definitions matched ("definitions":
    scale family, attribution basis, the ward terms counted and those left out), the pooled reference (GLMM or
    labelled weak fallback), the two-step
    REML/Hartung–Knapp sensitivity with per-cohort weights, the upper/lower predictive tails, the 95%
    predictive range for a ward of this size, the case-mix O/E, the Pocock boundary at the ward's n, the
    descriptive Bayesian P(ward rate > benchmark) and its flag (or None); with ``inputs["monitoring"]`` also
    "monitoring" (:func:`reports.trends.compute_monitoring`) and a "cusum" flag per chart that signalled; with
    ``inputs["network"]`` also "network" (the funnel against the other wards, :mod:`reports.signal_flags`) and its
    "network" flags. Every flag has "kind" ("literature", "cusum" or "network"). ``progress``, if given, is
    called with 0-100 after each cell (a side channel only: it never changes the results); without it,
    the callback of an enclosing ``reporting_progress`` block is used.
    """
    progress = progress or _progress.get()
    thresholds = DEFAULTS | inputs["thresholds"]
    keys = [(cat, band, scope) for cat in inputs["categories"] for band in cat.get("bands", GRADE_BANDS)
            for scope in CYCLE_SCOPES]
    cells = []
    boundaries: dict[float, sequential.Boundary] = {}
    for i, (cat, band, scope) in enumerate(keys, start=1):
        cells.append(_cell(inputs, cat, band, scope, thresholds, boundaries))
        if progress is not None:
            progress(100 * i // len(keys))
    flags = [c["flag"] | {"kind": "literature", "category": c["category"], "grade_band": c["grade_band"],
                          "cycle_scope": c["cycle_scope"]}
             for c in cells if c["flag"]]
    results = {"method_version": inputs["method_version"], "cells": cells,
               "n_comparisons": sum(1 for c in cells if c["pooled"] and c["ward"]["n"]), "flags": flags,
               "ward_profile": inputs.get("ward_profile")}
    if inputs.get("monitoring") is not None:  # the CUSUM, exposure rates and entry lag (issue 17; reports.trends)
        results["monitoring"] = trends.compute_monitoring(inputs["monitoring"], cells)
        flags.extend(signal_flags.cusum_flags(results["monitoring"]))
    if inputs.get("network") is not None:  # the other wards' counts when the run was made (reports.signal_flags)
        results["network"], network_flags = signal_flags.network_comparisons(cells, inputs["network"])
        flags.extend(network_flags)
    return results


def _pooled_dict(pooled: stats.Pooled) -> dict[str, Any]:
    return {
        "method": pooled.method, "k": pooled.k, "events": pooled.events, "total": pooled.total,
        "median": pooled.median, "marginal_mean": pooled.marginal_mean, "ci": list(pooled.ci),
        "pi": list(pooled.pi), "tau2": pooled.tau2, "i2": pooled.i2, "mu": pooled.mu, "se_mu": pooled.se_mu,
        "ci_critical": pooled.ci_critical, "pi_critical": pooled.pi_critical, "weak": pooled.weak,
        "reason": pooled.reason, "unusable": pooled.unusable,
    }


def match_attribution(used: list[dict[str, Any]], basis: str | None = None
                      ) -> tuple[str, list[dict[str, Any]], list[dict[str, str]]]:
    """Like-with-like on attribution: (basis, figures kept, figures set aside with reason).

    ``basis`` "related" compares treatment-related-only figures with the ward's related count, "all_cause"
    all-cause figures with its all-cause count. Without a given basis it is the attribution of more of the
    ``used`` figures (all-cause on a tie or when none states one). Figures of the other stated attribution
    are set aside; figures that state none are kept with the label "attribution not stated".
    """
    stated = [f.get("attribution") or "not_stated" for f in used]
    if basis is None:
        basis = "related" if stated.count("related") > stated.count("all_cause") else "all_cause"
    kept, set_aside = [], []
    for f, attribution in zip(used, stated, strict=True):
        if "attribution" not in f:  # inputs stored before 1.3 carry no attribution: nothing to match or label
            kept.append(f)
        elif attribution == "not_stated":
            kept.append(f | {"labels": [*f.get("labels", []), ATTRIBUTIONS["not_stated"]]})
        elif attribution == basis:
            kept.append(f)
        else:
            set_aside.append({"cohort": f["cohort"], "short_name": f["short_name"],
                              "reason": COMPARISON_TEXTS["attribution"] % {"attribution": ATTRIBUTIONS[attribution],
                                                                           "basis": ATTRIBUTIONS[basis]}})
    return basis, kept, set_aside


def _ward_terms(cat: dict[str, Any], family: str | None) -> tuple[str, list[str]]:
    """(key suffix of the ward count, the terms it counts) for the category graded by ``family``."""
    excluded = (cat.get("terms_excluded_by_family") or {}).get(family or "")
    if excluded is None:
        return "", list(cat.get("terms", []))
    return f"|{family}", [t for t in cat.get("terms", []) if t not in excluded]


def _cell(inputs: dict[str, Any], cat: dict[str, Any], band: str, scope: str,
          thresholds: dict[str, Any], boundaries: dict[float, sequential.Boundary]) -> dict[str, Any]:
    n = inputs["denominators"][scope]
    profile = inputs.get("ward_profile")
    used, excluded = select_figures(inputs["figures"], cat["slug"], band, scope, inputs["excluded_cohort"],
                                    profile, thresholds["SCALE_MISMATCH"],
                                    premedication_policy=thresholds["PREMEDICATION_MISMATCH"])
    if inputs["excluded_cohort"] and not any(e["reason"] == OWN_COHORT for e in excluded):
        # A demo ward rebuilt from a cohort has events only where that cohort reported a figure:
        # elsewhere its zero is an artefact of the source, not a ward observation to flag.
        used = []
    stated = any((f.get("attribution") or "not_stated") != "not_stated" for f in used)
    basis, used, set_aside = match_attribution(used)
    excluded += set_aside
    family = ((profile or {}).get("scales") or {}).get(cat["slug"])
    suffix, terms = _ward_terms(cat, family)
    base = f"{cat['slug']}|{band}|{scope}"
    x_key = base + suffix + ("|related" if basis == "related" else "")
    x = inputs["ward"].get(x_key, inputs["ward"][base])  # runs stored before 1.3 have the all-cause count only
    cell: dict[str, Any] = {
        "category": cat["slug"], "category_name": cat["name"], "grade_band": band, "cycle_scope": scope,
        "ward": {"x": x, "n": n, "rate": x / n if n else None,
                 "ci": list(stat_cache.clopper_pearson(x, n)) if n else None},
        "cohorts": [{"cohort": f["cohort"], "short_name": f["short_name"], "x": f["numerator"],
                     "n": f["denominator"], "rate": f["numerator"] / f["denominator"], "scale": f["scale"],
                     "schedule": f["schedule"], "population": f["population"], "labels": f["labels"],
                     "attribution": f.get("attribution", "not_stated"), "terms_included": f.get("terms_included", []),
                     **({"derived": f["derived"]} if f.get("derived") else {}),
                     **({"premedication": premedication_text(f["premedication"]),
                         "regimen": dosing_text(f.get("dosing"))} if "premedication" in f else {})}
                    for f in used],
        "definitions": {
            "scale_family": None if (cat["slug"], band) in SCALE_FREE else family,
            "scale_family_label": (SCALE_FREE_LABEL if (cat["slug"], band) in SCALE_FREE
                                   else SCALE_FAMILY_LABELS.get(family or "", family or "unknown")),
            "attribution": basis,
            "attribution_label": ATTRIBUTIONS[basis] + ("" if stated or not used else ATTRIBUTION_UNSTATED_NOTE),
            "terms": ([f"{ACTION_TERM_PREFIX}{a}" for a in cat["actions"]] if cat.get("actions") else terms),
            "terms_left_out": sorted(set(cat.get("terms", [])) - set(terms)),
        } | (treatment_definitions(cat["slug"], used, profile) or {}),
        "excluded": excluded, "pooled": None, "two_step": None, "p_upper": None, "p_lower": None,
        "p_fixed": None, "predictive_range": None, "posterior_above": None, "case_mix": None, "sequential": None,
        "flag": None, "meta_regression": None,
    }
    if not used:
        cell["note"] = (COMPARISON_TEXTS["note_demo"] if excluded and not cell["cohorts"]
                        and inputs["excluded_cohort"] else
                        NO_CYCLE1_FIGURE if scope == "first" and not any(
                            f["category"] == cat["slug"] and f["grade_band"] == band and f["cycle_scope"] == "first"
                            for f in inputs["figures"]) else COMPARISON_TEXTS["note_none"])
        return cell
    events, totals = [f["numerator"] for f in used], [f["denominator"] for f in used]
    pooled = stat_cache.pool(events, totals, min_cohorts=int(thresholds["MIN_COHORTS"]),
                        min_events=int(thresholds["MIN_EVENTS"]))
    cell["pooled"] = _pooled_dict(pooled)
    cell["two_step"] = _two_step(used)
    reg = _meta_regression(used, inputs, cat["slug"], band, pooled)
    cell["meta_regression"] = reg
    if reg and reg.pop("_pooled", None) is not None:
        cell["pooled_unadjusted"] = cell["pooled"]
        pooled = stats.pooled_from_dict(reg["pooled"])
        cell["pooled"] = reg["pooled"]
    if pooled.unusable:  # docs/methods.md §4.1: a degenerate fit is shown as such, never compared with
        cell["note"] = pooled.unusable
        return cell
    if not n:
        cell["note"] = COMPARISON_TEXTS["note_no_patients"]
        return cell
    p_up = stats.predictive_tail(x, n, pooled, upper=True)
    p_low = stats.predictive_tail(x, n, pooled, upper=False)
    p_fixed = stats.fixed_tail(x, n, pooled.marginal_mean, upper=True)
    lo_limit, hi_limit = _predictive_range(n, pooled, thresholds["ALERT_P"])
    cell.update(p_upper=p_up, p_lower=p_low, p_fixed=p_fixed, predictive_range=[lo_limit, hi_limit],
                posterior_above=(stats.posterior_prob_above(x, n, pooled.marginal_mean)
                                 if 0 < pooled.marginal_mean < 1 else None))
    cell["case_mix"] = _case_mix(inputs, cat["slug"], band, scope, x, n, pooled, thresholds, basis)
    cell["sequential"] = _sequential(x, n, pooled.marginal_mean, thresholds, boundaries)
    cell["flag"] = _flag(cat["name"], band, scope, x, n, p_up, p_low, p_fixed, (lo_limit, hi_limit),
                         pooled, thresholds, related=basis == "related")
    return cell


#: Moderators of the meta-regression, in priority order, with their plain names (docs/methods.md §4.2). Each
#: "…_differs" is 1 when the cohort's stated value differs from the ward's, 0 when equal: the model predicts at 0.
MODERATORS = {"blast_share": gettext_noop("share of patients with ≥5% marrow blasts"),
              "scale_differs": gettext_noop("grading-scale family other than the ward's"),
              "schedule_differs": gettext_noop("schedule other than the ward's"),
              "population_differs": gettext_noop("population other than the ward's")}
NOT_MODERATORS = {"age": "age is reported as free text (median and range) by too few cohorts to use"}


def _differs(value: str | None, ward_value: str | None, unknown: tuple[str, ...]) -> float | None:
    if not value or value in unknown or not ward_value or ward_value == "mixed":
        return None
    return float(value != ward_value)


def _meta_regression(used: list[dict[str, Any]], inputs: dict[str, Any], category: str, band: str,
                     pooled: stats.Pooled) -> dict[str, Any] | None:
    """The meta-regression of one cell (``reports.meta_regression``), or None when the cell has fewer than
    ``MIN_REPORTING`` cohorts or no random-effects fit. Shape: {"k", "k_used", "tau2_before", "tau2_after", "chosen",
    "chosen_labels", "considered": [{"moderator", "label", "why"}], "exploratory", "lr", "ward_values", "pooled"
    (the benchmark at the ward's case mix, or None), "_pooled" (internal: popped by ``_cell``)}."""
    if len(used) < meta_regression.MIN_REPORTING or pooled.method != "glmm_ml":
        return None
    profile = inputs.get("ward_profile") or {}
    strata = inputs.get("strata") or {}
    known = (strata.get("blasts_ge5") or 0) + (strata.get("blasts_lt5") or 0)
    family = (profile.get("scales") or {}).get(category)
    scale_free = (category, band) in SCALE_FREE
    candidates: dict[str, list[float | None]] = {
        "blast_share": [f.get("blast_share") for f in used],
        "scale_differs": [None if scale_free else _differs(scale_family(f.get("scale"), category), family, ())
                          for f in used],
        "schedule_differs": [_differs(f.get("schedule"), profile.get("schedule"), ("not_stated", "mixed"))
                             for f in used],
        "population_differs": [_differs(f.get("population"), profile.get("population"), ("not_stated", "mixed"))
                               for f in used]}
    ward = {"blast_share": (strata.get("blasts_ge5") or 0) / known if known else None,
            "scale_differs": None if scale_free or not family or family == "mixed" else 0.0,
            "schedule_differs": 0.0 if profile.get("schedule") not in (None, "mixed") else None,
            "population_differs": 0.0 if profile.get("population") not in (None, "mixed") else None}
    try:
        reg = stat_cache.meta_regression_choose([f["numerator"] for f in used], [f["denominator"] for f in used],
                                                candidates, ward)
    except stats.GLMMFitError:
        return None
    return {"k": reg.k, "k_used": len(reg.rows) if reg.fit else reg.k, "tau2_before": reg.tau2_before,
            "tau2_after": reg.tau2_after, "chosen": list(reg.chosen),
            "chosen_labels": [MODERATORS[m] for m in reg.chosen],
            "considered": [{"moderator": m, "label": MODERATORS[m], "why": why} for m, why in reg.considered.items()]
            + [{"moderator": m, "label": m, "why": why} for m, why in NOT_MODERATORS.items()],
            "exploratory": reg.exploratory, "lr": reg.lr, "ward_values": {m: ward[m] for m in reg.chosen},
            "pooled": (_pooled_dict(reg.pooled) | {"exploratory": reg.exploratory}) if reg.pooled else None,
            "_pooled": reg.pooled}


def _two_step(used: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Two-step logit REML + Hartung–Knapp (ad hoc) sensitivity with per-cohort weights (k >= 2), else None.

    None too when every cohort has 0 events or all patients with the event: each logit would then be made by the
    1/2 continuity correction alone, not by the data (docs/methods.md §4.1; "2.7 % from 0/94" was such a row).
    """
    if len(used) < 2 or all(f["numerator"] in (0, f["denominator"]) for f in used):
        return None
    ts = stat_cache.two_step_logit([f["numerator"] for f in used], [f["denominator"] for f in used])
    return {"method": "two_step_logit_reml_hk_adhoc", "k": ts.k, "median": ts.median, "ci": list(ts.ci_prop),
            "pi": list(ts.pi_prop), "tau2": ts.tau2, "i2": ts.i2, "q": ts.q_stat, "q_p": ts.q_p,
            "ci_critical": ts.ci_critical, "pi_critical": ts.pi_critical,
            "weights": [{"cohort": f["cohort"], "short_name": f["short_name"], "weight": w,
                         "corrected": c} for f, w, c in zip(used, ts.weights, ts.corrected, strict=True)]}


def _case_mix(inputs: dict[str, Any], category: str, band: str, scope: str, x: int, n: int,
              pooled: stats.Pooled, thresholds: dict[str, Any], basis: str = "all_cause") -> dict[str, Any] | None:
    """O/E standardised by marrow blast burden at cycle 1 (docs/methods.md §3.2); None for older inputs.

    Strata: blasts >=5%, <5% (cycle 1 baseline) and "not recorded" (the rest of the scope's patients).
    p_s = marginal mean of a benchmark pooled from cohort figures of that stratum when any comparable
    one exists (same selection rules), else the overall benchmark's marginal mean; each stratum says which.
    """
    counts = inputs.get("strata")
    if not counts:
        return None
    strata = []
    known = 0
    for stratum in ("blasts_ge5", "blasts_lt5"):
        size = min(counts.get(stratum, 0), n - known)
        known += size
        strata.append((stratum, size))
    strata.append(("not_recorded", n - known))
    rows = []
    for stratum, size in strata:
        rate, source, k = pooled.marginal_mean, STRATUM_SOURCES["overall"], pooled.k
        if stratum != "not_recorded":
            used, _ = select_figures(inputs["figures"], category, band, scope, inputs["excluded_cohort"],
                                     inputs.get("ward_profile"), thresholds["SCALE_MISMATCH"], stratum=stratum,
                                     premedication_policy=thresholds["PREMEDICATION_MISMATCH"])
            _, used, _ = match_attribution(used, basis)
            if used:
                fit = stat_cache.pool([f["numerator"] for f in used], [f["denominator"] for f in used],
                                 min_cohorts=int(thresholds["MIN_COHORTS"]), min_events=int(thresholds["MIN_EVENTS"]))
                rate, k = fit.marginal_mean, fit.k
                source = STRATUM_SOURCES["stratum_weak" if fit.weak else "stratum"] % {
                    "stratum": STRATA[stratum], "cohorts": ", ".join(f["short_name"] for f in used)}
        rows.append({"stratum": stratum, "label": STRATA[stratum], "n": size, "rate": rate, "source": source,
                     "k": k, "expected": size * rate})
    mix = stats.case_mix(x, [r["n"] for r in rows], [r["rate"] for r in rows])
    return {"strata": rows, "observed": mix.observed, "expected": mix.expected, "sir": mix.sir,
            "ci": list(mix.ci) if mix.ci else None, "p_upper": mix.p_upper, "p_poisson": mix.p_poisson,
            "ci_critical": mix.ci_critical,
            "stratified": any(r["source"] != STRATUM_SOURCES["overall"] for r in rows)}


#: The sequential boundary's note (``results["cells"][i]["sequential"]["note"]``), stored in English (the report
#: translates it, ``reports.computed_text``).
SEQUENTIAL_TEXTS = {
    "passed": gettext_noop("the ward has passed the %(n_max)s planned patients: the boundary no longer applies"),
    "cannot": gettext_noop("no number of events among %(n)s patients can cross yet"),
    "crossed": gettext_noop("crossed: %(x)s events among %(n)s patients reach the boundary of %(bound)s"),
    "needed": gettext_noop("%(needed)s more events among these %(n)s patients would cross the boundary (%(bound)s)"),
    "needed_one": gettext_noop("%(needed)s more event among these %(n)s patients would cross the boundary "
                               "(%(bound)s)"),
}


def _sequential(x: int, n: int, p0: float, thresholds: dict[str, Any],
                boundaries: dict[float, sequential.Boundary]) -> dict[str, Any] | None:
    """Pocock-type boundary (Ivanova 2005) for N_MAX planned patients at theta0 = the pooled marginal mean,
    read at the ward's current n: {"n_max", "alpha", "p0", "nominal", "overall_alpha", "bound", "needed",
    "ranges", "note"}; None when theta0 is 0 or 1 (no boundary exists)."""
    if not 0 < p0 < 1:
        return None
    n_max, alpha = int(thresholds["N_MAX"]), float(thresholds["SEQUENTIAL_ALPHA"])
    if p0 not in boundaries:
        boundaries[p0] = stat_cache.pocock_boundaries(n_max, p0, alpha)
    b = boundaries[p0]
    out = {"n_max": n_max, "alpha": alpha, "p0": p0, "nominal": b.nominal, "overall_alpha": b.overall_alpha,
           "ranges": [list(r) for r in b.ranges()], "bound": None, "needed": None, "note": ""}
    if n > n_max:
        out["note"] = SEQUENTIAL_TEXTS["passed"] % {"n_max": n_max}
        return out
    out["bound"] = b.bounds[n - 1] if b.bounds[n - 1] <= n else None
    out["needed"] = sequential.events_needed_to_cross(b, n, x)
    if out["needed"] is None:
        out["note"] = SEQUENTIAL_TEXTS["cannot"] % {"n": n}
    elif out["needed"] == 0:
        out["note"] = SEQUENTIAL_TEXTS["crossed"] % {"x": x, "n": n, "bound": b.bounds[n - 1]}
    else:
        out["note"] = SEQUENTIAL_TEXTS["needed" if out["needed"] != 1 else "needed_one"] % {
            "needed": out["needed"], "n": n, "bound": b.bounds[n - 1]}
    return out


def _predictive_range(n: int, pooled: stats.Pooled, alpha: float) -> tuple[int, int]:
    """Event counts a comparable ward of n patients shows without being flagged: (lowest, highest)."""
    high, low = stat_cache.predictive_limits(n, pooled, alpha)
    return (0 if low is None else low + 1, n if high is None else high - 1)


def flag_level(p_upper: float, p_lower: float, p_fixed: float, pooled_mean: float,
               thresholds: dict[str, float]) -> tuple[str, str] | None:
    """Return (level, direction) of the flag for these tail probabilities, or None (docs/methods.md §3.5).

    ALARM if p_upper < ALARM_P, ALERT if p_upper < ALERT_P (above); CHECK_ASCERTAINMENT if p_lower < LOW_P
    (below); WATCH if p_fixed < WATCH_P (above the average published rate, inside the spread). WATCH needs a
    positive pooled mean: against a benchmark of 0 events any single event would "exceed the average".
    """
    if p_upper < thresholds["ALERT_P"]:
        return ("ALARM" if p_upper < thresholds["ALARM_P"] else "ALERT"), "above"
    if p_lower < thresholds["LOW_P"]:
        return "CHECK_ASCERTAINMENT", "below"
    if pooled_mean > 0 and p_fixed < thresholds["WATCH_P"]:
        return "WATCH", "above"
    return None


def _flag(name: str, band: str, scope: str, x: int, n: int, p_up: float, p_low: float, p_fixed: float,
          limits: tuple[int, int], pooled: stats.Pooled, th: dict[str, float],
          related: bool = False) -> dict[str, Any] | None:
    decided = flag_level(p_up, p_low, p_fixed, pooled.marginal_mean, th)
    if decided is None:
        return None
    level, direction = decided
    message = flag_message(name=name, band=band, scope=scope, x=x, n=n, level=level, limits=limits,
                           median=pooled.median, mean=pooled.marginal_mean, k=pooled.k, weak=pooled.weak,
                           adjusted=pooled.method == "glmm_ml_metareg", related=related)
    p_value = {"ALARM": p_up, "ALERT": p_up, "CHECK_ASCERTAINMENT": p_low}.get(level, p_fixed)
    return {"level": level, "direction": direction, "p_value": p_value, "message": message}


#: The texts of a flag's message, in English as stored with the flag (``Flag.message``) and marked for
#: translation: the report shows them in the reader's language, rebuilt from the run's cell
#: (``reports.flag_text``). Placeholders are named so that a translation may reorder them.
FLAG_TEXTS = {
    "what": gettext_noop("%(x)s of %(n)s patients had %(band)s %(label)s (%(scope)s)"),
    "what_related": gettext_noop("%(x)s of %(n)s patients had %(band)s %(label)s judged treatment-related "
                                 "(%(scope)s)"),
    "reference": gettext_noop("published benchmark: median %(median)s, mean %(mean)s, from %(k)s cohorts"),
    "reference_one": gettext_noop("published benchmark: median %(median)s, mean %(mean)s, from %(k)s cohort"),
    "reference_adjusted": gettext_noop("published benchmark at the ward's case mix: median %(median)s, mean "
                                       "%(mean)s, from %(k)s cohorts"),
    "reference_adjusted_one": gettext_noop("published benchmark at the ward's case mix: median %(median)s, mean "
                                           "%(mean)s, from %(k)s cohort"),
    "weak": gettext_noop("%(reference)s, weak"),
    "above": gettext_noop("%(what)s; a comparable ward of %(n)s would see at most %(limit)s in 95 of 100 cases "
                          "(%(reference)s). Possible safety signal: review these events."),
    "below": gettext_noop("%(what)s; a comparable ward of %(n)s would see at least %(limit)s in 95 of 100 cases "
                          "(%(reference)s). Possible under-reporting: check that these events are being recorded."),
    "watch": gettext_noop("%(what)s; more than the published mean rate (%(mean)s) would explain, but within the "
                          "spread between published cohorts (%(reference)s). Keep watching."),
    "any": gettext_noop("any grade"), "ge3": gettext_noop("grade ≥3"),
    "all": gettext_noop("all cycles"), "first": gettext_noop("cycle 1"),
}


def flag_message(*, name: str, band: str, scope: str, x: int, n: int, level: str, limits: tuple[int, int] | list[int],
                 median: float, mean: float, k: int, weak: bool, adjusted: bool, related: bool,
                 translate: Callable[[str], str] = str) -> str:
    """The plain-language reason of a flag: what the ward saw, what the benchmark predicts, what to do.

    ``translate`` maps each English text of ``FLAG_TEXTS`` to the reader's language (``gettext``); the default
    keeps English, as :func:`compute` stores it. ``name`` is used as given (the caller translates it:
    ``reports.flag_text``). Rates are shown as
    whole percentages ("12%").
    """
    label = name if name[1:2].isupper() else name[:1].lower() + name[1:]  # keep acronyms such as CRS
    what = translate(FLAG_TEXTS["what_related" if related else "what"]) % {
        "x": x, "n": n, "band": translate(FLAG_TEXTS[band]), "label": label, "scope": translate(FLAG_TEXTS[scope])}
    key = ("reference_adjusted" if adjusted else "reference") + ("_one" if k == 1 else "")
    reference = translate(FLAG_TEXTS[key]) % {"median": f"{median:.0%}", "mean": f"{mean:.0%}", "k": k}
    if weak:
        reference = translate(FLAG_TEXTS["weak"]) % {"reference": reference}
    if level in ("ALARM", "ALERT"):
        return translate(FLAG_TEXTS["above"]) % {"what": what, "n": n, "limit": limits[1], "reference": reference}
    if level == "CHECK_ASCERTAINMENT":
        return translate(FLAG_TEXTS["below"]) % {"what": what, "n": n, "limit": limits[0], "reference": reference}
    return translate(FLAG_TEXTS["watch"]) % {"what": what, "mean": f"{mean:.0%}", "reference": reference}
