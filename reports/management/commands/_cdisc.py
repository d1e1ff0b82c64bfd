"""Shared body of ``export_sdtm`` and ``export_adam``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from patients.models import Site
from reports.cdisc.export import Kind, cdisc_export
from reports.cdisc.meddra import MeddraReleaseError, meddra_release_load
from reports.cdisc.xpt import XptLimitError


class CdiscExportCommand(BaseCommand):
    kind: Kind = "sdtm"

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True, help="site slug")
        parser.add_argument("--format", choices=["xpt", "json"], default="xpt",
                            help="xpt: SAS XPORT v5; json: CDISC Dataset-JSON v1.1 (both with define.xml)")
        parser.add_argument("--output", required=True, type=Path, help="folder to write into")
        parser.add_argument("--meddra", type=Path,
                            help="folder of a MedDRA ASCII release (MedAscii) to code PT and SOC; without it they "
                                 "stay empty")

    def handle(self, *args, site, format, output: Path, meddra: Path | None, **options):
        try:
            site_obj = Site.objects.get(slug=site)
        except Site.DoesNotExist as exc:
            raise CommandError(f"unknown site {site!r}") from exc
        try:
            release = meddra_release_load(meddra) if meddra else None
            export = cdisc_export(site_obj, kind=self.kind, file_format=format, folder=output, meddra=release)
        except (MeddraReleaseError, XptLimitError) as exc:
            raise CommandError(str(exc)) from exc
        for dataset, path in zip(export.datasets, export.files, strict=False):
            self.stdout.write(f"Wrote {path} ({dataset.name}: {len(dataset.rows)} records)")
        self.stdout.write(f"Wrote {export.files[-1]}")
        for note in export.notes:
            self.stdout.write(note)
