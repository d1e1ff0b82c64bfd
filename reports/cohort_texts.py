"""The cohort tables' reasons to set a figure aside, marked for the translation catalogue (issue 15, item 4).

A figure of ``fixtures/cohorts/*.yaml`` may carry ``set_aside``: free text saying why it is not comparable with a
ward count of its category (e.g. it counts seizure-driven discontinuations only, a lower bound). The benchmark
stores it as the cohort's reason to be left out of the cell (``results["cells"][i]["excluded"][j]["reason"]``,
``reports.benchmark.select_figures``), in English, as the fixture says it. The report and plots pages show it with
the ``exclusion_reason`` filter (:mod:`reports.computed_text`): a stored reason that is exactly one of
:data:`SET_ASIDE_REASONS` is shown translated, any other as stored.

A curator who writes a new reason adds it here (a test checks every reason of the fixtures is listed) and its
Polish to the catalogue. Plain Python: the marker is :func:`reports.cells.gettext_noop` (``makemessages`` finds it
by name).
"""

from __future__ import annotations

from core.i18n_marker import gettext_noop

#: Every ``set_aside`` text of the cohort fixtures, exactly as written there (str, English).
SET_ASIDE_REASONS: tuple[str, ...] = (
    gettext_noop("counts interruptions for neurotoxicity only, a lower bound of interruptions for any AE"),
    gettext_noop("counts interruptions for grade 2 seizures only, a lower bound of interruptions for any AE"),
    gettext_noop("counts discontinuations for neurologic events only, a lower bound of discontinuations for any AE"),
    gettext_noop("counts discontinuations for generalized seizures only, a lower bound of discontinuations for any "
                 "AE"),
)
