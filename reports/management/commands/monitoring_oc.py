"""Operating characteristics of the network funnel and the CUSUM (issue 17, Done-when (b) and (c))."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from reports.benchmark import cohort_figures
from reports.monitoring_oc import WARD_SIZES, cusum_operating_characteristics, network_operating_characteristics
from reports.operating_characteristics import expected_rate

CATEGORIES = ("crs", "neurotoxicity")


def expected_rates(categories=CATEGORIES) -> dict[str, float]:
    """The literature benchmark's marginal mean (any grade, all cycles, no ward profile) of each category: the
    expected rate p0 the operating characteristics are computed at (categories without a usable fit are left out)."""
    figures = cohort_figures(list(categories))
    rates = {c: expected_rate(figures, dict(settings.PVTRACK_BENCHMARK), c) for c in categories}
    return {c: p for c, p in rates.items() if p is not None}


def _pct(value):
    return "—" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = ("Print the operating characteristics of the ward-against-network funnel (10 simulated wards) and of the "
            "risk-adjusted CUSUM for CRS and neurotoxicity, any grade, at wards of 10, 20 and 40 patients.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the rows as JSON")
        parser.add_argument("--replications", type=int, default=2000,
                            help="simulated networks per row (default 2000)")
        parser.add_argument("--seed", type=int, default=17)

    def handle(self, *args, **options):
        if options["replications"] < 1:
            self.stderr.write("--replications must be at least 1")
            raise SystemExit(2)
        rates = expected_rates()
        network = network_operating_characteristics(rates, WARD_SIZES, replications=options["replications"],
                                                    seed=options["seed"])
        charts = cusum_operating_characteristics(rates, WARD_SIZES)
        if options["json"]:
            self.stdout.write(json.dumps({"rates": rates, "network": network, "cusum": charts}, indent=2))
            return
        self.stdout.write("Network comparison (funnel, 10 wards of n, flag ABOVE): false alarms at p0, power at 2·p0")
        self.stdout.write(f"{'category':<15}{'n':>4}{'p0':>8}{'FA 95%':>9}{'FA 99.8%':>10}{'power 95%':>11}"
                          f"{'power 99.8%':>13}")
        for r in network:
            self.stdout.write(f"{r['category']:<15}{r['n']:>4}{_pct(r['p0']):>8}{_pct(r['false_alarm_alert']):>9}"
                              f"{_pct(r['false_alarm_alarm']):>10}{_pct(r['power_alert']):>11}"
                              f"{_pct(r['power_alarm']):>13}")
        self.stdout.write("\nRisk-adjusted Bernoulli CUSUM (R_A = 2, h for in-control ARL 200 patients)")
        self.stdout.write(f"{'category':<15}{'n':>4}{'p0':>8}{'h':>7}{'ARL0':>8}{'ARL 2p0':>9}{'FA by n':>9}"
                          f"{'power by n':>12}")
        for r in charts:
            out = "—" if r["arl_at_twice"] is None else f"{r['arl_at_twice']:.1f}"
            self.stdout.write(f"{r['category']:<15}{r['n']:>4}{_pct(r['p0']):>8}{r['h']:>7.3f}"
                              f"{r['arl_in_control']:>8.1f}{out:>9}{_pct(r['false_alarm']):>9}{_pct(r['power']):>12}")
