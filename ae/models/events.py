"""CTCAE v5.0 catalogue and the adverse events logged against it.

Rules that must always hold live in the database, not only in forms:

* a grade must be defined for its term: ``ae_adverseevent(term_id, grade)`` is a composite foreign key
  to ``ae_ctcaegrade(term_id, grade)`` (migration ``0002``), so Tremor grade 4, Febrile neutropenia
  grade 2 or Neutrophil count decreased grade 5 cannot be stored by any code path;
* the event's cycle belongs to the event's patient (composite foreign key to the cycle);
* onset is not before the cycle start unless the event was present before the cycle (trigger), and
  a pre-existing event started on or before the cycle start;
* resolution is not before onset; grade 5 means the outcome is fatal; serious means at least one
  SAE criterion is ticked (check constraints);
* the outcome agrees with the resolution date (CDASH/SDTM AEOUT and AEENDTC): "Recovered/resolved" (with or
  without sequelae) has one, "Not recovered/not resolved" and "Recovering/resolving" have none; Fatal and
  Unknown may have one or not (check constraints, ``NOT VALID`` for rows stored before migration ``0021``);
* a death is the last day of the patient's record (triggers ``ae_not_after_death`` and ``ae_death_is_last``,
  migration ``0023``): no event begins or resolves after the date of death (the fatal event's resolution date, else
  its onset), and a death is not dated before another event, a lab value, an assessment, a treatment or a cycle
  start (migration ``0024`` adds the treatments).
"""

from __future__ import annotations

import datetime
from typing import Any

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from ae.models.catalogue import CTCAETerm
from core.audit import tracked
from core.db import CheckConstraintsInOneQuery, LoadedRelationsNotRequeried
from core.text import MAX_REASON_CHARS, as_clause, max_chars_constraint
from patients.models import NextTherapy, Patient, TreatmentCycle


def _day(day: datetime.date) -> str:
    """A date as the pages show it ("05 Jan 2026"; "05 Sty 2026" in Polish)."""
    return date_format(day, "d M Y")


def after_death_error(patient: Patient, day: datetime.date) -> str | None:
    """The error for something of ``patient`` dated ``day`` (a lab value's collection day, an assessment's day, in
    the site's time zone) when that is after the patient's death (:meth:`patients.models.Patient.death_date`),
    else None. One query."""
    died = patient.death_date()
    if died is None or day <= died:
        return None
    return gettext("The patient died on %(died)s (an adverse event with outcome Fatal): nothing can be recorded "
                   "after that day. Check this date, or the date of the death.") % {"died": _day(died)}


def death_annotations(*, excluding_event: int | None = None, with_last: bool = True) -> dict[str, Any]:
    """Annotations of a ``Patient`` queryset (subqueries, no query of their own): ``death_day``, the earliest end of
    the patient's events with outcome Fatal (resolution date, else onset), and with ``with_last`` the latest day of
    each kind of the patient's records — ``last_events`` (an event's resolution date, else its onset), ``last_labs``,
    ``last_crs``, ``last_icans``, ``last_treatments`` (the day, site time zone) and ``last_cycles`` (a cycle start)
    —, leaving out the adverse event ``excluding_event``."""
    from ae.models.assessments import CRSAssessment, ICANSAssessment
    from ae.models.labs import LabResult
    from ae.models.treatments import EventTreatment

    tz = timezone.get_current_timezone()
    others = AdverseEvent.objects.filter(patient=OuterRef("pk"))
    if excluding_event is not None:
        others = others.exclude(pk=excluding_event)

    def latest(queryset: models.QuerySet, by: str, value: Any) -> Subquery:
        return Subquery(queryset.order_by().values(by).annotate(day=models.Max(value)).values("day")[:1])

    annotations: dict[str, Any] = {"death_day": Subquery(
        others.filter(outcome="FATAL").order_by().values("patient")
        .annotate(day=models.Min(Coalesce("resolution_date", "onset_date"))).values("day")[:1])}
    if with_last:
        annotations |= {
            "last_events": latest(others, "patient", Coalesce("resolution_date", "onset_date")),
            "last_labs": latest(LabResult.objects.filter(patient=OuterRef("pk")), "patient",
                                TruncDate("collected_at", tzinfo=tz)),
            "last_crs": latest(CRSAssessment.objects.filter(adverse_event__patient=OuterRef("pk")),
                               "adverse_event__patient", TruncDate("assessed_at", tzinfo=tz)),
            "last_icans": latest(ICANSAssessment.objects.filter(adverse_event__patient=OuterRef("pk")),
                                 "adverse_event__patient", TruncDate("assessed_at", tzinfo=tz)),
            "last_treatments": latest(EventTreatment.objects.filter(adverse_event__patient=OuterRef("pk")),
                                      "adverse_event__patient", TruncDate("given_at", tzinfo=tz)),
            "last_cycles": latest(TreatmentCycle.objects.filter(patient=OuterRef("pk")), "patient", "start_date")}
    return annotations


def last_record_day(row: dict[str, Any]) -> datetime.date | None:
    """The latest of the ``last_*`` days of a row annotated by :func:`death_annotations`, None if none."""
    return max((v for k, v in row.items() if k.startswith("last_") and v is not None), default=None)


def patient_death_facts(patient_ids: list[int], *, excluding_event: int | None = None, with_last: bool = True
                        ) -> dict[int, tuple[datetime.date | None, datetime.date | None]]:
    """Per patient id: (date of death, latest day of the patient's records) — :func:`death_annotations` —, in ONE
    query. Patients with neither are absent."""
    annotations = death_annotations(excluding_event=excluding_event, with_last=with_last)
    facts = {}
    for row in Patient.objects.filter(pk__in=patient_ids).annotate(**annotations).values("pk", *annotations):
        last = last_record_day(row)
        if row["death_day"] is not None or last is not None:
            facts[row["pk"]] = (row["death_day"], last)
    return facts


#: The SAE criteria (ICH E2A; CDISC AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE) as the fields' verbose names
#: and the exports word them, in English; the pages translate them (``AdverseEvent.sae_criteria_for_reader``).
#: AEOUT values of an event that has ended (it has a resolution date, AEENDTC) and of one still going on (it has
#: none); Fatal and Unknown go either way. CDISC codelist OUT; CDASH IG v2.1 AE (AEOUT, AEENDAT).
ENDED_OUTCOMES = ("RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE")
ONGOING_OUTCOMES = ("NOT RECOVERED/NOT RESOLVED", "RECOVERING/RESOLVING")

SAE_CRITERION_TEXTS = {
    "sae_death": gettext_noop("results in death"),
    "sae_life_threatening": gettext_noop("life-threatening"),
    "sae_hospitalization": gettext_noop("requires or prolongs hospitalisation"),
    "sae_disability": gettext_noop("persistent or significant disability"),
    "sae_congenital_anomaly": gettext_noop("congenital anomaly"),
    "sae_medically_important": gettext_noop("other medically important event"),
}


@tracked
class AdverseEvent(CheckConstraintsInOneQuery, LoadedRelationsNotRequeried, models.Model):
    """One CTCAE-graded adverse event of a patient in a treatment cycle (SDTM AE record)."""

    class Relatedness(models.TextChoices):  # AEREL
        NOT_RELATED = "not_related", _("Not related")
        UNLIKELY = "unlikely", _("Unlikely related")
        POSSIBLE = "possible", _("Possibly related")
        PROBABLE = "probable", _("Probably related")
        DEFINITE = "definite", _("Definitely related")

    class Action(models.TextChoices):  # AEACN, CDISC codelist ACN
        DOSE_NOT_CHANGED = "DOSE NOT CHANGED", _("Dose not changed")
        DOSE_REDUCED = "DOSE REDUCED", _("Dose reduced")
        DRUG_INTERRUPTED = "DRUG INTERRUPTED", _("Infusion interrupted")
        DRUG_WITHDRAWN = "DRUG WITHDRAWN", _("Blinatumomab permanently stopped")
        NOT_APPLICABLE = "NOT APPLICABLE", _("Not applicable")
        UNKNOWN = "UNKNOWN", _("Unknown")

    class Outcome(models.TextChoices):  # AEOUT, CDISC codelist OUT
        RECOVERED = "RECOVERED/RESOLVED", _("Recovered/resolved")
        RECOVERING = "RECOVERING/RESOLVING", _("Recovering/resolving")
        NOT_RECOVERED = "NOT RECOVERED/NOT RESOLVED", _("Not recovered/not resolved")
        SEQUELAE = "RECOVERED/RESOLVED WITH SEQUELAE", _("Recovered with sequelae")
        FATAL = "FATAL", _("Fatal")
        UNKNOWN = "UNKNOWN", _("Unknown")

    class Origin(models.TextChoices):
        ENTERED = "entered", _("Entered by hand")
        CRS_ASSESSMENT = "crs_assessment", _("CRS bedside assessments")
        ICANS_ASSESSMENT = "icans_assessment", _("ICANS bedside assessments")
        LAB = "lab", _("Graded lab results")

    class GradingScale(models.TextChoices):
        CTCAE_V5 = "ctcae_v5_0", "CTCAE v5.0"
        CTCAE_V403 = "ctcae_v4_03", "CTCAE v4.03"
        ASTCT_2019 = "astct_2019", "ASTCT 2019 consensus (CRS/ICANS)"
        LEE_2014 = "lee_2014", "Lee 2014 (CRS)"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events")
    cycle = models.ForeignKey(TreatmentCycle, on_delete=models.PROTECT, related_name="adverse_events")
    term = models.ForeignKey(CTCAETerm, on_delete=models.PROTECT, related_name="adverse_events",
                             verbose_name="CTCAE term")
    grade = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    verbatim_term = models.CharField(
        "reported term (verbatim)", max_length=200, blank=True,
        help_text="The event in the reporter's words (SDTM AETERM); required under an \"Other, specify\" CTCAE term "
                  "(it names the event) and compared there to tell events apart.")
    grading_scale = models.CharField(max_length=20, choices=GradingScale.choices, default=GradingScale.CTCAE_V5)
    onset_date = models.DateField()
    resolution_date = models.DateField(null=True, blank=True)
    present_before_cycle = models.BooleanField(
        default=False, help_text="Already present when the cycle started (not treatment-emergent unless it worsens).")
    grade_at_cycle_start = models.PositiveSmallIntegerField(
        "grade when the cycle started", null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="For an event present before the cycle: its grade at the cycle start (a higher grade since is a "
                  "worsening, which makes it treatment-emergent).")
    after_cycle_follow_up = models.BooleanField(
        "onset in follow-up after the cycle", default=False,
        help_text="Onset later than the cycle's end plus the follow-up window: recorded with a reason, not "
                  "treatment-emergent.")
    follow_up_reason = models.TextField("why it is recorded after the cycle's window", blank=True,
                                        max_length=MAX_REASON_CHARS)
    serious = models.BooleanField(default=False)
    sae_death = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_death"]), default=False)  # AESDTH
    sae_life_threatening = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_life_threatening"]), default=False)  # AESLIFE
    sae_hospitalization = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_hospitalization"]), default=False)  # AESHOSP
    sae_disability = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_disability"]), default=False)  # AESDISAB
    sae_congenital_anomaly = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_congenital_anomaly"]),
                                                 default=False)  # AESCONG
    sae_medically_important = models.BooleanField(_(SAE_CRITERION_TEXTS["sae_medically_important"]),
                                                  default=False)  # AESMIE
    relatedness = models.CharField("relatedness to blinatumomab", max_length=20, choices=Relatedness.choices)
    action_taken = models.CharField(max_length=20, choices=Action.choices)
    outcome = models.CharField(max_length=40, choices=Outcome.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: Incremented on every edit; an edit based on an older version is refused (no lost update).
    version = models.PositiveIntegerField(default=1)
    #: How the record began: entered by hand (AE form, API), or as the episode of bedside CRS/ICANS
    #: assessments or of graded lab results (then its grade is kept up to date from them).
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.ENTERED)
    #: The grade a person entered by hand (AE form, API), null when never entered: for an episode that is also
    #: graded from assessments or labs it is a floor (the episode's grade is the worst of all of them).
    entered_grade = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)])
    # Grade provenance for events graded from bedside assessments (CRS/ICANS episodes). ``grading_scale``
    # names the scale and its version (CTCAE v5.0 / v4.03, ASTCT 2019, Lee 2014); ``computed_grade`` is the
    # grade the published rule gives from the recorded criteria (the episode's maximum), null when the
    # grade was only entered by hand. A clinician's grade that differs needs ``grade_discrepancy_reason``
    # and stays a data-quality query for the site's safety officer until resolved.
    computed_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    computed_rationale = models.TextField(blank=True)
    grade_discrepancy_reason = models.TextField(
        "reason the grade differs from the computed grade", blank=True, max_length=MAX_REASON_CHARS,
        help_text="Required when your grade differs from the grade computed from the recorded criteria.")
    discrepancy_resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                                blank=True, related_name="+")
    discrepancy_resolved_at = models.DateTimeField(null=True, blank=True)
    discrepancy_resolution_comment = models.TextField(blank=True, max_length=MAX_REASON_CHARS)

    #: Set by a bulk caller (the importer) to (date of death, latest day of the patient's other records), read for
    #: its whole batch by :func:`patient_death_facts`, so that ``clean`` asks the database nothing per row; None:
    #: ``clean`` reads them itself (one query).
    death_facts: tuple[datetime.date | None, datetime.date | None] | None = None

    SAE_FIELDS = ("sae_death", "sae_life_threatening", "sae_hospitalization", "sae_disability",
                  "sae_congenital_anomaly", "sae_medically_important")

    class Meta:
        ordering = ["patient", "cycle__number", "onset_date", "id"]
        verbose_name = "adverse event"
        constraints = [
            models.CheckConstraint(condition=Q(grade__gte=1, grade__lte=5), name="ae_grade_1_5"),
            *(max_chars_constraint(f, prefix="ae") for f in (
                "follow_up_reason", "grade_discrepancy_reason", "discrepancy_resolution_comment")),
            models.CheckConstraint(
                condition=Q(resolution_date__isnull=True) | Q(resolution_date__gte=F("onset_date")),
                name="ae_resolution_not_before_onset",
                violation_error_message=_("Resolution cannot be before onset.")),
            models.CheckConstraint(condition=~Q(grade=5) | Q(outcome="FATAL"), name="ae_grade5_is_fatal",
                violation_error_message=_("Grade 5 means death related to the event: the outcome must be Fatal.")),
            # A death is always serious (ICH E2A "results in death"); "results in death" means the outcome is fatal.
            models.CheckConstraint(
                condition=~(Q(grade=5) | Q(outcome="FATAL")) | Q(serious=True, sae_death=True),
                name="ae_death_is_serious",
                violation_error_message=_("A death (grade 5 or outcome Fatal) is a serious adverse event that "
                                        "results in death: tick Serious and 'results in death'.")),
            models.CheckConstraint(condition=Q(sae_death=False) | Q(outcome="FATAL"), name="ae_sae_death_is_fatal",
                violation_error_message=_("'Results in death' means the outcome is Fatal.")),
            # CDASH/SDTM: AEENDTC is given once the event ended (AEOUT recovered/resolved, with or without sequelae)
            # and empty while it goes on; the episode rules read "no resolution date" as "still open".
            models.CheckConstraint(
                condition=~Q(outcome__in=ENDED_OUTCOMES) | Q(resolution_date__isnull=False),
                name="ae_ended_outcome_has_resolution_date",
                violation_error_message=_("An event that recovered or resolved has a resolution date.")),
            models.CheckConstraint(
                condition=~Q(outcome__in=ONGOING_OUTCOMES) | Q(resolution_date__isnull=True),
                name="ae_ongoing_outcome_has_no_resolution_date",
                violation_error_message=_("An event that has not recovered or is recovering has no resolution "
                                        "date.")),
            models.CheckConstraint(
                condition=Q(present_before_cycle=False, grade_at_cycle_start__isnull=True)
                | Q(present_before_cycle=True, grade_at_cycle_start__gte=1, grade_at_cycle_start__lte=5),
                name="ae_preexisting_has_start_grade",
                violation_error_message=_("An event present before the cycle needs its grade at the cycle start "
                                        "(and only such an event has one).")),
            models.CheckConstraint(
                condition=Q(after_cycle_follow_up=False, follow_up_reason="")
                | Q(after_cycle_follow_up=True) & ~Q(follow_up_reason=""),
                name="ae_follow_up_has_reason",
                violation_error_message=_("An event recorded after the cycle's window needs the reason.")),
            models.CheckConstraint(
                condition=Q(entered_grade__isnull=True) | Q(entered_grade__gte=1, entered_grade__lte=5),
                name="ae_entered_grade_1_5"),
            models.CheckConstraint(condition=Q(origin__in=["entered", "crs_assessment", "icans_assessment", "lab"]),
                                   name="ae_origin_known"),
            # Backstop against typing slips such as 9999 (the forms and the API check "not in the future"
            # against today's date; the trigger ae_dates_plausible checks it in the database).
            models.CheckConstraint(condition=Q(onset_date__gte=datetime.date(2000, 1, 1)), name="ae_onset_after_2000",
                                   violation_error_message=_("The onset date is not plausible.")),
            models.CheckConstraint(
                condition=Q(serious=False, sae_death=False, sae_life_threatening=False,
                            sae_hospitalization=False, sae_disability=False, sae_congenital_anomaly=False,
                            sae_medically_important=False)
                | Q(serious=True) & (Q(sae_death=True) | Q(sae_life_threatening=True)
                                     | Q(sae_hospitalization=True) | Q(sae_disability=True)
                                     | Q(sae_congenital_anomaly=True) | Q(sae_medically_important=True)),
                name="ae_serious_iff_sae_criterion",
                violation_error_message=_("A serious event needs at least one SAE criterion, and SAE criteria"
                                         " need the event marked serious.")),
            models.CheckConstraint(condition=Q(computed_grade__isnull=True) | Q(computed_grade__lte=5),
                                   name="ae_computed_grade_0_5"),
            models.CheckConstraint(
                condition=Q(computed_grade__isnull=True) | Q(computed_grade=F("grade"))
                | ~Q(grade_discrepancy_reason=""),
                name="ae_grade_discrepancy_has_reason",
                violation_error_message=_("A grade that differs from the computed grade needs its reason.")),
            models.CheckConstraint(
                condition=Q(discrepancy_resolved_at__isnull=True, discrepancy_resolved_by__isnull=True,
                            discrepancy_resolution_comment="")
                | Q(discrepancy_resolved_at__isnull=False, discrepancy_resolved_by__isnull=False)
                & ~Q(discrepancy_resolution_comment=""),
                name="ae_discrepancy_resolution_complete",
                violation_error_message=_("A resolved discrepancy needs who resolved it, when, and a comment.")),
        ]
        indexes = [models.Index(fields=["term", "grade"], name="ae_term_grade_idx"),
                   models.Index(fields=["cycle", "term"], condition=Q(resolution_date__isnull=True),
                                name="ae_open_episode_idx"),
                   # A ward's counts (benchmark, graded AE table) read only this index (index-only scan), so
                   # their cost follows the ward's events, not the registry's (docs/operations.md, "Scale").
                   models.Index(fields=["patient", "cycle", "term", "grade"], name="ae_site_scope_idx",
                                include=["id", "onset_date", "present_before_cycle", "grade_at_cycle_start",
                                         "after_cycle_follow_up", "grading_scale", "relatedness",
                                         "action_taken"]),
                   # The report's lists (issue 12): a ward's serious events, newest onset first, and its open
                   # data-quality queries (entered grade differs from the computed one, unresolved) — each read
                   # through its ward's patients from a partial index that holds only such events.
                   models.Index(fields=["patient", "-onset_date", "-id"], condition=Q(serious=True),
                                name="ae_serious_recent_idx"),
                   models.Index(fields=["patient", "onset_date", "id"], name="ae_discrepancy_open_idx",
                                condition=Q(computed_grade__isnull=False, discrepancy_resolved_at__isnull=True)
                                & ~Q(grade=F("computed_grade")))]
        triggers = [
            pgtrigger.Trigger(
                name="ae_onset_within_cycle",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                DECLARE cycle_start date;
                BEGIN
                    SELECT start_date INTO cycle_start FROM patients_treatmentcycle WHERE id = NEW.cycle_id;
                    IF NOT NEW.present_before_cycle AND NEW.onset_date < cycle_start THEN
                        RAISE EXCEPTION 'onset % is before the cycle start %', NEW.onset_date, cycle_start
                            USING ERRCODE = 'check_violation';
                    END IF;
                    IF NEW.present_before_cycle AND NEW.onset_date > cycle_start THEN
                        RAISE EXCEPTION 'an event present before the cycle cannot start after it (% > %)',
                            NEW.onset_date, cycle_start USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            # An "Other, specify" term names its event (CTCAE v5.0): checked when a row gets its term or reported
            # term, so rows saved before pvtrack required it still save other changes.
            pgtrigger.Trigger(
                name="ae_other_specify_named",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.term_id = NEW.term_id
                            AND OLD.verbatim_term IS NOT DISTINCT FROM NEW.verbatim_term THEN
                        RETURN NEW;
                    END IF;
                    IF btrim(coalesce(NEW.verbatim_term, '')) = ''
                            AND right((SELECT term FROM ae_ctcaeterm WHERE id = NEW.term_id), 17)
                                = ' - Other, specify' THEN
                        RAISE EXCEPTION 'an adverse event under an "Other, specify" term names its event (verbatim)'
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            # A death is the last day of the patient's record (AdverseEvent._death_errors says it in the reader's
            # words first): no event begins or resolves after another event's death, and a death is not dated before
            # anything else of the patient. Timestamps (lab values, assessments) are compared by their UTC day with
            # one day's slack for time zones, as ae_dates_plausible does; the services compare the site's day.
            # Without a lock on the patient two transactions committing at the same moment (a death and a later
            # event) can still both pass; the services' checks and this one see every committed row. An update that
            # leaves the dates (and a death's day) as they were is not checked, so that a row stored before the rule
            # still saves other changes (the form's and the API's clean() still ask for the dates to be corrected).
            pgtrigger.Trigger(
                name="ae_not_after_death",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                DECLARE died date;
                BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.patient_id = NEW.patient_id AND OLD.onset_date = NEW.onset_date
                            AND OLD.resolution_date IS NOT DISTINCT FROM NEW.resolution_date THEN
                        RETURN NEW;  -- dates unchanged: a row stored before this rule still saves other changes
                    END IF;
                    SELECT min(coalesce(resolution_date, onset_date)) INTO died FROM ae_adverseevent
                        WHERE patient_id = NEW.patient_id AND outcome = 'FATAL' AND id <> NEW.id;
                    IF died IS NOT NULL AND (NEW.onset_date > died OR NEW.resolution_date > died) THEN
                        RAISE EXCEPTION 'an adverse event cannot begin or resolve after the patient''s death (%)',
                            died USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            pgtrigger.Trigger(
                name="ae_death_is_last",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                condition=pgtrigger.Q(new__outcome="FATAL"),
                func="""
                DECLARE died date := coalesce(NEW.resolution_date, NEW.onset_date);
                BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.outcome = 'FATAL' AND OLD.patient_id = NEW.patient_id
                            AND OLD.onset_date = NEW.onset_date
                            AND OLD.resolution_date IS NOT DISTINCT FROM NEW.resolution_date THEN
                        RETURN NEW;  -- the same death on the same day: checked when it was dated
                    END IF;
                    IF EXISTS (SELECT 1 FROM ae_adverseevent WHERE patient_id = NEW.patient_id AND id <> NEW.id
                                   AND (onset_date > died OR resolution_date > died))
                       OR EXISTS (SELECT 1 FROM patients_treatmentcycle
                                      WHERE patient_id = NEW.patient_id AND start_date > died)
                       OR EXISTS (SELECT 1 FROM ae_labresult WHERE patient_id = NEW.patient_id
                                      AND (collected_at AT TIME ZONE 'UTC')::date > died + 1)
                       OR EXISTS (SELECT 1 FROM ae_crsassessment a JOIN ae_adverseevent e ON e.id = a.adverse_event_id
                                      WHERE e.patient_id = NEW.patient_id
                                        AND (a.assessed_at AT TIME ZONE 'UTC')::date > died + 1)
                       OR EXISTS (SELECT 1 FROM ae_icansassessment a JOIN ae_adverseevent e
                                          ON e.id = a.adverse_event_id
                                      WHERE e.patient_id = NEW.patient_id
                                        AND (a.assessed_at AT TIME ZONE 'UTC')::date > died + 1)
                       OR EXISTS (SELECT 1 FROM ae_eventtreatment t JOIN ae_adverseevent e
                                          ON e.id = t.adverse_event_id
                                      WHERE e.patient_id = NEW.patient_id
                                        AND (t.given_at AT TIME ZONE 'UTC')::date > died + 1) THEN
                        RAISE EXCEPTION 'the patient''s record goes on after this death (%)', died
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            # Dates a reviewer would reject: in the future (server date + 1 day for time zones ahead of UTC) or
            # before the patient was born (birth month).
            pgtrigger.Trigger(
                name="ae_dates_plausible",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                DECLARE born date;
                BEGIN
                    IF NEW.onset_date > CURRENT_DATE + 1 OR NEW.resolution_date > CURRENT_DATE + 1 THEN
                        RAISE EXCEPTION 'adverse event dates cannot be in the future (onset %, resolution %)',
                            NEW.onset_date, NEW.resolution_date USING ERRCODE = 'check_violation';
                    END IF;
                    SELECT birth_month INTO born FROM patients_patient WHERE id = NEW.patient_id;
                    IF NEW.onset_date < born THEN
                        RAISE EXCEPTION 'onset % is before the birth month %', NEW.onset_date, born
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} C{self.cycle.number}: {self.term} G{self.grade}"

    def clean(self) -> None:
        """Check the rules the database enforces, with messages a ward nurse can act on.

        Raises ValidationError keyed by field; the database constraints and triggers named in the
        module docstring refuse the same data if this is bypassed.
        """
        errors: dict[str, str] = {}
        term = self.term if self.term_id else None
        cycle = self.cycle if self.cycle_id else None
        if term is not None and self.grade is not None:
            allowed = term.allowed_grades
            if self.grade not in allowed:
                errors["grade"] = gettext("%(term)s has no grade %(grade)s in CTCAE v5.0; allowed grades: "
                                          "%(allowed)s.") % {"term": term.term, "grade": self.grade,
                                                             "allowed": ", ".join(map(str, allowed))}
        if term is not None and term.is_other_specify and not (self.verbatim_term or "").strip():
            errors["verbatim_term"] = gettext(
                "Say what the event was in “Reported term (verbatim)”: “%(term)s” is only for an "
                "event CTCAE v5.0 has no term of its own for.") % {"term": term.term}
        if cycle is not None and self.patient_id is not None and cycle.patient_id != self.patient_id:
            errors["cycle"] = gettext("This cycle belongs to another patient.")
        if cycle is not None and self.onset_date is not None:
            if not self.present_before_cycle and self.onset_date < cycle.start_date:
                errors["onset_date"] = gettext(
                    "Onset %(onset)s is before cycle %(cycle)s started (%(start)s). If the event was already present, "
                    "tick 'present before cycle'.") % {"onset": _day(self.onset_date), "cycle": cycle.number,
                                                       "start": _day(cycle.start_date)}
            elif self.present_before_cycle and self.onset_date > cycle.start_date:
                errors["onset_date"] = gettext("An event present before the cycle must have begun on or before "
                                               "%(start)s.") % {"start": _day(cycle.start_date)}
        if self.resolution_date and self.onset_date and self.resolution_date < self.onset_date:
            errors["resolution_date"] = gettext("Resolution cannot be before onset.")
        errors |= self._outcome_errors(errors)
        errors |= self._date_errors(cycle)
        errors |= self._death_errors(errors)
        if self.present_before_cycle and self.grade_at_cycle_start is None:
            errors["grade_at_cycle_start"] = gettext("Give the event's grade when the cycle started (a higher grade "
                                                     "since is a worsening, which makes it treatment-emergent).")
        elif self.grade_at_cycle_start is not None and not self.present_before_cycle:
            errors["grade_at_cycle_start"] = gettext("Only an event present before the cycle has a grade at the "
                                                     "cycle start.")
        elif (term is not None and self.grade_at_cycle_start is not None
              and self.grade_at_cycle_start not in term.allowed_grades):
            errors["grade_at_cycle_start"] = gettext("%(term)s has no grade %(grade)s in CTCAE v5.0.") % {
                "term": term.term, "grade": self.grade_at_cycle_start}
        if self.after_cycle_follow_up and not self.follow_up_reason.strip():
            errors["follow_up_reason"] = gettext("Give the reason this event is recorded after the cycle's window.")
        if (self.computed_grade is not None and self.grade is not None and self.grade != self.computed_grade
                and not self.grade_discrepancy_reason.strip()):
            errors["grade_discrepancy_reason"] = gettext(
                "Your grade %(grade)s differs from the computed grade %(computed)s (%(rationale)s): give the "
                "reason.") % {"grade": self.grade, "computed": self.computed_grade,
                              "rationale": as_clause(self.computed_rationale)
                              or gettext("from the recorded criteria")}
        if self.grade == 5 and self.outcome != self.Outcome.FATAL:
            errors["outcome"] = gettext("Grade 5 means death related to the event: the outcome must be Fatal.")
        elif self.is_death and not (self.serious and self.sae_death):
            errors["serious"] = gettext("A death (grade 5 or outcome Fatal) is a serious adverse event: tick "
                                        "Serious and 'results in death'.")
        elif self.sae_death and self.outcome != self.Outcome.FATAL:
            errors["outcome"] = gettext("'Results in death' is ticked: the outcome must be Fatal.")
        criteria = any(getattr(self, f) for f in self.SAE_FIELDS)
        if self.serious and not criteria:
            errors["serious"] = gettext("A serious event needs at least one SAE criterion.")
        elif criteria and not self.serious:
            errors["serious"] = gettext("SAE criteria are ticked: mark the event as serious, or untick them.")
        if errors:
            raise ValidationError(errors)

    def _outcome_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """The outcome against the resolution date (CDASH AEOUT/AEENDTC; the constraints
        ``ae_ended_outcome_has_resolution_date`` and ``ae_ongoing_outcome_has_no_resolution_date``): an event that
        recovered or resolved needs its resolution date; one that has not (yet) cannot have one."""
        out = self.Outcome
        labels = {"recovered": out.RECOVERED.label, "sequelae": out.SEQUELAE.label,
                  "recovering": out.RECOVERING.label, "not_recovered": out.NOT_RECOVERED.label}
        if self.outcome in ENDED_OUTCOMES and self.resolution_date is None and "resolution_date" not in errors:
            return {"resolution_date": gettext(
                "The outcome is '%(outcome)s': give the resolution date. If the event is still going on, choose "
                "'%(recovering)s' or '%(not_recovered)s'.") % (labels | {"outcome": out(self.outcome).label})}
        if self.outcome in ONGOING_OUTCOMES and self.resolution_date is not None:
            return {"outcome": gettext(
                "The event resolved on %(day)s: choose '%(recovered)s' or '%(sequelae)s' (or Fatal), or clear the "
                "resolution date if it is still going on.") % (labels | {"day": _day(self.resolution_date)})}
        return {}

    def _death_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """A death is the last day of the patient's record (:meth:`patients.models.Patient.death_date`; database
        triggers ``ae_not_after_death`` and ``ae_death_is_last``): this event cannot begin or resolve after another
        event's death, and a death cannot be dated before anything else of the patient (an event's onset or
        resolution, a lab value, a bedside assessment, a treatment, a cycle start). Found in a browser walk (1 Dec
        2026): after a fatal sepsis ending 28 Nov, a fever of 30 Nov, a lab value and a CRS assessment of 30 Nov and
        a cycle starting 1 Dec were all saved."""
        if self.patient_id is None or self.onset_date is None:
            return {}
        fatal = self.outcome == self.Outcome.FATAL
        died, last = (self.death_facts if self.death_facts is not None else
                      patient_death_facts([self.patient_id], excluding_event=self.pk, with_last=fatal).get(
                          self.patient_id, (None, None)))
        if died is not None:
            if self.onset_date > died and "onset_date" not in errors:
                return {"onset_date": gettext(
                    "The patient died on %(died)s (an adverse event with outcome Fatal): an event cannot begin after "
                    "that. Check this date, or the date of the death.") % {"died": _day(died)}}
            if self.resolution_date is not None and self.resolution_date > died and "resolution_date" not in errors:
                return {"resolution_date": gettext(
                    "The patient died on %(died)s: an event cannot resolve after that. An event still going on at "
                    "the death has no resolution date (outcome '%(not_recovered)s', or Fatal if it led to the "
                    "death).") % {"died": _day(died), "not_recovered": self.Outcome.NOT_RECOVERED.label}}
        if not fatal:
            return {}
        field = "resolution_date" if self.resolution_date is not None else "onset_date"
        day = self.resolution_date or self.onset_date
        if last is None or last <= day or field in errors:
            return {}
        later = self._records_after(day) or [_day(last)]  # the detail is read only on this error's path
        return {field: gettext(
            "The patient's record goes on after %(died)s, the date of this death: %(later)s. A death is the last "
            "day of the record: check its date, or correct those records first.") % {
                "died": _day(day), "later": "; ".join(later)}}

    def _records_after(self, day: datetime.date, limit: int = 3) -> list[str]:
        """What of this patient is dated after ``day`` (site time zone), described for the reader, at most
        ``limit`` of each kind: events beginning or resolving, lab values, bedside assessments, treatments given,
        cycle starts."""
        from ae.models.assessments import CRSAssessment, ICANSAssessment
        from ae.models.labs import LabResult
        from ae.models.treatments import EventTreatment

        next_midnight = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1),
                                                                      datetime.time.min))
        later: list[str] = []
        events = (AdverseEvent.objects.filter(patient_id=self.patient_id)
                  .filter(Q(onset_date__gt=day) | Q(resolution_date__gt=day)).select_related("term")
                  .order_by("onset_date", "id"))
        if self.pk:
            events = events.exclude(pk=self.pk)
        for event in events[:limit]:
            later.append(gettext("%(term)s from %(onset)s") % {"term": event.term.term, "onset": _day(event.onset_date)}
                         if event.onset_date > day else gettext("%(term)s resolved %(end)s") % {
                             "term": event.term.term, "end": _day(event.resolution_date or day)})
        for result in (LabResult.objects.filter(patient_id=self.patient_id, collected_at__gte=next_midnight)
                       .order_by("collected_at", "id")[:limit]):
            later.append(gettext("a lab value of %(date)s") % {
                "date": _day(timezone.localtime(result.collected_at).date())})
        for model, label in ((CRSAssessment, "CRS"), (ICANSAssessment, "ICANS")):
            for assessment in (model.objects.filter(adverse_event__patient_id=self.patient_id,
                                                    assessed_at__gte=next_midnight)
                               .order_by("assessed_at", "id")[:limit]):
                later.append(gettext("a %(kind)s assessment of %(date)s") % {
                    "kind": label, "date": _day(timezone.localtime(assessment.assessed_at).date())})
        for treatment in (EventTreatment.objects.filter(adverse_event__patient_id=self.patient_id,
                                                        given_at__gte=next_midnight)
                          .order_by("given_at", "id")[:limit]):
            later.append(gettext("a treatment given on %(date)s") % {
                "date": _day(timezone.localtime(treatment.given_at).date())})
        for cycle in TreatmentCycle.objects.filter(patient_id=self.patient_id, start_date__gt=day).order_by(
                "start_date")[:limit]:
            later.append(gettext("cycle %(number)s starting %(start)s") % {"number": cycle.number,
                                                                             "start": _day(cycle.start_date)})
        return later

    def _date_errors(self, cycle: TreatmentCycle | None) -> dict[str, str]:
        """Dates a pharmacovigilance reviewer would reject: in the future (site time zone), before the birth
        month, or later than the cycle's end plus the follow-up window without being recorded as follow-up."""
        errors: dict[str, str] = {}
        today = timezone.localdate()
        for field in ("onset_date", "resolution_date"):
            value = getattr(self, field)
            if value is not None and value > today:
                errors[field] = gettext("%(day)s is in the future (today is %(today)s).") % {
                    "day": _day(value), "today": _day(today)}
        born = self.patient.birth_month if self.patient_id else None
        if born is not None and self.onset_date is not None and self.onset_date < born:
            errors.setdefault("onset_date", gettext("%(onset)s is before the patient was born (%(born)s).") % {
                "onset": _day(self.onset_date), "born": date_format(born, "M Y")})
        window_end = cycle.window_end if cycle is not None else None
        if (window_end is not None and self.onset_date is not None and self.onset_date > window_end
                and not self.after_cycle_follow_up and "onset_date" not in errors):
            assert cycle is not None and cycle.end_date is not None
            errors["onset_date"] = gettext(
                "Onset %(onset)s is more than %(days)s days after cycle %(cycle)s ended (%(end)s): record it in the "
                "cycle running then, or tick 'onset in follow-up after the cycle' and give the reason.") % {
                "onset": _day(self.onset_date), "days": settings.PVTRACK_FOLLOW_UP_DAYS, "cycle": cycle.number,
                "end": _day(cycle.end_date)}
        return errors

    @property
    def onset_cycle_day(self) -> int:
        """Day of the cycle on which the event began; day 1 is the cycle start (ADaM ASTDY convention)."""
        return (self.onset_date - self.cycle.start_date).days + 1

    @property
    def is_death(self) -> bool:
        """Grade 5 or outcome Fatal."""
        return self.grade == 5 or self.outcome == self.Outcome.FATAL

    @property
    def grade_discrepancy_open(self) -> bool:
        """The entered grade differs from the computed grade and no reviewer has resolved the query yet."""
        return (self.computed_grade is not None and self.grade != self.computed_grade
                and self.discrepancy_resolved_at is None)

    @property
    def sae_criteria(self) -> list[str]:
        """The SAE criteria ticked, in English whatever the active language (the exports and the notices' stored
        parameters write them so): ["results in death", …] (ICH E2A wording, :data:`SAE_CRITERION_TEXTS`)."""
        return [SAE_CRITERION_TEXTS[f] for f in self.SAE_FIELDS if getattr(self, f)]

    @property
    def sae_criteria_for_reader(self) -> list[str]:
        """The SAE criteria ticked in the reader's (active) language, for the pages."""
        return [gettext(SAE_CRITERION_TEXTS[f]) for f in self.SAE_FIELDS if getattr(self, f)]


class AdverseEventRevision(models.Model):
    """Append-only record of an edit to an adverse event: who, when, why, and each field's old → new."""

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField(help_text="The event's version after this edit.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(max_length=MAX_REASON_CHARS)
    changes = models.JSONField(help_text='{"field": ["old", "new"], ...}')

    class Meta:
        ordering = ["adverse_event", "version"]
        constraints = [
            models.UniqueConstraint(fields=["adverse_event", "version"], name="aerevision_one_per_version"),
            models.CheckConstraint(condition=~Q(reason=""), name="aerevision_reason_required"),
            max_chars_constraint("reason", prefix="aerevision"),
        ]
        triggers = [pgtrigger.Protect(name="aerevision_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.adverse_event_id} v{self.version}"


def first_dose_date() -> Subquery:
    """The start of the patient's first treatment cycle (ADaM TRTSDT), as a subquery over an AE's patient."""
    return Subquery(TreatmentCycle.objects.filter(patient=OuterRef("patient")).order_by("start_date")
                    .values("start_date")[:1])


def treatment_emergent_q() -> Q:
    """ADaM TRTEMFL of an adverse event, as a filter: THE definition used by the benchmark, exports and API.

    Treatment-emergent (admiral ``derive_var_trtemfl``; CDISC ADaM ADAE) means: not recorded as after-cycle
    follow-up (onset later than the cycle's end plus the follow-up window), inside the emergence window, and either
    (a) began during the cycle it is recorded in (not present before the cycle started), or
    (b) began after the patient's first dose (first cycle start) — present before this cycle but arisen during
        an earlier cycle or the interval between cycles, or
    (c) present before the cycle and worsened: its grade is above its grade at the cycle start.

    The emergence window runs from the first dose to whichever comes first (admiral ``end_window``;
    ICH E9 treatment-emergent period):

    * ``settings.PVTRACK_EMERGENCE_DAYS`` (default 30) days after the last infusion day of the event's cycle
      (its end date; no bound while the cycle has none) — onset on that day still counts;
    * the start of the patient's next therapy (:class:`patients.treatment.NextTherapy`: HSCT conditioning, CAR-T
      lymphodepletion, chemotherapy) after the cycle started — an onset on or after that day does not count
      (an event after HSCT is the transplant's, not blinatumomab's; Xie et al. 2023 report post-HSCT events apart).
    """
    window_days = datetime.timedelta(days=settings.PVTRACK_EMERGENCE_DAYS)
    next_therapy_started = Exists(NextTherapy.objects.filter(
        patient=OuterRef("patient"), start_date__gt=OuterRef("cycle__start_date"),
        start_date__lte=OuterRef("onset_date")))
    in_window = ((Q(cycle__end_date__isnull=True) | Q(onset_date__lte=F("cycle__end_date") + window_days))
                 & ~Q(next_therapy_started))
    return Q(after_cycle_follow_up=False) & in_window & (
        Q(present_before_cycle=False) | Q(onset_date__gt=first_dose_date())
        | Q(grade__gt=F("grade_at_cycle_start")))
