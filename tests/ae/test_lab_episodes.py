"""Lab results become adverse events (issue "A record the ward can trust", item 5): a treatment-emergent graded
value starts or upgrades the episode of its CTCAE term in its cycle, later values keep it up to date (a normal value
or one back to the baseline grade resolves it), every change is a revision with its reason, and the benchmark counts
it. Baseline regrades (item 6) are in test_lab_results.py."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from ae.models import AdverseEvent, AdverseEventRevision, LabResult
from ae.selectors import treatment_emergent_events
from ae.services.episodes import observed_grade
from ae.services.events import adverse_event_create, adverse_event_update
from ae.services.labs import lab_result_record
from reports.models import BenchmarkRun
from reports.runs import benchmark_run_now
from tests.conftest import term

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Europe/Warsaw")


def at(day: int, hour: int = 7) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, tzinfo=TZ)


def record(patient, user, **data):
    return lab_result_record(patient=patient, acting_user=user, data=data)


def platelets(patient, user, value, day, **data):
    return record(patient, user, analyte="platelets", value=value, unit="10^9/L", lln=150, collected_at=at(day),
                  **data)


def thrombocytopenia(run: BenchmarkRun) -> tuple[int, int]:
    ward = run.inputs["ward"]
    return ward["thrombocytopenia|any|all"], ward["thrombocytopenia|ge3|all"]


def test_a_grade_4_platelet_count_creates_one_ae_and_the_benchmark_counts_it(ward, patient, cycle, nurse,
                                                                             django_capture_on_commit_callbacks):
    assert thrombocytopenia(benchmark_run_now(site=ward)) == (0, 0)
    with django_capture_on_commit_callbacks(execute=True):
        result = platelets(patient, nurse, 18, 8)
    assert (result.grade, result.treatment_emergent) == (4, True)
    event = result.adverse_event
    assert event is not None and AdverseEvent.objects.count() == 1
    assert (event.term.term, event.grade, event.computed_grade, event.cycle, event.onset_date) == (
        "Platelet count decreased", 4, 4, cycle, datetime.date(2026, 1, 8))
    assert (event.origin, event.grading_scale, event.relatedness, event.action_taken, event.outcome) == (
        "lab", "ctcae_v5_0", "possible", "UNKNOWN", "NOT RECOVERED/NOT RESOLVED")
    assert event.resolution_date is None and not event.serious
    assert "18 ×10⁹/L" in event.computed_rationale
    assert list(treatment_emergent_events(ward)) == [event]
    run = BenchmarkRun.objects.filter(site=ward).latest("id")
    assert (run.status, run.trigger) == ("done", "ae_change")
    assert thrombocytopenia(run) == (1, 1)


def test_a_worse_value_upgrades_the_same_episode_with_a_revision_and_its_reason(patient, cycle, nurse):
    first = platelets(patient, nurse, 60, 8)
    event = first.adverse_event
    assert (event.grade, event.version) == (2, 1)
    second = platelets(patient, nurse, 18, 9)
    assert second.adverse_event == event and AdverseEvent.objects.count() == 1
    event.refresh_from_db()
    assert (event.grade, event.computed_grade, event.version, event.onset_date) == (4, 4, 2, datetime.date(2026, 1, 8))
    revision = AdverseEventRevision.objects.get(adverse_event=event)
    assert revision.reason == "Platelet count 18 ×10⁹/L of 09 Jan 2026 07:00 graded 4."
    assert revision.changes["grade"] == [2, 4]
    assert set(event.lab_results.all()) == {first, second}


def test_a_normal_value_resolves_the_episode_and_a_later_drop_is_a_new_one(patient, cycle, nurse):
    event = platelets(patient, nurse, 40, 8).adverse_event
    platelets(patient, nurse, 90, 10)  # grade 1: still the episode, not worse
    normal = platelets(patient, nurse, 160, 12)
    assert normal.adverse_event == event
    event.refresh_from_db()
    assert (event.grade, event.resolution_date, event.outcome) == (3, datetime.date(2026, 1, 12), "RECOVERED/RESOLVED")
    assert "Platelet count 160 ×10⁹/L of 12 Jan 2026 07:00 graded 0" in event.revisions.last().reason
    again = platelets(patient, nurse, 45, 20).adverse_event
    assert again != event and AdverseEvent.objects.count() == 2


def test_a_value_back_to_the_baseline_grade_resolves_the_episode(patient, cycle, nurse):
    anc = {"analyte": "anc", "unit": "10^9/L", "lln": 1.5}
    record(patient, nurse, value=1.2, collected_at=at(4), baseline=True, cycle=cycle, **anc)  # grade 2
    worse = record(patient, nurse, value=0.8, collected_at=at(8), **anc)  # grade 3: worse than the baseline
    event = worse.adverse_event
    assert (event.term.term, event.grade) == ("Neutrophil count decreased", 3)
    back = record(patient, nurse, value=1.1, collected_at=at(11), **anc)  # grade 2 = baseline: not emergent
    assert (back.grade, back.treatment_emergent, back.adverse_event) == (2, False, event)
    event.refresh_from_db()
    assert (event.grade, event.resolution_date) == (3, datetime.date(2026, 1, 11))


@pytest.mark.parametrize("data", [
    {"analyte": "platelets", "value": 200, "unit": "10^9/L", "lln": 150},  # grade 0
    {"analyte": "platelets", "value": 120, "unit": "10^9/L"},  # grade 0 or 1: undetermined without the LLN
])
def test_a_value_that_is_no_adverse_event_starts_no_episode_and_no_benchmark(ward, patient, cycle, nurse, data):
    result = record(patient, nurse, collected_at=at(8), **data)
    assert result.adverse_event is None
    assert not AdverseEvent.objects.exists() and not BenchmarkRun.objects.filter(site=ward).exists()


def test_a_value_not_worse_than_the_baseline_starts_no_episode(patient, cycle, nurse):
    platelets(patient, nurse, 40, 4, baseline=True, cycle=cycle)  # grade 3 at the cycle start
    same = platelets(patient, nurse, 30, 9)
    assert (same.grade, same.treatment_emergent, same.adverse_event) == (3, False, None)
    assert not AdverseEvent.objects.exists()


def test_a_value_after_the_cycles_follow_up_window_is_not_treatment_emergent(patient, nurse):
    from tests.conftest import make_cycle

    make_cycle(patient, start=datetime.date(2025, 10, 1), end_date=datetime.date(2025, 10, 28))
    late = record(patient, nurse, analyte="platelets", value=18, unit="10^9/L",
                  collected_at=datetime.datetime(2025, 12, 10, 8, tzinfo=TZ))  # 43 days after the end: no cycle 2
    assert (late.grade, late.treatment_emergent, late.adverse_event) == (4, False, None)


def test_a_value_after_the_window_does_not_resolve_the_cycles_open_episode(patient, nurse):
    from tests.conftest import make_cycle

    make_cycle(patient, start=datetime.date(2025, 10, 1), end_date=datetime.date(2025, 10, 28))
    event = record(patient, nurse, analyte="platelets", value=18, unit="10^9/L",
                   collected_at=datetime.datetime(2025, 10, 20, 8, tzinfo=TZ)).adverse_event
    late = record(patient, nurse, analyte="platelets", value=20, unit="10^9/L",
                  collected_at=datetime.datetime(2025, 12, 10, 8, tzinfo=TZ))
    assert late.adverse_event is None
    event.refresh_from_db()
    assert (event.resolution_date, event.version) == (None, 1)


def test_it_attaches_to_an_episode_entered_by_hand_and_never_lowers_the_entered_grade(patient, cycle, nurse):
    entered = adverse_event_create(acting_user=nurse, patient=patient, cycle=cycle,
                                   term=term("Platelet count decreased"), grade=3,
                                   onset_date=datetime.date(2026, 1, 7), relatedness="probable",
                                   action_taken="DOSE NOT CHANGED", outcome="NOT RECOVERED/NOT RESOLVED")
    lab = platelets(patient, nurse, 60, 8)  # grade 2
    assert lab.adverse_event == entered and AdverseEvent.objects.count() == 1
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade, entered.onset_date, entered.origin) == (
        3, 2, datetime.date(2026, 1, 7), "entered")
    assert "grade 3 was entered by hand" in entered.grade_discrepancy_reason
    assert entered.relatedness == "probable"  # what the nurse entered stays
    platelets(patient, nurse, 18, 9)
    entered.refresh_from_db()
    assert (entered.grade, entered.computed_grade, entered.grade_discrepancy_reason) == (4, 4, "")


def test_a_hand_edit_may_not_grade_a_lab_episode_below_its_lab_values(patient, cycle, nurse):
    event = platelets(patient, nurse, 18, 8).adverse_event
    assert observed_grade(event) == 4
    with pytest.raises(ValidationError) as exc:
        adverse_event_update(event=event, acting_user=nurse, reason="looks milder", expected_version=1, grade=3,
                             grade_discrepancy_reason="no bleeding")
    assert "lab results" in exc.value.message_dict["grade"][0]
    # the defaults of a lab-started episode are editable afterwards
    event = adverse_event_update(event=event, acting_user=nurse, reason="assessed on the ward round",
                                 expected_version=1, relatedness="probable", action_taken="DRUG INTERRUPTED")
    assert (event.relatedness, event.action_taken, event.version) == ("probable", "DRUG INTERRUPTED", 2)
    platelets(patient, nurse, 20, 9)
    event.refresh_from_db()
    assert (event.relatedness, event.action_taken) == ("probable", "DRUG INTERRUPTED")


def test_terms_and_cycles_are_kept_apart(patient, cycle, nurse):
    plt = platelets(patient, nurse, 18, 8).adverse_event
    anc = record(patient, nurse, analyte="anc", value=0.3, unit="10^9/L", collected_at=at(8)).adverse_event
    hb = record(patient, nurse, analyte="hemoglobin", value=75, unit="g/L", collected_at=at(8)).adverse_event
    assert len({plt.pk, anc.pk, hb.pk}) == 3
    assert (anc.term.term, hb.term.term, hb.grade) == ("Neutrophil count decreased", "Anemia", 3)  # Hb < 80 g/L


# --- what the nurse sees ----------------------------------------------------------------------------------


def post_lab(client, patient, **data):
    return client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "platelets", "unit": "10^9/L", "lln": "150", "collected_at": "2026-01-08T08:00", "cycle": ""} | data,
        follow=True)


def test_the_success_message_names_the_ae_and_links_it(nurse_client, patient, cycle):
    page = post_lab(nurse_client, patient, value="40").content.decode()
    event = AdverseEvent.objects.get()
    link = f'<a href="/events/{event.pk}/history/">Platelet count decreased grade 3</a>'
    assert "Adverse event recorded: " + link in page
    page = post_lab(nurse_client, patient, value="18", collected_at="2026-01-09T08:00").content.decode()
    assert "Adverse event updated: " + f'<a href="/events/{event.pk}/history/">Platelet count decreased grade 4</a>' \
        + " (was grade 3)" in page
    page = post_lab(nurse_client, patient, value="200", collected_at="2026-01-12T08:00").content.decode()
    assert "resolved 12 Jan 2026" in page
    # each result in the table links to the AE it feeds
    table = page.split("<h2>Recent results</h2>", 1)[1]
    assert len(re.findall(rf'href="/events/{event.pk}/history/"', table)) == 3


def test_no_ae_is_said_in_words(nurse_client, patient, cycle):
    page = post_lab(nurse_client, patient, value="200").content.decode()
    assert "No adverse event: grade 0" in page


def test_the_event_history_lists_its_lab_results(nurse_client, patient, cycle, nurse):
    event = platelets(patient, nurse, 40, 8).adverse_event
    platelets(patient, nurse, 18, 9)
    page = nurse_client.get(f"/events/{event.pk}/history/").content.decode()
    assert "Lab results of this episode" in page
    assert "08 Jan 2026 07:00" in page and "09 Jan 2026 07:00" in page
    assert "Platelet count 18 ×10⁹/L of 09 Jan 2026 07:00 graded 4." in page  # the revision's reason
    assert LabResult.objects.filter(adverse_event=event).count() == 2


def test_a_late_baseline_through_the_form_says_what_it_regraded_and_links_the_episode(nurse_client, patient, cycle,
                                                                                       nurse):
    event = record(patient, nurse, analyte="alt", value=130, unit="U/L", uln=40, collected_at=at(9)).adverse_event
    page = nurse_client.post(f"/patients/{patient.pk}/labs/new/", {
        "analyte": "alt", "value": "80", "unit": "U/L", "uln": "40", "collected_at": "2026-01-04T07:00",
        "baseline": "on", "cycle": cycle.pk}, follow=True).content.decode()
    assert "Saved: baseline ALT 80 U/L of 04 Jan 2026 07:00" in page
    assert "1 later value(s) of cycle 1 regraded against it." in page
    link = f'<a href="/events/{event.pk}/history/">Alanine aminotransferase increased grade 1</a>'
    assert f"Adverse event updated: {link} (was grade 2)." in page
