"""Statistics core of pvtrack: pool published adverse-event (AE) incidence and compare a ward with it.

Pure numpy/scipy (no Django), so it can be tested and reused on its own. Methods, defaults and
reference numbers follow ``docs/methods.md`` (sections cited as §x.y) and the papers cited there:

* benchmark: one-stage binomial-normal GLMM (random-intercept logistic model) fitted by maximum
  likelihood with adaptive Gauss-Hermite quadrature, as ``metafor::rma.glmm(measure="PLO")``
  (source: Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046); fallback to the common-effect pooled
  count with a Clopper-Pearson CI when there are too few cohorts or events (§0, §3.5);
* ward versus benchmark: exact binomial tails under the fixed marginal-mean rate and under the
  random-effects predictive distribution (source: Spiegelhalter 2005, Stat Med 24:1185; §3.5);
* a descriptive beta-binomial posterior probability (§3.3).

Proportions are fractions in [0, 1]; ``mu`` and ``tau2`` are on the logit scale.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from core.i18n_marker import gettext_noop

AGQ_NODES = 21  # adaptive nodes per cohort; 21 reproduces the exact ML tau2 = 0.812214 (§2)
_LOG_TAU_BOUNDS = (math.log(1e-4), math.log(10.0))  # tau above 10 on the logit scale = no fit
_MU_BOUNDS = (-25.0, 25.0)
_hermgauss = cache(np.polynomial.hermite.hermgauss)  # (nodes, weights) for weight exp(-z^2)


class GLMMFitError(RuntimeError):
    """The binomial-normal GLMM has no usable maximum-likelihood fit for these counts."""


def _count(value: Any, name: str) -> int:
    try:
        count = operator.index(value)  # accepts int and numpy integers, rejects floats
    except TypeError:
        raise ValueError(f"{name} must be an integer count, got {value!r}") from None
    if count < 0:
        raise ValueError(f"{name} must be >= 0, got {count}")
    return count


def _ward(x: int, n: int) -> tuple[int, int]:
    x, n = _count(x, "x"), _count(n, "n")
    if n < 1 or x > n:
        raise ValueError(f"need n >= 1 and 0 <= x <= n, got x={x}, n={n}")
    return x, n


def _cohorts(events: Sequence[int], totals: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    if len(events) != len(totals):
        raise ValueError(f"{len(events)} event counts but {len(totals)} totals")
    if len(events) == 0:
        raise ValueError("no cohorts given")
    pairs = [_ward(x, n) for x, n in zip(events, totals, strict=True)]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) CI for a binomial proportion x/n, as (lower, upper) fractions.

    Raises ValueError for n < 1, x < 0, x > n or a level outside (0, 1).
    source: Clopper & Pearson 1934, Biometrika 26:404, computed by the beta-quantile identity (Brown, Cai &
    DasGupta 2001, Stat Sci 16:101, §4.2.1: lower = Beta(a/2; x, n-x+1), upper = Beta(1-a/2; x+1, n-x), a = 1 -
    level) with ``scipy.special.betaincinv``: the same limits as ``scipy.stats.binomtest(...).proportion_ci(
    method="exact")`` (agreeing to 5e-13, its root finder's tolerance; tests/reports/test_stats.py) and about a
    thousand times faster, which matters in a run's 30-odd cells (issue 12).
    """
    x, n = _ward(x, n)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tail = (1 - level) / 2
    low = 0.0 if x == 0 else float(special.betaincinv(x, n - x + 1, tail))
    high = 1.0 if x == n else float(special.betaincinv(x + 1, n - x, 1 - tail))
    return low, high


@dataclass(frozen=True)
class Pooled:
    """A pooled benchmark rate.

    ``mu``, ``se_mu`` and ``tau2`` are on the logit scale; ``median``, ``marginal_mean``, ``ci``
    and ``pi`` are proportions. ``median`` = expit(mu) is the rate of the median centre;
    ``marginal_mean`` = integral of expit(mu + tau z) phi(z) dz is the mean rate to use for expected
    counts (§1.7). ``ci_critical`` / ``pi_critical`` name the critical values used (§1.4).
    ``weak`` marks a common-effect fallback, ``reason`` says why in plain language, and ``i2`` is
    metafor's tau2-based I^2 (None for the common-effect result).
    """

    method: str  # "glmm_ml" or "common_effect"
    k: int
    events: int
    total: int
    mu: float
    se_mu: float
    tau2: float
    median: float
    marginal_mean: float
    ci: tuple[float, float]
    pi: tuple[float, float]
    ci_critical: str
    pi_critical: str
    weak: bool
    reason: str
    i2: float | None
    unusable: str = ""  # why this fit is "no usable benchmark" (docs/methods.md §4.1); "" when usable


#: docs/methods.md §4.1 rule 2: the fit is flat when the profile log-likelihood at tau = 10 (the optimiser's bound)
#: is within chi2_1(0.95)/2 of the maximum, i.e. the 95 % profile-likelihood interval of tau reaches the bound.
FLAT_LOGLIK_DROP = float(stats.chi2.ppf(0.95, 1) / 2)
#: docs/methods.md §4.1 rule 3: a 95 % predictive interval covering all of [1 %, 90 %] leaves no count to flag.
PI_SPAN = (0.01, 0.90)


def predictive_interval(pooled: Pooled, level: float = 0.95) -> tuple[float, float]:
    """Central ``level`` interval of expit(theta), theta ~ N(mu, tau2 + SE^2): the predictive distribution the
    flags use (``predictive_tail``), as proportions. One distribution for forest PI, funnel and flags
    (docs/methods.md §4.3). For a common-effect result it is built from the pooled logit and its SE."""
    half = float(stats.norm.ppf((1 + level) / 2)) * math.sqrt(pooled.tau2 + pooled.se_mu**2)
    return float(special.expit(pooled.mu - half)), float(special.expit(pooled.mu + half))


def _profile_loglik(tau2: float, x: np.ndarray, n: np.ndarray) -> float:
    """max over mu of the GLMM log-likelihood at this tau2 (bounded scalar search)."""
    fit = optimize.minimize_scalar(lambda m: -_loglik(m, math.sqrt(tau2), x, n), bounds=_MU_BOUNDS,
                                   method="bounded", options={"xatol": 1e-8})
    return -float(fit.fun)


#: Why a benchmark is weak or no usable benchmark, stored in English with the run (``Pooled.reason``,
#: ``Pooled.unusable``); the report translates them (``reports.computed_text``).
POOL_TEXTS = {
    "spread": gettext_noop("the published cohorts disagree so much (between-cohort variance %(tau2)s on the logit "
                           "scale; 95 %% predictive interval %(lo)s–%(hi)s)"),
    "at_bound": gettext_noop("no usable benchmark: %(spread)s that the model's spread runs to its bound"),
    "flat": gettext_noop("no usable benchmark: %(spread)s, and the likelihood is flat: these cohorts cannot rule out "
                         "that every cohort has its own rate"),
    "span": gettext_noop("no usable benchmark: %(spread)s that a comparable ward could show almost any rate, so "
                         "hardly any count could be flagged"),
    "weak": gettext_noop("Weak benchmark: %(why)s. Showing the pooled count %(x)s/%(n)s with an exact "
                         "Clopper-Pearson CI; between-cohort variation is not modelled."),
    "few_cohorts": gettext_noop("only %(k)s comparable cohorts (the model needs %(min)s)"),
    "few_cohorts_one": gettext_noop("only %(k)s comparable cohort (the model needs %(min)s)"),
    "few_events": gettext_noop("only %(x)s events across cohorts (the model needs %(min)s)"),
    "few_events_one": gettext_noop("only %(x)s event across cohorts (the model needs %(min)s)"),
    "no_convergence": gettext_noop("GLMM did not converge (%(error)s)"),
    "common_effect": gettext_noop("Weak benchmark: common-effect pooled count (all cohorts treated as one), exact "
                                  "Clopper-Pearson CI; between-cohort variation is not modelled."),
}


def degenerate_reason(pooled: Pooled, x: np.ndarray, n: np.ndarray, at_bound: bool = False,
                      check_flat: bool = True, loglik_max: float | None = None) -> str:
    """Why a random-effects fit is no usable benchmark, or "" (docs/methods.md §4.1, rules 1-3).

    1. tau reached its bound (10 on the logit scale); 2. flat likelihood: the profile log-likelihood at the bound
    is within ``FLAT_LOGLIK_DROP`` of the maximum; 3. the 95 % predictive interval (``predictive_interval``) covers
    all of ``PI_SPAN``. The reasons are plain language, for the report. ``check_flat`` False skips rule 2 (a
    meta-regression, whose profile is not the intercept-only one of ``_profile_loglik``).
    """
    if pooled.tau2 == 0:
        return ""
    lo, hi = predictive_interval(pooled)
    spread = POOL_TEXTS["spread"] % {"tau2": f"{pooled.tau2:.1f}", "lo": f"{lo:.1%}", "hi": f"{hi:.1%}"}
    if at_bound:
        return POOL_TEXTS["at_bound"] % {"spread": spread}
    tau2_bound = math.exp(2 * _LOG_TAU_BOUNDS[1])
    top = _profile_loglik(pooled.tau2, x, n) if loglik_max is None else loglik_max
    if check_flat and top - _profile_loglik(tau2_bound, x, n) < FLAT_LOGLIK_DROP:
        return POOL_TEXTS["flat"] % {"spread": spread}
    if lo <= PI_SPAN[0] and hi >= PI_SPAN[1]:
        return POOL_TEXTS["span"] % {"spread": spread}
    return ""


def logit_normal_mean(mu: float, tau2: float, nodes: int = 100) -> float:
    """Mean of expit(theta), theta ~ N(mu, tau2): the integral back-transformation.

    Gauss-Hermite quadrature with ``nodes`` nodes. source: metafor ``transf.ilogit.int``; §1.7.
    """
    z, w = _hermgauss(nodes)
    return float(w @ special.expit(mu + math.sqrt(2.0 * tau2) * z) / math.sqrt(math.pi))


def _loglik(mu: float | np.ndarray, tau: float, x: np.ndarray, n: np.ndarray) -> float:
    """Binomial-normal marginal log-likelihood by adaptive Gauss-Hermite quadrature.

    For each cohort the integrand over the random effect u ~ N(0, tau^2) is centred at its mode
    (safeguarded Newton inside the bracket [(x-n) tau^2, x tau^2], where the score changes sign) and
    scaled by its curvature (Liu & Pierce 1994, Biometrika 81:624; lme4's nAGQ > 1).
    """
    t2 = tau * tau
    lo, hi, u = (x - n) * t2, x * t2, np.zeros(len(x))
    for _ in range(100):
        p = special.expit(mu + u)
        score = x - n * p - u / t2
        lo, hi = np.where(score > 0, u, lo), np.where(score < 0, u, hi)
        step = u + score / (n * p * (1 - p) + 1 / t2)
        step = np.where((step <= lo) | (step >= hi), (lo + hi) / 2, step)
        done = np.all(np.abs(step - u) <= 1e-12 * (1 + np.abs(u)))
        u = step
        if done:
            break
    p = special.expit(mu + u)
    scale = 1 / np.sqrt(n * p * (1 - p) + 1 / t2)
    z, w = _hermgauss(AGQ_NODES)
    uj = u[:, None] + math.sqrt(2.0) * scale[:, None] * z
    theta = (mu[:, None] if isinstance(mu, np.ndarray) else mu) + uj  # mu: one value, or one per cohort
    log_f = x[:, None] * special.log_expit(theta) + (n - x)[:, None] * special.log_expit(-theta) \
        - uj**2 / (2 * t2) + z**2
    log_choose = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    per_cohort = log_choose - math.log(tau) + np.log(scale) - 0.5 * math.log(math.pi) \
        + _log_weighted_sum(log_f, w)
    return float(per_cohort.sum())


def _log_weighted_sum(log_f: np.ndarray, w: np.ndarray) -> np.ndarray:
    """log(sum_j w_j exp(log_f[i, j])) per row i, shifted by the row maximum (no overflow); the weights are
    positive (Gauss-Hermite). The same value as ``scipy.special.logsumexp(log_f, b=w, axis=1)``, about 20 times
    faster at this size (scipy's generic version dominated the GLMM fit, issue 12)."""
    top = log_f.max(axis=1)
    return np.asarray(top + np.log(np.exp(log_f - top[:, None]) @ w))


def _se_mu(mu: float, tau2: float, x: np.ndarray, n: np.ndarray) -> float:
    """SE(mu) from the observed information: Hessian of -logL in (mu, tau2) by central differences."""
    def f(a: float, b: float) -> float:
        return -_loglik(a, math.sqrt(b), x, n)

    hm, ht = 1e-4, min(1e-4, tau2 / 2)
    h_mm = (f(mu + hm, tau2) - 2 * f(mu, tau2) + f(mu - hm, tau2)) / hm**2
    h_tt = (f(mu, tau2 + ht) - 2 * f(mu, tau2) + f(mu, tau2 - ht)) / ht**2
    h_mt = (f(mu + hm, tau2 + ht) - f(mu + hm, tau2 - ht)
            - f(mu - hm, tau2 + ht) + f(mu - hm, tau2 - ht)) / (4 * hm * ht)
    det = h_mm * h_tt - h_mt**2
    if not (h_mm > 0 and det > 0):
        raise GLMMFitError("the information matrix is not positive definite")
    return math.sqrt(h_tt / det)


def _i2(tau2: float, x: np.ndarray, n: np.ndarray) -> float:
    """metafor's I^2 = tau2 / (tau2 + s^2), s^2 = (k-1) sum(w) / ((sum w)^2 - sum(w^2)).

    w = 1/v with v the logit sampling variance 1/x + 1/(n-x), adding 1/2 to both cells only in
    cohorts with x = 0 or x = n (escalc add=1/2, to="only0"; the GLMM itself uses no correction).
    source: Higgins & Thompson 2002, Stat Med 21:1539; metafor rma.glmm; §1.2.
    """
    if len(x) < 2 or tau2 == 0:
        return 0.0
    add = np.where((x == 0) | (x == n), 0.5, 0.0)
    w = 1 / (1 / (x + add) + 1 / (n - x + add))
    s2 = (len(x) - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())
    return float(tau2 / (tau2 + s2))


def pool_glmm(events: Sequence[int], totals: Sequence[int], level: float = 0.95) -> Pooled:
    """Pool k cohorts (event counts ``events``, patients ``totals``) with the binomial-normal GLMM.

    Model: x_i ~ Bin(n_i, p_i), logit p_i = mu + u_i, u_i ~ N(0, tau^2); ML over (mu, log tau) by
    Nelder-Mead (derivative-free: gradient-based optimisers stall on finite-difference noise) with
    adaptive Gauss-Hermite quadrature (``AGQ_NODES``). Zero-event cohorts stay in, with no
    continuity correction. If tau-hat reaches 0 (the likelihood is no better than with tau = 0),
    tau2 = 0 and the common-effect logistic fit (mu = logit(sum x / sum n)) is reported.
    CI: mu +/- z * SE (metafor rma.glmm default ``test="z"``). PI: mu +/- z sqrt(SE^2 + tau2), the central interval of
    the predictive distribution the flags and the funnel use (one distribution everywhere, docs/methods.md §4.3;
    metafor's default for rma.glmm; meta >= 7 would use t_{k-1}). Both back-transformed with expit.
    A degenerate fit (tau at its bound, a flat likelihood, or a predictive interval covering nearly all of 0-1)
    is returned with ``unusable`` saying why (``degenerate_reason``; docs/methods.md §4.1): show no number for it.
    Raises ValueError for invalid counts and GLMMFitError if k < 2, if all or none of the patients
    had the event, or if the fit fails. source: Stijnen 2010, Stat Med 29:3046; §1.4, §1.7, §2.
    """
    x, n = _cohorts(events, totals)
    k, big_x, big_n = len(x), int(x.sum()), int(n.sum())
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if k < 2:
        raise GLMMFitError("a random-effects fit needs at least 2 cohorts")
    if big_x in (0, big_n):
        raise GLMMFitError("the pooled logit is infinite when all or none of the patients had the event")
    mu_ee = math.log(big_x / (big_n - big_x))
    loglik_ee = float(stats.binom.logpmf(x, n, big_x / big_n).sum())
    fit = optimize.minimize(lambda v: -_loglik(v[0], math.exp(v[1]), x, n), [mu_ee, math.log(0.5)],
                            method="Nelder-Mead", bounds=[_MU_BOUNDS, _LOG_TAU_BOUNDS],
                            options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000})
    if not (fit.success and np.all(np.isfinite(fit.x))):
        raise GLMMFitError(f"the optimiser stopped: {fit.message}")
    if -fit.fun <= loglik_ee + 1e-8:
        mu, tau2, se = mu_ee, 0.0, math.sqrt(1 / big_x + 1 / (big_n - big_x))
        reason = (f"Random-effects GLMM over {k} cohorts; the between-cohort variance is estimated at 0, "
                  "so this is the common-effect logistic fit.")
    elif fit.x[1] >= _LOG_TAU_BOUNDS[1] - 1e-6:
        mu, tau2 = float(fit.x[0]), math.exp(2 * fit.x[1])
        try:
            se = _se_mu(mu, tau2, x, n)
        except GLMMFitError:
            se = 0.0
        reason = f"Random-effects GLMM over {k} cohorts: the between-cohort variance runs to its bound."
    else:
        mu, tau2 = float(fit.x[0]), math.exp(2 * fit.x[1])
        se = _se_mu(mu, tau2, x, n)
        reason = (f"Random-effects GLMM (ML, adaptive Gauss-Hermite) over {k} cohorts "
                  f"with {big_x} events in {big_n} patients.")
    z = stats.norm.ppf((1 + level) / 2)
    half_pi = z * math.sqrt(se**2 + tau2)  # the flags' predictive distribution (docs/methods.md §4.3)
    pooled = Pooled(
        method="glmm_ml", k=k, events=big_x, total=big_n, mu=mu, se_mu=se, tau2=tau2,
        median=float(special.expit(mu)), marginal_mean=logit_normal_mean(mu, tau2),
        ci=(float(special.expit(mu - z * se)), float(special.expit(mu + z * se))),
        pi=(float(special.expit(mu - half_pi)), float(special.expit(mu + half_pi))),
        ci_critical=f"z={z:.3f}", pi_critical=f"z={z:.3f}, sqrt(SE^2 + tau2)", weak=False, reason=reason,
        i2=_i2(tau2, x, n),
    )
    return replace(pooled, unusable=degenerate_reason(pooled, x, n, at_bound=fit.x[1] >= _LOG_TAU_BOUNDS[1] - 1e-6,
                                                      loglik_max=-float(fit.fun)))


def pool_common_effect(events: Sequence[int], totals: Sequence[int], level: float = 0.95) -> Pooled:
    """Common-effect pooled count sum(x)/sum(n) with an exact Clopper-Pearson CI (weak benchmark).

    ``median`` = ``marginal_mean`` = sum(x)/sum(n); tau2 = 0; ``pi`` equals ``ci``. ``mu`` and
    ``se_mu`` describe the uncertainty of the pooled logit for ``predictive_tail``:
    mu = logit(X/N), SE = sqrt(1/X + 1/(N-X)), adding 1/2 to X and N-X when X = 0 or X = N.
    Raises ValueError for invalid counts. source: Clopper & Pearson 1934; §0 "Few cohorts", §3.5.
    """
    x, n = _cohorts(events, totals)
    big_x, big_n = int(x.sum()), int(n.sum())
    add = 0.5 if big_x in (0, big_n) else 0.0
    ci = clopper_pearson(big_x, big_n, level)
    return Pooled(
        method="common_effect", k=len(x), events=big_x, total=big_n,
        mu=math.log((big_x + add) / (big_n - big_x + add)),
        se_mu=math.sqrt(1 / (big_x + add) + 1 / (big_n - big_x + add)), tau2=0.0,
        median=big_x / big_n, marginal_mean=big_x / big_n, ci=ci, pi=ci,
        ci_critical="exact (Clopper-Pearson)", pi_critical="exact (Clopper-Pearson)", weak=True,
        reason=POOL_TEXTS["common_effect"],
        i2=None,
    )


def pool(events: Sequence[int], totals: Sequence[int], level: float = 0.95,
         min_cohorts: int = 3, min_events: int = 3) -> Pooled:
    """Benchmark rate: the GLMM when k >= ``min_cohorts``, sum(x) >= ``min_events`` and the fit
    converges; otherwise the common-effect pooled count, flagged weak with a plain-language reason.

    The reason names the cause: "only 2 comparable cohorts", "only 1 event across cohorts" or
    "GLMM did not converge (...)". Never raises for valid counts; raises ValueError for empty input,
    mismatched lengths, negative counts, n < 1 or x > n. source: docs/methods.md §3.5 step 1, §5.
    """
    x, n = _cohorts(events, totals)
    k, big_x = len(x), int(x.sum())
    if k < min_cohorts:
        why = POOL_TEXTS["few_cohorts_one" if k == 1 else "few_cohorts"] % {"k": k, "min": min_cohorts}
    elif big_x < min_events:
        why = POOL_TEXTS["few_events_one" if big_x == 1 else "few_events"] % {"x": big_x, "min": min_events}
    else:
        try:
            return pool_glmm(x.tolist(), n.tolist(), level)
        except GLMMFitError as exc:
            why = POOL_TEXTS["no_convergence"] % {"error": exc}
    fallback = pool_common_effect(x.tolist(), n.tolist(), level)
    reason = POOL_TEXTS["weak"] % {"why": why, "x": big_x, "n": fallback.total}
    return replace(fallback, reason=reason)


def _mixture_tails(xs: np.ndarray, n: int, pooled: Pooled, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(X >= x), P(X <= x)) for each x in ``xs``, X | theta ~ Bin(n, expit(theta)),
    theta ~ N(mu, tau2 + SE^2), by Gauss-Hermite quadrature (all weights positive)."""
    z, w = _hermgauss(nodes)
    p = special.expit(pooled.mu + math.sqrt(2 * (pooled.tau2 + pooled.se_mu**2)) * z)
    w = w / math.sqrt(math.pi)
    upper = stats.binom.sf(xs[:, None] - 1, n, p) @ w
    lower = stats.binom.cdf(xs[:, None], n, p) @ w
    return np.clip(upper, 0.0, 1.0), np.clip(lower, 0.0, 1.0)


def predictive_tail(x: int, n: int, pooled: Pooled, upper: bool = True, nodes: int = 100) -> float:
    """Predictive tail probability of a ward with x events among n patients.

    P(X >= x) (``upper``) or P(X <= x), X | theta ~ Bin(n, expit(theta)),
    theta ~ N(pooled.mu, pooled.tau2 + pooled.se_mu^2), Gauss-Hermite with ``nodes`` nodes. For a
    common-effect pooled result tau2 = 0 and mu, se_mu are the (corrected) pooled logit and its SE
    (see ``pool_common_effect``). Raises ValueError for n < 1 or x outside 0..n.
    source: Spiegelhalter 2005, Stat Med 24:1185 (overdispersed funnel limits); §3.5 step 3.
    """
    x, n = _ward(x, n)
    upper_tail, lower_tail = _mixture_tails(np.array([x]), n, pooled, nodes)
    return float(upper_tail[0] if upper else lower_tail[0])


def fixed_tail(x: int, n: int, p: float, upper: bool = True) -> float:
    """Exact binomial tail P(X >= x) (``upper``) or P(X <= x), X ~ Bin(n, p).

    Raises ValueError for n < 1, x outside 0..n or p outside [0, 1]. source: §3.5 (p_fixed).
    """
    x, n = _ward(x, n)
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float(stats.binom.sf(x - 1, n, p) if upper else stats.binom.cdf(x, n, p))


def predictive_limits(n: int, pooled: Pooled, alpha: float) -> tuple[int | None, int | None]:
    """Events needed to cross, for a ward of n patients: (high, low).

    high = smallest x with upper ``predictive_tail`` < alpha (None if no x <= n qualifies);
    low = largest x with lower ``predictive_tail`` < alpha (None if no x >= 0 qualifies).
    Raises ValueError for n < 1 or alpha outside (0, 1). source: §3.5 steps 4-5.
    """
    n = _ward(0, n)[1]
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    upper_tails, lower_tails = _mixture_tails(np.arange(n + 1), n, pooled, 100)
    high = np.flatnonzero(upper_tails < alpha)
    low = np.flatnonzero(lower_tails < alpha)
    return (int(high[0]) if high.size else None, int(low[-1]) if low.size else None)


def posterior_prob_above(x: int, n: int, p0: float, prior_n: float = 2.0) -> float:
    """P(theta_ward > p0 | x of n) under the prior Beta(m p0, m (1 - p0)), m = ``prior_n``.

    Posterior Beta(m p0 + x, m (1 - p0) + n - x); descriptive only, never a flag (§3.3, §3.5 step 6).
    Raises ValueError for invalid counts, p0 outside (0, 1) or prior_n <= 0.
    source: Geller et al. 2003 (beta-binomial monitoring prior); docs/methods.md §3.3.
    """
    x, n = _ward(x, n)
    if not 0 < p0 < 1 or prior_n <= 0:
        raise ValueError(f"need 0 < p0 < 1 and prior_n > 0, got p0={p0}, prior_n={prior_n}")
    return float(stats.beta.sf(p0, prior_n * p0 + x, prior_n * (1 - p0) + n - x))


# --------------------------------------------------------------------------- two-step logit (sensitivity)

REML_TOL = 1e-10
REML_MAX_ITER = 1000


@dataclass(frozen=True)
class TwoStep:
    """Two-step inverse-variance random-effects meta-analysis (sensitivity analysis, forest display).

    Shapes: ``yi``, ``vi``, ``weights`` and ``corrected`` have one entry per cohort (length k).
    ``mu``, ``ci``, ``ci_wald``, ``pi`` and ``tau2`` are on the analysis scale (the logit for
    ``two_step_logit``); ``median``, ``ci_prop`` and ``pi_prop`` are expit back-transforms (only
    meaningful on the logit scale). ``se_wald`` = sqrt(1 / sum w*), ``se_hk`` = the raw Hartung-Knapp
    SE = se_wald * sqrt(q), ``se`` = the ad-hoc SE used for ``ci`` and ``pi`` = se_wald * sqrt(max(1, q)).
    ``weights`` are the random-effects weights w*_i / sum w* in percent (sum 100). ``q_stat`` is
    Cochran's Q with common-effect weights 1/v_i (df k-1, p ``q_p``); ``i2`` is metafor's
    tau2-based I^2 in percent, ``h2`` = (tau2 + s^2) / s^2. ``ci_critical`` / ``pi_critical`` /
    ``ci_wald_critical`` label the critical values (§1.4, §5).
    """

    k: int
    yi: tuple[float, ...]
    vi: tuple[float, ...]
    corrected: tuple[bool, ...]
    tau2: float
    tau2_dl: float
    iterations: int
    mu: float
    se_wald: float
    se_hk: float
    hk_scale: float
    se: float
    ci: tuple[float, float]
    ci_wald: tuple[float, float]
    pi: tuple[float, float]
    ci_critical: str
    ci_wald_critical: str
    pi_critical: str
    weights: tuple[float, ...]
    q_stat: float
    q_df: int
    q_p: float
    i2: float
    h2: float
    median: float
    ci_prop: tuple[float, float]
    pi_prop: tuple[float, float]


def tau2_dl(yi: ArrayLike, vi: ArrayLike) -> float:
    """DerSimonian-Laird tau2 = max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w)), w = 1/v (§1.2)."""
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    w = 1 / v
    mu_fe = (w @ y) / w.sum()
    q = float(w @ (y - mu_fe) ** 2)
    return max(0.0, float((q - (len(y) - 1)) / (w.sum() - (w**2).sum() / w.sum())))


def tau2_reml(yi: ArrayLike, vi: ArrayLike, tol: float = REML_TOL,
              max_iter: int = REML_MAX_ITER) -> tuple[float, int]:
    """REML tau2 by Fisher scoring from the DL estimate, truncated at 0: (tau2, iterations).

    tau2_new = tau2 + (y'PPy - tr P) / tr(PP), P = W - W 1 1' W / sum w, W = diag(1/(v_i + tau2));
    stops when |tau2_new - tau2| < ``tol`` (metafor rma.uni method="REML"; §1.2, §5).
    Raises RuntimeError if it does not converge within ``max_iter`` steps.
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    tau2 = tau2_dl(y, v)
    for it in range(1, max_iter + 1):
        w = 1 / (v + tau2)
        p = np.diag(w) - np.outer(w, w) / w.sum()
        py = p @ y
        step = (py @ py - np.trace(p)) / np.sum(p * p.T)
        new = max(0.0, tau2 + step)
        if abs(new - tau2) < tol:
            return new, it
        tau2 = new
    raise RuntimeError(f"REML Fisher scoring did not converge in {max_iter} iterations")


def random_effects_hk(yi: ArrayLike, vi: ArrayLike, level: float = 0.95,
                      corrected: ArrayLike | None = None) -> TwoStep:
    """Random-effects pooling of effect sizes ``yi`` (sampling variances ``vi``), both length k >= 2.

    tau2: REML (``tau2_reml``). CI: Hartung-Knapp with the ad-hoc fix, mu +/- t_{k-1} SE_adhoc,
    SE_adhoc = SE_Wald sqrt(max(1, q)), q = sum w* (y - mu)^2 / (k-1) (metafor test="adhoc", meta
    adhoc.hakn.ci="se"; Roever, Knapp & Friede 2015). Also the Wald CI mu +/- z SE_Wald (metafor
    default test="z"). PI: mu +/- t_{k-1} sqrt(SE_adhoc^2 + tau2) (metafor's PI uses the test's
    critical value and SE; §1.4). Raises ValueError for k < 2, mismatched lengths or v <= 0.
    source: docs/methods.md §1.2-1.4.
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if y.shape != v.shape or y.ndim != 1:
        raise ValueError(f"yi and vi must be 1-d of equal length, got {y.shape} and {v.shape}")
    k = len(y)
    if k < 2:
        raise ValueError("a random-effects meta-analysis needs at least 2 cohorts")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise ValueError("yi must be finite and vi finite and > 0")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    tau2, iterations = tau2_reml(y, v)
    w = 1 / (v + tau2)
    mu = float(w @ y / w.sum())
    se_wald = math.sqrt(1 / w.sum())
    hk_scale = float(w @ (y - mu) ** 2 / (k - 1))
    se_hk = se_wald * math.sqrt(hk_scale)
    se = se_wald * math.sqrt(max(1.0, hk_scale))
    z = float(stats.norm.ppf((1 + level) / 2))
    t = float(stats.t.ppf((1 + level) / 2, k - 1))
    half_pi = t * math.sqrt(se**2 + tau2)
    w_fe = 1 / v
    q_stat = float(w_fe @ (y - w_fe @ y / w_fe.sum()) ** 2)
    s2 = (k - 1) * w_fe.sum() / (w_fe.sum() ** 2 - (w_fe**2).sum())
    ci = (mu - t * se, mu + t * se)
    pi = (mu - half_pi, mu + half_pi)
    return TwoStep(
        k=k, yi=tuple(y.tolist()), vi=tuple(v.tolist()),
        corrected=tuple(bool(c) for c in np.asarray(corrected).tolist()) if corrected is not None else (False,) * k,
        tau2=tau2, tau2_dl=tau2_dl(y, v), iterations=iterations, mu=mu, se_wald=se_wald, se_hk=se_hk,
        hk_scale=hk_scale, se=se, ci=ci, ci_wald=(mu - z * se_wald, mu + z * se_wald), pi=pi,
        ci_critical=f"t(k-1)={t:.3f}, Hartung-Knapp ad hoc (max(1,q))", ci_wald_critical=f"z={z:.3f}",
        pi_critical=f"t(k-1)={t:.3f}, sqrt(SE_adhoc^2 + tau2)",
        weights=tuple((100 * w / w.sum()).tolist()), q_stat=q_stat, q_df=k - 1,
        q_p=float(stats.chi2.sf(q_stat, k - 1)), i2=100 * tau2 / (tau2 + s2), h2=(tau2 + s2) / s2,
        median=float(special.expit(mu)),
        ci_prop=(float(special.expit(ci[0])), float(special.expit(ci[1]))),
        pi_prop=(float(special.expit(pi[0])), float(special.expit(pi[1]))),
    )


def logit_effect_sizes(events: Sequence[int], totals: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PLO effect sizes (yi, vi, corrected), each of length k: yi = log(x/(n-x)), vi = 1/x + 1/(n-x),
    adding 1/2 to x and n-x only in cohorts with x = 0 or x = n (metafor escalc add=1/2, to="only0"; §1.1)."""
    x, n = _cohorts(events, totals)
    corrected = (x == 0) | (x == n)
    add = np.where(corrected, 0.5, 0.0)
    a, b = x + add, n - x + add
    return np.log(a / b), 1 / a + 1 / b, corrected


def two_step_logit(events: Sequence[int], totals: Sequence[int], level: float = 0.95) -> TwoStep:
    """Two-step logit (PLO) random-effects pooling of k >= 2 cohorts: a sensitivity analysis with
    per-cohort weights for a forest plot, not the headline benchmark (§1.7 item 3).

    Effect sizes: ``logit_effect_sizes`` (0.5 correction only for 0 or all-event cohorts). Pooling:
    ``random_effects_hk`` (REML tau2 by Fisher scoring from DL, tol 1e-10, truncated at 0;
    Hartung-Knapp ad-hoc CI with t_{k-1}; t_{k-1} PI; Q; metafor's I^2). ``median`` = expit(mu).
    Raises ValueError for invalid counts or k < 2. source: docs/methods.md §1.1-1.4, §1.8; metafor rma.uni.
    """
    yi, vi, corrected = logit_effect_sizes(events, totals)
    return random_effects_hk(yi, vi, level, corrected)


# --------------------------------------------------------------------------- case mix (indirect standardisation)

@dataclass(frozen=True)
class CaseMix:
    """Observed versus expected events of a ward standardised by strata (docs/methods.md §3.2).

    ``observed`` O (events), ``expected`` E = sum n_s p_s (events), ``sir`` = O/E (None when E = 0),
    ``ci`` = exact Poisson (Garwood) 95% CI of O divided by E, ``p_upper`` = exact Poisson-binomial
    P(O' >= O) with O' = sum over strata of Bin(n_s, p_s), ``p_poisson`` = the Poisson(E)
    approximation of the same tail (shown for comparison only), ``ci_critical`` labels the interval.
    """

    observed: int
    expected: float
    sir: float | None
    ci: tuple[float, float] | None
    p_upper: float
    p_poisson: float
    ci_critical: str


def garwood_ci(observed: int, level: float = 0.95) -> tuple[float, float]:
    """Exact Poisson CI for a count O: [chi2_{a/2}(2O)/2, chi2_{1-a/2}(2O+2)/2] (lower 0 when O = 0).

    Raises ValueError for a negative or non-integer count. source: Garwood 1936, Biometrika 28:437;
    docs/methods.md §3.2.
    """
    o = _count(observed, "observed")
    a = 1 - level
    lower = 0.0 if o == 0 else float(stats.chi2.ppf(a / 2, 2 * o) / 2)
    return lower, float(stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2)


def poisson_binomial_pmf(totals: Sequence[int], rates: Sequence[float]) -> np.ndarray:
    """Distribution of O' = sum_s Bin(n_s, p_s) (independent strata), as an array of length sum n_s + 1.

    Exact: convolution of the stratum binomial pmfs. Raises ValueError for mismatched lengths,
    negative sizes or rates outside [0, 1].
    """
    if len(totals) != len(rates):
        raise ValueError("totals and rates must have the same length")
    dist = np.array([1.0])
    for n, p in zip(totals, rates, strict=True):
        n = _count(n, "stratum size")
        if not 0 <= p <= 1:
            raise ValueError(f"stratum rate must be in [0, 1], got {p}")
        dist = np.convolve(dist, stats.binom.pmf(np.arange(n + 1), n, p))
    return dist


def case_mix(observed: int, totals: Sequence[int], rates: Sequence[float], level: float = 0.95) -> CaseMix:
    """O/E of a ward whose patients fall in strata of sizes ``totals`` with benchmark rates ``rates``.

    E = sum n_s p_s; SIR = O/E with the Garwood CI / E; p_upper = exact Poisson-binomial P(O' >= O).
    Raises ValueError when O exceeds sum n_s or for invalid strata. source: docs/methods.md §3.2.
    """
    o = _count(observed, "observed")
    dist = poisson_binomial_pmf(totals, rates)
    if o > len(dist) - 1:
        raise ValueError(f"observed {o} exceeds the {len(dist) - 1} patients in the strata")
    expected = float(sum(n * p for n, p in zip(totals, rates, strict=True)))
    lo, hi = garwood_ci(o, level)
    return CaseMix(observed=o, expected=expected, sir=o / expected if expected > 0 else None,
                   ci=(lo / expected, hi / expected) if expected > 0 else None,
                   p_upper=float(min(1.0, dist[o:].sum())), p_poisson=float(stats.poisson.sf(o - 1, expected)),
                   ci_critical=f"exact Poisson (Garwood) {level:.0%}")


def predictive_limit_curve(ns: Sequence[int], pooled: Pooled, alphas: Sequence[float],
                           nodes: int = 100) -> dict[float, list[tuple[int | None, int | None]]]:
    """For each alpha, [(high, low) for n in ``ns``] as ``predictive_limits`` gives them (funnel plot limits).

    One quadrature per n serves every alpha. Raises ValueError for n < 1 or alpha outside (0, 1).
    """
    if any(not 0 < a < 1 for a in alphas):
        raise ValueError(f"alphas must be in (0, 1), got {alphas}")
    out: dict[float, list[tuple[int | None, int | None]]] = {a: [] for a in alphas}
    for n in ns:
        n = _ward(0, n)[1]
        upper_tails, lower_tails = _mixture_tails(np.arange(n + 1), n, pooled, nodes)
        for a in alphas:
            high, low = np.flatnonzero(upper_tails < a), np.flatnonzero(lower_tails < a)
            out[a].append((int(high[0]) if high.size else None, int(low[-1]) if low.size else None))
    return out


def pooled_from_dict(data: dict[str, Any]) -> Pooled:
    """Rebuild a ``Pooled`` from its stored JSON form (the ``pooled`` entry of a benchmark cell)."""
    return Pooled(method=data["method"], k=data["k"], events=data["events"], total=data["total"], mu=data["mu"],
                  se_mu=data["se_mu"], tau2=data["tau2"], median=data["median"],
                  marginal_mean=data["marginal_mean"], ci=tuple(data["ci"]), pi=tuple(data["pi"]),
                  ci_critical=data["ci_critical"], pi_critical=data["pi_critical"], weak=data["weak"],
                  reason=data["reason"], i2=data["i2"], unusable=data.get("unusable", ""))
