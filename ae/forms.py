"""The ward's adverse-event form: quick to fill, every error next to its field, nothing typed is lost."""

from __future__ import annotations

import datetime
import json
from typing import Any, cast

from django import forms
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ae import bedside_labels, grading, lab_proposal, lab_units, selectors, synonyms
from ae.analyte_labels import analyte_choices
from ae.models import AdverseEvent, CTCAETerm, ReferenceRange
from ae.models.reference_ranges import sex_words
from core.forms import DecimalTextMixin, date_input, decimal_text_fields
from core.numbers import reader_numbers
from core.text import MAX_REASON_CHARS, as_clause
from patients.models import Patient, TreatmentCycle


def _day(day: Any) -> str:
    """A date as the pages show it ("03 Aug 2025", "03 Sie 2025"), in the active language."""
    return date_format(day, "d M Y")


def _fever_term_mismatch(result: grading.Grade, typed_term: str, anc: Any) -> str:
    """The AE form's refusal of a fever term the recent ANC contradicts, in the active language: "Febrile
    neutropenia by CTCAE v5.0, not Fever (ANC 0.5 ×10⁹/L of 08 Jan 2026 10:00): <rationale>". The CTCAE terms stay
    in NCI's English; ``result`` is the fever rule's grade built for the reader
    (``ae.grading.grade_fever_episode(translate=gettext)``), its rationale quoted as it is; decimal numbers in the
    language's convention (``ae.rationale_text.reader_numbers``: "0,5 ×10⁹/L", "38,5 °C").
    ``anc`` is the recent ANC (a LabResult) or None."""
    anc_text = (gettext("no ANC recorded on the onset day or the two days before") if anc is None else
                gettext("ANC %(value)s %(unit)s of %(at)s") % {
                    "value": lab_units.number(anc.value), "unit": lab_units.unit_label(anc.unit),
                    "at": date_format(timezone.localtime(anc.collected_at), "d M Y H:i")})
    return reader_numbers(gettext("%(computed)s by CTCAE v5.0, not %(typed)s (%(anc)s): %(rationale)s") % {
        "computed": result.ctcae_term, "typed": typed_term, "anc": anc_text, "rationale": result.rationale})


def _cycle_label(cycle: TreatmentCycle) -> str:
    return gettext("Cycle %(number)s (started %(start)s)") % {"number": cycle.number, "start": _day(cycle.start_date)}


def _episode_label(event: AdverseEvent) -> str:
    """An episode offered to an assessment, e.g. "Ongoing episode from 03 Aug 2025 (cycle 1, grade 2)"."""
    params = {"onset": _day(event.onset_date), "cycle": event.cycle.number, "grade": event.grade}
    if event.resolution_date is None:
        return gettext("Ongoing episode from %(onset)s (cycle %(cycle)s, grade %(grade)s)") % params
    return gettext("Resolved episode from %(onset)s (cycle %(cycle)s, grade %(grade)s, resolved %(resolved)s)") % {
        **params, "resolved": _day(event.resolution_date)}


def limit_to_cycles_of(field: forms.Field, patient: Patient, *, empty_label: str | None = None) -> None:
    """Offer only ``patient``'s cycles (latest first, labelled "Cycle 2 (started 03 Aug 2025)") in a cycle field.

    ``empty_label`` None: no empty choice (a cycle must be picked when the field is shown).
    """
    cycles = cast(forms.ModelChoiceField, field)
    cycles.queryset = TreatmentCycle.objects.filter(patient=patient).order_by("-number")
    cycles.empty_label = empty_label
    cycles.label_from_instance = _cycle_label  # type: ignore[method-assign,assignment]


def _with_grades(terms: QuerySet[CTCAETerm]) -> QuerySet[CTCAETerm]:
    """``terms`` with their allowed grades read in the same query (``CTCAETerm.allowed_grades`` uses them)."""
    return terms.annotate(grades_defined=ArrayAgg("grades__grade", order_by="grades__grade", default=[]))


class TermField(forms.CharField):
    """A CTCAE v5.0 term typed or picked by name, or a ward synonym of exactly one term (``plt``, ``CRS``);
    cleans to the CTCAETerm. A synonym of several terms (``neutropenia``) is refused with the choices."""

    def to_python(self, value: str | None) -> CTCAETerm | None:  # type: ignore[override]
        value = " ".join((value or "").split())
        if not value:
            return None
        if "\x00" in value:  # PostgreSQL refuses NUL in text: answer as for any unknown word, not with a 500
            raise forms.ValidationError("This is not a CTCAE v5.0 term. Start typing and pick one from the list.")
        term = _with_grades(CTCAETerm.objects.filter(term__iexact=value)).first()
        if term is not None:
            return term
        matches = synonyms.synonym_matches(value)
        if len(matches) == 1:
            return _with_grades(CTCAETerm.objects.all()).get(pk=matches[0].term_id)
        if matches:
            notes = " ".join(dict.fromkeys(m.note for m in matches if m.note))
            raise forms.ValidationError(
                f"“{value}” can mean several CTCAE v5.0 terms: {', '.join(m.term.term for m in matches)}. "
                f"Type or pick the one you mean.{' ' + notes if notes else ''}")
        raise forms.ValidationError(f"“{value}” is not a CTCAE v5.0 term. Start typing and pick one from the list.")

    def prepare_value(self, value: object) -> object:
        if isinstance(value, int):
            term = CTCAETerm.objects.filter(pk=value).first()
            return term.term if term else value
        return str(value) if isinstance(value, CTCAETerm) else value


def _no_constraint_validation(exclude: Any = None) -> None:
    """Stands in for ``Model.validate_constraints`` while a form validates what a service validates again."""


class AdverseEventForm(forms.ModelForm):
    """Record or edit one adverse event of a patient; the cycle list is limited to that patient's cycles."""

    term = TermField(label=_("CTCAE term"), help_text=_("Type to search the 837 CTCAE v5.0 terms, or a ward word or "
                                                        "abbreviation (e.g. plt, CRS, ANC, hypokalaemia)."))
    grade = forms.TypedChoiceField(label=_("Grade"), coerce=int, choices=[(g, f"Grade {g}") for g in range(1, 6)],
                                   widget=forms.RadioSelect)  # "Grade n": CTCAE's grade, in NCI's English
    grade_at_cycle_start = forms.TypedChoiceField(
        label=_("Grade when the cycle started"), required=False, coerce=int, empty_value=None,
        choices=[("", "—")] + [(g, f"Grade {g}") for g in range(1, 6)],
        help_text=_("Only for an event present before the cycle: a higher grade since then is a worsening "
                    "(treatment-emergent)."))

    class Meta:
        model = AdverseEvent
        fields = ["cycle", "term", "grade", "onset_date", "resolution_date", "present_before_cycle",
                  "grade_at_cycle_start", "after_cycle_follow_up", "follow_up_reason",
                  "relatedness", "action_taken", "outcome", "serious", *AdverseEvent.SAE_FIELDS,
                  "grading_scale", "verbatim_term", "grade_discrepancy_reason"]
        # The model's names, marked for translation here (the model's own stay as the database's documentation).
        labels = {
            "cycle": _("Cycle"), "onset_date": _("Onset date"), "resolution_date": _("Resolution date"),
            "present_before_cycle": _("Present before cycle"), "after_cycle_follow_up": _("Onset in follow-up after "
                                                                                          "the cycle"),
            "follow_up_reason": _("Why it is recorded after the cycle's window"),
            "relatedness": _("Relatedness to blinatumomab"), "action_taken": _("Action taken"), "outcome": _("Outcome"),
            "serious": _("Serious"), "sae_death": _("Results in death"), "sae_life_threatening": _("Life-threatening"),
            "sae_hospitalization": _("Requires or prolongs hospitalisation"),
            "sae_disability": _("Persistent or significant disability"),
            "sae_congenital_anomaly": _("Congenital anomaly"),
            "sae_medically_important": _("Other medically important event"), "grading_scale": _("Grading scale"),
            "verbatim_term": _("Reported term (verbatim)"),
            "grade_discrepancy_reason": _("Reason the grade differs from the computed grade"),
        }
        help_texts = {
            "present_before_cycle": _("Already present when the cycle started (not treatment-emergent unless it "
                                      "worsens)."),
            "after_cycle_follow_up": _("Onset later than the cycle's end plus the follow-up window: recorded with a "
                                       "reason, not treatment-emergent."),
            "grade_discrepancy_reason": _("Required when your grade differs from the grade computed from the recorded "
                                          "criteria."),
            "verbatim_term": _("The event in your words. Required with an “Other, specify” term: it says "
                               "what the event was."),
        }
        widgets = {
            "onset_date": date_input(),
            "resolution_date": date_input(),
            "follow_up_reason": forms.Textarea(attrs={"rows": 2, "maxlength": MAX_REASON_CHARS}),
        }

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.patient = patient
        self.existing: AdverseEvent | None = None
        if self.is_bound and "confirm_separate" in self.data:  # the nurse saw the duplicate warning and confirmed
            self.fields["confirm_separate"] = forms.BooleanField(
                label=_("This is a separate event: save it anyway"), required=False)
        limit_to_cycles_of(self.fields["cycle"], patient)
        self.fields["term"].widget.attrs.update({"list": "ctcae-terms", "autocomplete": "off",
                                                 "data-term-picker": "1", "autofocus": True})
        if self.instance.pk is None:  # a new event: Fever / Febrile neutropenia are graded from these
            self.fields["temperature_c"] = forms.DecimalField(
                label=_("Highest temperature (°C)"), required=False, max_digits=3, decimal_places=1, min_value=25,
                max_value=45, widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
                help_text=_("For Fever and Febrile neutropenia: the grade is computed (CTCAE v5.0), and checked "
                            "against the patient's ANC of the onset day or the two days before."))
            self.fields["hours_above_40"] = forms.DecimalField(
                label=_("Hours above 40.0 °C"), required=False, min_value=0, max_digits=5, decimal_places=1,
                help_text=_("Fever above 40.0 °C: grade 3 for 24 h or less, grade 4 beyond."))
            self.fields["sustained_38_over_1h"] = forms.NullBooleanField(
                label=_("38.0 °C or more for over an hour"), required=False,
                help_text=_("Febrile neutropenia with a single temperature of 38.0-38.3 °C."))
        self.computed: dict[str, Any] = {}
        if self.instance.pk is None:  # a new event: Fever/FN and the lab terms are graded when it is saved
            # read only when the page is rendered (a valid POST redirects without it): static/ae_form.js
            self.fields["term"].widget.attrs["data-lab-proposals"] = lazy(lambda: json.dumps(
                lab_proposal.lab_proposal_entries(selectors.graded_lab_values_of(patient)), ensure_ascii=False), str)()
            self.fields["grade_discrepancy_reason"].help_text = _(
                "Only for Fever, Febrile neutropenia and the terms a lab value grades (e.g. Platelet count decreased, "
                "Hypokalemia): required when your grade differs from the grade computed from the temperature or from "
                "the patient's values of that analyte between the onset and the resolution (today while ongoing). "
                "No lab value in those days (and no temperature): no computed grade, nothing required.")
        elif self.instance.computed_grade is None:  # only computed grades need the reason
            del self.fields["grade_discrepancy_reason"]
        else:
            self.fields["grade"].help_text = gettext("Computed: grade %(grade)s — %(rationale)s") % {
                "grade": self.instance.computed_grade, "rationale": self.instance.computed_rationale}
        decimal_text_fields(self)  # typed decimals as the reader writes them (core.forms)

    def _post_clean(self) -> None:
        """Django's model validation of the form's instance, without the check constraints for a new event: the
        service validates them once on the event it saves (``adverse_event_create``, which also carries the computed
        grade this instance lacks), and the view shows its errors on this form. An edit keeps Django's."""
        if self.instance.pk is not None:
            super()._post_clean()  # type: ignore[misc]  # Django's ModelForm hook (not in the stubs)
            return
        self.instance.validate_constraints = _no_constraint_validation
        try:
            super()._post_clean()  # type: ignore[misc]
        finally:
            del self.instance.validate_constraints

    def offer_confirmation(self, existing: AdverseEvent, message: str) -> None:
        """Show ``message`` about the event this one may duplicate and add the box that confirms it is separate."""
        self.fields["confirm_separate"] = forms.BooleanField(
            label=_("This is a separate event: save it anyway"), required=False)
        self.existing = existing
        self.add_error(None, message)

    def clean(self) -> dict[str, Any]:
        """A term given by a ward synonym keeps the synonym as the verbatim term, unless one was written. A death
        (grade 5 or outcome Fatal) is serious with "results in death": both are ticked here, and the nurse is told
        (``self.derived``), as the service would do anyway."""
        cleaned = super().clean() or {}
        self.derived: list[str] = []
        if cleaned.get("grade") == 5 or cleaned.get("outcome") == AdverseEvent.Outcome.FATAL:
            if not (cleaned.get("serious") and cleaned.get("sae_death")):
                self.derived.append("Serious and 'results in death' were ticked: a death (grade 5 or outcome "
                                    "Fatal) is always a serious adverse event.")
            cleaned["serious"], cleaned["sae_death"] = True, True
        if not cleaned.get("present_before_cycle"):
            cleaned["grade_at_cycle_start"] = None
        if not cleaned.get("after_cycle_follow_up"):
            cleaned["follow_up_reason"] = ""
        term = cleaned.get("term")
        if (term is not None and term.term in FEVER_TERMS and cleaned.get("temperature_c") is not None
                and self.instance.pk is None):  # a new event; an edit keeps the grade it has
            self._grade_fever(cleaned, term)
        elif term is not None and self.instance.pk is None:
            self._grade_from_labs(cleaned, term)
        typed = " ".join((self["term"].data or "").split())
        if (term is not None and typed.casefold() != term.term.casefold()
                and not (cleaned.get("verbatim_term") or "").strip()):
            cleaned["verbatim_term"] = typed
        return cleaned


    def _grade_fever(self, cleaned: dict[str, Any], term: CTCAETerm) -> None:
        """CTCAE v5.0 Fever / Febrile neutropenia from the temperature and the recent ANC: a term that the recent ANC
        contradicts is an error that names the right term; otherwise the computed grade and its rationale go to
        ``self.computed`` (saved on the event, so a different grade needs its reason: the grade query)."""
        onset = cleaned.get("onset_date") or timezone.localdate()
        anc = selectors.recent_anc(patient=self.instance.patient, on=onset)
        hours = cleaned.get("hours_above_40")
        criteria: dict[str, Any] = {"temperature_c": float(cleaned["temperature_c"]),
                    "hours_above_40": None if hours is None else float(hours),
                    "anc": None if anc is None else float(anc.value), "anc_unit": None if anc is None else anc.unit,
                    "sustained_38_over_1h": cleaned.get("sustained_38_over_1h")}
        try:
            result = grading.grade_fever_episode(**criteria)  # English: saved with the event
            for_reader = grading.grade_fever_episode(**criteria, translate=gettext)  # the messages below
        except grading.GradingInputError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.text(gettext))
            return
        anc_text = ("no ANC recorded on the onset day or the two days before" if anc is None else
                    f"ANC {lab_units.number(anc.value)} {lab_units.unit_label(anc.unit)} of "
                    f"{timezone.localtime(anc.collected_at):%d %b %Y %H:%M}")  # stored with the rationale: English
        if result.ctcae_term != term.term:
            self.add_error("term", _fever_term_mismatch(for_reader, term.term, anc))
            return
        if result.grade is None:
            return  # undetermined: the grade stays the clinician's, with nothing to compare it with
        self.computed = {"computed_grade": result.grade,
                         "computed_rationale": f"CTCAE v5.0 {result.ctcae_term} ({anc_text}): {result.rationale}"}
        grade = cleaned.get("grade")
        reason = (cleaned.get("grade_discrepancy_reason") or "").strip()
        if grade is not None and grade != result.grade and not reason:
            self.add_error("grade_discrepancy_reason", gettext(
                "Your grade %(grade)s differs from the computed grade %(computed)s (%(rationale)s): give the "
                "reason.") % {"grade": grade, "computed": result.grade,
                              "rationale": as_clause(reader_numbers(for_reader.rationale))})


    def _grade_from_labs(self, cleaned: dict[str, Any], term: CTCAETerm) -> None:
        """The grade of a CTCAE term a lab analyte grades, from the patient's values of that analyte collected from
        the onset day to the resolution day (today while ongoing; :func:`ae.lab_proposal.lab_grade_proposal`, window in
        docs/grading.md): the computed grade and its rationale go to ``self.computed`` (saved on the event, so a
        different grade needs its reason and is a data-quality query) and the nurse is told (``self.derived``). No
        value in the window: nothing is computed or required."""
        analytes = lab_proposal.lab_term_analytes(term.term, cleaned.get("verbatim_term") or "")
        onset = cleaned.get("onset_date")
        if not analytes or onset is None:
            return
        end = cleaned.get("resolution_date") or timezone.localdate()
        if end < onset:
            return  # the model's clean says "Resolution cannot be before onset."
        values = selectors.lab_values_for_term(patient=self.instance.patient, analytes=analytes, term=term.term,
                                               start=onset, end=end)
        proposal = lab_proposal.lab_grade_proposal(term.term, values, start=onset, end=end)
        if proposal is None:
            return
        computed, rationale = proposal
        self.computed = {"computed_grade": computed, "computed_rationale": rationale}  # English, as saved
        for_reader = lab_proposal.lab_grade_proposal(term.term, values, start=onset, end=end, for_reader=True)
        rationale = rationale if for_reader is None else for_reader[1]  # in the reader's language, for the messages
        grade = cleaned.get("grade")
        reason = (cleaned.get("grade_discrepancy_reason") or "").strip()
        if grade is not None and grade != computed and not reason:
            self.add_error("grade_discrepancy_reason", gettext(
                "Your grade %(grade)s differs from the computed grade %(computed)s (%(rationale)s): give the "
                "reason.") % {"grade": grade, "computed": computed, "rationale": as_clause(rationale)})
        else:
            self.derived.append(gettext("Computed grade %(grade)s — %(rationale)s") % {
                "grade": computed, "rationale": rationale})


FEVER_TERMS = (grading.FEVER_TERM, grading.FEBRILE_NEUTROPENIA_TERM)


#: Fields a revision can record that the AE form does not show, named for the event history.
_REVISION_ONLY_LABELS = {"computed_grade": _("Computed grade"), "computed_rationale": _("Computed rationale"),
                         "discrepancy_resolved_at": _("Grade discrepancy resolved")}


def event_field_label(name: str) -> str:
    """How the pages name an adverse event's field ``name`` (a key of ``AdverseEventRevision.changes``) in the
    reader's language: the AE form's label, else one of the revision-only fields, else the model's verbose name;
    the name itself for a field the model no longer has (an old revision)."""
    declared = AdverseEventForm.declared_fields.get(name)
    label = ((declared.label if declared is not None else None) or AdverseEventForm.Meta.labels.get(name)
             or _REVISION_ONLY_LABELS.get(name))
    if label is None:
        try:
            label = capfirst(AdverseEvent._meta.get_field(name).verbose_name)  # type: ignore[union-attr]
        except FieldDoesNotExist:
            return name
    return str(label)


_YES_NO = {True: pgettext_lazy("value", "yes"), False: pgettext_lazy("value", "no")}


def event_change_value(name: str, value: Any) -> str:
    """How the pages write one old or new value of an adverse event's field ``name`` in a revision
    (``AdverseEventRevision.changes``, JSON as ``ae.services.events.revision_value`` stored it) for the reader:
    "—" for nothing, yes/no, a coded value by its label ("astct_2019" → "ASTCT 2019 consensus (CRS/ICANS)",
    "DRUG INTERRUPTED" → "Infusion interrupted"), dates as the pages write them ("22 Nov 2026", a date and time in
    the site's time zone "22 Nov 2026 14:00"). A code the field no longer has is shown as stored."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_YES_NO[value])
    try:
        field = AdverseEvent._meta.get_field(name)
    except FieldDoesNotExist:
        return str(value)
    choices = dict(getattr(field, "flatchoices", None) or ())
    if isinstance(value, str) and value in choices:
        return str(choices[value])
    if isinstance(value, str) and isinstance(field, (models.DateField, models.DateTimeField)):
        try:
            if isinstance(field, models.DateTimeField):
                return date_format(timezone.localtime(datetime.datetime.fromisoformat(value)), "d M Y H:i")
            return date_format(datetime.date.fromisoformat(value), "d M Y")
        except ValueError:
            return value
    return str(value)


class AdverseEventEditForm(AdverseEventForm):
    """The same form plus the reason for the change and the version the editor started from."""

    reason = forms.CharField(label=_("Reason for change"), max_length=MAX_REASON_CHARS,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Required: kept with the record's history."))
    version = forms.IntegerField(widget=forms.HiddenInput)


# ------------------------------------------------------------------------------- bedside assessment forms

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
AUTO_EPISODE = ""  # the ongoing episode of the chosen cycle, or a new one when none is ongoing
SEPARATE_EPISODE = "new"  # explicitly a new episode although one is ongoing


def _local_now() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def default_observed_at(patient: Patient) -> tuple[str | None, str]:
    """(initial value of an "assessed/collected at" field, help text): now when now falls inside the patient's
    latest cycle (from its start to its end plus the follow-up window, or still running), else empty with a
    hint — never blindly now (an assessment of a cycle that ended last year must not land on today)."""
    latest = patient.cycles.order_by("-start_date").first()
    today = timezone.localdate()
    if latest is None:
        return None, gettext("Record the patient's cycle first.")
    if latest.start_date <= today and (latest.window_end is None or today <= latest.window_end):
        return _local_now(), gettext("Now, in cycle %(cycle)s; change it if the observation was earlier.") % {
            "cycle": latest.number}
    if latest.start_date > today:
        return None, gettext("Cycle %(cycle)s starts %(start)s: enter the date and time.") % {
            "cycle": latest.number, "start": _day(latest.start_date)}
    return None, gettext("Cycle %(cycle)s ended %(end)s: enter the date and time of the observation (it must fall "
                         "within the cycle it belongs to).") % {"cycle": latest.number, "end": _day(latest.end_date)}


class _AssessmentForm(forms.Form):
    """Shared part: which episode (or a new one in which cycle), when, the clinician's grade and reason."""

    term_name = ""
    episode = forms.ChoiceField(label=_("Episode"), required=False,
                                help_text=_("One clinical event is one adverse event: the assessment joins the "
                                            "episode running on its day, or the ongoing one, unless you say it is "
                                            "a separate one."))
    cycle = forms.ModelChoiceField(
        label=_("Cycle"), queryset=TreatmentCycle.objects.none(), required=False,
        help_text=_("The cycle the assessment belongs to (for an episode not chosen above)."))
    assessed_at = forms.DateTimeField(label=_("Assessed at"), input_formats=DATETIME_LOCAL,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                 format="%Y-%m-%dT%H:%M"))

    def __init__(self, *args: Any, patient: Patient, episodes: list[AdverseEvent],
                 positive_episode_ids: frozenset[int] | set[int] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.episodes = {str(e.pk): e for e in episodes}
        ongoing = [e for e in episodes if e.resolution_date is None]
        cast(forms.ChoiceField, self.fields["episode"]).choices = [
            (AUTO_EPISODE, _("Automatic: the episode of that day, else the ongoing one, else a new one"))] + [
            (str(e.pk), _episode_label(e)) for e in episodes] + (
            [(SEPARATE_EPISODE, _("A new, separate episode (although one is ongoing)") if ongoing
              else _("A new, separate episode"))] if episodes else [])
        self.fields["episode"].widget.attrs["data-positive"] = " ".join(map(str, sorted(positive_episode_ids)))
        limit_to_cycles_of(self.fields["cycle"], patient)
        self.fields["assessed_at"].initial, self.fields["assessed_at"].help_text = default_observed_at(patient)
        self.fields["relatedness"] = forms.ChoiceField(
            label=_("Relatedness to blinatumomab"), required=False, help_text=_("For a new episode."),
            choices=[("", "—")] + list(AdverseEvent.Relatedness.choices))
        self.fields["action_taken"] = forms.ChoiceField(
            label=_("Action taken"), required=False, help_text=_("For a new episode."),
            choices=[("", "—")] + list(AdverseEvent.Action.choices))
        self.fields["entered_grade"] = forms.TypedChoiceField(
            label=_("Your grade"), required=False, coerce=int, empty_value=None,
            choices=[("", _("Accept the computed grade"))] + [(g, f"Grade {g}") for g in range(0, 5)],
            help_text=_("Only if you judge the grade differently from the computed one."))
        self.fields["grade_discrepancy_reason"] = forms.CharField(
            label=_("Reason your grade differs"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
            help_text=_("Required when your grade differs from the computed grade."))
        decimal_text_fields(self)  # typed decimals as the reader writes them (core.forms)

    def clean_episode(self) -> AdverseEvent | None:
        value = self.cleaned_data.get("episode") or AUTO_EPISODE
        self.new_episode = value == SEPARATE_EPISODE
        return None if value in (AUTO_EPISODE, SEPARATE_EPISODE) else self.episodes[value]

    def service_data(self) -> dict[str, Any]:
        """The cleaned criteria for the record service (episode, cycle and new_episode are passed separately)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in ("episode", "cycle")}


class CRSAssessmentForm(_AssessmentForm):
    """One bedside CRS assessment; the ASTCT 2019 grade is computed from these criteria."""

    temperature_c = forms.DecimalField(label=_("Temperature (°C)"), required=False, max_digits=3, decimal_places=1,
                                       min_value=25, max_value=45,
                                       widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}))
    fever_masking_therapies = forms.MultipleChoiceField(
        label=_("Antipyretic or anticytokine therapy given"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(t, capfirst(_(grading.FEVER_MASKING_LABELS[t]))) for t in grading.FEVER_MASKING_OFFERED],
        help_text=_("After CRS was diagnosed, any of these can mask fever: the grade then follows hypotension and "
                    "hypoxia (ASTCT 2019)."))
    hypotension = forms.BooleanField(label=capfirst(bedside_labels.CRS_FINDING_LABELS["hypotension"]), required=False)
    vasopressors = forms.MultipleChoiceField(
        label=_("Vasopressors"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=bedside_labels.choices(bedside_labels.VASOPRESSOR_LABELS, sorted(grading.VASOPRESSORS)),
        help_text=_("Every agent running now (vasopressin does not count toward 'multiple' in ASTCT 2019)."))
    oxygen_device = forms.ChoiceField(label=_("Oxygen"), choices=bedside_labels.choices(
        bedside_labels.OXYGEN_DEVICE_LABELS, grading.OXYGEN_DEVICES))
    oxygen_flow_l_min = forms.DecimalField(label=_("Oxygen flow (L/min)"), required=False, max_digits=4,
                                           decimal_places=1, min_value=0,
                                           widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}))
    oxygen_fio2_percent = forms.DecimalField(label=_("FiO2 (%)"), required=False, max_digits=4, decimal_places=1,
                                             min_value=21, max_value=100,
                                             help_text=_("For the CTCAE v5.0 and Lee 2014 grades."))
    other_cause_findings = forms.MultipleChoiceField(
        label=_("Findings attributable to another cause"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=bedside_labels.choices(bedside_labels.CRS_FINDING_LABELS, grading.CRS_FINDINGS),
        help_text=_("Set aside from the ASTCT 2019 grade, e.g. hypotension of septic shock, fever of a line "
                    "infection."))
    other_cause = forms.CharField(label=_("The other cause"), required=False, max_length=500,
                                  help_text=_("Required when a finding is set aside, e.g. 'E. coli line sepsis'."))
    # CTCAE v4.03 CRS (the early blinatumomab trials' scale) grades the clinical course; each may stay "not
    # recorded", which leaves the v4.03 grade undetermined where it could change it (docs/grading.md).
    therapy_or_interruption_indicated = forms.NullBooleanField(
        label=_("Therapy or infusion interruption indicated"), required=False,
        widget=forms.Select(choices=[("", _("Not recorded")), ("true", _("Yes")), ("false", _("No"))]),
        help_text=_("For the CTCAE v4.03 grade (2): responds promptly to symptomatic treatment (antihistamines, "
                    "NSAIDs, narcotics, IV fluids)."))
    prolonged_or_recurrent = forms.NullBooleanField(
        label=_("Prolonged, or recurrent after initial improvement"), required=False,
        widget=forms.Select(choices=[("", _("Not recorded")), ("true", _("Yes")), ("false", _("No"))]),
        help_text=_("For the CTCAE v4.03 grade (3): not rapidly responsive to symptomatic medication or a brief "
                    "interruption of the infusion."))
    hospitalization_indicated = forms.NullBooleanField(
        label=_("Hospitalization indicated for clinical sequelae"), required=False,
        widget=forms.Select(choices=[("", _("Not recorded")), ("true", _("Yes")), ("false", _("No"))]),
        help_text=_("For the CTCAE v4.03 grade (3), e.g. renal impairment, pulmonary infiltrates."))
    ventilatory_support = forms.NullBooleanField(
        label=_("Ventilatory support indicated"), required=False,
        widget=forms.Select(choices=[("", _("Not recorded")), ("true", _("Yes")), ("false", _("No"))]),
        help_text=_("For the CTCAE v4.03 grade (4). Mechanical ventilation counts as yes."))


class ICANSAssessmentForm(_AssessmentForm):
    """One bedside ICANS assessment (ASTCT 2019); the tool defaults from the patient's age."""

    developmental_delay = forms.BooleanField(label=_("Baseline developmental delay (use CAPD)"), required=False)
    tool = forms.ChoiceField(choices=[(t, t) for t in grading.ICANS_TOOLS],
                             help_text=_("ICE (10 points) from age 12, CAPD total (0–32) below 12 or with "
                                         "developmental delay."))
    score = forms.IntegerField(label=_("ICE or CAPD total score"), required=False, min_value=0,
                               max_value=grading.CAPD_MAX)
    unable_to_perform = forms.BooleanField(label=_("Unable to perform the ICE/CAPD"), required=False)
    consciousness = forms.ChoiceField(label=_("Level of consciousness"),
                                      choices=bedside_labels.choices(bedside_labels.CONSCIOUSNESS_LABELS,
                                                                     grading.CONSCIOUSNESS_LEVELS),
                                      help_text=_("A drowsy child who awakens spontaneously is grade 1; a fully alert "
                                                  "child is grade 0."))
    seizure = forms.ChoiceField(label=_("Seizures"), choices=bedside_labels.choices(
        bedside_labels.SEIZURE_LABELS, grading.SEIZURE_LEVELS))
    motor = forms.ChoiceField(label=_("Motor findings"), choices=bedside_labels.choices(
        bedside_labels.MOTOR_LABELS, grading.MOTOR_LEVELS))
    cerebral_edema = forms.ChoiceField(label=_("Raised ICP / cerebral edema"), choices=bedside_labels.choices(
        bedside_labels.CEREBRAL_EDEMA_LABELS, grading.CEREBRAL_EDEMA_LEVELS))
    other_cause_domains = forms.MultipleChoiceField(
        label=_("Findings attributable to another cause"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=bedside_labels.choices(bedside_labels.ICANS_DOMAIN_LABELS, grading.ICANS_DOMAINS),
        help_text=_("Excluded from the ICANS grade (ASTCT 2019), e.g. depressed consciousness under sedation."))
    other_cause = forms.CharField(label=_("The other cause"), required=False, max_length=500,
                                  help_text=_("Required when a finding is excluded, e.g. 'midazolam sedation'."))


def _unit_choices() -> list[tuple[str, str]]:
    """Every unit of any analyte once, in the table's order (without JavaScript the select shows them all)."""
    seen: dict[str, str] = {}
    for entry in lab_units.ANALYTES.values():
        for unit in entry.units:
            seen.setdefault(unit.code, unit.label)
    return list(seen.items())


def _site_range_entry(found: ReferenceRange) -> dict[str, Any] | None:
    """One site range for the lab form: its limits in every unit of the analyte ({unit: [lln, uln]}) and the sentence
    naming it in the active language (shown by ``static/lab_form.js``, never stored); None if its unit is no longer
    one of the analyte's."""
    entry = lab_units.ANALYTES[found.analyte]
    source_unit = entry.unit(found.unit)
    if source_unit is None:
        return None
    by_unit = {}
    for unit in entry.units:
        into = source_unit.factor / unit.factor
        by_unit[unit.code] = [None if limit is None else round(float(limit) * into, 4)
                              for limit in (found.lln, found.uln)]
    limits = f"{lab_units.number(found.lln) if found.lln is not None else '—'}–" \
             f"{lab_units.number(found.uln) if found.uln is not None else '—'} {source_unit.label}"
    return {"by_unit": by_unit, "text": gettext(
        "Site range %(limits)s (%(sex)s, %(from)s–%(to)s months; %(source)s; valid from %(date)s). Leave LLN/ULN "
        "empty to grade with it, or type the range printed on the report.") % {
        "limits": reader_numbers(limits), "sex": sex_words(found.sex), "from": found.age_from_months,
        "to": found.age_to_months, "source": found.source, "date": date_format(found.valid_from, "d M Y")}}


def site_range_candidates(patient: Patient) -> dict[str, list[dict[str, Any]]]:
    """Every site reference range that can apply to ``patient`` (their sex or both sexes, any age band, current and
    closed versions), per analyte in valid-from order: ``[{"age_from_months": int (inclusive), "age_to_months": int
    (exclusive), "sex": "" | "F" | "M", "valid_from": "YYYY-MM-DD", "valid_to": "YYYY-MM-DD" | None (exclusive),
    "by_unit": {unit: [lln, uln]}, "text": str}]``.

    ``static/lab_form.js`` picks the one in force on the collection date typed, for the patient's age in whole months
    at that date (``data-birth-month``), preferring a range of the patient's sex to one for both, as
    :func:`ae.selectors.reference_ranges_in_force` (which the service grades with) does. The age is the one at the
    sample date, not today: a child who has just crossed an age band keeps the old band for an earlier sample."""
    candidates: dict[str, list[dict[str, Any]]] = {}
    for found in selectors.reference_ranges_of_patient(site=patient.site, sex=patient.sex):
        entry = _site_range_entry(found)
        if entry is None:
            continue
        candidates.setdefault(found.analyte, []).append({
            "age_from_months": found.age_from_months, "age_to_months": found.age_to_months, "sex": found.sex,
            "valid_from": found.valid_from.isoformat(),
            "valid_to": found.valid_to.isoformat() if found.valid_to else None} | entry)
    return candidates


class ReferenceRangeForm(DecimalTextMixin, forms.Form):
    """A new version of one of the site laboratory's reference ranges (checked and saved by
    :func:`ae.services.reference_ranges.reference_range_record`: unit of the analyte, plausible limits, overlap)."""

    analyte = forms.ChoiceField(label=_("Analyte"),
                                choices=analyte_choices())
    unit = forms.ChoiceField(label=_("Unit"), choices=_unit_choices(), help_text=_("As the laboratory publishes it."))
    sex = forms.ChoiceField(label=_("Sex"), choices=ReferenceRange.Sex.choices, required=False)
    age_from_months = forms.IntegerField(label=_("Age from (months, inclusive)"), min_value=0, initial=0)
    age_to_months = forms.IntegerField(label=_("Age to (months, exclusive)"), min_value=1, initial=12 * 120)
    lln = forms.DecimalField(label="LLN", required=False, max_digits=12, decimal_places=4, min_value=0)
    uln = forms.DecimalField(label="ULN", required=False, max_digits=12, decimal_places=4, min_value=0)
    source = forms.CharField(label=_("Source"), max_length=500,
                             help_text=_("Where the laboratory publishes it, e.g. 'Lab handbook 2026, p. 12'."))
    valid_from = forms.DateField(label=_("Valid from"), widget=date_input())


class LabResultForm(forms.Form):
    """One lab value with its reference range; graded by CTCAE v5.0 as it is typed.

    The unit select offers the units of the chosen analyte, the ward's usual one first and preselected
    (``data-units`` on the select, read by ``static/lab_form.js``; without JavaScript every unit is offered and the
    service refuses a unit of another analyte). Value, LLN and ULN are checked for plausibility by the service.
    """

    analyte = forms.ChoiceField(label=_("Analyte"),
                                choices=analyte_choices())
    value = forms.DecimalField(label=_("Value"), max_digits=12, decimal_places=4, min_value=0,
                               widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    unit = forms.ChoiceField(label=_("Unit"), choices=_unit_choices(), help_text=_("As printed on the lab report."))
    lln = forms.DecimalField(label="LLN", required=False, max_digits=12, decimal_places=4, min_value=0,
                             help_text=_("Age-specific lower limit of normal, in the same unit (needed for grade 1 of "
                                         "low counts)."))
    uln = forms.DecimalField(label="ULN", required=False, max_digits=12, decimal_places=4, min_value=0,
                             help_text=_("Upper limit of normal, in the same unit (needed for ALT/AST)."))
    collected_at = forms.DateTimeField(label=_("Collected at"), input_formats=DATETIME_LOCAL,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"))
    baseline = forms.BooleanField(label=_("Baseline (value at cycle start)"), required=False)
    cycle = forms.ModelChoiceField(label=_("Cycle"), queryset=TreatmentCycle.objects.none(), required=False,
                                   help_text=_("Empty: the cycle running on the collection date; for a "
                                               "baseline, the next cycle to start."))
    clinical_criteria = forms.MultipleChoiceField(
        label=_("Clinical criteria (CTCAE v5.0)"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=list(grading.LAB_CRITERIA_LABELS.items()),
        help_text=_("Tick what applies to this value's term; each raises the grade on its own (a semicolon in "
                    "CTCAE means 'or'). A criterion the term does not have is refused."))
    entered_grade = forms.TypedChoiceField(
        label=_("Your grade"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Accept the computed grade"))] + [(g, f"Grade {g}") for g in range(0, 5)],
        help_text=_("Only if you judge the grade differently from the computed one (shown as you type). Your grade "
                    "is the value's grade for its adverse event; the computed one is kept beside it."))
    grade_discrepancy_reason = forms.CharField(
        label=_("Reason your grade differs"), required=False, max_length=MAX_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when your grade differs from the computed grade: the difference is a data-quality "
                    "query for the site's safety officers."))

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_to_cycles_of(self.fields["cycle"], patient, empty_label="---------")
        first = next(iter(lab_units.ANALYTES.values()))
        self.fields["analyte"].initial = first.code
        self.fields["unit"].initial = first.default_unit.code
        self.fields["unit"].widget.attrs["data-units"] = json.dumps(
            {a.code: [[u.code, u.label] for u in a.units] for a in lab_units.ANALYTES.values()}, ensure_ascii=False)
        self.fields["analyte"].widget.attrs["data-site-ranges"] = json.dumps(site_range_candidates(patient),
                                                                            ensure_ascii=False)
        self.fields["analyte"].widget.attrs["data-birth-month"] = f"{patient.birth_month:%Y-%m}"
        self.fields["collected_at"].initial, self.fields["collected_at"].help_text = default_observed_at(patient)
        decimal_text_fields(self)  # typed decimals as the reader writes them (core.forms)
