"""API of SAE cases (``/api/v1/sae-cases/``) and of the reference safety information (``/api/v1/rsi/``).

Cases: list (filters ``status``, ``site``; each with its clocks), retrieve, ``POST`` to open one by hand,
``PATCH`` draft fields, and the steps ``add-events``, ``assess``, ``submit`` (signed), ``follow-up``, ``close``
(signed) as POST actions; every write goes through
``ae.services.sae`` (errors: docs/api-errors.md). RSI: every authenticated user reads (reference data, like the
CTCAE catalogue); a safety officer or administrator of any site adds a version with its entries.
"""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ae.models import CaseVersion, ReferenceSafetyInformation, RSIEntry, SAECase
from ae.selectors import adverse_events_for, clocks_for, sae_cases_for
from ae.services import sae
from patients.access import REVIEWERS, sites_for


def _user(request: Request) -> User:
    return cast(User, request.user)  # IsAuthenticated (the default permission) ran before the action


class ClockSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    due_at = serializers.DateTimeField()
    met_at = serializers.DateTimeField(allow_null=True)


class CaseVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseVersion
        fields = ["number", "report_type", "susar", "signer_name", "signature_meaning", "signed_at", "changes",
                  "snapshot_sha256"]


class SAECaseSerializer(serializers.ModelSerializer):
    adverse_events = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField()
    versions = CaseVersionSerializer(many=True, read_only=True)
    is_susar = serializers.BooleanField(read_only=True)
    expected_revision = serializers.IntegerField(write_only=True, required=False,
                                                 help_text="The revision the edit is based on (409 if stale).")

    class Meta:
        model = SAECase
        fields = ["id", "reference", "site", "patient", "status", "awareness_at", "awareness_reason",
                  "follow_up_awareness_at", "reporter", "reporter_role", "adverse_events", "causality_investigator",
                  "causality_sponsor", "expectedness_proposed", "expectedness", "rsi", "is_susar",
                  "action_taken", "dechallenge", "rechallenge", "narrative", "narrative_edited", "reporter_comments",
                  "revision", "clocks", "versions", "expected_revision"]
        read_only_fields = [f for f in fields if f not in (*sae.DRAFT_FIELDS, "expected_revision")]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_adverse_events(self, case: SAECase) -> list[int]:
        return [link.adverse_event_id for link in case.case_links.all()]

    @extend_schema_field(ClockSerializer(many=True))
    def get_clocks(self, case: SAECase) -> Any:
        return ClockSerializer([{"name": c.name, "label": c.label, "due_at": c.due_at, "met_at": c.met_at}
                                for c in clocks_for(case)], many=True).data


class AssessSerializer(serializers.Serializer):
    causality_investigator = serializers.ChoiceField(SAECase.Causality.choices, required=False, allow_blank=True)
    causality_sponsor = serializers.ChoiceField(SAECase.Causality.choices, required=False, allow_blank=True)
    expectedness = serializers.ChoiceField(SAECase.Expectedness.choices, required=False, allow_blank=True)
    expected_revision = serializers.IntegerField(required=False)


class SignSerializer(serializers.Serializer):
    password = serializers.CharField(allow_blank=True, help_text="The signer's password (electronic signature).")
    otp_code = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True)
    expected_revision = serializers.IntegerField(required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class CaseEventsSerializer(serializers.Serializer):
    adverse_events = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=50,
                                           help_text="Ids of adverse events of one patient (the episode).")
    awareness_at = serializers.DateTimeField(required=False, help_text="Only when opening a case; default now.")


def _events(user: User, ids: list[int]) -> list:
    """The user's adverse events with these ids; ValidationError naming "adverse_events" for one not found."""
    events = list(adverse_events_for(user).filter(pk__in=ids).select_related("patient__site", "term"))
    if len(events) != len(set(ids)):
        raise ValidationError({"adverse_events": "Unknown adverse event (or not on a site you hold a role on)."})
    if len({e.patient_id for e in events}) != 1:
        raise ValidationError({"adverse_events": "A case groups the events of one patient."})
    return events


class SAECaseFilter(django_filters.FilterSet):
    class Meta:
        model = SAECase
        fields = ["status", "site", "patient"]


class SAECaseViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                     viewsets.GenericViewSet):
    """SAE cases of the user's sites (see module docstring)."""

    serializer_class = SAECaseSerializer
    filterset_class = SAECaseFilter
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        return sae_cases_for(self.request.user).order_by("-awareness_at", "-id")

    @extend_schema(request=CaseEventsSerializer, responses={201: SAECaseSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open a case by hand for serious events (e.g. recorded before cases existed)."""
        body = CaseEventsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        events = _events(_user(request), body.validated_data["adverse_events"])
        case = sae.case_create(patient=events[0].patient, events=events, acting_user=_user(request),
                               awareness_at=body.validated_data.get("awareness_at"))
        return self._fresh(case, status=201)

    @extend_schema(request=CaseEventsSerializer, responses=SAECaseSerializer)
    @action(detail=True, methods=["post"], url_path="add-events")
    def add_events(self, request: Request, pk: str | None = None) -> Response:
        """Group more events of the episode into the case (draft or follow-up)."""
        body = CaseEventsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._fresh(sae.case_events_add(case=self.get_object(), acting_user=_user(request),
                                               events=_events(_user(request), body.validated_data["adverse_events"])))

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        expected = data.pop("expected_revision", None)
        serializer.instance = sae.case_update(case=serializer.instance, acting_user=self.request.user,
                                              expected_revision=expected, **data)

    def _fresh(self, case: SAECase, status: int = 200) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=case.pk)).data, status=status)

    @extend_schema(request=AssessSerializer, responses=SAECaseSerializer)
    @action(detail=True, methods=["post"])
    def assess(self, request: Request, pk: str | None = None) -> Response:
        body = AssessSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._fresh(sae.case_assess(case=self.get_object(), acting_user=_user(request), **body.validated_data))

    @extend_schema(request=SignSerializer, responses=SAECaseSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        version = sae.case_submit(case=self.get_object(), acting_user=_user(request), password=data["password"],
                                  otp_code=data.get("otp_code", ""), request=request._request,
                                  expected_revision=data.get("expected_revision"))
        return self._fresh(version.case, status=201)

    @extend_schema(request=ReasonSerializer, responses=SAECaseSerializer)
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request: Request, pk: str | None = None) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._fresh(sae.case_follow_up_open(case=self.get_object(), acting_user=_user(request),
                                                   reason=body.validated_data["reason"]))

    @extend_schema(request=SignSerializer, responses=SAECaseSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return self._fresh(sae.case_close(case=self.get_object(), acting_user=_user(request), password=data["password"],
                                          reason=data.get("reason", ""), otp_code=data.get("otp_code", ""),
                                          request=request._request))


class RSIEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = RSIEntry
        fields = ["id", "ctcae_term", "meddra_code", "wording", "frequency", "max_grade", "verified"]


class RSISerializer(serializers.ModelSerializer):
    entries = RSIEntrySerializer(many=True)

    class Meta:
        model = ReferenceSafetyInformation
        fields = ["id", "product", "document", "version", "document_date", "in_force_from", "note", "entries"]

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> ReferenceSafetyInformation:
        entries = validated_data.pop("entries")
        rsi = ReferenceSafetyInformation(**validated_data)
        rsi.full_clean()
        rsi.save()
        for entry in entries:
            row = RSIEntry(rsi=rsi, **entry)
            row.full_clean()
            row.save()
        return rsi


class RSIViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                 viewsets.GenericViewSet):
    """Reference safety information versions with their entries; versions are added, never edited."""

    serializer_class = RSISerializer
    queryset = ReferenceSafetyInformation.objects.prefetch_related("entries").order_by("product", "-in_force_from")

    def perform_create(self, serializer):
        if not sites_for(self.request.user, REVIEWERS).exists():
            raise PermissionDenied("Only a safety officer or administrator maintains reference safety information.")
        serializer.save()
