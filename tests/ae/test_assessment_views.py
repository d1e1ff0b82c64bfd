"""Bedside assessment and lab pages, the data-quality queries on the report, and their site isolation."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ae.models import AdverseEvent, CRSAssessment, ICANSAssessment, LabResult
from ae.services.assessments import crs_assessment_record
from ae.services.labs import lab_result_record
from tests.conftest import make_cycle, make_patient

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
NEW = {"relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}


def when(day: int, hour: int = 8) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def crs_post(cycle, day: int, episode="", **criteria) -> dict:
    data = {"episode": episode, "cycle": cycle.pk, "assessed_at": when(day).strftime("%Y-%m-%dT%H:%M"),
            "oxygen_device": "none", "relatedness": "probable", "action_taken": "DRUG INTERRUPTED"}
    return data | criteria


def test_two_crs_assessments_through_the_form_make_one_event_whose_grade_rose(nurse_client, patient, cycle):
    page = nurse_client.get(f"/patients/{patient.pk}/")
    assert "Record CRS assessment" in page.content.decode()
    url = f"/patients/{patient.pk}/crs/new/"
    assert nurse_client.get(url).status_code == 200
    response = nurse_client.post(url, crs_post(cycle, 6, temperature_c="38.5"))
    event = AdverseEvent.objects.get()
    assert response.status_code == 302 and response.url == f"/events/{event.pk}/history/"
    # The ongoing episode is the default choice of the next assessment.
    form = nurse_client.get(url).context["form"]
    assert form.initial["episode"] == str(event.pk)
    assert form.fields["episode"].widget.attrs["data-positive"] == str(event.pk)
    nurse_client.post(url, crs_post(cycle, 7, episode=str(event.pk), temperature_c="39.1", hypotension="on",
                                    vasopressors=["norepinephrine"]))
    event = AdverseEvent.objects.get()
    assert (event.grade, event.computed_grade, CRSAssessment.objects.count()) == (3, 3, 2)
    history = nurse_client.get(f"/events/{event.pk}/history/").content.decode()
    assert history.count("<tr><td>06 Jan 2026 08:00</td>") == 1 and "07 Jan 2026 08:00" in history
    assert "Record another CRS assessment" in history


def test_a_differing_grade_without_reason_is_an_error_next_to_the_reason(nurse_client, patient, cycle):
    response = nurse_client.post(f"/patients/{patient.pk}/crs/new/",
                                 crs_post(cycle, 6, temperature_c="38.5", entered_grade="2"))
    assert response.status_code == 200
    assert "grade_discrepancy_reason" in response.context["form"].errors
    assert AdverseEvent.objects.count() == 0
    assert response.context["form"].data["temperature_c"] == "38.5"  # nothing typed is lost


def test_icans_form_defaults_the_tool_from_age_and_saves(nurse_client, ward, nurse):
    child = make_patient(ward, "KRK-007", birth_month=datetime.date(2018, 5, 1))
    cycle = make_cycle(child)
    url = f"/patients/{child.pk}/icans/new/"
    assert nurse_client.get(url).context["form"].initial["tool"] == "CAPD"
    response = nurse_client.post(url, {"episode": "", "cycle": cycle.pk, "assessed_at": "2026-01-06T09:30",
                                       "tool": "CAPD", "score": "10", "consciousness": "normal", "seizure": "none",
                                       "motor": "none", "cerebral_edema": "none", **NEW})
    assert response.status_code == 302
    assert ICANSAssessment.objects.get().grade == 3  # CAPD >= 9 = grade 3


def test_lab_form_saves_the_graded_value(nurse_client, patient, cycle):
    response = nurse_client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "anc", "value": "800", "unit": "/mm3", "lln": "1500", "uln": "", "collected_at":
        "2026-01-08T07:00", "cycle": ""})
    assert response.status_code == 302
    result = LabResult.objects.get()
    assert (result.grade, result.cycle, result.treatment_emergent) == (3, cycle, True)  # ANC <1.0-0.5 = 3


# --- data-quality queries ------------------------------------------------------------------------------


def discrepancy(patient, cycle, nurse, day=6):
    return crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
        "assessed_at": when(day), "temperature_c": 38.5, "entered_grade": 2,
        "grade_discrepancy_reason": "judged moderate", **NEW}).adverse_event


def test_the_officer_sees_the_query_on_the_report_and_resolves_it(client, ward, patient, cycle, nurse, officer):
    event = discrepancy(patient, cycle, nurse)
    client.force_login(officer)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    assert "Data-quality queries" in page and "judged moderate" in page and "Resolve query" in page
    response = client.post(f"/events/{event.pk}/discrepancy/resolve/", {"comment": "Agreed", "next": "report"})
    assert response.status_code == 302 and response.url == f"/sites/{ward.slug}/report/"
    event.refresh_from_db()
    assert event.discrepancy_resolved_by == officer
    assert "judged moderate" not in client.get(f"/sites/{ward.slug}/report/").content.decode()


def test_ward_staff_cannot_resolve_a_query(nurse_client, patient, cycle, nurse):
    event = discrepancy(patient, cycle, nurse)
    response = nurse_client.post(f"/events/{event.pk}/discrepancy/resolve/", {"comment": "fine"}, follow=True)
    assert "Only a safety officer" in response.content.decode()
    event.refresh_from_db()
    assert event.discrepancy_resolved_at is None


# --- site isolation ------------------------------------------------------------------------------------


def test_the_outsider_reaches_none_of_the_new_pages(client, ward, patient, cycle, nurse, officer, outsider):
    event = discrepancy(patient, cycle, nurse)
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 40, "unit": "10^9/L", "lln": 150, "collected_at": when(7)})
    pages = [f"/patients/{patient.pk}/crs/new/", f"/patients/{patient.pk}/icans/new/",
             f"/patients/{patient.pk}/labs/new/", f"/events/{event.pk}/history/"]
    client.force_login(nurse)
    assert [client.get(p).status_code for p in pages] == [200, 200, 200, 200]
    client.force_login(outsider)
    assert [client.get(p).status_code for p in pages] == [404, 404, 404, 404]
    writes = [(pages[0], crs_post(cycle, 8, temperature_c="39")), (pages[2], {
        "analyte": "anc", "value": "100", "unit": "/mm3", "collected_at": "2026-01-08T07:00"}),
        (f"/events/{event.pk}/discrepancy/resolve/", {"comment": "x"})]
    assert [client.post(p, d).status_code for p, d in writes] == [404, 404, 404]
    assert (CRSAssessment.objects.count(), LabResult.objects.count()) == (1, 1)
    event.refresh_from_db()
    assert event.discrepancy_resolved_at is None
    page = client.get(f"/sites/{ward.slug}/report/")
    assert page.status_code == 404
    # The safety officer reads the episode but cannot record assessments (recorders only).
    client.force_login(officer)
    assert client.get(pages[3]).status_code == 200
    assert client.get(pages[0]).status_code == 404


def test_the_grading_calculators_need_a_login(client):
    assert client.post("/api/v1/grading/crs/", {}, content_type="application/json").status_code in (401, 403)


# --- query counts --------------------------------------------------------------------------------------


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_list_pages_do_not_issue_a_query_per_row(client, ward, nurse, officer):
    patients = [make_patient(ward, f"KRK-1{i:02d}") for i in range(8)]
    cycles = [make_cycle(p) for p in patients]
    events = [discrepancy(p, c, nurse) for p, c in zip(patients[:2], cycles[:2], strict=True)]
    for day in range(7, 9):
        crs_assessment_record(patient=patients[0], cycle=None, episode=events[0], acting_user=nurse, data={
            "assessed_at": when(day), "temperature_c": 38.8})
    for day in range(6, 8):
        lab_result_record(patient=patients[0], acting_user=nurse, data={
            "analyte": "anc", "value": 0.9, "unit": "10^9/L", "lln": 1.5, "collected_at": when(day)})
    client.force_login(officer)
    report_few = count(client, f"/sites/{ward.slug}/report/")
    history_few = count(client, f"/events/{events[0].pk}/history/")
    for p, c in zip(patients[2:], cycles[2:], strict=True):
        discrepancy(p, c, nurse)
    for day in range(9, 15):
        crs_assessment_record(patient=patients[0], cycle=None, episode=events[0], acting_user=nurse, data={
            "assessed_at": when(day), "temperature_c": 38.8})
        lab_result_record(patient=patients[0], acting_user=nurse, data={
            "analyte": "anc", "value": 0.9, "unit": "10^9/L", "lln": 1.5, "collected_at": when(day)})
    assert count(client, f"/sites/{ward.slug}/report/") == report_few
    assert count(client, f"/events/{events[0].pk}/history/") == history_few
    client.force_login(nurse)
    labs = count(client, f"/patients/{patients[0].pk}/labs/new/")
    lab_result_record(patient=patients[0], acting_user=nurse, data={
        "analyte": "platelets", "value": 20, "unit": "10^9/L", "lln": 150, "collected_at": when(16)})
    assert count(client, f"/patients/{patients[0].pk}/labs/new/") == labs
    assert count(client, f"/patients/{patients[0].pk}/crs/new/") <= 12
