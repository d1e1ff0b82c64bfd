"""Query parameters of the adverse-event list: what an integrator needs to find and sync events.

Every parameter is listed in ``openapi.yaml``; an unknown one answers 400 (:class:`core.api.StrictFilterBackend`),
and so does a bad value. Ids of another site's patients or cycles answer exactly like ids that do not exist
(400 "Select a valid choice"): the choices are the user's own records. ``docs/api-changelog.md`` lists them.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from ae.models import AdverseEvent, CTCAESynonym, CTCAETerm
from core.api import BooleanFilter
from patients.filters import users_patients
from patients.models import TreatmentCycle
from patients.selectors import cycles_for


def users_cycles(request: Any) -> QuerySet[TreatmentCycle]:
    """The treatment cycles the requesting user may read (none without a request)."""
    if request is None:
        return TreatmentCycle.objects.none()
    return cycles_for(request.user)


def terms_named(value: str) -> QuerySet[CTCAETerm]:
    """CTCAE v5.0 terms whose name, MedDRA LLT code or ward synonym is ``value`` (exact, case-insensitive)."""
    value = value.strip()
    match = Q(term__iexact=value) | Q(pk__in=CTCAESynonym.objects.filter(synonym__iexact=value).values("term_id"))
    if value.isdigit() and len(value) <= 9:
        match |= Q(meddra_code=int(value))
    return CTCAETerm.objects.filter(match)


class AdverseEventFilter(django_filters.FilterSet):
    """Filters of ``GET /api/v1/adverse-events/`` (see the module docstring); ``ordering`` sorts (default ``id``)."""

    patient = django_filters.ModelChoiceFilter(queryset=users_patients)
    cycle = django_filters.ModelChoiceFilter(queryset=users_cycles)
    term = django_filters.CharFilter(
        method="filter_term", help_text="A CTCAE v5.0 term name (e.g. 'Cytokine release syndrome'), its MedDRA LLT "
                                        "code (10052015) or a ward synonym (CRS); exact, case-insensitive. A value "
                                        "naming no term answers 400.")
    soc = django_filters.CharFilter(field_name="term__soc", lookup_expr="iexact",
                                    help_text="MedDRA system organ class of the term (exact, case-insensitive).")
    category = django_filters.CharFilter(
        method="filter_category", help_text="A benchmark category slug (crs, neurotoxicity, seizure, anemia, "
                                            "neutropenia, thrombocytopenia, febrile_neutropenia…): the events of its "
                                            "CTCAE terms. An unknown slug answers 400.")
    serious = BooleanFilter(help_text="Serious adverse events (ICH E2A) only, or non-serious only.")
    open = BooleanFilter(method="filter_open", help_text="true: episodes not yet resolved (no resolution date); "
                                                         "false: resolved ones.")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Changed at or after this ISO 8601 date-time (incremental sync: pass the largest updated_at you "
                  "have seen; an event changed at that very instant comes again).")
    updated_before = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt",
                                                      help_text="Changed before this ISO 8601 date-time.")
    ordering = django_filters.OrderingFilter(
        fields=["id", "onset_date", "grade", "created_at", "updated_at"],
        help_text="Sort by id, onset_date, grade, created_at or updated_at; '-' for descending; comma-separated "
                  "for several keys. Ties are broken by id.")

    class Meta:
        model = AdverseEvent
        fields = {"grade": ["exact", "gte", "lte"], "onset_date": ["gte", "lte"]}

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # ``ordering`` is declared as a comma-separated array; generated clients (openapi-python-client) send an
        # array as repeated parameters (?ordering=-grade&ordering=id), of which django-filter would read the last.
        if data is not None and len(data.getlist("ordering")) > 1:
            data = data.copy()
            data.setlist("ordering", [",".join(data.getlist("ordering"))])
        super().__init__(data, *args, **kwargs)

    def filter_term(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        terms = terms_named(value)
        if not terms.exists():
            raise ValidationError({"term": [f"No CTCAE v5.0 term, MedDRA code or ward synonym is '{value}'."]})
        return queryset.filter(term__in=terms)

    def filter_category(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        # benchmark categories belong to reports (above ae); the relation is followed by name, not imported
        terms = CTCAETerm.objects.filter(benchmark_categories__slug=value)
        if not terms.exists():
            raise ValidationError({"category": [f"No benchmark category '{value}' (or it has no CTCAE terms)."]})
        return queryset.filter(term__in=terms)

    def filter_open(self, queryset: QuerySet[AdverseEvent], name: str, value: bool) -> QuerySet[AdverseEvent]:
        return queryset.filter(resolution_date__isnull=value)

    def filter_queryset(self, queryset: QuerySet[AdverseEvent]) -> QuerySet[AdverseEvent]:
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by(*queryset.query.order_by, "id")
        return queryset
