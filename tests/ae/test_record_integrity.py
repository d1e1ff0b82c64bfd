"""A record the ward can trust (issue 9): deaths are serious, one clinical event is one AE, plausible dates,
treatment emergence by the CDISC/admiral rule, no silent duplicates, real reasons, no 500s.

Each test reproduces a defect found on the first slice (numbers refer to the issue's list)."""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent, AdverseEventRevision, CRSAssessment
from ae.selectors import treatment_emergent_events, with_treatment_emergent
from ae.services.assessments import crs_assessment_record
from patients.models import Membership, Notification, Patient, TreatmentCycle
from reports.exports import ae_table_rows
from reports.runs import benchmark_run_now
from tests.conftest import PASSWORD, api_errors, event_form_data, make_cycle, make_event, make_patient, make_user

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")
EVENTS = "/api/v1/adverse-events/"


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    api = APIClient()
    api.force_authenticate(nurse)
    return api


def create_url(patient) -> str:
    return f"/patients/{patient.pk}/events/new/"


def ae_json(cycle, **overrides) -> dict:
    data = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + datetime.timedelta(days=2)).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    return data | overrides


# --- 1. a death is serious with "results in death"; the officers are told -----------------------------------

def test_a_death_saved_through_the_form_is_serious_and_the_nurse_is_told_why(nurse_client, patient, cycle, officer):
    data = event_form_data(cycle, grade=5, outcome="FATAL")  # Serious left unticked, no SAE criterion
    response = nurse_client.post(create_url(patient), data, follow=True)
    event = AdverseEvent.objects.get()
    assert (event.serious, event.sae_death, event.outcome) == (True, True, "FATAL")
    page = response.content.decode()
    assert "always a serious adverse event" in page and "safety officers were notified (1)" in page


def test_a_fatal_outcome_through_the_api_is_serious_with_results_in_death(nurse_api, cycle):
    response = nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=5, outcome="FATAL",
                                              serious=False), format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["serious"], response.json()["sae_death"]) == (True, True)


def test_the_database_refuses_a_death_that_is_not_serious(cycle, nurse):
    with pytest.raises(IntegrityError, match="ae_death_is_serious"), transaction.atomic():
        AdverseEvent.objects.create(
            patient=cycle.patient, cycle=cycle, term_id=make_event(cycle, "Tremor").term_id, grade=3,
            onset_date=cycle.start_date + datetime.timedelta(days=1),  # not before the tremor: a death is last
            relatedness="possible", action_taken="DOSE NOT CHANGED", outcome="FATAL", created_by=nurse)


def test_the_database_refuses_results_in_death_without_a_fatal_outcome(cycle, nurse):
    with pytest.raises(IntegrityError, match="ae_sae_death_is_fatal"), transaction.atomic():
        make_event(cycle, "Tremor", grade=3, user=nurse, serious=True, sae_death=True,
                   outcome="NOT RECOVERED/NOT RESOLVED")


def test_a_death_notifies_every_safety_officer_of_the_site_in_app_and_by_email(nurse_api, ward, cycle, officer,
                                                                                 django_capture_on_commit_callbacks):
    officer.email = "officer@hospital.example"
    officer.save()
    other = make_user("second-officer", ward, Membership.Role.SAFETY_OFFICER)
    other.email = "second@hospital.example"
    other.save()
    make_user("ward-b-officer", None)  # no role on the ward: not notified
    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=5,
                                                  outcome="FATAL"), format="json")
    assert response.status_code == 201
    notices = Notification.objects.order_by("recipient__username")
    assert [(n.recipient.username, n.kind) for n in notices] == [("officer", "death"), ("second-officer", "death")]
    assert all(n.emailed_at is not None for n in notices)
    assert sorted(m.to[0] for m in mail.outbox) == ["officer@hospital.example", "second@hospital.example"]
    body = mail.outbox[0].body
    assert "Death recorded on Ward A" in body and "WARD-A-KRK-001" in body and "Cytokine release syndrome" in body
    assert "/events/" in body  # a link to the record


def test_an_event_that_becomes_serious_on_edit_notifies_once(nurse_api, cycle, officer):
    event = make_event(cycle, "Febrile neutropenia", grade=3)
    response = nurse_api.patch(f"{EVENTS}{event.pk}/", {"serious": True, "sae_hospitalization": True, "version": 1,
                                                        "reason": "Admitted for IV antibiotics"}, format="json")
    assert response.status_code == 200, response.json()
    assert list(Notification.objects.values_list("kind", flat=True)) == ["serious"]
    nurse_api.patch(f"{EVENTS}{event.pk}/", {"grade": 4, "version": 2, "reason": "Septic shock"}, format="json")
    assert Notification.objects.count() == 1  # still serious: no second notice


def test_the_edit_form_says_officers_were_notified_only_when_this_save_notified_them(nurse_client, cycle, officer):
    """Found in the browser (1 Dec 2026): editing the resolution date of an event that was already serious said
    "the site's safety officers were notified (1)" — no one was; the count was of the notice sent days before."""
    event = make_event(cycle, "Febrile neutropenia", grade=3)
    data = event_form_data(cycle, term="Febrile neutropenia", grade=3, version=1, reason="Admitted for antibiotics",
                           serious="on", sae_hospitalization="on", grade_discrepancy_reason="no temperature kept")
    made_serious = nurse_client.post(f"/events/{event.pk}/edit/", data, follow=True)
    assert "safety officers were notified (1)" in made_serious.content.decode()
    resolved = (cycle.start_date + datetime.timedelta(days=5)).isoformat()
    again = nurse_client.post(f"/events/{event.pk}/edit/", data | {"version": 2, "reason": "Fever resolved",
                                                                  "resolution_date": resolved,
                                                                  "outcome": "RECOVERED/RESOLVED"}, follow=True)
    page = again.content.decode()
    assert "Change saved with its reason" in page and "were notified" not in page
    assert Notification.objects.count() == 1


def test_the_officer_sees_unread_notices_in_the_menu_and_marks_them_read(client, nurse_api, cycle, officer):
    nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=5, outcome="FATAL"), format="json")
    client.force_login(officer)
    page = client.get("/sites/ward-a/report/").content.decode()
    assert "1 new" in page and "Serious adverse events and deaths" in page and "Fatal" in page
    listing = client.get("/notifications/").content.decode()
    assert "Death" in listing and "KRK-001" in listing
    client.post("/notifications/", {})
    assert Notification.objects.get().read_at is not None
    assert "new</strong>" not in client.get("/sites/ward-a/report/").content.decode()


def test_a_nurse_is_not_notified_of_deaths_and_serious_events(nurse_client, nurse_api, cycle, nurse):
    nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=5, outcome="FATAL"), format="json")
    assert not Notification.objects.filter(recipient=nurse).exists()
    assert "new</strong>" not in nurse_client.get(f"/patients/{cycle.patient_id}/").content.decode()


# --- 2. one clinical event = one AE -------------------------------------------------------------------------

def crs_data(at: datetime.datetime, **kw) -> dict:
    return {"assessed_at": at, "temperature_c": 39.0, "hypotension": False, "vasopressors": [],
            "oxygen_device": "none", "relatedness": "probable", "action_taken": "DOSE NOT CHANGED"} | kw


def test_an_assessment_joins_the_crs_episode_entered_on_the_ae_form(nurse_client, nurse, patient, cycle):
    nurse_client.post(create_url(patient), event_form_data(cycle, grade=1, resolution_date=""))
    entered = AdverseEvent.objects.get()
    assessment = crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data=crs_data(
        datetime.datetime(2026, 1, 7, 9, tzinfo=TZ), hypotension=True, vasopressors=["norepinephrine"]))
    assert AdverseEvent.objects.count() == 1 and assessment.adverse_event_id == entered.pk
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade, entered.grading_scale) == (3, 3, "astct_2019")
    assert entered.onset_date == cycle.start_date + datetime.timedelta(days=1)  # the onset entered on the form
    assert "computed grade 3" in AdverseEventRevision.objects.get(adverse_event=entered).reason


def test_the_assessment_form_offers_the_episode_entered_by_hand_first(nurse_client, patient, cycle):
    nurse_client.post(create_url(patient), event_form_data(cycle, grade=2, resolution_date=""))
    form = nurse_client.get(f"/patients/{patient.pk}/crs/new/").context["form"]
    entered = AdverseEvent.objects.get()
    assert form.initial["episode"] == str(entered.pk)
    labels = dict(form.fields["episode"].choices)
    assert "Ongoing episode" in labels[str(entered.pk)] and "separate" in labels["new"]


def test_a_hand_entered_grade_is_a_floor_and_the_difference_is_a_data_quality_query(nurse, patient, cycle):
    entered = make_event(cycle, grade=2, resolution_date=None, outcome="NOT RECOVERED/NOT RESOLVED",
                         entered_grade=2)
    crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse,
                          data=crs_data(datetime.datetime(2026, 1, 6, 9, tzinfo=TZ)))  # fever only: ASTCT 1
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade) == (2, 1)
    assert "grade 2 was entered by hand" in entered.grade_discrepancy_reason


def test_a_separate_episode_only_when_the_user_says_so(nurse, patient, cycle):
    first = crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse,
                                  data=crs_data(datetime.datetime(2026, 1, 6, 9, tzinfo=TZ)))
    again = crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse,
                                  data=crs_data(datetime.datetime(2026, 1, 6, 15, tzinfo=TZ)))
    assert again.adverse_event_id == first.adverse_event_id
    separate = crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, new_episode=True,
                                     data=crs_data(datetime.datetime(2026, 1, 7, 9, tzinfo=TZ)))
    assert separate.adverse_event_id != first.adverse_event_id
    assert AdverseEvent.objects.count() == 2


def test_the_ae_form_warns_of_an_open_episode_and_saves_after_confirmation(nurse_client, patient, cycle):
    nurse_client.post(create_url(patient), event_form_data(cycle, grade=1, resolution_date=""))
    again = event_form_data(cycle, grade=2, onset_date=(cycle.start_date + datetime.timedelta(days=4)).isoformat())
    response = nurse_client.post(create_url(patient), again)
    assert response.status_code == 200 and AdverseEvent.objects.count() == 1
    page = response.content.decode()
    assert "Already recorded?" in page and "ongoing" in page and "This is a separate event" in page
    response = nurse_client.post(create_url(patient), again | {"confirm_separate": "on"})
    assert response.status_code == 302 and AdverseEvent.objects.count() == 2


def test_the_api_answers_409_with_the_existing_event_for_a_probable_duplicate(nurse_api, cycle):
    first = nurse_api.post(EVENTS, ae_json(cycle), format="json")
    again = nurse_api.post(EVENTS, ae_json(cycle), format="json")
    assert again.status_code == 409
    body = again.json()
    assert body["code"] == "probable_duplicate" and body["existing"]["id"] == first.json()["id"]
    assert body["existing"]["page"] == f"/events/{first.json()['id']}/history/"
    confirmed = nurse_api.post(EVENTS, ae_json(cycle, confirm_separate=True), format="json")
    assert confirmed.status_code == 201 and AdverseEvent.objects.count() == 2


# --- 3. assessment dates inside the cycle, and defaults never blindly "now" -------------------------------

def test_an_assessment_long_after_the_cycle_ended_is_refused(nurse, ward):
    patient = make_patient(ward, "KRK-100")
    cycle = make_cycle(patient, start=datetime.date(2025, 7, 20), end_date=datetime.date(2025, 8, 16))
    with pytest.raises(Exception, match="more than 30 days after cycle 1 ended"):
        crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse,
                              data=crs_data(datetime.datetime(2026, 11, 29, 9, tzinfo=TZ)))
    assert not AdverseEvent.objects.exists()


def test_the_assessment_form_does_not_default_to_now_after_the_cycle_ended(client, nurse, ward):
    patient = make_patient(ward, "KRK-101")
    make_cycle(patient, start=datetime.date(2025, 7, 20), end_date=datetime.date(2025, 8, 16))
    client.force_login(nurse)
    field = client.get(f"/patients/{patient.pk}/crs/new/").context["form"].fields["assessed_at"]
    assert field.initial is None and "ended 16 Aug 2025" in field.help_text
    lab_field = client.get(f"/patients/{patient.pk}/labs/new/").context["form"].fields["collected_at"]
    assert lab_field.initial is None


# --- 4. implausible dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"onset_date": "2099-06-01"}, "onset_date"),
    ({"onset_date": "9999-12-31"}, "onset_date"),
    ({"resolution_date": "9999-12-31"}, "resolution_date"),
])
def test_the_api_refuses_ae_dates_in_the_future(nurse_api, cycle, overrides, field):
    response = nurse_api.post(EVENTS, ae_json(cycle, **overrides), format="json")
    assert response.status_code == 400
    assert field in api_errors(response)
    assert not AdverseEvent.objects.exists()


@pytest.mark.parametrize("start", ["0001-01-01", "9999-12-31"])
def test_the_api_refuses_implausible_cycle_starts(nurse_api, patient, start):
    response = nurse_api.post("/api/v1/cycles/", {"patient": patient.pk, "number": 1, "start_date": start,
                                                   "schedule": "standard_28d"}, format="json")
    assert response.status_code == 400 and "start_date" in api_errors(response)
    assert not TreatmentCycle.objects.exists()


def test_the_api_refuses_a_birth_month_in_the_future(nurse_api, ward):
    response = nurse_api.post("/api/v1/patients/", {"site": ward.slug, "study_id": "KRK-900", "sex": "F",
                                                     "birth_month": "2099-01-01", "disease_status": "relapse_1"},
                              format="json")
    assert response.status_code == 400 and "birth_month" in api_errors(response)


def test_an_onset_before_birth_is_refused(nurse_api, ward):
    patient = make_patient(ward, "KRK-102", birth_month=datetime.date(2015, 3, 1))
    cycle = make_cycle(patient, start=datetime.date(2016, 1, 4))
    response = nurse_api.post(EVENTS, ae_json(cycle, onset_date="2015-01-10", present_before_cycle=True,
                                              grade_at_cycle_start=2), format="json")
    assert response.status_code == 400 and "before the patient was born" in " ".join(api_errors(response)["onset_date"])


def test_an_onset_after_the_cycle_window_needs_the_follow_up_flag_and_its_reason(nurse_api, ward):
    patient = make_patient(ward, "KRK-103")
    cycle = make_cycle(patient, start=datetime.date(2025, 7, 20), end_date=datetime.date(2025, 8, 16))
    late = ae_json(cycle, onset_date="2025-10-01")
    refused = nurse_api.post(EVENTS, late, format="json")
    assert refused.status_code == 400 and "after cycle 1 ended" in " ".join(api_errors(refused)["onset_date"])
    no_reason = nurse_api.post(EVENTS, late | {"after_cycle_follow_up": True}, format="json")
    assert no_reason.status_code == 400 and "follow_up_reason" in api_errors(no_reason)
    saved = nurse_api.post(EVENTS, late | {"after_cycle_follow_up": True,
                                           "follow_up_reason": "Late-onset leukoencephalopathy at follow-up visit"},
                           format="json")
    assert saved.status_code == 201 and saved.json()["treatment_emergent"] is False


def test_the_database_refuses_future_and_pre_birth_dates_whatever_the_code_path(cycle, nurse):
    for onset in (datetime.date(2099, 6, 1), datetime.date(2014, 1, 1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            make_event(cycle, "Tremor", user=nurse, onset_day=(onset - cycle.start_date).days + 1,
                       present_before_cycle=onset < cycle.start_date)
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=cycle.patient_id).update(birth_month=datetime.date(2099, 1, 1))
    with pytest.raises(IntegrityError, match="cycle dates too far ahead"), transaction.atomic():
        TreatmentCycle.objects.filter(pk=cycle.pk).update(end_date=datetime.date(9999, 12, 31))
    with pytest.raises(IntegrityError, match="cycle_dates_plausible"), transaction.atomic():  # a 1-year "cycle"
        TreatmentCycle.objects.filter(pk=cycle.pk).update(start_date=datetime.date(2025, 1, 6),
                                                          end_date=datetime.date(2025, 12, 31))


# --- 7. treatment emergence: the CDISC/admiral rule, in one place -----------------------------------------

def test_a_pre_existing_event_that_worsened_is_treatment_emergent_in_benchmark_export_and_api(nurse_api, ward):
    patient = make_patient(ward, "KRK-104")
    cycle = make_cycle(patient)
    worsened = make_event(cycle, "Anemia", grade=3, onset_day=-3, present_before_cycle=True, grade_at_cycle_start=2)
    stable = make_event(make_cycle(make_patient(ward, "KRK-105")), "Anemia", grade=2, onset_day=-3,
                        present_before_cycle=True, grade_at_cycle_start=2)
    assert list(treatment_emergent_events(ward).values_list("pk", flat=True)) == [worsened.pk]
    rows = {(r.scope, r.term): r for r in ae_table_rows(ward)}
    assert rows[("All cycles", "Anemia")].counts == (0, 1, 0, 0)
    run = benchmark_run_now(site=ward)
    assert run.inputs["ward"]["anemia|ge3|all"] == 1
    flags = {e["id"]: e["treatment_emergent"] for e in nurse_api.get(EVENTS).json()["results"]}
    assert flags == {worsened.pk: True, stable.pk: False}


def test_an_event_present_before_cycle_2_but_begun_after_the_first_dose_is_treatment_emergent(ward):
    patient = make_patient(ward, "KRK-106")
    make_cycle(patient, 1, start=datetime.date(2026, 1, 5))
    second = make_cycle(patient, 2, start=datetime.date(2026, 2, 16))
    event = make_event(second, "Anemia", grade=2, onset_day=-5, present_before_cycle=True)
    assert with_treatment_emergent(AdverseEvent.objects.filter(pk=event.pk)).get().trtemfl is True


# --- 8. duplicates: double clicks, retried API calls ------------------------------------------------------

def test_the_same_form_posted_three_times_saves_one_event(nurse_client, patient, cycle):
    page = nurse_client.get(create_url(patient))
    token = page.context["submission_token"]
    data = event_form_data(cycle) | {"submission_token": token}
    responses = [nurse_client.post(create_url(patient), data) for _ in range(3)]
    assert [r.status_code for r in responses] == [302, 302, 302]
    assert AdverseEvent.objects.count() == 1
    assert responses[1].url == responses[0].url


def test_an_idempotency_key_replays_the_first_response_and_refuses_another_body(nurse_api, cycle):
    first = nurse_api.post(EVENTS, ae_json(cycle), format="json", HTTP_IDEMPOTENCY_KEY="k-20261129-0001")
    again = nurse_api.post(EVENTS, ae_json(cycle), format="json", HTTP_IDEMPOTENCY_KEY="k-20261129-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert AdverseEvent.objects.count() == 1
    other = nurse_api.post(EVENTS, ae_json(cycle, grade=3), format="json", HTTP_IDEMPOTENCY_KEY="k-20261129-0001")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    bad = nurse_api.post(EVENTS, ae_json(cycle), format="json", HTTP_IDEMPOTENCY_KEY="é" * 3)
    assert bad.status_code == 400 and "Idempotency-Key" in api_errors(bad)


# --- 11. reasons are real ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["\u200b", "\u2060\u2060", "\u200f", "   ", "\u200b\u200b\u200bx", "--"])
def test_an_invisible_or_empty_reason_is_refused_on_aes_cycles_and_patients(nurse_api, patient, cycle, reason):
    event = make_event(cycle, "Tremor")
    refusals = [
        nurse_api.patch(f"{EVENTS}{event.pk}/", {"grade": 3, "version": 1, "reason": reason}, format="json"),
        nurse_api.patch(f"/api/v1/cycles/{cycle.pk}/", {"weight_kg": "21", "reason": reason}, format="json"),
        nurse_api.patch(f"/api/v1/patients/{patient.pk}/", {"prior_hsct": True, "reason": reason}, format="json"),
    ]
    for response in refusals:
        assert response.status_code == 400 and "reason" in api_errors(response), response.json()
    event.refresh_from_db()
    cycle.refresh_from_db()
    assert (event.grade, str(cycle.weight_kg)) == (2, "20.00")


def test_a_two_megabyte_reason_is_refused_and_a_reason_is_stored_without_invisible_characters(nurse_api, cycle):
    event = make_event(cycle, "Tremor")
    huge = nurse_api.patch(f"{EVENTS}{event.pk}/", {"grade": 3, "version": 1, "reason": "x" * 2_000_000},
                           format="json")
    assert huge.status_code == 400 and "reason" in api_errors(huge)
    ok = nurse_api.patch(f"{EVENTS}{event.pk}/", {"grade": 3, "version": 1, "reason": "\u200bReassessed\u200b"},
                         format="json")
    assert ok.status_code == 200
    assert AdverseEventRevision.objects.get().reason == "Reassessed"


def test_the_edit_form_refuses_an_invisible_reason(nurse_client, cycle):
    event = make_event(cycle, "Tremor")
    data = event_form_data(cycle, term="Tremor", grade=3, onset_date=event.onset_date.isoformat(),
                           version=1, reason="\u200b")
    response = nurse_client.post(f"/events/{event.pk}/edit/", data)
    assert response.status_code == 200 and response.context["form"].errors.get("reason")
    event.refresh_from_db()
    assert event.grade == 2


# --- 12. no 500s --------------------------------------------------------------------------------------------

def test_a_logged_in_user_can_open_the_login_page_to_switch_user(nurse_client):
    response = nurse_client.get("/login/")
    assert response.status_code == 200 and "Log in" in response.content.decode()


def test_a_json_body_nested_50000_deep_answers_400(nurse_api):
    body = "[" * 50_000 + "]" * 50_000
    response = nurse_api.generic("POST", EVENTS, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_a_huge_page_limit_answers_a_bounded_page(nurse_api, cycle):
    make_event(cycle, "Tremor")
    response = nurse_api.get(EVENTS, {"limit": "100000000000000000000"})
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_basic_auth_with_a_nul_in_the_username_answers_401(client):
    import base64

    credentials = base64.b64encode(b"nur\x00se:" + PASSWORD.encode()).decode()
    response = client.post("/api/v1/auth/login/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_an_unexpected_error_in_the_api_answers_json_500(nurse_api, monkeypatch):
    from ae import apis

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(apis.AdverseEventViewSet, "get_queryset", boom)
    client = nurse_api
    client.raise_request_exception = False
    response = client.get(EVENTS)
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and "simulated" not in json.dumps(body)


def test_crs_assessments_only_count_their_own_kind(nurse, patient, cycle):
    """Sanity: an ICANS episode never receives CRS assessments (the episode lock is per term)."""
    crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse,
                          data=crs_data(datetime.datetime(2026, 1, 6, 9, tzinfo=TZ)))
    assert CRSAssessment.objects.count() == 1
    assert AdverseEvent.objects.get().term.term == "Cytokine release syndrome"


# --- 13. the outcome agrees with the resolution date (found walking the ward in the browser, 1 Dec 2026) ------
# A nurse saved a Seizure as "Recovered/resolved" with no resolution date: the record said the event had ended
# while the episode rules (an episode is open until its resolution date) kept it open, so a later assessment would
# have joined a "resolved" event. CDASH/SDTM: AEENDTC is populated when AEOUT is RECOVERED/RESOLVED (with or
# without sequelae) and empty while the event is ongoing (NOT RECOVERED/NOT RESOLVED, RECOVERING/RESOLVING).

ENDED = ["RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE"]
ONGOING = ["NOT RECOVERED/NOT RESOLVED", "RECOVERING/RESOLVING"]


@pytest.mark.parametrize("outcome", ENDED)
def test_the_form_refuses_an_ended_outcome_without_a_resolution_date(nurse_client, patient, cycle, outcome):
    response = nurse_client.post(create_url(patient), event_form_data(cycle, outcome=outcome, resolution_date=""))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "resolution_date" in errors and "give the resolution date" in errors["resolution_date"][0]
    assert not AdverseEvent.objects.exists()


@pytest.mark.parametrize("outcome", ONGOING)
def test_the_form_refuses_an_ongoing_outcome_with_a_resolution_date(nurse_client, patient, cycle, outcome):
    resolved = (cycle.start_date + datetime.timedelta(days=4)).isoformat()
    response = nurse_client.post(create_url(patient), event_form_data(cycle, outcome=outcome,
                                                                      resolution_date=resolved))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "outcome" in errors and "resolved on" in errors["outcome"][0]
    assert not AdverseEvent.objects.exists()


def test_the_api_refuses_both_contradictions_and_accepts_the_consistent_records(nurse_api, cycle):
    resolved = (cycle.start_date + datetime.timedelta(days=5)).isoformat()
    ended_no_date = nurse_api.post(EVENTS, ae_json(cycle, outcome="RECOVERED/RESOLVED"), format="json")
    assert ended_no_date.status_code == 400 and "resolution_date" in api_errors(ended_no_date)
    ongoing_dated = nurse_api.post(EVENTS, ae_json(cycle, outcome="NOT RECOVERED/NOT RESOLVED",
                                                   resolution_date=resolved), format="json")
    assert ongoing_dated.status_code == 400 and "outcome" in api_errors(ongoing_dated)
    assert not AdverseEvent.objects.exists()
    for i, (outcome, end) in enumerate([("RECOVERED/RESOLVED", resolved), ("RECOVERING/RESOLVING", None),
                                        ("UNKNOWN", None), ("UNKNOWN", resolved)]):
        ok = nurse_api.post(EVENTS, ae_json(cycle, term=["Tremor", "Headache", "Fatigue", "Nausea"][i],
                                            outcome=outcome, resolution_date=end), format="json")
        assert ok.status_code == 201, ok.json()


def test_a_death_needs_no_resolution_date(nurse_api, cycle):
    """Fatal: the date of death may not be known when the death is reported (the SAE clock starts anyway)."""
    response = nurse_api.post(EVENTS, ae_json(cycle, term="Cytokine release syndrome", grade=5, outcome="FATAL"),
                              format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(("outcome", "resolution_day", "constraint"), [
    ("RECOVERED/RESOLVED", None, "ae_ended_outcome_has_resolution_date"),
    ("RECOVERED/RESOLVED WITH SEQUELAE", None, "ae_ended_outcome_has_resolution_date"),
    ("NOT RECOVERED/NOT RESOLVED", 5, "ae_ongoing_outcome_has_no_resolution_date"),
    ("RECOVERING/RESOLVING", 5, "ae_ongoing_outcome_has_no_resolution_date"),
])
def test_the_database_refuses_an_outcome_that_contradicts_the_resolution_date(cycle, nurse, outcome,
                                                                             resolution_day, constraint):
    end = None if resolution_day is None else cycle.start_date + datetime.timedelta(days=resolution_day)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make_event(cycle, "Tremor", user=nurse, outcome=outcome, resolution_date=end)
    event = make_event(cycle, "Tremor", user=nurse, outcome="NOT RECOVERED/NOT RESOLVED")
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        AdverseEvent.objects.filter(pk=event.pk).update(outcome=outcome, resolution_date=end)


def test_closing_an_episode_on_the_edit_form_asks_for_the_outcome_too(nurse_client, cycle, nurse):
    event = make_event(cycle, "Tremor", user=nurse)
    resolved = (cycle.start_date + datetime.timedelta(days=6)).isoformat()
    data = event_form_data(cycle, term="Tremor", outcome="NOT RECOVERED/NOT RESOLVED", resolution_date=resolved,
                           version=event.version, reason="Tremor resolved on day 7")
    response = nurse_client.post(f"/events/{event.pk}/edit/", data)
    assert response.status_code == 200 and "outcome" in response.context["form"].errors
    saved = nurse_client.post(f"/events/{event.pk}/edit/", data | {"outcome": "RECOVERED/RESOLVED"})
    assert saved.status_code == 302
    event.refresh_from_db()
    assert (event.outcome, event.resolution_date.isoformat()) == ("RECOVERED/RESOLVED", resolved)
