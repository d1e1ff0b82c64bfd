"""The network comparison: each ward against the other wards of the installation with the same definitions.

Reads every site's latest finished benchmark run (one query), groups the cells by comparison key (category, grade
band, cycle scope, grading-scale family, attribution — the same definitions), and compares each ward with the
others in a funnel (:mod:`reports.funnel`, Spiegelhalter 2005), beside a pooled benchmark of the network's own wards
(the binomial–normal GLMM of :mod:`reports.stats`). Who sees which ward by name is decided by
``patients.access.named_sites`` only: a network coordinator sees every ward named; anyone else sees their own
wards named and the others as "other ward 1, 2, …" (numbered per comparison by size, so a number does not follow a
ward from one comparison to the next). Demo wards (rebuilt from a published cohort) are left out: their patients are
synthetic. docs/network-and-trends.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import JSONField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_noop

from core.memo import BoundedMemo
from core.types import AnyUser
from patients import access
from patients.models import Site
from reports import funnel, stat_cache
from reports.benchmark import CYCLE_SCOPES, GRADE_BAND_LABELS
from reports.models import BenchmarkRun
from reports.signal_flags import comparison_key

#: A comparison is shown when at least this many wards have patients in it (flags need funnel.MIN_WARDS).
MIN_WARDS_SHOWN = 3
#: How a ward is labelled in a comparison (:func:`ward_label`): the viewer's own ward, and a ward shown anonymously.
OWN_LABEL = gettext_noop("%(name)s (this ward)")
OTHER_WARD_LABEL = gettext_noop("other ward %(number)d")


def ward_label(name: str | None, number: int, *, own: bool = False, translate: Callable[[str], str] = str) -> str:
    """A ward's label in a comparison, in the language of ``translate`` (``str``: English, as the tables, exports and
    the English plots write it): ``name`` ("Ward A", "Ward A (this ward)" for the viewer's own ward) or, for an
    anonymous ward (``name`` None), "other ward ``number``"."""
    if name is None:
        return translate(OTHER_WARD_LABEL) % {"number": number}
    return translate(OWN_LABEL) % {"name": name} if own else name


#: The fields of a stored cell (``results["cells"]``) a network comparison reads — the comparison key
#: (:func:`reports.signal_flags.comparison_key`), the names shown, the ward's count and the ward's own literature
#: median — and nothing else: a run's results are ≈ 220 KB of JSON for a 200-patient ward.
NETWORK_CELL_FIELDS = ("category", "category_name", "grade_band", "cycle_scope", "definitions", "ward",
                       "literature_median")

#: Builds those fields in PostgreSQL from the run's stored results, for the cells with patients, in stored order.
_NETWORK_CELLS_SQL = """
SELECT coalesce(jsonb_agg(jsonb_build_object(
    'category', c.cell->'category', 'category_name', c.cell->'category_name', 'grade_band', c.cell->'grade_band',
    'cycle_scope', c.cell->'cycle_scope',
    'definitions', jsonb_build_object('scale_family', c.cell->'definitions'->'scale_family',
                                      'attribution', c.cell->'definitions'->'attribution'),
    'ward', jsonb_build_object('x', c.cell->'ward'->'x', 'n', c.cell->'ward'->'n'),
    'literature_median', c.cell->'pooled'->'median') ORDER BY c.position), '[]'::jsonb)
FROM jsonb_array_elements(coalesce("reports_benchmarkrun"."results"->'cells', '[]'::jsonb))
     WITH ORDINALITY AS c(cell, position)
WHERE (c.cell->'ward'->>'n')::int > 0
"""


#: A finished run's network cells, remembered per process by (run id, finished_at): a finished run's results are
#: written once (``reports.runs``), and every report page of the network reads the same latest runs again (50 wards:
#: ≈ 45 ms of PostgreSQL building their JSON on every page). At most this many runs are kept.
NETWORK_CELLS_KEPT = 4096
_NETWORK_CELLS: BoundedMemo[list[dict[str, Any]]] = BoundedMemo(NETWORK_CELLS_KEPT)


def latest_runs(exclude: Site | None = None) -> list[BenchmarkRun]:
    """The latest finished run of every site that is not a demo ward (nor ``exclude``), each with
    ``network_cells``: its cells with patients, reduced to :data:`NETWORK_CELL_FIELDS` in the database (one query
    for the runs; a second one, for the runs this process has not read before, builds their cells from the stored
    results, which stay deferred, so a ward's job and report do not read every other ward's whole run)."""
    latest = BenchmarkRun.objects.filter(status=BenchmarkRun.Status.DONE, site__demo_of_cohort="")
    if exclude is not None:
        latest = latest.exclude(site=exclude)
    ids = latest.order_by("site_id", "-finished_at", "-pk").distinct("site_id").values("pk")
    runs = list(BenchmarkRun.objects.filter(pk__in=ids).select_related("site").order_by("site_id")
                .only("id", "site_id", "finished_at", "site__name", "site__slug"))
    cells = {run.pk: _NETWORK_CELLS.get((run.pk, run.finished_at)) for run in runs}
    missing = [pk for pk, remembered in cells.items() if remembered is None]
    if missing:
        rows = (BenchmarkRun.objects.filter(pk__in=missing)
                .annotate(network_cells=RawSQL(_NETWORK_CELLS_SQL, [],  # noqa: S611 (a constant)
                                               output_field=JSONField()))
                .values_list("pk", "finished_at", "network_cells"))
        for pk, finished_at, built in rows:
            # a run finished again between the two queries: its cells as just built (never another run's)
            cells[pk] = built
            _NETWORK_CELLS.put((pk, finished_at), built)
    for run in runs:
        run.network_cells = cells[run.pk] or []  # type: ignore[attr-defined]
    return runs


def collect_network(site: Site) -> dict[str, Any] | None:
    """The run's ``inputs["network"]``: the counts of every other (non-demo) ward's cells in its latest finished run
    now, grouped by comparison key — {"as_of": ISO time, "wards": number of other wards read, "groups": [{"key":
    [category, band, scope, scale family, attribution], "others": [[x, n], ...]}]} (one query). Anonymous on
    purpose: a ward's run never records which other ward had which count. None for a demo ward (left out of the
    network, as on the network page)."""
    if site.demo_of_cohort:
        return None
    runs = latest_runs(exclude=site)
    groups: dict[tuple[str, ...], list[list[int]]] = {}
    for run in runs:
        for cell in run.network_cells:  # type: ignore[attr-defined]  # annotated by latest_runs
            groups.setdefault(comparison_key(cell), []).append([cell["ward"]["x"], cell["ward"]["n"]])
    return {"as_of": timezone.now().isoformat(), "wards": len(runs),
            "groups": [{"key": list(key), "others": sorted(counts)} for key, counts in sorted(groups.items())]}


def _groups(runs: list[BenchmarkRun]) -> dict[tuple[str, ...], list[tuple[Site, dict[str, Any]]]]:
    groups: dict[tuple[str, ...], list[tuple[Site, dict[str, Any]]]] = {}
    for run in runs:
        for cell in run.network_cells:  # type: ignore[attr-defined]  # annotated by latest_runs
            groups.setdefault(comparison_key(cell), []).append((run.site, cell))
    return groups


def _pooled(members: list[tuple[Site, dict[str, Any]]]) -> dict[str, Any] | None:
    thresholds = settings.PVTRACK_BENCHMARK
    fit = stat_cache.pool([c["ward"]["x"] for _, c in members], [c["ward"]["n"] for _, c in members],
                          min_cohorts=int(thresholds["MIN_COHORTS"]), min_events=int(thresholds["MIN_EVENTS"]))
    return {"median": fit.median, "pi": list(fit.pi) if fit.pi else None, "marginal_mean": fit.marginal_mean,
            "k": fit.k, "method": fit.method, "weak": fit.weak, "tau2": fit.tau2}


def _comparison(members: list[tuple[Site, dict[str, Any]]], named: set[int] | None,
                own: int | None) -> dict[str, Any]:
    """One comparison as the viewer may see it: {"category", "category_name", "grade_band", "band_label",
    "cycle_scope", "scope_label", "funnel" (reports.funnel.Funnel, units labelled), "wards", "pooled" (network
    GLMM), "literature" ({"median"} of the viewer's own ward's pooled literature benchmark, or None), "own" (the
    viewer's ward's unit or None), "ward_labels" (per unit, in order: (name or None when anonymous, number, own) —
    :func:`ward_label`'s arguments, for a plot in another language)}."""
    ordered = sorted(members, key=lambda m: (m[1]["ward"]["n"], m[1]["ward"]["x"], m[0].pk))
    parts: list[tuple[str | None, int, bool]] = []
    anonymous = 0
    for site, _ in ordered:
        if named is None or site.pk in named:
            parts.append((site.name, 0, site.pk == own))
        else:
            anonymous += 1
            parts.append((None, anonymous, False))
    labels = [ward_label(name, number, own=is_own) for name, number, is_own in parts]
    result = funnel.funnel([funnel.Unit(label, c["ward"]["x"], c["ward"]["n"])
                            for label, (_, c) in zip(labels, ordered, strict=True)])
    first = ordered[0][1]
    own_unit = next((u for u, (site, _) in zip(result.units, ordered, strict=True) if site.pk == own), None)
    own_cell = next((c for site, c in ordered if site.pk == own), None)
    return {"category": first["category"], "category_name": first["category_name"],
            "grade_band": first["grade_band"], "band_label": GRADE_BAND_LABELS[first["grade_band"]],
            "cycle_scope": first["cycle_scope"], "scope_label": CYCLE_SCOPES[first["cycle_scope"]],
            "funnel": result, "wards": len(ordered), "pooled": _pooled(ordered), "ward_labels": parts,
            "literature": ({"median": own_cell["literature_median"]}
                           if own_cell and own_cell.get("literature_median") is not None else None),
            "own": own_unit}


def network_for_site(site: Site, user: AnyUser) -> list[dict[str, Any]]:
    """The comparisons of ``site``'s latest run with the other wards (those with at least MIN_WARDS_SHOWN wards),
    as ``user`` may see them (the site is named; others by name only for whom ``access.named_sites`` allows)."""
    return comparisons_for_site(site, lambda: access.named_sites(user))


def comparisons_for_site(site: Site, named: set[int] | None | Callable[[], set[int] | None],
                         runs: list[BenchmarkRun] | None = None) -> list[dict[str, Any]]:
    """:func:`network_for_site` with the named sites given (None: all; or a callable asked only when there is a
    comparison to show) and, optionally, the latest runs already read: the site's XLSX export names only the site."""
    runs = latest_runs() if runs is None else runs
    shown = [m for m in _groups(runs).values()
             if len(m) >= MIN_WARDS_SHOWN and any(s.pk == site.pk for s, _ in m)]
    if not shown:
        return []
    names = named() if callable(named) else named
    return sorted((_comparison(m, names, site.pk) for m in shown), key=_order)


def network_overview(user: AnyUser) -> list[dict[str, Any]] | None:
    """Every comparison of the network with every ward named, for a network coordinator; None for anyone else."""
    named = access.named_sites(user)
    if named is not None:
        return None
    groups = _groups(latest_runs())
    return sorted((_comparison(m, None, None) for m in groups.values() if len(m) >= MIN_WARDS_SHOWN), key=_order)


def _order(comparison: dict[str, Any]) -> tuple[int, str, str, str]:
    flagged = comparison["own"] is not None and comparison["own"].level is not None
    any_flag = any(u.level for u in comparison["funnel"].units)
    return (0 if flagged or (comparison["own"] is None and any_flag) else 1, comparison["category"],
            comparison["grade_band"], comparison["cycle_scope"])


def shown_plots(comparisons: list[dict[str, Any]], limit: int = 4) -> list[dict[str, Any]]:
    """The comparisons whose funnel the page draws: flagged ones first, then the first others, at most ``limit``."""
    return comparisons[:limit]
