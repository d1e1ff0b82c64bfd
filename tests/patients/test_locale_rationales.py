"""Stored English rationales shown in the reader's language (issue 15, item 4): the lab tables' CTCAE v5.0
rationales (patient page, event history, lab form), the CRS assessments' CTCAE v5.0, CTCAE v4.03 and Lee 2014
rationales on the event history, and the AE form's lab proposal. Each is rebuilt with ``gettext`` and shown only
when its English rebuild is exactly what is stored; what is stored stays English, byte for byte."""

from __future__ import annotations

import datetime
import html
import json
from decimal import Decimal

import pytest
from django.utils import translation

from ae.models import CRSAssessment, LabResult, ReferenceRange
from tests.conftest import make_user
from tests.patients.conftest import expect, logged_in, page_of

pytestmark = pytest.mark.django_db




def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=datetime.UTC)


def record_lab(nurse, of_cycle, **data) -> LabResult:
    from ae.services.labs import lab_result_record

    return lab_result_record(patient=of_cycle.patient, acting_user=nurse, data=data)


# --- CRS: CTCAE v5.0, CTCAE v4.03 and Lee 2014 on the event history -----------------------------------------------

CTCAE_V5 = ("Grade 2: hypotension responding to fluids (no pressor). Life-threatening consequences (grade 4) not "
            "assessed.")
LEE = "Grade 2: hypotension responsive to fluids. Organ toxicities not recorded in this assessment."
CTCAE_V4 = ("Undetermined: grade 2 if none of these was indicated, up to grade 4 if it was; not recorded: therapy or "
            "infusion interruption indicated (grade 2); prolonged or recurrent (grade 3); hospitalization indicated "
            "for clinical sequelae (grade 3); ventilatory support indicated (grade 4). Without them: Grade 2: "
            "hypotension treated with IV fluids.")


def test_the_event_history_shows_the_other_crs_scales_rationales_in_the_readers_language(language, nurse, cycle):
    from ae.services.assessments import crs_assessment_record

    event = crs_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(6, 9), "temperature_c": Decimal("38.5"), "hypotension": True,
        "relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}).adverse_event
    stored = CRSAssessment.objects.get(adverse_event=event)
    # what is stored is the English it always was
    assert (stored.ctcae_rationale, stored.lee_rationale, stored.ctcae_v4_rationale) == (CTCAE_V5, LEE, CTCAE_V4)
    client = logged_in(nurse)

    def assessments_table() -> str:
        return page_of(client.get(f"/events/{event.pk}/history/")).split('class="grid assessments"', 1)[1].split(
            "</table>", 1)[0]

    page = assessments_table()
    expect(page, language, "Stopień 2: hipotensja reagująca na płyny (bez wazopresora). Nie oceniano następstw "
                           "zagrażających życiu (stopień 4).", CTCAE_V5)
    expect(page, language, "Stopień 2: hipotensja reagująca na płyny. W tej ocenie nie zapisano toksyczności "
                           "narządowych.", LEE)
    expect(page, language, "Nieustalony: stopień 2, jeśli nic z tego nie było wskazane, do stopnia 4, jeśli było; nie "
                           "zapisano: wskazane leczenie lub przerwanie wlewu (stopień 2); przedłużający się lub "
                           "nawracający (stopień 3); wskazana hospitalizacja z powodu następstw klinicznych (stopień "
                           "3); wskazane wspomaganie wentylacji (stopień 4). Bez nich: Stopień 2: hipotensja leczona "
                           "płynami dożylnymi.", CTCAE_V4)
    # a rationale the stored criteria do not reproduce (an older wording) is shown as stored, the others translated
    CRSAssessment.objects.filter(pk=stored.pk).update(lee_rationale="Grade 2: an older wording.")
    page = assessments_table()
    assert "Grade 2: an older wording." in page
    expect(page, language, "Stopień 2: hipotensja reagująca na płyny (bez wazopresora).",
           "Grade 2: hypotension responding to fluids (no pressor).")


def test_the_other_crs_scales_are_english_by_default_and_translated_through_translate():
    from ae import grading

    assert grading.grade_crs_lee2014(temperature_c=37.0, oxygen_fio2_percent=30).rationale == (
        "Grade 2: oxygen requirement < 40% FiO2 (FiO2 30%).")
    assert grading.grade_crs_ctcae_v5(temperature_c=37.0, oxygen_fio2_percent=45).rationale == (
        "Grade 3: hypoxia requiring >= 40% O2 (FiO2 45%).")
    assert grading.grade_crs_ctcae_v4(vasopressors=["dopamine"], ventilatory_support=True).rationale == (
        "Grade 4: pressor support indicated (dopamine); ventilatory support indicated.")
    with translation.override("pl"):
        t = translation.gettext
        assert grading.grade_crs_lee2014(temperature_c=37.0, oxygen_fio2_percent=30, translate=t).rationale == (
            "Stopień 2: zapotrzebowanie na tlen < 40% FiO2 (FiO2 30%).")
        assert grading.grade_crs_ctcae_v5(temperature_c=37.0, oxygen_fio2_percent=45, translate=t).rationale == (
            "Stopień 3: hipoksja wymagająca ≥ 40% O2 (FiO2 45%).")
        assert grading.grade_crs_ctcae_v4(vasopressors=["dopamine"], ventilatory_support=True,
                                          translate=t).rationale == (
            "Stopień 4: wskazane leczenie wazopresorami (dopamine); wskazane wspomaganie wentylacji.")


# --- the lab tables ---------------------------------------------------------------------------------------------

PLATELETS = "Grade 2: 60 ×10⁹/L < 75 ×10⁹/L."


def test_the_lab_tables_show_the_rationale_in_the_readers_language(language, nurse, cycle):
    value = record_lab(nurse, cycle, analyte="platelets", value=60, unit="10^9/L", lln=150, collected_at=at(8))
    assert LabResult.objects.get(pk=value.pk).rationale == PLATELETS  # stored English, as before
    client = logged_in(nurse)
    patient_page = page_of(client.get(f"/patients/{cycle.patient_id}/"))
    expect(patient_page, language, 'title="Stopień 2: 60 ×10⁹/L < 75 ×10⁹/L."', f'title="{PLATELETS}"')
    history = page_of(client.get(f"/events/{value.adverse_event_id}/history/")).split('class="grid lab-results"')[1]
    expect(history, language, "Stopień 2: 60 ×10⁹/L < 75 ×10⁹/L.", PLATELETS)
    lab_form = page_of(client.get(f"/patients/{cycle.patient_id}/labs/new/"))
    expect(lab_form, language, 'title="Stopień 2: 60 ×10⁹/L < 75 ×10⁹/L."', f'title="{PLATELETS}"')
    # a rationale the stored value does not reproduce is shown as stored
    LabResult.objects.filter(pk=value.pk).update(rationale="Grade 2: an older wording.")
    assert 'title="Grade 2: an older wording."' in page_of(client.get(f"/patients/{cycle.patient_id}/"))


def test_a_lab_rationale_graded_against_the_baseline_on_the_same_page(nurse, cycle):
    """ALT over an abnormal baseline: the baseline is found among the values shown (no query); without it the
    English rebuild differs and the stored English is shown."""
    from ae.rationale_text import lab_rationale_for_reader

    baseline = record_lab(nurse, cycle, analyte="alt", value=80, unit="U/L", uln=40, baseline=True, cycle=cycle,
                          collected_at=at(4))
    value = record_lab(nurse, cycle, analyte="alt", value=300, unit="U/L", uln=40, collected_at=at(8))
    english = "Grade 2: 300 U/L = 3.75 x abnormal baseline 80 U/L (> 3 x baseline)."
    assert value.rationale == english
    with translation.override("pl"):
        polish = lab_rationale_for_reader(value, [baseline, value])
        assert polish == "Stopień 2: 300 U/L = 3,75 x nieprawidłowa wartość wyjściowa 80 U/L (> 3 x wartość wyjściowa)."
        assert lab_rationale_for_reader(value, [value]) == english  # the baseline is not shown: as stored


def test_the_albumin_and_site_range_sentences_in_the_readers_language(nurse, cycle, django_assert_num_queries):
    from ae.rationale_text import lab_rationale_for_reader

    ReferenceRange.objects.create(site=cycle.patient.site, analyte="calcium", unit="mmol/L", lln=Decimal("2.2"),
                                  uln=Decimal("2.7"), source="Lab handbook 2026, p. 12",
                                  valid_from=datetime.date(2025, 12, 1),
                                  created_by=make_user("admin", cycle.patient.site))
    albumin = record_lab(nurse, cycle, analyte="albumin", value=25, unit="g/L", lln=35, collected_at=at(8, 6))
    calcium = record_lab(nurse, cycle, analyte="calcium", value=Decimal("1.9"), unit="mmol/L", collected_at=at(8))
    stored = LabResult.objects.get(pk=calcium.pk).rationale
    assert stored.endswith(" Corrected with Albumin 25 g/L of 08 Jan 2026 07:00. LLN/ULN from the site reference "
                           "range (Lab handbook 2026, p. 12; valid from 01 Dec 2025, both sexes, 0-1440 months).")
    calcium = LabResult.objects.get(pk=calcium.pk)
    with translation.override("pl"), django_assert_num_queries(0):
        shown = lab_rationale_for_reader(calcium, [albumin, calcium])
    assert shown.endswith(" Skorygowano o: Albumina 25 g/L z 08 Sty 2026 07:00. LLN/ULN z zakresu referencyjnego "
                          "ośrodka (Lab handbook 2026, p. 12; obowiązuje od 01 Gru 2025, obie płcie, 0–1440 "
                          "mies.)."), shown
    assert shown.startswith("Stopień ")
    with translation.override("pl"):
        assert lab_rationale_for_reader(calcium, [calcium]) == stored  # the albumin is not shown: as stored


# --- numbers in the reader's convention --------------------------------------------------------------------------

def test_numbers_built_for_a_polish_reader_have_the_decimal_comma(nurse, cycle):
    """Only in a text built for the reader: the stored English and a rationale shown as stored keep the dot, and so
    do versions ("CTCAE v5.0")."""
    from ae.rationale_text import lab_rationale_for_reader
    from core.numbers import reader_numbers

    with translation.override("pl"):
        assert reader_numbers("CTCAE v5.0 i v4.03: 38.5 °C, 0.8 x (4.0 - 2.5) mg/dL, 1.2.3, FiO2 45%.") == (
            "CTCAE v5.0 i v4.03: 38,5 °C, 0,8 x (4,0 - 2,5) mg/dL, 1.2.3, FiO2 45%.")
    with translation.override("en-gb"):
        assert reader_numbers("38.5 °C") == "38.5 °C"
    value = record_lab(nurse, cycle, analyte="hemoglobin", value=Decimal("7.4"), unit="g/dL", lln=11,
                       collected_at=at(8))
    assert value.rationale == "Grade 3: 7.4 g/dL < 8 g/dL."  # stored: the dot, as always
    with translation.override("pl"):
        assert lab_rationale_for_reader(value) == "Stopień 3: 7,4 g/dL < 8 g/dL."
        value.rationale = "Grade 3: 7.4 g/dL, an older wording."
        assert lab_rationale_for_reader(value) == "Grade 3: 7.4 g/dL, an older wording."  # as stored


# --- the AE form's lab proposal ---------------------------------------------------------------------------------

def test_the_ae_forms_lab_proposal_in_the_readers_language(language, nurse, cycle):
    from ae import lab_proposal

    value = record_lab(nurse, cycle, analyte="platelets", value=60, unit="10^9/L", lln=150, collected_at=at(8))
    english = ("CTCAE v5.0 Platelet count decreased from the patient's lab values: worst of 1 Platelet count value(s) "
               "from 08 Jan 2026 to 09 Jan 2026: Platelet count 60 ×10⁹/L of 08 Jan 2026 08:00 (LLN 150 ×10⁹/L): "
               f"{PLATELETS}")
    # the rationale saved on the event stays English whatever the language
    with translation.override("pl"):
        assert lab_proposal.lab_grade_proposal("Platelet count decreased", [value], start=datetime.date(2026, 1, 8),
                                               end=datetime.date(2026, 1, 9)) == (2, english)
    client = logged_in(nurse)
    form_page = client.get(f"/patients/{cycle.patient_id}/events/new/").content.decode()
    entries = json.loads(html.unescape(form_page.split('data-lab-proposals="', 1)[1].split('"', 1)[0]))
    entry = next(e for e in entries if e["term"] == "Platelet count decreased")
    if language == "pl":
        assert entry["label"] == "Liczba płytek krwi"
        assert entry["text"] == ("Liczba płytek krwi 60 ×10⁹/L z 08 Sty 2026 08:00 (LLN 150 ×10⁹/L): Stopień 2: 60 "
                                 "×10⁹/L < 75 ×10⁹/L.")
    else:
        assert entry["label"] == "Platelet count"
        assert entry["text"] == f"Platelet count 60 ×10⁹/L of 08 Jan 2026 08:00 (LLN 150 ×10⁹/L): {PLATELETS}"
    page = page_of(client.post(f"/patients/{cycle.patient_id}/events/new/", {
        "cycle": cycle.pk, "term": "Platelet count decreased", "grade": 3, "onset_date": "2026-01-08",
        "resolution_date": "2026-01-09", "relatedness": "probable", "action_taken": "DOSE NOT CHANGED",
        "outcome": "RECOVERED/RESOLVED", "grading_scale": "ctcae_v5_0", "verbatim_term": ""}))
    expect(page, language, "Twój stopień 3 różni się od stopnia obliczonego 2 (CTCAE v5.0 Platelet count decreased z "
                           "wyników badań pacjenta: najgorszy z wyników dla Liczba płytek krwi od 08 Sty 2026 do 09 "
                           "Sty 2026 (liczba wyników: 1): Liczba płytek krwi 60 ×10⁹/L z 08 Sty 2026 08:00 (LLN 150 "
                           "×10⁹/L): Stopień 2: 60 ×10⁹/L < 75 ×10⁹/L): podaj powód.",
           f"Your grade 3 differs from the computed grade 2 ({english.removesuffix('.')}): give the reason.")
