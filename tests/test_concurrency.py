"""Concurrent writes (issue 9 items 2, 8, 9, 12): real threads, each with its own database connection.

Each scenario starts N requests at the same instant (a barrier) and checks that exactly one write happened and
that every other request got a clear 400/409 — never a 500, never a second row.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent
from ae.services.assessments import crs_assessment_record
from patients.models import Patient, TreatmentCycle
from reports.models import BenchmarkRun
from reports.outbox import benchmark_run_queue
from reports.runs import benchmark_execute
from tests.conftest import make_cycle, make_patient

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
TZ = ZoneInfo("Europe/Warsaw")


def all_at_once(n: int, work) -> list:
    """Run ``work(i)`` on ``n`` threads released together; return the results (exceptions as values)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test as a value
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def setup(committed_reference_data, ward, nurse):
    cycle = make_cycle(make_patient(ward, "KRK-500"))
    return {"nurse": nurse, "cycle": cycle, "patient": cycle.patient, "ward": ward}


def test_twenty_identical_ae_posts_store_exactly_one_event(setup):
    cycle, nurse = setup["cycle"], setup["nurse"]
    body = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + datetime.timedelta(days=2)).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    statuses = all_at_once(20, lambda i: api(nurse).post("/api/v1/adverse-events/", body, format="json").status_code)
    assert Counter(statuses) == {201: 1, 409: 19}, statuses
    assert AdverseEvent.objects.count() == 1


def test_the_same_idempotency_key_sent_twenty_times_at_once_creates_one_event(setup):
    cycle, nurse = setup["cycle"], setup["nurse"]
    body = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": "Tremor", "grade": 2,
            "onset_date": (cycle.start_date + datetime.timedelta(days=2)).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "RECOVERING/RESOLVING"}
    responses = all_at_once(20, lambda i: api(nurse).post("/api/v1/adverse-events/", body, format="json",
                                                          HTTP_IDEMPOTENCY_KEY="retry-me"))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1 and AdverseEvent.objects.count() == 1


def test_five_concurrent_crs_assessments_start_one_episode(setup):
    cycle, patient, nurse = setup["cycle"], setup["patient"], setup["nurse"]

    def assess(i: int):
        at = datetime.datetime.combine(cycle.start_date, datetime.time(8 + i), tzinfo=TZ)
        with transaction.atomic():
            return crs_assessment_record(patient=patient, cycle=cycle, acting_user=nurse, data={
                "assessed_at": at, "temperature_c": 39.2, "oxygen_device": "none", "relatedness": "probable",
                "action_taken": "DOSE NOT CHANGED"}).adverse_event_id

    episodes = all_at_once(5, assess)
    assert all(isinstance(e, int) for e in episodes), episodes
    assert len(set(episodes)) == 1 and AdverseEvent.objects.count() == 1


def test_twenty_concurrent_cycle_creates_with_one_number_answer_201_once_and_400_otherwise(setup):
    patient, nurse = setup["patient"], setup["nurse"]
    body = {"patient": patient.pk, "number": 2, "start_date": "2026-02-16", "weight_kg": "20",
            "schedule": "standard_28d"}
    responses = all_at_once(20, lambda i: api(nurse).post("/api/v1/cycles/", body, format="json"))
    assert Counter(r.status_code for r in responses) == {201: 1, 400: 19}
    assert all("number" in r.json()["errors"] for r in responses if r.status_code == 400)
    assert TreatmentCycle.objects.filter(patient=patient, number=2).count() == 1


def test_twenty_concurrent_patient_registrations_with_one_study_id(setup):
    nurse, ward = setup["nurse"], setup["ward"]
    body = {"site": ward.slug, "study_id": "KRK-777", "sex": "M", "birth_month": "2016-04-01",
            "disease_status": "relapse_1"}
    responses = all_at_once(20, lambda i: api(nurse).post("/api/v1/patients/", body, format="json"))
    assert Counter(r.status_code for r in responses) == {201: 1, 400: 19}
    assert Patient.objects.filter(study_id="KRK-777").count() == 1


def test_a_change_saved_while_the_worker_claims_the_pending_run_is_covered_by_that_run(setup):
    """The old failure: the save found the run pending, the worker claimed it, ``get(status=pending)`` raised and
    the edit was lost (500). Now the save holds the pending run until it commits, so the claim waits for it."""
    ward = setup["ward"]
    pending = BenchmarkRun.objects.create(site=ward, trigger="ae_change")
    saved, claimed_at, committed_at = threading.Event(), [], []

    def save() -> None:
        with transaction.atomic():
            run = benchmark_run_queue(site=ward, trigger="ae_change")
            assert run.pk == pending.pk  # covered by the run already waiting
            saved.set()
            time.sleep(0.5)  # the worker tries to claim meanwhile
        committed_at.append(time.monotonic())
        connection.close()

    def claim() -> None:
        saved.wait(10)
        benchmark_execute(pending.pk)
        claimed_at.append(time.monotonic())
        connection.close()

    threads = [threading.Thread(target=save), threading.Thread(target=claim)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pending.refresh_from_db()
    assert pending.status == "done"
    assert claimed_at and committed_at and claimed_at[0] >= committed_at[0]


def test_an_edit_in_progress_locks_the_event_row_only(setup):
    """Locking an event for an edit must not lock the joined site, patient, term or cycle rows (a FOR UPDATE on a
    select_related query locks every joined row): another nurse's edit of the same ward or term would queue."""
    from ae.services.events import adverse_event_update
    from tests.conftest import make_event

    cycle, nurse = setup["cycle"], setup["nurse"]
    event = make_event(cycle, "Tremor", grade=1, user=nurse)
    rows = {"patients_site": cycle.patient.site_id, "patients_patient": cycle.patient_id,
            "patients_treatmentcycle": cycle.pk, "ae_ctcaeterm": event.term_id, "ae_adverseevent": event.pk}
    holding, release, locked = threading.Event(), threading.Event(), {}

    def edit() -> None:
        with transaction.atomic():
            adverse_event_update(event=event, acting_user=nurse, reason="Reassessed at the bedside",
                                 expected_version=1, grade=2)
            holding.set()
            release.wait(10)
        connection.close()

    def probe() -> None:
        holding.wait(10)
        with connection.cursor() as cursor:
            for table, pk in rows.items():
                try:
                    with transaction.atomic():
                        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR NO KEY UPDATE NOWAIT", [pk])  # noqa: S608
                    locked[table] = False
                except Exception:  # noqa: BLE001 - LockNotAvailable
                    locked[table] = True
        release.set()
        connection.close()

    threads = [threading.Thread(target=edit), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert locked == {"patients_site": False, "patients_patient": False, "patients_treatmentcycle": False,
                      "ae_ctcaeterm": False, "ae_adverseevent": True}


def test_two_edits_that_together_overlap_two_episodes_save_one(setup):
    """CRS of days 2-4 and 8-9: one nurse moves the first's resolution to day 6 while another moves the second's
    onset to day 5. Each alone keeps the episodes apart, together they overlap: the episode lock serialises them,
    so the second sees the first and answers 409 probable_duplicate (issue 9, the edit path)."""
    from tests.conftest import make_event

    nurse = setup["nurse"]
    for attempt in range(3):  # a fresh patient each time: the race is in the overlap check, not in the versions
        cycle = make_cycle(make_patient(setup["ward"], f"KRK-60{attempt}"))
        def day(n: int, cycle=cycle) -> datetime.date:
            return cycle.start_date + datetime.timedelta(days=n - 1)

        first = make_event(cycle, "Cytokine release syndrome", onset_day=2, resolution_date=day(4), user=nurse)
        second = make_event(cycle, "Cytokine release syndrome", onset_day=8, resolution_date=day(9), user=nurse)
        edits = [(first, {"resolution_date": day(6).isoformat()}), (second, {"onset_date": day(5).isoformat()})]

        def edit(i: int, edits=edits) -> int:
            event, change = edits[i]
            return api(nurse).patch(f"/api/v1/adverse-events/{event.pk}/", change | {
                "version": 1, "reason": "Dates checked against the chart"}, format="json").status_code

        statuses = all_at_once(2, edit)
        assert sorted(statuses) == [200, 409], statuses


def test_an_edit_that_may_move_an_episode_waits_for_the_episode_lock_before_locking_its_row(setup):
    """Every writer of a term's episodes in a cycle takes the episode lock first, then the episode's row (a bedside
    assessment: the lock, then the open episode). An edit that took the row first and then waited for the lock
    would deadlock with an assessment doing the reverse (a 500). Hold the episode lock, start the edit: while it
    waits, the event's row must still be free."""
    from ae.services.episodes import episode_lock
    from ae.services.events import adverse_event_update
    from tests.conftest import make_event

    cycle, nurse = setup["cycle"], setup["nurse"]
    event = make_event(cycle, "Cytokine release syndrome", grade=1, user=nurse)
    holding, probed, outcome = threading.Event(), threading.Event(), {}

    def hold() -> None:
        with transaction.atomic():
            episode_lock(cycle=cycle, term=event.term)
            holding.set()
            probed.wait(10)
        connection.close()

    def edit() -> None:
        holding.wait(10)
        with transaction.atomic():
            outcome["saved"] = adverse_event_update(
                event=event, acting_user=nurse, reason="Improving on the evening round", expected_version=1,
                outcome="RECOVERING/RESOLVING").version
        connection.close()

    def probe() -> None:
        holding.wait(10)
        time.sleep(0.5)  # the edit is now waiting for the lock
        with connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute("SELECT 1 FROM ae_adverseevent WHERE id = %s FOR UPDATE NOWAIT", [event.pk])
                outcome["row_free"] = True
            except Exception:  # noqa: BLE001 - LockNotAvailable
                outcome["row_free"] = False
        probed.set()
        connection.close()

    threads = [threading.Thread(target=f) for f in (hold, edit, probe)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == {"row_free": True, "saved": 2}


def test_the_same_file_imported_three_times_at_once_is_saved_once(setup):
    """Three imports of one file start together: the episode locks of a batch serialise them, so the first saves
    every row and the others find the rows recorded ("unchanged") — never a second copy, never a 500."""
    import io

    from ae.services.imports import adverse_events_import

    ward, nurse, cycle = setup["ward"], setup["nurse"], setup["cycle"]
    header = "study_id,cycle,ctcae_term,grade,onset_date,resolution_date,relatedness,action_taken,outcome"
    rows = [f"KRK-500,1,{term},1,{cycle.start_date + datetime.timedelta(days=day)},"
            f"{cycle.start_date + datetime.timedelta(days=day)},possible,DOSE NOT CHANGED,RECOVERED/RESOLVED"
            for day in range(3) for term in ("Anemia", "Fever", "Nausea")]
    body = ("\n".join([header, *rows]) + "\n").encode()
    reports = all_at_once(3, lambda i: adverse_events_import(site=ward, raw=io.BytesIO(body), file_name="x.csv",
                                                             dry_run=False, acting_user=nurse))
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted((r.count("created"), r.count("unchanged"), r.committed) for r in reports) == [
        (0, 9, True), (0, 9, True), (9, 0, True)]
    assert AdverseEvent.objects.filter(cycle=cycle).count() == 9
