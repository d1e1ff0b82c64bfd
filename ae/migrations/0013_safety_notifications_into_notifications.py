"""Issue 15: safety notices (deaths, new serious AEs) become notifications of the one notifications concept.

Every ``ae.SafetyNotification`` row is copied to ``patients.Notification`` with its recipient, site, kind, texts,
times and e-mail state; its key is ``ae:<event id>:<kind>`` (the idempotency key ``ae.services.notifications``
now uses) and its link the event's history page. Then the old table is dropped. Backwards, the copied rows
(kind death/serious with an ``ae:`` key) are copied back.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    old = apps.get_model("ae", "SafetyNotification")
    new = apps.get_model("patients", "Notification")
    rows = [new(recipient_id=n.recipient_id, site_id=n.site_id, kind=n.kind, key=f"ae:{n.adverse_event_id}:{n.kind}",
                subject=n.subject, body=n.body, link=f"/events/{n.adverse_event_id}/history/",
                read_at=n.read_at, email_wanted=True, emailed_at=n.emailed_at, email_attempts=n.email_attempts,
                email_error=n.email_error)
            for n in old.objects.all().iterator()]
    created = {(n.recipient_id, n.adverse_event_id, n.kind): n.created_at for n in old.objects.all()}
    new.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    for (recipient_id, event_id, kind), created_at in created.items():  # auto_now_add: restore the original time
        new.objects.filter(recipient_id=recipient_id, key=f"ae:{event_id}:{kind}").update(created_at=created_at)


def backwards(apps, schema_editor):
    old = apps.get_model("ae", "SafetyNotification")
    new = apps.get_model("patients", "Notification")
    # Only the columns this migration knew: when several apps are unapplied together, a later patients migration
    # (e.g. 0011's Notification.message) may already be gone while its field is still in this state.
    columns = ("recipient_id", "site_id", "key", "kind", "subject", "body", "read_at", "emailed_at", "email_attempts",
               "email_error", "created_at")
    for n in new.objects.filter(kind__in=["death", "serious"], key__startswith="ae:").values(*columns).iterator():
        row = old.objects.create(recipient_id=n["recipient_id"], site_id=n["site_id"],
                                 adverse_event_id=int(n["key"].split(":")[1]), kind=n["kind"], subject=n["subject"],
                                 body=n["body"], read_at=n["read_at"], emailed_at=n["emailed_at"],
                                 email_attempts=n["email_attempts"], email_error=n["email_error"])
        old.objects.filter(pk=row.pk).update(created_at=n["created_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("ae", "0012_site_scope_index_attribution"),
        ("patients", "0007_notifications"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="SafetyNotification"),
    ]
