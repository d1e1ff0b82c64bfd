"""A notification's subject and body in the reader's language (issue 15, item 4).

A notice is written once, when the event happens, for readers who may read different languages. So besides the
English ``subject``/``body`` (kept as written: the fallback, and what old notices have) it stores its *message*:
the English texts as gettext message ids (marked with ``gettext_noop`` where they are written, so that
``makemessages`` finds them) and their parameters, ``{"subject": msgid, "body": [msgid, ...], "params": {...}}``.
:func:`render` translates each text in the active language and fills in the parameters; the notifications page
uses the reader's language and the e-mail the recipient's (their choice, else their site's).

Parameter values are JSON: a string or number as it is (study IDs, CTCAE terms, grades, CDISC terms stay as
written), or one of ``{"date": "YYYY-MM-DD"}`` (shown as "05 Jan 2026" / "05 Sty 2026"),
``{"datetime": ISO 8601 with offset, "tz": IANA name}`` (shown in that zone, "05 Jan 2026 14:30 CET", or in
Django's date ``"format"`` if given) and
``{"text": msgid}`` (a translated word such as "Death"), ``{"texts": [msgid, ...]}`` (translated words joined by
", ": the SAE criteria ticked) and ``{"languages": {language code: text}}`` (a text
composed when the notice is written, once in each interface language: a flag's reason, rebuilt from its run; shown
in the reader's language, else English).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import translation
from django.utils.formats import date_format


def message(subject: str, body: Sequence[str], **params: Any) -> dict[str, Any]:
    """The JSON of a notice's message: ``subject`` and ``body`` lines as English msgids with ``%(name)s``
    placeholders, ``params`` as described above (a ``datetime.date`` or an aware ``datetime.datetime`` is turned
    into its JSON form here)."""
    return {"subject": subject, "body": list(body), "params": {k: _json(v) for k, v in params.items()}}


def _json(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        tz = getattr(value.tzinfo, "key", None) or "UTC"
        return {"datetime": value.isoformat(), "tz": tz}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    return value


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        if "date" in value:
            return date_format(datetime.date.fromisoformat(value["date"]), "d M Y")
        if "datetime" in value:
            moment = datetime.datetime.fromisoformat(value["datetime"]).astimezone(zoneinfo.ZoneInfo(value["tz"]))
            return date_format(moment, value.get("format", "d M Y H:i T"))
        if "text" in value:
            return translation.gettext(value["text"])
        if "texts" in value:
            return ", ".join(translation.gettext(text) for text in value["texts"])
        if "languages" in value:
            texts = value["languages"]
            return texts.get(translation.get_language()) or texts["en-gb"]
    return value


def render(stored: Mapping[str, Any] | None, *, subject: str, body: str) -> tuple[str, str]:
    """(subject, body) of a notice in the active language, from its stored ``message``; the stored English
    ``subject`` and ``body`` when there is no message or it cannot be rendered (a malformed or older message)."""
    if not stored:
        return subject, body
    try:
        params = {k: _value(v) for k, v in dict(stored["params"]).items()}
        return (translation.gettext(stored["subject"]) % params)[:200], "\n".join(
            translation.gettext(line) % params for line in stored["body"])
    except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        return subject, body


def english(stored: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of a message in English: what is stored as the notice's ``subject`` and ``body``."""
    with translation.override("en-gb"):
        return render(stored, subject="", body="")
