"""The audit trail: every change is recorded append-only, with who, when, from where and why."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from pghistory.models import Events

from ae.models import AdverseEvent
from patients.models import TreatmentCycle
from tests.conftest import api_errors, event_form_data, make_event

pytestmark = pytest.mark.django_db


def history(record) -> list[Events]:
    return list(Events.objects.tracks(record).order_by("pgh_created_at", "pgh_id"))


def test_a_web_edit_is_recorded_with_user_source_and_reason(client, nurse, cycle):
    event = make_event(cycle, "Tremor", grade=1, user=nurse)
    client.force_login(nurse)
    data = event_form_data(cycle, term="Tremor", grade=2, version=event.version, reason="worse on day 3")
    response = client.post(f"/events/{event.pk}/edit/", data)
    assert response.status_code == 302
    update = [e for e in history(event) if e.pgh_label == "update"][-1]
    assert update.pgh_diff["grade"] == [1, 2]
    assert update.pgh_context["user"] == nurse.pk
    assert update.pgh_context["source"] == "web"
    assert update.pgh_context["reason"] == "worse on day 3"


def test_bulk_update_and_raw_sql_are_caught_by_the_triggers(cycle):
    event = make_event(cycle, "Tremor", grade=1)
    AdverseEvent.objects.filter(pk=event.pk).update(grade=2)  # no save(), no signals
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ae_adverseevent SET grade = 3 WHERE id = %s", [event.pk])
    grades = [e.pgh_data["grade"] for e in history(event)]
    assert grades == [1, 2, 3]
    assert [e.pgh_label for e in history(event)] == ["insert", "update", "update"]


def test_a_deletion_is_recorded(cycle):
    event = make_event(cycle, "Tremor", grade=1)
    pk = event.pk
    event.delete()
    labels = list(Events.objects.filter(pgh_obj_model="ae.AdverseEvent", pgh_obj_id=str(pk))
                  .order_by("pgh_created_at", "pgh_id").values_list("pgh_label", flat=True))
    assert labels == ["insert", "delete"]


@pytest.mark.parametrize("statement", ["UPDATE ae_adverseeventevent SET grade = 5",
                                       "DELETE FROM ae_adverseeventevent"])
def test_the_history_cannot_be_altered_or_deleted(cycle, statement):
    make_event(cycle, "Tremor", grade=1)
    with pytest.raises(DatabaseError, match="append_only|Cannot"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute("SELECT grade FROM ae_adverseeventevent")
        assert cursor.fetchall() == [(1,)]


def test_a_cycle_edit_without_a_reason_is_refused_and_saves_nothing(client, nurse, cycle):
    client.force_login(nurse)
    data = {"number": 1, "schedule": "standard_28d", "start_date": cycle.start_date.isoformat(),
            "weight_kg": "21", "marrow_blasts_pct": "30", "interruptions": 0,
            "dexamethasone_premedication": "not_recorded", "cns_status": "not_recorded"}
    response = client.post(f"/patients/{cycle.patient.pk}/cycles/{cycle.pk}/edit/", data)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert TreatmentCycle.objects.get(pk=cycle.pk).weight_kg == 20
    response = client.post(f"/patients/{cycle.patient.pk}/cycles/{cycle.pk}/edit/", data | {"reason": "typo"})
    assert response.status_code == 302
    assert TreatmentCycle.objects.get(pk=cycle.pk).weight_kg == 21
    assert history(cycle)[-1].pgh_context["reason"] == "typo"


def test_an_api_change_without_a_reason_is_refused(client, nurse, cycle):
    client.force_login(nurse)
    url = f"/api/v1/cycles/{cycle.pk}/"
    response = client.patch(url, {"weight_kg": "21"}, content_type="application/json")
    assert response.status_code == 400 and "reason" in api_errors(response)
    assert TreatmentCycle.objects.get(pk=cycle.pk).weight_kg == 20
    response = client.patch(url, {"weight_kg": "21", "reason": "typo"}, content_type="application/json")
    assert response.status_code == 200
    last = history(cycle)[-1]
    assert (last.pgh_context["source"], last.pgh_context["reason"]) == ("api", "typo")


def test_the_history_page_shows_who_and_why_and_is_scoped_to_the_site(client, nurse, outsider, cycle):
    client.force_login(nurse)
    client.patch(f"/api/v1/cycles/{cycle.pk}/", {"weight_kg": "21", "reason": "weight corrected"},
                 content_type="application/json")
    page = client.get(f"/history/cycle/{cycle.pk}/").content.decode()
    assert "weight corrected" in page and "nurse" in page and "weight_kg: 20.0 → 21.0" in page
    client.force_login(outsider)
    assert client.get(f"/history/cycle/{cycle.pk}/").status_code == 404
    assert client.get(f"/history/patient/{cycle.patient.pk}/").status_code == 404
    assert client.get(f"/history/nonsense/{cycle.pk}/").status_code == 404


def test_records_written_by_the_demo_import_are_labelled_import():
    from django.core.management import call_command

    from patients.models import Patient

    call_command("load_demo_ward", "--cohort", "pawinska2022_krakow", "--site", "demo-krk", stdout=None)
    patient = Patient.objects.filter(site__slug="demo-krk").first()
    context = history(patient)[0].pgh_context
    assert context["source"] == "import" and "pawinska2022_krakow" in context["reason"]
