"""A benchmark cell's "Matched:" line (what the comparison matched on) in the reader's language (issue 15, item 4).

The run stores the cell's definitions in English (``results["cells"][i]["definitions"]``, built by
``reports.benchmark``: part of what a run recomputes exactly). The line is rebuilt from their structured values:
the scale-free wording and the attribution basis (``reports.benchmark.ATTRIBUTIONS`` and its "no cohort states
it" note) are translated when the stored English label is exactly what those values give; otherwise, and for the
scale family names (CTCAE, ASTCT/Lee), the ward's CTCAE terms (NCI's English) and the premedication and regimen
labels (free text naming cohorts), the stored English is shown as it is. A ward "term" that is an action taken with
the drug (AEACN code) is shown by the AE form's words for it, the code beside it (:func:`ward_term_words`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from ae.models import AdverseEvent
from reports.benchmark import ACTION_TERM_PREFIX, ATTRIBUTION_UNSTATED_NOTE, ATTRIBUTIONS, SCALE_FREE_LABEL
from reports.computed_text import treatment_label


def ward_term_words(term: str) -> str:
    """A ward term of a cell's definitions as the reader reads it: a CTCAE term as it is (NCI's English); an action
    taken ("action taken: DRUG WITHDRAWN", AEACN) by the AE form's words, its CDISC code beside it: "action taken:
    Blinatumomab permanently stopped (DRUG WITHDRAWN)" (active language); an unknown code as stored."""
    code = term.removeprefix(ACTION_TERM_PREFIX)
    if code == term or code not in AdverseEvent.Action.values:
        return term
    return gettext("action taken: %(action)s (%(code)s)") % {"action": AdverseEvent.Action(code).label, "code": code}


def _attribution(d: Mapping[str, Any]) -> str:
    label, english = str(d.get("attribution_label") or ""), ATTRIBUTIONS.get(d.get("attribution") or "")
    if english is None:
        return label
    if label == english:
        return gettext(english)
    if label == english + ATTRIBUTION_UNSTATED_NOTE:
        return gettext(english) + gettext(ATTRIBUTION_UNSTATED_NOTE)
    return label


def matched_line(d: Mapping[str, Any] | None, cohorts: list[dict[str, Any]] | None = None) -> str:
    """The "Matched: … scale family; …; ward terms …." line of a cell's ``definitions`` ``d`` in the active
    language ("" for none); the premedication and regimen labels rebuilt with the cell's ``cohorts``
    (``reports.computed_text.treatment_label``)."""
    if not d:
        return ""
    scale = str(d.get("scale_family_label") or "")
    if d.get("scale_family") is None and scale == SCALE_FREE_LABEL:
        scale = gettext(SCALE_FREE_LABEL)
    terms = ", ".join(map(ward_term_words, d.get("terms") or [])) or gettext("none")
    line = gettext("Matched: %(scale)s scale family; %(attribution)s; ward terms %(terms)s") % {
        "scale": scale, "attribution": _attribution(d), "terms": terms}
    if d.get("terms_left_out"):
        line += gettext(" (left out: %(terms)s)") % {"terms": ", ".join(d["terms_left_out"])}
    if d.get("premedication_label"):
        line += gettext("; premedication %(premedication)s; regimen %(regimen)s") % {
            "premedication": treatment_label(d["premedication_label"], "premedication", cohorts),
            "regimen": treatment_label(d.get("regimen_label") or "", "regimen", cohorts)}
    return line + "."
