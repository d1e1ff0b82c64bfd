"""Sequential (DSMB-style) toxicity monitoring with an exact Pocock-type boundary.

Pure numpy/scipy. A ward re-evaluated after every patient and acted on at the first crossing
needs a boundary calibrated for repeated looks (docs/methods.md §3.4, §3.5 step 5):

* Ivanova, Qaqish & Schell (2005), Biometrics 61:540, doi:10.1111/j.1541-0420.2005.00311.x:
  stop at patient n if x_n >= b_n, b_n = min{b : P(Bin(n, p0) >= b) <= c}, with one constant
  nominal level c chosen so that P(any crossing over n = 1..N_max | p0) <= alpha;
* the crossing probability is exact: a forward recursion over the distribution of the event count
  among patients who have not yet crossed (as ``stoppingrule::calc.rule.bin(type="Pocock")``).

Reference (docs/methods.md §3.4, N_max = 40, p0 = 0.10, alpha = 0.05): c = 0.01585, boundaries
2/2, 3/3-5, 4/6-10, 5/11-15, 6/16-21, 7/22-27, 8/28-33, 9/34-40, P(false alarm) = 0.0496,
P(signal | 0.20) = 0.4996, P(signal | 0.30) = 0.9158.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

BISECTION_STEPS = 60


@dataclass(frozen=True)
class Boundary:
    """A sequential stopping boundary for one-sided monitoring of an event rate.

    ``bounds[n-1]`` = b_n, the number of events among the first n patients (n = 1..``n_max``) at or
    above which monitoring signals; b_n = n + 1 means no signal is possible at n. ``nominal`` is the
    per-look nominal level c; ``alpha`` the target overall level; ``overall_alpha`` the exact
    probability of any crossing by ``n_max`` when the true rate is ``p0``.
    """

    n_max: int
    p0: float
    alpha: float
    nominal: float
    bounds: tuple[int, ...]
    overall_alpha: float

    def ranges(self) -> list[tuple[int, int, int]]:
        """The boundary as (b, first n, last n) runs, omitting looks where no signal is possible,
        e.g. [(2, 2, 2), (3, 3, 5), ...] for "2 of 2, 3 of 3-5, ..." (the §3.4 table format)."""
        runs: list[tuple[int, int, int]] = []
        for n, b in enumerate(self.bounds, start=1):
            if b > n:
                continue
            if runs and runs[-1][0] == b and runs[-1][2] == n - 1:
                runs[-1] = (b, runs[-1][1], n)
            else:
                runs.append((b, n, n))
        return runs


def _check(n_max: int, p: float, name: str = "p0") -> None:
    if not isinstance(n_max, int) or isinstance(n_max, bool) or n_max < 1:
        raise ValueError(f"n_max must be an integer >= 1, got {n_max!r}")
    if not 0 < p < 1:
        raise ValueError(f"{name} must be in (0, 1), got {p}")


def nominal_bounds(n_max: int, p0: float, c: float) -> tuple[int, ...]:
    """b_n = min{b : P(Bin(n, p0) >= b) <= c} for n = 1..n_max (length n_max; may be n + 1).

    A look with a fixed exact one-sided binomial test at level c (not calibrated for repeated looks).
    """
    _check(n_max, p0)
    return _bounds_from_tails(_tails(n_max, p0), c)


@lru_cache(maxsize=32)  # a matrix of n_max x (n_max + 2) floats: 0.3 MB at n_max = 200
def _tails(n_max: int, p0: float) -> np.ndarray:
    """P(Bin(n, p0) >= b) in row n - 1, column b = 0..n, for n = 1..n_max, computed once per boundary search;
    the columns after n hold -inf, so that every row has a first column <= any c (b = n + 1: no signal possible)."""
    tails = np.full((n_max, n_max + 2), -np.inf)
    for n in range(1, n_max + 1):
        tails[n - 1, : n + 1] = stats.binom.sf(np.arange(n + 1) - 1, n, p0)
    return tails


def _bounds_from_tails(tails: np.ndarray, c: float) -> tuple[int, ...]:
    """The first b of each row with P(Bin(n, p0) >= b) <= c (one vectorised pass; n + 1 where none is)."""
    return tuple(int(b) for b in np.argmax(tails <= c, axis=1))


def crossing_probability(bounds: tuple[int, ...] | list[int], p: float) -> float:
    """Exact P(x_n >= b_n for some n = 1..len(bounds)) when each patient has the event with prob. p.

    Forward recursion: ``alive[x]`` = P(x events among the first n and no crossing yet); each patient
    shifts it by Bin(1, p); the mass at x >= b_n is absorbed (it crossed) and removed.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    alive = np.zeros(len(bounds) + 2)
    alive[0] = 1.0
    crossed = 0.0
    for b in bounds:
        alive = np.concatenate(([alive[0] * (1 - p)], alive[1:] * (1 - p) + alive[:-1] * p))
        crossed += float(alive[b:].sum())
        alive[b:] = 0.0
    return min(1.0, crossed)


def pocock_boundaries(n_max: int, p0: float, alpha: float = 0.05) -> Boundary:
    """Pocock-type exact boundary (Ivanova, Qaqish & Schell 2005) for ``n_max`` patients.

    Finds the largest constant nominal level c (bisection on [0, alpha], ``BISECTION_STEPS`` halvings)
    whose boundary b_n = min{b : P(Bin(n, p0) >= b) <= c} has exact overall crossing probability
    under p0 <= ``alpha``. The overall probability is a step function of c, so c is reported to the
    bisection precision just below the jump that would exceed alpha. Raises ValueError for
    n_max < 1, p0 outside (0, 1) or alpha outside (0, 1). source: docs/methods.md §3.4.
    """
    _check(n_max, p0)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    # The boundary is a step function of c: most halvings give a boundary already evaluated, so each distinct
    # boundary's crossing probability is computed once (the same c as evaluating every step; issue 12).
    crossing: dict[tuple[int, ...], float] = {}

    def within(c: float) -> bool:
        bounds = nominal_bounds(n_max, p0, c)
        if bounds not in crossing:
            crossing[bounds] = crossing_probability(bounds, p0)
        return crossing[bounds] <= alpha

    lo, hi = 0.0, alpha  # a per-look level above alpha can never keep the overall level <= alpha
    if within(hi):
        lo = hi
    else:
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            if within(mid):
                lo = mid
            else:
                hi = mid
    bounds = nominal_bounds(n_max, p0, lo)
    return Boundary(n_max=n_max, p0=p0, alpha=alpha, nominal=lo, bounds=bounds,
                    overall_alpha=crossing_probability(bounds, p0))


def events_needed_to_cross(boundary: Boundary, n: int, x: int) -> int | None:
    """How many more events among the first n patients would cross the boundary at look n.

    Returns max(0, b_n - x) (0 = already at or over the boundary), or None when no signal is
    possible at n (b_n > n). Raises ValueError for n outside 1..n_max or x outside 0..n.
    """
    if not 1 <= n <= boundary.n_max:
        raise ValueError(f"n must be in 1..{boundary.n_max}, got {n}")
    if not 0 <= x <= n:
        raise ValueError(f"x must be in 0..{n}, got {x}")
    b = boundary.bounds[n - 1]
    return None if b > n else max(0, b - x)


def operating_characteristics(boundary: Boundary, p: float) -> float:
    """Exact P(signal by n_max) when the true event rate is p (power for p > p0, false alarm at p0)."""
    return crossing_probability(boundary.bounds, p)


def naive_boundary(n_max: int, p0: float, nominal: float) -> Boundary:
    """An uncalibrated boundary: the exact one-sided binomial test at level ``nominal`` at every look.

    Its ``overall_alpha`` shows the inflation from repeated looks (docs/methods.md §3.4: 0.124 for
    p < 0.05 and 0.066 for p < 0.025 at N_max = 40, p0 = 0.10).
    """
    bounds = nominal_bounds(n_max, p0, nominal)
    return Boundary(n_max=n_max, p0=p0, alpha=math.nan, nominal=nominal, bounds=bounds,
                    overall_alpha=crossing_probability(bounds, p0))
