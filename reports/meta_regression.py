"""Binomial–normal GLMM meta-regression on cohort-level moderators (issue 17 item 1; docs/methods.md §4.2).

Pure numpy/scipy (no Django). Model: x_i ~ Bin(n_i, p_i), logit p_i = z_i'beta + u_i, u_i ~ N(0, tau2_res), z_i the
cohort's moderators with an intercept; maximum likelihood with the adaptive Gauss–Hermite quadrature of
:func:`reports.stats._loglik` (Stijnen, Hamza & Ozdemir 2010, Stat Med 29:3046, §4: covariates in the binomial–normal
model; metafor ``rma.glmm(mods=...)``). A ward's expected rate is the model at the ward's own moderators, and its
predictive distribution theta ~ N(z0'beta, z0'V z0 + tau2_res) is returned as a :class:`reports.stats.Pooled`, so the
tails, limits and flags of :mod:`reports.stats` apply unchanged.

Moderator choice (``choose``): candidates in a fixed order, each entering only if at least ``MIN_REPORTING`` cohorts
report it, it varies between them, k >= p + ``MIN_DF`` cohorts remain, at most one moderator below ``K_FULL`` cohorts
(Thompson & Higgins 2002, Stat Med 21:1559: about ten studies per covariate), and the likelihood-ratio statistic is at
least ``LR_MIN`` (chi2_1 at 5 %). Below ``K_FULL`` cohorts the result is labelled exploratory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, special, stats

from reports.stats import _LOG_TAU_BOUNDS, GLMMFitError, Pooled, degenerate_reason, logit_normal_mean
from reports.stats import _loglik as _loglik_agq

MIN_REPORTING = 4  # cohorts that must report a moderator before it may enter
MIN_DF = 3  # cohorts left over the number of fixed effects
K_FULL = 10  # below this, one moderator at most and the label "exploratory"
LR_MIN = float(stats.chi2.ppf(0.95, 1))  # 3.84


@dataclass(frozen=True)
class Fit:
    """An ML fit: ``beta`` (intercept first), its covariance ``cov`` (p x p), ``tau2`` (residual), ``loglik``."""

    names: tuple[str, ...]
    beta: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    tau2: float
    loglik: float
    k: int


def loglik(beta: np.ndarray, tau: float, z: np.ndarray, x: np.ndarray, n: np.ndarray) -> float:
    """Marginal log-likelihood at fixed effects ``beta`` (length p), tau, design ``z`` (k x p), counts x of n."""
    return _loglik_agq(z @ beta, tau, x, n)


def _start(z: np.ndarray, x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Weighted least squares on the 1/2-corrected empirical logits: a start for the optimiser only."""
    y = np.log((x + 0.5) / (n - x + 0.5))
    w = 1 / (1 / (x + 0.5) + 1 / (n - x + 0.5))
    sw = np.sqrt(w)
    start: np.ndarray = np.linalg.lstsq(z * sw[:, None], y * sw, rcond=None)[0]
    return start


def _hessian(f: Callable[[np.ndarray], float], v: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of f at v with steps h."""
    p = len(v)
    out = np.empty((p, p))
    for i in range(p):
        for j in range(i, p):
            ei, ej = np.zeros(p), np.zeros(p)
            ei[i], ej[j] = h[i], h[j]
            val = (f(v + ei + ej) - f(v + ei - ej) - f(v - ei + ej) + f(v - ei - ej)) / (4 * h[i] * h[j])
            out[i, j] = out[j, i] = val
    return out


def fit(events: Sequence[int], totals: Sequence[int], moderators: Sequence[Sequence[float]] = (),
        names: Sequence[str] = ()) -> Fit:
    """ML fit of the meta-regression; ``moderators`` is k rows of p-1 values (no intercept), ``names`` their names.

    Raises GLMMFitError if the optimiser fails or the information matrix is not positive definite, ValueError for
    mismatched shapes. tau2 = 0 (common-effect logistic regression) when the random effect does not improve the fit.
    """
    x, n = np.asarray(events, dtype=np.int64), np.asarray(totals, dtype=np.int64)
    k = len(x)
    z = np.column_stack([np.ones(k), np.asarray(moderators, dtype=float).reshape(k, -1)]) if len(moderators) \
        else np.ones((k, 1))
    p = z.shape[1]
    if len(n) != k or len(names) != p - 1:
        raise ValueError("events, totals, moderators and names must agree in length")
    b0 = _start(z, x, n)

    def neg(v: np.ndarray) -> float:
        return -loglik(v[:p], math.exp(v[p]), z, x, n)

    res = optimize.minimize(neg, np.append(b0, math.log(0.5)), method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 8000, "maxfev": 16000})
    if not (res.success and np.all(np.isfinite(res.x))):
        raise GLMMFitError(f"the optimiser stopped: {res.message}")
    log_tau = float(min(res.x[p], _LOG_TAU_BOUNDS[1]))
    # common-effect logistic regression (tau = 0), by Newton: the boundary the GLMM may reach
    beta_ce = b0.copy()
    for _ in range(100):
        mu = special.expit(z @ beta_ce)
        grad = z.T @ (x - n * mu)
        info = (z * (n * mu * (1 - mu))[:, None]).T @ z
        step = np.linalg.solve(info, grad)
        beta_ce = beta_ce + step
        if np.max(np.abs(step)) < 1e-12:
            break
    eta_ce = z @ beta_ce
    ll_ce = float(np.sum(stats.binom.logpmf(x, n, special.expit(eta_ce))))
    if -res.fun <= ll_ce + 1e-8 or log_tau < _LOG_TAU_BOUNDS[0] + 1e-6:
        mu = special.expit(eta_ce)
        cov = np.linalg.inv((z * (n * mu * (1 - mu))[:, None]).T @ z)
        return Fit(tuple(names), tuple(beta_ce.tolist()), tuple(map(tuple, cov.tolist())), 0.0, ll_ce, k)
    beta, tau2 = res.x[:p], math.exp(2 * log_tau)

    def neg_t2(v: np.ndarray) -> float:
        return -loglik(v[:p], math.sqrt(v[p]), z, x, n)

    hess = _hessian(neg_t2, np.append(beta, tau2), np.append(np.full(p, 1e-4), min(1e-4, tau2 / 2)))
    try:
        cov_all = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        raise GLMMFitError("the information matrix is singular") from None
    cov = cov_all[:p, :p]
    if not np.all(np.linalg.eigvalsh(cov) > 0):
        raise GLMMFitError("the information matrix is not positive definite")
    return Fit(tuple(names), tuple(beta.tolist()), tuple(map(tuple, cov.tolist())), tau2, -float(res.fun), k)


@dataclass(frozen=True)
class Regression:
    """The chosen model of one cell and what it predicts for a ward.

    ``tau2_before`` / ``tau2_after``: between-cohort variance without and with the moderators (logit scale);
    ``chosen``: moderator names kept; ``considered``: {name: why it was or was not used}; ``exploratory``: k below
    ``K_FULL``; ``pooled``: the predictive benchmark at the ward's moderators (None when no moderator was kept or the
    ward's value is unknown); ``lr``: likelihood-ratio statistic of the kept model against intercept-only.
    """

    k: int
    tau2_before: float
    tau2_after: float
    chosen: tuple[str, ...]
    considered: dict[str, str]
    exploratory: bool
    lr: float | None
    fit: Fit | None
    pooled: Pooled | None
    rows: tuple[int, ...] = ()  # the cohorts (indices) the kept model was fitted on


def predict(model: Fit, z0: Sequence[float], events: int, total: int, level: float = 0.95) -> Pooled:
    """The predictive benchmark at moderators ``z0`` (without intercept) as a ``Pooled``: mu = z0'beta,
    se_mu = sqrt(z0'V z0), tau2 = residual tau2; ``marginal_mean`` the integral back-transformation; PI with normal
    quantiles (one predictive distribution, docs/methods.md §4.3)."""
    zz = np.append(1.0, np.asarray(z0, dtype=float))
    beta, cov = np.asarray(model.beta), np.asarray(model.cov)
    mu, se = float(zz @ beta), math.sqrt(float(zz @ cov @ zz))
    zc = float(stats.norm.ppf((1 + level) / 2))
    half = zc * math.sqrt(se**2 + model.tau2)
    terms = ", ".join(f"{name} = {v:.2f}" for name, v in zip(model.names, z0, strict=True))
    return Pooled(method="glmm_ml_metareg", k=model.k, events=events, total=total, mu=mu, se_mu=se, tau2=model.tau2,
                  median=float(special.expit(mu)), marginal_mean=logit_normal_mean(mu, model.tau2),
                  ci=(float(special.expit(mu - zc * se)), float(special.expit(mu + zc * se))),
                  pi=(float(special.expit(mu - half)), float(special.expit(mu + half))),
                  ci_critical=f"z={zc:.3f}", pi_critical=f"z={zc:.3f}, sqrt(SE^2 + tau2_res)", weak=False,
                  reason=(f"Random-effects GLMM meta-regression over {model.k} cohorts on {', '.join(model.names)}, "
                          f"at the ward's {terms}."), i2=None)


def select(events: Sequence[int], totals: Sequence[int], candidates: Mapping[str, Sequence[float | None]],
           known: Sequence[str]) -> Regression:
    """Pick moderators by the rule of the module docstring (without predicting: ``pooled`` is None).

    ``candidates``: {name: one value per cohort, None where the cohort does not report it}, in priority order;
    ``known``: the candidates whose value the ward knows (the others cannot be used). Cohorts missing a chosen
    moderator are left out of the regression. Depends on the ward only through ``known``, so it is fitted once per
    cohort set (``reports.stat_cache``). Raises GLMMFitError when the intercept-only model cannot be fitted.
    """
    x, n = list(events), list(totals)
    k = len(x)
    base = fit(x, n)
    considered: dict[str, str] = {}
    chosen: list[str] = []
    best: Fit | None = None
    best_lr: float | None = None
    rows = list(range(k))
    for name, values in candidates.items():
        have = [i for i in rows if values[i] is not None]
        distinct = {values[i] for i in have}
        if name not in known:
            considered[name] = "the ward's value is not known"
        elif len(have) < MIN_REPORTING:
            considered[name] = f"reported by {len(have)} cohorts (needs {MIN_REPORTING})"
        elif len(distinct) < 2:
            considered[name] = "the same in every cohort that reports it"
        elif len(have) < len(chosen) + 2 + MIN_DF:
            considered[name] = f"too few cohorts ({len(have)}) for {len(chosen) + 1} moderators"
        elif chosen and len(have) < K_FULL:
            considered[name] = f"one moderator at most with fewer than {K_FULL} cohorts"
        else:
            names = [*chosen, name]
            mods = [[float(candidates[m][i]) for m in names] for i in have]  # type: ignore[arg-type]
            try:
                trial = fit([x[i] for i in have], [n[i] for i in have], mods, names)
                if best is not None and len(have) == len(rows):
                    null = best
                else:
                    null = base if len(have) == k else fit([x[i] for i in have], [n[i] for i in have])
            except GLMMFitError as exc:
                considered[name] = f"the fit failed ({exc})"
                continue
            lr = 2 * (trial.loglik - null.loglik)
            if lr < LR_MIN:
                considered[name] = f"does not explain enough (likelihood ratio {lr:.2f} < {LR_MIN:.2f})"
                continue
            considered[name] = f"used (likelihood ratio {lr:.2f}, {len(have)} cohorts report it)"
            chosen, best, best_lr, rows = names, trial, lr, have
    return Regression(k=k, tau2_before=base.tau2, tau2_after=best.tau2 if best else base.tau2, chosen=tuple(chosen),
                      considered=considered, exploratory=k < K_FULL, lr=best_lr, fit=best, pooled=None,
                      rows=tuple(rows))


def at_ward(reg: Regression, events: Sequence[int], totals: Sequence[int], ward: dict[str, float | None],
            level: float = 0.95) -> Regression:
    """``reg`` with ``pooled`` = the predictive benchmark at the ward's moderators (unchanged when none was kept),
    labelled "no usable benchmark" by rules 1 and 3 of docs/methods.md §4.1 when it still cannot fire."""
    if reg.fit is None:
        return reg
    z0 = [float(ward[m]) for m in reg.chosen]  # type: ignore[arg-type]
    used_x, used_n = [events[i] for i in reg.rows], [totals[i] for i in reg.rows]
    pooled = predict(reg.fit, z0, sum(used_x), sum(used_n), level)
    unusable = degenerate_reason(pooled, np.asarray(used_x), np.asarray(used_n), check_flat=False)
    return replace(reg, pooled=replace(pooled, unusable=unusable))


def choose(events: Sequence[int], totals: Sequence[int], candidates: Mapping[str, Sequence[float | None]],
           ward: dict[str, float | None], level: float = 0.95) -> Regression:
    """``select`` with the moderators the ward knows, then ``at_ward``: the whole of item 1 for one cell."""
    reg = select(events, totals, candidates, [m for m in candidates if ward.get(m) is not None])
    return at_ward(reg, events, totals, ward, level)
