"""Leave-one-cohort-out validation: benchmark each published cohort against the others."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from reports.benchmark import GRADE_BANDS
from reports.models import BenchmarkCategory, CohortFigure
from reports.validation import leave_one_out


def cohort_figures() -> list[dict]:
    """The cohort figures of the benchmark categories, in the shape of ``benchmark.collect_inputs``."""
    slugs = list(BenchmarkCategory.objects.values_list("slug", flat=True))
    return [
        {"id": f.id, "cohort": f.cohort.slug, "short_name": f.cohort.short_name, "category": f.category,
         "grade_band": f.grade_band, "cycle_scope": f.cycle_scope, "unit": f.unit, "numerator": f.numerator,
         "denominator": f.denominator, "percent_printed": f.percent_printed, "stratum": f.stratum,
         "scale": f.scale, "schedule": f.cohort.schedule, "population": f.cohort.population}
        for f in CohortFigure.objects.filter(category__in=slugs, grade_band__in=list(GRADE_BANDS))
        .select_related("cohort").order_by("cohort__slug", "id")
    ]


def _pct(value):
    return "—" if value is None else f"{value:.1%}"


def _p(value):
    return "—" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = ("Leave-one-cohort-out check: benchmark every published cohort (whole-cohort patient figures, "
            "all cycles) as if it were a ward against the other cohorts, with the configured flag thresholds.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the rows as JSON")

    def handle(self, *args, **options):
        thresholds = dict(settings.PVTRACK_BENCHMARK)
        rows = leave_one_out(cohort_figures(), thresholds)
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
