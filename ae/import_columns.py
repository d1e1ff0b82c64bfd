"""The columns of a sample import file and the mapping they suggest (pure Python; docs/import.md, "The mapping page").

``sample_columns(raw, source)`` reads only what names a source's columns — a CSV file's header line, an ODM 1.3
file's ``ItemDef`` OIDs (its ``MetaDataVersion``) or, when the file has no metadata, the ``ItemOID`` of its
``ItemData`` — streaming: the CSV reader stops after the header, the ODM reader after the metadata (or streams the
clinical data element by element, clearing each item group). A multi-megabyte file costs one header's memory.

``suggest_mapping(template, available, saved)`` pre-selects, per template column, the source column a ward data
manager would pick: the saved mapping's choice first, then a column of the same name (ignoring case, spaces and
punctuation: "Onset date" is ``onset_date``), then a known name of another source (:data:`ALIASES`). Each source
column is suggested for one template column at most.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ae.import_sources import ODM_NS, header_delimiter

#: A sample with more columns than this is refused (use the text form): the picker shows one <select> per template
#: column with every column as an option.
MAX_SAMPLE_COLUMNS = 1000
#: The header of a CSV sample must end within this many characters (a header line, not a whole file).
MAX_HEADER_CHARS = 1 << 20
#: The columns ``ae.import_sources.odm_rows`` gives every ODM row besides its items (ODM 1.3.2 §3.1.4).
ODM_CONTEXT = ("SubjectKey", "StudyEventOID", "StudyEventRepeatKey", "FormOID", "ItemGroupOID",
               "ItemGroupRepeatKey")

#: Names other sources give a template column, in order of preference. Sources: the REDCap AE instrument mapping of
#: docs/import.md (``record_id``, ``ae_term``, ``ae_grade``, ``ae_onset``, ``ae_resolved``, ``ae_attrib``,
#: ``ae_action``, ``ae_outcome``, ``ae_cycle``; ``record_id`` is REDCap's record identifier field); ODM 1.3.2
#: ``SubjectData/@SubjectKey``; the SDTMIG v3.4 AE and DM variables as pvtrack's own SDTM export writes them
#: (reports/cdisc/sdtm.py, docs/cdisc.md): AELLT is the CTCAE term (a MedDRA LLT), AETERM the reported term,
#: AETOXGR the grade, AESTDTC/AEENDTC onset and end, AEREL, AEACN, AEOUT. AETERM is ambiguous — SDTM's reported
#: (verbatim) term, which the ODM example of docs/import.md maps to ``ctcae_term``: it is suggested for
#: ``ctcae_term`` when the file has no AELLT, otherwise for ``verbatim_term`` (docs/import.md records both readings).
#: Keys ignore case and punctuation, so REDCap's ``ae_term`` and SDTM's ``AETERM`` are one name.
ALIASES: dict[str, tuple[str, ...]] = {
    "study_id": ("record_id", "SubjectKey", "USUBJID", "SUBJID"),
    "cycle": ("ae_cycle",),
    "ctcae_term": ("AELLT", "ae_term"),  # ae_term's key (no case, no punctuation) is also SDTM's AETERM
    "grade": ("ae_grade", "AETOXGR"),
    "onset_date": ("ae_onset", "AESTDTC"),
    "resolution_date": ("ae_resolved", "AEENDTC"),
    "verbatim_term": ("AETERM",),
    "relatedness": ("ae_attrib", "AEREL"),
    "action_taken": ("ae_action", "AEACN"),
    "outcome": ("ae_outcome", "AEOUT"),
}


class SampleFileError(ValueError):
    """The sample file's columns cannot be read (not UTF-8 CSV, not well-formed ODM, no header, too many columns)."""


@dataclass(frozen=True)
class SampleColumn:
    """A column of the sample: ``name`` as the import reads it (CSV header, ItemOID, ODM context attribute) and a
    ``label`` to show beside it (an ItemDef's Name; empty for CSV)."""

    name: str
    label: str = ""


def _limited_lines(text: IO[str]) -> Iterator[str]:
    read = 0
    while line := text.readline(MAX_HEADER_CHARS):
        read += len(line)
        if read >= MAX_HEADER_CHARS:
            raise SampleFileError(f"the header does not end within the first {MAX_HEADER_CHARS:,} characters: "
                                  "is this a CSV file?")
        yield line


def _csv_columns(raw: IO[bytes]) -> list[SampleColumn]:
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        lines = _limited_lines(text)
        first = next(lines, "")
        header = next(csv.reader(itertools.chain([first], lines), delimiter=header_delimiter(first)), None)
    except UnicodeDecodeError as exc:
        raise SampleFileError("the file is not UTF-8 text (save the sheet as CSV UTF-8)") from exc
    except csv.Error as exc:
        raise SampleFileError(f"the file is not readable CSV: {exc}") from exc
    finally:
        text.detach()  # leave the upload open (and rewindable) for the caller
    names = [h.strip() for h in header or [] if h.strip()]
    if not names:
        raise SampleFileError("the file has no header line")
    return [SampleColumn(n) for n in dict.fromkeys(names)]


def _odm_columns(raw: IO[bytes]) -> list[SampleColumn]:
    defined: dict[str, str] = {}
    used: dict[str, str] = {}
    open_elements: list[Any] = []
    try:
        for event, element in iterparse(raw, events=("start", "end")):
            tag = element.tag.removeprefix(ODM_NS)
            if event == "start":
                if tag == "ClinicalData" and defined:
                    break  # the metadata named every item: the clinical data is not read
                if tag == "ItemData":
                    used.setdefault(element.get("ItemOID", ""), "")
                open_elements.append(element)
                continue
            open_elements.pop()
            if tag == "ItemDef":
                defined.setdefault(element.get("OID", ""), element.get("Name", ""))
            if tag in ("ItemDef", "ItemGroupData", "SubjectData") and open_elements:
                open_elements[-1].remove(element)  # read: dropped from the tree, which stays small
    except ParseError as exc:
        raise SampleFileError(f"the file is not well-formed ODM XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise SampleFileError(f"the ODM file declares entities or a DTD, which pvtrack refuses: {exc!r}") from exc
    items = {k: v for k, v in (defined or used).items() if k}
    if not items:
        raise SampleFileError("the ODM file names no items (no ItemDef and no ItemData)")
    return [SampleColumn(n) for n in ODM_CONTEXT] + [SampleColumn(oid, name if name != oid else "")
                                                     for oid, name in items.items()]


def sample_columns(raw: IO[bytes], source: str) -> list[SampleColumn]:
    """The columns of the sample file ``raw`` (binary, read from its start) of ``source`` ("csv", "redcap_csv" or
    "odm"), in the file's order, without duplicates. Reads only the header (CSV) or the metadata / item OIDs (ODM).

    Raises SampleFileError naming what is wrong (encoding, syntax, no header, a semicolon-separated header, more
    than :data:`MAX_SAMPLE_COLUMNS` columns).
    """
    columns = _odm_columns(raw) if source == "odm" else _csv_columns(raw)
    if len(columns) > MAX_SAMPLE_COLUMNS:
        raise SampleFileError(f"the file has {len(columns):,} columns, more than the {MAX_SAMPLE_COLUMNS:,} the "
                              "picker shows: write the mapping as text")
    return columns


_OPENCLINICA_OID = re.compile(r"^I_[A-Za-z0-9]+_(.+)$")


def _key(name: str) -> str:
    """A name without case, spaces or punctuation: "Onset date", "onset_date" and "ONSET-DATE" are one key."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _keys(name: str) -> set[str]:
    """The keys a source column answers to: its own, and for an ODM ItemOID the item's name without the OID's
    prefix ("I.AETERM", "IT.AE.AETERM" → AETERM; OpenClinica's "I_AE_AETERM" → AETERM)."""
    keys = {_key(name), _key(name.rsplit(".", 1)[-1])}
    if match := _OPENCLINICA_OID.match(name):
        keys.add(_key(match.group(1)))
    keys.discard("")
    return keys


def suggest_mapping(template: Sequence[str], available: Sequence[str],
                    saved: Mapping[str, str] | None = None) -> dict[str, str]:
    """{template column: source column} pre-selected for the picker; template columns with no suggestion are left
    out. ``available``: the sample's columns in file order; ``saved``: a saved mapping's ``columns`` ({source:
    template}), whose choices come first even when the sample lacks that column (so editing keeps them).

    Then, for the columns still free, a source column whose key equals the template column's (case, spaces and
    punctuation ignored), then :data:`ALIASES` in their order. Ties go to the earlier column of the file; no source
    column is suggested twice.
    """
    chosen: dict[str, str] = {}
    taken: set[str] = set()

    def take(column: str, source: str) -> None:
        chosen[column] = source
        taken.add(source)

    for source, column in (saved or {}).items():
        if column in template and column not in chosen and source not in taken:
            take(column, source)
    by_key: dict[str, list[str]] = {}
    for source in available:
        for key in _keys(source):
            by_key.setdefault(key, []).append(source)

    def first_free(key: str) -> str | None:
        return next((s for s in by_key.get(key, []) if s not in taken), None)

    for column in template:
        if column not in chosen and (free := first_free(_key(column))) is not None:
            take(column, free)
    for column in template:
        for alias in ALIASES.get(column, ()):
            if column in chosen:
                break
            if (free := first_free(_key(alias))) is not None:
                take(column, free)
    return chosen
