"""Database helpers shared by the apps' services."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, cast

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import BooleanField, CheckConstraint, ExpressionWrapper, Model, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)


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


def failing_check_constraints(instance: Model, checks: list[CheckConstraint], exclude: Collection[str] | None = None,
                              using: str | None = None) -> list[CheckConstraint]:
    """The ``checks`` that ``instance``'s current values violate, evaluated in ONE query.

    Django's ``CheckConstraint.validate`` runs one ``SELECT 1 WHERE <condition>`` per constraint (and, inside a
    transaction, a SAVEPOINT and a RELEASE around each); this selects every condition as a column at once, with
    the same semantics: a NULL condition passes (``COALESCE(condition, true)``), a constraint that names an
    excluded field is skipped, and a database error is logged and treated as passing (inside a savepoint, so a
    transaction in progress stays usable), as in ``Q.check``.
    """
    using = using or router.db_for_write(type(instance), instance=instance)
    query = Query(None)
    field_values = cast(Any, instance)._get_field_expression_map(meta=instance._meta, exclude=set(exclude or ()))
    for name, value in field_values.items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    evaluated: list[CheckConstraint] = []
    for check in checks:
        expression = Coalesce(ExpressionWrapper(Q(check.condition), output_field=BooleanField()), Value(True),
                              output_field=BooleanField())
        try:
            query.add_annotation(expression, f"_check_{len(evaluated)}")
        except FieldError:  # names an excluded field
            continue
        evaluated.append(check)
    if not evaluated:
        return []
    connection = connections[using]
    try:
        with transaction.atomic(using=using) if connection.in_atomic_block else nullcontext():
            row: Any = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError as exc:
        logger.warning("Got a database error checking the constraints of %s: %s", type(instance).__name__, exc)
        return []
    return [check for check, ok in zip(evaluated, row, strict=True) if not ok]


class CheckConstraintsInOneQuery(Model):
    """Model mixin: ``validate_constraints`` evaluates the model's check constraints in one query
    (:func:`failing_check_constraints`) instead of one query and one savepoint each; other constraints (unique)
    are validated as Django does. The errors (messages, codes, non-field placement) are Django's."""

    class Meta:
        abstract = True

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        using = router.db_for_write(type(self), instance=self)
        errors: dict[str, Any] = {}
        checks: list[CheckConstraint] = []
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                constraint = cast(Any, constraint)
                if isinstance(constraint, CheckConstraint):
                    checks.append(constraint)
                    continue
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as exc:
                    fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                    if getattr(exc, "code", None) == "unique" and len(fields) == 1:
                        errors.setdefault(fields[0], []).append(exc)
                    else:
                        errors = exc.update_error_dict(errors)
        for check in failing_check_constraints(self, checks, exclude, using):
            errors = ValidationError(check.get_violation_error_message(),
                                     code=check.violation_error_code).update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class LoadedRelationsNotRequeried(Model):
    """Model mixin: ``clean_fields`` does not re-query the existence of a foreign key whose related object is
    already loaded on the instance from the database (same primary key, not a new object, no
    ``limit_choices_to``); Django's ``ForeignKey.validate`` would run ``SELECT 1 ... LIMIT 1`` for it. A related
    row deleted after it was loaded is refused by the foreign-key constraint at commit, exactly as when it is
    deleted between Django's check and the commit. Foreign keys given by id only are validated as Django does."""

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        loaded = set()
        for field in self._meta.concrete_fields:
            if not (field.many_to_one and field.is_cached(self)):  # type: ignore[attr-defined]
                continue
            related = field.get_cached_value(self)  # type: ignore[attr-defined]
            if (related is not None and not related._state.adding and related.pk == getattr(self, field.attname)
                    and not getattr(field.remote_field, "limit_choices_to", None)):
                loaded.add(field.name)
        super().clean_fields(exclude=set(exclude or ()) | loaded)
