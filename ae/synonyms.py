"""Words ward staff type for CTCAE v5.0 terms: loading the synonym list, resolving a typed word.

The list is reference data (``fixtures/ctcae/synonyms.csv``, documented in ``fixtures/ctcae/README.md``):
one row per synonym and CTCAE term; a synonym may map to several terms.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ae.models import CTCAESynonym, CTCAETerm

SYNONYMS_CSV = Path(settings.BASE_DIR) / "fixtures" / "ctcae" / "synonyms.csv"
SYNONYM_COLUMNS = ("synonym", "ctcae_term", "source", "note")



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


def terms_for_synonym(text: str) -> list[CTCAETerm]:
    """The CTCAE terms an exact synonym (any case) maps to, by name; empty if it is none."""
    text = " ".join(text.split())
    if not text:
        return []
    return list(CTCAETerm.objects.filter(synonyms__synonym__iexact=text).distinct().order_by("term"))

