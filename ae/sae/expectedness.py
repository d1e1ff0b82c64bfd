"""Expectedness of a case's reactions against reference safety information (RSI): pure Python, no Django.

ICH E2A II.C: an unexpected adverse drug reaction is one "the nature or severity of which is not consistent with the
applicable product information" (the RSI in force; EU CT-3 guidance §7.2.3.2 and Regulation 536/2014 Art. 2(2)(33),
Annex III §2.1: the RSI in force when the event became known). pvtrack proposes; the reviewer decides and signs
(``ae.services.sae.case_assess``).

A reaction matches an RSI entry by MedDRA LLT code (CTCAE v5.0 terms are MedDRA 20.1 LLTs), else by CTCAE term
(case-insensitive). An entry may bound the severity it covers (``max_grade``); a reaction graded above it is
unexpected ("severity not consistent", ICH E2A II.C). Every reaction listed → "expected"; any reaction not listed
→ "unexpected"; no RSI in force → "undetermined".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Expectedness = Literal["expected", "unexpected", "undetermined"]


@dataclass(frozen=True)
class Listed:
    """One RSI entry: a CTCAE term and/or MedDRA LLT code, with the highest grade it covers (None: any)."""

    ctcae_term: str = ""
    meddra_code: str = ""
    max_grade: int | None = None


@dataclass(frozen=True)
class Observed:
    """One reaction of the case."""

    ctcae_term: str
    meddra_code: str
    grade: int | None


def _match(reaction: Observed, entry: Listed) -> bool:
    if entry.meddra_code and reaction.meddra_code and entry.meddra_code == reaction.meddra_code:
        return True
    return bool(entry.ctcae_term) and entry.ctcae_term.casefold() == reaction.ctcae_term.casefold()


def reaction_expected(reaction: Observed, entries: Sequence[Listed]) -> bool:
    """Whether ``reaction`` is listed, at its grade, in ``entries``."""
    return any(_match(reaction, e) and (e.max_grade is None or reaction.grade is None or reaction.grade <= e.max_grade)
               for e in entries)


def propose(reactions: Sequence[Observed], entries: Sequence[Listed] | None) -> Expectedness:
    """The proposed expectedness of a case (see module docstring); ``entries`` None means no RSI in force.
    A case without reactions is "undetermined"."""
    if entries is None or not reactions:
        return "undetermined"
    return "expected" if all(reaction_expected(r, entries) for r in reactions) else "unexpected"
