"""Exposure-adjusted rates (reports.exposure) and the entry-lag indicator (reports.entry_lag)."""

from __future__ import annotations

import datetime

import pytest

from reports import entry_lag, exposure

D = datetime.date


def test_infusion_days_of_a_finished_cycle_less_interruptions():
    assert exposure.infusion_days(D(2024, 1, 1), D(2024, 1, 28), "standard_28d", D(2025, 1, 1)) == 28
    assert exposure.infusion_days(D(2024, 1, 1), D(2024, 1, 28), "standard_28d", D(2025, 1, 1), 36) == 26.5


def test_ongoing_cycle_counts_to_today_or_its_nominal_end():
    assert exposure.infusion_days(D(2024, 1, 1), None, "short_14d", D(2024, 1, 10)) == 10
    assert exposure.infusion_days(D(2024, 1, 1), None, "short_14d", D(2024, 3, 1)) == 14
    assert exposure.infusion_days(D(2024, 1, 5), None, "standard_28d", D(2024, 1, 1)) == 0


def test_rates_with_exact_intervals():
    """3 events over 6 cycles and 150 patient-days: 0.5 per cycle, 2.0 per 100 days; Garwood 95 % for 3 events is
    0.6187–8.7673 (Garwood 1936; also Ulm 1990, Am J Epidemiol 131:373, table)."""
    rates = exposure.exposure_rates(3, 6, 150.0)
    assert rates.per_cycle == 0.5 and rates.per_100_days == pytest.approx(2.0)
    assert rates.per_cycle_ci == pytest.approx((0.6187 / 6, 8.7673 / 6), abs=1e-4)
    assert rates.per_100_days_ci == pytest.approx((100 * 0.6187 / 150, 100 * 8.7673 / 150), abs=1e-3)
    empty = exposure.exposure_rates(0, 0, 0)
    assert empty.per_cycle is None and empty.per_100_days is None


def test_bad_exposure_is_refused():
    with pytest.raises(ValueError):
        exposure.infusion_days(D(2024, 2, 1), D(2024, 1, 1), "standard_28d", D(2025, 1, 1))
    with pytest.raises(ValueError):
        exposure.exposure_rates(-1, 1, 1)


def test_entry_lag_flags_a_late_median_or_a_late_tail():
    on_time = entry_lag.entry_lag([0, 1, 1, 2, 3, 5])
    assert on_time.flag is None and on_time.median == 1.5
    late_median = entry_lag.entry_lag([8, 9, 10, 10, 12])
    assert late_median.flag == "LATE ENTRY" and "median 10 days" in late_median.message
    late_tail = entry_lag.entry_lag([0, 0, 1, 1, 1, 1, 2, 2, 30, 40])
    assert late_tail.flag == "LATE ENTRY" and "90th percentile 31 days" in late_tail.message


def test_entry_lag_needs_five_events_and_refuses_negative_lags():
    assert entry_lag.entry_lag([30, 30, 30]).flag is None
    assert entry_lag.entry_lag([]).n == 0
    with pytest.raises(ValueError):
        entry_lag.entry_lag([1, -2])
