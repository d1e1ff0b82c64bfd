"""The bedside CRS and ICANS criteria for people, in the active language (issue 15: the interface in the ward's
language).

:mod:`ae.grading` is pure Python and names each criterion by a code (``"nasal_cannula"``, ``"awakens_to_voice"``);
the database, the API and the grading rationales keep those codes and the rules' English. The bedside forms'
choices and the event history's assessment tables show these words instead. Wording: ASTCT 2019 consensus grading
(Lee DW et al. Biol Blood Marrow Transplant 2019;25:625-638, Tables 2 (CRS) and 5 (ICANS)), shortened where a
choice needs only the criterion that tells it apart; drug names are INNs as a ward's chart writes them.
``tests/ae/test_bedside_labels.py`` keeps each dict in step with its code list in :mod:`ae.grading`.

Shapes: ``{code: lazy text}``; :func:`label` gives one code's text (an unknown code as stored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:  # django-stubs' name for a lazily translated str
    from django.utils.functional import _StrPromise as Promise

#: ``ae.grading.VASOPRESSORS`` (ASTCT 2019 CRS, hypotension row: "requiring a vasopressor with or without
#: vasopressin" / "multiple vasopressors (excluding vasopressin)").
VASOPRESSOR_LABELS: dict[str, Promise] = {
    "dopamine": _("Dopamine"),
    "epinephrine": _("Epinephrine"),
    "norepinephrine": _("Norepinephrine"),
    "phenylephrine": _("Phenylephrine"),
    "vasopressin": _("Vasopressin"),
}

#: ``ae.grading.OXYGEN_DEVICES`` (ASTCT 2019 CRS, hypoxia row: low-flow nasal cannula or blow-by = grade 2;
#: high-flow nasal cannula, facemask, non-rebreather mask or Venturi mask = grade 3; positive pressure = grade 4).
OXYGEN_DEVICE_LABELS: dict[str, Promise] = {
    "none": pgettext_lazy("oxygen", "None"),
    "blow_by": _("Blow-by oxygen"),
    "nasal_cannula": _("Nasal cannula"),
    "high_flow_nasal_cannula": _("High-flow nasal cannula"),
    "facemask": _("Facemask"),
    "non_rebreather": _("Non-rebreather mask"),
    "venturi": _("Venturi mask"),
    "cpap": _("CPAP"),
    "bipap": _("BiPAP"),
    "mechanical_ventilation": _("Mechanical ventilation"),
}

#: ``ae.grading.CRS_FINDINGS`` (the findings a clinician can attribute to another cause), as words inside a
#: sentence (the forms capitalise them as choices).
CRS_FINDING_LABELS: dict[str, Promise] = {
    "fever": _("fever"),
    "hypotension": _("hypotension"),
    "hypoxia": _("hypoxia"),
}

#: ``ae.grading.CONSCIOUSNESS_LEVELS`` (ASTCT 2019 ICANS, depressed level of consciousness: grade 1 "awakens
#: spontaneously", 2 "awakens to voice", 3 "awakens only to tactile stimulus", 4 "patient is unarousable or requires
#: vigorous or repetitive tactile stimuli to arouse. Stupor or coma"). The English is
#: ``ae.grading.CONSCIOUSNESS_LABELS``'s.
CONSCIOUSNESS_LABELS: dict[str, Promise] = {
    "normal": _("Alert (normal)"),
    "awakens_spontaneously": _("Awakens spontaneously"),
    "awakens_to_voice": _("Awakens to voice"),
    "awakens_to_tactile": _("Awakens only to tactile stimulus"),
    "unarousable": _("Unarousable, or needs vigorous or repetitive tactile stimuli; stupor or coma"),
}

#: ``ae.grading.SEIZURE_LEVELS`` (ASTCT 2019 ICANS, seizure: grade 3 "any clinical seizure focal or generalized that
#: resolves rapidly or nonconvulsive seizures on EEG that resolve with intervention"; grade 4 "life-threatening
#: prolonged seizure (>5 min); or repetitive clinical or electrical seizures without return to baseline in between").
SEIZURE_LABELS: dict[str, Promise] = {
    "none": pgettext_lazy("seizure", "None"),
    "rapid_resolving_or_eeg_treated": _("Resolving rapidly, or non-convulsive on EEG resolving with intervention"),
    "prolonged_or_repetitive": _("Prolonged (> 5 min), or repetitive without return to baseline"),
}

#: ``ae.grading.MOTOR_LEVELS`` (grade 4 "deep focal motor weakness such as hemiparesis or paraparesis").
MOTOR_LABELS: dict[str, Promise] = {
    "none": pgettext_lazy("motor findings", "None"),
    "deep_focal_weakness": _("Deep focal motor weakness (hemiparesis, paraparesis)"),
}

#: ``ae.grading.CEREBRAL_EDEMA_LEVELS`` (grade 3 "focal/local edema on neuroimaging"; grade 4 "diffuse cerebral
#: edema on neuroimaging; decerebrate or decorticate posturing; or cranial nerve VI palsy; or papilledema; or
#: Cushing's triad").
CEREBRAL_EDEMA_LABELS: dict[str, Promise] = {
    "none": pgettext_lazy("cerebral edema", "None"),
    "focal": _("Focal or local edema on neuroimaging"),
    "diffuse_or_signs": _("Diffuse edema on neuroimaging, decerebrate or decorticate posturing, cranial nerve VI "
                          "palsy, papilledema or Cushing's triad"),
}

#: ``ae.grading.ICANS_DOMAINS`` (the domains a finding can be attributed to another cause in).
ICANS_DOMAIN_LABELS: dict[str, Promise] = {
    "encephalopathy_score": _("ICE or CAPD score"),
    "consciousness": _("Level of consciousness"),
    "seizure": _("Seizures"),
    "motor": _("Motor findings"),
    "cerebral_edema": _("Raised ICP / cerebral edema"),
}


def label(labels: dict[str, Promise], code: str) -> str:
    """``code``'s text in the active language (an unknown code, e.g. one written by an older version, as stored)."""
    return str(labels[code]) if code in labels else code


def choices(labels: dict[str, Promise], codes) -> list[tuple[str, Promise]]:
    """Form choices ``[(code, lazy text)]`` in the order of ``codes`` (each capitalised as a choice)."""
    return [(code, capfirst(labels[code])) for code in codes]


def agent_name(code: str) -> str:
    """A vasopressor's name inside a sentence in the active language: its label (:data:`VASOPRESSOR_LABELS`) with a
    small first letter ("noradrenalina (norepinefryna)"; in English the code's own word, "norepinephrine"); an
    unknown code as stored."""
    text = label(VASOPRESSOR_LABELS, code)
    return text[:1].lower() + text[1:] if code in VASOPRESSOR_LABELS else text


def with_agent_names(translate: Callable[[str], str]) -> Callable[[str], str]:
    """``translate`` (``gettext``) for the CRS rules of :mod:`ae.grading`, which pass each vasopressor's code
    through it (``_agent_names``): a code becomes :func:`agent_name`, any other text ``translate(text)``. So a
    rationale built for the reader names the agents as the bedside form does ("hipotensja wymagająca wazopresora
    (noradrenalina (norepinefryna))"); with ``str`` the rules keep the codes (the stored English)."""
    if translate is str:
        return translate
    return lambda text: agent_name(text) if text in VASOPRESSOR_LABELS else translate(text)
