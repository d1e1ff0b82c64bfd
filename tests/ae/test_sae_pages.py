"""SAE case pages, API, reminders and the default RSI: what a nurse and a safety officer do with a case."""

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from ae.models import CaseReminder, ReferenceSafetyInformation, RSIEntry, SAECase
from ae.rsi import rsi_fixture_load
from ae.services import sae
from ae.services.sae_reminders import sae_reminders_send
from patients.models import UserProfile
from patients.treatment import DosingStep
from tests.conftest import PASSWORD, api_errors, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(cycle, nurse, officer):
    DosingStep.objects.create(cycle=cycle, from_day=1, dose=Decimal("5"), unit="ug_m2_day")
    event = make_event(cycle, grade=4, user=nurse, serious=True, sae_life_threatening=True,
                       outcome="RECOVERING/RESOLVING")
    return sae.case_open_for_event(event=event, acting_user=nurse)


def test_the_default_rsi_cites_its_source_and_checks_each_entry(db):
    rsi = ReferenceSafetyInformation.objects.get()  # loaded with the reference data (load_reference_data)
    assert rsi.entries.count() == 20 and "Prescribing Information" in rsi.document and rsi.version
    assert not RSIEntry.objects.filter(verified=False).exists()
    assert RSIEntry.objects.get(ctcae_term__term="Cytokine release syndrome").wording.startswith("Cytokine Release")
    assert rsi_fixture_load() == 0  # a loaded version is never rewritten


def test_the_rsi_page_shows_each_entry_with_its_wording(client, nurse, django_assert_max_num_queries):
    rsi_fixture_load()
    client.force_login(nurse)
    with django_assert_max_num_queries(10):  # session, user, two-factor, the page's 3: not one per entry
        content = client.get("/rsi/").content.decode()
    assert "pyrexia (62%)" in content and "Fever" in content and "US Prescribing Information" in content


def test_the_case_page_shows_the_24_hour_clock_and_the_nurse_cannot_sign(client, case, nurse):
    client.force_login(nurse)
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-clock="sponsor"' in content and "Report to the sponsor" in content
    assert 'id="submit-form"' not in content
    response = client.post(f"/cases/{case.pk}/", {"action": "submit", "password": PASSWORD})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == "draft"


def test_the_officer_assesses_signs_and_a_refused_signature_keeps_the_page(client, case, officer, nurse):
    client.force_login(officer)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    # the authenticator code asks a tablet for its number pad, as the report's sign-off and flag reviews do
    assert re.search(r'<input type="text" name="otp_code" id="id_submit_otp" inputmode="numeric"', page)
    assert client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                              "causality_investigator": "probable", "causality_sponsor": "",
                                              "expectedness": "unexpected"}).status_code == 302
    client.post(f"/cases/{case.pk}/", {"action": "draft_narrative"})
    response = client.post(f"/cases/{case.pk}/", {"action": "submit", "password": "wrong"})
    assert response.status_code == 400 and b"not correct" in response.content
    response = client.post(f"/cases/{case.pk}/", {"action": "submit", "password": PASSWORD})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == "submitted" and case.versions.get().susar
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"/cases/{case.pk}/versions/1/e2b.xml" in page and 'id="case-susar"' in page
    client.force_login(nurse)
    assert client.post(f"/cases/{case.pk}/", {"action": "follow_up", "reason": ""}).status_code == 400


def test_cases_list_filters_by_status_due_date_and_overdue(client, case, nurse, django_assert_max_num_queries):
    client.force_login(nurse)
    with django_assert_max_num_queries(12):
        response = client.get("/sites/ward-a/cases/")
    assert case.reference.encode() in response.content
    assert case.reference.encode() not in client.get("/sites/ward-a/cases/?status=closed").content
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert case.reference.encode() in client.get(f"/sites/ward-a/cases/?due_before={tomorrow}").content
    assert case.reference.encode() not in client.get("/sites/ward-a/cases/?overdue=1").content
    SAECase.objects.filter(pk=case.pk).update(awareness_at=timezone.now() - datetime.timedelta(hours=25))
    assert case.reference.encode() in client.get("/sites/ward-a/cases/?overdue=1").content


def test_the_api_lists_cases_with_clocks_and_refuses_a_submission_without_a_signature(client, case, officer):
    client.force_login(officer)
    listing = client.get("/api/v1/sae-cases/?status=draft").json()
    assert [c["reference"] for c in listing["results"]] == [case.reference]
    assert listing["results"][0]["clocks"][0]["name"] == "sponsor"
    response = client.post(f"/api/v1/sae-cases/{case.pk}/submit/", {"password": ""}, content_type="application/json")
    assert response.status_code == 400 and "password" in api_errors(response)
    response = client.patch(f"/api/v1/sae-cases/{case.pk}/", {"dechallenge": "yes", "expected_revision": 0},
                            content_type="application/json")
    assert response.status_code == 409
    response = client.post(f"/api/v1/sae-cases/{case.pk}/follow-up/", {"reason": "new labs"},
                           content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "case_state"


def test_reminders_are_sent_before_and_at_the_deadline_once_each(case, officer, settings,
                                                                 django_capture_on_commit_callbacks):
    """Each reminder is an "overdue" notification of the case's site (in-app, linked to the case) and an e-mail."""
    from patients.models import Notification

    officer.email = "officer@example.org"
    officer.save()
    aware = case.awareness_at
    with django_capture_on_commit_callbacks(execute=True):
        assert sae_reminders_send(now=aware + datetime.timedelta(hours=17)) == 0
        assert sae_reminders_send(now=aware + datetime.timedelta(hours=18)) == 1  # 6 h before the 24 h deadline
        assert sae_reminders_send(now=aware + datetime.timedelta(hours=18)) == 0
        assert sae_reminders_send(now=aware + datetime.timedelta(hours=24)) == 1
        assert sae_reminders_send(now=aware + datetime.timedelta(hours=30)) == 0
    assert [(r.clock, r.stage) for r in CaseReminder.objects.order_by("id")] == [("sponsor", "before"),
                                                                               ("sponsor", "due")]
    notices = list(Notification.objects.filter(recipient=officer, kind="overdue").order_by("id"))
    assert [n.link for n in notices] == [f"/cases/{case.pk}/"] * 2
    assert "is due soon" in notices[0].subject and "is due (" in notices[1].subject
    assert len(mail.outbox) == 2 and case.reference in mail.outbox[0].subject


def test_the_officers_report_lists_overdue_cases(client, case, officer):
    SAECase.objects.filter(pk=case.pk).update(awareness_at=timezone.now() - datetime.timedelta(hours=25))
    client.force_login(officer)
    content = client.get("/sites/ward-a/report/").content.decode()
    assert 'id="overdue-cases"' in content and case.reference in content


def test_patient_and_event_pages_link_to_the_case(client, case, nurse):
    client.force_login(nurse)
    event = case.adverse_events.get()
    assert f'href="/cases/{case.pk}/"'.encode() in client.get(f"/patients/{case.patient_id}/").content
    assert f'href="/cases/{case.pk}/"'.encode() in client.get(f"/events/{event.pk}/history/").content


def test_the_event_edit_form_keeps_the_dates_a_date_input_can_read(client, cycle, nurse):
    """Found by the SAE browser flow: under en-GB the date inputs were rendered "06/01/2026", which a browser's
    <input type=date> drops, so saving an edit (e.g. the resolution of a follow-up) lost the onset date."""
    event = make_event(cycle, user=nurse, resolution_date=cycle.start_date + datetime.timedelta(days=3))
    client.force_login(nurse)
    content = client.get(f"/events/{event.pk}/edit/").content.decode()
    assert f'value="{event.onset_date.isoformat()}"' in content
    assert f'value="{event.resolution_date.isoformat()}"' in content


def test_a_serious_event_recorded_before_cases_existed_gets_a_case_by_hand(client, cycle, nurse):
    legacy = make_event(cycle, grade=3, user=nurse, serious=True, sae_hospitalization=True)  # saved directly: no case
    client.force_login(nurse)
    assert b"Open an SAE case" in client.get(f"/events/{legacy.pk}/history/").content
    response = client.post(f"/events/{legacy.pk}/case/")
    case = SAECase.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert list(case.adverse_events.all()) == [legacy]
    client.post(f"/events/{legacy.pk}/case/")  # a second click opens no second case
    assert SAECase.objects.count() == 1


def test_the_api_opens_a_case_and_groups_the_episode(client, cycle, nurse):
    crs = make_event(cycle, grade=3, user=nurse, serious=True, sae_hospitalization=True)
    hypotension = make_event(cycle, "Hypotension", grade=3, user=nurse)
    client.force_login(nurse)
    response = client.post("/api/v1/sae-cases/", {"adverse_events": [hypotension.pk]}, content_type="application/json")
    assert response.status_code == 400 and "events" in api_errors(response)  # no serious event: no case
    response = client.post("/api/v1/sae-cases/", {"adverse_events": [crs.pk]}, content_type="application/json")
    assert response.status_code == 201
    case_id = response.json()["id"]
    response = client.post(f"/api/v1/sae-cases/{case_id}/add-events/", {"adverse_events": [hypotension.pk]},
                           content_type="application/json")
    assert response.status_code == 200 and sorted(response.json()["adverse_events"]) == sorted([crs.pk, hypotension.pk])
    response = client.post("/api/v1/sae-cases/", {"adverse_events": [crs.pk]}, content_type="application/json")
    assert response.status_code == 400 and "already in case" in response.json()["detail"]


def test_the_safety_office_adds_an_rsi_version_and_ward_staff_cannot(client, nurse, officer):
    version = {"product": "blinatumomab", "document": "BLINCYTO EU SmPC section 4.8", "version": "test only",
               "document_date": "2025-06-01", "in_force_from": "2025-07-01",
               "entries": [{"ctcae_term": None, "meddra_code": "10052015", "wording": "Cytokine release syndrome",
                            "frequency": "common", "max_grade": None, "verified": False}]}
    before = ReferenceSafetyInformation.objects.count()  # the default RSI, loaded with the reference data
    client.force_login(nurse)
    assert client.post("/api/v1/rsi/", version, content_type="application/json").status_code == 403
    client.force_login(officer)
    response = client.post("/api/v1/rsi/", version, content_type="application/json")
    assert response.status_code == 201 and response.json()["entries"][0]["meddra_code"] == "10052015"
    bad = version | {"in_force_from": "2025-08-01", "entries": [{"wording": "no code nor term"}]}
    response = client.post("/api/v1/rsi/", bad, content_type="application/json")
    assert response.status_code == 400
    assert ReferenceSafetyInformation.objects.count() == before + 1  # nothing half-saved


def test_a_refused_follow_up_or_close_keeps_what_was_typed_beside_its_error(client, case, officer):
    """Found in the browser (1 Dec 2026): "ab" as the follow-up's new information was refused, the page came back
    with an empty box — the words were lost — and nothing tied the message to the box. The reason comes back in its
    own form, marked invalid and described by the error; the password never comes back."""
    client.force_login(officer)
    client.post(f"/cases/{case.pk}/", {"action": "assess", "revision": case.revision,
                                       "causality_investigator": "probable", "causality_sponsor": "",
                                       "expectedness": "unexpected"})
    client.post(f"/cases/{case.pk}/", {"action": "draft_narrative"})
    assert client.post(f"/cases/{case.pk}/", {"action": "submit", "password": PASSWORD}).status_code == 302
    refused = client.post(f"/cases/{case.pk}/", {"action": "follow_up", "reason": "ab"})
    assert refused.status_code == 400
    page = refused.content.decode()
    box = page[page.index('id="id_follow_up_reason"') - 200:page.index('id="id_follow_up_reason"') + 200]
    assert ">ab</textarea>" in box and 'aria-invalid="true"' in box and 'aria-describedby="case-error"' in box
    close = client.post(f"/cases/{case.pk}/", {"action": "close", "reason": "Lost to follow-up <b>", "password": "x"})
    assert close.status_code == 400
    page = close.content.decode()
    box = page[page.index('id="id_close_reason"') - 200:page.index('id="id_close_reason"') + 200]
    assert ">Lost to follow-up &lt;b&gt;</textarea>" in box and 'aria-invalid="true"' in box
    assert 'name="password" id="id_close_password" autocomplete="current-password">' in page  # no value back
    follow_up_box = page[page.index('id="id_follow_up_reason"') - 200:page.index('id="id_follow_up_reason"') + 200]
    assert "></textarea>" in follow_up_box and "aria-invalid" not in follow_up_box  # only the form that failed


def test_what_changed_is_worded_for_the_reader_and_the_signed_lines_stay_english(client, case, officer, nurse):
    """Found in the browser (1 Dec 2026): a Polish safety officer's version 2 read
    "drugs[suspect BLINCYTO].action_taken: dose_reduced → dose_increased" — snapshot paths and codes. The page words
    each change in the reader's language from the two versions' snapshots; the signed version keeps its English
    lines (the ICSR writers put them into the reports)."""
    client.force_login(officer)
    sae.case_update(case=case, acting_user=officer, action_taken="dose_reduced", dechallenge="no",
                    narrative="First narrative")
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", causality_sponsor="",
                    expectedness="unexpected")
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    sae.case_follow_up_open(case=case, acting_user=officer, reason="Seizure stopped after levetiracetam")
    event = case.case_links.get().adverse_event
    event.outcome, event.resolution_date = "RECOVERED/RESOLVED", event.onset_date + datetime.timedelta(days=3)
    event.save()
    sae.case_update(case=case, acting_user=officer, action_taken="dose_increased", dechallenge="yes",
                    narrative="Edited narrative")
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    stored = case.versions.get(number=2).changes
    assert "drugs[suspect BLINCYTO].action_taken: dose_reduced → dose_increased" in stored
    page = client.get(f"/cases/{case.pk}/").content.decode()
    end = event.resolution_date
    assert "Suspect drug BLINCYTO · Action taken: Dose reduced → Dose increased" in page
    assert "Suspect drug BLINCYTO · Dechallenge: No → Yes" in page
    assert (f"Reaction Cytokine release syndrome (AE {event.pk}) · Outcome: Recovering/resolving → "
            "Recovered/resolved") in page
    assert (f"Reaction Cytokine release syndrome (AE {event.pk}) · Resolution date: — → "
            f"{end:%d %b %Y}") in page
    assert "Narrative: edited" in page and "dose_reduced" not in page
    UserProfile.objects.update_or_create(user=officer, defaults={"language": "pl"})
    client.force_login(officer)  # the language is worked out at login
    polish = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Lek podejrzany BLINCYTO · Podjęte działanie: Dawkę zmniejszono → Dawkę zwiększono" in polish
    assert "Opis przypadku: zmieniony" in polish


def test_new_information_on_a_submitted_case_tells_the_officers_once_until_the_follow_up(case, officer, nurse):
    """Found walking the ward (1 Dec 2026): after the case was submitted, the nurse recorded the event's resolution
    (new information the sponsor must get as a follow-up, ICH E2D §5.1) and nothing told the safety officer; the
    save even said officers "were notified" for the old notice. Now one ``sae_update`` notice per officer until the
    follow-up is submitted, linking to the case; a change the report does not carry (the relatedness: the case
    assesses causality itself) notifies no one."""
    from ae.services.events import adverse_event_update
    from patients.models import Notification

    sae.case_update(case=case, acting_user=officer, narrative="Narrative")
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", causality_sponsor="",
                    expectedness="unexpected")
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    event = case.case_links.get().adverse_event
    before = Notification.objects.filter(kind="sae_update").count()
    event = adverse_event_update(event=event, acting_user=nurse, reason="Relatedness reviewed",
                                 expected_version=event.version, relatedness="possible")
    assert Notification.objects.filter(kind="sae_update").count() == before == 0
    resolved = event.onset_date + datetime.timedelta(days=4)
    event = adverse_event_update(event=event, acting_user=nurse, reason="Resolved on the ward",
                                 expected_version=event.version, resolution_date=resolved,
                                 outcome="RECOVERED/RESOLVED")
    notice = Notification.objects.get(kind="sae_update")
    assert notice.recipient == officer and notice.link == f"/cases/{case.pk}/"
    assert case.reference in notice.subject and "follow-up" in notice.body
    adverse_event_update(event=event, acting_user=nurse, reason="Grade corrected", expected_version=event.version,
                         grade=3)
    assert Notification.objects.filter(kind="sae_update").count() == 1  # one until the follow-up is submitted
    sae.case_follow_up_open(case=case, acting_user=officer, reason="Resolution and grade")
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    event.refresh_from_db()
    adverse_event_update(event=event, acting_user=nurse, reason="Sequelae", expected_version=event.version,
                         outcome="RECOVERED/RESOLVED WITH SEQUELAE")
    assert Notification.objects.filter(kind="sae_update").count() == 2  # new information after version 2


def test_the_edit_form_says_the_officers_were_told_of_new_information_on_a_submitted_case(client, case, officer,
                                                                                         nurse, cycle):
    """Found walking the ward (1 Dec 2026): the nurse corrected a submitted SAE case's event and the save said only
    "Change saved with its reason" — nothing said that the safety officers were told a follow-up may be due. The
    edit form now names the case and the notices this save wrote; a save that writes none says nothing more."""
    from tests.conftest import event_form_data

    sae.case_update(case=case, acting_user=officer, narrative="Narrative")
    sae.case_assess(case=case, acting_user=officer, causality_investigator="probable", causality_sponsor="",
                    expectedness="unexpected")
    sae.case_submit(case=case, acting_user=officer, password=PASSWORD)
    event = case.case_links.get().adverse_event
    client.force_login(nurse)
    data = event_form_data(cycle, grade=4, version=event.version, reason="Grade corrected", serious="on",
                           sae_life_threatening="on", outcome="RECOVERING/RESOLVING", resolution_date="")
    page = html.unescape(client.post(f"/events/{event.pk}/edit/", data | {"grade": 3}, follow=True).content.decode())
    assert "Change saved with its reason" in page
    assert f"SAE case {case.reference}: the site's safety officers were told of the new information (1)" in page
    again = client.post(f"/events/{event.pk}/edit/", data | {"grade": 3, "version": event.version + 1,
                                                            "reason": "Verbatim term added",
                                                            "verbatim_term": "CRS"}, follow=True)
    assert "were told of the new information" not in again.content.decode()  # one notice until the follow-up
