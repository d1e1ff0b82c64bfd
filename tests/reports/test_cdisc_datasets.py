"""SDTM AE/DM/EX/LB and ADaM ADAE content: hand-computed cases for study days, TRTEMFL and the occurrence flags."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from ae.models import CTCAETerm
from patients.models import DosingStep
from reports.cdisc.adam import adae_dataset
from reports.cdisc.meddra import MeddraReleaseError, meddra_release_load
from reports.cdisc.model import study_day
from reports.cdisc.sdtm import ae_dataset, dm_dataset, ex_dataset
from tests.conftest import make_cycle, make_event, make_patient

D = datetime.date


@pytest.fixture
def two_patients(ward):
    """P1: cycle 1 from 5 Jan 2026, cycle 2 from 9 Feb 2026; CRS G2 on day 1, an unchanged pre-existing anaemia,
    neutrophils G3 on 9 Jan, CRS G3 in cycle 2 on 11 Feb. P2: cycle 1 from 2 Mar 2026, an anaemia present before it
    that worsened from G2 to G3."""
    p1 = make_patient(ward, "P-001")
    c1 = make_cycle(p1, 1, D(2026, 1, 5), end_date=D(2026, 2, 1))
    c2 = make_cycle(p1, 2, D(2026, 2, 9), end_date=D(2026, 3, 8))
    events = {
        "crs_day1": make_event(c1, "Cytokine release syndrome", 2, onset_day=1),
        "anaemia_unchanged": make_event(c1, "Anemia", 2, onset_day=-15, present_before_cycle=True),
        "neut_g3": make_event(c1, "Neutrophil count decreased", 3, onset_day=5),
        "crs_c2_g3": make_event(c2, "Cytokine release syndrome", 3, onset_day=3),
    }
    p2 = make_patient(ward, "P-002")
    c3 = make_cycle(p2, 1, D(2026, 3, 2))
    for c, steps in ((c1, [(1, "5")]), (c2, [(1, "5")]), (c3, [(1, "5"), (8, "15")])):
        for day, dose in steps:
            DosingStep.objects.create(cycle=c, from_day=day, dose=Decimal(dose), unit="ug_m2_day")
    events["anaemia_worse"] = make_event(c3, "Anemia", 3, onset_day=-9, present_before_cycle=True,
                                         grade_at_cycle_start=2)
    return events


def _by_spid(dataset, events):
    rows = {row["AESEQ"] if "AESPID" not in row else row["AESPID"]: row for row in dataset.rows}
    return {name: rows[str(e.pk)] for name, e in events.items()}


def test_study_day_has_no_day_zero():
    assert study_day(D(2026, 1, 5), D(2026, 1, 5)) == 1
    assert study_day(D(2026, 1, 4), D(2026, 1, 5)) == -1
    assert study_day(D(2026, 2, 11), D(2026, 1, 5)) == 38
    assert study_day(None, D(2026, 1, 5)) is None


def test_ae_records_carry_dates_days_epoch_and_ctcae_coding(two_patients):
    ae = _by_spid(ae_dataset(two_patients["crs_day1"].patient.site), two_patients)
    crs = ae["crs_day1"]
    assert (crs["STUDYID"], crs["DOMAIN"], crs["USUBJID"]) == ("WARD-A", "AE", "WARD-A-P-001")
    assert (crs["AESTDTC"], crs["AESTDY"], crs["EPOCH"], crs["AETOXGR"]) == ("2026-01-05", 1, "TREATMENT", "2")
    assert crs["AELLTCD"] == CTCAETerm.objects.get(term="Cytokine release syndrome").meddra_code
    assert crs["AEDECOD"] == "" and crs["AEPTCD"] is None  # no MedDRA release supplied
    assert crs["AEBODSYS"] == "Immune system disorders"
    assert (ae["anaemia_unchanged"]["AESTDY"], ae["anaemia_unchanged"]["EPOCH"]) == (-16, "SCREENING")
    assert ae["crs_c2_g3"]["AESTDY"] == 38  # study day from the first dose, not cycle day 3
    assert [r["AESEQ"] for r in ae.values()] == [2, 1, 3, 4, 1]  # by onset: the anaemia began first


def test_adae_trtemfl_study_days_and_first_occurrence_flags(two_patients):
    adae = _by_spid_adae(two_patients)
    flags = {name: (r["TRTEMFL"], r["AOCCIFL"], r["AOCCSFL"], r["AOCCPFL"]) for name, r in adae.items()}
    assert flags == {
        "crs_day1": ("Y", "", "Y", "Y"),           # day 1 is treatment-emergent; first CRS, first immune SOC
        "anaemia_unchanged": ("", "", "", ""),     # present before the first dose, not worse: not emergent
        "neut_g3": ("Y", "Y", "Y", "Y"),           # first of the worst grade (3) by date
        "crs_c2_g3": ("Y", "", "", ""),            # CRS again: not a first occurrence; grade 3 tie, later
        "anaemia_worse": ("Y", "Y", "Y", "Y"),     # pre-existing and worsened G2 -> G3: emergent
    }
    crs = adae["crs_day1"]
    assert (crs["TRTSDT"], crs["ASTDT"], crs["ASTDY"], crs["APERIOD"]) == (D(2026, 1, 5), D(2026, 1, 5), 1, 1)
    assert (adae["crs_c2_g3"]["ASTDY"], adae["crs_c2_g3"]["APERIODC"]) == (38, "CYCLE 2")
    assert adae["crs_c2_g3"]["TRTEDT"] == D(2026, 3, 8)
    assert adae["anaemia_worse"]["ASTDY"] == -10
    assert crs["ATOXSCAL"] == "CTCAE v5.0" and crs["ATOXGRN"] == 2


def _by_spid_adae(events):
    site = next(iter(events.values())).patient.site
    adae = adae_dataset(site)
    ae = ae_dataset(site)
    seq = {(r["USUBJID"], r["AESEQ"]): r["AESPID"] for r in ae.rows}
    by_pk = {seq[(r["USUBJID"], r["AESEQ"])]: r for r in adae.rows}
    return {name: by_pk[str(e.pk)] for name, e in events.items()}


def test_trtemfl_is_the_shared_rule(two_patients):
    """ADAE's TRTEMFL = Y exactly for the events the benchmark counts (treatment_emergent_events)."""
    from ae.selectors import treatment_emergent_events

    site = two_patients["crs_day1"].patient.site
    emergent = {str(pk) for pk in treatment_emergent_events(site).values_list("pk", flat=True)}
    adae = _by_spid_adae(two_patients)
    assert {str(two_patients[n].pk) for n, r in adae.items() if r["TRTEMFL"] == "Y"} == emergent


def test_dm_and_ex_follow_the_cycles(two_patients):
    site = two_patients["crs_day1"].patient.site
    dm = {r["SUBJID"]: r for r in dm_dataset(site).rows}
    assert (dm["P-001"]["RFSTDTC"], dm["P-001"]["RFENDTC"], dm["P-001"]["AGE"]) == ("2026-01-05", "2026-03-08", 10)
    assert (dm["P-001"]["BRTHDTC"], dm["P-001"]["ARMCD"], dm["P-001"]["DTHFL"]) == ("2015-03", "BLINA", "")
    ex = [(r["USUBJID"], r["EXSPID"], r["EXDOSE"], r["EXSTDTC"], r["EXENDTC"], r["EXSTDY"])
          for r in ex_dataset(site).rows]
    assert ex == [
        ("WARD-A-P-001", "CYCLE 1", 5.0, "2026-01-05", "2026-02-01", 1),
        ("WARD-A-P-001", "CYCLE 2", 5.0, "2026-02-09", "2026-03-08", 36),
        ("WARD-A-P-002", "CYCLE 1 STEP 1", 5.0, "2026-03-02", "2026-03-08", 1),
        ("WARD-A-P-002", "CYCLE 1 STEP 2", 15.0, "2026-03-09", "", 8),
    ]


def _release(folder, llt_code: int) -> None:
    (folder / "meddra_release.asc").write_text("27.1$English$$$\n")
    (folder / "soc.asc").write_text("10021428$Immune system disorders$Immun$\n")
    (folder / "pt.asc").write_text("10052015$Cytokine release syndrome$$10021428$$$$$$$$\n")
    (folder / "llt.asc").write_text(f"{llt_code}$Cytokine release syndrome$10052015$$$$$$$Y$$\n")


def test_a_supplied_meddra_release_codes_pt_and_soc_and_is_named(two_patients, tmp_path):
    crs_code = CTCAETerm.objects.get(term="Cytokine release syndrome").meddra_code
    _release(tmp_path, crs_code)
    release = meddra_release_load(tmp_path)
    site = two_patients["crs_day1"].patient.site
    ae = _by_spid(ae_dataset(site, release), two_patients)
    assert (ae["crs_day1"]["AEDECOD"], ae["crs_day1"]["AEPTCD"], ae["crs_day1"]["AESOCCD"]) == (
        "Cytokine release syndrome", 10052015, 10021428)
    assert ae["neut_g3"]["AEDECOD"] == ""  # LLT not in this (tiny) release: left empty, not guessed
    assert "MedDRA version 27.1" in ae_dataset(site, release).notes[0]
    assert "no MedDRA release" in ae_dataset(site).notes[0]


def test_an_incomplete_meddra_release_names_the_missing_file(tmp_path):
    _release(tmp_path, 1)
    (tmp_path / "pt.asc").unlink()
    with pytest.raises(MeddraReleaseError, match="pt.asc is missing"):
        meddra_release_load(tmp_path)


def test_dm_gives_the_date_of_death_the_fatal_event_records(two_patients):
    """DM.DTHDTC: the earliest resolution date (AEENDTC) of the patient's events with outcome Fatal, the date of
    death (a death is the last day of the record); empty while no fatal event has one — pvtrack does not take the
    onset of the event that led to the death for the date of death (docs/cdisc.md)."""
    site = two_patients["crs_day1"].patient.site
    cycle = two_patients["anaemia_worse"].cycle  # P-002, cycle 1 from 2 Mar 2026
    death = make_event(cycle, "Sepsis", 5, onset_day=9)
    dm = {r["SUBJID"]: r for r in dm_dataset(site).rows}
    assert (dm["P-002"]["DTHFL"], dm["P-002"]["DTHDTC"]) == ("Y", "")
    assert (dm["P-001"]["DTHFL"], dm["P-001"]["DTHDTC"]) == ("", "")
    death.resolution_date = D(2026, 3, 12)
    death.save()
    dm = {r["SUBJID"]: r for r in dm_dataset(site).rows}
    assert (dm["P-002"]["DTHFL"], dm["P-002"]["DTHDTC"]) == ("Y", "2026-03-12")
