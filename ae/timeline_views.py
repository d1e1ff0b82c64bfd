"""``/patients/<pk>/timeline/``: the patient's timeline (:mod:`ae.timeline`) from the patient's records."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from ae import selectors
from ae.models import CRSAssessment, ICANSAssessment
from ae.timeline import Band, Bar, Point, timeline_svg
from core.types import AuthenticatedRequest


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
        for a in model.objects.filter(adverse_event_id__in=ids).order_by("assessed_at"):
            at = timezone.localtime(a.assessed_at)
            grade = a.effective_grade
            points.append(Point(f"{kind} assessments", at.date(), grade,
                                f"{kind} {at:%d %b %Y %H:%M}: grade {grade} (ASTCT 2019)"))
    labs = [r for c in cycles for r in c.lab_results.all()] + list(patient.labs_before_cycles)  # type: ignore[attr-defined]
    for r in sorted(labs, key=lambda r: r.collected_at):
        at = timezone.localtime(r.collected_at)
        graded = "not graded" if r.grade is None else f"CTCAE grade {r.grade}"
        points.append(Point(r.get_analyte_display(), at.date(), r.grade,
                            f"{r.get_analyte_display()} {r.value_text_for_reader} at {at:%d %b %Y %H:%M}: {graded}"))
    svg = timeline_svg(title=f"{patient.study_id}: cycles, adverse events, assessments and labs",
                       today=timezone.localdate(), bands=bands, bars=bars, points=points)
    return render(request, "ae/patient_timeline.html", {
        "patient": patient, "site": patient.site, "svg": mark_safe(svg)})  # noqa: S308 - every text is escaped
