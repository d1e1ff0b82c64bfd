"""The reports that leave the ward for one SAE case version (issue 13): CIOMS I (PDF), ICH E2B(R3) (HL7 v3
XML) and FHIR R4B (JSON Bundle with AdverseEvent). Each module has ``render(snapshot) -> bytes`` over the same
:class:`ae.sae.snapshot.CaseSnapshot`, so the three outputs of a version always say the same thing. Pure
functions: no models, no database. See ``docs/icsr.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from ae.sae.snapshot import CaseSnapshot

from . import cioms, e2b, fhir
from .common import IcsrError

# format → (writer, media type, file extension)
FORMATS: dict[str, tuple[Callable[[CaseSnapshot], bytes], str, str]] = {
    "cioms": (cioms.render, "application/pdf", "pdf"),
    "e2b": (e2b.render, "application/xml", "xml"),
    "fhir": (fhir.render, "application/fhir+json", "json"),
}

__all__ = ["FORMATS", "IcsrError", "cioms", "e2b", "fhir"]
