"""REST endpoints for the CTCAE catalogue (read), adverse events (read/write) and the laboratory reference ranges
(read, administrators add versions), scoped to the user's sites."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters, mixins, permissions, serializers, viewsets
from rest_framework.response import Response

from ae import grading
from ae.models import AdverseEvent, CTCAEGrade, CTCAETerm, ReferenceRange
from ae.selectors import adverse_events_for, reference_ranges_for, with_treatment_emergent
from ae.services.events import EDITABLE_FIELDS, adverse_event_create, adverse_event_update
from ae.services.reference_ranges import reference_range_record
from ae.synonyms import term_search
from core.idempotency import idempotent_create
from core.text import MAX_REASON_CHARS
from patients import access
from patients.apis import SiteScopedWritePermission, SlugRelatedField
from patients.selectors import cycles_for, patients_for


class CTCAEGradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CTCAEGrade
        fields = ["grade", "description"]


class CTCAETermSerializer(serializers.ModelSerializer):
    grades = CTCAEGradeSerializer(many=True, read_only=True)
    matched_synonym = serializers.SerializerMethodField(
        help_text="The ward synonym that matched ``?search=`` (e.g. 'plt' for Platelet count decreased); null when "
                  "the term's own name or MedDRA code matched at least as well, or without a search.")
    matched_synonym_note = serializers.SerializerMethodField(
        help_text="What pvtrack says about that synonym (e.g. how ICANS is recorded and graded); null without one.")

    class Meta:
        model = CTCAETerm
        fields = ["id", "meddra_code", "term", "soc", "definition", "navigational_note", "grades",
                  "matched_synonym", "matched_synonym_note"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_matched_synonym(self, term: CTCAETerm) -> str | None:
        return getattr(term, "matched_synonym", None)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_matched_synonym_note(self, term: CTCAETerm) -> str | None:
        return getattr(term, "matched_synonym_note", None) or None


class CTCAETermSearchFilter(filters.SearchFilter):
    """``?search=``: term name, ward synonym or MedDRA code, then SOC, best match first (:func:`term_search`)."""

    search_description = ("A CTCAE term, ward synonym or abbreviation (e.g. CRS, ICANS, plt, neutropenia) or MedDRA "
                          "code; case-insensitive, whole word or part of it. Ranked: exact match, then prefix, then "
                          "substring, then terms of a matching SOC.")

    def filter_queryset(self, request, queryset, view):
        # validated as SearchFilter does: a NUL character (PostgreSQL refuses it in text) answers 400, not 500
        text = serializers.CharField(trim_whitespace=False, allow_blank=True).run_validation(
            request.query_params.get(self.search_param, ""))
        return term_search(queryset, text)


class CTCAETermViewSet(viewsets.ReadOnlyModelViewSet):
    """CTCAE v5.0 terms with their allowed grades and grade definitions; ``?search=`` matches term name, ward
    synonym (``matched_synonym`` says which) or MedDRA code, then SOC, best match first."""

    serializer_class = CTCAETermSerializer
    queryset = CTCAETerm.objects.prefetch_related(Prefetch("grades", queryset=CTCAEGrade.objects.order_by("grade")))
    filter_backends = [CTCAETermSearchFilter]


class AdverseEventSerializer(serializers.ModelSerializer):
    term = SlugRelatedField(slug_field="term", queryset=CTCAETerm.objects.all())
    meddra_code = serializers.IntegerField(source="term.meddra_code", read_only=True)
    onset_cycle_day = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text="Required when changing an existing event (at least 3 visible "
                                             "characters; kept with the record).")
    treatment_emergent = serializers.SerializerMethodField(
        help_text="ADaM TRTEMFL: began during treatment (not before the cycle, or after the first dose), or was "
                  "present before the cycle and worsened; not for onsets recorded as after-cycle follow-up.")
    confirm_separate = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Create it even though it looks like an event already recorded (same term and onset in the cycle, "
                  "or an open episode of the term): without it such a create answers 409 probable_duplicate.")

    class Meta:
        model = AdverseEvent
        fields = ["id", "patient", "cycle", "term", "meddra_code", "grade", "verbatim_term", "grading_scale",
                  "onset_date", "onset_cycle_day", "resolution_date", "present_before_cycle", "grade_at_cycle_start",
                  "after_cycle_follow_up", "follow_up_reason", "treatment_emergent", "serious",
                  *AdverseEvent.SAE_FIELDS, "relatedness", "action_taken", "outcome", "origin", "entered_grade",
                  "version", "created_at", "updated_at", "reason", "confirm_separate", "computed_grade",
                  "computed_rationale", "grade_discrepancy_reason", "discrepancy_resolved_at"]
        read_only_fields = ["created_at", "updated_at", "computed_grade", "computed_rationale",
                            "discrepancy_resolved_at", "origin", "entered_grade"]
        extra_kwargs = {"serious": {"help_text": "Set automatically (with sae_death) for a death: grade 5 or outcome "
                                                 "FATAL."}}

    @extend_schema_field(serializers.BooleanField())
    def get_treatment_emergent(self, event: AdverseEvent) -> bool:
        trtemfl = getattr(event, "trtemfl", None)
        if trtemfl is None:  # an instance not read through the annotated list/detail queryset (create, update)
            trtemfl = with_treatment_emergent(AdverseEvent.objects.filter(pk=event.pk)).values_list(
                "trtemfl", flat=True).get()  # type: ignore[misc]  # an annotation django-stubs cannot see
        return bool(trtemfl)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["patient"].queryset = patients_for(request.user, access.RECORDERS)
            self.fields["cycle"].queryset = cycles_for(request.user, access.RECORDERS)


class AdverseEventFilter(django_filters.FilterSet):
    """Query parameters of the AE list; an unknown value answers 400 instead of being silently ignored."""

    serious = django_filters.TypedChoiceFilter(choices=[("true", "true"), ("false", "false")],
                                               coerce=lambda value: value == "true")

    class Meta:
        model = AdverseEvent
        fields = ["patient", "cycle", "grade", "serious"]


class AdverseEventViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Adverse events. A change (PUT/PATCH) needs ``reason`` and the ``version`` it was based on;
    a stale version answers 409 with the current record."""

    serializer_class = AdverseEventSerializer
    permission_classes = [permissions.IsAuthenticated, SiteScopedWritePermission]
    filterset_class = AdverseEventFilter

    def get_queryset(self):
        return with_treatment_emergent(adverse_events_for(self.request.user)
                                       .select_related("term", "cycle", "patient__site").order_by("id"))

    @idempotent_create
    def create(self, request, *args, **kwargs):
        """Create an event; ``Idempotency-Key`` makes a retry safe (core.idempotency)."""
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k in EDITABLE_FIELDS or k == "patient"}
        serializer.instance = adverse_event_create(
            acting_user=self.request.user, confirm_separate=serializer.validated_data.get("confirm_separate", False),
            **data)

    def update(self, request, *args, **kwargs):
        event = self.get_object()
        serializer = self.get_serializer(event, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k in EDITABLE_FIELDS}
        if serializer.validated_data.get("patient", event.patient) != event.patient:
            raise DjangoValidationError({"patient": "An event cannot move to another patient."})
        version = serializer.validated_data.get("version")
        if version is None:
            raise DjangoValidationError({"version": "Send the version of the event you edited."})
        updated = adverse_event_update(event=event, acting_user=request.user,
                                       reason=serializer.validated_data.get("reason", ""),
                                       expected_version=version, **data)
        return Response(self.get_serializer(updated).data)


class ReferenceRangeSerializer(serializers.ModelSerializer):
    analyte = serializers.ChoiceField(choices=grading.LAB_ANALYTES)

    class Meta:
        model = ReferenceRange
        fields = ["id", "site", "analyte", "unit", "sex", "age_from_months", "age_to_months", "lln", "uln", "source",
                  "valid_from", "valid_to", "created_at"]
        read_only_fields = ["valid_to", "created_at"]


class ReferenceRangeViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    """The laboratory reference ranges of the user's sites (LLN/ULN per analyte, sex and age band in months). A site
    administrator records a new version (POST); it closes the current one of the same analyte, sex and age band
    (``valid_to``). Ranges are never edited or deleted (docs/labs.md)."""

    serializer_class = ReferenceRangeSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return reference_ranges_for(self.request.user).order_by("id")

    @idempotent_create
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "site"}
        serializer.instance = reference_range_record(site=serializer.validated_data["site"], data=data,
                                                     acting_user=self.request.user)
