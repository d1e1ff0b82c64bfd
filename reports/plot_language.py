"""The language a benchmark plot is drawn in (issue 15, item 4; docs/usability.md, "Language and formats").

The forest and funnel plots of a cell (:mod:`reports.plots`), the network funnel and the CUSUM chart
(:mod:`reports.network_plots`) write their words — axis labels, titles, legends, the wards' labels, the SVG
``<title>`` and aria-label — in the reader's language, and a number written as text (the CUSUM threshold, the
tick labels of an axis with decimals) with the language's decimal separator. Each language's plot is drawn and
stored under a key of its own (:func:`reports.plots.plot_key`, a network plot's payload names its language).

English is the plots' own language (their words are the English message ids): an English plot is drawn without a
catalogue, exactly as before languages, so its bytes and its key are unchanged. The exports (the XLSX export's
PNGs) stay English.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils import formats, translation
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter

#: The plots' own language: their words are the English message ids, drawn as they are.
ENGLISH = "en-gb"


def plot_language(language: str | None) -> str:
    """The language a plot is drawn in for a reader of Django language code ``language`` (e.g.
    ``translation.get_language()``): a code of ``settings.LANGUAGES`` ("pl"), or :data:`ENGLISH` for None, any
    English variant and a language the installation does not offer."""
    if not language:
        return ENGLISH
    offered = [code for code, _name in settings.LANGUAGES]
    for code in (language.lower(), language.lower().split("-")[0]):
        if code in offered and not code.startswith("en"):
            return code
    return ENGLISH


def reader_language() -> str:
    """:func:`plot_language` of the active language (the request's reader)."""
    return plot_language(translation.get_language())


def plot_languages(first: str | None = None) -> list[str]:
    """Every language a plot may be drawn in (:func:`plot_language` of ``settings.LANGUAGES``), ``first`` (a plot
    language) first: the order in which a plot's URL key is matched (the reader's language first, so an English
    request costs what it did)."""
    out = [first] if first else []
    for code, _name in settings.LANGUAGES:
        language = plot_language(code)
        if language not in out:
            out.append(language)
    return out


def translator(language: str) -> Callable[[str], str]:
    """A message (an English id marked with ``gettext_noop``) → its text in plot language ``language``; the
    identity for :data:`ENGLISH`."""
    if language == ENGLISH:
        return str

    def translate(message: str) -> str:
        with translation.override(language):
            return translation.gettext(message)

    return translate


def decimal_separator(language: str) -> str:
    """The decimal separator of plot language ``language`` ("." in English, "," in Polish; Django's formats)."""
    return "." if language == ENGLISH else str(formats.get_format("DECIMAL_SEPARATOR", lang=language))


class _DecimalFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with another decimal separator (not the process's C locale: deterministic)."""

    def __init__(self, decimal: str) -> None:
        super().__init__()
        self._decimal = decimal

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", self._decimal)


def localise_ticks(ax: Axes, decimal: str) -> None:
    """Write the numeric tick labels of ``ax`` with ``decimal`` as the separator (nothing changes for "."; tick labels
    set as text, like the forest plot's cohorts, are left alone)."""
    if decimal == ".":
        return
    for axis in (ax.xaxis, ax.yaxis):
        if type(axis.get_major_formatter()) is ScalarFormatter:
            axis.set_major_formatter(_DecimalFormatter(decimal))


def decimal_text(value: float, digits: int, decimal: str) -> str:
    """``value`` with ``digits`` decimals and ``decimal`` as the separator ("4.12" / "4,12")."""
    return f"{value:.{digits}f}".replace(".", decimal)
