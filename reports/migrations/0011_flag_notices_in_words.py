"""Flag notices written before 1 Dec 2026 name the flag level by its code ("[pvtrack] New flag SIGNAL: …",
"Flag WATCH → ALERT") and a CUSUM flag's category with brackets in brackets ("Neurotoxicity (over time (CUSUM))").
Rewrite their stored *message* (``patients.notification_texts``) as notices are written now: the level as a
translated word ({"text": "alert"}), the new-flag subject with the level in brackets, the CUSUM kind after a comma.
The English ``subject``/``body`` columns stay as written (what was e-mailed). Frozen copies of the texts below:
the migration must not change when the app's wording does."""

from django.db import migrations

FLAG_SHORT = {"ALARM": "alarm", "ALERT": "alert", "WATCH": "watch",
              "CHECK_ASCERTAINMENT": "possible under-reporting", "SIGNAL": "CUSUM signal"}
OLD_SUBJECT = "[pvtrack] New flag %(level)s: %(category)s, %(band)s, %(scope)s"
NEW_SUBJECT = "[pvtrack] New flag (%(level)s): %(category)s, %(band)s, %(scope)s"
#: The CUSUM kind as it was put in brackets after the category, per interface language, and as it is put now.
CUSUM_KIND = {"en-gb": (" (over time (CUSUM))", ", over time (CUSUM)"),
              "pl": (" (w czasie (CUSUM))", ", w czasie (CUSUM)")}


def _in_words(message: dict) -> bool:
    """Rewrite ``message`` in place; True when anything changed."""
    changed = False
    params = message.get("params") or {}
    for name in ("level", "was"):
        value = params.get(name)
        if isinstance(value, str) and value in FLAG_SHORT:
            params[name] = {"text": FLAG_SHORT[value]}
            changed = True
    if message.get("subject") == OLD_SUBJECT:
        message["subject"] = NEW_SUBJECT
        changed = True
    texts = (params.get("category") or {}).get("languages") if isinstance(params.get("category"), dict) else None
    for language, text in (texts or {}).items():
        old, new = CUSUM_KIND.get(language, (None, None))
        if old and isinstance(text, str) and text.endswith(old):
            texts[language] = text[: -len(old)] + new
            changed = True
    return changed


def forwards(apps, schema_editor):
    Notification = apps.get_model("patients", "Notification")
    notices = Notification.objects.filter(kind__in=["new_flag", "flag_level"], message__isnull=False)
    changed = []
    for notice in notices.only("pk", "message").iterator(chunk_size=1000):
        if _in_words(notice.message):
            changed.append(notice)
        if len(changed) >= 1000:
            Notification.objects.bulk_update(changed, ["message"])
            changed = []
    Notification.objects.bulk_update(changed, ["message"])


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0010_flag_kind_network_cusum"),
        ("patients", "0013_notification_kind_sae_update"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
