"""Define-XML v2.1 describing the datasets of one export (CDISC Define-XML Specification v2.1).

Written with the standard library's ElementTree; :func:`define_validate` checks it against the Define-XML 2.1 XML
schema (``define2-1-0.xsd`` over ODM 1.3.2) that odmlib ships, with xmlschema, offline. Each dataset is an
``ItemGroupDef`` (OID ``IG.<name>``, the ``itemGroupOID`` of its Dataset-JSON file), each variable an ``ItemDef``
(``IT.<dataset>.<variable>``) with its origin; a variable that pvtrack leaves empty carries a ``def:CommentDef``
saying why; MedDRA-coded variables reference an external code list naming the MedDRA version used, or a comment
that no release was supplied.
"""

from __future__ import annotations

import datetime
from importlib import resources
from xml.etree import ElementTree as ET

from core.xml import tostring as xml_tostring
from reports.cdisc.meddra import MeddraRelease
from reports.cdisc.model import Dataset, Variable
from reports.cdisc.sdtm import NO_MEDDRA

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

STANDARDS = {"SDTMIG 3.4": ("STD.SDTMIG.3-4", "SDTMIG", "3.4", "Tabulation"),
             "ADaMIG 1.3": ("STD.ADAMIG.1-3", "ADaMIG", "1.3", "Analysis")}
CLASSES = {"AE": "EVENTS", "DM": "SPECIAL PURPOSE", "EX": "INTERVENTIONS", "LB": "FINDINGS",
           "ADAE": "OCCURRENCE DATA STRUCTURE"}
STRUCTURES = {"AE": "One record per adverse event per subject", "DM": "One record per subject",
              "EX": "One record per constant-dosing interval per subject",
              "LB": "One record per lab test per time point per subject",
              "ADAE": "One record per adverse event per subject"}
MEDDRA_VARIABLES = {"AEDECOD", "AEPTCD", "AEBODSYS", "AEBDSYCD", "AESOC", "AESOCCD", "AELLT", "AELLTCD"}
DATA_TYPES = {"text": "text", "integer": "integer", "float": "float", "date": "integer"}


def _o(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF}}}{tag}"


def _description(parent: ET.Element, text: str) -> None:
    description = ET.SubElement(parent, _o("Description"))
    ET.SubElement(description, _o("TranslatedText"), {XML_LANG: "en"}).text = text


def _length(var: Variable, dataset: Dataset) -> int:
    if var.type != "text":
        return 8
    return max([len(v) for v in dataset.column(var.name) if isinstance(v, str)] + [1])


def _item_type(var: Variable) -> str:
    if var.type == "text" and var.name.endswith("DTC"):
        return "text"  # ISO 8601 text; partial (BRTHDTC) and empty values occur, so not typed as date
    return DATA_TYPES[var.type]


def define_xml(datasets: list[Dataset], *, study_oid: str, study_name: str, created: datetime.datetime,
               file_format: str, meddra: MeddraRelease | None) -> bytes:
    """The Define-XML 2.1 document (UTF-8 bytes) describing ``datasets`` as files ``<name>.<file_format>``."""
    root = ET.Element(_o("ODM"), {
        "ODMVersion": "1.3.2", "FileType": "Snapshot", "FileOID": f"{study_oid}.DEFINE",
        "CreationDateTime": created.isoformat(timespec="seconds"), "Originator": "pvtrack",
        "SourceSystem": "pvtrack", _d("Context"): "Other"})
    study = ET.SubElement(root, _o("Study"), {"OID": study_oid})
    glob = ET.SubElement(study, _o("GlobalVariables"))
    ET.SubElement(glob, _o("StudyName")).text = study_name
    ET.SubElement(glob, _o("StudyDescription")).text = f"pvtrack adverse-event registry of {study_name}"
    ET.SubElement(glob, _o("ProtocolName")).text = study_name
    standard = {d.standard for d in datasets}
    mdv = ET.SubElement(study, _o("MetaDataVersion"), {
        "OID": "MDV.1", "Name": f"{study_name} {', '.join(sorted(standard))}", _d("DefineVersion"): "2.1.7"})
    standards = ET.SubElement(mdv, _d("Standards"))
    for name in sorted(standard):
        oid, std, version, _ = STANDARDS[name]
        ET.SubElement(standards, _d("Standard"), {"OID": oid, "Name": std, "Type": "IG", "Version": version,
                                                  "Status": "Final"})
    comments: dict[str, str] = {}
    items: list[ET.Element] = []
    for dataset in datasets:
        oid, _, _, purpose = STANDARDS[dataset.standard]
        group = ET.SubElement(mdv, _o("ItemGroupDef"), {
            "OID": f"IG.{dataset.name}", "Name": dataset.name, "SASDatasetName": dataset.name, "Repeating":
            "No" if dataset.name == "DM" else "Yes", "IsReferenceData": "No", "Purpose": purpose,
            _d("Structure"): STRUCTURES.get(dataset.name, "One record per record"), _d("StandardOID"): oid,
            _d("ArchiveLocationID"): f"LF.{dataset.name}"})
        if dataset.notes:
            comments[f"COM.{dataset.name}"] = " ".join(dataset.notes)
            group.set(_d("CommentOID"), f"COM.{dataset.name}")
        _description(group, dataset.label)
        for order, var in enumerate(dataset.variables, start=1):
            attrs = {"ItemOID": f"IT.{dataset.name}.{var.name}", "OrderNumber": str(order),
                     "Mandatory": "Yes" if var.name in dataset.keys else "No"}
            if var.name in dataset.keys:
                attrs["KeySequence"] = str(dataset.keys.index(var.name) + 1)
            ET.SubElement(group, _o("ItemRef"), attrs)
        ET.SubElement(group, _d("Class"), {"Name": CLASSES.get(dataset.name, "EVENTS")})
        leaf = ET.SubElement(group, _d("leaf"), {"ID": f"LF.{dataset.name}",
                                                 f"{{{XLINK}}}href": f"{dataset.name.lower()}.{file_format}"})
        ET.SubElement(leaf, _d("title")).text = f"{dataset.name.lower()}.{file_format}"
        for var in dataset.variables:
            item = ET.Element(_o("ItemDef"), {"OID": f"IT.{dataset.name}.{var.name}", "Name": var.name,
                                              "DataType": _item_type(var), "SASFieldName": var.name})
            if _item_type(var) in ("text", "integer", "float"):
                item.set("Length", str(_length(var, dataset)))
            if var.display_format:
                item.set(_d("DisplayFormat"), var.display_format)
            note = var.empty_reason
            if var.name in MEDDRA_VARIABLES and meddra is None and var.name in ("AEDECOD", "AEPTCD", "AEBDSYCD",
                                                                                "AESOCCD"):
                note = NO_MEDDRA
            if note:
                comments[f"COM.{dataset.name}.{var.name}"] = f"Empty: {note}" if var.empty_reason else note
                item.set(_d("CommentOID"), f"COM.{dataset.name}.{var.name}")
            _description(item, var.label)
            if var.name in ("AEDECOD", "AEBODSYS") and meddra is not None:
                ET.SubElement(item, _o("CodeListRef"), {"CodeListOID": "CL.MEDDRA"})
            origin = ET.SubElement(item, _d("Origin"), {
                "Type": "Predecessor" if dataset.standard.startswith("ADaM") and "AE." in var.source else "Derived"})
            _description(origin, var.source or "pvtrack")
            items.append(item)
    mdv.extend(items)
    if meddra is not None:
        codelist = ET.SubElement(mdv, _o("CodeList"), {"OID": "CL.MEDDRA", "Name": "MedDRA", "DataType": "text"})
        ET.SubElement(codelist, _o("ExternalCodeList"), {"Dictionary": "MedDRA", "Version": meddra.version})
    for oid, text in comments.items():
        comment = ET.SubElement(mdv, _d("CommentDef"), {"OID": oid})
        _description(comment, text)
    return xml_tostring(root, default_namespace=ODM, encoding="utf-8", xml_declaration=True)


def define_validate(document: bytes) -> list[str]:
    """Problems the Define-XML 2.1 schema finds in ``document`` (empty when it is valid). Offline: the schema files
    are odmlib's copies."""
    import xmlschema

    schema_file = resources.files("odmlib.schemas") / "define" / "2.1" / "define2-1-0.xsd"
    with resources.as_file(schema_file) as path:
        schema = xmlschema.XMLSchema(str(path))
    return [str(error.reason or error.message) + f" ({error.path})" for error in schema.iter_errors(document)]
