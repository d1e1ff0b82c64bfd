"""REST endpoints for patients and treatment cycles, scoped to the user's sites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import mixins, permissions, serializers, viewsets

from core.idempotency import idempotent_create
from core.text import MAX_REASON_CHARS
from patients import access
from patients.filters import PatientFilter, TreatmentCycleFilter
from patients.models import Patient, TreatmentCycle
from patients.selectors import cycles_for, patients_for
from patients.services import cycle_save, patient_save


class SiteScopedWritePermission(permissions.BasePermission):
    """Anyone with a role on the site may read; only ward staff and administrators may write."""

    def has_permission(self, request, view) -> bool:
        # A user who may record on no site at all (e.g. a safety officer) is refused any write with
        # 403, not a misleading 400 "patient does not exist" from the scoped serializer querysets.
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.sites_for(request.user, access.RECORDERS).exists()

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        site = obj.site if hasattr(obj, "site") else obj.patient.site
        return access.can_record(request.user, site)


REASON_HELP = ("Required when changing an existing record (at least 3 visible characters): kept in its audit "
               "trail.")


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, but a value PostgreSQL cannot hold in text (a NUL character) answers 400
    "does not exist" instead of a database error (found by the schemathesis run, tests/security)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


class PatientSerializer(serializers.ModelSerializer):
    site = SlugRelatedField(slug_field="slug", queryset=access.Site.objects.none())
    usubjid = serializers.CharField(read_only=True)
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)

    class Meta:
        model = Patient
        fields = ["id", "site", "study_id", "usubjid", "sex", "birth_month", "disease_status", "prior_hsct",
                  "prior_car_t", "created_at", "reason"]
        validators: list[object] = []  # uniqueness is checked by the model's full_clean in the service

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = access.sites_for(request.user, access.RECORDERS)


class ReasonedWriteViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Create/update through a ``save_service(instance, acting_user, reason)``; an update needs ``reason``."""

    permission_classes = [permissions.IsAuthenticated, SiteScopedWritePermission]
    model: type  # and a static ``save_service(instance, *, acting_user, reason)`` in each subclass
    save_service: Callable[..., Any]

    @idempotent_create
    def create(self, request, *args, **kwargs):
        """Create the record; ``Idempotency-Key`` makes a retry safe (core.idempotency)."""
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("reason", None)
        self._save(self.model(**data), serializer, reason="")

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        instance = serializer.instance
        for k, v in data.items():
            setattr(instance, k, v)
        self._save(instance, serializer, reason=reason)

    def _save(self, instance, serializer, *, reason: str):
        serializer.instance = self.save_service(instance, acting_user=self.request.user, reason=reason)


class PatientViewSet(ReasonedWriteViewSet):
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    model = Patient

    @staticmethod
    def save_service(instance, **kwargs):
        return patient_save(patient=instance, **kwargs)

    def get_queryset(self):
        return patients_for(self.request.user).select_related("site").order_by("id")


class TreatmentCycleSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)

    class Meta:
        model = TreatmentCycle
        fields = ["id", "patient", "number", "schedule", "start_date", "end_date", "starting_dose", "step_up_dose",
                  "step_up_day", "dexamethasone_premedication", "marrow_blasts_pct", "mrd_pct", "interruptions",
                  "interruption_reason", "discontinued", "discontinuation_reason", "reason"]
        validators: list[object] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["patient"].queryset = patients_for(request.user, access.RECORDERS)


class TreatmentCycleViewSet(ReasonedWriteViewSet):
    serializer_class = TreatmentCycleSerializer
    filterset_class = TreatmentCycleFilter
    model = TreatmentCycle

    @staticmethod
    def save_service(instance, **kwargs):
        return cycle_save(cycle=instance, **kwargs)

    def get_queryset(self):
        return cycles_for(self.request.user).select_related("patient__site").order_by("id")
