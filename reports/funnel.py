"""Ward against ward: the funnel plot for proportions with over-dispersion (Spiegelhalter 2005).

Pure numpy/scipy (no Django). Sources:

* Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med 2005;24:1185–1202,
  doi:10.1002/sim.1970 — exact binomial control limits with interpolation (Appendix A.1.1), z-scores,
  over-dispersion (§3.5: multiplicative φ from winsorised z-scores; additive random effects τ²).
* Spiegelhalter DJ. Handling over-dispersion of performance indicators. Qual Saf Health Care 2005;14:347–351,
  doi:10.1136/qshc.2005.013755 — 10 % winsorising; the additive (random-effects) formulation preferred.

Choices (``docs/network-and-trends.md``): the target θ0 is the network's pooled proportion Σx/Σn; the flags use the
**additive random-effects** limits θ0 ± z·√(θ0(1−θ0)/n + τ²) when τ² > 0 and the exact binomial limits otherwise;
the multiplicative φ is reported beside them. No ward is flagged under ``MIN_PATIENTS`` (3, gsm's default) and
nothing is flagged in a network of fewer than ``MIN_WARDS`` (5) wards with ``MIN_PATIENTS`` patients: ward-to-ward
variation cannot be told from chance with fewer. Proportions are fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import stats

from core.i18n_marker import gettext_noop

#: Spiegelhalter's two limits: 95 % ("alert", ≈ 2 SD) and 99.8 % ("alarm", ≈ 3 SD), as two-sided coverage.
LIMITS = (0.95, 0.998)
MIN_PATIENTS = 3
MIN_WARDS = 5
WINSORISE = 0.10


@dataclass(frozen=True)
class Unit:
    """One ward: ``label`` (shown to whoever may see it), ``x`` patients with the event among ``n`` treated."""

    label: str
    x: int
    n: int

    def __post_init__(self) -> None:
        if not (isinstance(self.x, int) and isinstance(self.n, int)) or self.n < 0 or not 0 <= self.x <= self.n:
            raise ValueError(f"need integer counts 0 <= x <= n, got x={self.x!r}, n={self.n!r}")


@dataclass(frozen=True)
class UnitResult:
    """A ward's place in the funnel: its proportion, z-score (against θ0, binomial SE), the limits at its n and its
    flag ("above"/"below" the 99.8 % or 95 % limit, or None; ``flaggable`` False under MIN_PATIENTS)."""

    label: str
    x: int
    n: int
    rate: float
    z: float | None
    limits: dict[str, tuple[float, float]]
    level: str | None
    direction: str | None
    flaggable: bool


@dataclass(frozen=True)
class Funnel:
    """The network funnel: target θ0, φ (multiplicative, winsorised), τ² (additive), the test of over-dispersion
    (p of I·φ against χ² with I − 1 degrees of freedom: θ0 is the wards' own pooled rate), the method the limits
    use ("additive random effects" or "exact binomial"), each unit and whether flags are given at all
    (``flags_given``, with ``note`` saying why not)."""

    theta0: float
    phi: float
    tau2: float
    overdispersion_p: float | None
    method: str
    units: list[UnitResult] = field(default_factory=list)
    flags_given: bool = False
    note: str = ""


@lru_cache(maxsize=4096)
def binomial_limit(n: int, theta0: float, p: float) -> float:
    """Exact binomial control limit for a proportion at (one-sided) probability ``p``, Spiegelhalter 2005 Appendix
    A.1.1: r_p is the smallest r with F(r) ≥ p under Binomial(n, θ0); α = (F(r_p) − p)/(F(r_p) − F(r_p − 1));
    the limit is (r_p − α)/n, interpolating so that the limits are smooth in n. Raises ValueError for n < 1 or
    θ0, p outside (0, 1)."""
    if n < 1 or not 0 < theta0 < 1 or not 0 < p < 1:
        raise ValueError(f"need n >= 1 and 0 < theta0, p < 1, got n={n}, theta0={theta0}, p={p}")
    r = int(stats.binom.ppf(p, n, theta0))
    f_r = float(stats.binom.cdf(r, n, theta0))
    f_before = float(stats.binom.cdf(r - 1, n, theta0)) if r > 0 else 0.0
    alpha = (f_r - p) / (f_r - f_before)
    return max(0.0, (r - alpha) / n)


def exact_limits(n: int, theta0: float, coverage: float) -> tuple[float, float]:
    """(lower, upper) exact binomial limits for two-sided ``coverage`` (0.95 → p = 0.025 and 0.975)."""
    tail = (1 - coverage) / 2
    return binomial_limit(n, theta0, tail), binomial_limit(n, theta0, 1 - tail)


def exact_limits_many(ns: Sequence[int], theta0: float, coverage: float) -> list[tuple[float, float]]:
    """:func:`exact_limits` at each n of ``ns`` (each ≥ 1), computed together: three vectorised scipy calls per
    limit instead of three per ward (a funnel of 50 wards drew 2,700 scalar calls, 1.6 s). Same numbers exactly
    (tests/reports/test_funnel.py). Raises ValueError for an n < 1 or θ0 outside (0, 1)."""
    n = np.asarray(ns, dtype=np.int64)
    if n.size and (n.min() < 1 or not 0 < theta0 < 1):
        raise ValueError(f"need every n >= 1 and 0 < theta0 < 1, got min n={n.min()}, theta0={theta0}")
    tail = (1 - coverage) / 2

    def limit(p: float) -> np.ndarray:
        r = stats.binom.ppf(p, n, theta0)
        f_r = stats.binom.cdf(r, n, theta0)
        f_before = np.where(r > 0, stats.binom.cdf(r - 1, n, theta0), 0.0)
        out: np.ndarray = np.maximum(0.0, (r - (f_r - p) / (f_r - f_before)) / n)
        return out

    lows, highs = limit(tail), limit(1 - tail)
    return [(float(lo), float(hi)) for lo, hi in zip(lows, highs, strict=True)]


@lru_cache(maxsize=16)
def _z(coverage: float) -> float:
    return float(stats.norm.ppf(1 - (1 - coverage) / 2))


def random_effects_limits(n: int, theta0: float, tau2: float, coverage: float) -> tuple[float, float]:
    """(lower, upper) additive random-effects limits θ0 ± z·√(θ0(1−θ0)/n + τ²), clipped to [0, 1] (Spiegelhalter
    2005 §3.5; τ² on the proportion scale)."""
    half = _z(coverage) * math.sqrt(theta0 * (1 - theta0) / n + tau2)
    return max(0.0, theta0 - half), min(1.0, theta0 + half)


def winsorise(z: Sequence[float], fraction: float = WINSORISE) -> np.ndarray:
    """z-scores with the ⌊I·fraction⌋ smallest set to the next smallest and the ⌊I·fraction⌋ largest to the next
    largest (Spiegelhalter 2005 QSHC: 10 % each tail). With I < 10 nothing changes at 10 %."""
    arr = np.asarray(z, dtype=float)
    k = int(math.floor(len(arr) * fraction))
    if k == 0:
        return arr.copy()
    ordered = np.sort(arr)
    clipped: np.ndarray = np.clip(arr, ordered[k], ordered[-k - 1])
    return clipped


def overdispersion(units: Sequence[Unit], theta0: float, fraction: float = WINSORISE, *,
                   target_from_units: bool = True) -> tuple[float, float, float | None, list[float]]:
    """(φ, τ², p, z-scores) for ``units`` around θ0: z_i = (y_i − θ0)/s_i with s_i² = θ0(1−θ0)/n_i; φ = mean of
    the winsorised z²; τ² = (I·φ − (I − 1))/(Σw − Σw²/Σw), w = 1/s², set to 0 when I·φ ≤ I − 1 (Spiegelhalter 2005
    §3.5, DerSimonian–Laird form). Units with n = 0 are ignored.

    p = P(χ²_df ≥ I·φ): df = I − 1 when θ0 is the units' own pooled rate Σx/Σn (``target_from_units``, as
    :func:`funnel` uses it: one degree of freedom is spent on θ0, and unwinsorised I·φ is then exactly Pearson's χ²
    of the 2 × I table — the test of equal proportions); df = I for an external target. Both readings and the
    choice: docs/network-and-trends.md §1."""
    used = [u for u in units if u.n > 0]
    if not used or not 0 < theta0 < 1:
        return 1.0, 0.0, None, []
    s2 = np.array([theta0 * (1 - theta0) / u.n for u in used])
    y = np.array([u.x / u.n for u in used])
    z = (y - theta0) / np.sqrt(s2)
    zw = winsorise(z, fraction)
    count = len(used)
    phi = float(np.mean(zw ** 2))
    df = count - 1 if target_from_units else count
    p = float(stats.chi2.sf(count * phi, df)) if df > 0 else None
    w = 1 / s2
    denominator = float(w.sum() - (w ** 2).sum() / w.sum())
    tau2 = max(0.0, (count * phi - (count - 1)) / denominator) if denominator > 0 else 0.0
    return phi, tau2, p, [float(v) for v in z]


#: Why a funnel gives no flags (``Funnel.note``), stored in English (the report translates it,
#: ``reports.computed_text``).
FUNNEL_TEXTS = {
    "few_wards": gettext_noop("%(eligible)s wards with at least %(min_patients)s patients; flags need %(min_wards)s"),
    "few_wards_one": gettext_noop("%(eligible)s ward with at least %(min_patients)s patients; flags need "
                                  "%(min_wards)s"),
    "none": gettext_noop("every ward has none of its patients with the event: nothing to compare"),
    "all": gettext_noop("every ward has all of its patients with the event: nothing to compare"),
}


def funnel(units: Sequence[Unit], min_patients: int = MIN_PATIENTS, min_wards: int = MIN_WARDS) -> Funnel:
    """Compare every ward with the network (θ0 = Σx/Σn over the wards with patients) and flag in both directions.

    A ward is "ALARM" outside the 99.8 % limits, "ALERT" outside the 95 % ones (above or below); no flag for a ward
    under ``min_patients`` or when fewer than ``min_wards`` wards have ``min_patients`` (``flags_given`` False, the
    ``note`` says why); no flag when θ0 is 0 or 1 (no variation to compare). Raises ValueError for no unit."""
    if not units:
        raise ValueError("a funnel needs at least one ward")
    total_x, total_n = sum(u.x for u in units), sum(u.n for u in units)
    theta0 = total_x / total_n if total_n else 0.0
    phi, tau2, p, _ = overdispersion(units, theta0)
    method = "additive random effects" if tau2 > 0 else "exact binomial"
    eligible = sum(1 for u in units if u.n >= min_patients)
    note = ""
    if eligible < min_wards:
        note = FUNNEL_TEXTS["few_wards_one" if eligible == 1 else "few_wards"] % {
            "eligible": eligible, "min_patients": min_patients, "min_wards": min_wards}
    elif not 0 < theta0 < 1:
        note = FUNNEL_TEXTS["none" if theta0 == 0 else "all"]
    flags_given = not note
    ns = tuple(sorted({u.n for u in units if u.n}))
    curves = ({coverage: _limits_by_n(ns, theta0, tau2, coverage) for coverage in LIMITS}
              if ns and 0 < theta0 < 1 else {})
    results = []
    for u in units:
        rate = u.x / u.n if u.n else 0.0
        limits: dict[str, tuple[float, float]] = {}
        z = None
        if u.n and 0 < theta0 < 1:
            z = (rate - theta0) / math.sqrt(theta0 * (1 - theta0) / u.n)
            for coverage in LIMITS:
                limits[f"{coverage:.3f}".rstrip("0")] = curves[coverage][u.n]
        flaggable = flags_given and u.n >= min_patients
        level = direction = None
        if flaggable:
            for name, key in (("ALARM", "0.998"), ("ALERT", "0.95")):
                low, high = limits[key]
                if rate > high or rate < low:
                    level, direction = name, ("above" if rate > high else "below")
                    break
        results.append(UnitResult(u.label, u.x, u.n, rate, z, limits, level, direction, flaggable))
    return Funnel(theta0, phi, tau2, p, method, results, flags_given, note)


@lru_cache(maxsize=1024)
def _limits_by_n(ns: tuple[int, ...], theta0: float, tau2: float, coverage: float) -> dict[int, tuple[float, float]]:
    """{n: :func:`limit_curve` at n} for the distinct ``ns``, remembered per process: a ward's limits depend only on
    its own n, θ0, τ² and the coverage, and the report page compares the same wards on every request (50 wards × 32
    comparisons: ≈ 70 ms a page), the nightly job the same network for every ward."""
    return dict(zip(ns, limit_curve(ns, theta0, tau2, coverage), strict=True))


def limit_curve(ns: Sequence[int], theta0: float, tau2: float, coverage: float) -> list[tuple[float, float]]:
    """The (lower, upper) limits at each n of ``ns`` by the same rule as :func:`funnel` (for plotting)."""
    if tau2 > 0:
        return [random_effects_limits(n, theta0, tau2, coverage) for n in ns]
    return exact_limits_many(ns, theta0, coverage)
