"""Leave-one-cohort-out validation: benchmark each published cohort against the others."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from reports import operating_characteristics as oc
from reports.benchmark import cohort_figures
from reports.models import BenchmarkCategory
from reports.validation import leave_one_out


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
                            help="print the false-alarm rate and power (or average run lengths) of every "
                                 "registered comparison (reports.operating_characteristics) for CRS and "
                                 "neurotoxicity any grade at wards of 10, 20 and 40 patients, before and after")

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
            pooled = (f"— (no usable benchmark, {r['k']} cohorts)" if r["method"] and r["p_upper"] is None else
                      f"{_pct(r['median'])} ({r['k']}, {r['method']}{', weak' if r['weak'] else ''})"
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
        ctx = oc.Context(figures=all_cohort_figures(), thresholds=thresholds)
        rows = oc.run(ctx)
        if as_json:
            self.stdout.write(json.dumps({"sizes": list(ctx.sizes), "multiplier": ctx.multiplier,
                                          "ward_blast_share": ctx.ward_blast_share, "rows": rows}, indent=2,
                                         ensure_ascii=False))
            return
        self.stdout.write(f"Operating characteristics: false alarm at the expected rate, power at {ctx.multiplier:g} x "
                          f"it; ward blast share {ctx.ward_blast_share:.0%}. ALERT = ALERT or ALARM; any = also WATCH. "
                          "ARL in patients (sequential approaches).")
        header = (f"{'approach':<16} {'variant':<7} {'cell':<18} {'n':>3} {'expected':>8} {'false':>7} {'power':>7} "
                  f"{'false any':>9} {'power any':>9} {'ARL in':>7} {'ARL out':>7}  detail")
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in rows:
            arl = [("—" if r[k] is None else f"{r[k]:.0f}") for k in ("arl_in", "arl_out")]
            self.stdout.write(f"{r['approach']:<16} {r['variant']:<7} {r['category'] + ' ' + r['grade_band']:<18} "
                              f"{r['n']:>3} {_pct(r['expected']):>8} {_p(r['false_alarm']):>7} {_p(r['power']):>7} "
                              f"{_p(r['false_any']):>9} {_p(r['power_any']):>9} {arl[0]:>7} {arl[1]:>7}  {r['detail']}")
