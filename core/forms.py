"""Showing a service's refusal on the form that asked for the change; decimal numbers typed as the reader writes them.

A service validates the whole record (``full_clean`` plus its own rules) and raises
:class:`django.core.exceptions.ValidationError`, keyed by model field. A form shows only some fields; Django's
``form.add_error(None, exc)`` raises ``ValueError`` ("has no field named …") for any key the form lacks, which
turned a clear refusal into a 500. :func:`add_service_errors` puts each message next to its field when the form has
it, and at the top of the form otherwise, named by the field's verbose name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.utils.formats import get_format
from django.utils.translation import gettext

from core.decimals import TypedDecimalError, decimal_for_input, typed_decimal


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


# ------------------------------------------------------------------------------------------------- dates

def date_input() -> forms.DateInput:
    """An ``<input type="date">`` that writes its value as the browser reads it, ISO 8601 ("2026-01-05"). Django's
    default, the language's first input format ("05.01.2026" in Polish, "05/01/2026" in English), is dropped by the
    browser: an edit form came back with empty dates (found on the cycle form, 1 Dec 2026; the AE form's in
    issue 13)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# ------------------------------------------------------------------------------------------- decimal numbers

def _separator() -> str:
    return str(get_format("DECIMAL_SEPARATOR"))


class DecimalTextInput(forms.TextInput):
    """A decimal number typed as text, with the tablet's decimal keyboard (``inputmode="decimal"``).

    Not ``<input type="number">``: Chromium drops a typed comma there, so a Polish nurse's potassium "3,2" arrived as
    32 and a creatinine "0,5" as 5 — a plausible, wrong value (found in the browser, 1 Dec 2026). A recorded value
    is written back as recorded, without the column's padding zeros, with the reader's decimal sign ("3,5")."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        kept = {k: v for k, v in (attrs or {}).items() if k not in ("step", "min", "max")}
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **kept})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, (Decimal, float, int)) and not isinstance(value, bool):
            return decimal_for_input(value, _separator())
        return super().format_value(value)


class DecimalTextField(forms.DecimalField):
    """A ``forms.DecimalField`` that reads the number as the reader writes it (:func:`core.decimals.typed_decimal`:
    "3,2" or "3.2" in Polish, "3.2" in English) and refuses anything else with a message that says how to write it.
    Limits, digits and decimal places are checked as by Django's field."""

    widget = DecimalTextInput

    def to_python(self, value: Any) -> Any:  # Decimal | None (django-stubs types it as IntegerField's)
        if isinstance(value, str) and value.strip() not in self.empty_values:
            separator = _separator()
            try:
                value = typed_decimal(value, separator)
            except TypedDecimalError as exc:
                example = "3" + separator + "2"
                message = (gettext("Write the decimal with a point, e.g. %(example)s, and no thousands separator "
                                   "(150000, not 150,000).") if exc.comma else
                           gettext("Enter a number such as %(example)s, without spaces or thousands separators."))
                raise ValidationError(message % {"example": example}, code="invalid") from exc
        return super().to_python(value)


def decimal_text_fields(form: forms.BaseForm) -> None:
    """Make every ``forms.DecimalField`` of ``form`` (declared, or made from a model field) a
    :class:`DecimalTextField` with the same label, help, limits, digits, validators and messages. Call at the end of
    the form's ``__init__``, after any field it adds."""
    for name, field in list(form.fields.items()):
        if type(field) is not forms.DecimalField:
            continue
        replacement = DecimalTextField(
            max_value=field.max_value, min_value=field.min_value, max_digits=field.max_digits,
            decimal_places=field.decimal_places, required=field.required, label=field.label,
            initial=field.initial, help_text=field.help_text, disabled=field.disabled,
            widget=DecimalTextInput(attrs=field.widget.attrs))
        replacement.validators = list(field.validators)
        replacement.error_messages = {**field.error_messages}
        form.fields[name] = replacement


class DecimalTextMixin:
    """For a form without an ``__init__`` of its own: :func:`decimal_text_fields` once Django built the fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        decimal_text_fields(self)  # type: ignore[arg-type]
