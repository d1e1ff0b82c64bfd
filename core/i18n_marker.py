"""The translation marker of the pure-Python modules (grading rules, lab units, statistics, the benchmark's texts).

Those modules stay free of Django (import-linter's "pure Python" contract), so they cannot use
``django.utils.translation.gettext_noop``; this one does the same: ``makemessages`` extracts every literal passed
to a function of this name, and the text comes back unchanged (English, what is stored and exported). The pages
translate it when they show it, or a caller passes its ``translate`` (Django's ``gettext``).
"""

from __future__ import annotations


def gettext_noop(message: str) -> str:
    """``message`` unchanged, marked for the translation catalogue."""
    return message
