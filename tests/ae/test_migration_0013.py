"""Migration ae 0013 on a database with safety notices stored before it: each becomes a notification of the one
notifications concept (issue 15) with its recipient, site, kind, texts, times and e-mail state, keyed
``ae:<event>:<kind>`` and linking to the event's history; a notice of the same event is not written twice after."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from ae.services.notifications import serious_event_notify
from patients.models import Membership, Notification
from tests.conftest import make_cycle, make_event, make_patient, make_user, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ae", "0012_site_scope_index_attribution"), ("patients", "0007_notifications")]



def test_0013_moves_safety_notices_into_notifications(committed_reference_data, ward):
    officer = make_user("officer-0013", ward, Membership.Role.SAFETY_OFFICER)
    nurse = make_user("nurse-0013", ward)
    event = make_event(make_cycle(make_patient(ward, "M-0013")), "Sepsis", grade=3, user=nurse, serious=True,
                       sae_hospitalization=True)
    sent = timezone.make_aware(datetime.datetime(2026, 1, 6, 8, 5))
    try:
        old = migrate_to(BEFORE)
        OldNotice = old.get_model("ae", "SafetyNotification")
        row = OldNotice.objects.create(recipient_id=officer.pk, site_id=ward.pk, adverse_event_id=event.pk,
                                       kind="serious", subject="[pvtrack] Serious adverse event: M-0013 Sepsis",
                                       body="Serious adverse event recorded on Ward A.", emailed_at=sent,
                                       email_attempts=1, read_at=sent)
        created = timezone.make_aware(datetime.datetime(2026, 1, 6, 8))
        OldNotice.objects.filter(pk=row.pk).update(created_at=created)
    finally:
        migrate_to()

    moved = Notification.objects.get()
    assert (moved.recipient_id, moved.site_id, moved.kind) == (officer.pk, ward.pk, "serious")
    assert moved.key == f"ae:{event.pk}:serious" and moved.link == f"/events/{event.pk}/history/"
    assert (moved.created_at, moved.read_at, moved.emailed_at, moved.email_attempts) == (created, sent, sent, 1)
    assert moved.subject.startswith("[pvtrack] Serious adverse event")
    assert serious_event_notify(event=event) == 0  # the same notice is not written again after the move
