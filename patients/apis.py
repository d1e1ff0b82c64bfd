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
from patients.selectors import cycles_for, patients_for, treatment_records_for
from patients.services import cycle_save, patient_save
from patients.services.treatment import dosing_step_save, interruption_save, next_therapy_save, stay_save
from patients.treatment import DosingStep, HospitalStay, InfusionInterruption, NextTherapy


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
        return access.can_record(request.user, _site_of(obj))


def _site_of(obj) -> access.Site:
    """The site a patient, cycle or treatment record belongs to."""
    if hasattr(obj, "site"):
        return obj.site
    if hasattr(obj, "patient"):
        return obj.patient.site
    if hasattr(obj, "adverse_event"):
        return obj.adverse_event.patient.site
    return obj.cycle.patient.site


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


class DosingStepReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = DosingStep
        fields = ["id", "from_day", "started_at", "dose", "unit", "batch_number"]


class InterruptionReadSerializer(serializers.ModelSerializer):
    needs_dexamethasone = serializers.BooleanField(read_only=True, help_text=(
        "The restart followed an interruption of ≥ 4 h: dexamethasone premedication is due (USPI §2.2)."))
    dexamethasone_rule_flag = serializers.CharField(read_only=True, allow_null=True, help_text=(
        "Why the ≥ 4 h restart rule is not shown to be followed; null when it is or does not apply."))

    class Meta:
        model = InfusionInterruption
        fields = ["id", "stopped_at", "restarted_at", "cause", "dexamethasone_before_restart", "needs_dexamethasone",
                  "dexamethasone_rule_flag"]


class StayReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = HospitalStay
        fields = ["id", "kind", "admitted_on", "discharged_on"]


class TreatmentCycleSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)
    dosing_steps = DosingStepReadSerializer(many=True, read_only=True)
    interruption_log = InterruptionReadSerializer(many=True, read_only=True)
    stays = StayReadSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentCycle
        fields = ["id", "patient", "number", "schedule", "start_date", "end_date", "weight_kg", "bsa_m2", "bag_hours",
                  "cns_status", "dexamethasone_premedication", "dexamethasone_dose", "dexamethasone_dose_unit",
                  "marrow_blasts_pct", "mrd_pct", "disease_status", "interruptions", "interruption_reason",
                  "discontinued", "discontinuation_reason", "dosing_steps", "interruption_log", "stays", "reason"]
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
        return (cycles_for(self.request.user).select_related("patient__site")
                .prefetch_related("dosing_steps", "interruption_log", "stays").order_by("id"))


class _CycleRecordSerializer(serializers.ModelSerializer):
    """A record of one cycle: the cycle is one the user may record on."""

    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["cycle"].queryset = cycles_for(request.user, access.RECORDERS)


class DosingStepSerializer(_CycleRecordSerializer):
    class Meta:
        model = DosingStep
        fields = ["id", "cycle", "from_day", "started_at", "dose", "unit", "batch_number", "reason"]
        validators: list[object] = []


class InfusionInterruptionSerializer(_CycleRecordSerializer):
    needs_dexamethasone = serializers.BooleanField(read_only=True)
    dexamethasone_rule_flag = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = InfusionInterruption
        fields = ["id", "cycle", "stopped_at", "restarted_at", "cause", "dexamethasone_before_restart",
                  "needs_dexamethasone", "dexamethasone_rule_flag", "reason"]
        validators: list[object] = []


class HospitalStaySerializer(_CycleRecordSerializer):
    class Meta:
        model = HospitalStay
        fields = ["id", "cycle", "kind", "admitted_on", "discharged_on", "reason"]
        validators: list[object] = []


class NextTherapySerializer(serializers.ModelSerializer):
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)

    class Meta:
        model = NextTherapy
        fields = ["id", "patient", "kind", "start_date", "description", "reason"]
        validators: list[object] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["patient"].queryset = patients_for(request.user, access.RECORDERS)


class TreatmentRecordViewSet(ReasonedWriteViewSet):
    """A cycle's (or patient's) treatment records of ``model``, on the user's sites, oldest first."""

    def get_queryset(self):
        return treatment_records_for(self.request.user, self.model).order_by("id")


class DosingStepViewSet(TreatmentRecordViewSet):
    """Dosing steps of cycles (one dose level from a cycle day)."""

    serializer_class = DosingStepSerializer
    filterset_fields = ["cycle"]
    model = DosingStep

    @staticmethod
    def save_service(instance, **kwargs):
        return dosing_step_save(step=instance, **kwargs)


class InfusionInterruptionViewSet(TreatmentRecordViewSet):
    """Infusion interruptions (stop, restart) with the dexamethasone-before-restart flag."""

    serializer_class = InfusionInterruptionSerializer
    filterset_fields = ["cycle"]
    model = InfusionInterruption

    @staticmethod
    def save_service(instance, **kwargs):
        return interruption_save(interruption=instance, **kwargs)


class HospitalStayViewSet(TreatmentRecordViewSet):
    """Ward and ICU stays during cycles."""

    serializer_class = HospitalStaySerializer
    filterset_fields = ["cycle", "kind"]
    model = HospitalStay

    @staticmethod
    def save_service(instance, **kwargs):
        return stay_save(stay=instance, **kwargs)


class NextTherapyViewSet(TreatmentRecordViewSet):
    """The therapies patients went on to (HSCT, CAR-T, chemotherapy): each ends the emergence window."""

    serializer_class = NextTherapySerializer
    filterset_fields = ["patient", "kind"]
    model = NextTherapy

    @staticmethod
    def save_service(instance, **kwargs):
        return next_therapy_save(therapy=instance, **kwargs)
