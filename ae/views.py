"""Recording and editing adverse events in the browser."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ae import grading, selectors
from ae.analyte_labels import ANALYTE_LABELS
from ae.episodes import CRS_TERM, ICANS_TERM, age_in_years
from ae.forms import (
    AdverseEventEditForm,
    AdverseEventForm,
    CRSAssessmentForm,
    ICANSAssessmentForm,
    LabResultForm,
    event_change_value,
    event_field_label,
)
from ae.models import AdverseEvent, CRSAssessment, ICANSAssessment, LabResult
from ae.rationale_text import crs_rationales_for_reader, icans_rationales_for_reader, lab_rationales_for_reader
from ae.services.assessments import crs_assessment_record, icans_assessment_record
from ae.services.events import (
    EDITABLE_FIELDS,
    ProbableDuplicateError,
    StaleEditError,
    adverse_event_create,
    adverse_event_update,
    grade_discrepancy_resolve,
)
from ae.services.labs import lab_result_record
from core.forms import add_service_errors
from core.idempotency import new_token, once_per_submission
from core.text import as_clause
from core.types import AuthenticatedRequest
from patients import access
from patients.selectors import patients_for


@login_required
def patient_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The patient's record: cycles in order, each with its adverse events."""
    patient = get_object_or_404(selectors.patient_records_for(request.user), pk=pk)
    can_record = access.can_record(request.user, patient.site)
    # the lab tables' rationales in the reader's language, from the prefetched values (no query)
    lab_rationales_for_reader([r for c in patient.cycles.all() for r in c.lab_results.all()]
                              + list(patient.labs_before_cycles))  # type: ignore[attr-defined]
    # the date of death (Patient.death_date) from the prefetched events (no query): the last day of the record
    died = min((e.resolution_date or e.onset_date for c in patient.cycles.all() for e in c.adverse_events.all()
                if e.outcome == AdverseEvent.Outcome.FATAL), default=None)
    return render(request, "patients/patient_detail.html",
                  {"patient": patient, "site": patient.site, "can_record": can_record, "died": died})


def _saved_notices(request: HttpRequest, form: AdverseEventForm, event: AdverseEvent, notified_before: int = 0) -> None:
    """Tell the nurse what was derived for her (a death made serious) and who was notified by this save: the
    notices of the event's death or seriousness beyond the ``notified_before`` written before it (an edit of an
    event that was already serious notifies no one again, and says nothing)."""
    for note in getattr(form, "derived", []):
        messages.info(request, note)
    if not (event.serious or event.is_death):  # only a serious event or a death notifies anyone: nothing to count
        return
    notified = selectors.event_notices_count(event) - notified_before
    if notified > 0:
        messages.warning(request, _("%(what)s: the site's safety officers were notified (%(n)d).") % {
            "what": event.get_outcome_display() if event.is_death else _("Serious event"), "n": notified})


def _case_notices(request: HttpRequest, event: AdverseEvent, before: tuple[str, int] | None) -> None:
    """Tell the nurse when this save told the safety officers of new information on the event's submitted SAE case
    (the ``sae_update`` notices written beyond the ``before`` count; none written: nothing said)."""
    if before is None:  # not in a case before the save: a save does not put it in one
        return
    after = selectors.sae_update_notices_count(event)
    if after is not None and after[1] > before[1]:
        messages.warning(request, _("SAE case %(reference)s: the site's safety officers were told of the new "
                                    "information (%(n)d); a follow-up report may be due.") % {
            "reference": after[0], "n": after[1] - before[1]})


@login_required
@once_per_submission("event-create")
def event_create(request: AuthenticatedRequest, patient_pk: int) -> HttpResponse:
    """Record an adverse event. A probable duplicate (same term and onset, an open episode of the term in the cycle,
    or a resolved one covering the onset) is shown with a link to the existing event and a box to confirm that this
    one is separate."""
    patient = get_object_or_404(patients_for(request.user, access.RECORDERS).select_related("site"),
                                pk=patient_pk)
    form = AdverseEventForm(request.POST or None, patient=patient)
    # A valid form names one of the patient's cycles (the cycle field offers only those): the patient has a cycle
    # without asking the database again. Otherwise (a page to show) it is asked once.
    valid = request.method == "POST" and form.is_valid()
    if not valid and not patient.cycles.exists():
        messages.error(request, _("Record the patient's treatment cycle first: every event belongs to a cycle."))
        return redirect("patient-detail", pk=patient.pk)
    if valid:
        data = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS if f in form.cleaned_data} | form.computed
        try:
            event = adverse_event_create(acting_user=request.user, patient=patient,
                                         confirm_separate=bool(form.cleaned_data.get("confirm_separate")), **data)
        except ProbableDuplicateError as exc:
            form.offer_confirmation(exc.existing, exc.detail)
        except ValidationError as exc:  # the check constraints are validated here, once (not by the form)
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved: %(term)s grade %(grade)s, cycle %(cycle)s.") % {
                "term": event.term, "grade": event.grade, "cycle": event.cycle.number})
            _saved_notices(request, form, event)
            if "save_another" in request.POST:
                return redirect("event-create", patient_pk=patient.pk)
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "ae/event_form.html", {"form": form, "patient": patient, "site": patient.site,
                                                  "term_options": selectors.term_picker_options(),
                                                  "submission_token": new_token()})


@login_required
def event_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Change an event with a reason. A change of its dates, term or cycle after which its days overlap another
    episode of the term in the cycle is shown, as for a new event, with a link to that event and a box to confirm
    that the two are separate."""
    event = get_object_or_404(selectors.adverse_events_for(request.user, access.RECORDERS)
                              .select_related("patient__site", "term", "cycle"), pk=pk)
    patient = event.patient
    form = AdverseEventEditForm(request.POST or None, instance=event, patient=patient,
                                initial={"version": event.version})
    stale = None
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS if f in form.cleaned_data}
        notified_before = selectors.event_notices_count(event) if event.serious or event.is_death else 0
        case_before = selectors.sae_update_notices_count(event)
        try:
            adverse_event_update(event=event, acting_user=request.user, reason=form.cleaned_data["reason"],
                                 expected_version=form.cleaned_data["version"],
                                 confirm_separate=bool(form.cleaned_data.get("confirm_separate")), **data)
        except ProbableDuplicateError as exc:  # its days now overlap another episode of the term: ask
            form.offer_confirmation(exc.existing, exc.detail)
        except StaleEditError as exc:
            stale = exc.current
            resubmitted = request.POST.copy()
            resubmitted["version"] = str(stale.version)
            form.data = resubmitted  # a re-submission applies on top of the current version
            form.add_error(None, _("Someone else changed this event while you were editing (now version "
                                   "%(version)s, grade %(grade)s). Your changes were not saved: review the current "
                                   "values below, then apply your change again.") % {
                "version": stale.version, "grade": stale.grade})
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Change saved with its reason."))
            _saved_notices(request, form, event, notified_before)
            _case_notices(request, event, case_before)
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "ae/event_form.html", {
        "form": form, "patient": patient, "site": patient.site, "event": event, "stale": stale,
        "term_options": selectors.term_picker_options()})


@login_required
def event_history(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(selectors.adverse_events_for(request.user).select_related("patient__site", "term",
                                                                                         "case_link"), pk=pk)
    revisions = list(event.revisions.select_related("changed_by"))
    for revision in revisions:  # each changed field by its name on the form, in the reader's language
        revision.changes_shown = [  # type: ignore[attr-defined]
            (event_field_label(field), event_change_value(field, old), event_change_value(field, new))
            for field, (old, new) in revision.changes.items()]
    return render(request, "ae/event_history.html", {
        "event": event, "revisions": revisions, "patient": event.patient, "site": event.patient.site,
        "crs_assessments": crs_rationales_for_reader(event.crs_assessments.select_related("entered_by")),
        "icans_assessments": icans_rationales_for_reader(event.icans_assessments.select_related("entered_by")),
        "lab_results": lab_rationales_for_reader(
            event.lab_results.select_related("entered_by", "cycle").order_by("collected_at", "id")),
        "can_record": access.can_record(request.user, event.patient.site),
        "can_review": access.can_review(request.user, event.patient.site)})


# ------------------------------------------------------------------------------ bedside assessments, labs

_ASSESSMENTS = {
    "crs": (CRSAssessment, CRSAssessmentForm, crs_assessment_record, CRS_TERM, "CRS", "/api/v1/grading/crs/"),
    "icans": (ICANSAssessment, ICANSAssessmentForm, icans_assessment_record, ICANS_TERM, "ICANS",
              "/api/v1/grading/icans/"),
}


def _assessment_form(request: AuthenticatedRequest, patient_pk: int, kind: str) -> HttpResponse:
    model, form_class, record, term_name, label, api_url = _ASSESSMENTS[kind]
    patient = get_object_or_404(patients_for(request.user, access.RECORDERS).select_related("site"),
                                pk=patient_pk)
    if not patient.cycles.exists():
        messages.error(request,
                       _("Record the patient's treatment cycle first: every episode belongs to a cycle."))
        return redirect("patient-detail", pk=patient.pk)
    episodes = selectors.assessment_episodes(patient=patient, kind=kind)
    chosen = request.GET.get("episode")
    if chosen is None:  # default: the ongoing episode, if any (however it was first recorded)
        ongoing = next((e for e in episodes if e.resolution_date is None), None)
        chosen = str(ongoing.pk) if ongoing else ""
    initial = {"episode": chosen}
    if kind == "icans":
        initial["tool"] = grading.default_icans_tool(age_in_years(patient.birth_month, timezone.localdate()))
    form = form_class(request.POST or None, patient=patient, episodes=episodes, initial=initial,
                      positive_episode_ids={e.pk for e in episodes if getattr(e, "has_positive", False)})
    if request.method == "POST" and form.is_valid():
        try:
            assessment = record(patient=patient, cycle=form.cleaned_data["cycle"], data=form.service_data(),
                                acting_user=request.user, episode=form.cleaned_data["episode"],
                                new_episode=form.new_episode)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            event = assessment.adverse_event  # type: ignore[attr-defined]  # a CRS or ICANS assessment
            messages.success(request, _("%(label)s assessment saved: episode grade %(grade)s (computed %(computed)s), "
                                        "cycle %(cycle)s.") % {"label": label, "grade": event.grade,
                                                               "computed": event.computed_grade,
                                                               "cycle": event.cycle.number})
            return redirect("event-history", pk=event.pk)
    return render(request, f"ae/{kind}_assessment_form.html", {
        "form": form, "patient": patient, "site": patient.site, "label": label, "api_url": api_url})


@login_required
def crs_assessment_create(request: AuthenticatedRequest, patient_pk: int) -> HttpResponse:
    return _assessment_form(request, patient_pk, "crs")


@login_required
def icans_assessment_create(request: AuthenticatedRequest, patient_pk: int) -> HttpResponse:
    return _assessment_form(request, patient_pk, "icans")


def _event_link(event: AdverseEvent) -> SafeString:
    return format_html('<a href="{}">{} grade {}</a>', reverse("event-history", args=[event.pk]), event.term,
                       event.grade)


def _lab_saved_message(result: LabResult) -> SafeString:
    """What recording the value did, in words (the active language), with a link to each adverse event it created
    or updated. The CTCAE term stays in NCI's English; the rationale is in the reader's language where the rules
    translate it (``LabResult.rationale_for_reader``, set by the service)."""
    value = _("%(analyte)s %(value)s of %(at)s") % {  # as ae.episodes.lab_result_text, in the active language
        "analyte": ANALYTE_LABELS[result.analyte], "value": result.value_text_for_reader,
        "at": date_format(timezone.localtime(result.collected_at), "d M Y H:i")}
    params = {"value": value, "term": result.ctcae_term, "grade": result.grade,
              "rationale": as_clause(result.rationale_for_reader or result.rationale)}
    if result.entered_grade is not None:  # the clinician's grade, with the computed one beside it (issue 10)
        computed = (_("undetermined") if result.computed_grade is None
                    else _("grade %(grade)s") % {"grade": result.computed_grade})
        params["grade"] = _("%(grade)s (your grade; computed %(computed)s)") % {"grade": result.grade,
                                                                              "computed": computed}
    if result.grade is None:
        text = (_("Saved: baseline %(value)s — %(term)s undetermined (%(rationale)s).") if result.baseline
                else _("Saved: %(value)s — %(term)s undetermined (%(rationale)s)."))
    else:
        text = (_("Saved: baseline %(value)s — %(term)s grade %(grade)s (%(rationale)s).") if result.baseline
                else _("Saved: %(value)s — %(term)s grade %(grade)s (%(rationale)s)."))
    saved = format_html(_html(text), **params)
    notes: list[SafeString] = []
    if result.baseline and result.regraded:
        notes.append(format_html(
            _html(_("%(n)s later value(s) of cycle %(cycle)s regraded against it.")),
            n=result.regraded, cycle=result.cycle.number if result.cycle else "?"))
    for event, change, before in result.episode_changes:
        link = _event_link(event)
        if change == "created":
            notes.append(format_html(_html(_("Adverse event recorded: %(event)s in cycle %(cycle)s.")),
                                     event=link, cycle=event.cycle.number))
        elif change == "unchanged":
            notes.append(format_html(_html(_("Added to the adverse event %(event)s (unchanged).")), event=link))
        else:
            was = "" if before == event.grade else _(" (was grade %(grade)s)") % {"grade": before}
            resolved = (_(", resolved %(date)s") % {"date": date_format(event.resolution_date, "d M Y")}
                        if event.resolution_date else "")
            notes.append(format_html(_html(_("Adverse event updated: %(event)s%(was)s%(resolved)s.")),
                                     event=link, was=was, resolved=resolved))
    if not result.baseline and not result.episode_changes:
        notes.append(format_html("{}", _no_event_reason(result)))
    return format_html("{} {}", saved, format_html_join(" ", "{}", ((n,) for n in notes)))


def _html(message: str) -> str:
    """A translated message with named ``%(name)s`` placeholders as a :func:`format_html` template (its literal
    braces escaped), so that the translator sees gettext's usual placeholders and every value is escaped."""
    return message.replace("{", "{{").replace("}", "}}").replace("%(", "{").replace(")s", "}")


def _no_event_reason(result: LabResult) -> str:
    if result.grade is None:
        return _("No adverse event: the grade is undetermined (see why above).")
    if result.grade == 0:
        return _("No adverse event: grade 0.")
    if result.cycle is None:
        return _("No adverse event: collected before the first cycle (not treatment-emergent).")
    if result.treatment_emergent is None:
        return _("No adverse event yet: whether it is treatment-emergent is undetermined (the baseline grade is).")
    return _("No adverse event: not treatment-emergent (not worse than the cycle's baseline grade, or after the "
             "cycle's follow-up window).")


@login_required
def lab_result_create(request: AuthenticatedRequest, patient_pk: int) -> HttpResponse:
    """Record a lab value; the message says which adverse event it created or updated, with a link to it."""
    patient = get_object_or_404(patients_for(request.user, access.RECORDERS).select_related("site"),
                                pk=patient_pk)
    form = LabResultForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            result = lab_result_record(patient=patient, data=form.cleaned_data, acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _lab_saved_message(result))
            return redirect("lab-result-create", patient_pk=patient.pk)
    results = lab_rationales_for_reader(selectors.lab_results_of(patient))
    today = timezone.localdate()
    age_months = (today.year - patient.birth_month.year) * 12 + (today.month - patient.birth_month.month)
    site_ranges = selectors.reference_ranges_in_force(site=patient.site, sex=patient.sex, age_months=age_months,
                                                      on=today)
    return render(request, "ae/lab_result_form.html",
                  {"form": form, "patient": patient, "site": patient.site, "results": results,
                   "site_ranges": site_ranges, "age_months": age_months})


@login_required
@require_http_methods(["GET", "POST"])
def discrepancy_resolve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Resolve the event's data-quality query (POST), then back to the report or the event's history. GET (where
    the login page sends an officer whose session ended as they resolved): the event's history."""
    event = get_object_or_404(selectors.adverse_events_for(request.user).select_related("patient__site"), pk=pk)
    if request.method == "GET":
        return redirect("event-history", pk=event.pk)
    try:
        grade_discrepancy_resolve(event=event, acting_user=request.user,
                                           comment=request.POST.get("comment", ""))
    except PermissionDenied:
        messages.error(request, _("Only a safety officer of this site can resolve data-quality queries."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Data-quality query resolved."))
    if request.POST.get("next") == "report":
        return redirect("report", site=event.patient.site.slug)
    return redirect("event-history", pk=event.pk)


