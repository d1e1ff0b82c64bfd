"""Bedside grading rules for CRS, ICANS and CTCAE v5.0 lab toxicities (pure functions, no Django models).

Sources are summarised in ``/work/shared/reference/grading.md`` (section numbers below refer to it):

* ASTCT 2019 consensus CRS and ICANS grading (Lee DW, Santomasso BD, Locke FL, et al.
  Biol Blood Marrow Transplant 2019;25(4):625-638), grading.md §2.1-2.4.
* NCI CTCAE v5.0 "Cytokine release syndrome" (grading.md §1.3/1.4) and lab terms (§3.1).
* Lee 2014 CRS grading (Lee DW et al. Blood 2014;124(2):188-195), grading.md §2.5.

Every function returns a :class:`Grade` whose ``rationale`` names the criterion that set the grade, and
raises :class:`GradingInputError` (a ``ValueError`` carrying the offending input's name in ``field``) for
impossible or contradictory input. Nothing here guesses clinical facts: where a rule needs a clinical
judgement (e.g. "life-threatening consequences") it is an explicit boolean input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ae import lab_units

ASTCT_SCALE = "ASTCT 2019"
ASTCT_VERSION = "2019"
CTCAE_SCALE = "CTCAE"
CTCAE_VERSION = "5.0"
LEE_SCALE = "Lee 2014"
LEE_VERSION = "2014"

FEVER_C = 38.0  # ASTCT footnote and CTCAE v5.0 "Fever" grade 1: temperature >= 38.0 degrees C
LOW_FLOW_MAX_L_MIN = 6.0  # ASTCT footnote: low flow = <= 6 L/min, high flow = > 6 L/min
FIO2_THRESHOLD_PERCENT = 40.0  # CTCAE v5.0 CRS and Lee 2014: < 40 % vs >= 40 % O2
PLAUSIBLE_TEMPERATURE_C = (25.0, 45.0)  # outside this range the input is treated as a typing error

VASOPRESSORS = frozenset({"norepinephrine", "epinephrine", "dopamine", "phenylephrine", "vasopressin"})
# ASTCT 2019 oxygen support (grading.md §2.1). Nasal cannulas are graded by flow, the rest by device.
OXYGEN_DEVICES = ("none", "blow_by", "nasal_cannula", "high_flow_nasal_cannula", "facemask", "non_rebreather",
                  "venturi", "cpap", "bipap", "mechanical_ventilation")
_OXYGEN_DEVICE_GRADE = {"none": 0, "blow_by": 2, "facemask": 3, "non_rebreather": 3, "venturi": 3,
                        "cpap": 4, "bipap": 4, "mechanical_ventilation": 4}

ICANS_TOOLS = ("ICE", "CAPD")
CONSCIOUSNESS_LEVELS = ("normal", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable")
SEIZURE_LEVELS = ("none", "rapid_resolving_or_eeg_treated", "prolonged_or_repetitive")
MOTOR_LEVELS = ("none", "deep_focal_weakness")
CEREBRAL_EDEMA_LEVELS = ("none", "focal", "diffuse_or_signs")
_CONSCIOUSNESS_GRADE = {"normal": 0, "awakens_spontaneously": 0, "awakens_to_voice": 2, "awakens_to_tactile": 3,
                        "unarousable": 4}
_SEIZURE_GRADE = {"none": 0, "rapid_resolving_or_eeg_treated": 3, "prolonged_or_repetitive": 4}
_MOTOR_GRADE = {"none": 0, "deep_focal_weakness": 4}
_EDEMA_GRADE = {"none": 0, "focal": 3, "diffuse_or_signs": 4}
ICE_MAX = 10
CAPD_MAX = 32


class GradingInputError(ValueError):
    """An impossible or contradictory grading input; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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


def _finite(field: str, value: float | None, *, minimum: float | None = None, maximum: float | None = None,
            allow_none: bool = True) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise GradingInputError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GradingInputError(field, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise GradingInputError(field, "must be a finite number")
    if minimum is not None and value < minimum:
        raise GradingInputError(field, f"must be >= {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise GradingInputError(field, f"must be <= {maximum:g}, got {value:g}")
    return value


def _choice(field: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise GradingInputError(field, f"unknown value {value!r}; expected one of {', '.join(choices)}")
    return value


def _vasopressor_set(vasopressors: Iterable[str] | None) -> frozenset[str]:
    if isinstance(vasopressors, str):
        raise GradingInputError("vasopressors", "must be a list of agent names, not a string")
    agents = frozenset(vasopressors or ())
    unknown = sorted(agents - VASOPRESSORS)
    if unknown:
        raise GradingInputError("vasopressors", f"unknown agent(s) {', '.join(unknown)}; expected "
                                                f"{', '.join(sorted(VASOPRESSORS))}")
    return agents


def _temperature(temperature_c: float | None) -> float | None:
    low, high = PLAUSIBLE_TEMPERATURE_C
    return _finite("temperature_c", temperature_c, minimum=low, maximum=high)


# --------------------------------------------------------------------------------------------- CRS


def grade_crs_astct(*, temperature_c: float | None = None, tocilizumab_or_steroids_given: bool = False,
                    had_crs_before: bool = False, hypotension: bool = False,
                    vasopressors: Iterable[str] | None = None, oxygen_device: str = "none",
                    oxygen_flow_l_min: float | None = None, death_due_to_crs: bool = False) -> Grade:
    """ASTCT 2019 consensus CRS grade (grading.md §2.1).

    Units: ``temperature_c`` in degrees Celsius (25-45 accepted); ``oxygen_flow_l_min`` in L/min (>= 0).
    ``vasopressors`` are agent names from :data:`VASOPRESSORS` (duplicates count once);
    ``oxygen_device`` is one of :data:`OXYGEN_DEVICES`.

    Rules: fever is >= 38.0 degrees C; once a patient has had CRS and received tocilizumab or steroids, fever is
    no longer required (footnote: antipyretic/anticytokine therapy masks fever). Without fever the ASTCT
    CRS criteria are not met (grade 0). Hypotension: not requiring vasopressors = 2; one vasopressor with or
    without vasopressin = 3; multiple vasopressors excluding vasopressin = 4 (footnote: vasopressin does not
    count). A vasopressor implies hypotension. Hypoxia: blow-by or nasal cannula <= 6 L/min = 2; nasal cannula
    > 6 L/min, facemask, non-rebreather, Venturi = 3; CPAP, BiPAP, mechanical ventilation = 4. The grade is
    set by the more severe of hypotension and hypoxia (tie-break footnote); fever alone = 1; death due to
    CRS = 5.

    Raises GradingInputError for an unknown agent or device, a negative flow, a nasal cannula without a
    flow, a flow with device "none", or an implausible temperature.
    """
    temperature = _temperature(temperature_c)
    agents = _vasopressor_set(vasopressors)
    device = _choice("oxygen_device", oxygen_device, OXYGEN_DEVICES)
    flow = _finite("oxygen_flow_l_min", oxygen_flow_l_min, minimum=0.0)
    if device == "none" and flow:
        raise GradingInputError("oxygen_flow_l_min", "an oxygen flow was given but oxygen_device is 'none'")
    if device == "nasal_cannula" and flow is None:
        raise GradingInputError("oxygen_flow_l_min", "is required for a nasal cannula (low flow <= 6 L/min "
                                                     "vs high flow > 6 L/min)")

    if death_due_to_crs:
        return Grade(5, ASTCT_SCALE, ASTCT_VERSION, "Grade 5: death due to CRS.")

    fever = temperature is not None and temperature >= FEVER_C
    masked = had_crs_before and tocilizumab_or_steroids_given
    if not fever and not masked:
        shown = "not recorded" if temperature is None else f"{temperature:g} °C"
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION,
                     f"ASTCT CRS criteria not met: no fever >= 38.0 °C (temperature {shown}) and fever is not "
                     "masked by tocilizumab/steroids after earlier CRS.")

    # Hypotension domain.
    counted = agents - {"vasopressin"}
    if len(counted) >= 2:
        hypo_g, hypo_why = 4, (f"hypotension requiring multiple vasopressors ({', '.join(sorted(counted))}; "
                               "vasopressin excluded from the count)")
    elif counted:
        extra = " + vasopressin (does not count toward 'multiple')" if "vasopressin" in agents else ""
        hypo_g, hypo_why = 3, f"hypotension requiring a vasopressor ({next(iter(counted))}{extra})"
    elif agents:  # vasopressin alone: not covered explicitly by the paper; it is still a vasopressor.
        hypo_g, hypo_why = 3, "hypotension requiring a vasopressor (vasopressin alone, graded as one vasopressor)"
    elif hypotension:
        hypo_g, hypo_why = 2, "hypotension not requiring vasopressors"
    else:
        hypo_g, hypo_why = 0, ""

    # Hypoxia domain.
    if device in ("nasal_cannula", "high_flow_nasal_cannula") and flow is not None:
        label = device.replace("_", " ")
        if flow <= LOW_FLOW_MAX_L_MIN:
            oxy_g, oxy_why = 2, f"hypoxia requiring low-flow oxygen ({label} {flow:g} L/min <= 6 L/min)"
        else:
            oxy_g, oxy_why = 3, f"hypoxia requiring high-flow nasal cannula ({flow:g} L/min > 6 L/min)"
    elif device == "high_flow_nasal_cannula":
        oxy_g, oxy_why = 3, "hypoxia requiring high-flow nasal cannula (flow not recorded)"
    else:
        oxy_g = _OXYGEN_DEVICE_GRADE[device]
        oxy_why = {2: "hypoxia requiring blow-by oxygen (low flow)",
                   3: f"hypoxia requiring {device.replace('_', ' ')} oxygen",
                   4: f"hypoxia requiring positive pressure ({device.replace('_', ' ')})"}.get(oxy_g, "")

    fever_why = f"fever {temperature:g} °C" if fever else "fever masked by tocilizumab/steroids after earlier CRS"
    if hypo_g == 0 and oxy_g == 0:
        if fever:
            return Grade(1, ASTCT_SCALE, ASTCT_VERSION, f"Grade 1: {fever_why} without hypotension or hypoxia.")
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION,
                     "Grade 0: fever masked by tocilizumab/steroids but no hypotension or hypoxia "
                     "(no grade in the paper; treated as resolved).")
    grade = max(hypo_g, oxy_g)
    if hypo_g == oxy_g:
        why = f"{hypo_why} and {oxy_why}"
    else:
        why = hypo_why if hypo_g > oxy_g else oxy_why
        other = oxy_why if hypo_g > oxy_g else hypo_why
        if other:
            why += f" (more severe than {other}; the worse event sets the grade)"
    return Grade(grade, ASTCT_SCALE, ASTCT_VERSION, f"Grade {grade}: {fever_why} with {why}.")


def grade_crs_ctcae_v5(*, temperature_c: float | None = None, hypotension: bool = False,
                       vasopressors: Iterable[str] | None = None, oxygen_fio2_percent: float | None = None,
                       life_threatening_urgent_intervention: bool = False, death_due_to_crs: bool = False) -> Grade:
    """CTCAE v5.0 "Cytokine release syndrome" (MedDRA 10052015; grading.md §1.3/1.4).

    Units: ``temperature_c`` degrees Celsius; ``oxygen_fio2_percent`` is the delivered FiO2 in percent
    (21-100; None or 21 = room air, no hypoxia). ``vasopressors`` as in :func:`grade_crs_astct`.

    Grade 1 fever (>= 38.0 degrees C) with or without constitutional symptoms; grade 2 hypotension responding to
    fluids or hypoxia responding to < 40 % O2; grade 3 hypotension managed with a pressor (any agent, more
    than one is still grade 3 unless judged life-threatening) or hypoxia requiring >= 40 % O2; grade 4
    life-threatening consequences, urgent intervention indicated (explicit clinical input); grade 5 death.
    The worst criterion met sets the grade.
    """
    temperature = _temperature(temperature_c)
    agents = _vasopressor_set(vasopressors)
    fio2 = _finite("oxygen_fio2_percent", oxygen_fio2_percent, minimum=21.0, maximum=100.0)
    ctcae = (CTCAE_SCALE, CTCAE_VERSION)
    if death_due_to_crs:
        return Grade(5, *ctcae, "Grade 5: death.")
    if life_threatening_urgent_intervention:
        return Grade(4, *ctcae, "Grade 4: life-threatening consequences; urgent intervention indicated.")
    if agents:
        return Grade(3, *ctcae, f"Grade 3: hypotension managed with a pressor ({', '.join(sorted(agents))}).")
    if fio2 is not None and fio2 >= FIO2_THRESHOLD_PERCENT:
        return Grade(3, *ctcae, f"Grade 3: hypoxia requiring >= 40% O2 (FiO2 {fio2:g}%).")
    if hypotension or (fio2 is not None and fio2 > 21.0):
        parts = (["hypotension responding to fluids (no pressor)"] if hypotension else []) + (
            [f"hypoxia responding to < 40% O2 (FiO2 {fio2:g}%)"] if fio2 is not None and fio2 > 21.0 else [])
        return Grade(2, *ctcae, f"Grade 2: {'; '.join(parts)}.")
    if temperature is not None and temperature >= FEVER_C:
        return Grade(1, *ctcae, f"Grade 1: fever {temperature:g} °C with or without constitutional symptoms.")
    return Grade(0, *ctcae, "Grade 0: no fever, hypotension, hypoxia or life-threatening consequences.")


def grade_crs_lee2014(*, temperature_c: float | None = None, constitutional_symptoms: bool = False,
                      hypotension: bool = False, vasopressors: Iterable[str] | None = None,
                      high_dose_or_multiple_pressors: bool = False, oxygen_fio2_percent: float | None = None,
                      ventilator_support: bool = False, organ_toxicity_grade: int = 0,
                      organ_toxicity_is_transaminitis: bool = False, death_due_to_crs: bool = False) -> Grade:
    """Lee 2014 CRS grade (Blood 2014;124:188-195; grading.md §2.5).

    Units: ``temperature_c`` degrees Celsius; ``oxygen_fio2_percent`` FiO2 in percent (21-100; None or 21 =
    no oxygen requirement). ``organ_toxicity_grade`` is the worst CRS-associated organ toxicity by CTCAE
    v4.0 (0-4); ``organ_toxicity_is_transaminitis`` says whether that worst toxicity is a transaminase rise.

    Grade 1: non-life-threatening symptoms needing symptomatic treatment only (fever >= 38.0 degrees C or
    ``constitutional_symptoms``); fever is not required for higher grades. Grade 2: O2 < 40 % FiO2, hypotension
    responsive to fluids or a low dose of one vasopressor, or grade 2 organ toxicity. Grade 3: O2 >= 40 %
    FiO2, hypotension requiring high-dose or multiple vasopressors (``high_dose_or_multiple_pressors``, the
    high-dose table itself is not encoded; two or more distinct agents count as multiple), grade 3 organ
    toxicity or grade 4 transaminitis. Grade 4: ventilator support or grade 4 organ toxicity other than
    transaminitis. Grade 5: death. Highest criterion met wins.

    Raises GradingInputError when ``high_dose_or_multiple_pressors`` is set without any vasopressor, or
    for an organ toxicity grade outside 0-4.
    """
    temperature = _temperature(temperature_c)
    agents = _vasopressor_set(vasopressors)
    fio2 = _finite("oxygen_fio2_percent", oxygen_fio2_percent, minimum=21.0, maximum=100.0)
    if isinstance(organ_toxicity_grade, bool) or not isinstance(organ_toxicity_grade, int) or not (
            0 <= organ_toxicity_grade <= 4):
        raise GradingInputError("organ_toxicity_grade", f"must be an integer 0-4, got {organ_toxicity_grade!r}")
    if high_dose_or_multiple_pressors and not agents:
        raise GradingInputError("high_dose_or_multiple_pressors", "set but no vasopressor was given")
    lee = (LEE_SCALE, LEE_VERSION)
    if death_due_to_crs:
        return Grade(5, *lee, "Grade 5: death.")
    organ = organ_toxicity_grade
    if ventilator_support:
        return Grade(4, *lee, "Grade 4: requirement for ventilator support.")
    if organ == 4 and not organ_toxicity_is_transaminitis:
        return Grade(4, *lee, "Grade 4: grade 4 organ toxicity (excluding transaminitis).")
    if high_dose_or_multiple_pressors or len(agents) >= 2:
        return Grade(3, *lee, f"Grade 3: hypotension requiring high-dose or multiple vasopressors "
                              f"({', '.join(sorted(agents))}).")
    if fio2 is not None and fio2 >= FIO2_THRESHOLD_PERCENT:
        return Grade(3, *lee, f"Grade 3: oxygen requirement >= 40% FiO2 (FiO2 {fio2:g}%).")
    if organ == 4:
        return Grade(3, *lee, "Grade 3: grade 4 transaminitis.")
    if organ == 3:
        return Grade(3, *lee, "Grade 3: grade 3 organ toxicity.")
    if agents:
        return Grade(2, *lee, f"Grade 2: hypotension responsive to a low dose of one vasopressor "
                              f"({next(iter(agents))}).")
    if hypotension:
        return Grade(2, *lee, "Grade 2: hypotension responsive to fluids.")
    if fio2 is not None and fio2 > 21.0:
        return Grade(2, *lee, f"Grade 2: oxygen requirement < 40% FiO2 (FiO2 {fio2:g}%).")
    if organ == 2:
        return Grade(2, *lee, "Grade 2: grade 2 organ toxicity.")
    if (temperature is not None and temperature >= FEVER_C) or constitutional_symptoms or organ == 1:
        what = f"fever {temperature:g} °C" if temperature is not None and temperature >= FEVER_C else (
            "constitutional symptoms" if constitutional_symptoms else "grade 1 organ toxicity")
        return Grade(1, *lee, f"Grade 1: symptoms not life-threatening, symptomatic treatment only ({what}).")
    return Grade(0, *lee, "Grade 0: no CRS symptoms.")


# ------------------------------------------------------------------------------------------- ICANS


def default_icans_tool(age_years: float, developmental_delay: bool = False) -> str:
    """The ASTCT 2019 default ICANS encephalopathy tool (grading.md §2.4).

    ``age_years`` in years (>= 0). Returns "ICE" for age >= 12 without developmental delay, else "CAPD"
    (the paper: CAPD for children < 12 y and for older patients with baseline developmental delay).
    """
    _finite("age_years", age_years, minimum=0.0, maximum=130.0, allow_none=False)
    return "ICE" if age_years >= 12 and not developmental_delay else "CAPD"


def _score(field: str, value: int | None, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise GradingInputError(field, f"must be an integer 0-{maximum}, got {value!r}")
    if not 0 <= value <= maximum:
        raise GradingInputError(field, f"must be between 0 and {maximum}, got {value}")
    return value


def grade_icans(*, tool: str, ice_score: int | None = None, capd_score: int | None = None,
                unable_to_perform: bool = False, consciousness: str = "normal", seizure: str = "none",
                motor: str = "none", cerebral_edema: str = "none", death: bool = False) -> Grade:
    """ASTCT 2019 ICANS grade (grading.md §2.3 adults/children >= 12 with ICE, §2.4 children with CAPD).

    ``tool`` is "ICE" (score 0-10 points) or "CAPD" (total 0-32 points; item scores are not stored here).
    Exactly one of a score for the chosen tool or ``unable_to_perform`` must be given.

    Domains (grade = worst domain, tie-break footnote): ICE 7-9 = 1, 3-6 = 2, 0-2 = 3 (ICE 0 while awake,
    e.g. global aphasia), 0 because unarousable (``unable_to_perform`` with consciousness "unarousable") = 4;
    unable to perform ICE while arousable counts as ICE 0 = 3. CAPD 1-8 = 1 (grade 2 only via consciousness
    "awakens to voice"), >= 9 = 3, unable to perform CAPD = 4. Consciousness: awakens spontaneously does not
    raise the grade on its own, awakens to voice = 2, only to tactile stimulus = 3, unarousable = 4. Seizure
    resolving rapidly or EEG seizure resolving with intervention = 3, prolonged/repetitive = 4. Deep focal
    motor weakness = 4. Focal edema = 3, diffuse edema or raised-ICP signs = 4. Death due to ICANS = 5.
    Tremor, myoclonus and intracranial haemorrhage are deliberately not inputs (graded by CTCAE).

    Raises GradingInputError for an unknown tool or domain value, a score out of range, a score for the
    other tool, a missing score, or a score together with ``unable_to_perform``.
    """
    tool = _choice("tool", tool, ICANS_TOOLS)
    consciousness = _choice("consciousness", consciousness, CONSCIOUSNESS_LEVELS)
    seizure = _choice("seizure", seizure, SEIZURE_LEVELS)
    motor = _choice("motor", motor, MOTOR_LEVELS)
    cerebral_edema = _choice("cerebral_edema", cerebral_edema, CEREBRAL_EDEMA_LEVELS)
    ice = _score("ice_score", ice_score, ICE_MAX)
    capd = _score("capd_score", capd_score, CAPD_MAX)
    if tool == "ICE" and capd is not None:
        raise GradingInputError("capd_score", "given but the tool is ICE")
    if tool == "CAPD" and ice is not None:
        raise GradingInputError("ice_score", "given but the tool is CAPD")
    score = ice if tool == "ICE" else capd
    score_field = "ice_score" if tool == "ICE" else "capd_score"
    if unable_to_perform and score is not None:
        raise GradingInputError(score_field, f"given although the {tool} could not be performed")
    if not unable_to_perform and score is None:
        raise GradingInputError(score_field, f"is required (or set unable_to_perform) for the {tool} tool")
    measured = -1 if score is None else score  # only read when the tool was performed (score given)

    if death:
        return Grade(5, ASTCT_SCALE, ASTCT_VERSION, "Grade 5: death due to ICANS.")

    domains: list[tuple[int, str]] = []
    if tool == "ICE":
        if unable_to_perform:
            if consciousness == "unarousable":
                domains.append((4, "ICE 0 because unarousable and unable to perform ICE"))
            else:
                domains.append((3, "unable to perform ICE while arousable (scored as ICE 0 awake)"))
        elif measured <= 2:
            domains.append((3, f"ICE score {score} (0-2)"))
        elif measured <= 6:
            domains.append((2, f"ICE score {score} (3-6)"))
        elif measured <= 9:
            domains.append((1, f"ICE score {score} (7-9)"))
    else:
        if unable_to_perform:
            domains.append((4, "unable to perform CAPD"))
        elif measured >= 9:
            domains.append((3, f"CAPD score {score} (>= 9)"))
        elif measured >= 1:
            domains.append((1, f"CAPD score {score} (1-8)"))
    domains.append((_CONSCIOUSNESS_GRADE[consciousness], f"depressed level of consciousness: "
                                                         f"{consciousness.replace('_', ' ')}"))
    domains.append((_SEIZURE_GRADE[seizure], f"seizure: {seizure.replace('_', ' ')}"))
    domains.append((_MOTOR_GRADE[motor], "deep focal motor weakness"))
    domains.append((_EDEMA_GRADE[cerebral_edema], f"cerebral edema: {cerebral_edema.replace('_', ' ')}"))

    grade = max(g for g, _ in domains)
    if grade == 0:
        return Grade(0, ASTCT_SCALE, ASTCT_VERSION, f"Grade 0: no ICANS domain abnormal ({tool} normal).")
    worst = "; ".join(why for g, why in domains if g == grade)
    return Grade(grade, ASTCT_SCALE, ASTCT_VERSION, f"Grade {grade} ({tool} tool): worst domain {worst}.")


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
}
LAB_ANALYTES = tuple(_LAB_RULES)
#: The CTCAE v5.0 term each analyte is graded as ("platelets" → "Platelet count decreased").
LAB_TERMS = {analyte: rule.ctcae_term for analyte, rule in _LAB_RULES.items()}
# "Decreased" terms: (grade, value strictly below this threshold in the canonical unit), worst first.
_DECREASED_THRESHOLDS = {
    "anc": ((4, 0.5), (3, 1.0), (2, 1.5)),
    "platelets": ((4, 25.0), (3, 50.0), (2, 75.0)),
    "wbc": ((4, 1.0), (3, 2.0), (2, 3.0)),
    "lymphocytes": ((4, 0.2), (3, 0.5), (2, 0.8)),
    "hemoglobin": ((3, 8.0), (2, 10.0)),
    "potassium": ((4, 2.5), (3, 3.0)),
}
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


def grade_lab(analyte: str, value: float, unit: str, lln: float | None = None, uln: float | None = None,
              baseline: float | None = None, baseline_abnormal: bool | None = None,
              symptomatic_intervention_indicated: bool = False) -> Grade:
    """CTCAE v5.0 grade of one lab value (grading.md §3.1).

    ``analyte``: one of :data:`LAB_ANALYTES` (anc, platelets, wbc, lymphocytes, hemoglobin, potassium, alt,
    ast). ``value``, ``lln``, ``uln`` and ``baseline`` are in ``unit``, one of the analyte's units in
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
    ``symptomatic_intervention_indicated``. ALT/AST: with ``baseline_abnormal`` (default: baseline > ULN
    when both are known; no baseline = normal baseline) grades are multiples of the baseline
    (1.5 / >3 / >5 / >20), otherwise of the ULN (>1 / >3 / >5 / >20); without ULN the normal-baseline path
    is undetermined. Only lab values are read: clinical-only grades (anemia transfusion/grade 4, grade 5)
    are never returned.
    """
    _choice("analyte", analyte, LAB_ANALYTES)
    rule = _LAB_RULES[analyte]
    code = lab_units.unit_code(analyte, unit)
    if code is None:
        raise GradingInputError("unit", lab_units.unit_error(analyte, unit))
    unit = code
    factor = rule.units[unit]

    def convert(field: str, raw: float | None, *, positive: bool) -> float | None:
        number = _finite(field, raw, minimum=0.0, allow_none=field != "value")
        if number is None:
            return None
        if positive and number == 0:
            raise GradingInputError(field, "must be > 0")
        converted = round(number * factor, _ROUND)
        if positive and converted == 0:  # e.g. ULN 1e-10: > 0 as typed, 0 after rounding (a division by zero)
            raise GradingInputError(field, f"{number:g} {unit} is too small: it is 0 at the precision of the "
                                           "grading rules (must be > 0)")
        return converted

    x = convert("value", value, positive=False)
    assert x is not None  # the value is required (allow_none is False for it)
    low = convert("lln", lln, positive=True)
    high = convert("uln", uln, positive=True)
    base = convert("baseline", baseline, positive=True)
    cu = lab_units.unit_label(rule.canonical_unit)
    shown = f"{x:g} {cu}" + ("" if unit == rule.canonical_unit else f" (= {value:g} {lab_units.unit_label(unit)})")

    if analyte in ("alt", "ast"):
        return _grade_transaminase(rule, x, shown, high, base, baseline_abnormal)

    if low is not None and high is not None and low >= high:
        raise GradingInputError("lln", "must be below uln")
    for grade, threshold in _DECREASED_THRESHOLDS[analyte]:
        if x < threshold:
            return _lab_grade(rule, grade, f"Grade {grade}: {shown} < {threshold:g} {cu}.")
    floor = _DECREASED_THRESHOLDS[analyte][-1][1]
    if low is None:
        return _lab_grade(rule, None, f"Undetermined: {shown} >= {floor:g} {cu} (not grade >= "
                                      f"{_DECREASED_THRESHOLDS[analyte][-1][0]}); grade 0 vs 1 needs the LLN, "
                                      "which is missing.")
    if x >= low:
        return _lab_grade(rule, 0, f"Grade 0: {shown} >= LLN {low:g} {cu}.")
    if analyte == "potassium":
        if symptomatic_intervention_indicated:
            return _lab_grade(rule, 2, f"Grade 2: symptomatic with {shown} < LLN {low:g} and >= 3.0 mmol/L; "
                                       "intervention indicated.")
        return _lab_grade(rule, 1, f"Grade 1: {shown} < LLN {low:g} and >= 3.0 mmol/L, asymptomatic.")
    return _lab_grade(rule, 1, f"Grade 1: {shown} < LLN {low:g} and >= {floor:g} {cu}.")


def _grade_transaminase(rule: _LabRule, x: float, shown: str, uln: float | None, base: float | None,
                        baseline_abnormal: bool | None) -> Grade:
    if baseline_abnormal is None:
        baseline_abnormal = base is not None and uln is not None and base > uln
    elif baseline_abnormal:
        if base is None:
            raise GradingInputError("baseline", "is required when baseline_abnormal is true")
        if uln is not None and base <= uln:
            raise GradingInputError("baseline_abnormal", f"true but baseline {base:g} is not above ULN {uln:g}")
    if baseline_abnormal and base is not None:
        ratio = round(x / base, _ROUND)
        ref = f"{ratio:g} x abnormal baseline {base:g} U/L"
        for grade, above in ((4, 20.0), (3, 5.0), (2, 3.0)):
            if ratio > above:
                return _lab_grade(rule, grade, f"Grade {grade}: {shown} = {ref} (> {above:g} x baseline).")
        if ratio >= 1.5:
            return _lab_grade(rule, 1, f"Grade 1: {shown} = {ref} (1.5 - 3.0 x baseline, 1.5 inclusive).")
        return _lab_grade(rule, 0, f"Grade 0: {shown} = {ref} (< 1.5 x baseline).")
    if uln is None:
        return _lab_grade(rule, None, f"Undetermined: {shown} needs the ULN (baseline normal or unknown).")
    ratio = round(x / uln, _ROUND)
    ref = f"{ratio:g} x ULN {uln:g} U/L"
    for grade, above in ((4, 20.0), (3, 5.0), (2, 3.0), (1, 1.0)):
        if ratio > above:
            return _lab_grade(rule, grade, f"Grade {grade}: {shown} = {ref} (> {above:g} x ULN).")
    return _lab_grade(rule, 0, f"Grade 0: {shown} = {ref} (<= ULN).")
