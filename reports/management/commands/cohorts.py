import json

from django.core.management.base import BaseCommand

from reports.benchmark import dosing_text, premedication_text
from reports.models import Cohort


class Command(BaseCommand):
    help = "List every published cohort with its AE figures and their provenance."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the curated records as JSON")

    def handle(self, *args, **options):
        cohorts = Cohort.objects.prefetch_related("figures")
        if options["json"]:
            self.stdout.write(json.dumps([c.record for c in cohorts], indent=2, ensure_ascii=False))
            return
        for c in cohorts:
            self.stdout.write(f"{c.slug}: {c.short_name} — n={c.n_patients}, {c.schedule}, {c.population}, "
                              f"CRS graded {c.grading_crs}, blasts {c.blast_burden}")
            self.stdout.write(f"  {c.citation}")
            premedication, dosing = c.record.get("premedication"), c.record.get("dosing")
            agent = f" ({premedication['agent']})" if premedication and premedication.get("agent") else ""
            self.stdout.write(f"  premedication: {premedication_text(premedication)}{agent}; "
                              f"regimen: {dosing_text(dosing)}")
            for f in c.figures.all():
                value = (f"{f.numerator}/{f.denominator}" if f.numerator is not None and f.denominator
                         else f"{f.numerator}" if f.numerator is not None else f"{f.percent_printed}%")
                self.stdout.write(f"  - {f.category:<20} {f.grade_band:<4} {value:>7} {f.unit:<8} {f.cycle_scope:<5} "
                                  f"{f.reported_term} [{f.seed}, {f.location}: \"{f.quote}\"]")
            conflicts = c.record.get("conflicts", [])
            if conflicts:
                self.stdout.write(f"  conflicts recorded: {len(conflicts)}")
