"""The patient timeline: one well-formed SVG with cycle bands, AE bars by grade, SAE markers, assessments and
labs; text escaped; no inline style (CSP); site-scoped."""

from __future__ import annotations

import datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone

from ae.models import LabResult
from ae.timeline import Band, Bar, Point, timeline_svg
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
    make_event(cycle, "Cytokine release syndrome", 2, resolution_date=D(2026, 1, 9))
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
