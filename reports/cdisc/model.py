"""The in-memory shape of a CDISC dataset, independent of the file format (pure Python).

A :class:`Dataset` is a name (``AE``, ``ADAE``), a label, its standard, its variables in order and its rows (one
``dict`` per record, keyed by variable name). Values: ``str`` for character variables (``""`` when empty, as SAS
stores a missing character value), ``int``/``float`` or ``None`` for numeric variables, ``datetime.date`` or
``None`` for ADaM numeric dates (``*DT``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

Value = str | int | float | datetime.date | None
VarType = Literal["text", "integer", "float", "date"]


@dataclass(frozen=True)
class Variable:
    """One variable: CDISC name and label, type, where its value comes from (``source``: the pvtrack field or the
    derivation with its primary source, e.g. "admiral derive_vars_dy()"), and — for a variable pvtrack never fills
    — ``empty_reason``."""

    name: str
    label: str
    type: VarType = "text"
    source: str = ""
    empty_reason: str = ""
    display_format: str = ""


@dataclass
class Dataset:
    """One dataset: ``standard`` is "SDTMIG 3.4" or "ADaMIG 1.3"; ``keys`` the natural key variables in order;
    ``notes`` what a reader must know about this export (e.g. the MedDRA release used, or that none was)."""

    name: str
    label: str
    standard: str
    variables: tuple[Variable, ...]
    rows: list[dict[str, Value]] = field(default_factory=list)
    keys: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def column(self, name: str) -> list[Value]:
        return [row.get(name) for row in self.rows]


def study_day(date: datetime.date | None, reference: datetime.date | None) -> int | None:
    """Study day of ``date`` relative to ``reference`` (first dose): ``date - reference + 1`` on or after it,
    ``date - reference`` before it — there is no day 0 (SDTMIG v3.4 §4.4.4 "Use of the Study Day Variables";
    admiral ``derive_vars_dy()``). None when either date is missing."""
    if date is None or reference is None:
        return None
    delta = (date - reference).days
    return delta + 1 if delta >= 0 else delta


def yn(flag: bool) -> str:
    """CDISC NY codelist value: "Y" or "N"."""
    return "Y" if flag else "N"
