"""The benchmark categories' names, marked for the translation catalogue (issue 15, item 4).

A benchmark category's ``name`` (``fixtures/benchmark_categories.yaml``, ``reports.models.BenchmarkCategory``) is
pvtrack's label for what the published cohorts report ("Neurotoxicity", "Infusion interrupted for an AE"), not a
CTCAE term. The benchmark stores it in English with each run (``results["cells"][i]["category_name"]``, the flags'
messages) and the exports (CSV, XLSX, CDISC, the text report) and the API write it so; the pages show it in the
reader's language: the ``category_name`` filter (:func:`reports.computed_text.category_name`), the flags' reasons
and the changes between runs rebuilt for the reader, the plots drawn for the reader, the flag notices and the AE
listing's "Benchmark category" filter (``ae.listing.category_choices``, which looks the same messages up).

The rule: a category whose name is exactly a CTCAE v5.0 term (``fixtures/ctcae/ctcae_v5_terms.csv``) keeps NCI's
English, as the terms do (:data:`CTCAE_TERM_NAMES`); every other name is translated (:data:`CATEGORY_NAMES`).
A curator who adds a category adds its name to one of the two lists (a test checks that every category of the
fixture is in exactly one, and that the CTCAE list holds CTCAE terms only) and, when translated, its Polish to the
catalogue. Plain Python, imported by the pure :mod:`reports.cells`: the marker is the pure
:func:`core.i18n_marker.gettext_noop` (``makemessages`` finds it by name).
"""

from __future__ import annotations

from collections.abc import Callable

from core.i18n_marker import gettext_noop

#: The names of the categories that are pvtrack's labels, exactly as the fixture writes them (str, English).
CATEGORY_NAMES: tuple[str, ...] = (
    gettext_noop("Neurotoxicity"),
    gettext_noop("Neutropenia"),
    gettext_noop("Thrombocytopenia"),
    gettext_noop("Hepatotoxicity (ALT/AST increased)"),
    gettext_noop("Infusion interrupted for an AE"),
    gettext_noop("Blinatumomab stopped for an AE"),
)

#: The names of the categories that are exactly a CTCAE v5.0 term: shown in NCI's English in every language.
CTCAE_TERM_NAMES: tuple[str, ...] = ("Cytokine release syndrome", "Seizure", "Anemia", "Febrile neutropenia")


def translated_name(name: str, translate: Callable[[str], str] = str) -> str:
    """A category's stored English ``name`` through ``translate`` (``gettext`` for the reader's language; the
    default ``str`` keeps the English) when it is one of :data:`CATEGORY_NAMES`; any other name (a CTCAE term, a
    renamed category of an older run) as stored."""
    return translate(name) if name in CATEGORY_NAMES else name
