"""Watching a ward over time: the risk-adjusted Bernoulli CUSUM (Steiner, Cook, Farewell & Treasure 2000).

Pure numpy/scipy (no Django). Source: Steiner SH, Cook RJ, Farewell VT, Treasure T. Monitoring surgical performance
using risk-adjusted cumulative sum charts. Biostatistics 2000;1:441–452, doi:10.1093/biostatistics/1.4.441.

Patient t (in order of treatment) has the expected probability p_t of the adverse event (from the benchmark's case
mix); the chart tests the odds ratio R0 = 1 (in control) against R_A (``odds_ratio``, default 2: a doubling of the
odds). Its log-likelihood-ratio score is (Steiner 2000, eq. 2)

    W_t = y_t·ln(R_A) − ln(1 − p_t + R_A·p_t),

S_0 = 0, S_t = max(0, S_{t−1} + W_t), and the chart signals when S_t ≥ h (then restarts at 0). The threshold h is
chosen for a stated in-control average run length (ARL, in patients), computed by the Markov-chain approximation
of Brook & Evans (Biometrika 1972;59:539–549) that Steiner 2000 §3 uses: S is discretised on a grid of ``GRID``
states in [0, h) and the ARL is the expected number of steps from 0 to absorption. ``simulate_arl`` checks it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

ODDS_RATIO = 2.0
#: In-control ARL (patients) the threshold is chosen for (docs/network-and-trends.md: a ward of 10–40 patients a
#: year then sees a false signal about once in 5–20 years of treatment at its expected rate).
ARL0 = 200.0
GRID = 400


@dataclass(frozen=True)
class Path:
    """The chart of one ward and category: S_t after each patient, the indices (0-based) where it signalled, the
    weights used and the threshold h."""

    values: list[float]
    signals: list[int]
    h: float
    odds_ratio: float

    @property
    def signalled(self) -> bool:
        return bool(self.signals)


def _check_p(p: float) -> float:
    if not 0 < p < 1:
        raise ValueError(f"an expected probability must lie in (0, 1), got {p!r}")
    return float(p)


def weights(p: float, odds_ratio: float = ODDS_RATIO) -> tuple[float, float]:
    """(W if the event occurred, W if not) for a patient with expected probability ``p`` (Steiner 2000, eq. 2)."""
    p = _check_p(p)
    if odds_ratio <= 0 or odds_ratio == 1:
        raise ValueError(f"the alternative odds ratio must be positive and not 1, got {odds_ratio!r}")
    log_norm = math.log(1 - p + odds_ratio * p)
    return math.log(odds_ratio) - log_norm, -log_norm


def path(outcomes: Sequence[bool], expected: Sequence[float], h: float,
         odds_ratio: float = ODDS_RATIO) -> Path:
    """The CUSUM over consecutive patients: ``outcomes[t]`` whether patient t had the event, ``expected[t]`` its p_t.
    Raises ValueError when the lengths differ or a p_t lies outside (0, 1)."""
    if len(outcomes) != len(expected):
        raise ValueError(f"{len(outcomes)} outcomes but {len(expected)} expected probabilities")
    if h <= 0:
        raise ValueError(f"the threshold must be positive, got {h!r}")
    s, values, signals = 0.0, [], []
    for t, (y, p) in enumerate(zip(outcomes, expected, strict=True)):
        w_event, w_none = weights(p, odds_ratio)
        s = max(0.0, s + (w_event if y else w_none))
        if s >= h:
            signals.append(t)
            values.append(s)
            s = 0.0
        else:
            values.append(s)
    return Path(values, signals, h, odds_ratio)


def _shifted(p: float, true_odds_ratio: float) -> float:
    """The event probability when the odds are multiplied by ``true_odds_ratio``."""
    return true_odds_ratio * p / (1 - p + true_odds_ratio * p)


def _transitions(case_mix: Sequence[tuple[float, float]], h: float, odds_ratio: float, true_odds_ratio: float,
                 grid: int) -> sparse.csr_matrix:
    """The sub-stochastic transition matrix among the ``grid`` non-signalling states (Brook & Evans 1972), sparse:
    each state moves to at most two states per expected probability of the case mix."""
    if not case_mix or h <= 0:
        raise ValueError("need a non-empty case mix and a positive threshold")
    shares = np.array([float(s) for _, s in case_mix])
    if (shares < 0).any() or shares.sum() <= 0:
        raise ValueError("case-mix shares must be non-negative and not all 0")
    shares = shares / shares.sum()
    delta = h / grid
    states = np.arange(grid) * delta
    rows, cols, values = [], [], []
    for (p, _), share in zip(case_mix, shares, strict=True):
        if share == 0:
            continue
        w_event, w_none = weights(p, odds_ratio)
        p_true = _shifted(p, true_odds_ratio)
        for w, prob in ((w_event, p_true), (w_none, 1 - p_true)):
            index = np.rint(np.maximum(0.0, states + w) / delta).astype(int)
            inside = np.flatnonzero(index < grid)
            rows.append(inside)
            cols.append(index[inside])
            values.append(np.full(len(inside), share * prob))
    # duplicate (row, column) entries are summed by the COO -> CSR conversion
    return sparse.coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(grid, grid)).tocsr()


def arl(case_mix: Sequence[tuple[float, float]], h: float, odds_ratio: float = ODDS_RATIO,
        true_odds_ratio: float = 1.0, grid: int = GRID) -> float:
    """Average run length (patients until a signal, starting from 0) by the Markov chain of Brook & Evans 1972.

    ``case_mix``: (p, share) pairs — patients arrive with expected probability p in proportion ``share`` (shares are
    normalised); ``true_odds_ratio`` 1 gives the in-control ARL, ``odds_ratio`` the out-of-control ARL at the
    alternative. S is rounded to the nearest of ``grid`` states of width h/grid. Raises ValueError for an empty
    or invalid case mix."""
    q = _transitions(case_mix, h, odds_ratio, true_odds_ratio, grid)
    run_lengths = spsolve((sparse.identity(grid, format="csc") - q).tocsc(), np.ones(grid))
    return float(run_lengths[0])


def threshold_for_arl(case_mix: Sequence[tuple[float, float]], target_arl: float = ARL0,
                      odds_ratio: float = ODDS_RATIO, grid: int = GRID, tol: float = 1e-3) -> float:
    """The smallest h (to ``tol``) whose in-control ARL reaches ``target_arl`` (bisection; the ARL grows with h)."""
    low, high = tol, 1.0
    while arl(case_mix, high, odds_ratio, 1.0, grid) < target_arl:
        low, high = high, high * 2
        if high > 64:
            raise ValueError(f"no threshold up to 64 reaches an in-control ARL of {target_arl}")
    while high - low > tol:
        mid = (low + high) / 2
        if arl(case_mix, mid, odds_ratio, 1.0, grid) < target_arl:
            low = mid
        else:
            high = mid
    return high


def simulate_arl(case_mix: Sequence[tuple[float, float]], h: float, odds_ratio: float = ODDS_RATIO,
                 true_odds_ratio: float = 1.0, runs: int = 2000, seed: int = 1, cap: int = 100_000) -> float:
    """Monte Carlo ARL (mean patients to the first signal over ``runs`` charts, each capped at ``cap``)."""
    rng = np.random.default_rng(seed)
    ps = np.array([p for p, _ in case_mix])
    shares = np.array([s for _, s in case_mix], dtype=float)
    shares /= shares.sum()
    w = np.array([weights(p, odds_ratio) for p in ps])
    p_true = np.array([_shifted(p, true_odds_ratio) for p in ps])
    lengths = []
    for _ in range(runs):
        s, t = 0.0, 0
        while t < cap:
            i = rng.choice(len(ps), p=shares) if len(ps) > 1 else 0
            s = max(0.0, s + (w[i, 0] if rng.random() < p_true[i] else w[i, 1]))
            t += 1
            if s >= h:
                break
        lengths.append(t)
    return float(np.mean(lengths))


def signal_probability(case_mix: Sequence[tuple[float, float]], h: float, patients: int,
                       odds_ratio: float = ODDS_RATIO, true_odds_ratio: float = 1.0, grid: int = GRID) -> float:
    """Probability that the chart signals within the first ``patients`` patients (same Markov chain as :func:`arl`):
    the false-alarm rate of a ward of that size at true odds ratio 1, the power at another."""
    q = _transitions(case_mix, h, odds_ratio, true_odds_ratio, grid)
    dist = np.zeros(grid)
    dist[0] = 1.0
    for _ in range(patients):
        dist = q.T @ dist
    return float(1 - dist.sum())
