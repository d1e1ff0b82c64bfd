"""FHIR R4B ``Bundle`` (type collection) of one SAE case version: an ``AdverseEvent`` per reaction with its
CTCAE grade, seriousness, outcome and suspect entity (blinatumomab with causality), and what they reference.

FHIR R4B (4.3.0) is the release hospital systems exchange today (R4-compatible for AdverseEvent); the resources
are built and validated with the ``fhir.resources`` models (``fhir.resources.R4B``), so a malformed resource
fails here, not at the receiver. What each element carries and why:

* ``AdverseEvent.event``: the MedDRA LLT (system ``http://terminology.hl7.org/CodeSystem/mdr``, version
  20.1: CTCAE v5.0 is built on MedDRA 20.1) with the CTCAE term as display and the ward's verbatim as text.
* CTCAE grade: the extension ``ae-grade`` of the HL7 "Adverse Event Clinical Research R4 Backport" IG (STU1,
  ``http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade``), valueCodeableConcept from
  the value set "Adverse Event Clinical Research Grades" (NCI Thesaurus C41338 grade 1, C41339 grade 2,
  C41340 grade 3, C41337 grade 4, C48275 grade 5), the grading scale in its text. R4B ``severity`` is only
  mild/moderate/severe (``adverse-event-severity``): it is filled too (1 mild, 2 moderate, 3–5 severe) for
  receivers that read no extension.
* ``seriousness``: ``serious``/``non-serious`` (``adverse-event-seriousness``); the ICH E2A criteria that
  apply are listed in its text.
* ``outcome``: ``adverse-event-outcome`` (resolved, recovering, ongoing, resolvedWithSequelae, fatal, unknown).
* The end date (R4B ``AdverseEvent`` has none): ``resultingCondition`` → a ``Condition`` with the same code,
  ``onsetDateTime`` and ``abatementDateTime``.
* ``suspectEntity``: the ``Medication`` of each suspect drug with ``causality`` (assessment text = the result,
  ``productRelatedness``, ``method`` text, ``author`` = the reporting investigator for an investigator's
  assessment).
* History: ``subjectMedicalHistory`` → a ``Condition`` (text) per history line, the disease status and a prior
  HSCT or CAR-T.
* Exposure: a ``MedicationAdministration`` per dose period (UCUM dose, route text, period); drugs given to treat
  the event and concomitant drugs likewise, referenced from ``AdverseEvent.suspectEntity`` only when suspect.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from ae.sae.snapshot import CaseSnapshot, DosePeriod, Drug, Reaction

from .common import as_reported, check, clean_text, parse, ucum

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
UCUM = "http://unitsofmeasure.org"
GRADE_EXTENSION = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"

# NCI Thesaurus codes of the "Adverse Event Clinical Research Grades" value set (HL7 Terminology, OID
# 2.16.840.1.113883.11.21027)
GRADE_CODES = {1: ("C41338", "Grade 1 Mild Adverse Event"), 2: ("C41339", "Grade 2 Moderate Adverse Event"),
               3: ("C41340", "Grade 3 Severe Adverse Event"),
               4: ("C41337", "Grade 4 Life Threatening or Disabling Adverse Event"),
               5: ("C48275", "Grade 5 Death Related to Adverse Event")}
SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
OUTCOME = {"recovered": ("resolved", "Resolved"), "recovering": ("recovering", "Recovering"),
           "not_recovered": ("ongoing", "Ongoing"),
           "recovered_with_sequelae": ("resolvedWithSequelae", "Resolved with Sequelae"),
           "fatal": ("fatal", "Fatal"), "unknown": ("unknown", "Unknown")}
CRITERIA = (("death", "results in death"), ("life_threatening", "life-threatening"),
            ("hospitalisation", "caused or prolonged hospitalisation"),
            ("disability", "persistent or significant disability/incapacity"),
            ("congenital_anomaly", "congenital anomaly/birth defect"),
            ("other_medically_important", "other medically important condition"))


def render(snapshot: CaseSnapshot) -> bytes:
    """The Bundle as FHIR JSON (UTF-8 bytes). :class:`~reports.icsr.common.IcsrError` when the case cannot
    make a report; pydantic's ``ValidationError`` would mean a bug here (the models check every element)."""
    return bundle(snapshot).model_dump_json(indent=2).encode()


def bundle(snapshot: CaseSnapshot) -> Bundle:
    """The validated ``fhir.resources.R4B`` Bundle of the case version (see the module's docstring)."""
    check(snapshot)
    base = f"urn:pvtrack:{snapshot.site_code}"
    resources: list[dict[str, Any]] = [_patient(snapshot, base), _practitioner(snapshot), _organisation(snapshot)]
    for number, drug in enumerate(snapshot.drugs):
        resources.append(_medication(number, drug))
        resources += [_administration(snapshot, number, index, drug, period)
                      for index, period in enumerate(drug.dose_periods)]
    resources += [{"resourceType": "Condition", "id": f"history-{number}", "code": {"text": line},
                   "subject": _ref(snapshot, "Patient", "patient")}
                  for number, line in enumerate(_history(snapshot))]
    for reaction in snapshot.reactions:
        resources.append(_condition(snapshot, reaction))
        resources.append(_adverse_event(snapshot, base, reaction))
    return Bundle.model_validate(_cleaned({
        "resourceType": "Bundle",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", f"{snapshot.case_id}-v{snapshot.version}")[-64:],  # FHIR id syntax
        "identifier": {"system": f"{base}:sae-case-version", "value": f"{snapshot.case_id}-v{snapshot.version}"},
        "type": "collection",
        "timestamp": _when(snapshot.created_at),
        "entry": [{"fullUrl": f"urn:uuid:{_uuid(snapshot, r['resourceType'], r['id'])}", "resource": r}
                  for r in resources],
    }))


def _cleaned(value: Any) -> Any:
    """``value`` (JSON-like) with every string passed through :func:`~reports.icsr.common.clean_text`; a string
    left blank is dropped with its key (FHIR forbids empty strings: an absent element says "no value")."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        cleaned = {key: _cleaned(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if not (isinstance(item, str) and not item.strip())}
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    return value


def _when(value: str) -> str:
    """A FHIR date or dateTime: a datetime gets its seconds (FHIR requires them when a time is given: the ward
    writes ``2026-03-03T16:10+01:00``, FHIR wants ``2026-03-03T16:10:00+01:00``); a date stays a date."""
    moment = parse(value, "date")
    if isinstance(moment, datetime.datetime):
        return moment.isoformat(timespec="seconds")
    return moment.isoformat()


def _uuid(snapshot: CaseSnapshot, kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pvtrack:{snapshot.case_id}:{snapshot.version}:{kind}:{key}"))


def _ref(snapshot: CaseSnapshot, kind: str, key: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{_uuid(snapshot, kind, key)}"}


def _patient(snapshot: CaseSnapshot, base: str) -> dict[str, Any]:
    patient = snapshot.patient
    return {"resourceType": "Patient", "id": "patient",
            "identifier": [{"system": f"{base}:patient", "value": patient.identifier}],
            "gender": patient.sex}


def _practitioner(snapshot: CaseSnapshot) -> dict[str, Any]:
    given, _, family = snapshot.reporter.name.rpartition(" ")
    name: dict[str, Any] = {"family": family, "text": snapshot.reporter.name}
    if given:
        name["given"] = given.split()
    return {"resourceType": "Practitioner", "id": "reporter", "name": [name],
            "qualification": [{"code": {"text": snapshot.reporter.qualification.replace("_", " ")}}]}


def _organisation(snapshot: CaseSnapshot) -> dict[str, Any]:
    organisation: dict[str, Any] = {"resourceType": "Organization", "id": "site", "name": snapshot.site_name}
    if snapshot.reporter.country:
        organisation["address"] = [{"country": snapshot.reporter.country}]
    return organisation


def _medication(number: int, drug: Drug) -> dict[str, Any]:
    ingredients = [{"itemCodeableConcept": {"text": s.strip()}} for s in drug.active_substance.split(";")
                   if s.strip()]
    medication: dict[str, Any] = {"resourceType": "Medication", "id": f"drug-{number}", "code": {"text": drug.name}}
    if ingredients:
        medication["ingredient"] = ingredients
    for period in drug.dose_periods:
        if period.batch:
            medication["batch"] = {"lotNumber": period.batch}
    return medication


def _administration(snapshot: CaseSnapshot, number: int, index: int, drug: Drug, period: DosePeriod) -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    if period.route:
        dosage["route"] = {"text": period.route}
    if period.dose_value is not None:
        unit = ucum(period.dose_unit)
        dosage["dose"] = {"value": period.dose_value, "unit": unit, "system": UCUM, "code": unit}
    administration: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": f"drug-{number}-period-{index}",
        "status": "completed" if period.stop else "in-progress",
        "medicationReference": {**_ref(snapshot, "Medication", f"drug-{number}"), "display": drug.name},
        "subject": _ref(snapshot, "Patient", "patient"),
        "effectivePeriod": {k: _when(v) for k, v in (("start", period.start), ("end", period.stop)) if v},
    }
    if drug.indication:
        administration["reasonCode"] = [{"text": drug.indication}]
    if dosage:
        administration["dosage"] = dosage
    return administration


def _condition(snapshot: CaseSnapshot, reaction: Reaction) -> dict[str, Any]:
    ongoing = reaction.end is None and reaction.outcome not in ("recovered", "recovered_with_sequelae", "fatal")
    condition: dict[str, Any] = {
        "resourceType": "Condition", "id": f"reaction-{reaction.adverse_event_id}",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active" if ongoing else "resolved"}]},
        "code": _event_code(reaction),
        "subject": _ref(snapshot, "Patient", "patient"),
        "onsetDateTime": _when(reaction.onset),
    }
    if reaction.end:
        condition["abatementDateTime"] = _when(reaction.end)
    return condition


def _event_code(reaction: Reaction) -> dict[str, Any]:
    return {"coding": [{"system": MEDDRA, "version": reaction.meddra_version, "code": reaction.meddra_llt_code,
                        "display": reaction.ctcae_term}],
            "text": as_reported(reaction)}


def _adverse_event(snapshot: CaseSnapshot, base: str, reaction: Reaction) -> dict[str, Any]:
    criteria = [label for field, label in CRITERIA if getattr(reaction.seriousness, field)]
    serious = bool(criteria)
    outcome_code, outcome_display = OUTCOME[reaction.outcome]
    event: dict[str, Any] = {
        "resourceType": "AdverseEvent", "id": f"ae-{reaction.adverse_event_id}",
        "identifier": {"system": f"{base}:adverse-event", "value": str(reaction.adverse_event_id)},
        "actuality": "actual",
        "event": _event_code(reaction),
        "subject": _ref(snapshot, "Patient", "patient"),
        "date": _when(reaction.onset),
        "detected": _when(reaction.onset),
        "recordedDate": _when(snapshot.awareness_at),
        "resultingCondition": [_ref(snapshot, "Condition", f"reaction-{reaction.adverse_event_id}")],
        "recorder": _ref(snapshot, "Practitioner", "reporter"),
        "seriousness": {"coding": [{"system": SERIOUSNESS_SYSTEM, "code": "serious" if serious else "non-serious",
                                    "display": "Serious" if serious else "Non-serious"}],
                        "text": "Serious: " + "; ".join(criteria) if serious else "Non-serious"},
        "outcome": {"coding": [{"system": OUTCOME_SYSTEM, "code": outcome_code, "display": outcome_display}]},
        "suspectEntity": [_suspect(snapshot, number, drug, reaction)
                          for number, drug in enumerate(snapshot.drugs) if drug.characterisation == "suspect"],
    }
    history = _history(snapshot)
    if history:
        event["subjectMedicalHistory"] = [_ref(snapshot, "Condition", f"history-{n}") for n in range(len(history))]
    if reaction.grade is not None:
        code, display = GRADE_CODES[reaction.grade]
        event["extension"] = [{"url": GRADE_EXTENSION, "valueCodeableConcept": {
            "coding": [{"system": NCIT, "code": code, "display": display}],
            "text": f"Grade {reaction.grade} ({reaction.grading_scale})"}}]
        event["severity"] = {"coding": [{"system": SEVERITY_SYSTEM, "code": SEVERITY[reaction.grade]}]}
    if snapshot.study_name:
        event["study"] = [{"display": snapshot.study_name}]
    return event


def _history(snapshot: CaseSnapshot) -> list[str]:
    """Relevant history of the patient, one line each (E2B D.7.2): history lines, disease status, prior HSCT/CAR-T."""
    patient = snapshot.patient
    lines = [line for line in patient.medical_history if clean_text(line).strip()]
    if clean_text(patient.disease_status).strip():
        lines.append(f"Disease status: {patient.disease_status}")
    lines += [label for label, flag in (("Prior HSCT", patient.prior_hsct), ("Prior CAR-T cell therapy",
                                                                             patient.prior_car_t)) if flag]
    return lines


def _suspect(snapshot: CaseSnapshot, number: int, drug: Drug, reaction: Reaction) -> dict[str, Any]:
    suspect: dict[str, Any] = {"instance": {**_ref(snapshot, "Medication", f"drug-{number}"), "display": drug.name}}
    causality = []
    for assessed in drug.causality:
        if assessed.adverse_event_id != reaction.adverse_event_id:
            continue
        entry: dict[str, Any] = {"assessment": {"text": assessed.result}, "productRelatedness": assessed.result,
                                 "method": {"text": assessed.method}}
        if assessed.source == "investigator":
            entry["author"] = {**_ref(snapshot, "Practitioner", "reporter"), "display": "investigator"}
        else:
            entry["author"] = {"display": "sponsor"}
        causality.append(entry)
    if causality:
        suspect["causality"] = causality
    return suspect
