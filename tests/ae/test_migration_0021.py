"""Migration ae 0021 on a database with events stored before it: an event "Recovered/resolved" without a resolution
date (allowed then) is kept as it was — no migration can invent its date — while every event written from then on,
that one included when it is next changed, must have its outcome agree with its resolution date
(docs/operations.md §9)."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from ae.models import AdverseEvent
from tests.conftest import make_cycle, make_event, make_patient, make_user, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ae", "0020_report_serious_and_discrepancy_indexes")]



def test_0021_keeps_old_contradictions_and_refuses_new_ones(committed_reference_data, ward):
    nurse = make_user("nurse-0021", ward)
    cycle = make_cycle(make_patient(ward, "M-0021"))
    kept = make_event(cycle, "Tremor", grade=1, user=nurse)
    try:
        migrate_to(BEFORE)
        AdverseEvent.objects.filter(pk=kept.pk).update(outcome="RECOVERED/RESOLVED")  # allowed before 0021
    finally:
        migrate_to()

    kept.refresh_from_db()
    assert (kept.outcome, kept.resolution_date) == ("RECOVERED/RESOLVED", None)
    with pytest.raises(IntegrityError, match="ae_ended_outcome_has_resolution_date"), transaction.atomic():
        AdverseEvent.objects.filter(pk=kept.pk).update(grade=2)  # any change of the old row is checked
    with pytest.raises(IntegrityError, match="ae_ended_outcome_has_resolution_date"), transaction.atomic():
        make_event(cycle, "Headache", user=nurse, outcome="RECOVERED/RESOLVED")
    with pytest.raises(IntegrityError, match="ae_ended_outcome_has_resolution_date"), transaction.atomic(), \
            connection.cursor() as cursor:  # the documented VALIDATE fails while the old row is not corrected
        cursor.execute("ALTER TABLE ae_adverseevent VALIDATE CONSTRAINT ae_ended_outcome_has_resolution_date")
    AdverseEvent.objects.filter(pk=kept.pk).update(resolution_date=cycle.start_date + datetime.timedelta(days=3))
    with connection.cursor() as cursor:  # corrected: the documented VALIDATE now succeeds
        cursor.execute("ALTER TABLE ae_adverseevent VALIDATE CONSTRAINT ae_ended_outcome_has_resolution_date")
        cursor.execute("ALTER TABLE ae_adverseevent VALIDATE CONSTRAINT ae_ongoing_outcome_has_no_resolution_date")
