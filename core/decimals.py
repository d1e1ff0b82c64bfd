"""Decimal numbers as people write and type them, in plain Python (no Django: :mod:`ae.lab_units` and the grading
rules use it). A recorded value is written without padding zeros ("3.5", not the column's "3.5000"); a number typed
into a form is read in the reader's convention, where the decimal sign is "," (Polish) or "." (English), and what
could be read two ways is refused rather than guessed. The reader's decimal sign comes from the caller (Django's
``DECIMAL_SEPARATOR``: :mod:`core.numbers`, :mod:`core.forms`)."""

from __future__ import annotations

import re
from decimal import Decimal

THIN = "\u202f"  # narrow no-break space: SI digit grouping (a comma would read as a decimal comma in Kraków)


def _ungrouped(value: float | int | Decimal) -> tuple[str, bool]:
    """(``value`` without trailing zeros, exponent or grouping, whether it is whole)."""
    exact = (Decimal(repr(value)) if isinstance(value, float) else Decimal(value)).normalize()
    whole = exact == exact.to_integral_value()
    return (str(int(exact)) if whole else format(exact, "f")), whole


def plain_number(value: float | int | Decimal) -> str:
    """A value as a person writes it: no trailing zeros or exponent ("3.5" for ``Decimal("3.5000")``, "40" for
    40.00); whole numbers from 10 000 up grouped by three with a narrow no-break space (SI brochure §5.4.4:
    four-digit numbers are not grouped). English decimal point: ``core.numbers.reader_numbers`` for a reader."""
    text, whole = _ungrouped(value)
    return f"{int(text):,}".replace(",", THIN) if whole and abs(int(text)) >= 10_000 else text


#: A decimal number as typed into a form: digits with at most one decimal sign ("." or ","), an optional sign; no
#: spaces, apostrophes or thousands grouping.
_TYPED_DECIMAL = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)\Z")


class TypedDecimalError(ValueError):
    """A typed number :func:`typed_decimal` refuses; ``comma`` when it is a comma where the decimal sign is "."."""

    def __init__(self, *, comma: bool) -> None:
        super().__init__("comma" if comma else "invalid")
        self.comma = comma


def typed_decimal(text: str, separator: str) -> str:
    """A number typed into a form, in the reader's convention, as Python's ``Decimal`` reads it ("3,2" → "3.2").

    ``separator`` is the reader's decimal sign (Django's ``DECIMAL_SEPARATOR``: "," in Polish, "." in English). The
    point is accepted in every language (a lab printout's or a device's notation); a comma only where it is the
    decimal sign: in English "1,500" may be 1500 or 1.5, so it is refused rather than guessed (ward values such as
    platelets 150,000/mm³ would otherwise read 1000 times too small). Raises :class:`TypedDecimalError` for anything
    else: letters, spaces, more than one sign, thousands grouping."""
    typed = text.strip()
    if not _TYPED_DECIMAL.match(typed):
        raise TypedDecimalError(comma=False)
    if "," in typed and separator != ",":
        raise TypedDecimalError(comma=True)
    return typed.replace(",", ".")


def decimal_for_input(value: float | int | Decimal, separator: str) -> str:
    """``value`` written back into a form field: as recorded without padding zeros and without grouping (what
    :func:`typed_decimal` reads back), with the decimal sign ``separator`` ("3,5" in Polish)."""
    return _ungrouped(value)[0].replace(".", separator)
