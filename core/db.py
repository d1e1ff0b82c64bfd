"""Database helpers shared by the apps' services."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


def constraint_name(exc: BaseException) -> str | None:
    """The name of the constraint an IntegrityError violated (from PostgreSQL's error fields), or None."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def constraint_errors(messages: Mapping[str, tuple[str, str]]) -> Iterator[None]:
    """Run the block in a savepoint; a violation of one of the named constraints becomes a ValidationError.

    ``messages``: constraint name → (field, message). This answers the race that ``full_clean`` cannot see:
    two requests both pass the uniqueness check, the second INSERT violates the unique constraint, and the user
    gets the same clear field error as without the race (400), never a 500. Other IntegrityErrors propagate.
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        name = constraint_name(exc)
        if name is None or name not in messages:
            raise
        field, message = messages[name]
        raise ValidationError({field: message}) from exc
