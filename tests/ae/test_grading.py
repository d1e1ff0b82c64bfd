"""Bedside grading rules (ae.grading) and their REST endpoints; each test names the rule it checks.

Primary sources: ASTCT 2019 (Lee DW et al. Biol Blood Marrow Transplant 2019;25:625-638, CRS and ICANS tables
with footnotes), NCI CTCAE v5.0 and v4.03 (term, grade text), Lee 2014 (Blood 2014;124:188-195, Table 2); the rule
tables are in docs/grading.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from hypothesis import given, settings
from hypothesis import strategies as st

from ae.grading import (
    CONSCIOUSNESS_LEVELS,
    FEVER_MASKING_LABELS,
    LAB_ANALYTES,
    OXYGEN_DEVICES,
    VASOPRESSORS,
    GradingInputError,
    default_icans_tool,
    grade_crs_astct,
    grade_crs_ctcae_v5,
    grade_crs_lee2014,
    grade_icans,
    grade_lab,
)
from tests.conftest import api_errors

TERMS_CSV = Path(__file__).resolve().parents[2] / "fixtures" / "ctcae" / "ctcae_v5_terms.csv"
FEVER = 39.0


def crs(**kwargs) -> int:
    return grade_crs_astct(**({"temperature_c": FEVER} | kwargs)).grade


# ------------------------------------------------------------------------------------ ASTCT CRS


def test_astct_fever_alone_is_grade_1():
    """ASTCT 2019 CRS grade 1: fever >= 38.0 °C, no hypotension, no hypoxia."""
    result = grade_crs_astct(temperature_c=38.0)
    assert (result.grade, result.scale) == (1, "ASTCT 2019")
    assert "fever" in result.rationale


def test_astct_no_fever_is_not_crs():
    """ASTCT 2019 footnote: fever is required unless masked by anticytokine therapy (37.9 °C = grade 0)."""
    assert grade_crs_astct(temperature_c=37.9, hypotension=True, oxygen_device="facemask").grade == 0


def test_astct_nasal_cannula_6_vs_6_5_l_min():
    """ASTCT 2019 footnote: low flow is <= 6 L/min (grade 2), high flow > 6 L/min (grade 3)."""
    assert crs(oxygen_device="nasal_cannula", oxygen_flow_l_min=6.0) == 2
    high = grade_crs_astct(temperature_c=FEVER, oxygen_device="nasal_cannula", oxygen_flow_l_min=6.5)
    assert high.grade == 3
    assert "> 6 L/min" in high.rationale


@pytest.mark.parametrize(("device", "expected"), [
    ("none", 1), ("blow_by", 2), ("facemask", 3), ("non_rebreather", 3), ("venturi", 3),
    ("high_flow_nasal_cannula", 3), ("cpap", 4), ("bipap", 4), ("mechanical_ventilation", 4)])
def test_astct_oxygen_devices(device, expected):
    """ASTCT 2019 CRS table, hypoxia row: blow-by = 2; facemask/NRB/Venturi/HFNC = 3; positive pressure = 4."""
    assert crs(oxygen_device=device) == expected


def test_astct_vasopressin_does_not_count_toward_multiple():
    """ASTCT 2019 footnote: vasopressin does not count; NE + vasopressin = 3, NE + epinephrine = 4."""
    ne_vaso = grade_crs_astct(temperature_c=FEVER, hypotension=True, vasopressors=["norepinephrine", "vasopressin"])
    assert ne_vaso.grade == 3
    assert "vasopressin" in ne_vaso.rationale
    assert crs(hypotension=True, vasopressors=["norepinephrine", "epinephrine"]) == 4
    assert crs(hypotension=True, vasopressors=["norepinephrine", "epinephrine", "vasopressin"]) == 4


def test_astct_hypotension_without_pressor_is_grade_2():
    """ASTCT 2019 CRS table: hypotension not requiring vasopressors = grade 2."""
    assert crs(hypotension=True) == 2


def test_astct_worse_event_sets_the_grade():
    """ASTCT 2019 tie-break example: 39.5 °C + one vasopressor + low-flow nasal cannula = grade 3."""
    result = grade_crs_astct(temperature_c=39.5, hypotension=True, vasopressors=["norepinephrine"],
                             oxygen_device="nasal_cannula", oxygen_flow_l_min=2)
    assert result.grade == 3
    assert "vasopressor" in result.rationale


def test_astct_fever_masked_after_tocilizumab():
    """ASTCT 2019 CRS footnote: "In patients who have CRS then receive antipyretic or anticytokine therapy such as
    tocilizumab or steroids, fever is no longer required to grade subsequent CRS severity"."""
    masked = grade_crs_astct(temperature_c=37.0, fever_masking_therapies=["tocilizumab"], had_crs_before=True,
                             hypotension=True, vasopressors=["norepinephrine"])
    assert masked.grade == 3
    assert "tocilizumab" in masked.rationale and "mask fever" in masked.rationale
    # Without earlier CRS the drug does not excuse the missing fever ("patients who have CRS then receive").
    assert grade_crs_astct(temperature_c=37.0, fever_masking_therapies=["tocilizumab"], hypotension=True).grade == 0
    # Open point (docs/grading.md, ASTCT CRS): masked, no hypotension and no hypoxia = resolved (0).
    assert grade_crs_astct(fever_masking_therapies=["corticosteroid"], had_crs_before=True).grade == 0


@pytest.mark.parametrize("therapy", ["antipyretic", "tocilizumab", "other_anticytokine", "corticosteroid",
                                     "tocilizumab_or_corticosteroid"])
def test_astct_any_antipyretic_or_anticytokine_therapy_masks_fever(therapy):
    """ASTCT 2019 CRS footnote: "antipyretic or anticytokine therapy" masks fever — a child afebrile (37.2 °C) on
    paracetamol after CRS who is hypotensive without vasopressors is grade 2, not 0 (issue 10 item 2)."""
    result = grade_crs_astct(temperature_c=37.2, fever_masking_therapies=[therapy], had_crs_before=True,
                             hypotension=True)
    assert result.grade == 2
    assert FEVER_MASKING_LABELS[therapy] in result.rationale  # the rationale names the therapy


def test_astct_no_masking_therapy_after_crs_still_needs_fever():
    """ASTCT 2019 CRS table: fever >= 38.0 °C is required unless masked by therapy; earlier CRS alone is not enough."""
    assert grade_crs_astct(temperature_c=37.2, had_crs_before=True, hypotension=True).grade == 0


def test_astct_unknown_masking_therapy_is_refused():
    with pytest.raises(GradingInputError) as exc:
        grade_crs_astct(temperature_c=38.5, fever_masking_therapies=["paracetamol"])
    assert exc.value.field == "fever_masking_therapies"


@pytest.mark.parametrize(("kwargs", "with_fever"), [
    ({}, 1), ({"hypotension": True}, 2), ({"vasopressors": ["norepinephrine", "epinephrine"]}, 4),
    ({"oxygen_device": "facemask"}, 3)])
def test_astct_missing_temperature_is_undetermined_not_no_fever(kwargs, with_fever):
    """ASTCT 2019 CRS: fever (>= 38.0 °C) is a required criterion, so a temperature that was not recorded cannot be
    read as "no fever" (issue 10 item 9): the grade is undetermined and the rationale gives both readings."""
    result = grade_crs_astct(**kwargs)
    assert result.grade is None
    assert "not recorded" in result.rationale and f"grade {with_fever} with fever, 0 without" in result.rationale


def test_astct_missing_temperature_is_decided_when_fever_is_waived_or_death():
    """ASTCT 2019: after CRS and tocilizumab fever is not required; death due to CRS is grade 5 whatever the
    temperature."""
    assert grade_crs_astct(fever_masking_therapies=["tocilizumab"], had_crs_before=True, hypotension=True).grade == 2
    assert grade_crs_astct(death_due_to_crs=True).grade == 5


def test_ctcae_and_lee_missing_temperature_is_undetermined_only_where_fever_decides():
    """CTCAE v5.0 CRS grade 1 "Fever ..." and Lee 2014 grade 1 (fever): without a temperature and nothing else the
    grade is 0 or 1 — undetermined; with hypotension the grade is 2 whatever the temperature."""
    assert grade_crs_ctcae_v5().grade is None
    assert grade_crs_ctcae_v5(temperature_c=37.9).grade == 0
    assert grade_crs_ctcae_v5(hypotension=True).grade == 2
    assert grade_crs_lee2014().grade is None
    assert grade_crs_lee2014(temperature_c=37.9).grade == 0
    assert grade_crs_lee2014(constitutional_symptoms=True).grade == 1
    assert grade_crs_lee2014(hypotension=True).grade == 2


def test_astct_death_is_grade_5():
    """ASTCT 2019: death due to CRS = grade 5."""
    assert grade_crs_astct(death_due_to_crs=True).grade == 5


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"oxygen_device": "nasal_cannula", "oxygen_flow_l_min": -1.0}, "oxygen_flow_l_min"),
    ({"oxygen_device": "nasal_cannula"}, "oxygen_flow_l_min"),
    ({"oxygen_device": "none", "oxygen_flow_l_min": 2.0}, "oxygen_flow_l_min"),
    ({"oxygen_device": "tent"}, "oxygen_device"),
    ({"vasopressors": ["milrinone"]}, "vasopressors"),
    ({"temperature_c": 390.0}, "temperature_c")])
def test_astct_impossible_inputs(kwargs, field):
    """Impossible ASTCT inputs raise a ValueError naming the field."""
    with pytest.raises(ValueError, match=field) as info:
        grade_crs_astct(**({"temperature_c": FEVER} | kwargs))
    assert isinstance(info.value, GradingInputError) and info.value.field == field


@settings(max_examples=200, deadline=None)
@given(flow=st.floats(0.1, 30.0), more=st.floats(0.0, 30.0),
       agents=st.sets(st.sampled_from(sorted(VASOPRESSORS))), extra=st.sampled_from(sorted(VASOPRESSORS)),
       hypotension=st.booleans(), temp=st.floats(35.0, 41.0))
def test_astct_worse_input_never_lowers_grade(flow, more, agents, extra, hypotension, temp):
    """ASTCT 2019 monotonicity: more oxygen flow or an added pressor never lowers the grade."""
    base = {"temperature_c": temp, "hypotension": hypotension, "vasopressors": sorted(agents),
            "oxygen_device": "nasal_cannula", "oxygen_flow_l_min": flow}
    before = grade_crs_astct(**base).grade
    assert grade_crs_astct(**(base | {"oxygen_flow_l_min": flow + more})).grade >= before
    assert grade_crs_astct(**(base | {"vasopressors": sorted(agents | {extra})})).grade >= before
    assert grade_crs_astct(**(base | {"hypotension": True})).grade >= before


# ------------------------------------------------------------------------------- CTCAE v5 / Lee CRS


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"temperature_c": 37.9}, 0),
    ({"temperature_c": 38.0}, 1),
    ({"hypotension": True}, 2),
    ({"oxygen_fio2_percent": 39.0}, 2),
    ({"oxygen_fio2_percent": 40.0}, 3),
    ({"vasopressors": ["norepinephrine"]}, 3),
    ({"vasopressors": ["norepinephrine", "epinephrine"]}, 3),
    ({"life_threatening_urgent_intervention": True}, 4),
    ({"death_due_to_crs": True}, 5)])
def test_ctcae_v5_crs(kwargs, expected):
    """CTCAE v5.0 CRS: G1 fever; G2 fluids / <40% O2; G3 one pressor / >=40% O2; G4 life-threatening; G5 death."""
    result = grade_crs_ctcae_v5(**kwargs)
    assert (result.grade, result.scale, result.version) == (expected, "CTCAE", "5.0")
    assert result.rationale.startswith(f"Grade {expected}")


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"temperature_c": 37.9}, 0),
    ({"constitutional_symptoms": True}, 1),
    ({"oxygen_fio2_percent": 35.0}, 2),
    ({"hypotension": True, "vasopressors": ["dopamine"]}, 2),
    ({"organ_toxicity_grade": 2}, 2),
    ({"oxygen_fio2_percent": 40.0}, 3),
    ({"hypotension": True, "vasopressors": ["norepinephrine"], "high_dose_or_multiple_pressors": True}, 3),
    ({"vasopressors": ["norepinephrine", "vasopressin"]}, 3),
    ({"organ_toxicity_grade": 3}, 3),
    ({"organ_toxicity_grade": 4, "organ_toxicity_is_transaminitis": True}, 3),
    ({"organ_toxicity_grade": 4}, 4),
    ({"ventilator_support": True}, 4),
    ({"death_due_to_crs": True}, 5)])
def test_lee_2014_crs(kwargs, expected):
    """Lee 2014: G2 <40% FiO2 / low-dose pressor / G2 organ; G3 >=40% / high-dose or multiple / G3 organ / G4
    transaminitis; G4 ventilator / G4 organ toxicity (not transaminitis); fever not required."""
    result = grade_crs_lee2014(**kwargs)
    assert (result.grade, result.scale) == (expected, "Lee 2014")


def test_lee_2014_high_dose_flag_needs_a_pressor():
    """Lee 2014: high-dose/multiple pressors without any pressor is contradictory."""
    with pytest.raises(ValueError, match="high_dose_or_multiple_pressors"):
        grade_crs_lee2014(high_dose_or_multiple_pressors=True)


# ------------------------------------------------------------------------------------------ ICANS


@pytest.mark.parametrize(("score", "expected"), [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (0, 3)])
def test_ice_score_bands_awake(score, expected):
    """ASTCT 2019 ICANS ICE domain: 10 = 0, 7-9 = 1, 3-6 = 2, 0-2 = 3 (ICE 0 awake, e.g. global aphasia = 3)."""
    result = grade_icans(tool="ICE", ice_score=score)
    assert result.grade == expected
    if expected:
        assert f"ICE score {score}" in result.rationale


def test_ice_zero_unarousable_is_grade_4():
    """ASTCT 2019 ICANS footnote: ICE 0 because unarousable and unable to perform ICE = grade 4."""
    result = grade_icans(tool="ICE", unable_to_perform=True, consciousness="unarousable")
    assert result.grade == 4
    assert "unarousable" in result.rationale
    assert grade_icans(tool="ICE", unable_to_perform=True, consciousness="normal").grade == 3


@pytest.mark.parametrize(("score", "expected"), [(0, 0), (1, 1), (8, 1), (9, 3), (32, 3)])
def test_capd_score_bands(score, expected):
    """ASTCT 2019 pediatric ICANS: CAPD 1-8 = 1, >= 9 = 3, 0 contributes nothing."""
    assert grade_icans(tool="CAPD", capd_score=score).grade == expected


def test_capd_grade_2_only_via_awakens_to_voice():
    """ASTCT 2019 pediatric ICANS: CAPD 1-8 gives grade 2 only with consciousness 'awakens to voice'."""
    assert grade_icans(tool="CAPD", capd_score=8, consciousness="awakens_spontaneously").grade == 1
    assert grade_icans(tool="CAPD", capd_score=8, consciousness="awakens_to_voice").grade == 2


def test_capd_unable_to_perform_is_grade_4():
    """ASTCT 2019 pediatric ICANS: unable to perform CAPD = grade 4."""
    assert grade_icans(tool="CAPD", unable_to_perform=True).grade == 4


@pytest.mark.parametrize(("domain", "value", "expected"), [
    ("consciousness", "normal", 0), ("consciousness", "awakens_spontaneously", 1),
    ("consciousness", "awakens_to_voice", 2),
    ("consciousness", "awakens_to_tactile", 3), ("consciousness", "unarousable", 4),
    ("seizure", "rapid_resolving_or_eeg_treated", 3), ("seizure", "prolonged_or_repetitive", 4),
    ("motor", "deep_focal_weakness", 4), ("cerebral_edema", "focal", 3), ("cerebral_edema", "diffuse_or_signs", 4)])
def test_icans_other_domains(domain, value, expected):
    """ASTCT 2019 ICANS table rows. Depressed level of consciousness: grade 1 "awakens spontaneously", grade 2
    "awakens to voice", grade 3 "awakens only to tactile stimulus", grade 4 "unarousable ..."; a fully alert child
    (normal) has no depressed level of consciousness = grade 0 (issue 10 item 4)."""
    assert grade_icans(tool="ICE", ice_score=10, **{domain: value}).grade == expected


def test_icans_worst_domain_wins():
    """ASTCT 2019 ICANS tie-break example: ICE 3 + generalized seizure = grade 3."""
    assert grade_icans(tool="ICE", ice_score=3, seizure="rapid_resolving_or_eeg_treated").grade == 3
    assert grade_icans(tool="ICE", ice_score=10, death=True).grade == 5


def test_default_icans_tool_age_11_vs_12():
    """ASTCT 2019: ICE from age 12 (paper's wording, not NCIt's '12 and under'); CAPD < 12 or developmental delay."""
    assert default_icans_tool(11.9, developmental_delay=False) == "CAPD"
    assert default_icans_tool(12, developmental_delay=False) == "ICE"
    assert default_icans_tool(15, developmental_delay=True) == "CAPD"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"tool": "ICE", "ice_score": 11}, "ice_score"),
    ({"tool": "ICE", "ice_score": -1}, "ice_score"),
    ({"tool": "CAPD", "capd_score": 33}, "capd_score"),
    ({"tool": "CAPD", "capd_score": -2}, "capd_score"),
    ({"tool": "CAPD", "ice_score": 8}, "ice_score"),
    ({"tool": "ICE", "ice_score": 8, "capd_score": 4}, "capd_score"),
    ({"tool": "ICE"}, "ice_score"),
    ({"tool": "ICE", "ice_score": 5, "unable_to_perform": True}, "ice_score"),
    ({"tool": "MMSE", "ice_score": 5}, "tool"),
    ({"tool": "ICE", "ice_score": 5, "consciousness": "drowsy"}, "consciousness")])
def test_icans_impossible_inputs(kwargs, field):
    """ICE is 0-10 and CAPD 0-32 points; a score must match the chosen tool."""
    with pytest.raises(ValueError, match=field):
        grade_icans(**kwargs)


@settings(max_examples=200, deadline=None)
@given(ice=st.integers(0, 10), drop=st.integers(0, 10), consciousness=st.sampled_from(CONSCIOUSNESS_LEVELS),
       seizure=st.sampled_from(["none", "rapid_resolving_or_eeg_treated"]))
def test_icans_lower_ice_never_lowers_grade(ice, drop, consciousness, seizure):
    """ASTCT 2019 ICANS monotonicity: a lower ICE score or a worse seizure never lowers the grade."""
    base = {"tool": "ICE", "ice_score": ice, "consciousness": consciousness, "seizure": seizure}
    before = grade_icans(**base).grade
    assert grade_icans(**(base | {"ice_score": max(0, ice - drop)})).grade >= before
    assert grade_icans(**(base | {"seizure": "prolonged_or_repetitive"})).grade >= before


# ------------------------------------------------------------------------------------------- labs


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1.5, "10^9/L", 1), (1.49, "10^9/L", 2), (1.0, "10^9/L", 2), (0.99, "10^9/L", 3), (0.5, "10^9/L", 3),
    (0.49, "10^9/L", 4), (1500, "/mm3", 1), (1000, "/mm3", 2), (500, "/mm3", 3), (499, "/uL", 4)])
def test_anc_boundaries(value, unit, expected):
    """CTCAE v5.0 Neutrophil count decreased: '<A - B' = value < A and >= B; boundaries take the milder grade;
    /mm3 = /uL divided by 1000 gives 10^9/L (LLN 2.0 x 10^9/L given in the same unit)."""
    lln = 2.0 if unit == "10^9/L" else 2000
    result = grade_lab("anc", value, unit, lln=lln)
    assert (result.grade, result.ctcae_term, result.scale, result.version) == (
        expected, "Neutrophil count decreased", "CTCAE", "5.0")


@pytest.mark.parametrize(("value", "expected"), [(75.0, 1), (74.9, 2), (50.0, 2), (49.9, 3), (25.0, 3), (24.9, 4)])
def test_platelet_boundaries(value, expected):
    """CTCAE v5.0 Platelet count decreased: <LLN-75, <75-50, <50-25, <25 x 10^9/L."""
    assert grade_lab("platelets", value, "10^9/L", lln=150).grade == expected


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (10.0, "g/dL", 1), (9.9, "g/dL", 2), (8.0, "g/dL", 2), (7.9, "g/dL", 3),
    (100, "g/L", 1), (99, "g/L", 2), (80, "g/L", 2), (79, "g/L", 3)])
def test_hemoglobin_boundaries(value, unit, expected):
    """CTCAE v5.0 Anemia: Hgb <LLN-10.0, <10.0-8.0, <8.0 g/dL (g/L divided by 10)."""
    lln = 11.5 if unit == "g/dL" else 115
    result = grade_lab("hemoglobin", value, unit, lln=lln)
    assert (result.grade, result.ctcae_term) == (expected, "Anemia")


@pytest.mark.parametrize(("value", "symptomatic", "expected"), [
    (3.4, False, 1), (3.0, False, 1), (3.0, True, 2), (2.99, False, 3), (2.5, False, 3), (2.49, False, 4),
    (3.6, True, 0)])
def test_potassium_boundaries(value, symptomatic, expected):
    """CTCAE v5.0 Hypokalemia: <LLN-3.0 asymptomatic = 1 (not admiral's 2), symptomatic + intervention = 2,
    <3.0-2.5 = 3, <2.5 = 4."""
    result = grade_lab("potassium", value, "mmol/L", lln=3.5, uln=5.0, symptomatic=symptomatic)
    assert result.grade == expected


@pytest.mark.parametrize(("analyte", "value", "expected"), [
    ("wbc", 3.0, 1), ("wbc", 2.0, 2), ("wbc", 1.0, 3), ("wbc", 0.9, 4),
    ("lymphocytes", 0.8, 1), ("lymphocytes", 0.5, 2), ("lymphocytes", 0.2, 3), ("lymphocytes", 0.19, 4)])
def test_wbc_and_lymphocyte_boundaries(analyte, value, expected):
    """CTCAE v5.0 WBC decreased (<LLN-3.0/2.0/1.0) and Lymphocyte count decreased (<LLN-0.8/0.5/0.2)."""
    assert grade_lab(analyte, value, "10^9/L", lln=4.0).grade == expected


@pytest.mark.parametrize(("analyte", "value", "expected"), [
    ("alt", 40, 0), ("alt", 41, 1), ("alt", 120, 1), ("alt", 121, 2), ("alt", 200, 2), ("alt", 201, 3),
    ("alt", 800, 3), ("alt", 801, 4), ("ast", 120, 1), ("ast", 200, 2), ("ast", 800, 3)])
def test_transaminase_uln_multiples(analyte, value, expected):
    """CTCAE v5.0 ALT/AST increased, normal baseline: >ULN-3.0, >3.0-5.0, >5.0-20.0, >20.0 x ULN (3x = grade 1)."""
    assert grade_lab(analyte, value, "U/L", uln=40).grade == expected


@pytest.mark.parametrize(("value", "expected"), [(149, 0), (150, 1), (300, 1), (301, 2), (501, 3), (2001, 4)])
def test_transaminase_abnormal_baseline(value, expected):
    """CTCAE v5.0 ALT increased, abnormal baseline: grade 1 starts AT 1.5 x baseline; >3, >5, >20 x baseline."""
    result = grade_lab("alt", value, "U/L", uln=40, baseline=100, baseline_abnormal=True)
    assert result.grade == expected
    assert grade_lab("alt", value, "U/L", uln=40, baseline=100).grade == expected  # derived: baseline > ULN


@pytest.mark.parametrize(("analyte", "value", "unit"), [
    ("anc", 1.8, "10^9/L"), ("platelets", 120, "10^9/L"), ("hemoglobin", 10.5, "g/dL"), ("potassium", 3.2, "mmol/L"),
    ("alt", 80, "U/L")])
def test_missing_reference_limit_is_undetermined(analyte, value, unit):
    """CTCAE v5.0 grade 1 "<LLN - ..." / ">ULN - ...": grade 0 vs 1 needs the age-specific LLN (ULN for ALT);
    missing = None."""
    result = grade_lab(analyte, value, unit)
    assert result.grade is None
    assert "Undetermined" in result.rationale
    assert grade_lab("anc", 1.2, "10^9/L").grade == 2  # absolute thresholds do not need the LLN


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"analyte": "anc", "value": 1.0, "unit": "cells"}, "unit"),
    ({"analyte": "hemoglobin", "value": 9.0, "unit": "mEq/L"}, "unit"),
    ({"analyte": "anc", "value": -1.0, "unit": "10^9/L"}, "value"),
    ({"analyte": "ferritin", "value": 130.0, "unit": "ug/L"}, "analyte"),
    ({"analyte": "alt", "value": 90.0, "unit": "U/L", "uln": 40, "baseline_abnormal": True}, "baseline"),
    ({"analyte": "alt", "value": 90.0, "unit": "U/L", "uln": 40, "baseline": 30, "baseline_abnormal": True},
     "baseline_abnormal")])
def test_lab_impossible_inputs(kwargs, field):
    """Unknown units/analytes, negative values and contradictory baselines are rejected."""
    with pytest.raises(ValueError, match=field):
        grade_lab(**kwargs)


_UNITS = {"anc": "10^9/L", "platelets": "10^9/L", "wbc": "10^9/L", "lymphocytes": "10^9/L", "hemoglobin": "g/dL",
          "potassium": "mmol/L", "alt": "U/L", "ast": "U/L", "bilirubin": "umol/L", "creatinine": "umol/L",
          "alp": "U/L", "ggt": "U/L", "lipase": "U/L", "amylase": "U/L", "albumin": "g/dL",
          "fibrinogen": "g/L", "sodium": "mmol/L", "calcium_ionized": "mmol/L", "magnesium": "mmol/L",
          "phosphate": "mmol/L", "glucose": "mmol/L", "uric_acid": "umol/L", "igg": "g/L", "calcium": "mmol/L"}
_DECREASING = ("anc", "platelets", "wbc", "lymphocytes", "hemoglobin", "potassium", "albumin", "fibrinogen")


def _allowed_grades() -> dict[str, set[int]]:
    with TERMS_CSV.open(newline="", encoding="utf-8") as handle:
        return {row["ctcae_term"]: {int(g) for g in row["allowed_grades"].split("|") if g}
                for row in csv.DictReader(handle)}


ALLOWED = _allowed_grades()


@settings(max_examples=300, deadline=None)
@given(analyte=st.sampled_from(LAB_ANALYTES), value=st.floats(0, 2000), limit=st.one_of(st.none(), st.floats(0.1, 200)),
       baseline=st.one_of(st.none(), st.floats(1, 500)), symptomatic=st.booleans())
def test_lab_grade_is_allowed_for_its_term(analyte, value, limit, baseline, symptomatic):
    """CTCAE v5.0 workbook: every computed grade is one the term allows (allowed_grades column), or 0/None."""
    decreasing = analyte in _DECREASING
    result = grade_lab(analyte, value, _UNITS[analyte], lln=limit if decreasing else None,
                       uln=None if decreasing else limit, baseline=None if decreasing else baseline,
                       symptomatic=symptomatic and (analyte in ("lipase", "amylase")
                                                    or (analyte == "potassium" and value <= 5.5)))
    assert result.ctcae_term in ALLOWED  # (above 5.5 mmol/L potassium is Hyperkalemia: no "symptomatic" criterion)
    assert result.grade is None or result.grade == 0 or result.grade in ALLOWED[result.ctcae_term]


@settings(max_examples=300, deadline=None)
@given(analyte=st.sampled_from(["anc", "platelets", "wbc", "lymphocytes", "hemoglobin", "potassium"]),
       value=st.floats(0, 300), drop=st.floats(0, 300), lln=st.one_of(st.none(), st.floats(0.1, 300)))
def test_lower_count_never_lowers_grade(analyte, value, drop, lln):
    """CTCAE v5.0 decreased terms: a lower value never gives a lower grade (when both are determined). Potassium
    above 5.5 mmol/L proposes Hyperkalemia (another term, tests/ae/test_lab_chemistry.py): compared within one term."""
    first = grade_lab(analyte, value, _UNITS[analyte], lln=lln)
    if first.ctcae_term == "Hyperkalemia":
        return
    before = first.grade
    after = grade_lab(analyte, max(0.0, value - drop), _UNITS[analyte], lln=lln).grade
    assert before is None or after is not None
    if before is not None:
        assert after >= before


@settings(max_examples=200, deadline=None)
@given(value=st.floats(0, 5000), rise=st.floats(0, 5000), uln=st.floats(5, 100),
       baseline=st.one_of(st.none(), st.floats(1, 300)))
def test_higher_transaminase_never_lowers_grade(value, rise, uln, baseline):
    """CTCAE v5.0 ALT increased: a higher value never gives a lower grade."""
    assert (grade_lab("alt", value + rise, "U/L", uln=uln, baseline=baseline).grade
            >= grade_lab("alt", value, "U/L", uln=uln, baseline=baseline).grade)


# -------------------------------------------------------------------------------------------- API

CRS_URL, ICANS_URL, LAB_URL = "/api/v1/grading/crs/", "/api/v1/grading/icans/", "/api/v1/grading/lab/"


@pytest.fixture
def api(client, db):
    user = get_user_model().objects.create_user(username="grader", password="grading-pass-1234")
    client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize(("body", "grade", "scale"), [
    ({"temperature_c": 39.0, "hypotension": True, "vasopressors": ["norepinephrine", "vasopressin"]}, 3,
     "ASTCT 2019"),
    ({"scale": "astct_2019", "temperature_c": 39.0, "oxygen_device": "nasal_cannula", "oxygen_flow_l_min": 6.5}, 3,
     "ASTCT 2019"),
    ({"scale": "ctcae_v5_0", "oxygen_fio2_percent": 30}, 2, "CTCAE"),
    ({"scale": "lee_2014", "ventilator_support": True}, 4, "Lee 2014")])
def test_api_crs(api, body, grade, scale):
    """POST /api/v1/grading/crs/ grades by the requested scale (ASTCT 2019 by default)."""
    response = post(api, CRS_URL, body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["grade"], data["scale"]) == (grade, scale)
    assert set(data) == {"grade", "scale", "version", "rationale"}


@pytest.mark.parametrize(("body", "field"), [
    ({"temperature_c": 39.0, "oxygen_device": "nasal_cannula", "oxygen_flow_l_min": -2}, "oxygen_flow_l_min"),
    ({"temperature_c": 39.0, "oxygen_device": "nasal_cannula"}, "oxygen_flow_l_min"),
    ({"vasopressors": ["milrinone"]}, "vasopressors"),
    ({"scale": "penn"}, "scale")])
def test_api_crs_rejects_impossible_input(api, body, field):
    """Impossible CRS input answers 400 with a field error."""
    response = post(api, CRS_URL, body)
    assert response.status_code == 400
    assert field in api_errors(response)


def test_api_icans(api):
    """POST /api/v1/grading/icans/: CAPD 9 = grade 3."""
    response = post(api, ICANS_URL, {"tool": "CAPD", "capd_score": 9})
    assert response.status_code == 200, response.content
    assert response.json()["grade"] == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"tool": "ICE", "ice_score": 11}, "ice_score"),
    ({"tool": "CAPD", "capd_score": 33}, "capd_score"),
    ({"tool": "CAPD", "ice_score": 5}, "ice_score")])
def test_api_icans_rejects_impossible_input(api, body, field):
    """ICE > 10, CAPD > 32 and a score for the wrong tool answer 400 with a field error."""
    response = post(api, ICANS_URL, body)
    assert response.status_code == 400
    assert field in api_errors(response)


def test_api_lab(api):
    """POST /api/v1/grading/lab/: ANC 1000/mm3 = grade 2 (boundary belongs to the milder grade)."""
    response = post(api, LAB_URL, {"analyte": "anc", "value": 1000, "unit": "/mm3"})
    assert response.status_code == 200, response.content
    assert response.json() | {"rationale": ""} == {"grade": 2, "scale": "CTCAE", "version": "5.0", "rationale": "",
                                                  "ctcae_term": "Neutrophil count decreased", "verbatim_term": None}
    undetermined = post(api, LAB_URL, {"analyte": "anc", "value": 1.8, "unit": "10^9/L"})
    assert undetermined.status_code == 200 and undetermined.json()["grade"] is None


def test_api_lab_rejects_unknown_unit(api):
    """Unknown unit answers 400 with a field error on unit."""
    response = post(api, LAB_URL, {"analyte": "anc", "value": 1.0, "unit": "cells/L"})
    assert response.status_code == 400
    assert "unit" in api_errors(response)


@pytest.mark.parametrize("limit", ["uln", "lln", "baseline"])
def test_api_lab_a_limit_that_rounds_to_zero_answers_400_not_500(api, limit):
    """A reference limit of 1e-10 passes "> 0" but is 0 after the 9-decimal rounding of the unit conversion: it used
    to divide by zero (500). It is refused as a field error."""
    body = {"analyte": "alt", "value": 130, "unit": "U/L", "uln": 40} | {limit: 1e-10}
    if limit == "lln":
        body = {"analyte": "platelets", "value": 120, "unit": "10^9/L", "lln": 1e-10}
    response = post(api, LAB_URL, body)
    assert response.status_code == 400, response.content
    assert limit in api_errors(response)


def test_a_limit_that_rounds_to_zero_is_a_grading_input_error():
    with pytest.raises(GradingInputError) as exc:
        grade_lab("alt", 130, "U/L", uln=1e-10)
    assert exc.value.field == "uln"
    with pytest.raises(GradingInputError) as exc:
        grade_lab("alt", 130, "U/L", uln=40, baseline=1e-12, baseline_abnormal=True)
    assert exc.value.field == "baseline"


@pytest.mark.parametrize("url", [CRS_URL, ICANS_URL, LAB_URL])
def test_api_requires_login(client, db, url):
    """Grading endpoints need an authenticated user: 401 with the token challenge (issue 16; it was 403)."""
    response = post(client, url, {})
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_oxygen_device_vocabulary_is_complete():
    """Every oxygen device in the fixed vocabulary has a grade (none of them raises)."""
    for device in OXYGEN_DEVICES:
        kwargs = {"oxygen_flow_l_min": 2.0} if "cannula" in device else {}
        assert crs(oxygen_device=device, **kwargs) in range(1, 5)


def test_the_astct_rationales_are_english_by_default_and_translated_through_translate():
    """ae.grading is pure Python: a caller passes Django's gettext to get a rationale in the reader's language; the
    default (str) is the English that is stored. The words of the codes are the codes with spaces."""
    from ae.grading import WORDS, grade_crs_astct, grade_icans

    assert all(word == code.replace("_", " ") for code, word in WORDS.items())
    english = grade_crs_astct(temperature_c=39.0, vasopressors=["norepinephrine"], oxygen_device="facemask")
    def marked(message: str) -> str:  # a translation that shows which texts went through it
        return f"[{message}]"

    translated = grade_crs_astct(temperature_c=39.0, vasopressors=["norepinephrine"], oxygen_device="facemask",
                                 translate=marked)
    assert english.rationale == ("Grade 3: fever 39 °C; hypotension requiring a vasopressor (norepinephrine) and "
                                 "hypoxia requiring facemask oxygen.")
    assert translated.grade == english.grade and translated.rationale == (
        "[Grade 3: [fever 39 °C]; [[hypotension requiring a vasopressor ([norepinephrine])] and [hypoxia requiring "
        "[facemask] oxygen]].]")  # the agent's code goes through translate too (ae.bedside_labels.with_agent_names)
    icans = grade_icans(tool="ICE", ice_score=5, consciousness="awakens_to_voice", translate=marked)
    assert icans.rationale == ("[Grade 2 (ICE tool): worst domain [ICE score 5 (3-6)]; [depressed level of "
                               "consciousness: [awakens to voice]].]")
