"""FHIR writer: the JSON parses and validates with the maintained R4B models (fhir.resources 8, R4B package),
and carries the case's values."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from reports.icsr import IcsrError, fhir
from tests.reports.icsr.factories import crs_follow_up, crs_initial, fatal_icans

GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"


def _parsed(snapshot) -> tuple[Bundle, dict]:
    raw = fhir.render(snapshot)
    bundle = Bundle.model_validate_json(raw)  # the R4B model validates every element on the way in
    by_url = {entry.fullUrl: entry.resource for entry in bundle.entry}
    return bundle, by_url


def _events(bundle: Bundle) -> list[AdverseEvent]:
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == "AdverseEvent"]


@pytest.mark.parametrize("factory", [crs_initial, crs_follow_up, fatal_icans])
def test_every_resource_validates_as_fhir_r4b(factory):
    bundle, _ = _parsed(factory())
    assert bundle.type == "collection"
    models = {"AdverseEvent": AdverseEvent, "Patient": Patient, "Medication": Medication,
              "MedicationAdministration": MedicationAdministration, "Condition": Condition}
    kinds = set()
    for entry in json.loads(fhir.render(factory()))["entry"]:
        kind = entry["resource"]["resourceType"]
        kinds.add(kind)
        if kind in models:
            models[kind].model_validate(entry["resource"])
    assert {"AdverseEvent", "Patient", "Medication", "MedicationAdministration", "Condition"} <= kinds


def test_the_adverse_event_of_grade_4_crs():
    bundle, by_url = _parsed(crs_initial())
    [event] = _events(bundle)
    assert event.actuality == "actual"
    [coding] = event.event.coding
    assert (coding.system, coding.version, coding.code, coding.display) == (
        "http://terminology.hl7.org/CodeSystem/mdr", "20.1", "10052015", "Cytokine release syndrome")
    [grade] = [x for x in event.extension if x.url == GRADE]
    assert grade.valueCodeableConcept.coding[0].code == "C41337"  # NCIt grade 4
    assert grade.valueCodeableConcept.text == "Grade 4 (CTCAE v5.0)"
    assert event.severity.coding[0].code == "severe"
    assert event.seriousness.coding[0].code == "serious"
    assert "life-threatening" in event.seriousness.text
    assert event.outcome.coding[0].code == "recovering"
    assert event.recordedDate.isoformat() == "2026-03-03T16:10:00+01:00"  # the site's offset kept
    patient = by_url[event.subject.reference]
    assert patient.get_resource_type() == "Patient" and patient.identifier[0].value == "KRK-0042"
    assert patient.gender == "male"
    [suspect] = event.suspectEntity
    medication = by_url[suspect.instance.reference]
    assert medication.code.text == "Blincyto" and medication.batch.lotNumber == "1234567A"
    [causality] = suspect.causality
    assert causality.productRelatedness == "Related" and causality.method.text == "Global introspection"
    assert by_url[causality.author.reference].get_resource_type() == "Practitioner"
    condition = by_url[event.resultingCondition[0].reference]
    assert condition.clinicalStatus.coding[0].code == "active" and condition.abatementDateTime is None


def test_exposure_is_one_administration_per_dose_period_with_ucum_dose():
    bundle, by_url = _parsed(crs_initial())
    administrations = [e.resource for e in bundle.entry
                       if e.resource.get_resource_type() == "MedicationAdministration"]
    blinatumomab = [a for a in administrations if by_url[a.medicationReference.reference].code.text == "Blincyto"]
    [period] = blinatumomab
    assert period.status == "completed"
    assert (period.dosage.dose.value, period.dosage.dose.code, period.dosage.dose.system) == (
        5.0, "ug/m2/d", "http://unitsofmeasure.org")
    assert period.dosage.route.text == "Continuous intravenous infusion"
    assert by_url[period.subject.reference].get_resource_type() == "Patient"
    dexamethasone = [a for a in administrations if by_url[a.medicationReference.reference].code.text
                     == "Dexamethasone"]
    assert dexamethasone[0].status == "in-progress"


def test_follow_up_resolves_the_condition():
    bundle, by_url = _parsed(crs_follow_up())
    [event] = _events(bundle)
    assert event.outcome.coding[0].code == "resolved"
    condition = by_url[event.resultingCondition[0].reference]
    assert str(condition.abatementDateTime) == "2026-03-06"
    assert condition.clinicalStatus.coding[0].code == "resolved"
    assert bundle.identifier.value == "PVT-KRK-2026-0007-v2"


def test_fatal_icans_is_grade_5_fatal_with_the_astct_scale_in_text():
    bundle, _ = _parsed(fatal_icans())
    icans, seizure = _events(bundle)
    assert icans.outcome.coding[0].code == "fatal"
    grade = next(x for x in icans.extension if x.url == GRADE).valueCodeableConcept
    assert (grade.coding[0].code, grade.text) == ("C48275", "Grade 5 (ASTCT 2019)")
    assert icans.event.text == "ICANS" and icans.event.coding[0].code == "10014625"
    assert "results in death" in icans.seriousness.text
    assert seizure.suspectEntity[0].causality[0].productRelatedness == "Possibly related"
    assert icans.study[0].display == "Blinatumomab paediatric expanded access"


def test_the_validator_is_real_a_broken_resource_fails():
    raw = json.loads(fhir.render(crs_initial()))
    event = next(e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "AdverseEvent")
    event["actuality"] = ["actual"]  # a list where R4B wants one code
    with pytest.raises(ValidationError):
        Bundle.model_validate(raw)


def test_it_is_r4b_not_r5():
    """R5 AdverseEvent renamed ``event`` to ``code`` and requires ``status``: our R4B resource is not R5."""
    from fhir.resources.adverseevent import AdverseEvent as R5AdverseEvent

    raw = json.loads(fhir.render(crs_initial()))
    event = next(e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "AdverseEvent")
    with pytest.raises(ValidationError):
        R5AdverseEvent.model_validate(event)


def test_a_case_without_a_suspect_drug_is_refused():
    import dataclasses

    case = crs_initial()
    with pytest.raises(IcsrError, match="exactly one suspect drug"):
        fhir.render(dataclasses.replace(case, drugs=case.drugs[1:]))


def test_relevant_history_is_referenced_from_the_event():
    bundle, by_url = _parsed(fatal_icans())
    icans = _events(bundle)[0]
    history = [by_url[ref.reference].code.text for ref in icans.subjectMedicalHistory]
    assert history == ["Allogeneic HSCT 2025 (matched unrelated donor)", "Second relapse March 2026",
                       "Disease status: MRD 0.3 % before cycle 2", "Prior HSCT"]


def test_the_same_version_gives_the_same_bytes():
    assert fhir.render(fatal_icans()) == fhir.render(fatal_icans())


def test_a_case_id_outside_fhir_id_syntax_still_validates():
    """A site slug may hold "_" (Django slugs do); FHIR ids allow only letters, digits, "-" and "."."""
    import dataclasses

    bundle = Bundle.model_validate_json(fhir.render(dataclasses.replace(crs_initial(), case_id="PVT-KRK_2-2026-0001")))
    assert bundle.id == "PVT-KRK-2-2026-0001-v1"
    assert bundle.identifier.value == "PVT-KRK_2-2026-0001-v1"  # the identifier keeps the case's own spelling
