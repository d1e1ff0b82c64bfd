"""ICH E2B(R3) individual case safety report of one SAE case version: HL7 v3 XML, ``MCCI_IN200100UV01`` batch
wrapping one ``PORR_IN049016UV`` message.

Built as the ICH E2B(R3) Implementation Guide (ICH, "Implementation Guide for Electronic Transmission of
Individual Case Safety Reports (ICSRs) E2B(R3) Data Elements and Message Specification", Step 4) and its
reference instance lay the message out; element numbers (C.1.1, E.i.2.1b …) are the guide's and are repeated as
XML comments in the output so a reader can check them. Code systems are the ICH OIDs
``2.16.840.1.113883.3.989.2.1.1.x`` (code lists) and ``2.16.840.1.113883.3.989.2.1.3.x`` (identifier roots);
MedDRA is ``2.16.840.1.113883.6.163``, ISO 3166 ``1.0.3166.1.2.2``, ISO 5218 (sex) ``1.0.5218``, units UCUM.

The full mapping from :class:`~ae.sae.snapshot.CaseSnapshot`, the code lists and the mandatory elements pvtrack
cannot fill yet are in ``docs/icsr.md``. Pure Python (lxml), no database.
"""

from __future__ import annotations

import datetime
import uuid

from lxml import etree

from ae.sae.snapshot import CaseSnapshot, Drug, Reaction

from .common import (
    MEDDRA_NOTE,
    IcsrError,
    as_reported,
    check,
    clean_text,
    dose_text,
    grade_text,
    hl7_ts,
    split_dose_unit,
)

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NS = {None: HL7, "xsi": XSI}
_TYPE = f"{{{XSI}}}type"

MEDDRA = "2.16.840.1.113883.6.163"
ISO3166 = "1.0.3166.1.2.2"
ISO5218 = "1.0.5218"
ICH = "2.16.840.1.113883.3.989.2.1"
OBSERVATION = f"{ICH}.1.19"  # ICH observation codes (age 3, reaction 29, outcome 27, causality 39 …)
ORGANIZER = f"{ICH}.1.20"  # 1 medical history, 3 tests, 4 drug information
ROOT_MESSAGE = f"{ICH}.3.1"  # N.2.r.1 and C.1.1
ROOT_WORLDWIDE = f"{ICH}.3.2"  # C.1.8.1
ROOT_INVESTIGATION_NUMBER = f"{ICH}.3.10"  # D.1.1.4
ROOT_BATCH = f"{ICH}.3.22"  # N.1.2

# C.1.3 type of report (2.16.840.1.113883.3.989.2.1.1.2): 1 spontaneous, 2 report from study, 3 other,
# 4 not available to sender. C.5.4 study type (…1.1.8): 1 clinical trials, 2 individual patient use, 3 other.
REPORT_TYPE = {"none": "1", "clinical_trial": "2", "individual_patient_use": "2", "other_study": "2"}
STUDY_TYPE = {"clinical_trial": "1", "individual_patient_use": "2", "other_study": "3"}
# C.2.r.4 qualification (…1.1.6)
QUALIFICATION = {"physician": "1", "pharmacist": "2", "other_health_professional": "3", "lawyer": "4",
                 "consumer": "5"}
SENDER_TYPE_HEALTH_PROFESSIONAL = "3"  # C.3.1 (…1.1.7): the ward sends as a health professional
# D.5 sex (ISO 5218): 1 male, 2 female; unknown is nullFlavor UNK
SEX = {"male": "1", "female": "2"}
# D.2.3 age group (…1.1.9)
AGE_GROUP = {"foetus": "0", "neonate": "1", "infant": "2", "child": "3", "adolescent": "4", "adult": "5",
             "elderly": "6"}
# E.i.7 outcome (…1.1.11)
OUTCOME = {"unknown": "0", "recovered": "1", "recovering": "2", "not_recovered": "3",
           "recovered_with_sequelae": "4", "fatal": "5"}
# G.k.1 characterisation (…1.1.13): 1 suspect, 2 concomitant, 3 interacting, 4 drug not administered. E2B(R3)
# has no code for "treatment of the event": such drugs are concomitant (their indication says what they treat).
CHARACTERISATION = {"suspect": "1", "concomitant": "2", "interacting": "3", "treatment_of_event": "2"}
# G.k.8 action taken with drug (…1.1.15)
ACTION_TAKEN = {"withdrawn": "1", "dose_reduced": "2", "dose_increased": "3", "not_changed": "4", "unknown": "0",
                "not_applicable": "9"}
# G.k.9.i.4 did reaction recur on re-administration (…1.1.16): 1 rechallenge done, recurred; 2 done, did not
# recur; 3 done, outcome unknown; 4 not done / not applicable. The snapshot's "unknown" (not known whether a
# rechallenge happened) has no code: the element is left out.
RECURRENCE = {"yes": "1", "no": "2", "not_applicable": "4"}
# E.i.3.2 seriousness criteria, observation code → snapshot field. ICH: the value is true, or nullFlavor NI.
SERIOUSNESS = (("34", "death", "resultsInDeath"), ("21", "life_threatening", "isLifeThreatening"),
               ("33", "hospitalisation", "requiresInpatientHospitalization"),
               ("35", "disability", "resultsInPersistentOrSignificantDisability"),
               ("12", "congenital_anomaly", "congenitalAnomalyBirthDefect"),
               ("26", "other_medically_important", "otherMedicallyImportantCondition"))


def render(snapshot: CaseSnapshot, *, sender_id: str = "", receiver_id: str = "") -> bytes:
    """The E2B(R3) XML (UTF-8 bytes, with XML declaration) of one case version.

    ``sender_id``/``receiver_id`` are the gateway identifiers of N.1.3/N.2.r.2 and N.1.4/N.2.r.3 (e.g. the
    receiver "EVHUMAN" for EudraVigilance); pvtrack holds none yet, so by default the sender is the site code and
    the receiver is nullFlavor "NI". :class:`~reports.icsr.common.IcsrError` when the case cannot make a report.
    """
    check(snapshot)
    if not clean_text(snapshot.narrative).strip():
        raise IcsrError("H.1: the case has no narrative (a mandatory element of E2B(R3))")
    xml: bytes = etree.tostring(_batch(snapshot, sender_id or f"PVTRACK-{snapshot.site_code}", receiver_id),
                                xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def safety_report_id(snapshot: CaseSnapshot) -> str:
    """C.1.1 sender's safety report unique identifier: ``country-sender-case`` (e.g. ``PL-PVTRACK-PVT-KRK-2026-0007``),
    the same for every version of the case (follow-ups keep it)."""
    return f"{snapshot.reporter.country or 'XX'}-PVTRACK-{snapshot.case_id}"


def _uuid(snapshot: CaseSnapshot, kind: str, key: object) -> str:
    """A stable UUID for an internal reference (reaction or drug) within this case version."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pvtrack:{snapshot.case_id}:{snapshot.version}:{kind}:{key}"))


def _el(parent: etree._Element, tag: str, text: str | None = None, /, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{HL7}}}{tag}")
    for name, value in attrs.items():
        node.set(_TYPE if name == "xsi_type" else name, clean_text(value))
    if text is not None:
        node.text = clean_text(text)
    return node


def _comment(parent: etree._Element, text: str) -> None:
    parent.append(etree.Comment(f" {clean_text(text).replace('--', '- -')} "))


def _code(parent: etree._Element, tag: str, code: str, system: str, display: str = "") -> etree._Element:
    attrs = {"code": code, "codeSystem": system}
    if display:
        attrs["displayName"] = display
    return _el(parent, tag, **attrs)


def _observation(parent: etree._Element, wrapper: str, code: str, display: str, wrapper_type: str = "PERT"
                 ) -> etree._Element:
    holder = _el(parent, wrapper, typeCode=wrapper_type)
    observation = _el(holder, "observation", classCode="OBS", moodCode="EVN")
    _code(observation, "code", code, OBSERVATION, display)
    return observation


def _batch(snapshot: CaseSnapshot, sender_id: str, receiver_id: str) -> etree._Element:
    report_id = safety_report_id(snapshot)
    message_id = f"{report_id}-V{snapshot.version}"
    created = hl7_ts(snapshot.created_at)
    root = etree.Element(f"{{{HL7}}}MCCI_IN200100UV01", nsmap=_NS, ITSVersion="XML_1.0")
    root.set(f"{{{XSI}}}schemaLocation", f"{HL7} MCCI_IN200100UV01.xsd")
    _el(root, "id", root=ROOT_BATCH, extension=message_id)
    _comment(root, "N.1.2 batch number")
    _el(root, "creationTime", value=created)
    _comment(root, "N.1.5 date of batch transmission")
    _el(root, "responseModeCode", code="D")
    _el(root, "interactionId", root="2.16.840.1.113883.1.6", extension="MCCI_IN200100UV01")
    _el(root, "name", code="1", codeSystem=f"{ICH}.1.1")
    _comment(root, "N.1.1 type of messages in batch: 1 ichicsr")

    message = _el(root, "PORR_IN049016UV")
    _el(message, "id", root=ROOT_MESSAGE, extension=message_id)
    _comment(message, "N.2.r.1 message identifier")
    _el(message, "creationTime", value=created)
    _comment(message, "N.2.r.4 date of message creation")
    _el(message, "interactionId", root="2.16.840.1.113883.1.6", extension="PORR_IN049016UV")
    _el(message, "processingCode", code="P")
    _el(message, "processingModeCode", code="T")
    _el(message, "acceptAckCode", code="AL")
    _device(message, "receiver", "RCV", f"{ICH}.3.12", receiver_id)
    _comment(message, "N.2.r.3 message receiver identifier")
    _device(message, "sender", "SND", f"{ICH}.3.11", sender_id)
    _comment(message, "N.2.r.2 message sender identifier")
    act = _el(message, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code="PORR_TE049016UV", codeSystem="2.16.840.1.113883.1.18")
    _el(act, "effectiveTime", value=created)
    _comment(act, "C.1.2 date of creation")
    subject = _el(act, "subject", typeCode="SUBJ")
    _investigation(subject, snapshot, report_id)

    _device(root, "receiver", "RCV", f"{ICH}.3.14", receiver_id)
    _comment(root, "N.1.4 batch receiver identifier")
    _device(root, "sender", "SND", f"{ICH}.3.13", sender_id)
    _comment(root, "N.1.3 batch sender identifier")
    return root


def _device(parent: etree._Element, tag: str, type_code: str, root: str, identifier: str) -> None:
    holder = _el(parent, tag, typeCode=type_code)
    device = _el(holder, "device", classCode="DEV", determinerCode="INSTANCE")
    if identifier:
        _el(device, "id", root=root, extension=identifier)
    else:
        _el(device, "id", root=root, nullFlavor="NI")


def _investigation(parent: etree._Element, snapshot: CaseSnapshot, report_id: str) -> None:
    event = _el(parent, "investigationEvent", classCode="INVSTG", moodCode="EVN")
    _el(event, "id", root=ROOT_MESSAGE, extension=report_id)
    _comment(event, "C.1.1 sender's safety report unique identifier")
    _el(event, "id", root=ROOT_WORLDWIDE, extension=report_id)
    _comment(event, "C.1.8.1 worldwide unique case identification number")
    _el(event, "code", code="PAT_ADV_EVNT", codeSystem="2.16.840.1.113883.5.4")
    _el(event, "text", snapshot.narrative or None)
    _comment(event, "H.1 case narrative")
    _el(event, "statusCode", code="active")
    effective = _el(event, "effectiveTime")
    _el(effective, "low", value=hl7_ts(snapshot.awareness_at))
    _comment(effective, "C.1.4 date report was first received from source")
    _el(event, "availabilityTime", value=hl7_ts(snapshot.latest_information_at))
    _comment(event, "C.1.5 date of most recent information for this report")

    component = _el(event, "component", typeCode="COMP")
    assessment = _el(component, "adverseEventAssessment", classCode="INVSTG", moodCode="EVN")
    subject1 = _el(assessment, "subject1", typeCode="SBJ")
    role = _el(subject1, "primaryRole", classCode="INVSBJ")
    _patient(role, snapshot)
    _study(role, snapshot)
    _patient_observations(role, snapshot)
    for reaction in snapshot.reactions:
        _reaction(role, snapshot, reaction)
    _labs(role, snapshot)
    _drugs(role, snapshot)
    for number, drug in enumerate(snapshot.drugs):
        holder = _el(assessment, "component", typeCode="COMP")
        causality = _el(holder, "causalityAssessment", classCode="OBS", moodCode="EVN")
        _code(causality, "code", "20", OBSERVATION, "interventionCharacterization")
        _el(causality, "value", xsi_type="CE", code=CHARACTERISATION[drug.characterisation],
            codeSystem=f"{ICH}.1.13")
        _comment(causality, f"G.k.1 characterisation of drug role: {drug.characterisation}")
        subject2 = _el(causality, "subject2", typeCode="SUBJ")
        _el(_el(subject2, "productUseReference", classCode="SBADM", moodCode="EVN"), "id",
            root=_uuid(snapshot, "drug", number))
    for number, drug in enumerate(snapshot.drugs):
        for assessed in drug.causality:
            holder = _el(assessment, "component", typeCode="COMP")
            causality = _el(holder, "causalityAssessment", classCode="OBS", moodCode="EVN")
            _code(causality, "code", "39", OBSERVATION, "causality")
            _el(causality, "value", assessed.result, xsi_type="ST")
            _comment(causality, "G.k.9.i.2.r.3 result of assessment")
            method = _el(causality, "methodCode")
            _el(method, "originalText", assessed.method)
            _comment(causality, "G.k.9.i.2.r.2 method of assessment")
            author = _el(_el(causality, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
            _el(_el(author, "code"), "originalText", assessed.source)
            _comment(causality, "G.k.9.i.2.r.1 source of assessment")
            reaction_ref = _el(_el(causality, "subject1", typeCode="SUBJ"), "adverseEffectReference",
                               classCode="OBS", moodCode="EVN")
            _el(reaction_ref, "id", root=_uuid(snapshot, "reaction", assessed.adverse_event_id))
            drug_ref = _el(_el(causality, "subject2", typeCode="SUBJ"), "productUseReference",
                           classCode="SBADM", moodCode="EVN")
            _el(drug_ref, "id", root=_uuid(snapshot, "drug", number))
    if snapshot.reporter_comments:
        _comment_event(assessment, snapshot.reporter_comments, "3", "sourceReporter", "H.2 reporter's comments")
    _comment_event(assessment, _sender_comments(snapshot), "1", "sender", "H.4 sender's comments")

    expedited = _el(_el(event, "component", typeCode="COMP"), "observationEvent", classCode="OBS", moodCode="EVN")
    _code(expedited, "code", "23", OBSERVATION, "localCriteriaForExpedited")
    _el(expedited, "value", xsi_type="BL", value="true" if snapshot.susar else "false")
    _comment(expedited, "C.1.7 does this case fulfil the local criteria for an expedited report (SUSAR)")
    _primary_source(event, snapshot)
    _sender(event, snapshot)
    _characteristic(event, "1", "ichReportType", REPORT_TYPE[snapshot.study_type], f"{ICH}.1.2",
                    "C.1.3 type of report")
    other_ids = _el(event, "subjectOf2", typeCode="SUBJ")
    characteristic = _el(other_ids, "investigationCharacteristic", classCode="OBS", moodCode="EVN")
    _code(characteristic, "code", "2", f"{ICH}.1.23", "otherCaseIds")
    _el(characteristic, "value", xsi_type="BL", value="false")
    _comment(characteristic, "C.1.9.1 other case identifiers in previous transmissions")


def _comment_event(parent: etree._Element, text: str, author_code: str, author_name: str, label: str) -> None:
    observation = _el(_el(parent, "component1", typeCode="COMP"), "observationEvent", classCode="OBS",
                      moodCode="EVN")
    _code(observation, "code", "10", OBSERVATION, "comment")
    _el(observation, "value", text, xsi_type="ED")
    _comment(observation, label)
    entity = _el(_el(observation, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
    _code(entity, "code", author_code, f"{ICH}.1.21", author_name)


def _sender_comments(snapshot: CaseSnapshot) -> str:
    lines = [MEDDRA_NOTE]
    lines += [f"Reaction {n}: {grade_text(r)}; cycle {r.cycle}, day {r.study_day}."
              for n, r in enumerate(snapshot.reactions, start=1)]
    lines.append(f"Expectedness: {snapshot.expectedness}"
                 + (f" (reference safety information: {snapshot.rsi_version})" if snapshot.rsi_version else "")
                 + f"; SUSAR: {'yes' if snapshot.susar else 'no'}.")
    if snapshot.changes_since_previous:
        lines.append(f"Changes since version {snapshot.version - 1}: " + "; ".join(snapshot.changes_since_previous))
    if snapshot.sender_comments:
        lines.append(snapshot.sender_comments)
    return "\n".join(lines)


def _characteristic(parent: etree._Element, code: str, name: str, value: str, system: str, label: str) -> None:
    characteristic = _el(_el(parent, "subjectOf2", typeCode="SUBJ"), "investigationCharacteristic", classCode="OBS",
                         moodCode="EVN")
    _code(characteristic, "code", code, f"{ICH}.1.23", name)
    _el(characteristic, "value", xsi_type="CE", code=value, codeSystem=system)
    _comment(characteristic, label)


def _split_name(name: str) -> tuple[str, str]:
    given, _, family = name.strip().rpartition(" ")
    return given, family


def _primary_source(event: etree._Element, snapshot: CaseSnapshot) -> None:
    reporter = snapshot.reporter
    relationship = _el(event, "outboundRelationship", typeCode="SPRT")
    _el(relationship, "priorityNumber", value="1")
    _comment(relationship, "C.2.r.5 primary source for regulatory purposes")
    related = _el(relationship, "relatedInvestigation", classCode="INVSTG", moodCode="EVN")
    _code(related, "code", "2", f"{ICH}.1.22", "sourceReport")
    entity = _el(_el(_el(_el(related, "subjectOf2", typeCode="SUBJ"), "controlActEvent", classCode="CACT",
                         moodCode="EVN"), "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
    person = _el(entity, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    given, family = _split_name(reporter.name)
    name = _el(person, "name")
    if given:
        _el(name, "given", given)
    _el(name, "family", family)
    _comment(name, "C.2.r.1.2 / C.2.r.1.4 reporter's given and family name")
    qualified = _el(person, "asQualifiedEntity", classCode="QUAL")
    _el(qualified, "code", code=QUALIFICATION[reporter.qualification], codeSystem=f"{ICH}.1.6")
    _comment(qualified, "C.2.r.4 qualification")
    if reporter.country:
        located = _el(person, "asLocatedEntity", classCode="LOCE")
        _el(_el(located, "location", classCode="COUNTRY", determinerCode="INSTANCE"), "code",
            code=reporter.country, codeSystem=ISO3166)
        _comment(located, "C.2.r.3 reporter's country code")
    organisation = _el(entity, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    inner = _el(_el(organisation, "assignedEntity", classCode="ASSIGNED"), "representedOrganization",
                classCode="ORG", determinerCode="INSTANCE")
    _el(inner, "name", reporter.organisation)
    _comment(inner, "C.2.r.2.1 reporter's organisation")


def _sender(event: etree._Element, snapshot: CaseSnapshot) -> None:
    entity = _el(_el(_el(event, "subjectOf1", typeCode="SUBJ"), "controlActEvent", classCode="CACT",
                     moodCode="EVN"), "author", typeCode="AUT")
    assigned = _el(entity, "assignedEntity", classCode="ASSIGNED")
    _el(assigned, "code", code=SENDER_TYPE_HEALTH_PROFESSIONAL, codeSystem=f"{ICH}.1.7")
    _comment(assigned, "C.3.1 sender type: 3 health professional")
    person = _el(assigned, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    given, family = _split_name(snapshot.signed_by or snapshot.reporter.name)
    name = _el(person, "name")
    if given:
        _el(name, "given", given)
    _el(name, "family", family)
    _comment(name, "C.3.3.3 / C.3.3.5 sender's given and family name")
    if snapshot.reporter.country:
        _el(_el(_el(person, "asLocatedEntity", classCode="LOCE"), "location", classCode="COUNTRY",
                determinerCode="INSTANCE"), "code", code=snapshot.reporter.country, codeSystem=ISO3166)
        _comment(person, "C.3.4.5 sender's country code")
    organisation = _el(assigned, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    inner = _el(_el(organisation, "assignedEntity", classCode="ASSIGNED"), "representedOrganization",
                classCode="ORG", determinerCode="INSTANCE")
    _el(inner, "name", snapshot.site_name)
    _comment(inner, "C.3.2 sender's organisation")


def _patient(role: etree._Element, snapshot: CaseSnapshot) -> None:
    patient = snapshot.patient
    player = _el(role, "player1", classCode="PSN", determinerCode="INSTANCE")
    _el(player, "name", nullFlavor="MSK")
    _comment(player, "D.1 patient (name or initials): masked, pvtrack is pseudonymous")
    if patient.sex in SEX:
        _el(player, "administrativeGenderCode", code=SEX[patient.sex], codeSystem=ISO5218)
    else:
        _el(player, "administrativeGenderCode", nullFlavor="UNK")
    _comment(player, "D.5 sex")
    death = _death_date(snapshot)
    if death:
        _el(player, "deceasedTime", value=hl7_ts(death))
        _comment(player, "D.9.1 date of death")
    identified = _el(player, "asIdentifiedEntity", classCode="IDENT")
    _el(identified, "id", root=ROOT_INVESTIGATION_NUMBER, extension=patient.identifier)
    _code(identified, "code", "4", f"{ICH}.1.4", "Investigation")
    _comment(identified, "D.1.1.4 patient investigation number")


def _death_date(snapshot: CaseSnapshot) -> str | None:
    fatal = [r for r in snapshot.reactions if r.outcome == "fatal"]
    return max((r.end for r in fatal if r.end), default=None)


def _study(role: etree._Element, snapshot: CaseSnapshot) -> None:
    if snapshot.study_type == "none":
        return
    study = _el(_el(role, "subjectOf1", typeCode="SBJ"), "researchStudy", classCode="CLNTRL", moodCode="EVN")
    _el(study, "code", code=STUDY_TYPE[snapshot.study_type], codeSystem=f"{ICH}.1.8")
    _comment(study, "C.5.4 study type where reaction(s) / event(s) were observed")
    if snapshot.study_name:
        _el(study, "title", snapshot.study_name)
        _comment(study, "C.5.2 study name")


def _patient_observations(role: etree._Element, snapshot: CaseSnapshot) -> None:
    patient = snapshot.patient
    if patient.age_years is not None:
        observation = _observation(role, "subjectOf2", "3", "age", "SBJ")
        _el(observation, "value", xsi_type="PQ", value=str(patient.age_years), unit="a")
        _comment(observation, "D.2.2a/b age at time of onset of reaction (years)")
    if patient.age_group in AGE_GROUP:
        observation = _observation(role, "subjectOf2", "4", "ageGroup", "SBJ")
        _el(observation, "value", xsi_type="CE", code=AGE_GROUP[patient.age_group], codeSystem=f"{ICH}.1.9")
        _comment(observation, "D.2.3 patient age group")
    if patient.weight_kg is not None:
        observation = _observation(role, "subjectOf2", "7", "bodyWeight", "SBJ")
        _el(observation, "value", xsi_type="PQ", value=f"{patient.weight_kg:g}", unit="kg")
        _comment(observation, "D.3 body weight (kg)")
    if patient.height_cm is not None:
        observation = _observation(role, "subjectOf2", "17", "height", "SBJ")
        _el(observation, "value", xsi_type="PQ", value=f"{patient.height_cm:g}", unit="cm")
        _comment(observation, "D.4 height (cm)")
    history = _history_text(snapshot)
    organizer = _el(_el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN")
    _code(organizer, "code", "1", ORGANIZER, "relevantMedicalHistoryAndConcurrentConditions")
    if history:
        text = _el(_el(organizer, "component", typeCode="COMP"), "observation", classCode="OBS", moodCode="EVN")
        _code(text, "code", "18", OBSERVATION, "historyAndConcurrentConditionText")
        _el(text, "value", history, xsi_type="ED")
        _comment(text, "D.7.2 text for relevant medical history and concurrent conditions")
    concomitant = _el(_el(organizer, "component", typeCode="COMP"), "observation", classCode="OBS", moodCode="EVN")
    _code(concomitant, "code", "11", OBSERVATION, "concomitantTherapy")
    _el(concomitant, "value", xsi_type="BL",
        value="true" if any(d.characterisation != "suspect" for d in snapshot.drugs) else "false")
    _comment(concomitant, "D.7.3 concomitant therapies")
    death = _death_date(snapshot)
    for reaction in snapshot.reactions:
        if death and reaction.outcome == "fatal":
            cause = _observation(role, "subjectOf2", "32", "reportedCauseOfDeath", "SBJ")
            value = _el(cause, "value", xsi_type="CE", code=reaction.meddra_llt_code, codeSystem=MEDDRA,
                        codeSystemVersion=reaction.meddra_version)
            _el(value, "originalText", as_reported(reaction))
            _comment(cause, "D.9.2.r.1b / D.9.2.r.2 reported cause of death")


def _history_text(snapshot: CaseSnapshot) -> str:
    patient = snapshot.patient
    lines = list(patient.medical_history)
    if patient.disease_status:
        lines.append(f"Disease status: {patient.disease_status}")
    for label, flag in (("Prior HSCT", patient.prior_hsct), ("Prior CAR-T", patient.prior_car_t)):
        if flag is not None:
            lines.append(f"{label}: {'yes' if flag else 'no'}")
    return "\n".join(lines)


def _reaction(role: etree._Element, snapshot: CaseSnapshot, reaction: Reaction) -> None:
    observation = _el(_el(role, "subjectOf2", typeCode="SBJ"), "observation", classCode="OBS", moodCode="EVN")
    _el(observation, "id", root=_uuid(snapshot, "reaction", reaction.adverse_event_id))
    _code(observation, "code", "29", OBSERVATION, "reaction")
    effective = _el(observation, "effectiveTime", xsi_type="IVL_TS")
    _el(effective, "low", value=hl7_ts(reaction.onset))
    if reaction.end:
        _el(effective, "high", value=hl7_ts(reaction.end))
    _comment(observation, "E.i.4 / E.i.5 date of start / end of reaction")
    value = _el(observation, "value", xsi_type="CE", code=reaction.meddra_llt_code, codeSystem=MEDDRA,
                codeSystemVersion=reaction.meddra_version)
    _el(value, "originalText", as_reported(reaction))
    _comment(observation, "E.i.2.1a/b MedDRA version and LLT code (CTCAE v5.0 term "
             f"{reaction.ctcae_term!r}); E.i.1.1a reaction as reported")
    if snapshot.reporter.country:
        place = _el(_el(_el(observation, "location", typeCode="LOC"), "locatedEntity", classCode="LOCE"),
                    "locatedPlace", classCode="COUNTRY", determinerCode="INSTANCE")
        _el(place, "code", code=snapshot.reporter.country, codeSystem=ISO3166)
        _comment(observation, "E.i.9 country where the reaction occurred")
    for code, field, name in SERIOUSNESS:
        criterion = _observation(observation, "outboundRelationship2", code, name)
        if getattr(reaction.seriousness, field):
            _el(criterion, "value", xsi_type="BL", value="true")
        else:
            _el(criterion, "value", xsi_type="BL", nullFlavor="NI")
    _comment(observation, "E.i.3.2a–f seriousness criteria (true or nullFlavor NI)")
    outcome = _observation(observation, "outboundRelationship2", "27", "outcome")
    _el(outcome, "value", xsi_type="CE", code=OUTCOME[reaction.outcome], codeSystem=f"{ICH}.1.11")
    _comment(outcome, "E.i.7 outcome at the time of last observation")
    confirmed = _observation(observation, "outboundRelationship2", "24", "medicalConfirmationByHealthProfessional")
    _el(confirmed, "value", xsi_type="BL", value="true")
    _comment(confirmed, "E.i.8 medical confirmation by healthcare professional")


def _labs(role: etree._Element, snapshot: CaseSnapshot) -> None:
    if not snapshot.labs:
        return
    organizer = _el(_el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN")
    _code(organizer, "code", "3", ORGANIZER, "testsAndProceduresRelevantToTheInvestigation")
    for lab in snapshot.labs:
        observation = _el(_el(organizer, "component", typeCode="COMP"), "observation", classCode="OBS",
                          moodCode="EVN")
        code = _el(observation, "code")
        _el(code, "originalText", lab.name)
        _comment(observation, "F.r.2.1 test name (free text)")
        _el(observation, "effectiveTime", value=hl7_ts(lab.date))
        _comment(observation, "F.r.1 test date")
        if lab.value is not None:
            value = _el(observation, "value", xsi_type="IVL_PQ")
            _el(value, "center", value=f"{lab.value:g}", unit=lab.unit)
            _comment(observation, "F.r.3.2 / F.r.3.3 test result and unit")
        for bound, interpretation, label in ((lab.low, "L", "F.r.4 normal low value"),
                                             (lab.high, "H", "F.r.5 normal high value")):
            if bound is None:
                continue
            reference = _el(_el(observation, "referenceRange", typeCode="REFV"), "observationRange",
                            classCode="OBS", moodCode="EVN.CRT")
            _el(reference, "value", xsi_type="PQ", value=f"{bound:g}", unit=lab.unit)
            _el(reference, "interpretationCode", code=interpretation, codeSystem="2.16.840.1.113883.5.83")
            _comment(reference, label)


def _drugs(role: etree._Element, snapshot: CaseSnapshot) -> None:
    organizer = _el(_el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN")
    _code(organizer, "code", "4", ORGANIZER, "drugInformation")
    for number, drug in enumerate(snapshot.drugs):
        _drug(organizer, snapshot, number, drug)


def _drug(organizer: etree._Element, snapshot: CaseSnapshot, number: int, drug: Drug) -> None:
    administration = _el(_el(organizer, "component", typeCode="COMP"), "substanceAdministration",
                         classCode="SBADM", moodCode="EVN")
    _el(administration, "id", root=_uuid(snapshot, "drug", number))
    product = _el(_el(_el(administration, "consumable", typeCode="CSM"), "instanceOfKind", classCode="INST"),
                  "kindOfProduct", classCode="MMAT", determinerCode="KIND")
    _el(product, "name", drug.name)
    _comment(product, "G.k.2.2 medicinal product name as reported by the primary source")
    for substance in filter(None, (s.strip() for s in drug.active_substance.split(";"))):
        ingredient = _el(_el(product, "ingredient", classCode="ACTI"), "ingredientSubstance", classCode="MMAT",
                         determinerCode="KIND")
        _el(ingredient, "name", substance)
        _comment(ingredient, "G.k.2.3.r.1 substance / specified substance name")
    for reaction, days in _intervals(snapshot, drug):
        interval = _el(administration, "outboundRelationship1", typeCode="SAS")
        _el(interval, "pauseQuantity", value=str(days), unit="d")
        _comment(interval, "G.k.9.i.3.1a/b time interval between beginning of drug administration and start of "
                 "reaction (days, from the dates)")
        _el(_el(interval, "actReference", classCode="OBS", moodCode="EVN"), "id",
            root=_uuid(snapshot, "reaction", reaction.adverse_event_id))
    for period in drug.dose_periods:
        dosage = _el(_el(administration, "outboundRelationship2", typeCode="COMP"), "substanceAdministration",
                     classCode="SBADM", moodCode="EVN")
        dose_unit, per = split_dose_unit(period.dose_unit)
        if dose_text(period):
            _el(dosage, "text", dose_text(period))
            _comment(dosage, "G.k.4.r.8 dosage text")
        if period.start or period.stop or per:
            effective = _el(dosage, "effectiveTime", xsi_type="SXPR_TS")
            if per:
                _el(_el(effective, "comp", xsi_type="PIVL_TS"), "period", value="1", unit=per)
                _comment(effective, "G.k.4.r.2 / G.k.4.r.3 number of units in the interval, interval unit")
            if period.start or period.stop:
                interval = _el(effective, "comp", xsi_type="IVL_TS", operator="A")
                if period.start:
                    _el(interval, "low", value=hl7_ts(period.start))
                if period.stop:
                    _el(interval, "high", value=hl7_ts(period.stop))
                _comment(effective, "G.k.4.r.4 / G.k.4.r.5 date and time of start / last administration")
        if period.route:
            route = _el(dosage, "routeCode")
            _el(route, "originalText", period.route)
            _comment(dosage, "G.k.4.r.10.1 route of administration (free text)")
        if period.dose_value is not None:
            _el(dosage, "doseQuantity", value=f"{period.dose_value:g}", unit=dose_unit)
            _comment(dosage, "G.k.4.r.1a / G.k.4.r.1b dose and unit (UCUM)")
        if period.batch:
            lot = _el(_el(_el(dosage, "consumable", typeCode="CSM"), "instanceOfKind", classCode="INST"),
                      "productInstanceInstance", classCode="MMAT", determinerCode="INSTANCE")
            _el(lot, "lotNumberText", period.batch)
            _comment(lot, "G.k.4.r.7 batch / lot number")
    for reaction_id, recurrence in _recurrences(snapshot, drug):
        observation = _observation(administration, "outboundRelationship2", "31", "recurranceOfReaction")
        _el(observation, "value", xsi_type="CE", code=recurrence, codeSystem=f"{ICH}.1.16")
        _comment(observation, "G.k.9.i.4 did reaction recur on re-administration")
        reference = _el(_el(observation, "outboundRelationship1", typeCode="REFR"), "actReference",
                        classCode="OBS", moodCode="EVN")
        _el(reference, "id", root=_uuid(snapshot, "reaction", reaction_id))
    additional = _additional_information(drug)
    if additional:
        observation = _observation(administration, "outboundRelationship2", "2", "additionalInformation", "REFR")
        _el(observation, "value", additional, xsi_type="ST")
        _comment(observation, "G.k.11 additional information on drug (free text)")
    if drug.indication:
        indication = _el(_el(administration, "inboundRelationship", typeCode="RSON"), "observation",
                         classCode="OBS", moodCode="EVN")
        _code(indication, "code", "19", OBSERVATION, "indication")
        value = _el(indication, "value", xsi_type="CE", codeSystem=MEDDRA)
        _el(value, "originalText", drug.indication)
        _comment(indication, "G.k.7.r.1 indication as reported by the primary source")
    act = _el(_el(administration, "inboundRelationship", typeCode="CAUS"), "act", classCode="ACT", moodCode="EVN")
    _el(act, "code", code=ACTION_TAKEN.get(drug.action_taken, "0"), codeSystem=f"{ICH}.1.15")
    _comment(act, "G.k.8 action(s) taken with drug")


def _intervals(snapshot: CaseSnapshot, drug: Drug) -> list[tuple[Reaction, int]]:
    """(reaction, days from the first administration's date to the onset date) for each reaction that began on or
    after the drug's first start; the site's calendar dates, so a reaction the day after the start is 1 day. None
    for a drug given to treat the reaction."""
    starts = [p.start[:10] for p in drug.dose_periods if p.start]
    if not starts or drug.characterisation == "treatment_of_event":  # given because of the reaction
        return []
    first = datetime.date.fromisoformat(min(starts))
    pairs = [(r, (datetime.date.fromisoformat(r.onset) - first).days) for r in snapshot.reactions]
    return [(reaction, days) for reaction, days in pairs if days >= 0]


def _recurrences(snapshot: CaseSnapshot, drug: Drug) -> list[tuple[int, str]]:
    code = RECURRENCE.get(drug.rechallenge)
    if code is None or drug.characterisation != "suspect":
        return []
    return [(reaction.adverse_event_id, code) for reaction in snapshot.reactions]


def _additional_information(drug: Drug) -> str:
    parts = []
    if drug.characterisation == "treatment_of_event":
        parts.append("Given to treat the reaction.")
    if drug.dechallenge in ("yes", "no"):
        parts.append(f"Dechallenge: the reaction {'abated' if drug.dechallenge == 'yes' else 'did not abate'} "
                     "after the drug was interrupted or stopped.")
    return " ".join(parts)

