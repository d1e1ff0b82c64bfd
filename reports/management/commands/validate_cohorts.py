"""Leave-one-cohort-out validation: benchmark each published cohort against the others."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from reports import stats
from reports.benchmark import cohort_figures, select_figures
from reports.models import BenchmarkCategory
from reports.validation import leave_one_out, operating_characteristics


def all_cohort_figures() -> list[dict]:
    """The cohort figures of every benchmark category, in the shape of ``benchmark.collect_inputs``."""
    return cohort_figures(list(BenchmarkCategory.objects.values_list("slug", flat=True)))


def _pct(value):
    return "—" if value is None else f"{value:.1%}"


def _p(value):
    return "—" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = ("Leave-one-cohort-out check: benchmark every published cohort (whole-cohort patient figures, "
            "all cycles) as if it were a ward against the other cohorts, with the configured flag thresholds.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the rows as JSON")
        parser.add_argument("--operating-characteristics", action="store_true",
                            help="print the false-alarm rate and power of the default flag rule for wards of 10, "
                                 "20 and 40 patients against the CRS any-grade benchmark of the published cohorts")

    def handle(self, *args, **options):
        thresholds = dict(settings.PVTRACK_BENCHMARK)
        if options["operating_characteristics"]:
            self._operating_characteristics(thresholds, options["json"])
            return
        rows = leave_one_out(all_cohort_figures(), thresholds,
                             dict(BenchmarkCategory.objects.values_list("slug", "grade_bands")))
        if options["json"]:
            self.stdout.write(json.dumps({"thresholds": thresholds, "rows": rows}, indent=2, ensure_ascii=False))
            return
        header = (f"{'cohort':<27} {'category':<20} {'band':<4} {'x/n':>8} {'pooled median (k, method)':<32} "
                  f"{'p_upper':>8} {'p_lower':>8}  flag")
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in rows:
            pooled = (f"{_pct(r['median'])} ({r['k']}, {r['method']}{', weak' if r['weak'] else ''})"
                      if r["method"] else f"— ({r['note']})")
            self.stdout.write(f"{r['cohort']:<27} {r['category']:<20} {r['grade_band']:<4} "
                              f"{str(r['x']) + '/' + str(r['n']):>8} {pooled:<32} {_p(r['p_upper']):>8} "
                              f"{_p(r['p_lower']):>8}  {r['flag'] or ''}")
        flagged = sum(1 for r in rows if r["flag"])
        compared = sum(1 for r in rows if r["method"])
        self.stdout.write(f"\n{len(rows)} cohort cells, {compared} compared with other cohorts, {flagged} flagged "
                          f"(ALARM p<{thresholds['ALARM_P']}, ALERT p<{thresholds['ALERT_P']}, "
                          f"CHECK_ASCERTAINMENT lower p<{thresholds['LOW_P']}, WATCH fixed p<{thresholds['WATCH_P']}).")

    def _operating_characteristics(self, thresholds: dict, as_json: bool) -> None:
        used, _ = select_figures(all_cohort_figures(), "crs", "any", "all", excluded_cohort="")
        pooled = stats.pool([f["numerator"] for f in used], [f["denominator"] for f in used],
                            min_cohorts=int(thresholds["MIN_COHORTS"]), min_events=int(thresholds["MIN_EVENTS"]))
        rows = operating_characteristics(pooled, thresholds)
        if as_json:
            self.stdout.write(json.dumps({"benchmark": {"cohorts": [f["cohort"] for f in used],
                                                        "method": pooled.method, "median": pooled.median,
                                                        "marginal_mean": pooled.marginal_mean, "tau2": pooled.tau2},
                                          "rows": rows}, indent=2))
            return
        self.stdout.write(f"Benchmark: CRS any grade, all cycles, {pooled.method} over {pooled.k} cohorts "
                          f"({', '.join(f['cohort'] for f in used)}): median {_pct(pooled.median)}, "
                          f"mean {_pct(pooled.marginal_mean)}, tau2 {pooled.tau2:.3f}")
        self.stdout.write(f"{'n':>3} {'ALERT at x>=':>12} {'any flag at x>=':>15} {'false ALERT':>11} "
                          f"{'false any':>9} {'power ALERT':>11} {'power any':>9}   (power at 2 x mean)")
        for r in rows:
            self.stdout.write(f"{r['n']:>3} {str(r['alert_at']):>12} {str(r['watch_at']):>15} "
                              f"{r['false_alert']:>11.4f} {r['false_any']:>9.4f} {r['power_alert']:>11.4f} "
                              f"{r['power_any']:>9.4f}")
