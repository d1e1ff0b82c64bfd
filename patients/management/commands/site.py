"""Create a site (ward) or change its settings; prints the site as stored.

``manage.py site SLUG [--name …] [--country PL] [--time-zone Europe/Warsaw] [--language pl] [--sae-sponsor-hours 24]``

Every value is validated as the model and the database validate it (``Site.full_clean``): a bad one stops the
command with the field's message and nothing is saved.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from patients.models import Site

FIELDS = {"name": "name", "country": "country", "time_zone": "time_zone", "language": "language",
          "sae_sponsor_hours": "sae_sponsor_hours"}


class Command(BaseCommand):
    help = "Create a site (ward) or change its name, country, time zone, default language or SAE sponsor window."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the site's short name in URLs, e.g. krakow-ped-haem")
        parser.add_argument("--name", help="the ward's full name (required for a new site)")
        parser.add_argument("--country", help="ISO 3166-1 alpha-2 code, e.g. PL (SAE reports' country)")
        parser.add_argument("--time-zone", dest="time_zone", help="IANA time zone, e.g. Europe/Warsaw")
        parser.add_argument("--language", help="default interface language, e.g. pl or en-gb")
        parser.add_argument("--sae-sponsor-hours", dest="sae_sponsor_hours", type=int,
                            help="hours from awareness of an SAE to the report to the sponsor (1-72)")

    def handle(self, *args, **options):
        changes = {field: options[option] for option, field in FIELDS.items() if options[option] is not None}
        with transaction.atomic():
            site = Site.objects.select_for_update().filter(slug=options["slug"]).first()
            created = site is None
            if created:
                if not changes.get("name"):
                    raise CommandError(f"No site {options['slug']!r} yet: give its --name to create it.")
                site = Site(slug=options["slug"])
            for field, value in changes.items():
                setattr(site, field, value)
            try:
                site.full_clean()
            except ValidationError as exc:
                raise CommandError("; ".join(f"{field}: {' '.join(messages)}"
                                             for field, messages in exc.message_dict.items())) from exc
            site.save()
        self.stdout.write(f"{'Created' if created else 'Updated'} site {site.slug}: {site.name}; country "
                          f"{site.country or '(not set)'}; time zone {site.time_zone}; language {site.language}; "
                          f"SAE report to the sponsor within {site.sae_sponsor_hours} h.")
