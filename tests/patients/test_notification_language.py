"""Notifications in the reader's language (issue 15, item 4): a notice stores its subject and body as message ids and
parameters besides the English text; the notifications page shows it in the reader's language and the e-mail in the
recipient's (their choice, else their site's). Notices written before keep their English text."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from ae.sae.clocks import LABELS
from ae.services.notifications import serious_event_notify
from ae.services.sae_reminders import CLOCK_LABELS
from patients.models import Notification, NotificationKind, UserProfile
from patients.notification_texts import render
from patients.services.notifications import notify
from tests.conftest import make_event

pytestmark = pytest.mark.django_db


def _death(cycle, officer, django_capture_on_commit_callbacks):
    officer.email = "officer@hospital.example"
    officer.save()
    event = make_event(cycle, "Sepsis", grade=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert serious_event_notify(event=event) == 1
    return Notification.objects.get(recipient=officer, kind=NotificationKind.DEATH)


def test_a_notice_is_stored_in_english_with_its_message_and_e_mailed_in_english(ward, cycle, officer,
                                                                                  django_capture_on_commit_callbacks):
    notice = _death(cycle, officer, django_capture_on_commit_callbacks)
    assert notice.subject == "[pvtrack] Death: WARD-A-KRK-001 Sepsis grade 5"
    assert notice.body.splitlines()[:2] == [
        "Death recorded on Ward A.", "Patient: WARD-A-KRK-001 (study ID KRK-001), cycle 1 (started 05 Jan 2026)."]
    assert notice.message["subject"] == "[pvtrack] %(what)s: %(usubjid)s %(term)s grade %(grade)s"
    assert notice.message["params"]["start"] == {"date": "2026-01-05"}
    assert mail.outbox[0].subject == notice.subject and mail.outbox[0].body.startswith(notice.body)
    client = Client()
    client.force_login(officer)
    page = client.get("/notifications/").content.decode()
    # the e-mail's time as the page writes the others ("sent 09:26", not "sent 9:26 a.m.")
    assert re.search(r"<td>sent \d{2}:\d{2}</td>", page), page


def test_a_polish_recipient_reads_the_notice_in_polish_on_the_page_and_in_the_e_mail(
        ward, cycle, officer, django_capture_on_commit_callbacks):
    ward.language = "pl"
    ward.save()
    notice = _death(cycle, officer, django_capture_on_commit_callbacks)
    assert notice.subject.startswith("[pvtrack] Death:")  # stored in English
    email = mail.outbox[0]
    assert email.subject == "[pvtrack] Zgon: WARD-A-KRK-001 Sepsis, stopień 5"
    assert "Pacjent: WARD-A-KRK-001 (identyfikator w badaniu KRK-001), cykl 1 (rozpoczęty 05 Sty 2026)." in email.body
    assert "Ciężkie zdarzenia niepożądane zgłasza się sponsorowi w ciągu 24 godzin" in email.body
    assert "Sepsis" in email.body and "recorded on" not in email.body
    # the recorded outcome, SAE criteria and relatedness are words of the form: shown in the reader's language too
    assert "Zejście: Zgon." in email.body, email.body
    assert "zakończone zgonem" in email.body and "results in death" not in email.body
    assert "Fatal" not in email.body and "Probably related" not in email.body
    client = Client()
    client.force_login(officer)
    page = client.get("/notifications/").content.decode()
    assert "[pvtrack] Zgon: WARD-A-KRK-001 Sepsis, stopień 5" in page and "[pvtrack] Death" not in page
    # received at: written as every other page writes a moment ("01 Gru 2026 09:26"), not "01-12-2026 09:26"
    assert re.search(r"<td>\d{2} \w{3} \d{4} \d{2}:\d{2}</td>", page), page


def test_the_users_own_language_wins_over_the_sites(ward, cycle, officer, django_capture_on_commit_callbacks):
    ward.language = "pl"
    ward.save()
    UserProfile.objects.update_or_create(user=officer, defaults={"language": "en-gb"})
    notice = _death(cycle, officer, django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == notice.subject == "[pvtrack] Death: WARD-A-KRK-001 Sepsis grade 5"


def test_a_notice_without_a_message_is_shown_as_written(ward, officer):
    ward.language = "pl"
    ward.save()
    notify(site=ward, kind=NotificationKind.OVERDUE, subject="Written in English", body="Before messages existed.",
           link="/", key="old:1")
    client = Client()
    client.force_login(officer)
    assert "Written in English" in client.get("/notifications/").content.decode()
    assert render(None, subject="s", body="b") == ("s", "b")
    assert render({"subject": "%(missing)s", "body": [], "params": {}}, subject="s", body="b") == ("s", "b")


def test_every_sae_clock_name_is_marked_for_translation():
    assert set(LABELS.values()) == set(CLOCK_LABELS)
