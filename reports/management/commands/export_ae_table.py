from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from patients.models import Site
from reports.exports import csv_lines, xlsx_bytes


class Command(BaseCommand):
    help = "Write the graded AE table (worst grade per patient and term; all cycles and per cycle)."
    #: The table's writers: CSV lines and XLSX bytes of a site (export_aet reuses this command with its own).
    csv_lines = staticmethod(csv_lines)
    xlsx_bytes = staticmethod(xlsx_bytes)

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
                fh.writelines(self.csv_lines(site_obj))
        else:
            output.write_bytes(self.xlsx_bytes(site_obj))
        self.stdout.write(f"Wrote {output}")
