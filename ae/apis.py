"""REST endpoints for the CTCAE catalogue (read), adverse events (read/write) and the laboratory reference ranges
(read, administrators add versions), scoped to the user's sites."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import filters, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ae import grading
from ae.filters import AdverseEventFilter
from ae.models import AdverseEvent, CTCAEGrade, CTCAETerm, EventTreatment, ReferenceRange
from ae.selectors import adverse_events_for, event_treatments_for, reference_ranges_for, with_treatment_emergent
from ae.services.bulk import MAX_BATCH, adverse_events_create_bulk
from ae.services.events import EDITABLE_FIELDS, adverse_event_create, adverse_event_update
from ae.services.reference_ranges import reference_range_record
from ae.services.treatments import event_treatment_save
from ae.synonyms import term_search
from core.api import KeysetPagination, StrictFilterBackend
from core.idempotency import idempotent_create
from core.text import MAX_REASON_CHARS
from patients import access
from patients.apis import REASON_HELP, ReasonedWriteViewSet, SiteScopedWritePermission, SlugRelatedField
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
    filter_backends = [StrictFilterBackend, CTCAETermSearchFilter]


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
                  "an open episode of the term, or a resolved one whose days cover the onset): without it such a "
                  "create answers 409 probable_duplicate. On a change (PUT/PATCH) of the cycle, term, onset_date, "
                  "resolution_date or outcome: save it even though the event's days then overlap those of another "
                  "event of the term in the cycle (or share its onset), else 409 probable_duplicate. Not stored.")

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
                                                 "FATAL."},
                        "resolution_date": {"help_text": "AEENDTC. Required when the outcome is RECOVERED/RESOLVED or "
                                                         "RECOVERED/RESOLVED WITH SEQUELAE; null while it is NOT "
                                                         "RECOVERED/NOT RESOLVED or RECOVERING/RESOLVING (400 "
                                                         "otherwise); either for FATAL and UNKNOWN. An event without "
                                                         "one is an open episode."},
                        "outcome": {"help_text": "AEOUT (CDISC codelist OUT); must agree with resolution_date."}}

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


class AdverseEventUpdateSerializer(AdverseEventSerializer):
    """The body of PUT/PATCH (schema only): as for a create, and ``version`` — the version you edited — is
    required (an edit without it answers 400); ``reason`` is needed whenever the edit changes something."""

    always_required = ("version",)


class BulkItemResultSerializer(serializers.Serializer):
    """What happened to one item of a bulk create (ae.services.bulk.BulkItemResult)."""

    index = serializers.IntegerField(help_text="0-based position of the item in the request array.")
    status = serializers.ChoiceField(choices=[("created", "created"), ("duplicate", "duplicate"),
                                              ("error", "error")])
    id = serializers.IntegerField(allow_null=True, help_text="created: the new event's id; else null.")
    duplicate_of = serializers.IntegerField(
        allow_null=True, help_text="duplicate: the id of the event already recorded (same CTCAE term and onset in "
                                   "the cycle, an open episode of the term, or a resolved one whose days cover the "
                                   "onset); nothing was created.")
    code = serializers.CharField(allow_null=True, help_text="duplicate or error: the problem code "
                                                            "(docs/api-errors.md); null when created.")
    detail = serializers.CharField(allow_null=True, help_text="duplicate or error: one sentence; null when created.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field named like Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        help_text='error: field name -> messages ("non_field_errors" for the item as a whole); else {}.')


class BulkCreateResponseSerializer(serializers.Serializer):
    """The answer to a bulk create: counts and one result per item, in request order."""

    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Items answered with status error.")
    results = BulkItemResultSerializer(many=True)


@extend_schema_view(update=extend_schema(request=AdverseEventUpdateSerializer),
                    partial_update=extend_schema(request=AdverseEventUpdateSerializer))
class AdverseEventViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Adverse events. A change (PUT/PATCH) needs ``reason`` and the ``version`` it was based on;
    a stale version answers 409 with the current record."""

    serializer_class = AdverseEventSerializer
    permission_classes = [permissions.IsAuthenticated, SiteScopedWritePermission]
    filterset_class = AdverseEventFilter
    pagination_class = KeysetPagination

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

    @extend_schema(
        request=AdverseEventSerializer(many=True), responses={200: BulkCreateResponseSerializer},
        summary="Create up to 1000 adverse events at once, per item")
    @action(detail=False, methods=["post"], url_path="bulk")
    @idempotent_create
    def bulk(self, request, *args, **kwargs):
        """Create several events: a JSON array of adverse events (as for a single create) in, one result per item
        out — created (``id``), duplicate (``duplicate_of``: nothing created) or error (``code``, ``errors``).

        Per item, not all-or-nothing: a failing item is skipped and reported, the others are saved; the batch
        commits at once and requests one benchmark run. ``Idempotency-Key`` makes a retried batch safe; without
        it a retry answers "duplicate" for the events already recorded. A body that is not an array of 1-1000
        items answers 400.
        """
        if not isinstance(request.data, list) or not 1 <= len(request.data) <= MAX_BATCH:
            raise DjangoValidationError(f"Send a JSON array of 1 to {MAX_BATCH} adverse events.")
        results, valid = {}, []
        for index, item in enumerate(request.data):
            serializer = self.get_serializer(data=item)
            if serializer.is_valid():
                data = {k: v for k, v in serializer.validated_data.items()
                        if k in EDITABLE_FIELDS or k in ("patient", "confirm_separate")}
                valid.append((index, data))
            else:
                errors = {("non_field_errors" if k == "__all__" else k): [str(m) for m in v] if isinstance(v, list)
                          else [str(v)] for k, v in serializer.errors.items()}
                field, messages = next(iter(errors.items()))
                results[index] = {"index": index, "status": "error", "id": None, "duplicate_of": None,
                                  "code": "invalid", "detail": messages[0] if field == "non_field_errors"
                                  else f"{field}: {messages[0]}", "errors": errors}
        for outcome in adverse_events_create_bulk(events=valid, acting_user=request.user):
            results[outcome.index] = dataclasses.asdict(outcome)
        ordered = [results[index] for index in sorted(results)]
        counts = {status: sum(1 for r in ordered if r["status"] == status) for status in ("created", "duplicate")}
        return Response({"created": counts["created"], "duplicates": counts["duplicate"],
                         "failed": len(ordered) - counts["created"] - counts["duplicate"], "results": ordered})

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
                                       reason=serializer.validated_data.get("reason", ""), expected_version=version,
                                       confirm_separate=serializer.validated_data.get("confirm_separate", False),
                                       **data)
        return Response(self.get_serializer(updated).data)


class EventTreatmentSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=MAX_REASON_CHARS,
                                   help_text=REASON_HELP)

    class Meta:
        model = EventTreatment
        fields = ["id", "adverse_event", "drug", "drug_name", "dose", "dose_unit", "given_at", "reason"]
        validators: list[object] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["adverse_event"].queryset = adverse_events_for(request.user, access.RECORDERS)


class EventTreatmentViewSet(ReasonedWriteViewSet):
    """Treatments given for adverse events (tocilizumab, corticosteroids, anticonvulsants, vasopressors…)."""

    serializer_class = EventTreatmentSerializer
    filterset_fields = ["adverse_event", "drug"]
    model = EventTreatment

    @staticmethod
    def save_service(instance, **kwargs):
        return event_treatment_save(treatment=instance, **kwargs)

    def get_queryset(self):
        return event_treatments_for(self.request.user).order_by("id")


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
