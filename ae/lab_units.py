"""The units each lab analyte is reported in (the ward's usual one first) and the values plausible in each.

Pure data and functions (no Django), read by the grading rules (:mod:`ae.grading`: conversion factors), the lab
form and the grading API (units offered, unit checked per analyte, plausibility) and the lab service. The
reasoning and sources of every unit and range are in ``docs/labs.md``; change both together.

* **Units.** Each analyte has one stored spelling per unit (``Unit.code``, ASCII, what ``LabResult.unit`` holds)
  and a label for people (``Unit.label``). The first unit is the default: what a European paediatric
  haematology ward's laboratory prints (SI units: counts in ×10⁹/L, haemoglobin in g/L, potassium in mmol/L,
  enzymes in U/L). Other spellings of the same unit (``x10^9/L``, ``10^3/uL``, ``/uL``, ``IU/L``, ``g/dl`` …)
  are accepted as input and stored as the one code (:func:`unit_code`).
* **Plausibility.** ``Unit.plausible`` is the inclusive range of a value in that unit that can come from a living
  child on a leukaemia ward — physiological but generous, so that only a unit slip or a typing slip falls
  outside (Hb 95 "g/dL", ANC 750 "×10⁹/L", platelets 18 "/mm³"). A count below the analyser's detection limit
  may be typed as 0 in any count unit (``zero_plausible``). :func:`implausible` says so in words and names the
  unit the value is plausible in ("Did you mean 95 g/L?"). Values plausible in two units (WBC 100–1000) cannot be
  told apart by range: the unit select defaulting to the ward's unit is the guard there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.decimals import plain_number
from core.i18n_marker import gettext_noop


@dataclass(frozen=True)
class Unit:
    """One unit of an analyte: stored ``code``, ``label`` shown, ``factor`` into the grading rules' canonical unit
    (:data:`ae.grading._LAB_RULES`), inclusive ``plausible`` range of a value in this unit, and whether 0 (below
    the detection limit) is plausible too."""

    code: str
    label: str
    factor: float
    plausible: tuple[float, float]
    zero_plausible: bool = False


@dataclass(frozen=True)
class Analyte:
    """An analyte the ward grades: ``code`` (``LabResult.analyte``), ``label`` for people, ``units`` (default
    first)."""

    code: str
    label: str
    units: tuple[Unit, ...]

    @property
    def default_unit(self) -> Unit:
        return self.units[0]

    def unit(self, code: str) -> Unit | None:
        return next((u for u in self.units if u.code == code), None)


#: Hb mmol/L (of the haem monomer, as Dutch and Scandinavian laboratories report) into g/dL: 1 mmol/L = 1.6114 g/dL
#: (CTCAE v5.0 Anemia pairs 10.0 g/dL with 6.2 mmol/L and 8.0 g/dL with 4.9 mmol/L).
HB_G_DL_PER_MMOL_L = 1.6114
#: Analytes for which 1 mEq/L = 1 mmol/L (monovalent ions, stored as mmol/L); for Hb "mEq/L" is not a unit.
MONOVALENT = frozenset({"potassium", "sodium"})
#: Divalent ions: 1 mmol/L = 2 mEq/L, so mEq/L is a unit of its own (stored as "mEq/L", factor 0.5 into mmol/L).
DIVALENT = frozenset({"calcium", "magnesium"})
MEQ = "mEq/L"
#: mg/dL per mmol/L = molar mass / 10: calcium 40.08, magnesium 24.305, phosphorus 30.974, glucose 180.16 g/mol;
#: uric acid 168.11 g/mol: 1 mg/dL = 59.48 umol/L.
CA_MG_DL_PER_MMOL_L = 4.008
MG_MG_DL_PER_MMOL_L = 2.4305
P_MG_DL_PER_MMOL_L = 3.0974
GLUCOSE_MG_DL_PER_MMOL_L = 18.016
URIC_UMOL_L_PER_MG_DL = 59.48
G9 = "10^9/L"  # stored code of ×10⁹/L (= 10³/µL = G/L)
MM3 = "/mm3"  # stored code of /mm³ (= /µL, cells per microlitre)


def _scaled(plausible: tuple[float, float], per_default: float) -> tuple[float, float]:
    """The plausible range of the default unit, in another unit (``per_default`` of it per default unit)."""
    # the floor a hair up, so that converted back it is not below the default unit's floor by a rounding error
    return plausible[0] * per_default * (1 + 1e-12), plausible[1] * per_default


def _mg_dl(mg_dl_per_mmol_l: float, plausible_mmol_l: tuple[float, float]) -> Unit:
    """mg/dL of a substance whose default unit is mmol/L (``mg_dl_per_mmol_l`` = molar mass / 10)."""
    return Unit("mg/dL", "mg/dL", 1 / mg_dl_per_mmol_l, _scaled(plausible_mmol_l, mg_dl_per_mmol_l))


def _counts(per_l: float, per_mm3: tuple[float, float]) -> tuple[Unit, ...]:
    """A blood count: ×10⁹/L (0 to ``per_l``) first, /mm³ (``per_mm3``, or 0) second."""
    return (Unit(G9, "×10⁹/L", 1.0, (0.0, per_l), zero_plausible=True),
            Unit(MM3, "/mm³", 0.001, per_mm3, zero_plausible=True))


#: THE table (docs/labs.md gives the reasoning of every row).
ANALYTES: dict[str, Analyte] = {a.code: a for a in (
    Analyte("anc", "ANC", _counts(150.0, (10.0, 150_000.0))),
    Analyte("platelets", "Platelet count", _counts(3000.0, (1000.0, 3_000_000.0))),
    Analyte("wbc", "WBC", _counts(1000.0, (10.0, 1_000_000.0))),
    Analyte("lymphocytes", "Lymphocyte count", _counts(1000.0, (10.0, 1_000_000.0))),
    Analyte("hemoglobin", "Hb", (Unit("g/L", "g/L", 0.1, (30.0, 250.0)), Unit("g/dL", "g/dL", 1.0, (3.0, 25.0)),
                                 Unit("mmol/L", "mmol/L", HB_G_DL_PER_MMOL_L,
                                      (1.8618, 250.0 * 0.1 / HB_G_DL_PER_MMOL_L)))),
    Analyte("potassium", "Potassium", (Unit("mmol/L", "mmol/L", 1.0, (1.0, 15.0)),)),
    Analyte("alt", "ALT", (Unit("U/L", "U/L", 1.0, (0.0, 30_000.0)),)),
    Analyte("ast", "AST", (Unit("U/L", "U/L", 1.0, (0.0, 30_000.0)),)),
    Analyte("bilirubin", "Total bilirubin", (Unit("umol/L", "µmol/L", 1.0, (0.0, 1026.0)),
                                              Unit("mg/dL", "mg/dL", 17.1, (0.0, 60.0)))),
    Analyte("creatinine", "Creatinine", (Unit("umol/L", "µmol/L", 1.0, (5.0, 2210.0)),
                                         Unit("mg/dL", "mg/dL", 88.4, (0.06, 25.0)))),
    Analyte("alp", "ALP", (Unit("U/L", "U/L", 1.0, (0.0, 10_000.0)),)),
    Analyte("ggt", "GGT", (Unit("U/L", "U/L", 1.0, (0.0, 10_000.0)),)),
    Analyte("lipase", "Lipase", (Unit("U/L", "U/L", 1.0, (0.0, 20_000.0)),)),
    Analyte("amylase", "Amylase", (Unit("U/L", "U/L", 1.0, (0.0, 20_000.0)),)),
    Analyte("albumin", "Albumin", (Unit("g/L", "g/L", 0.1, (5.0, 70.0)), Unit("g/dL", "g/dL", 1.0, (0.5, 7.0)))),
    Analyte("fibrinogen", "Fibrinogen", (Unit("g/L", "g/L", 1.0, (0.0, 15.0)),
                                         Unit("mg/dL", "mg/dL", 0.01, (0.0, 1500.0)))),
    # Chemistry graded by direction (ae.lab_chemistry); factors into mmol/L (uric acid: umol/L, IgG: g/L).
    Analyte("sodium", "Sodium", (Unit("mmol/L", "mmol/L", 1.0, (90.0, 200.0)),)),
    Analyte("calcium", "Calcium (total)", (Unit("mmol/L", "mmol/L", 1.0, (0.5, 5.0)),
                                           _mg_dl(CA_MG_DL_PER_MMOL_L, (0.5, 5.0)),
                                           Unit(MEQ, "mEq/L", 0.5, (1.0, 10.0)))),
    Analyte("calcium_ionized", "Ionized calcium", (Unit("mmol/L", "mmol/L", 1.0, (0.2, 3.0)),
                                                   _mg_dl(CA_MG_DL_PER_MMOL_L, (0.2, 3.0)))),
    Analyte("magnesium", "Magnesium", (Unit("mmol/L", "mmol/L", 1.0, (0.1, 5.0)),
                                       _mg_dl(MG_MG_DL_PER_MMOL_L, (0.1, 5.0)),
                                       Unit(MEQ, "mEq/L", 0.5, (0.2, 10.0)))),
    Analyte("phosphate", "Phosphate", (Unit("mmol/L", "mmol/L", 1.0, (0.1, 6.0)),
                                       _mg_dl(P_MG_DL_PER_MMOL_L, (0.1, 6.0)))),
    Analyte("glucose", "Glucose", (Unit("mmol/L", "mmol/L", 1.0, (0.5, 60.0)),
                                   _mg_dl(GLUCOSE_MG_DL_PER_MMOL_L, (0.5, 60.0)))),
    Analyte("uric_acid", "Uric acid", (Unit("umol/L", "µmol/L", 1.0, (10.0, 3000.0)),
                                       Unit("mg/dL", "mg/dL", URIC_UMOL_L_PER_MG_DL,
                                            _scaled((10.0, 3000.0), 1 / URIC_UMOL_L_PER_MG_DL)))),
    Analyte("igg", "IgG", (Unit("g/L", "g/L", 1.0, (0.1, 60.0), zero_plausible=True),
                           Unit("mg/dL", "mg/dL", 0.01, (10.0, 6000.0), zero_plausible=True))),
)}

#: Other spellings of a unit, accepted as input and stored as the code (keys compared by :func:`_spelling`).
ALIASES: dict[str, str] = {
    "10^9/l": G9, "x10^9/l": G9, "10e9/l": G9, "10^3/ul": G9, "x10^3/ul": G9, "10^3/mm3": G9, "x10^3/mm3": G9,
    "/mm3": MM3, "/ul": MM3, "cells/ul": MM3, "cells/mm3": MM3,
    "g/l": "g/L", "g/dl": "g/dL",
    "mmol/l": "mmol/L", "meq/l": "mmol/L",  # potassium is monovalent: 1 mEq/L = 1 mmol/L
    "u/l": "U/L", "iu/l": "U/L",
    "umol/l": "umol/L", "micromol/l": "umol/L", "mg/dl": "mg/dL",
}


def _spelling(text: str) -> str:
    """``text`` reduced for comparison: no spaces, µ/μ → u, × → x, superscripts → ^digits, lower case."""
    text = "".join(text.split()).replace("µ", "u").replace("μ", "u").replace("×", "x")
    text = text.replace("⁹", "^9").replace("³", "^3").replace("^^", "^").replace("mm^3", "mm3")
    return text.lower()


def unit_code(analyte: str, unit: str) -> str | None:
    """The stored code of ``unit`` (any accepted spelling) if it is a unit of ``analyte``, else None."""
    entry = ANALYTES.get(analyte)
    spelling = _spelling(unit or "")
    code = ALIASES.get(spelling)
    if entry is None or code is None or entry.unit(code) is None:
        return None
    if spelling == "meq/l" and analyte in DIVALENT:  # 1 mmol/L = 2 mEq/L: a unit of its own
        return MEQ
    if spelling == "meq/l" and analyte not in MONOVALENT:  # mEq/L = mmol/L only for a monovalent ion
        return None
    return code


def unit_label(code: str) -> str:
    """How a stored unit code is shown ("10^9/L" → "×10⁹/L"); an unknown code as it is."""
    for analyte in ANALYTES.values():
        unit = analyte.unit(code)
        if unit is not None:
            return unit.label
    return code



_OR = gettext_noop("or")


def units_text(analyte: str, translate: Callable[[str], str] = str) -> str:
    """The units of ``analyte`` for a message: "×10⁹/L or /mm³"."""
    labels = [u.label for u in ANALYTES[analyte].units]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + f" {translate(_OR)} " + labels[-1]


#: A value as a person writes it (3.5, 40, 12 000): :func:`core.decimals.plain_number`.
number = plain_number


def in_range(unit: Unit, value: float) -> bool:
    low, high = unit.plausible
    return low <= value <= high or (unit.zero_plausible and value == 0)


def range_text(unit: Unit, translate: Callable[[str], str] = str) -> str:
    """The plausible range of ``unit`` in words: "3–25 g/dL", "0 or 1000–3 000 000 /mm³"."""
    low, high = unit.plausible
    zero = f"0 {translate(_OR)} " if unit.zero_plausible and low > 0 else ""
    # Bounds converted from another unit (Hb mmol/L) are shown to 2 decimals; the check itself uses the exact ones.
    return f"{zero}{number(round(low, 2))}–{number(round(high, 2))} {unit.label}"


#: The message context of the analyte names the pages show (``ae.analyte_labels.ANALYTE_LABELS``, marked there with
#: ``pgettext_lazy("analyte", …)``), and gettext's separator of a context and its message ("\x04", GNU gettext's
#: own, which Django's ``pgettext`` uses too).
ANALYTE_CONTEXT = "analyte"
_CONTEXT_SEPARATOR = "\x04"


def analyte_name(analyte: str, translate: Callable[[str], str] = str) -> str:
    """The name of ``analyte`` for a message: its English ``Analyte.label`` by default; through ``translate``
    (Django's ``gettext``) the name the pages show in the active language (``ae.analyte_labels``: "Potas"),
    looked up in the catalogue as ``pgettext(ANALYTE_CONTEXT, label)`` does, so this module stays free of Django.
    A name the catalogue lacks (or ``translate=str``) is the English label."""
    label = ANALYTES[analyte].label
    translated = translate(f"{ANALYTE_CONTEXT}{_CONTEXT_SEPARATOR}{label}")
    return label if _CONTEXT_SEPARATOR in translated else translated


def _subject(analyte: str, translate: Callable[[str], str] = str) -> str:
    """The analyte's name inside a sentence: acronyms kept ("ANC", "Hb"), other words in lower case."""
    label = analyte_name(analyte, translate)
    return label if label[1:2].isupper() or len(label) <= 3 else label[:1].lower() + label[1:]


def implausible(analyte: str, value: float, unit: str, *, what: str = "value",
                translate: Callable[[str], str] = str) -> str | None:
    """None when ``value`` (in stored unit code ``unit`` of ``analyte``) is plausible, else the message.

    ``what`` "value": "Hb 95 g/dL is not plausible (Hb is 3–25 g/dL). Did you mean 95 g/L?" — the units the
    same number is plausible in are suggested, with its value in the default unit when that is another unit
    ("Did you mean 750 /mm³ (= 0.75 ×10⁹/L)?"); "Check the value and the unit." when there is none.
    ``what`` "LLN"/"ULN": a reference limit is in the value's unit, so the message says that instead.
    Raises KeyError for an unknown analyte or unit (check them with :func:`unit_code` first). English by default;
    ``translate`` (Django's ``gettext``) gives the words and the analyte's name (:func:`analyte_name`) in the active
    language.
    """
    t = translate
    entry = ANALYTES[analyte]
    chosen = entry.unit(unit)
    if chosen is None:
        raise KeyError(unit)
    if in_range(chosen, value):
        return None
    shown = f"{number(value)} {chosen.label}"
    where = t(gettext_noop("%(analyte)s is %(range)s")) % {"analyte": _subject(analyte, t),
                                                           "range": range_text(chosen, t)}
    if what != "value":
        return t(gettext_noop("%(limit)s %(value)s is not plausible for %(analyte)s (%(where)s). The value, LLN and "
                              "ULN are all in the unit chosen (%(unit)s).")) % {
            "limit": what, "value": shown, "analyte": analyte_name(analyte, t), "where": where, "unit": chosen.label}
    default = entry.default_unit
    guesses = []
    for other in entry.units:
        if other is chosen or not in_range(other, value):
            continue
        guess = f"{number(value)} {other.label}"
        if other is not default:
            guess += f" (= {number(round(value * other.factor / default.factor, 9))} {default.label})"
        guesses.append(guess)
    hint = (t(gettext_noop("Did you mean %(guesses)s?")) % {"guesses": f" {t(_OR)} ".join(guesses)}
            if guesses else t(gettext_noop("Check the value and the unit.")))
    return t(gettext_noop("%(analyte)s %(value)s is not plausible (%(where)s). %(hint)s")) % {
        "analyte": analyte_name(analyte, t), "value": shown, "where": where, "hint": hint}


def unit_error(analyte: str, typed: str, translate: Callable[[str], str] = str) -> str:
    """The message for a unit that is not one of ``analyte``'s: "10^9/L is not a unit of Hb: use g/L or g/dL.";
    English by default, through ``translate`` (Django's ``gettext``) in the active language, the analyte's name too."""
    t = translate
    return t(gettext_noop("%(unit)s is not a unit of %(analyte)s: use %(units)s.")) % {
        "unit": typed.strip() or t(gettext_noop("No unit")), "analyte": analyte_name(analyte, t),
        "units": units_text(analyte, t)}


def entry_errors(analyte: str, unit: str, value: float | None, *, lln: float | None = None,
                 uln: float | None = None, translate: Callable[[str], str] = str) -> tuple[str | None, dict[str, str]]:
    """Check one typed lab entry of a known ``analyte``: (stored unit code or None, {field: message}).

    The unit must be one of the analyte's (any accepted spelling); then the value, LLN and ULN, all in that unit,
    must be plausible (:func:`implausible`). Negative or missing numbers are left to the grading rules. Messages in
    English, or through ``translate`` (Django's ``gettext``) in the active language (the analyte's name as the pages
    show it, :func:`analyte_name`).
    """
    code = unit_code(analyte, unit)
    if code is None:
        return None, {"unit": unit_error(analyte, unit, translate)}
    errors = {}
    for field, amount, what in (("value", value, "value"), ("lln", lln, "LLN"), ("uln", uln, "ULN")):
        if amount is not None and amount >= 0:
            message = implausible(analyte, float(amount), code, what=what, translate=translate)
            if message is not None:
                errors[field] = message
    return code, errors
