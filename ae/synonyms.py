"""Words ward staff type for CTCAE v5.0 terms: loading the synonym list, resolving a typed word, searching.

The list is reference data (``fixtures/ctcae/synonyms.csv``, documented in ``fixtures/ctcae/README.md``):
one row per synonym and CTCAE term; a synonym may map to several terms.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, Length

from ae.models import CTCAESynonym, CTCAETerm

SYNONYMS_CSV = Path(settings.BASE_DIR) / "fixtures" / "ctcae" / "synonyms.csv"
SYNONYM_COLUMNS = ("synonym", "ctcae_term", "source", "note")

#: Match ranks of the term search, best first.
EXACT, PREFIX, SUBSTRING, SOC, ALL_WORDS = 0, 1, 2, 3, 4
_NO_MATCH = 99
_MAX_MEDDRA_DIGITS = 9  # MedDRA codes have 8 digits; longer numbers cannot be one (and overflow the column)


@transaction.atomic
def ctcae_synonyms_load(path: Path = SYNONYMS_CSV) -> int:
    """Make the stored synonyms exactly those of the CSV (create, update note/source/case, delete the rest).

    Returns the number of rows (synonym→term pairs). Idempotent; load the CTCAE catalogue first. Raises
    ValueError, and stores nothing, if a row names a term that is not in the catalogue, repeats a
    synonym→term pair (in any case), has an empty or padded synonym, or uses a CTCAE term name as a synonym.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != SYNONYM_COLUMNS:
            raise ValueError(f"{path.name}: columns must be {', '.join(SYNONYM_COLUMNS)}")
        rows = list(reader)
    terms = {t.term: t for t in CTCAETerm.objects.all()}
    names = {name.casefold() for name in terms}
    wanted: dict[tuple[str, int], dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        synonym, term_name = row["synonym"], row["ctcae_term"]
        if not synonym.strip() or synonym != synonym.strip():
            raise ValueError(f"{path.name} line {line}: empty or padded synonym {synonym!r}")
        if term_name not in terms:
            raise ValueError(f"{path.name} line {line}: {term_name!r} is not a CTCAE v5.0 term")
        if synonym.casefold() in names:
            raise ValueError(f"{path.name} line {line}: {synonym!r} is a CTCAE term name, not a synonym")
        key = (synonym.upper(), terms[term_name].pk)
        if key in wanted:
            raise ValueError(f"{path.name} line {line}: {synonym!r} → {term_name!r} is listed twice")
        wanted[key] = {"synonym": synonym, "source": row["source"].strip(), "note": row["note"].strip()}
    stored = {(s.synonym.upper(), s.term_id): s for s in CTCAESynonym.objects.all()}
    CTCAESynonym.objects.filter(pk__in=[s.pk for key, s in stored.items() if key not in wanted]).delete()
    changed = []
    for key, fields in wanted.items():
        if (s := stored.get(key)) is not None and any(getattr(s, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(s, k, v)
            changed.append(s)
    CTCAESynonym.objects.bulk_update(changed, ["synonym", "source", "note"])
    CTCAESynonym.objects.bulk_create(CTCAESynonym(term_id=key[1], **fields)
                                     for key, fields in wanted.items() if key not in stored)
    return len(wanted)


def synonym_matches(text: str) -> list[CTCAESynonym]:
    """The synonym rows of an exact synonym (any case, spaces normalised) with their terms, by term name."""
    text = " ".join(text.split())
    if not text:
        return []
    return list(CTCAESynonym.objects.filter(synonym__iexact=text).select_related("term").order_by("term__term"))


def terms_for_synonym(text: str) -> list[CTCAETerm]:
    """The CTCAE terms an exact synonym (any case) maps to, by name; empty if it is none."""
    return [match.term for match in synonym_matches(text)]


def _is_code(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= _MAX_MEDDRA_DIGITS


def _rank(field: str, text: str) -> Case:
    return Case(When(**{f"{field}__iexact": text}, then=Value(EXACT)),
                When(**{f"{field}__istartswith": text}, then=Value(PREFIX)),
                When(**{f"{field}__icontains": text}, then=Value(SUBSTRING)),
                default=Value(_NO_MATCH), output_field=IntegerField())


def term_search(queryset: QuerySet[CTCAETerm], text: str) -> QuerySet[CTCAETerm]:
    """Terms matching ``text`` by name, ward synonym or MedDRA code, then by SOC, best match first.

    Case-insensitive. Rank: exact name/synonym/code, then prefix, then substring, then SOC, then terms where
    every word of a multi-word ``text`` matches somewhere (the API's former word-by-word search);
    alphabetical within a rank. Each term carries ``match_rank``, and ``matched_synonym`` /
    ``matched_synonym_note`` when a synonym matched better than the term's own name (else None).
    Stays one SQL query (plus the caller's prefetches).
    """
    text = " ".join(text.split())
    if not text:
        return queryset
    synonyms = (CTCAESynonym.objects.filter(term=OuterRef("pk"), synonym__icontains=text)
                .annotate(rank=_rank("synonym", text)).order_by("rank", Length("synonym"), "synonym"))
    code_rank = (Case(When(meddra_code=int(text), then=Value(EXACT)), default=Value(_NO_MATCH))
                 if _is_code(text) else Value(_NO_MATCH))
    words = text.split()
    every_word = Q()
    for word in words:
        word_q = (Q(term__icontains=word) | Q(soc__icontains=word)
                  | Q(Exists(CTCAESynonym.objects.filter(term=OuterRef("pk"), synonym__icontains=word))))
        if _is_code(word):
            word_q = word_q | Q(meddra_code=int(word))
        every_word = every_word & word_q
    words_rank = (Case(When(every_word, then=Value(ALL_WORDS)), default=Value(_NO_MATCH))
                  if len(words) > 1 else Value(_NO_MATCH))  # one word: the phrase ranks above cover it
    queryset = queryset.alias(
        name_rank=_rank("term", text),
        synonym_rank=Coalesce(Subquery(synonyms.values("rank")[:1]), Value(_NO_MATCH)),
        code_rank=code_rank,
        soc_rank=Case(When(soc__icontains=text, then=Value(SOC)), default=Value(_NO_MATCH)),
        words_rank=words_rank,
    ).annotate(
        match_rank=Least("name_rank", "synonym_rank", "code_rank", "soc_rank", "words_rank",
                         output_field=IntegerField()),
    ).filter(match_rank__lt=_NO_MATCH)
    synonym_wins = Q(synonym_rank__lt=F("name_rank")) & Q(synonym_rank__lt=F("code_rank"))
    return queryset.annotate(
        matched_synonym=Case(When(synonym_wins, then=Subquery(synonyms.values("synonym")[:1])), default=None,
                             output_field=CharField()),
        matched_synonym_note=Case(When(synonym_wins, then=Subquery(synonyms.values("note")[:1])), default=None,
                                  output_field=TextField()),
    ).order_by("match_rank", "term")
