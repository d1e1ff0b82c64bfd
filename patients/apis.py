"""REST endpoints for patients and treatment cycles, scoped to the user's sites."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import ValidationError

from patients import access
from patients.models import Patient, TreatmentCycle
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
        return access.role_on(request.user, site) in access.RECORDERS


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """Turn a model ValidationError into a DRF one keyed by field."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


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

    class Meta:
        model = Patient
        fields = ["id", "site", "study_id", "usubjid", "sex", "birth_month", "disease_status", "prior_hsct",
                  "prior_car_t", "created_at"]
        validators = []  # uniqueness is checked by the model's full_clean in the service

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["site"].queryset = access.sites_for(request.user, access.RECORDERS)


class PatientViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = PatientSerializer
    permission_classes = [permissions.IsAuthenticated, SiteScopedWritePermission]
    filterset_fields = ["site__slug", "disease_status"]

    def get_queryset(self):
        return access.patients_for(self.request.user).select_related("site").order_by("id")

    def perform_create(self, serializer):
        self._save(Patient(**serializer.validated_data), serializer)

    def perform_update(self, serializer):
        patient = serializer.instance
        for k, v in serializer.validated_data.items():
            setattr(patient, k, v)
        self._save(patient, serializer)

    def _save(self, patient, serializer):
        try:
            serializer.instance = patient_save(patient=patient, acting_user=self.request.user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc


class TreatmentCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = TreatmentCycle
        fields = ["id", "patient", "number", "schedule", "start_date", "end_date", "starting_dose", "step_up_dose",
                  "step_up_day", "dexamethasone_premedication", "marrow_blasts_pct", "mrd_pct", "interruptions",
                  "interruption_reason", "discontinued", "discontinuation_reason"]
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["patient"].queryset = access.patients_for(request.user, access.RECORDERS)


class TreatmentCycleViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = TreatmentCycleSerializer
    permission_classes = [permissions.IsAuthenticated, SiteScopedWritePermission]
    filterset_fields = ["patient", "number"]

    def get_queryset(self):
        return access.cycles_for(self.request.user).select_related("patient__site").order_by("id")

    def perform_create(self, serializer):
        self._save(TreatmentCycle(**serializer.validated_data), serializer)

    def perform_update(self, serializer):
        cycle = serializer.instance
        for k, v in serializer.validated_data.items():
            setattr(cycle, k, v)
        self._save(cycle, serializer)

    def _save(self, cycle, serializer):
        try:
            serializer.instance = cycle_save(cycle=cycle, acting_user=self.request.user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
