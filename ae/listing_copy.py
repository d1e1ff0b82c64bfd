"""The AE listing's CSV produced by PostgreSQL ``COPY … TO STDOUT`` and streamed as it comes (issue 12).

The same rows, columns and text as :func:`ae.listing.listing_row` written by Python's ``csv`` module (one line a
row, formula-like text quoted, dates ISO 8601, choices by label), but computed in the database: the listing's
filtered and sorted queryset becomes the ``SELECT`` of a ``COPY (…) TO STDOUT (FORMAT csv)``, so no model instance
is built and the throughput is PostgreSQL's (``benchmarks/run.py --only memory`` compares it with a bare ``COPY``).
Memory stays flat: psycopg hands the output over in blocks (PostgreSQL docs, COPY; psycopg 3, "Using COPY TO and
COPY FROM").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Case as _Case
from django.db.models import CharField, F, Func, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Coalesce

from ae.listing import export_labels
from ae.models import AdverseEvent

#: What a spreadsheet reads as a formula when it starts a cell (OWASP ASVS V1.2.10); such text gets a leading quote.
FORMULA_START = r"^[=+@\t\r-]"


def _neutralised(expression: Any) -> Func:
    """``expression`` (text) with a leading ``'`` when it starts like a formula (``reports.exports.neutralise``)."""
    return Func(expression, Value(FORMULA_START), Value("'\\&"), function="regexp_replace", output_field=CharField())


def _field(name: str) -> Any:
    return AdverseEvent._meta.get_field(name)


def _label(field: str) -> _Case:
    """The field's English choice label (``ae.listing.export_labels``), whatever the reader's language."""
    return _Case(*[When(**{field: value}, then=Value(label)) for value, label in export_labels(field).items()],
                 default=Cast(F(field), CharField()), output_field=CharField())


def _yes_no(condition: Q | str) -> _Case:
    q = Q(**{condition: True}) if isinstance(condition, str) else condition
    return _Case(When(q, then=Value("Yes")), default=Value("No"), output_field=CharField())


def copy_queryset(events: QuerySet[AdverseEvent]) -> QuerySet[AdverseEvent]:
    """``events`` (the listing's filtered, sorted and ``trtemfl``-annotated queryset) as the CSV's columns."""
    sae = [_Case(When(**{f: True}, then=Value(str(_field(f).verbose_name))),
                 output_field=CharField()) for f in AdverseEvent.SAE_FIELDS]
    columns = {
        "c_study": _neutralised(F("patient__study_id")), "c_cycle": F("cycle__number"),
        "c_term": _neutralised(F("term__term")), "c_verbatim": _neutralised(F("verbatim_term")),
        "c_soc": _neutralised(F("term__soc")), "c_grade": F("grade"), "c_scale": _label("grading_scale"),
        "c_onset": Cast(F("onset_date"), CharField()),
        "c_resolution": Coalesce(Cast(F("resolution_date"), CharField()), Value("")),
        "c_serious": _yes_no("serious"),
        "c_sae": Func(Value("; "), *sae, function="concat_ws", output_field=CharField()),
        "c_related": _label("relatedness"), "c_action": _label("action_taken"), "c_outcome": _label("outcome"),
        "c_te": _yes_no("trtemfl"), "c_id": F("id"),
    }
    return events.annotate(**columns).values_list(*columns)


def csv_blocks(events: QuerySet[AdverseEvent], header: list[str]) -> Iterator[bytes]:
    """The CSV in UTF-8: ``header`` (written by Python's ``csv``), then ``COPY``'s blocks as they arrive (lines end
    with LF; a reader of Python's CRLF output reads the same rows)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    yield buffer.getvalue().encode()
    sql, params = copy_queryset(events).query.sql_with_params()
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY ({sql}) TO STDOUT (FORMAT csv, ENCODING 'UTF8')", params) as copy:
        for block in copy:
            yield bytes(block)
