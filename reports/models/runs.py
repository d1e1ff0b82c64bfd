"""Benchmark runs of a site (the outbox row and the stored result), their flags, and sign-offs of a run."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.audit import tracked
from core.text import MAX_REASON_CHARS, max_chars_constraint
from patients.models import Site
from reports.models.cohorts import BenchmarkCategory


class BenchmarkRun(models.Model):
    """One benchmark of a site against the published cohorts: inputs, method, results and status.

    The row is created in the same transaction as the change that makes it necessary (the outbox):
    a run is never lost because the broker was down when the change was saved.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        AE_CHANGE = "ae_change", _("Adverse event changed")
        CYCLE_CHANGE = "cycle_change", _("Cycle changed")
        NIGHTLY = "nightly", _("Nightly")
        MANUAL = "manual", _("Manual")

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


#: The fields that make a flag's review: once a flag is signed or carries a review, none of them (nor the
#: cell it is about) may change (trigger ``flag_review_immutable``).
_FLAG_FROZEN_FIELDS = ("run_id", "kind", "category_id", "grade_band", "cycle_scope", "level", "direction",
                       "reviewed_at", "reviewed_by_id", "review_comment", "signer_name", "signature_meaning",
                       "signed_results_sha256", "cell_values", "cell_fingerprint", "carried_review_id")


@tracked
class Flag(models.Model):
    """A signal about one cell of a ward, awaiting a safety officer's review: the ward's incidence outside the
    published benchmark's predictive limits (``kind`` literature), outside the funnel limits of the network's other
    wards (network), or its risk-adjusted CUSUM over consecutive patients at or above its threshold (cusum).

    A flag is *reviewed* when a safety officer signed it (``reviewed_at`` and the other signature fields), or
    when it carries the signed review of the same cell in an earlier run of the site (``carried_review``),
    which happens only while the cell's values (``cell_fingerprint``) are unchanged: see ``reports.carry``.
    A carried review is a reference to the original signature, never a copy of it.
    """

    class Kind(models.TextChoices):
        """What the ward's cell is compared with (docs/network-and-trends.md, "Flags")."""

        LITERATURE = "literature", _("Published benchmark")
        NETWORK = "network", _("Other wards of the network")
        CUSUM = "cusum", _("Over time (risk-adjusted CUSUM)")

    class Level(models.TextChoices):
        ALARM = "ALARM", "Alarm (outside 99.8% limit)"
        ALERT = "ALERT", "Alert (outside 95% limit)"
        WATCH = "WATCH", "Watch (above the pooled rate, within the spread between cohorts)"
        CHECK_ASCERTAINMENT = "CHECK_ASCERTAINMENT", "Check ascertainment (fewer events than expected)"
        SIGNAL = "SIGNAL", "Signal (CUSUM reached its threshold)"

    class Direction(models.TextChoices):
        ABOVE = "above", "Above benchmark (possible signal)"
        BELOW = "below", "Below benchmark (possible under-reporting)"

    run = models.ForeignKey(BenchmarkRun, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LITERATURE)
    category = models.ForeignKey(BenchmarkCategory, on_delete=models.PROTECT, related_name="+")
    grade_band = models.CharField(max_length=5)
    cycle_scope = models.CharField(max_length=10)
    level = models.CharField(max_length=20, choices=Level.choices)
    direction = models.CharField(max_length=5, choices=Direction.choices)
    message = models.TextField()
    #: One-sided p-value of the comparison (literature: predictive tail; network: the normal tail of the ward's
    #: z-score under the funnel's limits); None for a CUSUM signal, which is a sequential test without one.
    p_value = models.FloatField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True, max_length=MAX_REASON_CHARS)
    #: Electronic signature of the review (21 CFR 11.50): printed name, meaning, and the exact run content
    #: signed (sha256 of the run's stored results); the date/time is ``reviewed_at``.
    signer_name = models.CharField(max_length=200, blank=True)
    signature_meaning = models.CharField(max_length=300, blank=True)
    signed_results_sha256 = models.CharField(max_length=64, blank=True)
    #: What the flag was judged on (``reports.cells.cell_values``: ward x/n, pooled benchmark rounded to 0.1
    #: point, level) and its sha256. Empty only for flags stored before these fields existed
    #: whose cell was missing from their run's results: such a flag never carries a review.
    cell_values = models.JSONField(default=dict, blank=True)
    cell_fingerprint = models.CharField(max_length=64, blank=True)
    #: The original signed review this flag carries over: a flag of an earlier run of the same site, with the
    #: same cell fingerprint, signed itself (checked by trigger ``flag_carried_review_valid``).
    carried_review = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="carried_to")

    class Meta:
        ordering = ["run", "category__order", "grade_band", "cycle_scope", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "category", "grade_band", "cycle_scope"],
                                    name="flag_one_per_kind_and_cell"),
            models.CheckConstraint(condition=Q(kind__in=["literature", "network", "cusum"]), name="flag_kind_known"),
            models.CheckConstraint(
                condition=Q(kind="literature", p_value__isnull=False) | Q(kind="network", p_value__isnull=False,
                                                                          level__in=["ALARM", "ALERT"])
                | Q(kind="cusum", level="SIGNAL", direction="above", cycle_scope="all"),
                name="flag_level_fits_kind",
                violation_error_message=_("A CUSUM flag is a SIGNAL above, over all cycles; a network flag is an ALARM "
                                        "or ALERT with its p-value; a literature flag has its p-value.")),
            max_chars_constraint("review_comment", prefix="flag"),
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True, reviewed_by__isnull=True, review_comment="", signer_name="",
                            signature_meaning="", signed_results_sha256="")
                | Q(reviewed_at__isnull=False, reviewed_by__isnull=False) & ~Q(review_comment="")
                & ~Q(signer_name="") & ~Q(signature_meaning="") & ~Q(signed_results_sha256=""),
                name="flag_review_complete",
                violation_error_message=_("A flag review is a signature: reviewer, time, comment, name, meaning and "
                                        "the signed run's content hash all together, or none.")),
            models.CheckConstraint(
                condition=Q(carried_review__isnull=True) | Q(reviewed_at__isnull=True),
                name="flag_signed_or_carried_not_both",
                violation_error_message=_("A flag is either signed itself or carries an earlier signed review, "
                                        "never both.")),
            models.CheckConstraint(
                condition=Q(cell_fingerprint="") | Q(cell_fingerprint__regex=r"^[0-9a-f]{64}$"),
                name="flag_cell_fingerprint_sha256"),
            models.CheckConstraint(
                condition=Q(carried_review__isnull=True)
                | ~Q(cell_fingerprint="") & ~Q(carried_review=F("id")),
                name="flag_carried_review_needs_fingerprint",
                violation_error_message=_("Only a flag whose cell values are known can carry another flag's review.")),
        ]
        triggers = [
            # The review a flag carries is the signature of the same cell, with the same values, in an earlier
            # run of the same site, signed itself (not carried in turn): the chain always points at the original.
            pgtrigger.Trigger(
                name="flag_carried_review_valid",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(new__carried_review__isnull=False),
                func="""
                DECLARE
                    original RECORD;
                    this_run RECORD;
                BEGIN
                    SELECT f.reviewed_at, f.cell_fingerprint, f.kind, f.run_id, r.site_id, r.finished_at INTO original
                        FROM reports_flag f JOIN reports_benchmarkrun r ON r.id = f.run_id
                        WHERE f.id = NEW.carried_review_id;
                    SELECT site_id, finished_at INTO this_run FROM reports_benchmarkrun WHERE id = NEW.run_id;
                    IF original.reviewed_at IS NULL THEN
                        RAISE EXCEPTION 'a flag carries only a signed review: flag % is not signed itself',
                            NEW.carried_review_id USING ERRCODE = 'check_violation';
                    END IF;
                    IF original.site_id <> this_run.site_id OR original.run_id = NEW.run_id
                            OR this_run.finished_at IS NULL OR original.finished_at > this_run.finished_at THEN
                        RAISE EXCEPTION 'a review carries over only to a later run of the same site'
                            USING ERRCODE = 'check_violation';
                    END IF;
                    IF original.kind <> NEW.kind THEN
                        RAISE EXCEPTION 'a review carries over only to a flag of the same kind'
                            USING ERRCODE = 'check_violation';
                    END IF;
                    IF original.cell_fingerprint <> NEW.cell_fingerprint THEN
                        RAISE EXCEPTION 'the cell changed since flag % was reviewed: it needs a new signature',
                            NEW.carried_review_id USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            # A signature (or the carried review) belongs to what was signed: neither it nor the cell changes.
            pgtrigger.Trigger(
                name="flag_review_immutable",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Condition(
                    "((OLD.reviewed_at IS NOT NULL OR OLD.carried_review_id IS NOT NULL) AND ("
                    + ", ".join(f"OLD.{f}" for f in _FLAG_FROZEN_FIELDS) + ") IS DISTINCT FROM ("
                    + ", ".join(f"NEW.{f}" for f in _FLAG_FROZEN_FIELDS) + "))"),
                func="""
                RAISE EXCEPTION 'flag % is reviewed: its review and the cell it is about cannot change', OLD.id
                    USING ERRCODE = 'check_violation';
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.level} {self.category.slug} {self.grade_band} {self.cycle_scope}"

    @property
    def signed_review(self) -> Flag | None:
        """The flag whose own signature reviews this one: itself if signed, the original it carries, else None."""
        if self.reviewed_at is not None:
            return self
        return self.carried_review


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
    comment = models.TextField(blank=True, max_length=MAX_REASON_CHARS)
    signed_results_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["run", "signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["run", "signed_by"], name="runsignoff_once_per_signer"),
            max_chars_constraint("comment", prefix="runsignoff"),
            models.CheckConstraint(condition=~Q(signer_name="") & ~Q(meaning="")
                                   & Q(signed_results_sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="runsignoff_complete"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} signed by {self.signer_name}"
