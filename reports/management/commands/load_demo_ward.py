from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_context
from patients.models import Site
from reports.demo import DEMO_PASSWORDS, DemoError, demo_ward_load
from reports.models import Cohort


class Command(BaseCommand):
    help = ("Rebuild a published cohort as a demo ward (synthetic patients, the cohort's published counts "
            "per benchmark category and grade band reproduced exactly) with demo logins.")

    def add_arguments(self, parser):
        parser.add_argument("--cohort", default="xie2023_suzhou", help="cohort slug (see `manage.py cohorts`)")
        parser.add_argument("--site", default="demo-ward", help="slug of the demo site to (re)build")
        parser.add_argument("--name", default=None, help="display name of the demo site")
        parser.add_argument("--if-missing", action="store_true",
                            help="do nothing if the site exists already (keeps what was recorded in it)")

    def handle(self, *args, cohort, site, name, **options):
        if options["if_missing"] and Site.objects.filter(slug=site).exists():
            self.stdout.write(f"Demo ward {site!r} exists already: left as it is.")
            self.stdout.write("Demo logins: " + ", ".join(f"{u} / {p}" for u, p in DEMO_PASSWORDS.items()))
            return
        try:
            cohort_obj = Cohort.objects.get(slug=cohort)
        except Cohort.DoesNotExist as exc:
            raise CommandError(f"unknown cohort {cohort!r}; run `manage.py cohorts` for the list") from exc
        try:
            with audit_context(source="import", reason=f"demo ward rebuilt from published cohort {cohort}"):
                demo = demo_ward_load(cohort_slug=cohort, site_slug=site,
                                      site_name=name or f"Demo ward ({cohort_obj.short_name})")
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Demo ward {demo.slug!r}: {demo.patients.count()} patients rebuilt from {cohort}.")
        self.stdout.write("Demo logins: " + ", ".join(f"{u} / {p}" for u, p in DEMO_PASSWORDS.items()))
