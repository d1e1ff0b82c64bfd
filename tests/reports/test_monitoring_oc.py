"""Operating characteristics of the network funnel and the CUSUM (reports.monitoring_oc, manage.py monitoring_oc)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from reports import monitoring_oc


def test_network_rows_false_alarms_stay_low_and_power_grows_with_n():
    rows = monitoring_oc.network_operating_characteristics({"crs": 0.2}, sizes=(10, 40), replications=300, seed=3)
    small, large = rows
    assert (small["n"], large["n"]) == (10, 40)
    assert small["false_alarm_alert"] < 0.1 and large["false_alarm_alert"] < 0.1
    assert large["power_alert"] > small["power_alert"] > small["false_alarm_alert"]
    assert small["flags_given"] == 1.0


def test_cusum_rows_hold_the_stated_in_control_arl():
    rows = monitoring_oc.cusum_operating_characteristics({"neurotoxicity": 0.2}, sizes=(10, 40))
    assert all(r["arl_in_control"] >= 200 for r in rows)
    assert rows[0]["arl_at_twice"] < rows[0]["arl_in_control"] / 5
    assert rows[0]["false_alarm"] < rows[1]["false_alarm"] < rows[1]["power"]


def test_twice_a_rate_above_one_half_has_no_power_column():
    rows = monitoring_oc.cusum_operating_characteristics({"x": 0.6}, sizes=(10,))
    assert rows[0]["power"] is None and rows[0]["arl_at_twice"] is None


@pytest.mark.django_db
def test_command_prints_both_tables():
    out = io.StringIO()
    call_command("monitoring_oc", "--replications", "20", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data["rates"]) == {"crs", "neurotoxicity"}
    assert len(data["network"]) == len(data["cusum"]) == 6
