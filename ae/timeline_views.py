"""``/patients/<pk>/timeline/``: the patient's timeline (:mod:`ae.timeline`) from the patient's records, in the
reader's language: words by gettext, dates with the language's month names in the site's time zone (issue 15,
item 4). CTCAE terms stay NCI's English (data)."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext

from ae import selectors
from ae.models import CRSAssessment, ICANSAssessment
from ae.timeline import Band, Bar, Point, Words, timeline_svg
from core.numbers import number_for_reader
from core.types import AuthenticatedRequest


def _day(day: datetime.date) -> str:
    return date_format(day, "d M Y")


def _axis_day(day: datetime.date) -> str:
    return date_format(day, "d M y")


def _cycle_caption(number: int, running: bool) -> str:
    if running:
        return gettext("Cycle %(number)s, running") % {"number": number}
    return gettext("Cycle %(number)s") % {"number": number}


def _cycle_title(number: int, start: str, end: str | None, interruptions: int) -> str:
    title = gettext("Cycle %(number)s: %(start)s – %(end)s") % {
        "number": number, "start": start, "end": end or gettext("running")}
    if interruptions:
        title += ngettext(", %(count)s infusion interruption(s)", ", %(count)s infusion interruption(s)",
                          interruptions) % {"count": number_for_reader(interruptions)}
    return title


def _bar_title(label: str, grade: int, onset: str, resolved: str | None, fatal: bool, serious: bool) -> str:
    if resolved is None:
        title = gettext("%(label)s: grade %(grade)s, onset %(onset)s, open") % {
            "label": label, "grade": grade, "onset": onset}
    else:
        title = gettext("%(label)s: grade %(grade)s, onset %(onset)s, resolved %(resolved)s") % {
            "label": label, "grade": grade, "onset": onset, "resolved": resolved}
    return (title + (gettext(" — fatal") if fatal else "")
            + (gettext(" — serious") if serious else ""))


def reader_words() -> Words:
    """The timeline's :class:`ae.timeline.Words` in the active language: dates as ``date_format`` writes them
    ("03 Sty 2023" in Polish, "03 Jan 2023" in English), words from the catalogue."""
    return Words(day=_day, axis_day=_axis_day, cycle_caption=_cycle_caption, cycle_title=_cycle_title,
                 bar_title=_bar_title, sae=gettext("SAE"))


@login_required
def patient_timeline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(selectors.patient_records_for(request.user), pk=pk)
    cycles = list(patient.cycles.all())
    events = [e for c in cycles for e in c.adverse_events.all()]
    bands = [Band(c.number, c.start_date, c.end_date, c.interruptions) for c in cycles]
    bars = [Bar(f"{e.term.term} (C{c.number})", e.onset_date, e.resolution_date, e.grade, e.serious, e.is_death)
            for c in cycles for e in c.adverse_events.all()]
    points: list[Point] = []
    ids = [e.pk for e in events]
    for kind, model in (("CRS", CRSAssessment), ("ICANS", ICANSAssessment)):
        lane = gettext("%(kind)s assessments") % {"kind": kind}
        for a in model.objects.filter(adverse_event_id__in=ids).order_by("assessed_at"):
            at = timezone.localtime(a.assessed_at)
            points.append(Point(lane, at.date(), a.effective_grade, gettext(
                "%(kind)s %(when)s: grade %(grade)s (ASTCT 2019)") % {
                    "kind": kind, "when": date_format(at, "d M Y H:i"), "grade": a.effective_grade}))
    labs = [r for c in cycles for r in c.lab_results.all()] + list(patient.labs_before_cycles)  # type: ignore[attr-defined]
    for r in sorted(labs, key=lambda r: r.collected_at):
        at = timezone.localtime(r.collected_at)
        graded = (gettext("not graded") if r.grade is None
                  else gettext("CTCAE grade %(grade)s") % {"grade": r.grade})
        points.append(Point(r.get_analyte_display(), at.date(), r.grade, gettext(
            "%(analyte)s %(value)s at %(when)s: %(graded)s") % {
                "analyte": r.get_analyte_display(), "value": r.value_text_for_reader,
                "when": date_format(at, "d M Y H:i"), "graded": graded}))
    svg = timeline_svg(title=gettext("%(study_id)s: cycles, adverse events, assessments and labs") % {
                           "study_id": patient.study_id},
                       today=timezone.localdate(), bands=bands, bars=bars, points=points, words=reader_words())
    return render(request, "ae/patient_timeline.html", {
        "patient": patient, "site": patient.site, "svg": mark_safe(svg)})  # noqa: S308 - every text is escaped
