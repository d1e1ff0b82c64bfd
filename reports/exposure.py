"""Exposure-adjusted adverse-event rates: events per patient-cycle and per 100 patient-days of infusion.

Pure Python/scipy (no Django). A per-patient incidence (x of n patients) ignores how long each was exposed; a ward
giving 28-day cycles to some and 14-day short courses to others (Xie et al., Front Pediatr 2023) is compared fairly
only per unit of exposure. Rates are events (not patients) over exposure, with exact Poisson (Garwood 1936,
Biometrika 28:437) 95 % intervals — the exposure-adjusted incidence rate of ICH E9 practice and FDA reviews
(EAIR per 100 patient-years; here per 100 patient-days, the scale of a 14–28-day infusion). Source of the infusion
days: the cycle dates, its schedule and the recorded interruptions (docs/treatment-data.md).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from scipy import stats

#: Nominal infusion days of a schedule (BLINCYTO SmPC §4.2: 28 days continuous; Xie 2023: 14-day short course).
SCHEDULE_DAYS = {"standard_28d": 28, "short_14d": 14}


def infusion_days(start: datetime.date, end: datetime.date | None, schedule: str, today: datetime.date,
                  interrupted_hours: float = 0.0) -> float:
    """Days of infusion of one cycle: start to end inclusive (an ongoing cycle: to the nominal last day of its
    schedule or ``today``, whichever is earlier), less the recorded interruptions (hours / 24), at least 0.
    Raises ValueError for an end before the start or negative interruptions."""
    if end is not None and end < start:
        raise ValueError(f"cycle end {end} is before its start {start}")
    if interrupted_hours < 0:
        raise ValueError("interruptions cannot last a negative time")
    if end is None:
        nominal = start + datetime.timedelta(days=SCHEDULE_DAYS.get(schedule, 28) - 1)
        end = min(nominal, today)
    if end < start:
        return 0.0
    return max(0.0, (end - start).days + 1 - interrupted_hours / 24)


def poisson_ci(events: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a rate ``events`` / ``exposure``."""
    alpha = 1 - level
    low = 0.0 if events == 0 else float(stats.chi2.ppf(alpha / 2, 2 * events)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * events + 2)) / 2
    return low / exposure, high / exposure


@dataclass(frozen=True)
class ExposureRates:
    """``events`` over ``cycles`` patient-cycles and ``days`` patient-days of infusion: rate per cycle and per 100
    patient-days, each with its exact 95 % interval (None when there is no exposure)."""

    events: int
    cycles: int
    days: float
    per_cycle: float | None
    per_cycle_ci: tuple[float, float] | None
    per_100_days: float | None
    per_100_days_ci: tuple[float, float] | None


def exposure_rates(events: int, cycles: int, days: float) -> ExposureRates:
    """Rates of ``events`` per patient-cycle and per 100 patient-days. Raises ValueError for negative inputs."""
    if events < 0 or cycles < 0 or days < 0:
        raise ValueError("events, cycles and days cannot be negative")
    per_cycle = events / cycles if cycles else None
    per_cycle_ci = poisson_ci(events, cycles) if cycles else None
    per_days = 100 * events / days if days else None
    per_days_ci = tuple(100 * v for v in poisson_ci(events, days)) if days else None
    return ExposureRates(events, cycles, days, per_cycle, per_cycle_ci, per_days,
                         (per_days_ci[0], per_days_ci[1]) if per_days_ci else None)
