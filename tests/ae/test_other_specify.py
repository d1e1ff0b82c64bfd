"""An "Other, specify" CTCAE term names its event (found reviewing the AE model: a "Nervous system disorders - Other,
specify" grade 3 was saved with no reported term — an event no reviewer can code or count).

CTCAE v5.0 gives each SOC an "Other, specify" term (26 of the 837) for an event the catalogue has no term of its
own for; the term's name asks for the event to be specified, and in the SDTM AE domain the reported term (AETERM)
is then the only thing that says what happened. So the reported term (verbatim) is required with those terms — on
the form, in the API, in imports and in the database — and two "Other, specify" events with different reported
terms are two different events, not a probable duplicate."""

from __future__ import annotations

import datetime
import io

import pgtrigger
import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from ae.models import AdverseEvent
from ae.services.events import ProbableDuplicateError, adverse_event_create
from ae.services.imports import adverse_events_import
from tests.conftest import event_form_data, make_event, term

pytestmark = pytest.mark.django_db
OTHER = "Nervous system disorders - Other, specify"
MESSAGE = ("Say what the event was in \u201cReported term (verbatim)\u201d: \u201cNervous system disorders - Other, "
           "specify\u201d is only for an event CTCAE v5.0 has no term of its own for.")


def create(cycle, nurse, **data):
    fields = {"patient": cycle.patient, "cycle": cycle, "term": term(OTHER), "grade": 3,
              "onset_date": cycle.start_date + datetime.timedelta(days=3), "relatedness": "possible",
              "action_taken": "DOSE NOT CHANGED", "outcome": "NOT RECOVERED/NOT RESOLVED"}
    return adverse_event_create(acting_user=nurse, **(fields | data))


@pytest.mark.parametrize("verbatim", ["", "   "])
def test_the_service_refuses_an_other_specify_event_without_its_reported_term(cycle, nurse, verbatim):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        create(cycle, nurse, verbatim_term=verbatim)
    assert refused.value.message_dict["verbatim_term"] == [MESSAGE]
    assert not AdverseEvent.objects.exists()
    assert create(cycle, nurse, verbatim_term="dysgraphia").verbatim_term == "dysgraphia"


def test_the_form_shows_the_error_on_the_reported_term(nurse_client, patient, cycle):
    response = nurse_client.post(f"/patients/{patient.pk}/events/new/", event_form_data(
        cycle, term=OTHER, grade=3, grading_scale="ctcae_v5_0"))
    assert response.status_code == 200
    assert response.context["form"].errors["verbatim_term"] == [MESSAGE]
    assert not AdverseEvent.objects.exists()


def test_the_api_answers_400_on_the_reported_term(nurse, cycle):
    api = APIClient()
    api.force_authenticate(nurse)
    body = {"patient": cycle.patient_id, "cycle": cycle.pk, "term": OTHER, "grade": 3,
            "onset_date": (cycle.start_date + datetime.timedelta(days=3)).isoformat(), "relatedness": "possible",
            "action_taken": "DOSE NOT CHANGED", "outcome": "NOT RECOVERED/NOT RESOLVED"}
    response = api.post("/api/v1/adverse-events/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["verbatim_term"] == [MESSAGE], response.json()
    assert api.post("/api/v1/adverse-events/", body | {"verbatim_term": "dysgraphia"},
                    format="json").status_code == 201


def test_an_import_row_without_it_is_an_error(ward, patient, cycle, nurse):
    header = ("study_id,cycle,ctcae_term,grade,onset_date,resolution_date,verbatim_term,grading_scale,"
              "serious_criteria,relatedness,action_taken,outcome,present_before_cycle,grade_at_cycle_start")
    row = (f"{patient.study_id},1,\"{OTHER}\",3,{cycle.start_date + datetime.timedelta(days=3)},,,ctcae_v5_0,,"
           "possible,DOSE NOT CHANGED,NOT RECOVERED/NOT RESOLVED,no,")
    report = adverse_events_import(site=ward, raw=io.BytesIO(f"{header}\n{row}\n".encode()), file_name="a.csv",
                                   dry_run=False, acting_user=nurse)
    (bad,) = report.rows
    assert bad.status == "error" and MESSAGE in " ".join(bad.errors)
    assert not AdverseEvent.objects.exists()


def test_the_database_refuses_it_and_keeps_older_rows_saveable(cycle):
    with pytest.raises(IntegrityError, match="names its event"), transaction.atomic():
        make_event(cycle, OTHER, grade=3)
    with pgtrigger.ignore("ae.AdverseEvent:ae_other_specify_named"):
        older = make_event(cycle, OTHER, grade=3)  # saved before pvtrack required it
    older.grade = 2
    older.save()  # a change of something else still saves; naming it is asked on the form
    older.verbatim_term = "dysgraphia"
    older.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=older.pk).update(verbatim_term=" ")


def test_two_other_specify_events_with_different_reported_terms_are_not_duplicates(cycle, nurse):
    first = create(cycle, nurse, verbatim_term="dysgraphia")
    assert create(cycle, nurse, verbatim_term="micrographia").pk != first.pk
    with pytest.raises(ProbableDuplicateError):
        create(cycle, nurse, verbatim_term=" Dysgraphia ")  # the same event again


def test_an_import_tells_other_specify_events_apart_by_their_reported_term(ward, patient, cycle, nurse):
    header = ("study_id,cycle,ctcae_term,grade,onset_date,resolution_date,verbatim_term,grading_scale,"
              "serious_criteria,relatedness,action_taken,outcome,present_before_cycle,grade_at_cycle_start")
    create(cycle, nurse, verbatim_term="dysgraphia")  # recorded before, ongoing

    def row(day: int, verbatim: str) -> str:
        return (f"{patient.study_id},1,\"{OTHER}\",2,{cycle.start_date + datetime.timedelta(days=day)},,{verbatim},"
                "ctcae_v5_0,,possible,DOSE NOT CHANGED,NOT RECOVERED/NOT RESOLVED,no,")

    report = adverse_events_import(site=ward, raw=io.BytesIO("\n".join(
        [header, row(5, "micrographia"), row(6, "Dysgraphia"), row(7, "micrographia")]).encode() + b"\n"),
        file_name="b.csv", dry_run=True, acting_user=nurse)
    statuses = [(r.line, r.status) for r in report.rows]
    assert statuses == [(2, "created"), (3, "error"), (4, "error")]  # a new event; the ongoing ones again


def test_renaming_an_other_specify_event_to_an_overlapping_one_is_a_probable_duplicate(cycle, nurse):
    from ae.services.events import adverse_event_update

    first = create(cycle, nurse, verbatim_term="dysgraphia")
    second = create(cycle, nurse, verbatim_term="micrographia")
    with pytest.raises(ProbableDuplicateError) as refused:
        adverse_event_update(event=second, acting_user=nurse, reason="Misnamed at entry",
                             expected_version=second.version, verbatim_term="Dysgraphia")
    assert refused.value.existing == first
    renamed = adverse_event_update(event=second, acting_user=nurse, reason="Misnamed at entry", confirm_separate=True,
                                   expected_version=second.version, verbatim_term="Dysgraphia")
    assert renamed.verbatim_term == "Dysgraphia"


def test_renaming_the_reported_term_of_another_term_never_asks(cycle, nurse):
    from ae.services.events import adverse_event_update

    make_event(cycle, "Tremor", grade=1, onset_day=3)  # saved side by side before pvtrack refused it
    twin = make_event(cycle, "Tremor", grade=2, onset_day=3)
    assert adverse_event_update(event=twin, acting_user=nurse, reason="Spelling", expected_version=twin.version,
                                verbatim_term="fine tremor").verbatim_term == "fine tremor"
