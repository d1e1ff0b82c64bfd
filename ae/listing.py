"""The AE listing of a site — the safety reviewer's view: filters, sort orders and export rows (reads only).

Filters (GET parameters, all optional): ``term`` (part of the CTCAE term or verbatim term), ``soc``, ``grade``
(exact) or ``grade_min``, ``serious`` (yes/no), ``cycle`` (number), ``onset_from``/``onset_to`` (YYYY-MM-DD),
``patient`` (study ID), ``outcome`` (CDISC OUT term), ``open`` (yes: not resolved), ``emergent`` (yes/no:
TRTEMFL by :func:`ae.models.events.treatment_emergent_q`), ``category`` (a benchmark category slug — crs,
neurotoxicity, anemia… — : the events of its CTCAE terms, as the benchmark counts them by term).
Sort: ``sort`` = onset, grade, patient, term, cycle
(``-`` before it for descending); default newest onset first.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ae.models import AdverseEvent, CTCAETerm
from ae.selectors import with_treatment_emergent
from patients.models import Site

SORTS = {"onset": ("onset_date", "id"), "grade": ("grade", "onset_date"),
         "patient": ("patient__study_id", "onset_date"), "term": ("term__term", "onset_date"),
         "cycle": ("cycle__number", "onset_date")}
#: How the listing's sort menu names each key of :data:`SORTS` (the reader's language).
SORT_LABELS = {"onset": pgettext_lazy("sort", "onset"), "grade": pgettext_lazy("sort", "grade"),
               "patient": pgettext_lazy("sort", "patient"), "term": pgettext_lazy("sort", "CTCAE term"),
               "cycle": pgettext_lazy("sort", "cycle")}
YES_NO = (("yes", _("Yes")), ("no", _("No")))
LISTING_HEADER = ("Study ID", "Cycle", "CTCAE term", "Verbatim term", "MedDRA SOC", "Grade", "Grading scale",
                  "Onset", "Resolution", "Serious", "SAE criteria", "Relatedness", "Action taken", "Outcome",
                  "Treatment-emergent", "Event id")
EXPORT_CHOICE_FIELDS = ("grading_scale", "relatedness", "action_taken", "outcome")


def category_choices() -> list[tuple[str, str]]:
    """(slug, name) of the benchmark categories, in their order, each name in the active language. The categories
    belong to ``reports`` (above ``ae``): the model is reached through the CTCAE term's reverse relation, not
    imported, and the name is looked up in the catalogue, where ``reports.category_names`` marks the names that are
    pvtrack's labels (a name that is a CTCAE term is not in it and stays as named)."""
    category = CTCAETerm.benchmark_categories.rel.related_model
    assert not isinstance(category, str)
    return [(slug, gettext(name))
            for slug, name in category._default_manager.order_by("order", "slug").values_list("slug", "name")]


class AdverseEventListingFilter(django_filters.FilterSet):
    term = django_filters.CharFilter(method="filter_term", label=_("Term contains"))
    soc = django_filters.CharFilter(field_name="term__soc", lookup_expr="icontains", label=_("SOC contains"))
    grade = django_filters.NumberFilter(field_name="grade", label=_("Grade"))
    grade_min = django_filters.NumberFilter(field_name="grade", lookup_expr="gte", label=_("Grade at least"))
    serious = django_filters.ChoiceFilter(choices=YES_NO, method="filter_yes_no", label=_("Serious"))
    cycle = django_filters.NumberFilter(field_name="cycle__number", label=_("Cycle"))
    onset_from = django_filters.DateFilter(field_name="onset_date", lookup_expr="gte", label=_("Onset from"))
    onset_to = django_filters.DateFilter(field_name="onset_date", lookup_expr="lte", label=_("Onset to"))
    patient = django_filters.CharFilter(field_name="patient__study_id", lookup_expr="iexact", label=_("Study ID"))
    outcome = django_filters.ChoiceFilter(choices=AdverseEvent.Outcome.choices, label=_("Outcome"))
    open = django_filters.ChoiceFilter(choices=YES_NO, method="filter_open", label=_("Open episodes"))
    emergent = django_filters.ChoiceFilter(choices=YES_NO, method="filter_yes_no", label=_("Treatment-emergent"))
    category = django_filters.ChoiceFilter(choices=category_choices, method="filter_category",
                                           label=_("Benchmark category"))

    class Meta:
        model = AdverseEvent
        fields: list[str] = []

    def filter_term(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        return queryset.filter(Q(term__term__icontains=value) | Q(verbatim_term__icontains=value))

    def filter_yes_no(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        field = {"serious": "serious", "emergent": "trtemfl"}[name]
        return queryset.filter(**{field: value == "yes"})

    def filter_open(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        return queryset.filter(resolution_date__isnull=value == "yes")

    def filter_category(self, queryset: QuerySet[AdverseEvent], name: str, value: str) -> QuerySet[AdverseEvent]:
        return queryset.filter(term__in=CTCAETerm.objects.filter(benchmark_categories__slug=value))


def listing(site: Site, params: dict[str, str]) -> tuple[AdverseEventListingFilter, QuerySet[AdverseEvent], str]:
    """(the bound filter, the filtered and sorted events of ``site``, the sort key used)."""
    events = with_treatment_emergent(AdverseEvent.objects.filter(patient__site=site)).select_related(
        "term", "cycle", "patient")
    bound = AdverseEventListingFilter(params, queryset=events)
    sort = params.get("sort") or "-onset"
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = "-onset", "onset"
    order = [f"-{f}" if sort.startswith("-") else f for f in SORTS[key]]
    queryset = bound.qs.order_by(*order) if bound.is_valid() else events.none()
    return bound, queryset, sort


def export_labels(field: str) -> dict[str, str]:
    """{stored value: English label} of an AdverseEvent choice field, as the exports write it whatever the reader's
    language (the header and Yes/No are English too: one file reads the same for every user; issue 15 keeps the
    interface in the user's language, the exports machine-readable)."""
    choices = getattr(AdverseEvent._meta.get_field(field), "choices", None) or []
    with translation.override("en-gb"):
        return {value: str(label) for value, label in choices}


def listing_row(event: AdverseEvent, labels: dict[str, dict[str, str]] | None = None) -> list[object]:
    """One export row (``LISTING_HEADER``), choice labels in English (``labels``: :func:`export_labels` of
    grading_scale, relatedness, action_taken and outcome, read once per export; read here when not given)."""
    labels = labels or {f: export_labels(f) for f in EXPORT_CHOICE_FIELDS}

    def label(field: str) -> str:
        value = getattr(event, field)
        return labels[field].get(value, value)

    return [event.patient.study_id, event.cycle.number, event.term.term, event.verbatim_term, event.term.soc,
            event.grade, label("grading_scale"), event.onset_date.isoformat(),
            event.resolution_date.isoformat() if event.resolution_date else "", "Yes" if event.serious else "No",
            "; ".join(event.sae_criteria), label("relatedness"), label("action_taken"),
            label("outcome"), "Yes" if event.trtemfl else "No", event.pk]  # type: ignore[attr-defined]
