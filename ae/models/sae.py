"""Serious adverse event cases, their frozen versions and reminders, and the reference safety information (RSI).

Rules the database enforces (docs/sae-cases.md):

* an adverse event belongs to at most one case (``saecaselink_one_case_per_event``), of the case's patient;
* a case's status is one of draft, submitted, follow_up, closed, and moves only along draft → submitted →
  follow_up → submitted … → closed (trigger ``saecase_status_transition``; the services are the only writers);
* a decided expectedness has who decided it and when; a changed awareness time has its reason;
* versions (:class:`CaseVersion`) are append-only (trigger), numbered 1, 2, … once per case, each signed;
* a reminder is sent once per case, clock and stage (unique constraint).

Every table keeps its history (pghistory), as the rest of the ward data does.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from ae.models.catalogue import CTCAETerm
from ae.models.events import AdverseEvent
from core.audit import tracked
from core.text import MAX_REASON_CHARS, max_chars_constraint
from patients.models import Patient, Site

CAUSALITIES = ["", "not_related", "unlikely", "possible", "probable", "definite"]
YES_NO_UNKNOWN = [("yes", _("Yes")), ("no", _("No")), ("unknown", _("Unknown")),
                  ("not_applicable", _("Not applicable"))]


@tracked
class ReferenceSafetyInformation(models.Model):
    """One version of the reference safety information of a product (e.g. BLINCYTO EU SmPC §4.8 of a date)."""

    product = models.CharField(max_length=100, default="blinatumomab")
    document = models.CharField(_("source document"), max_length=300,
                                help_text=_("E.g. BLINCYTO EU SmPC, section 4.8 (EMA product information)."))
    version = models.CharField(_("document version"), max_length=100)
    document_date = models.DateField(_("date of the document"))
    in_force_from = models.DateField(_("in force from"))
    note = models.TextField(blank=True, max_length=MAX_REASON_CHARS,
                            help_text=_("What could and could not be checked against the document."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product", "-in_force_from"]
        verbose_name = _("reference safety information")
        verbose_name_plural = _("reference safety information versions")
        constraints = [
            models.UniqueConstraint(fields=["product", "in_force_from"], name="rsi_one_version_per_day",
                                    violation_error_message=_("A version of this product is already in force from "
                                                            "that day.")),
            models.CheckConstraint(condition=~Q(document="") & ~Q(version=""), name="rsi_source_cited",
                                   violation_error_message=_("Cite the source document and its version.")),
            max_chars_constraint("note", prefix="rsi"),
        ]

    def __str__(self) -> str:
        """English, as the case snapshot quotes it (``rsi_version``); the case page words it in the reader's
        language itself."""
        return f"{self.document} {self.version} (in force from {self.in_force_from:%d %b %Y})"


@tracked
class RSIEntry(models.Model):
    """One expected reaction listed in an RSI version: a CTCAE term and/or a MedDRA LLT code, with the document's
    wording quoted, and whether that wording was checked against a text of the document pvtrack's maintainers read."""

    rsi = models.ForeignKey(ReferenceSafetyInformation, on_delete=models.PROTECT, related_name="entries")
    ctcae_term = models.ForeignKey(CTCAETerm, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("CTCAE term"))
    meddra_code = models.CharField(_("MedDRA LLT code"), max_length=10, blank=True)
    wording = models.CharField(_("the document's wording"), max_length=300)
    frequency = models.CharField(max_length=40, blank=True, help_text=_("As the document gives it, e.g. very common."))
    max_grade = models.PositiveSmallIntegerField(null=True, blank=True,
                                                 validators=[MinValueValidator(1), MaxValueValidator(5)],
                                                 help_text=_("Highest grade the entry covers; empty: any severity."))
    verified = models.BooleanField(_("checked against the document's text"), default=False)

    class Meta:
        ordering = ["rsi", "wording"]
        verbose_name = _("RSI entry")
        verbose_name_plural = _("RSI entries")
        constraints = [
            models.CheckConstraint(condition=Q(ctcae_term__isnull=False) | ~Q(meddra_code=""),
                                   name="rsientry_term_or_code",
                                   violation_error_message=_("Give the CTCAE term or the MedDRA LLT code.")),
            models.CheckConstraint(condition=Q(meddra_code__regex=r"^[0-9]{0,10}$"), name="rsientry_meddra_digits",
                                   violation_error_message=_("A MedDRA code is digits only.")),
            models.CheckConstraint(condition=~Q(wording=""), name="rsientry_wording_quoted",
                                   violation_error_message=_("Quote the document's wording.")),
            models.CheckConstraint(condition=Q(max_grade__isnull=True) | Q(max_grade__gte=1, max_grade__lte=5),
                                   name="rsientry_max_grade_1_5"),
            models.UniqueConstraint(fields=["rsi", "ctcae_term"], condition=Q(ctcae_term__isnull=False),
                                    name="rsientry_term_once_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.wording} ({self.ctcae_term or self.meddra_code})"


class CaseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    FOLLOW_UP = "follow_up", _("Follow-up in progress")
    CLOSED = "closed", _("Closed")


#: The transitions the database allows (from → to); the services make each of them.
TRANSITIONS = {("draft", "submitted"), ("submitted", "follow_up"), ("follow_up", "submitted"),
               ("submitted", "closed")}


@tracked
class SAECase(models.Model):
    """A serious adverse event case: one clinical episode of a patient (one or more AEs), reported to the sponsor
    (and, as a SUSAR, to the authority) in signed, frozen versions. The outcome is each event's (E2B(R3) E.i.7 is
    per reaction): the ward records a resolution on the adverse event, and the next version shows it."""

    Status = CaseStatus

    class Expectedness(models.TextChoices):
        EXPECTED = "expected", _("Expected (listed in the RSI)")
        UNEXPECTED = "unexpected", _("Unexpected")
        UNDETERMINED = "undetermined", _("Not determined")

    class Causality(models.TextChoices):  # G.k.9.i.2.r.3, WHO-UMC-like wording, as AdverseEvent.Relatedness
        NOT_RELATED = "not_related", _("Not related")
        UNLIKELY = "unlikely", _("Unlikely related")
        POSSIBLE = "possible", _("Possibly related")
        PROBABLE = "probable", _("Probably related")
        DEFINITE = "definite", _("Definitely related")

    class Action(models.TextChoices):  # G.k.8 (an interruption shows as dose periods and the dechallenge)
        WITHDRAWN = "withdrawn", _("Drug withdrawn")
        DOSE_REDUCED = "dose_reduced", _("Dose reduced")
        DOSE_INCREASED = "dose_increased", _("Dose increased")
        NOT_CHANGED = "not_changed", _("Dose not changed")
        UNKNOWN = "unknown", _("Unknown")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="sae_cases")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sae_cases")
    number = models.PositiveIntegerField(help_text=_("Sequence of the site's cases (the reference's last part)."))
    reference = models.CharField(_("case reference (C.1.1)"), max_length=60, unique=True)
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.DRAFT)
    adverse_events: models.ManyToManyField[AdverseEvent, SAECaseLink] = models.ManyToManyField(
        AdverseEvent, through="SAECaseLink", related_name="sae_cases")
    awareness_at = models.DateTimeField(_("aware since"),
                                       help_text=_("When the site first knew the event was serious."))
    awareness_reason = models.TextField(_("reason the awareness time was changed"), blank=True,
                                        max_length=MAX_REASON_CHARS)
    follow_up_awareness_at = models.DateTimeField(_("new information since"), null=True, blank=True)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reporter_role = models.CharField(max_length=20)
    causality_investigator = models.CharField(_("investigator's causality"), max_length=12,
                                              choices=Causality.choices, blank=True)
    causality_sponsor = models.CharField(_("sponsor's causality"), max_length=12, choices=Causality.choices, blank=True)
    expectedness_proposed = models.CharField(max_length=12, choices=Expectedness.choices,
                                             default=Expectedness.UNDETERMINED)
    expectedness = models.CharField(_("expectedness (decided)"), max_length=12, choices=Expectedness.choices,
                                    blank=True)
    expectedness_decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                                blank=True, related_name="+")
    expectedness_decided_at = models.DateTimeField(null=True, blank=True)
    rsi = models.ForeignKey(ReferenceSafetyInformation, on_delete=models.PROTECT, null=True, blank=True,
                            related_name="cases", verbose_name=_("RSI version judged against"))
    action_taken = models.CharField(max_length=16, choices=Action.choices, default=Action.UNKNOWN)
    dechallenge = models.CharField(max_length=16, choices=YES_NO_UNKNOWN, default="unknown",
                                   help_text=_("Did the reaction abate when the infusion was interrupted or stopped?"))
    rechallenge = models.CharField(max_length=16, choices=YES_NO_UNKNOWN, default="unknown",
                                   help_text=_("Did it recur when the infusion was restarted?"))
    narrative = models.TextField(blank=True, max_length=20000)
    narrative_edited = models.BooleanField(default=False, help_text=_("The narrative differs from the draft built "
                                                                      "from the record."))
    reporter_comments = models.TextField(blank=True, max_length=MAX_REASON_CHARS)
    #: Incremented on every change; an edit based on an older version is refused (409).
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-awareness_at", "-id"]
        verbose_name = _("SAE case")
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="saecase_number_unique_per_site"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in CaseStatus]), name="saecase_status_known"),
            models.CheckConstraint(condition=Q(expectedness__in=["", "expected", "unexpected", "undetermined"])
                                   & Q(expectedness_proposed__in=["expected", "unexpected", "undetermined"]),
                                   name="saecase_expectedness_known"),
            models.CheckConstraint(
                condition=Q(expectedness="", expectedness_decided_by__isnull=True, expectedness_decided_at__isnull=True)
                | ~Q(expectedness="") & Q(expectedness_decided_by__isnull=False, expectedness_decided_at__isnull=False),
                name="saecase_expectedness_decision_signed",
                violation_error_message=_("A decided expectedness has who decided it and when.")),
            models.CheckConstraint(condition=Q(action_taken__in=["withdrawn", "dose_reduced", "dose_increased",
                                                                 "not_changed", "unknown", "not_applicable"]),
                                   name="saecase_action_known"),
            models.CheckConstraint(condition=Q(causality_investigator__in=CAUSALITIES)
                                   & Q(causality_sponsor__in=CAUSALITIES), name="saecase_causality_known"),
            models.CheckConstraint(condition=Q(dechallenge__in=[c for c, _ in YES_NO_UNKNOWN])
                                   & Q(rechallenge__in=[c for c, _ in YES_NO_UNKNOWN]),
                                   name="saecase_challenge_known"),
            models.CheckConstraint(condition=Q(follow_up_awareness_at__isnull=True)
                                   | Q(follow_up_awareness_at__gte=F("awareness_at")),
                                   name="saecase_follow_up_after_awareness"),
            max_chars_constraint("awareness_reason", prefix="saecase"),
            max_chars_constraint("reporter_comments", prefix="saecase"),
        ]
        indexes = [models.Index(fields=["site", "status"], name="saecase_site_status_idx")]
        triggers = [
            pgtrigger.Trigger(
                name="saecase_status_transition",
                operation=pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(old__status__df=pgtrigger.F("new__status")),
                func="""
                IF NOT ((OLD.status = 'draft' AND NEW.status = 'submitted')
                        OR (OLD.status = 'submitted' AND NEW.status IN ('follow_up', 'closed'))
                        OR (OLD.status = 'follow_up' AND NEW.status = 'submitted')) THEN
                    RAISE EXCEPTION 'SAE case status cannot go from % to %', OLD.status, NEW.status
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
            pgtrigger.Trigger(
                name="saecase_new_is_draft",
                operation=pgtrigger.Insert,
                when=pgtrigger.Before,
                func="""
                IF NEW.status <> 'draft' THEN
                    RAISE EXCEPTION 'a new SAE case is a draft' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
            pgtrigger.Protect(name="saecase_no_delete", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_susar(self) -> bool:
        """Serious (every case is), related (investigator's or sponsor's causality at least possible) and unexpected
        (as decided, else as proposed): a suspected unexpected serious adverse reaction (ICH E2A II.A, II.C)."""
        related = {"possible", "probable", "definite"}
        expectedness = self.expectedness or self.expectedness_proposed
        return (expectedness == "unexpected"
                and (self.causality_investigator in related or self.causality_sponsor in related))


@tracked
class SAECaseLink(models.Model):
    """An adverse event grouped in a case (an event belongs to at most one case)."""

    case = models.ForeignKey(SAECase, on_delete=models.PROTECT, related_name="case_links")
    adverse_event = models.OneToOneField(AdverseEvent, on_delete=models.PROTECT, related_name="case_link")
    primary = models.BooleanField(default=False, help_text=_("The event the case was opened for."))
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "-primary", "adverse_event"]
        verbose_name = _("event of an SAE case")
        constraints = [models.UniqueConstraint(fields=["case"], condition=Q(primary=True),
                                               name="saecaselink_one_primary")]
        triggers = [
            pgtrigger.Trigger(
                name="saecaselink_same_patient",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                IF (SELECT patient_id FROM ae_adverseevent WHERE id = NEW.adverse_event_id)
                   <> (SELECT patient_id FROM ae_saecase WHERE id = NEW.case_id) THEN
                    RAISE EXCEPTION 'an SAE case groups events of one patient' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: AE {self.adverse_event_id}"


class CaseVersion(models.Model):
    """One signed, frozen version of a case: the snapshot every output (CIOMS I, E2B(R3), FHIR) is written from.

    Append-only (trigger): corrections are a new follow-up version. ``changes`` lists what changed since the
    previous version (also inside the snapshot, ``changes_since_previous``).
    """

    class ReportType(models.TextChoices):
        INITIAL = "initial", _("Initial")
        FOLLOW_UP = "follow_up", _("Follow-up")

    case = models.ForeignKey(SAECase, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    report_type = models.CharField(max_length=10, choices=ReportType.choices)
    snapshot = models.JSONField(help_text="ae.sae.snapshot.CaseSnapshot.to_dict()")
    snapshot_sha256 = models.CharField(max_length=64)
    changes = models.JSONField(default=list, blank=True)
    susar = models.BooleanField(default=False)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=300)
    signature_meaning = models.CharField(max_length=300)
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="caseversion_one_per_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="caseversion_number_positive"),
            models.CheckConstraint(condition=Q(number=1, report_type="initial") | Q(number__gt=1,
                                                                                    report_type="follow_up"),
                                   name="caseversion_first_is_initial"),
            models.CheckConstraint(condition=~Q(signer_name="") & ~Q(signature_meaning=""),
                                   name="caseversion_signed"),
        ]
        triggers = [pgtrigger.Protect(name="caseversion_append_only",
                                      operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.case} v{self.number}"


class CaseReminder(models.Model):
    """A reminder e-mail about one clock of a case, sent at most once per stage (before / at the deadline)."""

    case = models.ForeignKey(SAECase, on_delete=models.PROTECT, related_name="reminders")
    clock = models.CharField(max_length=24)
    stage = models.CharField(max_length=8,
                             choices=[("before", _("Before the deadline")), ("due", _("At the deadline"))])
    due_at = models.DateTimeField()
    recipients = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["case", "clock", "stage"], name="casereminder_once_per_clock_stage"),
            models.CheckConstraint(condition=Q(stage__in=["before", "due"]), name="casereminder_stage_known"),
        ]
        triggers = [pgtrigger.Protect(name="casereminder_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.case} {self.clock} {self.stage}"
