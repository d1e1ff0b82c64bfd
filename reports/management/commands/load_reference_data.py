from django.core.management.base import BaseCommand

from ae.catalogue import ctcae_catalogue_load
from ae.rsi import rsi_fixture_load
from ae.synonyms import ctcae_synonyms_load
from reports.reference_data import categories_load, cohorts_load


class Command(BaseCommand):
    help = ("Load (or refresh) the CTCAE v5.0 catalogue and its ward synonyms, the benchmark categories and the "
            "published cohorts, and the default reference safety information of blinatumomab.")

    def handle(self, *args, **options):
        terms = ctcae_catalogue_load()
        synonyms = ctcae_synonyms_load()
        categories = categories_load()
        cohorts = cohorts_load()
        rsi_entries = rsi_fixture_load()
        self.stdout.write(f"Loaded {terms} CTCAE v5.0 terms, {synonyms} synonym mappings, {categories} benchmark "
                          f"categories, {cohorts} published cohorts, {rsi_entries} new reference safety information "
                          "entries.")
