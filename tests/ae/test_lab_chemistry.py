"""CTCAE v5.0 chemistry terms graded by direction (ae.lab_chemistry through ae.grading.grade_lab).

Every expectation cites the CTCAE v5.0 cell it checks (term, grade, threshold); "<A - B" = value < A and >= B,
">A - B" = value > A and <= B, so a value exactly on a threshold gets the less severe grade.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ae import lab_units
from ae.grading import LAB_TERMS_BY_ANALYTE, GradingInputError, grade_lab
from tests.conftest import api_errors

NA = {"lln": 135, "uln": 145}


@pytest.mark.parametrize(("value", "symptomatic", "expected"), [
    (135, False, 0),  # = LLN: not < LLN
    (134, False, 1), (130, False, 1),  # Hyponatremia G1 "<LLN - 130 mmol/L": 130 is grade 1
    (129.9, False, 2), (129, False, 2), (125, False, 2),  # G2 "125-129 mmol/L and asymptomatic"
    (129, True, 3), (125, True, 3),  # G3 "125-129 mmol/L symptomatic"
    (124.9, False, 3), (120, False, 3),  # G3 "120-124 mmol/L regardless of symptoms": 120 is grade 3
    (119.9, False, 4),  # G4 "<120 mmol/L"
    (132, True, 1),  # symptomatic changes only the 125-129 band
])
def test_hyponatremia_bands(value, symptomatic, expected):
    result = grade_lab("sodium", value, "mmol/L", symptomatic=symptomatic, **NA)
    assert (result.grade, result.ctcae_term) == (expected, "Hyponatremia") or (expected == 0 and result.grade == 0)


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (145, {}, 0),  # = ULN
    (146, {}, 1), (150, {}, 1),  # Hypernatremia G1 ">ULN - 150 mmol/L": 150 is grade 1
    (150.1, {}, 2), (155, {}, 2),  # G2 ">150 - 155 mmol/L"
    (155.1, {}, 3), (160, {}, 3),  # G3 ">155 - 160 mmol/L"
    (160.1, {}, 4),  # G4 ">160 mmol/L"
    (147, {"intervention_initiated": True}, 2),  # G2 "...; intervention initiated" (semicolon = or)
    (147, {"hospitalization_indicated": True}, 3), (147, {"life_threatening": True}, 4),
])
def test_hypernatremia_bands(value, kwargs, expected):
    result = grade_lab("sodium", value, "mmol/L", **NA, **kwargs)
    assert result.grade == expected
    if expected:
        assert result.ctcae_term == "Hypernatremia"


def test_sodium_proposes_its_term_by_direction_and_needs_both_limits_when_in_between():
    """One analyte, two CTCAE terms: the value proposes the term. 140 mmol/L without LLN/ULN is undetermined (0 or
    grade 1 of either term); 129 mmol/L needs no LLN (G2 is written as a value)."""
    assert grade_lab("sodium", 129, "mmol/L").ctcae_term == "Hyponatremia"
    assert grade_lab("sodium", 151, "mmol/L").ctcae_term == "Hypernatremia"
    undetermined = grade_lab("sodium", 140, "mmol/L")
    assert undetermined.grade is None and "LLN and ULN" in undetermined.rationale
    assert grade_lab("sodium", 140, "mEq/L", **NA).grade == 0  # monovalent: 1 mEq/L = 1 mmol/L


def test_a_criterion_without_a_direction_is_refused():
    """Hospitalization of which term? A sodium within LLN-ULN proposes neither Hypo- nor Hypernatremia."""
    with pytest.raises(GradingInputError) as exc:
        grade_lab("sodium", 140, "mmol/L", hospitalization_indicated=True, **NA)
    assert exc.value.field == "hospitalization_indicated"
    with pytest.raises(GradingInputError, match="not a CTCAE v5.0 criterion of Hyponatremia"):
        grade_lab("sodium", 131, "mmol/L", intervention_initiated=True, **NA)  # a Hypernatremia criterion


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (5.0, {}, 0), (5.1, {}, 1), (5.5, {}, 1),  # Hyperkalemia G1 ">ULN - 5.5 mmol/L"
    (5.51, {}, 2), (6.0, {}, 2),  # G2 ">5.5 - 6.0 mmol/L"
    (6.01, {}, 3), (7.0, {}, 3), (7.01, {}, 4),  # G3 ">6.0 - 7.0", G4 ">7.0 mmol/L"
    (5.2, {"intervention_initiated": True}, 2), (5.2, {"hospitalization_indicated": True}, 3),
])
def test_hyperkalemia_bands(value, kwargs, expected):
    result = grade_lab("potassium", value, "mmol/L", lln=3.5, uln=5.0, **kwargs)
    assert result.grade == expected
    assert result.ctcae_term == ("Hyperkalemia" if value > 5.0 else "Hypokalemia")


def test_potassium_above_5_5_is_hyperkalemia_without_uln_and_in_range_needs_it():
    assert (grade_lab("potassium", 5.6, "mmol/L").grade, grade_lab("potassium", 5.6, "mmol/L").ctcae_term) == (
        2, "Hyperkalemia")
    assert grade_lab("potassium", 4.0, "mmol/L", lln=3.5).grade is None  # Hyperkalemia 0 vs 1 needs the ULN
    assert grade_lab("potassium", 3.2, "mmol/L", lln=3.5).ctcae_term == "Hypokalemia"


@pytest.mark.parametrize(("value", "unit", "albumin", "expected", "term"), [
    # CTCAE v5.0 Hypocalcemia "Corrected serum calcium of <LLN - 8.0 mg/dL; <LLN - 2.0 mmol/L" (G1), "<8.0 - 7.0
    # mg/dL; <2.0 - 1.75 mmol/L" (G2), "<7.0 - 6.0 mg/dL; <1.75 - 1.5 mmol/L" (G3), "<6.0 mg/dL; <1.5 mmol/L" (G4).
    (8.0, "mg/dL", 4.0, 1, "Hypocalcemia"), (7.99, "mg/dL", 4.0, 2, "Hypocalcemia"),
    (7.0, "mg/dL", 4.0, 2, "Hypocalcemia"), (6.0, "mg/dL", 4.0, 3, "Hypocalcemia"),
    (5.99, "mg/dL", 4.0, 4, "Hypocalcemia"),
    (2.0, "mmol/L", 4.0, 1, "Hypocalcemia"), (1.75, "mmol/L", 4.0, 2, "Hypocalcemia"),
    (1.5, "mmol/L", 4.0, 3, "Hypocalcemia"), (1.49, "mmol/L", 4.0, 4, "Hypocalcemia"),
    # albumin 2.5 g/dL: 7.0 + 0.8 x 1.5 = 8.2 mg/dL corrected: grade 1, not 2
    (7.0, "mg/dL", 2.5, 1, "Hypocalcemia"),
    # Hypercalcemia ">ULN - 11.5 mg/dL; >ULN - 2.9 mmol/L", ">11.5 - 12.5; >2.9 - 3.1", ">12.5 - 13.5; >3.1 - 3.4",
    # ">13.5 mg/dL; >3.4 mmol/L"
    (11.5, "mg/dL", 4.0, 1, "Hypercalcemia"), (11.51, "mg/dL", 4.0, 2, "Hypercalcemia"),
    (12.5, "mg/dL", 4.0, 2, "Hypercalcemia"), (13.5, "mg/dL", 4.0, 3, "Hypercalcemia"),
    (13.51, "mg/dL", 4.0, 4, "Hypercalcemia"),
    (2.9, "mmol/L", 4.0, 1, "Hypercalcemia"), (3.1, "mmol/L", 4.0, 2, "Hypercalcemia"),
    (3.4, "mmol/L", 4.0, 3, "Hypercalcemia"), (3.41, "mmol/L", 4.0, 4, "Hypercalcemia"),
    # albumin 2.0 g/dL: 10.0 + 0.8 x 2 = 11.6 mg/dL corrected: Hypercalcemia grade 2 (measured is within range)
    (10.0, "mg/dL", 2.0, 2, "Hypercalcemia"),
])
def test_calcium_corrected_for_albumin(value, unit, albumin, expected, term):
    limits = {"mg/dL": (8.6, 10.3), "mmol/L": (2.15, 2.58)}[unit]
    result = grade_lab("calcium", value, unit, lln=limits[0], uln=limits[1], albumin=albumin, albumin_unit="g/dL")
    assert (result.grade, result.ctcae_term) == (expected, term)
    assert "corrected" in result.rationale


def test_calcium_correction_formula_and_units():
    """corrected Ca = measured + 0.8 x (4 - albumin g/dL) mg/dL; albumin in g/L is divided by 10; mmol/L = mg/dL /
    4.008; CTCAE v5.0 grades the corrected value (definition: "calcium (corrected for albumin)")."""
    g_l = grade_lab("calcium", 1.8, "mmol/L", lln=2.15, uln=2.58, albumin=25, albumin_unit="g/L")
    # 1.8 + 0.8 x 1.5 / 4.008 = 2.0994 mmol/L: >= 2.0, grade 1 (uncorrected 1.8 would be grade 2)
    assert g_l.grade == 1 and "2.0994 mmol/L" in g_l.rationale
    no_albumin = grade_lab("calcium", 1.8, "mmol/L", lln=2.15, uln=2.58)
    assert no_albumin.grade is None and "albumin" in no_albumin.rationale
    with pytest.raises(GradingInputError, match="albumin"):
        grade_lab("sodium", 140, "mmol/L", albumin=30, albumin_unit="g/L", **NA)
    with pytest.raises(GradingInputError, match="not plausible"):
        grade_lab("calcium", 2.0, "mmol/L", albumin=30, albumin_unit="g/dL")  # 30 g/dL: a g/L value


@pytest.mark.parametrize(("value", "expected", "term"), [
    # CTCAE v5.0 Hypocalcemia "Ionized calcium <LLN - 1.0 mmol/L", "<1.0 - 0.9", "<0.9 - 0.8", "<0.8 mmol/L";
    # Hypercalcemia "Ionized calcium >ULN - 1.5 mmol/L", ">1.5 - 1.6", ">1.6 - 1.8", ">1.8 mmol/L"
    (1.0, 1, "Hypocalcemia"), (0.99, 2, "Hypocalcemia"), (0.9, 2, "Hypocalcemia"), (0.8, 3, "Hypocalcemia"),
    (0.79, 4, "Hypocalcemia"), (1.2, 0, None), (1.5, 1, "Hypercalcemia"), (1.6, 2, "Hypercalcemia"),
    (1.8, 3, "Hypercalcemia"), (1.81, 4, "Hypercalcemia")])
def test_ionized_calcium_has_its_own_thresholds_and_needs_no_albumin(value, expected, term):
    result = grade_lab("calcium_ionized", value, "mmol/L", lln=1.1, uln=1.3)
    assert result.grade == expected
    if term:
        assert result.ctcae_term == term


@pytest.mark.parametrize(("value", "unit", "expected", "term"), [
    # Hypomagnesemia "<LLN - 1.2 mg/dL; <LLN - 0.5 mmol/L", "<1.2 - 0.9; <0.5 - 0.4", "<0.9 - 0.7; <0.4 - 0.3",
    # "<0.7 mg/dL; <0.3 mmol/L"
    (0.5, "mmol/L", 1, "Hypomagnesemia"), (0.49, "mmol/L", 2, "Hypomagnesemia"), (0.4, "mmol/L", 2, "Hypomagnesemia"),
    (0.3, "mmol/L", 3, "Hypomagnesemia"), (0.29, "mmol/L", 4, "Hypomagnesemia"),
    (1.2, "mg/dL", 1, "Hypomagnesemia"), (0.9, "mg/dL", 2, "Hypomagnesemia"), (0.7, "mg/dL", 3, "Hypomagnesemia"),
    (0.69, "mg/dL", 4, "Hypomagnesemia"),
    # Hypermagnesemia ">ULN - 3.0 mg/dL; >ULN - 1.23 mmol/L" (G1), no grade 2, ">3.0 - 8.0; >1.23 - 3.30" (G3),
    # ">8.0 mg/dL; >3.30 mmol/L" (G4)
    (1.23, "mmol/L", 1, "Hypermagnesemia"), (1.24, "mmol/L", 3, "Hypermagnesemia"),
    (3.30, "mmol/L", 3, "Hypermagnesemia"), (3.31, "mmol/L", 4, "Hypermagnesemia"),
    (3.0, "mg/dL", 1, "Hypermagnesemia"), (3.01, "mg/dL", 3, "Hypermagnesemia"), (8.01, "mg/dL", 4, "Hypermagnesemia"),
    # mEq/L: divalent, 2 mEq/L = 1 mmol/L, graded in mmol/L: 0.98 mEq/L = 0.49 mmol/L < 0.5
    (0.98, "mEq/L", 2, "Hypomagnesemia"),
])
def test_magnesium_bands(value, unit, expected, term):
    limits = {"mmol/L": (0.7, 1.0), "mg/dL": (1.7, 2.4), "mEq/L": (1.4, 2.0)}[unit]
    result = grade_lab("magnesium", value, unit, lln=limits[0], uln=limits[1])
    assert (result.grade, result.ctcae_term) == (expected, term)


@pytest.mark.parametrize(("value", "unit", "kwargs", "expected", "term"), [
    # Hypoglycemia "<LLN - 55 mg/dL; <LLN - 3.0 mmol/L", "<55 - 40; <3.0 - 2.2", "<40 - 30; <2.2 - 1.7",
    # "<30 mg/dL; <1.7 mmol/L; life-threatening consequences; seizures"
    (3.0, "mmol/L", {}, 1, "Hypoglycemia"), (2.99, "mmol/L", {}, 2, "Hypoglycemia"),
    (2.2, "mmol/L", {}, 2, "Hypoglycemia"), (1.7, "mmol/L", {}, 3, "Hypoglycemia"),
    (1.69, "mmol/L", {}, 4, "Hypoglycemia"), (55, "mg/dL", {}, 1, "Hypoglycemia"), (40, "mg/dL", {}, 2, "Hypoglycemia"),
    (30, "mg/dL", {}, 3, "Hypoglycemia"), (29, "mg/dL", {}, 4, "Hypoglycemia"),
    (2.5, "mmol/L", {"seizures": True}, 4, "Hypoglycemia"),
    # Hyperglycemia is graded by intervention: G1 "Abnormal glucose above baseline with no medical intervention",
    # G2 "...; oral antiglycemic agent initiated; workup for diabetes", G3 "Insulin therapy initiated;
    # hospitalization indicated", G4 "Life-threatening consequences; urgent intervention indicated"
    (25.0, "mmol/L", {}, 1, "Hyperglycemia"),  # a very high value alone is still grade 1
    (8.0, "mmol/L", {"oral_antiglycemic_initiated": True}, 2, "Hyperglycemia"),
    (8.0, "mmol/L", {"insulin_initiated": True}, 3, "Hyperglycemia"),
    (8.0, "mmol/L", {"life_threatening": True}, 4, "Hyperglycemia"),
    (8.0, "mmol/L", {"baseline": 9.0}, 0, "Hyperglycemia"),  # not above baseline
])
def test_glucose(value, unit, kwargs, expected, term):
    limits = {"mmol/L": (3.9, 6.1), "mg/dL": (70, 110)}[unit]
    result = grade_lab("glucose", value, unit, lln=limits[0], uln=limits[1], **kwargs)
    assert (result.grade, result.ctcae_term) == (expected, term)


def test_hyperglycemia_value_alone_says_it_is_graded_by_intervention():
    result = grade_lab("glucose", 25.0, "mmol/L", lln=3.9, uln=6.1)
    assert "graded by intervention" in result.rationale


@pytest.mark.parametrize(("kwargs", "expected", "term"), [
    # Hypophosphatemia G1 "Laboratory finding only and intervention not indicated", G2 "Oral replacement therapy
    # indicated", G3 "...hospitalization or prolongation of existing hospitalization indicated", G4 "Life-threatening"
    ({"value": 0.5}, 1, "Hypophosphatemia"),
    ({"value": 0.5, "oral_replacement_indicated": True}, 2, "Hypophosphatemia"),
    ({"value": 0.2, "hospitalization_indicated": True}, 3, "Hypophosphatemia"),
    ({"value": 0.2, "life_threatening": True}, 4, "Hypophosphatemia"),
    ({"value": 1.0}, 0, "Hypophosphatemia"),
    # Hyperphosphatemia (v5.0 addition), tumour lysis: G2 "Noninvasive intervention indicated", G4 "...(e.g., dialysis)"
    ({"value": 2.5}, 1, "Hyperphosphatemia"),
    ({"value": 2.5, "noninvasive_intervention_indicated": True}, 2, "Hyperphosphatemia"),
    ({"value": 3.5, "life_threatening": True}, 4, "Hyperphosphatemia"),
])
def test_phosphate_is_graded_by_intervention(kwargs, expected, term):
    args = {"lln": 1.0, "uln": 1.9} | kwargs
    result = grade_lab("phosphate", args.pop("value"), "mmol/L", **args)
    assert (result.grade, result.ctcae_term) == (expected, term)


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    # Hyperuricemia G1 ">ULN without physiologic consequences", no G2, G3 ">ULN with physiologic consequences",
    # G4 "Life-threatening consequences"
    (400, {}, 0), (401, {}, 1), (600, {"physiologic_consequences": True}, 3), (600, {"life_threatening": True}, 4)])
def test_hyperuricemia(value, kwargs, expected):
    result = grade_lab("uric_acid", value, "umol/L", lln=150, uln=400, **kwargs)
    assert (result.grade, result.ctcae_term) == (expected, "Hyperuricemia")


def test_uric_acid_in_mg_dl_and_criterion_without_value_above_uln():
    assert grade_lab("uric_acid", 8.0, "mg/dL", uln=7.0).grade == 1
    with pytest.raises(GradingInputError, match="not above the ULN"):
        grade_lab("uric_acid", 300, "umol/L", uln=400, physiologic_consequences=True)
    assert grade_lab("uric_acid", 300, "umol/L", physiologic_consequences=True).grade is None  # ULN missing


@pytest.mark.parametrize(("value", "unit", "kwargs", "expected"), [
    (4.9, "g/L", {}, 1), (5.0, "g/L", {}, 0), (490, "mg/dL", {}, 1),
    (2.0, "g/L", {"noninvasive_intervention_indicated": True}, 2),
    (2.0, "g/L", {"hospitalization_indicated": True}, 3)])
def test_igg_is_recorded_under_immune_system_other_specify(value, unit, kwargs, expected):
    """Hypogammaglobulinaemia is not a CTCAE v5.0 term: a low IgG is "Immune system disorders - Other, specify"
    (MedDRA 10021428) with the verbatim term; grades are that term's (G1 "Asymptomatic or mild...; intervention not
    indicated", G2 "Moderate; minimal, local or noninvasive intervention indicated", G3 "...hospitalization...")."""
    limits = (5.0, 16.0) if unit == "g/L" else (500, 1600)
    result = grade_lab("igg", value, unit, lln=limits[0], uln=limits[1], **kwargs)
    assert result.grade == expected
    assert result.ctcae_term == "Immune system disorders - Other, specify"
    assert result.verbatim_term == "Hypogammaglobulinemia"


@pytest.mark.parametrize(("analyte", "value", "unit", "hint"), [
    ("sodium", 14.0, "mmol/L", "Check the value"), ("glucose", 90, "mmol/L", "90 mg/dL"),
    ("calcium", 9.4, "mmol/L", "9.4 mg/dL"), ("magnesium", 20, "mg/dL", "Check the value"),
    ("uric_acid", 5.0, "umol/L", "5 mg/dL"), ("igg", 800, "g/L", "800 mg/dL"), ("phosphate", 30, "mg/dL", "Check")])
def test_unit_slips_name_the_likely_unit(analyte, value, unit, hint):
    """Item 8: a value implausible in its unit is refused, naming the unit it is plausible in."""
    message = lab_units.implausible(analyte, value, unit)
    assert message is not None and hint in message


def test_divalent_meq_is_its_own_unit_and_monovalent_meq_is_mmol():
    assert lab_units.unit_code("magnesium", "mEq/L") == "mEq/L"
    assert lab_units.unit_code("calcium", "meq/l") == "mEq/L"
    assert lab_units.unit_code("sodium", "mEq/L") == "mmol/L"
    assert lab_units.unit_code("glucose", "mEq/L") is None


_LIMITS = {"sodium": ("mmol/L", 135, 145), "calcium_ionized": ("mmol/L", 1.1, 1.3), "magnesium": ("mmol/L", 0.7, 1.0),
           "glucose": ("mmol/L", 3.9, 6.1), "potassium": ("mmol/L", 3.5, 5.0)}


@settings(max_examples=200, deadline=None)
@given(analyte=st.sampled_from(sorted(_LIMITS)), value=st.floats(0.05, 200), step=st.floats(0, 50))
def test_further_from_normal_never_lowers_the_grade_of_the_same_term(analyte, value, step):
    """Within one term, a value further beyond the reference limit never has a lower grade (by value alone)."""
    unit, lln, uln = _LIMITS[analyte]
    first = grade_lab(analyte, value, unit, lln=lln, uln=uln)
    if first.grade in (None, 0):
        return
    low = first.ctcae_term in ("Hyponatremia", "Hypocalcemia", "Hypomagnesemia", "Hypoglycemia", "Hypokalemia")
    further = grade_lab(analyte, max(0.0, value - step) if low else value + step, unit, lln=lln, uln=uln)
    assert further.ctcae_term == first.ctcae_term
    assert further.grade >= first.grade


def test_every_analyte_lists_the_terms_it_can_propose():
    assert LAB_TERMS_BY_ANALYTE["sodium"] == ("Hyponatremia", "Hypernatremia")
    assert LAB_TERMS_BY_ANALYTE["potassium"] == ("Hypokalemia", "Hyperkalemia")
    assert LAB_TERMS_BY_ANALYTE["igg"] == ("Immune system disorders - Other, specify",)
    assert LAB_TERMS_BY_ANALYTE["anc"] == ("Neutrophil count decreased",)


# --------------------------------------------------------------------------------------------- the grading API

LAB_URL = "/api/v1/grading/lab/"


@pytest.fixture
def api(client, db):
    from django.contrib.auth import get_user_model
    client.force_login(get_user_model().objects.create_user(username="grader", password="grading-pass-1234"))
    return client


def test_api_grades_sodium_by_direction_naming_the_criterion(api):
    """POST /api/v1/grading/lab/: sodium 128 mmol/L symptomatic = Hyponatremia grade 3 ("125-129 mmol/L
    symptomatic"); 147 mmol/L with intervention initiated = Hypernatremia grade 2 ("...; intervention initiated")."""
    low = api.post(LAB_URL, {"analyte": "sodium", "value": 128, "unit": "mmol/L", "lln": 135, "uln": 145,
                             "symptomatic": True}, content_type="application/json")
    assert low.status_code == 200, low.content
    assert (low.json()["grade"], low.json()["ctcae_term"]) == (3, "Hyponatremia")
    assert "symptomatic" in low.json()["rationale"]
    high = api.post(LAB_URL, {"analyte": "sodium", "value": 147, "unit": "mEq/L", "lln": 135, "uln": 145,
                              "intervention_initiated": True}, content_type="application/json")
    assert (high.json()["grade"], high.json()["ctcae_term"]) == (2, "Hypernatremia")
    assert "intervention initiated" in high.json()["rationale"]


def test_api_corrects_calcium_and_names_the_verbatim_term_of_igg(api):
    calcium = api.post(LAB_URL, {"analyte": "calcium", "value": 7.0, "unit": "mg/dL", "lln": 8.6, "uln": 10.3,
                                 "albumin": 25, "albumin_unit": "g/L"}, content_type="application/json")
    assert (calcium.json()["grade"], calcium.json()["ctcae_term"]) == (1, "Hypocalcemia")  # 7.0 + 1.2 = 8.2 mg/dL
    igg = api.post(LAB_URL, {"analyte": "igg", "value": 2.0, "unit": "g/L", "lln": 5, "uln": 16},
                   content_type="application/json")
    assert igg.json()["verbatim_term"] == "Hypogammaglobulinemia"
    assert igg.json()["ctcae_term"] == "Immune system disorders - Other, specify"


@pytest.mark.parametrize(("body", "field"), [
    ({"analyte": "glucose", "value": 90, "unit": "mmol/L"}, "value"),  # a mg/dL value: names mg/dL
    ({"analyte": "sodium", "value": 140, "unit": "mmol/L", "lln": 135, "uln": 145, "hospitalization_indicated": True},
     "hospitalization_indicated"),  # neither direction
    ({"analyte": "potassium", "value": 6.5, "unit": "mmol/L", "uln": 5.0, "intervention_indicated": True},
     "intervention_indicated"),  # a Hypokalemia criterion on a Hyperkalemia value
    ({"analyte": "sodium", "value": 140, "unit": "mmol/L", "albumin": 30, "albumin_unit": "g/L"}, "albumin"),
    ({"analyte": "calcium", "value": 2.0, "unit": "mmol/L", "albumin": 30, "albumin_unit": "mmol/L"}, "albumin_unit"),
])
def test_api_refuses_what_the_rule_cannot_use(api, body, field):
    response = api.post(LAB_URL, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in api_errors(response)


def test_api_lists_the_terms_each_analyte_can_propose(api):
    body = {a["analyte"]: a for a in api.get(f"{LAB_URL}units/").json()}
    assert body["sodium"]["ctcae_terms"] == ["Hyponatremia", "Hypernatremia"]
    assert [u["unit"] for u in body["magnesium"]["units"]] == ["mmol/L", "mg/dL", "mEq/L"]


def test_a_glucose_not_above_its_baseline_says_so_without_a_stray_placeholder():
    """The grade 0 of a glucose > ULN but not above the baseline ended in a literal "{note}" (a plain string among
    f-strings); the sentence ends where it should."""
    result = grade_lab("glucose", 12.0, "mmol/L", lln=3.9, uln=6.1, baseline=13.0)
    assert (result.grade, result.rationale) == (0, "Grade 0: 12 mmol/L > ULN but not above the baseline 13 mmol/L "
                                                   "(CTCAE v5.0 Hyperglycemia grade 1 is 'abnormal glucose above "
                                                   "baseline').")


def test_the_chemistry_rationales_go_through_translate():
    def marked(message: str) -> str:
        return f"[{message}]"

    english = grade_lab("sodium", 128, "mmol/L", lln=135, uln=145)
    translated = grade_lab("sodium", 128, "mmol/L", lln=135, uln=145, translate=marked)
    assert english.rationale == "Grade 2: 128 mmol/L (125-129 mmol/L) and asymptomatic (CTCAE v5.0 Hyponatremia)."
    assert translated.rationale == ("[Grade 2: [128 mmol/L (125-129 mmol/L) and asymptomatic] (CTCAE v5.0 "
                                    "Hyponatremia).]")
