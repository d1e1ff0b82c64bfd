"""Published cohorts (reference data, loaded from fixtures/cohorts/), their AE figures, and benchmark categories."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ae.models import CTCAETerm


class Cohort(models.Model):
    """A published blinatumomab cohort, loaded from ``fixtures/cohorts/<slug>.yaml`` (the source of truth)."""

    slug = models.SlugField(unique=True)
    short_name = models.CharField(max_length=120)
    citation = models.TextField()
    primary_seed = models.CharField(max_length=40, blank=True)
    design = models.CharField(max_length=200)
    n_patients = models.PositiveIntegerField(null=True)
    schedule = models.CharField(max_length=20)
    population = models.CharField(max_length=30)
    grading_general = models.CharField(max_length=20)
    grading_crs = models.CharField(max_length=20)
    grading_neurotoxicity = models.CharField(max_length=20)
    blast_burden = models.CharField(max_length=20)
    #: The whole curated record (conflicts, provenance, notes) exactly as in the fixture file.
    record = models.JSONField()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.short_name or self.slug


class CohortFigure(models.Model):
    """One published AE figure of a cohort: numerator/denominator (or a bare percentage) with provenance."""

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="figures")
    category = models.CharField(max_length=30)
    reported_term = models.CharField(max_length=200)
    ctcae_term = models.CharField(max_length=200, blank=True)
    grade_band = models.CharField(max_length=5)
    numerator = models.PositiveIntegerField(null=True)
    denominator = models.PositiveIntegerField(null=True)
    percent_printed = models.FloatField(null=True)
    unit = models.CharField(max_length=10)
    cycle_scope = models.CharField(max_length=15)
    scale = models.CharField(max_length=20)
    stratum = models.CharField(max_length=15, default="all")
    seed = models.CharField(max_length=40)
    location = models.CharField(max_length=300)
    quote = models.TextField()
    note = models.TextField(blank=True)
    #: "related" (treatment-related AEs only), "all_cause" or "not_stated": the figure's own, else its cohort's.
    attribution = models.CharField(max_length=12, default="not_stated")
    #: What the cohort counted under this figure, in its own words (e.g. dizziness in a neurotoxicity figure).
    terms_included = models.JSONField(default=list, blank=True)
    #: Why the figure is not comparable with a ward count of its category (shown, never pooled); "" if it is.
    set_aside = models.TextField(blank=True)
    #: How the figure was derived from printed ones (rule in words, quotes in the cohort record), "" when printed as is.
    derived = models.TextField(blank=True)

    class Meta:
        ordering = ["cohort", "category", "grade_band", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(numerator__isnull=True) | Q(denominator__isnull=True)
                | Q(numerator__lte=models.F("denominator")),
                name="cohortfigure_numerator_le_denominator"),
            models.CheckConstraint(condition=Q(attribution__in=["related", "all_cause", "not_stated"]),
                                   name="cohortfigure_attribution_known"),
        ]

    def __str__(self) -> str:
        return f"{self.cohort.slug}: {self.reported_term} {self.grade_band}"


def default_grade_bands() -> list[str]:
    """Both benchmark grade bands: any grade and grade >=3."""
    return ["any", "ge3"]


class BenchmarkCategory(models.Model):
    """A benchmark category (e.g. CRS, seizure): the set of CTCAE terms that cohorts report under that name."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    rationale = models.TextField()
    terms = models.ManyToManyField(CTCAETerm, related_name="benchmark_categories")
    order = models.PositiveSmallIntegerField(default=0)
    #: Grade bands shown ("any", "ge3"): one band where the CTCAE term starts at grade 3 (febrile neutropenia).
    grade_bands = models.JSONField(default=default_grade_bands)
    #: AE actions (AEACN) that count instead of terms, e.g. ["DRUG INTERRUPTED"]; empty = counted by terms.
    ae_actions = models.JSONField(default=list, blank=True)
    #: Terms left out of the ward's count when the category is graded by a scale family, e.g.
    #: {"astct_lee": ["Tremor"]} (ASTCT 2019 ICANS excludes tremor).
    terms_excluded_by_family = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "slug"]
        verbose_name_plural = "benchmark categories"

    def __str__(self) -> str:
        return self.name
