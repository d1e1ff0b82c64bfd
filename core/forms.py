"""Showing a service's refusal on the form that asked for the change.

A service validates the whole record (``full_clean`` plus its own rules) and raises
:class:`django.core.exceptions.ValidationError`, keyed by model field. A form shows only some fields; Django's
``form.add_error(None, exc)`` raises ``ValueError`` ("has no field named …") for any key the form lacks, which
turned a clear refusal into a 500. :func:`add_service_errors` puts each message next to its field when the form has
it, and at the top of the form otherwise, named by the field's verbose name.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError


def _field_label(form: Any, field: str) -> str:
    model = getattr(getattr(form, "_meta", None), "model", None)
    if model is not None:
        try:
            return str(model._meta.get_field(field).verbose_name).capitalize()
        except FieldDoesNotExist:
            pass
    return field.replace("_", " ").capitalize()


def add_service_errors(form: Any, exc: ValidationError) -> None:
    """Add ``exc``'s messages to ``form`` (a Django form): a field's messages on that field when the form has it,
    else as non-field errors prefixed "<Field label>: "; a message without a field as a non-field error.
    Never raises for an unknown field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, messages in exc.message_dict.items():
        if field in form.fields:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = _field_label(form, field)
            form.add_error(None, [f"{label}: {message}" for message in messages])
