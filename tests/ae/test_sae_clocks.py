"""Reporting clocks of SAE cases (ae/sae/clocks.py): boundaries at exactly 24 h / 7 d / 15 d, DST, readings.

Sources: EU Regulation 536/2014 Art. 41(2) (24 h), ICH E2A III.A.1–2 (7 days + 8 more, 15 days), EU CT-3 §7.2.3.
Europe/Warsaw: DST began 2026-03-29 02:00 → 03:00 (CET → CEST) and ended 2026-10-25 03:00 → 02:00.
"""

import datetime
import zoneinfo

import pytest

from ae.sae.clocks import Clock, Submission, calendar_days_later, case_clocks, reminder_times, sponsor_due

WAW = zoneinfo.ZoneInfo("Europe/Warsaw")
UTC = datetime.UTC


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=WAW)


def test_sponsor_due_is_24_elapsed_hours_and_a_submission_exactly_then_is_in_time():
    aware = at(2026, 2, 10, 14, 5)
    clock = Clock("sponsor", sponsor_due(aware))
    assert clock.due_at == at(2026, 2, 11, 14, 5)
    assert not clock.overdue(at(2026, 2, 11, 14, 5))
    assert clock.overdue(at(2026, 2, 11, 14, 5, 1))
    assert not Clock("sponsor", clock.due_at, met_at=clock.due_at).late()
    assert Clock("sponsor", clock.due_at, met_at=clock.due_at + datetime.timedelta(seconds=1)).late()


def test_sponsor_hours_are_per_site_and_bounded():
    assert sponsor_due(at(2026, 2, 10, 14, 5), hours=12) == at(2026, 2, 11, 2, 5)
    with pytest.raises(ValueError):
        sponsor_due(at(2026, 2, 10, 14, 5), hours=0)
    with pytest.raises(ValueError):
        sponsor_due(datetime.datetime(2026, 2, 10, 14, 5))  # naive


def test_sponsor_clock_across_spring_forward_is_24_real_hours_so_the_wall_clock_says_one_hour_later():
    aware = at(2026, 3, 28, 20, 0)  # CET (+01:00)
    due = sponsor_due(aware).astimezone(WAW)
    assert due.astimezone(UTC) - aware.astimezone(UTC) == datetime.timedelta(hours=24)
    assert (due.hour, due.utcoffset()) == (21, datetime.timedelta(hours=2))


def test_seven_days_are_calendar_days_in_the_site_zone_across_spring_forward():
    aware = at(2026, 3, 25, 10, 0)  # CET
    due = calendar_days_later(aware, 7, "Europe/Warsaw")
    assert (due.date(), due.hour, due.minute) == (datetime.date(2026, 4, 1), 10, 0)
    assert due.astimezone(UTC) - aware.astimezone(UTC) == datetime.timedelta(hours=167)


def test_fifteen_days_across_fall_back_last_one_real_hour_more():
    aware = at(2026, 10, 20, 9, 30)  # CEST
    due = calendar_days_later(aware, 15, "Europe/Warsaw")
    assert (due.date(), due.hour, due.minute) == (datetime.date(2026, 11, 4), 9, 30)
    assert due.astimezone(UTC) - aware.astimezone(UTC) == datetime.timedelta(days=15, hours=1)


def test_a_wall_time_skipped_by_spring_forward_becomes_the_instant_after_the_gap():
    aware = at(2026, 3, 22, 2, 30)
    due = calendar_days_later(aware, 7, "Europe/Warsaw")
    assert due.astimezone(UTC) == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_same_instant_in_another_zone_counts_days_in_the_site_zone():
    aware = datetime.datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on 29 March in Warsaw (CET→ CEST that night)
    due = calendar_days_later(aware, 7, "Europe/Warsaw")
    assert due.tzinfo is not None and due.astimezone(WAW).date() == datetime.date(2026, 4, 5)
    assert due.astimezone(WAW).hour == 0 and due.astimezone(WAW).minute == 30


def test_a_fatal_or_life_threatening_susar_has_7_days_then_8_more_for_the_complete_report():
    aware = at(2026, 2, 10, 14, 5)
    clocks = {c.name: c for c in case_clocks(awareness_at=aware, time_zone="Europe/Warsaw", susar=True,
                                             fatal_or_life_threatening=True)}
    assert set(clocks) == {"sponsor", "authority_initial", "authority_complete"}
    assert clocks["authority_initial"].due_at == at(2026, 2, 17, 14, 5)
    assert clocks["authority_complete"].due_at == at(2026, 2, 25, 14, 5)
    assert not clocks["authority_initial"].overdue(at(2026, 2, 17, 14, 5))
    assert clocks["authority_initial"].overdue(at(2026, 2, 17, 14, 6))


def test_the_complete_report_counts_8_days_from_an_earlier_initial_susar_submission():
    aware = at(2026, 2, 10, 14, 5)
    first = Submission(at(2026, 2, 12, 9, 0), susar=True)
    clocks = {c.name: c for c in case_clocks(awareness_at=aware, time_zone="Europe/Warsaw", susar=True,
                                             fatal_or_life_threatening=True, submissions=[first])}
    assert clocks["sponsor"].met_at == first.at and clocks["authority_initial"].met_at == first.at
    assert clocks["authority_complete"].due_at == at(2026, 2, 20, 9, 0)
    assert clocks["authority_complete"].met_at is None


def test_other_susars_have_15_days_and_a_non_susar_only_the_sponsor_clock():
    aware = at(2026, 2, 10, 14, 5)
    clocks = case_clocks(awareness_at=aware, time_zone="Europe/Warsaw", susar=True, fatal_or_life_threatening=False)
    assert [(c.name, c.due_at) for c in clocks] == [("sponsor", at(2026, 2, 11, 14, 5)),
                                                    ("authority", at(2026, 2, 25, 14, 5))]
    assert [c.name for c in case_clocks(awareness_at=aware, time_zone="Europe/Warsaw", susar=False,
                                        fatal_or_life_threatening=True)] == ["sponsor"]


def test_the_authority_clock_is_met_only_by_a_susar_version_and_follow_ups_get_their_own_clock():
    aware = at(2026, 2, 10, 14, 5)
    subs = [Submission(at(2026, 2, 11, 8, 0), susar=False), Submission(at(2026, 2, 20, 8, 0), susar=True)]
    clocks = {c.name: c for c in case_clocks(awareness_at=aware, time_zone="Europe/Warsaw", susar=True,
                                             fatal_or_life_threatening=False, submissions=subs,
                                             follow_up_awareness_at=at(2026, 2, 19, 12, 0))}
    assert clocks["sponsor"].met_at == subs[0].at
    assert clocks["authority"].met_at == subs[1].at and not clocks["authority"].late()
    assert clocks["follow_up"].due_at == at(2026, 2, 20, 12, 0) and clocks["follow_up"].met_at == subs[1].at


def test_the_repeated_fall_back_hour_is_compared_as_real_time():
    first = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=WAW)  # 02:30 CEST (fold 0)
    second = datetime.datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=WAW)  # 02:10 CET, 40 minutes later
    assert Clock("sponsor", first).overdue(second)
    assert sponsor_due(first).astimezone(UTC) == datetime.datetime(2026, 10, 26, 0, 30, tzinfo=UTC)


def test_reminders_come_a_quarter_of_the_window_before_at_most_a_day_and_stop_once_met():
    due = at(2026, 2, 11, 14, 5)
    assert reminder_times(Clock("sponsor", due), window=datetime.timedelta(hours=24)) == [
        ("before", at(2026, 2, 11, 8, 5)), ("due", due)]
    assert reminder_times(Clock("authority", due), window=datetime.timedelta(days=15))[0] == (
        "before", at(2026, 2, 10, 14, 5))
    assert reminder_times(Clock("sponsor", due, met_at=due), window=datetime.timedelta(hours=24)) == []
