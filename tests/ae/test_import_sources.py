"""Import from a REDCap AE instrument's raw CSV export and from CDISC ODM 1.3 XML, through a saved mapping."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from ae.import_sources import apply_mapping, odm_rows
from ae.models import AdverseEvent, ImportMapping
from ae.services.imports import ImportFileError, adverse_events_import, import_mapping_save
from tests.conftest import make_cycle, make_patient

REDCAP_MAPPING = {
    "columns": {"record_id": "study_id", "ae_cycle": "cycle", "ae_term": "ctcae_term", "ae_grade": "grade",
                "ae_onset": "onset_date", "ae_resolved": "resolution_date", "ae_attrib": "relatedness",
                "ae_action": "action_taken", "ae_outcome": "outcome"},
    "values": {"relatedness": {"1": "not_related", "2": "unlikely", "3": "possible", "4": "probable",
                               "5": "definite"},
               "action_taken": {"1": "DOSE NOT CHANGED", "2": "DRUG INTERRUPTED", "3": "DRUG WITHDRAWN"},
               "outcome": {"1": "RECOVERED/RESOLVED", "2": "RECOVERING/RESOLVING", "3": "FATAL"}},
    "row_filter": {"redcap_repeat_instrument": "adverse_events"},
}
REDCAP_HEADER = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,sex,ae_cycle,ae_term,ae_grade,ae_onset,"
                 "ae_resolved,ae_attrib,ae_action,ae_outcome")
TERMS = ["Anemia", "Fever", "Nausea", "Headache", "Vomiting"]


def _ae_line(i: int, term: str = "", cycle: str = "1", attrib: str = "3") -> str:
    onset = datetime.date(2026, 1, 6) + datetime.timedelta(days=i)
    resolved = onset + datetime.timedelta(days=2)  # outcome 1, recovered/resolved: it has its resolution date
    return (f"RC-{i % 5 + 1:02d},adverse_events,{i // 5 + 1},,{cycle},{term or TERMS[i // 5]},{1 + i % 2},{onset},"
            f"{resolved},{attrib},1,1")


def redcap_csv(bad: bool) -> bytes:
    lines = [REDCAP_HEADER] + [f"RC-{i:02d},,,F,,,,,,,," for i in range(1, 6)]  # the demographics rows
    lines += [_ae_line(i) for i in range(20)]
    if bad:
        lines[6] = _ae_line(0, term="Anaemiaa")  # unknown term
        lines[12] = _ae_line(6, attrib="9")      # attribution code 9 is not a choice
        lines[20] = _ae_line(14, cycle="7")      # the patient has no cycle 7
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def redcap_ward(ward, nurse):
    for i in range(1, 6):
        make_cycle(make_patient(ward, f"RC-{i:02d}"), 1, datetime.date(2026, 1, 5))
    return import_mapping_save(site=ward, name="REDCap AE instrument", source="redcap_csv", acting_user=nurse,
                               **REDCAP_MAPPING)


def _import(mapping, user, body, dry_run=False, source="redcap_csv"):
    return adverse_events_import(site=mapping.site, raw=io.BytesIO(body), file_name="redcap.csv", dry_run=dry_run,
                                 acting_user=user, source=source, mapping=mapping)


def test_redcap_export_with_three_bad_rows_then_fixed_then_again(redcap_ward, nurse):
    report = _import(redcap_ward, nurse, redcap_csv(bad=True), dry_run=True)
    errors = [r for r in report.rows if r.status == "error"]
    assert len(report.rows) == 20 and len(errors) == 3  # the 5 demographics rows are filtered out
    text = " | ".join(" ".join(r.errors) for r in errors)
    assert "'Anaemiaa' is not a CTCAE v5.0 term" in text and "'9' is not one of" in text and "has no cycle 7" in text
    assert not _import(redcap_ward, nurse, redcap_csv(bad=True)).committed
    assert not AdverseEvent.objects.exists()
    assert _import(redcap_ward, nurse, redcap_csv(bad=False)).count("created") == 20
    again = _import(redcap_ward, nurse, redcap_csv(bad=False))
    assert (again.count("created"), again.count("unchanged"), AdverseEvent.objects.count()) == (0, 20, 20)
    assert AdverseEvent.objects.filter(relatedness="possible").count() == 20


ODM = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot" FileOID="F1"
     CreationDateTime="2026-05-01T10:00:00">
 <ClinicalData StudyOID="S1" MetaDataVersionOID="MDV1">
  <SubjectData SubjectKey="RC-01">
   <StudyEventData StudyEventOID="SE.CYCLE1">
    <FormData FormOID="F.AE">
     <ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="1">
      <ItemData ItemOID="I.AETERM" Value="CRS"/><ItemData ItemOID="I.AETOXGR" Value="2"/>
      <ItemData ItemOID="I.AESTDTC" Value="2026-01-07"/><ItemData ItemOID="I.AEREL" Value="4"/>
      <ItemData ItemOID="I.AEACN" Value="1"/><ItemData ItemOID="I.AEOUT" Value="1"/>
      <ItemData ItemOID="I.AEENDTC" Value="2026-01-09"/>
     </ItemGroupData>
     <ItemGroupData ItemGroupOID="IG.AE" ItemGroupRepeatKey="2">
      <ItemData ItemOID="I.AETERM" Value="Anemia"/><ItemData ItemOID="I.AETOXGR" Value="3"/>
      <ItemData ItemOID="I.AESTDTC" Value="2026-01-09"/><ItemData ItemOID="I.AEREL" Value="1"/>
      <ItemData ItemOID="I.AEACN" Value="1"/><ItemData ItemOID="I.AEOUT" Value="2"/>
     </ItemGroupData>
    </FormData>
   </StudyEventData>
  </SubjectData>
 </ClinicalData>
</ODM>
"""
ODM_MAPPING = {"columns": {"SubjectKey": "study_id", "I.AETERM": "ctcae_term", "I.AETOXGR": "grade",
                           "I.AESTDTC": "onset_date", "I.AEENDTC": "resolution_date", "I.AEREL": "relatedness",
                           "I.AEACN": "action_taken", "I.AEOUT": "outcome"},
               "values": REDCAP_MAPPING["values"], "constants": {"cycle": "1"}, "row_filter": {"ItemGroupOID": "IG.AE"}}


def test_odm_rows_are_read_per_item_group():
    rows = list(odm_rows(io.BytesIO(ODM.encode())))
    assert [n for n, _ in rows] == [1, 2]
    assert rows[0][1] | {} == {"SubjectKey": "RC-01", "StudyEventOID": "SE.CYCLE1", "StudyEventRepeatKey": "",
                               "FormOID": "F.AE", "ItemGroupOID": "IG.AE", "ItemGroupRepeatKey": "1",
                               "I.AETERM": "CRS", "I.AETOXGR": "2", "I.AESTDTC": "2026-01-07", "I.AEREL": "4",
                               "I.AEACN": "1", "I.AEOUT": "1", "I.AEENDTC": "2026-01-09"}


def test_odm_import_through_a_mapping_and_a_ward_synonym(redcap_ward, nurse):
    mapping = import_mapping_save(site=redcap_ward.site, name="OpenClinica AE form", source="odm",
                                  acting_user=nurse, **ODM_MAPPING)
    report = _import(mapping, nurse, ODM.encode(), source="odm")
    assert (report.committed, report.count("created")) == (True, 2)
    crs = AdverseEvent.objects.get(term__term="Cytokine release syndrome")
    assert (crs.grade, crs.relatedness, crs.onset_date) == (2, "probable", datetime.date(2026, 1, 7))


def test_malformed_odm_and_foreign_entities_are_refused(redcap_ward, nurse):
    mapping = import_mapping_save(site=redcap_ward.site, name="ODM", source="odm", acting_user=nurse,
                                  **ODM_MAPPING)
    with pytest.raises(ImportFileError, match="not well-formed ODM XML"):
        _import(mapping, nurse, ODM.encode()[:300], source="odm")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ODM>&a;</ODM>'
    with pytest.raises(ImportFileError, match="declares entities or a DTD"):
        _import(mapping, nurse, bomb, source="odm")
    assert not AdverseEvent.objects.exists()


def test_a_mapping_must_target_template_columns(ward, nurse):
    with pytest.raises(ValidationError, match="not columns of the template: severity"):
        import_mapping_save(site=ward, name="x", source="csv", acting_user=nurse, columns={"sev": "severity"})


def test_apply_mapping_keeps_template_columns_and_translates_codes():
    row = apply_mapping({"ae_attrib": "2", "grade": "3"}, {"ae_attrib": "relatedness"},
                        {"relatedness": {"2": "unlikely"}}, {"cycle": "1"})
    assert row == {"cycle": "1", "relatedness": "unlikely", "grade": "3"}


def test_the_command_saves_and_uses_a_mapping(redcap_ward, nurse, tmp_path, capsys):
    (tmp_path / "map.json").write_text(json.dumps(REDCAP_MAPPING))
    (tmp_path / "export.csv").write_bytes(redcap_csv(bad=False))
    call_command("import_aes", "--site", "ward-a", "--file", str(tmp_path / "export.csv"), "--user", "nurse",
                 "--source", "redcap_csv", "--mapping", "REDCap v2", "--save-mapping", str(tmp_path / "map.json"))
    assert "Imported: 20 to create" in capsys.readouterr().out
    assert ImportMapping.objects.filter(name="REDCap v2", source="redcap_csv").exists()
    with pytest.raises(CommandError, match="no saved mapping 'nope'"):
        call_command("import_aes", "--site", "ward-a", "--file", str(tmp_path / "export.csv"), "--user", "nurse",
                     "--mapping", "nope")
