"""Loading the default reference safety information (RSI) of blinatumomab from ``fixtures/rsi/`` (source, version,
date and the wording of each entry are in the fixture; docs/sae-cases.md, "Expectedness")."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction

from ae.models import CTCAETerm, ReferenceSafetyInformation, RSIEntry

RSI_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "rsi" / "blinatumomab_uspi.yaml"


@transaction.atomic
def rsi_fixture_load(path: Path = RSI_FIXTURE) -> int:
    """Create the fixture's RSI version with its entries unless a version of the product is already in force from
    that day (a loaded version is never rewritten: later versions are new rows). Returns the entries created.
    Raises ValueError naming a term that is not in the CTCAE v5.0 catalogue (load the catalogue first)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rsi, created = ReferenceSafetyInformation.objects.get_or_create(
        product=data["product"], in_force_from=data["in_force_from"],
        defaults={"document": data["document"], "version": data["version"], "document_date": data["document_date"],
                  "note": data.get("note", "")})
    if not created:
        return 0
    terms = {t.term: t for t in CTCAETerm.objects.filter(term__in=[e["ctcae_term"] for e in data["entries"]])}
    if missing := sorted({e["ctcae_term"] for e in data["entries"] if e.get("ctcae_term")} - set(terms)):
        raise ValueError(f"not CTCAE v5.0 terms (or the catalogue is not loaded): {', '.join(missing)}")
    entries = [RSIEntry(rsi=rsi, ctcae_term=terms[e["ctcae_term"]] if e.get("ctcae_term") else None,
                        meddra_code=str(terms[e["ctcae_term"]].meddra_code) if e.get("ctcae_term") else
                        str(e.get("meddra_code", "")), wording=e["wording"], frequency=e.get("frequency", ""),
                        max_grade=e.get("max_grade"), verified=bool(e.get("verified"))) for e in data["entries"]]
    for entry in entries:
        entry.full_clean()
    RSIEntry.objects.bulk_create(entries)
    return len(entries)
