"""``export_icsr --snapshot case.json --format cioms|e2b|fhir [--output FILE]``: one report of a frozen SAE case
version (the JSON of ``CaseSnapshot.to_dict``), so the outputs are usable before the case pages exist. Reads
nothing from the database."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ae.sae.snapshot import CaseSnapshot
from reports.icsr import FORMATS, IcsrError


class Command(BaseCommand):
    help = "Write the CIOMS I PDF, E2B(R3) XML or FHIR R4B JSON of one SAE case version from its snapshot JSON."

    def add_arguments(self, parser):
        parser.add_argument("--snapshot", required=True, type=Path, help="JSON file of CaseSnapshot.to_dict()")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="report_format")
        parser.add_argument("--output", type=Path,
                            help="file to write (default: <case id>-v<version>-<format>.<ext> in the current folder)")

    def handle(self, *args, snapshot: Path, report_format: str, output: Path | None, **options):
        try:
            data = json.loads(snapshot.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read {snapshot}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{snapshot} is not JSON: {exc}") from exc
        try:
            case = CaseSnapshot.from_dict(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise CommandError(f"{snapshot} is not a case snapshot: {exc!r}") from exc
        render, _, extension = FORMATS[report_format]
        try:
            content = render(case)
        except IcsrError as exc:
            raise CommandError(f"the case cannot make a report: {exc}") from exc
        target = output or Path(f"{case.case_id}-v{case.version}-{report_format}.{extension}")
        target.write_bytes(content)
        self.stdout.write(f"Wrote {target} ({len(content)} bytes, {report_format})")
