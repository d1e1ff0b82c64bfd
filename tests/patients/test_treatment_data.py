"""Issue 20 items 4, 5, 6 and the demo regimen of item 8: the treatment data that drive CRS and neurotoxicity
(dosing steps, weight/BSA, bag, CNS status, premedication, interruptions, event treatments, stays), disease status
per cycle, and the end of the emergence window at the next therapy."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent
from ae.selectors import treatment_emergent_events, with_treatment_emergent
from patients import selectors
from patients.models import NextTherapy, Patient, TreatmentCycle
from patients.treatment import DosingStep, HospitalStay, InfusionInterruption
from reports import benchmark
from reports.demo import demo_ward_load
from tests.conftest import api_errors, make_cycle, make_event, make_patient

T0 = datetime.datetime(2026, 1, 6, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    api = APIClient()
    api.force_authenticate(nurse)
    return api


# --- item 6: dosing steps, weight, bag, premedication, interruptions, event treatments -------------------------

def test_a_fixed_dose_cycle_of_a_child_of_45_kg_or_more_records_9_then_28_ug_per_day(nurse_api, patient):
    cycle = make_cycle(patient, weight_kg=Decimal("52"), bsa_m2=Decimal("1.55"))
    for day, dose in ((1, "9"), (8, "28")):
        response = nurse_api.post("/api/v1/dosing-steps/", {"cycle": cycle.pk, "from_day": day, "dose": dose,
                                                             "unit": "ug_day"}, format="json")
        assert response.status_code == 201, response.json()
    steps = nurse_api.get(f"/api/v1/cycles/{cycle.pk}/").json()["dosing_steps"]
    assert [(s["from_day"], s["dose"], s["unit"]) for s in steps] == [(1, "9.00", "ug_day"), (8, "28.00", "ug_day")]


def test_a_fixed_dose_is_refused_under_45_kg_by_the_api_and_the_database(nurse_api, patient):
    cycle = make_cycle(patient, weight_kg=Decimal("30"))
    response = nurse_api.post("/api/v1/dosing-steps/", {"cycle": cycle.pk, "from_day": 1, "dose": "9",
                                                         "unit": "ug_day"}, format="json")
    assert response.status_code == 400 and "45 kg" in api_errors(response)["unit"][0]
    with pytest.raises(IntegrityError, match="45"), transaction.atomic():
        DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("9"), unit="ug_day")


def test_xies_three_step_regimen_fits_as_rows_and_a_second_step_on_one_day_answers_400(nurse_api, cycle):
    for day, dose in ((1, "5"), (3, "10"), (5, "15")):
        assert nurse_api.post("/api/v1/dosing-steps/", {"cycle": cycle.pk, "from_day": day, "dose": dose,
                                                         "unit": "ug_m2_day"}, format="json").status_code == 201
    again = nurse_api.post("/api/v1/dosing-steps/", {"cycle": cycle.pk, "from_day": 3, "dose": "15",
                                                      "unit": "ug_m2_day"}, format="json")
    assert again.status_code == 400 and "from_day" in api_errors(again)
    assert list(cycle.dosing_steps.values_list("dose", flat=True)) == [Decimal("5"), Decimal("10"), Decimal("15")]


def test_the_seven_day_bag_is_refused_under_22_kg(nurse_api, patient):
    cycle = make_cycle(patient, weight_kg=Decimal("18.5"))
    response = nurse_api.patch(f"/api/v1/cycles/{cycle.pk}/", {"bag_hours": 168, "reason": "bag changed"},
                               format="json")
    assert response.status_code == 400
    assert "not for patients under 22 kg" in api_errors(response)["bag_hours"][0]
    with pytest.raises(IntegrityError, match="cycle_seven_day_bag_min_22kg"), transaction.atomic():
        TreatmentCycle.objects.filter(pk=cycle.pk).update(bag_hours=168)
    ok = nurse_api.patch(f"/api/v1/cycles/{cycle.pk}/", {"bag_hours": 168, "weight_kg": "24", "reason": "weighed"},
                         format="json")
    assert ok.status_code == 200 and ok.json()["bag_hours"] == 168


def test_premedication_has_no_silent_default_and_a_dose_when_given(nurse_api, patient):
    base = {"patient": patient.pk, "number": 1, "schedule": "standard_28d", "start_date": "2026-01-05"}
    created = nurse_api.post("/api/v1/cycles/", base, format="json")
    assert created.status_code == 201 and created.json()["dexamethasone_premedication"] == "not_recorded"
    cycle_url = f"/api/v1/cycles/{created.json()['id']}/"
    no_dose = nurse_api.patch(cycle_url, {"dexamethasone_premedication": "yes", "reason": "chart"}, format="json")
    assert no_dose.status_code == 400 and "dexamethasone_dose" in api_errors(no_dose)
    given = nurse_api.patch(cycle_url, {"dexamethasone_premedication": "yes", "dexamethasone_dose": "5",
                                        "dexamethasone_dose_unit": "mg_m2", "reason": "chart"}, format="json")
    assert given.status_code == 200
    with pytest.raises(IntegrityError, match="cycle_dexamethasone_dose_iff_given"), transaction.atomic():
        TreatmentCycle.objects.filter(pk=created.json()["id"]).update(dexamethasone_premedication="no")


def test_the_new_cycle_form_makes_premedication_a_choice(client, nurse, patient):
    client.force_login(nurse)
    page = client.get(f"/patients/{patient.pk}/cycles/new/").content.decode()
    select = page[page.index('name="dexamethasone_premedication"'):]
    select = select[:select.index("</select>")]
    assert '<option value="" selected>— choose —</option>' in select and select.count("selected") == 1
    data = {"number": 1, "schedule": "standard_28d", "start_date": "2026-01-05", "interruptions": 0,
            "cns_status": "not_recorded"}
    response = client.post(f"/patients/{patient.pk}/cycles/new/", data)
    assert response.status_code == 200 and not TreatmentCycle.objects.exists()
    assert "dexamethasone_premedication" in response.context["form"].errors
    response = client.post(f"/patients/{patient.pk}/cycles/new/", data | {"dexamethasone_premedication": "no"})
    assert response.status_code == 302
    assert TreatmentCycle.objects.get().dexamethasone_premedication == "no"


def test_an_interruption_of_4_hours_or_more_flags_dexamethasone_before_restart(nurse_api, cycle):
    long_stop = nurse_api.post("/api/v1/interruptions/", {
        "cycle": cycle.pk, "stopped_at": T0.isoformat(), "restarted_at": (T0 + datetime.timedelta(hours=5)).isoformat(),
        "cause": "CRS grade 3"}, format="json")
    assert long_stop.status_code == 201, long_stop.json()
    assert long_stop.json()["needs_dexamethasone"] is True
    assert "5.0 h interruption" in long_stop.json()["dexamethasone_rule_flag"]
    short_stop = nurse_api.post("/api/v1/interruptions/", {
        "cycle": cycle.pk, "stopped_at": (T0 + datetime.timedelta(days=2)).isoformat(),
        "restarted_at": (T0 + datetime.timedelta(days=2, hours=3, minutes=59)).isoformat(), "cause": "line occluded"},
        format="json")
    assert short_stop.json()["needs_dexamethasone"] is False and short_stop.json()["dexamethasone_rule_flag"] is None
    given = InfusionInterruption.objects.get(pk=long_stop.json()["id"])
    given.dexamethasone_before_restart = "yes"
    assert given.needs_dexamethasone and given.dexamethasone_rule_flag is None


def test_an_interruption_restart_before_its_stop_or_without_a_cause_answers_400(nurse_api, cycle):
    body = {"cycle": cycle.pk, "stopped_at": T0.isoformat(), "cause": "seizure",
            "restarted_at": (T0 - datetime.timedelta(hours=1)).isoformat()}
    response = nurse_api.post("/api/v1/interruptions/", body, format="json")
    assert response.status_code == 400 and "restarted_at" in api_errors(response)
    response = nurse_api.post("/api/v1/interruptions/", body | {"restarted_at": None, "cause": ""}, format="json")
    assert response.status_code == 400 and "cause" in api_errors(response)
    with pytest.raises(IntegrityError, match="interruption_restart_after_stop"), transaction.atomic():
        InfusionInterruption.objects.create(cycle=cycle, stopped_at=T0, restarted_at=T0, cause="x")


def test_event_treatments_are_rows_with_drug_dose_and_time(nurse_api, cycle):
    event = make_event(cycle, "Cytokine release syndrome", grade=3)
    toci = nurse_api.post("/api/v1/event-treatments/", {
        "adverse_event": event.pk, "drug": "tocilizumab", "dose": "8", "dose_unit": "mg_kg",
        "given_at": (T0 + datetime.timedelta(hours=6)).isoformat()}, format="json")
    assert toci.status_code == 201, toci.json()
    no_unit = nurse_api.post("/api/v1/event-treatments/", {
        "adverse_event": event.pk, "drug": "corticosteroid", "drug_name": "dexamethasone", "dose": "10",
        "given_at": (T0 + datetime.timedelta(hours=7)).isoformat()}, format="json")
    assert no_unit.status_code == 400
    assert list(event.treatments.values_list("drug", flat=True)) == ["tocilizumab"]


def test_admission_and_icu_stays_are_recorded_and_a_discharge_before_admission_is_refused(nurse_api, cycle):
    ok = nurse_api.post("/api/v1/hospital-stays/", {"cycle": cycle.pk, "kind": "icu", "admitted_on": "2026-01-07",
                                                     "discharged_on": "2026-01-09"}, format="json")
    assert ok.status_code == 201
    bad = nurse_api.post("/api/v1/hospital-stays/", {"cycle": cycle.pk, "kind": "ward", "admitted_on": "2026-01-07",
                                                      "discharged_on": "2026-01-06"}, format="json")
    assert bad.status_code == 400
    assert list(HospitalStay.objects.values_list("kind", flat=True)) == ["icu"]


def test_treatment_records_of_another_ward_are_invisible_and_unwritable(nurse_api, other_ward):
    foreign = make_cycle(make_patient(other_ward, "OTH-001"))
    DosingStep.objects.create(cycle=foreign, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    assert nurse_api.get("/api/v1/dosing-steps/").json()["count"] == 0
    response = nurse_api.post("/api/v1/dosing-steps/", {"cycle": foreign.pk, "from_day": 2, "dose": "5",
                                                         "unit": "ug_m2_day"}, format="json")
    assert response.status_code in (400, 403)


# --- item 5: disease status per cycle ---------------------------------------------------------------------------

def test_a_patients_status_differs_between_cycles_and_the_benchmark_reads_the_cycle(nurse_api, ward):
    patient = make_patient(ward, disease_status=Patient.DiseaseStatus.SECOND_RELAPSE)
    first = nurse_api.post("/api/v1/cycles/", {"patient": patient.pk, "number": 1, "schedule": "standard_28d",
                                                "start_date": "2026-01-05", "marrow_blasts_pct": "40"}, format="json")
    second = nurse_api.post("/api/v1/cycles/", {"patient": patient.pk, "number": 2, "schedule": "standard_28d",
                                                 "start_date": "2026-02-16", "marrow_blasts_pct": "1",
                                                 "mrd_pct": "0.05"}, format="json")
    assert (first.json()["disease_status"], second.json()["disease_status"]) == ("relapsed_refractory",
                                                                                 "mrd_positive_cr")
    # A child in second remission with MRD is no longer mapped to R/R by the patient's relapse number.
    other = make_patient(ward, "KRK-002", disease_status=Patient.DiseaseStatus.SECOND_RELAPSE)
    make_cycle(other, marrow_blasts_pct=Decimal("0.5"), mrd_pct=Decimal("0.2"), disease_status="mrd_positive_cr")
    counts = benchmark.collect_inputs(ward)["ward_profile"]["population_counts"]
    assert (counts["relapsed_refractory"], counts["mrd_positive_cr"]) == (1, 2)


def test_a_cycle_status_contradicting_the_marrow_answers_400_and_the_database_refuses_it(nurse_api, patient):
    response = nurse_api.post("/api/v1/cycles/", {"patient": patient.pk, "number": 1, "schedule": "standard_28d",
                                                   "start_date": "2026-01-05", "marrow_blasts_pct": "30",
                                                   "disease_status": "mrd_positive_cr"}, format="json")
    assert response.status_code == 400 and "≥ 5%" in api_errors(response)["disease_status"][0]
    with pytest.raises(IntegrityError, match="cycle_remission_blasts_below_5"), transaction.atomic():
        make_cycle(patient, marrow_blasts_pct=Decimal("30"), disease_status="mrd_negative_cr")


def test_a_cycle_without_blasts_or_mrd_falls_back_to_the_patients_status(ward):
    patient = make_patient(ward, disease_status=Patient.DiseaseStatus.CHEMO_INELIGIBLE)
    cycle = make_cycle(patient, marrow_blasts_pct=None)
    assert cycle.disease_status == "" and cycle.population == "chemo_ineligible_cr"
    counts = benchmark.collect_inputs(ward)["ward_profile"]["population_counts"]
    assert counts["chemo_ineligible_cr"] == 1


# --- item 4: end of the emergence window ------------------------------------------------------------------------

def test_an_event_after_hsct_is_not_treatment_emergent(ward, patient):
    cycle = make_cycle(patient, end_date=datetime.date(2026, 2, 1))
    before = make_event(cycle, "Cytokine release syndrome", onset_day=3)
    after = make_event(cycle, "Sepsis", grade=3, onset_day=40)  # day 40 = 13 Feb: within 30 days of the end
    assert set(treatment_emergent_events(ward)) == {before, after}
    NextTherapy.objects.create(patient=patient, kind="hsct", start_date=datetime.date(2026, 2, 10))
    assert set(treatment_emergent_events(ward)) == {before}
    flags = dict(with_treatment_emergent(AdverseEvent.objects.all()).values_list("id", "trtemfl"))
    assert flags == {before.pk: True, after.pk: False}
    # The day conditioning starts belongs to the transplant.
    NextTherapy.objects.all().update(start_date=datetime.date(2026, 2, 13))
    assert after not in set(treatment_emergent_events(ward))


def test_a_therapy_before_the_cycle_does_not_end_its_window(ward, patient):
    NextTherapy.objects.create(patient=patient, kind="car_t", start_date=datetime.date(2025, 10, 1))
    cycle = make_cycle(patient)
    event = make_event(cycle, "Cytokine release syndrome", onset_day=3)
    assert list(treatment_emergent_events(ward)) == [event]


def test_the_window_ends_a_configurable_number_of_days_after_the_last_infusion_day(ward, patient, settings):
    cycle = make_cycle(patient, end_date=datetime.date(2026, 2, 1))
    late = make_event(cycle, "Sepsis", grade=3, onset_day=40)  # 12 days after the last infusion day
    assert list(treatment_emergent_events(ward)) == [late]
    settings.PVTRACK_EMERGENCE_DAYS = 10
    assert list(treatment_emergent_events(ward)) == []
    settings.PVTRACK_EMERGENCE_DAYS = 12
    assert list(treatment_emergent_events(ward)) == [late]


# --- item 8 (regimen): the demo ward is Xie 2023's regimen -------------------------------------------------------

@pytest.mark.django_db
def test_the_xie_demo_ward_has_xies_regimen():
    site = demo_ward_load(cohort_slug="xie2023_suzhou", site_slug="demo-xie", site_name="Demo Xie")
    cycles = TreatmentCycle.objects.filter(patient__site=site).prefetch_related("dosing_steps", "stays")
    assert cycles.count() == 33
    for cycle in cycles:
        assert [(s.from_day, s.dose, s.unit) for s in cycle.dosing_steps.all()] == [
            (1, Decimal("5"), "ug_m2_day"), (3, Decimal("10"), "ug_m2_day"), (5, Decimal("15"), "ug_m2_day")]
        assert cycle.schedule == "short_14d" and (cycle.end_date - cycle.start_date).days + 1 == 14
        assert (cycle.dexamethasone_premedication, cycle.dexamethasone_dose,
                cycle.dexamethasone_dose_unit) == ("yes", Decimal("5"), "mg_m2")
        assert [(s.kind, s.admitted_on, s.discharged_on) for s in cycle.stays.all()] == [
            ("ward", cycle.start_date, cycle.end_date)]


# --- the web page of a cycle's treatment data --------------------------------------------------------------------

def test_the_treatment_page_records_rows_and_shows_the_restart_flag(client, nurse, outsider, cycle):
    client.force_login(nurse)
    url = f"/patients/{cycle.patient.pk}/cycles/{cycle.pk}/treatment/"
    response = client.post(url, {"record": "interruption", "interruption-stopped_at": "2026-01-06T10:00",
                                 "interruption-restarted_at": "2026-01-06T16:30", "interruption-cause": "seizure",
                                 "interruption-dexamethasone_before_restart": "not_recorded"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "6.5 h interruption" in page and "is not recorded" in page
    refused = client.post(url, {"record": "step", "step-from_day": 1, "step-dose": "9", "step-unit": "ug_day"})
    assert refused.status_code == 200 and "45 kg" in refused.content.decode()
    assert client.post(url, {"record": "therapy", "therapy-kind": "hsct",
                             "therapy-start_date": "2026-03-01"}).status_code == 302
    assert NextTherapy.objects.filter(patient=cycle.patient, kind="hsct").exists()
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_the_event_treatments_page_adds_a_tocilizumab_dose(client, nurse, officer, outsider, cycle):
    event = make_event(cycle, "Cytokine release syndrome", grade=3)
    url = f"/events/{event.pk}/treatments/"
    client.force_login(nurse)
    response = client.post(url, {"drug": "tocilizumab", "dose": "12", "dose_unit": "mg_kg",
                                 "given_at": "2026-01-06T14:00"})
    assert response.status_code == 302
    assert "Tocilizumab" in client.get(url).content.decode()
    refused = client.post(url, {"drug": "other", "given_at": "2026-01-06T15:00"})
    assert refused.status_code == 200 and "Name the drug" in refused.content.decode()
    client.force_login(officer)  # reads, never writes
    client.post(url, {"drug": "vasopressor", "given_at": "2026-01-06T16:00"})
    assert list(event.treatments.values_list("drug", flat=True)) == ["tocilizumab"]
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_the_wards_treatment_mix_counts_premedication_step_up_and_fixed_doses(ward):
    stepped = make_cycle(make_patient(ward, "KRK-101"), dexamethasone_premedication="yes",
                         dexamethasone_dose=Decimal("5"), dexamethasone_dose_unit="mg_m2")
    DosingStep.objects.bulk_create([DosingStep(cycle=stepped, from_day=d, dose=Decimal(x), unit="ug_m2_day")
                                    for d, x in ((1, "5"), (3, "10"), (5, "15"))])
    fixed = make_cycle(make_patient(ward, "KRK-102"), weight_kg=Decimal("50"), dexamethasone_premedication="no")
    DosingStep.objects.create(cycle=fixed, from_day=1, dose=Decimal("28"), unit="ug_day")
    make_cycle(make_patient(ward, "KRK-103"))
    assert selectors.treatment_mix(ward) == {
        "premedication": {"yes": 1, "no": 1, "not_recorded": 1},
        "dosing": {"step_up": 1, "flat": 1, "not_recorded": 1}, "units": {"bsa": 1, "fixed": 1}}


def test_a_derived_status_follows_a_corrected_marrow_but_an_entered_one_stays(nurse_api, patient):
    cycle = nurse_api.post("/api/v1/cycles/", {"patient": patient.pk, "number": 1, "schedule": "standard_28d",
                                                "start_date": "2026-01-05", "marrow_blasts_pct": "40"}, format="json")
    url = f"/api/v1/cycles/{cycle.json()['id']}/"
    corrected = nurse_api.patch(url, {"marrow_blasts_pct": "1", "mrd_pct": "0.05", "reason": "typo in blasts"},
                                format="json")
    assert corrected.json()["disease_status"] == "mrd_positive_cr"
    entered = nurse_api.patch(url, {"disease_status": "chemo_ineligible_cr", "reason": "not fit for chemotherapy"},
                              format="json")
    assert entered.json()["disease_status"] == "chemo_ineligible_cr"
    again = nurse_api.patch(url, {"mrd_pct": "0.02", "reason": "MRD re-read"}, format="json")
    assert again.json()["disease_status"] == "chemo_ineligible_cr"
