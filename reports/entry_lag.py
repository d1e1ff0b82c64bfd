"""Entry lag as a key risk indicator: days from an adverse event's onset to its recording in pvtrack.

Pure Python (no Django). Late entry is how under-reporting starts: a ward that records events weeks after onset
misses some and grades others from memory. The indicator is per ward over its recorded events.

Threshold rule (docs/network-and-trends.md, "Entry lag"): with at least ``MIN_EVENTS`` events, the ward is flagged
"LATE ENTRY" when the median lag exceeds ``MEDIAN_DAYS`` (7) or the 90th percentile exceeds ``P90_DAYS`` (15).
Sources: ICH E2A (1994) §III.A.1 — expedited reports within 7 calendar days (fatal/life-threatening) and 15
calendar days (other serious) of first knowledge; ICH E6(R2) §4.11.1 — serious AEs reported to the sponsor
immediately. A ward whose median entry takes longer than the shortest expedited clock, or whose slowest tenth
takes longer than the longest, cannot meet those clocks from its own records. These are our choice of thresholds
anchored on those clocks, not numbers a guideline sets for AE entry; settings may change them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.i18n_marker import gettext_noop

MIN_EVENTS = 5
MEDIAN_DAYS = 7
P90_DAYS = 15
#: The messages, stored in English (the report translates them, ``reports.computed_text``).
ENTRY_LAG_TEXTS = {
    "none": gettext_noop("no adverse event recorded"),
    "few": gettext_noop("%(n)s events: too few to judge (a flag needs %(min_events)s)"),
    "median": gettext_noop("median %(median)s days > %(limit)s"),
    "p90": gettext_noop("90th percentile %(p90)s days > %(limit)s"),
    "late": gettext_noop("adverse events are entered late: %(reasons)s"),
    "on_time": gettext_noop("entered on time (median %(median)s days, 90th percentile %(p90)s days)"),
}


@dataclass(frozen=True)
class EntryLag:
    """Lags (days) of ``n`` events: median, 90th percentile, the share entered after ``MEDIAN_DAYS``, the flag
    ("LATE ENTRY" or None) and a sentence saying why (or why not flagged)."""

    n: int
    median: float | None
    p90: float | None
    late_share: float | None
    flag: str | None
    message: str


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between order statistics (numpy's default, type 7)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def entry_lag(lags: Sequence[int], min_events: int = MIN_EVENTS, median_days: float = MEDIAN_DAYS,
              p90_days: float = P90_DAYS) -> EntryLag:
    """Summarise and flag a ward's entry lags (whole days, recorded date minus onset date). A negative lag (an event
    recorded before its onset: a typing error or a planned entry) raises ValueError."""
    if any(lag < 0 for lag in lags):
        raise ValueError("an entry lag cannot be negative (recorded before onset)")
    if not lags:
        return EntryLag(0, None, None, None, None, ENTRY_LAG_TEXTS["none"])
    median, p90 = percentile(lags, 50), percentile(lags, 90)
    late = sum(1 for lag in lags if lag > median_days) / len(lags)
    if len(lags) < min_events:
        return EntryLag(len(lags), median, p90, late, None,
                        ENTRY_LAG_TEXTS["few"] % {"n": len(lags), "min_events": min_events})
    reasons = []
    if median > median_days:
        reasons.append(ENTRY_LAG_TEXTS["median"] % {"median": f"{median:g}", "limit": f"{median_days:g}"})
    if p90 > p90_days:
        reasons.append(ENTRY_LAG_TEXTS["p90"] % {"p90": f"{p90:g}", "limit": f"{p90_days:g}"})
    if reasons:
        return EntryLag(len(lags), median, p90, late, "LATE ENTRY",
                        ENTRY_LAG_TEXTS["late"] % {"reasons": "; ".join(reasons)})
    return EntryLag(len(lags), median, p90, late, None,
                    ENTRY_LAG_TEXTS["on_time"] % {"median": f"{median:g}", "p90": f"{p90:g}"})
