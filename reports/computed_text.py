"""The texts a run computes, in the reader's language (issue 15, item 4).

The pure modules of ``reports`` write their texts in English into a run's ``results`` (part of what a run
recomputes exactly) from message texts marked with ``gettext_noop`` (``%(name)s`` placeholders). The report shows
such a stored text in the active language by matching it against those message texts: when the stored English is
exactly one of them with some parameters (checked by formatting the English again), the translated message is
formatted with the same parameters, each translated when it is itself a known text (a cycle scope, a
premedication, a nested message); parameters that are data (cohort names, scale codes, numbers) stay as stored.
The cohort tables' reasons to set a figure aside (``set_aside``, free text of the fixtures) are matched against
:data:`reports.cohort_texts.SET_ASIDE_REASONS`, each as a whole. A stored text that matches none of them (a run of
an older method, a cohort reason not yet marked) is shown as stored, in English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.signals import setting_changed
from django.utils.autoreload import file_changed
from django.utils.translation import get_language, gettext, gettext_noop

from core.numbers import reader_numbers
from reports.benchmark import (
    ATTRIBUTIONS,
    COMPARISON_TEXTS,
    DOSING_WARD,
    MODERATORS,
    NO_CYCLE1_FIGURE,
    OWN_COHORT,
    PREMEDICATION_TEXTS,
    PREMEDICATION_WARD,
    REGIMENS,
    SEQUENTIAL_TEXTS,
    STRATA,
    STRATUM_SOURCES,
    TREATMENT_TEXTS,
)
from reports.category_names import translated_name
from reports.cells import CYCLE_SCOPES
from reports.cohort_texts import SET_ASIDE_REASONS
from reports.entry_lag import ENTRY_LAG_TEXTS
from reports.funnel import FUNNEL_TEXTS
from reports.stats import POOL_TEXTS
from reports.trends import TRENDS_TEXTS

#: A parameter's translator: the value in the active language, or None when it is not a value the message prints
#: (then the stored text is not that message).
Translate = Callable[[str], "str | None"]
#: (English message, translators of its parameters by name; a parameter not named is data and stays as stored)
Message = tuple[str, Mapping[str, Translate]]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.cache
def _pattern(message: str) -> re.Pattern[str]:
    parts, seen, at = [], set(), 0
    for m in _PLACEHOLDER.finditer(message):
        parts.append(re.escape(message[at:m.start()].replace("%%", "%")))
        name = m.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        at = m.end()
    parts.append(re.escape(message[at:].replace("%%", "%")))
    return re.compile("".join(parts), re.DOTALL)


#: A parameter that is a number as the run wrote it ("2.25", "0.0336", "100.0%"): shown with the language's separator.
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?%?")


def _number(value: str) -> str:
    """``value`` with the active language's decimal separator when it is a number; other data as stored."""
    return reader_numbers(value) if _NUMBER.fullmatch(value) else value


def _translated(stored: str, messages: Sequence[Message]) -> str | None:
    for message, translators in messages:
        m = _pattern(message).fullmatch(stored)
        if m is None:
            continue
        values = m.groupdict()
        if (message % values if values else message.replace("%%", "%")) != stored:
            continue
        if not values:
            return gettext(message).replace("%%", "%")
        params = {k: translators[k](v) if k in translators else _number(v) for k, v in values.items()}
        if None in params.values():
            continue
        return gettext(message) % params
    return None


def reader_text(stored: Any, messages: Sequence[Message]) -> Any:
    """``stored`` (an English text of a run) in the active language: the first of ``messages`` it is exactly
    whose parameters its translators know, translated with them; else ``stored`` unchanged (also for anything
    that is not a non-empty str)."""
    if not isinstance(stored, str) or not stored:
        return stored
    translated = _translated(stored, messages)
    return stored if translated is None else translated


#: Texts remembered per function by :func:`_per_language` before its memo is emptied (a report shows ≈ 200 stored
#: texts, most of them repeated from cell to cell: the same cohorts are left out for the same reasons).
MEMO_SIZE = 4096
_MEMOS: list[dict[tuple[str | None, str], Any]] = []


def _per_language(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    """``function`` of a stored text, remembered per active language and text: its answer depends on nothing else
    (the message catalogue is read once per process, as Django's own translations are; a change of the translation
    settings, in tests, or of a catalogue under the development server empties the memo). The report calls these
    filters once per cell and cohort, on texts that repeat (issue 12: the matching cost 2–4 ms a page on a
    200-patient ward, ≈ 3 % of it)."""
    memo: dict[tuple[str | None, str], Any] = {}
    _MEMOS.append(memo)

    @functools.wraps(function)
    def remembered(stored: Any) -> Any:
        if not isinstance(stored, str):
            return function(stored)
        key = (get_language(), stored)
        try:
            return memo[key]
        except KeyError:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            answer = memo[key] = function(stored)
            return answer

    return remembered


def forget_remembered_texts() -> None:
    """Empty every :func:`_per_language` memo."""
    for memo in _MEMOS:
        memo.clear()


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"):
        forget_remembered_texts()


def _catalogue_changed(*, file_path: Any, **kwargs: Any) -> None:
    """The development server's autoreloader: a recompiled catalogue (``.mo``) is read again without a restart
    (``django.utils.translation.reloader``), so the memo goes too (returns None: the reload decision is Django's)."""
    if str(file_path).endswith(".mo"):
        forget_remembered_texts()


setting_changed.connect(_forget, dispatch_uid="reports.computed_text._forget")
file_changed.connect(_catalogue_changed, dispatch_uid="reports.computed_text._catalogue_changed")


def one_of(texts: Iterable[str]) -> Translate:
    """A parameter translator of the values ``texts`` (marked for the catalogue): the value translated."""
    known = frozenset(texts)
    return lambda value: gettext(value) if value in known else None


def words(texts: Mapping[str, str]) -> Translate:
    """A parameter translator of the values (codes, or codes' words as the English prints them) ``texts`` names:
    the translation of the text it gives them, or the value as it is when that has none (so English shows what it
    stored)."""
    def translate(value: str) -> str | None:
        if value not in texts:
            return None
        translated = gettext(texts[value])
        return value if translated == texts[value] else translated
    return translate


def _fixed(*texts: str) -> list[Message]:
    return [(t, {}) for t in texts]


_SCOPE = one_of(CYCLE_SCOPES.values())
_ATTRIBUTION = one_of(ATTRIBUTIONS.values())
#: A cohort figure's cycle scope as the "reported for …" reason prints it (the code, "_" as " ").
FIGURE_SCOPE_WORDS = {"all": gettext_noop("all cycles"), "first": gettext_noop("cycle 1"),
                      "cycle 2 plus": gettext_noop("cycles 2 and later")}
#: The schedule codes and the population words of the comparability reasons and labels.
SCHEDULE_WORDS = {"standard_28d": gettext_noop("standard (28-day infusion)"),
                  "short_14d": gettext_noop("short course (14-day infusion)"),
                  "not stated": gettext_noop("not stated"), "mixed": gettext_noop("mixed")}
POPULATION_WORDS = {"relapsed refractory": gettext_noop("relapsed or refractory"),
                    "chemo ineligible cr": gettext_noop("in remission, ineligible for chemotherapy"),
                    "not stated": gettext_noop("not stated"), "mixed": gettext_noop("mixed")}
_UNIT = words({"events": gettext_noop("events")})
_SCHEDULE = words(SCHEDULE_WORDS)
_POPULATION = words(POPULATION_WORDS)
_SHARE: list[Message] = [(COMPARISON_TEXTS["ward_share"], {})]
_PREMEDICATION: list[Message] = [(PREMEDICATION_TEXTS["some"], {})] + _fixed(
    *(v for k, v in PREMEDICATION_TEXTS.items() if k != "some"))
_REGIMEN = one_of(REGIMENS.values())


def _regimen(value: str) -> str | None:
    """``reports.benchmark.dosing_text``: a regimen, with its split when mixed ("mixed regimens (step-up 1,
    flat 22)"; the split as stored)."""
    head, sep, split = value.partition(" (")
    if sep and head in REGIMENS.values():
        return gettext(head) + " (" + split
    return _REGIMEN(value)


def _nested(messages: Sequence[Message]) -> Translate:
    """A parameter that is itself one of ``messages``."""
    return lambda value: _translated(value, messages)


#: A cohort figure's reason to be left out of a cell (``results["cells"][i]["excluded"][j]["reason"]``).
EXCLUSION_REASONS: list[Message] = [
    *_fixed(OWN_COHORT, COMPARISON_TEXTS["no_denominator"], COMPARISON_TEXTS["same_cohort"]),
    *_fixed(*SET_ASIDE_REASONS),  # the cohort tables' own reasons (``set_aside``), each as the fixture writes it
    (COMPARISON_TEXTS["unit"], {"unit": _UNIT}),
    (COMPARISON_TEXTS["stratum"], {}),
    (COMPARISON_TEXTS["scope"], {"scope": words(FIGURE_SCOPE_WORDS), "ward_scope": _SCOPE}),
    (COMPARISON_TEXTS["schedule"], {"schedule": _SCHEDULE, "ward_schedule": _SCHEDULE}),
    (COMPARISON_TEXTS["population"], {"population": _POPULATION, "ward_population": _POPULATION}),
    (COMPARISON_TEXTS["scale"], {}),
    (COMPARISON_TEXTS["premedication"], {"cohort": _nested(_PREMEDICATION), "ward": one_of(PREMEDICATION_WARD.values()),
                                         "share": _nested(_SHARE)}),
    (COMPARISON_TEXTS["attribution"], {"attribution": _ATTRIBUTION, "basis": _ATTRIBUTION}),
]
#: What a kept cohort figure is only partly comparable on (``results["cells"][i]["cohorts"][j]["labels"]``).
COHORT_LABELS: list[Message] = [
    (COMPARISON_TEXTS["scale"], {}),  # with SCALE_MISMATCH "label"
    (COMPARISON_TEXTS["premedication"], EXCLUSION_REASONS[-2][1]),  # with PREMEDICATION_MISMATCH "label"
    (COMPARISON_TEXTS["regimen_label"], {"regimen": _regimen, "ward": one_of(DOSING_WARD.values())}),
    (COMPARISON_TEXTS["schedule_label"], {"schedule": _SCHEDULE}),
    (COMPARISON_TEXTS["population_label"], {"population": _POPULATION}),
    (COMPARISON_TEXTS["version_not_stated"], {}),
    *_fixed(COMPARISON_TEXTS["scale_not_stated"], ATTRIBUTIONS["not_stated"]),
    *_PREMEDICATION,
]
#: A cell's note when it has no benchmark to compare with (``results["cells"][i]["note"]``).
CELL_NOTES: list[Message] = _fixed(NO_CYCLE1_FIGURE, COMPARISON_TEXTS["note_demo"], COMPARISON_TEXTS["note_none"],
                                   COMPARISON_TEXTS["note_no_patients"])


def category_name(stored: Any) -> str:
    """A benchmark category's stored English name in the active language when it is one of
    :data:`reports.category_names.CATEGORY_NAMES`; a name that is a CTCAE term, or any other, as stored."""
    return translated_name(str(stored or ""), gettext)


@_per_language
def exclusion_reason(stored: str) -> str:
    """A cohort's stored reason to be left out of a cell, in the active language (else as stored)."""
    return reader_text(stored, EXCLUSION_REASONS)


def cohort_labels(stored: list[str] | None) -> list[str]:
    """A kept cohort's stored labels, each in the active language (else as stored)."""
    return [_cohort_label(label) for label in stored or []]


@_per_language
def _cohort_label(stored: str) -> str:
    return reader_text(stored, COHORT_LABELS)


@_per_language
def cell_note(stored: str) -> str:
    """A cell's stored note (no benchmark), in the active language (else as stored)."""
    return reader_text(stored, _CELL_NOTES_AND_POOL_REASONS)


#: A CUSUM chart's note (``results["monitoring"]["cusum"][i]["note"]``, ``reports.trends``).
CUSUM_NOTES: list[Message] = [
    *_fixed(TRENDS_TEXTS["no_patients"], TRENDS_TEXTS["degenerate"]),
    (TRENDS_TEXTS["signal"], {}), (TRENDS_TEXTS["no_signal"], {}),
]
_LAG_REASONS: list[Message] = [(ENTRY_LAG_TEXTS["median"], {}), (ENTRY_LAG_TEXTS["p90"], {})]


def _lag_reasons(value: str) -> str | None:
    parts = [_translated(part, _LAG_REASONS) for part in value.split("; ")]
    return None if None in parts else "; ".join(p or "" for p in parts)


#: The ward's entry-lag message (``results["monitoring"]["entry_lag"]["message"]``, ``reports.entry_lag``).
ENTRY_LAG_MESSAGES: list[Message] = [
    *_fixed(ENTRY_LAG_TEXTS["none"], TRENDS_TEXTS["demo_lag"]),
    (ENTRY_LAG_TEXTS["few"], {}), (ENTRY_LAG_TEXTS["on_time"], {}),
    (ENTRY_LAG_TEXTS["late"], {"reasons": _lag_reasons}),
]


@_per_language
def cusum_note(stored: str) -> str:
    """A CUSUM chart's stored note in the active language (else as stored)."""
    return reader_text(stored, CUSUM_NOTES)


@_per_language
def entry_lag_message(stored: str) -> str:
    """The stored entry-lag message in the active language (else as stored)."""
    return reader_text(stored, ENTRY_LAG_MESSAGES)


#: Why the funnel against the network's other wards gives no flags (``results["network"][i]["note"]``,
#: ``reports.funnel``).
FUNNEL_NOTES: list[Message] = [(text, {}) for text in FUNNEL_TEXTS.values()]


@_per_language
def funnel_note(stored: str) -> str:
    """The funnel's stored note in the active language (else as stored)."""
    return reader_text(stored, FUNNEL_NOTES)


def moderator_labels(stored: list[str] | None) -> list[str]:
    """A meta-regression's stored ``chosen_labels`` (``reports.benchmark.MODERATORS``), each in the active
    language (another label as stored)."""
    return [gettext(label) if label in MODERATORS.values() else label for label in stored or []]


#: The sequential boundary's note (``results["cells"][i]["sequential"]["note"]``, ``reports.benchmark``).
SEQUENTIAL_NOTES: list[Message] = [(text, {}) for text in SEQUENTIAL_TEXTS.values()]


@_per_language
def sequential_note(stored: str) -> str:
    """The sequential boundary's stored note in the active language (else as stored)."""
    return reader_text(stored, SEQUENTIAL_NOTES)


_SPREAD: list[Message] = [(POOL_TEXTS["spread"], {})]
_WHY: list[Message] = [(POOL_TEXTS[key], {}) for key in ("few_cohorts", "few_cohorts_one", "few_events",
                                                         "few_events_one", "no_convergence")]
#: Why a benchmark is weak or no usable benchmark (``results["cells"][i]["pooled"]``: ``reason`` when weak,
#: ``unusable``; ``reports.stats``).
POOL_REASONS: list[Message] = [
    *[(POOL_TEXTS[key], {"spread": _nested(_SPREAD)}) for key in ("at_bound", "flat", "span")],
    (POOL_TEXTS["weak"], {"why": _nested(_WHY)}), (POOL_TEXTS["common_effect"], {}),
]
_CELL_NOTES_AND_POOL_REASONS = [*CELL_NOTES, *POOL_REASONS]


@_per_language
def pool_reason(stored: str) -> str:
    """A pooled benchmark's stored weak or unusable reason in the active language (else as stored)."""
    return reader_text(stored, POOL_REASONS)


@_per_language
def unusable_detail(stored: str) -> str:
    """An unusable benchmark's stored reason in the active language without its leading "no usable benchmark: "
    (the table says that in bold before it)."""
    shown = pool_reason(stored)
    for prefix in (gettext("no usable benchmark") + ": ", "no usable benchmark: "):
        shown = shown.removeprefix(prefix)
    return shown


_NOT_MATCHED = words({"mixed": SCHEDULE_WORDS["mixed"],
                      TREATMENT_TEXTS["not_recorded"]: TREATMENT_TEXTS["not_recorded"]})
#: The ward's side of the "Matched:" line's premedication and regimen labels (``treatment_definitions``).
_TREATMENT_HEADS: dict[str, list[Message]] = {
    "premedication": [(TREATMENT_TEXTS["ward"], {"value": one_of(PREMEDICATION_WARD.values()),
                                                 "share": _nested(_SHARE)}),
                      (TREATMENT_TEXTS["not_matched"], {"value": _NOT_MATCHED})],
    "regimen": [(TREATMENT_TEXTS["ward"], {"value": one_of(DOSING_WARD.values()), "share": _nested(_SHARE)}),
                (TREATMENT_TEXTS["not_matched"], {"value": _NOT_MATCHED})],
}
_COHORT_TREATMENT: dict[str, Translate] = {"premedication": _nested(_PREMEDICATION), "regimen": _regimen}


def treatment_label(stored: str, key: str, cohorts: list[dict[str, Any]] | None) -> str:
    """A cell's stored premedication (``key`` "premedication") or regimen ("regimen") label of its "Matched:" line in
    the active language, rebuilt from the cell's ``cohorts`` (their short names, as data, and their stored
    premedication and regimen texts); the stored English when the English rebuild is not exactly it."""
    items = [(str(co.get("short_name", "")), str(co[key])) for co in cohorts or [] if key in co]
    listed = ", ".join(f"{name} {value}" for name, value in items)
    head = stored
    if items:
        suffix = TREATMENT_TEXTS["cohorts"] % {"label": "", "cohorts": listed}
        if not stored.endswith(suffix):
            return stored
        head = stored.removesuffix(suffix)
    translated_head = _translated(head, _TREATMENT_HEADS[key])
    values = [_COHORT_TREATMENT[key](value) for _, value in items]
    if translated_head is None or None in values:
        return stored
    if not items:
        return translated_head
    return gettext(TREATMENT_TEXTS["cohorts"]) % {"label": translated_head, "cohorts": ", ".join(
        f"{name} {value}" for (name, _), value in zip(items, values, strict=True))}


#: The monitoring's flag codes (``reports.trends``: a CUSUM chart's "flag"; ``reports.entry_lag``: the entry lag's).
MONITORING_FLAGS = {"CUSUM SIGNAL": gettext_noop("CUSUM signal"), "LATE ENTRY": gettext_noop("late entry")}


def monitoring_flag(code: str | None) -> str | None:
    """A monitoring flag code ("CUSUM SIGNAL") in the active language's words ("CUSUM signal", "sygnał CUSUM"; no
    raw codes on pages, issue 17 item 5); an unknown code as it is."""
    return gettext(MONITORING_FLAGS[code]) if code in MONITORING_FLAGS else code


#: A case-mix stratum's rate source (``reports.benchmark.case_mix``): the overall benchmark or a stratum's, from the
#: cohorts named (data).
_STRATUM = words(STRATA | {v: v for v in STRATA.values()})
STRATUM_SOURCE_TEXTS: list[Message] = [
    *_fixed(STRATUM_SOURCES["overall"]),
    (STRATUM_SOURCES["stratum_weak"], {"stratum": _STRATUM}),
    (STRATUM_SOURCES["stratum"], {"stratum": _STRATUM}),
]


def stratum_label(code: str | None) -> str:
    """A case-mix stratum (``"blasts_ge5"``…) in words in the active language; another value as it is."""
    return gettext(STRATA[code]) if code in STRATA else str(code or "")


@_per_language
def stratum_source(stored: str) -> str:
    """Where a stratum's stored benchmark rate comes from, in the active language (else as stored)."""
    return reader_text(stored, STRATUM_SOURCE_TEXTS)


def _word(texts: Mapping[str, str], code: str | None) -> str:
    if not code:
        return ""
    for key in (code, code.replace("_", " ")):
        if key in texts:
            return gettext(texts[key])
    return code


def schedule_word(code: str | None) -> str:
    """A cohort's or ward's schedule code (``"standard_28d"``, ``"not_stated"``…) in words in the active language;
    an unknown code as it is."""
    return _word(SCHEDULE_WORDS, code)


def population_word(code: str | None) -> str:
    """A cohort's or ward's population code (``"relapsed_refractory"``…) in words in the active language; an unknown
    code as it is."""
    return _word(POPULATION_WORDS, code)


def scale_word(code: str | None) -> str:
    """A cohort's grading-scale code: "not stated" in words in the active language; a scale's code (data, like the
    CTCAE terms) as it is."""
    return _word({"not stated": SCHEDULE_WORDS["not stated"]}, code)
