"""Audit trail plumbing: which trackers, and the context (who, from where, why) stored with each event.

History is written by PostgreSQL triggers (django-pghistory), so it also catches ``QuerySet.update()``,
bulk operations and raw SQL; the event tables are append-only (a trigger refuses UPDATE and DELETE).
Each event's context carries ``user`` (id), ``url``, ``source`` — "web", "api", "job" or "import" —
and, for edits and deletions of submitted records, the ``reason`` the user gave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import pghistory
from pghistory.middleware import HistoryMiddleware

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
