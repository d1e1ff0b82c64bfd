"""Site reference ranges: recording a new version of a laboratory's LLN/ULN (issue 10 item 10).

A range is never edited in place: a new version closes the current one of the same site, analyte, sex and age band
on the new version's ``valid_from``. Both rows stay, and the history table (:mod:`core.audit`) records who did it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ae import lab_units
from ae.models import ReferenceRange
from core.numbers import number_for_reader, reader_numbers
from core.text import visible
from patients.access import require_role
from patients.models import Membership, Site

RANGE_FIELDS = ("analyte", "unit", "sex", "age_from_months", "age_to_months", "lln", "uln", "source", "valid_from")


def _or_default(value: Any, default: int) -> Any:
    return default if value is None or value == "" else value


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


@transaction.atomic
def reference_range_record(*, site: Site, data: dict[str, Any], acting_user: User) -> ReferenceRange:
    """Record a reference range of ``site``'s laboratory, closing the current version it replaces.

    ``data``: analyte, unit (any accepted spelling of one of the analyte's units), sex ("", "F", "M"),
    age_from_months (inclusive), age_to_months (exclusive), lln and/or uln (in ``unit``, each plausible for the
    analyte: ``docs/labs.md``), source (where the laboratory publishes it) and valid_from (date).
    The current range of the same analyte, sex and age band (valid_to null) is closed on ``valid_from``; a range
    that would overlap another band, sex or period of the same analyte is refused. Returns the new range.

    Raises PermissionDenied unless the user is an administrator of the site; ValidationError keyed by field for a
    unit not of the analyte, an implausible limit, a missing source, a version not after the one it replaces, or
    an overlap.
    """
    require_role(acting_user, site, (Membership.Role.ADMINISTRATOR,))
    unknown = set(data) - set(RANGE_FIELDS)
    if unknown:
        raise ValueError(f"unknown reference range field(s): {', '.join(sorted(unknown))}")
    analyte = str(data.get("analyte") or "")
    if analyte not in lab_units.ANALYTES:
        raise ValidationError({"analyte": _("Unknown analyte; expected one of %(analytes)s.") % {
            "analytes": ", ".join(lab_units.ANALYTES)}})
    lln, uln = _decimal(data.get("lln")), _decimal(data.get("uln"))
    unit, errors = lab_units.entry_errors(analyte, str(data.get("unit") or ""), None,
                                          lln=None if lln is None else float(lln),
                                          uln=None if uln is None else float(uln), translate=_)
    if errors:  # the reader's language: its decimal separator too
        raise ValidationError({field: reader_numbers(message) for field, message in errors.items()})
    if lln is not None and uln is not None and lln >= uln:
        raise ValidationError({"lln": _("The LLN %(lln)s must be below the ULN %(uln)s.") % {
            "lln": number_for_reader(lln), "uln": number_for_reader(uln)}})
    valid_from = data.get("valid_from")
    if not isinstance(valid_from, datetime.date):
        raise ValidationError({"valid_from": _("Give the date from which the laboratory uses this range.")})
    new = ReferenceRange(site=site, analyte=analyte, unit=str(unit), sex=data.get("sex") or "",
                         age_from_months=_or_default(data.get("age_from_months"), 0),
                         age_to_months=_or_default(data.get("age_to_months"), 12 * 120), lln=lln, uln=uln,
                         source=visible(str(data.get("source") or "")), valid_from=valid_from, created_by=acting_user)
    new.full_clean(exclude=["site", "created_by"])
    # Serialise versions of one site's ranges: lock the site's current ranges of this analyte.
    same_analyte = ReferenceRange.objects.select_for_update(of=("self",)).filter(site=site, analyte=analyte)
    list(same_analyte)
    current = same_analyte.filter(sex=new.sex, age_from_months=new.age_from_months, age_to_months=new.age_to_months,
                                  valid_to__isnull=True).first()
    if current is not None:
        if valid_from <= current.valid_from:
            raise ValidationError({"valid_from": _(
                "The current version is valid from %(date)s: a new version starts after it.") % {
                    "date": date_format(current.valid_from, "d M Y")}})
        current.valid_to = valid_from
        current.save(update_fields=["valid_to"])
    sexes = ["", "F", "M"] if new.sex == "" else [new.sex, ""]
    overlap = same_analyte.filter(sex__in=sexes, age_from_months__lt=new.age_to_months,
                                  age_to_months__gt=new.age_from_months).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
    if current is not None:  # closed on valid_from just now: no longer overlapping
        overlap = overlap.exclude(pk=current.pk)
    clash = overlap.first()
    if clash is not None:
        raise ValidationError({"age_from_months": _("Overlaps the range %(range)s: close or change that one first.") % {
            "range": clash}})
    new.save()
    return new
