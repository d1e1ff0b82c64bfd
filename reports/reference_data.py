"""Load the published cohorts and the benchmark categories from ``fixtures/`` into the database."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction

from ae.models import CTCAETerm
from reports import cohort_data
from reports.models import BenchmarkCategory, Cohort, CohortFigure

CATEGORIES_YAML = Path(settings.BASE_DIR) / "fixtures" / "benchmark_categories.yaml"


class FixtureError(ValueError):
    """A reference fixture failed its integrity checks; nothing was loaded."""


@transaction.atomic
def categories_load(path: Path = CATEGORIES_YAML) -> int:
    """Create or update the benchmark categories and their CTCAE terms; returns how many.

    Entries: slug, name, order, rationale, terms (CTCAE v5.0 terms), optional grade_bands (default any and
    ge3), ae_actions (AEACN values counted instead of terms) and terms_excluded_by_family ({scale family:
    [terms]} left out of the ward's count when the category is graded by that family).
    Raises FixtureError if a named term is not in the CTCAE v5.0 catalogue (load that first).
    """
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in entries:
        named = set(entry["terms"]) | {t for ts in entry.get("terms_excluded_by_family", {}).values() for t in ts}
        terms = list(CTCAETerm.objects.filter(term__in=entry["terms"]))
        missing = named - {t.term for t in CTCAETerm.objects.filter(term__in=named)}
        if missing:
            raise FixtureError(f"category {entry['slug']}: not CTCAE v5.0 terms: {sorted(missing)}")
        category, _ = BenchmarkCategory.objects.update_or_create(
            slug=entry["slug"],
            defaults={"name": entry["name"], "rationale": entry["rationale"], "order": entry["order"],
                      "grade_bands": entry.get("grade_bands", ["any", "ge3"]),
                      "ae_actions": entry.get("ae_actions", []),
                      "terms_excluded_by_family": entry.get("terms_excluded_by_family", {})})
        category.terms.set(terms)
    return len(entries)


@transaction.atomic
def cohorts_load(paths: list[Path] | None = None) -> int:
    """Check and (re)load cohort fixtures (default: all, removing cohorts whose file is gone); returns how many.

    Raises FixtureError listing every problem (missing quote, numerator > denominator, schema error...)
    before anything is written.
    """
    pruning = paths is None
    paths = paths if paths is not None else cohort_data.cohort_files()
    problems = cohort_data.check_all(paths)
    if problems:
        raise FixtureError("cohort fixtures failed their checks:\n" + "\n".join(map(str, problems)))
    for path in paths:
        record = cohort_data.load_cohort(path)
        grading = record["grading"]
        cohort, _ = Cohort.objects.update_or_create(slug=record["slug"], defaults={
            "short_name": record.get("short_name") or record["slug"],
            "citation": record["citation"],
            "primary_seed": record.get("primary_seed") or "",
            "design": record["design"],
            "n_patients": record["n_patients"],
            "schedule": record["schedule"],
            "population": record["population"],
            "grading_general": grading["general"],
            "grading_crs": grading["crs"],
            "grading_neurotoxicity": grading["neurotoxicity"],
            "blast_burden": record["blast_burden"]["category"],
            "record": record,
        })
        cohort.figures.all().delete()
        CohortFigure.objects.bulk_create(_figure(cohort, record, fig) for fig in record["figures"])
    if pruning:  # the default full load mirrors the fixture directory: a removed file removes its cohort
        Cohort.objects.exclude(slug__in=[cohort_data.load_cohort(p)["slug"] for p in paths]).delete()
    return len(paths)


def _figure(cohort: Cohort, record: dict, fig: dict) -> CohortFigure:
    scale_key = {"crs": "crs", "neurotoxicity": "neurotoxicity", "seizure": "neurotoxicity"}.get(fig["category"],
                                                                                                  "general")
    return CohortFigure(
        cohort=cohort, category=fig["category"], reported_term=fig["reported_term"],
        ctcae_term=fig.get("ctcae_term") or "", grade_band=fig["grade_band"], numerator=fig["numerator"],
        denominator=fig["denominator"], percent_printed=fig.get("percent_printed"), unit=fig["unit"],
        cycle_scope=fig["cycle_scope"], scale=fig.get("scale") or record["grading"][scale_key],
        stratum=fig.get("stratum", "all"), seed=fig["provenance"]["seed"],
        attribution=fig.get("attribution") or record.get("attribution", {}).get("default", "not_stated"),
        terms_included=fig.get("terms_included", []), set_aside=fig.get("set_aside", ""),
        derived=(fig.get("derived") or {}).get("rule", ""),
        location=fig["provenance"]["location"], quote=fig["provenance"]["quote"], note=fig.get("note", ""))
