import json

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_context
from patients.models import Site
from reports.models import BenchmarkRun
from reports.report import format_run_text
from reports.runs import benchmark_run_now


class Command(BaseCommand):
    help = "Benchmark a site against the published cohorts now (synchronously) and print the report."

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="site slug")
        parser.add_argument("--json", action="store_true", help="print the stored run (inputs and results) as JSON")

    def handle(self, *args, site, **options):
        try:
            site_obj = Site.objects.get(slug=site)
        except Site.DoesNotExist as exc:
            raise CommandError(f"unknown site {site!r}") from exc
        with audit_context(source="job"):
            run = benchmark_run_now(site=site_obj)
        if run.status != BenchmarkRun.Status.DONE:
            raise CommandError(f"benchmark run {run.pk} {run.status}: {run.error}")
        if options["json"]:
            self.stdout.write(json.dumps({"run": run.pk, "site": site, "method_version": run.method_version,
                                           "inputs": run.inputs, "results": run.results}, indent=2))
        else:
            self.stdout.write(format_run_text(run))

