"""Reporting clocks of a serious adverse event case: pure functions of the awareness time and the site's time zone.

Sources (docs/sae-cases.md, "Clocks", gives the quotes and the readings chosen):

* **Sponsor**: the investigator reports every SAE to the sponsor "immediately" (ICH E6(R2) 4.11.1); protocols fix
  this at 24 hours from awareness (EU Regulation 536/2014 Art. 41(2): "without undue delay but not later than
  24 hours"). An hour clock: elapsed time, so across a DST change it is still 24 real hours
  (:func:`sponsor_due`). The hours are the site's (``Site.sae_sponsor_hours``).
* **Authority, SUSAR** (serious + related + unexpected): fatal or life-threatening — within 7 days of first
  knowledge, the complete report ("relevant follow-up information") within 8 more days; other SUSARs within
  15 days (ICH E2A III.A.1–2; EU Regulation 536/2014 Art. 42(2); EU CT-3 guidance (2011/C 172/01) §7.2.3, day 0 =
  the day of first knowledge). Day clocks are calendar days in the site's time zone: the deadline is the same
  wall-clock time N days later (:func:`calendar_days_later`), so a 7-day clock across a DST change lasts 167 or
  169 real hours.
* **Follow-up**: new information on a submitted case goes to the sponsor within the same hours as the initial
  report (ICH E6(R2) 4.11.1 "followed promptly by detailed, written reports").

No Django here: datetimes in, datetimes out (aware; ``ValueError`` on a naive one).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ClockName = Literal["sponsor", "authority_initial", "authority_complete", "authority", "follow_up"]

SUSAR_FATAL_DAYS = 7  # ICH E2A III.A.1; Reg. 536/2014 Art. 42(2)(a)
SUSAR_COMPLETE_MORE_DAYS = 8  # ICH E2A III.A.1 "within 8 additional calendar days"; EU CT-3 §7.2.3.1
SUSAR_OTHER_DAYS = 15  # ICH E2A III.A.2; Reg. 536/2014 Art. 42(2)(b)
DEFAULT_SPONSOR_HOURS = 24  # Reg. 536/2014 Art. 41(2)

LABELS: dict[str, str] = {
    "sponsor": "Report to the sponsor",
    "authority_initial": "SUSAR to the authority (fatal or life-threatening: 7 days)",
    "authority_complete": "SUSAR complete report to the authority (8 more days)",
    "authority": "SUSAR to the authority (15 days)",
    "follow_up": "Follow-up report to the sponsor",
}


@dataclass(frozen=True)
class Submission:
    """One signed submission of the case: when, and whether the version was a SUSAR."""

    at: datetime.datetime
    susar: bool


@dataclass(frozen=True)
class Clock:
    """One deadline of a case; ``met_at`` is the submission that met it (None: still running)."""

    name: ClockName
    due_at: datetime.datetime
    met_at: datetime.datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def overdue(self, now: datetime.datetime) -> bool:
        """Not met and past its deadline (a submission exactly at the deadline is in time)."""
        return self.met_at is None and _utc(now) > _utc(self.due_at)

    def late(self) -> bool:
        """Met, but after the deadline."""
        return self.met_at is not None and _utc(self.met_at) > _utc(self.due_at)


def _utc(value: datetime.datetime) -> datetime.datetime:
    """Comparisons in UTC: datetimes sharing a ZoneInfo compare by wall time, wrong in the repeated DST hour."""
    return _aware(value).astimezone(datetime.UTC)


def _aware(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone: clocks need aware datetimes")
    return value


def sponsor_due(awareness_at: datetime.datetime, *, hours: int = DEFAULT_SPONSOR_HOURS) -> datetime.datetime:
    """Deadline of the report to the sponsor: ``hours`` elapsed hours after awareness (aware datetime in, same
    zone out). ``ValueError`` for a naive datetime or hours outside 1–72."""
    if not 1 <= hours <= 72:
        raise ValueError(f"sponsor window {hours} h is outside 1–72 h")
    # Arithmetic in UTC: adding to a datetime in a ZoneInfo zone adds wall-clock time (23 or 25 real hours
    # across a DST change), not elapsed time.
    return (_aware(awareness_at).astimezone(datetime.UTC) + datetime.timedelta(hours=hours)).astimezone(
        awareness_at.tzinfo)


def calendar_days_later(moment: datetime.datetime, days: int, time_zone: str) -> datetime.datetime:
    """The same wall-clock time ``days`` calendar days later in ``time_zone`` (IANA), as an aware datetime there.

    A wall time that does not exist on the target day (the hour skipped when clocks go forward) is read as the
    instant after the gap; an ambiguous one (the hour repeated when clocks go back) as its first occurrence
    (fold 0). ``zoneinfo.ZoneInfoNotFoundError`` for an unknown zone.
    """
    zone = zoneinfo.ZoneInfo(time_zone)
    local = _aware(moment).astimezone(zone)
    target = (local.replace(tzinfo=None) + datetime.timedelta(days=days)).replace(tzinfo=zone, fold=0)
    # Round trip through UTC normalises a wall time in the spring-forward gap to a real instant.
    return target.astimezone(datetime.UTC).astimezone(zone)


def case_clocks(*, awareness_at: datetime.datetime, time_zone: str, sponsor_hours: int = DEFAULT_SPONSOR_HOURS,
                susar: bool, fatal_or_life_threatening: bool, submissions: Sequence[Submission] = (),
                follow_up_awareness_at: datetime.datetime | None = None) -> list[Clock]:
    """Every clock of a case, in deadline order, each with the submission that met it.

    ``submissions``: the case's signed versions, oldest first. The sponsor clock is met by the first submission;
    a SUSAR's authority clock (7 days if ``fatal_or_life_threatening`` else 15) by the first submission of a SUSAR
    version; the complete report of a fatal/life-threatening SUSAR is due 8 days after the 7-day deadline, or
    after the initial SUSAR submission when that came first (the earlier of the two readings of "8 additional
    days"), and is met by the next submission. ``follow_up_awareness_at`` (new information on a submitted case)
    adds a follow-up clock of ``sponsor_hours`` met by a submission after it.
    """
    tz = zoneinfo.ZoneInfo(time_zone)
    awareness_at = _aware(awareness_at).astimezone(tz)
    subs = sorted(submissions, key=lambda s: _utc(s.at))
    clocks = [Clock("sponsor", sponsor_due(awareness_at, hours=sponsor_hours), subs[0].at if subs else None)]
    if susar:
        susar_subs = [s for s in subs if s.susar]
        first = susar_subs[0].at if susar_subs else None
        if fatal_or_life_threatening:
            initial_due = calendar_days_later(awareness_at, SUSAR_FATAL_DAYS, time_zone)
            clocks.append(Clock("authority_initial", initial_due, first))
            base = min(initial_due, first, key=_utc) if first is not None else initial_due
            after_first = susar_subs[1:]
            clocks.append(Clock("authority_complete", calendar_days_later(base, SUSAR_COMPLETE_MORE_DAYS, time_zone),
                                after_first[0].at if after_first else None))
        else:
            clocks.append(Clock("authority", calendar_days_later(awareness_at, SUSAR_OTHER_DAYS, time_zone), first))
    if follow_up_awareness_at is not None:
        later = [s for s in subs if _utc(s.at) >= _utc(follow_up_awareness_at)]
        clocks.append(Clock("follow_up", sponsor_due(follow_up_awareness_at.astimezone(tz), hours=sponsor_hours),
                            later[0].at if later else None))
    return sorted(clocks, key=lambda c: _utc(c.due_at))


#: Reminder stages: "before" a lead time ahead of the deadline, "due" at it. Lead: a quarter of an hour clock's
#: window (6 h of 24 h), one day for day clocks.
Stage = Literal["before", "due"]


def reminder_times(clock: Clock, *, window: datetime.timedelta) -> list[tuple[Stage, datetime.datetime]]:
    """When to remind about ``clock`` (none once met): ``[("before", t1), ("due", t2)]``. ``window`` is the
    clock's length (awareness to deadline), which sets the lead: a quarter of it, at most one day."""
    if clock.met_at is not None:
        return []
    lead = min(window / 4, datetime.timedelta(days=1))
    due = _utc(clock.due_at)
    return [("before", (due - lead).astimezone(clock.due_at.tzinfo)), ("due", clock.due_at)]
