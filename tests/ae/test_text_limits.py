"""Issue 11 finding 5: a 1–2 MB reason was stored (and copied into the history context). Every free-text field a
person types has a documented maximum (``core.text.MAX_REASON_CHARS``, 2000 characters) that the forms, the API
and the database (CHECK constraints) all enforce; an oversized value answers 400, never 500."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent, AdverseEventRevision, CRSAssessment, ICANSAssessment
from core.text import MAX_REASON_CHARS
from reports.models import Flag, RunSignoff
from tests.conftest import make_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/adverse-events/"
HUGE = "x" * (2 * 1024 * 1024)  # 2 MB


@pytest.fixture
def nurse_api(nurse) -> APIClient:
    api = APIClient()
    api.force_authenticate(nurse)
    return api


def ae_json(cycle, **overrides) -> dict:
    data = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + datetime.timedelta(days=2)).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    return data | overrides


def test_a_2_mb_reason_answers_400_and_changes_nothing(nurse_api, cycle):
    event = make_event(cycle, "Tremor", grade=2)
    response = nurse_api.patch(f"{EVENTS}{event.pk}/", {"grade": 3, "reason": HUGE, "version": event.version},
                               format="json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    event.refresh_from_db()
    assert event.grade == 2 and not AdverseEventRevision.objects.filter(adverse_event=event).exists()


def test_a_2_mb_follow_up_reason_answers_400(nurse_api, cycle):
    response = nurse_api.post(EVENTS, ae_json(cycle, follow_up_reason=HUGE), format="json")
    assert response.status_code == 400 and "follow_up_reason" in response.json()["errors"]
    assert not AdverseEvent.objects.exists()


def test_a_2_mb_review_comment_answers_400(client, officer, ward):
    from reports.runs import benchmark_run_now
    from tests.conftest import make_cycle, make_patient

    for i in range(8):
        make_event(make_cycle(make_patient(ward, f"S-{i:02d}")), "Cytokine release syndrome", grade=3)
    flag = benchmark_run_now(site=ward).flags.first()
    client.force_login(officer)
    response = client.post(f"/flags/{flag.pk}/review/", {"comment": HUGE, "password": "x"})
    assert response.status_code == 400 and "Keep it to 2000 characters" in response.text


#: (model, column) of every free-text field a person types; each has a CHECK constraint of MAX_REASON_CHARS.
TYPED_TEXT = [
    (AdverseEvent, "follow_up_reason"), (AdverseEvent, "grade_discrepancy_reason"),
    (AdverseEvent, "discrepancy_resolution_comment"), (AdverseEventRevision, "reason"),
    (CRSAssessment, "grade_discrepancy_reason"), (ICANSAssessment, "grade_discrepancy_reason"),
    (Flag, "review_comment"), (RunSignoff, "comment"),
]


@pytest.mark.parametrize(("model", "column"), TYPED_TEXT, ids=[f"{m.__name__}.{c}" for m, c in TYPED_TEXT])
def test_the_database_refuses_more_than_the_maximum(model, column):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE %s", [table, f"%{column}%<= 2000%"])
        assert cursor.fetchone() is not None, f"no CHECK of {table}.{column}"
    assert model._meta.get_field(column).max_length == MAX_REASON_CHARS


def test_the_constraint_bites_on_a_raw_update(cycle):
    event = make_event(cycle, "Tremor", grade=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=event.pk).update(follow_up_reason="y" * (MAX_REASON_CHARS + 1))
