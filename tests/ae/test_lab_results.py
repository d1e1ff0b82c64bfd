"""Recording lab results: CTCAE v5.0 grade (docs/grading.md), baseline at cycle start, treatment-emergent flag
(ADaM TRTEMFL: a post-baseline value is treatment-emergent only if its grade is worse than the baseline grade)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ae.models import LabResult
from ae.services.labs import lab_result_record
from tests.conftest import make_cycle

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, 7, tzinfo=TZ)


def record(patient, user, **data):
    return lab_result_record(patient=patient, acting_user=user, data=data)


def test_a_value_is_graded_and_assigned_to_the_running_cycle(patient, cycle, nurse):
    r = record(patient, nurse, analyte="platelets", value=50000, unit="/mm3", lln=150000, collected_at=at(8))
    # "<75,000 - 50,000/mm3" = grade 2: exactly 50,000 belongs to the less severe grade.
    assert (r.grade, r.ctcae_term, r.cycle) == (2, "Platelet count decreased", cycle)
    assert r.treatment_emergent is True  # no baseline: any grade > 0 is new


def test_without_lln_grade_1_is_undetermined(patient, cycle, nurse):
    r = record(patient, nurse, analyte="anc", value=1.6, unit="10^9/L", collected_at=at(8))
    assert r.grade is None and "LLN" in r.rationale
    assert r.treatment_emergent is None


def test_not_treatment_emergent_unless_worse_than_the_baseline(patient, cycle, nurse):
    base = record(patient, nurse, analyte="anc", value=1.2, unit="10^9/L", lln=1.5, collected_at=at(5),
                  baseline=True, cycle=cycle)
    assert (base.grade, base.treatment_emergent, base.cycle) == (2, None, cycle)
    same = record(patient, nurse, analyte="anc", value=1.1, unit="10^9/L", lln=1.5, collected_at=at(9))
    worse = record(patient, nurse, analyte="anc", value=0.9, unit="10^9/L", lln=1.5, collected_at=at(10))
    assert (same.grade, same.treatment_emergent) == (2, False)
    assert (worse.grade, worse.treatment_emergent) == (3, True)


def test_a_late_baseline_regrades_alt_against_an_abnormal_baseline(patient, cycle, nurse):
    later = record(patient, nurse, analyte="alt", value=130, unit="U/L", uln=40, collected_at=at(9))
    assert (later.grade, later.treatment_emergent) == (2, True)  # 3.25 x ULN: ">3.0 - 5.0 x ULN" = grade 2
    record(patient, nurse, analyte="alt", value=80, unit="U/L", uln=40, collected_at=at(4), baseline=True,
           cycle=cycle)
    later.refresh_from_db()
    # Abnormal baseline 80 U/L (2 x ULN = grade 1): 130 = 1.6 x baseline -> "1.5 - 3.0 x baseline" = grade 1,
    # not worse than the baseline grade, so not treatment-emergent.
    assert (later.grade, later.treatment_emergent) == (1, False)


@pytest.mark.parametrize(("data", "field"), [
    ({"unit": "mg/dL"}, "unit"),
    ({"lln": 2.0, "uln": 1.0}, "lln"),
    ({"baseline": True}, "collected_at"),  # a baseline after the cycle start
])
def test_bad_input_is_refused_and_nothing_saved(patient, cycle, nurse, data, field):
    with pytest.raises(ValidationError) as exc:
        record(patient, nurse, **({"analyte": "anc", "value": 1.0, "unit": "10^9/L", "collected_at": at(8),
                                   "cycle": cycle} | data))
    assert field in exc.value.message_dict
    assert LabResult.objects.count() == 0


def test_only_recorders_of_the_site(patient, cycle, officer, outsider):
    for user in (officer, outsider):
        with pytest.raises(PermissionDenied):
            record(patient, user, analyte="anc", value=1.0, unit="10^9/L", collected_at=at(8))


# --- a baseline recorded after later values (issue "A record the ward can trust", item 6) ---------------------

ALT = {"analyte": "alt", "unit": "U/L", "uln": 40}
ALT_REASON = ("Baseline ALT 80 U/L of 04 Jan 2026 07:00 recorded: ALT 130 U/L of 09 Jan 2026 07:00 regraded from "
              "grade 2 (treatment-emergent) to grade 1 (not treatment-emergent).")


def history(record_) -> list:
    from pghistory.models import Events

    return list(Events.objects.tracks(record_).order_by("pgh_created_at", "pgh_id"))


def test_a_late_baseline_records_why_it_regrades_and_the_episode_follows(ward, patient, cycle, nurse):
    from ae.selectors import treatment_emergent_events

    later = record(patient, nurse, value=130, collected_at=at(9), **ALT)
    event = later.adverse_event
    assert (event.term.term, event.grade, event.origin) == ("Alanine aminotransferase increased", 2, "lab")
    base = record(patient, nurse, value=80, collected_at=at(4), baseline=True, cycle=cycle, **ALT)
    assert base.regraded == 1
    later.refresh_from_db()
    assert (later.grade, later.treatment_emergent) == (1, False)
    update = [e for e in history(later) if e.pgh_label == "update"][-1]
    assert update.pgh_diff["grade"] == [2, 1] and update.pgh_diff["treatment_emergent"] == [True, False]
    assert update.pgh_context["reason"] == ALT_REASON
    # The ALT rise was already there at the cycle start (baseline grade 1) and has not worsened: the episode is now
    # "present before the cycle" with grade 1 at the cycle start, and no longer treatment-emergent.
    event.refresh_from_db()
    assert (event.present_before_cycle, event.grade_at_cycle_start, event.grade, event.onset_date) == (
        True, 1, 1, datetime.date(2026, 1, 4))
    assert (event.computed_grade, event.version, event.resolution_date) == (1, 2, None)
    assert event.revisions.get().reason == ALT_REASON
    assert event.revisions.get().changes["grade"] == [2, 1]
    assert list(treatment_emergent_events(ward)) == []
    base.refresh_from_db()
    assert base.adverse_event == event  # the baseline now explains the episode's grade at the cycle start
    # a value worse than the baseline later on is a worsening of that episode: treatment-emergent again
    worse = record(patient, nurse, value=500, collected_at=at(12), **ALT)  # 6.25 x baseline = grade 3
    event.refresh_from_db()
    assert (worse.adverse_event, event.grade, event.grade_at_cycle_start) == (event, 3, 1)
    assert list(treatment_emergent_events(ward)) == [event]


def test_a_late_baseline_lowers_and_resolves_an_episode_with_its_reason(patient, cycle, nurse):
    first = record(patient, nurse, value=250, collected_at=at(9), **ALT)  # 6.25 x ULN = grade 3
    record(patient, nurse, value=130, collected_at=at(11), **ALT)  # 3.25 x ULN = grade 2
    event = first.adverse_event
    assert (event.grade, event.resolution_date) == (3, None)
    record(patient, nurse, value=80, collected_at=at(4), baseline=True, cycle=cycle, **ALT)
    event.refresh_from_db()
    # 250 = 3.125 x baseline 80 = grade 2 (still worse than the baseline grade 1); 130 = 1.6 x baseline = grade 1,
    # back to the baseline grade: the episode is grade 2 and resolved on 11 Jan.
    assert (event.grade, event.resolution_date, event.outcome) == (2, datetime.date(2026, 1, 11), "RECOVERED/RESOLVED")
    assert not event.present_before_cycle
    reason = event.revisions.last().reason
    assert reason.startswith("Baseline ALT 80 U/L of 04 Jan 2026 07:00 recorded: ALT 250 U/L of 09 Jan 2026 07:00 "
                             "regraded from grade 3 (treatment-emergent) to grade 2 (treatment-emergent); ALT 130 U/L")


def test_a_late_baseline_never_lowers_a_grade_entered_by_hand(patient, cycle, nurse):
    from ae.services.events import adverse_event_create
    from tests.conftest import term

    entered = adverse_event_create(acting_user=nurse, patient=patient, cycle=cycle,
                                   term=term("Alanine aminotransferase increased"), grade=2,
                                   onset_date=datetime.date(2026, 1, 9), relatedness="possible",
                                   action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED")
    assert record(patient, nurse, value=130, collected_at=at(9), **ALT).adverse_event == entered
    record(patient, nurse, value=80, collected_at=at(4), baseline=True, cycle=cycle, **ALT)
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade, entered.present_before_cycle) == (2, 0, False)
    assert "grade 2 was entered by hand" in entered.grade_discrepancy_reason
    assert entered.revisions.last().reason == ALT_REASON


def test_a_late_baseline_takes_a_count_out_of_the_benchmark(ward, patient, cycle, nurse,
                                                            django_capture_on_commit_callbacks):
    from reports.models import BenchmarkRun

    plt = {"analyte": "platelets", "unit": "10^9/L", "lln": 150}
    with django_capture_on_commit_callbacks(execute=True):
        record(patient, nurse, value=40, collected_at=at(9), **plt)  # grade 3
    assert BenchmarkRun.objects.filter(site=ward).latest("id").inputs["ward"]["thrombocytopenia|any|all"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        record(patient, nurse, value=30, collected_at=at(4), baseline=True, cycle=cycle, **plt)  # grade 3 already
    assert BenchmarkRun.objects.filter(site=ward).latest("id").inputs["ward"]["thrombocytopenia|any|all"] == 0


PLATELETS = {"analyte": "platelets", "unit": "10^9/L", "lln": 150}


def test_a_baseline_without_a_chosen_cycle_belongs_to_the_next_cycle_to_start(patient, cycle, nurse):
    """Found on the demo ward: a nurse ticked "Baseline" for the platelet count of the cycle's first morning and got
    "choose the cycle" though the patient had one cycle and it was the only one the value could precede."""
    second = make_cycle(patient, number=2, start=datetime.date(2026, 2, 9))
    assert record(patient, nurse, **PLATELETS, value=200, collected_at=at(5), baseline=True).cycle == cycle
    late = datetime.datetime(2026, 2, 6, 7, tzinfo=TZ)  # after cycle 1 ended, before cycle 2 started
    assert record(patient, nurse, **PLATELETS, value=210, collected_at=late, baseline=True).cycle == second


def test_a_baseline_after_every_cycle_start_asks_for_the_cycle_to_be_added_first(patient, cycle, nurse):
    with pytest.raises(ValidationError) as refused:
        record(patient, nurse, **PLATELETS, value=200, collected_at=at(20), baseline=True)
    assert refused.value.message_dict == {"cycle": [
        "A baseline value belongs to the cycle it precedes, and no cycle of this patient starts on or after "
        "20 Jan 2026: add the cycle first."]}
    assert not LabResult.objects.exists()
