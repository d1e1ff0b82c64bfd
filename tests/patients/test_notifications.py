"""Notifications (issue 15, item 6): one concept, one entry point ``notify``, in-app list, header count, e-mail by
the recipient's choice, raised by deaths/serious AEs (ae) and by new or changed benchmark flags (reports)."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients.models import Membership, Notification, NotificationKind, NotificationPreference
from patients.services.notifications import (
    email_kinds_for,
    email_preferences_set,
    notification_emails_resend,
    notify,
)
from reports.flag_notices import flag_changes_notify
from reports.models import BenchmarkCategory, BenchmarkRun, Flag
from tests.conftest import make_user
from tests.patients.conftest import logged_in

OVERDUE = {"kind": NotificationKind.OVERDUE, "subject": "SAE report overdue: KRK-001", "body": "Due 24 h after "
           "awareness (ICH E2A).", "link": "/events/1/history/", "key": "sae-clock:1:24h"}



def test_notify_reaches_the_sites_reviewers_once_per_key(ward, nurse, officer, django_capture_on_commit_callbacks):
    officer.email = "officer@hospital.example"
    officer.save()
    admin = make_user("admin", ward, Membership.Role.ADMINISTRATOR)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(site=ward, **OVERDUE) == 2  # safety officer and administrator; not the nurse
        assert notify(site=ward, **OVERDUE) == 0  # the same key again: nothing new
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["admin", "officer"]
    assert [m.to for m in mail.outbox] == [["officer@hospital.example"]]  # admin has no address: not sent, kept
    assert mail.outbox[0].body.endswith("Open it: http://localhost:8000/events/1/history/")
    assert Notification.objects.get(recipient=admin).email_error == "recipient has no e-mail address"


def test_notify_to_named_recipients_skips_users_without_a_role_on_the_site(ward, nurse, officer, outsider):
    assert notify(site=ward, recipients=[nurse.pk, outsider.pk], **OVERDUE) == 1
    assert list(Notification.objects.values_list("recipient", flat=True)) == [nurse.pk]


@pytest.mark.parametrize("field, value", [("kind", "gossip"), ("key", ""), ("subject", ""),
                                          ("link", "https://evil.example/"), ("link", "//evil.example/")])
def test_notify_refuses_bad_input_with_the_field_named(ward, officer, field, value):
    with pytest.raises(ValidationError) as exc:
        notify(site=ward, **(OVERDUE | {field: value}))
    assert field in exc.value.message_dict
    assert not Notification.objects.exists()


def test_the_database_refuses_a_link_that_is_not_a_path_and_a_second_notice_of_a_key(ward, officer):
    notify(site=ward, **OVERDUE)
    row = Notification.objects.get()
    with pytest.raises(IntegrityError, match="notification_link_is_a_path"), transaction.atomic():
        Notification.objects.filter(pk=row.pk).update(link="https://evil.example/")
    with pytest.raises(IntegrityError, match="notification_once_per_recipient_key"), transaction.atomic():
        Notification.objects.create(recipient=officer, site=ward, kind="overdue", key=row.key, subject="s", body="",
                                    link="/")


def test_the_recipient_chooses_which_kinds_are_emailed(ward, officer, django_capture_on_commit_callbacks):
    officer.email = "officer@hospital.example"
    officer.save()
    assert NotificationKind.OVERDUE in email_kinds_for(officer.pk)  # the default
    email_preferences_set(user_id=officer.pk, email_kinds=[NotificationKind.DEATH])
    assert email_kinds_for(officer.pk) == {NotificationKind.DEATH}
    with django_capture_on_commit_callbacks(execute=True):
        notify(site=ward, **OVERDUE)
    assert mail.outbox == []  # listed in-app only
    assert Notification.objects.get().email_wanted is False
    assert notification_emails_resend(older_than=datetime.timedelta(0)) == 0  # never swept either
    with pytest.raises(ValidationError):
        email_preferences_set(user_id=officer.pk, email_kinds=["gossip"])


def test_preferences_page_stores_the_choice(officer):
    client = logged_in(officer)
    page = client.get("/notifications/preferences/").content.decode()
    assert 'value="death"' in page and "checked" in page
    response = client.post("/notifications/preferences/", {"email_kinds": ["new_flag", "query"]})
    assert response.status_code == 302
    assert dict(NotificationPreference.objects.filter(user=officer).values_list("kind", "email")) == {
        "new_flag": True, "flag_level": False, "serious": False, "death": False, "query": True, "overdue": False,
        "sae_update": False}
    assert client.post("/notifications/preferences/", {"email_kinds": ["gossip"]}).status_code == 200  # the error


def test_list_open_and_mark_read(ward, officer, nurse, django_assert_max_num_queries):
    for i in range(3):
        notify(site=ward, **(OVERDUE | {"key": f"k{i}", "subject": f"Overdue {i}"}))
    client = logged_in(officer)
    with django_assert_max_num_queries(8):  # session, user, 2FA device, list, header count; the session save (3)
        page = client.get("/notifications/").content.decode()
    assert page.count('class="unread"') == 3 and "3 new" in page
    first = Notification.objects.get(key="k0")
    response = client.get(f"/notifications/{first.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/events/1/history/"
    first.refresh_from_db()
    assert first.read_at is not None
    client.post("/notifications/", {"notification": Notification.objects.get(key="k1").pk})
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
    client.post("/notifications/", {})
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert "new</strong>" not in client.get("/notifications/").content.decode()
    assert client.get("/notices/").status_code == 301  # the old address


def test_a_user_sees_only_their_own_notifications_of_their_sites(ward, other_ward, officer, outsider):
    notify(site=ward, **OVERDUE)
    mine = Notification.objects.get()
    outsider_client = logged_in(outsider)
    assert outsider_client.get(f"/notifications/{mine.pk}/open/").status_code == 404
    assert "Overdue" not in outsider_client.get("/notifications/").content.decode()
    outsider_client.post("/notifications/", {"notification": mine.pk})
    outsider_client.post("/notifications/", {})
    mine.refresh_from_db()
    assert mine.read_at is None
    Membership.objects.filter(user=officer).delete()  # left the ward: its notices are no longer shown
    assert "SAE report overdue" not in logged_in(officer).get("/notifications/").content.decode()


def test_header_count_is_one_query_on_every_page(ward, officer, django_assert_num_queries):
    from django.test import RequestFactory

    from patients.context_processors import notifications

    notify(site=ward, **OVERDUE)
    request = RequestFactory().get("/")
    request.user = officer
    with django_assert_num_queries(1):
        assert notifications(request) == {"notifications_unread": 1}


# --- raised by benchmark runs -------------------------------------------------------------------------------

def _run_with(site, levels: dict[tuple[str, str, str], str]) -> tuple[BenchmarkRun, list[Flag]]:
    from django.utils import timezone

    run = BenchmarkRun.objects.create(site=site, trigger="manual", status=BenchmarkRun.Status.DONE,
                                      finished_at=timezone.now(), results={}, inputs={})
    flags = [Flag.objects.create(run=run, category=BenchmarkCategory.objects.get(slug=cat), grade_band=band,
                                 cycle_scope=scope, level=level, direction="above", message="CRS above benchmark",
                                 p_value=0.01)
             for (cat, band, scope), level in levels.items()]
    return run, flags


def test_a_new_flag_and_a_changed_level_notify_the_safety_officer(ward, officer, nurse):
    run, flags = _run_with(ward, {("crs", "any", "all"): "WATCH"})
    assert flag_changes_notify(run=run, flags=flags) == 1
    new = Notification.objects.get()
    assert (new.kind, new.recipient) == ("new_flag", officer)
    assert new.link == "/sites/ward-a/report/crs/any/all/"
    assert new.subject == "[pvtrack] New flag (watch): Cytokine release syndrome, any grade, all cycles"
    run2, flags2 = _run_with(ward, {("crs", "any", "all"): "WATCH"})
    assert flag_changes_notify(run=run2, flags=flags2) == 0  # unchanged: nothing to say
    run3, flags3 = _run_with(ward, {("crs", "any", "all"): "ALERT", ("crs", "ge3", "all"): "WATCH"})
    assert flag_changes_notify(run=run3, flags=flags3) == 2
    assert set(Notification.objects.filter(key__startswith=f"flag:{run3.pk}:").values_list("kind", flat=True)) == {
        "flag_level", "new_flag"}
    changed = Notification.objects.get(kind="flag_level")
    assert changed.subject.startswith("[pvtrack] Flag watch → alert: ")  # plain words, no raw codes (issue 17 item 5)
    assert "the flag changed level from watch to alert." in changed.body
    assert flag_changes_notify(run=run3, flags=flags3) == 0  # the same run twice: once only


def test_a_finished_benchmark_run_raises_the_notices(ward, officer, nurse, monkeypatch):
    """Through the run itself (reports.runs._store): a stored flag of a run notifies."""
    from reports import benchmark
    from reports.runs import benchmark_run_now

    real = benchmark.compute

    def one_flag(inputs):
        results = real(inputs)
        cell = results["cells"][0]
        results["flags"] = [{"category": cell["category"], "grade_band": cell["grade_band"],
                             "cycle_scope": cell["cycle_scope"], "level": "ALERT", "direction": "above",
                             "message": "test flag", "p_value": 0.01}]
        return results

    monkeypatch.setattr(benchmark, "compute", one_flag)
    run = benchmark_run_now(site=ward)
    raised = Notification.objects.filter(recipient=officer, kind="new_flag", key__startswith=f"flag:{run.pk}:")
    assert raised.count() == 1
