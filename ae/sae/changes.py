"""What changed between two versions of a case (``CaseSnapshot.changes_since_previous``): pure Python.

Compares the JSON of two snapshots and lists each changed value as one human-readable line, e.g.
``"Reaction Cytokine release syndrome (AE 12): outcome recovering → recovered"``. Bookkeeping of a version (its
number, type, creation and signature, the change list itself) is not a change of the case.
"""

from __future__ import annotations

from typing import Any

IGNORED = {"version", "report_type", "created_at", "latest_information_at", "signed_by", "signed_at",
           "changes_since_previous"}


def _short(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{_key(item, index)}]", out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def _key(item: dict[str, Any], index: int) -> str:
    """A stable name for a list item: a reaction by its AE, a drug by characterisation and name, else position."""
    if "ctcae_term" in item and "adverse_event_id" in item:
        return f"{item['ctcae_term']} (AE {item['adverse_event_id']})"
    if "characterisation" in item and "name" in item:
        return f"{item['characterisation']} {item['name']}"
    if "source" in item and "adverse_event_id" in item:
        return f"{item['source']}, AE {item['adverse_event_id']}"
    return str(index + 1)


def changes_since(previous: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Lines "<where>: <old> → <new>" for every value that differs (sorted by where); [] when ``previous`` is None."""
    if previous is None:
        return []
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    _flatten({k: v for k, v in previous.items() if k not in IGNORED}, "", old)
    _flatten({k: v for k, v in current.items() if k not in IGNORED}, "", new)
    lines = []
    for where in sorted(set(old) | set(new)):
        if old.get(where) != new.get(where):
            if where == "narrative":
                lines.append("narrative: edited")
                continue
            lines.append(f"{where}: {_short(old.get(where))} → {_short(new.get(where))}")
    return lines
