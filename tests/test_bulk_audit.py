"""Bulk writes (COPY, bulk_create) keep the full audit trail under one context, without a per-row
subtransaction (``core.audit.bulk_audit_context``); the synthetic-registry generator loads through it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from pghistory.models import Events

from ae.models import AdverseEvent
from benchmarks.generate import generate
from core.audit import bulk_audit_context
from patients.models import Patient, Site, TreatmentCycle
from tests.conftest import make_cycle, make_event, make_patient


def _setting(name: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0]


def test_bulk_context_needs_a_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="transaction"), bulk_audit_context(source="import"):
        pass


@pytest.mark.django_db
def test_bulk_context_sets_the_trigger_settings_for_the_transaction(ward):
    with transaction.atomic(), bulk_audit_context(source="import", reason="test load"):
        # set for the rest of the transaction, so COPY (not a Django statement) is audited too
        assert _setting("pgtrigger.ignore") == "{}"
        assert '"source": "import"' in _setting("pghistory.context_metadata")
        cycle = make_cycle(make_patient(ward))
        event = make_event(cycle)
    history = Events.objects.tracks(event).get()
    assert history.pgh_label == "insert" and history.pgh_context["source"] == "import"
    assert history.pgh_context["reason"] == "test load"
    assert Events.objects.tracks(cycle).get().pgh_context_id == history.pgh_context_id  # one context


@pytest.mark.django_db
def test_the_generator_loads_valid_audited_data_through_every_constraint():
    counts = generate(sites=3, patients=12, aes=60, seed=3, prefix="gt", log=lambda *_: None)
    assert counts["sites"] == 3 and counts["patients"] == 12 and counts["aes"] == 60
    assert counts["cycles"] == TreatmentCycle.objects.filter(patient__site__slug__startswith="gt-").count() >= 12
    events = AdverseEvent.objects.filter(patient__site__slug__startswith="gt-")
    assert events.count() == 60
    for event in events.select_related("term", "cycle", "patient"):
        event.full_clean()  # the model's own rules (allowed grade, dates in the cycle, SAE criteria) hold
    contexts = {e.pgh_context["source"] for e in Events.objects.filter(pgh_model="ae.AdverseEventEvent")}
    assert contexts == {"import"}
    assert Events.objects.filter(pgh_model="patients.PatientEvent").count() == Patient.objects.filter(
        site__slug__startswith="gt-").count()


@pytest.mark.django_db
def test_the_generator_refuses_an_existing_prefix():
    Site.objects.create(slug="gt-001", name="existing")
    with pytest.raises(ValueError, match="exist already"):
        generate(sites=1, patients=1, aes=1, prefix="gt", log=lambda *_: None)
