"""CTCAE v5.0 grading of the chemistry analytes that grade to two terms by direction (pure data and functions).

One analyte, two CTCAE terms: a sodium below the LLN is "Hyponatremia", above the ULN "Hypernatremia". The value
proposes the term by its direction (:func:`grade_directional`), then the term's thresholds and clinical criteria
give the grade. Analytes: potassium (its high side, Hyperkalemia; Hypokalemia stays in :mod:`ae.grading`), sodium,
calcium (total, corrected for albumin), ionized calcium, magnesium, phosphate, glucose, uric acid and IgG.

Source: NCI CTCAE v5.0 (27 Nov 2017), Metabolism and nutrition disorders terms Hyponatremia (MedDRA 10021038),
Hypernatremia (10020680), Hyperkalemia (10020647), Hypocalcemia (10020949), Hypercalcemia (10020587),
Hypomagnesemia (10021028), Hypermagnesemia (10020670), Hypophosphatemia (10021059), Hyperphosphatemia (10020712),
Hypoglycemia (10021005), Hyperglycemia (10020639), Hyperuricemia (10020907); Immune system disorders "Immune
system disorders - Other, specify" (10021428) for a low IgG (hypogammaglobulinaemia is not a CTCAE term). The
rule tables, boundary semantics and every reading chosen are in ``docs/grading.md`` ("Chemistry: one analyte,
two terms").

Boundary semantics, as for the other lab terms: "<A - B" is value < A and >= B, ">A - B" is value > A and <= B, so
a value exactly on a threshold gets the less severe grade. Where CTCAE writes the thresholds in two units
(calcium, magnesium, glucose: "<8.0 - 7.0 mg/dL; <2.0 - 1.75 mmol/L") a value is graded against the thresholds of
the unit it was reported in: the pairs are rounded (7.0 mg/dL is 1.747 mmol/L, not 1.75) and converting would move
a value on a written threshold to the other side of it. Other units (mEq/L, mg/dL of ionized calcium) are converted
into the canonical unit first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.i18n_marker import gettext_noop

#: CTCAE v5.0 Hypo/Hypercalcemia grade "corrected serum calcium" and define the term "(corrected for albumin)"
#: without giving the formula. We use the usual one, in mg/dL: corrected = measured + 0.8 x (4.0 - albumin g/dL)
#: (docs/grading.md records the source question).
CALCIUM_ALBUMIN_FACTOR_MG_DL = 0.8
CALCIUM_ALBUMIN_REFERENCE_G_DL = 4.0
CALCIUM_MG_DL_PER_MMOL_L = 4.008  # molar mass of calcium 40.08 g/mol
IGG_VERBATIM = "Hypogammaglobulinemia"
OTHER_SPECIFY_IMMUNE = "Immune system disorders - Other, specify"



@dataclass(frozen=True)
class Side:
    """One CTCAE term of an analyte: the value below the LLN (``low``) or above the ULN.

    ``limits``: unit code -> ((grade, threshold), ...), worst first; a value strictly beyond a threshold (below
    for ``low``) has that grade; between the reference limit and the last threshold it is grade 1. ``criteria``:
    clinical input -> (grade, the CTCAE wording), each on its own (a semicolon in CTCAE means "or").
    ``clinical_grades``: CTCAE grades the term by intervention, not by value: the value only shows the
    abnormality (grade 1, "laboratory finding only"), higher grades come from the criteria. ``symptomatic_band``:
    Hyponatremia's "125-129 mmol/L": grade 2 asymptomatic, 3 symptomatic. ``verbatim``: the reported term
    when ``term`` is an "Other, specify" term.
    """

    term: str
    low: bool
    limits: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    criteria: dict[str, tuple[int, str]] = field(default_factory=dict)
    grade1: str = ""
    clinical_grades: bool = False
    symptomatic_band: tuple[float, float] | None = None
    verbatim: str | None = None


@dataclass(frozen=True)
class Chemistry:
    """An analyte graded by direction: its ``canonical`` unit code, its ``low`` and ``high`` sides (None when CTCAE
    v5.0 has no term for that direction, ``none_low`` / ``none_high`` say so), and whether the value must be
    corrected for albumin first (total calcium)."""

    canonical: str
    low: Side | None
    high: Side | None
    none_low: str = ""
    none_high: str = ""
    albumin_corrected: bool = False

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(s.term for s in (self.low, self.high) if s is not None)


_HOSP = (3, "hospitalization indicated")
_LIFE = (4, "life-threatening consequences")
_CALCIUM_CRITERIA = {"symptomatic": (2, "symptomatic"), "hospitalization_indicated": _HOSP, "life_threatening": _LIFE}
_INITIATED = {"intervention_initiated": (2, "intervention initiated"), "hospitalization_indicated": _HOSP,
              "life_threatening": _LIFE}
_SEVERE = (3, "severe or medically significant but not immediately life-threatening; hospitalization or "
              "prolongation of existing hospitalization indicated")

CHEMISTRY: dict[str, Chemistry] = {
    "potassium": Chemistry("mmol/L", None, Side("Hyperkalemia", False, {"mmol/L": ((4, 7.0), (3, 6.0), (2, 5.5))},
                                                  _INITIATED, ">ULN - 5.5 mmol/L")),
    "sodium": Chemistry(
        "mmol/L",
        Side("Hyponatremia", True, {"mmol/L": ((4, 120.0), (3, 125.0), (2, 130.0))},
             {"life_threatening": _LIFE}, "<LLN - 130 mmol/L", symptomatic_band=(125.0, 130.0)),
        Side("Hypernatremia", False, {"mmol/L": ((4, 160.0), (3, 155.0), (2, 150.0))}, _INITIATED,
             ">ULN - 150 mmol/L")),
    "calcium": Chemistry(
        "mmol/L",
        Side("Hypocalcemia", True, {"mg/dL": ((4, 6.0), (3, 7.0), (2, 8.0)), "mmol/L": ((4, 1.5), (3, 1.75), (2, 2.0))},
             _CALCIUM_CRITERIA, "corrected serum calcium <LLN - 8.0 mg/dL; <LLN - 2.0 mmol/L"),
        Side("Hypercalcemia", False,
             {"mg/dL": ((4, 13.5), (3, 12.5), (2, 11.5)), "mmol/L": ((4, 3.4), (3, 3.1), (2, 2.9))},
             _CALCIUM_CRITERIA, "corrected serum calcium >ULN - 11.5 mg/dL; >ULN - 2.9 mmol/L"),
        albumin_corrected=True),
    "calcium_ionized": Chemistry(
        "mmol/L",
        Side("Hypocalcemia", True, {"mmol/L": ((4, 0.8), (3, 0.9), (2, 1.0))}, _CALCIUM_CRITERIA,
             "ionized calcium <LLN - 1.0 mmol/L"),
        Side("Hypercalcemia", False, {"mmol/L": ((4, 1.8), (3, 1.6), (2, 1.5))}, _CALCIUM_CRITERIA,
             "ionized calcium >ULN - 1.5 mmol/L")),
    "magnesium": Chemistry(
        "mmol/L",
        Side("Hypomagnesemia", True,
             {"mg/dL": ((4, 0.7), (3, 0.9), (2, 1.2)), "mmol/L": ((4, 0.3), (3, 0.4), (2, 0.5))},
             {"life_threatening": _LIFE}, "<LLN - 1.2 mg/dL; <LLN - 0.5 mmol/L"),
        Side("Hypermagnesemia", False, {"mg/dL": ((4, 8.0), (3, 3.0)), "mmol/L": ((4, 3.30), (3, 1.23))},
             {"life_threatening": _LIFE}, ">ULN - 3.0 mg/dL; >ULN - 1.23 mmol/L (CTCAE has no grade 2)")),
    "phosphate": Chemistry(
        "mmol/L",
        Side("Hypophosphatemia", True, {},
             {"oral_replacement_indicated": (2, "oral replacement therapy indicated"), "hospitalization_indicated":
              _SEVERE, "life_threatening": (4, "life-threatening consequences")},
             "laboratory finding only and intervention not indicated", clinical_grades=True),
        Side("Hyperphosphatemia", False, {},
             {"noninvasive_intervention_indicated": (2, "noninvasive intervention indicated"),
              "hospitalization_indicated": _SEVERE,
              "life_threatening": (4, "life-threatening consequences; urgent intervention indicated (e.g., dialysis)")},
             "laboratory finding only and intervention not indicated", clinical_grades=True)),
    "glucose": Chemistry(
        "mmol/L",
        Side("Hypoglycemia", True,
             {"mg/dL": ((4, 30.0), (3, 40.0), (2, 55.0)), "mmol/L": ((4, 1.7), (3, 2.2), (2, 3.0))},
             {"life_threatening": _LIFE, "seizures": (4, "seizures")}, "<LLN - 55 mg/dL; <LLN - 3.0 mmol/L"),
        Side("Hyperglycemia", False, {},
             {"oral_antiglycemic_initiated": (2, "change in daily management from baseline for a diabetic; oral "
                                                 "antiglycemic agent initiated; workup for diabetes"),
              "insulin_initiated": (3, "insulin therapy initiated"), "hospitalization_indicated": _HOSP,
              "life_threatening": (4, "life-threatening consequences; urgent intervention indicated")},
             "abnormal glucose above baseline with no medical intervention", clinical_grades=True)),
    "uric_acid": Chemistry(
        "umol/L", None,
        Side("Hyperuricemia", False, {},
             {"physiologic_consequences": (3, ">ULN with physiologic consequences"), "life_threatening": _LIFE},
             ">ULN without physiologic consequences (CTCAE has no grade 2)", clinical_grades=True),
        none_low=gettext_noop("CTCAE v5.0 has no term for a low uric acid")),
    "igg": Chemistry(
        "g/L",
        Side(OTHER_SPECIFY_IMMUNE, True, {},
             {"noninvasive_intervention_indicated": (2, "moderate; minimal, local or noninvasive intervention "
                                                        "indicated"),
              "hospitalization_indicated": _SEVERE,
              "life_threatening": (4, "life-threatening consequences; urgent intervention indicated")},
             "asymptomatic or mild; clinical or diagnostic observations only; intervention not indicated",
             clinical_grades=True, verbatim=IGG_VERBATIM),
        None, none_high=gettext_noop("a high IgG is not graded here (no CTCAE v5.0 term for it)")),
}
#: Every clinical input a chemistry term reads (``symptomatic`` also by Hyponatremia's 125-129 band).
CHEMISTRY_INPUTS = tuple(sorted({name for c in CHEMISTRY.values() for s in (c.low, c.high) if s is not None
                                 for name in s.criteria} | {"symptomatic"}))


#: The refusal of a clinical criterion the proposed term does not have (CTCAE v5.0's criteria of that term).
NOT_A_CRITERION = gettext_noop("is not a CTCAE v5.0 criterion of %(term)s")


class ChemistryInputError(ValueError):
    """An input a chemistry rule cannot use; ``field`` names it (:class:`ae.grading.GradingInputError` re-raises).

    ``template`` is a :func:`gettext_noop` message text with ``%(name)s`` placeholders filled from ``params``;
    ``message`` is it in English; :meth:`text` gives it in ``translate``'s language (the parameters are filled as
    given: a caller wanting them translated grades again with its ``translate``)."""

    def __init__(self, field_name: str, message: str, params: Mapping[str, object] | None = None):
        self.field = field_name
        self.template = message
        self.params = dict(params or {})
        self.message = self.text()
        super().__init__(f"{field_name}: {self.message}")

    def text(self, translate: Callable[[str], str] = str) -> str:
        """The message in ``translate``'s language (English by default: :attr:`message`)."""
        return translate(self.template) % self.params if self.params else translate(self.template)


@dataclass(frozen=True)
class DirectionalGrade:
    """``grade`` 0-4 or None (undetermined), the CTCAE ``term`` the value proposes, the ``rationale`` naming the
    criterion that set the grade, and the ``verbatim`` term of an "Other, specify" term."""

    grade: int | None
    term: str
    rationale: str
    verbatim: str | None = None


def _fmt(x: float) -> str:
    return f"{round(x, 4):g}"


def corrected_calcium(measured: float, unit_mg_dl_per_unit: float, albumin_g_dl: float) -> float:
    """Total calcium corrected for albumin, in the unit of ``measured`` (``unit_mg_dl_per_unit`` mg/dL per unit):
    measured + 0.8 x (4.0 - albumin g/dL) mg/dL. An albumin above 4.0 g/dL lowers it."""
    correction_mg_dl = CALCIUM_ALBUMIN_FACTOR_MG_DL * (CALCIUM_ALBUMIN_REFERENCE_G_DL - albumin_g_dl)
    return round(measured + correction_mg_dl / unit_mg_dl_per_unit, 9)


def _limits(side: Side, unit: str, canonical: str) -> tuple[str, tuple[tuple[int, float], ...]]:
    if unit in side.limits:
        return unit, side.limits[unit]
    return canonical, side.limits.get(canonical, ())


def _beyond(side: Side, x: float, threshold: float) -> bool:
    return x < threshold if side.low else x > threshold


def grade_directional(analyte: str, x_typed: float, unit: str, to_canonical: float, *, lln: float | None,
                      uln: float | None, baseline: float | None = None, criteria: frozenset[str] = frozenset(),
                      albumin_g_dl: float | None = None, unit_label: str = "",
                      translate: Callable[[str], str] = str) -> DirectionalGrade:
    """CTCAE v5.0 term and grade of one value of a chemistry ``analyte`` (:data:`CHEMISTRY`).

    ``x_typed``, ``lln``, ``uln`` and ``baseline`` are in ``unit`` (a stored unit code); ``to_canonical`` converts
    that unit into the analyte's canonical unit. ``criteria``: the clinical inputs that are true (names from
    :data:`CHEMISTRY_INPUTS`). ``albumin_g_dl``: the albumin of the same sample, g/dL (total calcium only).

    Direction: below the LLN (or beyond a value threshold of the low term, which needs no LLN) proposes the low
    term; above the ULN (or beyond a threshold of the high term) the high term. Within LLN-ULN: grade 0. A value
    whose direction needs a missing LLN/ULN is undetermined (grade None) — "grade 0 vs 1 needs the LLN/ULN".
    Clinical criteria apply to the proposed term; with no direction they apply only when the analyte has one
    term (uric acid, IgG), else raise. Total calcium without the albumin is undetermined (CTCAE grades the
    corrected value). Hyperglycemia grade 1 "abnormal glucose above baseline": a value > ULN but not above the
    baseline given is grade 0.
    Raises ChemistryInputError for a criterion the proposed term does not have. The rationale is English (stored);
    ``translate`` (Django's ``gettext``) gives it in the active language (CTCAE's own wording stays English).
    """
    t = translate
    chem = CHEMISTRY[analyte]
    x = x_typed
    shown = f"{_fmt(x_typed)} {unit_label or unit}"
    note = ""
    if chem.albumin_corrected:
        if albumin_g_dl is None:
            return DirectionalGrade(None, (chem.low or chem.high).term,  # type: ignore[union-attr]
                                    t(gettext_noop("Undetermined: CTCAE v5.0 grades the corrected serum calcium "
                                                   "(corrected for albumin) and no albumin of this sample is given "
                                                   "(%(value)s measured). Give the albumin, or grade the ionized "
                                                   "calcium.")) % {"value": shown})
        mg_dl_per_unit = CALCIUM_MG_DL_PER_MMOL_L * to_canonical
        x = corrected_calcium(x_typed, mg_dl_per_unit, albumin_g_dl)
        note = " " + t(gettext_noop("(corrected for albumin %(albumin)s g/dL: %(value)s + 0.8 x (4.0 - %(albumin)s) "
                                    "mg/dL = %(corrected)s %(unit)s)")) % {
            "albumin": _fmt(albumin_g_dl), "value": shown, "corrected": _fmt(x), "unit": unit_label or unit}
        shown = t(gettext_noop("corrected calcium %(value)s %(unit)s")) % {"value": _fmt(x), "unit": unit_label or unit}

    def in_units(side: Side) -> tuple[float, float | None, str, tuple[tuple[int, float], ...]]:
        """(value, reference limit, unit label, thresholds) in the unit the side's thresholds are written in."""
        limits_unit, limits = _limits(side, unit, chem.canonical)
        limit = lln if side.low else uln
        if limits_unit == unit:
            return x, limit, unit_label or unit, limits
        return (round(x * to_canonical, 9), None if limit is None else round(limit * to_canonical, 9), limits_unit,
                limits)

    hit: Side | None = None
    for side in (chem.low, chem.high):
        if side is None:
            continue
        value, limit, _u, limits = in_units(side)
        if (limit is not None and _beyond(side, value, limit)) or (limits and _beyond(side, value, limits[-1][1])):
            hit = side
            break
    if hit is None:
        return _no_direction(chem, shown + note, lln, uln, criteria, t)

    value, limit, label, limits = in_units(hit)
    allowed = set(hit.criteria) | ({"symptomatic"} if hit.symptomatic_band else set())
    for name in sorted(criteria - allowed):
        raise ChemistryInputError(name, NOT_A_CRITERION, {"term": hit.term})
    sign = "<" if hit.low else ">"
    ref = "LLN" if hit.low else "ULN"
    at = (t(gettext_noop("corrected calcium %(value)s %(unit)s")) % {"value": _fmt(value), "unit": label} if note
          else f"{_fmt(value)} {label}")
    grade, why = 1, f"{at} {sign} {ref} {_fmt(limit) if limit is not None else '?'} {label}: {hit.grade1}"
    for g, threshold in limits:
        if _beyond(hit, value, threshold):
            grade, why = g, f"{_fmt(value)} {label} {sign} {_fmt(threshold)} {label}"
            break
    if hit.symptomatic_band and grade == 2:
        band = f"{_fmt(hit.symptomatic_band[0])}-{_fmt(hit.symptomatic_band[1] - 1)} {label}"
        banded = {"value": f"{_fmt(value)} {label}", "band": band}
        if "symptomatic" in criteria:
            grade, why = 3, t(gettext_noop("%(value)s (%(band)s) and symptomatic")) % banded
        else:
            why = t(gettext_noop("%(value)s (%(band)s) and asymptomatic")) % banded
    if hit.clinical_grades and not hit.low and hit.term == "Hyperglycemia" and baseline is not None \
            and x <= baseline:
        # (glucose is never corrected: no albumin note; the text used to end in a literal "{note}")
        return DirectionalGrade(0, hit.term, t(gettext_noop(
            "Grade 0: %(value)s > ULN but not above the baseline %(baseline)s %(unit)s (CTCAE v5.0 Hyperglycemia "
            "grade 1 is 'abnormal glucose above baseline').")) % {
            "value": shown, "baseline": _fmt(baseline), "unit": unit_label or unit}, hit.verbatim)
    params: dict[str, object] = {"grade": grade, "why": why, "note": note, "term": hit.term}
    by_value = t(gettext_noop("Grade %(grade)s: %(why)s%(note)s (CTCAE v5.0 %(term)s).")) % params
    if hit.clinical_grades:
        by_value = t(gettext_noop("Grade 1: %(why)s%(note)s (CTCAE v5.0 %(term)s; graded by intervention, so the value "
                                  "alone sets grade 1 and no intervention is recorded).")) % params
    met = [hit.criteria[name] for name in criteria if name in hit.criteria]
    if met:
        clinical, wording = max(met)
        criterion: dict[str, object] = {"grade": clinical, "wording": wording, "term": hit.term, "value": by_value}
        if clinical > grade:
            why = t(gettext_noop("Grade %(grade)s: %(wording)s (CTCAE v5.0 %(term)s grade %(grade)s; a semicolon means "
                                 "'or').")) % criterion
            return DirectionalGrade(clinical, hit.term, why + " " + t(gettext_noop("The value alone: %(value)s"))
                                    % criterion, hit.verbatim)
        by_value = t(gettext_noop("%(value)s Also: %(wording)s (grade %(grade)s).")) % criterion
    return DirectionalGrade(grade, hit.term, by_value, hit.verbatim)


def _no_direction(chem: Chemistry, shown: str, lln: float | None, uln: float | None,
                  criteria: frozenset[str], t: Callable[[str], str] = str) -> DirectionalGrade:
    """A value beyond neither reference limit (or with a limit missing): grade 0, or undetermined."""
    sides = [s for s in (chem.low, chem.high) if s is not None]
    primary = sides[0]
    missing = [ref for side, ref, limit in ((chem.low, "LLN", lln), (chem.high, "ULN", uln))
               if side is not None and limit is None]
    if criteria:
        name = sorted(criteria)[0]
        if len(sides) == 1:
            side = sides[0]
            for unknown in sorted(criteria - set(side.criteria)):
                raise ChemistryInputError(unknown, NOT_A_CRITERION, {"term": side.term})
            if missing:  # the term needs the value beyond its limit: whether it is, is unknown
                clinical, wording = max(side.criteria[n] for n in criteria)
                return DirectionalGrade(None, side.term, t(gettext_noop(
                    "Undetermined: %(term)s needs %(value)s %(sign)s %(limit)s, which is missing; if it is: grade "
                    "%(grade)s (%(wording)s).")) % {"term": side.term, "value": shown, "sign": "<" if side.low else ">",
                                                   "limit": missing[0], "grade": clinical, "wording": wording},
                    side.verbatim)
            raise ChemistryInputError(name, gettext_noop("%(value)s is not below the LLN, so %(term)s does not apply")
                                      if side.low else
                                      gettext_noop("%(value)s is not above the ULN, so %(term)s does not apply"),
                                      {"value": shown, "term": side.term})
        params = {"value": shown, "low": sides[0].term, "high": sides[-1].term, "missing": ", ".join(missing)}
        raise ChemistryInputError(name, gettext_noop(
            "%(value)s is beyond neither reference limit (%(missing)s missing), so it proposes neither %(low)s nor "
            "%(high)s: give the LLN/ULN or grade the event on the AE form") if missing else gettext_noop(
            "%(value)s is beyond neither reference limit, so it proposes neither %(low)s nor %(high)s: give the "
            "LLN/ULN or grade the event on the AE form"), params)
    if missing:
        terms = " / ".join(s.term for s in sides if (s.low and lln is None) or (not s.low and uln is None))
        params = {"value": shown, "terms": terms, "limit": missing[0], "other": missing[-1]}
        return DirectionalGrade(None, primary.term, (t(gettext_noop(
            "Undetermined: %(value)s is not beyond a CTCAE value threshold; grade 0 vs 1 of %(terms)s needs the "
            "%(limit)s and %(other)s, which are missing.")) if len(missing) > 1 else t(gettext_noop(
            "Undetermined: %(value)s is not beyond a CTCAE value threshold; grade 0 vs 1 of %(terms)s needs the "
            "%(limit)s, which is missing."))) % params, primary.verbatim)
    limits = f"LLN {_fmt(lln)}" if lln is not None else ""
    limits += (" - " if limits and uln is not None else "") + (f"ULN {_fmt(uln)}" if uln is not None else "")
    absent = "; ".join(t(text) for text in (chem.none_low, chem.none_high) if text)
    params = {"value": shown, "limits": limits, "absent": absent}
    return DirectionalGrade(0, primary.term, (t(gettext_noop("Grade 0: %(value)s within %(limits)s (%(absent)s)."))
                                              if absent else t(gettext_noop("Grade 0: %(value)s within %(limits)s.")))
                            % params, primary.verbatim)
