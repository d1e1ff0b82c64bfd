"""Decimal numbers in the reader's language (issue 15, item 4).

The texts pvtrack stores, signs or exports write numbers with the decimal point (English: SAE snapshots, CIOMS/E2B/
FHIR, CDISC and CSV/XLSX exports, stored rationales, the API). A text built for a reader writes them in the active
language's convention instead (Django's ``DECIMAL_SEPARATOR``: "20,00 kg", "7,4%" in Polish), from the same English
formatting, so the English a reader sees stays byte for byte what it was.
"""

from __future__ import annotations

import re

from django.utils.formats import get_format

#: A decimal number in a text built for the reader: not part of a version ("v5.0", "1.2.3") or a word.
_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?!\w)(?!\.\d)")


def reader_numbers(text: str) -> str:
    """``text`` (built for the reader in the active language) with its decimal numbers in the language's convention:
    "38,5 °C", "3,75 x" in Polish; unchanged in English. Versions ("CTCAE v5.0") keep their dot. Never applied to a
    stored English text (nor to one shown as stored)."""
    separator = str(get_format("DECIMAL_SEPARATOR"))
    if separator == "." or "." not in text:
        return text
    return _DECIMAL.sub(lambda m: f"{m[1]}{separator}{m[2]}", text)


def number_for_reader(value: object) -> str:
    """``value`` as ``str()`` writes it ("20.00" for ``Decimal("20.00")``), with the active language's decimal
    separator ("20,00" in Polish). For a number quoted inside a translated message."""
    return reader_numbers(str(value))
