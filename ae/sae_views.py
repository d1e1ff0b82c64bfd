"""Pages of SAE cases: the site's cases with their clocks (due/overdue), and one case (clock, events, assessment,
narrative, signed versions with their downloads, follow-up and closing). Writes go through ``ae.services.sae``."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ae.models import CaseVersion, SAECase
from ae.sae.change_words import changes_for_reader
from ae.selectors import adverse_events_for, clocks_for, sae_case_rows, sae_cases_for
from ae.services import sae
from core.errors import DomainError
from core.types import AuthenticatedRequest
from patients import access
from patients.signing import is_locked_out

PAGE = 100


class CaseDraftForm(forms.ModelForm):
    class Meta:
        model = SAECase
        fields = ["action_taken", "dechallenge", "rechallenge", "narrative", "reporter_comments"]
        widgets = {"narrative": forms.Textarea(attrs={"rows": 12})}
        # The model names these fields by their attribute names (a verbose_name there would be a migration for a
        # label); the form words them, as ae.forms does for the AE form.
        labels = {"action_taken": gettext_lazy("Action taken"), "dechallenge": gettext_lazy("Dechallenge"),
                  "rechallenge": gettext_lazy("Rechallenge"), "narrative": gettext_lazy("Narrative"),
                  "reporter_comments": gettext_lazy("Reporter comments")}


class CaseAssessForm(forms.ModelForm):
    class Meta:
        model = SAECase
        fields = ["causality_investigator", "causality_sponsor", "expectedness"]


class SignForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, required=False,
                               help_text=gettext_lazy("Your password: the electronic signature of this step."))
    otp_code = forms.CharField(label=gettext_lazy("Authenticator code"), required=False)
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AwarenessForm(forms.Form):
    awareness_at = forms.DateTimeField(label=gettext_lazy("Aware since"), widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


@login_required
def sae_case_list(request: AuthenticatedRequest, site: str) -> HttpResponse:
    """The site's cases; filters: ``status``, ``due_before`` (YYYY-MM-DD, next open clock due by the end of that
    day), ``overdue=1``."""
    site_obj = get_object_or_404(access.sites_for(request.user), slug=site)
    cases = sae_cases_for(request.user).filter(site=site_obj)
    status = request.GET.get("status", "")
    if status in SAECase.Status.values:
        cases = cases.filter(status=status)
    now = timezone.now()
    rows = sae_case_rows(list(cases[:PAGE]), now)
    due_before = request.GET.get("due_before", "")
    try:
        limit = datetime.date.fromisoformat(due_before) if due_before else None
    except ValueError:
        limit, due_before = None, ""
        messages.error(request, _("Give the due date as YYYY-MM-DD."))
    if limit is not None:
        rows = [r for r in rows if r["next"] is not None and timezone.localtime(r["next"].due_at).date() <= limit]
    if request.GET.get("overdue") == "1":
        rows = [r for r in rows if r["overdue"]]
    return render(request, "ae/sae_case_list.html", {
        "site": site_obj, "rows": rows, "statuses": SAECase.Status.choices, "status": status,
        "due_before": due_before, "overdue_only": request.GET.get("overdue") == "1"})


def _act(request: AuthenticatedRequest, case: SAECase, action: str) -> tuple[str, forms.BaseForm | None]:
    """Run the POSTed ``action``; returns (message, form with errors or None)."""
    post = request.POST
    if action == "draft":
        draft = CaseDraftForm(post, instance=SAECase.objects.get(pk=case.pk))
        if not draft.is_valid():
            return "", draft
        sae.case_update(case=case, acting_user=request.user, expected_revision=int(post.get("revision", 0)),
                        **{f: draft.cleaned_data[f] for f in CaseDraftForm.Meta.fields})
        return _("Case saved."), None
    if action == "add_events":
        ids = [int(i) for i in post.getlist("adverse_events") if i.isdigit()]
        events = list(adverse_events_for(request.user).filter(pk__in=ids, patient=case.patient))
        if not events:
            raise ValidationError(_("Choose the events of this episode to add."))
        sae.case_events_add(case=case, events=events, acting_user=request.user)
        return ngettext("%(n)d event added to the case.", "%(n)d events added to the case.",
                        len(events)) % {"n": len(events)}, None
    if action == "draft_narrative":
        sae.case_update(case=case, acting_user=request.user, narrative=sae.narrative_draft_text(case))
        return _("Narrative drafted from the record: review and edit it."), None
    if action == "assess":
        assess = CaseAssessForm(post, instance=SAECase.objects.get(pk=case.pk))
        if not assess.is_valid():
            return "", assess
        sae.case_assess(case=case, acting_user=request.user, expected_revision=int(post.get("revision", 0)),
                        **{f: assess.cleaned_data[f] for f in CaseAssessForm.Meta.fields})
        return _("Assessment saved."), None
    if action == "awareness":
        awareness = AwarenessForm(post)
        if not awareness.is_valid():
            return "", awareness
        sae.case_awareness_change(case=case, acting_user=request.user,
                                  awareness_at=awareness.cleaned_data["awareness_at"],
                                  reason=awareness.cleaned_data["reason"])
        return _("Awareness time changed."), None
    if action == "submit":
        version = sae.case_submit(case=case, acting_user=request.user, password=post.get("password", ""),
                                  otp_code=post.get("otp_code", ""), request=request)
        return _("Version %(number)s signed and submitted.") % {"number": version.number}, None
    if action == "follow_up":
        sae.case_follow_up_open(case=case, acting_user=request.user, reason=post.get("reason", ""))
        return _("Follow-up opened: record the new information, then sign and submit it."), None
    if action == "close":
        sae.case_close(case=case, acting_user=request.user, password=post.get("password", ""),
                       reason=post.get("reason", ""), otp_code=post.get("otp_code", ""), request=request)
        return _("Case closed."), None
    raise ValidationError(_("Unknown action."))


def _versions_for_reader(case: SAECase) -> list[CaseVersion]:
    """The case's versions in order, each with ``changes_read``: what changed since the version before, worded in
    the reader's language from the two snapshots (the stored ``changes`` stay English, as the reports have them)."""
    versions = list(case.versions.all())
    previous = None
    for version in versions:
        version.changes_read = (  # type: ignore[attr-defined]  # the page's own attribute
            changes_for_reader(previous, version.snapshot) if previous is not None else [])
        previous = version.snapshot
    return versions


@login_required
def sae_case(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One case: its clocks, events, assessment, narrative, versions and the steps the user's role allows."""
    case = get_object_or_404(sae_cases_for(request.user), pk=pk)
    status, error = 200, ""
    bad_form: forms.BaseForm | None = None
    if request.method == "POST":
        try:
            message, bad_form = _act(request, case, request.POST.get("action", ""))
        except PermissionDenied:
            raise
        except ValidationError as exc:
            status, error = (429 if is_locked_out(exc) else 400), "; ".join(
                f"{m}" for ms in (exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages])
                for m in ms)
        except DomainError as exc:
            status, error = exc.status, exc.detail
        else:
            if bad_form is None:
                messages.success(request, message)
                return redirect("sae-case", pk=case.pk)
            status = 400
        case = get_object_or_404(sae_cases_for(request.user), pk=pk)
    now = timezone.now()
    editable = case.status in (SAECase.Status.DRAFT, SAECase.Status.FOLLOW_UP)
    return render(request, "ae/sae_case.html", {
        "case": case, "site": case.site, "patient": case.patient, "clocks": clocks_for(case), "now": now,
        "links": list(case.case_links.all()), "versions": _versions_for_reader(case), "editable": editable,
        "addable": adverse_events_for(request.user).filter(patient=case.patient, case_link__isnull=True)
        .select_related("term").order_by("onset_date", "id") if editable else [],
        "can_draft": access.role_on(request.user, case.site) in sae.DRAFTERS,
        "can_sign": access.role_on(request.user, case.site) in sae.SIGNERS,
        "draft_form": bad_form if isinstance(bad_form, CaseDraftForm) else CaseDraftForm(instance=case),
        "assess_form": bad_form if isinstance(bad_form, CaseAssessForm) else CaseAssessForm(instance=case),
        "awareness_form": bad_form if isinstance(bad_form, AwarenessForm) else AwarenessForm(
            initial={"awareness_at": timezone.localtime(case.awareness_at)}),
        "submission_meaning": _(sae.SUBMISSION_MEANING), "error": error,
        # A refused follow-up or close: its reason comes back in its own form, marked invalid (never the password).
        "failed": request.POST.get("action", "") if error else "",
        "typed_reason": request.POST.get("reason", "") if error else ""}, status=status)


@login_required
def sae_case_open(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """POST: open a case by hand for a serious event that has none (e.g. recorded before cases existed)."""
    event = get_object_or_404(adverse_events_for(request.user).select_related("patient__site", "term"), pk=pk)
    if request.method != "POST":
        return redirect("event-history", pk=event.pk)
    try:
        case = sae.case_create(patient=event.patient, events=[event], acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("event-history", pk=event.pk)
    messages.success(request, _("Case %(reference)s opened.") % {"reference": case.reference})
    return redirect("sae-case", pk=case.pk)


@login_required
def rsi_list(request: AuthenticatedRequest) -> HttpResponse:
    """The reference safety information versions with their entries (reference data, like the CTCAE catalogue;
    versions are added through ``POST /api/v1/rsi/`` by a safety officer or administrator)."""
    from ae.models import ReferenceSafetyInformation

    versions = ReferenceSafetyInformation.objects.prefetch_related("entries__ctcae_term")
    return render(request, "ae/rsi_list.html", {"versions": versions[:20]})
