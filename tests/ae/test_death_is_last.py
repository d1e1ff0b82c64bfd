"""A death is the last day of the patient's record.

Found in a browser walk (1 Dec 2026): after a fatal sepsis (grade 5, resolution date = date of death 28 Nov), the
ward could still save a fever beginning 30 Nov, a lab value and a CRS assessment of 30 Nov, and a cycle starting
1 Dec. A pharmacovigilance reviewer rejects such a record (CDISC: the fatal AE's AEENDTC is the date of death; DM
DTHDTC). Each path refuses it with an error on the field to correct; the database triggers ``ae_not_after_death``
and ``ae_death_is_last`` refuse what bypasses the checks.
"""

from __future__ import annotations

import datetime
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent, CRSAssessment, LabResult
from ae.services.assessments import crs_assessment_record
from ae.services.labs import lab_result_record
from patients.models import TreatmentCycle
from patients.services import cycle_save
from tests.conftest import event_form_data, make_cycle, make_event, term

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
DAY = datetime.timedelta(days=1)


@pytest.fixture
def death(cycle, nurse) -> AdverseEvent:
    """A fatal sepsis from cycle day 3 (7 Jan 2026), the patient died on day 5 (9 Jan 2026)."""
    return make_event(cycle, "Sepsis", grade=5, onset_day=3, user=nurse, resolution_date=cycle.start_date + 4 * DAY)


def died(cycle) -> datetime.date:
    return cycle.start_date + 4 * DAY


def test_the_patient_death_date_is_the_end_of_the_fatal_event(patient, cycle, death):
    assert patient.death_date() == died(cycle) == datetime.date(2026, 1, 9)
    assert patient.death_date(excluding_event=death.pk) is None
    # a death without a resolution date ends on its onset
    AdverseEvent.objects.filter(pk=death.pk).update(resolution_date=None)
    assert patient.death_date() == datetime.date(2026, 1, 7)


def test_the_form_refuses_an_event_beginning_after_the_death_and_keeps_what_was_typed(nurse_client, patient, cycle,
                                                                                     death):
    data = event_form_data(cycle, term="Fever", grade=1, onset_date=(died(cycle) + 2 * DAY).isoformat())
    response = nurse_client.post(f"/patients/{patient.pk}/events/new/", data)
    assert response.status_code == 200
    assert AdverseEvent.objects.count() == 1
    error = response.context["form"].errors["onset_date"][0]
    assert "The patient died on 09 Jan 2026" in error and "cannot begin after" in error
    assert response.context["form"].data["onset_date"] == "2026-01-11"
    # the day of the death itself is still the record
    data["onset_date"] = died(cycle).isoformat()
    assert nurse_client.post(f"/patients/{patient.pk}/events/new/", data).status_code == 302


def test_an_event_cannot_resolve_after_the_death(nurse_client, patient, cycle, death):
    data = event_form_data(cycle, term="Fever", grade=1, resolution_date=(died(cycle) + DAY).isoformat())
    response = nurse_client.post(f"/patients/{patient.pk}/events/new/", data)
    assert response.status_code == 200
    error = response.context["form"].errors["resolution_date"][0]
    assert "cannot resolve after that" in error and "Not recovered/not resolved" in error


def test_a_death_dated_before_later_records_is_refused_naming_them(nurse_client, nurse, patient, cycle):
    make_event(cycle, "Fever", grade=1, onset_day=8, user=nurse)  # 12 Jan 2026
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 140, "unit": "10^9/L", "lln": 150,
        "collected_at": datetime.datetime(2026, 1, 13, 8, tzinfo=TZ)})
    make_cycle(patient, number=2, start=datetime.date(2026, 1, 14))
    data = event_form_data(cycle, term="Sepsis", grade=5, outcome="FATAL", serious="on", sae_death="on",
                           onset_date="2026-01-07", resolution_date="2026-01-09")
    response = nurse_client.post(f"/patients/{patient.pk}/events/new/", data)
    assert response.status_code == 200
    error = response.context["form"].errors["resolution_date"][0]
    assert "goes on after 09 Jan 2026" in error
    assert "Fever from 12 Jan 2026" in error and "a lab value of 13 Jan 2026" in error
    assert "cycle 2 starting 14 Jan 2026" in error
    assert not AdverseEvent.objects.filter(outcome="FATAL").exists()
    # dated on the last day of the record, it is saved
    data["resolution_date"] = "2026-01-14"
    assert nurse_client.post(f"/patients/{patient.pk}/events/new/", data).status_code == 302


def test_lab_values_and_assessments_after_the_death_are_refused(patient, cycle, nurse, death):
    with pytest.raises(ValidationError) as refused:
        lab_result_record(patient=patient, acting_user=nurse, data={
            "analyte": "platelets", "value": 20, "unit": "10^9/L", "lln": 150,
            "collected_at": datetime.datetime(2026, 1, 10, 7, 30, tzinfo=TZ)})
    assert "The patient died on 09 Jan 2026" in refused.value.message_dict["collected_at"][0]
    with pytest.raises(ValidationError) as refused:
        crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
            "assessed_at": datetime.datetime(2026, 1, 10, 0, 30, tzinfo=TZ), "temperature_c": 38.6,
            "relatedness": "probable", "action_taken": "DRUG INTERRUPTED"})
    assert "nothing can be recorded after that day" in refused.value.message_dict["assessed_at"][0]
    assert (LabResult.objects.count(), CRSAssessment.objects.count()) == (0, 0)
    # late in the evening of the day of death (the site's time) is still the record
    lab_result_record(patient=patient, acting_user=nurse, data={
        "analyte": "platelets", "value": 20, "unit": "10^9/L", "lln": 150,
        "collected_at": datetime.datetime(2026, 1, 9, 23, 30, tzinfo=TZ)})


def test_a_cycle_cannot_start_after_the_death(patient, cycle, nurse, death):
    with pytest.raises(ValidationError) as refused:
        cycle_save(cycle=TreatmentCycle(patient=patient, number=2, start_date=died(cycle) + DAY,
                                        dexamethasone_premedication="no"), acting_user=nurse)
    assert "a cycle cannot start after that" in refused.value.message_dict["start_date"][0]


def test_the_api_answers_400_on_the_field(nurse, patient, cycle, death):
    client = APIClient()
    client.force_authenticate(nurse)
    response = client.post("/api/v1/adverse-events/", {
        "patient": patient.pk, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
        "onset_date": (died(cycle) + DAY).isoformat(), "relatedness": "possible",
        "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}, format="json")
    assert response.status_code == 400
    assert "onset_date" in response.json()["errors"]


def test_moving_the_death_later_is_allowed_and_earlier_than_a_record_is_not(nurse, patient, cycle, death):
    make_event(cycle, "Fever", grade=1, onset_day=5, user=nurse)  # on the day of death
    death.resolution_date = died(cycle) + 2 * DAY
    death.full_clean()
    death.resolution_date = died(cycle) - DAY
    with pytest.raises(ValidationError) as refused:
        death.full_clean()
    assert "Fever from 09 Jan 2026" in refused.value.message_dict["resolution_date"][0]


def test_the_database_refuses_what_bypasses_the_checks(nurse, patient, cycle, death):
    with pytest.raises(IntegrityError, match="after the patient's death"), transaction.atomic():
        make_event(cycle, "Fever", grade=1, onset_day=6, user=nurse)
    with pytest.raises(IntegrityError, match="after the patient's death"), transaction.atomic():
        make_event(cycle, "Fever", grade=1, onset_day=2, user=nurse, resolution_date=died(cycle) + DAY)
    later = make_event(cycle, "Fever", grade=1, onset_day=5, user=nurse)
    with pytest.raises(IntegrityError, match="goes on after this death"), transaction.atomic():
        AdverseEvent.objects.filter(pk=death.pk).update(resolution_date=died(cycle) - DAY)
    with pytest.raises(IntegrityError, match="goes on after this death"), transaction.atomic():
        AdverseEvent.objects.create(
            patient=patient, cycle=cycle, term=term("Cardiac arrest"), grade=5, onset_date=cycle.start_date + DAY,
            created_by=nurse, relatedness="not_related", action_taken="NOT APPLICABLE", outcome="FATAL",
            serious=True, sae_death=True)
    later.refresh_from_db()
    assert later.onset_date == died(cycle)


def test_an_import_refuses_rows_after_a_death_in_the_file_or_in_the_database(ward, nurse, patient, cycle):
    from ae.services.imports import adverse_events_import

    header = ("study_id,cycle,ctcae_term,grade,onset_date,resolution_date,verbatim_term,grading_scale,"
              "serious_criteria,relatedness,action_taken,outcome,present_before_cycle,grade_at_cycle_start")
    rows = [
        "KRK-001,1,Sepsis,5,2026-01-07,2026-01-09,,ctcae_v5_0,death,not_related,NOT APPLICABLE,FATAL,no,",
        "KRK-001,1,Nausea,1,2026-01-11,,,ctcae_v5_0,,possible,DOSE NOT CHANGED,NOT RECOVERED/NOT RESOLVED,no,",
        "KRK-001,1,Headache,1,2026-01-08,,,ctcae_v5_0,,possible,DOSE NOT CHANGED,NOT RECOVERED/NOT RESOLVED,no,",
    ]

    def run(lines):
        raw = io.BytesIO(("\n".join([header, *lines]) + "\n").encode())
        return adverse_events_import(site=ward, raw=raw, file_name="aes.csv", dry_run=True, acting_user=nurse)

    report = run(rows)
    errors = {r.line: r.errors for r in report.rows if r.status == "error"}
    assert list(errors) == [3]  # the nausea after the death of line 2; the headache before it is fine
    assert "The patient died on 09 Jan 2026" in " ".join(errors[3])
    # a death dated before a row earlier in the file, or before an event already recorded
    report = run([rows[2], "KRK-001,1,Sepsis,5,2026-01-07,,,ctcae_v5_0,death,not_related,NOT APPLICABLE,FATAL,no,"])
    errors = {r.line: r.errors for r in report.rows if r.status == "error"}
    assert list(errors) == [3] and "goes on after 07 Jan 2026" in " ".join(errors[3])
    make_event(cycle, "Fever", grade=1, onset_day=9)
    report = run([rows[0]])
    errors = {r.line: r.errors for r in report.rows if r.status == "error"}
    assert list(errors) == [2] and "Fever from 13 Jan 2026" in " ".join(errors[2])


def test_a_treatment_after_the_death_is_refused_and_a_death_before_a_treatment_too(patient, cycle, nurse):
    from ae.models import EventTreatment
    from ae.services.treatments import event_treatment_save

    crs = make_event(cycle, "Cytokine release syndrome", grade=3, onset_day=2, user=nurse)
    event_treatment_save(treatment=EventTreatment(adverse_event=crs, drug="tocilizumab", dose=8, dose_unit="mg_kg",
                                                  given_at=datetime.datetime(2026, 1, 11, 9, tzinfo=TZ)),
                         acting_user=nurse)  # two days after: the trigger's day of slack for time zones is past
    death = AdverseEvent(patient=patient, cycle=cycle, term=term("Sepsis"), grade=5, onset_date=cycle.start_date,
                         resolution_date=died(cycle), relatedness="not_related", action_taken="NOT APPLICABLE",
                         outcome="FATAL", serious=True, sae_death=True, created_by=nurse)
    with pytest.raises(ValidationError) as refused:
        death.full_clean()
    assert "a treatment given on 11 Jan 2026" in refused.value.message_dict["resolution_date"][0]
    with pytest.raises(IntegrityError, match="goes on after this death"), transaction.atomic():
        death.save()
    EventTreatment.objects.all().delete()
    death.save()
    with pytest.raises(ValidationError) as refused:
        event_treatment_save(treatment=EventTreatment(
            adverse_event=crs, drug="tocilizumab", dose=8, dose_unit="mg_kg",
            given_at=datetime.datetime(2026, 1, 10, 9, tzinfo=TZ)), acting_user=nurse)
    assert "The patient died on 09 Jan 2026" in refused.value.message_dict["given_at"][0]


def test_a_row_stored_before_the_rule_still_saves_other_changes_in_the_database(nurse, patient, cycle, death):
    import pgtrigger

    with pgtrigger.ignore("ae.AdverseEvent:ae_not_after_death"):
        legacy = make_event(cycle, "Fever", grade=1, onset_day=7, user=nurse)  # 11 Jan, after the death on 9 Jan
    AdverseEvent.objects.filter(pk=legacy.pk).update(relatedness="definite")  # dates unchanged: saved
    AdverseEvent.objects.filter(pk=death.pk).update(relatedness="unlikely")  # the same death, the same day: saved
    with pytest.raises(IntegrityError, match="after the patient's death"), transaction.atomic():
        AdverseEvent.objects.filter(pk=legacy.pk).update(onset_date=died(cycle) + 3 * DAY)
    with pytest.raises(IntegrityError, match="goes on after this death"), transaction.atomic():
        AdverseEvent.objects.filter(pk=death.pk).update(onset_date=cycle.start_date + DAY)
    # the form still asks for the date to be corrected
    legacy.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        legacy.full_clean()
    assert "onset_date" in refused.value.message_dict


def test_the_patient_page_says_when_the_patient_died(nurse_client, patient, cycle, death):
    page = nurse_client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Died 09 Jan 2026" in page and "the last day of the record" in page
    AdverseEvent.objects.filter(pk=death.pk).update(outcome="UNKNOWN", grade=4, serious=True, sae_death=False,
                                                     sae_life_threatening=True)
    assert "Died" not in nurse_client.get(f"/patients/{patient.pk}/").content.decode()


def test_the_report_lists_records_saved_after_a_death_before_the_rule(client, ward, officer, nurse, patient, cycle,
                                                                      death):
    import pgtrigger

    from ae.selectors import records_after_death

    assert records_after_death(site=ward, limit=50) == []
    with pgtrigger.ignore("ae.AdverseEvent:ae_not_after_death"):
        make_event(cycle, "Fever", grade=1, onset_day=7, user=nurse)  # 11 Jan, after the death on 9 Jan
    assert records_after_death(site=ward, limit=50) == [(patient, died(cycle), datetime.date(2026, 1, 11))]
    client.force_login(officer)
    page = client.get(f"/sites/{ward.slug}/report/").content.decode()
    assert "Records dated after the patient's death" in page
    assert f'<a href="/patients/{patient.pk}/">KRK-001</a>: died 09 Jan 2026, records dated up to 11 Jan 2026' in page
