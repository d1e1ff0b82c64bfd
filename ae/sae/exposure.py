"""The suspect drug's exposure as regulators describe it (ICH E2B(R3) G.k.4.r dosage periods), from a cycle's
dosing steps and infusion interruptions: pure Python, no Django.

A cycle's continuous infusion is cut into periods of one daily dose: each dosing step runs from its start (its
recorded start time, else its cycle day at 00:00 site time) to the next step's start or the cycle's end date, and
each interruption ends the running period at the stop and begins a new one at the restart (none when the infusion
was not restarted). Blinatumomab is given as a continuous intravenous infusion (BLINCYTO SmPC §4.2, USPI §2).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ae.sae.snapshot import DosePeriod

ROUTE = "Continuous intravenous infusion"
UNITS = {"ug_m2_day": "ug/m2/d", "ug_day": "ug/d"}  # pvtrack DoseUnit -> UCUM-style unit of G.k.4.r.1b


@dataclass(frozen=True)
class Step:
    """One dose level: from cycle day ``from_day`` (1 = cycle start), started at ``started_at`` if known."""

    from_day: int
    dose: Decimal
    unit: str  # "ug_m2_day" | "ug_day"
    started_at: datetime.datetime | None = None
    batch: str = ""


@dataclass(frozen=True)
class Interruption:
    stopped_at: datetime.datetime
    restarted_at: datetime.datetime | None


@dataclass(frozen=True)
class _Point:
    at: datetime.datetime
    date_only: bool

    def text(self, zone: zoneinfo.ZoneInfo) -> str:
        local = self.at.astimezone(zone)
        return local.date().isoformat() if self.date_only else local.isoformat(timespec="minutes")


def dose_periods(*, cycle_number: int, cycle_start: datetime.date, cycle_end: datetime.date | None,
                 steps: Sequence[Step], interruptions: Sequence[Interruption], time_zone: str) -> list[DosePeriod]:
    """The dosage periods of one cycle, in time order (see module docstring). ``ValueError`` for an unknown unit.

    Start/stop are ISO strings in ``time_zone``: a datetime (minutes) where a time is recorded, a date where only
    the cycle day or end date is known; ``stop`` None while the infusion runs (no end date, no later step).
    """
    zone = zoneinfo.ZoneInfo(time_zone)

    def day_start(day: datetime.date) -> _Point:
        return _Point(datetime.datetime.combine(day, datetime.time(), tzinfo=zone), True)

    ordered = sorted(steps, key=lambda s: s.from_day)
    starts = [_Point(s.started_at, False) if s.started_at is not None
              else day_start(cycle_start + datetime.timedelta(days=s.from_day - 1)) for s in ordered]
    end = (_Point(datetime.datetime.combine(cycle_end + datetime.timedelta(days=1), datetime.time(), tzinfo=zone),
                  True) if cycle_end is not None else None)
    cuts = sorted(interruptions, key=lambda i: i.stopped_at)
    periods: list[DosePeriod] = []
    for index, step in enumerate(ordered):
        if step.unit not in UNITS:
            raise ValueError(f"unknown dose unit {step.unit!r}")
        start: _Point | None = starts[index]
        stop = starts[index + 1] if index + 1 < len(ordered) else end
        segments: list[tuple[_Point, _Point | None]] = []
        for cut in cuts:
            if start is None:
                break
            if cut.stopped_at <= start.at or (stop is not None and cut.stopped_at >= stop.at):
                continue
            segments.append((start, _Point(cut.stopped_at, False)))
            start = _Point(cut.restarted_at, False) if cut.restarted_at is not None else None
            if start is not None and stop is not None and start.at >= stop.at:
                start = None
        if start is not None:
            segments.append((start, stop))
        for seg_start, seg_stop in segments:
            periods.append(DosePeriod(
                cycle=cycle_number, dose_value=float(step.dose), dose_unit=UNITS[step.unit], route=ROUTE,
                start=seg_start.text(zone),
                # a date-only stop is the end of the cycle's last day: shown as that day
                stop=None if seg_stop is None else (
                    (seg_stop.at.astimezone(zone).date() - datetime.timedelta(days=1)).isoformat()
                    if seg_stop is end else seg_stop.text(zone)),
                batch=step.batch))
    return periods
