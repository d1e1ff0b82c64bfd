"""python manage.py health [--json]: database, broker, worker, beat and backlog; exit status 1 if unhealthy."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from reports.health import collect


class Command(BaseCommand):
    help = "Report the health of the database, broker, worker, beat and the benchmark backlog (exit 1 if unhealthy)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON (as GET /health/ does)")

    def handle(self, *args, **options):
        report = collect()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for name in ("database", "broker", "worker", "beat", "backlog"):
                check = report[name]
                details = ", ".join(f"{k}={v}" for k, v in check.items() if k != "ok")
                self.stdout.write(f"{name:<9} {'ok' if check['ok'] else 'FAIL':<4} {details}")
        if not report["ok"]:
            raise CommandError("unhealthy", returncode=1)
        if not options["json"]:
            self.stdout.write("healthy")
