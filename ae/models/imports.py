"""Saved column mappings for imports (one per ward and source name), e.g. "REDCap AE instrument"."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patients.models import Site


class ImportMapping(models.Model):
    """How a source's columns (CSV headers, REDCap field names or ODM ItemOIDs) become the import template's columns.

    ``columns``: {source column: template column}; ``values``: {template column: {source value: template value}}
    (e.g. REDCap's coded choices "1" → "not_related"); ``constants``: {template column: value} for what the source
    does not hold (e.g. {"cycle": "1"}); ``row_filter``: {source column: value} a row must have to be imported (e.g.
    {"redcap_repeat_instrument": "adverse_events"}). See ``docs/import.md``.
    """

    class Source(models.TextChoices):
        CSV = "csv", _("CSV (pvtrack template or another spreadsheet)")
        REDCAP_CSV = "redcap_csv", _("REDCap CSV export (raw)")
        ODM = "odm", "CDISC ODM 1.3 XML (REDCap, OpenClinica)"  # the same in Polish

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="import_mappings")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=20, choices=Source.choices)
    columns = models.JSONField(default=dict)
    values = models.JSONField(default=dict, blank=True)
    constants = models.JSONField(default=dict, blank=True)
    row_filter = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="importmapping_name_unique_per_site",
                                    violation_error_message=_("This ward already has a mapping of that name.")),
            models.CheckConstraint(condition=Q(source__in=["csv", "redcap_csv", "odm"]),
                                   name="importmapping_source_known"),
            models.CheckConstraint(condition=~Q(name=""), name="importmapping_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.site}: {self.name}"
