"""OpenAPI types of a benchmark run's stored ``inputs`` and ``results`` (what ``reports.benchmark.collect_inputs``
and ``reports.benchmark.compute`` return, method version ``reports.benchmark.METHOD_VERSION``).

Schema only: the API returns the stored JSON as it is. Members marked optional (``response_optional``) may be
missing from runs stored by an earlier method version; nested statistics whose shape belongs to the method
(two-step sensitivity, case mix, sequential boundary, ward profile) are typed as objects. Proportions are in
0-1, counts are patients (never events), p-values one-sided.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_OBJECT = serializers.DictField
_NUMBER = serializers.FloatField


class WardCountSerializer(serializers.Serializer):
    """The ward's patients with >= 1 treatment-emergent event (x) over patients treated (n)."""

    x = serializers.IntegerField()
    n = serializers.IntegerField()
    rate = _NUMBER(allow_null=True, help_text="x/n; null when n = 0.")
    ci = serializers.ListField(child=_NUMBER(), allow_null=True, help_text="Clopper-Pearson 95% [low, high].")


class PooledSerializer(serializers.Serializer):
    """The pooled benchmark of the cell (binomial-normal GLMM, or a labelled weak common-effect count)."""

    response_optional = ("events", "total", "mu", "se_mu", "ci_critical", "pi_critical", "reason", "tau2", "i2",
                         "unusable", "exploratory")
    method = serializers.CharField()
    k = serializers.IntegerField(help_text="Cohorts pooled.")
    events = serializers.IntegerField()
    total = serializers.IntegerField()
    median = _NUMBER(allow_null=True)
    marginal_mean = _NUMBER(help_text="The benchmark proportion the flags are judged against.")
    ci = serializers.ListField(child=_NUMBER(), allow_null=True)
    pi = serializers.ListField(child=_NUMBER(), allow_null=True, help_text="95% prediction interval.")
    tau2 = _NUMBER(allow_null=True)
    i2 = _NUMBER(allow_null=True)
    mu = _NUMBER(allow_null=True)
    se_mu = _NUMBER(allow_null=True)
    ci_critical = _NUMBER(allow_null=True)
    pi_critical = _NUMBER(allow_null=True)
    weak = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, allow_blank=True)
    unusable = serializers.CharField(allow_blank=True, help_text='Why this fit is "no usable benchmark" (then no '
                                     'tails and no flag: docs/methods.md §4.1); "" when usable (method 1.5).')
    exploratory = serializers.BooleanField(help_text="Meta-regression over fewer than 10 cohorts (method 1.5).")


class CellCohortSerializer(serializers.Serializer):
    """A published cohort figure used in the cell."""

    response_optional = ("scale", "schedule", "population", "labels", "derived")
    cohort = serializers.CharField()
    short_name = serializers.CharField()
    x = serializers.IntegerField()
    n = serializers.IntegerField()
    rate = _NUMBER()
    scale = serializers.CharField(allow_null=True)
    schedule = serializers.CharField(allow_null=True)
    population = serializers.CharField(allow_null=True)
    labels = serializers.ListField(child=serializers.CharField())
    derived = serializers.CharField(help_text="How the figure was derived from printed ones (rule), when it was.")


class CellFlagSerializer(serializers.Serializer):
    """The flag the cell raised: ALARM, ALERT, CHECK ASCERTAINMENT or WATCH."""

    level = serializers.CharField()
    direction = serializers.CharField()
    p_value = _NUMBER(allow_null=True)
    message = serializers.CharField()


class ResultFlagSerializer(CellFlagSerializer):
    """A flag of the run, with its kind and the cell it belongs to."""

    response_optional = ("kind",)
    kind = serializers.CharField(help_text='"literature" (published benchmark), "network" (funnel against the other '
                                           'wards) or "cusum" (risk-adjusted CUSUM signal: level SIGNAL, p_value '
                                           'null). Absent in runs stored before method 1.6: literature.')
    category = serializers.CharField()
    grade_band = serializers.CharField()
    cycle_scope = serializers.CharField()


class CellSerializer(serializers.Serializer):
    """One benchmark cell: category x grade band (any, ge3) x cycle scope (all, first)."""

    response_optional = ("note", "two_step", "case_mix", "sequential", "p_fixed", "predictive_range",
                         "posterior_above", "excluded", "category_name", "meta_regression", "pooled_unadjusted")
    category = serializers.CharField(help_text="Benchmark category slug.")
    category_name = serializers.CharField()
    grade_band = serializers.CharField(help_text='"any" or "ge3".')
    cycle_scope = serializers.CharField(help_text='"all" cycles or "first".')
    ward = WardCountSerializer()
    cohorts = CellCohortSerializer(many=True)
    excluded = serializers.ListField(child=_OBJECT(), help_text="Figures left out, each with its reason.")
    pooled = PooledSerializer(allow_null=True)
    two_step = _OBJECT(allow_null=True, help_text="Two-step logit REML/Hartung-Knapp sensitivity (k >= 2).")
    p_upper = _NUMBER(allow_null=True, help_text="Exact predictive tail P(X >= x).")
    p_lower = _NUMBER(allow_null=True, help_text="Exact predictive tail P(X <= x).")
    p_fixed = _NUMBER(allow_null=True)
    predictive_range = serializers.ListField(child=_NUMBER(), allow_null=True)
    posterior_above = _NUMBER(allow_null=True, help_text="Bayesian P(ward rate > benchmark); never flags.")
    case_mix = _OBJECT(allow_null=True, help_text="O/E over marrow-blast strata.")
    sequential = _OBJECT(allow_null=True, help_text="Pocock-type boundary (Ivanova 2005).")
    flag = CellFlagSerializer(allow_null=True)
    note = serializers.CharField(help_text="Why the cell has no comparison, when it has none.")
    meta_regression = _OBJECT(allow_null=True, help_text=(
        "GLMM meta-regression on cohort moderators (method 1.5, docs/methods.md §4.2): k, k_used, tau2_before, "
        "tau2_after, chosen, chosen_labels, considered [{moderator, label, why}], exploratory, lr, ward_values, "
        "pooled (the benchmark at the ward's case mix, or null)."))
    pooled_unadjusted = PooledSerializer(help_text="The intercept-only benchmark, when `pooled` is the "
                                                   "meta-regression.")


class BenchmarkResultsSerializer(serializers.Serializer):
    """``results`` of a finished run."""

    response_optional = ("n_comparisons", "ward_profile", "monitoring", "network")
    method_version = serializers.CharField()
    cells = CellSerializer(many=True)
    n_comparisons = serializers.IntegerField(help_text="Cells with a pooled benchmark and ward patients.")
    flags = ResultFlagSerializer(many=True)
    ward_profile = _OBJECT(allow_null=True, help_text="Schedule, population and grading-scale family of the ward.")
    monitoring = _OBJECT(allow_null=True, help_text="Risk-adjusted CUSUM per all-cycles cell, exposure-adjusted "
                                                    "rates and the entry-lag indicator (reports.trends; "
                                                    "docs/network-and-trends.md).")
    network = serializers.ListField(child=_OBJECT(), help_text=(
        "The ward against the network's other wards when the run was made, per cell with patients and at least 3 "
        "wards: category, grade_band, cycle_scope, wards, x, n, theta0, tau2, phi, method, limits {0.95, 0.998: "
        "[lo, hi]}, z, level, direction, p_value, flags_given, note (reports.signal_flags)."))


class CategoryInputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    terms = serializers.ListField(child=serializers.CharField(), help_text="CTCAE v5.0 terms counted.")


class DenominatorsSerializer(serializers.Serializer):
    all = serializers.IntegerField(help_text="Patients with >= 1 cycle.")
    first = serializers.IntegerField(help_text="Patients with a cycle 1.")


class BenchmarkInputsSerializer(serializers.Serializer):
    """``inputs`` of a run: the ward's counts, the cohort figures and the thresholds used."""

    response_optional = ("strata", "ward_profile", "excluded_cohort", "monitoring", "network")
    site = serializers.CharField()
    method_version = serializers.CharField()
    thresholds = _OBJECT()
    denominators = DenominatorsSerializer()
    strata = serializers.DictField(child=serializers.IntegerField())
    categories = CategoryInputSerializer(many=True)
    ward = serializers.DictField(child=serializers.IntegerField(), help_text='"<category>|<band>|<scope>" -> x.')
    ward_profile = _OBJECT(allow_null=True)
    figures = serializers.ListField(child=_OBJECT(), help_text="Published cohort figures (patients).")
    excluded_cohort = serializers.CharField(allow_null=True, help_text="The cohort a demo ward is rebuilt from.")
    monitoring = _OBJECT(allow_null=True, help_text="Per patient in order of treatment: blast stratum, cycles, "
                                                    "infusion days; outcomes and event counts per category and band; "
                                                    "entry lags in days (reports.trend_inputs).")
    network = _OBJECT(allow_null=True, help_text=(
        "The other wards' counts from their latest finished runs when this run was made, anonymous: as_of, wards, "
        "groups [{key: [category, band, scope, scale family, attribution], others: [[x, n], ...]}] "
        "(reports.network.collect_network); null for a demo ward."))


@extend_schema_field(BenchmarkInputsSerializer(allow_null=True))
class InputsField(serializers.JSONField):
    """A run's stored inputs (null until the run has started)."""


@extend_schema_field(BenchmarkResultsSerializer(allow_null=True))
class ResultsField(serializers.JSONField):
    """A run's stored results (null until the run has finished)."""
