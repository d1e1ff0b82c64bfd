"""What changed between two versions of a case (``CaseSnapshot.changes_since_previous``): pure Python.

Compares the JSON of two snapshots and lists each changed value. :func:`change_items` gives them structured
(the path of the value, old, new) for a page to word in its reader's language (``ae.sae.change_words``);
:func:`changes_since` gives the English lines stored in the signed version and written into the reports, e.g.
``"reactions[Cytokine release syndrome (AE 12)].outcome: recovering → recovered"``. Bookkeeping of a version
(its number, type, creation and signature, the change list itself) is not a change of the case.
"""

from __future__ import annotations

from typing import Any

IGNORED = {"version", "report_type", "created_at", "latest_information_at", "signed_by", "signed_at",
           "changes_since_previous"}

#: One step of a changed value's path: a key of a dict (``"outcome"``), or the identity of an item of a list of
#: dicts — ``("reaction", ctcae_term, adverse_event_id)``, ``("drug", characterisation, name)``,
#: ``("causality", source, adverse_event_id)``, or ``("item", position)`` counted from 1.
Step = str | tuple[Any, ...]


def _short(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _flatten(value: Any, path: tuple[Step, ...], out: dict[tuple[Step, ...], Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, (*path, key), out)
    elif isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            _flatten(item, (*path, _identity(item, index)), out)
    else:
        out[path] = list(value) if isinstance(value, tuple) else value


def _identity(item: dict[str, Any], index: int) -> tuple[Any, ...]:
    """A stable identity for a list item: a reaction by its AE, a drug by characterisation and name, else position."""
    if "ctcae_term" in item and "adverse_event_id" in item:
        return ("reaction", item["ctcae_term"], item["adverse_event_id"])
    if "characterisation" in item and "name" in item:
        return ("drug", item["characterisation"], item["name"])
    if "source" in item and "adverse_event_id" in item:
        return ("causality", item["source"], item["adverse_event_id"])
    return ("item", index + 1)


def _step_text(step: Step) -> str:
    if isinstance(step, str):
        return step
    kind, *rest = step
    if kind == "reaction":
        return f"[{rest[0]} (AE {rest[1]})]"
    if kind == "drug":
        return f"[{rest[0]} {rest[1]}]"
    if kind == "causality":
        return f"[{rest[0]}, AE {rest[1]}]"
    return f"[{rest[0]}]"


def where_text(path: tuple[Step, ...]) -> str:
    """The English path of a changed value, e.g. ``reactions[Cytokine release syndrome (AE 3)].outcome``."""
    text = ""
    for step in path:
        part = _step_text(step)
        text += part if part.startswith("[") or not text else f".{part}"
    return text


def change_items(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[tuple[tuple[Step, ...], Any, Any]]:
    """``(path, old, new)`` for every value that differs, sorted by :func:`where_text`; [] when ``previous`` is
    None. A value absent from one side is None there; a list of plain values compares as a whole."""
    if previous is None:
        return []
    old: dict[tuple[Step, ...], Any] = {}
    new: dict[tuple[Step, ...], Any] = {}
    _flatten({k: v for k, v in previous.items() if k not in IGNORED}, (), old)
    _flatten({k: v for k, v in current.items() if k not in IGNORED}, (), new)
    return [(path, old.get(path), new.get(path)) for path in sorted(set(old) | set(new), key=where_text)
            if old.get(path) != new.get(path)]


def changes_since(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Lines "<where>: <old> → <new>" for every value that differs (sorted by where); [] when ``previous`` is None.
    The narrative is long free text: its line says only "narrative: edited"."""
    lines = []
    for path, old, new in change_items(previous, current):
        where = where_text(path)
        lines.append("narrative: edited" if where == "narrative" else f"{where}: {_short(old)} → {_short(new)}")
    return lines
