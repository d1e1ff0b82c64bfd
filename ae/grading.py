"""Bedside grading rules for CRS, ICANS, fever and CTCAE v5.0 lab toxicities (pure functions, no Django models).

Primary sources (the rule tables, the boundary semantics and every reading we had to choose are in
``docs/grading.md``):

* ASTCT 2019 consensus CRS and ICANS grading: Lee DW, Santomasso BD, Locke FL, et al. ASTCT consensus grading
  for cytokine release syndrome and neurologic toxicity associated with immune effector cells.
  Biol Blood Marrow Transplant 2019;25(4):625-638, doi:10.1016/j.bbmt.2018.12.758 (CRS table and its
  footnotes; ICANS tables for adults/children >= 12 y with the ICE score and for children < 12 y with the CAPD).
* NCI Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 27 Nov 2017: "Cytokine release syndrome",
  "Fever", "Febrile neutropenia" and the lab terms; CTCAE v4.03 (14 Jun 2010) "Cytokine release syndrome" as
  NCI's "CTCAE v4.0 to v5.0 Mapping" sheet of the v5.0 workbook reproduces it.
* Lee 2014 CRS grading: Lee DW, Gardner R, Porter DL, et al. Blood 2014;124(2):188-195, Table 2.

Every function returns a :class:`Grade` whose ``rationale`` names the criterion that set the grade, and
raises :class:`GradingInputError` (a ``ValueError`` carrying the offending input's name in ``field``) for
impossible or contradictory input. Nothing here guesses clinical facts: where a rule needs a clinical
judgement (e.g. "life-threatening consequences") it is an explicit boolean input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ae import lab_chemistry, lab_units
from core.i18n_marker import gettext_noop

ASTCT_SCALE = "ASTCT 2019"
ASTCT_VERSION = "2019"
CTCAE_SCALE = "CTCAE"
CTCAE_VERSION = "5.0"
CTCAE_V4_VERSION = "4.03"
LEE_SCALE = "Lee 2014"
LEE_VERSION = "2014"


#: The words a code stands for in a rationale ("awakens_to_voice" → "awakens to voice"): marked for translation.
WORDS = {
    "blow_by": gettext_noop("blow by"), "nasal_cannula": gettext_noop("nasal cannula"),
    "high_flow_nasal_cannula": gettext_noop("high flow nasal cannula"), "facemask": gettext_noop("facemask"),
    "non_rebreather": gettext_noop("non rebreather"), "venturi": gettext_noop("venturi"),
    "cpap": gettext_noop("cpap"), "bipap": gettext_noop("bipap"),
    "mechanical_ventilation": gettext_noop("mechanical ventilation"),
    "normal": gettext_noop("normal"), "awakens_spontaneously": gettext_noop("awakens spontaneously"),
    "awakens_to_voice": gettext_noop("awakens to voice"), "awakens_to_tactile": gettext_noop("awakens to tactile"),
    "unarousable": gettext_noop("unarousable"), "none": gettext_noop("none"),
    "rapid_resolving_or_eeg_treated": gettext_noop("rapid resolving or eeg treated"),
    "prolonged_or_repetitive": gettext_noop("prolonged or repetitive"), "focal": gettext_noop("focal"),
    "diffuse_or_signs": gettext_noop("diffuse or signs"),
    "encephalopathy_score": gettext_noop("encephalopathy score"), "consciousness": gettext_noop("consciousness"),
    "seizure": gettext_noop("seizure"), "motor": gettext_noop("motor"),
    "cerebral_edema": gettext_noop("cerebral edema"),
}


def _word(code: str, translate: Callable[[str], str]) -> str:
    """``code`` as words in ``translate``'s language (English: the code with spaces for underscores)."""
    return translate(WORDS[code]) if code in WORDS else code.replace("_", " ")


FEVER_C = 38.0  # ASTCT footnote and CTCAE v5.0 "Fever" grade 1: temperature >= 38.0 degrees C
LOW_FLOW_MAX_L_MIN = 6.0  # ASTCT footnote: low flow = <= 6 L/min, high flow = > 6 L/min
FIO2_THRESHOLD_PERCENT = 40.0  # CTCAE v5.0 CRS and Lee 2014: < 40 % vs >= 40 % O2
PLAUSIBLE_TEMPERATURE_C = (25.0, 45.0)  # outside this range the input is treated as a typing error

#: Therapies that can mask fever (ASTCT 2019 CRS footnote: "antipyretic or anticytokine therapy such as
#: tocilizumab or steroids"). "tocilizumab_or_corticosteroid" is the value assessments recorded before the
#: therapy was recorded by name (which one is unknown); it is not offered for new entries.
FEVER_MASKING_THERAPIES = ("antipyretic", "tocilizumab", "other_anticytokine", "corticosteroid",
                           "tocilizumab_or_corticosteroid")
FEVER_MASKING_OFFERED = FEVER_MASKING_THERAPIES[:4]
FEVER_MASKING_LABELS = {"antipyretic": gettext_noop("antipyretic (e.g. paracetamol, ibuprofen)"),
                        "tocilizumab": gettext_noop("tocilizumab (anticytokine)"),
                        "other_anticytokine": gettext_noop("other anticytokine (e.g. anakinra, siltuximab)"),
                        "corticosteroid": gettext_noop("corticosteroid (e.g. dexamethasone)"),
                        "tocilizumab_or_corticosteroid": gettext_noop(
                            "tocilizumab or corticosteroid (not recorded which)")}
VASOPRESSORS = frozenset({"norepinephrine", "epinephrine", "dopamine", "phenylephrine", "vasopressin"})
# ASTCT 2019 CRS table, hypoxia row and footnote (low flow <= 6 L/min): nasal cannulas by flow, the rest by device.
OXYGEN_DEVICES = ("none", "blow_by", "nasal_cannula", "high_flow_nasal_cannula", "facemask", "non_rebreather",
                  "venturi", "cpap", "bipap", "mechanical_ventilation")
_OXYGEN_DEVICE_GRADE = {"none": 0, "blow_by": 2, "facemask": 3, "non_rebreather": 3, "venturi": 3,
                        "cpap": 4, "bipap": 4, "mechanical_ventilation": 4}

#: The ASTCT CRS findings a clinician can attribute to another cause (CRS table footnotes: "Fever is defined as
#: temperature >= 38 degrees C not attributable to any other cause"; "CRS grade is determined by the more severe
#: event: hypotension or hypoxia not attributable to any other cause").
CRS_FINDINGS = ("fever", "hypotension", "hypoxia")

ICANS_TOOLS = ("ICE", "CAPD")
CONSCIOUSNESS_LEVELS = ("normal", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable")
SEIZURE_LEVELS = ("none", "rapid_resolving_or_eeg_treated", "prolonged_or_repetitive")
MOTOR_LEVELS = ("none", "deep_focal_weakness")
CEREBRAL_EDEMA_LEVELS = ("none", "focal", "diffuse_or_signs")
#: How each level is shown: "normal" is a fully alert patient (no depressed level of consciousness, grade 0).
CONSCIOUSNESS_LABELS = {"normal": "Alert (normal)", "awakens_spontaneously": "Awakens spontaneously",
                        "awakens_to_voice": "Awakens to voice",
                        "awakens_to_tactile": "Awakens only to tactile stimulus",
                        "unarousable": "Unarousable, or needs vigorous or repetitive tactile stimuli; stupor or coma"}
#: The ICANS domains a finding can be attributed to another cause in (ASTCT 2019 ICANS table footnote: the grade
#: is "determined by the most severe event ... not attributable to any other cause").
ICANS_DOMAINS = ("encephalopathy_score", "consciousness", "seizure", "motor", "cerebral_edema")
_CONSCIOUSNESS_GRADE = {"normal": 0, "awakens_spontaneously": 1, "awakens_to_voice": 2, "awakens_to_tactile": 3,
                        "unarousable": 4}
_SEIZURE_GRADE = {"none": 0, "rapid_resolving_or_eeg_treated": 3, "prolonged_or_repetitive": 4}
_MOTOR_GRADE = {"none": 0, "deep_focal_weakness": 4}
_EDEMA_GRADE = {"none": 0, "focal": 3, "diffuse_or_signs": 4}
ICE_MAX = 10
CAPD_MAX = 32


class GradingInputError(ValueError):
    """An impossible or contradictory grading input; ``field`` names the input at fault.

    ``template`` is a :func:`gettext_noop` message text with ``%(name)s`` placeholders filled from ``params``;
    ``message`` is it in English (what the API answers and the logs show, unchanged); :meth:`text` gives it in
    ``translate``'s language (the forms and services pass Django's ``gettext`` for field errors). The values of the
    params named in ``translated`` are message texts too (e.g. a finding's name), translated with the template.
    """

    def __init__(self, field: str, message: str, params: Mapping[str, object] | None = None,
                 translated: Iterable[str] = ()):
        self.field = field
        self.template = message
        self.params = dict(params or {})
        self.translated = frozenset(translated)
        self.message = self.text()
        super().__init__(f"{field}: {self.message}")

    def text(self, translate: Callable[[str], str] = str) -> str:
        """The message in ``translate``'s language (English by default: :attr:`message`)."""
        if not self.params:
            return translate(self.template)
        return translate(self.template) % {k: translate(str(v)) if k in self.translated else v
                                           for k, v in self.params.items()}


#: The lab rules' input refusals (:func:`grade_lab`, :func:`grade_lab_value`).
_POSITIVE = gettext_noop("must be > 0")
_LLN_BELOW_ULN = gettext_noop("must be below uln")
_CALCIUM_ONLY = gettext_noop("corrects total calcium only")

#: The ASTCT CRS findings as words (a GradingInputError's message names them).
_FINDING_WORDS = {"fever": gettext_noop("fever"), "hypotension": gettext_noop("hypotension"),
                  "hypoxia": gettext_noop("hypoxia")}


@dataclass(frozen=True)
class Grade:
    """A computed grade.

    ``grade`` is 0 (criteria not met) to 5, or ``None`` when it cannot be decided from the inputs (the
    ``rationale`` then says what is missing). ``ctcae_term`` is set for CTCAE lab grades only.
    """

    grade: int | None
    scale: str
    version: str
    rationale: str
    ctcae_term: str | None = None
    verbatim_term: str | None = None


def _finite(field: str, value: float | None, *, minimum: float | None = None, maximum: float | None = None,
            allow_none: bool = True) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise GradingInputError(field, gettext_noop("is required"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GradingInputError(field, gettext_noop("must be a number, got %(value)s"), {"value": repr(value)})
    value = float(value)
    if not math.isfinite(value):
        raise GradingInputError(field, gettext_noop("must be a finite number"))
    if minimum is not None and value < minimum:
        raise GradingInputError(field, gettext_noop("must be >= %(minimum)s, got %(value)s"),
                                {"minimum": f"{minimum:g}", "value": f"{value:g}"})
    if maximum is not None and value > maximum:
        raise GradingInputError(field, gettext_noop("must be <= %(maximum)s, got %(value)s"),
                                {"maximum": f"{maximum:g}", "value": f"{value:g}"})
    return value


def _choice(field: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise GradingInputError(field, gettext_noop("unknown value %(value)s; expected one of %(choices)s"),
                                {"value": repr(value), "choices": ", ".join(choices)})
    return value


def _agent_names(agents: Iterable[str], t: Callable[[str], str]) -> str:
    """The vasopressor agents as a rationale names them: each code through ``t`` ("norepinephrine" with ``str``, the
    stored English; a reader's ``translate`` may name it, ``ae.bedside_labels.with_agent_names``), in code order."""
    return ", ".join(t(agent) for agent in sorted(agents))


def _vasopressor_set(vasopressors: Iterable[str] | None) -> frozenset[str]:
    if isinstance(vasopressors, str):
        raise GradingInputError("vasopressors", gettext_noop("must be a list of agent names, not a string"))
    agents = frozenset(vasopressors or ())
    unknown = sorted(agents - VASOPRESSORS)
    if unknown:
        raise GradingInputError("vasopressors", gettext_noop("unknown agent(s) %(unknown)s; expected %(expected)s"),
                                {"unknown": ", ".join(unknown), "expected": ", ".join(sorted(VASOPRESSORS))})
    return agents


def _temperature(temperature_c: float | None) -> float | None:
    low, high = PLAUSIBLE_TEMPERATURE_C
    return _finite("temperature_c", temperature_c, minimum=low, maximum=high)


# --------------------------------------------------------------------------------------------- CRS


def _masking_set(therapies: Iterable[str] | None) -> frozenset[str]:
    if isinstance(therapies, str):
        raise GradingInputError("fever_masking_therapies", gettext_noop("must be a list of therapy names, not a "
                                                                        "string"))
    given = frozenset(therapies or ())
    unknown = sorted(given - frozenset(FEVER_MASKING_THERAPIES))
    if unknown:
        raise GradingInputError("fever_masking_therapies", gettext_noop("unknown therapy %(unknown)s; expected "
                                                                        "%(expected)s"),
                                {"unknown": ", ".join(unknown), "expected": ", ".join(FEVER_MASKING_THERAPIES)})
    return given


def _therapy_text(therapies: frozenset[str], translate: Callable[[str], str] = str) -> str:
    return ", ".join(translate(FEVER_MASKING_LABELS[t]) for t in FEVER_MASKING_THERAPIES if t in therapies)


def grade_crs_astct(*, temperature_c: float | None = None, fever_masking_therapies: Iterable[str] | None = None,
                    had_crs_before: bool = False, hypotension: bool = False,
                    vasopressors: Iterable[str] | None = None, oxygen_device: str = "none",
                    oxygen_flow_l_min: float | None = None, death_due_to_crs: bool = False,
                    other_cause_findings: Iterable[str] | None = None,
                    translate: Callable[[str], str] = str) -> Grade:
    """ASTCT 2019 consensus CRS grade (Lee et al. BBMT 2019;25:625, CRS table and footnotes).

    Units: ``temperature_c`` in degrees Celsius (25-45 accepted; None = not recorded); ``oxygen_flow_l_min`` in
    L/min (>= 0). ``vasopressors`` are agent names from :data:`VASOPRESSORS` (duplicates count once);
    ``oxygen_device`` is one of :data:`OXYGEN_DEVICES`; ``fever_masking_therapies`` are the therapies given that
    can mask fever, from :data:`FEVER_MASKING_THERAPIES` (antipyretic, tocilizumab, other anticytokine,
    corticosteroid).

    Rules: fever is >= 38.0 degrees C. Footnote: "in patients who have CRS then receive antipyretic or anticytokine
    therapy such as tocilizumab or steroids, fever is no longer required to grade subsequent CRS severity" — so
    once the episode has had CRS (``had_crs_before``) and any masking therapy was given, grading is driven by
    hypotension and hypoxia. Without fever (and no masking) the ASTCT CRS criteria are not met (grade 0); a
    temperature that was not recorded (None) without masking makes the grade undetermined (None) unless death
    decides it: the rationale gives the grade with and without fever. Hypotension: not requiring vasopressors
    = 2; one vasopressor with or without vasopressin = 3; multiple vasopressors excluding vasopressin = 4
    (footnote). A vasopressor implies hypotension. Hypoxia: blow-by or nasal cannula <= 6 L/min = 2; nasal
    cannula > 6 L/min, facemask, non-rebreather, Venturi = 3; CPAP, BiPAP, mechanical ventilation = 4. The
    grade is set by the more severe of hypotension and hypoxia (tie-break footnote); fever alone = 1; death
    due to CRS = 5.

    ``other_cause_findings`` (from :data:`CRS_FINDINGS`) are findings the clinician attributes to another cause
    (a line infection's fever, hypotension of sepsis or bleeding, hypoxia of pneumonia): the footnotes define fever,
    hypotension and hypoxia as "not attributable to any other cause", so they are set aside and the rationale names
    them. Attributing a finding that is absent (no fever, no hypotension or vasopressor, no oxygen) raises.

    The rationale is in English (what is stored); ``translate`` (Django's ``gettext``) gives it in the active
    language, for a message the reader sees.

    Raises GradingInputError for an unknown agent, therapy or device, a negative flow, a nasal cannula without
    a flow, a flow with device "none", or an implausible temperature.
    """
    temperature = _temperature(temperature_c)
    therapies = _masking_set(fever_masking_therapies)
    agents = _vasopressor_set(vasopressors)
    device = _choice("oxygen_device", oxygen_device, OXYGEN_DEVICES)
    flow = _finite("oxygen_flow_l_min", oxygen_flow_l_min, minimum=0.0)
    if device == "none" and flow:
        raise GradingInputError("oxygen_flow_l_min", gettext_noop("an oxygen flow was given but oxygen_device is "
                                                                  "'none'"))
    if device == "nasal_cannula" and flow is None:
        raise GradingInputError("oxygen_flow_l_min", gettext_noop("is required for a nasal cannula (low flow <= 6 "
                                                                  "L/min vs high flow > 6 L/min)"))
    if isinstance(other_cause_findings, str):
        raise GradingInputError("other_cause_findings", gettext_noop("must be a list of findings, not a string"))
    excluded = frozenset(other_cause_findings or ())
    unknown = sorted(excluded - frozenset(CRS_FINDINGS))
    if unknown:
        raise GradingInputError("other_cause_findings", gettext_noop("unknown finding(s) %(unknown)s; expected "
                                                                     "%(expected)s"),
                                {"unknown": ", ".join(unknown), "expected": ", ".join(CRS_FINDINGS)})
    present = {"fever": temperature is not None and temperature >= FEVER_C,
               "hypotension": hypotension or bool(agents), "hypoxia": device != "none"}
    for finding in CRS_FINDINGS:
        if finding in excluded and not present[finding]:
            raise GradingInputError("other_cause_findings", gettext_noop("%(finding)s is attributed to another cause "
                                                                         "but was not recorded"),
                                    {"finding": _FINDING_WORDS[finding]}, translated=("finding",))
    set_aside = []
    t = translate
    if "fever" in excluded:
        set_aside.append(t(gettext_noop("fever %(temperature)s °C")) % {"temperature": f"{temperature:g}"})
        temperature = None if temperature is None else min(temperature, FEVER_C - 0.1)
    if "hypotension" in excluded:
        set_aside.append(t(gettext_noop("hypotension (%(agents)s)")) % {"agents": _agent_names(agents, t)}
                         if agents else t(gettext_noop("hypotension")))
        hypotension, agents = False, frozenset()
    if "hypoxia" in excluded:
        set_aside.append(t(gettext_noop("hypoxia (%(device)s)")) % {"device": _word(device, t)})
        device, flow = "none", None
    note = (" " + t(gettext_noop("Set aside as attributable to another cause (ASTCT 2019 CRS footnotes): "
                                 "%(findings)s.")) % {"findings": "; ".join(set_aside)} if set_aside else "")
    graded, no_fever = _grade_crs_astct(temperature, therapies, had_crs_before, hypotension, agents, device, flow,
                                        death_due_to_crs, t)
    if "fever" in excluded and graded.grade == 0 and no_fever:
        graded = Grade(0, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
            "ASTCT CRS criteria not met: no fever >= 38.0 °C that is not attributable to another cause.")))
    return Grade(graded.grade, graded.scale, graded.version, graded.rationale + note)


def _grade_crs_astct(temperature: float | None, therapies: frozenset[str], had_crs_before: bool, hypotension: bool,
                     agents: frozenset[str], device: str, flow: float | None, death_due_to_crs: bool,
                     t: Callable[[str], str]) -> tuple[Grade, bool]:
    """:func:`grade_crs_astct` on checked inputs (findings attributed to another cause already set aside), and
    whether the criteria were not met for want of fever; rationale translated by ``t``."""
    if death_due_to_crs:
        return Grade(5, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop("Grade 5: death due to CRS."))), False

    # Hypotension domain.
    counted = agents - {"vasopressin"}
    if len(counted) >= 2:
        hypo_g, hypo_why = 4, t(gettext_noop("hypotension requiring multiple vasopressors (%(agents)s; vasopressin "
                                             "excluded from the count)")) % {"agents": _agent_names(counted, t)}
    elif counted:
        hypo_g, hypo_why = 3, (t(gettext_noop("hypotension requiring a vasopressor (%(agent)s + vasopressin (does not "
                                              "count toward 'multiple'))")) if "vasopressin" in agents
                               else t(gettext_noop("hypotension requiring a vasopressor (%(agent)s)"))) % {
            "agent": t(next(iter(counted)))}
    elif agents:  # vasopressin alone: not covered explicitly by the paper; it is still a vasopressor.
        hypo_g, hypo_why = 3, t(gettext_noop("hypotension requiring a vasopressor (vasopressin alone, graded as one "
                                             "vasopressor)"))
    elif hypotension:
        hypo_g, hypo_why = 2, t(gettext_noop("hypotension not requiring vasopressors"))
    else:
        hypo_g, hypo_why = 0, ""

    # Hypoxia domain.
    if device in ("nasal_cannula", "high_flow_nasal_cannula") and flow is not None:
        if flow <= LOW_FLOW_MAX_L_MIN:
            oxy_g, oxy_why = 2, t(gettext_noop("hypoxia requiring low-flow oxygen (%(device)s %(flow)s L/min <= 6 "
                                               "L/min)")) % {"device": _word(device, t), "flow": f"{flow:g}"}
        else:
            oxy_g, oxy_why = 3, t(gettext_noop("hypoxia requiring high-flow nasal cannula (%(flow)s L/min > 6 "
                                               "L/min)")) % {"flow": f"{flow:g}"}
    elif device == "high_flow_nasal_cannula":
        oxy_g, oxy_why = 3, t(gettext_noop("hypoxia requiring high-flow nasal cannula (flow not recorded)"))
    else:
        oxy_g = _OXYGEN_DEVICE_GRADE[device]
        oxy_why = {2: t(gettext_noop("hypoxia requiring blow-by oxygen (low flow)")),
                   3: t(gettext_noop("hypoxia requiring %(device)s oxygen")) % {"device": _word(device, t)},
                   4: t(gettext_noop("hypoxia requiring positive pressure (%(device)s)")) % {
                       "device": _word(device, t)}}.get(oxy_g, "")

    fever = temperature is not None and temperature >= FEVER_C
    masked = had_crs_before and bool(therapies)
    if not fever and not masked:
        with_fever = max(1, hypo_g, oxy_g)
        if temperature is None:
            return Grade(None, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
                "Undetermined: temperature not recorded. ASTCT CRS needs fever >= 38.0 °C: grade %(grade)s with "
                "fever, 0 without (fever is waived only after CRS was diagnosed and antipyretic or anticytokine "
                "therapy was given).")) % {"grade": with_fever}), False
        if therapies:
            why = t(gettext_noop("ASTCT CRS criteria not met: no fever >= 38.0 °C (temperature %(temperature)s °C); "
                                 "%(therapies)s was given, but fever is waived only in patients who already had "
                                 "CRS.")) % {"temperature": f"{temperature:g}",
                                             "therapies": _therapy_text(therapies, t)}
        else:
            why = t(gettext_noop("ASTCT CRS criteria not met: no fever >= 38.0 °C (temperature %(temperature)s °C) "
                                 "and no antipyretic or anticytokine therapy after earlier CRS masks it.")) % {
                "temperature": f"{temperature:g}"}
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION, why), True

    fever_why = (t(gettext_noop("fever %(temperature)s °C")) % {"temperature": f"{temperature:g}"} if fever else
                 t(gettext_noop("fever not required: earlier CRS treated with %(therapies)s, which can mask fever"))
                 % {"therapies": _therapy_text(therapies, t)})
    if hypo_g == 0 and oxy_g == 0:
        if fever:
            return Grade(1, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
                "Grade 1: %(fever)s without hypotension or hypoxia.")) % {"fever": fever_why}), False
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
            "Grade 0: %(fever)s, and no hypotension or hypoxia (no grade in the paper; treated as resolved).")) % {
            "fever": fever_why}), False
    grade = max(hypo_g, oxy_g)
    if hypo_g == oxy_g:
        why = t(gettext_noop("%(hypotension)s and %(hypoxia)s")) % {"hypotension": hypo_why, "hypoxia": oxy_why}
    else:
        why = hypo_why if hypo_g > oxy_g else oxy_why
        other = oxy_why if hypo_g > oxy_g else hypo_why
        if other:
            why = t(gettext_noop("%(worse)s (more severe than %(other)s; the worse event sets the grade)")) % {
                "worse": why, "other": other}
    return Grade(grade, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop("Grade %(grade)s: %(fever)s; %(why)s.")) % {
        "grade": grade, "fever": fever_why, "why": why}), False


def grade_crs_ctcae_v5(*, temperature_c: float | None = None, hypotension: bool = False,
                       vasopressors: Iterable[str] | None = None, oxygen_fio2_percent: float | None = None,
                       life_threatening_urgent_intervention: bool = False, death_due_to_crs: bool = False,
                       translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 "Cytokine release syndrome" (MedDRA 10052015; NCI CTCAE v5.0, 27 Nov 2017).

    Units: ``temperature_c`` degrees Celsius; ``oxygen_fio2_percent`` is the delivered FiO2 in percent
    (21-100; None or 21 = room air, no hypoxia). ``vasopressors`` as in :func:`grade_crs_astct`.

    Grade 1 fever (>= 38.0 degrees C) with or without constitutional symptoms; grade 2 hypotension responding to
    fluids or hypoxia responding to < 40 % O2; grade 3 hypotension managed with a pressor (any agent, more
    than one is still grade 3 unless judged life-threatening) or hypoxia requiring >= 40 % O2; grade 4
    life-threatening consequences, urgent intervention indicated (explicit clinical input); grade 5 death.
    The worst criterion met sets the grade. With nothing above grade 0 and no temperature recorded the grade is
    undetermined (None): fever alone would make it grade 1. The rationale is English (stored); ``translate``
    (Django's ``gettext``) gives it in the active language.
    """
    t = translate
    temperature = _temperature(temperature_c)
    agents = _vasopressor_set(vasopressors)
    fio2 = _finite("oxygen_fio2_percent", oxygen_fio2_percent, minimum=21.0, maximum=100.0)
    ctcae = (CTCAE_SCALE, CTCAE_VERSION)
    if death_due_to_crs:
        return Grade(5, *ctcae, t(gettext_noop("Grade 5: death.")))
    if life_threatening_urgent_intervention:
        return Grade(4, *ctcae, t(gettext_noop("Grade 4: life-threatening consequences; urgent intervention "
                                               "indicated.")))
    if agents:
        return Grade(3, *ctcae, t(gettext_noop("Grade 3: hypotension managed with a pressor (%(agents)s).")) % {
            "agents": _agent_names(agents, t)})
    if fio2 is not None and fio2 >= FIO2_THRESHOLD_PERCENT:
        return Grade(3, *ctcae, t(gettext_noop("Grade 3: hypoxia requiring >= 40%% O2 (FiO2 %(fio2)s%%).")) % {
            "fio2": f"{fio2:g}"})
    if hypotension or (fio2 is not None and fio2 > 21.0):
        parts = ([t(gettext_noop("hypotension responding to fluids (no pressor)"))] if hypotension else []) + (
            [t(gettext_noop("hypoxia responding to < 40%% O2 (FiO2 %(fio2)s%%)")) % {"fio2": f"{fio2:g}"}]
            if fio2 is not None and fio2 > 21.0 else [])
        return Grade(2, *ctcae, t(gettext_noop("Grade %(grade)s: %(criteria)s.")) % {
            "grade": 2, "criteria": "; ".join(parts)})
    if temperature is not None and temperature >= FEVER_C:
        return Grade(1, *ctcae, t(gettext_noop("Grade 1: fever %(temperature)s °C with or without constitutional "
                                               "symptoms.")) % {"temperature": f"{temperature:g}"})
    if temperature is None:
        return Grade(None, *ctcae, t(gettext_noop("Undetermined: temperature not recorded (grade 1 with fever >= 38.0 "
                                                  "°C, 0 without); no hypotension, hypoxia or life-threatening "
                                                  "consequences.")))
    return Grade(0, *ctcae, t(gettext_noop("Grade 0: no fever (%(temperature)s °C), hypotension, hypoxia or "
                                           "life-threatening consequences.")) % {"temperature": f"{temperature:g}"})


def grade_crs_lee2014(*, temperature_c: float | None = None, constitutional_symptoms: bool = False,
                      hypotension: bool = False, vasopressors: Iterable[str] | None = None,
                      high_dose_or_multiple_pressors: bool = False, oxygen_fio2_percent: float | None = None,
                      ventilator_support: bool = False, organ_toxicity_grade: int = 0,
                      organ_toxicity_is_transaminitis: bool = False, death_due_to_crs: bool = False,
                      translate: Callable[[str], str] = str) -> Grade:
    """Lee 2014 CRS grade (Lee DW et al. Blood 2014;124(2):188-195, Table 2).

    Units: ``temperature_c`` degrees Celsius; ``oxygen_fio2_percent`` FiO2 in percent (21-100; None or 21 =
    no oxygen requirement). ``organ_toxicity_grade`` is the worst CRS-associated organ toxicity by CTCAE
    v4.0 (0-4); ``organ_toxicity_is_transaminitis`` says whether that worst toxicity is a transaminase rise.

    Grade 1: non-life-threatening symptoms needing symptomatic treatment only (fever >= 38.0 degrees C or
    ``constitutional_symptoms``); fever is not required for higher grades. Grade 2: O2 < 40 % FiO2, hypotension
    responsive to fluids or a low dose of one vasopressor, or grade 2 organ toxicity. Grade 3: O2 >= 40 %
    FiO2, hypotension requiring high-dose or multiple vasopressors (``high_dose_or_multiple_pressors``, the
    high-dose table itself is not encoded; two or more distinct agents count as multiple), grade 3 organ
    toxicity or grade 4 transaminitis. Grade 4: ventilator support or grade 4 organ toxicity other than
    transaminitis. Grade 5: death. Highest criterion met wins. With nothing above grade 0 and no temperature
    recorded the grade is undetermined (None).

    Raises GradingInputError when ``high_dose_or_multiple_pressors`` is set without any vasopressor, or
    for an organ toxicity grade outside 0-4. The rationale is English (stored); ``translate`` (Django's ``gettext``)
    gives it in the active language.
    """
    t = translate
    temperature = _temperature(temperature_c)
    agents = _vasopressor_set(vasopressors)
    fio2 = _finite("oxygen_fio2_percent", oxygen_fio2_percent, minimum=21.0, maximum=100.0)
    if isinstance(organ_toxicity_grade, bool) or not isinstance(organ_toxicity_grade, int) or not (
            0 <= organ_toxicity_grade <= 4):
        raise GradingInputError("organ_toxicity_grade", gettext_noop("must be an integer 0-%(maximum)s, got "
                                                                     "%(value)s"),
                                {"maximum": 4, "value": repr(organ_toxicity_grade)})
    if high_dose_or_multiple_pressors and not agents:
        raise GradingInputError("high_dose_or_multiple_pressors", gettext_noop("set but no vasopressor was given"))
    lee = (LEE_SCALE, LEE_VERSION)
    if death_due_to_crs:
        return Grade(5, *lee, t(gettext_noop("Grade 5: death.")))
    organ = organ_toxicity_grade
    if ventilator_support:
        return Grade(4, *lee, t(gettext_noop("Grade 4: requirement for ventilator support.")))
    if organ == 4 and not organ_toxicity_is_transaminitis:
        return Grade(4, *lee, t(gettext_noop("Grade 4: grade 4 organ toxicity (excluding transaminitis).")))
    if high_dose_or_multiple_pressors or len(agents) >= 2:
        return Grade(3, *lee, t(gettext_noop("Grade 3: hypotension requiring high-dose or multiple vasopressors "
                                             "(%(agents)s).")) % {"agents": _agent_names(agents, t)})
    if fio2 is not None and fio2 >= FIO2_THRESHOLD_PERCENT:
        return Grade(3, *lee, t(gettext_noop("Grade 3: oxygen requirement >= 40%% FiO2 (FiO2 %(fio2)s%%).")) % {
            "fio2": f"{fio2:g}"})
    if organ == 4:
        return Grade(3, *lee, t(gettext_noop("Grade 3: grade 4 transaminitis.")))
    if organ == 3:
        return Grade(3, *lee, t(gettext_noop("Grade 3: grade 3 organ toxicity.")))
    if agents:
        return Grade(2, *lee, t(gettext_noop("Grade 2: hypotension responsive to a low dose of one vasopressor "
                                             "(%(agent)s).")) % {"agent": t(next(iter(agents)))})
    if hypotension:
        return Grade(2, *lee, t(gettext_noop("Grade 2: hypotension responsive to fluids.")))
    if fio2 is not None and fio2 > 21.0:
        return Grade(2, *lee, t(gettext_noop("Grade 2: oxygen requirement < 40%% FiO2 (FiO2 %(fio2)s%%).")) % {
            "fio2": f"{fio2:g}"})
    if organ == 2:
        return Grade(2, *lee, t(gettext_noop("Grade 2: grade 2 organ toxicity.")))
    if (temperature is not None and temperature >= FEVER_C) or constitutional_symptoms or organ == 1:
        what = (t(gettext_noop("fever %(temperature)s °C")) % {"temperature": f"{temperature:g}"}
                if temperature is not None and temperature >= FEVER_C else
                t(gettext_noop("constitutional symptoms")) if constitutional_symptoms
                else t(gettext_noop("grade 1 organ toxicity")))
        return Grade(1, *lee, t(gettext_noop("Grade 1: symptoms not life-threatening, symptomatic treatment only "
                                             "(%(what)s).")) % {"what": what})
    if temperature is None:
        return Grade(None, *lee, t(gettext_noop("Undetermined: temperature not recorded (grade 1 with fever, 0 "
                                                "without); no other CRS symptom recorded.")))
    return Grade(0, *lee, t(gettext_noop("Grade 0: no CRS symptoms (temperature %(temperature)s °C).")) % {
        "temperature": f"{temperature:g}"})


# ------------------------------------------------------------------------------------------- ICANS


def default_icans_tool(age_years: float, developmental_delay: bool = False) -> str:
    """The ASTCT 2019 default ICANS encephalopathy tool (Lee et al. BBMT 2019;25:625, ICANS grading
    for children).

    ``age_years`` in years (>= 0). Returns "ICE" for age >= 12 without developmental delay, else "CAPD"
    (the paper: CAPD for children < 12 y and for older patients with baseline developmental delay).
    """
    _finite("age_years", age_years, minimum=0.0, maximum=130.0, allow_none=False)
    return "ICE" if age_years >= 12 and not developmental_delay else "CAPD"


def _score(field: str, value: int | None, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise GradingInputError(field, gettext_noop("must be an integer 0-%(maximum)s, got %(value)s"),
                                {"maximum": maximum, "value": repr(value)})
    if not 0 <= value <= maximum:
        raise GradingInputError(field, gettext_noop("must be between 0 and %(maximum)s, got %(value)s"),
                                {"maximum": maximum, "value": value})
    return value


def grade_icans(*, tool: str, ice_score: int | None = None, capd_score: int | None = None,
                unable_to_perform: bool = False, consciousness: str | None = "normal", seizure: str | None = "none",
                motor: str | None = "none", cerebral_edema: str | None = "none", death: bool = False,
                other_cause_domains: Iterable[str] | None = None, translate: Callable[[str], str] = str) -> Grade:
    """ASTCT 2019 ICANS grade (Lee et al. BBMT 2019;25:625: ICANS table for adults and children >= 12 y with the
    ICE score, and for children < 12 y with the CAPD).

    ``tool`` is "ICE" (score 0-10 points) or "CAPD" (total 0-32 points; item scores are not stored here).
    Exactly one of a score for the chosen tool or ``unable_to_perform`` must be given.
    A domain given as None was not assessed: the grade is then undetermined (None) unless the assessed domains
    already give grade 4. ``other_cause_domains`` lists the domains (:data:`ICANS_DOMAINS`) whose finding the
    clinician attributes to another cause (e.g. depressed consciousness under sedation): they are excluded from
    the grade (footnotes: the grade is the most severe event "not attributable to any other cause"; depressed
    level of consciousness "should be attributable to no other cause (e.g., no sedating medication)") and the
    rationale names them.

    Domains (grade = worst domain, tie-break footnote): ICE 7-9 = 1, 3-6 = 2, 0-2 = 3 (ICE 0 while awake,
    e.g. global aphasia), 0 because unarousable (``unable_to_perform`` with consciousness "unarousable") = 4;
    unable to perform ICE while arousable counts as ICE 0 = 3. CAPD 1-8 = 1 (grade 2 only via consciousness
    "awakens to voice"), >= 9 = 3, unable to perform CAPD = 4. Depressed level of consciousness: alert
    ("normal") = 0, awakens spontaneously = 1, awakens to voice = 2, only to tactile stimulus = 3, unarousable
    = 4. Seizure resolving rapidly or EEG seizure resolving with intervention = 3, prolonged/repetitive = 4.
    Deep focal motor weakness = 4. Focal edema = 3, diffuse edema or raised-ICP signs = 4. Death due to ICANS
    = 5. Tremor, myoclonus and intracranial haemorrhage are deliberately not inputs (graded by CTCAE).

    Raises GradingInputError for an unknown tool, domain value or domain name, a score out of range, a score for
    the other tool, a missing score, a score together with ``unable_to_perform``, or a domain attributed to
    another cause that has no finding. The rationale is in English (what is stored); ``translate`` (Django's
    ``gettext``) gives it in the active language, for a message the reader sees.
    """
    t = translate
    tool = _choice("tool", tool, ICANS_TOOLS)
    # None = the domain was not assessed (not "normal"): the grade is undetermined if that domain could raise it.
    not_assessed = [name for name, v in (("consciousness", consciousness), ("seizure", seizure), ("motor", motor),
                                         ("cerebral_edema", cerebral_edema)) if v is None]
    consciousness = "normal" if consciousness is None else consciousness
    seizure = "none" if seizure is None else seizure
    motor = "none" if motor is None else motor
    cerebral_edema = "none" if cerebral_edema is None else cerebral_edema
    consciousness = _choice("consciousness", consciousness, CONSCIOUSNESS_LEVELS)
    seizure = _choice("seizure", seizure, SEIZURE_LEVELS)
    motor = _choice("motor", motor, MOTOR_LEVELS)
    cerebral_edema = _choice("cerebral_edema", cerebral_edema, CEREBRAL_EDEMA_LEVELS)
    if isinstance(other_cause_domains, str):
        raise GradingInputError("other_cause_domains", gettext_noop("must be a list of domain names, not a string"))
    excluded = frozenset(other_cause_domains or ())
    unknown = sorted(excluded - frozenset(ICANS_DOMAINS))
    if unknown:
        raise GradingInputError("other_cause_domains", gettext_noop("unknown domain(s) %(unknown)s; expected "
                                                                    "%(expected)s"),
                                {"unknown": ", ".join(unknown), "expected": ", ".join(ICANS_DOMAINS)})
    ice = _score("ice_score", ice_score, ICE_MAX)
    capd = _score("capd_score", capd_score, CAPD_MAX)
    if tool == "ICE" and capd is not None:
        raise GradingInputError("capd_score", gettext_noop("given but the tool is %(tool)s"), {"tool": "ICE"})
    if tool == "CAPD" and ice is not None:
        raise GradingInputError("ice_score", gettext_noop("given but the tool is %(tool)s"), {"tool": "CAPD"})
    score = ice if tool == "ICE" else capd
    score_field = "ice_score" if tool == "ICE" else "capd_score"
    if unable_to_perform and score is not None:
        raise GradingInputError(score_field, gettext_noop("given although the %(tool)s could not be performed"),
                                {"tool": tool})
    if not unable_to_perform and score is None:
        raise GradingInputError(score_field, gettext_noop("is required (or set unable_to_perform) for the %(tool)s "
                                                          "tool"), {"tool": tool})
    measured = -1 if score is None else score  # only read when the tool was performed (score given)

    if death:
        return Grade(5, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop("Grade 5: death due to ICANS.")))

    domains: list[tuple[str, int, str]] = []
    scored = {"score": score}
    if tool == "ICE":
        if unable_to_perform:
            if consciousness == "unarousable":
                domains.append(("encephalopathy_score", 4,
                                t(gettext_noop("ICE 0 because unarousable and unable to perform ICE"))))
            else:
                domains.append(("encephalopathy_score", 3,
                                t(gettext_noop("unable to perform ICE while arousable (scored as ICE 0 awake)"))))
        elif measured <= 2:
            domains.append(("encephalopathy_score", 3, t(gettext_noop("ICE score %(score)s (0-2)")) % scored))
        elif measured <= 6:
            domains.append(("encephalopathy_score", 2, t(gettext_noop("ICE score %(score)s (3-6)")) % scored))
        elif measured <= 9:
            domains.append(("encephalopathy_score", 1, t(gettext_noop("ICE score %(score)s (7-9)")) % scored))
    else:
        if unable_to_perform:
            domains.append(("encephalopathy_score", 4, t(gettext_noop("unable to perform CAPD"))))
        elif measured >= 9:
            domains.append(("encephalopathy_score", 3, t(gettext_noop("CAPD score %(score)s (>= 9)")) % scored))
        elif measured >= 1:
            domains.append(("encephalopathy_score", 1, t(gettext_noop("CAPD score %(score)s (1-8)")) % scored))
    domains.append(("consciousness", _CONSCIOUSNESS_GRADE[consciousness],
                    t(gettext_noop("depressed level of consciousness: %(level)s")) % {
                        "level": _word(consciousness, t)}))
    domains.append(("seizure", _SEIZURE_GRADE[seizure], t(gettext_noop("seizure: %(level)s")) % {
        "level": _word(seizure, t)}))
    domains.append(("motor", _MOTOR_GRADE[motor], t(gettext_noop("deep focal motor weakness"))))
    domains.append(("cerebral_edema", _EDEMA_GRADE[cerebral_edema],
                    t(gettext_noop("cerebral edema: %(level)s")) % {"level": _word(cerebral_edema, t)}))

    abnormal = {name for name, g, _ in domains if g > 0}
    for name in sorted(excluded - abnormal):
        raise GradingInputError("other_cause_domains", gettext_noop("%(domain)s is attributed to another cause but "
                                                                    "has no abnormal finding"),
                                {"domain": WORDS[name]}, translated=("domain",))
    counted = [(g, why) for name, g, why in domains if name not in excluded]
    set_aside = [why for name, g, why in domains if name in excluded]
    note = (" " + t(gettext_noop("Excluded as attributable to another cause: %(findings)s.")) % {
        "findings": "; ".join(set_aside)} if set_aside else "")
    grade = max((g for g, _ in counted), default=0)
    if not_assessed and grade < 4:  # each of these domains has a grade 4 cell
        return Grade(None, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
            "Undetermined: %(domains)s not assessed; grade %(grade)s from the assessed domains, up to 4 with the "
            "others.")) % {"domains": ", ".join(_word(d, t) for d in not_assessed), "grade": grade} + note)
    if grade == 0:
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
            "Grade 0: no ICANS domain abnormal that is not attributable to another cause (%(tool)s).")) % {
            "tool": tool} + note)
    worst = "; ".join(why for g, why in counted if g == grade)
    return Grade(grade, ASTCT_SCALE, ASTCT_VERSION, t(gettext_noop(
        "Grade %(grade)s (%(tool)s tool): worst domain %(worst)s.")) % {"grade": grade, "tool": tool,
                                                                        "worst": worst} + note)


# ----------------------------------------------------------------------------- CTCAE v4.03 CRS


def grade_crs_ctcae_v4(*, symptoms: bool = False, hypotension: bool = False,
                       therapy_or_interruption_indicated: bool = False, prolonged_or_recurrent: bool = False,
                       hospitalization_indicated: bool = False, vasopressors: Iterable[str] | None = None,
                       ventilatory_support: bool = False, life_threatening: bool = False,
                       death_due_to_crs: bool = False, translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v4.03 "Cytokine release syndrome" (MedDRA 10052015; text as NCI's CTCAE v4.0 to v5.0 mapping sheet
    reproduces it), the scale of the early blinatumomab trials.

    Grade 1 "Mild reaction; infusion interruption not indicated; intervention not indicated" (``symptoms``);
    grade 2 "Therapy or infusion interruption indicated but responds promptly to symptomatic treatment (e.g.,
    antihistamines, NSAIDS, narcotics, IV fluids); prophylactic medications indicated for <=24 hrs"
    (``therapy_or_interruption_indicated``; ``hypotension`` means hypotension treated with IV fluids and counts as
    grade 2 — the text names IV fluids as a symptomatic treatment); grade 3 "Prolonged (e.g., not rapidly
    responsive to symptomatic medication and/or brief interruption of infusion); recurrence of symptoms following
    initial improvement; hospitalization indicated for clinical sequelae (e.g., renal impairment, pulmonary
    infiltrates)" (``prolonged_or_recurrent``, ``hospitalization_indicated``); grade 4 "Life-threatening
    consequences; pressor or ventilatory support indicated" (any vasopressor, ``ventilatory_support``,
    ``life_threatening``); grade 5 death. A semicolon means "or"; the worst criterion met sets the grade. Fever is
    not a criterion (nor in the v4.03 definition): unlike v5.0, an afebrile reaction is graded, and one pressor
    is grade 4 (v5.0 and ASTCT: grade 3). The rationale is English (stored); ``translate`` (Django's ``gettext``)
    gives it in the active language.
    """
    t = translate
    agents = _vasopressor_set(vasopressors)
    v4 = (CTCAE_SCALE, CTCAE_V4_VERSION)
    if death_due_to_crs:
        return Grade(5, *v4, t(gettext_noop("Grade 5: death.")))
    g4 = ([t(gettext_noop("pressor support indicated (%(agents)s)")) % {"agents": _agent_names(agents, t)}]
          if agents else []) + (
        [t(gettext_noop("ventilatory support indicated"))] if ventilatory_support else []) + (
        [t(gettext_noop("life-threatening consequences"))] if life_threatening else [])
    g3 = ([t(gettext_noop("prolonged or recurrent symptoms"))] if prolonged_or_recurrent else []) + (
        [t(gettext_noop("hospitalization indicated for clinical sequelae"))] if hospitalization_indicated else [])
    g2 = ([t(gettext_noop("hypotension treated with IV fluids"))] if hypotension else []) + (
        [t(gettext_noop("therapy or infusion interruption indicated, responding promptly"))]
        if therapy_or_interruption_indicated else [])
    for grade, met in ((4, g4), (3, g3), (2, g2)):
        if met:
            return Grade(grade, *v4, t(gettext_noop("Grade %(grade)s: %(criteria)s.")) % {
                "grade": grade, "criteria": "; ".join(met)})
    if symptoms:
        return Grade(1, *v4, t(gettext_noop("Grade 1: mild reaction; no infusion interruption or intervention "
                                            "indicated.")))
    return Grade(0, *v4, t(gettext_noop("Grade 0: no reaction recorded.")))


# ------------------------------------------------------------------------ fever, febrile neutropenia

FEVER_TERM = "Fever"
FEBRILE_NEUTROPENIA_TERM = "Febrile neutropenia"
FN_ANC_BELOW = 1.0  # x 10^9/L: CTCAE v5.0 Febrile neutropenia "ANC <1000/mm3"
FN_SINGLE_ABOVE_C = 38.3  # "a single temperature of >38.3 degrees C"
FN_SUSTAINED_HOURS = 1.0  # "a sustained temperature of >=38 degrees C for more than one hour"


def grade_fever(*, temperature_c: float, hours_above_40: float | None = None, death: bool = False,
                translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 "Fever" (MedDRA 10016558): grade of the highest temperature.

    ``temperature_c`` in degrees Celsius (25-45; required); ``hours_above_40`` how long it stayed > 40.0 °C (h).
    Grade 1 "38.0 - 39.0 degrees C"; grade 2 ">39.0 - 40.0"; grade 3 ">40.0 for <=24 hrs"; grade 4 ">40.0 for
    >24 hrs"; grade 5 death. Boundaries: 38.0 and 39.0 are grade 1, 40.0 is grade 2, 24 h is grade 3. Below
    38.0 it is not a fever (grade 0). Above 40.0 without ``hours_above_40`` the grade is undetermined (3 or 4).
    The rationale is English (stored); ``translate`` (Django's ``gettext``) gives it in the active language.
    Raises GradingInputError for a missing or implausible temperature or a negative duration.
    """
    t = translate
    temperature = _finite("temperature_c", temperature_c, minimum=PLAUSIBLE_TEMPERATURE_C[0],
                          maximum=PLAUSIBLE_TEMPERATURE_C[1], allow_none=False)
    assert temperature is not None  # required
    hours = _finite("hours_above_40", hours_above_40, minimum=0.0)
    ctcae = (CTCAE_SCALE, CTCAE_VERSION)
    if death:
        return Grade(5, *ctcae, t(gettext_noop("Grade 5: death.")), FEVER_TERM)
    shown = {"temperature": f"{temperature:g}", "hours": "" if hours is None else f"{hours:g}"}
    if temperature > 40.0:
        if hours is None:
            return Grade(None, *ctcae, t(gettext_noop(
                "Undetermined: %(temperature)s °C > 40.0 °C is grade 3 for <= 24 h and grade 4 for > 24 h; the "
                "duration is not recorded.")) % shown, FEVER_TERM)
        if hours > 24.0:
            return Grade(4, *ctcae, t(gettext_noop(
                "Grade 4: %(temperature)s °C > 40.0 °C for %(hours)s h (> 24 h).")) % shown, FEVER_TERM)
        return Grade(3, *ctcae, t(gettext_noop(
            "Grade 3: %(temperature)s °C > 40.0 °C for %(hours)s h (<= 24 h).")) % shown, FEVER_TERM)
    if temperature > 39.0:
        return Grade(2, *ctcae, t(gettext_noop("Grade 2: %(temperature)s °C (> 39.0 - 40.0 °C).")) % shown,
                     FEVER_TERM)
    if temperature >= FEVER_C:
        return Grade(1, *ctcae, t(gettext_noop("Grade 1: %(temperature)s °C (38.0 - 39.0 °C).")) % shown,
                     FEVER_TERM)
    return Grade(0, *ctcae, t(gettext_noop("Grade 0: %(temperature)s °C is below 38.0 °C (no fever).")) % shown,
                 FEVER_TERM)


def grade_febrile_neutropenia(*, anc: float, anc_unit: str, temperature_c: float,
                              sustained_38_over_1h: bool | None = None, life_threatening: bool = False,
                              death: bool = False, translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 "Febrile neutropenia" (MedDRA 10016288; grades 3-5 only).

    ``anc`` in ``anc_unit`` (any ANC unit of :data:`ae.lab_units.ANALYTES`, e.g. 10^9/L or /mm3); ``temperature_c``
    the highest single temperature (degrees C); ``sustained_38_over_1h`` whether a temperature >= 38.0 °C lasted
    more than one hour (None = not known).

    Grade 3 "ANC <1000/mm3 with a single temperature of >38.3 degrees C (101 degrees F) or a sustained temperature
    of >=38 degrees C (100.4 degrees F) for more than one hour"; grade 4 "Life-threatening consequences; urgent
    intervention indicated"; grade 5 death. Boundaries: ANC exactly 1.0 x 10^9/L (1000/mm3) is not < 1000;
    a single 38.3 °C is not > 38.3 (it needs the sustained criterion). Criteria not met = grade 0 (the term does not
    apply); a temperature of 38.0-38.3 °C with the duration unknown is undetermined (None). The rationale is English
    (stored); ``translate`` (Django's ``gettext``) gives it in the active language.
    Raises GradingInputError for an unknown unit, a negative ANC or an implausible temperature.
    """
    return _febrile_neutropenia(anc, anc_unit, temperature_c, sustained_38_over_1h, life_threatening, death,
                                translate)[0]


def _febrile_neutropenia(anc: float, anc_unit: str, temperature_c: float, sustained_38_over_1h: bool | None,
                         life_threatening: bool, death: bool,
                         translate: Callable[[str], str]) -> tuple[Grade, str | None]:
    """(:func:`grade_febrile_neutropenia`'s grade, why the criteria are not met when its grade is 0, else None);
    both in ``translate``'s language."""
    t = translate
    code = lab_units.unit_code("anc", anc_unit)
    if code is None:
        raise GradingInputError("anc_unit", lab_units.unit_error("anc", anc_unit))
    count = _finite("anc", anc, minimum=0.0, allow_none=False)
    assert count is not None
    anc_g9 = round(count * _LAB_RULES["anc"].units[code], _ROUND)
    temperature = _finite("temperature_c", temperature_c, minimum=PLAUSIBLE_TEMPERATURE_C[0],
                          maximum=PLAUSIBLE_TEMPERATURE_C[1], allow_none=False)
    assert temperature is not None
    term = FEBRILE_NEUTROPENIA_TERM
    ctcae = (CTCAE_SCALE, CTCAE_VERSION)
    shown = f"ANC {anc_g9:g} ×10⁹/L" + ("" if code == lab_units.G9 else f" (= {count:g} /mm³)")
    params = {"anc": shown, "temperature": f"{temperature:g}"}
    if anc_g9 >= FN_ANC_BELOW:
        why = t(gettext_noop("%(anc)s is not < 1.0 ×10⁹/L (< 1000/mm³): not febrile neutropenia.")) % params
        return Grade(0, *ctcae, t(gettext_noop("Grade 0: %(why)s")) % {"why": why}, term), why
    if temperature > FN_SINGLE_ABOVE_C:
        fever_why = t(gettext_noop("a single temperature %(temperature)s °C > 38.3 °C")) % params
    elif temperature >= FEVER_C and sustained_38_over_1h:
        fever_why = t(gettext_noop("a temperature >= 38.0 °C (%(temperature)s °C) sustained for more than one "
                                   "hour")) % params
    elif temperature >= FEVER_C and sustained_38_over_1h is None:
        return Grade(None, *ctcae, t(gettext_noop(
            "Undetermined: %(anc)s < 1.0 ×10⁹/L with %(temperature)s °C (not > 38.3 °C); febrile neutropenia if "
            ">= 38.0 °C was sustained for more than one hour, which is not recorded.")) % params, term), None
    else:
        fever = (t(gettext_noop("%(temperature)s °C is below 38.0 °C")) if temperature < FEVER_C else
                 t(gettext_noop("%(temperature)s °C is not > 38.3 °C and was not sustained for more than one hour"))
                 ) % params
        why = t(gettext_noop("%(anc)s < 1.0 ×10⁹/L but %(fever)s: not febrile neutropenia.")) % {
            "anc": shown, "fever": fever}
        return Grade(0, *ctcae, t(gettext_noop("Grade 0: %(why)s")) % {"why": why}, term), why
    met = {"anc": shown, "fever": fever_why}
    if death:
        return Grade(5, *ctcae, t(gettext_noop("Grade 5: death (%(anc)s with %(fever)s).")) % met, term), None
    if life_threatening:
        return Grade(4, *ctcae, t(gettext_noop("Grade 4: life-threatening consequences; urgent intervention "
                                               "indicated (%(anc)s with %(fever)s).")) % met, term), None
    return Grade(3, *ctcae, t(gettext_noop("Grade 3: %(anc)s < 1.0 ×10⁹/L with %(fever)s.")) % met, term), None


def grade_fever_episode(*, temperature_c: float, hours_above_40: float | None = None, anc: float | None = None,
                        anc_unit: str | None = None, sustained_38_over_1h: bool | None = None,
                        life_threatening: bool = False, death: bool = False,
                        translate: Callable[[str], str] = str) -> Grade:
    """The CTCAE v5.0 term and grade of a fever: "Febrile neutropenia" when a recent ANC is < 1.0 x 10^9/L and
    its temperature criterion is met (or undetermined), else "Fever" (:func:`grade_fever`; a neutropenic
    temperature below the febrile-neutropenia criterion is still graded as Fever). ``anc`` and ``anc_unit`` go
    together (ANC of the most recent count, as the caller chooses it). CTCAE v5.0 "Fever" navigational practice:
    a fever with neutropenia is reported as Febrile neutropenia, not as both. ``life_threatening`` applies to
    Febrile neutropenia only (Fever grade 4 is defined by duration). The rationale is English (stored, e.g. in
    ``AdverseEvent.computed_rationale``); ``translate`` (Django's ``gettext``) gives it in the active language.
    Raises GradingInputError as the two graders do, and for an ANC without its unit.
    """
    if anc is not None:
        if not anc_unit:
            raise GradingInputError("anc_unit", gettext_noop("is required with the ANC"))
        fn, not_met = _febrile_neutropenia(anc, anc_unit, temperature_c, sustained_38_over_1h, life_threatening,
                                           death, translate)
        if not_met is None:
            return fn
        fever = grade_fever(temperature_c=temperature_c, hours_above_40=hours_above_40, death=death,
                            translate=translate)
        return Grade(fever.grade, fever.scale, fever.version, translate(gettext_noop(
            "%(fever)s (Febrile neutropenia not met: %(why)s)")) % {"fever": fever.rationale, "why": not_met},
                     FEVER_TERM)
    return grade_fever(temperature_c=temperature_c, hours_above_40=hours_above_40, death=death, translate=translate)


# -------------------------------------------------------------------------------------------- labs


@dataclass(frozen=True)
class _LabRule:
    ctcae_term: str
    units: dict[str, float]  # stored unit code -> factor into the canonical unit (ae.lab_units, default first)
    canonical_unit: str  # the unit the CTCAE thresholds below are written in


def _rule(analyte: str, ctcae_term: str, canonical_unit: str) -> _LabRule:
    return _LabRule(ctcae_term, {u.code: u.factor for u in lab_units.ANALYTES[analyte].units}, canonical_unit)


_LAB_RULES = {
    "anc": _rule("anc", "Neutrophil count decreased", lab_units.G9),
    "platelets": _rule("platelets", "Platelet count decreased", lab_units.G9),
    "wbc": _rule("wbc", "White blood cell decreased", lab_units.G9),
    "lymphocytes": _rule("lymphocytes", "Lymphocyte count decreased", lab_units.G9),
    "hemoglobin": _rule("hemoglobin", "Anemia", "g/dL"),
    "potassium": _rule("potassium", "Hypokalemia", "mmol/L"),
    "alt": _rule("alt", "Alanine aminotransferase increased", "U/L"),
    "ast": _rule("ast", "Aspartate aminotransferase increased", "U/L"),
    "bilirubin": _rule("bilirubin", "Blood bilirubin increased", "umol/L"),
    "creatinine": _rule("creatinine", "Creatinine increased", "umol/L"),
    "alp": _rule("alp", "Alkaline phosphatase increased", "U/L"),
    "ggt": _rule("ggt", "GGT increased", "U/L"),
    "lipase": _rule("lipase", "Lipase increased", "U/L"),
    "amylase": _rule("amylase", "Serum amylase increased", "U/L"),
    "albumin": _rule("albumin", "Hypoalbuminemia", "g/dL"),
    "fibrinogen": _rule("fibrinogen", "Fibrinogen decreased", "g/L"),
    **{analyte: _rule(analyte, chem.terms[0], chem.canonical) for analyte, chem in lab_chemistry.CHEMISTRY.items()
       if analyte != "potassium"},
}
LAB_ANALYTES = tuple(_LAB_RULES)
#: The CTCAE v5.0 term each analyte is graded as ("platelets" → "Platelet count decreased"); for an analyte graded
#: by direction (:data:`LAB_TERMS_BY_ANALYTE`) its low term, or its one term.
LAB_TERMS = {analyte: rule.ctcae_term for analyte, rule in _LAB_RULES.items()}
#: Every CTCAE v5.0 term an analyte's value can propose: sodium → (Hyponatremia, Hypernatremia) by direction.
LAB_TERMS_BY_ANALYTE: dict[str, tuple[str, ...]] = {
    analyte: (rule.ctcae_term,) if analyte not in lab_chemistry.CHEMISTRY else tuple(dict.fromkeys(
        ((rule.ctcae_term,) if analyte == "potassium" else ()) + lab_chemistry.CHEMISTRY[analyte].terms))
    for analyte, rule in _LAB_RULES.items()}
# "Decreased" terms: (grade, value strictly below this threshold in the canonical unit), worst first.
_DECREASED_THRESHOLDS = {
    "anc": ((4, 0.5), (3, 1.0), (2, 1.5)),
    "platelets": ((4, 25.0), (3, 50.0), (2, 75.0)),
    "wbc": ((4, 1.0), (3, 2.0), (2, 3.0)),
    "lymphocytes": ((4, 0.2), (3, 0.5), (2, 0.8)),
    "hemoglobin": ((3, 8.0), (2, 10.0)),
    "potassium": ((4, 2.5), (3, 3.0)),
    "albumin": ((3, 2.0), (2, 3.0)),  # Hypoalbuminemia: <3 - 2 g/dL = 2, <2 g/dL = 3 (grade 4 is clinical)
}
#: Units whose thresholds CTCAE v5.0 writes out itself (Anemia "<LLN - 6.2 mmol/L", "<6.2 - 4.9", "<4.9 mmol/L"):
#: graded in that unit, so 6.2 mmol/L is grade 1 as the text says (converted to g/dL it would fall just below 10.0).
_UNIT_THRESHOLDS = {("hemoglobin", "mmol/L"): ((3, 4.9), (2, 6.2))}


@dataclass(frozen=True)
class _IncreasedRule:
    """A CTCAE v5.0 "increased" term graded by multiples of the ULN (baseline normal) or of an abnormal baseline.

    ``uln``: (grade, ratio strictly above which it applies), worst first. ``baseline``: the same for an abnormal
    baseline (grades 2-4), with ``baseline_g1`` the grade 1 floor and ``baseline_g1_inclusive`` whether the floor
    itself is grade 1 (ALT "1.5 - 3.0 x baseline": inclusive; bilirubin "> 1.0 - 1.5 x baseline": exclusive).
    ``baseline_is_or``: the baseline multiples are an alternative criterion ("; "), whatever the baseline (Creatinine).
    """

    uln: tuple[tuple[int, float], ...]
    baseline: tuple[tuple[int, float], ...] = ()
    baseline_g1: float | None = None
    baseline_g1_inclusive: bool = True
    baseline_is_or: bool = False


_INCREASED = {
    "alt": _IncreasedRule(((4, 20.0), (3, 5.0), (2, 3.0), (1, 1.0)), ((4, 20.0), (3, 5.0), (2, 3.0)), 1.5),
    "ast": _IncreasedRule(((4, 20.0), (3, 5.0), (2, 3.0), (1, 1.0)), ((4, 20.0), (3, 5.0), (2, 3.0)), 1.5),
    "bilirubin": _IncreasedRule(((4, 10.0), (3, 3.0), (2, 1.5), (1, 1.0)), ((4, 10.0), (3, 3.0), (2, 1.5)), 1.0,
                                baseline_g1_inclusive=False),
    "alp": _IncreasedRule(((4, 20.0), (3, 5.0), (2, 2.5), (1, 1.0)), ((4, 20.0), (3, 5.0), (2, 2.5)), 2.0),
    "ggt": _IncreasedRule(((4, 20.0), (3, 5.0), (2, 2.5), (1, 1.0)), ((4, 20.0), (3, 5.0), (2, 2.5)), 2.0),
    "creatinine": _IncreasedRule(((4, 6.0), (3, 3.0), (2, 1.5), (1, 1.0)), ((3, 3.0), (2, 1.5)),
                                 baseline_is_or=True),
    # Lipase / amylase: grade 2 ">1.5 - 2.0 x ULN; >2.0 - 5.0 x ULN and asymptomatic", grade 3 ">2.0 - 5.0 x ULN with
    # signs or symptoms; >5.0 x ULN and asymptomatic", grade 4 ">5.0 x ULN and with signs or symptoms".
    "lipase": _IncreasedRule(((2, 1.5), (1, 1.0))),
    "amylase": _IncreasedRule(((2, 1.5), (1, 1.0))),
}
#: Analytes whose grade reads the cycle's baseline value (abnormal-baseline multiples, or Creatinine's x baseline).
BASELINE_ANALYTES = (*(a for a, r in _INCREASED.items() if r.baseline), "fibrinogen", "glucose")
FIBRINOGEN_ABSOLUTE_G4_G_L = 0.5  # CTCAE v5.0 Fibrinogen decreased grade 4 "absolute value <50 mg/dL"
_ROUND = 9  # decimal places kept after unit conversion, so 1000/mm3 is exactly 1.0 x 10^9/L


def undetermined_grade_at_most(analyte: str) -> int | None:
    """The highest grade an undetermined (grade None) value of ``analyte`` can have: a decreased count without its
    LLN is grade 0 or 1 (0-2 for potassium, whose grade 2 needs symptoms); None for ALT/AST (without the ULN any
    grade is possible)."""
    _choice("analyte", analyte, LAB_ANALYTES)
    if analyte not in _DECREASED_THRESHOLDS:
        return None
    return _DECREASED_THRESHOLDS[analyte][-1][0] - 1


def _lab_grade(rule: _LabRule, grade: int | None, rationale: str) -> Grade:
    return Grade(grade, CTCAE_SCALE, CTCAE_VERSION, rationale, rule.ctcae_term)


#: Clinical criteria CTCAE v5.0 attaches to a lab term, after a semicolon (= "or"): (grade, the CTCAE wording).
LAB_CLINICAL_CRITERIA: dict[str, dict[str, tuple[int, str]]] = {
    "hemoglobin": {"transfusion_indicated": (3, "transfusion indicated"),
                   "life_threatening": (4, "life-threatening consequences; urgent intervention indicated")},
    "potassium": {"intervention_indicated": (2, "intervention indicated"),
                  "hospitalization_indicated": (3, "hospitalization indicated"),
                  "life_threatening": (4, "life-threatening consequences")},
    "albumin": {"life_threatening": (4, "life-threatening consequences; urgent intervention indicated")},
}
#: Every clinical criterion input of :func:`grade_lab` ("symptomatic" is Hypokalemia's grade 2 "Symptomatic with
#: <LLN - 3.0 mmol/L": it needs the value, so it is read by the value rule).
LAB_CLINICAL_INPUTS = ("symptomatic", "intervention_indicated", "transfusion_indicated", "hospitalization_indicated",
                       "life_threatening")


def grade_lab(analyte: str, value: float, unit: str, lln: float | None = None, uln: float | None = None,
              baseline: float | None = None, baseline_abnormal: bool | None = None, *, symptomatic: bool = False,
              intervention_indicated: bool = False, transfusion_indicated: bool = False,
              hospitalization_indicated: bool = False, life_threatening: bool = False,
              intervention_initiated: bool = False, seizures: bool = False, oral_antiglycemic_initiated: bool = False,
              insulin_initiated: bool = False, oral_replacement_indicated: bool = False,
              noninvasive_intervention_indicated: bool = False, physiologic_consequences: bool = False,
              albumin: float | None = None, albumin_unit: str | None = None,
              translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 grade of one lab value and the clinical criteria CTCAE attaches to its term.

    The value is graded by :func:`grade_lab_value`. Clinical criteria (booleans, default False = absent) raise the
    grade where the CTCAE v5.0 text puts them after a semicolon, which means "or" (:data:`LAB_CLINICAL_CRITERIA`):
    Anemia grade 3 "...; transfusion indicated", grade 4 "Life-threatening consequences; urgent intervention
    indicated"; Hypokalemia grade 2 "Symptomatic with <LLN - 3.0 mmol/L; intervention indicated" (``symptomatic``
    counts only with a value < LLN; ``intervention_indicated`` on its own), grade 3 "...; hospitalization
    indicated", grade 4 "...; life-threatening consequences". The grade is the worst of the value and the criteria;
    an undetermined value (no LLN) is decided by a criterion at or above the highest grade it could have.
    Chemistry analytes (sodium, potassium above the ULN, calcium, ionized calcium, magnesium, phosphate, glucose,
    uric acid, IgG) propose their CTCAE term by the value's direction and read the criteria of that term
    (:func:`ae.lab_chemistry.grade_directional`, :data:`CHEMISTRY_CRITERIA`); total calcium is corrected for the
    ``albumin`` of the same sample (in ``albumin_unit``, g/L or g/dL).
    Raises GradingInputError as :func:`grade_lab_value` does, and for a criterion the term does not have
    (``transfusion_indicated`` for ANC). The rationale is English (stored); ``translate`` (Django's ``gettext``)
    gives the value rules' and the clinical criteria's texts in the active language (CTCAE's own wording, e.g. a
    criterion's, stays English).
    """
    _choice("analyte", analyte, LAB_ANALYTES)
    chem_flags = {"symptomatic": symptomatic, "intervention_indicated": intervention_indicated,
                  "hospitalization_indicated": hospitalization_indicated, "life_threatening": life_threatening,
                  "intervention_initiated": intervention_initiated, "seizures": seizures,
                  "oral_antiglycemic_initiated": oral_antiglycemic_initiated, "insulin_initiated": insulin_initiated,
                  "oral_replacement_indicated": oral_replacement_indicated,
                  "noninvasive_intervention_indicated": noninvasive_intervention_indicated,
                  "physiologic_consequences": physiologic_consequences, "transfusion_indicated": transfusion_indicated}
    if _by_direction(analyte, value, unit, uln):
        return _grade_chemistry(analyte, value, unit, lln, uln, baseline,
                                frozenset(k for k, v in chem_flags.items() if v), albumin, albumin_unit, translate)
    for name in ("intervention_initiated", "seizures", "oral_antiglycemic_initiated", "insulin_initiated",
                 "oral_replacement_indicated", "noninvasive_intervention_indicated", "physiologic_consequences"):
        if chem_flags[name]:
            raise GradingInputError(name, lab_chemistry.NOT_A_CRITERION, {"term": LAB_TERMS[analyte]})
    if albumin is not None or albumin_unit:
        raise GradingInputError("albumin", _CALCIUM_ONLY)
    flags = {"intervention_indicated": intervention_indicated, "transfusion_indicated": transfusion_indicated,
             "hospitalization_indicated": hospitalization_indicated, "life_threatening": life_threatening}
    term_criteria = LAB_CLINICAL_CRITERIA.get(analyte, {})
    for name, flag in flags.items():
        if flag and name not in term_criteria:
            raise GradingInputError(name, lab_chemistry.NOT_A_CRITERION, {"term": LAB_TERMS[analyte]})
    if symptomatic and analyte not in ("potassium", "lipase", "amylase"):
        raise GradingInputError("symptomatic", lab_chemistry.NOT_A_CRITERION, {"term": LAB_TERMS[analyte]})
    by_value = grade_lab_value(analyte, value, unit, lln=lln, uln=uln, baseline=baseline,
                               baseline_abnormal=baseline_abnormal, symptomatic=symptomatic, translate=translate)
    met = [term_criteria[name] for name, flag in flags.items() if flag]
    if not met:
        return by_value
    t = translate
    clinical, wording = max(met)
    rule = _LAB_RULES[analyte]
    params = {"grade": clinical, "wording": wording, "term": rule.ctcae_term, "value": by_value.rationale}
    why = t(gettext_noop("Grade %(grade)s: %(wording)s (CTCAE v5.0 %(term)s grade %(grade)s; a semicolon means "
                         "'or').")) % params
    if by_value.grade is None:
        bound = undetermined_grade_at_most(analyte)
        if bound is not None and clinical >= bound:
            return _lab_grade(rule, clinical, why + " " + t(gettext_noop("The value alone: %(value)s")) % params)
        return _lab_grade(rule, None, t(gettext_noop("%(value)s Clinically: %(wording)s (grade %(grade)s) at "
                                                     "least.")) % params)
    if clinical > by_value.grade:
        return _lab_grade(rule, clinical, why + " " + t(gettext_noop("The value alone: %(value)s")) % params)
    return _lab_grade(rule, by_value.grade, t(gettext_noop("%(value)s Also: %(wording)s (grade %(grade)s).")) % params)


#: Every clinical criterion a lab value can carry (the lab form's checkboxes, ``LabResult.clinical_criteria``), with
#: the CTCAE wording shown: which ones a term has is checked by :func:`grade_lab`.
LAB_CRITERIA_LABELS = {
    "symptomatic": "Symptomatic (Hypokalemia 2, Hypo/Hypercalcemia 2, Hyponatremia 125-129 mmol/L: 3; "
                   "lipase/amylase: signs or symptoms)",
    "intervention_indicated": "Intervention indicated (Hypokalemia 2)",
    "intervention_initiated": "Intervention initiated (Hypernatremia, Hyperkalemia 2)",
    "transfusion_indicated": "Transfusion indicated (Anemia 3)",
    "hospitalization_indicated": "Hospitalization indicated (3)",
    "life_threatening": "Life-threatening consequences (4)",
    "seizures": "Seizures (Hypoglycemia 4)",
    "oral_antiglycemic_initiated": "Oral antiglycemic agent initiated / workup for diabetes (Hyperglycemia 2)",
    "insulin_initiated": "Insulin therapy initiated (Hyperglycemia 3)",
    "oral_replacement_indicated": "Oral replacement therapy indicated (Hypophosphatemia 2)",
    "noninvasive_intervention_indicated": "Noninvasive intervention indicated (Hyperphosphatemia 2; IgG 2)",
    "physiologic_consequences": "Physiologic consequences (Hyperuricemia 3)",
}
LAB_CRITERIA = tuple(LAB_CRITERIA_LABELS)
#: The verbatim term a lab value reports under an "Other, specify" CTCAE term: (analyte, term) → verbatim.
LAB_VERBATIM = {("igg", lab_chemistry.OTHER_SPECIFY_IMMUNE): lab_chemistry.IGG_VERBATIM}
#: Every clinical criterion of the chemistry terms (graded by direction), for the API and the forms.
CHEMISTRY_CRITERIA = tuple(n for n in lab_chemistry.CHEMISTRY_INPUTS if n != "symptomatic")
#: Potassium above this (mmol/L) is Hyperkalemia grade >= 2 whatever the ULN (CTCAE v5.0 ">5.5 - 6.0 mmol/L").
_HYPERKALEMIA_G2_ABOVE = 5.5


def _by_direction(analyte: str, value: float, unit: str, uln: float | None) -> bool:
    """Whether ``analyte``'s value is graded by :mod:`ae.lab_chemistry`: every chemistry analyte, and potassium
    above its ULN (or above 5.5 mmol/L), which proposes Hyperkalemia."""
    if analyte not in lab_chemistry.CHEMISTRY:
        return False
    if analyte != "potassium":
        return True
    x = _finite("value", value, minimum=0.0, allow_none=False)
    limit = _finite("uln", uln, minimum=0.0)
    return bool(x is not None and (x > _HYPERKALEMIA_G2_ABOVE or (limit and x > limit)))


def _grade_chemistry(analyte: str, value: float, unit: str, lln: float | None, uln: float | None,
                     baseline: float | None, criteria: frozenset[str], albumin: float | None,
                     albumin_unit: str | None, translate: Callable[[str], str] = str) -> Grade:
    """A chemistry value graded by :func:`ae.lab_chemistry.grade_directional` (inputs checked as
    :func:`grade_lab_value` checks them); the Grade names the term the value's direction proposes."""
    rule = _LAB_RULES[analyte]
    code = lab_units.unit_code(analyte, unit)
    if code is None:
        raise GradingInputError("unit", lab_units.unit_error(analyte, unit, translate))
    x = _finite("value", value, minimum=0.0, allow_none=False)
    assert x is not None
    limits = {}
    for name, raw in (("lln", lln), ("uln", uln), ("baseline", baseline)):
        number = _finite(name, raw, minimum=0.0)
        if number is not None and number == 0:
            raise GradingInputError(name, _POSITIVE)
        limits[name] = number
    if limits["lln"] is not None and limits["uln"] is not None and limits["lln"] >= limits["uln"]:
        raise GradingInputError("lln", _LLN_BELOW_ULN)
    albumin_g_dl = None
    if albumin is not None or albumin_unit:
        if not lab_chemistry.CHEMISTRY[analyte].albumin_corrected:
            raise GradingInputError("albumin", _CALCIUM_ONLY)
        alb_code = lab_units.unit_code("albumin", albumin_unit or "")
        if alb_code is None:
            raise GradingInputError("albumin_unit", lab_units.unit_error("albumin", albumin_unit or "", translate))
        amount = _finite("albumin", albumin, minimum=0.0, allow_none=False)
        assert amount is not None
        wrong = lab_units.implausible("albumin", amount, alb_code, translate=translate)
        if wrong:
            raise GradingInputError("albumin", wrong)
        albumin_g_dl = round(amount * _LAB_RULES["albumin"].units[alb_code], _ROUND)
    try:
        result = lab_chemistry.grade_directional(
            analyte, x, code, rule.units[code], lln=limits["lln"], uln=limits["uln"], baseline=limits["baseline"],
            criteria=criteria, albumin_g_dl=albumin_g_dl, unit_label=lab_units.unit_label(code), translate=translate)
    except lab_chemistry.ChemistryInputError as exc:
        raise GradingInputError(exc.field, exc.template, exc.params) from exc
    return Grade(result.grade, CTCAE_SCALE, CTCAE_VERSION, result.rationale, result.term, result.verbatim)


def grade_lab_value(analyte: str, value: float, unit: str, lln: float | None = None, uln: float | None = None,
                    baseline: float | None = None, baseline_abnormal: bool | None = None,
                    symptomatic: bool = False, translate: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 grade of one lab value (NCI CTCAE v5.0 Investigations, Blood and Metabolism terms).

    ``analyte``: one of :data:`LAB_ANALYTES` (anc, platelets, wbc, lymphocytes, hemoglobin, potassium, alt,
    ast, bilirubin, creatinine, alp, ggt, lipase, amylase, albumin, fibrinogen; rules: docs/grading.md).
    ``value``, ``lln``, ``uln`` and ``baseline`` are in ``unit``, one of the analyte's units in
    :data:`ae.lab_units.ANALYTES` in any accepted spelling: counts in 10^9/L (also "x10^9/L", "10^3/uL") or /mm3
    (= /uL, divided by 1000); hemoglobin in g/L (divided by 10) or g/dL; potassium in mmol/L; ALT/AST in U/L (or
    IU/L). Plausibility is not checked here (:func:`ae.lab_units.implausible` does that for data entry). An
    unknown unit raises GradingInputError, and so does a reference limit
    or baseline that is not > 0 once converted and rounded to 9 decimals (ULN 1e-10 would divide by zero).

    Boundaries: "<A - B" means value < A and >= B, ">A - B" means value > A and <= B, so a value exactly on
    a threshold gets the less severe grade (ANC 1.0 = grade 2, ALT 3.0 x ULN = grade 1), except ALT/AST
    grade 1 with an abnormal baseline, which starts at 1.5 x baseline inclusive.
    Grade 1 of the decreased terms needs the (age-specific) LLN: without it a value that is not grade >= 2
    is undetermined (grade None). Hypokalemia < LLN - 3.0 mmol/L is grade 1, or grade 2 when
    ``symptomatic``. ALT/AST: with ``baseline_abnormal`` (default: baseline > ULN
    when both are known; no baseline = normal baseline) grades are multiples of the baseline
    (1.5 / >3 / >5 / >20), otherwise of the ULN (>1 / >3 / >5 / >20); without ULN the normal-baseline path
    is undetermined. Only the value (and Hypokalemia's "symptomatic") is read here; :func:`grade_lab` adds the
    clinical criteria. Grade 5 (death) is never returned. ``translate``: as :func:`grade_lab`.
    """
    t = translate
    _choice("analyte", analyte, LAB_ANALYTES)
    if _by_direction(analyte, value, unit, uln):
        return _grade_chemistry(analyte, value, unit, lln, uln, baseline,
                                frozenset({"symptomatic"} if symptomatic else ()), None, None, t)
    rule = _LAB_RULES[analyte]
    code = lab_units.unit_code(analyte, unit)
    if code is None:
        raise GradingInputError("unit", lab_units.unit_error(analyte, unit, t))
    unit = code
    factor = rule.units[unit]

    def convert(field: str, raw: float | None, *, positive: bool) -> float | None:
        number = _finite(field, raw, minimum=0.0, allow_none=field != "value")
        if number is None:
            return None
        if positive and number == 0:
            raise GradingInputError(field, _POSITIVE)
        converted = round(number * factor, _ROUND)
        if positive and converted == 0:  # e.g. ULN 1e-10: > 0 as typed, 0 after rounding (a division by zero)
            raise GradingInputError(field, gettext_noop("%(value)s %(unit)s is too small: it is 0 at the precision of "
                                                        "the grading rules (must be > 0)"),
                                    {"value": f"{number:g}", "unit": unit})
        return converted

    x = convert("value", value, positive=False)
    assert x is not None  # the value is required (allow_none is False for it)
    low = convert("lln", lln, positive=True)
    high = convert("uln", uln, positive=True)
    base = convert("baseline", baseline, positive=True)
    cu = lab_units.unit_label(rule.canonical_unit)
    shown = f"{x:g} {cu}" + ("" if unit == rule.canonical_unit else f" (= {value:g} {lab_units.unit_label(unit)})")

    if analyte == "fibrinogen":
        return _grade_fibrinogen(rule, x, shown, low, base, t)
    if analyte in _INCREASED:
        if analyte in ("lipase", "amylase"):
            return _grade_pancreatic(rule, x, shown, high, symptomatic, t)
        return _grade_increased(rule, _INCREASED[analyte], x, shown, high, base, baseline_abnormal, t)

    if low is not None and high is not None and low >= high:
        raise GradingInputError("lln", _LLN_BELOW_ULN)
    thresholds = _DECREASED_THRESHOLDS[analyte]
    if (analyte, unit) in _UNIT_THRESHOLDS:  # CTCAE writes this unit's thresholds itself: grade in the unit as typed
        thresholds = _UNIT_THRESHOLDS[(analyte, unit)]
        x, low = round(float(value), _ROUND), None if low is None else round(low / factor, _ROUND)
        cu = lab_units.unit_label(unit)
        shown = f"{x:g} {cu}"
    for grade, threshold in thresholds:
        if x < threshold:
            return _lab_grade(rule, grade, t(gettext_noop("Grade %(grade)s: %(value)s < %(threshold)s %(unit)s.")) % {
                "grade": grade, "value": shown, "threshold": f"{threshold:g}", "unit": cu})
    floor = thresholds[-1][1]
    limits = {"value": shown, "floor": f"{floor:g}", "unit": cu, "lln": "" if low is None else f"{low:g}",
              "top": thresholds[-1][0]}
    if low is None:
        return _lab_grade(rule, None, t(gettext_noop("Undetermined: %(value)s >= %(floor)s %(unit)s (not grade >= "
                                                     "%(top)s); grade 0 vs 1 needs the LLN, which is missing."))
                          % limits)
    if x >= low and analyte == "potassium" and high is None:
        return _lab_grade(rule, None, t(gettext_noop(
            "Undetermined: %(value)s >= LLN %(lln)s %(unit)s (not Hypokalemia); Hyperkalemia grade 0 vs 1 (>ULN - 5.5 "
            "mmol/L) needs the ULN, which is missing.")) % limits)
    if x >= low:
        return _lab_grade(rule, 0, t(gettext_noop("Grade 0: %(value)s >= LLN %(lln)s %(unit)s.")) % limits)
    if analyte == "potassium":
        if symptomatic:
            return _lab_grade(rule, 2, t(gettext_noop("Grade 2: symptomatic with %(value)s < LLN %(lln)s and >= 3.0 "
                                                      "mmol/L.")) % limits)
        return _lab_grade(rule, 1, t(gettext_noop("Grade 1: %(value)s < LLN %(lln)s and >= 3.0 mmol/L, "
                                                  "asymptomatic.")) % limits)
    return _lab_grade(rule, 1, t(gettext_noop("Grade 1: %(value)s < LLN %(lln)s and >= %(floor)s %(unit)s.")) % limits)


def _grade_fibrinogen(rule: _LabRule, x: float, shown: str, lln: float | None, base: float | None,
                      t: Callable[[str], str] = str) -> Grade:
    """CTCAE v5.0 Fibrinogen decreased: G1 "<1.0 - 0.75 x LLN; if abnormal, <25% decrease from baseline", G2 "<0.75 -
    0.5 x LLN; if abnormal, 25 - <50% decrease", G3 "<0.5 - 0.25 x LLN; if abnormal, 50 - <75% decrease", G4 "<0.25
    x LLN; if abnormal, 75% decrease from baseline; absolute value <50 mg/dL". "Abnormal" = baseline < LLN."""
    if x < FIBRINOGEN_ABSOLUTE_G4_G_L:
        return _lab_grade(rule, 4, t(gettext_noop("Grade 4: %(value)s < 0.5 g/L (absolute value < 50 mg/dL).")) % {
            "value": shown})
    if base is not None and lln is not None and base < lln:
        drop = round((base - x) / base, _ROUND)
        ref = t(gettext_noop("%(value)s, %(drop)s%% below the abnormal baseline %(baseline)s g/L")) % {
            "value": shown, "drop": f"{drop * 100:g}", "baseline": f"{base:g}"}
        for grade, at_least in ((4, 0.75), (3, 0.5), (2, 0.25)):
            if drop >= at_least:
                return _lab_grade(rule, grade, t(gettext_noop("Grade %(grade)s: %(ref)s (>= %(least)s%% decrease)."))
                                  % {"grade": grade, "ref": ref, "least": f"{at_least * 100:g}"})
        if drop > 0:
            return _lab_grade(rule, 1, t(gettext_noop("Grade 1: %(ref)s (< 25%% decrease from baseline).")) % {
                "ref": ref})
        return _lab_grade(rule, 0, t(gettext_noop("Grade 0: %(value)s, no decrease from the abnormal baseline "
                                                  "%(baseline)s g/L.")) % {"value": shown, "baseline": f"{base:g}"})
    if lln is None:
        return _lab_grade(rule, None, t(gettext_noop("Undetermined: %(value)s >= 0.5 g/L needs the LLN (grades are "
                                                     "fractions of it).")) % {"value": shown})
    ratio = round(x / lln, _ROUND)
    ref = f"{shown} = {ratio:g} x LLN {lln:g} g/L"
    for grade, below in ((4, 0.25), (3, 0.5), (2, 0.75), (1, 1.0)):
        if ratio < below:
            return _lab_grade(rule, grade, t(gettext_noop("Grade %(grade)s: %(ref)s (< %(below)s x LLN).")) % {
                "grade": grade, "ref": ref, "below": f"{below:g}"})
    return _lab_grade(rule, 0, t(gettext_noop("Grade 0: %(ref)s (>= LLN).")) % {"ref": ref})


def _grade_pancreatic(rule: _LabRule, x: float, shown: str, uln: float | None, symptomatic: bool,
                      t: Callable[[str], str] = str) -> Grade:
    """Lipase / Serum amylase increased (CTCAE v5.0): > 2.0 x ULN is graded with the signs or symptoms."""
    if uln is None:
        return _lab_grade(rule, None, t(gettext_noop("Undetermined: %(value)s needs the ULN.")) % {"value": shown})
    ratio = round(x / uln, _ROUND)
    ref = f"{ratio:g} x ULN {uln:g} U/L"
    signs = t(gettext_noop("with signs or symptoms")) if symptomatic else t(gettext_noop("asymptomatic"))
    grade_text = t(gettext_noop("Grade %(grade)s:"))
    if ratio > 5.0:
        grade = 4 if symptomatic else 3
        return _lab_grade(rule, grade, f"{grade_text % {'grade': grade}} {shown} = {ref} "
                                       f"(> 5.0 x ULN, {signs}).")
    if ratio > 2.0:
        grade = 3 if symptomatic else 2
        return _lab_grade(rule, grade, f"{grade_text % {'grade': grade}} {shown} = {ref} "
                                       f"(> 2.0 - 5.0 x ULN, {signs}).")
    for grade, above in _INCREASED["lipase"].uln:
        if ratio > above:
            return _lab_grade(rule, grade, f"{grade_text % {'grade': grade}} {shown} = "
                                           f"{ref} (> {above:g} x ULN).")
    return _lab_grade(rule, 0, f"{grade_text % {'grade': 0}} {shown} = {ref} (<= ULN).")


def _grade_increased(rule: _LabRule, steps: _IncreasedRule, x: float, shown: str, uln: float | None,
                     base: float | None, baseline_abnormal: bool | None, t: Callable[[str], str] = str) -> Grade:
    cu = lab_units.unit_label(rule.canonical_unit)
    grade_text = t(gettext_noop("Grade %(grade)s:"))
    if steps.baseline_is_or:  # Creatinine: "x baseline" and "x ULN" are alternatives (semicolon = or)
        if uln is None:
            return _lab_grade(rule, None, t(gettext_noop("Undetermined: %(value)s needs the ULN.")) % {"value": shown})
        ratio = round(x / uln, _ROUND)
        grade, why = 0, f"{shown} = {ratio:g} x ULN {uln:g} {cu} (<= ULN)"
        for g, above in steps.uln:
            if ratio > above:
                grade, why = g, f"{shown} = {ratio:g} x ULN {uln:g} {cu} (> {above:g} x ULN)"
                break
        if base is not None:
            b_ratio = round(x / base, _ROUND)
            for g, above in steps.baseline:
                if b_ratio > above and g > grade:
                    grade, why = g, t(gettext_noop(
                        "%(value)s = %(ratio)s x baseline %(baseline)s %(unit)s (> %(above)s x baseline)")) % {
                        "value": shown, "ratio": f"{b_ratio:g}", "baseline": f"{base:g}", "unit": cu,
                        "above": f"{above:g}"}
                    break
        return _lab_grade(rule, grade, f"{grade_text % {'grade': grade}} {why}.")
    if baseline_abnormal is None:
        baseline_abnormal = base is not None and uln is not None and base > uln
    elif baseline_abnormal:
        if base is None:
            raise GradingInputError("baseline", gettext_noop("is required when baseline_abnormal is true"))
        if uln is not None and base <= uln:
            raise GradingInputError("baseline_abnormal", gettext_noop("true but baseline %(baseline)s is not above "
                                                                      "ULN %(uln)s"),
                                    {"baseline": f"{base:g}", "uln": f"{uln:g}"})
    if baseline_abnormal and base is not None and steps.baseline_g1 is not None:
        ratio = round(x / base, _ROUND)
        ref = t(gettext_noop("%(ratio)s x abnormal baseline %(baseline)s %(unit)s")) % {
            "ratio": f"{ratio:g}", "baseline": f"{base:g}", "unit": cu}
        for grade, above in steps.baseline:
            if ratio > above:
                return _lab_grade(rule, grade, t(gettext_noop("Grade %(grade)s: %(value)s = %(ref)s (> %(above)s x "
                                                              "baseline).")) % {"grade": grade, "value": shown,
                                                                                "ref": ref, "above": f"{above:g}"})
        g1, top = steps.baseline_g1, steps.baseline[-1][1]
        if ratio > g1 or (steps.baseline_g1_inclusive and ratio == g1):
            floor = (t(gettext_noop("%(g1)s inclusive")) if steps.baseline_g1_inclusive
                     else t(gettext_noop("above %(g1)s"))) % {"g1": f"{g1:g}"}
            return _lab_grade(rule, 1, t(gettext_noop("Grade 1: %(value)s = %(ref)s (%(g1)s - %(top)s x baseline, "
                                                      "%(floor)s).")) % {"value": shown, "ref": ref, "g1": f"{g1:g}",
                                                                         "top": f"{top:g}", "floor": floor})
        return _lab_grade(rule, 0, t(gettext_noop("Grade 0: %(value)s = %(ref)s (below the grade 1 multiple of the "
                                                  "baseline).")) % {"value": shown, "ref": ref})
    if uln is None:
        return _lab_grade(rule, None, t(gettext_noop("Undetermined: %(value)s needs the ULN (baseline normal or "
                                                     "unknown).")) % {"value": shown})
    ratio = round(x / uln, _ROUND)
    ref = f"{ratio:g} x ULN {uln:g} {cu}"
    for grade, above in steps.uln:
        if ratio > above:
            return _lab_grade(rule, grade, f"{grade_text % {'grade': grade}} {shown} = {ref} (> {above:g} x ULN).")
    return _lab_grade(rule, 0, f"{grade_text % {'grade': 0}} {shown} = {ref} (<= ULN).")
