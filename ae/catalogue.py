"""The NCI CTCAE v5.0 catalogue: terms (MedDRA LLT codes, SOC) and the grades each term defines.

Loaded from ``fixtures/ctcae/ctcae_v5_terms.csv`` (derived from the NCI CTCAE v5.0 workbook; provenance
and checksum in ``fixtures/ctcae/README.md``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ae.models import CTCAEGrade, CTCAETerm

CTCAE_CSV = Path(settings.BASE_DIR) / "fixtures" / "ctcae" / "ctcae_v5_terms.csv"

@transaction.atomic
def ctcae_catalogue_load(path: Path = CTCAE_CSV) -> int:
    """Create or update every CTCAE v5.0 term and its allowed grades from the fixture CSV.

    Returns the number of terms (837 for the NCI workbook). Idempotent. Raises ValueError if a row
    has no grade at all or a duplicate MedDRA code; source: fixtures/ctcae/README.md.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = [int(r["meddra_code"]) for r in rows]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate MedDRA codes in the CTCAE catalogue")
    existing = {t.meddra_code: t for t in CTCAETerm.objects.all()}
    grades: dict[int, dict[int, str]] = {}
    for row in rows:
        code = int(row["meddra_code"])
        grades[code] = {g: row[f"grade_{g}"].strip() for g in range(1, 6) if row[f"grade_{g}"].strip()}
        if not grades[code]:
            raise ValueError(f"{row['ctcae_term']}: no grade defined")
        if sorted(grades[code]) != [int(g) for g in row["allowed_grades"].split("|")]:
            raise ValueError(f"{row['ctcae_term']}: allowed_grades disagrees with the grade texts")
    # Write only what differs (a reload of an unchanged catalogue is a handful of queries).
    new_terms, changed_terms = [], []
    for row in rows:
        code, fields = int(row["meddra_code"]), _term_fields(row)
        term = existing.get(code)
        if term is None:
            new_terms.append(CTCAETerm(meddra_code=code, **fields))
        elif any(getattr(term, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(term, k, v)
            changed_terms.append(term)
    CTCAETerm.objects.bulk_update(changed_terms, list(_term_fields(rows[0])))
    for term in CTCAETerm.objects.bulk_create(new_terms):
        existing[term.meddra_code] = term
    stored = {(g.term_id, g.grade): g for g in CTCAEGrade.objects.all()}
    wanted = {(existing[code].pk, grade): text for code, by_grade in grades.items() for grade, text in by_grade.items()}
    CTCAEGrade.objects.bulk_create(CTCAEGrade(term_id=t, grade=g, description=text)
                                   for (t, g), text in wanted.items() if (t, g) not in stored)
    changed = [g for key, g in stored.items() if key in wanted and g.description != wanted[key]]
    for g in changed:
        g.description = wanted[(g.term_id, g.grade)]
    CTCAEGrade.objects.bulk_update(changed, ["description"])
    # A grade removed from the catalogue is deleted only if no event uses it (the composite FK refuses).
    removed = [g.pk for key, g in stored.items() if key not in wanted]
    CTCAEGrade.objects.filter(pk__in=removed).delete()
    return len(rows)


def _term_fields(row: dict[str, str]) -> dict[str, str]:
    return {"term": row["ctcae_term"], "soc": row["meddra_soc"], "definition": row["definition"],
            "navigational_note": row["navigational_note"]}
