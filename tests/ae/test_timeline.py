"""The patient timeline: one well-formed SVG with cycle bands, AE bars by grade, SAE markers, assessments and
labs; text escaped; no inline style (CSP); site-scoped."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone, translation

from ae.models import LabResult
from ae.services.assessments import crs_assessment_record
from ae.timeline import Band, Bar, Point, timeline_svg
from ae.timeline_views import reader_words
from tests.conftest import make_cycle, make_event, make_patient

D = datetime.date
SVG = "{http://www.w3.org/2000/svg}"


def test_the_svg_has_a_band_per_cycle_a_bar_per_event_and_points():
    svg = timeline_svg(title="P <1>", today=D(2026, 3, 1),
                       bands=[Band(1, D(2026, 1, 5), D(2026, 2, 1), 2), Band(2, D(2026, 2, 9), None)],
                       bars=[Bar("CRS & fever", D(2026, 1, 6), D(2026, 1, 9), 2),
                             Bar("Anemia", D(2026, 1, 8), None, 3, serious=True),
                             Bar("Sepsis", D(2026, 2, 12), D(2026, 2, 14), 5, serious=True, fatal=True)],
                       points=[Point("Platelets", D(2026, 1, 7), 4, "PLT 20"), Point("CRS", D(2026, 1, 6), 1, "x")])
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    groups = {g.get("class"): g for g in root.iter(f"{SVG}g")}
    assert [g.get("class") for g in root.iter(f"{SVG}g")].count("cycle") == 2
    assert {"ae grade-2", "ae grade-3", "ae grade-5"} <= set(groups)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "P <1>" in texts and "CRS & fever" in texts and "SAE †" in texts and "G4" in texts
    assert "Cycle 1 ⚠" in texts and "Cycle 2, running" in texts
    cycle_titles = [g.findtext(f"{SVG}title") for g in root.iter(f"{SVG}g") if g.get("class") == "cycle"]
    assert cycle_titles == ["Cycle 1: 05 Jan 2026 – 01 Feb 2026, 2 infusion interruption(s)",
                            "Cycle 2: 09 Feb 2026 – running"]
    assert "style=" not in svg and "<script" not in svg
    open_bar = groups["ae grade-3"].find(f"{SVG}rect")
    assert open_bar.get("stroke-dasharray") == "4 2"  # still open


@pytest.fixture
def record(ward, nurse):
    patient = make_patient(ward, "TL-1")
    cycle = make_cycle(patient, 1, D(2026, 1, 5), end_date=D(2026, 2, 1), interruptions=1,
                       interruption_reason="line occlusion")
    make_event(cycle, "Cytokine release syndrome", 2, resolution_date=D(2026, 1, 9), entered_grade=2)
    make_event(cycle, "Anemia", 3, onset_day=4, serious=True, sae_hospitalization=True, verbatim_term="<b>low Hb</b>")
    LabResult.objects.create(patient=patient, cycle=cycle, analyte="platelets", value=Decimal("20"), unit="10^9/L",
                             collected_at=timezone.make_aware(datetime.datetime(2026, 1, 7, 8)),
                             ctcae_term="Platelet count decreased", grade=4, rationale="<25", entered_by=nurse)
    return patient


def test_the_timeline_page_draws_the_patients_records(client, record, nurse, outsider):
    client.force_login(nurse)
    assert f"/patients/{record.pk}/timeline/" in client.get(f"/patients/{record.pk}/").content.decode()
    page = client.get(f"/patients/{record.pk}/timeline/").content.decode()
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    classes = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert classes.count("cycle") == 1 and "ae grade-2" in classes and "ae grade-3" in classes
    assert "Platelet count" in svg and "CTCAE grade 4" in svg and "1 infusion interruption(s)" in svg
    client.force_login(outsider)
    assert client.get(f"/patients/{record.pk}/timeline/").status_code == 404


@pytest.fixture
def assessed(record, nurse):
    """``record`` with a bedside CRS assessment at 09:00 UTC on 12 January 2026 (10:00 in Warsaw): a new, open CRS
    episode after the one of 6-9 January (an assessment within those days would join it)."""
    cycle = record.cycles.get()
    crs_assessment_record(patient=record, cycle=cycle, acting_user=nurse, data={
        "assessed_at": datetime.datetime(2026, 1, 12, 9, tzinfo=datetime.UTC), "temperature_c": Decimal("38.5"),
        "relatedness": "probable", "action_taken": "DOSE NOT CHANGED"})
    return record


def svg_texts(page: str) -> list[str]:
    """Every ``<title>`` and ``<text>`` of the page's timeline SVG, in document order."""
    root = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])  # noqa: S314 - our own output
    return [e.text or "" for e in root.iter() if e.tag in (f"{SVG}title", f"{SVG}text")]


#: What the English timeline said before it was translated (issue 15, item 4): it says it still.
ENGLISH = ["TL-1: cycles, adverse events, assessments and labs",
           "Cycle 1: 05 Jan 2026 – 01 Feb 2026, 1 infusion interruption(s)",
           "Cytokine release syndrome (C1): grade 2, onset 06 Jan 2026, resolved 09 Jan 2026",
           "Cytokine release syndrome (C1): grade 1, onset 12 Jan 2026, open",
           "Anemia (C1): grade 3, onset 08 Jan 2026, open — serious",
           "CRS assessments", "CRS 12 Jan 2026 10:00: grade 1 (ASTCT 2019)",
           "Platelet count 20 ×10⁹/L at 07 Jan 2026 08:00: CTCAE grade 4", "SAE", "03 Jan 26", "13 Feb 26"]


def test_the_english_timeline_reads_as_before(client, assessed, nurse):
    client.force_login(nurse)
    texts = svg_texts(client.get(f"/patients/{assessed.pk}/timeline/").content.decode())
    missing = [t for t in ENGLISH if t not in texts]
    assert missing == [], texts


def test_a_polish_ward_reads_its_timeline_in_polish(polish_nurse, assessed):
    """Every word of the chart (titles, captions, lanes, markers, axis) in Polish, dates with Polish month names in
    the ward's time zone (Europe/Warsaw); the CTCAE terms stay NCI's English."""
    page = html.unescape(polish_nurse.get(f"/patients/{assessed.pk}/timeline/").content.decode())
    texts = svg_texts(page)
    for polish in ["TL-1: cykle, zdarzenia niepożądane, oceny i wyniki laboratoryjne",
                   "Cykl 1: 05 Sty 2026 – 01 Lut 2026, 1 przerwa we wlewie",
                   "Cytokine release syndrome (C1): stopień 2, wystąpienie 06 Sty 2026, ustąpiło 09 Sty 2026",
                   "Cytokine release syndrome (C1): stopień 1, wystąpienie 12 Sty 2026, trwa",
                   "Anemia (C1): stopień 3, wystąpienie 08 Sty 2026, trwa — ciężkie",
                   "Oceny CRS", "CRS 12 Sty 2026 10:00: stopień 1 (ASTCT 2019)", "Cykl 1 ⚠", "SAE",
                   "03 Sty 26", "13 Lut 26"]:
        assert polish in texts, (polish, texts)
    assert any(t.startswith("Liczba płytek krwi 20 ×10⁹/L, 07 Sty 2026 ") and t.endswith(": stopień CTCAE 4")
               for t in texts), texts
    for english in ["cycles, adverse events", "grade", "onset", "resolved", "open", "serious", "fatal", "Cycle",
                    "running", "infusion interruption", "assessments", " at ", "not graded", " Jan ", " Feb "]:
        assert not [t for t in texts if english in t], (english, texts)
    assert "style=" not in page[page.index("<svg"):page.index("</svg>")]


@pytest.mark.parametrize(("interruptions", "words"), [
    (2, "2 przerwy we wlewie"), (5, "5 przerw we wlewie"), (22, "22 przerwy we wlewie")])
def test_the_polish_interruptions_take_the_polish_plural(interruptions, words):
    with translation.override("pl"):
        title = reader_words().cycle_title(1, "05 Sty 2026", None, interruptions)
        assert title == f"Cykl 1: 05 Sty 2026 – w toku, {words}"
        assert reader_words().bar_title("Sepsis (C1)", 5, "01 Sty 2026", "02 Sty 2026", True, True) == \
            "Sepsis (C1): stopień 5, wystąpienie 01 Sty 2026, ustąpiło 02 Sty 2026 — zgon — ciężkie"
