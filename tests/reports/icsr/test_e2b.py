"""ICH E2B(R3) writer: mandatory elements, ICH code lists, and a round trip through an independent reader.

No copy of the ICH schema (``MCCI_IN200100UV01.xsd`` and the HL7 v3 coreschemas) is on any package registry this
project can reach (PyPI, npm: searched for "e2b", "icsr", "MCCI_IN200100UV01"), so the message is checked as
docs/icsr.md says: every mandatory element of the ICH implementation guide is present and filled, every coded
value is in its ICH code list, and :func:`read_back` — plain lxml XPath over the HL7 namespace, sharing no code
with the writer — recovers the snapshot's key values.
"""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from ae.sae.snapshot import Reaction
from reports.icsr import IcsrError, e2b
from tests.reports.icsr.factories import crs_follow_up, crs_initial, fatal_icans

NS = {"hl7": "urn:hl7-org:v3", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
OBS = "2.16.840.1.113883.3.989.2.1.1.19"
INV = "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:controlActProcess/hl7:subject/hl7:investigationEvent"
ROLE = f"{INV}/hl7:component/hl7:adverseEventAssessment/hl7:subject1/hl7:primaryRole"
REACTIONS = f"{ROLE}/hl7:subjectOf2/hl7:observation[hl7:code[@code='29'][@codeSystem='{OBS}']]"
DRUGS = (f"{ROLE}/hl7:subjectOf2/hl7:organizer[hl7:code[@code='4']]/hl7:component/hl7:substanceAdministration")
ASSESSMENTS = f"{INV}/hl7:component/hl7:adverseEventAssessment/hl7:component/hl7:causalityAssessment"

# Mandatory elements of the ICH E2B(R3) implementation guide (ICH 2016, section 3 conformance "Required"), with
# the XPath of each in the message and the attribute that must be filled ("text" = element text).
MANDATORY = [
    ("N.1.1 type of messages in batch", "/hl7:MCCI_IN200100UV01/hl7:name", "code"),
    ("N.1.2 batch number", "/hl7:MCCI_IN200100UV01/hl7:id", "extension"),
    ("N.1.3 batch sender identifier", "/hl7:MCCI_IN200100UV01/hl7:sender/hl7:device/hl7:id", "extension"),
    ("N.1.5 date of batch transmission", "/hl7:MCCI_IN200100UV01/hl7:creationTime", "value"),
    ("N.2.r.1 message identifier", "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:id", "extension"),
    ("N.2.r.2 message sender identifier",
     "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:sender/hl7:device/hl7:id", "extension"),
    ("N.2.r.4 date of message creation", "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:creationTime", "value"),
    ("C.1.1 sender's safety report unique identifier",
     f"{INV}/hl7:id[@root='2.16.840.1.113883.3.989.2.1.3.1']", "extension"),
    ("C.1.2 date of creation",
     "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:controlActProcess/hl7:effectiveTime", "value"),
    ("C.1.3 type of report",
     f"{INV}/hl7:subjectOf2/hl7:investigationCharacteristic[hl7:code[@code='1']]/hl7:value", "code"),
    ("C.1.4 date report was first received from source", f"{INV}/hl7:effectiveTime/hl7:low", "value"),
    ("C.1.5 date of most recent information", f"{INV}/hl7:availabilityTime", "value"),
    ("C.1.7 fulfil local criteria for an expedited report",
     f"{INV}/hl7:component/hl7:observationEvent[hl7:code[@code='23']]/hl7:value", "value"),
    ("C.1.8.1 worldwide unique case identification number",
     f"{INV}/hl7:id[@root='2.16.840.1.113883.3.989.2.1.3.2']", "extension"),
    ("C.1.9.1 other case identifiers in previous transmissions",
     f"{INV}/hl7:subjectOf2/hl7:investigationCharacteristic[hl7:code[@code='2']]/hl7:value", "value"),
    ("C.2.r.4 qualification", f"{INV}/hl7:outboundRelationship/hl7:relatedInvestigation//hl7:asQualifiedEntity/"
     "hl7:code", "code"),
    ("C.2.r.5 primary source for regulatory purposes", f"{INV}/hl7:outboundRelationship/hl7:priorityNumber",
     "value"),
    ("C.3.1 sender type", f"{INV}/hl7:subjectOf1/hl7:controlActEvent/hl7:author/hl7:assignedEntity/hl7:code",
     "code"),
    ("C.3.2 sender's organisation",
     f"{INV}/hl7:subjectOf1//hl7:representedOrganization/hl7:assignedEntity/hl7:representedOrganization/hl7:name",
     "text"),
    ("D.1 patient (name or initials)", f"{ROLE}/hl7:player1/hl7:name", "nullFlavor"),
    ("D.5 sex", f"{ROLE}/hl7:player1/hl7:administrativeGenderCode", "code"),
    ("E.i.2.1a MedDRA version for reaction", f"{REACTIONS}/hl7:value", "codeSystemVersion"),
    ("E.i.2.1b reaction (MedDRA code)", f"{REACTIONS}/hl7:value", "code"),
    ("E.i.1.1a reaction as reported", f"{REACTIONS}/hl7:value/hl7:originalText", "text"),
    ("E.i.7 outcome", f"{REACTIONS}/hl7:outboundRelationship2/hl7:observation[hl7:code[@code='27']]/hl7:value",
     "code"),
    ("G.k.1 characterisation of drug role",
     f"{ASSESSMENTS}[hl7:code[@code='20']]/hl7:value", "code"),
    ("G.k.2.2 medicinal product name as reported",
     f"{DRUGS}/hl7:consumable/hl7:instanceOfKind/hl7:kindOfProduct/hl7:name", "text"),
    ("H.1 case narrative", f"{INV}/hl7:text", "text"),
]

# ICH code lists (OID → allowed codes), from the ICH E2B(R3) implementation guide's code-list appendix
CODE_LISTS = {
    "2.16.840.1.113883.3.989.2.1.1.1": {"1", "2", "3"},  # N.1.1
    "2.16.840.1.113883.3.989.2.1.1.2": {"1", "2", "3", "4"},  # C.1.3 report type
    "2.16.840.1.113883.3.989.2.1.1.4": {"1", "2", "3", "4"},  # D.1.1.x record number source
    "2.16.840.1.113883.3.989.2.1.1.6": {"1", "2", "3", "4", "5"},  # C.2.r.4 qualification
    "2.16.840.1.113883.3.989.2.1.1.7": {"1", "2", "3", "4", "5", "6", "7"},  # C.3.1 sender type
    "2.16.840.1.113883.3.989.2.1.1.8": {"1", "2", "3"},  # C.5.4 study type
    "2.16.840.1.113883.3.989.2.1.1.9": {"0", "1", "2", "3", "4", "5", "6"},  # D.2.3 age group
    "2.16.840.1.113883.3.989.2.1.1.11": {"0", "1", "2", "3", "4", "5"},  # E.i.7 outcome
    "2.16.840.1.113883.3.989.2.1.1.13": {"1", "2", "3", "4"},  # G.k.1 characterisation
    "2.16.840.1.113883.3.989.2.1.1.15": {"0", "1", "2", "3", "4", "9"},  # G.k.8 action taken
    "2.16.840.1.113883.3.989.2.1.1.16": {"1", "2", "3", "4"},  # G.k.9.i.4 recurrence
    "2.16.840.1.113883.3.989.2.1.1.21": {"1", "2", "3"},  # author of a comment: sender, reporter, source
    "2.16.840.1.113883.3.989.2.1.1.22": {"1", "2"},  # related investigation: initial report, source report
    "2.16.840.1.113883.3.989.2.1.1.23": {"1", "2", "3", "4"},  # investigation characteristic
    "1.0.5218": {"1", "2"},  # D.5 sex (ISO 5218; unknown is a nullFlavor)
}
SERIOUSNESS_CODES = {"34": "death", "21": "life_threatening", "33": "hospitalisation", "35": "disability",
                     "12": "congenital_anomaly", "26": "other_medically_important"}


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def _one(node: etree._Element, path: str) -> etree._Element:
    found = node.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} nodes"
    return found[0]


def read_back(xml: bytes) -> dict:
    """An independent reader: the key values of an E2B(R3) message, by XPath only."""
    root = parse(xml)
    reactions = {}
    for node in root.xpath(REACTIONS, namespaces=NS):
        value = _one(node, "hl7:value")
        criteria = {}
        for code, name in SERIOUSNESS_CODES.items():
            criterion = _one(node, f"hl7:outboundRelationship2/hl7:observation[hl7:code[@code='{code}']]/hl7:value")
            criteria[name] = criterion.get("value") == "true"
        high = node.xpath("hl7:effectiveTime/hl7:high/@value", namespaces=NS)
        reactions[_one(node, "hl7:id").get("root")] = {
            "llt": value.get("code"), "meddra_version": value.get("codeSystemVersion"),
            "as_reported": _one(value, "hl7:originalText").text,
            "onset": _one(node, "hl7:effectiveTime/hl7:low").get("value"), "end": high[0] if high else None,
            "outcome": _one(node, "hl7:outboundRelationship2/hl7:observation[hl7:code[@code='27']]/hl7:value")
            .get("code"),
            "criteria": criteria,
        }
    drugs = {}
    for node in root.xpath(DRUGS, namespaces=NS):
        doses = []
        for dose in node.xpath("hl7:outboundRelationship2[@typeCode='COMP']/hl7:substanceAdministration",
                               namespaces=NS):
            quantity = dose.xpath("hl7:doseQuantity", namespaces=NS)
            doses.append({
                "value": quantity[0].get("value") if quantity else None,
                "unit": quantity[0].get("unit") if quantity else None,
                "per": dose.xpath("string(hl7:effectiveTime/hl7:comp[@xsi:type='PIVL_TS']/hl7:period/@unit)",
                                  namespaces=NS),
                "start": dose.xpath("string(hl7:effectiveTime/hl7:comp[@xsi:type='IVL_TS']/hl7:low/@value)",
                                    namespaces=NS),
                "stop": dose.xpath("string(hl7:effectiveTime/hl7:comp[@xsi:type='IVL_TS']/hl7:high/@value)",
                                   namespaces=NS),
                "route": dose.xpath("string(hl7:routeCode/hl7:originalText)", namespaces=NS),
                "text": dose.xpath("string(hl7:text)", namespaces=NS),
                "batch": dose.xpath("string(.//hl7:lotNumberText)", namespaces=NS),
            })
        drugs[_one(node, "hl7:id").get("root")] = {
            "name": _one(node, "hl7:consumable/hl7:instanceOfKind/hl7:kindOfProduct/hl7:name").text,
            "doses": doses,
            "action": node.xpath("string(hl7:inboundRelationship[@typeCode='CAUS']/hl7:act/hl7:code/@code)",
                                 namespaces=NS),
        }
    for node in root.xpath(f"{ASSESSMENTS}[hl7:code[@code='20']]", namespaces=NS):
        drug_id = _one(node, "hl7:subject2/hl7:productUseReference/hl7:id").get("root")
        drugs[drug_id]["characterisation"] = _one(node, "hl7:value").get("code")
    causality = [
        {"result": _one(node, "hl7:value").text,
         "method": _one(node, "hl7:methodCode/hl7:originalText").text,
         "source": _one(node, "hl7:author/hl7:assignedEntity/hl7:code/hl7:originalText").text,
         "reaction": reactions[_one(node, "hl7:subject1/hl7:adverseEffectReference/hl7:id").get("root")]["llt"],
         "drug": drugs[_one(node, "hl7:subject2/hl7:productUseReference/hl7:id").get("root")]["name"]}
        for node in root.xpath(f"{ASSESSMENTS}[hl7:code[@code='39']]", namespaces=NS)
    ]
    comments = {
        _one(node, "hl7:author/hl7:assignedEntity/hl7:code").get("code"): _one(node, "hl7:value").text
        for node in root.xpath(f"{INV}/hl7:component/hl7:adverseEventAssessment/hl7:component1/"
                               "hl7:observationEvent", namespaces=NS)
    }
    age = root.xpath(f"{ROLE}/hl7:subjectOf2/hl7:observation[hl7:code[@code='3']]/hl7:value", namespaces=NS)
    return {
        "case_id": _one(root, f"{INV}/hl7:id[@root='2.16.840.1.113883.3.989.2.1.3.1']").get("extension"),
        "message_id": _one(root, "/hl7:MCCI_IN200100UV01/hl7:PORR_IN049016UV/hl7:id").get("extension"),
        "created": _one(root, "//hl7:controlActProcess/hl7:effectiveTime").get("value"),
        "awareness": _one(root, f"{INV}/hl7:effectiveTime/hl7:low").get("value"),
        "latest": _one(root, f"{INV}/hl7:availabilityTime").get("value"),
        "report_type": _one(root, f"{INV}/hl7:subjectOf2/hl7:investigationCharacteristic[hl7:code[@code='1']]/"
                                  "hl7:value").get("code"),
        "expedited": _one(root, f"{INV}/hl7:component/hl7:observationEvent[hl7:code[@code='23']]/hl7:value")
        .get("value"),
        "narrative": _one(root, f"{INV}/hl7:text").text,
        "sex": _one(root, f"{ROLE}/hl7:player1/hl7:administrativeGenderCode").get("code"),
        "age": (age[0].get("value"), age[0].get("unit")) if age else None,
        "patient_id": root.xpath(f"string({ROLE}/hl7:player1/hl7:asIdentifiedEntity/hl7:id/@extension)",
                                 namespaces=NS),
        "deceased": root.xpath(f"string({ROLE}/hl7:player1/hl7:deceasedTime/@value)", namespaces=NS),
        "cause_of_death": root.xpath(f"string({ROLE}/hl7:subjectOf2/hl7:observation[hl7:code[@code='32']]/"
                                     "hl7:value/@code)", namespaces=NS),
        "study_type": root.xpath(f"string({ROLE}/hl7:subjectOf1/hl7:researchStudy/hl7:code/@code)", namespaces=NS),
        "reactions": list(reactions.values()),
        "drugs": list(drugs.values()),
        "causality": causality,
        "reporter_comments": comments.get("3"),
        "sender_comments": comments.get("1"),
    }


@pytest.mark.parametrize("factory", [crs_initial, crs_follow_up, fatal_icans])
def test_every_mandatory_element_is_present_and_filled(factory):
    root = parse(e2b.render(factory()))
    for element, path, attribute in MANDATORY:
        nodes = root.xpath(path, namespaces=NS)
        assert nodes, f"{element} missing ({path})"
        for node in nodes:
            value = node.text if attribute == "text" else node.get(attribute)
            assert value and value.strip(), f"{element} is empty"


@pytest.mark.parametrize("factory", [crs_initial, crs_follow_up, fatal_icans])
def test_every_coded_value_is_in_its_ich_code_list(factory):
    root = parse(e2b.render(factory()))
    checked = 0
    for node in root.iter():
        system = node.get("codeSystem") if isinstance(node.tag, str) else None
        if system in CODE_LISTS and node.get("code") is not None:
            assert node.get("code") in CODE_LISTS[system], (system, node.get("code"))
            checked += 1
    assert checked >= 10
    # E.i.3.2: each seriousness criterion is true or nullFlavor NI, never false (ICH implementation guide)
    for node in root.xpath(f"{REACTIONS}/hl7:outboundRelationship2/hl7:observation[hl7:code[@code='34' or "
                           "@code='21' or @code='33' or @code='35' or @code='12' or @code='26']]/hl7:value",
                           namespaces=NS):
        assert (node.get("value"), node.get("nullFlavor")) in {("true", None), (None, "NI")}


def test_round_trip_of_the_initial_crs_report():
    snapshot = crs_initial()
    back = read_back(e2b.render(snapshot))
    assert back["case_id"] == "PL-PVTRACK-PVT-KRK-2026-0007"
    assert back["message_id"] == "PL-PVTRACK-PVT-KRK-2026-0007-V1"
    assert back["created"] == "20260304093000+0100"
    assert back["awareness"] == "20260303161000+0100"  # the site's offset kept, not converted
    assert back["latest"] == "20260303224000+0100"
    assert back["report_type"] == "1"  # spontaneous: outside a study
    assert back["expedited"] == "false"  # not a SUSAR (CRS is expected)
    assert back["narrative"] == snapshot.narrative
    assert (back["sex"], back["age"], back["patient_id"]) == ("1", ("7", "a"), "KRK-0042")
    assert back["deceased"] == "" and back["cause_of_death"] == ""
    [crs] = back["reactions"]
    assert crs == {"llt": "10052015", "meddra_version": "20.1",
                   "as_reported": "CRS gr 4 - hypotension on adrenaline, high-flow O2",
                   "onset": "20260303", "end": None, "outcome": "2",
                   "criteria": {"death": False, "life_threatening": True, "hospitalisation": True,
                                "disability": False, "congenital_anomaly": False,
                                "other_medically_important": False}}
    blinatumomab = back["drugs"][0]
    assert blinatumomab["name"] == "Blincyto" and blinatumomab["characterisation"] == "1"
    assert blinatumomab["action"] == "1"  # withdrawn
    assert blinatumomab["doses"] == [{"value": "5", "unit": "ug/m2", "per": "d", "start": "20260302100000+0100",
                                      "stop": "20260303163000+0100", "route": "Continuous intravenous infusion",
                                      "batch": "1234567A",
                                      "text": "5 ug/m2/d, Continuous intravenous infusion, cycle 1"}]
    assert [d["characterisation"] for d in back["drugs"]] == ["1", "2", "2", "2"]
    assert back["causality"] == [{"result": "Related", "method": "Global introspection", "source": "investigator",
                                  "reaction": "10052015", "drug": "Blincyto"}]
    assert back["reporter_comments"] == snapshot.reporter_comments
    assert "CTCAE v5.0 is built on MedDRA version 20.1" in back["sender_comments"]
    assert "Cytokine release syndrome, grade 4 (CTCAE v5.0); cycle 1, day 2" in back["sender_comments"]


def test_follow_up_keeps_the_case_identifier_and_says_what_changed():
    initial, follow_up = read_back(e2b.render(crs_initial())), read_back(e2b.render(crs_follow_up()))
    assert follow_up["case_id"] == initial["case_id"]
    assert follow_up["message_id"] != initial["message_id"]
    [crs] = follow_up["reactions"]
    assert (crs["end"], crs["outcome"]) == ("20260306", "1")  # recovered
    assert "outcome recovering → recovered" in follow_up["sender_comments"]
    assert follow_up["latest"] == "20260306120000+0100"


def test_fatal_case_fills_death_and_study_elements():
    back = read_back(e2b.render(fatal_icans()))
    assert back["deceased"] == "20260516"
    assert back["cause_of_death"] == "10014625"
    assert back["report_type"] == "2" and back["study_type"] == "2"  # individual patient use
    icans, seizure = back["reactions"]
    assert icans["outcome"] == "5" and icans["criteria"]["death"] is True and icans["as_reported"] == "ICANS"
    assert seizure["criteria"] == {"death": False, "life_threatening": False, "hospitalisation": False,
                                   "disability": False, "congenital_anomaly": False,
                                   "other_medically_important": True}
    assert {(c["reaction"], c["result"]) for c in back["causality"]} == {("10014625", "Related"),
                                                                       ("10039906", "Possibly related")}
    assert back["sex"] == "2" and back["age"] == ("14", "a")


def test_markup_in_free_text_is_escaped_and_survives():
    snapshot = dataclasses.replace(crs_initial(), narrative="CRP <5 & ferritin > 4000 \"high\" </text>")
    assert read_back(e2b.render(snapshot))["narrative"] == snapshot.narrative


def test_output_is_deterministic():
    assert e2b.render(fatal_icans()) == e2b.render(fatal_icans())


def test_receiver_identifier_is_used_when_given():
    root = parse(e2b.render(crs_initial(), receiver_id="EVHUMAN"))
    assert root.xpath("/hl7:MCCI_IN200100UV01/hl7:receiver/hl7:device/hl7:id/@extension", namespaces=NS) == [
        "EVHUMAN"]
    unknown = parse(e2b.render(crs_initial()))
    assert unknown.xpath("/hl7:MCCI_IN200100UV01/hl7:receiver/hl7:device/hl7:id/@nullFlavor", namespaces=NS) == [
        "NI"]


def _without_suspect():
    case = crs_initial()
    return dataclasses.replace(case, drugs=case.drugs[1:])


def _two_suspects():
    case = crs_initial()
    return dataclasses.replace(case, drugs=(case.drugs[0], dataclasses.replace(case.drugs[1],
                                                                              characterisation="suspect")))


def _reaction(**changes) -> object:
    case = crs_initial()
    reaction: Reaction = dataclasses.replace(case.reactions[0], **changes)
    return dataclasses.replace(case, reactions=(reaction,))


@pytest.mark.parametrize(("make", "message"), [
    (_without_suspect, "G.k.1: a case needs exactly one suspect drug, found 0"),
    (_two_suspects, "found 2"),
    (lambda: dataclasses.replace(crs_initial(), reactions=()), "E.i: the case has no reaction"),
    (lambda: _reaction(meddra_llt_code=""), "E.i.2.1b"),
    (lambda: _reaction(meddra_version=""), "E.i.2.1a"),
    (lambda: _reaction(onset="03/03/2026"), "E.i.4"),
    (lambda: _reaction(grade=6), "grade 6"),
    (lambda: dataclasses.replace(crs_initial(), awareness_at="2026-03-03T16:10:00"), "no UTC offset"),
    (lambda: dataclasses.replace(crs_initial(), case_id=" "), "C.1.1"),
    (lambda: _reaction(end="2026-03-02"), "E.i.5: reaction 1 (Cytokine release syndrome) ends before its onset"),
    (lambda: _reaction(outcome="better"), "E.i.7: reaction 1 has the unknown outcome 'better'"),
    (lambda: dataclasses.replace(crs_initial(), study_type="trial"), "C.1.3: unknown value 'trial'"),
    (lambda: dataclasses.replace(crs_initial(), awareness_at=""), "C.1.4: '' is not an ISO 8601"),
    (lambda: dataclasses.replace(crs_initial(), labs=(dataclasses.replace(crs_initial().labs[0], date=""),)),
     "F.r.1 (C-reactive protein)"),
])
def test_a_case_that_cannot_make_a_report_is_refused_with_the_element(make, message):
    with pytest.raises(IcsrError, match=message.replace("(", r"\(").replace(")", r"\)")):
        e2b.render(make())


def test_a_case_without_narrative_is_refused():
    with pytest.raises(IcsrError, match="H.1"):
        e2b.render(dataclasses.replace(crs_initial(), narrative=" \x00 "))


def test_time_from_first_administration_to_onset():
    """G.k.9.i.3.1: CRS on 3 March after the infusion began on 2 March is 1 day; co-trimoxazole began on 20 February
    (11 days); the fatal case's ICANS began 2 days after cycle 2 started (11 → 13 May)."""
    def intervals(snapshot):
        root = parse(e2b.render(snapshot))
        found = {}
        for drug in root.xpath(DRUGS, namespaces=NS):
            name = drug.xpath("string(hl7:consumable/hl7:instanceOfKind/hl7:kindOfProduct/hl7:name)", namespaces=NS)
            for pause in drug.xpath("hl7:outboundRelationship1[@typeCode='SAS']/hl7:pauseQuantity", namespaces=NS):
                found.setdefault(name, []).append((pause.get("value"), pause.get("unit")))
        return found

    crs = intervals(crs_initial())
    assert crs["Blincyto"] == [("1", "d")] and crs["Co-trimoxazole"] == [("11", "d")]
    assert "RoActemra" not in crs  # given to treat the reaction: no interval
    assert intervals(fatal_icans()) == {"Blincyto": [("2", "d"), ("3", "d")]}  # ICANS day 3, seizure day 4
