"""Numbers in the reader's language on every page a ward user reaches (issue 15, item 4): a Polish reader sees the
decimal comma ("20,00 kg", "7,4%"), never the English decimal point, in the visible text of the patient page, the
cycle's treatment page, the AE form with a lab proposal, the event history, the lab form, the listing, the timeline,
the benchmark report, the run page, a cell's plots page, the network page, the SAE case page and the notifications.

The visible text is the page without its ``<script>``/``<style>`` elements and tags (attributes are not visible);
a short allow-list keeps the dots that are not decimal numbers (versions, what is quoted as typed). What is stored,
signed or exported stays English with the dot (checked at the end)."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from ae.models import CRSAssessment, LabResult
from ae.services import sae
from ae.services.assessments import crs_assessment_record
from ae.services.labs import lab_result_record
from patients.models import Membership
from patients.treatment import DosingStep
from reports.report import interval, pct
from reports.runs import benchmark_run_now
from tests.conftest import make_cycle, make_event, make_patient, make_user
from tests.patients.conftest import logged_in
from tests.reports.test_network import build_network

pytestmark = pytest.mark.django_db

#: A decimal number written with a point.
DECIMAL_POINT = re.compile(r"\d\.\d")
#: Dots that are not decimal numbers in the reader's convention: versions of a scale, a dictionary or the benchmark
#: method ("pvtrack-benchmark/1.6"), written as their publishers write them; a section of the reference safety
#: information's document, quoted by its title as stored ("USPI 6.1", "section 6.1 Adverse Reactions"); the network
#: funnel's key drawn inside the plot ("99.8% limit": the plots' words are English, one plot serves every reader).
ALLOWED = re.compile(r"v\d+\.\d+(?:\.\d+)*|CTCAE \d\.\d+|MedDRA \d+\.\d|pvtrack-benchmark/\d+\.\d+"
                     r"|\bsection \d+\.\d+|USPI \d+\.\d+|95% limit 99\.8% limit")


def visible_text(response) -> str:
    """The text a reader sees: no ``<script>``/``<style>`` element, no tag (so no attribute), entities decoded."""
    assert response.status_code == 200, response.status_code
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.DOTALL | re.IGNORECASE)
    page = re.sub(r'<span lang="en">[^<]*</span>', " ", page)  # shown as stored, in English (marked as such)
    page = page.replace("<wbr>", "")  # a line-break opportunity inside a word, not a space
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def decimal_points(text: str) -> list[str]:
    """Each place of ``text`` with a decimal point that the allow-list does not explain, with 30 characters around."""
    cleaned = ALLOWED.sub(lambda m: "#" * len(m[0]), text)
    return [text[max(0, m.start() - 30):m.end() + 30] for m in DECIMAL_POINT.finditer(cleaned)]


def test_the_check_finds_a_decimal_point_and_keeps_versions():
    assert decimal_points("Masa ciała 20.00 kg") == ["Masa ciała 20.00 kg"]
    assert decimal_points("7.4%") == ["7.4%"]
    assert decimal_points("CTCAE v5.0, MedDRA 27.1, 20,00 kg, 7,4%") == []
    page = '<p title="1.5">a<script>2.5</script></p><style>.a{x:1.5em}</style>b <span lang="en">Grade 1: 38.5</span>'
    assert visible_text(type("R", (), {"status_code": 200, "content": page.encode()})) == "a b"


def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=datetime.UTC)


@pytest.fixture
def polish_ward_data(ward, nurse, officer):
    """Ward A in Polish with what shows numbers: a network of wards (a benchmark run with flags and notices), a
    patient whose cycle weighs 20 kg with a dosing step of 9.5 µg/m²/day, a CRS assessment with a vasopressor and
    38.5 °C, a potassium of 2.4 mmol/L, a platelet count for the AE form's proposal, an SAE case."""
    network = build_network(ward)
    ward.language, ward.time_zone = "pl", "Europe/Warsaw"
    ward.save()
    cycle = make_cycle(make_patient(ward, "KRK-900"), weight_kg=Decimal("20.00"), bsa_m2=Decimal("0.81"),
                       marrow_blasts_pct=Decimal("7.4"), mrd_pct=Decimal("0.015"))
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("9.5"), unit="ug_m2_day")
    crs = crs_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(6, 9), "temperature_c": Decimal("38.5"), "hypotension": True,
        "vasopressors": ["norepinephrine"], "oxygen_device": "nasal_cannula", "oxygen_flow_l_min": Decimal("1.5"),
        "relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}).adverse_event
    lab_result_record(patient=cycle.patient, acting_user=nurse, data={
        "analyte": "potassium", "value": Decimal("2.4"), "unit": "mmol/L", "lln": Decimal("3.5"),
        "uln": Decimal("5.1"), "collected_at": at(7), "cycle": cycle})
    lab_result_record(patient=cycle.patient, acting_user=nurse, data={
        "analyte": "platelets", "value": Decimal("60.5"), "unit": "10^9/L", "lln": 150, "collected_at": at(8)})
    serious = make_event(cycle, "Neutrophil count decreased", grade=4, user=nurse, serious=True,
                         sae_life_threatening=True, outcome="RECOVERING/RESOLVING")
    case = sae.case_open_for_event(event=serious, acting_user=nurse)
    run = benchmark_run_now(site=ward)
    return {"cycle": cycle, "crs": crs, "case": case, "run": run, "network": network}


OFFICERS = {"report", "runs", "run", "drilldown", "plots", "SAE case", "notifications"}


def _pages(data, ward) -> dict[str, str]:
    cycle, patient_id = data["cycle"], data["cycle"].patient_id
    key = "crs/any/all"
    return {
        "patient": f"/patients/{patient_id}/",
        "treatment": f"/patients/{patient_id}/cycles/{cycle.pk}/treatment/",
        "cycle form": f"/patients/{patient_id}/cycles/{cycle.pk}/edit/",
        "AE form": f"/patients/{patient_id}/events/new/",
        "event history": f"/events/{data['crs'].pk}/history/",
        "lab form": f"/patients/{patient_id}/labs/new/",
        "listing": f"/sites/{ward.slug}/events/",
        "timeline": f"/patients/{patient_id}/timeline/",
        "report": f"/sites/{ward.slug}/report/",
        "runs": f"/sites/{ward.slug}/runs/",
        "run": f"/sites/{ward.slug}/runs/{data['run'].pk}/",
        "drilldown": f"/sites/{ward.slug}/report/{key}/",
        "plots": f"/sites/{ward.slug}/report/{key}/plots/",
        "network": "/network/",
        "SAE case": f"/cases/{data['case'].pk}/",
        "notifications": "/notifications/",
    }


def test_a_polish_reader_sees_no_decimal_point(ward, nurse, officer, polish_ward_data):
    coordinator = make_user("coordinator", ward, Membership.Role.NETWORK_COORDINATOR)
    offenders: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for name, url in _pages(polish_ward_data, ward).items():
        client = Client()
        client.force_login({"network": coordinator}.get(name, officer if name in OFFICERS else nurse))
        response = client.get(url)
        if response.status_code != 200:
            offenders[name] = [f"status {response.status_code}"]
            continue
        texts[name] = visible_text(response)
        if found := decimal_points(texts[name]):
            offenders[name] = found
    assert offenders == {}
    # the pages do show their numbers, with the comma (before: "2.4 mmol/L", "85.7%", "p = 0.0048", "τ² 0.0336")
    assert "Potas 2,4 mmol/L" in texts["patient"] and "Potas 2,4 mmol/L" in texts["timeline"]
    assert "blasty 7,4%" in texts["patient"]  # as recorded (before: the column's "7,40%")
    assert "masa ciała 20,00 kg · BSA 0,81 m²" in texts["treatment"]
    assert "noradrenalina (norepinefryna)" in texts["event history"] and "38,5 °C" in texts["event history"]
    assert "6/7 (85,7%)" in texts["report"] and "jednostronne p = 0,0048" in texts["report"]
    assert "τ² 0,0336" in texts["network"] and "85,7% (dokładny 95% CI 42,1–99,6%)" in texts["plots"]
    # what is stored, exported or sent stays English with the decimal point
    data = polish_ward_data
    crs = CRSAssessment.objects.get(adverse_event=data["crs"])
    assert "fever 38.5 °C; hypotension requiring a vasopressor (norepinephrine)" in crs.astct_rationale
    assert LabResult.objects.get(analyte="potassium").value_text == "2.4 mmol/L"
    client = Client()
    client.force_login(officer)
    export = b"".join(client.get(f"/sites/{ward.slug}/export.csv").streaming_content).decode()
    assert "6 (85.7%)" in export, export[:500]  # the rates, as before
    with translation.override("pl"):
        assert pct(0.074) == "7.4%" and interval([0.0, 0.121]) == "0.0–12.1%"  # the text report's and exports'


def test_a_refused_weight_is_quoted_with_the_readers_decimal_comma(language, nurse, cycle):
    """"this cycle's weight is 20,00 kg" in Polish (before: "20.00 kg"); the English is what it was."""
    cycle.weight_kg = Decimal("20.00")
    cycle.save()
    page = visible_text(logged_in(nurse).post(f"/patients/{cycle.patient_id}/cycles/{cycle.pk}/treatment/", {
        "record": "step", "step-from_day": 1, "step-dose": "9", "step-unit": "ug_day"}))
    expect = {"pl": "masa ciała w tym cyklu to 20,00 kg", "en-gb": "this cycle's weight is 20.00 kg"}[language]
    assert expect in page and "≥ 45 kg" in page
    cycle.bag_hours = 168
    with translation.override(language), pytest.raises(ValidationError) as refused:
        cycle.full_clean()
    expect = {"pl": "to dziecko waży 20,00 kg", "en-gb": "this child weighs 20.00 kg"}[language]
    assert expect in refused.value.message_dict["bag_hours"][0]


def test_the_vasopressors_in_a_rebuilt_rationale_are_named_as_the_bedside_form_names_them(language, nurse, cycle):
    """The event history's ASTCT, CTCAE and Lee rationales name the agents in the reader's language ("noradrenalina
    (norepinefryna)", the label of ``ae.bedside_labels`` inside a sentence); the stored rationale keeps the code."""
    event = crs_assessment_record(patient=cycle.patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": at(6, 9), "temperature_c": Decimal("38.5"), "hypotension": True,
        "vasopressors": ["norepinephrine", "dopamine"], "relatedness": "probable",
        "action_taken": "DRUG INTERRUPTED"}).adverse_event
    stored = CRSAssessment.objects.get(adverse_event=event)
    assert "hypotension requiring multiple vasopressors (dopamine, norepinephrine;" in stored.astct_rationale
    assert "(dopamine, norepinephrine)" in stored.ctcae_rationale
    page = visible_text(logged_in(nurse).get(f"/events/{event.pk}/history/"))
    if language == "pl":
        assert "(dopamina, noradrenalina (norepinefryna);" in page
        assert "leczona wazopresorem (dopamina, noradrenalina (norepinefryna))" in page
        assert "norepinephrine" not in page.replace("(norepinefryna)", "")
    else:
        assert stored.astct_rationale in page and stored.ctcae_rationale.split(" Life")[0] in page
    assert "38,5 °C" in page if language == "pl" else "38.5 °C" in page


def test_with_agent_names_keeps_the_stored_english_and_other_texts():
    from ae.bedside_labels import agent_name, with_agent_names

    assert with_agent_names(str) is str
    with translation.override("pl"):
        named = with_agent_names(translation.gettext)
        assert named("epinephrine") == agent_name("epinephrine") == "adrenalina (epinefryna)"
        assert named("Grade 2: hypotension responsive to fluids.").startswith("Stopień 2")
        assert agent_name("unknown-agent") == "unknown-agent"
    with translation.override("en-gb"):
        assert [agent_name(code) for code in ("dopamine", "vasopressin")] == ["dopamine", "vasopressin"]


def test_a_refused_lab_value_is_quoted_with_the_readers_decimal_comma(language, nurse, cycle):
    """The lab form's plausibility refusal quotes the typed value in the reader's convention ("Potas 0,5 mmol/L");
    the English (and the API without Accept-Language) is what it was."""
    page = visible_text(logged_in(nurse).post(f"/patients/{cycle.patient_id}/labs/new/", {
        "analyte": "potassium", "value": "0.5", "unit": "mmol/L", "lln": "3.5", "uln": "5.1",
        "collected_at": "2026-01-10T08:00", "cycle": cycle.pk}))
    expect = {"pl": "Potas 0,5 mmol/L", "en-gb": "Potassium 0.5 mmol/L is not plausible"}[language]
    assert expect in page, page
    assert not LabResult.objects.exists()
