import json
import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from ae.models import ImportMapping
from ae.services.imports import (
    ImportFileError,
    adverse_events_import,
    adverse_events_import_redcap,
    import_mapping_save,
)
from patients.models import Site


class Command(BaseCommand):
    help = ("Import adverse events from pvtrack's CSV template (docs/import.md): --dry-run reports each row's "
            "errors; otherwise all rows are saved, or none when any row has an error.")

    def add_arguments(self, parser):
        parser.add_argument("--site", required=True)
        origin = parser.add_mutually_exclusive_group(required=True)
        origin.add_argument("--file", type=Path)
        origin.add_argument("--redcap-url", help="a REDCap project's API address: fetch its records (raw CSV) with "
                                                 "the token in the environment variable --redcap-token-env; needs "
                                                 "--mapping")
        parser.add_argument("--redcap-token-env", default="REDCAP_API_TOKEN",
                            help="environment variable holding the REDCap API token (never on the command line)")
        parser.add_argument("--redcap-form", action="append", dest="redcap_forms",
                            help="export only this instrument (repeatable)")
        parser.add_argument("--user", required=True, help="username recorded as the one who imported")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--source", choices=["csv", "redcap_csv", "odm"], default="csv")
        parser.add_argument("--mapping", help="name of the ward's saved mapping to apply (docs/import.md)")
        parser.add_argument("--save-mapping", type=Path,
                            help="JSON file {columns, values, constants, row_filter}: save it as --mapping first")

    def handle(self, *args, site, file: Path | None, user, dry_run, source, mapping, save_mapping, redcap_url,
               redcap_token_env, redcap_forms, **options):
        try:
            site_obj = Site.objects.get(slug=site)
            acting = get_user_model().objects.get(username=user)
        except (Site.DoesNotExist, get_user_model().DoesNotExist) as exc:
            raise CommandError(f"unknown site or user: {exc}") from exc
        saved = None
        try:
            if save_mapping is not None:
                if not mapping:
                    raise CommandError("--save-mapping needs --mapping NAME")
                spec = json.loads(save_mapping.read_text(encoding="utf-8"))
                saved = import_mapping_save(site=site_obj, name=mapping, source=source, acting_user=acting,
                                            columns=spec.get("columns", {}), values=spec.get("values"),
                                            constants=spec.get("constants"), row_filter=spec.get("row_filter"))
            elif mapping:
                saved = ImportMapping.objects.filter(site=site_obj, name=mapping).first()
                if saved is None:
                    raise CommandError(f"no saved mapping {mapping!r} on {site_obj.slug}")
            if redcap_url:
                token = os.environ.get(redcap_token_env, "")
                if not token or saved is None:
                    raise CommandError(f"--redcap-url needs --mapping NAME and the API token in ${redcap_token_env}")
                report = adverse_events_import_redcap(site=site_obj, url=redcap_url, token=token, mapping=saved,
                                                      dry_run=dry_run, acting_user=acting, forms=redcap_forms)
            else:
                assert file is not None
                with file.open("rb") as raw:
                    report = adverse_events_import(site=site_obj, raw=raw, file_name=file.name, dry_run=dry_run,
                                                   acting_user=acting, source=source, mapping=saved)
        except (ImportFileError, PermissionDenied, ValidationError, json.JSONDecodeError) as exc:
            raise CommandError(str(exc) or "you may not record on this site") from exc
        for row in report.rows:
            for message in row.errors:
                self.stdout.write(f"line {row.line}: {message}")
        summary = (f"{report.count('created')} to create, {report.count('unchanged')} already recorded, "
                   f"{report.count('error')} with errors (sha256 {report.sha256})")
        if report.committed:
            self.stdout.write(f"Imported: {summary}")
        elif report.count("error"):
            raise CommandError(f"Nothing imported: {summary}")
        else:
            self.stdout.write(f"Dry run, nothing saved: {summary}")
