"""A patient's timeline as one server-side SVG (pure Python, no Django): cycles as bands (with the number of
infusion interruptions), adverse events as bars by grade over time (open episodes run to the end of the axis), SAE
and death markers, bedside CRS/ICANS assessments and lab values as points with their grades.

The picture does not depend on colour alone: every bar and point carries its grade as text ("G3"), and every
mark has a ``<title>`` (shown on hover, read by screen readers). Presentation attributes only (no ``style``), so
the page's Content-Security-Policy needs no exception; the SVG prints as it is.

Every word and date drawn comes from a :class:`Words` (English by default); the page passes one built with the
reader's language, dates and time zone (``ae.timeline_views``), so this module stays free of Django.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

GRADE_FILL = {0: "#e0e0e0", 1: "#9ecae1", 2: "#fdd835", 3: "#fb8c00", 4: "#e53935", 5: "#212121"}
GRADE_TEXT = {0: "#000000", 1: "#000000", 2: "#000000", 3: "#000000", 4: "#ffffff", 5: "#ffffff"}
WIDTH, LEFT, RIGHT, LANE, TOP = 960, 190, 20, 22, 40


@dataclass(frozen=True)
class Band:
    """A treatment cycle: ``end`` None while it runs."""

    number: int
    start: datetime.date
    end: datetime.date | None
    interruptions: int = 0


@dataclass(frozen=True)
class Bar:
    """An adverse event: onset to resolution (``end`` None: still open)."""

    label: str
    start: datetime.date
    end: datetime.date | None
    grade: int
    serious: bool = False
    fatal: bool = False


@dataclass(frozen=True)
class Point:
    """A bedside assessment or lab value on a lane (``lane``: e.g. "CRS", "ICANS", "Platelets")."""

    lane: str
    at: datetime.date
    grade: int | None
    label: str


def _en_day(day: datetime.date) -> str:
    return f"{day:%d %b %Y}"


def _en_axis_day(day: datetime.date) -> str:
    return f"{day:%d %b %y}"


def _en_cycle_caption(number: int, running: bool) -> str:
    return f"Cycle {number}" + (", running" if running else "")


def _en_cycle_title(number: int, start: str, end: str | None, interruptions: int) -> str:
    interrupted = f", {interruptions} infusion interruption(s)" if interruptions else ""
    return f"Cycle {number}: {start} – {end or 'running'}{interrupted}"


def _en_bar_title(label: str, grade: int, onset: str, resolved: str | None, fatal: bool, serious: bool) -> str:
    status = "open" if resolved is None else f"resolved {resolved}"
    flags = (" — fatal" if fatal else "") + (" — serious" if serious else "")
    return f"{label}: grade {grade}, onset {onset}, {status}{flags}"


@dataclass(frozen=True)
class Words:
    """The timeline's words and dates (all plain text; the SVG escapes them). English by default.

    ``day``/``axis_day``: a date in a title ("03 Jan 2023") and under the axis ("03 Jan 23");
    ``cycle_caption(number, running)``: the band's caption ("Cycle 2, running");
    ``cycle_title(number, start, end, interruptions)``: the band's title, ``end`` None while running;
    ``bar_title(label, grade, onset, resolved, fatal, serious)``: the bar's title, ``resolved`` None while open;
    ``sae``: the marker after a serious event's bar."""

    day: Callable[[datetime.date], str] = _en_day
    axis_day: Callable[[datetime.date], str] = _en_axis_day
    cycle_caption: Callable[[int, bool], str] = _en_cycle_caption
    cycle_title: Callable[[int, str, str | None, int], str] = _en_cycle_title
    bar_title: Callable[[str, int, str, str | None, bool, bool], str] = _en_bar_title
    sae: str = "SAE"


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def timeline_svg(*, title: str, today: datetime.date, bands: list[Band], bars: list[Bar],
                 points: list[Point], words: Words | None = None) -> str:
    """The timeline as an SVG document string (UTF-8 text). The axis spans the earliest date shown minus 2 days to
    the latest (or ``today`` for what is still running) plus 2 days; one lane per adverse event, then one per
    point lane in the order first seen. ``words``: the words and dates drawn (default English :class:`Words`);
    ``title`` and the labels of bars and points come as given."""
    w = words or Words()
    dates = [b.start for b in bands] + [b.start for b in bars] + [p.at for p in points]
    if not dates:
        dates = [today]
    ends = [b.end or today for b in bands] + [b.end or today for b in bars] + dates
    first, last = min(dates) - datetime.timedelta(days=2), max(ends) + datetime.timedelta(days=2)
    span = max((last - first).days, 1)
    point_lanes = list(dict.fromkeys(p.lane for p in points))
    height = TOP + LANE * (len(bars) + len(point_lanes) + 1) + 30

    def x(day: datetime.date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (day - first).days / span

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-labelledby="timeline-title" font-family="sans-serif" font-size="12">',
           f'<title id="timeline-title">{escape(title)}</title>',
           _text(8, 18, title, font_weight="bold")]
    bottom = height - 30
    for band in bands:
        x0, x1 = x(band.start), x(band.end or today)
        end = w.day(band.end) if band.end else None
        caption = w.cycle_caption(band.number, band.end is None) + " ⚠" * bool(band.interruptions)
        out.append(f'<g class="cycle"><title>'
                   f'{escape(w.cycle_title(band.number, w.day(band.start), end, band.interruptions))}</title>'
                   f'<rect x="{x0:.1f}" y="{TOP - 12}" width="{max(x1 - x0, 1):.1f}" height="{bottom - TOP + 12}" '
                   f'fill="#eef3f8" stroke="#9db4cc"/>'
                   + _text(x0 + 3, TOP - 2, caption)
                   + "</g>")
    y = TOP + 4
    for bar in bars:
        x0, x1 = x(bar.start), x(bar.end or today)
        resolved = w.day(bar.end) if bar.end else None
        title = w.bar_title(bar.label, bar.grade, w.day(bar.start), resolved, bar.fatal, bar.serious)
        out.append(f'<g class="ae grade-{bar.grade}"><title>{escape(title)}</title>'
                   + _text(8, y + 13, bar.label[:28])
                   + f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 4):.1f}" height="{LANE - 6}" rx="3" '
                   f'fill="{GRADE_FILL[bar.grade]}" stroke="#555555"'
                   + (' stroke-dasharray="4 2"' if bar.end is None else "") + "/>"
                   + _text(x0 + 3, y + 12, f"G{bar.grade}", fill=GRADE_TEXT[bar.grade])
                   + (_text(x1 + 3, y + 13, w.sae + (" †" if bar.fatal else ""), fill="#b71c1c", font_weight="bold")
                      if bar.serious else "")
                   + "</g>")
        y += LANE
    for lane in point_lanes:
        out.append(_text(8, y + 13, lane))
        for p in (p for p in points if p.lane == lane):
            grade = p.grade if p.grade is not None else 0
            cx = x(p.at)
            shown = "G?" if p.grade is None else f"G{p.grade}"
            out.append(f'<g class="point"><title>{escape(p.label)}</title>'
                       f'<circle cx="{cx:.1f}" cy="{y + 8}" r="7" fill="{GRADE_FILL[grade]}" stroke="#555555"/>'
                       + _text(cx - 7, y + 12, shown, font_size="9", fill=GRADE_TEXT[grade]) + "</g>")
        y += LANE
    step = max(1, span // 8)
    day = first
    while day <= last:
        out.append(f'<line x1="{x(day):.1f}" y1="{bottom}" x2="{x(day):.1f}" y2="{bottom + 4}" stroke="#333333"/>'
                   + _text(x(day) - 20, bottom + 16, w.axis_day(day), font_size="10"))
        day += datetime.timedelta(days=step)
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#333333"/>')
    out.append("</svg>")
    return "\n".join(out)
