from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from patients.models import Site
from reports.aet import aet_csv_lines, aet_xlsx_bytes


class Command(BaseCommand):
    help = "Write the AET01, AET02 and AET04 safety tables (patients with treatment-emergent AEs) as CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True)
        parser.add_argument("--format", choices=["csv", "xlsx"], required=True)
        parser.add_argument("--output", required=True, type=Path)

    def handle(self, *args, site, format, output: Path, **options):
        try:
            site_obj = Site.objects.get(slug=site)
        except Site.DoesNotExist as exc:
            raise CommandError(f"unknown site {site!r}") from exc
        if format == "csv":
            with output.open("w", encoding="utf-8", newline="") as fh:
                fh.writelines(aet_csv_lines(site_obj))
        else:
            output.write_bytes(aet_xlsx_bytes(site_obj))
        self.stdout.write(f"Wrote {output}")
