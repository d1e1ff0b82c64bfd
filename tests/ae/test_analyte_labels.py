"""Analyte names in the active language (ae.analyte_labels) stay in step with ae.lab_units, and the lab pages show
them in Polish while the API keeps NCI's/our English."""

from __future__ import annotations

from django.utils import translation

from ae import lab_units
from ae.analyte_labels import ANALYTE_LABELS, analyte_choices
from ae.models import LabResult, ReferenceRange


def test_same_analytes_and_english_names_as_lab_units():
    assert list(ANALYTE_LABELS) == list(lab_units.ANALYTES)
    with translation.override("en"):
        assert {code: str(label) for code, label in ANALYTE_LABELS.items()} == {
            code: a.label for code, a in lab_units.ANALYTES.items()}


def test_every_analyte_has_a_polish_name_or_is_an_abbreviation():
    """Names that are words are translated; laboratory abbreviations (ANC, WBC, Hb, ALT, AST, ALP, GGT, IgG) are what
    Polish laboratories print too."""
    abbreviations = {"anc", "wbc", "hemoglobin", "alt", "ast", "alp", "ggt", "igg"}
    with translation.override("pl"):
        polish = {code: str(label) for code, label in ANALYTE_LABELS.items()}
    untranslated = {code for code, text in polish.items() if text == lab_units.ANALYTES[code].label}
    assert untranslated == abbreviations
    assert polish["platelets"] == "Liczba płytek krwi" and polish["potassium"] == "Potas"


def test_model_choices_follow_the_active_language():
    with translation.override("pl"):
        assert LabResult(analyte="bilirubin").get_analyte_display() == "Bilirubina całkowita"
        assert ReferenceRange(analyte="calcium_ionized").get_analyte_display() == "Wapń zjonizowany"
        assert dict(analyte_choices())["uric_acid"] == "Kwas moczowy"
    with translation.override("en"):
        assert LabResult(analyte="bilirubin").get_analyte_display() == "Total bilirubin"
