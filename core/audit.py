"""Audit trail plumbing: which trackers, and the context (who, from where, why) stored with each event.

History is written by PostgreSQL triggers (django-pghistory), so it also catches ``QuerySet.update()``,
bulk operations and raw SQL; the event tables are append-only (a trigger refuses UPDATE and DELETE).
Each event's context carries ``user`` (id), ``url``, ``source`` — "web", "api", "job" or "import" —
and, for edits and deletions of submitted records, the ``reason`` the user gave.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import pghistory
import pghistory.config
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from pghistory.middleware import HistoryMiddleware
from pghistory.models import Events

_M = TypeVar("_M")


def tracked(model: type[_M]) -> type[_M]:
    """Class decorator: keep the full history of ``model``: inserts, updates and deletes (see module docstring).

    Trackers are created per model: pghistory binds a tracker's condition to the model it tracks.
    """
    track = pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
    return cast("type[_M]", track(model))


class AuditContextMiddleware(HistoryMiddleware):
    """pghistory's middleware (user, URL) plus the source: the REST API or the web forms."""

    def get_context(self, request: Any) -> dict[str, Any]:
        return super().get_context(request) | {"source": "api" if request.path.startswith("/api/") else "web"}


@contextmanager
def audit_context(**metadata: Any) -> Iterator[None]:
    """Attach ``metadata`` (e.g. source="job", reason="...") to the audit events written inside the block."""
    with pghistory.context(**metadata):
        yield


@contextmanager
def bulk_audit_context(**metadata: Any) -> Iterator[None]:
    """``audit_context`` for bulk writes (COPY, ``bulk_create`` of thousands of rows) in one transaction.

    pghistory's trigger reads the session settings ``pghistory.context_id``/``pghistory.context_metadata``
    and pgtrigger's ``_pgtrigger_should_ignore`` reads ``pgtrigger.ignore``; when a setting is missing the
    trigger function raises and catches an error, i.e. opens a subtransaction for every row, which grows
    quadratically inside one big transaction (PostgreSQL docs, PL/pgSQL §43.6.8 "Trapping Errors").
    This sets all three for the rest of the transaction (``set_config(..., true)``, i.e. SET LOCAL), so
    every row is still audited with this context, and COPY — which pghistory's per-statement injection
    does not reach — is audited too. Raises RuntimeError outside ``transaction.atomic``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("bulk_audit_context needs a transaction (transaction.atomic)")
    with pghistory.context(**metadata) as ctx:
        encoded = json.dumps(ctx.metadata, cls=pghistory.config.json_encoder())
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pghistory.context_id', %s, true), "
                           "set_config('pghistory.context_metadata', %s, true), "
                           "set_config('pgtrigger.ignore', '{}', true)", [str(ctx.id), encoded])
        yield


def history_rows(record: Model) -> list[dict[str, Any]]:
    """Every audit event of ``record`` (insert, update, delete), oldest first, readable (3 queries).

    Each row: {"at": aware datetime (UTC), "what": "insert" | "update" | "delete", "who": username or "—",
    "source": "web" | "api" | "job" | "import" | "migration" | "database (no application context)",
    "reason": str, "changes": [(field, [old, new]), ...] (empty for an insert)}.
    """
    events = list(Events.objects.tracks(record).order_by("pgh_created_at", "pgh_id"))
    contexts = [e.pgh_context or {} for e in events]
    user_ids = {int(c["user"]) for c in contexts if c.get("user") is not None}
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    return [{
        "at": e.pgh_created_at, "what": e.pgh_label,
        "who": names.get(int(c["user"]), "—") if c.get("user") is not None else "—",
        "source": c.get("source", "database (no application context)"), "reason": c.get("reason", ""),
        "changes": sorted((e.pgh_diff or {}).items()) if e.pgh_label != "insert" else [],
    } for e, c in zip(events, contexts, strict=True)]
