"""Recording many adverse events in one request (``POST /api/v1/adverse-events/bulk/``): per-item results in one
transaction, so a batch requests ONE benchmark run of each site it touches, not one per event.

Semantics are **per item**, not all-or-nothing: each event is created in its own savepoint by
:func:`ae.services.events.adverse_event_create` (the same rules, duplicate check, notifications as a single
create); an item that fails is rolled back alone and reported, the others are kept. The whole batch commits
together, so a reader never sees half a batch, and the benchmark outbox (one pending run per site,
``reports.outbox.benchmark_run_queue``) queues a single run per site for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from ae.services.events import ProbableDuplicateError, adverse_event_create
from core.errors import DomainError, validation_errors

#: The largest batch accepted (a larger one answers 400: split it).
MAX_BATCH = 1000

Status = Literal["created", "duplicate", "error"]


@dataclasses.dataclass(frozen=True)
class BulkItemResult:
    """What happened to item ``index`` (0-based) of a batch.

    ``status``: "created" (``id`` is the new event), "duplicate" (``duplicate_of`` is the event already recorded —
    same CTCAE term and onset in the cycle, an open episode of the term or a resolved one covering the onset;
    nothing created) or "error" (``code`` as in docs/api-errors.md, ``detail`` a sentence, ``errors`` {field:
    [messages]}).
    """

    index: int
    status: Status
    id: int | None = None
    duplicate_of: int | None = None
    code: str | None = None
    detail: str | None = None
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def error(cls, index: int, *, code: str, detail: str, errors: Mapping[str, list[str]] | None = None,
              ) -> BulkItemResult:
        return cls(index=index, status="error", code=code, detail=detail, errors=dict(errors or {}))


def _first_message(errors: Mapping[str, list[str]]) -> str:
    field, messages = next(iter(errors.items()), ("non_field_errors", ["The event is not valid."]))
    return messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"


@transaction.atomic
def adverse_events_create_bulk(*, events: Sequence[tuple[int, Mapping[str, Any]]], acting_user: User,
                               ) -> list[BulkItemResult]:
    """Create each ``(index, data)`` of ``events`` as :func:`adverse_event_create` would, per item (module
    docstring); returns one :class:`BulkItemResult` per item, in order.

    ``data``: the model's editable fields plus ``patient`` (validated instances, as the API serializer gives
    them) and optionally ``confirm_separate``. Never raises for an item's refusal (ValidationError,
    PermissionDenied, ProbableDuplicateError, another DomainError or a unique-key race): it becomes that item's
    result. Raises ValueError for a batch larger than :data:`MAX_BATCH`.
    """
    if len(events) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events per batch")
    results = []
    for index, data in events:
        fields = dict(data)
        confirm_separate = bool(fields.pop("confirm_separate", False))
        try:
            with transaction.atomic():
                event = adverse_event_create(acting_user=acting_user, confirm_separate=confirm_separate, **fields)
        except ProbableDuplicateError as exc:
            results.append(BulkItemResult(index=index, status="duplicate", duplicate_of=exc.existing.pk,
                                          code=exc.code, detail=exc.detail))
        except ValidationError as exc:
            errors = validation_errors(exc)
            results.append(BulkItemResult.error(index, code="invalid", detail=_first_message(errors), errors=errors))
        except PermissionDenied as exc:
            results.append(BulkItemResult.error(index, code="permission_denied",
                                                detail=str(exc) or "Your role does not allow this."))
        except DomainError as exc:
            results.append(BulkItemResult.error(index, code=exc.code, detail=exc.detail, errors=exc.errors))
        except IntegrityError:
            results.append(BulkItemResult.error(index, code="conflict", detail=(
                "This conflicts with a record saved at the same moment; nothing was created for this item.")))
        else:
            results.append(BulkItemResult(index=index, status="created", id=event.pk))
    return results
