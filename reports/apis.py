"""REST endpoints for benchmark runs (read-only), scoped to the user's sites."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from reports.run_schema import InputsField, ResultsField
from reports.selectors import runs_for

if TYPE_CHECKING:
    from patients.models import Site


class FlagSerializer(serializers.ModelSerializer):
    """A flag (kind: compared with the published benchmark, the network's other wards, or a CUSUM signal) and its
    review: signed on this flag, or carried over from the original signed flag of an earlier
    run (carried_review, carried_from_run) while the flagged cell is unchanged; reviewed_by, reviewed_at and
    review_comment are then the original signature's."""

    category: serializers.SlugRelatedField[BenchmarkCategory] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    reviewed_by = serializers.SerializerMethodField(
        help_text="Username of the reviewer: of this flag's signature or, if carried, of the original's.")
    reviewed_at = serializers.SerializerMethodField(help_text="When the review (or the original) was signed.")
    review_comment = serializers.SerializerMethodField(help_text="The signed review's comment; empty if open.")
    carried_review: serializers.PrimaryKeyRelatedField[Flag] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True,
        help_text="Id of the original signed flag whose review this flag carries, or null.")
    carried_from_run = serializers.SerializerMethodField(
        help_text="Id of the run whose flag carries the original signature, or null if signed here or open.")
    cell_fingerprint = serializers.CharField(
        read_only=True, help_text="sha256 of the values the flag was judged on (ward x/n, benchmark, level); a "
                                  "review carries over only while it is unchanged. Empty if not known.")

    class Meta:
        model = Flag
        fields = ["id", "kind", "category", "grade_band", "cycle_scope", "level", "direction", "message", "p_value",
                  "reviewed_by", "reviewed_at", "review_comment", "carried_review", "carried_from_run",
                  "cell_fingerprint"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reviewed_by(self, flag: Flag) -> str | None:
        review = flag.signed_review
        return str(review.reviewed_by) if review is not None and review.reviewed_by is not None else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_reviewed_at(self, flag: Flag) -> str | None:
        review = flag.signed_review
        if review is None or review.reviewed_at is None:
            return None
        return serializers.DateTimeField().to_representation(review.reviewed_at)  # as the model field did

    def get_review_comment(self, flag: Flag) -> str:
        review = flag.signed_review
        return review.review_comment if review is not None else ""

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_carried_from_run(self, flag: Flag) -> int | None:
        return flag.carried_review.run_id if flag.carried_review is not None else None


class BenchmarkRunSerializer(serializers.ModelSerializer):
    site: serializers.SlugRelatedField[Site] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    flags = FlagSerializer(many=True, read_only=True)
    inputs = InputsField(read_only=True)
    results = ResultsField(read_only=True)

    class Meta:
        model = BenchmarkRun
        fields = ["id", "site", "status", "trigger", "requested_at", "started_at", "finished_at", "attempts",
                  "method_version", "error", "inputs", "results", "flags"]


class BenchmarkRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Benchmark runs of the user's sites, newest first, each with its stored inputs, results and flags."""

    serializer_class = BenchmarkRunSerializer
    filterset_fields = ["site__slug", "status"]

    def get_queryset(self):
        return (runs_for(self.request.user)
                .select_related("site")
                .prefetch_related(Prefetch("flags", queryset=Flag.objects.select_related(
                    "category", "reviewed_by", "carried_review__reviewed_by")))
                .order_by("-requested_at", "-id"))
