"""Site-independent benchmark statistics, computed once per process and reused across wards.

The pooled benchmark of a cell depends only on the cell's comparable cohort figures (the cohort set:
their event counts and totals) and the thresholds; the Pocock boundary only on (N_MAX, theta0, alpha);
the predictive limits only on (n, pooled benchmark, alpha). The nightly job computes the same cells for
every ward, so these are memoised here with the exact arguments as the key: a cached value is the very
object the uncached call returns (the results are identical, see tests/reports/test_stat_cache.py).

The method version is part of the key implicitly: the cache lives in one worker process, whose code
(``reports.benchmark.METHOD_VERSION``) cannot change while it runs. Each function has the signature of the
function it wraps (:mod:`reports.stats`, :mod:`reports.sequential`) and returns the same frozen dataclass or
tuple. Pure: no Django (import-linter "pure rules" contract).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from reports import meta_regression, sequential, stats

#: Entries per memoised function: ample for 7 categories x 2 bands x 2 scopes x strata x a few hundred wards.
MAXSIZE = 4096
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("stat_cache_enabled", default=True)

_T = TypeVar("_T")


@lru_cache(maxsize=MAXSIZE)
def _clopper_pearson(x: int, n: int, level: float) -> tuple[float, float]:
    return stats.clopper_pearson(x, n, level)


@lru_cache(maxsize=MAXSIZE)
def _pool(events: tuple[int, ...], totals: tuple[int, ...], level: float, min_cohorts: int,
          min_events: int) -> stats.Pooled:
    return stats.pool(events, totals, level, min_cohorts=min_cohorts, min_events=min_events)


@lru_cache(maxsize=MAXSIZE)
def _two_step_logit(events: tuple[int, ...], totals: tuple[int, ...], level: float) -> stats.TwoStep:
    return stats.two_step_logit(events, totals, level)


@lru_cache(maxsize=MAXSIZE)
def _pocock_boundaries(n_max: int, p0: float, alpha: float) -> sequential.Boundary:
    return sequential.pocock_boundaries(n_max, p0, alpha)


@lru_cache(maxsize=MAXSIZE)
def _predictive_limits(n: int, pooled: stats.Pooled, alpha: float) -> tuple[int | None, int | None]:
    return stats.predictive_limits(n, pooled, alpha)


@lru_cache(maxsize=MAXSIZE)
def _meta_regression(events: tuple[int, ...], totals: tuple[int, ...],
                     candidates: tuple[tuple[str, tuple[float | None, ...]], ...],
                     known: tuple[str, ...]) -> meta_regression.Regression:
    return meta_regression.select(events, totals, dict(candidates), known)


_CACHES: list[Any] = [_clopper_pearson, _pool, _two_step_logit, _pocock_boundaries, _predictive_limits,
                      _meta_regression]


def _call(cached: Callable[..., _T], direct: Callable[..., _T], *args: Any) -> _T:
    return cached(*args) if _enabled.get() else direct(*args)


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """:func:`reports.stats.clopper_pearson`, memoised on (x, n, level): wards of equal counts share it."""
    return _call(_clopper_pearson, stats.clopper_pearson, int(x), int(n), float(level))


def pool(events: Sequence[int], totals: Sequence[int], level: float = 0.95,
         min_cohorts: int = 3, min_events: int = 3) -> stats.Pooled:
    """:func:`reports.stats.pool`, memoised on (events, totals, level, min_cohorts, min_events)."""
    return _call(_pool, lambda *a: stats.pool(a[0], a[1], a[2], min_cohorts=a[3], min_events=a[4]),
                 tuple(int(e) for e in events), tuple(int(t) for t in totals), float(level), int(min_cohorts),
                 int(min_events))


def two_step_logit(events: Sequence[int], totals: Sequence[int], level: float = 0.95) -> stats.TwoStep:
    """:func:`reports.stats.two_step_logit`, memoised on (events, totals, level)."""
    return _call(_two_step_logit, stats.two_step_logit, tuple(int(e) for e in events),
                 tuple(int(t) for t in totals), float(level))


def pocock_boundaries(n_max: int, p0: float, alpha: float = 0.05) -> sequential.Boundary:
    """:func:`reports.sequential.pocock_boundaries`, memoised on (n_max, p0, alpha)."""
    return _call(_pocock_boundaries, sequential.pocock_boundaries, int(n_max), float(p0), float(alpha))


def predictive_limits(n: int, pooled: stats.Pooled, alpha: float) -> tuple[int | None, int | None]:
    """:func:`reports.stats.predictive_limits`, memoised on (n, pooled benchmark, alpha)."""
    return _call(_predictive_limits, stats.predictive_limits, int(n), pooled, float(alpha))


def meta_regression_choose(events: Sequence[int], totals: Sequence[int],
                           candidates: Mapping[str, Sequence[float | None]],
                           ward: dict[str, float | None]) -> meta_regression.Regression:
    """:func:`reports.meta_regression.choose` with the model selection memoised on (cohort counts, moderator values,
    the moderators the ward knows): each cohort set is fitted once per process, every ward only predicts from it
    (issue 17 item 7)."""
    e, t = tuple(int(v) for v in events), tuple(int(v) for v in totals)
    key_c = tuple((name, tuple(None if v is None else float(v) for v in values)) for name, values in candidates.items())
    known = tuple(name for name in candidates if ward.get(name) is not None)
    reg = _call(_meta_regression, lambda *a: meta_regression.select(a[0], a[1], dict(a[2]), a[3]), e, t, key_c, known)
    return meta_regression.at_ward(reg, e, t, ward)


def clear() -> None:
    """Empty every memo (tests; a deployment never needs it: a new method version means new code)."""
    for cache in _CACHES:
        cache.cache_clear()


def info() -> dict[str, dict[str, int]]:
    """{function: {"hits", "misses", "size"}} of this process's memos (for the benchmark harness)."""
    out = {}
    for cache in _CACHES:
        ci = cache.cache_info()
        out[cache.__name__.lstrip("_")] = {"hits": ci.hits, "misses": ci.misses, "size": ci.currsize}
    return out


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within this block every function computes afresh (the "before" of the benchmark harness, tests)."""
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)
