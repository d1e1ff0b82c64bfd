"""The mapping page's column picker, its pure half (ae/import_columns.py): a sample file's columns read from its
header or ODM item OIDs only, streaming, and the mapping their names suggest."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from ae.import_columns import (
    MAX_SAMPLE_COLUMNS,
    ODM_CONTEXT,
    SampleColumn,
    SampleFileError,
    sample_columns,
    suggest_mapping,
)
from ae.services.imports import COLUMNS
from tests.ae.test_import_sources import ODM, ODM_MAPPING, REDCAP_HEADER, REDCAP_MAPPING, redcap_csv


class CountingReader(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def read1(self, size: int = -1) -> bytes:
        chunk = super().read1(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


def _names(columns: list[SampleColumn]) -> list[str]:
    return [c.name for c in columns]


def test_csv_header_with_byte_order_mark_spaces_and_duplicates():
    body = "\ufeffstudy_id , Cycle,ctcae_term,,study_id\nBI-001,1,Anemia,,x\n".encode()
    assert _names(sample_columns(io.BytesIO(body), "csv")) == ["study_id", "Cycle", "ctcae_term"]


def test_redcap_export_header():
    assert _names(sample_columns(io.BytesIO(redcap_csv(bad=False)), "redcap_csv")) == REDCAP_HEADER.split(",")


def test_a_quoted_header_with_commas_and_line_breaks_is_one_column_each():
    body = b'"Onset, date","Term\n(CTCAE)",grade\n2026-01-01,Anemia,2\n'
    assert _names(sample_columns(io.BytesIO(body), "csv")) == ["Onset, date", "Term\n(CTCAE)", "grade"]


def test_a_semicolon_separated_sheet_names_its_columns():
    """Excel's "CSV" in locales whose decimal sign is a comma separates with semicolons (ae/import_sources.py
    ``csv_delimiter``): its columns are named as in a comma-separated file, a quoted name with a comma kept whole."""
    body = b'study_id;cycle;"Term, CTCAE";grade\nBI-001;1;Anemia;2\n'
    assert _names(sample_columns(io.BytesIO(body), "csv")) == ["study_id", "cycle", "Term, CTCAE", "grade"]


@pytest.mark.parametrize(("body", "message"), [
    (b"", "no header line"),
    (b"\n\n", "no header line"),
    ("étude,cycle\n".encode("latin-1"), "not UTF-8"),
    (b"a" * ((1 << 20) + 1), "does not end within the first"),
])
def test_unreadable_samples_say_why(body, message):
    with pytest.raises(SampleFileError, match=message):
        sample_columns(io.BytesIO(body), "csv")


def test_too_many_columns_are_refused():
    body = ",".join(f"c{i}" for i in range(MAX_SAMPLE_COLUMNS + 1)).encode() + b"\n"
    with pytest.raises(SampleFileError, match="more than the 1,000 the picker shows"):
        sample_columns(io.BytesIO(body), "csv")


def test_a_3_mb_csv_is_read_no_further_than_its_header():
    header = REDCAP_HEADER.encode() + b"\n"
    body = header + b"RC-01,adverse_events,1,,1,Anemia,2,2026-01-07,,3,1,1\n" * 60_000
    assert len(body) > 3_000_000
    raw = CountingReader(body)
    assert _names(sample_columns(raw, "redcap_csv"))[:2] == ["record_id", "redcap_repeat_instrument"]
    assert raw.bytes_read <= 64 * 1024  # one read-ahead chunk of the text layer, not the file


def test_odm_items_without_metadata_come_from_the_item_data():
    names = _names(sample_columns(io.BytesIO(ODM.encode()), "odm"))
    assert names == [*ODM_CONTEXT, "I.AETERM", "I.AETOXGR", "I.AESTDTC", "I.AEREL", "I.AEACN", "I.AEOUT",
                     "I.AEENDTC"]


ODM_WITH_METADATA = ODM.replace(' <ClinicalData', '''
 <Study OID="S1"><GlobalVariables><StudyName>S</StudyName><StudyDescription>S</StudyDescription>
  <ProtocolName>S</ProtocolName></GlobalVariables>
  <MetaDataVersion OID="MDV1" Name="v1">
   <ItemDef OID="I.AETERM" Name="Adverse event term" DataType="text"/>
   <ItemDef OID="I.AETOXGR" Name="CTCAE grade" DataType="integer"/>
   <ItemDef OID="I.AESTDTC" Name="I.AESTDTC" DataType="date"/>
   <ItemDef OID="I.SEX" Name="Sex" DataType="text"/>
  </MetaDataVersion>
 </Study>
 <ClinicalData''', 1)


def test_odm_items_come_from_the_metadata_and_the_clinical_data_is_not_read():
    subjects = "".join(f'<SubjectData SubjectKey="S{i}"><StudyEventData StudyEventOID="SE"><FormData FormOID="F">'
                       f'<ItemGroupData ItemGroupOID="IG.AE"><ItemData ItemOID="I.AETERM" Value="Anemia"/>'
                       f'</ItemGroupData></FormData></StudyEventData></SubjectData>' for i in range(15_000))
    body = ODM_WITH_METADATA.replace("<SubjectData", subjects + "<SubjectData", 1).encode()
    assert len(body) > 2_500_000
    raw = CountingReader(body)
    columns = sample_columns(raw, "odm")
    assert columns[len(ODM_CONTEXT):] == [SampleColumn("I.AETERM", "Adverse event term"),
                                         SampleColumn("I.AETOXGR", "CTCAE grade"), SampleColumn("I.AESTDTC"),
                                         SampleColumn("I.SEX", "Sex")]
    assert raw.bytes_read <= 128 * 1024


def test_a_large_odm_without_metadata_streams():
    """No metadata: every ItemData is visited, but each item group is cleared once read — memory stays far below
    the file's size."""
    groups = "".join(f'<ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="{i}">'
                     f'<ItemData ItemOID="I.AETERM" Value="Anemia"/><ItemData ItemOID="I.X{i % 7}" Value="1"/>'
                     f'</ItemGroupData>' for i in range(30_000))
    body = ODM.replace('<ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="1">',
                       groups + '<ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="1">', 1).encode()
    assert len(body) > 3_000_000
    tracemalloc.start()
    try:
        names = _names(sample_columns(io.BytesIO(body), "odm"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert names[len(ODM_CONTEXT):len(ODM_CONTEXT) + 3] == ["I.AETERM", "I.X0", "I.X1"]
    assert {f"I.X{i}" for i in range(7)} | {"I.AEOUT"} <= set(names)
    assert peak < 1_000_000  # measured 0.22 MB for this 4.8 MB file (2.6 MB before read groups left the tree)


@pytest.mark.parametrize(("body", "message"), [
    (ODM.encode()[:300], "not well-formed ODM XML"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ODM>&a;</ODM>', "declares entities or a DTD"),
    (b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"><ClinicalData/></ODM>', "names no items"),
    (b"study_id,cycle\n", "not well-formed ODM XML"),
])
def test_unreadable_odm_samples_say_why(body, message):
    with pytest.raises(SampleFileError, match=message):
        sample_columns(io.BytesIO(body), "odm")


# --- suggestions ------------------------------------------------------------------------------------------------

def test_redcap_names_suggest_the_documented_redcap_mapping():
    """The REDCap AE instrument's field names (docs/import.md's example) are suggested as that example maps them,
    with no saved mapping; the demographics and repeat columns are left alone."""
    suggested = suggest_mapping(COLUMNS, REDCAP_HEADER.split(","))
    assert {source: column for column, source in suggested.items()} == REDCAP_MAPPING["columns"]


def test_odm_item_oids_suggest_the_documented_odm_mapping():
    suggested = suggest_mapping(COLUMNS, [*ODM_CONTEXT, "I.AETERM", "I.AETOXGR", "I.AESTDTC", "I.AEREL", "I.AEACN",
                                          "I.AEOUT", "I.AEENDTC"])
    assert {source: column for column, source in suggested.items()} == ODM_MAPPING["columns"]


def test_names_match_without_case_spaces_or_punctuation():
    suggested = suggest_mapping(COLUMNS, ["Study ID", "CYCLE", "CTCAE term", "Grade", "Onset-date", "notes",
                                          "Resolution Date", "Present before cycle"])
    assert suggested == {"study_id": "Study ID", "cycle": "CYCLE", "ctcae_term": "CTCAE term", "grade": "Grade",
                         "onset_date": "Onset-date", "resolution_date": "Resolution Date",
                         "present_before_cycle": "Present before cycle"}


def test_sdtm_names_aellt_is_the_ctcae_term_and_aeterm_the_verbatim_one():
    both = suggest_mapping(COLUMNS, ["USUBJID", "AETERM", "AELLT", "AETOXGR", "AESTDTC", "AEENDTC"])
    assert both == {"study_id": "USUBJID", "ctcae_term": "AELLT", "verbatim_term": "AETERM", "grade": "AETOXGR",
                    "onset_date": "AESTDTC", "resolution_date": "AEENDTC"}
    assert suggest_mapping(COLUMNS, ["AETERM"]) == {"ctcae_term": "AETERM"}


def test_item_oids_are_matched_by_their_item_name():
    assert suggest_mapping(COLUMNS, ["I_AE_AETERM", "IT.AE.AETOXGR", "I.AEOUT"]) == {
        "ctcae_term": "I_AE_AETERM", "grade": "IT.AE.AETOXGR", "outcome": "I.AEOUT"}


def test_the_saved_mapping_comes_first_even_for_a_column_the_sample_lacks():
    saved = {"my_grade": "grade", "old_term": "ctcae_term"}
    suggested = suggest_mapping(COLUMNS, ["my_grade", "ae_grade", "grade", "ae_term"], saved)
    assert suggested["grade"] == "my_grade" and suggested["ctcae_term"] == "old_term"
    assert "ae_grade" not in suggested.values() and "grade" not in suggested.values()
    assert suggested["verbatim_term"] == "ae_term"  # AETERM's key: free, it names the reported term


def test_a_source_column_is_suggested_once_and_the_earliest_wins():
    suggested = suggest_mapping(COLUMNS, ["Grade", "grade", "ae_grade"])
    assert suggested == {"grade": "Grade"}
