"""Database sessions saved in one statement (issue 12: the round trips of every request).

``SESSION_SAVE_EVERY_REQUEST`` (the 30-minute idle timeout of shared ward PCs) saves the session at the end of
every request. Django's database backend wraps each save in ``transaction.atomic``: a BEGIN, the UPDATE and a
COMMIT. An UPDATE of an existing session outside any transaction is one statement, atomic on its own in autocommit,
so :class:`SessionStore` sends only the UPDATE then. Creating a session (an INSERT that may collide with another
key) and any save inside a transaction keep Django's savepoint, and errors are Django's (``UpdateError`` when the
session row is gone, ``CreateError`` for a taken key).
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, connections, router


class SessionStore(DatabaseSessionStore):
    """Django's database session store; an update outside a transaction is one statement (module docstring)."""

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None or must_create:
            super().save(must_create=must_create)
            return
        data = self._get_session()  # type: ignore[attr-defined]  # Django's, as its save() uses it
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        if connections[using].in_atomic_block:
            super().save(must_create=False)
            return
        try:
            obj.save(force_update=True, using=using)
        except DatabaseError as exc:  # as Django's: the row was deleted meanwhile (e.g. a logout elsewhere)
            raise UpdateError from exc
