"""Migration reports 0011: flag notices stored with the level as its code ("[pvtrack] New flag SIGNAL: …") and a
CUSUM category in brackets in brackets read as notices written today: in words, in the reader's language."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from patients.models import Notification
from patients.notification_texts import render
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
migration = importlib.import_module("reports.migrations.0011_flag_notices_in_words")

def _old(subject: str, body: str, *, level: str, was: str, run: int, category: tuple[str, str], band: str) -> dict:
    """A flag notice's message as written before 1 Dec 2026: the levels as codes."""
    return {"subject": subject, "body": [body],
            "params": {"level": level, "was": was, "run": run, "site": "Ward A",
                       "finished": {"datetime": "2026-11-30T10:00:00+01:00", "tz": "Europe/Warsaw"},
                       "category": {"languages": {"en-gb": category[0], "pl": category[1]}},
                       "band": {"text": band}, "scope": {"text": "all cycles"}}}


OLD_NEW_FLAG = _old("[pvtrack] New flag %(level)s: %(category)s, %(band)s, %(scope)s",
                    "Benchmark run %(run)s of %(site)s (%(finished)s): a new flag.", level="SIGNAL", was="", run=7,
                    category=("Neurotoxicity (over time (CUSUM))", "Neurotoksyczność (w czasie (CUSUM))"),
                    band="grade ≥3")
OLD_LEVEL_CHANGE = _old("[pvtrack] Flag %(was)s → %(level)s: %(category)s, %(band)s, %(scope)s",
                        "Benchmark run %(run)s of %(site)s (%(finished)s): the flag changed level from %(was)s to "
                        "%(level)s.", level="ALERT", was="WATCH", run=8,
                        category=("Neurotoxicity (other wards of the network)",
                                  "Neurotoksyczność (inne oddziały sieci)"), band="any grade")


def _notice(user, ward, kind, message, key):
    return Notification.objects.create(recipient=user, site=ward, kind=kind, key=key, subject="as e-mailed",
                                       body="as e-mailed", link="/", message=message)


def test_0011_rewrites_the_stored_flag_notices_in_words(ward):
    officer = make_user("officer-0011", ward)
    new_flag = _notice(officer, ward, "new_flag", OLD_NEW_FLAG, "flag:7:cusum")
    change = _notice(officer, ward, "flag_level", OLD_LEVEL_CHANGE, "flag:8:network")
    other = _notice(officer, ward, "death", {"subject": "%(level)s", "body": [], "params": {"level": "ALERT"}}, "x")

    migration.forwards(apps, None)
    migration.forwards(apps, None)  # a second run changes nothing more

    for notice in (new_flag, change, other):
        notice.refresh_from_db()
    with translation.override("en-gb"):
        assert render(new_flag.message, subject=new_flag.subject, body=new_flag.body)[0] == (
            "[pvtrack] New flag (CUSUM signal): Neurotoxicity, over time (CUSUM), grade ≥3, all cycles")
        subject, body = render(change.message, subject=change.subject, body=change.body)
        assert subject == ("[pvtrack] Flag watch → alert: Neurotoxicity (other wards of the network), any grade, "
                           "all cycles")
        assert "changed level from watch to alert." in body
    with translation.override("pl"):
        subject = render(new_flag.message, subject=new_flag.subject, body=new_flag.body)[0]
        assert "(sygnał CUSUM): Neurotoksyczność, w czasie (CUSUM)" in subject
    assert (new_flag.subject, new_flag.body) == ("as e-mailed", "as e-mailed")  # the English as written stays
    assert other.message["params"]["level"] == "ALERT"  # not a flag notice: untouched
