"""REST endpoints for benchmark runs (read-only), scoped to the user's sites."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers, viewsets

from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from reports.selectors import runs_for

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from patients.models import Site


class FlagSerializer(serializers.ModelSerializer):
    category: serializers.SlugRelatedField[BenchmarkCategory] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    reviewed_by: serializers.StringRelatedField[User] = serializers.StringRelatedField()

    class Meta:
        model = Flag
        fields = ["id", "category", "grade_band", "cycle_scope", "level", "direction", "message", "p_value",
                  "reviewed_by", "reviewed_at", "review_comment"]


class BenchmarkRunSerializer(serializers.ModelSerializer):
    site: serializers.SlugRelatedField[Site] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    flags = FlagSerializer(many=True, read_only=True)

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
                .select_related("site").prefetch_related("flags__category", "flags__reviewed_by")
                .order_by("-requested_at", "-id"))
