"""CIOMS I writer: the PDF is A4 and readable back (pypdf); each box's value is found under its box."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from pypdf import PdfReader

from reports.icsr import IcsrError, cioms
from tests.reports.icsr.factories import crs_follow_up, crs_initial, fatal_icans

A4_POINTS = (595.28, 841.89)


def _text(snapshot) -> str:
    reader = PdfReader(io.BytesIO(cioms.render(snapshot)))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _box(text: str, label: str, following: str) -> str:
    """The text between a box's label and the next box's label."""
    match = re.search(re.escape(label) + r"(.*?)" + re.escape(following), text)
    assert match, f"{label!r} … {following!r} not found"
    return match.group(1).strip()


@pytest.mark.parametrize("factory", [crs_initial, crs_follow_up, fatal_icans])
def test_pages_are_a4(factory):
    reader = PdfReader(io.BytesIO(cioms.render(factory())))
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4_POINTS


def test_every_box_of_the_crs_report_reads_back():
    text = _text(crs_initial())
    assert text.startswith("SUSPECT ADVERSE REACTION REPORT CIOMS FORM - PVT-KRK-2026-0007 v1")
    assert _box(text, "1. PATIENT INITIALS (first, last)", "1a.") == "masked - study ID KRK-0042"
    assert _box(text, "COUNTRY", "2. DATE") == "PL"
    assert _box(text, "(years)", "3. SEX") == "7"
    assert _box(text, "3. SEX", "4-6.") == "MALE"
    assert _box(text, "4-6. REACTION ONSET (day month year)", "7 + 13.") == "03 MAR 2026"
    reaction = _box(text, "7 + 13. DESCRIBE REACTION(S) (including relevant tests / lab data)", "8-12.")
    assert "Cytokine release syndrome, grade 4 (CTCAE v5.0); MedDRA 20.1 LLT 10052015" in reaction
    assert "onset 03 MAR 2026 (cycle 1, day 2); end ongoing; outcome recovering" in reaction
    assert "C-reactive protein 182 mg/L (normal 0-5) on 03 MAR 2026" in reaction
    assert "Treatment of the reaction: RoActemra (tocilizumab); 12 mg/kg" in reaction
    checks = _box(text, "8-12. CHECK ALL APPROPRIATE TO ADVERSE REACTION", "7 + 13 (continued)")
    assert "[ ] PATIENT DIED" in checks
    assert "[X] INVOLVED OR PROLONGED INPATIENT HOSPITALISATION" in checks
    assert "[X] LIFE THREATENING" in checks
    assert _box(text, "14. SUSPECT DRUG(S) (include generic name)", "15.") == (
        "Blincyto (blinatumomab); batch 1234567A")
    assert _box(text, "15. DAILY DOSE(S)", "16.") == "5 ug/m2/d (cycle 1)"
    assert _box(text, "16. ROUTE(S) OF ADMINISTRATION", "17.") == "Continuous intravenous infusion"
    assert _box(text, "17. INDICATION(S) FOR USE", "18.") == (
        "B-cell precursor acute lymphoblastic leukaemia, relapsed")
    assert _box(text, "18. THERAPY DATES (from/to)", "19.") == "02 MAR 2026 10:00 to 03 MAR 2026 16:30"
    assert _box(text, "19. THERAPY DURATION", "20.") == "2 days"
    assert _box(text, "STOPPING DRUG?", "21.") == "[X] YES [ ] NO [ ] NA"
    assert _box(text, "REINTRODUCTION?", "CAUSALITY") == "[ ] YES [ ] NO [X] NA"
    concomitant = _box(text, "(exclude those used to treat reaction)", "23.")
    assert concomitant.startswith("Co-trimoxazole (sulfamethoxazole; trimethoprim)")
    assert "RoActemra" not in concomitant  # given to treat the reaction: box 7 + 13, not 22
    history = _box(text, "pregnancy with last month of period, etc.)", "IV. MANUFACTURER")
    assert "Disease status: M3 marrow (≥ 25 % blasts) before cycle 1" in history  # DejaVu Sans prints ≥
    assert "Prior HSCT: no" in history and "Weight 24 kg, height 122 cm" in history
    assert "University Children's Hospital Kraków" in text  # Latin-1 kept
    assert _box(text, "24b. MFR CONTROL NO.", "24c.").startswith("PVT-KRK-2026-0007")
    assert _box(text, "(site awareness)", "24d.") == "03 MAR 2026 16:10"
    assert _box(text, "24d. REPORT SOURCE", "25a.") == "[ ] STUDY [ ] LITERATURE [X] HEALTH PROFESSIONAL"
    assert _box(text, "25a. DATE OF THIS REPORT", "25b.") == "04 MAR 2026 09:30"
    assert _box(text, "25b. REPORT TYPE", "SIGNATURE") == "[X] INITIAL [ ] FOLLOWUP (version 1)"
    assert "Unsigned draft" in text


def test_follow_up_ticks_followup_and_lists_changes():
    text = _text(crs_follow_up())
    assert _box(text, "25b. REPORT TYPE", "SIGNATURE") == "[ ] INITIAL [X] FOLLOWUP (version 2)"
    assert "outcome recovered" in text and "end 06 MAR 2026" in text
    assert "Signed by Anna Nowak on 09 MAR 2026 09:02" in text
    assert "Cytokine release syndrome: outcome recovering → recovered" in text


def test_fatal_case_ticks_patient_died():
    text = _text(fatal_icans())
    checks = _box(text, "8-12. CHECK ALL APPROPRIATE TO ADVERSE REACTION", "7 + 13 (continued)")
    assert "[X] PATIENT DIED" in checks
    assert _box(text, "3. SEX", "4-6.") == "FEMALE"
    assert "[X] STUDY" in text
    assert "Encephalopathy, grade 5 (ASTCT 2019)" in text and 'reported as "ICANS"' in text


def test_a_long_narrative_runs_onto_more_pages_without_loss():
    narrative = " ".join(f"Sentence {n} of the clinical course." for n in range(400))
    text = _text(dataclasses.replace(crs_initial(), narrative=narrative))
    reader = PdfReader(io.BytesIO(cioms.render(dataclasses.replace(crs_initial(), narrative=narrative))))
    assert len(reader.pages) >= 3
    assert "Sentence 0 of the clinical course." in text and "Sentence 399 of the clinical course." in text


def test_letters_the_font_has_print_as_typed_others_are_transliterated():
    reporter = dataclasses.replace(crs_initial().reporter, name="Łukasz Wróbel-Źdźbło")
    text = _text(dataclasses.replace(crs_initial(), reporter=reporter, site_name="北京 Children's Hospital"))
    assert "Reporter: Łukasz Wróbel-Źdźbło (investigator" in text
    assert "?? Children's Hospital" in text  # no CJK glyphs in DejaVu Sans


def test_latin1_transliteration():
    """The core-font fallback (no matplotlib): everything outside Latin-1 transliterated."""
    assert cioms.latin1("≥ 25 % – Łódź µg/m² → ok") == ">= 25 % - Lódz µg/m² -> ok"  # ó is Latin-1, ź is reduced to z


def test_a_case_without_reactions_is_refused():
    with pytest.raises(IcsrError, match="no reaction"):
        cioms.render(dataclasses.replace(crs_initial(), reactions=()))


def test_the_same_version_gives_the_same_bytes():
    assert cioms.render(fatal_icans()) == cioms.render(fatal_icans())


def test_a_box_taller_than_a_page_flows_onto_the_next_pages():
    from ae.sae.snapshot import LabResult

    labs = tuple(LabResult(name=f"Analyte {n}", value=float(n), unit="mg/L", date="2026-03-03") for n in range(120))
    text = _text(dataclasses.replace(crs_initial(), labs=labs))
    described = _box(text, "7 + 13. DESCRIBE REACTION(S) (including relevant tests / lab data)", "8-12.")
    assert "Analyte 0 0 mg/L on 03 MAR 2026." in described and "Analyte 119 119 mg/L on 03 MAR 2026." in described
    assert "[X] LIFE THREATENING" in text and "22. CONCOMITANT DRUG(S)" in text
