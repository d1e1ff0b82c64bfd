"""Analyte names for people, in the active language (issue 15: the interface in the ward's language).

:mod:`ae.lab_units` is pure Python and keeps the English names, which the API (``GET /api/v1/grading/analytes/``),
the grading rationales, the audit trail and the CDISC exports use; the pages and forms show these instead. CTCAE
terms and grade texts (including the clinical criteria of ``ae.grading.LAB_CRITERIA_LABELS``) stay in NCI's English.
``tests/ae/test_analyte_labels.py`` keeps the two lists in step: same analytes, same English text.
The message context "analyte" is also :data:`ae.lab_units.ANALYTE_CONTEXT`: the lab units' messages look these
translations up through their ``translate`` (:func:`ae.lab_units.analyte_name`; kept in step by
``tests/ae/test_locale_fever_and_lab_units.py``).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

ANALYTE_LABELS: dict[str, Promise] = {
    "anc": pgettext_lazy("analyte", "ANC"),
    "platelets": pgettext_lazy("analyte", "Platelet count"),
    "wbc": pgettext_lazy("analyte", "WBC"),
    "lymphocytes": pgettext_lazy("analyte", "Lymphocyte count"),
    "hemoglobin": pgettext_lazy("analyte", "Hb"),
    "potassium": pgettext_lazy("analyte", "Potassium"),
    "alt": pgettext_lazy("analyte", "ALT"),
    "ast": pgettext_lazy("analyte", "AST"),
    "bilirubin": pgettext_lazy("analyte", "Total bilirubin"),
    "creatinine": pgettext_lazy("analyte", "Creatinine"),
    "alp": pgettext_lazy("analyte", "ALP"),
    "ggt": pgettext_lazy("analyte", "GGT"),
    "lipase": pgettext_lazy("analyte", "Lipase"),
    "amylase": pgettext_lazy("analyte", "Amylase"),
    "albumin": pgettext_lazy("analyte", "Albumin"),
    "fibrinogen": pgettext_lazy("analyte", "Fibrinogen"),
    "sodium": pgettext_lazy("analyte", "Sodium"),
    "calcium": pgettext_lazy("analyte", "Calcium (total)"),
    "calcium_ionized": pgettext_lazy("analyte", "Ionized calcium"),
    "magnesium": pgettext_lazy("analyte", "Magnesium"),
    "phosphate": pgettext_lazy("analyte", "Phosphate"),
    "glucose": pgettext_lazy("analyte", "Glucose"),
    "uric_acid": pgettext_lazy("analyte", "Uric acid"),
    "igg": pgettext_lazy("analyte", "IgG"),
}


def analyte_choices() -> list[tuple[str, Promise]]:
    """(code, name in the active language) of every analyte, in ``ae.lab_units.ANALYTES`` order."""
    from ae.lab_units import ANALYTES

    return [(code, ANALYTE_LABELS[code]) for code in ANALYTES]
