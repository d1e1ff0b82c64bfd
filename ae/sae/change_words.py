"""What changed between two versions of a case, worded for the reader of the case page.

The signed version stores its changes as English lines (``ae.sae.changes.changes_since``: snapshot paths and
codes, which the ICSR writers put into the reports as they are). The page rebuilds them from the two versions'
snapshots in the active language: the part of the case by its label ("Reaction Seizure (AE 12) · outcome"),
coded values by their labels ("Dose reduced → Dose increased"), dates as the pages write them. A key or code
without a label here is shown as stored, so a snapshot field added later still appears.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ae.models import AdverseEvent, SAECase
from ae.models.sae import YES_NO_UNKNOWN
from ae.sae.build import CAUSALITY_RESULTS
from ae.sae.changes import Step, change_items

#: Labels of the snapshot's keys (``ae.sae.snapshot``), wherever they occur.
FIELDS = {
    "narrative": _("Narrative"), "reporter_comments": _("Reporter comments"),
    "sender_comments": _("Sender comments"), "expectedness": _("Expectedness"), "susar": "SUSAR",
    "rsi_version": _("Reference safety information"), "awareness_at": _("Aware since"),
    "study_name": _("Study"), "study_type": _("Study type"), "seriousness": _("Seriousness"),
    "death": _("results in death"), "life_threatening": _("life-threatening"),
    "hospitalisation": _("requires or prolongs hospitalisation"),
    "disability": _("persistent or significant disability"), "congenital_anomaly": _("congenital anomaly"),
    "other_medically_important": _("other medically important event"),
    "ctcae_term": _("CTCAE term"), "verbatim": _("Reported term (verbatim)"), "grade": _("Grade"),
    "grading_scale": _("Grading scale"), "onset": _("Onset"), "end": _("Resolution date"),
    "outcome": _("Outcome"), "cycle": _("Cycle"), "study_day": _("Day of the cycle"),
    "meddra_llt_code": _("MedDRA LLT code"), "meddra_version": _("MedDRA version"),
    "action_taken": _("Action taken"), "dechallenge": _("Dechallenge"), "rechallenge": _("Rechallenge"),
    "indication": _("Indication"), "dose_periods": _("Dosing"), "dose_value": _("Dose"), "dose_unit": _("Unit"),
    "route": _("Route"), "start": _("Start"), "stop": _("Stop"), "batch": _("Batch"),
    "causality": _("Causality"), "result": _("Assessment"), "method": _("Method"),
    "patient": _("Patient"), "identifier": _("Study ID"), "sex": _("Sex"), "age_years": _("Age (years)"),
    "age_group": _("Age group"), "weight_kg": _("Weight (kg)"), "height_cm": _("Height (cm)"),
    "disease_status": _("Disease status"), "prior_hsct": _("Prior HSCT"), "prior_car_t": _("Prior CAR-T"),
    "medical_history": _("Medical history"), "reporter": _("Reporter"), "name": _("Name"), "role": _("Role"),
    "qualification": _("Qualification"), "organisation": _("Organisation"), "country": _("Country"),
    "labs": _("Laboratory results"), "value": _("Value"), "unit": _("Unit"), "date": _("Date"),
    "low": _("Lower limit of normal"), "high": _("Upper limit of normal"),
}

_OUTCOME = {"recovered": AdverseEvent.Outcome.RECOVERED.label, "recovering": AdverseEvent.Outcome.RECOVERING.label,
            "not_recovered": AdverseEvent.Outcome.NOT_RECOVERED.label,
            "recovered_with_sequelae": AdverseEvent.Outcome.SEQUELAE.label,
            "fatal": AdverseEvent.Outcome.FATAL.label, "unknown": AdverseEvent.Outcome.UNKNOWN.label}
#: Coded values by the key they belong to.
VALUES: dict[str, dict[str, Any]] = {
    "outcome": _OUTCOME,
    "action_taken": dict(SAECase.Action.choices),
    "dechallenge": dict(YES_NO_UNKNOWN), "rechallenge": dict(YES_NO_UNKNOWN),
    "expectedness": dict(SAECase.Expectedness.choices),
    "sex": {"male": _("male"), "female": _("female"), "unknown": _("unknown")},
    "age_group": {"neonate": _("neonate"), "infant": _("infant"), "child": _("child"),
                  "adolescent": _("adolescent"), "adult": _("adult"), "elderly": _("elderly")},
    "source": {"investigator": _("investigator"), "sponsor": _("sponsor")},
    "characterisation": {"suspect": _("suspect"), "concomitant": _("concomitant"), "interacting": _("interacting"),
                         "treatment_of_event": _("treatment of the event")},
    # The causality results are the English labels of the case's causality choices (ae.sae.build).
    "result": {english: SAECase.Causality(value).label for value, english in CAUSALITY_RESULTS.items()},
}
_BOOLEAN = {True: pgettext_lazy("value", "yes"), False: pgettext_lazy("value", "no")}
_DATE_KEYS = {"onset", "end", "date", "start", "stop", "awareness_at"}


def _step_words(step: Step) -> str:
    if isinstance(step, str):
        return str(FIELDS.get(step, step))
    kind, *rest = step
    if kind == "reaction":
        return gettext("Reaction %(term)s (AE %(id)s)") % {"term": rest[0], "id": rest[1]}
    if kind == "drug":
        label = VALUES["characterisation"].get(rest[0], rest[0])
        return gettext("%(characterisation)s drug %(name)s") % {"characterisation": label, "name": rest[1]}
    if kind == "causality":
        return gettext("%(source)s, AE %(id)s") % {"source": VALUES["source"].get(rest[0], rest[0]), "id": rest[1]}
    return str(rest[0])


def _where(path: tuple[Step, ...]) -> str:
    """The changed value's place, steps joined by " · "; the key of the reactions' and drugs' lists is left out
    before their item, which says what it is ("Reaction Seizure (AE 12)", "suspect drug BLINCYTO")."""
    words = []
    for index, step in enumerate(path):
        following = path[index + 1] if index + 1 < len(path) else None
        if isinstance(step, str) and isinstance(following, tuple) and following[0] in ("reaction", "drug"):
            continue
        words.append(_step_words(step))
    return " · ".join(words)


def _value(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_BOOLEAN[value])
    coded = VALUES.get(key, {})
    if isinstance(value, str) and value in coded:
        return str(coded[value])
    if key in _DATE_KEYS and isinstance(value, str):
        try:
            if len(value) == 10:
                return formats.date_format(datetime.date.fromisoformat(value), "d M Y")
            return formats.date_format(datetime.datetime.fromisoformat(value), "d M Y H:i")
        except ValueError:
            pass
    if isinstance(value, float):
        return formats.number_format(value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def changes_for_reader(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """The changes from ``previous`` to ``current`` (two versions' snapshot JSON), one line each in the active
    language: "Reaction Seizure (AE 12) · Outcome: Recovering/resolving → Recovered/resolved"; the narrative says
    only that it was edited. [] for the first version (``previous`` None)."""
    lines = []
    for path, old, new in change_items(previous, current):
        key = path[-1] if isinstance(path[-1], str) else ""
        where = capfirst(_where(path))
        if path == ("narrative",):
            lines.append(gettext("%(where)s: edited") % {"where": where})
        else:
            lines.append(gettext("%(where)s: %(old)s → %(new)s") % {
                "where": where, "old": _value(key, old), "new": _value(key, new)})
    return lines
