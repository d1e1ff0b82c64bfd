"""Pure rules of SAE cases: exposure periods, expectedness by RSI entries, what changed between versions."""

import datetime
import zoneinfo
from decimal import Decimal

from ae.sae import expectedness
from ae.sae.changes import changes_since
from ae.sae.exposure import Interruption, Step, dose_periods

WAW = zoneinfo.ZoneInfo("Europe/Warsaw")


def test_dose_steps_become_periods_cut_by_an_interruption_with_batch_and_route():
    start = datetime.date(2026, 1, 5)
    steps = [Step(1, Decimal("5"), "ug_m2_day", batch="AB12-3"),
             Step(8, Decimal("15"), "ug_m2_day", started_at=datetime.datetime(2026, 1, 12, 10, 0, tzinfo=WAW))]
    cut = Interruption(datetime.datetime(2026, 1, 14, 6, 0, tzinfo=WAW), datetime.datetime(2026, 1, 14, 18, 30,
                                                                                          tzinfo=WAW))
    periods = dose_periods(cycle_number=1, cycle_start=start, cycle_end=datetime.date(2026, 2, 1), steps=steps,
                           interruptions=[cut], time_zone="Europe/Warsaw")
    assert [(p.dose_value, p.dose_unit, p.start, p.stop, p.batch) for p in periods] == [
        (5.0, "ug/m2/d", "2026-01-05", "2026-01-12T10:00+01:00", "AB12-3"),
        (15.0, "ug/m2/d", "2026-01-12T10:00+01:00", "2026-01-14T06:00+01:00", ""),
        (15.0, "ug/m2/d", "2026-01-14T18:30+01:00", "2026-02-01", ""),
    ]
    assert {p.route for p in periods} == {"Continuous intravenous infusion"}


def test_an_interruption_not_restarted_ends_the_infusion_and_an_open_cycle_runs_on():
    steps = [Step(1, Decimal("28"), "ug_day")]
    stop = datetime.datetime(2026, 1, 7, 3, 0, tzinfo=WAW)
    ended = dose_periods(cycle_number=2, cycle_start=datetime.date(2026, 1, 5), cycle_end=None, steps=steps,
                         interruptions=[Interruption(stop, None)], time_zone="Europe/Warsaw")
    assert [(p.start, p.stop, p.dose_unit) for p in ended] == [("2026-01-05", "2026-01-07T03:00+01:00", "ug/d")]
    running = dose_periods(cycle_number=2, cycle_start=datetime.date(2026, 1, 5), cycle_end=None, steps=steps,
                           interruptions=[], time_zone="Europe/Warsaw")
    assert running[0].stop is None


def test_expectedness_is_proposed_from_the_entries_by_code_or_term_and_by_severity():
    listed = [expectedness.Listed(ctcae_term="Cytokine release syndrome"),
              expectedness.Listed(meddra_code="10019211", max_grade=3)]  # Headache up to grade 3 (fixture-like)
    crs4 = expectedness.Observed("Cytokine release syndrome", "10011111", 4)
    headache2 = expectedness.Observed("Headache", "10019211", 2)
    headache4 = expectedness.Observed("Headache", "10019211", 4)
    pml = expectedness.Observed("Progressive multifocal leukoencephalopathy", "10036807", 5)
    assert expectedness.propose([crs4, headache2], listed) == "expected"
    assert expectedness.propose([crs4, headache4], listed) == "unexpected"
    assert expectedness.propose([pml], listed) == "unexpected"
    assert expectedness.propose([crs4], None) == "undetermined"
    assert expectedness.propose([], listed) == "undetermined"


def test_changes_list_changed_values_by_reaction_and_ignore_version_bookkeeping():
    old = {"version": 1, "signed_by": "A", "narrative": "x", "susar": False,
           "reactions": [{"adverse_event_id": 3, "ctcae_term": "Cytokine release syndrome", "outcome": "recovering",
                          "end": None}]}
    new = {"version": 2, "signed_by": "B", "narrative": "y", "susar": True,
           "reactions": [{"adverse_event_id": 3, "ctcae_term": "Cytokine release syndrome", "outcome": "recovered",
                          "end": "2026-01-09"}]}
    assert changes_since(old, new) == [
        "narrative: edited",
        "reactions[Cytokine release syndrome (AE 3)].end: — → 2026-01-09",
        "reactions[Cytokine release syndrome (AE 3)].outcome: recovering → recovered",
        "susar: False → True"]
    assert changes_since(None, new) == []
