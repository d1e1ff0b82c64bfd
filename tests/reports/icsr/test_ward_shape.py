"""The three writers on a snapshot shaped as the ward's case builder (``ae.sae.build``) makes it."""

from __future__ import annotations

import io
import json

from fhir.resources.R4B.bundle import Bundle
from lxml import etree
from pypdf import PdfReader

from reports.icsr import cioms, e2b, fhir
from tests.reports.icsr.factories import as_built_by_the_ward

NS = {"hl7": "urn:hl7-org:v3"}


def test_e2b():
    root = etree.fromstring(e2b.render(as_built_by_the_ward()))
    assert root.xpath("string(//hl7:investigationEvent/hl7:id[1]/@extension)", namespaces=NS) == (
        "XX-PVTRACK-PVT-KRK-2026-0007")
    assert not root.xpath("//hl7:locatedPlace", namespaces=NS)  # E.i.9 left out without a country
    assert root.xpath("string(//hl7:investigationEvent/hl7:effectiveTime/hl7:low/@value)", namespaces=NS) == (
        "20260303161000+0100")
    units = root.xpath("//hl7:doseQuantity/@unit", namespaces=NS)
    assert units == ["ug/m2", "mg/kg", "mg/m2"]
    assert root.xpath("//hl7:observation[hl7:code/hl7:originalText]/hl7:effectiveTime/@value", namespaces=NS) == [
        "20260303180000+0100"]  # F.r.1 with its time
    results = root.xpath("//hl7:causalityAssessment[hl7:code/@code='39']/hl7:value/text()", namespaces=NS)
    sources = root.xpath("//hl7:causalityAssessment[hl7:code/@code='39']/hl7:author//hl7:originalText/text()",
                         namespaces=NS)
    assert list(zip(sources, results, strict=True)) == [("investigator", "Probably related"),
                                                        ("sponsor", "Possibly related")]
    assert root.xpath("string(//hl7:subjectOf2/hl7:investigationCharacteristic[hl7:code/@code='1']/hl7:value/"
                      "@code)", namespaces=NS) == "2"


def test_fhir():
    bundle = Bundle.model_validate_json(fhir.render(as_built_by_the_ward()))
    resources = [e.resource for e in bundle.entry]
    [event] = [r for r in resources if r.get_resource_type() == "AdverseEvent"]
    authors = [c.author.display for c in event.suspectEntity[0].causality]
    assert authors == ["investigator", "sponsor"]
    doses = [r.dosage.dose.code for r in resources if r.get_resource_type() == "MedicationAdministration"]
    assert doses == ["ug/m2/d", "mg/kg", "mg/m2"]
    assert all(r.dosage.route is None for r in resources
               if r.get_resource_type() == "MedicationAdministration" and r.dosage.dose.code != "ug/m2/d")
    organisation = next(r for r in resources if r.get_resource_type() == "Organization")
    assert organisation.address is None
    assert json.loads(fhir.render(as_built_by_the_ward()))["type"] == "collection"


def test_cioms():
    text = " ".join(PdfReader(io.BytesIO(cioms.render(as_built_by_the_ward()))).pages[0].extract_text().split())
    assert "1a. COUNTRY unknown" in text
    assert "Tocilizumab (tocilizumab); 12 mg/kg, cycle 1" in text
    assert "investigator, Global introspection" in text and "sponsor, Global introspection" in text
    assert "[X] STUDY" in text
