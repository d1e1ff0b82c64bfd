"""SAE cases: opening (with the event that became serious, or by hand), grouping, assessment, signed submission of
frozen versions, follow-up and closing (docs/sae-cases.md).

Every write is one transaction; nothing is half-saved. Roles (``patients.access``): ward staff and administrators
open cases and draft them (events, action taken, dechallenge/rechallenge, narrative); the site's safety officer (or an
administrator) decides causality and expectedness, changes the awareness time with its reason, signs submissions
(electronic signature as flags: password, plus the authenticator code where the role needs it) and closes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ae.models import AdverseEvent, CaseVersion, ReferenceSafetyInformation, RSIEntry, SAECase, SAECaseLink
from ae.sae import expectedness as rules
from ae.sae.build import case_course, case_events, case_snapshot
from ae.sae.changes import changes_since
from ae.sae.narrative import narrative_draft
from ae.sae.snapshot import CaseSnapshot
from core.audit import audit_context
from core.errors import ConflictError, DomainError
from core.text import clean_reason, visible
from patients.access import ALL_ROLES, RECORDERS, REVIEWERS, require_role, role_on
from patients.models import Patient
from patients.signing import verify_signer

#: Who may draft a case (open it, group events, edit dechallenge/rechallenge and the narrative).
DRAFTERS = (*RECORDERS, *[r for r in REVIEWERS if r not in RECORDERS])
#: Who signs submissions and decides causality and expectedness: the site's safety officer (pvtrack has no
#: investigator role; ICH E6(R2) 4.11 puts the report on the investigator, whose delegate on the ward is the
#: safety officer) or an administrator, as for flag reviews.
SIGNERS = REVIEWERS
#: What a submission's signature means (21 CFR 11.50(a)(3)): shown above the case page's form and stored with the
#: version in the signer's language (the active one: what the form showed is what is signed; English through the
#: API without Accept-Language). It is not part of the snapshot, so CIOMS I, E2B(R3) and FHIR never carry it.
SUBMISSION_MEANING = gettext_noop("Submitted: I have reviewed this serious adverse event case and its narrative, and "
                                  "I submit this version as the site's report.")
CLOSE_MEANING = "Closed: no further information is expected on this case."
DRAFT_FIELDS = ("action_taken", "dechallenge", "rechallenge", "narrative", "reporter_comments")


class StaleCaseError(ConflictError):
    code = "stale_version"

    def __init__(self, current: SAECase) -> None:
        super().__init__(_("The case was changed by someone else (now revision %(revision)s); nothing was saved. "
                           "Apply your change again.") % {"revision": current.revision}, current=current)


class CaseStateError(DomainError):
    """409: the case's status does not allow this step (e.g. a follow-up on a closed case)."""

    code = "case_state"
    status = 409


def _locked(case: SAECase) -> SAECase:
    return SAECase.objects.select_for_update(of=("self",)).select_related("site", "patient", "reporter", "rsi").get(
        pk=case.pk)


def _reference(site_slug: str, year: int, number: int) -> str:
    return f"PVT-{site_slug.upper()}-{year}-{number:04d}"


def rsi_in_force(on: datetime.date, product: str = "blinatumomab") -> ReferenceSafetyInformation | None:
    """The RSI version of ``product`` in force on ``on`` (the latest in force from on or before it), or None."""
    return (ReferenceSafetyInformation.objects.filter(product=product, in_force_from__lte=on)
            .order_by("-in_force_from").first())


def expectedness_propose(case: SAECase) -> None:
    """Set the case's RSI (in force at the awareness date, site time) and proposed expectedness (not saved)."""
    import zoneinfo

    on = case.awareness_at.astimezone(zoneinfo.ZoneInfo(case.site.time_zone)).date()
    rsi = rsi_in_force(on)
    case.rsi = rsi
    entries = None if rsi is None else [
        rules.Listed(ctcae_term=e.ctcae_term.term if e.ctcae_term is not None else "", meddra_code=e.meddra_code,
                     max_grade=e.max_grade) for e in RSIEntry.objects.filter(rsi=rsi).select_related("ctcae_term")]
    observed = [rules.Observed(e.term.term, str(e.term.meddra_code), e.grade) for e in case_events(case)]
    case.expectedness_proposed = rules.propose(observed, entries)


def _save(case: SAECase, *, reason: str = "") -> SAECase:
    case.revision += 1
    case.full_clean(exclude=["reference"])
    with audit_context(reason=reason) if reason else audit_context():
        case.save()
    return case


def _link(case: SAECase, events: Iterable[AdverseEvent], *, primary: AdverseEvent | None = None) -> None:
    for event in events:
        if event.patient_id != case.patient_id:
            raise ValidationError({"events": _(
                "AE %(event)s belongs to another patient: a case groups the events of one patient.") % {
                    "event": event.pk}})
        try:
            with transaction.atomic():
                SAECaseLink.objects.create(case=case, adverse_event=event, primary=event == primary)
        except IntegrityError as exc:
            other = SAECaseLink.objects.filter(adverse_event=event).select_related("case").first()
            raise ValidationError({"events": _("%(term)s (AE %(event)s) is already in case %(case)s.") % {
                "term": event.term, "event": event.pk, "case": other.case if other else _("another case")}}) from exc


#: The case's action taken with blinatumomab (E2B(R3) G.k.8) proposed from the primary event's AEACN (CDISC codelist
#: ACN) when the draft opens; the officer may change it. "Drug interrupted" has no G.k.8 code (an interruption shows
#: as dose periods and the dechallenge), so it proposes nothing: "unknown" until the officer decides.
CASE_ACTION_FROM_AEACN: dict[str, str] = {
    AdverseEvent.Action.DRUG_WITHDRAWN: SAECase.Action.WITHDRAWN,
    AdverseEvent.Action.DOSE_REDUCED: SAECase.Action.DOSE_REDUCED,
    AdverseEvent.Action.DOSE_NOT_CHANGED: SAECase.Action.NOT_CHANGED,
    AdverseEvent.Action.NOT_APPLICABLE: SAECase.Action.NOT_APPLICABLE,
}


def _proposed_action(event: AdverseEvent) -> str:
    return CASE_ACTION_FROM_AEACN.get(event.action_taken, SAECase.Action.UNKNOWN.value)


def _new_case(*, patient: Patient, acting_user: User, awareness_at: datetime.datetime,
              primary: AdverseEvent) -> SAECase:
    site = patient.site
    # One case number at a time per site: the site row is the lock (numbers stay gap-free and unique).
    type(site).objects.select_for_update().filter(pk=site.pk).first()
    number = (SAECase.objects.filter(site=site).aggregate(n=Max("number"))["n"] or 0) + 1
    return SAECase(site=site, patient=patient, number=number,
                   reference=_reference(site.slug, awareness_at.year, number), awareness_at=awareness_at,
                   reporter=acting_user, reporter_role=role_on(acting_user, site) or "",
                   action_taken=_proposed_action(primary))


def case_open_for_event(*, event: AdverseEvent, acting_user: User,
                        awareness_at: datetime.datetime | None = None) -> SAECase | None:
    """Open a draft case for ``event`` that just became serious, in the caller's transaction; None when the event
    is not serious or is already in a case. Awareness defaults to now: when the site recorded the seriousness."""
    if not event.serious or SAECaseLink.objects.filter(adverse_event=event).exists():
        return None
    case = _new_case(patient=event.patient, acting_user=acting_user, awareness_at=awareness_at or timezone.now(),
                     primary=event)
    case.save()
    _link(case, [event], primary=event)
    expectedness_propose(case)
    case.save(update_fields=["rsi", "expectedness_proposed"])
    return case


def cases_open_for_new_events(*, events: list[AdverseEvent], acting_user: User) -> list[SAECase]:
    """:func:`case_open_for_event` for many NEW events of one import: one draft case per serious event, written with
    a fixed number of queries per site (not per event), in the caller's transaction. ``events`` are saved, with
    patient (and site) and term loaded. Returns the cases."""
    import zoneinfo

    serious = [e for e in events if e.serious]
    now = timezone.now()
    cases: list[SAECase] = []
    links: list[tuple[SAECase, AdverseEvent]] = []
    for site in {e.patient.site_id: e.patient.site for e in serious}.values():
        type(site).objects.select_for_update().filter(pk=site.pk).first()
        number = SAECase.objects.filter(site=site).aggregate(n=Max("number"))["n"] or 0
        rsi = rsi_in_force(now.astimezone(zoneinfo.ZoneInfo(site.time_zone)).date())
        entries = None if rsi is None else [
            rules.Listed(ctcae_term=e.ctcae_term.term if e.ctcae_term is not None else "", meddra_code=e.meddra_code,
                         max_grade=e.max_grade) for e in RSIEntry.objects.filter(rsi=rsi).select_related("ctcae_term")]
        role = role_on(acting_user, site) or ""
        for event in (e for e in serious if e.patient.site_id == site.pk):
            number += 1
            case = SAECase(site=site, patient=event.patient, number=number,
                           reference=_reference(site.slug, now.year, number), awareness_at=now, reporter=acting_user,
                           reporter_role=role, rsi=rsi, action_taken=_proposed_action(event),
                           expectedness_proposed=rules.propose(
                               [rules.Observed(event.term.term, str(event.term.meddra_code), event.grade)], entries))
            cases.append(case)
            links.append((case, event))
    SAECase.objects.bulk_create(cases)
    SAECaseLink.objects.bulk_create([SAECaseLink(case=c, adverse_event=e, primary=True) for c, e in links])
    return cases


@transaction.atomic
def case_create(*, patient: Patient, events: list[AdverseEvent], acting_user: User,
                awareness_at: datetime.datetime | None = None) -> SAECase:
    """Open a case by hand for ``events`` of ``patient`` (the first serious one is primary).

    Raises PermissionDenied unless the user drafts on the patient's site; ValidationError keyed "events" when none
    of the events is serious, an event is another patient's or is in a case already (nothing saved).
    """
    require_role(acting_user, patient.site, DRAFTERS)
    serious = [e for e in events if e.serious]
    if not serious:
        raise ValidationError({"events": _(
            "A case needs at least one serious adverse event (tick its SAE criterion on the event first).")})
    if awareness_at is not None and awareness_at > timezone.now():
        raise ValidationError({"awareness_at": _("The awareness time cannot be in the future.")})
    case = _new_case(patient=patient, acting_user=acting_user, awareness_at=awareness_at or timezone.now(),
                     primary=serious[0])
    case.save()
    _link(case, events, primary=serious[0])
    expectedness_propose(case)
    case.save(update_fields=["rsi", "expectedness_proposed"])
    return case


def _require_editable(case: SAECase) -> None:
    if case.status not in (SAECase.Status.DRAFT, SAECase.Status.FOLLOW_UP):
        raise CaseStateError(
            _("Case %(case)s is %(status)s: open a follow-up to change it.") % {
                "case": case.reference, "status": case.get_status_display().lower()}
            if case.status == SAECase.Status.SUBMITTED
            else _("Case %(case)s is closed: it cannot change.") % {"case": case.reference})


def _check_revision(current: SAECase, expected_revision: int | None) -> None:
    if expected_revision is not None and current.revision != expected_revision:
        raise StaleCaseError(current)


@transaction.atomic
def case_events_add(*, case: SAECase, events: list[AdverseEvent], acting_user: User,
                    expected_revision: int | None = None) -> SAECase:
    """Group more events of the same clinical episode into the case (draft or follow-up); re-proposes expectedness."""
    require_role(acting_user, case.site, DRAFTERS)
    current = _locked(case)
    _check_revision(current, expected_revision)
    _require_editable(current)
    _link(current, events)
    expectedness_propose(current)
    return _save(current)


@transaction.atomic
def case_update(*, case: SAECase, acting_user: User, expected_revision: int | None = None, **data: Any) -> SAECase:
    """Draft fields: action taken, dechallenge, rechallenge, narrative, reporter's comments.

    Raises ValueError for another field, CaseStateError unless the case is a draft or in follow-up, StaleCaseError
    when it changed since ``expected_revision``, ValidationError for a value the model refuses.
    """
    require_role(acting_user, case.site, DRAFTERS)
    current = _locked(case)
    _check_revision(current, expected_revision)
    _require_editable(current)
    for field, value in data.items():
        if field not in DRAFT_FIELDS:
            raise ValueError(f"{field} is not a draft field of a case")
        if isinstance(value, str):
            value = visible(value)
        setattr(current, field, value)
    if "narrative" in data:
        current.narrative_edited = current.narrative.strip() != narrative_draft_text(current).strip()
    return _save(current)


@transaction.atomic
def case_awareness_change(*, case: SAECase, acting_user: User, awareness_at: datetime.datetime, reason: str) -> SAECase:
    """Change when the site became aware, with the reason (audited with it); re-proposes expectedness from the RSI
    in force at the new date. Reviewers only; not in the future; not after a submitted version."""
    require_role(acting_user, case.site, SIGNERS)
    reason = clean_reason(reason)
    current = _locked(case)
    if current.status == SAECase.Status.CLOSED:
        raise CaseStateError(_("Case %(case)s is closed: it cannot change.") % {"case": current.reference})
    if awareness_at > timezone.now():
        raise ValidationError({"awareness_at": _("The awareness time cannot be in the future.")})
    first = current.versions.order_by("number").first()
    if first is not None and awareness_at > first.signed_at:
        raise ValidationError({"awareness_at": _("The site was aware before it submitted version 1.")})
    current.awareness_at, current.awareness_reason = awareness_at, reason
    expectedness_propose(current)
    return _save(current, reason=reason)


@transaction.atomic
def case_assess(*, case: SAECase, acting_user: User, causality_investigator: str | None = None,
                causality_sponsor: str | None = None, expectedness: str | None = None,
                expected_revision: int | None = None) -> SAECase:
    """The reviewer's causality (investigator's, and the sponsor's where it differs) and decided expectedness
    (who and when are recorded; the signature is the submission's). Reviewers only; draft or follow-up."""
    require_role(acting_user, case.site, SIGNERS)
    current = _locked(case)
    _check_revision(current, expected_revision)
    _require_editable(current)
    if causality_investigator is not None:
        current.causality_investigator = causality_investigator
    if causality_sponsor is not None:
        current.causality_sponsor = causality_sponsor
    if expectedness is not None and expectedness != current.expectedness:
        current.expectedness = expectedness
        current.expectedness_decided_by = acting_user if expectedness else None
        current.expectedness_decided_at = timezone.now() if expectedness else None
    return _save(current)


def narrative_draft_text(case: SAECase) -> str:
    """The draft narrative built from the record as it is now."""
    snapshot = case_snapshot(case, version=0, report_type="initial", narrative="")
    return narrative_draft(snapshot, case_course(case))


def _refuse_incomplete(case: SAECase, snapshot: CaseSnapshot) -> None:
    errors: dict[str, str] = {}
    if not snapshot.reactions:
        errors["events"] = _("The case has no adverse event.")
    if not snapshot.suspect.dose_periods:
        errors["suspect"] = _("The case has no suspect drug exposure: record blinatumomab's dosing steps on the "
                              "cycle's treatment page (dose, unit, start) first.")
    if not case.causality_investigator:
        errors["causality_investigator"] = _("Give the investigator's causality assessment before submitting.")
    if not case.narrative.strip():
        errors["narrative"] = _("Write the narrative (start from the draft built from the record).")
    if errors:
        raise ValidationError(errors)


def _sha256(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def case_submit(*, case: SAECase, acting_user: User, password: str, otp_code: str = "",
                request: HttpRequest | None = None, expected_revision: int | None = None) -> CaseVersion:
    """Sign and submit the case: freeze a version (initial, or follow-up listing what changed since the last).

    Raises PermissionDenied unless a signer of the site; ValidationError (nothing saved) keyed "password"/"otp_code"
    for a missing or wrong signature, or by field when the case is incomplete (no event, no suspect drug exposure,
    no causality, no narrative); CaseStateError unless the case is a draft or in follow-up; StaleCaseError.
    """
    require_role(acting_user, case.site, SIGNERS)
    if not password:
        raise ValidationError({"password": _(
            "Sign with your password: a submission without a signature is not accepted. Nothing was submitted.")})
    current = SAECase.objects.select_related("site", "patient", "reporter", "rsi").get(pk=case.pk)
    _require_editable(current)
    _refuse_incomplete(current, case_snapshot(current, version=0, report_type="initial"))
    signer = verify_signer(acting_user=acting_user, password=password, otp_code=otp_code, request=request)
    with transaction.atomic():
        current = _locked(case)
        _check_revision(current, expected_revision)
        _require_editable(current)  # a concurrent submission won while the password was being checked
        previous = current.versions.order_by("-number").first()
        number = previous.number + 1 if previous else 1
        report_type = "initial" if number == 1 else "follow_up"
        now = timezone.now()
        draft = case_snapshot(current, version=number, report_type=report_type, now=now)
        _refuse_incomplete(current, draft)
        changes = tuple(changes_since(previous.snapshot if previous else None, draft.to_dict()))
        if previous is not None and not changes:
            raise ValidationError(_("Nothing changed since version %(version)s: record the new information before "
                                    "submitting a follow-up.") % {"version": previous.number})
        snapshot = case_snapshot(current, version=number, report_type=report_type, signed_by=signer, signed_at=now,
                                 changes=changes, now=now)
        data = snapshot.to_dict()
        version = CaseVersion.objects.create(
            case=current, number=number, report_type=report_type, snapshot=data, snapshot_sha256=_sha256(data),
            changes=list(changes), susar=snapshot.susar, signed_by=acting_user, signer_name=signer,
            signature_meaning=_(SUBMISSION_MEANING), signed_at=now)
        current.status = SAECase.Status.SUBMITTED
        _save(current, reason=f"submitted version {number}")
    return version


@transaction.atomic
def case_follow_up_open(*, case: SAECase, acting_user: User, reason: str) -> SAECase:
    """Reopen a submitted case for new information (status follow_up; the follow-up clock starts now).
    CaseStateError for a draft (submit it first) or a closed case; ValidationError for a blank reason."""
    require_role(acting_user, case.site, DRAFTERS)
    reason = clean_reason(reason, what=_("what the new information is"))
    current = _locked(case)
    if current.status != SAECase.Status.SUBMITTED:
        raise CaseStateError(
            _("Case %(case)s is closed: a follow-up cannot be added to a closed case.") % {"case": current.reference}
            if current.status == SAECase.Status.CLOSED else
            _("Case %(case)s is %(status)s: submit it before a follow-up.") % {
                "case": current.reference, "status": current.get_status_display().lower()})
    current.status = SAECase.Status.FOLLOW_UP
    current.follow_up_awareness_at = timezone.now()
    return _save(current, reason=reason)


def case_close(*, case: SAECase, acting_user: User, password: str, reason: str, otp_code: str = "",
               request: HttpRequest | None = None) -> SAECase:
    """Close a submitted case (signed); CaseStateError unless it is submitted."""
    require_role(acting_user, case.site, SIGNERS)
    reason = clean_reason(reason, what=_("why the case is closed"))
    if not password:
        raise ValidationError({"password": _("Sign with your password to close the case. Nothing was changed.")})
    verify_signer(acting_user=acting_user, password=password, otp_code=otp_code, request=request)
    with transaction.atomic():
        current = _locked(case)
        if current.status != SAECase.Status.SUBMITTED:
            raise CaseStateError(_("Only a submitted case can be closed; %(case)s is %(status)s.") % {
                "case": current.reference, "status": current.get_status_display().lower()})
        current.status = SAECase.Status.CLOSED
        return _save(current, reason=f"{CLOSE_MEANING} {reason}")


def require_case_reader(user: User, case: SAECase) -> None:
    """PermissionDenied unless ``user`` holds a role on the case's site."""
    if role_on(user, case.site) not in ALL_ROLES:
        raise PermissionDenied(_("Your role on this site does not allow this."))
