"""A flag notice quotes the flag's reason in the reader's language (issue 15, item 4): the notice stores the reason
rebuilt from the run in each interface language (English: the stored message), and the e-mail (and any page
showing the body) give the reader's."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import translation

from patients.models import Notification
from patients.notification_texts import english, render
from patients.services.notifications import notification_email_send
from reports.runs import benchmark_run_now
from tests.reports.conftest import crs_flag

pytestmark = pytest.mark.django_db


def test_a_flag_notice_quotes_the_reason_in_the_readers_language(ward, crs_ward, officer):
    run = benchmark_run_now(site=ward)
    flag = crs_flag(run)
    notice = Notification.objects.get(recipient=officer, key=f"flag:{run.pk}:crs:ge3:all")
    assert flag.message in notice.body and english(notice.message)[1] == notice.body  # stored English, as before
    with translation.override("pl"):
        _, polish = render(notice.message, subject=notice.subject, body=notice.body)
    assert "8 z 10 pacjentów miało cytokine release syndrome, stopnia ≥3 (wszystkie cykle)" in polish
    assert flag.message not in polish
    ward.language = "pl"  # the e-mail is in the recipient's language (their choice, else their site's)
    ward.save()
    officer.email = "officer@example.org"
    officer.save()
    Notification.objects.filter(pk=notice.pk).update(emailed_at=None, email_attempts=0, email_wanted=True)
    assert notification_email_send(notice.pk)
    assert "8 z 10 pacjentów miało cytokine release syndrome" in mail.outbox[-1].body


def test_a_reason_the_run_does_not_reproduce_is_quoted_as_stored(ward, crs_ward, officer):
    from reports.flag_notices import _reasons

    run = benchmark_run_now(site=ward)
    flag = crs_flag(run)
    flag.message = "An older method's wording."
    assert _reasons(run)(flag) == {"languages": {"en-gb": "An older method's wording.",
                                                 "pl": "An older method's wording."}}
