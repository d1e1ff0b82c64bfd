"""Operating characteristics of the network comparison and of the CUSUM (issue 17, Done-when (b) and (c)).

Pure numpy (no Django): the expected rates come in as arguments (``manage.py monitoring_oc`` pools them from the
published cohorts). Each function returns a list of dict rows, one per (category, ward size), for the table of
``validate_cohorts --operating-characteristics`` and docs/network-and-trends.md.

* Network (b): ``wards`` (10) simulated wards of the same size n, all at the expected rate p0 except the ward under
  test, which is at p0 (false alarms) or 2·p0 (power); the ward is compared by :func:`reports.funnel.funnel`.
  False-alarm rate and power are the shares of ``replications`` networks in which that ward is flagged ABOVE at
  ALERT (outside the 95 % limit) or at ALARM (99.8 %).
* CUSUM (c): threshold h for the in-control ARL ``arl0`` (:func:`reports.cusum.threshold_for_arl`); the in-control
  ARL, the ARL when the rate is 2·p0 (odds ratio 2p0(1−p0)/(p0(1−2p0))), and the probability of a signal within the
  ward's first n patients at p0 (false alarm) and at 2·p0 (power), all by the Markov chain of :mod:`reports.cusum`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reports import cusum, funnel

WARD_SIZES = (10, 20, 40)
NETWORK_WARDS = 10


def _odds_ratio(p0: float, p1: float) -> float:
    return (p1 / (1 - p1)) / (p0 / (1 - p0))


def network_operating_characteristics(rates: dict[str, float], sizes: Sequence[int] = WARD_SIZES,
                                      wards: int = NETWORK_WARDS, replications: int = 2000,
                                      seed: int = 17) -> list[dict[str, Any]]:
    """Rows {"category", "n", "p0", "wards", "replications", "false_alarm_alert", "false_alarm_alarm",
    "power_alert", "power_alarm", "flags_given"} for each category (``rates``: category → p0) and ward size.
    At 2·p0 ≥ 1 the power columns hold None."""
    rng = np.random.default_rng(seed)
    rows = []
    for category, p0 in rates.items():
        for n in sizes:
            row: dict[str, Any] = {"category": category, "n": n, "p0": p0, "wards": wards,
                                   "replications": replications}
            flags_given = 0
            for label, p in (("false_alarm", p0), ("power", 2 * p0)):
                if p >= 1:
                    row[f"{label}_alert"] = row[f"{label}_alarm"] = None
                    continue
                alert = alarm = 0
                for _ in range(replications):
                    others = rng.binomial(n, p0, size=wards - 1)
                    units = [funnel.Unit("tested", int(rng.binomial(n, p)), n)]
                    units += [funnel.Unit(f"w{i}", int(x), n) for i, x in enumerate(others)]
                    result = funnel.funnel(units)
                    flags_given += result.flags_given
                    tested = result.units[0]
                    if tested.direction == "above":
                        alert += 1
                        alarm += tested.level == "ALARM"
                row[f"{label}_alert"], row[f"{label}_alarm"] = alert / replications, alarm / replications
            row["flags_given"] = flags_given / (2 * replications)
            rows.append(row)
    return rows


def cusum_operating_characteristics(rates: dict[str, float], sizes: Sequence[int] = WARD_SIZES,
                                    arl0: float = cusum.ARL0,
                                    odds_ratio: float = cusum.ODDS_RATIO) -> list[dict[str, Any]]:
    """Rows {"category", "n", "p0", "h", "arl_in_control", "arl_at_twice", "false_alarm", "power"} for each
    category and ward size (the chart is designed once per category: h and the ARLs do not depend on n). At
    2·p0 ≥ 1 the out-of-control columns hold None."""
    rows = []
    for category, p0 in rates.items():
        mix = [(p0, 1.0)]
        h = cusum.threshold_for_arl(mix, arl0, odds_ratio)
        arl_in = cusum.arl(mix, h, odds_ratio)
        shifted = 2 * p0 < 1
        true_or = _odds_ratio(p0, 2 * p0) if shifted else None
        arl_out = cusum.arl(mix, h, odds_ratio, true_or) if true_or else None
        for n in sizes:
            rows.append({"category": category, "n": n, "p0": p0, "h": h, "arl_in_control": arl_in,
                         "arl_at_twice": arl_out,
                         "false_alarm": cusum.signal_probability(mix, h, n, odds_ratio),
                         "power": cusum.signal_probability(mix, h, n, odds_ratio, true_or) if true_or else None})
    return rows
