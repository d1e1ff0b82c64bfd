"""Published cohorts (reference data), benchmark categories, benchmark runs and their flags."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from ae.models import CTCAETerm
from core.audit import tracked
from patients.models import Site


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

    class Meta:
        ordering = ["cohort", "category", "grade_band", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(numerator__isnull=True) | Q(denominator__isnull=True)
                | Q(numerator__lte=models.F("denominator")),
                name="cohortfigure_numerator_le_denominator"),
        ]

    def __str__(self) -> str:
        return f"{self.cohort.slug}: {self.reported_term} {self.grade_band}"


class BenchmarkCategory(models.Model):
    """A benchmark category (e.g. CRS, seizure): the set of CTCAE terms that cohorts report under that name."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    rationale = models.TextField()
    terms = models.ManyToManyField(CTCAETerm, related_name="benchmark_categories")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]
        verbose_name_plural = "benchmark categories"

    def __str__(self) -> str:
        return self.name


class BenchmarkRun(models.Model):
    """One benchmark of a site against the published cohorts: inputs, method, results and status.

    The row is created in the same transaction as the change that makes it necessary (the outbox):
    a run is never lost because the broker was down when the change was saved.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        AE_CHANGE = "ae_change", "Adverse event changed"
        CYCLE_CHANGE = "cycle_change", "Cycle changed"
        NIGHTLY = "nightly", "Nightly"
        MANUAL = "manual", "Manual"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="benchmark_runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=15, choices=Trigger.choices)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    method_version = models.CharField(max_length=80, blank=True)
    inputs = models.JSONField(null=True, blank=True, help_text="Ward counts, cohort figures and thresholds used.")
    results = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)],
        help_text="Percentage of benchmark cells computed (0-100), updated while the run is running.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # At most one queued run per site: later changes are covered by the run already waiting.
            models.UniqueConstraint(fields=["site"], condition=Q(status="pending"),
                                    name="benchmarkrun_one_pending_per_site"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="benchmarkrun_progress_0_100"),
        ]
        indexes = [models.Index(fields=["site", "status"], name="benchmarkrun_site_status_idx")]

    def __str__(self) -> str:
        return f"{self.site.slug} run {self.pk} ({self.status})"


@tracked
class Flag(models.Model):
    """A ward incidence outside the benchmark's predictive limits, awaiting a safety officer's review."""

    class Level(models.TextChoices):
        ALARM = "ALARM", "Alarm (outside 99.8% predictive limit)"
        ALERT = "ALERT", "Alert (outside 95% predictive limit)"
        WATCH = "WATCH", "Watch (above the pooled rate, within the spread between cohorts)"
        CHECK_ASCERTAINMENT = "CHECK_ASCERTAINMENT", "Check ascertainment (fewer events than expected)"

    class Direction(models.TextChoices):
        ABOVE = "above", "Above benchmark (possible signal)"
        BELOW = "below", "Below benchmark (possible under-reporting)"

    run = models.ForeignKey(BenchmarkRun, on_delete=models.CASCADE, related_name="flags")
    category = models.ForeignKey(BenchmarkCategory, on_delete=models.PROTECT, related_name="+")
    grade_band = models.CharField(max_length=5)
    cycle_scope = models.CharField(max_length=10)
    level = models.CharField(max_length=20, choices=Level.choices)
    direction = models.CharField(max_length=5, choices=Direction.choices)
    message = models.TextField()
    p_value = models.FloatField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    #: Electronic signature of the review (21 CFR 11.50): printed name, meaning, and the exact run content
    #: signed (sha256 of the run's stored results); the date/time is ``reviewed_at``.
    signer_name = models.CharField(max_length=200, blank=True)
    signature_meaning = models.CharField(max_length=300, blank=True)
    signed_results_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["run", "category__order", "grade_band", "cycle_scope"]
        constraints = [
            models.UniqueConstraint(fields=["run", "category", "grade_band", "cycle_scope"],
                                    name="flag_one_per_benchmark_cell"),
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True, reviewed_by__isnull=True, review_comment="", signer_name="",
                            signature_meaning="", signed_results_sha256="")
                | Q(reviewed_at__isnull=False, reviewed_by__isnull=False) & ~Q(review_comment="")
                & ~Q(signer_name="") & ~Q(signature_meaning="") & ~Q(signed_results_sha256=""),
                name="flag_review_complete",
                violation_error_message="A flag review is a signature: reviewer, time, comment, name, meaning and "
                                        "the signed run's content hash all together, or none."),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.category.slug} {self.grade_band} {self.cycle_scope}"


@tracked
class RunSignoff(models.Model):
    """A safety officer's electronic signature of one benchmark run as a whole (21 CFR 11.50 / 11.200).

    Bound to exactly the run version signed: ``signed_results_sha256`` is the hash of the run's stored
    results at signing; a signature whose hash no longer matches is shown as invalid.
    """

    run = models.ForeignKey(BenchmarkRun, on_delete=models.PROTECT, related_name="signoffs")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=300)
    comment = models.TextField(blank=True)
    signed_results_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["run", "signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["run", "signed_by"], name="runsignoff_once_per_signer"),
            models.CheckConstraint(condition=~Q(signer_name="") & ~Q(meaning="")
                                   & Q(signed_results_sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="runsignoff_complete"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} signed by {self.signer_name}"
