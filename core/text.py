"""Free text that a record depends on: reasons for a change, review comments.

A reason is kept in the audit trail as *the* explanation of a change to a clinical record, so it must be
something a person can read: after removing Unicode format characters (category Cf: zero-width space U+200B,
word joiner U+2060, right-to-left mark U+200F, BOM …) and surrounding white space, at least
``MIN_REASON_CHARS`` visible characters, at most ``MAX_REASON_CHARS`` characters (a reason is a sentence or two,
not a pasted document).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MIN_REASON_CHARS = 3
MAX_REASON_CHARS = 2000


def visible(text: str) -> str:
    """``text`` without Unicode format characters (category Cf), control characters other than line breaks
    and tabs, and surrounding white space; inner white space runs are kept."""
    kept = (ch for ch in text if unicodedata.category(ch) != "Cf"
            and (unicodedata.category(ch) != "Cc" or ch in "\n\t"))
    return "".join(kept).strip()


A_REASON_FOR_THE_CHANGE = _("a reason for the change")


def clean_reason(text: str | None, *, field: str = "reason", what: str | Promise = A_REASON_FOR_THE_CHANGE) -> str:
    """Return the reason as it will be stored (format characters removed, stripped).

    Raises ValidationError keyed by ``field`` when fewer than ``MIN_REASON_CHARS`` visible characters remain
    (empty, only spaces or only invisible characters) or when it is longer than ``MAX_REASON_CHARS``; the message
    is in the active language (``what``: lazy, translated by the caller, object of "Give … in words").
    """
    cleaned = visible(text or "")
    if len(cleaned) < MIN_REASON_CHARS or not any(ch.isalnum() for ch in cleaned):
        raise ValidationError({field: gettext("Give %(what)s in words (at least %(min)s visible characters); it is "
                                              "kept with the record.") % {"what": what, "min": MIN_REASON_CHARS}})
    if len(cleaned) > MAX_REASON_CHARS:
        raise ValidationError({field: gettext("Keep it to %(max)s characters (this one has %(length)s).") % {
            "max": MAX_REASON_CHARS, "length": len(cleaned)}})
    return cleaned


def max_chars_constraint(field: str, *, prefix: str) -> models.CheckConstraint:
    """The database's own limit on a typed free-text column: ``char_length(field) <= MAX_REASON_CHARS``, named
    ``<prefix>_<field>_max_chars``. The model field carries ``max_length=MAX_REASON_CHARS`` too, so forms and the
    API refuse a longer value with a 400 before the database would."""
    return models.CheckConstraint(condition=LessThanOrEqual(Length(field), MAX_REASON_CHARS),
                                  name=f"{prefix}_{field}_max_chars",
                                  violation_error_message=format_lazy(_("Keep it to {n} characters."),
                                                                      n=MAX_REASON_CHARS))


def as_clause(text: str) -> str:
    """``text`` (a sentence ending in one full stop, such as a grading rationale) as a clause to quote in
    brackets or before a colon: surrounding white space and the one closing full stop removed, so a message reads
    "(Grade 1: … (> 1 x ULN))." rather than "(… (> 1 x ULN).).". An ellipsis ("...", "…") is kept."""
    text = text.strip()
    if text.endswith(".") and not text.endswith(".."):
        return text[:-1]
    return text
